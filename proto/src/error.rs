//! The engine's error types: `ProtocolError` (the peer broke RFC 6455; each maps to a close
//! code), `SendError` (a local command was invalid), `HandshakeError` (with the peer's
//! faults, `PeerMisbehaved`, apart from the application's, `ApiMisuse`) and `ConfigError`.
//! No error here ever carries a socket or IO error: the engine does no IO.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::close::CloseCode;
use crate::handshake::Header;

/// The peer violated RFC 6455. The engine has already queued a close frame carrying
/// [`close_code`](ProtocolError::close_code) and will deliver no further messages
/// ("Fail the WebSocket Connection", §7.1.7).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1-3 set without an extension that defines them (§5.2).
    #[error("reserved bits {bits:#05b} set without a negotiated extension")]
    ReservedBitsSet {
        /// The three RSV bits, RSV1 as the most significant.
        bits: u8,
    },
    /// Opcode 0x3-0x7 or 0xB-0xF (§5.2).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A server received a frame without a mask (§5.1).
    #[error("client frame is not masked")]
    UnmaskedClientFrame,
    /// A client received a masked frame (§5.1).
    #[error("server frame is masked")]
    MaskedServerFrame,
    /// A control frame without FIN (§5.5).
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A control frame with a payload over 125 bytes (§5.5).
    #[error("control frame payload of {len} bytes exceeds 125")]
    ControlFrameTooLarge {
        /// The announced payload length.
        len: u64,
    },
    /// The most significant bit of a 64-bit payload length is set (§5.2).
    #[error("64-bit payload length has its most significant bit set")]
    PayloadLengthMsbSet,
    /// A continuation frame with no fragmented message open (§5.4).
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was still open (§5.4).
    #[error("new data frame while a fragmented message is unfinished")]
    DataFrameInsideFragmentedMessage,
    /// A text message (or a prefix of one) is not valid UTF-8 (§8.1).
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A close frame with a code that must not appear on the wire (§7.4).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A close frame with a 1-byte payload (§5.5.1).
    #[error("close frame payload of 1 byte")]
    ClosePayloadTooShort,
    /// A close frame whose reason is not valid UTF-8 (§5.5.1).
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    /// A frame announced a payload over the configured maximum (§10.4).
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// The announced payload length.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message grew over the configured maximum (§10.4).
    #[error("message of at least {size} bytes exceeds the maximum of {max}")]
    MessageTooLarge {
        /// The message size known when the limit was crossed.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// A compressed message's payload is not a valid DEFLATE stream (RFC 7692 §7.2.2).
    #[cfg(feature = "deflate")]
    #[error("compressed message is not valid DEFLATE data")]
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code this violation is answered with (§7.4.1).
    ///
    /// ```
    /// use tether_proto::{CloseCode, ProtocolError};
    /// assert_eq!(ProtocolError::InvalidUtf8.close_code(), CloseCode::INVALID_PAYLOAD);
    /// assert_eq!(ProtocolError::UnmaskedClientFrame.close_code(), CloseCode::PROTOCOL_ERROR);
    /// ```
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason => CloseCode::INVALID_PAYLOAD,
            // RFC 7692 says only "Fail the WebSocket Connection"; data inconsistent with
            // the message (its compression) is 1007's meaning (RFC 6455 §7.4.1), and what
            // Node's ws sends.
            #[cfg(feature = "deflate")]
            ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// A local command could not be carried out; nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closing or closed: no more messages may be sent (§5.5.1).
    #[error("the connection is already closing or closed")]
    AlreadyClosed,
    /// A ping or pong payload over 125 bytes (§5.5).
    #[error("control frame payload of {len} bytes exceeds 125")]
    ControlPayloadTooLarge {
        /// The payload length given.
        len: usize,
    },
    /// A close reason over 123 bytes (§5.5: 125 minus the 2-byte code).
    #[error("close reason of {len} bytes exceeds 123")]
    CloseReasonTooLong {
        /// The reason length given.
        len: usize,
    },
    /// A close code that must not be sent (1005, 1006, 1015, or outside the valid ranges; §7.4).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
}

