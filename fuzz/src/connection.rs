//! Targets `connection_server` and `connection_client`: one engine against a scripted peer,
//! driven by structured ops (peer bytes, sends, polls, partial writes, time, EOF; the peer
//! bytes fed in chunks or, in the interleaved mode, through any order of the input calls),
//! with the model's invariants checked after every op, and at the end the events checked
//! against the reference decoder on the bytes received and the whole output checked. The
//! peer's frames are `peer.rs`'s, the model `model.rs`'s, the interleaving
//! `interleave.rs`'s.

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use tether_proto::{
    Bytes, CloseCause, CloseCode, CloseFrame, Closed, Config, Connection, Instant, Message, Role, Utf8Bytes,
};
use tether_testkit::Chunker;

use super::drive::{drain, feed, FeedMode};
use super::events::{describe, same_messages, EventLog};
use super::input::config_with;
use super::interleave::{feed_interleaved, Call};
use super::model::Model;
use super::output::{check_with_peer_engine, parse_output};
use super::peer::{close_code_from, peer_bytes, PeerPiece};
use super::reference::{reference_decode, RefEnd, RefRules};

/// The engine's settings for one run (small limits, keepalive on).
#[derive(Arbitrary, Debug)]
pub struct ConnSettings {
    /// Outgoing fragmentation (0 = off).
    pub fragment_size: u16,
    /// Answer pings.
    pub auto_pong: bool,
    /// Idle timeout on (seconds 1..=64).
    pub idle_timeout: Option<u8>,
    /// Server accepts unmasked frames.
    pub accept_unmasked: bool,
    /// Read buffer: 64 + this.
    pub read_buffer: u16,
    /// Mask-key seed.
    pub seed: u64,
}

/// One step of a connection run.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Peer bytes through `receive`/`read_buf` (per `mode`), chunks of at most `max_chunk`.
    Peer {
        /// The bytes.
        pieces: Vec<PeerPiece>,
        /// How they are handed in.
        mode: FeedMode,
        /// Largest chunk (0 = all at once).
        max_chunk: u16,
    },
    /// Take up to this many events.
    Poll(u8),
    /// `send(Message::Text)`.
    SendText(String),
    /// `send(Message::Binary)`.
    SendBinary(Vec<u8>),
    /// A large text or binary message.
    SendLarge {
        /// Text (multi-byte characters) or binary.
        text: bool,
        /// Size in bytes.
        len: u16,
        /// Through `send_text`/`send_bytes` (copied from a slice) instead of `send`.
        borrowed: bool,
    },
    /// `send_text(&str)` (the borrowed path).
    SendTextRef(String),
    /// `send_bytes(&[u8])` (the borrowed path).
    SendBinaryRef(Vec<u8>),
    /// `send(Message::Ping)`.
    Ping(Vec<u8>),
    /// `send(Message::Pong)`.
    Pong(Vec<u8>),
    /// `close` (or `send(Message::Close)`), any code and reason.
    Close {
        /// Code (0 = a close frame without code, via `send`).
        code: u16,
        /// Reason.
        reason: String,
        /// Through `send(Message::Close(..))` instead of `close`.
        via_send: bool,
    },
    /// `poll_transmit` + a partial `consume_transmit`.
    Transmit {
        /// Most bytes to consume (0 = all offered).
        max: u16,
        /// Chunk slots (1..=8).
        slots: u8,
    },
    /// Write everything.
    Flush,
    /// Advance time (ms) and call `handle_timeout`.
    Advance(u16),
    /// Jump to `poll_timeout` and call `handle_timeout`.
    FireTimer,
    /// `receive_eof`.
    Eof,
}

/// The structured input of the connection targets.
#[derive(Arbitrary, Debug)]
pub struct ConnInput {
    /// Settings.
    pub settings: ConnSettings,
    /// Steps.
    pub ops: Vec<Op>,
}

/// Inputs of the connection targets that start with this tag are read as an
/// [`InterleavedInput`]: the same ops, with every peer op's bytes handed in through the
/// interleaved feeder. Any other input is a [`ConnInput`], read exactly as before the tag
/// existed (so saved corpora and regressions keep their meaning; none starts with the tag).
pub const INTERLEAVED_TAG: &[u8] = b"interleave:";

/// The structured input of the interleaved mode (after [`INTERLEAVED_TAG`]).
#[derive(Arbitrary, Debug)]
pub struct InterleavedInput {
    /// The order of input calls every peer op runs (over and over, until its bytes are
    /// handed in or a pass hands in nothing; the op's `mode` then feeds the rest).
    pub script: Vec<Call>,
    /// Settings and ops, as in the other mode.
    pub input: ConnInput,
}

/// The server engine against a scripted client peer (structured input).
pub fn connection_server(data: &[u8]) {
    connection(data, Role::Server);
}

/// The client engine against a scripted server peer (structured input).
pub fn connection_client(data: &[u8]) {
    connection(data, Role::Client);
}

