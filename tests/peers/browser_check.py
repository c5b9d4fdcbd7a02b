"""Headless Chromium as a WebSocket peer (Tether's interop tests).

Starts Chromium (127.0.0.1 only, throwaway profile), and over the DevTools protocol runs a
conversation in a page against an echo server at URL: text, unicode, empty, binary, empty
binary, 1 MiB binary, a compressible 60 KB JSON text twice, then a close with code 4001.
Prints one JSON line with the outcome (and the `Sec-WebSocket-Extensions` the server
agreed to: browsers always offer permessage-deflate) and exits 0 only if every echo
matched and the close was clean.

    python browser_check.py ws://127.0.0.1:PORT/path

For wss://, TETHER_SPKI_DER_HEX names the server key's SubjectPublicKeyInfo (DER, hex):
Chromium then accepts that one key's certificate (--ignore-certificate-errors-spki-list)
and still refuses any other.

With TETHER_PAGE=https://HOST:PORT/, the conversation runs in that page once it has
loaded instead of about:blank: Chromium then opens the WebSocket on the page's HTTP/2
connection when the server allows extended CONNECT (RFC 8441; no flag needed).
"""
import asyncio
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from websockets.asyncio.client import connect

CONVERSATION = r"""
async (url) => {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  let waiter = null;
  ws.onmessage = (e) => { if (waiter) { const w = waiter; waiter = null; w(e.data); } else queue.push(e.data); };
  const next = () => new Promise((res) => { if (queue.length) res(queue.shift()); else waiter = res; });
  const closed = new Promise((res) => { ws.onclose = (e) => res({ code: e.code, reason: e.reason, clean: e.wasClean }); });
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('connection failed')); });
  const extensions = ws.extensions;
  const big = new Uint8Array(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 255;
  const compressible = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: 'item ' + (i % 17) })));
  const cases = ['hello', 'h\u00e9llo w\u00f6rld \u2713 \u{1F600}', '', new Uint8Array([0, 1, 2]), new Uint8Array(0), big, compressible, compressible];
  const equal = (a, b) => {
    if (typeof a === 'string') return a === b;
    if (!(b instanceof ArrayBuffer)) return false;
    const v = new Uint8Array(b);
    return v.length === a.length && v.every((x, i) => x === a[i]);
  };
  const mismatches = [];
  for (const [i, c] of cases.entries()) {
    ws.send(c);
    const got = await next();
    if (!equal(c, got)) mismatches.push(i);
  }
  ws.close(4001, 'bye from chromium');
  const close = await closed;
  return JSON.stringify({ mismatches, close, extensions });
}
"""


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no Chromium found (scripts/setup-peers.sh --browser installs Debian's chromium)")


async def cdp_call(cdp, ident, method, params):
    """Send one DevTools command and return its reply (events in between are dropped)."""
    await cdp.send(json.dumps({"id": ident, "method": method, "params": params}))
    while True:
        reply = json.loads(await cdp.recv())
        if reply.get("id") == ident:
            return reply


async def cdp_evaluate(page_ws_url, expression, page=None):
    async with connect(page_ws_url, max_size=None) as cdp:
        if page:
            await cdp_call(cdp, 1, "Page.enable", {})
            navigated = await cdp_call(cdp, 2, "Page.navigate", {"url": page})
            if "errorText" in navigated.get("result", {}):
                return {"result": {"exceptionDetails": {"text": "page: " + navigated["result"]["errorText"]}}}
            while json.loads(await cdp.recv()).get("method") != "Page.loadEventFired":
                pass
        params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
        return await cdp_call(cdp, 3, "Runtime.evaluate", params)


async def main(url):
    profile = tempfile.mkdtemp(prefix="tether-chromium-")
    args = [
        find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        f"--user-data-dir={profile}", "about:blank",
    ]
    spki = os.environ.get("TETHER_SPKI_DER_HEX")
    if spki:
        digest = base64.b64encode(hashlib.sha256(bytes.fromhex(spki)).digest()).decode()
        args.insert(1, f"--ignore-certificate-errors-spki-list={digest}")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in proc.stderr:
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("Chromium did not start its DevTools endpoint")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        expression = f"({CONVERSATION})({json.dumps(url)})"
        reply = await cdp_evaluate(page["webSocketDebuggerUrl"], expression, os.environ.get("TETHER_PAGE"))
        result = reply.get("result", {})
        if "exceptionDetails" in result:
            print(json.dumps({"error": result["exceptionDetails"].get("text"), "details": result["exceptionDetails"]}))
            return 1
        outcome = json.loads(result["result"]["value"])
        print(json.dumps(outcome))
        ok = not outcome["mismatches"] and outcome["close"]["clean"] and outcome["close"]["code"] == 4001
        return 0 if ok else 1
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60)))
