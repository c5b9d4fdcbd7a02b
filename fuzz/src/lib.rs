//! The check bodies of every fuzz target (one `pub fn TARGET(data: &[u8])` each) and the
//! models they compare the engine against: a reference RFC 6455 decoder, a strict parser for
//! what the engine wrote, and the connection-state model. What does not live here: the
//! libFuzzer glue (`fuzz_targets/*.rs`, one line each) and the CI corpus replay
//! (`proto/tests/fuzz_corpus.rs`, which includes this very file with `#[path]`), so the same
//! code runs under libFuzzer and under a plain `cargo test`. Nothing here may use
//! `libfuzzer-sys`.
//!
//! Every check panics (with a message naming the broken invariant) instead of returning an
//! error: a panic is what both libFuzzer and the replay report.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use tether_proto::{
    AcceptOptions, BufMut, Bytes, ClientHandshake, ClientRequest, CloseCause, CloseCode, CloseFrame, Closed, Config,
    Connection, Event, HandshakeError, Instant, Message, ProtocolError, Role, SeededRng, SendError, ServerHandshake,
    State, Utf8Bytes,
};

/// The engine's read-ahead (`READ_AHEAD` in `proto/src/connection.rs`, private): unparsed
/// input beyond which `read_buf` offers no space until events are taken.
pub const READ_AHEAD: usize = 64 << 10;
/// The largest read window `read_buf_uninit` offers (`MAX_READ_WINDOW`, private).
pub const MAX_READ_WINDOW: usize = 256 << 10;
/// The longest frame header (2 + 8 + 4).
pub const MAX_HEADER: usize = 14;
/// Unwritten pong bytes the engine queues before it keeps only the latest ping
/// (`URGENT_CAP` in `proto/src/connection.rs`, private).
pub const URGENT_CAP: usize = 2 << 10;
/// What the engine may queue by itself beyond what the application sent: pongs up to the
/// urgent cap plus one more, a pending pong, a keepalive ping and a close frame.
const ENGINE_EXTRA: usize = URGENT_CAP + 4 * (MAX_HEADER + 125);

/// A target's check: panics on a broken invariant.
pub type Check = fn(&[u8]);

/// Every target, by corpus directory name, for the replay.
pub const TARGETS: &[(&str, Check)] = &[
    ("frame_decode", frame_decode),
    ("server_handshake", server_handshake),
    ("client_handshake", client_handshake),
    ("connection_server", connection_server),
    ("connection_client", connection_client),
    ("roundtrip", roundtrip),
];

// ============================================================================================
// Tally: which outcomes the inputs reach (for checking what a corpus covers; see
// `take_tally`). Costs a map update per outcome.
// ============================================================================================

thread_local! {
    static TALLY: std::cell::RefCell<std::collections::BTreeMap<String, u64>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

/// Count one outcome, named by its `Debug` form up to the first `(`, `{` or space.
fn tally(prefix: &str, what: &dyn std::fmt::Debug) {
    let mut name = format!("{what:?}");
    if let Some(cut) = name.find(['(', '{', ' ']) {
        name.truncate(cut);
    }
    TALLY.with(|t| *t.borrow_mut().entry(format!("{prefix}{name}")).or_default() += 1);
}

/// The outcomes counted on this thread since the last call (close causes, protocol errors,
/// handshake results, send errors), for checking what a corpus reaches.
pub fn take_tally() -> Vec<(String, u64)> {
    TALLY.with(|t| core::mem::take(&mut *t.borrow_mut()).into_iter().collect())
}

// ============================================================================================
// Small tools: input cursor, chunking, draining.
// ============================================================================================

/// Reads configuration bytes off the front of a raw input; zeros once it runs out.
struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.u8()))
    }
    fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }
}

/// Deterministic chunk sizes and coin flips (xorshift64) derived from the input.
pub struct Chunker {
    state: u64,
    max: usize,
}

impl Chunker {
    /// Chunks of 1..=`max` bytes (`max` 0: everything at once).
    pub fn new(seed: u64, max: usize) -> Chunker {
        Chunker { state: seed ^ 0x9E37_79B9_7F4A_7C15 | 1, max }
    }
    fn bits(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
    /// The next chunk length, at most `available`.
    pub fn next(&mut self, available: usize) -> usize {
        if self.max == 0 {
            return available;
        }
        (1 + (self.bits() as usize) % self.max).min(available)
    }
    /// A coin flip that comes up true one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.bits() % n.max(1) == 0
    }
}

/// A config with deterministic mask keys, from a builder function.
fn config_with(seed: u64, f: impl FnOnce(tether_proto::ConfigBuilder) -> tether_proto::ConfigBuilder) -> Config {
    f(Config::builder().rng(Arc::new(SeededRng::new(seed)))).build().expect("the harness builds only valid configs")
}

/// Take everything `conn` wants to write, in pieces (partial writes when `chunker` says so),
/// checking that `poll_transmit` never stalls while `buffered_transmit` is non-zero.
pub fn drain(conn: &mut Connection, chunker: &mut Chunker, out: &mut Vec<u8>) {
    let announced = conn.buffered_transmit();
    let start = out.len();
    for _ in 0..1_000_000 {
        let queued = conn.buffered_transmit();
        let slots = 1 + (chunker.bits() % 8) as usize;
        let mut chunks = [&[][..]; 8];
        let n = conn.poll_transmit(&mut chunks[..slots]);
        assert!(chunks[..n].iter().all(|c| !c.is_empty()), "poll_transmit offered an empty chunk");
        let offered: usize = chunks[..n].iter().map(|c| c.len()).sum();
        // A partial write now and then; copy only what is "written".
        let take = if chunker.one_in(3) { chunker.next(offered) } else { offered };
        let mut left = take;
        for c in &chunks[..n] {
            let k = left.min(c.len());
            out.extend_from_slice(&c[..k]);
            left -= k;
        }
        if n == 0 {
            assert_eq!(
                conn.buffered_transmit(),
                0,
                "poll_transmit offers nothing while buffered_transmit was {queued}: a driver would hang"
            );
            let written = out.len() - start;
            // buffered_transmit() announces exactly what will be written, pending control
            // frames included (for a client with their mask key: see
            // proto/tests/fuzz_found_client_pending_control_undercount.rs).
            assert_eq!(
                written, announced,
                "buffered_transmit() announced {announced} bytes, then {written} were written"
            );
            return;
        }
        let before = conn.buffered_transmit();
        assert!(offered <= before, "poll_transmit offered {offered} bytes but buffered_transmit is {before}");
        conn.consume_transmit(take);
        assert_eq!(
            conn.buffered_transmit(),
            before - take,
            "consume_transmit({take}) did not shrink buffered_transmit by {take}"
        );
    }
    panic!("drain never finished: the engine keeps producing output by itself");
}

// ============================================================================================
// Reference decoder: an independent, straightforward reading of RFC 6455 §5 that predicts
// the events the engine must produce for a byte stream (same check order as the engine).
// ============================================================================================

/// What the receiving endpoint accepts.
#[derive(Clone, Copy, Debug)]
pub struct RefRules {
    /// The receiver's role.
    pub role: Role,
    /// A server accepting unmasked frames.
    pub accept_unmasked: bool,
    /// Largest frame payload.
    pub max_frame: usize,
    /// Largest message.
    pub max_message: usize,
}

/// How the stream ended for the reference decoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefEnd {
    /// The stream stopped inside a frame (or between frames).
    NeedMore,
    /// The stream violates the protocol.
    Error(ProtocolError),
    /// A valid close frame: its code and reason, if any.
    PeerClose(Option<(CloseCode, String)>),
}

/// The reference decoder's prediction: the messages (ping/pong included), then the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefOutcome {
    /// Messages in order.
    pub messages: Vec<Message>,
    /// What ended the stream.
    pub end: RefEnd,
}

/// Decode `stream` as `rules.role` would receive it.
pub fn reference_decode(stream: &[u8], rules: &RefRules) -> RefOutcome {
    let mut messages = Vec::new();
    let end = reference_loop(stream, rules, &mut messages);
    RefOutcome { messages, end }
}

