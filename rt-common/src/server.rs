//! `Upgrade`: the server side of the opening handshake over a runtime stream — read the
//! request under one total deadline, let the application look at it, then accept or
//! reject. Parsing and validation are `tether_proto::ServerHandshake`'s.

use std::fmt;
use std::time::Duration;

use tether_proto::{AcceptOptions, Config, Header, Request, ServerHandshake};

use crate::io::{drain, read_some, shutdown, with_deadline, write_all};
use crate::runtime::{Runtime, Transport};
use crate::{default_config, Error, WebSocket};

/// Bytes read per call while the request head arrives. Kept small: before the 101, a
/// connection holds only this (on the future's stack) and the handshake's header buffer,
/// which grows with what arrived and is capped at
/// [`Config::max_handshake_bytes`](tether_proto::Config::max_handshake_bytes).
const HANDSHAKE_READ: usize = 1024;

/// After an error response, at most this much more input is read and discarded (within
/// the handshake deadline) before the stream is dropped: dropping a socket with unread
/// input sends a reset, which can destroy the response before the client reads it.
const LINGER_DRAIN: usize = 64 << 10;

/// The longest the lingering drain waits for the client to end the stream. Some
/// transports cannot half-close (async-std's `poll_close` only flushes), so the client may
/// never see our end before the drop.
const LINGER_TIME: Duration = Duration::from_millis(500);

/// A received, valid upgrade request, not answered yet: look at it, then
/// [`accept`](Self::accept), [`accept_with`](Self::accept_with) or
/// [`reject`](Self::reject) it.
///
/// ```no_run
/// # async fn serve<S, R: tether_rt::Runtime>(stream: S) -> Result<(), tether_rt::Error>
/// # where R::Io<S>: tether_rt::Transport {
/// use tether_rt::{AcceptOptions, Upgrade};
/// let upgrade = Upgrade::<S, R>::read(stream).await?;
/// if upgrade.origin() != Some("https://example.com") {
///     return upgrade.reject(403, b"forbidden origin").await;
/// }
/// let chat = upgrade.protocols().iter().any(|p| p == "chat");
/// let options = if chat { AcceptOptions::new().protocol("chat") } else { AcceptOptions::new() };
/// let mut ws = upgrade.accept_with(&options).await?;
/// # Ok(()) }
/// ```
pub struct Upgrade<S, R: Runtime> {
    io: R::Io<S>,
    handshake: ServerHandshake,
    timer: R::Sleep,
    timeout: Duration,
}

impl<S, R: Runtime> fmt::Debug for Upgrade<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade").field("request", &self.handshake.request()).finish_non_exhaustive()
    }
}

