//! The framing work of each library, driven through its public API over an in-memory
//! stream: decode + unmask N client frames as a server, encode + mask N frames as a client.
//! Used by the criterion benches and by the callgrind driver, so both measure the same
//! code. No timing here, and no library internals: only what an application could call.

use std::hint::black_box;

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use tether_proto::{BufMut as _, Config, Connection, Event, Instant, Message, Role};
use tokio::runtime::Runtime;

use crate::mem_stream::MemStream;

/// The libraries compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lib {
    /// `tether-proto`'s `Connection` (read_buf/commit_read, poll_event; send, poll_transmit).
    Tether,
    /// `tether (borrowed)`: the same engine encoding straight from the caller's slice
    /// (`send_bytes(&[u8])`: no `Bytes` clone, no reference counting). Encode only; as a
    /// decoder it is plain `Tether`.
    TetherBorrowed,
    /// `tungstenite::WebSocket::from_raw_socket` over a std `Read + Write`.
    Tungstenite,
    /// `fastwebsockets::WebSocket::after_handshake`, frame by frame (no UTF-8 check, no
    /// reassembly: its fastest API).
    FastWebsockets,
    /// `fastwebsockets::FragmentCollector`: whole messages, UTF-8 checked (its message API).
    FastWebsocketsCollector,
    /// `tokio_websockets::ServerBuilder::serve` / `ClientBuilder::take_over`.
    TokioWebsockets,
}

impl Lib {
    /// Every library, for decoding.
    pub const DECODERS: [Lib; 5] =
        [Lib::Tether, Lib::Tungstenite, Lib::FastWebsockets, Lib::FastWebsocketsCollector, Lib::TokioWebsockets];
    /// Every library, for encoding (the collector adds nothing on the send side; Tether
    /// twice: owned `send(Message)` and borrowed `send_bytes`).
    pub const ENCODERS: [Lib; 5] =
        [Lib::Tether, Lib::TetherBorrowed, Lib::Tungstenite, Lib::FastWebsockets, Lib::TokioWebsockets];

    /// A short stable name (bench ids, command-line arguments).
    pub fn name(self) -> &'static str {
        match self {
            Lib::Tether => "tether",
            Lib::TetherBorrowed => "tether-borrowed",
            Lib::Tungstenite => "tungstenite",
            Lib::FastWebsockets => "fastwebsockets",
            Lib::FastWebsocketsCollector => "fastwebsockets-collector",
            Lib::TokioWebsockets => "tokio-websockets",
        }
    }

    /// The library named `name`.
    pub fn from_name(name: &str) -> Option<Lib> {
        Lib::DECODERS.into_iter().chain(Lib::ENCODERS).find(|l| l.name() == name)
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime")
}

/// Server side: reads `frames` masked client frames from an in-memory wire, unmasking
/// (and, for text, validating) each. Long-lived where the library allows it, so repeated
/// calls measure the steady state.
pub struct Decoder {
    lib: Lib,
    rt: Runtime,
    tether: Connection,
    tungstenite: tungstenite::WebSocket<MemStream>,
    tokio_ws: tokio_websockets::WebSocketStream<MemStream>,
}

impl Decoder {
    /// A decoder for `lib`.
    pub fn new(lib: Lib) -> Self {
        let big = tungstenite::protocol::WebSocketConfig::default();
        Decoder {
            lib,
            rt: runtime(),
            tether: Connection::new(Role::Server, Config::default()),
            tungstenite: tungstenite::WebSocket::from_raw_socket(
                MemStream::sink(),
                tungstenite::protocol::Role::Server,
                Some(big),
            ),
            tokio_ws: tokio_websockets::ServerBuilder::new().serve(MemStream::sink()),
        }
    }

