//! Observing a connection from outside: its [`Traffic`] counters (data messages and payload
//! bytes each way, readable from any thread while it runs) and the report it makes once,
//! when it ends ([`Ending`], with the typed [`CloseKind`] of why). What does not live here:
//! aggregating many connections (a server's stats, in `tether-server`) and protocol rules
//! (the engine's [`CloseCause`], which [`CloseKind::classify`] maps).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use tether_proto::{CloseCause, CloseCode, Closed, ProtocolError};

/// Why a connection ended, as one low-cardinality label for counters and logs: who closed
/// it and with which kind of close. The exact close code is in [`Ending::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseKind {
    /// The peer sent a close frame first (its code in [`Ending::code`]).
    PeerClosed,
    /// The application closed it (its code in [`Ending::code`]), or dropped it open (1001),
    /// with any code the kinds below do not single out.
    Closed,
    /// A [`Shutdown`](crate::Shutdown) the connection watched was triggered: we closed with
    /// 1001 (Going Away) — a server shutting down.
    Shutdown,
    /// The application closed it with 1013 (Try Again Later): how a hub evicts a slow
    /// consumer by default.
    Evicted,
    /// The peer exceeded the inbound rate limit under the close policy: 1008.
    RateLimited,
    /// The peer sent a message over the size limit: 1009.
    MessageTooBig,
    /// The peer sent text that is not valid UTF-8: 1007.
    InvalidUtf8,
    /// Any other protocol violation by the peer (1002, usually).
    ProtocolError,
    /// Nothing arrived within the keepalive or idle timeout: reported as 1006.
    KeepaliveTimeout,
    /// The peer stopped reading and our output made no progress for the write timeout:
    /// reported as 1006.
    WriteTimeout,
    /// The transport ended or failed (EOF without a close frame, a reset, a broken pipe):
    /// 1006. [`Ending::transport_error`] tells the error's kind, if it was one.
    Abrupt,
    /// The opening handshake failed (an invalid or too slow request, the 101 not written in
    /// time): no WebSocket was ever usable.
    HandshakeFailed,
}

impl CloseKind {
    /// How many kinds there are (the length of a per-kind counter array).
    pub const COUNT: usize = 12;

    /// Every kind, in the order of [`index`](Self::index).
    pub const ALL: [CloseKind; CloseKind::COUNT] = [
        CloseKind::PeerClosed,
        CloseKind::Closed,
        CloseKind::Shutdown,
        CloseKind::Evicted,
        CloseKind::RateLimited,
        CloseKind::MessageTooBig,
        CloseKind::InvalidUtf8,
        CloseKind::ProtocolError,
        CloseKind::KeepaliveTimeout,
        CloseKind::WriteTimeout,
        CloseKind::Abrupt,
        CloseKind::HandshakeFailed,
    ];

