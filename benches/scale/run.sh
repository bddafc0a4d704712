#!/usr/bin/env bash
# One run of USERS chat users on this machine, split over WORKERS stampede processes
# (`--workers`) against INSTANCES reference-server instances sharing one Redis: every process under
# the 20,000 open files a process may hold here, every worker on a source address of its own.
#
# The user is the competition's (sign-up, login, room list, a room of 10, socket, history, three
# messages a second apart) who then keeps chatting slowly: one message a minute (FLOW=chat); or, to
# see what the machine holds when chat costs nothing, one who signs up, joins its room of 10 and
# holds its socket (FLOW=idle). The ramp adds STEP
# users every STEP_EVERY up to USERS, then holds HOLD. Writes the merged result and the workers'
# (OUT/segments/I), each process's peak memory and CPU time, Redis's INFO, and then merges the
# segments once more under /usr/bin/time to measure the merge on its own.
#
#   benches/scale/run.sh [OUT_DIR]
#   USERS=100000 WORKERS=6 INSTANCES=6 STEP=5000 STEP_EVERY=30s HOLD=60s FLOW=chat (defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."

out="${1:-results/scale-$(date -u +%Y%m%d-%H%M%S)}"
users="${USERS:-100000}"
workers="${WORKERS:-6}"
instances="${INSTANCES:-6}"
step="${STEP:-5000}"
step_every="${STEP_EVERY:-30s}"
hold="${HOLD:-60s}"
redis_port="${REDIS_PORT:-6390}"
case "${FLOW:-chat}" in
  chat) steps='{ register = { login = true } }, "health", { list_rooms = { page_size = 10 } },
  "enter_room", "connect", "get_room", "join_room", { fetch_history = { pages = 1 } },
  { send_messages = { count = 3, interval = "1s" } },
  { send_messages = { interval = "60s" } },' ;;
  idle) steps='{ register = { login = true } }, "enter_room", "connect", "join_room", "hold",' ;;
  *) echo "run.sh: FLOW must be chat or idle, got ${FLOW}" >&2; exit 2 ;;
esac

cargo build --release -p stampede -p reference-server
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
work="$(mktemp -d)"
cp "$target/release/stampede" "$target/release/reference-server" "$work/"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
mkdir -p "$out"

cat >"$work/scale.toml" <<TOML
name = "scale"
description = "the competition user, then one message a minute; +$step users every $step_every to $users"
seed = 100
[[phase]]
name = "ramp"
kind = "ramp"
start_users = $step
step_users = $step
step_every = "$step_every"
max_users = $users
hold = "$hold"
spread = "$step_every"
[rooms]
assignment = "groups"
users_per_room = 10
[timeouts]
step = "30s"
delivery = "10s"
[[flow]]
name = "${FLOW:-chat}"
steps = [
  $steps
]
TOML
cp "$work/scale.toml" "$out/scenario.toml"

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --maxclients 10000 \
  >"$out/redis.log" 2>&1 &
pids+=("$!")
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

targets=()
per_instance=$(( (users + instances - 1) / instances + 500 ))
for i in $(seq 1 "$instances"); do
  port=$((5300 + i))
  "$work/reference-server" --listen "127.0.0.1:$port" --store "redis://127.0.0.1:$redis_port" \
    --jwt-secret "stampede-scale-benchmark" --kdf-memory-kib 4096 --kdf-iterations 1 \
    --max-connections "$per_instance" --files "$work/files" --overload off \
    >"$out/server-$i.log" 2>&1 &
  pids+=("$!")
  targets+=("http://127.0.0.1:$port")
done
for t in "${targets[@]}"; do
  for _ in $(seq 100); do curl -sf "$t/health" >/dev/null && break; sleep 0.1; done
done

# Peak memory and CPU of every process, sampled every 5 s while the run lasts.
sample() {
  while sleep 5; do
    for pid in $(pgrep -f "$work/(stampede|reference-server)" || true) $(pgrep -x redis-server || true); do
      [ -r "/proc/$pid/status" ] || continue
      name=$(tr '\0' ' ' <"/proc/$pid/cmdline" | awk '{print $1, $2}')
      rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
      cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      echo "$(date +%s) $pid $rss $cpu $name"
    done
  done
}
sample >"$out/processes.txt" &
sampler=$!
pids+=("$sampler")

status=0
/usr/bin/time -v "$work/stampede" run --no-tui --workers "$workers" \
  --target "$(IFS=,; echo "${targets[*]}")" --scenario "$work/scale.toml" --out "$out/run" \
  >"$out/run.log" 2>"$out/run-time.txt" || status=$?
kill "$sampler" 2>/dev/null || true
redis-cli -p "$redis_port" info >"$out/redis-info.txt" || true

# The merge on its own: time and memory of merging every segment again.
/usr/bin/time -v "$work/stampede" merge --out "$out/merged-again" "$out"/run/segments/* \
  >"$out/merge.log" 2>"$out/merge-time.txt" || true
echo "results in $out (run exit $status)"
exit "$status"