impl<S, R> Upgrade<S, R>
where
    R: Runtime,
    R::Io<S>: Transport,
{
    /// Read the upgrade request from `stream` under the adapter's default configuration
    /// ([`default_config`]).
    ///
    /// # Errors
    /// As [`read_with_config`](Self::read_with_config).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn read(stream: S) -> Result<Self, Error> {
        Self::read_with_config(stream, default_config()).await
    }

    /// Read the upgrade request from `stream`, within
    /// [`Config::handshake_timeout`](tether_proto::Config::handshake_timeout) — one total
    /// deadline that arriving bytes do not reset — and `config`'s header limits. The
    /// deadline also bounds writing the response.
    ///
    /// # Errors
    /// [`Error::HandshakeTimeout`] when the request did not arrive in time;
    /// [`Error::Handshake`] for an invalid request, after its error response (400, 405,
    /// 426 or 431) was written and the stream shut down; [`Error::Io`] when the transport
    /// failed or ended first.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn read_with_config(stream: S, config: Config) -> Result<Self, Error> {
        let timeout = config.handshake_timeout();
        let mut timer = R::sleep_until(R::now() + timeout);
        let mut io = R::wrap(stream);
        let mut handshake = ServerHandshake::new(config);
        let mut buf = [0u8; HANDSHAKE_READ];
        loop {
            let n = with_deadline(&mut timer, read_some(&mut io, &mut buf))
                .await
                .ok_or(Error::HandshakeTimeout(timeout))??;
            match handshake.receive(&buf[..n]) {
                Ok(Some(_)) => break,
                Ok(None) => {}
                Err(e) => {
                    if let Some(response) = ServerHandshake::error_response(&e) {
                        let _ = with_deadline(&mut timer, async {
                            if write_all(&mut io, &response).await.is_ok() {
                                shutdown(&mut io).await;
                                let mut linger = R::sleep_until(R::now() + LINGER_TIME);
                                with_deadline(&mut linger, drain(&mut io, LINGER_DRAIN)).await;
                            }
                        })
                        .await;
                    }
                    return Err(Error::Handshake(e));
                }
            }
        }
        Ok(Upgrade { io, handshake, timer, timeout })
    }

    /// The request.
    pub fn request(&self) -> &Request {
        self.handshake.request().expect("an Upgrade exists only once its request is complete")
    }

    /// The request method (always `GET` for a valid upgrade).
    pub fn method(&self) -> &str {
        self.request().method()
    }

    /// The request target as sent (path and query).
    pub fn uri(&self) -> &str {
        self.request().uri()
    }

    /// The path part of the request target.
    pub fn path(&self) -> &str {
        self.request().path()
    }

    /// The query part of the request target (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.request().query()
    }

    /// A header's value by case-insensitive name (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request().header(name)
    }

    /// All request headers, in order.
    pub fn headers(&self) -> &[Header] {
        self.request().headers()
    }

    /// The `Host` header.
    pub fn host(&self) -> Option<&str> {
        self.request().host()
    }

    /// The `Origin` header: check it before accepting a browser's request (cross-site
    /// WebSocket hijacking, RFC 6455 §10.2).
    pub fn origin(&self) -> Option<&str> {
        self.request().origin()
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        self.request().protocols()
    }

    /// The extensions the client offered.
    pub fn extensions(&self) -> &[String] {
        self.request().extensions()
    }

    /// Accept with no subprotocol and no extra headers.
    ///
    /// # Errors
    /// As [`accept_with`](Self::accept_with).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn accept(self) -> Result<WebSocket<S, R>, Error> {
        self.accept_with(&AcceptOptions::new()).await
    }

    /// Accept: write the 101 response (with the chosen subprotocol and extra headers) and
    /// hand back the connection. Bytes the client sent after its request are kept.
    ///
    /// # Errors
    /// [`Error::Handshake`] when the options are invalid (a subprotocol the client did not
    /// offer, a header with CR/LF); [`Error::HandshakeTimeout`] when the response could
    /// not be written before the deadline; [`Error::Io`] when the transport failed.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn accept_with(self, options: &AcceptOptions) -> Result<WebSocket<S, R>, Error> {
        let Upgrade { io, handshake, mut timer, timeout } = self;
        let connection = handshake.accept(options)?;
        let mut ws = WebSocket::from_io(io, connection);
        with_deadline(&mut timer, ws.flush()).await.ok_or(Error::HandshakeTimeout(timeout))??;
        Ok(ws)
    }

    /// Reject: answer with `status` and `body` (for example 403 for a foreign origin, 404
    /// for an unknown path) and shut the stream down.
    ///
    /// # Errors
    /// [`Error::HandshakeTimeout`] when the response could not be written before the
    /// deadline; [`Error::Io`] when the transport failed.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn reject(self, status: u16, body: &[u8]) -> Result<(), Error> {
        let Upgrade { mut io, handshake, mut timer, timeout } = self;
        let response = handshake.reject(status, body);
        with_deadline(&mut timer, async {
            write_all(&mut io, &response).await?;
            shutdown(&mut io).await;
            Ok::<(), Error>(())
        })
        .await
        .ok_or(Error::HandshakeTimeout(timeout))?
    }
}