    /// A dense index in `0..COUNT` (for counter arrays).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// A short `snake_case` name (`peer_closed`, `rate_limited`, ...), for labels.
    pub const fn name(self) -> &'static str {
        match self {
            CloseKind::PeerClosed => "peer_closed",
            CloseKind::Closed => "closed",
            CloseKind::Shutdown => "shutdown",
            CloseKind::Evicted => "evicted",
            CloseKind::RateLimited => "rate_limited",
            CloseKind::MessageTooBig => "message_too_big",
            CloseKind::InvalidUtf8 => "invalid_utf8",
            CloseKind::ProtocolError => "protocol_error",
            CloseKind::KeepaliveTimeout => "keepalive_timeout",
            CloseKind::WriteTimeout => "write_timeout",
            CloseKind::Abrupt => "abrupt",
            CloseKind::HandshakeFailed => "handshake_failed",
        }
    }

    /// The kind and the close code of an ending: the engine's `ending` (if it decided one)
    /// and the close this side queued itself (if any). Our own close can only be queued
    /// while nothing has ended the connection yet, so when there is one it came first and
    /// decides: what follows (the peer not answering, a write or close timeout, a reset) is
    /// its consequence. Without one, the engine's cause decides.
    pub fn classify(ending: Option<&Closed>, local: Option<LocalClose>) -> (CloseKind, CloseCode) {
        let abrupt = CloseCode::ABNORMAL;
        match local {
            Some(LocalClose::Shutdown) => return (CloseKind::Shutdown, CloseCode::GOING_AWAY),
            Some(LocalClose::Dropped) => return (CloseKind::Closed, CloseCode::GOING_AWAY),
            Some(LocalClose::App(code)) if code == CloseCode::TRY_AGAIN_LATER => return (CloseKind::Evicted, code),
            Some(LocalClose::App(code)) => return (CloseKind::Closed, code),
            None => {}
        }
        let Some(closed) = ending else {
            // Dropped before anything ended it, with nothing sent (an unreachable case for a
            // connection that could still send: dropping it sends 1001).
            return (CloseKind::Closed, CloseCode::GOING_AWAY);
        };
        match &closed.cause {
            CloseCause::PeerInitiated => (CloseKind::PeerClosed, closed.code),
            CloseCause::Protocol(error) => (protocol_kind(error), error.close_code()),
            CloseCause::RateLimitExceeded(_) => (CloseKind::RateLimited, CloseCode::POLICY_VIOLATION),
            CloseCause::IdleTimeout => (CloseKind::KeepaliveTimeout, abrupt),
            CloseCause::WriteTimeout => (CloseKind::WriteTimeout, abrupt),
            CloseCause::HandshakeTimeout => (CloseKind::HandshakeFailed, abrupt),
            CloseCause::TransportEof | CloseCause::TransportError => (CloseKind::Abrupt, abrupt),
            _ => (CloseKind::Closed, closed.code),
        }
    }
}

fn protocol_kind(error: &ProtocolError) -> CloseKind {
    let code = error.close_code();
    if code == CloseCode::MESSAGE_TOO_BIG {
        CloseKind::MessageTooBig
    } else if code == CloseCode::INVALID_PAYLOAD {
        CloseKind::InvalidUtf8
    } else {
        CloseKind::ProtocolError
    }
}