fn reference_loop(stream: &[u8], rules: &RefRules, messages: &mut Vec<Message>) -> RefEnd {
    let mut pos = 0;
    // An open fragmented message: text?, bytes so far.
    let mut partial: Option<(bool, Vec<u8>)> = None;
    loop {
        let buf = &stream[pos..];
        if buf.len() < 2 {
            return RefEnd::NeedMore;
        }
        let (b0, b1) = (buf[0], buf[1]);
        let rsv = (b0 >> 4) & 7;
        if rsv != 0 {
            return RefEnd::Error(ProtocolError::ReservedBitsSet { bits: rsv });
        }
        let opcode = b0 & 0x0F;
        if !matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10) {
            return RefEnd::Error(ProtocolError::ReservedOpcode(opcode));
        }
        let fin = b0 & 0x80 != 0;
        let control = opcode >= 8;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if control && !fin {
            return RefEnd::Error(ProtocolError::FragmentedControlFrame);
        }
        if control && len7 > 125 {
            return RefEnd::Error(ProtocolError::ControlFrameTooLarge { len: u64::from(len7) });
        }
        match (rules.role, masked) {
            (Role::Server, false) if !rules.accept_unmasked => {
                return RefEnd::Error(ProtocolError::UnmaskedClientFrame)
            }
            (Role::Client, true) => return RefEnd::Error(ProtocolError::MaskedServerFrame),
            _ => {}
        }
        let (len, mut hlen) = match len7 {
            126 if buf.len() < 4 => return RefEnd::NeedMore,
            126 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 if buf.len() < 10 => return RefEnd::NeedMore,
            127 => {
                let len = u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes"));
                if len >> 63 != 0 {
                    return RefEnd::Error(ProtocolError::PayloadLengthMsbSet);
                }
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        if len > rules.max_frame as u64 {
            return RefEnd::Error(ProtocolError::FrameTooLarge { size: len, max: rules.max_frame });
        }
        let key = if masked {
            if buf.len() < hlen + 4 {
                return RefEnd::NeedMore;
            }
            let k = [buf[hlen], buf[hlen + 1], buf[hlen + 2], buf[hlen + 3]];
            hlen += 4;
            Some(k)
        } else {
            None
        };
        // Rules that depend on what came before (§5.4) and the message limit.
        match opcode {
            0 => {
                let Some((_, so_far)) = &partial else {
                    return RefEnd::Error(ProtocolError::UnexpectedContinuation);
                };
                let size = so_far.len() as u64 + len;
                if size > rules.max_message as u64 {
                    return RefEnd::Error(ProtocolError::MessageTooLarge { size, max: rules.max_message });
                }
            }
            1 | 2 => {
                if partial.is_some() {
                    return RefEnd::Error(ProtocolError::DataFrameInsideFragmentedMessage);
                }
                if len > rules.max_message as u64 {
                    return RefEnd::Error(ProtocolError::MessageTooLarge { size: len, max: rules.max_message });
                }
            }
            _ => {}
        }
        let len = len as usize;
        let body = &buf[hlen..];
        let available = body.len().min(len);
        let mut payload = body[..available].to_vec();
        if let Some(k) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        let is_text = match opcode {
            1 => true,
            0 => partial.as_ref().is_some_and(|p| p.0),
            _ => false,
        };
        if is_text {
            // Fail fast: the bytes so far must still be a prefix of valid UTF-8.
            let mut so_far = match (&partial, opcode) {
                (Some((_, b)), 0) => b.clone(),
                _ => Vec::new(),
            };
            so_far.extend_from_slice(&payload);
            if let Err(e) = std::str::from_utf8(&so_far) {
                if e.error_len().is_some() {
                    return RefEnd::Error(ProtocolError::InvalidUtf8);
                }
            }
        }
        if available < len {
            return RefEnd::NeedMore;
        }
        pos += hlen + len;
        let finish = |text: bool, bytes: Vec<u8>| -> Result<Message, ProtocolError> {
            if text {
                let s = String::from_utf8(bytes).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(Message::text(s))
            } else {
                Ok(Message::Binary(Bytes::from(bytes)))
            }
        };
        match opcode {
            1 | 2 if fin => match finish(opcode == 1, payload) {
                Ok(m) => messages.push(m),
                Err(e) => return RefEnd::Error(e),
            },
            1 | 2 => partial = Some((opcode == 1, payload)),
            0 => {
                let Some((text, mut so_far)) = partial.take() else {
                    return RefEnd::Error(ProtocolError::UnexpectedContinuation);
                };
                so_far.extend_from_slice(&payload);
                if fin {
                    match finish(text, so_far) {
                        Ok(m) => messages.push(m),
                        Err(e) => return RefEnd::Error(e),
                    }
                } else {
                    partial = Some((text, so_far));
                }
            }
            9 => messages.push(Message::Ping(Bytes::from(payload))),
            10 => messages.push(Message::Pong(Bytes::from(payload))),
            _ => {
                // Close (§5.5.1).
                return match payload.len() {
                    0 => RefEnd::PeerClose(None),
                    1 => RefEnd::Error(ProtocolError::ClosePayloadTooShort),
                    _ => {
                        let raw = u16::from_be_bytes([payload[0], payload[1]]);
                        let code = match CloseCode::new(raw) {
                            Some(c) if c.is_sendable() => c,
                            _ => return RefEnd::Error(ProtocolError::InvalidCloseCode(raw)),
                        };
                        match String::from_utf8(payload[2..].to_vec()) {
                            Ok(reason) => RefEnd::PeerClose(Some((code, reason))),
                            Err(_) => RefEnd::Error(ProtocolError::InvalidCloseReason),
                        }
                    }
                };
            }
        }
    }
}

// ============================================================================================
// Strict parser for what the engine wrote.
// ============================================================================================

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
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
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

// ============================================================================================
// Event log: the rules every event stream obeys.
// ============================================================================================

/// Collects a connection's events and checks the rules that hold for every stream.
#[derive(Debug)]
pub struct EventLog {
    /// Messages received.
    pub messages: Vec<Message>,
    /// The one Closed event.
    pub closed: Option<Closed>,
    max_message: usize,
}

impl EventLog {
    fn new(config: &Config) -> EventLog {
        EventLog { messages: Vec::new(), closed: None, max_message: config.max_message_size() }
    }

    /// Take every event now available; then check the receive bound.
    fn poll_all(&mut self, conn: &mut Connection) {
        for _ in 0..10_000_000 {
            match self.poll_one(conn) {
                true => continue,
                false => return,
            }
        }
        panic!("poll_event never returned None");
    }

    /// Take one event; false when there was none (the receive-buffer bound is then checked).
    fn poll_one(&mut self, conn: &mut Connection) -> bool {
        match conn.poll_event() {
            Some(event) => {
                self.record(conn, event);
                true
            }
            None => {
                check_receive_bound(conn);
                false
            }
        }
    }

    fn record(&mut self, conn: &Connection, event: Event) {
        if self.closed.is_some() {
            let what = match &event {
                Event::Message(m) => describe(m),
                other => format!("{other:?}"),
            };
            panic!("event {what} after Closed {:?}", self.closed);
        }
        match event {
            Event::Message(m) => {
                match &m {
                    Message::Text(_) | Message::Binary(_) => assert!(
                        m.len() <= self.max_message,
                        "a message of {} bytes passed the {}-byte limit",
                        m.len(),
                        self.max_message
                    ),
                    Message::Ping(p) | Message::Pong(p) => {
                        assert!(p.len() <= 125, "control payload of {} bytes", p.len())
                    }
                    Message::Close(_) => panic!("Message::Close handed out as an event"),
                }
                assert_ne!(conn.state(), State::Closed, "a message while state() is Closed");
                self.messages.push(m);
            }
            Event::Closed(c) => {
                check_closed(&c);
                match &c.cause {
                    CloseCause::Protocol(e) => tally("closed: Protocol ", e),
                    cause => tally("closed: ", cause),
                }
                assert_eq!(conn.state(), State::Closed, "state() after Closed");
                assert_eq!(conn.closed(), Some(&c), "closed() disagrees with the event");
                assert!(!conn.can_send(), "can_send() after Closed");
                self.closed = Some(c);
            }
            other => panic!("unknown event {other:?}"),
        }
    }
}

/// What every Closed event says about itself.
fn check_closed(c: &Closed) {
    match &c.cause {
        CloseCause::Protocol(e) => {
            assert_eq!(c.code, e.close_code(), "Protocol({e:?}) reported with {:?}", c.code);
            assert!(c.code.is_sendable(), "Protocol cause with unsendable {:?}", c.code);
        }
        CloseCause::PeerInitiated | CloseCause::LocallyInitiated => {
            assert!(c.code.is_sendable() || c.code == CloseCode::NO_STATUS, "clean close with {:?}", c.code);
            assert!(c.reason.len() <= 123);
            if c.code == CloseCode::NO_STATUS {
                assert!(c.reason.is_empty(), "1005 with a reason");
            }
        }
        CloseCause::IdleTimeout
        | CloseCause::CloseTimeout
        | CloseCause::TransportEof
        | CloseCause::TransportError
        | CloseCause::WriteTimeout
        | CloseCause::HandshakeTimeout => {
            assert_eq!(c.code, CloseCode::ABNORMAL, "{:?} reported with {:?}", c.cause, c.code);
        }
        other => panic!("unknown close cause {other:?}"),
    }
}

/// After `poll_event` returned `None`, what is buffered is at most one incomplete frame:
/// fewer bytes than its header (14) or than its payload (at most the max frame size).
fn check_receive_bound(conn: &Connection) {
    let bound = conn.config().max_frame_size().max(MAX_HEADER);
    assert!(
        conn.buffered_receive() < bound,
        "buffered_receive() is {} after poll_event returned None (bound {bound})",
        conn.buffered_receive()
    );
}

/// `read_buf` (or `read_buf_uninit`) offers bounded space, and only while what is buffered is under the read-ahead
/// (or the frame being read still needs more).
fn checked_read_buf_len(conn: &mut Connection, uninit: bool) -> usize {
    let cfg = conn.config().clone();
    let filled = conn.buffered_receive();
    let len = if uninit { conn.read_buf_uninit().remaining_mut() } else { conn.read_buf().len() };
    if len > 0 {
        let ahead = READ_AHEAD.max(cfg.max_frame_size());
        assert!(filled < ahead, "read_buf offered {len} bytes with {filled} already buffered (read-ahead {ahead})");
        let window = if uninit { MAX_READ_WINDOW } else { READ_AHEAD };
        let spare = ahead.max(window).max(cfg.read_buffer_size());
        assert!(len <= spare, "read_buf offered {len} bytes (bound {spare})");
    }
    len
}

/// Feed `bytes` through `receive` or `read_buf`/`commit_read` in chunker-sized pieces,
/// sometimes taking events between pieces. Returns how many bytes the engine took.
fn feed(
    conn: &mut Connection,
    now: Instant,
    bytes: &[u8],
    chunker: &mut Chunker,
    mode: FeedMode,
    log: &mut EventLog,
) -> usize {
    let mut pos = 0;
    let mut steps = 0usize;
    while pos < bytes.len() {
        // Each step hands bytes in or takes an event, and every event but the last consumes
        // at least two bytes: more steps than that is an engine that stopped making progress.
        steps += 1;
        assert!(steps <= 2 * bytes.len() + 4, "feeding made no progress at {pos} of {} bytes", bytes.len());
        let want = chunker.next(bytes.len() - pos);
        let via_buf = match mode {
            FeedMode::Receive => false,
            FeedMode::ReadBuf => true,
            FeedMode::Mixed => chunker.one_in(2),
        };
        if via_buf {
            // `read_buf` (zeroed space) or `read_buf_uninit` (a BufMut over capacity).
            let uninit = chunker.one_in(2);
            let mut space = checked_read_buf_len(conn, uninit);
            if space == 0 {
                // Backpressure or the end: take an event (parsing frees buffer space).
                if log.poll_one(conn) {
                    continue;
                }
                space = checked_read_buf_len(conn, uninit);
                if space == 0 {
                    // Only an ended connection may refuse input for good (an EOF would
                    // have produced Closed above).
                    assert_eq!(
                        conn.state(),
                        State::Closed,
                        "read_buf() is empty and poll_event() has nothing while {} bytes are buffered: a driver would stall",
                        conn.buffered_receive()
                    );
                    return pos;
                }
            }
            let n = want.min(space);
            if uninit {
                let mut buf = conn.read_buf_uninit();
                assert_eq!(buf.remaining_mut(), space, "read_buf_uninit offered a different space");
                buf.put_slice(&bytes[pos..pos + n]);
                conn.commit_appended(now);
            } else {
                conn.read_buf()[..n].copy_from_slice(&bytes[pos..pos + n]);
                conn.commit_read(now, n);
            }
            pos += n;
        } else {
            conn.receive(now, &bytes[pos..pos + want]);
            pos += want;
        }
        if !chunker.one_in(4) {
            log.poll_all(conn);
        }
    }
    log.poll_all(conn);
    pos
}

/// How a harness hands bytes to the engine.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum FeedMode {
    /// `receive` only.
    Receive,
    /// `read_buf` + `commit_read` only.
    ReadBuf,
    /// Both, chosen per chunk.
    Mixed,
}

