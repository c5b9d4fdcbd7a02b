#!/usr/bin/env bash
# benches/h2.sh — echo through WebSockets over HTTP/2 (RFC 8441), many sockets multiplexed on
# ONE cleartext HTTP/2 connection (prior knowledge), on loopback: the server on one core
# (CPU 0), the load generator on the other. Two comparisons, each run against a fresh server:
#   servers — the same client (Tether's RFC 8441 client, `loadgen_h2 tether`) against
#             `echo_h2 tether` (Tether in hyper's HTTP/2 server) and `echo_h2 yawc` (yawc's
#             own HTTP/2 server support, same hyper server): messages/s;
#   clients — Tether's client and yawc's (`loadgen_h2 yawc`: yawc's WebSockets on streams of
#             one hyper HTTP/2 connection) against the same server (Tether's): messages/s and
#             the client's CPU per message (the server may be the bottleneck, the CPU is not).
# SOCKETS WebSockets on the connection, INFLIGHT binary messages of each SIZE in flight on
# each, no compression, 1 MiB limits. Rounds interleaved across servers and clients; medians
# reported. Prints two markdown tables; raw lines go to target/bench-results/h2-<stamp>/.
# Every process is bounded with `timeout`; servers bind 127.0.0.1:0 (a free port).
#
# Knobs: SOCKETS="1 16 100" SIZES="16 1024 16384" INFLIGHT=16 SECS=5 ROUNDS=3
#        SERVERS="tether yawc" CLIENTS="tether yawc"  (CLIENTS may add `yawc-connect`: yawc's
#        public `connect` API, one HTTP/2 connection per socket — not one connection)
set -euo pipefail
cd "$(dirname "$0")/.."
SOCKETS=${SOCKETS:-"1 16 100"}
SIZES=${SIZES:-"16 1024 16384"}
INFLIGHT=${INFLIGHT:-16}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-"tether yawc"}
CLIENTS=${CLIENTS:-"tether yawc"}
OUT=target/bench-results/h2-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
LOAD_CPU=1; [ "$(nproc)" -lt 2 ] && LOAD_CPU=0

cargo build --release -q -p tether-benches --bin loadgen_h2 --bin echo_h2

# The runs, as server:client pairs: every server with Tether's client, and every client with
# Tether's server (tether:tether is in both comparisons, run once per round).
PAIRS=""
for s in $SERVERS; do PAIRS="$PAIRS $s:tether"; done
for c in $CLIENTS; do [ "$c" = tether ] || PAIRS="$PAIRS tether:$c"; done

PID=""
start() { # server -> PID, ADDR
  : >"$OUT/server-$1.log"
  taskset -c 0 timeout $((SECS + 120)) target/release/echo_h2 127.0.0.1:0 "$1" >"$OUT/server-$1.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    ADDR=$(sed -n 's|^listening on ws://\(127\.0\.0\.1:[0-9]*\)$|\1|p' "$OUT/server-$1.log" 2>/dev/null)
    [ -n "$ADDR" ] && return 0
    sleep 0.05
  done
  echo "h2.sh: echo_h2 $1 did not start" >&2; stop; return 1
}
stop() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; PID=""; }
trap stop EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

for round in $(seq "$ROUNDS"); do
  for size in $SIZES; do
    for n in $SOCKETS; do
      for pair in $PAIRS; do
        s=${pair%%:*}; c=${pair##*:}
        start "$s" || continue
        spid=$(pgrep -P "$PID" echo_h2 || echo "$PID")
        t0=$(ticks "$spid")
        line=$(taskset -c $LOAD_CPU timeout $((SECS + 60)) target/release/loadgen_h2 "$c" "$ADDR" "$n" "$INFLIGHT" "$size" "$SECS" \
          2>>"$OUT/errors.log" || true)
        t1=$(ticks "$spid")
        stop
        # The server's CPU per echoed message, over the warm-up second and the measured SECS
        # (both at about the measured rate).
        rate=$(sed -n 's/.*msgs_per_sec=\([0-9]*\).*/\1/p' <<<"$line")
        scpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v r="${rate:-0}" -v s="$SECS" \
          'BEGIN { if (r > 0) printf "%.0f", t * 1e9 / hz / (r * (s + 1)); else print 0 }')
        echo "server=$s round=$round $line server_cpu_ns_per_msg=$scpu" >>"$OUT/h2.txt"
      done
    done
  done
done

# median FIELD SERVER CLIENT SOCKETS SIZE -> the median of FIELD over the rounds (0 if none)
median() {
  { grep "^server=$2 .* client=$3 sockets=$4 .* size=$5 " "$OUT/h2.txt" || true; } \
    | sed -n "s/.* $1=\([0-9]*\).*/\1/p" | sort -n \
    | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "Servers (one HTTP/2 connection, client: Tether's; INFLIGHT=$INFLIGHT per socket, median of $ROUNDS)"
echo
echo "| server | sockets | size | messages/s | this ÷ Tether | server CPU ns/message | CPU ÷ Tether's |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  for n in $SOCKETS; do
    base=$(median msgs_per_sec tether tether "$n" "$size")
    cbase=$(median server_cpu_ns_per_msg tether tether "$n" "$size")
    for s in $SERVERS; do
      m=$(median msgs_per_sec "$s" tether "$n" "$size")
      cpu=$(median server_cpu_ns_per_msg "$s" tether "$n" "$size")
      echo "| $s | $n | $size B | $m | $(ratio "$m" "$base") | $cpu | $(ratio "$cpu" "$cbase") |"
    done
  done
done
echo
echo "Clients (one HTTP/2 connection, server: Tether's; INFLIGHT=$INFLIGHT per socket, median of $ROUNDS)"
echo
echo "| client | sockets | size | messages/s | client CPU ns/message | CPU ÷ Tether's |"
echo "|---|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  for n in $SOCKETS; do
    base=$(median gen_cpu_ns_per_msg tether tether "$n" "$size")
    for c in $CLIENTS; do
      m=$(median msgs_per_sec tether "$c" "$n" "$size")
      cpu=$(median gen_cpu_ns_per_msg tether "$c" "$n" "$size")
      echo "| $c | $n | $size B | $m | $cpu | $(ratio "$cpu" "$base") |"
    done
  done
done
if [ -s "$OUT/errors.log" ]; then
  echo
  echo "h2.sh: some runs failed (their lines have no figures): see $OUT/errors.log" >&2
fi
