//! The event log: the rules every event stream obeys (nothing after Closed, limits on what
//! is handed out, the state agreeing with the events), and short descriptions of messages
//! for failure messages. What the events must be is decided by the targets.

use std::fmt::Write as _;

use tether_proto::{CloseCause, CloseCode, Closed, Config, Connection, Event, Message, State};

use super::drive::check_receive_bound;
use super::tally::tally;

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
    pub(crate) fn new(config: &Config) -> EventLog {
        EventLog { messages: Vec::new(), closed: None, max_message: config.max_message_size() }
    }

    /// Take every event now available; then check the receive bound.
    pub(crate) fn poll_all(&mut self, conn: &mut Connection) {
        for _ in 0..10_000_000 {
            match self.poll_one(conn) {
                true => continue,
                false => return,
            }
        }
        panic!("poll_event never returned None");
    }

    /// Take one event; false when there was none (the receive-buffer bound is then checked).
    pub(crate) fn poll_one(&mut self, conn: &mut Connection) -> bool {
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

    pub(crate) fn record(&mut self, conn: &Connection, event: Event) {
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
pub(crate) fn check_closed(c: &Closed) {
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

/// `str::floor_char_boundary` for toolchains before it was stable.
pub(crate) trait FloorCharBoundary {
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
pub(crate) fn same_messages(got: &[Message], expected: &[Message], what: &str) {
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

pub(crate) fn describe(m: &Message) -> String {
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