impl std::fmt::Display for CloseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A close this side queued itself, and why ([`CloseKind::classify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalClose {
    /// The application called `close` with this code.
    App(CloseCode),
    /// A watched [`Shutdown`](crate::Shutdown) was triggered (1001).
    Shutdown,
    /// The application dropped the connection open (1001).
    Dropped,
}

/// One connection's data messages (text and binary; not pings, pongs or close frames) and
/// their payload bytes, each way, counted since [`WebSocket::traffic`](crate::WebSocket::traffic)
/// was first called. Readable from any thread at any time ([`snapshot`](Self::snapshot)).
///
/// Only the connection writes it, one operation at a time (it is owned, or behind the split
/// halves' lock), so an update is a relaxed load and store of its own counters — no
/// read-modify-write instruction, no counter shared between connections.
#[derive(Debug, Default)]
pub struct Traffic {
    messages_in: AtomicU64,
    bytes_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_out: AtomicU64,
}

impl Traffic {
    /// The counters now.
    pub fn snapshot(&self) -> TrafficSnapshot {
        TrafficSnapshot {
            messages_in: self.messages_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            messages_out: self.messages_out.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
        }
    }

    /// One message of `bytes` handed to the application.
    #[inline]
    pub(crate) fn received(&self, bytes: usize) {
        bump(&self.messages_in, 1);
        bump(&self.bytes_in, bytes as u64);
    }

    /// One message of `bytes` queued to send.
    #[inline]
    pub(crate) fn sent(&self, bytes: usize) {
        bump(&self.messages_out, 1);
        bump(&self.bytes_out, bytes as u64);
    }
}

/// Add to a counter with one writer (see [`Traffic`]): a load and a store, not an atomic
/// read-modify-write.
#[inline]
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// [`Traffic`] at one moment; also a sum of several connections'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrafficSnapshot {
    /// Data messages received (handed to the application).
    pub messages_in: u64,
    /// Their payload bytes (after decompression).
    pub bytes_in: u64,
    /// Data messages sent (queued by the application).
    pub messages_out: u64,
    /// Their payload bytes (before compression).
    pub bytes_out: u64,
}

impl std::ops::AddAssign for TrafficSnapshot {
    fn add_assign(&mut self, other: TrafficSnapshot) {
        self.messages_in += other.messages_in;
        self.bytes_in += other.bytes_in;
        self.messages_out += other.messages_out;
        self.bytes_out += other.bytes_out;
    }
}

/// How a connection ended, reported once to the callback given to
/// [`WebSocket::on_end`](crate::WebSocket::on_end).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Ending {
    /// Why, as a label.
    pub kind: CloseKind,
    /// The close code that ended it: the peer's for [`CloseKind::PeerClosed`], the one we
    /// sent when we closed, 1006 when no close frame ended it.
    pub code: CloseCode,
    /// The engine's account, when it decided the ending before the report (not when the
    /// application dropped the connection before its close handshake finished).
    pub closed: Option<Closed>,
    /// The kind of the transport error that ended it, if one did.
    pub transport_error: Option<io::ErrorKind>,
    /// The connection's traffic, when it was counted ([`WebSocket::traffic`](crate::WebSocket::traffic)).
    pub traffic: Option<TrafficSnapshot>,
}

/// The callback of [`WebSocket::on_end`](crate::WebSocket::on_end).
pub(crate) type OnEnd = Box<dyn FnOnce(&Ending) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;
    use tether_proto::{CloseCause, RateKind, Utf8Bytes};

    fn closed(code: CloseCode, cause: CloseCause) -> Closed {
        Closed { code, reason: Utf8Bytes::default(), cause }
    }

    #[test]
    fn kinds_are_dense_and_named_once() {
        for (i, kind) in CloseKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
        let mut names: Vec<&str> = CloseKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CloseKind::COUNT);
    }

    #[test]
    fn without_our_close_the_engine_decides() {
        let peer = closed(CloseCode::NORMAL, CloseCause::PeerInitiated);
        assert_eq!(CloseKind::classify(Some(&peer), None), (CloseKind::PeerClosed, CloseCode::NORMAL));
        let rate = closed(CloseCode::POLICY_VIOLATION, CloseCause::RateLimitExceeded(RateKind::Messages));
        assert_eq!(CloseKind::classify(Some(&rate), None), (CloseKind::RateLimited, CloseCode::POLICY_VIOLATION));
        let idle = closed(CloseCode::ABNORMAL, CloseCause::IdleTimeout);
        assert_eq!(CloseKind::classify(Some(&idle), None).0, CloseKind::KeepaliveTimeout);
        let slow = closed(CloseCode::ABNORMAL, CloseCause::WriteTimeout);
        assert_eq!(CloseKind::classify(Some(&slow), None).0, CloseKind::WriteTimeout);
    }

    #[test]
    fn our_close_decides_by_why_and_code() {
        let ours = closed(CloseCode::GOING_AWAY, CloseCause::LocallyInitiated);
        assert_eq!(CloseKind::classify(Some(&ours), Some(LocalClose::Shutdown)).0, CloseKind::Shutdown);
        let evicted = Some(LocalClose::App(CloseCode::TRY_AGAIN_LATER));
        assert_eq!(CloseKind::classify(None, evicted), (CloseKind::Evicted, CloseCode::TRY_AGAIN_LATER));
        let app = Some(LocalClose::App(CloseCode::NORMAL));
        assert_eq!(CloseKind::classify(Some(&ours), app), (CloseKind::Closed, CloseCode::NORMAL));
        let eof = closed(CloseCode::ABNORMAL, CloseCause::TransportEof);
        assert_eq!(CloseKind::classify(Some(&eof), None), (CloseKind::Abrupt, CloseCode::ABNORMAL));
        assert_eq!(CloseKind::classify(Some(&eof), Some(LocalClose::Dropped)).0, CloseKind::Closed);
        // An evicted peer that reads nothing then hits the write timeout: still evicted.
        let slow = closed(CloseCode::ABNORMAL, CloseCause::WriteTimeout);
        assert_eq!(CloseKind::classify(Some(&slow), evicted).0, CloseKind::Evicted);
    }
}
