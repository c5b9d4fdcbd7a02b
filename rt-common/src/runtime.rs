//! The hidden `Runtime` trait: the only things the generic layer needs from an async
//! runtime (a clock, a resettable timer, TCP connect, and how a stream becomes futures-io).
//! No runtime is named here; each `tether-*` adapter crate implements it.

use std::future::Future;
use std::io;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

/// What the generic layer needs from an async runtime. Implemented by the adapter crates
/// (`tether-tokio`, `tether-async-std`, `tether-smol`); applications never implement or
/// call it, they only see it as the `R` parameter of [`WebSocket`](crate::WebSocket).
pub trait Runtime: Send + Sync + Sized + 'static {
    /// How a stream of this runtime becomes a futures-io stream (identity, or a compat
    /// wrapper for tokio).
    type Io<S>;
    /// A timer that can be re-armed without reallocating.
    type Sleep: Future + Send + Unpin;
    /// The runtime's TCP stream, used by [`ClientBuilder::connect`](crate::ClientBuilder::connect).
    type TcpStream: Send + Unpin + 'static;

    /// Wrap a stream of this runtime so it speaks futures-io.
    fn wrap<S>(stream: S) -> Self::Io<S>;
    /// The runtime's clock (tokio's can be paused in tests).
    fn now() -> Instant;
    /// A timer that fires at `deadline`.
    fn sleep_until(deadline: Instant) -> Self::Sleep;
    /// Re-arm `sleep` to fire at `deadline`.
    fn reset(sleep: &mut Self::Sleep, deadline: Instant);
    /// Resolve `host` and open a TCP connection to `port` on it.
    fn connect_tcp(host: &str, port: u16) -> impl Future<Output = io::Result<Self::TcpStream>> + Send;
}

/// A futures-io byte stream the connection can run over (blanket-implemented).
pub trait Transport: AsyncRead + AsyncWrite + Unpin {}

impl<T: AsyncRead + AsyncWrite + Unpin> Transport for T {}
