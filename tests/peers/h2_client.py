"""An RFC 8441 WebSocket client written by hand on Python's `h2` (Tether's HTTP/2 tests).

Connects to HOST:PORT over cleartext HTTP/2 (prior knowledge), checks the server's SETTINGS
enable extended CONNECT, sends one CONNECT with a wrong Sec-WebSocket-Version (prints
`refused STATUS`), then opens N WebSockets on the one connection (`:protocol websocket`,
path /ws; the first offers permessage-deflate and prints `deflate ANSWER`), sends three
masked text messages on each, interleaved across the streams, checks every echo, closes each
with 1000 and waits for the server's close and end of stream; prints `stream ID ok` per
socket. Exits 0 only if all of that held. Every wait is bounded (socket timeout, and a
global deadline).

    python h2_client.py HOST PORT N
"""
import os
import socket
import struct
import sys
import time
import zlib

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

DEADLINE = time.monotonic() + 30


class Peer:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=10)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.responses = {}  # stream id -> headers dict
        self.data = {}  # stream id -> bytearray
        self.ended = set()
        self.reset = {}  # stream id -> error code
        self.settings_seen = False

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, until):
        """Read and handle events until `until()` holds."""
        while not until():
            if time.monotonic() > DEADLINE:
                sys.exit("deadline passed")
            chunk = self.sock.recv(65536)
            if not chunk:
                sys.exit("server closed the connection")
            for event in self.conn.receive_data(chunk):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    self.settings_seen = True
                elif isinstance(event, h2.events.ResponseReceived):
                    self.responses[event.stream_id] = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    self.data.setdefault(event.stream_id, bytearray()).extend(event.data)
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    self.ended.add(event.stream_id)
                elif isinstance(event, h2.events.StreamReset):
                    self.reset[event.stream_id] = event.error_code
            self.flush()

    def connect(self, version="13", extensions=None):
        sid = self.conn.get_next_available_stream_id()
        headers = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", "/ws"),
            (":authority", f"{self.host}:{self.port}"),
            ("sec-websocket-version", version),
        ]
        if extensions:
            headers.append(("sec-websocket-extensions", extensions))
        self.conn.send_headers(sid, headers)
        self.flush()
        self.pump(lambda: sid in self.responses or sid in self.reset)
        if sid not in self.responses:
            sys.exit(f"stream {sid} reset without an answer")
        return sid, self.responses[sid]


def frame(opcode, payload):
    """A masked client frame (RFC 6455 §5.2)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def next_message(peer, sid, inflater):
    """The next complete server frame on `sid` (unmasked, unfragmented): (opcode, payload)."""
    def parsed():
        buf = peer.data.get(sid, b"")
        if len(buf) < 2:
            return None
        n, at = buf[1] & 0x7F, 2
        if buf[1] & 0x80:
            sys.exit("server frame is masked")
        if n == 126:
            if len(buf) < 4:
                return None
            n, at = struct.unpack("!H", bytes(buf[2:4]))[0], 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n, at = struct.unpack("!Q", bytes(buf[2:10]))[0], 10
        if len(buf) < at + n:
            return None
        return buf[0], bytes(buf[at:at + n]), at + n

    peer.pump(lambda: parsed() is not None)
    b0, payload, used = parsed()
    del peer.data[sid][:used]
    if not b0 & 0x80:
        sys.exit("fragmented server message")
    if b0 & 0x40:  # RSV1: permessage-deflate (RFC 7692 §7.2.2)
        payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
    return b0 & 0x0F, payload


def main(host, port, count):
    peer = Peer(host, port)
    peer.pump(lambda: peer.settings_seen)
    if peer.conn.remote_settings.enable_connect_protocol != 1:
        sys.exit("server did not enable extended CONNECT")

    _, refused = peer.connect(version="8")
    print(f"refused {refused[':status']} sec-websocket-version {refused.get('sec-websocket-version')}")
    if refused[":status"] != "426" or refused.get("sec-websocket-version") != "13":
        return 1

    streams = []
    for i in range(count):
        offer = "permessage-deflate; client_max_window_bits" if i == 0 else None
        sid, response = peer.connect(extensions=offer)
        if response[":status"] != "200" or "sec-websocket-accept" in response:
            print(f"stream {sid}: bad answer {response}")
            return 1
        if i == 0:
            print(f"deflate {response.get('sec-websocket-extensions')}")
        streams.append((sid, zlib.decompressobj(-15)))

    for k in range(3):
        sent = {}
        for sid, _ in streams:
            text = f"stream {sid} message {k} " + "x" * (k * 500)
            peer.conn.send_data(sid, frame(0x1, text.encode()))
            sent[sid] = text
        peer.flush()
        for sid, inflater in streams:
            opcode, payload = next_message(peer, sid, inflater)
            if opcode != 0x1 or payload.decode() != sent[sid]:
                print(f"stream {sid}: bad echo {opcode} {payload[:40]!r}")
                return 1

    for sid, inflater in streams:
        peer.conn.send_data(sid, frame(0x8, struct.pack("!H", 1000) + b"done"))
        peer.flush()
        opcode, payload = next_message(peer, sid, inflater)
        if opcode != 0x8 or struct.unpack("!H", payload[:2])[0] != 1000:
            print(f"stream {sid}: bad close {opcode} {payload!r}")
            return 1
        # The server ends its side after the close handshake (END_STREAM); we end ours
        # unless it already reset the stream (hyper does once both sides are done with it).
        peer.pump(lambda: sid in peer.ended or sid in peer.reset)
        if sid not in peer.ended:
            print(f"stream {sid}: reset ({peer.reset[sid]}) without END_STREAM")
            return 1
        if sid not in peer.reset:
            try:
                peer.conn.end_stream(sid)
            except h2.exceptions.StreamClosedError:
                pass
            peer.flush()
        print(f"stream {sid} ok")
    peer.conn.close_connection()
    peer.flush()
    peer.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