fn connection(data: &[u8], role: Role) {
    if let Some(rest) = data.strip_prefix(super::deflate::DEFLATE_TAG) {
        if let Ok(input) = super::deflate::DeflateConnInput::arbitrary_take_rest(Unstructured::new(rest)) {
            super::deflate::run_deflate_connection(role, &input);
        }
        return;
    }
    if let Some(rest) = data.strip_prefix(INTERLEAVED_TAG) {
        let Ok(input) = InterleavedInput::arbitrary_take_rest(Unstructured::new(rest)) else {
            return;
        };
        return run_interleaved(role, &input);
    }
    let Ok(input) = ConnInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run_connection(role, &input);
}

/// Run one scripted connection and check every invariant (public for debugging a repro).
pub fn run_connection(role: Role, input: &ConnInput) {
    run(role, input, &[]);
}

/// Run one scripted connection whose peer bytes go through the interleaved feeder with
/// `input.script`, and check every invariant (public for debugging a repro).
pub fn run_interleaved(role: Role, input: &InterleavedInput) {
    run(role, &input.input, &input.script);
}

/// Run `input`, peer ops through the interleaved feeder with `script` when it is not empty.
fn run(role: Role, input: &ConnInput, script: &[Call]) {
    let s = &input.settings;
    let fragment_size = (s.fragment_size != 0).then_some(usize::from(s.fragment_size));
    let config = config_with(s.seed, |b| {
        b.max_message_size(64 << 10)
            .max_frame_size(16 << 10)
            .keepalive_interval(Some(Duration::from_secs(10)))
            .keepalive_timeout(Duration::from_secs(5))
            .close_timeout(Duration::from_secs(3))
            .idle_timeout(s.idle_timeout.map(|t| Duration::from_secs(1 + u64::from(t % 64))))
            .auto_pong(s.auto_pong)
            .accept_unmasked_frames(s.accept_unmasked)
            .read_buffer_size(64 + usize::from(s.read_buffer % 8192))
            .fragment_size(fragment_size)
    });
    let peer = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut conn = Connection::new(role, config.clone());
    let mut log = EventLog::new(&config);
    let mut m = Model {
        role,
        now: Instant::ZERO,
        fragment_size,
        keepalive: true,
        sent: Vec::new(),
        our_close: None,
        app_queued: 0,
        wire: Vec::new(),
        received: Vec::new(),
        chunker: Chunker::mixed(s.seed, 64),
    };
    for op in &input.ops {
        match op {
            Op::Peer { pieces, mode, max_chunk } => {
                let bytes = peer_bytes(pieces, peer);
                let done = feed_interleaved(&mut conn, &mut m, &mut log, &bytes, script);
                let bytes = &bytes[done..];
                let mut chunker = Chunker::mixed(s.seed ^ bytes.len() as u64, usize::from(*max_chunk));
                let taken = feed(&mut conn, m.now, bytes, &mut chunker, *mode, &mut log);
                m.received.extend_from_slice(&bytes[..taken]);
            }
            Op::Poll(n) => {
                for _ in 0..*n {
                    if !log.poll_one(&mut conn) {
                        break;
                    }
                }
            }
            Op::SendText(t) => m.send(&mut conn, Message::text(t.as_str())),
            Op::SendBinary(b) => m.send(&mut conn, Message::binary(b.clone())),
            Op::SendTextRef(t) => m.send_via(&mut conn, Message::text(t.as_str()), true),
            Op::SendBinaryRef(b) => m.send_via(&mut conn, Message::binary(b.clone()), true),
            Op::SendLarge { text, len, borrowed } => {
                let len = usize::from(*len);
                let msg = if *text {
                    // Two-byte characters, so fragments split characters.
                    let mut s = "é".repeat(len / 2);
                    if len % 2 == 1 {
                        s.push('x');
                    }
                    Message::text(s)
                } else {
                    Message::binary(vec![0xA5; len])
                };
                m.send_via(&mut conn, msg, *borrowed);
            }
            Op::Ping(p) => m.send(&mut conn, Message::Ping(Bytes::from(p.clone()))),
            Op::Pong(p) => m.send(&mut conn, Message::Pong(Bytes::from(p.clone()))),
            Op::Close { code, reason, via_send } => match CloseCode::new(close_code_from(*code)) {
                None => m.send(&mut conn, Message::Close(None)),
                Some(code) if *via_send => m.send(
                    &mut conn,
                    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from(reason.as_str()) })),
                ),
                Some(code) => m.close(&mut conn, code, reason),
            },
            Op::Transmit { max, slots } => m.transmit(&mut conn, usize::from(*max), 1 + usize::from(*slots % 8)),
            Op::Flush => drain(&mut conn, &mut m.chunker, &mut m.wire),
            Op::Advance(ms) => m.advance(&mut conn, Duration::from_millis(u64::from(*ms))),
            Op::FireTimer => {
                if let Some(t) = conn.poll_timeout() {
                    m.now = m.now.max(t);
                }
                conn.handle_timeout(m.now);
                m.after_timeout(&conn);
            }
            Op::Eof => conn.receive_eof(m.now),
        }
        m.check(&conn, &log);
    }

    // The end: the transport ends and time runs out; exactly one Closed must follow.
    // (`close` succeeds only while the connection is open, so our close, if any, came first.)
    let closed_first = m.our_close.is_some();
    conn.receive_eof(m.now);
    log.poll_all(&mut conn);
    for _ in 0..4 {
        m.now += Duration::from_secs(30);
        conn.handle_timeout(m.now);
        log.poll_all(&mut conn);
    }
    let closed = log.closed.clone().expect("no Closed after EOF and every timeout");
    m.check(&conn, &log);
    assert!(conn.should_shutdown(), "should_shutdown() false long after the end");
    assert_eq!(conn.poll_timeout(), None, "a timer after shutdown");
    drain(&mut conn, &mut m.chunker, &mut m.wire);

    check_against_reference(&m, &config, &closed, &log);
    check_connection_output(&m, &closed, closed_first, &log);
}

