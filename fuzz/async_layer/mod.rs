//! The `async_layer` fuzz target: `tether-rt`'s `WebSocket` and its split halves driven over
//! a scripted in-memory transport (`runtime.rs`) by a hand-rolled executor, with every
//! operation (recv, send, send_batch, feed, flush, ping, close, split, reunite, drop)
//! cancelled after an input-chosen number of polls. Invariants: no panic; no hang (once the
//! transport stops misbehaving, every operation completes within a bounded number of polls
//! of the virtual clock); exactly one ending, which never changes; the bytes written parse
//! strictly, and every message in them is one a send was given, once, in order, with none
//! of the sends that returned `Ok` missing when nothing excuses it (`check.rs`). This file
//! is included with `#[path]` by the libFuzzer entry point and by the corpus replay in
//! `tests/tests/fuzz_replay.rs`, so it names no fuzzing crate.

mod check;
mod runtime;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use tether_proto::{CloseCode, Config, Connection, Message, Role, SeededRng};
use tether_rt::{Closed, Reader, Sender, WebSocket};

use check::{Outcome, SendLog};
use runtime::{advance, reset_clock, ScriptedIo, Virtual, Wire};

/// Polls after which an operation on a settled transport counts as hung. Each poll moves the
/// virtual clock by [`SETTLED_TICK`], so this is far beyond every timeout of the config.
const HANG_LIMIT: u32 = 20_000;
/// The clock's step per `Pending` once the transport is settled.
const SETTLED_TICK: Duration = Duration::from_millis(50);
/// The clock's step per `Pending` while the script still decides.
const SCRIPTED_TICK: Duration = Duration::from_millis(1);

/// The whole input.
#[derive(Arbitrary, Debug)]
pub struct AsyncInput {
    /// Our side is the client (masks its frames) rather than the server.
    pub client: bool,
    /// Limits and timers.
    pub settings: Settings,
    /// What the peer sends, in order.
    pub peer: Vec<PeerFrame>,
    /// After the peer's bytes: EOF (true) or silence.
    pub eof_at_end: bool,
    /// One byte per transport call: `Pending`, a short read or write, a fault, EOF.
    pub decisions: Vec<u8>,
    /// What the application does.
    pub ops: Vec<Op>,
}

/// The configuration, from small numbers.
#[derive(Arbitrary, Debug)]
pub struct Settings {
    /// Write high-water mark in 256-byte units (0: the smallest, 1 byte).
    pub hwm: u8,
    /// Keepalive interval in seconds, 1 to 30 (always on, so a silent peer ends a recv).
    pub keepalive_secs: u8,
    /// Close timeout in 100 ms units (at least 100 ms).
    pub close_timeout: u8,
    /// A write timeout in seconds, or none.
    pub write_timeout_secs: Option<u8>,
    /// Fragment outgoing messages at this many bytes (at least 1).
    pub fragment: Option<u16>,
}

/// A frame of the scripted peer (masked when the peer is the client).
#[derive(Arbitrary, Debug)]
pub enum PeerFrame {
    /// A text message of this many bytes.
    Text(u16),
    /// A binary message of this many bytes.
    Binary(u16),
    /// A binary message in this many fragments of this many bytes each.
    Fragmented(u8, u8),
    /// A ping with this many payload bytes (cut to 125).
    Ping(u8),
    /// An unsolicited pong.
    Pong(u8),
    /// A close frame with this code (valid or not).
    Close(u16),
    /// Bytes as they are (usually a protocol violation).
    Raw(Vec<u8>),
}

/// One thing the application does; `polls` is how many times the operation's future is
/// polled before it is dropped (cancelled), while the script still decides.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// `recv` (on the reader when split).
    Recv { polls: u8 },
    /// `send` of a text or binary message of `len` bytes beyond its tag.
    Send { text: bool, len: u16, polls: u8 },
    /// `send_batch` of `count` messages.
    Batch { count: u8, len: u8, polls: u8 },
    /// `feed` (queue without flushing).
    Feed { len: u16, polls: u8 },
    /// `flush`.
    Flush { polls: u8 },
    /// `ping`.
    Ping { len: u8, polls: u8 },
    /// `close` with a code that may be invalid.
    Close { code: u16, polls: u8 },
    /// When split: a `send` and a `recv` polled in turn.
    Both { len: u16, polls: u8 },
    /// `split` (when whole).
    Split,
    /// `reunite` (when split).
    Reunite,
    /// Move the clock.
    Advance { millis: u16 },
    /// Drop the connection (the drop policy's close, best effort) and stop.
    Drop,
}