    /// Decode `frames` messages from `wire`; returns the payload bytes seen.
    pub fn decode(&mut self, wire: &Bytes, frames: usize) -> usize {
        match self.lib {
            Lib::Tether | Lib::TetherBorrowed => tether_decode(&mut self.tether, wire, frames),
            Lib::Tungstenite => {
                self.tungstenite.get_mut().reset(wire.clone());
                let mut total = 0;
                for _ in 0..frames {
                    let msg = self.tungstenite.read().expect("tungstenite read");
                    total += black_box(msg).len();
                }
                total
            }
            Lib::FastWebsockets => self.rt.block_on(async {
                let mut ws = fastwebsockets::WebSocket::after_handshake(
                    MemStream::new(wire.clone()),
                    fastwebsockets::Role::Server,
                );
                let mut total = 0;
                for _ in 0..frames {
                    let frame = ws.read_frame().await.expect("fastwebsockets read");
                    total += black_box(frame).payload.len();
                }
                total
            }),
            Lib::FastWebsocketsCollector => self.rt.block_on(async {
                let ws = fastwebsockets::WebSocket::after_handshake(
                    MemStream::new(wire.clone()),
                    fastwebsockets::Role::Server,
                );
                let mut ws = fastwebsockets::FragmentCollector::new(ws);
                let mut total = 0;
                for _ in 0..frames {
                    let frame = ws.read_frame().await.expect("fastwebsockets read");
                    total += black_box(frame).payload.len();
                }
                total
            }),
            Lib::TokioWebsockets => {
                let ws = &mut self.tokio_ws;
                ws.get_mut().reset(wire.clone());
                self.rt.block_on(async {
                    let mut total = 0;
                    for _ in 0..frames {
                        let msg = ws.next().await.expect("tokio-websockets eof").expect("tokio-websockets read");
                        total += black_box(msg).as_payload().len();
                    }
                    total
                })
            }
        }
    }
}

/// What an adapter's read loop does: read transport bytes into `read_buf`, commit, and
/// take every event before reading again.
fn tether_decode(conn: &mut Connection, wire: &[u8], frames: usize) -> usize {
    let now = Instant::ZERO;
    let (mut pos, mut seen, mut total) = (0, 0, 0);
    while seen < frames {
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message(msg) => {
                    total += black_box(msg).len();
                    seen += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        if seen == frames {
            break;
        }
        // As the tokio adapter reads: into uninitialized capacity (nothing zeroed first).
        let mut buf = conn.read_buf_uninit();
        let n = buf.remaining_mut().min(wire.len() - pos);
        assert!(n > 0, "tether: no read space or input exhausted after {seen} frames");
        buf.put_slice(&wire[pos..pos + n]);
        pos += n;
        conn.commit_appended(now);
    }
    total
}

/// Client side: encodes and masks `frames` binary messages into an in-memory sink that
/// counts bytes. Buffers are flushed the way each library does on its own (tungstenite at
/// its write buffer size, tokio-websockets at its flush threshold, fastwebsockets on every
/// frame), and once at the end; Tether drains at its write high-water mark (128 KiB).
pub struct Encoder {
    lib: Lib,
    rt: Runtime,
    tether: Connection,
    tungstenite: tungstenite::WebSocket<MemStream>,
    fastws: fastwebsockets::WebSocket<MemStream>,
    tokio_ws: tokio_websockets::WebSocketStream<MemStream>,
}

impl Encoder {
    /// An encoder for `lib`.
    pub fn new(lib: Lib) -> Self {
        Encoder {
            lib,
            rt: runtime(),
            tether: Connection::new(Role::Client, Config::default()),
            tungstenite: tungstenite::WebSocket::from_raw_socket(
                MemStream::sink(),
                tungstenite::protocol::Role::Client,
                None,
            ),
            fastws: fastwebsockets::WebSocket::after_handshake(MemStream::sink(), fastwebsockets::Role::Client),
            tokio_ws: tokio_websockets::ClientBuilder::new().take_over(MemStream::sink()),
        }
    }

    /// Encode `frames` binary messages carrying `payload`; returns the wire bytes written.
    pub fn encode(&mut self, payload: &Bytes, frames: usize) -> usize {
        match self.lib {
            Lib::Tether => {
                let conn = &mut self.tether;
                let mut written = 0;
                for _ in 0..frames {
                    conn.send(Message::Binary(payload.clone())).expect("tether send");
                    if conn.buffered_transmit() >= 128 << 10 {
                        written += tether_drain(conn);
                    }
                }
                written + tether_drain(conn)
            }
            Lib::TetherBorrowed => {
                let conn = &mut self.tether;
                let mut written = 0;
                for _ in 0..frames {
                    conn.send_bytes(payload).expect("tether send_bytes");
                    if conn.buffered_transmit() >= 128 << 10 {
                        written += tether_drain(conn);
                    }
                }
                written + tether_drain(conn)
            }
            Lib::Tungstenite => {
                let ws = &mut self.tungstenite;
                ws.get_mut().reset(Bytes::new());
                for _ in 0..frames {
                    ws.write(tungstenite::Message::Binary(payload.clone())).expect("tungstenite write");
                }
                ws.flush().expect("tungstenite flush");
                ws.get_ref().written()
            }
            Lib::FastWebsockets | Lib::FastWebsocketsCollector => {
                let ws = &mut self.fastws;
                self.rt.block_on(async {
                    for _ in 0..frames {
                        let frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(payload));
                        ws.write_frame(frame).await.expect("fastwebsockets write");
                    }
                    ws.flush().await.expect("fastwebsockets flush");
                });
                frames * payload.len()
            }
            Lib::TokioWebsockets => {
                let ws = &mut self.tokio_ws;
                ws.get_mut().reset(Bytes::new());
                self.rt.block_on(async {
                    for _ in 0..frames {
                        ws.feed(tokio_websockets::Message::binary(payload.clone()))
                            .await
                            .expect("tokio-websockets feed");
                    }
                    ws.flush().await.expect("tokio-websockets flush");
                });
                ws.get_ref().written()
            }
        }
    }
}

