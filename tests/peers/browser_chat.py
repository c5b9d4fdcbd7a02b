"""Headless Chromium on the chat page (Tether's chat test, tests/suite/chat.rs).

Starts Chromium (127.0.0.1 only, throwaway profile) and, over the DevTools protocol, opens
the chat page served at BASE (http://127.0.0.1:PORT/) in three pages: ada and bob join room
`lobby`, cy joins room `elsewhere`; ada says a line, bob answers, cy says a line in its own
room. Every step waits on the DOM (#status, #members, #log) with a deadline. Saves a PNG
screenshot of ada's page at SCREENSHOT and prints one JSON line with what each page shows:
`{"ada": {"status", "members", "log"}, "bob": ..., "cy": ...}` where `log` lists
`CLASS:part|part` per `#log li`. Exits 0 when every wait succeeded; the caller checks the
contents.

    python browser_chat.py http://127.0.0.1:PORT/ SCREENSHOT
"""
import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request

from websockets.asyncio.client import connect

from browser_check import find_chromium

STEP_LIMIT = 15  # seconds for one step (a DOM wait, a navigation, a screenshot)

# Helpers installed in every page: a DOM snapshot, and waiting for a condition with a deadline.
HELPERS = r"""
window.__snap = () => ({
  status: document.getElementById('status').textContent,
  members: Array.from(document.querySelectorAll('#members li'), (li) => li.textContent),
  log: Array.from(document.querySelectorAll('#log li'),
    (li) => li.className + ':' + Array.from(li.children, (s) => s.textContent).join('|')),
});
window.__until = (what, cond, ms) => new Promise((resolve, reject) => {
  const end = Date.now() + ms;
  const tick = () => {
    let ok = false;
    try { ok = cond(); } catch (e) { ok = false; }
    if (ok) return resolve(window.__snap());
    if (Date.now() > end) return reject(new Error('timed out waiting for ' + what + ': ' + JSON.stringify(window.__snap())));
    setTimeout(tick, 20);
  };
  tick();
});
true
"""


class Page:
    """One page target, driven over its own DevTools WebSocket."""

    def __init__(self, name, ws):
        self.name = name
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method, params=None):
        request_id = next(self.ids)
        await self.ws.send(json.dumps({"id": request_id, "method": method, "params": params or {}}))

        async def reply():
            while True:
                message = json.loads(await self.ws.recv())
                if message.get("id") == request_id:
                    return message

        message = await asyncio.wait_for(reply(), STEP_LIMIT)
        if "error" in message:
            raise RuntimeError(f"{self.name}: {method} failed: {message['error']}")
        return message["result"]

    async def eval(self, expression):
        result = await self.call(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"{self.name}: {text}")
        return result["result"].get("value")

    async def until(self, what, condition):
        return await self.eval(f"window.__until({json.dumps(what)}, () => ({condition}), {STEP_LIMIT * 1000 - 2000})")

    async def join(self, name, room):
        await self.eval(
            f"""(() => {{
              document.getElementById('name').value = {json.dumps(name)};
              document.getElementById('room').value = {json.dumps(room)};
              document.getElementById('join').click();
              return true;
            }})()"""
        )
        await self.until(f"{name} in {room}", f"document.getElementById('status').textContent === 'in {room} as {name}'")

    async def say(self, text):
        await self.eval(
            f"""(() => {{
              document.getElementById('text').value = {json.dumps(text)};
              document.getElementById('send').click();
              return true;
            }})()"""
        )

    async def sees(self, entry):
        """Wait until `#log` has the entry `CLASS:part|part`."""
        await self.until(entry, f"window.__snap().log.includes({json.dumps(entry)})")

    async def members(self, names):
        wanted = json.dumps(json.dumps(names, separators=(",", ":")))
        await self.until(f"members {names}", f"JSON.stringify(window.__snap().members) === {wanted}")


async def open_page(port, name, url):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?{url}", method="PUT")
    target = json.load(urllib.request.urlopen(request, timeout=STEP_LIMIT))
    ws = await connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=STEP_LIMIT)
    page = Page(name, ws)
    # The page loads by itself; wait for the form, then install the helpers.
    for _ in range(STEP_LIMIT * 50):
        ready = await page.eval("document.readyState === 'complete' && !!document.getElementById('join')")
        if ready:
            break
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError(f"{name}: the chat page did not load from {url}")
    await page.eval(HELPERS)
    return page


async def conversation(port, base, screenshot):
    ada = await open_page(port, "ada", base)
    bob = await open_page(port, "bob", base)
    cy = await open_page(port, "cy", base)
    try:
        await ada.join("ada", "lobby")
        await ada.members(["ada"])
        await bob.join("bob", "lobby")
        await bob.members(["ada", "bob"])
        await ada.sees("event:bob joined")
        await ada.members(["ada", "bob"])
        await cy.join("cy", "elsewhere")
        await cy.members(["cy"])

        await ada.say("hello from ada")
        await bob.sees("message:ada|hello from ada")
        await ada.sees("message:ada|hello from ada")
        await bob.say("hi ada")
        await ada.sees("message:bob|hi ada")
        await bob.sees("message:bob|hi ada")
        await cy.say("anyone here?")
        await cy.sees("message:cy|anyone here?")
        # cy's line has been broadcast after every lobby line; one more lobby line, seen by
        # both lobby pages, shows that nothing of cy's room reached the lobby either.
        await ada.say("bye")
        await ada.sees("message:ada|bye")
        await bob.sees("message:ada|bye")

        shot = await ada.call("Page.captureScreenshot", {"format": "png"})
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        return {page.name: await page.eval("window.__snap()") for page in (ada, bob, cy)}
    finally:
        for page in (ada, bob, cy):
            await page.ws.close()


async def main(base, screenshot):
    port_of_page = re.match(r"http://127\.0\.0\.1:\d+/", base)
    if not port_of_page:
        sys.exit("the chat page must be served on 127.0.0.1")
    profile = tempfile.mkdtemp(prefix="tether-chromium-chat-")
    args = [
        find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        "--window-size=900,600", f"--user-data-dir={profile}", "about:blank",
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
        # Keep reading Chromium's stderr so it never blocks on a full pipe.
        threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
        try:
            outcome = await conversation(port, base, screenshot)
        except Exception as e:  # report what failed as one JSON line
            print(json.dumps({"error": str(e)}))
            return 1
        print(json.dumps(outcome))
        return 0
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), 90)))
