#!/usr/bin/env bash
# Cross-instance fan-out: `bash benches/cluster.sh [SUBS] [RATE] [SECS] [--threads]` (defaults
# 1000, 1000, 3) starts a redis-server on a free loopback port (no persistence), runs
# benches/src/bin/cluster_fanout.rs (in-process hub, then three RedisCluster instances: one
# publisher, 3 × SUBS subscribers, paced latency and a burst; `--threads` runs instances 1
# and 2 on their own runtime threads), and stops it. Needs redis-server
# (scripts/setup-peers.sh --redis). Opt-in: not part of benches/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS="${1:-1000}"
RATE="${2:-1000}"
SECS="${3:-3}"
cargo build --release --quiet -p tether-benches --features redis --bin cluster_fanout
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
REDIS=$!
trap 'kill "$REDIS" 2>/dev/null; wait "$REDIS" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if redis-cli -p "$PORT" ping >/dev/null 2>&1; then break; fi
    sleep 0.05
done
timeout 300 target/release/cluster_fanout --redis "redis://127.0.0.1:$PORT" --subs "$SUBS" --rate "$RATE" --secs "$SECS" "${@:4}"