// ============================================================================================
// Target: frame_decode.
// ============================================================================================

/// Arbitrary bytes into the frame decoder, both roles: the events must be exactly what the
/// reference decoder predicts, under random chunking, and the output (pongs, the close frame)
/// must be well-formed and answer what came in.
///
/// Layout: byte 0 = limits and switches, byte 1 = chunking, bytes 2..10 = seed, rest = stream.
pub fn frame_decode(data: &[u8]) {
    let mut c = Cursor { data };
    let flags = c.u8();
    let chunking = c.u8();
    let seed = c.u64();
    let stream = c.rest();
    for role in [Role::Server, Role::Client] {
        frame_decode_role(role, flags, chunking, seed, stream);
    }
}

fn frame_decode_role(role: Role, flags: u8, chunking: u8, seed: u64, stream: &[u8]) {
    let max_frame = [16, 200, 16 << 10, 70_000][usize::from(flags & 3)];
    let max_message = match (flags >> 2) & 3 {
        0 => max_frame,
        1 => 3 * max_frame + 1,
        2 => 64 << 10,
        _ => 1 << 20,
    }
    .max(max_frame);
    let accept_unmasked = flags & 0x10 != 0;
    let auto_pong = flags & 0x20 == 0;
    let eof = flags & 0x40 != 0;
    let read_buffer = if flags & 0x80 != 0 { 64 } else { 4096 };
    let config = config_with(seed, |b| {
        b.max_frame_size(max_frame)
            .max_message_size(max_message)
            .accept_unmasked_frames(accept_unmasked)
            .auto_pong(auto_pong)
            .read_buffer_size(read_buffer)
    });
    let max_chunk = [1, 7, 300, 0][usize::from(chunking & 3)];
    let mode =
        [FeedMode::Receive, FeedMode::ReadBuf, FeedMode::Mixed, FeedMode::Mixed][usize::from((chunking >> 2) & 3)];
    let eager_drain = chunking & 0x10 != 0;
    let mut chunker = Chunker::new(seed ^ u64::from(chunking), max_chunk);
    let mut conn = Connection::new(role, config.clone());
    let mut log = EventLog::new(&config);
    let mut wire = Vec::new();

    // Feed in up to 8 slices, draining output between them when asked to.
    let now = Instant::ZERO;
    let mut rest = stream;
    while !rest.is_empty() {
        let cut = rest.len().div_ceil(8).max(1).min(rest.len());
        let (piece, tail) = rest.split_at(cut);
        feed(&mut conn, now, piece, &mut chunker, mode, &mut log);
        rest = tail;
        if eager_drain {
            drain(&mut conn, &mut chunker, &mut wire);
        }
    }
    if eof {
        conn.receive_eof(now);
    }
    log.poll_all(&mut conn);
    drain(&mut conn, &mut chunker, &mut wire);

    // The events are exactly the reference decoder's prediction.
    let rules = RefRules { role, accept_unmasked, max_frame, max_message };
    let expected = reference_decode(stream, &rules);
    same_messages(&log.messages, &expected.messages, &format!("{role:?}: messages vs the reference decoder"));
    let closed = log.closed.clone();
    match (&expected.end, &closed) {
        (RefEnd::NeedMore, None) => assert!(!eof, "{role:?}: EOF but no Closed"),
        (RefEnd::NeedMore, Some(c)) => {
            assert!(eof, "{role:?}: Closed {c:?} without a reason");
            assert_eq!(c.cause, CloseCause::TransportEof);
        }
        (RefEnd::Error(e), Some(c)) => {
            assert_eq!(c.cause, CloseCause::Protocol(e.clone()), "{role:?}: wrong failure")
        }
        (RefEnd::PeerClose(frame), Some(c)) => {
            assert_eq!(c.cause, CloseCause::PeerInitiated, "{role:?}");
            match frame {
                Some((code, reason)) => {
                    assert_eq!((c.code, c.reason.as_str()), (*code, reason.as_str()))
                }
                None => assert_eq!(c.code, CloseCode::NO_STATUS),
            }
        }
        (end, None) => panic!("{role:?}: expected {end:?}, got no Closed"),
    }

    // The output: pongs answering pings (in order, coalesced), then the close frame.
    let out = parse_output(&wire, role, None);
    let pings: Vec<&Bytes> = log
        .messages
        .iter()
        .filter_map(|m| match m {
            Message::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut next_ping = 0;
    for item in &out.items {
        match item {
            OutItem::Message(Message::Pong(p)) => {
                assert!(auto_pong, "{role:?}: a pong with auto_pong off");
                let found = pings[next_ping..]
                    .iter()
                    .position(|q| *q == p)
                    .unwrap_or_else(|| panic!("{role:?}: pong {p:?} answers no ping in order"));
                next_ping += found + 1;
            }
            OutItem::Message(m) => panic!("{role:?}: the engine sent {m:?} by itself"),
            OutItem::Close(_) => {}
        }
    }
    assert!(!out.cut_message);
    let close = out.close().cloned();
    match (&expected.end, close) {
        (RefEnd::NeedMore, None) => {}
        (RefEnd::Error(e), Some(Some((code, _)))) => assert_eq!(code, e.close_code()),
        (RefEnd::PeerClose(None), Some(None)) => {}
        (RefEnd::PeerClose(Some((code, _))), Some(Some((echo, reason)))) => {
            assert_eq!((echo, reason.as_str()), (*code, ""), "{role:?}: close echo")
        }
        (end, close) => panic!("{role:?}: after {end:?} the engine wrote close {close:?}"),
    }
    check_with_peer_engine(&wire, role, &out);
}

// ============================================================================================
// Targets: connection_server, connection_client.
// ============================================================================================

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

/// What a frame from the peer carries.
#[derive(Arbitrary, Debug)]
pub enum PeerPayload {
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// UTF-8 text.
    Text(String),
    /// `len` copies of `byte` (large frames from a small input).
    Repeat {
        /// The byte.
        byte: u8,
        /// How many.
        len: u16,
    },
    /// A close payload.
    Close {
        /// The code.
        code: u16,
        /// The reason.
        reason: String,
    },
}

/// A frame's opcode.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum PeerOpcode {
    /// 0x0
    Continuation,
    /// 0x1
    Text,
    /// 0x2
    Binary,
    /// 0x8
    Close,
    /// 0x9
    Ping,
    /// 0xA
    Pong,
    /// Any 4 bits.
    Raw(u8),
}

/// One frame as the peer might send it: valid by default, with optional quirks.
#[derive(Arbitrary, Debug)]
pub struct PeerFrame {
    /// FIN bit.
    pub fin: bool,
    /// Opcode.
    pub opcode: PeerOpcode,
    /// Payload.
    pub payload: PeerPayload,
    /// Mask key (used when the peer is a client).
    pub key: [u8; 4],
    /// Deviations from a well-formed frame.
    pub quirk: Quirk,
}

/// Ways a peer frame deviates from a well-formed one.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Quirk {
    /// Well-formed.
    None,
    /// Mask bit the wrong way for the role.
    WrongMask,
    /// RSV bits.
    Rsv(u8),
    /// A longer length encoding than needed.
    NonMinimalLength,
    /// Announce `len + extra` bytes (the payload then runs into what follows).
    LengthPlus(u16),
}

