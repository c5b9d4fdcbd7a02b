#!/usr/bin/env bash
# benches/run.sh — runs every Tether benchmark and prints one markdown report: criterion
# framing benches (in memory), callgrind instructions per frame, the echo matrix (whole
# processes over loopback, server and load generator pinned to different cores, interleaved
# rounds, medians) and idle memory per upgraded connection. What is measured lives in
# benches/ (criterion) and src/bin/ (load generator, peer echo servers, report); this script
# only builds, starts, stops and collects. Loopback only; every run is bounded in time.
#
# Usage: bash benches/run.sh            (everything; about 20 minutes on 2 cores)
# Knobs (environment):
#   ROUNDS=3        echo rounds (interleaved across servers; medians are reported)
#   SECS=5          measured seconds per throughput run (after 1 s of warm-up)
#   LAT_COUNT=20000 ping-pong samples per latency run
#   BIG_ROUNDS=4    64 KiB-only rounds after the echo rounds (that column is bimodal on a shared VM:
#                   two or three samples put the median on either mode; more rounds, steadier medians)
#   LAT_ROUNDS=4    latency-only rounds after the echo rounds (p50 differences between servers
#                   are smaller than the round-to-round spread; more rounds, steadier medians)
#   IDLE_CONNS=10000 connections for the idle-memory run
#   SKIP_FRAMING=1 / SKIP_CALLGRIND=1 / SKIP_ECHO=1 / SKIP_IDLE=1   skip a part
#   CRITERION_ARGS="--measurement-time 2"   passed to the criterion bench
#   SERVERS="raw tether-tokio ..."           subset of echo servers
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
LAT_COUNT=${LAT_COUNT:-20000}
LAT_ROUNDS=${LAT_ROUNDS:-4}
BIG_ROUNDS=${BIG_ROUNDS:-4}
IDLE_CONNS=${IDLE_CONNS:-10000}
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$TARGET/bench-results/$STAMP}
BIN=$OUT/bin
mkdir -p "$BIN"
SERVER_CPU=0
LOAD_CPU=1
if [ "$(nproc)" -lt 2 ]; then LOAD_CPU=0; fi

log() { echo "[run.sh] $*" >&2; }

# Connections: the generator and each server need one descriptor per connection.
ulimit -n "$(( IDLE_CONNS * 2 + 1024 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---------------------------------------------------------------- build
log "building (release)"
cargo build --release -q -p tether-benches --bins --benches
for b in loadgen report framing_profile echo_raw echo_proto echo_tungstenite_forward echo_tungstenite_loop \
         echo_fastwebsockets echo_tokio_websockets; do
  cp "$TARGET/release/$b" "$BIN/"
done
ADAPTERS=()
for a in tether-tokio tether-async-std tether-smol; do
  # The three examples share one output name: build and copy one at a time.
  if cargo build --release -q -p "$a" --example echo_server 2>"$OUT/build-$a.log"; then
    cp "$TARGET/release/examples/echo_server" "$BIN/$a"
    ADAPTERS+=("$a")
  else
    log "$a: examples/echo_server does not build (see $OUT/build-$a.log); skipped"
  fi
done

# ---------------------------------------------------------------- framing (criterion)
if [ -z "${SKIP_FRAMING:-}" ]; then
  log "framing benches (criterion)"
  rm -rf "$TARGET/criterion"
  # shellcheck disable=SC2086
  cargo bench -q -p tether-benches --bench framing -- ${CRITERION_ARGS:-} >"$OUT/criterion.log" 2>&1
  "$BIN/report" framing "$TARGET/criterion" >"$OUT/framing.md"
fi

