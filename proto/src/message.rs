//! `Message` (what the application sends and receives) and `Utf8Bytes` (a `Bytes` that is
//! known to be UTF-8). Payloads are `bytes::Bytes`: received messages are handed out
//! without a copy, and sent payloads are referenced, not copied, where the role allows.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;
use core::str::Utf8Error;

use bytes::Bytes;

use crate::close::CloseFrame;

/// Immutable, cheaply cloneable UTF-8 text backed by [`Bytes`].
///
/// ```
/// use tether_proto::Utf8Bytes;
/// let t = Utf8Bytes::from("héllo");
/// assert_eq!(t.as_str(), "héllo");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// A `'static` string, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Wrap bytes already known to be valid UTF-8 (checked only in debug builds).
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Every constructor validates (or receives validated bytes from the engine's
        // incremental validator), so this cannot fail; fall back to "" rather than panic.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&String> for Utf8Bytes {
    fn from(s: &String) -> Self {
        Utf8Bytes::from(s.as_str())
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Utf8Error> {
        core::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = Utf8Error;
    fn try_from(bytes: Vec<u8>) -> Result<Self, Utf8Error> {
        Utf8Bytes::try_from(Bytes::from(bytes))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(t: Utf8Bytes) -> Bytes {
        t.0
    }
}

impl From<Utf8Bytes> for String {
    fn from(t: Utf8Bytes) -> String {
        String::from(t.as_str())
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A WebSocket message.
///
/// The engine hands out `Text`, `Binary`, `Ping` and `Pong` as
/// [`Event::Message`](crate::Event::Message); the end of the connection is always
/// [`Event::Closed`](crate::Event::Closed), never a `Close` message. Sending
/// `Message::Close` is the same as [`Connection::close`](crate::Connection::close).
///
/// ```
/// use tether_proto::Message;
/// let m = Message::text("hi");
/// assert!(m.is_data());
/// assert_eq!(m.as_payload(), b"hi");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (payload at most 125 bytes).
    Ping(Bytes),
    /// A pong (payload at most 125 bytes).
    Pong(Bytes),
    /// A close frame (`None`: no code). Only ever sent, never received as a message.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }

    /// Whether this is a text or binary message.
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }

    /// The payload bytes (for `Close`, empty).
    pub fn as_payload(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(_) => &[],
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_payload().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for Message {
    fn from(s: String) -> Message {
        Message::Text(s.into())
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Message {
        Message::Text(s.into())
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Message {
        Message::Binary(b.into())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Message {
        Message::Binary(b)
    }
}

impl From<Utf8Bytes> for Message {
    fn from(t: Utf8Bytes) -> Message {
        Message::Text(t)
    }
}