/// Peer bytes: frames and raw bytes, concatenated.
#[derive(Arbitrary, Debug)]
pub enum PeerPiece {
    /// A frame.
    Frame(PeerFrame),
    /// Raw bytes.
    Raw(Vec<u8>),
    /// A well-formed fragmented message: `count` frames of `each` bytes (reaches the message
    /// limit, which single frames cannot).
    Fragmented {
        /// Text (ASCII) or binary.
        text: bool,
        /// Frames.
        count: u8,
        /// Bytes per frame.
        each: u16,
        /// Mask key (when the peer is a client).
        key: [u8; 4],
    },
}

/// Peer bytes one step builds at most (beyond this, pieces are skipped).
const PEER_BYTES_PER_STEP: usize = 256 << 10;

/// Close codes worth trying: every boundary of the sendable ranges, and then any value.
fn close_code_from(raw: u16) -> u16 {
    const INTERESTING: [u16; 24] = [
        1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 2999,
        3000, 3999, 4000, 4999, 5000, 0,
    ];
    if raw < 0x8000 {
        INTERESTING[usize::from(raw) % INTERESTING.len()]
    } else {
        raw & 0x7FFF
    }
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
        /// Through `send_text`/`send_binary` (copied from a slice) instead of `send`.
        borrowed: bool,
    },
    /// `send_text(&str)` (the borrowed path).
    SendTextRef(String),
    /// `send_binary(&[u8])` (the borrowed path).
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

fn encode_peer_frame(f: &PeerFrame, peer: Role, out: &mut Vec<u8>) {
    let mut payload = match &f.payload {
        PeerPayload::Bytes(b) => b.clone(),
        PeerPayload::Text(s) => s.as_bytes().to_vec(),
        PeerPayload::Repeat { byte, len } => vec![*byte; usize::from(*len)],
        PeerPayload::Close { code, reason } => {
            let mut p = close_code_from(*code).to_be_bytes().to_vec();
            p.extend_from_slice(reason.as_bytes());
            p
        }
    };
    let opcode = match f.opcode {
        PeerOpcode::Continuation => 0,
        PeerOpcode::Text => 1,
        PeerOpcode::Binary => 2,
        PeerOpcode::Close => 8,
        PeerOpcode::Ping => 9,
        PeerOpcode::Pong => 10,
        PeerOpcode::Raw(b) => b & 0xF,
    };
    let mut masked = peer == Role::Client;
    let mut b0 = (u8::from(f.fin) << 7) | opcode;
    let mut announced = payload.len() as u64;
    let mut non_minimal = false;
    match f.quirk {
        Quirk::None => {}
        Quirk::WrongMask => masked = !masked,
        Quirk::Rsv(r) => b0 |= (r & 7) << 4,
        Quirk::NonMinimalLength => non_minimal = true,
        Quirk::LengthPlus(extra) => announced += u64::from(extra),
    }
    out.push(b0);
    let m = if masked { 0x80 } else { 0 };
    if announced < 126 && !non_minimal {
        out.push(m | announced as u8);
    } else if announced <= 0xFFFF && !(non_minimal && announced >= 126) {
        out.push(m | 126);
        out.extend_from_slice(&(announced as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&announced.to_be_bytes());
    }
    if masked {
        out.extend_from_slice(&f.key);
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= f.key[i % 4];
        }
    }
    out.extend_from_slice(&payload);
}

/// Bytes an engine of `role` writes for one data message of `len` bytes.
fn encoded_len(len: usize, fragment_size: Option<usize>, role: Role) -> usize {
    let header = |n: usize| {
        let base = if n < 126 {
            2
        } else if n <= 0xFFFF {
            4
        } else {
            10
        };
        base + if role == Role::Client { 4 } else { 0 }
    };
    match fragment_size {
        Some(fs) if len > fs => {
            let full = len / fs;
            let rest = len % fs;
            let mut total = (full) * (header(fs) + fs);
            if rest > 0 {
                total += header(rest) + rest;
            }
            total
        }
        _ => header(len) + len,
    }
}

/// The connection-state model: what the test did and saw.
struct Model {
    role: Role,
    now: Instant,
    fragment_size: Option<usize>,
    keepalive: bool,
    /// Messages `send` accepted (data, ping, pong), in order.
    sent: Vec<Message>,
    /// Our close frame, once `close`/`send(Close)` succeeded.
    our_close: Option<Option<(CloseCode, String)>>,
    /// Upper bound on bytes our own sends queued since the transmit queue was last empty.
    app_queued: usize,
    wire: Vec<u8>,
    chunker: Chunker,
}

impl Model {
    /// Invariants that hold between any two calls.
    fn check(&mut self, conn: &Connection, log: &EventLog) {
        let state = conn.state();
        assert_eq!(
            state == State::Closed,
            log.closed.is_some(),
            "state() is {state:?} but Closed was{} handed out",
            if log.closed.is_some() { "" } else { " not" }
        );
        assert_eq!(conn.closed(), log.closed.as_ref(), "closed() disagrees with events");
        assert_eq!(conn.can_send(), state == State::Open, "can_send() vs state() {state:?}");
        if self.our_close.is_some() && log.closed.is_none() {
            assert_eq!(state, State::Closing, "state() after our close");
        }
        if conn.should_shutdown() {
            assert_eq!(state, State::Closed, "should_shutdown() before Closed");
        }
        if conn.buffered_transmit() == 0 {
            self.app_queued = 0;
        }
        // What the engine queues by itself (pongs up to the urgent cap, a pending pong, a
        // keepalive ping, a close) is bounded: the queue grows only with what is sent.
        let bound = self.app_queued + ENGINE_EXTRA;
        assert!(
            conn.buffered_transmit() <= bound,
            "buffered_transmit() is {} but sends since the queue was last empty add up to {} \
             (the engine queued more than {ENGINE_EXTRA} bytes by itself)",
            conn.buffered_transmit(),
            self.app_queued
        );
    }

    fn send(&mut self, conn: &mut Connection, message: Message) {
        self.send_via(conn, message, false);
    }

    /// `send`, or with `borrowed` the `send_text`/`send_binary` path for data messages.
    fn send_via(&mut self, conn: &mut Connection, message: Message, borrowed: bool) {
        let can = conn.can_send();
        let expected = if !can {
            Err(SendError::AlreadyClosed)
        } else {
            match &message {
                Message::Ping(p) | Message::Pong(p) if p.len() > 125 => {
                    Err(SendError::ControlPayloadTooLarge { len: p.len() })
                }
                Message::Close(Some(f)) => CloseFrame::new(f.code, f.reason.clone()).map(|_| ()),
                _ => Ok(()),
            }
        };
        let before = conn.buffered_transmit();
        let got = match &message {
            Message::Text(t) if borrowed => conn.send_text(t.as_str()),
            Message::Binary(b) if borrowed => conn.send_bytes(b),
            _ => conn.send(message.clone()),
        };
        assert_eq!(got, expected, "send({}) result", describe(&message));
        tally("send: ", &got);
        if got.is_err() {
            assert_eq!(conn.buffered_transmit(), before, "a failed send queued bytes");
            return;
        }
        let len = message.len();
        self.app_queued += match &message {
            Message::Text(_) | Message::Binary(_) => encoded_len(len, self.fragment_size, self.role),
            _ => encoded_len(len, None, self.role),
        };
        match message {
            Message::Close(f) => {
                self.our_close = Some(f.map(|f| (f.code, String::from(f.reason.as_str()))));
            }
            m => self.sent.push(m),
        }
    }

