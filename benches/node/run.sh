#!/usr/bin/env bash
# The reference server and the competition's own stack — a chat server on the npm `socket.io` v4
# package (tests/node-server/server.mjs) — side by side in one `stampede match`, under the same chat
# workload: USERS users per server arrive over ARRIVE, sit in rooms of 10 and send a message every
# INTERVAL for HOLD. Both servers keep everything in memory (the reference server's memory store;
# the Node server's maps), so the store's data is inside both processes' memory alike; the Node
# server does no password hashing, so sign-ups are measured apart from chat (see summarize.py).
#
# Every 2 s the script samples each server's CPU time and resident memory (/proc), and writes
# OUT/processes.txt, the match directory OUT/match, and the figures (summarize.py) to OUT/summary.txt.
# The generator runs as `--workers 2` (USERS per team × 2 teams sockets would not fit one process's
# 20,000 open files here).
#
# FLOW=idle drops the history fetch and the chat: users sign up, join their room and hold their
# socket, which measures each server's memory per connected user with no messages stored.
#
# STORE=redis runs the reference server on a redis-server of its own (127.0.0.1:5403, no
# persistence), so its process holds connections and no chat data: the store's data is then
# measured apart (the redis-server's CPU and memory are sampled and reported on a line of their own).
# The Node server keeps its data in process either way.
#
#   benches/node/run.sh [OUT_DIR]
#   USERS=10000 ARRIVE=60s INTERVAL=10s HOLD=120s FLOW=chat STORE=memory (defaults; HOLD counts
#   from the end of ARRIVE)
set -euo pipefail
cd "$(dirname "$0")/../.."

out="${1:-results/node-$(date -u +%Y%m%d-%H%M%S)}"
users="${USERS:-10000}"
arrive="${ARRIVE:-60s}"
interval="${INTERVAL:-10s}"
hold="${HOLD:-120s}"
case "${FLOW:-chat}" in
  chat) steps="{ fetch_history = { pages = 1 } }, { send_messages = { interval = \"$interval\" } }," ;;
  idle) steps='"hold",' ;;
  *) echo "run.sh: FLOW must be chat or idle, got ${FLOW}" >&2; exit 2 ;;
esac
secs() { python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)s",sys.argv[1]); print(m.group(1)) if m else sys.exit(f"run.sh: durations are whole seconds like 60s, got {sys.argv[1]}")' "$1"; }
total="$(( $(secs "$arrive") + $(secs "$hold") ))s"
case "${STORE:-memory}" in
  memory) store=memory ;;
  redis) store=redis://127.0.0.1:5403
    command -v redis-server >/dev/null || { echo "run.sh: STORE=redis needs redis-server" >&2; exit 2; } ;;
  *) echo "run.sh: STORE must be memory or redis, got ${STORE}" >&2; exit 2 ;;
esac
case "$users" in *[!0-9]* | "") echo "run.sh: USERS must be a whole number, got $users" >&2; exit 2 ;; esac
command -v node >/dev/null || { echo "run.sh: needs node (and npm ci in tests/node-server)" >&2; exit 2; }
[ -d tests/node-server/node_modules/socket.io ] || (cd tests/node-server && npm ci --silent)

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

cat >"$work/chat.toml" <<TOML
name = "node-vs-reference"
description = "$users users arrive over $arrive, rooms of 10, ${FLOW:-chat} for $hold"
seed = 11
[[phase]]
name = "arrive"
kind = "constant"
users = $users
duration = "$total"
spread = "$arrive"
[rooms]
assignment = "groups"
users_per_room = 10
[timeouts]
step = "30s"
delivery = "10s"
[[flow]]
name = "chat"
steps = [
  { register = { login = true } }, "enter_room", "connect", "join_room",
  $steps
]
TOML
cp "$work/chat.toml" "$out/scenario.toml"

redis=""
if [ "$store" != memory ]; then
  redis-server --port 5403 --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
    >"$out/redis.log" 2>&1 &
  redis=$!
  pids+=("$redis")
  for _ in $(seq 100); do redis-cli -p 5403 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
"$work/reference-server" --listen 127.0.0.1:5401 --overload off --store "$store" \
  --kdf-memory-kib 4096 --kdf-iterations 1 --files-dir "$work/files" \
  --jwt-secret "stampede-node-benchmark-secret" >"$out/reference.log" 2>&1 &
reference=$!
pids+=("$reference")
# The Node server stops when its stdin closes: a FIFO this shell holds open until it exits.
mkfifo "$work/node-stdin"
node tests/node-server/server.mjs --port 5402 <"$work/node-stdin" >"$out/node.log" 2>&1 &
nodejs=$!
pids+=("$nodejs")
exec 3>"$work/node-stdin"
for port in 5401 5402; do
  for _ in $(seq 100); do curl -sf "127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
done

# CPU ticks (user + system, 1/100 s) and resident memory (KiB) of each server every 2 s.
sample() {
  while sleep 2; do
    for named in reference:$reference node:$nodejs ${redis:+redis:$redis}; do
      pid=${named#*:}
      [ -r "/proc/$pid/stat" ] || continue
      rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
      cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      echo "$(date +%s.%N) ${named%%:*} $rss $cpu"
    done
  done
}
echo "$(date +%s.%N) start" >"$out/processes.txt"
sample >>"$out/processes.txt" &
pids+=("$!")

status=0
"$work/stampede" match --no-tui --mode concurrent --workers 2 --scenario "$work/chat.toml" \
  --team reference=http://127.0.0.1:5401 --team node=http://127.0.0.1:5402 \
  --out "$out/match" >"$out/match.log" 2>&1 || status=$?
python3 benches/node/summarize.py "$out" | tee "$out/summary.txt"
echo "results in $out (match exit $status)"
exit "$status"
