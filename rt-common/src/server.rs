//! `Upgrade`: the server side of the opening handshake over a runtime stream — read the
//! request under one total deadline (which also bounds the TLS handshake of
//! `Upgrade::read_tls`, feature `rustls`), let the application look at it, then accept,
//! reject, or (read with [`Upgrade::read_request`]) answer a plain HTTP request. Parsing and
//! validation are `tether_proto::ServerHandshake`'s; TLS streams are the adapters'.

use std::fmt;
use std::io;
use std::time::Duration;

use tether_proto::{AcceptOptions, CloseCause, Config, HandshakeError, Header, Request, ServerHandshake, Transmit};

use crate::io::{drain, read_until, shutdown, with_deadline, write_transmit};
use crate::runtime::{deadline_after, Clock, Runtime, Transport};
use crate::{server_config, Error, HandshakeLimit, HandshakePermit, OpenError, WebSocket};

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
/// [`reject`](Self::reject) it. Read with [`read_request`](Self::read_request), it may
/// also be a plain HTTP request ([`is_upgrade`](Self::is_upgrade) is `false`), to answer
/// with [`respond`](Self::respond).
///
/// ```no_run
/// # async fn serve<S, R: tether_rt::Runtime>(stream: S) -> Result<(), tether_rt::OpenError>
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
    /// Boxed: an `Upgrade` is moved through the application's handler future, and every
    /// future that holds it across an `.await` is as large as its largest state for the
    /// whole connection — the upgraded connection would carry the handshake's bytes.
    parts: Box<Parts<S, R>>,
}

struct Parts<S, R: Runtime> {
    io: R::Io<S>,
    handshake: ServerHandshake,
    /// Armed at the handshake's deadline (from the engine's `poll_timeout`).
    timer: R::Sleep,
    /// The deadline's length, for the error when it passes.
    timeout: Duration,
    /// The handshake's clock: the connection after it keeps it.
    epoch: std::time::Instant,
    /// Released when the response has been written (or the upgrade is dropped).
    permit: Option<HandshakePermit>,
}

impl<S, R: Runtime> fmt::Debug for Upgrade<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade").field("request", &self.parts.handshake.request()).finish_non_exhaustive()
    }
}

