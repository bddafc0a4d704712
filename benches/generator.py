#!/usr/bin/env python3
"""What one virtual user costs the load generator: memory per idle connected user and CPU per 1,000
messages, at N held chat users against the reference server on this machine.

    cargo build --release -p stampede -p reference-server
    python3 benches/generator.py --users 3000 10000

For each N it starts the reference server (release, cheap password hashing: this measures the
generator, not the server's KDF), then `stampede run` with a generated scenario:

  ramp +1000 users every 10 s up to N (each step spread over 9 s); every user registers, enters a
  room of 10, opens its Socket.IO session and joins; then it waits (idle window: everyone connected,
  nobody sending yet), then sends a chat message every 5 s until the end (chat window: once every
  user is sending).

While it runs, the script samples the stampede process's RSS and CPU time from /proc every 0.5 s.
Afterwards it reads the run's timeline.csv and reports, per N:

  idle RSS / connected users          memory per idle connected user (whole process, baseline included)
  (RSS at N - RSS at the smallest N) / (N - smallest N)   the marginal cost of one more user
  generator CPU-seconds per 1,000 messages in the chat window, where a message is one send or one
  receipt (every send is received by the 9 other members of the room)

Only loopback addresses are used; both processes are stopped when the script ends.
"""

import argparse
import csv
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = Path(json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT, capture_output=True,
    text=True, check=True).stdout)["target_directory"]) / "release"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_sample(pid):
    """(rss_bytes, cpu_seconds) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return rss, cpu


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop.is_set():
            try:
                rss, cpu = proc_sample(self.pid)
            except (FileNotFoundError, ProcessLookupError, StopIteration):
                break
            self.samples.append((time.monotonic() - self.t0, rss, cpu))
            time.sleep(0.5)

    def window(self, start, end):
        return [s for s in self.samples if start <= s[0] <= end]


def scenario(users, idle, chat):
    steps = (users + 999) // 1000
    ramp = steps * 10
    think = ramp + idle
    return f"""
name = "bench-{users}"
seed = 1
[[phase]]
kind = "ramp"
start_users = {min(users, 1000)}
step_users = 1000
step_every = "10s"
max_users = {users}
spread = "9s"
hold = "{ramp + think + 10 + chat + 3 - (steps - 1) * 10}s"
[rooms]
assignment = "groups"
users_per_room = 10
[messages]
text = "hello"
[timeouts]
step = "30s"
delivery = "10s"
[[flow]]
name = "hold-then-chat"
steps = ["register", "enter_room", "connect", "join_room",
         {{ think = {{ min = "{think}s", max = "{think}s" }} }},
         {{ send_messages = {{ interval = "5s" }} }}]
""", ramp, think


def run_one(users, idle, chat, keep):
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix=f"stampede-bench-{users}-"))
    server = subprocess.Popen(
        [str(RELEASE / "reference-server"), "--listen", f"127.0.0.1:{port}",
         "--kdf-memory-kib", "8", "--kdf-iterations", "1", "--max-connections", "20000",
         "--files-dir", str(work / "files")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        text, ramp, think = scenario(users, idle, chat)
        (work / "bench.toml").write_text(text)
        out = work / "results"
        gen = subprocess.Popen(
            [str(RELEASE / "stampede"), "run", "--no-tui", "--target", f"http://127.0.0.1:{port}",
             "--scenario", str(work / "bench.toml"), "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        sampler = Sampler(gen.pid)
        sampler.start()
        server_sampler = Sampler(server.pid)
        server_sampler.start()
        summary_text, _ = gen.communicate()
        sampler.stop.set()
        server_sampler.stop.set()
        timeline = list(csv.DictReader(open(out / "timeline.csv")))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()

    # Idle window: after the last ramp step has had time to connect, before anyone sends.
    idle_lo, idle_hi = ramp + 2, think - 1
    idle_rows = [r for r in timeline if idle_lo <= float(r["t_secs"]) <= idle_hi]
    connected = max(int(r["connected_users"]) for r in idle_rows)
    idle = sampler.window(idle_lo, idle_hi)
    rss_idle = statistics.median(s[1] for s in idle)
    server_rss = statistics.median(s[1] for s in server_sampler.window(idle_lo, idle_hi))

    # Chat window: users start sending `think` after their own join, so everyone is sending once the
    # last ramp step's users are `think` past their join; skip 10 s more while sends phase in.
    chat_lo, chat_hi = ramp + think + 10, ramp + think + 10 + chat
    chat_rows = [r for r in timeline if chat_lo < float(r["t_secs"]) <= chat_hi]
    sent = sum(int(r["messages_sent"]) for r in chat_rows)
    delivered = sum(int(r["messages_delivered"]) for r in chat_rows)
    # Own echoes are receipts too: one per send.
    messages = 2 * sent + delivered
    win = sampler.window(chat_lo, chat_hi)
    cpu = win[-1][2] - win[0][2]
    secs = win[-1][0] - win[0][0]
    failed = max(int(r["vus_failed"]) for r in timeline)
    bottleneck = "may have been the bottleneck" in summary_text or "generator may" in summary_text
    if keep:
        print(f"  results kept in {out}")
    return {
        "users": users, "connected": connected, "rss_idle": rss_idle, "server_rss": server_rss,
        "per_user_kib": rss_idle / connected / 1024, "cpu_per_1k": cpu / (messages / 1000),
        "msgs_per_s": messages / secs, "sent_per_s": sent / secs, "cpu_pct": 100 * cpu / secs,
        "failed": failed, "bottleneck": bottleneck,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, nargs="+", default=[3000, 10000])
    p.add_argument("--idle", type=int, default=20, help="seconds of the idle window")
    p.add_argument("--chat", type=int, default=40, help="seconds of the chat window")
    p.add_argument("--keep", action="store_true", help="keep the run's result directories")
    a = p.parse_args()
    for exe in ("stampede", "reference-server"):
        if not (RELEASE / exe).exists():
            sys.exit(f"{RELEASE / exe} is missing: run `cargo build --release -p stampede -p reference-server`")
    rows = []
    for n in a.users:
        print(f"running {n} users…", flush=True)
        rows.append(run_one(n, a.idle, a.chat, a.keep))
    base = rows[0]
    print()
    print("| users | connected | generator RSS idle | KiB per idle user | marginal KiB per user | "
          "messages/s (sent+received) | generator CPU | CPU-ms per 1,000 messages | failed VUs | "
          "generator bottleneck? | server RSS idle |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|---:|")
    for r in rows:
        marginal = "–" if r is base else f"{(r['rss_idle'] - base['rss_idle']) / (r['connected'] - base['connected']) / 1024:.1f}"
        print(f"| {r['users']:,} | {r['connected']:,} | {r['rss_idle'] / 2**20:.1f} MiB | {r['per_user_kib']:.1f} | "
              f"{marginal} | {r['msgs_per_s']:,.0f} | {r['cpu_pct']:.0f}% | {1000 * r['cpu_per_1k']:.1f} | "
              f"{r['failed']} | {'yes' if r['bottleneck'] else 'no'} | {r['server_rss'] / 2**20:.1f} MiB |")


if __name__ == "__main__":
    main()