    fn close(&mut self, conn: &mut Connection, code: CloseCode, reason: &str) {
        let expected =
            if !conn.can_send() { Err(SendError::AlreadyClosed) } else { CloseFrame::new(code, reason).map(|_| ()) };
        let got = conn.close(self.now, code, reason);
        assert_eq!(got, expected, "close({code:?}, {} bytes) result", reason.len());
        tally("close: ", &got);
        if got.is_ok() {
            self.app_queued += encoded_len(2 + reason.len(), None, self.role);
            self.our_close = Some(Some((code, String::from(reason))));
        }
    }

    fn after_timeout(&self, conn: &Connection) {
        if let Some(t) = conn.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout() is {t:?}, not after the handle_timeout({:?}) just made: a driver would spin",
                self.now
            );
        }
    }
}

/// `str::floor_char_boundary` for toolchains before it was stable.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, max: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, max: usize) -> usize {
        let mut cut = max.min(self.len());
        while !self.is_char_boundary(cut) {
            cut -= 1;
        }
        cut
    }
}

/// Panic, with a short description (no payload dumps), unless `got == expected`.
fn same_messages(got: &[Message], expected: &[Message], what: &str) {
    if got == expected {
        return;
    }
    let at = got.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(got.len().min(expected.len()));
    panic!(
        "{what}: {} messages, expected {}; first difference at #{at}: got {:?}, expected {:?}",
        got.len(),
        expected.len(),
        got.get(at).map(describe),
        expected.get(at).map(describe)
    );
}

fn describe(m: &Message) -> String {
    let mut s = String::new();
    let _ = match m {
        Message::Text(t) => write!(s, "Text({} bytes: {:?})", t.len(), &t[..t.floor_char_boundary_compat(24)]),
        Message::Binary(b) => write!(s, "Binary({} bytes: {:?})", b.len(), &b[..b.len().min(24)]),
        Message::Ping(b) => write!(s, "Ping({:?})", &b[..b.len().min(24)]),
        Message::Pong(b) => write!(s, "Pong({:?})", &b[..b.len().min(24)]),
        Message::Close(c) => write!(s, "Close({c:?})"),
    };
    s
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
    let Ok(input) = ConnInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run_connection(role, &input);
}

