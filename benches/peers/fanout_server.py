"""Fan-out server on Python `websockets`, the way its documentation broadcasts: the connection
on path /pub publishes, every other connection is in CONNECTIONS, and each message goes out
with `websockets.broadcast()` (which writes to every connection without waiting, and skips a
connection whose write buffer is over its high-water mark). 127.0.0.1 only; bounded lifetime.
Usage: python fanout_server.py PORT  (prints `listening on ws://127.0.0.1:PORT`)."""
import asyncio
import sys

from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

CONNECTIONS = set()


async def handler(ws):
    if ws.request.path == "/pub":
        try:
            async for message in ws:
                broadcast(CONNECTIONS, message)
        except ConnectionClosed:
            pass
        return
    CONNECTIONS.add(ws)
    try:
        await ws.wait_closed()
    finally:
        CONNECTIONS.discard(ws)


async def main(port):
    async with serve(handler, "127.0.0.1", port, ping_interval=None, compression=None):
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.sleep(600)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
