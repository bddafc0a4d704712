#!/usr/bin/env python3
"""Prints a match directory's verdict and each team's levels table as Markdown (for RESULTS.md),
or, with --runs, one row per match directory for repeated runs of the same benchmark: each team's
sustained users, the difference, each team's sustained users with receipts counted (when the match
was rescored with benches/overload/receipts-rules.toml), deliveries and read receipts missing,
receipt latency, and what each team's server wrote (from its final /metrics).

    python3 benches/overload/tables.py DIR
    python3 benches/overload/tables.py --runs DIR...
"""
import csv
import gzip
import json
import sys
from pathlib import Path


def main(directory: str) -> None:
    root = Path(directory)
    match = json.loads((root / "match.json").read_text())
    print(f"Verdict: {match['reason']}\n")
    for team in match["teams"]:
        print(f"- **{team['name']}**: {team['explanation']}")
    for team in match["teams"]:
        name = team["name"]
        rows = list(csv.DictReader((root / name / "levels.csv").open()))
        score = next(r for r in match["ranking"] if r["team"] == name) if match.get("ranking") else None
        judged = {}
        if score:
            for level in score.get("score", score).get("levels", []):
                judged[level["index"]] = level
        print(f"\n**{name}** (overload control {name}):\n")
        print("| users | VUs failed in level | requests ok | requests failed | deliveries missing "
              "| delivery p99 ms | receipts missing | receipt p99 ms | request p99 ms | held |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|")
        for r in rows:
            level = judged.get(int(r["index"]))
            if level is None:
                held = ""
            elif level.get("ok"):
                held = "yes"
            else:
                broken = "; ".join(
                    f"{b['rule']} {b['actual']} > {b['limit']}" for b in level.get("broken_rules", [])
                )
                held = f"no: {broken}"
            print(f"| {int(r['target_users']):,} | {r['vus_failed_in_level']} | {int(r['requests_ok']):,} "
                  f"| {r['requests_failed']} | {r['deliveries_missing']} | {cell(r['delivery_p99_ms'])} "
                  f"| {r.get('receipts_missing') or '–'} | {cell(r.get('receipt_p99_ms'))} "
                  f"| {cell(r['request_p99_ms'])} | {held} |")


def cell(value: str | None) -> str:
    """A levels.csv number to one decimal, or a dash where the level had no sample."""
    return f"{float(value):.1f}" if value not in (None, "") else "–"


def summary(root: Path, team: str) -> dict:
    """A team's summary.json (or .json.gz) in a match directory."""
    plain = root / team / "summary.json"
    if plain.exists():
        return json.loads(plain.read_text())
    with gzip.open(root / team / "summary.json.gz", "rt") as f:
        return json.load(f)


def receipts(root: Path, team: str) -> str:
    """Deliveries and read receipts missing, and receipt p99, over the team's whole run."""
    s = summary(root, team)
    missing = s["messages"].get("missing", 0)
    r = s.get("receipts") or {}
    p99 = next((op["p99_ms"] for op in s["latency"] if op["op"] == "receipt"), None)
    told = f"{r.get('missing', 0):,} of {r.get('expected', 0):,}" if r.get("expected") else "–"
    latency = f"{p99:,.0f} ms" if p99 is not None else "–"
    return f"{missing:,} | {told} | {latency}"


def counted(root: Path) -> str:
    """Each team's sustained users when the match was rescored with receipts counted
    (`stampede rescore DIR --rules benches/overload/receipts-rules.toml`), or a dash."""
    path = root / "rescored.json"
    if not path.exists():
        return "–"
    rescored = json.loads(path.read_text())
    if not rescored.get("rules", {}).get("count_receipts"):
        return "–"
    teams = {t["name"]: t["sustained_users"] for t in rescored["teams"]}
    return f"{teams['on']:,} / {teams['off']:,}"


def written(root: Path, team: str) -> str:
    """Packets and bytes the team's server wrote, from the /metrics run.sh saved at the end."""
    metrics = root / f"metrics-{team}.txt"
    values = {}
    if metrics.exists():
        for line in metrics.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name in ("chat_packets_written_total", "chat_bytes_written_total"):
                values[name] = float(value)
    if len(values) < 2:
        return "n/a"
    return (f"{values['chat_packets_written_total'] / 1e6:.1f} M pkts, "
            f"{values['chat_bytes_written_total'] / 1e9:.1f} GB")


def runs(directories: list[str]) -> None:
    print("| run | on sustained | off sustained | on − off | receipts counted: on / off "
          "| VUs failed on / off "
          "| requests ok on / off | on: deliveries missing | on: receipts missing | on: receipt p99 "
          "| off: deliveries missing | off: receipts missing | off: receipt p99 | on wrote | off wrote |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for directory in directories:
        root = Path(directory)
        match = json.loads((root / "match.json").read_text())
        teams = {t["name"]: t for t in match["teams"]}
        if set(teams) != {"on", "off"}:
            sys.exit(f"{directory}: expected teams on and off, found {sorted(teams)}")
        on, off = teams["on"], teams["off"]
        print(f"| {root.name} | {on['sustained_users']:,} | {off['sustained_users']:,} "
              f"| {on['sustained_users'] - off['sustained_users']:+,} | {counted(root)} "
              f"| {on['headline']['users_failed']:,} / {off['headline']['users_failed']:,} "
              f"| {on['headline']['requests_ok'] / 1e6:.1f} M / {off['headline']['requests_ok'] / 1e6:.1f} M "
              f"| {receipts(root, 'on')} | {receipts(root, 'off')} "
              f"| {written(root, 'on')} | {written(root, 'off')} |")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--runs":
        runs(sys.argv[2:])
    elif len(sys.argv) == 2 and not sys.argv[1].startswith("-"):
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