/// The events are what the reference decoder predicts for the bytes handed in as input: all
/// of its messages and the same end when the peer's close or a protocol failure ended the
/// connection (nothing after that point counts), a prefix of its messages otherwise (EOF, a
/// timeout or the close handshake ended the connection before the rest was read).
fn check_against_reference(m: &Model, config: &Config, closed: &Closed, log: &EventLog) {
    let rules = RefRules {
        role: m.role,
        accept_unmasked: config.accept_unmasked_frames(),
        max_frame: config.max_frame_size(),
        max_message: config.max_message_size(),
    };
    let expected = reference_decode(&m.received, &rules);
    let what = format!("{:?}: messages vs the reference decoder on the {} bytes received", m.role, m.received.len());
    match &closed.cause {
        CloseCause::Protocol(e) => {
            same_messages(&log.messages, &expected.messages, &what);
            assert_eq!(expected.end, RefEnd::Error(e.clone()), "{:?}: failure vs the reference decoder", m.role);
        }
        CloseCause::PeerInitiated => {
            same_messages(&log.messages, &expected.messages, &what);
            let frame = match &expected.end {
                RefEnd::PeerClose(frame) => frame,
                end => panic!("{:?}: the peer closed, but the reference decoder ends with {end:?}", m.role),
            };
            let (code, reason) = frame.clone().unwrap_or((CloseCode::NO_STATUS, String::new()));
            assert_eq!(
                (closed.code, closed.reason.as_str()),
                (code, reason.as_str()),
                "{:?}: the peer's close",
                m.role
            );
        }
        _ => {
            let n = log.messages.len();
            assert!(
                n <= expected.messages.len(),
                "{:?}: {n} messages, but the reference decoder finds only {} in the bytes received",
                m.role,
                expected.messages.len()
            );
            same_messages(&log.messages, &expected.messages[..n], &what);
        }
    }
}

fn check_connection_output(m: &Model, closed: &Closed, closed_first: bool, log: &EventLog) {
    let out = parse_output(&m.wire, m.role, m.fragment_size);
    check_with_peer_engine(&m.wire, m.role, &out);
    let received_pings: Vec<&Bytes> = log
        .messages
        .iter()
        .filter_map(|x| match x {
            Message::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    // Our sends appear in order; the engine may add pongs answering received pings and empty
    // keepalive pings.
    let mut i = 0;
    for msg in out.messages() {
        if m.sent.get(i) == Some(&msg) {
            i += 1;
            continue;
        }
        let extra_ok = match &msg {
            Message::Pong(p) => received_pings.contains(&p),
            Message::Ping(p) => m.keepalive && p.is_empty(),
            _ => false,
        };
        assert!(
            extra_ok,
            "the engine wrote {} where the next sent message was {:?}",
            describe(&msg),
            m.sent.get(i).map(describe)
        );
    }
    // Only the best-effort 1011 of a timeout drops data frames that had not started; every
    // other end (a protocol failure too) writes all that was sent, then the close.
    let failing = !closed_first && matches!(closed.cause, CloseCause::IdleTimeout);
    if !failing {
        assert_eq!(i, m.sent.len(), "only {i} of {} sent messages were written (end: {closed:?})", m.sent.len());
        assert!(!out.cut_message, "a message cut short without a failure");
    }
    let close = out.close().cloned();
    if closed_first {
        assert_eq!(close, m.our_close, "our close frame");
    } else {
        match &closed.cause {
            CloseCause::PeerInitiated => {
                let echo = (closed.code != CloseCode::NO_STATUS).then(|| (closed.code, String::new()));
                assert_eq!(close, Some(echo), "the close echo");
            }
            CloseCause::Protocol(e) => match close {
                Some(Some((code, _))) => assert_eq!(code, e.close_code(), "failure close code"),
                other => panic!("failure {e:?} wrote close {other:?}"),
            },
            CloseCause::IdleTimeout => {
                assert_eq!(close, Some(Some((CloseCode::INTERNAL_ERROR, String::new()))), "timeout close")
            }
            CloseCause::TransportEof => assert_eq!(close, None, "a close frame after EOF"),
            // The peer stopped reading: nothing is added to the queue that does not move.
            CloseCause::WriteTimeout => assert_eq!(close, None, "a close frame after a write timeout"),
            other => panic!("{other:?} without our close first"),
        }
    }
}
