//! `tether-proto`: a sans-IO WebSocket (RFC 6455) protocol engine — what lives here is every
//! rule of the protocol; what does not is sockets, async, clocks, threads and runtimes.
//!
//! Bytes go in, events and bytes come out, and time is always an argument. The crate is
//! `#![no_std]` + `alloc`; the default `std` feature only adds `std::error::Error` impls.
//!
//! The two halves:
//! - the opening handshake: [`ServerHandshake`] (parse a request, then accept or reject it)
//!   and [`ClientHandshake`] (build a request, validate the response). Both hand over a
//!   [`Connection`] with any bytes that followed the HTTP head. With the `http` feature the
//!   server side also speaks the `http` crate's types, for WebSockets inside HTTP servers
//!   (`Request::from_http`, `ServerHandshake::accept_http`, `HandshakeError::http_response`:
//!   the same checks and answers);
//! - the [`Connection`]: framing, masking, fragmentation, UTF-8, ping/pong, the close
//!   handshake, limits and timers.
//!
//! Why it is built this way, which hostile peers it is tested against and what its hot paths
//! cost are in the [`manual`].
//!
//! ```
//! use tether_proto::{
//!     AcceptOptions, ClientHandshake, ClientRequest, Config, Event, Instant, Message, ServerHandshake, Transmit,
//! };
//!
//! let now = Instant::ZERO;
//! let request = ClientRequest::from_url("ws://example.com/chat").unwrap();
//! let mut client = ClientHandshake::new(request, Config::default()).unwrap();
//! let mut server = ServerHandshake::new(Config::default());
//! // The client's request bytes go to the server...
//! assert!(server.receive(now, &drain(&mut client)).unwrap().is_some());
//! let mut server = server.accept(&AcceptOptions::default()).unwrap();
//! // ...and the server's 101 response goes back.
//! let response = drain(&mut server);
//! client.receive(now, &response).unwrap().expect("handshake complete");
//! let mut client = client.into_connection().unwrap();
//!
//! client.send(Message::text("hello")).unwrap();
//! server.receive(now, &drain(&mut client));
//! match server.poll_event() {
//!     Some(Event::Message(Message::Text(text))) => assert_eq!(text, "hello"),
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! // Every engine's output leaves the same way (a real driver writes the chunks of
//! // `poll_transmit` to its socket instead of copying them).
//! fn drain(engine: &mut impl Transmit) -> Vec<u8> {
//!     let mut out = Vec::new();
//!     engine.drain_transmit(&mut out);
//!     out
//! }
//! ```
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(rust_2018_idioms, unreachable_pub)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
mod deflate;
mod error;
mod event;
mod frame;
mod handshake;
pub mod manual;
mod mask;
mod message;
mod proxy;
mod rate_limit;
mod rng;
mod time;
mod transmit;
mod tx;
mod utf8;

#[cfg(test)]
mod pair;
#[cfg(test)]
mod proptests;

pub use close::{CloseCode, CloseFrame};
pub use config::{Config, ConfigBuilder, Role};
pub use connection::{Connection, State};
#[cfg(feature = "deflate")]
pub use deflate::{DeflateConfig, DeflateParams, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
#[cfg(feature = "deflate")]
pub use error::DeflateResponseFault;
pub use error::{ApiMisuse, ConfigError, HandshakeError, PeerMisbehaved, ProtocolError, SendError};
pub use event::{CloseCause, Closed, Event};
pub use handshake::{
    accept_key, AcceptOptions, ClientHandshake, ClientRequest, Header, Request, Response, ServerHandshake,
};
#[cfg(feature = "http")]
pub use handshake::{Http1ClientHandshake, Http2ClientHandshake};
pub use message::{Message, Utf8Bytes};
pub use proxy::{NoProxy, Proxy, ProxyEnv, ProxyError, ProxyHandshake, ProxyKind, Socks5Reply};
pub use rate_limit::{Rate, RateKind, RateLimit, RatePolicy};
pub use rng::{OsRng, Rng, SeededRng};
pub use time::Instant;
pub use transmit::Transmit;

/// The engine's hot kernels — masking and incremental UTF-8 validation — for Tether's own
/// benchmarks and fuzz targets, behind the `internals` feature. Not part of the API: no
/// semver promise, not in the documentation.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::mask::apply_mask;
    pub use crate::utf8::{InvalidUtf8, Utf8Validator};
}

/// Re-exported so callers can name payload types without depending on `bytes` themselves.
pub use bytes::{BufMut, Bytes, BytesMut};

/// The `bytes` crate this engine speaks (for example `bytes::buf::Limit`, the type of
/// [`Connection::read_buf_uninit`]'s space).
pub use bytes;
