//! The async-layer target's checks on what reached the wire: strict framing for our role,
//! nothing after our close frame or after the transport was shut, and the data messages
//! exactly a subsequence of what was sent (each once, in order), complete when nothing
//! excuses a loss. What does not live here: driving the connection (`mod.rs`).

use tether_proto::{CloseCause, Closed, Config, Connection, Event, Instant, Message, Role};
use tether_testkit::{parse_frame, CLOSE};

use super::runtime::Wire;

/// How a send ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It returned `Ok`: the message was accepted and must not be lost.
    Ok,
    /// It failed or was cancelled: the message may or may not have been sent.
    Maybe,
}

/// Every message handed to a send, in order; a message's tag is its index here.
#[derive(Debug, Default)]
pub(crate) struct SendLog {
    entries: Vec<Outcome>,
}

impl SendLog {
    /// The tag of the next message.
    pub(crate) fn next_tag(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The tag of the `i`-th message of the next batch.
    pub(crate) fn peek_tag(&self, i: usize) -> u64 {
        (self.entries.len() + i) as u64
    }

    /// The next `n` messages ended with `outcome`.
    pub(crate) fn record(&mut self, n: usize, outcome: Outcome) {
        self.entries.extend(std::iter::repeat_n(outcome, n));
    }
}

/// The tag a harness message starts with.
fn tag_of(message: &Message) -> u64 {
    match message {
        Message::Text(t) => {
            let hex = t.as_str().get(..16).unwrap_or_else(|| panic!("a text message without its tag: {t:?}"));
            u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("a text message with a bad tag: {hex:?}"))
        }
        Message::Binary(b) => u64::from_be_bytes(
            b.get(..8).and_then(|t| t.try_into().ok()).unwrap_or_else(|| panic!("a binary message without its tag")),
        ),
        other => panic!("not a data message: {other:?}"),
    }
}

/// Checks everything written over the connection's life.
pub(crate) fn output(wire: &Wire, role: Role, log: &SendLog, ending: Option<&Closed>, dropped_early: bool) {
    assert_eq!(wire.written_after_close, 0, "bytes were written after the transport was shut down");
    let written = &wire.written[..];

    // Framing, frame by frame: the mask rule of our role, no RSV bits (nothing negotiated),
    // and nothing after our close frame.
    let mut rest = written;
    let mut complete = 0;
    let mut close_sent = false;
    while let Some(frame) = parse_frame(rest) {
        let h = frame.header;
        assert_eq!(h.mask.is_some(), role == Role::Client, "mask bit wrong for our role: {h:?}");
        assert_eq!(h.rsv, 0, "RSV bits without an extension: {h:?}");
        complete += frame.wire_len();
        rest = &rest[frame.wire_len()..];
        if h.opcode == CLOSE {
            close_sent = true;
            assert!(rest.is_empty(), "{} bytes after our close frame", rest.len());
            break;
        }
    }
    let abortive = matches!(ending.map(|c| &c.cause), Some(CloseCause::TransportError | CloseCause::WriteTimeout));
    if !rest.is_empty() {
        assert!(
            wire.write_failed || wire.write_stalled || dropped_early || abortive,
            "the output ends inside a frame ({} bytes) with nothing to excuse it; ending {ending:?}",
            rest.len()
        );
    }

    // Strictness, as the peer's engine reads it.
    let peer_role = if role == Role::Client { Role::Server } else { Role::Client };
    let peer_config = Config::builder().max_message_size(1 << 24).max_frame_size(1 << 24).build().unwrap();
    let mut peer = Connection::new(peer_role, peer_config);
    peer.receive(Instant::ZERO, &written[..complete]);
    let mut tags = Vec::new();
    while let Some(event) = peer.poll_event() {
        match event {
            Event::Message(m) if m.is_data() => tags.push(tag_of(&m)),
            Event::Message(_) => {}
            Event::Closed(closed) => {
                assert!(!matches!(closed.cause, CloseCause::Protocol(_)), "our output broke the protocol: {closed:?}");
            }
            _ => {}
        }
    }

    // Each message once, in order, and one that was handed to a send.
    for pair in tags.windows(2) {
        assert!(pair[0] < pair[1], "messages out of order or repeated: {} then {}", pair[0], pair[1]);
    }
    if let Some(&last) = tags.last() {
        assert!(last < log.next_tag(), "a message that no send was given: tag {last}");
    }

    // Nothing accepted is lost when our close frame went out after it and neither the
    // transport nor an abortive ending excuses a loss.
    let lossy_ending = matches!(ending.map(|c| &c.cause), Some(CloseCause::IdleTimeout | CloseCause::TransportError));
    if close_sent && !wire.write_failed && !wire.write_stalled && !dropped_early && !lossy_ending {
        for (tag, outcome) in log.entries.iter().enumerate() {
            if *outcome == Outcome::Ok {
                assert!(
                    tags.binary_search(&(tag as u64)).is_ok(),
                    "message {tag} was accepted (Ok) but never sent; ending {ending:?}"
                );
            }
        }
    }
}