/// The connection in its current shape.
enum Handle {
    Whole(WebSocket<ScriptedIo, Virtual>),
    Split(Reader<ScriptedIo, Virtual>, Sender<ScriptedIo, Virtual>),
}

impl Handle {
    fn closed(&self) -> Option<Closed> {
        match self {
            Handle::Whole(ws) => ws.closed(),
            Handle::Split(reader, _) => reader.closed(),
        }
    }
}

/// The libFuzzer and replay entry point.
pub fn async_layer(data: &[u8]) {
    let Ok(input) = AsyncInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run(input);
}

fn config_of(s: &Settings, seed: u64) -> Config {
    Config::builder()
        .rng(std::sync::Arc::new(SeededRng::new(seed)))
        .max_message_size(64 << 10)
        .max_frame_size(16 << 10)
        .write_high_water_mark((usize::from(s.hwm) * 256).max(1))
        .keepalive_interval(Some(Duration::from_secs(u64::from(s.keepalive_secs % 30) + 1)))
        .keepalive_timeout(Duration::from_secs(5))
        .close_timeout(Duration::from_millis(100 * u64::from(s.close_timeout.max(1))))
        .write_timeout(s.write_timeout_secs.map(|t| Duration::from_secs(u64::from(t % 60) + 1)))
        .fragment_size(s.fragment.map(|f| usize::from(f.max(1))))
        .build()
        .expect("the harness builds only valid configs")
}

/// The peer's bytes.
fn peer_bytes(frames: &[PeerFrame], peer_masks: bool) -> Vec<u8> {
    use tether_testkit::{Frame, BINARY, CLOSE, CONTINUATION, PING, TEXT};
    const PONG: u8 = 0xA;
    let key = peer_masks.then_some([0x11, 0x22, 0x33, 0x44]);
    let mut out = Vec::new();
    for frame in frames {
        match frame {
            PeerFrame::Text(n) => {
                let text = "t".repeat(usize::from(*n % 4096));
                Frame::new(TEXT, text.as_bytes()).mask(key).encode_into(&mut out);
            }
            PeerFrame::Binary(n) => {
                Frame::new(BINARY, &vec![7; usize::from(*n % 4096)]).mask(key).encode_into(&mut out)
            }
            PeerFrame::Fragmented(count, size) => {
                let chunk = vec![3; usize::from(*size)];
                let count = count % 16 + 1;
                for i in 0..count {
                    let opcode = if i == 0 { BINARY } else { CONTINUATION };
                    Frame::new(opcode, &chunk).fin(i + 1 == count).mask(key).encode_into(&mut out);
                }
            }
            PeerFrame::Ping(n) => Frame::new(PING, &vec![9; usize::from(*n).min(125)]).mask(key).encode_into(&mut out),
            PeerFrame::Pong(n) => Frame::new(PONG, &vec![8; usize::from(*n).min(125)]).mask(key).encode_into(&mut out),
            PeerFrame::Close(code) => Frame::new(CLOSE, &code.to_be_bytes()).mask(key).encode_into(&mut out),
            PeerFrame::Raw(bytes) => out.extend_from_slice(bytes),
        }
        if out.len() > 1 << 20 {
            break;
        }
    }
    out
}

/// Polls `fut` until it is ready, or `budget` polls while the transport is scripted
/// (then `None`: the caller drops it, which cancels it). Once the transport is settled the
/// operation must finish within [`HANG_LIMIT`] polls.
fn poll_for<F: Future>(fut: F, budget: u8, wire: &std::sync::Mutex<Wire>) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let mut scripted_polls = 0u32;
    let mut settled_polls = 0u32;
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        if wire.lock().unwrap().settled {
            settled_polls += 1;
            assert!(
                settled_polls <= HANG_LIMIT,
                "an operation made no progress in {HANG_LIMIT} polls on a settled transport"
            );
            advance(SETTLED_TICK);
        } else {
            scripted_polls += 1;
            if scripted_polls > u32::from(budget) {
                return None;
            }
            advance(SCRIPTED_TICK);
        }
    }
}

