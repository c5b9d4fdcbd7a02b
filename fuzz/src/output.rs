//! The strict parser for what the engine wrote (every rule a sender must follow) and the
//! cross-check of that output against a second engine of the other role. What the output
//! must contain is decided by the targets.

use tether_proto::{Bytes, CloseCause, CloseCode, Closed, Connection, Event, Instant, Message, Role, Utf8Bytes};
use tether_testkit::xor_mask;

use super::events::describe;
use super::input::config_with;

/// One item of the engine's output: a message (data reassembled; pings and pongs as sent) or
/// the close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutItem {
    /// A complete message.
    Message(Message),
    /// A close frame: code and reason, or `None` for an empty payload.
    Close(Option<(CloseCode, String)>),
}

/// The engine's output, parsed.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// Messages and the close frame, in wire order.
    pub items: Vec<OutItem>,
    /// A fragmented message was cut off by the close frame (allowed only when failing).
    pub cut_message: bool,
}

impl Output {
    /// The close frame, if any (always the last item).
    pub fn close(&self) -> Option<&Option<(CloseCode, String)>> {
        match self.items.last() {
            Some(OutItem::Close(c)) => Some(c),
            _ => None,
        }
    }
    /// The messages, without the close frame.
    pub fn messages(&self) -> Vec<Message> {
        self.items
            .iter()
            .filter_map(|i| match i {
                OutItem::Message(m) => Some(m.clone()),
                OutItem::Close(_) => None,
            })
            .collect()
    }
}

/// Parse the complete output of an engine of role `writer` that fragments as `fragment_size`
/// says. Every rule a sender must follow is checked: RSV clear, known opcodes, masking by
/// role (§5.1), minimal length encodings (§5.2), control frames short and unfragmented,
/// fragmentation only as configured, valid UTF-8 text, a valid close payload, at most one
/// close frame and nothing after it.
pub fn parse_output(bytes: &[u8], writer: Role, fragment_size: Option<usize>) -> Output {
    let mut out = Output::default();
    let mut pos = 0;
    let mut partial: Option<(bool, Vec<u8>)> = None;
    while pos < bytes.len() {
        let here = pos;
        let ctx = || format!("frame at offset {here} of {} output bytes", bytes.len());
        if matches!(out.items.last(), Some(OutItem::Close(_))) {
            panic!("bytes after the close frame ({})", ctx());
        }
        let buf = &bytes[pos..];
        assert!(buf.len() >= 2, "truncated frame header ({})", ctx());
        let (b0, b1) = (buf[0], buf[1]);
        assert_eq!(b0 & 0x70, 0, "RSV bits set ({})", ctx());
        let opcode = b0 & 0x0F;
        assert!(matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10), "reserved opcode {opcode} ({})", ctx());
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        assert_eq!(masked, writer == Role::Client, "{writer:?} output with mask bit {masked} ({})", ctx());
        let len7 = b1 & 0x7F;
        let (len, mut hlen) = match len7 {
            126 => {
                assert!(buf.len() >= 4, "truncated length ({})", ctx());
                let l = u64::from(u16::from_be_bytes([buf[2], buf[3]]));
                assert!(l >= 126, "non-minimal 16-bit length {l} ({})", ctx());
                (l, 4)
            }
            127 => {
                assert!(buf.len() >= 10, "truncated length ({})", ctx());
                let l = u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes"));
                assert!(l > 0xFFFF, "non-minimal 64-bit length {l} ({})", ctx());
                assert_eq!(l >> 63, 0, "64-bit length with MSB set ({})", ctx());
                (l, 10)
            }
            n => (u64::from(n), 2),
        };
        let key = if masked {
            assert!(buf.len() >= hlen + 4, "truncated mask key ({})", ctx());
            let k = [buf[hlen], buf[hlen + 1], buf[hlen + 2], buf[hlen + 3]];
            hlen += 4;
            Some(k)
        } else {
            None
        };
        let len = usize::try_from(len).expect("length fits");
        assert!(buf.len() - hlen >= len, "truncated payload: {} of {len} bytes ({})", buf.len() - hlen, ctx());
        let mut payload = buf[hlen..hlen + len].to_vec();
        if let Some(k) = key {
            xor_mask(&mut payload, k);
        }
        if opcode >= 8 {
            assert!(fin, "fragmented control frame ({})", ctx());
            assert!(len <= 125, "control frame of {len} bytes ({})", ctx());
        } else {
            match fragment_size {
                None => assert!(fin && opcode != 0, "fragmented data without fragment_size ({})", ctx()),
                Some(fs) => {
                    assert!(len <= fs, "data frame of {len} bytes > fragment_size {fs} ({})", ctx());
                    if !fin {
                        assert_eq!(len, fs, "non-final fragment not of fragment_size ({})", ctx());
                    }
                    if opcode == 0 {
                        assert!(len >= 1, "empty final fragment ({})", ctx());
                    }
                }
            }
        }
        pos += hlen + len;
        let finish = |text: bool, bytes: Vec<u8>| -> Message {
            if text {
                Message::text(String::from_utf8(bytes).expect("the engine sent invalid UTF-8 text"))
            } else {
                Message::Binary(Bytes::from(bytes))
            }
        };
        match opcode {
            1 | 2 => {
                assert!(partial.is_none(), "new data frame inside a fragmented message ({})", ctx());
                if fin {
                    out.items.push(OutItem::Message(finish(opcode == 1, payload)));
                } else {
                    partial = Some((opcode == 1, payload));
                }
            }
            0 => {
                let Some((text, mut so_far)) = partial.take() else {
                    panic!("continuation without a message ({})", ctx());
                };
                so_far.extend_from_slice(&payload);
                if fin {
                    out.items.push(OutItem::Message(finish(text, so_far)));
                } else {
                    partial = Some((text, so_far));
                }
            }
            9 => out.items.push(OutItem::Message(Message::Ping(Bytes::from(payload)))),
            10 => out.items.push(OutItem::Message(Message::Pong(Bytes::from(payload)))),
            _ => {
                let close = match payload.len() {
                    0 => None,
                    1 => panic!("1-byte close payload ({})", ctx()),
                    _ => {
                        let raw = u16::from_be_bytes([payload[0], payload[1]]);
                        let code = CloseCode::new(raw)
                            .filter(|c| c.is_sendable())
                            .unwrap_or_else(|| panic!("unsendable close code {raw} ({})", ctx()));
                        let reason = String::from_utf8(payload[2..].to_vec())
                            .unwrap_or_else(|_| panic!("close reason not UTF-8 ({})", ctx()));
                        assert!(reason.len() <= 123);
                        Some((code, reason))
                    }
                };
                out.cut_message = partial.take().is_some();
                out.items.push(OutItem::Close(close));
            }
        }
    }
    assert!(partial.is_none() || out.cut_message, "output ends inside a fragmented message without a close frame");
    out
}