impl<S, R> Upgrade<S, R>
where
    R: Runtime,
    R::Io<S>: Transport,
{
    /// Read the upgrade request from `stream` under the adapter's default configuration
    /// ([`server_config`]: smaller size limits than a client's).
    ///
    /// # Errors
    /// As [`read_with_config`](Self::read_with_config).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn read(stream: S) -> Result<Self, OpenError> {
        Box::pin(Self::read_inner(stream, server_config(), None)).await
    }

    /// Read the upgrade request from `stream`, within
    /// [`Config::handshake_timeout`](tether_proto::Config::handshake_timeout) — one total
    /// deadline that arriving bytes do not reset — and `config`'s header limits. The
    /// deadline also bounds writing the response.
    ///
    /// # Errors
    /// [`OpenError::Handshake`]: [`HandshakeError::Timeout`] when the request did not arrive
    /// in time, or the invalid request's error, after its response (400, 405, 426 or 431)
    /// was written and the stream shut down; [`OpenError::Io`] when the transport
    /// failed or ended first.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn read_with_config(stream: S, config: Config) -> Result<Self, OpenError> {
        Box::pin(Self::read_inner(stream, config, None)).await
    }

    /// Read the upgrade request under the default configuration if `limit` has a permit
    /// left; otherwise refuse the connection at once (the stream is dropped, closing it).
    /// The permit is held until the response has been written. In an accept loop, prefer
    /// [`HandshakeLimit::try_acquire`] before spawning a task, then
    /// [`read_with_permit`](Self::read_with_permit).
    ///
    /// # Errors
    /// [`OpenError::TooManyHandshakes`] when the limit is reached; otherwise as
    /// [`read_with_config`](Self::read_with_config).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream (and releases the permit).
    pub async fn read_limited(stream: S, limit: &HandshakeLimit) -> Result<Self, OpenError> {
        let permit = limit.try_acquire()?;
        Box::pin(Self::read_inner(stream, server_config(), Some(permit))).await
    }

    /// Read the upgrade request under `config`, holding `permit` (from
    /// [`HandshakeLimit::try_acquire`]) until the response has been written — or until the
    /// handshake fails or the [`Upgrade`] is dropped.
    ///
    /// # Errors
    /// As [`read_with_config`](Self::read_with_config).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream (and releases the permit).
    pub async fn read_with_permit(stream: S, config: Config, permit: HandshakePermit) -> Result<Self, OpenError> {
        Box::pin(Self::read_inner(stream, config, Some(permit))).await
    }

    /// Read one HTTP request — a WebSocket upgrade, or a plain request such as `GET /` for
    /// a page, a `POST`, or a request without `Upgrade` to a WebSocket endpoint — under
    /// `config`'s limits and one total deadline, as the other `read*` functions do, holding
    /// `permit` (if any) until the response has been written. Check
    /// [`is_upgrade`](Self::is_upgrade): a plain request is answered with
    /// [`respond`](Self::respond) (or [`reject`](Self::reject)); accepting it fails with
    /// the standard error response (400, 405, 426).
    ///
    /// ```no_run
    /// # async fn serve<S, R: tether_rt::Runtime>(stream: S) -> Result<(), tether_rt::OpenError>
    /// # where R::Io<S>: tether_rt::Transport {
    /// use tether_rt::Upgrade;
    /// let request = Upgrade::<S, R>::read_request(stream, tether_rt::default_config(), None).await?;
    /// match (request.path(), request.is_upgrade()) {
    ///     ("/", _) => request.respond(200, &[("Content-Type", "text/html")], b"<h1>hi</h1>").await,
    ///     ("/ws", true) => {
    ///         let mut ws = request.accept().await?;
    ///         # let _ = &mut ws;
    ///         Ok(())
    ///     }
    ///     ("/ws", false) => request.respond(426, &[("Upgrade", "websocket")], b"").await,
    ///     _ => request.respond(404, &[], b"not found").await,
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`read_with_config`](Self::read_with_config); only HTTP syntax, the head's limits
    /// (400, 431) and a repeated `Host` fail here.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream (and releases the permit).
    pub async fn read_request(stream: S, config: Config, permit: Option<HandshakePermit>) -> Result<Self, OpenError> {
        let started = ServerStart::<R>::with_handshake(ServerHandshake::with_plain_http(config.clone()), &config);
        Box::pin(Self::read_started(R::wrap(stream), started, permit)).await
    }

    /// The handshake's state (parser, timer, transport) lives in this future, which the
    /// public `read*` functions box: the caller's future then holds a pointer while the
    /// request arrives, and nothing once it has (see [`Upgrade::parts`]).
    pub(crate) async fn read_inner(
        stream: S,
        config: Config,
        permit: Option<HandshakePermit>,
    ) -> Result<Self, OpenError> {
        let started = ServerStart::<R>::new(config);
        Self::read_started(R::wrap(stream), started, permit).await
    }

    /// Read the request over `io` on a handshake whose clock (and deadline) has started.
    async fn read_started(
        mut io: R::Io<S>,
        started: ServerStart<R>,
        permit: Option<HandshakePermit>,
    ) -> Result<Self, OpenError> {
        let ServerStart { mut handshake, clock, mut timer, timeout } = started;
        let received = read_until(&mut io, &mut timer, |chunk| match handshake.receive(clock.now(), chunk) {
            Ok(Some(_)) => Some(Ok(())),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        })
        .await;
        let received = match received {
            Some(received) => received?,
            None => {
                handshake.handle_timeout(clock.now());
                return Err(timed_out(handshake.error(), timeout));
            }
        };
        if let Err(e) = received {
            // Boxed: the error path's state (response, linger timer, drain buffer) is not
            // carried by every pending handshake's future.
            Box::pin(respond_and_linger::<_, R>(&mut io, &mut timer, &mut handshake)).await;
            return Err(OpenError::Handshake(e));
        }
        Ok(Upgrade { parts: Box::new(Parts { io, handshake, timer, timeout, epoch: clock.epoch(), permit }) })
    }

    /// The request.
    pub fn request(&self) -> &Request {
        self.parts.handshake.request().expect("an Upgrade exists only once its request is complete")
    }

    /// The request method (always `GET` for a valid upgrade).
    pub fn method(&self) -> &str {
        self.request().method()
    }

    /// Whether this is a valid WebSocket upgrade request: always, unless read with
    /// [`read_request`](Self::read_request).
    pub fn is_upgrade(&self) -> bool {
        self.request().is_upgrade()
    }

    /// Whether the request asked for the WebSocket upgrade at all (an `Upgrade: websocket`
    /// header), valid or not. A plain request to a WebSocket endpoint has none: answer it
    /// 426 with `Upgrade: websocket`.
    pub fn wants_websocket(&self) -> bool {
        self.request().wants_websocket()
    }

    /// Why the request is not a valid upgrade (see [`Request::upgrade_error`]).
    pub fn upgrade_error(&self) -> Option<&HandshakeError> {
        self.request().upgrade_error()
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
    pub async fn accept(self) -> Result<WebSocket<S, R>, OpenError> {
        Box::pin(async move { self.finish_accept(&AcceptOptions::new()).await }).await
    }

    /// Accept: write the 101 response (with the chosen subprotocol and extra headers) and
    /// hand back the connection. Bytes the client sent after its request are kept.
    ///
    /// # Errors
    /// [`OpenError::Handshake`] when the options are invalid (a subprotocol the client did
    /// not offer, a header with CR/LF), for a plain request (its
    /// [`upgrade_error`](Self::upgrade_error), after the standard error response — 400,
    /// 405 or 426 — was written), or [`HandshakeError::Timeout`] when the response
    /// could not be written before the deadline (the engine's, carried by the connection
    /// until the 101 is written); [`OpenError::Io`] when the transport failed.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn accept_with(self, options: &AcceptOptions) -> Result<WebSocket<S, R>, OpenError> {
        Box::pin(self.finish_accept(options)).await
    }

    /// Write the 101 response and hand back the connection. Boxed by its callers, like
    /// `read_inner`: the caller's future keeps only the connection afterwards. The
    /// connection carries the handshake's deadline until the 101 is written (on the
    /// handshake's clock), so the engine bounds this write.
    pub(crate) async fn finish_accept(self, options: &AcceptOptions) -> Result<WebSocket<S, R>, OpenError> {
        if let Some(e) = self.upgrade_error().cloned() {
            let Parts { mut io, mut handshake, mut timer, .. } = *self.parts;
            handshake.answer_invalid();
            respond_and_linger::<_, R>(&mut io, &mut timer, &mut handshake).await;
            return Err(OpenError::Handshake(e));
        }
        let Parts { io, handshake, timeout, epoch, permit, .. } = *self.parts;
        let connection = handshake.accept(options)?;
        let mut ws = WebSocket::from_io(io, connection, epoch);
        if let Err(e) = ws.flush().await {
            return Err(open_failed(e, timeout, ws.transport_error()));
        }
        drop(permit);
        Ok(ws)
    }

    /// Reject: answer with `status` and `body` (for example 403 for a foreign origin, 404
    /// for an unknown path) and shut the stream down.
    ///
    /// # Errors
    /// [`OpenError::Handshake`] with [`HandshakeError::Timeout`] when the response could not
    /// be written before the handshake deadline; [`OpenError::Io`] when the transport
    /// failed.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn reject(self, status: u16, body: &[u8]) -> Result<(), OpenError> {
        self.respond(status, &[], body).await
    }

    /// Answer with a complete HTTP response — `status`, `headers` (e.g. `Content-Type`;
    /// `Content-Length` and `Connection: close` are written for you), `body` (left out for
    /// a `HEAD` request) — then shut the stream down, reading and discarding what the
    /// client still sends for a moment (a request body) so that closing does not reset the
    /// response away; all within the handshake deadline. For plain requests (see
    /// [`read_request`](Self::read_request)) and refusals alike; a 426 with
    /// `Upgrade: websocket` tells a plain client to upgrade.
    ///
    /// # Errors
    /// [`OpenError::Handshake`] with [`tether_proto::ApiMisuse::InvalidHeader`] for a header
    /// that cannot be sent (nothing is written then), or [`HandshakeError::Timeout`] when
    /// the response could not be written before the handshake deadline;
    /// [`OpenError::Io`] when the transport failed.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn respond(self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<(), OpenError> {
        Box::pin(async move {
            let Parts { mut io, mut handshake, mut timer, timeout, permit, .. } = *self.parts;
            handshake.respond(status, headers, body)?;
            let result = with_deadline(&mut timer, async {
                write_transmit(&mut io, &mut handshake).await?;
                shutdown(&mut io).await;
                Ok::<(), OpenError>(())
            })
            .await
            .ok_or(OpenError::Handshake(HandshakeError::Timeout { after: timeout }))?;
            drop(permit);
            if result.is_ok() {
                // The response is out: linger briefly (its own short deadline) so that
                // unread input — a request body — does not make the close a reset.
                let mut linger = R::sleep_until(deadline_after(R::now(), LINGER_TIME));
                with_deadline(&mut linger, drain(&mut io, LINGER_DRAIN)).await;
            }
            result
        })
        .await
    }
}

