"""Client on Python `websockets` that checks an echo server (Tether's interop tests)."""
import asyncio
import os
import ssl
import sys

from websockets.asyncio.client import connect


async def main(url):
    big = os.urandom(1 << 20)
    huge = bytes(range(256)) * ((16 << 20) // 256)
    script = ["hello", "héllo wörld ✓ 😀", "", b"\x00\x01\x02", b"", big, huge]
    # wss://: trust the test CA named by TETHER_CA (a PEM file), nothing else.
    tls = ssl.create_default_context(cafile=os.environ["TETHER_CA"]) if url.startswith("wss:") else None
    async with connect(url, ssl=tls, max_size=32 << 20, ping_interval=None, open_timeout=10, close_timeout=10) as ws:
        # permessage-deflate is offered by default; say what the server agreed to.
        names = ",".join(ext.name for ext in ws.protocol.extensions)
        print(f"extensions {names}", flush=True)
        for message in script:
            await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), 30)
            if echo != message:
                sys.exit(f"echo mismatch for a {type(message).__name__} of {len(message)}")
        pong = await ws.ping(b"interop-ping")
        await asyncio.wait_for(pong, 10)
        await ws.close(4001, "bye from python")
        rcvd = ws.protocol.close_rcvd  # what the peer's close frame said
        print(f"closed {rcvd.code if rcvd else 1006} {rcvd.reason if rcvd else ''}", flush=True)


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1]), 120))
