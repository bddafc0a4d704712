#!/usr/bin/env bash
# Overload benchmark: the same reference server (release build) with overload control on and off,
# same capacity limits, under a ramp well past what it serves with one hot room, played as a
# `stampede match`. Writes the match directory (match.json, levels.csv, each team's summary) and each
# server's final /metrics and /health beside it.
#
# Capacity: each server gets the same slice of one core — pinned to CPU 1 (`taskset -c 1`) and capped
# at CPU_QUOTA percent of it by its own cgroup-v1 CPU controller (a quota per 20 ms period; the
# kernel wants at least 1 ms of it, so CPU_QUOTA >= 5) — while the generator has CPU 0 to itself.
# So the servers reach their limit far below the generator's, and neither team's overload can take
# CPU from the other when they play at the same time. Every benchmark process (both servers and the
# generator) is in a cgroup of the highest CPU weight, so anything else running on the machine gets
# only what they leave and cannot push a server below its quota. Needs root and /sys/fs/cgroup/cpu
# (cgroup v1); without them the script stops and says so.
#
# Password hashing is set cheap (4 MiB × 1 pass, ~1.6 ms) on both, as ARCHITECTURE-server.md advises
# for load tests: the benchmark is about chat under load, not about argon2. KDF=default keeps the
# server's default cost (19 MiB × 2 passes, ~15 ms of CPU per sign-up and per login) instead: every
# step's sign-ups then weigh on the server as they did in the competition.
#
# MAX_USERS=N plays the scenario's ramp up to N users instead of its own `max_users` (same steps):
# the way to take the ramp past what the stronger team serves. (`--max-users` only lowers it.)
#
# ON_CONFIG=FILE gives the "on" server an overload config file (`--overload-config`, e.g. other
# `[hot]` settings); unset, it runs the defaults.
#
#   benches/overload/run.sh [OUT_DIR] [extra `stampede match` flags, e.g. --max-users 1000]
#   CPU_QUOTA=25 MODE=concurrent SCENARIO=benches/overload/ramp-hot.toml KDF=cheap (defaults)
#   MAX_USERS (unset: the scenario's own), ON_CONFIG (unset: the defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."

out="${1:-results/overload-$(date -u +%Y%m%d-%H%M%S)}"
shift || true
scenario="${SCENARIO:-benches/overload/ramp-hot.toml}"
quota="${CPU_QUOTA:-25}"
mode="${MODE:-concurrent}"
case "${KDF:-cheap}" in
  cheap) kdf=(--kdf-memory-kib 4096 --kdf-iterations 1) ;;
  default) kdf=() ;;
  *) echo "run.sh: KDF must be cheap or default, got ${KDF}" >&2; exit 2 ;;
esac
cgroups=/sys/fs/cgroup/cpu
if [ ! -w "$cgroups" ]; then
  echo "run.sh: needs a writable $cgroups (cgroup v1 CPU controller, as root) to cap the servers" >&2
  exit 2
fi

cargo build --release -p stampede -p reference-server
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# Private copies: a shared target directory may be rebuilt by someone else during a long run.
work="$(mktemp -d)"
cp "$target/release/stampede" "$target/release/reference-server" "$work/"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for group in on off generator; do rmdir "$cgroups/stampede-overload-$group" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${MAX_USERS:-}" ]; then
  case "$MAX_USERS" in
    *[!0-9]* | "") echo "run.sh: MAX_USERS must be a whole number of users, got ${MAX_USERS}" >&2; exit 2 ;;
  esac
  grep -q '^max_users = ' "$scenario" || { echo "run.sh: $scenario has no ramp max_users to raise" >&2; exit 2; }
  sed "s/^max_users = .*/max_users = $MAX_USERS/" "$scenario" >"$work/scenario.toml"
  scenario="$work/scenario.toml"
fi

on_config=()
if [ -n "${ON_CONFIG:-}" ]; then
  [ -r "$ON_CONFIG" ] || { echo "run.sh: ON_CONFIG=$ON_CONFIG is not a readable file" >&2; exit 2; }
  cp "$ON_CONFIG" "$work/on-config.toml"
  on_config=(--overload-config "$work/on-config.toml")
fi

serve() { # name port on|off
  local group="$cgroups/stampede-overload-$1"
  local extra=()
  [ "$1" = on ] && extra=("${on_config[@]}")
  mkdir -p "$work/$1" "$group"
  echo 262144 >"$group/cpu.shares"
  echo 20000 >"$group/cpu.cfs_period_us"
  echo $((quota * 200)) >"$group/cpu.cfs_quota_us"
  # The shell joins the cgroup, then becomes the server: every thread it starts is capped too.
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$group" \
    taskset -c 1 "$work/reference-server" --listen "127.0.0.1:$2" --overload "$3" \
    "${kdf[@]}" "${extra[@]}" \
    --files-dir "$work/$1/files" --jwt-secret "stampede-overload-benchmark" \
    >"$work/$1/server.log" 2>&1 &
  pids+=("$!")
}
serve on 5201 on
serve off 5202 off
for port in 5201 5202; do
  for _ in $(seq 50); do curl -sf "127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
done

mkdir -p "$(dirname "$out")"
status=0
generator="$cgroups/stampede-overload-generator"
mkdir -p "$generator"
echo 262144 >"$generator/cpu.shares"
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$generator" \
  taskset -c 0 "$work/stampede" match --mode "$mode" --scenario "$scenario" --no-tui \
  --team on=http://127.0.0.1:5201 --team off=http://127.0.0.1:5202 --out "$out" "$@" || status=$?

for team in on:5201 off:5202; do
  curl -s "127.0.0.1:${team#*:}/metrics" >"$out/metrics-${team%%:*}.txt" || true
  curl -s "127.0.0.1:${team#*:}/health" >"$out/health-${team%%:*}.json" || true
  cp "$work/${team%%:*}/server.log" "$out/server-${team%%:*}.log" || true
  cat "$cgroups/stampede-overload-${team%%:*}/cpu.stat" >"$out/cpu-${team%%:*}.txt" || true
done
cp "$scenario" "$out/scenario.toml"
[ -n "${ON_CONFIG:-}" ] && cp "$work/on-config.toml" "$out/on-config.toml"
echo "results in $out"
exit "$status"
