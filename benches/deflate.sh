#!/usr/bin/env bash
# benches/deflate.sh — echo with permessage-deflate over loopback, every server on one core
# (CPU 0) and the load generator on the other: Tether (tether-tokio's echo_server built with
# `deflate`), yawc (with `zlib`, window bits), Python websockets and Node ws
# (benches/peers/echo_deflate.*, installed by scripts/setup-peers.sh). Every server is set to
# the same compression: level 6, memory level 8, 2^15 windows both ways, context takeover,
# every message compressed. The load is compressible JSON-like text (1 KiB and 64 KiB),
# CONNS connections with INFLIGHT messages each in flight; rounds are interleaved across
# servers and the median is reported, with each server's CPU share and resident memory after
# the run. Prints a markdown table; raw lines go to target/bench-results/deflate-<stamp>/.
# Loopback only; every run is bounded.
#
# Then, per server, memory per connection with deflate agreed (`loadgen deflate-memory`):
# MEM_CONNS connections idle, then busy (one 4 KiB compressible text echoed on each), then
# quiet (12 s later without traffic: Tether frees a compressor unused for 10 s by default).
#
# Knobs: SIZES="1024 65536" CONNS=16 INFLIGHT=8 SECS=5 ROUNDS=3 SERVERS="tether yawc python node"
#        MEM_CONNS=1000 (0 skips the memory run) MEM_SERVERS="$SERVERS tether-mmap"
# `tether-mmap` is Tether's server under glibc with MALLOC_MMAP_THRESHOLD_=131072: with
# glibc's default (dynamic) threshold, a compressor freed when idle stays in the heap for
# the next busy connection to reuse, so RSS keeps the peak; with a fixed threshold it goes
# back to the system and "quiet" shows what a quiet connection really holds.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1024 65536"}
CONNS=${CONNS:-16}
INFLIGHT=${INFLIGHT:-8}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-"tether yawc python node"}
MEM_CONNS=${MEM_CONNS:-1000}
MEM_SERVERS=${MEM_SERVERS:-"$SERVERS tether-mmap"}
OUT=target/bench-results/deflate-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
LOAD_CPU=1; [ "$(nproc)" -lt 2 ] && LOAD_CPU=0

cargo build --release -q -p tether-benches --bin loadgen --bin echo_yawc
cargo build --release -q -p tether-tokio --features deflate --example echo_server
cp target/release/examples/echo_server "$OUT/echo_tether_deflate"
bash scripts/setup-peers.sh >/dev/null

PORT=19400
start() { # name -> PID, ADDR
  PORT=$((PORT + 1)); ADDR=127.0.0.1:$PORT
  case $1 in
    tether) taskset -c 0 "$OUT/echo_tether_deflate" "$ADDR" >"$OUT/$1.log" 2>&1 & ;;
    tether-mmap) MALLOC_MMAP_THRESHOLD_=131072 taskset -c 0 "$OUT/echo_tether_deflate" "$ADDR" >"$OUT/$1.log" 2>&1 & ;;
    yawc) taskset -c 0 target/release/echo_yawc "$ADDR" >"$OUT/$1.log" 2>&1 & ;;
    python) taskset -c 0 target/peers/venv/bin/python benches/peers/echo_deflate.py "$PORT" >"$OUT/$1.log" 2>&1 & ;;
    node) NODE_PATH="$PWD/target/peers/node/node_modules" taskset -c 0 node benches/peers/echo_deflate.js "$PORT" >"$OUT/$1.log" 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 100); do grep -q listening "$OUT/$1.log" 2>/dev/null && return 0; sleep 0.05; done
  echo "deflate.sh: $1 did not start" >&2; kill "$PID" 2>/dev/null; return 1
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
get() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }

for round in $(seq "$ROUNDS"); do
  for size in $SIZES; do
    for s in $SERVERS; do
      start "$s" || continue
      t0=$(ticks "$PID"); w0=$(date +%s%N)
      line=$(taskset -c $LOAD_CPU timeout 120 target/release/loadgen deflate "$ADDR" "$CONNS" "$INFLIGHT" "$size" "$SECS" \
        2>>"$OUT/errors.log" || true)
      t1=$(ticks "$PID"); w1=$(date +%s%N)
      mem=$(rss "$PID" || echo 0)
      stop
      cpu=$(( (t1 - t0) * 100 * 1000000000 / $(getconf CLK_TCK) / (w1 - w0 + 1) ))
      echo "server=$s round=$round cpu_pct=$cpu rss_kib=${mem:-0} $line" >>"$OUT/deflate.txt"
    done
  done
done

if [ -s "$OUT/deflate.txt" ]; then
  echo "| server | size | messages/s (median of $ROUNDS) | Tether ÷ this | echo payload B | server CPU % | server RSS MiB | agreed |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  for size in $SIZES; do
    median() { grep "server=$1 " "$OUT/deflate.txt" | grep " size=$size " | sed -n "s/.*msgs_per_sec=\([0-9]*\).*/\1/p" | sort -n \
      | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
    base=$(median tether)
    for s in $SERVERS; do
      m=$(median "$s")
      last=$(grep "server=$s " "$OUT/deflate.txt" | grep " size=$size " | tail -n1 || true)
      ratio=$(awk -v a="$m" -v b="$base" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
      echo "| $s | $size B | $m | $ratio | $(get echo_payload_bytes "$last") | $(get cpu_pct "$last") | $(( $(get rss_kib "$last" || echo 0) / 1024 )) | $(get agreed "$last") |"
    done
  done
fi

[ "$MEM_CONNS" -gt 0 ] || exit 0
for s in $MEM_SERVERS; do
  start "$s" || continue
  line=$(taskset -c $LOAD_CPU timeout 120 target/release/loadgen deflate-memory "$ADDR" "$MEM_CONNS" "$PID" \
    2>>"$OUT/errors.log" || true)
  stop
  echo "server=$s $line" >>"$OUT/deflate-memory.txt"
done
echo
echo "| server | idle B/connection | busy B/connection | quiet B/connection | connections |"
echo "|---|---:|---:|---:|---:|"
for s in $MEM_SERVERS; do
  last=$(grep "server=$s " "$OUT/deflate-memory.txt" | tail -n1 || true)
  echo "| $s | $(get idle_bytes_per_conn "$last") | $(get busy_bytes_per_conn "$last") | $(get quiet_bytes_per_conn "$last") | $(get conns "$last") |"
done
