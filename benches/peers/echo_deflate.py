"""Echo server on Python `websockets` with permessage-deflate, for the deflate echo
benchmark: every text and binary message is sent back. Compression as the benchmark sets it
for every server: level 6, memory level 8, 2^15 windows both ways, context takeover
(websockets' own default is a 2^12 window at memory level 5, which compresses less).
127.0.0.1 only; bounded lifetime. Usage: python echo_deflate.py PORT (prints
`listening on ws://127.0.0.1:PORT`)."""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def main(port):
    deflate = ServerPerMessageDeflateFactory(
        server_max_window_bits=15,
        client_max_window_bits=15,
        compress_settings={"level": 6, "memLevel": 8},
    )
    async with serve(echo, "127.0.0.1", port, compression=None, extensions=[deflate], max_size=None, ping_interval=None):
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.sleep(600)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