/// A server handshake whose clock has started: the engine's deadline is armed on the
/// runtime timer. Started before the TLS handshake, so that one deadline bounds both.
pub(crate) struct ServerStart<R: Runtime> {
    handshake: ServerHandshake,
    clock: Clock<R>,
    timer: R::Sleep,
    timeout: Duration,
}

impl<R: Runtime> ServerStart<R> {
    /// Start the clock: the engine's deadline is `config`'s handshake timeout from now.
    pub(crate) fn new(config: Config) -> Self {
        let timeout = config.handshake_timeout();
        Self::started(ServerHandshake::new(config), timeout)
    }

    /// Start the clock for `handshake` (strict, or with plain HTTP) built from `config`.
    pub(crate) fn with_handshake(handshake: ServerHandshake, config: &Config) -> Self {
        Self::started(handshake, config.handshake_timeout())
    }

    fn started(mut handshake: ServerHandshake, timeout: Duration) -> Self {
        // One clock for the handshake and the connection after it: the engine's deadline
        // starts now and the runtime timer is armed at it (it does not move).
        let clock = Clock::<R>::start();
        handshake.handle_timeout(clock.now());
        let timer = clock.timer_at(handshake.poll_timeout());
        ServerStart { handshake, clock, timer, timeout }
    }
}