/// A data message carrying `tag` first, `extra` bytes after it.
fn tagged(tag: u64, text: bool, extra: usize) -> Message {
    if text {
        let mut s = format!("{tag:016x}");
        s.extend(std::iter::repeat_n('x', extra));
        Message::text(s)
    } else {
        let mut v = tag.to_be_bytes().to_vec();
        v.resize(8 + extra, 0xb5);
        Message::binary(v)
    }
}

fn close_code(code: u16) -> CloseCode {
    CloseCode::new(code).unwrap_or(CloseCode::NORMAL)
}

/// Runs one input.
pub fn run(input: AsyncInput) {
    reset_clock();
    let role = if input.client { Role::Client } else { Role::Server };
    let config = config_of(&input.settings, 7);
    let inbound = peer_bytes(&input.peer, !input.client);
    let mut decisions = input.decisions;
    decisions.truncate(8192);
    let (io, wire) = ScriptedIo::new(inbound, decisions, input.eof_at_end);
    let ws = WebSocket::<ScriptedIo, Virtual>::from_connection(io, Connection::new(role, config));
    let mut handle = Some(Handle::Whole(ws));
    let mut log = SendLog::default();
    let mut ending: Option<Closed> = None;
    let mut dropped_early = false;

    for op in input.ops.into_iter().take(256) {
        let Some(h) = handle.as_mut() else { break };
        match (op, h) {
            (Op::Recv { polls }, Handle::Whole(ws)) => {
                let _ = poll_for(ws.recv(), polls, &wire);
            }
            (Op::Recv { polls }, Handle::Split(reader, _)) => {
                let _ = poll_for(reader.recv(), polls, &wire);
            }
            (Op::Send { text, len, polls }, h) => {
                let message = tagged(log.next_tag(), text, usize::from(len % 20_000));
                let result = match h {
                    Handle::Whole(ws) => poll_for(ws.send(message), polls, &wire),
                    Handle::Split(_, sender) => poll_for(sender.send(message), polls, &wire),
                };
                log.record(1, outcome(result));
            }
            (Op::Batch { count, len, polls }, h) => {
                let count = usize::from(count % 8);
                let messages: Vec<Message> =
                    (0..count).map(|i| tagged(log.peek_tag(i), i % 2 == 0, usize::from(len))).collect();
                let result = match h {
                    Handle::Whole(ws) => poll_for(ws.send_batch(messages), polls, &wire),
                    Handle::Split(_, sender) => poll_for(sender.send_batch(messages), polls, &wire),
                };
                log.record(count, outcome(result));
            }
            (Op::Feed { len, polls }, h) => {
                let message = tagged(log.next_tag(), false, usize::from(len % 20_000));
                let result = match h {
                    Handle::Whole(ws) => poll_for(ws.feed(message), polls, &wire),
                    Handle::Split(_, sender) => poll_for(sender.feed(message), polls, &wire),
                };
                log.record(1, outcome(result));
            }
            (Op::Flush { polls }, Handle::Whole(ws)) => {
                let _ = poll_for(ws.flush(), polls, &wire);
            }
            (Op::Flush { polls }, Handle::Split(_, sender)) => {
                let _ = poll_for(sender.flush(), polls, &wire);
            }
            (Op::Ping { len, polls }, Handle::Whole(ws)) => {
                let _ = poll_for(ws.ping(vec![1; usize::from(len % 130)]), polls, &wire);
            }
            (Op::Ping { len, polls }, Handle::Split(_, sender)) => {
                let _ = poll_for(sender.ping(vec![1; usize::from(len % 130)]), polls, &wire);
            }
            (Op::Close { code, polls }, Handle::Whole(ws)) => {
                let _ = poll_for(ws.close(close_code(code), "done"), polls, &wire);
            }
            (Op::Close { code, polls }, Handle::Split(_, sender)) => {
                let _ = poll_for(sender.close(close_code(code), "done"), polls, &wire);
            }
            (Op::Both { len, polls }, Handle::Split(reader, sender)) => {
                let message = tagged(log.next_tag(), true, usize::from(len % 20_000));
                let mut send = pin!(sender.send(message));
                let mut recv = pin!(reader.recv());
                let mut cx = Context::from_waker(Waker::noop());
                let (mut sent, mut received) = (None, false);
                for _ in 0..=polls {
                    if sent.is_none() {
                        if let Poll::Ready(r) = send.as_mut().poll(&mut cx) {
                            sent = Some(r);
                        }
                    }
                    if !received && recv.as_mut().poll(&mut cx).is_ready() {
                        received = true;
                    }
                    if sent.is_some() && received {
                        break;
                    }
                    advance(SCRIPTED_TICK);
                }
                log.record(1, outcome(sent));
            }
            (Op::Both { .. }, Handle::Whole(_)) => {}
            (Op::Split, h @ Handle::Whole(_)) => {
                let Handle::Whole(ws) = std::mem::replace(h, placeholder()) else { unreachable!() };
                let (reader, sender) = ws.split();
                *h = Handle::Split(reader, sender);
            }
            (Op::Split, Handle::Split(..)) => {}
            (Op::Reunite, h @ Handle::Split(..)) => {
                let Handle::Split(reader, sender) = std::mem::replace(h, placeholder()) else { unreachable!() };
                match reader.reunite(sender) {
                    Ok(ws) => *h = Handle::Whole(ws),
                    Err(_) => panic!("a reader and the sender split from it must reunite"),
                }
            }
            (Op::Reunite, Handle::Whole(_)) => {}
            (Op::Advance { millis }, _) => advance(Duration::from_millis(u64::from(millis))),
            (Op::Drop, _) => {
                handle = None;
                dropped_early = true;
            }
        }
        observe(handle.as_ref(), &mut ending);
    }

    // The end: the transport behaves from here on; a connection still held is closed and
    // drained, which must finish in bounded polls.
    wire.lock().unwrap().settled = true;
    if let Some(h) = handle.take() {
        let mut ws = match h {
            Handle::Whole(ws) => ws,
            Handle::Split(reader, sender) => reader.reunite(sender).unwrap_or_else(|_| panic!("reunite")),
        };
        let _ = poll_for(ws.close(CloseCode::NORMAL, ""), 0, &wire).expect("close finishes on a settled transport");
        ending = check_same(ending, ws.closed());
        // Nothing is left to deliver or to end after close returned.
        let after = poll_for(ws.recv(), 0, &wire).expect("recv after close returns");
        assert!(!matches!(after, Ok(Some(_))), "a message after close returned: {after:?}");
        let final_ending = ws.closed();
        assert!(final_ending.is_some(), "close returned but the connection has no ending");
        ending = check_same(ending, final_ending);
    }

    let wire = wire.lock().unwrap();
    check::output(&wire, role, &log, ending.as_ref(), dropped_early);
}

fn outcome<E>(result: Option<Result<(), E>>) -> Outcome {
    match result {
        Some(Ok(())) => Outcome::Ok,
        _ => Outcome::Maybe,
    }
}

/// A stand-in while a handle changes shape (never observed: replaced at once).
fn placeholder() -> Handle {
    let (io, _) = ScriptedIo::new(Vec::new(), Vec::new(), true);
    Handle::Whole(WebSocket::from_connection(io, Connection::new(Role::Server, Config::default())))
}

/// Records the ending the first time there is one; it must never change afterwards.
fn observe(handle: Option<&Handle>, ending: &mut Option<Closed>) {
    if let Some(now) = handle.and_then(Handle::closed) {
        *ending = check_same(ending.take(), Some(now));
    }
}

fn check_same(before: Option<Closed>, now: Option<Closed>) -> Option<Closed> {
    match (before, now) {
        (Some(b), Some(n)) => {
            assert_eq!(b, n, "the connection's ending changed");
            Some(b)
        }
        (Some(b), None) => panic!("the connection's ending {b:?} was forgotten"),
        (None, n) => n,
    }
}
