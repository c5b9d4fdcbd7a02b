"""Echo server on Python `websockets` for Tether's interop tests (127.0.0.1 only)."""
import asyncio
import os
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def handler(ws):
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("close:"):
                _, code, reason = message.split(":", 2)
                await ws.close(int(code), reason)
                break
            await ws.send(message)
    except ConnectionClosed:
        pass
    rcvd = ws.protocol.close_rcvd  # what the peer's close frame said
    print(f"closed {rcvd.code if rcvd else 1006} {rcvd.reason if rcvd else ''}", flush=True)


async def main(port):
    # TLS (wss://) when TETHER_CERT and TETHER_KEY name a certificate and its key (PEM).
    tls = None
    if os.environ.get("TETHER_CERT"):
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(os.environ["TETHER_CERT"], os.environ["TETHER_KEY"])
    async with serve(handler, "127.0.0.1", port, ssl=tls, max_size=32 << 20, ping_interval=None):
        print("listening", flush=True)
        await asyncio.sleep(120)  # bounded lifetime: the test kills us sooner


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