/// Run one scripted connection and check every invariant (public for debugging a repro).
pub fn run_connection(role: Role, input: &ConnInput) {
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
        chunker: Chunker::new(s.seed, 64),
    };
    for op in &input.ops {
        match op {
            Op::Peer { pieces, mode, max_chunk } => {
                let mut bytes = Vec::new();
                // At most ~256 KiB per step (enough for any limit here), to keep runs fast.
                for p in pieces {
                    if bytes.len() >= PEER_BYTES_PER_STEP {
                        break;
                    }
                    match p {
                        PeerPiece::Frame(f) => encode_peer_frame(f, peer, &mut bytes),
                        PeerPiece::Raw(r) => bytes.extend_from_slice(r),
                        PeerPiece::Fragmented { text, count, each, key } => {
                            let count = usize::from(*count % 16) + 1;
                            for i in 0..count {
                                let frame = PeerFrame {
                                    fin: i + 1 == count,
                                    opcode: match (i, *text) {
                                        (0, true) => PeerOpcode::Text,
                                        (0, false) => PeerOpcode::Binary,
                                        _ => PeerOpcode::Continuation,
                                    },
                                    payload: PeerPayload::Repeat { byte: b'f', len: *each },
                                    key: *key,
                                    quirk: Quirk::None,
                                };
                                encode_peer_frame(&frame, peer, &mut bytes);
                            }
                        }
                    }
                }
                let mut chunker = Chunker::new(s.seed ^ bytes.len() as u64, usize::from(*max_chunk));
                feed(&mut conn, m.now, &bytes, &mut chunker, *mode, &mut log);
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
            Op::Transmit { max, slots } => {
                let slots = 1 + usize::from(*slots % 8);
                let mut chunks = [&[][..]; 8];
                let n = conn.poll_transmit(&mut chunks[..slots]);
                let offered: usize = chunks[..n].iter().map(|c| c.len()).sum();
                let take = if *max == 0 { offered } else { offered.min(usize::from(*max)) };
                let mut left = take;
                for c in &chunks[..n] {
                    let k = left.min(c.len());
                    m.wire.extend_from_slice(&c[..k]);
                    left -= k;
                }
                conn.consume_transmit(take);
            }
            Op::Flush => drain(&mut conn, &mut m.chunker, &mut m.wire),
            Op::Advance(ms) => {
                m.now += Duration::from_millis(u64::from(*ms));
                conn.handle_timeout(m.now);
                m.after_timeout(&conn);
            }
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

    check_connection_output(&m, &closed, closed_first, &log);
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

// ============================================================================================
// Target: roundtrip.
// ============================================================================================

/// A message for the round trip.
#[derive(Arbitrary, Debug)]
pub enum RtMessage {
    /// Text.
    Text(String),
    /// Binary.
    Binary(Vec<u8>),
    /// A large message of `len % 70_000` bytes (crosses the 64-bit length boundary).
    Large {
        /// Text (multi-byte characters) or binary.
        text: bool,
        /// Size.
        len: u32,
    },
    /// A ping (payload cut to 125 bytes).
    Ping(Vec<u8>),
    /// A pong (payload cut to 125 bytes).
    Pong(Vec<u8>),
}

impl RtMessage {
    fn to_message(&self) -> Message {
        match self {
            RtMessage::Text(t) => Message::text(t.as_str()),
            RtMessage::Binary(b) => Message::binary(b.clone()),
            RtMessage::Large { text: true, len } => {
                let len = (*len % 70_000) as usize;
                let mut s = "€".repeat(len / 3);
                s.push_str(&"y".repeat(len % 3));
                Message::text(s)
            }
            RtMessage::Large { text: false, len } => {
                let len = (*len % 70_000) as usize;
                Message::binary((0..len).map(|i| i as u8).collect::<Vec<u8>>())
            }
            RtMessage::Ping(p) => Message::Ping(Bytes::from(p[..p.len().min(125)].to_vec())),
            RtMessage::Pong(p) => Message::Pong(Bytes::from(p[..p.len().min(125)].to_vec())),
        }
    }
}

/// The structured input of the round trip.
#[derive(Arbitrary, Debug)]
pub struct RoundtripInput {
    /// Client fragmentation (0 = off).
    pub client_fragment: u16,
    /// Server fragmentation (0 = off).
    pub server_fragment: u16,
    /// Chunking seed.
    pub seed: u64,
    /// Largest chunk moved at once (0 = everything).
    pub max_chunk: u16,
    /// How each side reads.
    pub client_mode: FeedMode,
    /// How each side reads.
    pub server_mode: FeedMode,
    /// Who closes: 0 client, 1 server, 2 both at once.
    pub closer: u8,
    /// Close code offset into the sendable range.
    pub close_code: u16,
    /// Close reason (cut to 123 bytes on a character boundary).
    pub reason: String,
    /// Steps: (from client?, message, move bytes afterwards?).
    pub steps: Vec<(bool, RtMessage, bool)>,
}

/// Arbitrary messages and chunking (and fragment sizes): whatever one role sends, the other
/// receives exactly, in both directions, and the close handshake completes cleanly.
pub fn roundtrip(data: &[u8]) {
    let Ok(input) = RoundtripInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run_roundtrip(&input);
}

struct Side {
    conn: Connection,
    log: EventLog,
    mode: FeedMode,
    sent: Vec<Message>,
    shut: bool,
}

/// Run one round trip (public for debugging a repro).
pub fn run_roundtrip(input: &RoundtripInput) {
    let frag = |f: u16| (f != 0).then_some(usize::from(f));
    let make = |role: Role, fragment: u16, seed: u64, mode: FeedMode| {
        let config = config_with(seed, |b| {
            b.max_message_size(1 << 20).max_frame_size(1 << 20).auto_pong(false).fragment_size(frag(fragment))
        });
        Side {
            conn: Connection::new(role, config.clone()),
            log: EventLog::new(&config),
            mode,
            sent: Vec::new(),
            shut: false,
        }
    };
    let mut client = make(Role::Client, input.client_fragment, input.seed, input.client_mode);
    let mut server = make(Role::Server, input.server_fragment, !input.seed, input.server_mode);
    let mut chunker = Chunker::new(input.seed, usize::from(input.max_chunk));
    let now = Instant::ZERO;

    for (from_client, msg, move_now) in &input.steps {
        let side = if *from_client { &mut client } else { &mut server };
        let msg = msg.to_message();
        // Half the data messages go through the borrowed path (`send_text`/`send_binary`).
        let sent = match &msg {
            Message::Text(t) if chunker.one_in(2) => side.conn.send_text(t.as_str()),
            Message::Binary(b) if chunker.one_in(2) => side.conn.send_bytes(b),
            _ => side.conn.send(msg.clone()),
        };
        sent.expect("send on an open connection");
        side.sent.push(msg);
        if *move_now {
            transfer(&mut client, &mut server, now, &mut chunker);
        }
    }
    // Close: a valid code from the input, a reason cut to fit.
    let code = CloseCode::new(3000 + input.close_code % 2000).expect("non-zero");
    let mut reason = input.reason.clone();
    let mut cut = reason.len().min(123);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    reason.truncate(cut);
    match input.closer % 3 {
        0 => client.conn.close(now, code, &reason).expect("client close"),
        1 => server.conn.close(now, code, &reason).expect("server close"),
        _ => {
            client.conn.close(now, code, &reason).expect("client close");
            server.conn.close(now, code, &reason).expect("server close");
        }
    }
    for _ in 0..100_000 {
        if !transfer(&mut client, &mut server, now, &mut chunker) {
            break;
        }
    }
    for (name, side, other) in [("client", &client, &server), ("server", &server, &client)] {
        same_messages(&side.log.messages, &other.sent, &format!("the {name} received vs what was sent"));
        let closed = side.log.closed.as_ref().unwrap_or_else(|| panic!("{name}: no Closed"));
        assert!(closed.is_clean(), "{name}: unclean close {closed:?}");
        assert_eq!(closed.code, code, "{name}: close code");
        assert!(side.conn.should_shutdown(), "{name}: should_shutdown()");
    }
    match input.closer % 3 {
        0 => {
            assert_eq!(server.log.closed.as_ref().map(|c| c.reason.as_str()), Some(reason.as_str()));
            assert_eq!(client.log.closed.as_ref().map(|c| &c.cause), Some(&CloseCause::LocallyInitiated));
        }
        1 => {
            assert_eq!(client.log.closed.as_ref().map(|c| c.reason.as_str()), Some(reason.as_str()));
            assert_eq!(server.log.closed.as_ref().map(|c| &c.cause), Some(&CloseCause::LocallyInitiated));
        }
        _ => {}
    }
}

/// Move bytes both ways once (and transport ends); true if anything happened.
fn transfer(client: &mut Side, server: &mut Side, now: Instant, chunker: &mut Chunker) -> bool {
    let a = one_way(client, server, now, chunker);
    let b = one_way(server, client, now, chunker);
    a || b
}

fn one_way(from: &mut Side, to: &mut Side, now: Instant, chunker: &mut Chunker) -> bool {
    if from.shut {
        return false;
    }
    let mut progress = false;
    let mut bytes = Vec::new();
    drain(&mut from.conn, chunker, &mut bytes);
    if !bytes.is_empty() {
        progress = true;
        feed(&mut to.conn, now, &bytes, chunker, to.mode, &mut to.log);
    }
    to.log.poll_all(&mut to.conn);
    if from.conn.should_shutdown() {
        from.shut = true;
        to.conn.receive_eof(now);
        to.log.poll_all(&mut to.conn);
        progress = true;
    }
    progress
}

// ============================================================================================
// Targets: server_handshake, client_handshake.
// ============================================================================================

/// Real upgrade requests as browsers and libraries send them (header sets and order as those
/// clients write them); used as valid prefixes and as seeds.
pub const REQUESTS: &[&str] = &[
    // Chromium.
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\nOrigin: https://example.com\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    // Firefox.
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nSec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nConnection: keep-alive, Upgrade\r\nSec-Fetch-Dest: empty\r\nSec-Fetch-Mode: websocket\r\nSec-Fetch-Site: same-origin\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n\r\n",
    // Python websockets.
    "GET /chat HTTP/1.1\r\nHost: localhost:8765\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nUser-Agent: Python/3.12 websockets/12.0\r\n\r\n",
    // Node ws.
    "GET /chat HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: E4WSEcseoWr4csPLS2QJHA==\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nHost: localhost:8080\r\n\r\n",
    // curl.
    "GET /chat HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: Upgrade\r\n\r\n",
    // RFC 6455 §1.3, with a subprotocol offer.
    "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n",
];

/// Response templates (`{accept}` is replaced by the right `Sec-WebSocket-Accept`).
pub const RESPONSES: &[&str] = &[
    // RFC 6455 §1.3 / tether's own shape.
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
    // Python websockets.
    "HTTP/1.1 101 Switching Protocols\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nServer: Python/3.12 websockets/12.0\r\n\r\n",
    // Node ws.
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
    // nginx in front of something.
    "HTTP/1.1 101 Switching Protocols\r\nServer: nginx/1.24.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nConnection: upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
];

/// The `Sec-WebSocket-Key` the fuzzed client sends: its rng is seeded with this.
const CLIENT_SEED: u64 = 0x7e7e_7e7e;

/// Where the HTTP head in `bytes` ends: after the first empty line (CRLF or bare LF) that
/// follows the start line; empty lines before the start line are skipped (RFC 9112 §2.2).
fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'\n'), _) => i += 1,
            (Some(b'\r'), Some(b'\n')) => i += 2,
            _ => break,
        }
    }
    let mut j = i;
    while j < bytes.len() {
        if bytes[j] == b'\n' {
            match (bytes.get(j + 1), bytes.get(j + 2)) {
                (Some(b'\n'), _) => return Some(j + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(j + 3),
                _ => {}
            }
        }
        j += 1;
    }
    None
}

/// The lines of a head we wrote: CRLF only, no NUL, no bare CR or LF, ending in an empty
/// line. Returns the lines (without the final empty one).
fn written_head_lines<'a>(head: &'a [u8], what: &str) -> Vec<&'a [u8]> {
    let end = find(head, b"\r\n\r\n").unwrap_or_else(|| panic!("{what}: head never ends"));
    let head = &head[..end + 2];
    for (i, &b) in head.iter().enumerate() {
        assert!(b != 0, "{what}: NUL in the head");
        if b == b'\n' {
            assert!(i > 0 && head[i - 1] == b'\r', "{what}: bare LF in the head");
        }
        if b == b'\r' {
            assert_eq!(head.get(i + 1), Some(&b'\n'), "{what}: bare CR in the head");
        }
    }
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').map(|l| &l[..l.len().saturating_sub(1)]).collect();
    lines.pop();
    lines
}

