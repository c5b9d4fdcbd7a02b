//! The connection-state model of the connection targets: what the test sent and saw, and
//! the invariants that hold between any two calls. The run itself (ops, the end, the output
//! check) lives in `connection.rs`.

use std::time::Duration;

use tether_proto::{CloseCode, CloseFrame, Connection, Instant, Message, Role, SendError, State};
use tether_testkit::Chunker;

use super::events::{describe, EventLog};
use super::limits::{MAX_HEADER, URGENT_CAP};
use super::tally::tally;

/// What the engine may queue by itself beyond what the application sent: pongs up to the
/// urgent cap plus one more, a pending pong, a keepalive ping and a close frame.
pub(crate) const ENGINE_EXTRA: usize = URGENT_CAP + 4 * (MAX_HEADER + 125);

/// Bytes an engine of `role` writes for one data message of `len` bytes.
pub(crate) fn encoded_len(len: usize, fragment_size: Option<usize>, role: Role) -> usize {
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
pub(crate) struct Model {
    pub(crate) role: Role,
    pub(crate) now: Instant,
    pub(crate) fragment_size: Option<usize>,
    pub(crate) keepalive: bool,
    /// Messages `send` accepted (data, ping, pong), in order.
    pub(crate) sent: Vec<Message>,
    /// Our close frame, once `close`/`send(Close)` succeeded.
    pub(crate) our_close: Option<Option<(CloseCode, String)>>,
    /// Upper bound on bytes our own sends queued since the transmit queue was last empty.
    pub(crate) app_queued: usize,
    /// Everything the engine wrote, in order.
    pub(crate) wire: Vec<u8>,
    /// Every byte handed in as input (per the input calls' contract: what `receive` was given
    /// and what a commit took), in order, whether or not the engine still reads.
    pub(crate) received: Vec<u8>,
    pub(crate) chunker: Chunker,
}

impl Model {
    /// Invariants that hold between any two calls.
    pub(crate) fn check(&mut self, conn: &Connection, log: &EventLog) {
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

    pub(crate) fn send(&mut self, conn: &mut Connection, message: Message) {
        self.send_via(conn, message, false);
    }

    /// `send`, or with `borrowed` the `send_text`/`send_bytes` path for data messages.
    pub(crate) fn send_via(&mut self, conn: &mut Connection, message: Message, borrowed: bool) {
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

    pub(crate) fn close(&mut self, conn: &mut Connection, code: CloseCode, reason: &str) {
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

    /// `poll_transmit` into `slots` (1..=8) chunks, then write and consume at most `max` of
    /// the bytes offered (0: all of them).
    pub(crate) fn transmit(&mut self, conn: &mut Connection, max: usize, slots: usize) {
        let mut chunks = [&[][..]; 8];
        let n = conn.poll_transmit(&mut chunks[..slots.clamp(1, 8)]);
        let offered: usize = chunks[..n].iter().map(|c| c.len()).sum();
        let take = if max == 0 { offered } else { offered.min(max) };
        let mut left = take;
        for c in &chunks[..n] {
            let k = left.min(c.len());
            self.wire.extend_from_slice(&c[..k]);
            left -= k;
        }
        conn.consume_transmit(take);
    }

    /// Advance time by `by` and call `handle_timeout`.
    pub(crate) fn advance(&mut self, conn: &mut Connection, by: Duration) {
        self.now += by;
        conn.handle_timeout(self.now);
        self.after_timeout(conn);
    }

    pub(crate) fn after_timeout(&self, conn: &Connection) {
        if let Some(t) = conn.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout() is {t:?}, not after the handle_timeout({:?}) just made: a driver would spin",
                self.now
            );
        }
    }
}
