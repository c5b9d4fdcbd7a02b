//! The opening handshake (RFC 6455 §4), both roles: the shared [`Header`] type, the
//! `Sec-WebSocket-Accept` computation and the module map. Parsing lives in `http.rs`, the
//! server in `server.rs` (its `http` crate conversions in `http_interop.rs`), the client in
//! `client.rs`, URL parsing in `url.rs`; framing lives
//! in the connection, not here.
//!
//! Both roles read the peer's HTTP head through the same incremental reader: every byte is
//! scanned once, the byte cap ([`Config::max_handshake_bytes`](crate::Config::max_handshake_bytes))
//! and the line cap ([`Config::max_handshake_headers`](crate::Config::max_handshake_headers))
//! are enforced as bytes arrive, httparse runs once on the complete head, and the bytes that
//! followed the head are handed to the [`Connection`](crate::Connection) untouched.
//! Line ends may be CRLF or a bare LF (RFC 9112 §2.2 allows recipients to accept it, and
//! httparse does; the reader agrees with httparse on where a head ends), and empty lines
//! before the start line are skipped. Slow drips are not refused (no minimum read size): a
//! one-byte-at-a-time head costs the same total work, and the total handshake deadline
//! ([`Config::handshake_timeout`](crate::Config::handshake_timeout), enforced by the
//! adapters) is what ends a slowloris.

mod client;
pub(crate) mod http;
#[cfg(feature = "http")]
mod http_interop;
mod server;
mod url;

#[cfg(test)]
mod tests;

use alloc::string::String;

use base64::Engine as _;
use bytes::Bytes;

pub use client::{ClientHandshake, ClientRequest, Response};
#[cfg(all(test, feature = "deflate"))]
pub(crate) use http::split_top_level as split_list;
#[cfg(feature = "deflate")]
pub(crate) use http::{split_top_level, trim_ows};
#[cfg(feature = "http")]
pub use http_interop::{Http1ClientHandshake, Http2ClientHandshake};
pub use server::{AcceptOptions, Request, ServerHandshake};

/// One HTTP header, as received or to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The name, as it appeared on the wire (compare case-insensitively).
    pub name: String,
    /// The raw value.
    pub value: Bytes,
}

impl Header {
    /// The value as UTF-8, or `None` if it is not (HTTP allows opaque bytes).
    ///
    /// ```
    /// use tether_proto::{Bytes, Header};
    /// let h = Header { name: "Origin".into(), value: Bytes::from_static(b"https://a.example") };
    /// assert_eq!(h.value_str(), Some("https://a.example"));
    /// ```
    pub fn value_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.value).ok()
    }
}

/// The GUID that RFC 6455 §1.3 appends to the key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)) (RFC 6455
/// §4.2.2). The key is hashed as sent (its base64 text, surrounding whitespace removed),
/// not decoded. For servers that write their own 101 response; [`ServerHandshake`] and
/// its `http` conversions use it already.
///
/// ```
/// assert_eq!(tether_proto::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = sha1::Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

#[cfg(test)]
mod accept_key_tests {
    use super::*;

    // RFC 6455 §1.3 / §4.2.2: the worked example.
    #[test]
    fn rfc_example_accept_key() {
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}
