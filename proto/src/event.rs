//! What the engine hands out: `Event` (a message, or the one terminal `Closed`) and how a
//! connection ended (`Closed`, `CloseCause`).

use crate::close::CloseCode;
use crate::error::ProtocolError;
use crate::message::{Message, Utf8Bytes};
use crate::rate_limit::RateKind;

/// An output of [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A complete text or binary message, or a ping or pong.
    Message(Message),
    /// The connection ended. Always the last event, handed out exactly once.
    Closed(Closed),
}

/// How a connection ended.
///
/// `code` and `reason` are what the peer's close frame said when there was one (1005 when
/// it carried no code); for failures without a close frame from the peer they are what is
/// reported locally (1006 for an abnormal end, or the code we sent on a protocol error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The close code.
    pub code: CloseCode,
    /// The close reason.
    pub reason: Utf8Bytes,
    /// Why the connection ended.
    pub cause: CloseCause,
}

impl Closed {
    /// Whether the close handshake completed (both close frames exchanged).
    pub fn is_clean(&self) -> bool {
        matches!(self.cause, CloseCause::PeerInitiated | CloseCause::LocallyInitiated)
    }
}

/// Why a connection ended. A peer's close frame and a parse failure never look alike.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The peer sent a close frame first; we answered it.
    PeerInitiated,
    /// We sent a close frame first and the peer answered it.
    LocallyInitiated,
    /// The peer violated the protocol; we sent a close frame with
    /// [`ProtocolError::close_code`] and stopped.
    Protocol(ProtocolError),
    /// No inbound traffic within the idle or keepalive timeout; reported as 1006
    /// (a 1011 close frame is sent best-effort).
    IdleTimeout,
    /// We sent a close frame and the peer did not answer within the close timeout;
    /// reported as 1006.
    CloseTimeout,
    /// The transport ended without a close frame; reported as 1006.
    TransportEof,
    /// The transport failed (reset, broken pipe, …); reported as 1006, nothing more is
    /// written.
    TransportError,
    /// Queued output made no progress for the write timeout (the peer stopped reading);
    /// reported as 1006.
    WriteTimeout,
    /// The server's handshake response could not be written within the handshake deadline;
    /// reported as 1006.
    HandshakeTimeout,
    /// The peer exceeded the configured [`RateLimit`](crate::RateLimit) under
    /// [`RatePolicy::Close`](crate::RatePolicy::Close); we sent a close frame with 1008
    /// (Policy Violation) and stopped.
    RateLimitExceeded(RateKind),
}
