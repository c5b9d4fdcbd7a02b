#!/usr/bin/env bash
# benches/fanout.sh — fan-out over loopback: one publisher, N subscribers, every server on one
# core (CPU 0) and the load generator on the other. Servers: Tether's hub (fanout_tether),
# tokio-tungstenite with a broadcast channel (fanout_tungstenite), Python websockets'
# broadcast() and Node ws (benches/peers/, installed by scripts/setup-peers.sh). For each
# subscriber count and message size: saturated deliveries per second (the publisher at most
# 64 messages ahead of the slowest subscriber) and delivery latency at a paced 100 msg/s,
# with the server's CPU share and resident memory. Prints a markdown table; raw lines go to
# target/bench-results/fanout-<stamp>/fanout.txt. Loopback only; every run is bounded.
#
# Knobs: SUBS="1000 10000" SIZES="64 4096" SECS=5 SERVERS="tether tungstenite python node"
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS=${SUBS:-"1000 10000"}
SIZES=${SIZES:-"64 4096"}
SECS=${SECS:-5}
SERVERS=${SERVERS:-"tether tungstenite python node"}
OUT=target/bench-results/fanout-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
LOAD_CPU=1; [ "$(nproc)" -lt 2 ] && LOAD_CPU=0

cargo build --release -q -p tether-benches --bin fanout_load --bin fanout_tether --bin fanout_tungstenite
bash scripts/setup-peers.sh >/dev/null

PORT=19300
start() { # name -> PID, ADDR
  PORT=$((PORT + 1)); ADDR=127.0.0.1:$PORT
  case $1 in
    tether) taskset -c 0 target/release/fanout_tether "$ADDR" >"$OUT/$1.log" 2>&1 & ;;
    tungstenite) taskset -c 0 target/release/fanout_tungstenite "$ADDR" >"$OUT/$1.log" 2>&1 & ;;
    python) taskset -c 0 target/peers/venv/bin/python benches/peers/fanout_server.py "$PORT" >"$OUT/$1.log" 2>&1 & ;;
    node) NODE_PATH="$PWD/target/peers/node/node_modules" taskset -c 0 node benches/peers/fanout_server.js "$PORT" >"$OUT/$1.log" 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 100); do grep -q listening "$OUT/$1.log" 2>/dev/null && return 0; sleep 0.05; done
  echo "fanout.sh: $1 did not start" >&2; kill "$PID" 2>/dev/null; return 1
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

echo "| server | subscribers | size | deliveries/s (saturated) | server CPU % | p50 / p99 µs at 100 msg/s | server RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for subs in $SUBS; do
  for size in $SIZES; do
    for s in $SERVERS; do
      start "$s" || continue
      t0=$(ticks "$PID"); w0=$(date +%s%N)
      sat=$(taskset -c $LOAD_CPU timeout 200 target/release/fanout_load "$ADDR" "$subs" "$size" 0 "$SECS" 2>>"$OUT/errors.log" || true)
      t1=$(ticks "$PID"); w1=$(date +%s%N)
      mem=$(rss "$PID" || echo 0)
      stop
      start "$s" || continue
      paced=$(taskset -c $LOAD_CPU timeout 200 target/release/fanout_load "$ADDR" "$subs" "$size" 100 "$SECS" 2>>"$OUT/errors.log" || true)
      stop
      echo "server=$s $sat" >>"$OUT/fanout.txt"; echo "server=$s $paced" >>"$OUT/fanout.txt"
      get() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
      cpu=$(( (t1 - t0) * 100 * 1000000000 / $(getconf CLK_TCK) / (w1 - w0 + 1) ))
      echo "| $s | $subs | $size B | $(get deliveries_per_sec "$sat") | $cpu | $(get p50_us "$paced") / $(get p99_us "$paced") | $(( ${mem:-0} / 1024 )) |"
    done
  done
done
