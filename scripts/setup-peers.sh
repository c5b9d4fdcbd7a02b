#!/usr/bin/env bash
# Install the real peers the interop tests talk to, under target/peers/ (idempotent):
#   target/peers/venv   Python venv with websockets and h2 (PyPI)
#   target/peers/node   npm folder with ws (npm registry)
# With --browser, also Debian's chromium package (system-wide, needs root; it is the
# browser the DevTools driver tests/peers/browser_check.py starts headless).
# With --proxies, also Debian's tinyproxy (HTTP CONNECT) and microsocks (SOCKS5), the real
# proxies tests/suite/proxy.rs starts on loopback (system-wide, needs root).
# With --redis, also Debian's redis-server, which server/tests/redis.rs and
# tests/tests/redis_chat.rs start on a free loopback port (system-wide, needs root).
# Prints nothing on success when everything is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS="${TETHER_PEERS_DIR:-$PWD/target/peers}"
WEBSOCKETS_VERSION=17.4
H2_VERSION=4.3.0
mkdir -p "$PEERS"
# One installer at a time (tests may call this concurrently).
exec 9>"$PEERS/.lock"
flock 9

if ! "$PEERS/venv/bin/python" -c "import websockets, h2, sys; sys.exit(websockets.__version__ != '$WEBSOCKETS_VERSION' or h2.__version__ != '$H2_VERSION')" 2>/dev/null; then
    python3 -m venv "$PEERS/venv"
    "$PEERS/venv/bin/python" -m pip install --quiet --disable-pip-version-check "websockets==$WEBSOCKETS_VERSION" "h2==$H2_VERSION"
fi

if [ ! -f "$PEERS/node/node_modules/ws/package.json" ]; then
    mkdir -p "$PEERS/node"
    cp tests/peers/package.json "$PEERS/node/package.json"
    (cd "$PEERS/node" && npm install --silent --no-audit --no-fund >/dev/null)
fi

browser=0
proxies=0
redis=0
for arg in "$@"; do
    case "$arg" in
        --browser) browser=1 ;;
        --proxies) proxies=1 ;;
        --redis) redis=1 ;;
        *) echo "setup-peers.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

if [ "$browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-peers.sh: installing chromium needs root (apt-get install chromium)" >&2
        exit 1
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ "$proxies" = 1 ] && ! { command -v tinyproxy && command -v microsocks; } >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-peers.sh: installing the test proxies needs root (apt-get install tinyproxy microsocks)" >&2
        exit 1
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tinyproxy microsocks >/dev/null
fi

if [ "$redis" = 1 ] && ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-peers.sh: installing redis-server needs root (apt-get install redis-server)" >&2
        exit 1
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