/// The TLS server side (feature `rustls`): the TLS handshake and the upgrade request under
/// one handshake deadline.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
impl<R> Upgrade<R::MaybeTls, R>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport,
{
    /// Run the TLS handshake over `tcp` with `acceptor`, then read the upgrade request,
    /// under the server defaults ([`server_config`]: smaller size limits than a client's).
    ///
    /// # Errors
    /// As [`read_tls_with_config`](Self::read_tls_with_config).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn read_tls(tcp: R::TcpStream, acceptor: &crate::TlsAcceptor) -> Result<Self, OpenError> {
        Box::pin(Self::read_tls_inner(tcp, acceptor, server_config(), None)).await
    }

    /// Run the TLS handshake over `tcp`, then read the upgrade request, all within
    /// [`Config::handshake_timeout`](tether_proto::Config::handshake_timeout): a peer that
    /// sends part of a ClientHello and stops is cut at the same deadline as one that stops
    /// in the middle of its HTTP request.
    ///
    /// # Errors
    /// [`OpenError::Tls`] when the TLS handshake failed (for example
    /// [`TlsError::Protocol`](crate::TlsError::Protocol) for a client speaking plain HTTP to
    /// the TLS port); [`HandshakeError::Timeout`] when the deadline passed during either
    /// handshake; otherwise as [`read_with_config`](Self::read_with_config).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn read_tls_with_config(
        tcp: R::TcpStream,
        acceptor: &crate::TlsAcceptor,
        config: Config,
    ) -> Result<Self, OpenError> {
        Box::pin(Self::read_tls_inner(tcp, acceptor, config, None)).await
    }

    /// As [`read_tls_with_config`](Self::read_tls_with_config), holding `permit` (from
    /// [`HandshakeLimit::try_acquire`]) until the response has been written.
    ///
    /// # Errors
    /// As [`read_tls_with_config`](Self::read_tls_with_config).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream (and releases the permit).
    pub async fn read_tls_with_permit(
        tcp: R::TcpStream,
        acceptor: &crate::TlsAcceptor,
        config: Config,
        permit: HandshakePermit,
    ) -> Result<Self, OpenError> {
        Box::pin(Self::read_tls_inner(tcp, acceptor, config, Some(permit))).await
    }

    /// As [`read_request`](Upgrade::read_request) over TLS: the TLS handshake over `tcp`,
    /// then a request that may be plain HTTP (a page, a 404) or an upgrade, all within
    /// [`Config::handshake_timeout`](tether_proto::Config::handshake_timeout). What a
    /// server that serves pages and sockets on one TLS port reads with.
    ///
    /// # Errors
    /// As [`read_tls_with_config`](Self::read_tls_with_config).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream (and releases the permit).
    pub async fn read_request_tls(
        tcp: R::TcpStream,
        acceptor: &crate::TlsAcceptor,
        config: Config,
        permit: Option<HandshakePermit>,
    ) -> Result<Self, OpenError> {
        let started = ServerStart::<R>::with_handshake(ServerHandshake::with_plain_http(config.clone()), &config);
        Box::pin(Self::tls_then_read(tcp, acceptor, started, permit)).await
    }

    async fn read_tls_inner(
        tcp: R::TcpStream,
        acceptor: &crate::TlsAcceptor,
        config: Config,
        permit: Option<HandshakePermit>,
    ) -> Result<Self, OpenError> {
        Self::tls_then_read(tcp, acceptor, ServerStart::<R>::new(config), permit).await
    }

    /// The TLS handshake, then the request, on one started handshake clock.
    async fn tls_then_read(
        tcp: R::TcpStream,
        acceptor: &crate::TlsAcceptor,
        mut started: ServerStart<R>,
        permit: Option<HandshakePermit>,
    ) -> Result<Self, OpenError> {
        let stream = match with_deadline(&mut started.timer, R::tls_accept(tcp, acceptor.config())).await {
            Some(Ok(stream)) => stream,
            Some(Err(e)) => return Err(OpenError::from_tls_io(e)),
            None => {
                started.handshake.handle_timeout(started.clock.now());
                return Err(timed_out(started.handshake.error(), started.timeout));
            }
        };
        Self::read_started(R::wrap(stream), started, permit).await
    }
}