/// The opening handshake failed (RFC 6455 §4), by kind: the peer's fault, the server's
/// refusal, the deadline, or the application's own mistake.
///
/// On the server, [`http_status`](HandshakeError::http_status) says which status a failed
/// request is answered with; [`ServerHandshake`](crate::ServerHandshake) queues that
/// response itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer's HTTP head broke RFC 6455 §4 or HTTP/1.1: a server's view of a request, or
    /// a client's view of a response.
    #[error(transparent)]
    PeerMisbehaved(#[from] PeerMisbehaved),
    /// The server answered with a status other than 101 (a refusal, a redirect — redirects
    /// are not followed).
    #[error("server answered with status {status} instead of 101")]
    UnexpectedStatus {
        /// The status code.
        status: u16,
        /// The response headers.
        headers: Vec<Header>,
    },
    /// The handshake did not complete within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout) (one total deadline
    /// that arriving bytes do not reset).
    #[error("the opening handshake did not complete within {after:?}")]
    Timeout {
        /// The deadline's length.
        after: Duration,
    },
    /// The application asked for something the handshake cannot do; nothing was sent for it.
    #[error(transparent)]
    ApiMisuse(#[from] ApiMisuse),
}

impl HandshakeError {
    /// The HTTP status a server answers this error with, or `None` for errors that are not
    /// about a received request.
    ///
    /// ```
    /// use tether_proto::{HandshakeError, PeerMisbehaved};
    /// assert_eq!(HandshakeError::from(PeerMisbehaved::UnsupportedVersion).http_status(), Some(426));
    /// assert_eq!(HandshakeError::from(PeerMisbehaved::HeadTooLarge { max: 8192 }).http_status(), Some(431));
    /// ```
    pub fn http_status(&self) -> Option<u16> {
        match self {
            HandshakeError::PeerMisbehaved(e) => e.http_status(),
            _ => None,
        }
    }
}

/// What a peer's HTTP head got wrong (RFC 6455 §4, RFC 9112).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// The HTTP head exceeded the byte limit before it ended.
    #[error("handshake head exceeds {max} bytes")]
    HeadTooLarge {
        /// The configured limit.
        max: usize,
    },
    /// The HTTP head has more header lines than allowed.
    #[error("handshake head has more than {max} header lines")]
    TooManyHeaders {
        /// The configured limit.
        max: usize,
    },
    /// The bytes are not a valid HTTP/1.1 head.
    #[error("malformed HTTP head: {0}")]
    MalformedHttp(&'static str),
    /// The request method is not GET (§4.2.1).
    #[error("request method is not GET")]
    MethodNotGet,
    /// The HTTP version is below 1.1 (§4.2.1).
    #[error("HTTP version is below 1.1")]
    HttpVersionTooOld,
    /// The `Upgrade` header is missing or does not name `websocket`.
    #[error("missing or wrong Upgrade header")]
    MissingUpgrade,
    /// The `Connection` header is missing or lacks the `upgrade` token.
    #[error("missing or wrong Connection header")]
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` is missing.
    #[error("missing Sec-WebSocket-Key")]
    MissingKey,
    /// `Sec-WebSocket-Key` is not base64 of 16 bytes.
    #[error("Sec-WebSocket-Key is not base64 of 16 bytes")]
    InvalidKey,
    /// A header that must appear once appeared more than once.
    #[error("duplicate {0} header")]
    DuplicateHeader(&'static str),
    /// `Sec-WebSocket-Version` is missing or not 13 (answered with 426).
    #[error("unsupported or missing Sec-WebSocket-Version")]
    UnsupportedVersion,
    /// An HTTP/2 request to open a WebSocket is not a CONNECT (RFC 8441 §4; answered 405
    /// with `Allow: CONNECT`).
    #[error("HTTP/2 WebSocket request method is not CONNECT")]
    MethodNotConnect,
    /// An HTTP/2 CONNECT has no `:protocol` pseudo-header, or it does not name `websocket`
    /// (RFC 8441 §4-5).
    #[error("missing or wrong :protocol pseudo-header")]
    MissingProtocol,
    /// `Sec-WebSocket-Accept` is missing or does not match our key (§4.1).
    #[error("missing or wrong Sec-WebSocket-Accept")]
    BadAccept,
    /// The server chose a subprotocol we did not offer (§4.1).
    #[error("server chose subprotocol {0:?}, which was not offered")]
    UnofferedProtocol(String),
    /// The server answered with an extension we did not offer (§4.1).
    #[error("server answered with extension {0:?}, which was not offered")]
    UnofferedExtension(String),
    /// The server's permessage-deflate answer breaks RFC 7692 §7.1 (or asks for what this
    /// client cannot do).
    #[cfg(feature = "deflate")]
    #[error("invalid permessage-deflate response: {0}")]
    DeflateResponse(DeflateResponseFault),
}

/// What a server's permessage-deflate answer got wrong (RFC 7692 §7.1). Servers never see
/// these: an offer with such a fault is declined, not failed.
#[cfg(feature = "deflate")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateResponseFault {
    /// A parameter RFC 7692 does not define.
    #[error("unknown parameter")]
    UnknownParameter,
    /// A parameter given twice.
    #[error("duplicate parameter")]
    DuplicateParameter,
    /// A value where none is allowed, none where one is required, or not 8 to 15.
    #[error("invalid parameter value")]
    InvalidValue,
    /// A window larger than the one we offered.
    #[error("window bits larger than offered")]
    WindowBitsLargerThanOffered,
    /// A parameter we asked for (`server_no_context_takeover`, `server_max_window_bits`)
    /// is missing: the server accepted an offer without honouring it.
    #[error("offered parameter missing from the response")]
    MissingParameter,
    /// `client_max_window_bits=8`: zlib cannot compress raw DEFLATE with a 256-byte window.
    #[error("client_max_window_bits=8 cannot be honoured")]
    UnsupportedWindowBits,
    /// More than one permessage-deflate element.
    #[error("more than one permessage-deflate response")]
    SeveralResponses,
}

impl PeerMisbehaved {
    /// The HTTP status a server answers a request with this fault with, or `None` for the
    /// faults of a response (a client's view).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            PeerMisbehaved::HeadTooLarge { .. } | PeerMisbehaved::TooManyHeaders { .. } => Some(431),
            PeerMisbehaved::UnsupportedVersion => Some(426),
            PeerMisbehaved::MethodNotGet | PeerMisbehaved::MethodNotConnect => Some(405),
            PeerMisbehaved::MalformedHttp(_)
            | PeerMisbehaved::HttpVersionTooOld
            | PeerMisbehaved::MissingUpgrade
            | PeerMisbehaved::MissingConnectionUpgrade
            | PeerMisbehaved::MissingKey
            | PeerMisbehaved::MissingProtocol
            | PeerMisbehaved::InvalidKey
            | PeerMisbehaved::DuplicateHeader(_) => Some(400),
            PeerMisbehaved::BadAccept
            | PeerMisbehaved::UnofferedProtocol(_)
            | PeerMisbehaved::UnofferedExtension(_) => None,
            #[cfg(feature = "deflate")]
            PeerMisbehaved::DeflateResponse(_) => None,
        }
    }
}

/// A handshake call the application got wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// The accepting application chose a subprotocol the client did not offer.
    #[error("subprotocol {0:?} was not offered by the client")]
    ProtocolNotOffered(String),
    /// An application-supplied header name or value is not allowed (CR, LF, NUL or a
    /// non-token name, or a header the handshake writes itself), so it cannot be sent
    /// without corrupting the HTTP head.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// A `ws://` or `wss://` URL could not be parsed.
    #[error("invalid WebSocket URL: {0}")]
    InvalidUrl(&'static str),
    /// The handshake is not complete yet.
    #[error("the handshake is not complete")]
    Incomplete,
    /// The request was already answered (rejected): it cannot be accepted any more.
    #[error("the request was already answered")]
    AlreadyAnswered,
}

/// A [`ConfigBuilder`](crate::ConfigBuilder) setting is out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size or duration that must be non-zero is zero.
    #[error("{0} must not be zero")]
    Zero(&'static str),
    /// The max frame size exceeds the max message size.
    #[error("max_frame_size ({max_frame_size}) exceeds max_message_size ({max_message_size})")]
    FrameLargerThanMessage {
        /// The frame limit given.
        max_frame_size: usize,
        /// The message limit given.
        max_message_size: usize,
    },
    /// A setting is below its minimum.
    #[error("{setting} must be at least {min}")]
    TooSmall {
        /// The setting's name.
        setting: &'static str,
        /// Its minimum.
        min: usize,
    },
    /// A setting is outside its range.
    #[error("{setting} must be between {min} and {max}")]
    OutOfRange {
        /// The setting's name.
        setting: &'static str,
        /// Its minimum.
        min: usize,
        /// Its maximum.
        max: usize,
    },
}
