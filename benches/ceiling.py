#!/usr/bin/env python3
"""The reference server's ceiling on this machine, measured with stampede.

    cargo build --release -p stampede -p reference-server
    python3 benches/ceiling.py competition --max-users 12000 --time-scale 0.1 --json benches/results/ceiling-competition.json
    python3 benches/ceiling.py chat --max-users 10000 --json benches/results/ceiling-chat.json

competition  scenarios/ktb-2024.toml as it is (the full competition flow: sign-up and login, room list,
             create/join, socket, history, 3 messages, reaction, read receipts, a file upload, a profile
             image, an AI mention, then hold), its ramp of 100 users +100 every 30 s time-scaled by
             --time-scale and continued up to --max-users. Answers: the most users held with no problems.
chat         the chat-heavy variant: users in rooms of 10 only chat, each sending every --interval
             seconds; +--step users every --step-every seconds up to --max-users. Answers: the delivered
             messages/s per server core at delivery p99 <= 200 ms.

The server runs as its own process (release build, --max-connections 30000, the password hashing
cost given by --kdf-memory-kib/--kdf-iterations), stampede as another; both share the machine's 2
cores. Every second the script samples both processes from /proc (CPU time, RSS) with wall-clock
times, and after the run attributes the samples to stampede's levels (levels.csv time spans from the
run's started_at). Per level it prints the users, delivered messages/s (each member's copy plus the
sender's own echo), delivery p99, failures, server CPU in cores and RSS, generator CPU, and
delivered messages/s per server core. A level is "without problems" by stampede's default scoring
rules (docs/scoring.md: VU failure ratio <= 1 %, request failure ratio <= 1 %, delivery p99 <= the SLO,
more than 1 % missing deliveries = unbounded p99), judged here with the SLO at 1,000 ms (the
default) and at 200 ms; the sustained level is the last of the unbroken run from the first.
"""

import argparse
import csv
import datetime
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (same /proc helpers, binaries snapshot and load wait)

ROOT = compare.ROOT


class Sampler(threading.Thread):
    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.samples, self.stop = pids, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            row = {"wall": time.time()}
            for name, pid in self.pids.items():
                st = compare.proc_stat(pid)
                row[name + "_cpu"] = st[1] if st else None
                row[name + "_rss"] = compare.proc_rss(pid)
            self.samples.append(row)
            self.stop.wait(1.0)


def competition_scenario(a):
    text = (ROOT / "scenarios" / "ktb-2024.toml").read_text()
    text = re.sub(r"(?m)^max_users = \d+", f"max_users = {a.max_users}", text)
    text = re.sub(r'(?m)^hold = "[^"]*"', f'hold = "{a.hold}s"', text)
    return text


def chat_scenario(a):
    return f"""
name = "chat-ceiling"
seed = 7
[[phase]]
kind = "ramp"
start_users = {a.step}
step_users = {a.step}
step_every = "{a.step_every}s"
max_users = {a.max_users}
hold = "{a.step_every}s"
spread = "{min(5, a.step_every / 3):g}s"
[rooms]
assignment = "groups"
users_per_room = 10
[messages]
text = "load"
[timeouts]
step = "30s"
delivery = "10s"
[[flow]]
name = "talker"
steps = [{{ register = {{ login = false }} }}, "enter_room", "connect", "join_room",
         {{ send_messages = {{ interval = "{a.interval}s" }} }}]
"""