/// Hand every queued chunk to a (null) vectored write, as an adapter's write loop does.
fn tether_drain(conn: &mut Connection) -> usize {
    let mut written = 0;
    loop {
        let mut chunks = [&[][..]; 64];
        let n = conn.poll_transmit(&mut chunks);
        if n == 0 {
            return written;
        }
        let len: usize = chunks[..n].iter().map(|c| black_box(c).len()).sum();
        written += len;
        conn.consume_transmit(len);
    }
}

/// Every decoder agrees on the payload bytes of `frames` frames of `payload_len` bytes.
pub fn check_decoders(wire: &Bytes, frames: usize, payload_len: usize) {
    for lib in Lib::DECODERS {
        let mut d = Decoder::new(lib);
        for _ in 0..2 {
            assert_eq!(d.decode(wire, frames), frames * payload_len, "{}", lib.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{ascii_text, masked_frames, mixed_text};
    use tether_testkit::{BINARY, TEXT};

    #[test]
    fn decoders_agree() {
        for len in [16usize, 128, 70_000] {
            let wire = Bytes::from(masked_frames(50, BINARY, &vec![3u8; len]));
            check_decoders(&wire, 50, len);
        }
        for text in [ascii_text(100_000), mixed_text(100_000)] {
            let wire = Bytes::from(masked_frames(3, TEXT, &text));
            check_decoders(&wire, 3, text.len());
        }
    }

    #[test]
    fn encoders_write_every_frame() {
        let payload = Bytes::from(vec![1u8; 16]);
        for lib in Lib::ENCODERS {
            let mut e = Encoder::new(lib);
            for _ in 0..2 {
                let n = e.encode(&payload, 1000);
                assert!(n >= 16 * 1000, "{}: {n}", lib.name());
            }
        }
    }
}
