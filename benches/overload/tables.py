#!/usr/bin/env python3
"""Prints a match directory's verdict and each team's levels table as Markdown (for RESULTS.md).

    python3 benches/overload/tables.py DIR
"""
import csv
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
              "| delivery p99 ms | request p99 ms | held |")
        print("|---:|---:|---:|---:|---:|---:|---:|:--|")
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
                  f"| {r['requests_failed']} | {r['deliveries_missing']} | {float(r['delivery_p99_ms']):.1f} "
                  f"| {float(r['request_p99_ms']):.1f} | {held} |")


if __name__ == "__main__":
    main(sys.argv[1])
