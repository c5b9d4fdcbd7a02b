#!/usr/bin/env bash
# Autobahn|Testsuite conformance: every runtime adapter, as server and as client.
#
#   bash tests/autobahn.sh [--deflate] [--tls] [RUNTIME ...]   (default: tokio async-std smol)
#   bash tests/autobahn.sh --hyper [--deflate] [--tls]
#
# --hyper: server role only, against the echo route `/ws` of tether-tokio's
# examples/hyper_server.rs (a hyper 1.x server upgrading HTTP/1.1 requests to Tether),
# built with the `hyper` feature (cases 1-10 take seconds; scripts/test.sh runs it; with
# --deflate, 12.* and 13.* take about 9 minutes, so that one is opt-in; --tls works too).
#
# Server role: `wstest -m fuzzingclient` against each adapter's examples/echo_server.rs.
# Client role: `wstest -m fuzzingserver` with each adapter's examples/autobahn_client.rs.
# Cases 1.* through 10.* by default. With --deflate the examples are built with the
# adapters' `deflate` feature (they then offer / accept permessage-deflate) and the cases
# default to 12.* and 13.* (permessage-deflate); AUTOBAHN_CASES="*" runs everything with it.
# With --tls everything runs over TLS (wss://): a CA and a certificate for 127.0.0.1 are
# made in the suite's venv (Python `cryptography`), the echo server gets `--tls CERT KEY`,
# the suite's fuzzing server serves wss:// with them, and the examples are built with
# `rustls-native-roots` so the client trusts the CA through SSL_CERT_FILE.
# Each combination's wall time is printed with its verdict.
# Prints one line per combination and exits non-zero unless every case is OK and every
# close verdict is OK (only the suite's purely informational cases 7.1.6, 7.13.1 and
# 7.13.2 may be INFORMATIONAL, in either verdict).
#
# Environment: AUTOBAHN_CASES (default "*"), AUTOBAHN_EXCLUDE (default "12.*,13.*"),
#              AUTOBAHN_OUT (reports; default target/autobahn), AUTOBAHN_PARALLEL=1 (run
#              each runtime's server and client roles at the same time).
# The suite is a Python 3 port of autobahntestsuite, kept in tests/autobahn/ (see its
# README.md): installed on first use, or when tests/autobahn/ changes, into
# target/autobahn-venv by tests/autobahn/install.sh (exact pins from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SUITE="$ROOT/tests/autobahn"
VENV="$ROOT/target/autobahn-venv"
OUT="${AUTOBAHN_OUT:-$ROOT/target/autobahn}"
FEATURES=()
DEFLATE=""
TLS=""
HYPER=""
while [ "${1:-}" = "--deflate" ] || [ "${1:-}" = "--tls" ] || [ "${1:-}" = "--hyper" ]; do
    [ "$1" = "--deflate" ] && DEFLATE=1
    [ "$1" = "--tls" ] && TLS=1
    [ "$1" = "--hyper" ] && HYPER=1
    shift
done
[ -n "$HYPER" ] && FEATURES+=(hyper)
if [ -n "$DEFLATE" ]; then
    FEATURES+=(deflate)
    CASES="${AUTOBAHN_CASES:-12.*,13.*}"
    EXCLUDE="${AUTOBAHN_EXCLUDE:-}"
else
    CASES="${AUTOBAHN_CASES:-*}"
    EXCLUDE="${AUTOBAHN_EXCLUDE:-12.*,13.*}"
