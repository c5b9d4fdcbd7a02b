#!/usr/bin/env bash
# benches/wss.sh — echo over TLS (wss://) on loopback, every server on one core (CPU 0) and
# the load generator on the other: Tether (tether-tokio's echo_server built with `rustls`,
# `--tls`) and tokio-tungstenite (echo_tungstenite_tls: tokio-rustls, in its `forward`
# shape and as a receive/send loop), all on rustls with the aws-lc-rs provider and the same certificate,
# made for the run (make_bench_pki). The load generator speaks TLS trusting that CA
# (LOADGEN_TLS_CA) and sends pre-encoded masked frames: 16 B and 1 KiB binary messages,
# CONNS connections with INFLIGHT each in flight. Rounds are interleaved; medians reported.
# Prints a markdown table; raw lines go to target/bench-results/wss-<stamp>/. Loopback
# only; every run is bounded.
#
# Knobs: SIZES="16 1024" CONNS=16 INFLIGHT=32 SECS=5 ROUNDS=3
#        SERVERS="tether tungstenite-forward tungstenite-loop"
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"16 1024"}
CONNS=${CONNS:-16}
INFLIGHT=${INFLIGHT:-32}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-"tether tungstenite-forward tungstenite-loop"}
OUT=target/bench-results/wss-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
LOAD_CPU=1; [ "$(nproc)" -lt 2 ] && LOAD_CPU=0

cargo build --release -q -p tether-benches --bin loadgen --bin echo_tungstenite_tls --bin make_bench_pki
cargo build --release -q -p tether-tokio --features rustls --example echo_server
cp target/release/examples/echo_server "$OUT/echo_tether_tls"
target/release/make_bench_pki "$OUT/pki"
export LOADGEN_TLS_CA="$OUT/pki/ca.pem"

PORT=19500
start() { # name -> PID, ADDR
  PORT=$((PORT + 1)); ADDR=127.0.0.1:$PORT
  case $1 in
    tether) taskset -c 0 "$OUT/echo_tether_tls" "$ADDR" --tls "$OUT/pki/cert.pem" "$OUT/pki/key.pem" >"$OUT/$1.log" 2>&1 & ;;
    tungstenite-*) taskset -c 0 target/release/echo_tungstenite_tls "$ADDR" "$OUT/pki/cert.pem" "$OUT/pki/key.pem" \
      "${1#tungstenite-}" >"$OUT/$1.log" 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 100); do grep -q listening "$OUT/$1.log" 2>/dev/null && return 0; sleep 0.05; done
  echo "wss.sh: $1 did not start" >&2; kill "$PID" 2>/dev/null; return 1
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

for round in $(seq "$ROUNDS"); do
  for size in $SIZES; do
    for s in $SERVERS; do
      start "$s" || continue
      line=$(taskset -c $LOAD_CPU timeout 120 target/release/loadgen throughput "$ADDR" "$CONNS" "$INFLIGHT" "$size" "$SECS" \
        2>>"$OUT/errors.log" || true)
      stop
      echo "server=$s round=$round $line" >>"$OUT/wss.txt"
    done
  done
done

echo "| server | size | messages/s over TLS (median of $ROUNDS) | Tether ÷ this |"
echo "|---|---:|---:|---:|"
for size in $SIZES; do
  median() { grep "server=$1 " "$OUT/wss.txt" | grep " size=$size " | sed -n "s/.*msgs_per_sec=\([0-9]*\).*/\1/p" | sort -n \
    | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
  base=$(median tether)
  for s in $SERVERS; do
    m=$(median "$s")
    ratio=$(awk -v a="$m" -v b="$base" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
    echo "| $s | $size B | $m | $ratio |"
  done
done
