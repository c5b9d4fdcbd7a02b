#!/usr/bin/env bash
# The whole test suite, as the README documents it and .ci/run calls it.
# Everything a test needs is installed by the project's own scripts (under target/).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== proto builds without std"
cargo build -p tether-proto --no-default-features --quiet

echo "== proto stays sans-IO (no runtime in its normal dependency tree)"
if cargo tree -p tether-proto -e normal --prefix none | grep -E '^(tokio|async-std|smol|mio|futures-io) '; then
    echo "tether-proto depends on a runtime or IO crate" >&2
    exit 1
fi

echo "== unit, property, integration and doc tests (all crates)"
cargo test --workspace --quiet

echo "== examples"
cargo run -p tether-proto --example loopback --quiet >/dev/null
