//! `Error`: everything an async WebSocket call can fail with — how the connection ended
//! (`Closed`), the transport, the handshake, a rejected command. No protocol rules here.

use std::io;
use std::time::Duration;

use tether_proto::{Closed, HandshakeError, Header, Message, SendError};

/// What an async WebSocket operation can fail with.
///
/// The variant to match in a receive loop is [`Error::Closed`]: the connection ended (the
/// peer closed it, a protocol violation, a keepalive or close timeout, or the transport
/// vanished), with the code, reason and [`CloseCause`](tether_proto::CloseCause) — the
/// counterpart of the frameworks' `WebSocketDisconnect`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection has ended; this is how. Typed receives (`recv_text`, …) return it for
    /// any ending, [`recv`](crate::WebSocket::recv) only for an unclean one, and sends
    /// return it once the end has been observed.
    #[error("connection closed: {} {:?} ({:?})", .0.code, .0.reason.as_str(), .0.cause)]
    Closed(Closed),
    /// The transport failed (reset, broken pipe, …). The connection is over: later calls
    /// report [`Error::Closed`] with code 1006.
    #[error("transport error: {0}")]
    Io(#[from] io::Error),
    /// The opening handshake failed. For a server answered with a non-101 status, match
    /// [`HandshakeError::UnexpectedStatus`] (or use [`Error::http_status`]).
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// The opening handshake did not complete within
    /// [`Config::handshake_timeout`](tether_proto::Config::handshake_timeout) (one total
    /// deadline, not reset by arriving bytes).
    #[error("handshake did not complete within {0:?}")]
    HandshakeTimeout(Duration),
    /// A [`HandshakeLimit`](crate::HandshakeLimit) with this bound had no permit left: the
    /// connection was refused before its request was read.
    #[error("too many handshakes in progress (at most {0})")]
    TooManyHandshakes(usize),
    /// A command was invalid (close code or reason, control payload too large) or the
    /// connection is already closing; nothing was queued.
    #[error(transparent)]
    Send(#[from] SendError),
    /// A `wss://` URL was given to a plain-TCP connect: connect the TLS stream yourself and
    /// use [`ClientBuilder::connect_on`](crate::ClientBuilder::connect_on).
    #[error("wss:// needs a TLS stream: use ClientBuilder::connect_on with one")]
    TlsRequired,
    /// A typed receive got a message of another kind; the message is returned, not lost.
    #[error("unexpected {} message", kind(.0))]
    UnexpectedMessage(Message),
    /// `recv_json` could not decode the message, or `send_json` could not encode the value.
    #[cfg(feature = "json")]
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn kind(message: &Message) -> &'static str {
    match message {
        Message::Text(_) => "text",
        Message::Binary(_) => "binary",
        Message::Ping(_) => "ping",
        Message::Pong(_) => "pong",
        Message::Close(_) => "close",
    }
}

impl Error {
    /// How the connection ended, when this error says it has.
    pub fn closed(&self) -> Option<&Closed> {
        match self {
            Error::Closed(closed) => Some(closed),
            _ => None,
        }
    }

    /// The HTTP status a server answered the upgrade with, when it was not 101.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Handshake(HandshakeError::UnexpectedStatus { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// The response headers of a non-101 answer to the upgrade.
    pub fn http_headers(&self) -> Option<&[Header]> {
        match self {
            Error::Handshake(HandshakeError::UnexpectedStatus { headers, .. }) => Some(headers),
            _ => None,
        }
    }
}