# ---------------------------------------------------------------- instructions (callgrind)
if [ -z "${SKIP_CALLGRIND:-}" ] && command -v valgrind >/dev/null; then
  log "instructions per frame (callgrind)"
  ir() { # op lib size frames reps -> instructions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN/framing_profile" "$@" 2>&1 >/dev/null |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  }
  {
    echo "| operation | library | instructions / frame (16 B) | instructions / frame (128 B) |"
    echo "|---|---|---:|---:|"
    for op in decode encode; do
      for lib in tether tether-borrowed tungstenite fastwebsockets fastwebsockets-collector tokio-websockets; do
        [ "$op" = encode ] && [ "$lib" = fastwebsockets-collector ] && continue
        [ "$op" = decode ] && [ "$lib" = tether-borrowed ] && continue
        row="| $op | $lib |"
        for size in 16 128; do
          a=$(ir "$op" "$lib" "$size" 10000 1); b=$(ir "$op" "$lib" "$size" 10000 3)
          row="$row $(( (b - a) / 20000 )) |"
        done
        echo "$row"
      done
    done
  } >"$OUT/instructions.md"
fi

# ---------------------------------------------------------------- echo servers
declare -A CMD=(
  [raw]="$BIN/echo_raw"
  [raw-owned]="$BIN/echo_raw"
  [tether-proto-loop]="$BIN/echo_proto"
  [tungstenite-forward]="$BIN/echo_tungstenite_forward"
  [tungstenite-loop]="$BIN/echo_tungstenite_loop"
  [fastwebsockets]="$BIN/echo_fastwebsockets"
  [tokio-websockets]="$BIN/echo_tokio_websockets"
)
# Arguments after the address: raw-owned is the raw echo plus one owned payload per message.
declare -A ARGS=([raw-owned]="--owned")
ALL_SERVERS=(raw raw-owned tether-proto-loop)
for a in "${ADAPTERS[@]}"; do CMD[$a]="$BIN/$a"; ALL_SERVERS+=("$a"); done
ALL_SERVERS+=(tungstenite-forward tungstenite-loop fastwebsockets tokio-websockets)
read -r -a SERVERS <<<"${SERVERS:-${ALL_SERVERS[*]}}"

PORT=19100
SERVER_PID=
start_server() { # name -> sets SERVER_PID, ADDR
  PORT=$(( PORT + 1 ))
  ADDR=127.0.0.1:$PORT
  # shellcheck disable=SC2086 # ARGS are words
  taskset -c "$SERVER_CPU" "${CMD[$1]}" "$ADDR" ${ARGS[$1]:-} >"$OUT/server-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$OUT/server-$1.log" 2>/dev/null && return 0
    sleep 0.05
  done
  log "$1 did not start"; stop_server; return 1
}
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
load() { # server args... -> appends one line to results
  local name=$1; shift
  local t0 t1 w0 w1 line hz
  hz=$(getconf CLK_TCK)
  t0=$(cpu_ticks "$SERVER_PID"); w0=$(date +%s%N)
  if line=$(taskset -c "$LOAD_CPU" timeout 150 "$BIN/loadgen" "$@" 2>>"$OUT/loadgen.err"); then
    t1=$(cpu_ticks "$SERVER_PID"); w1=$(date +%s%N)
    # Share of one core the server used over the whole run (connect + warm-up + measure).
    echo "server=$name $line server_cpu_pct=$(( (t1 - t0) * 100 * 1000000000 / hz / (w1 - w0) ))" |
      tee -a "$OUT/echo.txt" >&2
  else
    log "$name: loadgen $* failed"
  fi
}

if [ -z "${SKIP_ECHO:-}" ]; then
  for round in $(seq "$ROUNDS"); do
    for s in "${SERVERS[@]}"; do
      log "echo round $round/$ROUNDS: $s"
      start_server "$s" || continue
      load "$s" throughput "$ADDR" 64 16 16 "$SECS"
      load "$s" throughput "$ADDR" 64 16 1024 "$SECS"
      load "$s" throughput "$ADDR" 8 4 65536 "$SECS"
      load "$s" latency "$ADDR" 16 "$LAT_COUNT"
      stop_server
    done
  done
  for round in $(seq "$BIG_ROUNDS"); do
    for s in "${SERVERS[@]}"; do
      log "64 KiB round $round/$BIG_ROUNDS: $s"
      start_server "$s" || continue
      load "$s" throughput "$ADDR" 8 4 65536 "$SECS"
      stop_server
    done
  done
  for round in $(seq "$LAT_ROUNDS"); do
    for s in "${SERVERS[@]}"; do
      log "latency round $round/$LAT_ROUNDS: $s"
      start_server "$s" || continue
      load "$s" latency "$ADDR" 16 "$LAT_COUNT"
      stop_server
    done
  done
fi

if [ -z "${SKIP_IDLE:-}" ]; then
  for s in "${SERVERS[@]}"; do
    # Idle connections never reach raw-owned's extra work: the same server as raw.
    [ "$s" = raw-owned ] && continue
    log "idle memory: $s ($IDLE_CONNS connections)"
    start_server "$s" || continue
    load "$s" idle "$ADDR" "$IDLE_CONNS" "$SERVER_PID"
    stop_server
    sleep 1
  done
fi

# ---------------------------------------------------------------- report
{
  echo "### Tether benchmarks — $(date -u +%Y-%m-%d)"
  echo
  echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores" \
       "(shared), $(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r)," \
       "$(rustc --version | cut -d' ' -f1-2), target $(rustc -vV | sed -n 's/host: //p') (no target-cpu)"
  echo "- command: \`bash benches/run.sh\` (ROUNDS=$ROUNDS SECS=$SECS LAT_COUNT=$LAT_COUNT BIG_ROUNDS=$BIG_ROUNDS LAT_ROUNDS=$LAT_ROUNDS IDLE_CONNS=$IDLE_CONNS)"
  echo "- raw results: \`$OUT\`"
  if [ -f "$OUT/framing.md" ]; then
    echo
    echo "#### Framing, in memory (criterion medians; ns/frame for batches of 100 000 frames)"
    echo
    cat "$OUT/framing.md"
  fi
  if [ -f "$OUT/instructions.md" ]; then
    echo
    echo "#### Instructions per frame (callgrind; noise-free)"
    echo
    cat "$OUT/instructions.md"
  fi
  if [ -f "$OUT/echo.txt" ]; then
    echo
    echo "#### Echo over loopback (server on CPU $SERVER_CPU, generator on CPU $LOAD_CPU; medians of $ROUNDS interleaved rounds, 64 KiB of $(( ROUNDS + BIG_ROUNDS )), latency of $(( ROUNDS + LAT_ROUNDS )))"
    echo
    "$BIN/report" echo "$OUT/echo.txt"
  fi
} | tee "$OUT/report.md"

# The README's headline chart, redrawn from this run's numbers (commit it with the tables).
if [ -f "$OUT/echo.txt" ] && "$BIN/report" chart "$OUT/echo.txt" >"$OUT/chart.svg"; then
  cp "$OUT/chart.svg" benches/chart.svg
  log "chart: $OUT/chart.svg (copied to benches/chart.svg)"
fi