/// Feed the engine output `wire` (written by `writer`) to a second engine of the other role
/// with big limits and check that it sees exactly `parsed`: the same messages, then Closed
/// with the close frame's code (or a transport EOF when there was none).
pub fn check_with_peer_engine(wire: &[u8], writer: Role, parsed: &Output) {
    let peer_role = match writer {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let config = config_with(7, |b| b.max_message_size(64 << 20).max_frame_size(64 << 20).auto_pong(false));
    let mut peer = Connection::new(peer_role, config);
    peer.receive(Instant::ZERO, wire);
    let mut events = Vec::new();
    while let Some(e) = peer.poll_event() {
        events.push(e);
    }
    peer.receive_eof(Instant::ZERO);
    while let Some(e) = peer.poll_event() {
        events.push(e);
    }
    let mut expected: Vec<Event> = parsed.messages().into_iter().map(Event::Message).collect();
    let closed = match parsed.close() {
        Some(Some((code, reason))) => {
            Closed { code: *code, reason: Utf8Bytes::from(reason.as_str()), cause: CloseCause::PeerInitiated }
        }
        Some(None) => {
            Closed { code: CloseCode::NO_STATUS, reason: Utf8Bytes::default(), cause: CloseCause::PeerInitiated }
        }
        None => Closed { code: CloseCode::ABNORMAL, reason: Utf8Bytes::default(), cause: CloseCause::TransportEof },
    };
    expected.push(Event::Closed(closed));
    if events != expected {
        let summary = |e: &[Event]| -> Vec<String> {
            e.iter()
                .map(|e| match e {
                    Event::Message(m) => describe(m),
                    other => format!("{other:?}"),
                })
                .collect()
        };
        panic!(
            "a second engine ({peer_role:?}) read the output differently from the strict parser:\n  engine: {:?}\n  parser: {:?}",
            summary(&events),
            summary(&expected)
        );
    }
}
