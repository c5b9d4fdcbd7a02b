#!/usr/bin/env bash
# Soak: `bash scripts/soak.sh [MINUTES]` (default 2) runs the mixed load of
# tests/src/bin/soak.rs (echo with random sizes, clean closes, resets mid-frame, slow readers,
# dropped handshakes) against the echo_server example of every runtime in turn, MINUTES in
# all, and fails if any echo is wrong, memory keeps growing after warm-up, or descriptors are
# left open. Servers listen on 127.0.0.1 on a port the OS picks; logs go to target/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes="${1:-2}"
conns="${SOAK_CONNS:-32}"
secs=$(( minutes * 60 / 3 ))
[ "$secs" -ge 20 ] || secs=20
out=target/soak
mkdir -p "$out"

cargo build --release --quiet -p tether-tests --bin soak

status=0
for rt in tokio async-std smol; do
    log="$out/$rt-server.log"
    stdout="$out/$rt-server.out"
    rm -f "$stdout"
    # Every adapter's example is called echo_server and lands on the same path: build this
    # runtime's just before it runs.
    cargo build --release --quiet -p "tether-$rt" --example echo_server
    bin="target/release/examples/echo_server"
    "$bin" 127.0.0.1:0 >"$stdout" 2>"$log" &
    pid=$!
    addr=""
    for _ in $(seq 1 100); do
        addr=$(sed -n 's/^listening on ws:\/\/\(.*\)$/\1/p' "$stdout" | head -n1)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    if [ -z "$addr" ]; then
        echo "soak: the $rt echo server did not start" >&2
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    if ! target/release/soak --addr "$addr" --pid "$pid" --secs "$secs" --conns "$conns" --label "$rt"; then
        status=1
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
exit $status