fi
[ -n "$TLS" ] && FEATURES+=(rustls-native-roots)
if [ ${#FEATURES[@]} -gt 0 ]; then
    FEATURES=(--features "$(IFS=,; echo "${FEATURES[*]}")")
fi
RUNTIMES=("$@")
[ ${#RUNTIMES[@]} -gt 0 ] || RUNTIMES=(tokio async-std smol)
[ -n "$HYPER" ] && RUNTIMES=(tokio-hyper)

# The venv records a digest of what built it, so an edited patch or pin list reinstalls.
stamp="$(cat "$SUITE/install.sh" "$SUITE/py3.patch" "$SUITE/selfcheck.py" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/wstest" ] || [ "$(cat "$VENV/.tether-installed" 2>/dev/null)" != "$stamp" ]; then
    mkdir -p "$ROOT/target"
    rm -f "$VENV/.tether-installed"
    bash "$SUITE/install.sh" "$VENV" >"$ROOT/target/autobahn-install.log" 2>&1 \
        || { cat "$ROOT/target/autobahn-install.log" >&2; exit 1; }
    echo "$stamp" >"$VENV/.tether-installed"
fi
export AUTOBAHN_VENV="$VENV" WSTEST_TIMEOUT="${WSTEST_TIMEOUT:-900}"

SCHEME=ws
SERVER_TLS=()
if [ -n "$TLS" ]; then
    SCHEME=wss
    PKI="$OUT-tls"
    mkdir -p "$PKI"
    "$VENV/bin/python" - "$PKI" <<'PYEOF'
# A test CA and a certificate for 127.0.0.1 signed by it (a CA certificate cannot be a
# server's own: rustls refuses it), valid for a day.
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
out = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
ca_key = ec.generate_private_key(ec.SECP256R1())
ca = (x509.CertificateBuilder().subject_name(name("Tether Autobahn CA")).issuer_name(name("Tether Autobahn CA"))
      .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
      .sign(ca_key, hashes.SHA256()))
key = ec.generate_private_key(ec.SECP256R1())
leaf = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256()))
open(f"{out}/ca.pem", "wb").write(ca.public_bytes(serialization.Encoding.PEM))
open(f"{out}/cert.pem", "wb").write(leaf.public_bytes(serialization.Encoding.PEM))
open(f"{out}/key.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PYEOF
    SERVER_TLS=(--tls "$PKI/cert.pem" "$PKI/key.pem")
    # The fuzzing server (client role) serves wss:// with the same certificate; the client
    # trusts the CA through the platform roots' SSL_CERT_FILE.
    export AUTOBAHN_TLS_CERT="$PKI/cert.pem" AUTOBAHN_TLS_KEY="$PKI/key.pem" SSL_CERT_FILE="$PKI/ca.pem"
fi

# The examples share names across adapters, so take each build's own executable path.
example_path() {  # package example
    cargo build --release --quiet -p "$1" --example "$2" ${FEATURES[@]+"${FEATURES[@]}"} --message-format=json \
        | "$VENV/bin/python" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$2" | tail -n 1
}

free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# verdict OUTDIR LABEL: one summary line; non-zero unless strictly clean.
verdict() {
    "$VENV/bin/python" - "$1" "$2" <<'PYEOF'
import json, sys
outdir, label = sys.argv[1], sys.argv[2]
try:
    report = json.load(open(outdir + "/index.json"))
except (OSError, ValueError) as e:
    print(f"{label}: no report ({e})")
    sys.exit(2)
informational_ok = {"7.1.6", "7.13.1", "7.13.2"}
bad = []
counts = {}
close_bad = 0
for agent, cases in report.items():
    for case, c in cases.items():
        v = c["behavior"]
        counts[v] = counts.get(v, 0) + 1
        close_ok = ("OK", "INFORMATIONAL") if case in informational_ok else ("OK",)
        if c.get("behaviorClose") not in close_ok:
            close_bad += 1
            bad.append(f"{case} close={c.get('behaviorClose')}")
        if v == "OK" or (v == "INFORMATIONAL" and case in informational_ok):
            continue
        bad.append(f"{case} {v}")
order = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
parts = [f"{counts.get(k, 0)} {k}" for k in order] + [f"{n} {k}" for k, n in counts.items() if k not in order]
print(f"{label}: " + ", ".join(parts) + f", {close_bad} close not OK")
if bad:
    print("  not OK: " + " ".join(sorted(bad)[:40]))
    sys.exit(1)
PYEOF
}

status=0
summary=()
for rt in "${RUNTIMES[@]}"; do
    pkg="tether-$rt"
    if [ -n "$HYPER" ]; then
        pkg=tether-tokio
        server_bin="$(example_path "$pkg" hyper_server)"
        [ -x "$server_bin" ] || { echo "$rt: hyper_server did not build" >&2; exit 1; }
    else
        server_bin="$(example_path "$pkg" echo_server)"
        client_bin="$(example_path "$pkg" autobahn_client)"
        [ -x "$server_bin" ] && [ -x "$client_bin" ] || { echo "$rt: examples did not build" >&2; exit 1; }
    fi
    path=""
    [ -n "$HYPER" ] && path=/ws

    server_role() {
        local port dir
        port="$(free_port)"
        dir="$OUT/$rt-server"
        rm -rf "$dir"
        bash "$SUITE/run.sh" server "$SCHEME://127.0.0.1:$port$path" "$pkg" "$dir" "$CASES" "$EXCLUDE" -- \
            "$server_bin" "127.0.0.1:$port" ${SERVER_TLS[@]+"${SERVER_TLS[@]}"} >"$OUT-$rt-server.log" 2>&1 || true
    }
    client_role() {
        local port dir
        port="$(free_port)"
        dir="$OUT/$rt-client"
        rm -rf "$dir"
        bash "$SUITE/run.sh" client "$port" "$dir" "$CASES" "$EXCLUDE" -- \
            "$client_bin" "$SCHEME://127.0.0.1:$port" "$pkg" >"$OUT-$rt-client.log" 2>&1 || true
    }
    start=$SECONDS
    if [ -n "$HYPER" ]; then
        # The hyper server only hosts the server role.
        server_role
        if line="$(verdict "$OUT/$rt-server" "$rt server")"; then :; else status=1; fi
        summary+=("$line (in $((SECONDS - start)) s)")
    elif [ -n "${AUTOBAHN_PARALLEL:-}" ]; then
        # Both roles at once (each is one suite process and one example process): half the
        # wall time on two cores, for the long permessage-deflate cases.
        server_role &
        server_job=$!
        client_role
        wait "$server_job"
        both=" (both roles together in $((SECONDS - start)) s)"
        for role in server client; do
            if line="$(verdict "$OUT/$rt-$role" "$rt $role")"; then :; else status=1; fi
            summary+=("$line$both")
        done
    else
        server_role
        if line="$(verdict "$OUT/$rt-server" "$rt server")"; then :; else status=1; fi
        summary+=("$line (in $((SECONDS - start)) s)")
        start=$SECONDS
        client_role
        if line="$(verdict "$OUT/$rt-client" "$rt client")"; then :; else status=1; fi
        summary+=("$line (in $((SECONDS - start)) s)")
    fi
done
printf '%s\n' "${summary[@]}"
exit $status