/// The error after the runtime timer fired at the engine's deadline: the engine's own
/// (`HandshakeError::Timeout`), or that error built here should the engine not have
/// recorded one.
pub(crate) fn timed_out(error: Option<&HandshakeError>, after: Duration) -> OpenError {
    OpenError::Handshake(error.cloned().unwrap_or(HandshakeError::Timeout { after }))
}

/// A connection that ended before its 101 response was written, as an opening error: the
/// handshake deadline is [`HandshakeError::Timeout`], a transport error keeps its kind.
pub(crate) fn open_failed(error: Error, after: Duration, kind: Option<io::ErrorKind>) -> OpenError {
    match error {
        Error::Closed(closed) if closed.cause == CloseCause::HandshakeTimeout => {
            OpenError::Handshake(HandshakeError::Timeout { after })
        }
        Error::Closed(closed) => {
            OpenError::Io(io::Error::new(kind.unwrap_or(io::ErrorKind::ConnectionAborted), Error::Closed(closed)))
        }
        other => OpenError::Io(io::Error::other(other)),
    }
}

/// After an invalid request: write its error response (400, 405, 426, 431), shut the
/// stream down and drain briefly so the response is not destroyed by a reset — all within
/// the handshake deadline. Before the 101, a connection holds only the handshake's header
/// buffer (grown with what arrived, capped at
/// [`Config::max_handshake_bytes`](tether_proto::Config::max_handshake_bytes)); this
/// path's buffers exist only while it runs.
async fn respond_and_linger<T: Transport, R: Runtime>(
    io: &mut T,
    timer: &mut R::Sleep,
    handshake: &mut ServerHandshake,
) {
    if handshake.buffered_transmit() == 0 {
        return;
    }
    let _ = with_deadline(timer, async {
        if write_transmit(io, handshake).await.is_ok() {
            shutdown(io).await;
            let mut linger = R::sleep_until(deadline_after(R::now(), LINGER_TIME));
            with_deadline(&mut linger, drain(io, LINGER_DRAIN)).await;
        }
    })
    .await;
}
