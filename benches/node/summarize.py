#!/usr/bin/env python3
"""Figures of a benches/node/run.sh directory: each server's CPU and memory, in the chat window
(from when the users it held were connected to the end, only chat going on) and over the sign-ups, per user and per 1,000 delivered
messages, with reference/node ratios.

    python3 benches/node/summarize.py OUT_DIR
"""
import gzip
import json
import sys
from datetime import datetime
from pathlib import Path

SERVERS = ("reference", "node")
# With STORE=redis, the reference server's store runs as a process of its own, sampled as "redis".
PROCESSES = SERVERS + ("redis",)


def summary(path: Path) -> dict:
    plain = path / "summary.json"
    if plain.exists():
        return json.loads(plain.read_text())
    with gzip.open(path / "summary.json.gz", "rt") as f:
        return json.load(f)


def samples(out: Path) -> dict[str, list[tuple[float, int, int]]]:
    """(time, RSS KiB, CPU ticks) per server, in time order."""
    by = {s: [] for s in PROCESSES}
    for line in (out / "processes.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1] in by:
            by[parts[1]].append((float(parts[0]), int(parts[2]), int(parts[3])))
    return by


def at(rows: list[tuple[float, int, int]], t: float) -> tuple[float, int, int]:
    """The sample nearest to time t."""
    return min(rows, key=lambda r: abs(r[0] - t))


def main(out: Path) -> None:
    rows = samples(out)
    print(f"{'':<10} {'users':>7} {'connected':>9} {'chat CPU s':>10} {'delivered':>10} "
          f"{'CPU ms/1k msg':>13} {'sign-up CPU s':>13} {'RSS MiB':>8} {'KiB/user':>8} "
          f"{'dlv p99 ms':>10} {'missing':>7}")
    figures = {}
    for name in SERVERS:
        s = summary(out / "match" / name)
        start = datetime.fromisoformat(s["started_at"].replace("Z", "+00:00")).timestamp()
        timeline = s["timeline"]
        planned = s["users"]["planned"]
        peak = max(r["connected_users"] for r in timeline)
        # The chat window: from the first second 99 % of the users this server ever held at once
        # are connected (every user, on a server that took them all) to the end of the run. A
        # server that lost users on the way is measured on those it held, and says so.
        full = next((r for r in timeline if r["connected_users"] >= 0.99 * peak), None)
        if not peak or full is None:
            print(f"{name:<10} never held a user; no chat window")
            continue
        # The window ends with the load (the planned duration), before the drain closes sockets.
        last = max((r for r in timeline if r["t_secs"] <= s["planned_duration_secs"]),
                   key=lambda r: r["t_secs"])
        t0, t1 = start + full["t_secs"], start + last["t_secs"]
        window = [r for r in timeline if full["t_secs"] <= r["t_secs"] <= last["t_secs"]]
        delivered = sum(r["messages_delivered"] for r in window)
        a, b = at(rows[name], t0), at(rows[name], t1)
        base = rows[name][0]
        chat_cpu = (b[2] - a[2]) / 100
        signup_cpu = (a[2] - base[2]) / 100
        rss = b[1] / 1024
        held = last["connected_users"] or peak
        per_user = (b[1] - base[1]) / held
        figures[name] = (chat_cpu / max(delivered, 1) * 1e6, per_user, signup_cpu)
        if name == "reference":
            store_window = (t0, t1, delivered, held)
        print(f"{name:<10} {planned:>7} {full['connected_users']:>9} {chat_cpu:>10.1f} {delivered:>10,} "
              f"{figures[name][0]:>13.2f} {signup_cpu:>13.1f} {rss:>8.0f} {per_user:>8.1f} "
              f"{p99(s):>10} "
              f"{s['messages']['missing']:>7}")
        print(f"{'':<10} chat window {t1 - t0:.0f} s from {full['t_secs']:.0f} s; peak connected "
              f"{peak:,} of {planned:,} planned; memory per user over the {held:,} connected when the load ended")
    if len(figures) == 2:
        r, n = figures["reference"], figures["node"]
        print(f"reference/node: CPU per delivered message {r[0] / n[0]:.2f}, memory per user "
              f"{r[1] / n[1]:.2f}, sign-up CPU {r[2] / max(n[2], 0.01):.2f}")
    if rows["redis"] and "reference" in figures:
        # The reference server's store, apart: the same window, the same users.
        t0, t1, delivered, held = store_window
        a, b = at(rows["redis"], t0), at(rows["redis"], t1)
        base = rows["redis"][0]
        cpu = (b[2] - a[2]) / 100
        per_user = (b[1] - base[1]) / held
        print(f"{'redis':<10} (the reference server's store) chat CPU {cpu:.1f} s = "
              f"{cpu / max(delivered, 1) * 1e6:.2f} ms/1k msg; RSS {b[1] / 1024:.0f} MiB, "
              f"{per_user:.1f} KiB/user")
        if len(figures) == 2:
            r, n = figures["reference"], figures["node"]
            both = (r[0] + cpu / max(delivered, 1) * 1e6, r[1] + per_user)
            print(f"reference + its redis / node: CPU per delivered message {both[0] / n[0]:.2f}, "
                  f"memory per user {both[1] / n[1]:.2f}")


def p99(s: dict) -> str:
    op = next((o for o in s["latency"] if o["op"] == "delivery"), None)
    return f"{op['p99_ms']:.1f}" if op else "-"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
