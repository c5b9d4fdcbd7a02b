#!/usr/bin/env bash
# benches/http.sh — echo through WebSockets hosted in an HTTP server, on loopback, every
# server on one core (CPU 0) and the load generator on the other: Tether on a raw stream
# (tether-tokio's echo_server), Tether in hyper 1.x and in axum 0.8 (its `hyper`/`axum`
# features), axum's own extractor (tungstenite underneath) and yawc's axum extractor — all
# from benches/src/bin/echo_http.rs but the raw one, HTTP/1.1, no compression. 16 B and 1 KiB
# binary messages, CONNS connections with INFLIGHT each in flight; rounds interleaved across
# servers, medians reported with the ratio "Tether in axum ÷ this". Prints a markdown table;
# raw lines go to target/bench-results/http-<stamp>/. Loopback only; every run is bounded.
#
# Knobs: SIZES="16 1024" CONNS=16 INFLIGHT=32 SECS=5 ROUNDS=3
#        SERVERS="tether-raw tether-hyper tether-axum axum-ws yawc-axum"
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"16 1024"}
CONNS=${CONNS:-16}
INFLIGHT=${INFLIGHT:-32}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-"tether-raw tether-hyper tether-axum axum-ws yawc-axum"}
OUT=target/bench-results/http-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
LOAD_CPU=1; [ "$(nproc)" -lt 2 ] && LOAD_CPU=0

cargo build --release -q -p tether-benches --bin loadgen --bin echo_http
cargo build --release -q -p tether-tokio --example echo_server
cp target/release/examples/echo_server "$OUT/echo_tether_raw"

PORT=19600
start() { # name -> PID, ADDR
  PORT=$((PORT + 1)); ADDR=127.0.0.1:$PORT
  case $1 in
    tether-raw) taskset -c 0 "$OUT/echo_tether_raw" "$ADDR" >"$OUT/$1.log" 2>&1 & ;;
    *) taskset -c 0 target/release/echo_http "$ADDR" "$1" >"$OUT/$1.log" 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 100); do grep -q listening "$OUT/$1.log" 2>/dev/null && return 0; sleep 0.05; done
  echo "http.sh: $1 did not start" >&2; kill "$PID" 2>/dev/null; return 1
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

for round in $(seq "$ROUNDS"); do
  for size in $SIZES; do
    for s in $SERVERS; do
      start "$s" || continue
      line=$(taskset -c $LOAD_CPU timeout 120 target/release/loadgen throughput "$ADDR" "$CONNS" "$INFLIGHT" "$size" "$SECS" \
        2>>"$OUT/errors.log" || true)
      stop
      echo "server=$s round=$round $line" >>"$OUT/http.txt"
    done
  done
done

echo "| server | size | messages/s (median of $ROUNDS) | Tether in axum ÷ this |"
echo "|---|---:|---:|---:|"
for size in $SIZES; do
  median() { grep "server=$1 " "$OUT/http.txt" | grep " size=$size " | sed -n "s/.*msgs_per_sec=\([0-9]*\).*/\1/p" | sort -n \
    | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
  base=$(median tether-axum)
  for s in $SERVERS; do
    m=$(median "$s")
    ratio=$(awk -v a="$m" -v b="$base" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
    echo "| $s | $size B | $m | $ratio |"
  done
done