/// A well-formed HTTP/1.1 response head with `status`; returns its header lines.
fn check_response_head<'a>(bytes: &'a [u8], status: u16, what: &str) -> Vec<&'a [u8]> {
    let prefix = format!("HTTP/1.1 {status} ");
    assert!(
        bytes.starts_with(prefix.as_bytes()),
        "{what}: response does not start with {prefix:?}: {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
    );
    let mut lines = written_head_lines(bytes, what);
    lines.remove(0);
    for line in &lines {
        let colon = line.iter().position(|&b| b == b':');
        assert!(
            colon.is_some_and(|c| c > 0),
            "{what}: header line without a name: {:?}",
            String::from_utf8_lossy(line)
        );
    }
    lines
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` in our own written lines.
fn line_value<'a>(lines: &[&'a [u8]], name: &str) -> Option<&'a [u8]> {
    lines.iter().find_map(|l| {
        let c = l.iter().position(|&b| b == b':')?;
        l[..c].eq_ignore_ascii_case(name.as_bytes()).then(|| l[c + 1..].trim_ascii())
    })
}

/// Arbitrary bytes as an upgrade request (raw, after a real client's valid prefix, or after a
/// complete real request), fed in input-derived chunks: no panic; never more than the head
/// limit buffered; an error sticks and maps to a well-formed error response with its status;
/// a complete request can be rejected (well-formed response, any status) or accepted (with
/// input-chosen options: typed errors only, and no header injection), and the accepted
/// connection holds exactly the bytes after the head and decodes them (and what follows)
/// exactly as the reference decoder does.
///
/// Layout: byte 0 = mode, byte 1 = chunking and limits, byte 2 = what to do on success,
/// rest = input.
pub fn server_handshake(data: &[u8]) {
    let mut c = Cursor { data };
    let mode = c.u8();
    let chunking = c.u8();
    let action = c.u8();
    let tail = c.rest();
    let pick = usize::from(mode / 4) % REQUESTS.len();
    let input: Vec<u8> = match mode % 4 {
        // Raw bytes.
        0 => tail.to_vec(),
        // A real request without its final empty line (1) or cut inside the head (2), then
        // the tail.
        1 | 2 => {
            let req = REQUESTS[pick].as_bytes();
            let mut v = req[..req.len() - 2].to_vec();
            if mode % 4 == 2 {
                v.truncate(usize::from(mode) * 7 % (req.len() - 2));
            }
            v.extend_from_slice(tail);
            v
        }
        // A complete real request, then the tail (frames for the connection).
        _ => {
            let mut v = REQUESTS[pick].as_bytes().to_vec();
            v.extend_from_slice(tail);
            v
        }
    };
    let limit = if chunking & 0x80 != 0 { 256 } else { 8 << 10 };
    let max_headers = if chunking & 0x20 != 0 { 8 } else { 64 };
    let config = config_with(u64::from(mode), |b| {
        b.max_handshake_bytes(limit)
            .max_handshake_headers(max_headers)
            .max_frame_size(16 << 10)
            .max_message_size(64 << 10)
    });
    let max_chunk = [1, 5, 64, 0][usize::from(chunking & 3)];
    let mut chunker = Chunker::new(u64::from(chunking), max_chunk);
    let mut hs = ServerHandshake::new(config.clone());
    let mut fed = 0;
    let mut complete = false;
    while fed < input.len() {
        let n = chunker.next(input.len() - fed);
        let result = hs.receive(&input[fed..fed + n]).map(|r| r.is_some());
        fed += n;
        match result {
            Ok(true) => {
                complete = true;
                break;
            }
            Ok(false) => {
                assert!(fed <= limit, "{fed} bytes buffered without a complete head, over the {limit}-byte limit")
            }
            Err(e) => {
                tally("server handshake: ", &e);
                let again = hs.receive(&input[fed..]).map(|r| r.is_some());
                assert_eq!(again, Err(e.clone()), "the error did not stick");
                match ServerHandshake::error_response(&e) {
                    Some(response) => {
                        let status = e
                            .http_status()
                            .unwrap_or_else(|| panic!("an error response for {e:?}, which has no HTTP status"));
                        check_response_head(&response, status, "error_response");
                    }
                    None => panic!("a request error without an error response: {e:?}"),
                }
                return;
            }
        }
    }
    if !complete {
        assert!(hs.request().is_none());
        assert_eq!(
            hs.accept(&AcceptOptions::new()).err(),
            Some(HandshakeError::Incomplete),
            "accept before a complete request"
        );
        return;
    }
    // Bytes fed after completion are kept for the connection too.
    if chunking & 0x40 != 0 && fed < input.len() {
        let n = chunker.next(input.len() - fed);
        let more = hs.receive(&input[fed..fed + n]).map(|r| r.is_some());
        assert_eq!(more, Ok(true), "receive after completion");
        fed += n;
    }
    let request = hs.request().expect("a complete request").clone();
    // Every accessor works on whatever was accepted.
    let _ = (
        request.method(),
        request.uri(),
        request.path(),
        request.query(),
        request.headers().len(),
        request.host(),
        request.origin(),
        request.extensions().len(),
    );
    assert_eq!(request.key().len(), 24, "a key that is not base64 of 16 bytes");
    let offered = request.protocols().to_vec();

    if action & 1 == 1 {
        let status = [0u16, 99, 100, 101, 403, 999, 1000, 65535][usize::from((action >> 1) & 7)];
        let body = action_body(action);
        let response = hs.reject(status, body);
        let sent = if (100..=999).contains(&status) { status } else { 500 };
        let lines = check_response_head(&response, sent, "reject");
        assert!(response.ends_with(body), "reject: body missing");
        let length = line_value(&lines, "content-length").expect("reject: Content-Length");
        assert_eq!(length, body.len().to_string().as_bytes(), "reject: Content-Length");
        return;
    }
    let text = String::from_utf8_lossy(&tail[..tail.len().min(12)]).into_owned();
    let (options, expect_ok, extra_lines) = match (action >> 1) & 3 {
        0 => (AcceptOptions::new(), true, 0),
        1 => match offered.first() {
            Some(p) => (AcceptOptions::new().protocol(p.as_str()), is_token(p), 1),
            None => (AcceptOptions::new().protocol("chat"), false, 1),
        },
        2 => {
            let ok = text.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80);
            (AcceptOptions::new().header("X-Fuzz", text.as_str()), ok, 1)
        }
        _ => {
            let ok = offered.contains(&text) && is_token(&text);
            (AcceptOptions::new().protocol(text.as_str()), ok, 1)
        }
    };
    let accepted = hs.accept(&options);
    tally("server accept: ", &accepted.as_ref().map(|_| ()));
    let mut conn = match accepted {
        Ok(conn) => {
            assert!(expect_ok, "accept with {options:?} succeeded (offered {offered:?})");
            conn
        }
        Err(e) => {
            assert!(!expect_ok, "accept with {options:?} failed with {e:?} (offered {offered:?})");
            assert!(
                matches!(e, HandshakeError::ProtocolNotOffered(_) | HandshakeError::InvalidHeader(_)),
                "accept failed with an unexpected error {e:?}"
            );
            return;
        }
    };
    assert_eq!(conn.protocol(), options.chosen_protocol(), "the connection's subprotocol");
    // What followed the head in the bytes fed so far is in the connection already.
    let leftover = conn.buffered_receive();
    assert!(leftover <= fed, "{leftover} leftover bytes but only {fed} fed");
    let head_len = fed - leftover;
    assert!(head_len <= limit, "a {head_len}-byte head was accepted");
    assert_eq!(
        head_end(&input[..fed]),
        Some(head_len),
        "the head ended elsewhere than the first empty line ({leftover} leftover bytes)"
    );
    let mut chunker = Chunker::new(u64::from(chunking) << 8, 97);
    let mut response = Vec::new();
    drain(&mut conn, &mut chunker, &mut response);
    let lines = check_response_head(&response, 101, "accept");
    assert_eq!(
        lines.len(),
        3 + extra_lines,
        "accept wrote {} header lines, expected {} (header injection?)",
        lines.len(),
        3 + extra_lines
    );
    assert!(line_value(&lines, "sec-websocket-accept").is_some(), "101 without Sec-WebSocket-Accept");
    assert_eq!(response.len(), find(&response, b"\r\n\r\n").expect("checked") + 4, "bytes after the 101 response head");
    let config = config.clone();
    check_after_handshake(conn, &input[head_len..], leftover, &config, &mut chunker);
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn action_body(action: u8) -> &'static [u8] {
    match action >> 6 {
        0 => b"",
        1 => b"go away",
        2 => b"{\"error\":\"nope\"}\r\n\r\n",
        _ => b"\x00\xff binary",
    }
}

/// The connection a handshake produced holds `stream[..already]`; feed the rest and compare
/// with the reference decoder.
fn check_after_handshake(mut conn: Connection, stream: &[u8], already: usize, config: &Config, chunker: &mut Chunker) {
    let role = conn.role();
    let mut log = EventLog::new(config);
    log.poll_all(&mut conn);
    feed(&mut conn, Instant::ZERO, &stream[already..], chunker, FeedMode::Mixed, &mut log);
    let expected = reference_decode(
        stream,
        &RefRules {
            role,
            accept_unmasked: config.accept_unmasked_frames(),
            max_frame: config.max_frame_size(),
            max_message: config.max_message_size(),
        },
    );
    same_messages(
        &log.messages,
        &expected.messages,
        &format!("{role:?}: messages after the handshake vs the reference"),
    );
    match (&expected.end, &log.closed) {
        (RefEnd::NeedMore, None) => {}
        (RefEnd::Error(e), Some(c)) => assert_eq!(c.cause, CloseCause::Protocol(e.clone())),
        (RefEnd::PeerClose(_), Some(c)) => assert_eq!(c.cause, CloseCause::PeerInitiated),
        (end, closed) => panic!("{role:?}: expected {end:?}, got {closed:?}"),
    }
    let mut wire = Vec::new();
    drain(&mut conn, chunker, &mut wire);
    parse_output(&wire, role, config.fragment_size());
}

thread_local! {
    /// The request our fuzzed client sends and the accept value answering it.
    static CLIENT_ACCEPT: std::cell::RefCell<Option<(Vec<u8>, String)>> =
        const { std::cell::RefCell::new(None) };
}

fn client_config(limit: usize, max_headers: usize) -> Config {
    config_with(CLIENT_SEED, |b| {
        b.max_handshake_bytes(limit)
            .max_handshake_headers(max_headers)
            .max_frame_size(16 << 10)
            .max_message_size(64 << 10)
    })
}

/// The right `Sec-WebSocket-Accept` for `request`, computed by our own server.
fn accept_for(request: &[u8]) -> String {
    if let Some(hit) = CLIENT_ACCEPT.with(|c| c.borrow().as_ref().filter(|(r, _)| r == request).map(|(_, a)| a.clone()))
    {
        return hit;
    }
    let mut server = ServerHandshake::new(Config::default());
    let parsed = server.receive(request).map(|r| r.is_some());
    assert_eq!(parsed, Ok(true), "our server rejects our client's request:\n{}", String::from_utf8_lossy(request));
    let mut conn = server.accept(&AcceptOptions::default()).expect("default accept");
    let mut response = Vec::new();
    drain(&mut conn, &mut Chunker::new(1, 0), &mut response);
    let lines = written_head_lines(&response, "accept");
    let accept = line_value(&lines, "sec-websocket-accept").expect("our 101 carries Sec-WebSocket-Accept");
    let accept = String::from_utf8(accept.to_vec()).expect("base64");
    CLIENT_ACCEPT.with(|c| *c.borrow_mut() = Some((request.to_vec(), accept.clone())));
    accept
}

/// Arbitrary bytes as the server's response to a real `ClientHandshake` (raw, after a valid
/// prefix, or after a complete valid response from a real server's header set), fed in
/// input-derived chunks: no panic; never more than the head limit buffered; an error
/// sticks; before success `into_connection` fails with a typed error; on success the
/// connection holds exactly the bytes after the head and decodes them (and what follows) as
/// the reference decoder does. Mode 4 builds requests instead (`from_url`, or
/// `ClientRequest::new` with origin, a header and subprotocols from the input): whatever
/// `ClientHandshake::new` accepts is a well-formed head without injected lines that our
/// server accepts, with the same subprotocol offer, and a full handshake with it completes.
///
/// Layout: byte 0 = mode, byte 1 = chunking and limits, rest = input.
pub fn client_handshake(data: &[u8]) {
    let mut c = Cursor { data };
    let mode = c.u8();
    let chunking = c.u8();
    if mode % 5 == 4 {
        return client_build(mode, c.rest());
    }
    let limit = if chunking & 0x80 != 0 { 256 } else { 8 << 10 };
    let max_headers = if chunking & 0x20 != 0 { 8 } else { 64 };
    let config = client_config(limit, max_headers);
    let request = ClientRequest::from_url("ws://example.com/chat").expect("a valid URL");
    let mut hs = ClientHandshake::new(request, config.clone()).expect("a valid request");
    let request_bytes = hs.request_bytes().to_vec();
    let tail = c.rest();
    let template = RESPONSES[usize::from(mode / 5) % RESPONSES.len()];
    let input: Vec<u8> = match mode % 5 {
        0 => tail.to_vec(),
        1 | 2 => {
            let full = template.replace("{accept}", &accept_for(&request_bytes));
            let mut v = full.as_bytes()[..full.len() - 2].to_vec();
            if mode % 5 == 2 {
                v.truncate(usize::from(mode) * 11 % (full.len() - 2));
            }
            v.extend_from_slice(tail);
            v
        }
        _ => {
            let full = template.replace("{accept}", &accept_for(&request_bytes));
            let mut v = full.into_bytes();
            v.extend_from_slice(tail);
            v
        }
    };
    let max_chunk = [1, 5, 64, 0][usize::from(chunking & 3)];
    let mut chunker = Chunker::new(u64::from(chunking), max_chunk);
    let mut fed = 0;
    let mut done = false;
    while fed < input.len() {
        let n = chunker.next(input.len() - fed);
        let result = hs.receive(&input[fed..fed + n]).map(|r| r.is_some());
        fed += n;
        match result {
            Ok(true) => {
                done = true;
                break;
            }
            Ok(false) => assert!(
                fed <= limit,
                "{fed} bytes buffered without a complete response head, over the {limit}-byte limit"
            ),
            Err(e) => {
                tally("client handshake: ", &e);
                let again = hs.receive(&input[fed..]).map(|r| r.is_some());
                assert_eq!(again, Err(e.clone()), "the error did not stick");
                assert_eq!(hs.into_connection().err(), Some(e), "into_connection after an error");
                return;
            }
        }
    }
    if !done {
        assert_eq!(
            hs.into_connection().err(),
            Some(HandshakeError::Incomplete),
            "into_connection() before the response was complete"
        );
        return;
    }
    if chunking & 0x40 != 0 && fed < input.len() {
        let n = chunker.next(input.len() - fed);
        let more = hs.receive(&input[fed..fed + n]).map(|r| r.is_some());
        assert_eq!(more, Ok(true), "receive after completion");
        fed += n;
    }
    tally("client handshake: ", &"complete");
    let conn = hs.into_connection().expect("into_connection() after a complete response");
    assert_eq!(conn.role(), Role::Client);
    assert_eq!(conn.protocol(), None, "a subprotocol nobody offered");
    let leftover = conn.buffered_receive();
    assert!(leftover <= fed, "{leftover} leftover bytes but only {fed} fed");
    let head_len = fed - leftover;
    assert!(head_len <= limit, "a {head_len}-byte response head was accepted");
    assert_eq!(head_end(&input[..fed]), Some(head_len), "the response head ended elsewhere than the first empty line");
    let mut chunker = Chunker::new(u64::from(chunking) << 8, 97);
    check_after_handshake(conn, &input[head_len..], leftover, &config, &mut chunker);
}

/// Build a request from input fields (NUL-separated: URL or host, path, origin, header name,
/// header value, subprotocols...) and check it end to end against our server.
fn client_build(mode: u8, rest: &[u8]) {
    let text = String::from_utf8_lossy(rest).into_owned();
    let fields: Vec<&str> = text.split('\0').collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    let mut request = if mode & 0x80 == 0 {
        match ClientRequest::from_url(field(0)) {
            Ok(r) => r,
            Err(e) => {
                assert!(matches!(e, HandshakeError::InvalidUrl(_)), "from_url failed with {e:?}");
                return;
            }
        }
    } else {
        ClientRequest::new(field(0), field(1))
    };
    let _ = (request.host(), request.port(), request.is_secure(), request.path(), request.host_header());
    let origin = (mode & 0x40 != 0).then(|| field(2));
    if let Some(o) = origin {
        request = request.origin(o);
    }
    let header = (mode & 0x20 != 0).then(|| (field(3), field(4)));
    if let Some((n, v)) = header {
        request = request.header(n, v);
    }
    let protocols: Vec<&str> = fields.iter().skip(5).copied().take(4).collect();
    for p in &protocols {
        request = request.protocol(*p);
    }
    let hs = match ClientHandshake::new(request, client_config(8 << 10, 64)) {
        Ok(hs) => hs,
        Err(e) => {
            tally("client build: ", &e);
            assert!(
                matches!(e, HandshakeError::InvalidHeader(_) | HandshakeError::InvalidUrl(_)),
                "ClientHandshake::new failed with {e:?}"
            );
            return;
        }
    };
    let bytes = hs.request_bytes().to_vec();
    let mut lines = written_head_lines(&bytes, "request");
    assert_eq!(head_end(&bytes), Some(bytes.len()), "an empty line inside the request head");
    let request_line = lines.remove(0);
    assert!(request_line.starts_with(b"GET /") && request_line.ends_with(b" HTTP/1.1"));
    let expected_lines =
        5 + usize::from(origin.is_some()) + usize::from(!protocols.is_empty()) + usize::from(header.is_some());
    assert_eq!(lines.len(), expected_lines, "request header lines (injection?)");
    let mut server = ServerHandshake::new(Config::default());
    let parsed = server.receive(&bytes).map(|r| r.cloned());
    let req = match parsed {
        Ok(Some(req)) => req,
        other => panic!("our server rejects our client's request: {other:?}\n{}", String::from_utf8_lossy(&bytes)),
    };
    let offered: Vec<String> = protocols.iter().map(|p| String::from(*p)).collect();
    assert_eq!(req.protocols(), offered.as_slice(), "the subprotocol offer changed on the way");
    if let Some(o) = origin {
        assert_eq!(req.origin(), Some(o.trim_matches(|c| c == ' ' || c == '\t')), "Origin");
    }
    // Full handshake, the server choosing the last offer.
    let options = match protocols.last() {
        Some(p) => AcceptOptions::new().protocol(*p),
        None => AcceptOptions::new(),
    };
    let mut conn = server.accept(&options).expect("accepting an offered subprotocol");
    let mut response = Vec::new();
    drain(&mut conn, &mut Chunker::new(3, 0), &mut response);
    let mut hs = hs;
    let got = hs.receive(&response).map(|r| r.map(|r| r.protocol().map(String::from)));
    assert_eq!(got, Ok(Some(protocols.last().map(|p| String::from(*p)))), "our client rejects our server's response");
    tally("client build: ", &"complete");
    let client = hs.into_connection().expect("complete");
    assert_eq!(client.protocol(), protocols.last().copied());
    assert_eq!(client.buffered_receive(), 0);
}