def judge(level, slo_ms):
    """The broken rules of one level (stampede's default scoring rules, SLO as given)."""
    broken = []
    failed = int(level["vus_failed_in_level"])
    active = int(level["users_active"]) + failed
    if active and failed / active > 0.01:
        broken.append(f"VU failure ratio {100 * failed / active:.1f}%")
    ok, bad = int(level["requests_ok"]), int(level["requests_failed"])
    if ok + bad and bad / (ok + bad) > 0.01:
        broken.append(f"request failure ratio {100 * bad / (ok + bad):.1f}%")
    delivered, missing = int(level["deliveries"]), int(level["deliveries_missing"])
    if int(level["messages_sent"]) and delivered + missing == 0:
        broken.append("no delivery measured")
    elif delivered + missing and missing / (delivered + missing) > 0.01:
        broken.append(f"delivery p99 unbounded ({100 * missing / (delivered + missing):.1f}% missing)")
    elif level["delivery_p99_ms"] and float(level["delivery_p99_ms"]) > slo_ms:
        broken.append(f"delivery p99 {float(level['delivery_p99_ms']):,.0f} ms > {slo_ms} ms")
    return broken


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["competition", "chat"])
    p.add_argument("--max-users", type=int, default=10000)
    p.add_argument("--time-scale", type=float, default=0.1, help="competition: time scale of the ramp")
    p.add_argument("--hold", type=int, default=120, help="competition: seconds at max users (before scaling)")
    p.add_argument("--step", type=int, default=1000, help="chat: users added per level")
    p.add_argument("--step-every", type=float, default=15, help="chat: seconds per level")
    p.add_argument("--interval", type=float, default=0.5, help="chat: seconds between a user's messages")
    p.add_argument("--kdf-memory-kib", type=int, default=4096)
    p.add_argument("--kdf-iterations", type=int, default=1)
    p.add_argument("--server-flag", action="append", default=[], help="extra reference-server flag (repeatable)")
    p.add_argument("--quiet-load", type=float, default=0.5)
    p.add_argument("--quiet-wait", type=float, default=1200)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    compare.raise_nofile()

    d = compare.release_dir()
    snap = Path(tempfile.mkdtemp(prefix="stampede-ceiling-bin-"))
    for exe in ("stampede", "reference-server"):
        shutil.copy2(d / exe, snap / exe)
    work = Path(tempfile.mkdtemp(prefix=f"stampede-ceiling-{a.mode}-"))
    scenario = competition_scenario(a) if a.mode == "competition" else chat_scenario(a)
    (work / "scenario.toml").write_text(scenario)

    load_start = compare.wait_for_quiet(a.quiet_load, a.quiet_wait)
    port = compare.free_port()
    server_cmd = [str(snap / "reference-server"), "--listen", f"127.0.0.1:{port}",
                  "--kdf-memory-kib", str(a.kdf_memory_kib), "--kdf-iterations", str(a.kdf_iterations),
                  "--max-connections", "30000", "--files-dir", str(work / "files"), *a.server_flag]
    gen_cmd = [str(snap / "stampede"), "run", "--no-tui", "--target", f"http://127.0.0.1:{port}",
               "--scenario", str(work / "scenario.toml"), "--out", str(work / "out")]
    if a.mode == "competition":
        gen_cmd += ["--time-scale", str(a.time_scale)]
    print("server:", " ".join(server_cmd), file=sys.stderr)
    print("stampede:", " ".join(gen_cmd), f"(work dir {work})", file=sys.stderr, flush=True)
    server = gen = None
    try:
        server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"),
                                  preexec_fn=compare.raise_nofile, start_new_session=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        gen = subprocess.Popen(gen_cmd, stdout=open(work / "stampede.out", "w"), stderr=subprocess.STDOUT,
                               preexec_fn=compare.raise_nofile, start_new_session=True)
        sampler = Sampler({"server": server.pid, "gen": gen.pid})
        sampler.start()
        gen.wait()
        sampler.stop.set()
        sampler.join()
    finally:
        compare.stop_group(gen)
        compare.stop_group(server)
    load_end = compare.loadavg()

    summary = json.loads((work / "out" / "summary.json").read_text())
    started = datetime.datetime.fromisoformat(summary["started_at"].replace("Z", "+00:00")).timestamp()
    levels = list(csv.DictReader(open(work / "out" / "levels.csv")))
    samples = sampler.samples
    rows = []
    for lv in levels:
        lo, hi = started + float(lv["start_secs"]), started + float(lv["end_secs"])
        win = [s for s in samples if lo <= s["wall"] <= hi and s["server_cpu"] is not None]
        secs = float(lv["end_secs"]) - float(lv["start_secs"])
        delivered = int(lv["deliveries"])
        sent = int(lv["messages_sent"])
        row = {"level": int(lv["index"]), "users": int(lv["target_users"]), "connected": int(lv["users_connected"]),
               "secs": secs, "sent_per_s": sent / secs, "delivered_per_s": (delivered + sent) / secs,
               "delivery_p99_ms": float(lv["delivery_p99_ms"] or 0), "vus_failed_in_level": int(lv["vus_failed_in_level"]),
               "requests_failed": int(lv["requests_failed"]), "missing": int(lv["deliveries_missing"]),
               "broken_1000": judge(lv, 1000), "broken_200": judge(lv, 200)}
        if len(win) >= 2:
            dt = win[-1]["wall"] - win[0]["wall"]
            row["server_cores"] = (win[-1]["server_cpu"] - win[0]["server_cpu"]) / dt
            row["gen_cores"] = (win[-1]["gen_cpu"] - win[0]["gen_cpu"]) / dt
            row["server_rss"] = max(s["server_rss"] for s in win)
            row["per_core"] = row["delivered_per_s"] / row["server_cores"] if row["server_cores"] else None
        rows.append(row)

    def sustained(key):
        best = None
        for r in rows:
            if r[key]:
                return best, r
            best = r
        return best, None

    result = {"mode": a.mode, "date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": compare.machine(),
              "command": " ".join(sys.argv), "server_cmd": " ".join(server_cmd[1:]), "stampede_cmd": " ".join(gen_cmd[1:]),
              "load_start": load_start, "load_end": load_end, "generator": summary["generator"],
              "users": summary["users"], "messages": summary["messages"], "levels": rows, "work_dir": str(work)}
    for slo in (1000, 200):
        best, broke = sustained(f"broken_{slo}")
        result[f"sustained_{slo}"] = best["users"] if best else 0
        result[f"first_broken_{slo}"] = (f"{broke['users']:,} users: {', '.join(broke[f'broken_{slo}'])}"
                                         if broke else "none")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1))

    print(f"{a.mode}: load {load_start:.2f}→{load_end:.2f}; generator CPU mean "
          f"{summary['generator']['cpu_percent_mean']:.0f}% of a core, bottleneck: {summary['generator']['bottleneck']}")
    print("| users | connected | delivered msg/s | delivery p99 | VUs failed | req failed | missing "
          "| server cores | generator cores | server RSS | delivered msg/s per server core | problems (SLO 200 ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|")
    for r in rows:
        print(f"| {r['users']:,} | {r['connected']:,} | {r['delivered_per_s']:,.0f} | {r['delivery_p99_ms']:,.1f} ms "
              f"| {r['vus_failed_in_level']} | {r['requests_failed']} | {r['missing']} "
              f"| {r.get('server_cores', 0):.2f} | {r.get('gen_cores', 0):.2f} | {r.get('server_rss', 0) / 2**20:,.0f} MiB "
              f"| {compare.fmt(r.get('per_core'))} | {'; '.join(r['broken_200']) or 'none'} |")
    for slo in (1000, 200):
        print(f"sustained with delivery p99 <= {slo} ms: {result[f'sustained_{slo}']:,} users; "
              f"first broken level: {result[f'first_broken_{slo}']}")


if __name__ == "__main__":
    main()
