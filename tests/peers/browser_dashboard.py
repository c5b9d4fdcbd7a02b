"""Headless Chromium on the dashboard page (Tether's dashboard test, tests/suite/dashboard.rs).

Starts Chromium (127.0.0.1 only, throwaway profile), opens the dashboard served at BASE
(http://127.0.0.1:PORT/) over the DevTools protocol and waits (with a deadline) until the
`server` card shows the server's counters with every one of the page's four WebSockets open
and at least one message sent out, and the `cpu` card shows a reading. Prints one JSON line:
`{"server": [[label, value], ...], "cpu": "<value text>"}`. Exits 0 when the wait succeeded;
the caller checks the contents.

    python browser_dashboard.py http://127.0.0.1:PORT/
"""
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from websockets.asyncio.client import connect

from browser_check import find_chromium

LIMIT_MS = 20000

# Resolves with the two cards once the server card shows 4 open WebSockets and traffic out.
WAIT = r"""
new Promise((resolve, reject) => {
  const end = Date.now() + %d;
  const rows = () => Array.from(document.querySelectorAll('#server tr'),
    (tr) => [tr.children[0].textContent, tr.children[1].textContent]);
  const tick = () => {
    const r = rows();
    const open = r.find(([k]) => k === 'websockets open');
    const traffic = r.find(([k]) => k === 'messages in / out');
    const cpu = document.querySelector('#cpu .value');
    if (open && open[1].startsWith('4 ') && traffic && !traffic[1].endsWith(' 0')
        && cpu && /^\d+$/.test(cpu.textContent)) {
      return resolve(JSON.stringify({server: r, cpu: cpu.textContent}));
    }
    if (Date.now() > end) {
      return reject(new Error('timed out: ' + JSON.stringify({server: r, cpu: cpu && cpu.textContent})));
    }
    setTimeout(tick, 20);
  };
  tick();
})
""" % LIMIT_MS


async def call(cdp, ids, method, params):
    """One DevTools command on `cdp`; returns its reply (events in between are skipped)."""
    n = next(ids)
    await cdp.send(json.dumps({"id": n, "method": method, "params": params}))
    while True:
        reply = json.loads(await cdp.recv())
        if reply.get("id") == n:
            return reply


async def main(url):
    profile = tempfile.mkdtemp(prefix="tether-chromium-")
    args = [
        find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        f"--user-data-dir={profile}", "about:blank",
    ]
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
        ids = iter(range(1, 1 << 30))
        async with connect(page["webSocketDebuggerUrl"], max_size=None) as cdp:
            await call(cdp, ids, "Page.navigate", {"url": url})
            # Wait for the dashboard itself to be the page (not about:blank any more).
            for _ in range(500):
                probe = await call(cdp, ids, "Runtime.evaluate", {
                    "expression": "document.getElementById('server') !== null", "returnByValue": True})
                if probe.get("result", {}).get("result", {}).get("value") is True:
                    break
                await asyncio.sleep(0.02)
            reply = await call(cdp, ids, "Runtime.evaluate",
                               {"expression": WAIT, "awaitPromise": True, "returnByValue": True})
        result = reply.get("result", {})
        if "exceptionDetails" in result:
            print(json.dumps({"error": result["exceptionDetails"].get("text"),
                              "details": result["exceptionDetails"]}))
            return 1
        print(result["result"]["value"])
        return 0
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60)))
