#!/usr/bin/env bash
# The whole test suite, as the README documents it and .ci/run calls it.
# Everything a test needs is installed by the project's own scripts (under target/).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings

echo "== docs (broken intra-doc links and missing docs fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --quiet

echo "== the published crates package and build from their packages alone"
# Cargo unpacks the packages it verifies into its registry cache and never refreshes an
# unpacked copy of the same version: drop our crates' copies so a rerun verifies this tree.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tether-*-0.*/
cargo package --workspace --exclude tether-testkit --exclude tether-tests --exclude tether-benches \
    --allow-dirty --quiet

echo "== proto builds without std"
cargo build -p tether-proto --no-default-features --quiet

echo "== proto stays sans-IO (no runtime in its normal dependency tree)"
if cargo tree -p tether-proto -e normal --prefix none | grep -E '^(tokio|async-std|smol|mio|futures-io) '; then
    echo "tether-proto depends on a runtime or IO crate" >&2
    exit 1
fi

echo "== real peers (Python websockets, Node ws, headless Chromium, tinyproxy, microsocks, redis-server) for the interop, proxy and Redis tests"
if [ "$(id -u)" -eq 0 ]; then
    bash scripts/setup-peers.sh --browser --proxies --redis
else
    bash scripts/setup-peers.sh --proxies --redis
fi

echo "== unit, property, integration, interop and doc tests (all crates, all runtimes)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-features --quiet 2>&1 | tee "$log"
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')

echo "== Autobahn|Testsuite 1.* to 10.*: every runtime, server and client role"
bash tests/autobahn.sh
autobahn_runs=6

echo "== Autobahn|Testsuite 12.* and 13.* (permessage-deflate): tokio, both roles at once"
AUTOBAHN_PARALLEL=1 bash tests/autobahn.sh --deflate tokio
autobahn_runs=$((autobahn_runs + 2))

echo "== Autobahn|Testsuite 1.* to 10.* over TLS (wss://): tokio, both roles"
bash tests/autobahn.sh --tls tokio
autobahn_runs=$((autobahn_runs + 2))

echo "== Autobahn|Testsuite 1.* to 10.* against hyper_server's /ws (HTTP/1.1 upgrades in hyper)"
bash tests/autobahn.sh --hyper
autobahn_runs=$((autobahn_runs + 1))

echo "== soak, 2 minutes: mixed load on every runtime; memory plateaus, descriptors return"
bash scripts/soak.sh 2
soak_runs=3

echo "== examples"
cargo run -p tether-proto --example loopback --quiet >/dev/null

echo "summary: $((passed + autobahn_runs + soak_runs)) passed, 0 failed"
