//! Target `roundtrip`: a client and a server engine back to back; whatever one sends, the
//! other receives exactly, under arbitrary chunking and fragmentation, and the close
//! handshake completes cleanly.

use arbitrary::{Arbitrary, Unstructured};
use tether_proto::{Bytes, CloseCause, CloseCode, Connection, Instant, Message, Role};
use tether_testkit::Chunker;

use super::drive::{drain, feed, FeedMode};
use super::events::{same_messages, EventLog};
use super::input::config_with;

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
    if let Some(rest) = data.strip_prefix(super::deflate::DEFLATE_TAG) {
        if let Ok(input) = super::deflate::DeflateRoundtripInput::arbitrary_take_rest(Unstructured::new(rest)) {
            super::deflate::run_deflate_roundtrip(&input);
        }
        return;
    }
    let Ok(input) = RoundtripInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run_roundtrip(&input);
}

pub(crate) struct Side {
    pub(crate) conn: Connection,
    pub(crate) log: EventLog,
    pub(crate) mode: FeedMode,
    pub(crate) sent: Vec<Message>,
    pub(crate) shut: bool,
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
    let mut chunker = Chunker::mixed(input.seed, usize::from(input.max_chunk));
    let now = Instant::ZERO;

    for (from_client, msg, move_now) in &input.steps {
        let side = if *from_client { &mut client } else { &mut server };
        let msg = msg.to_message();
        // Half the data messages go through the borrowed path (`send_text`/`send_bytes`).
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
pub(crate) fn transfer(client: &mut Side, server: &mut Side, now: Instant, chunker: &mut Chunker) -> bool {
    let a = one_way(client, server, now, chunker);
    let b = one_way(server, client, now, chunker);
    a || b
}

pub(crate) fn one_way(from: &mut Side, to: &mut Side, now: Instant, chunker: &mut Chunker) -> bool {
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
