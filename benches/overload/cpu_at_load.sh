#!/usr/bin/env bash
# CPU a server spends on the same steady load, overload control on against off, one after the other
# on the same core: the saving control buys before anything saturates (the ramp in run.sh asks the
# harder question of where each one breaks).
#
# Each server (release build) runs alone on CPU 1, uncapped; the generator runs on CPU 0 the
# scenario `overload/steady-open.toml` (USERS users, 10 % of them in one hot room, every member
# reading along). Between WARMUP and WARMUP+WINDOW seconds into the run the server's CPU time is
# read from /proc; at the end its /metrics. Prints, per team, the share of a core it used and what it
# wrote, then the on/off ratios. Loopback only; each run is bounded by the scenario's duration.
#
#   benches/overload/cpu_at_load.sh [OUT_DIR]       USERS=2000 WARMUP=60 WINDOW=40 (defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."

out="${1:-results/overload-cpu-$(date -u +%Y%m%d-%H%M%S)}"
users="${USERS:-2000}"
warmup="${WARMUP:-60}"
window="${WINDOW:-40}"
cargo build --release -p stampede -p reference-server
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
work="$(mktemp -d)"
cp "$target/release/stampede" "$target/release/reference-server" "$work/"
# The steady scenario: ramp-hot-open's users and flow, all USERS arriving over the first 30 s and
# staying WARMUP+WINDOW+20 s.
python3 - "$users" "$((warmup + window + 20))" >"$work/steady.toml" <<'PY'
import re, sys
text = open("benches/overload/ramp-hot-open.toml").read()
phase = f'[[phase]]\nname = "steady"\nkind = "constant"\nusers = {sys.argv[1]}\nduration = "{sys.argv[2]}s"\nspread = "30s"\n'
text = re.sub(r"\[\[phase\]\].*?\n\n", phase + "\n", text, count=1, flags=re.S)
print(text.replace('name = "overload-ramp-hot-open"', 'name = "overload-steady-open"'))
PY

server=""
runner=""
cleanup() {
  for pid in $runner $server; do kill "$pid" 2>/dev/null || true; done
  for pid in $runner $server; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
mkdir -p "$out"
for team in on off; do
  port=$([ "$team" = on ] && echo 5401 || echo 5402)
  taskset -c 1 "$work/reference-server" --listen "127.0.0.1:$port" --overload "$team" \
    --kdf-memory-kib 4096 --kdf-iterations 1 --files-dir "$work/files-$team" \
    --jwt-secret "stampede-overload-benchmark" >"$out/server-$team.log" 2>&1 &
  server=$!
  for _ in $(seq 50); do curl -sf "127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  taskset -c 0 "$work/stampede" run --scenario "$work/steady.toml" --no-tui \
    --target "http://127.0.0.1:$port" --out "$out/$team" >"$out/run-$team.log" 2>&1 &
  runner=$!
  sleep "$warmup"
  before=$(ticks "$server")
  sleep "$window"
  after=$(ticks "$server")
  echo "$team $(( after - before ))" >>"$out/cpu-ticks.txt"
  wait "$runner" || true
  runner=""
  curl -s "127.0.0.1:$port/metrics" >"$out/metrics-$team.txt"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=""
done

python3 - "$out" "$window" "$(getconf CLK_TCK)" <<'PY'
import json, re, sys
from pathlib import Path
out, window, hz = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
ticks = dict(line.split() for line in (out / "cpu-ticks.txt").read_text().splitlines())
rows = {}
for team in ("on", "off"):
    metrics = {}
    for line in (out / f"metrics-{team}.txt").read_text().splitlines():
        m = re.match(r"chat_(\S+) (\S+)$", line)
        if m:
            metrics[m[1]] = float(m[2])
    summary = json.loads((out / team / "summary.json").read_text())
    pushes = sum(v for k, v in metrics.items() if k.startswith("pushes_total") or k.startswith("pushes_owed_sent_total"))
    rows[team] = {
        "cpu": int(ticks[team]) / hz / window,
        "packets": metrics.get("packets_written_total", 0),
        "bytes": metrics.get("bytes_written_total", 0),
        "messages_out": metrics.get("messages_out_total", 0),
        "pushes": pushes,
        "users_failed": summary["users"]["failed"],
        "delivered": summary["messages"]["delivered"],
        "expected": summary["messages"]["deliveries_expected"],
    }
print(f"{'':5} {'CPU (cores)':>11} {'packets':>12} {'MB written':>11} {'chat out':>10} {'pushes':>11} {'VUs failed':>10} {'delivered':>18}")
for team, r in rows.items():
    print(f"{team:5} {r['cpu']:>11.3f} {r['packets']:>12,.0f} {r['bytes'] / 1e6:>11,.0f} {r['messages_out']:>10,.0f} {r['pushes']:>11,.0f} {r['users_failed']:>10} {r['delivered']:>8,}/{r['expected']:<9,}")
on, off = rows["on"], rows["off"]
print(f"on/off: CPU {on['cpu'] / off['cpu']:.2f}, packets {on['packets'] / off['packets']:.2f}, bytes {on['bytes'] / off['bytes']:.2f}")
PY
echo "results in $out"
