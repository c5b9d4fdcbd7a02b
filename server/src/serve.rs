//! `Server`: the serving half, written once for every runtime — an accept loop under a
//! [`HandshakeLimit`] and an optional per-IP cap, a task per connection, routes whose
//! handler gets the pending upgrade ([`Incoming`]) and decides, plain-page routes
//! ([`Response`]), the standard HTTP answers (404, 405, 426, 429), and graceful shutdown
//! (1001 to every live connection, a deadline, then the rest dropped), feeding the
//! counters of `stats.rs` (and, with the `tracing` feature, a span per connection). What
//! does not live here: route matching (`router.rs`), the handshake and the connection
//! (`tether-rt`), and anything naming a runtime (the adapters re-export this module with
//! theirs filled in).

use std::collections::HashMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::net::{IpAddr, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use tether_rt::{
    server_config, AcceptOptions, Config, HandshakeLimit, Header, OpenError, Request, Runtime, Shutdown, Transport,
    Upgrade, WebSocket,
};

use crate::params::{InvalidQuery, Params, Query};
use crate::router::Router;
use crate::stats::{Open, OpenedMark, ServerStats};

/// Handshakes in progress a [`Server`] allows by default ([`Server::handshake_limit`]).
pub const DEFAULT_HANDSHAKE_LIMIT: usize = 1024;

/// How long a [`Server`] waits by default for its connections to finish their closing
/// handshakes after a shutdown ([`Server::shutdown_timeout`]).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A pause after a failed `accept` (out of file descriptors, say) before trying again, so
/// the loop does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

type SocketHandler<R> = Arc<dyn Fn(Incoming<R>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
type PageHandler = Arc<dyn Fn(&PageRequest<'_>) -> Response + Send + Sync>;

/// What a route serves.
enum Endpoint<R: Runtime> {
    /// A WebSocket endpoint: its handler, and the connection's configuration (boxed: a
    /// `Config` is large, and most routes have none of their own).
    Socket { handler: SocketHandler<R>, config: Option<Box<Config>> },
    /// A plain page, answered at once.
    Page(PageHandler),
}

impl<R: Runtime> Clone for Endpoint<R> {
    fn clone(&self) -> Self {
        match self {
            Endpoint::Socket { handler, config } => {
                Endpoint::Socket { handler: handler.clone(), config: config.clone() }
            }
            Endpoint::Page(page) => Endpoint::Page(page.clone()),
        }
    }
}

/// A plain HTTP response for a page route: status, headers and body. `Content-Length` and
/// `Connection: close` are written for you (one request per connection).
///
/// ```
/// use tether_server::Response;
/// let page = Response::html("<h1>hello</h1>");
/// assert_eq!(page.status(), 200);
/// let moved = Response::new(308).header("Location", "/chat");
/// assert_eq!(moved.headers(), [("Location".to_owned(), "/chat".to_owned())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// 200 with `Content-Type: text/html; charset=utf-8`.
    pub fn html(body: impl Into<Vec<u8>>) -> Self {
        Response::new(200).header("Content-Type", "text/html; charset=utf-8").body(body)
    }

    /// `status` with `Content-Type: text/plain; charset=utf-8`.
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status).header("Content-Type", "text/plain; charset=utf-8").body(body)
    }

    /// Adds a header. A name that is not a token, a value with CR or LF, or a header the
    /// response writes itself (`Content-Length`, `Connection`, `Transfer-Encoding`) makes
    /// the server answer 500 instead.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }
}

/// The request a page route's handler answers: the request head, the route's path
/// parameters and the peer's address.
#[derive(Debug)]
pub struct PageRequest<'a> {
    request: &'a Request,
    params: &'a Params<'a, 'a>,
    peer: SocketAddr,
}

impl PageRequest<'_> {
    /// The request head (method, path, query, headers).
    pub fn request(&self) -> &Request {
        self.request
    }

    /// The route's path parameters, decoded.
    pub fn params(&self) -> &Params<'_, '_> {
        self.params
    }

    /// The query, decoded as a form.
    ///
    /// # Errors
    /// [`InvalidQuery`] for a bad encoding (answer it with 400).
    pub fn query(&self) -> Result<Query<'_>, InvalidQuery> {
        Query::parse(self.request.query())
    }

    /// A header's value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
}

/// A WebSocket request routed to a socket route, not answered yet: the route's handler
/// looks at it (path parameters, query, headers, subprotocols, the peer's address) and
/// decides — [`accept`](Self::accept) / [`accept_with`](Self::accept_with) (under the
/// route's configuration unless the options bring one) or [`reject`](Self::reject) /
/// [`respond`](Self::respond) (401 or 403 before accepting, for example). The accepted
/// connection closes with 1001 (Going Away) when the server shuts down.
pub struct Incoming<R: Runtime> {
    upgrade: Upgrade<R::MaybeTls, R>,
    params: Params<'static, 'static>,
    template: Arc<str>,
    peer: SocketAddr,
    config: Option<Config>,
    shutdown: Shutdown,
    mark: OpenedMark,
}

impl<R: Runtime> fmt::Debug for Incoming<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("template", &self.template)
            .field("params", &self.params)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<R> Incoming<R>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport,
{
    /// The path parameters of the route, decoded (`/ws/{room}` → `room`).
    pub fn params(&self) -> &Params<'static, 'static> {
        &self.params
    }

    /// The query, decoded as a form (`?name=Ada`).
    ///
    /// # Errors
    /// [`InvalidQuery`] for a bad encoding (answer it with 400).
    pub fn query(&self) -> Result<Query<'_>, InvalidQuery> {
        Query::parse(self.upgrade.query())
    }

    /// The route's template, e.g. `/ws/{room}` (a low-cardinality label for logs).
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The request head.
    pub fn request(&self) -> &Request {
        self.upgrade.request()
    }

    /// The path of the request.
    pub fn path(&self) -> &str {
        self.upgrade.path()
    }

    /// A header's value by case-insensitive name (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.upgrade.header(name)
    }

    /// Every request header, in order.
    pub fn headers(&self) -> &[Header] {
        self.upgrade.headers()
    }

    /// The `Origin` header: check it before accepting a browser's request (RFC 6455 §10.2).
    pub fn origin(&self) -> Option<&str> {
        self.upgrade.origin()
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        self.upgrade.protocols()
    }

    /// The pending upgrade itself.
    pub fn upgrade(&self) -> &Upgrade<R::MaybeTls, R> {
        &self.upgrade
    }

    /// Accept with no subprotocol, under the route's configuration.
    ///
    /// # Errors
    /// As [`Upgrade::accept_with`].
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn accept(self) -> Result<WebSocket<R::MaybeTls, R>, OpenError> {
        self.accept_with(AcceptOptions::new()).await
    }

    /// Accept with `options` (subprotocol, extra headers; the route's configuration unless
    /// they set one with [`AcceptOptions::config`]). The connection watches the server's
    /// shutdown ([`WebSocket::close_on`]).
    ///
    /// # Errors
    /// As [`Upgrade::accept_with`].
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn accept_with(self, options: AcceptOptions) -> Result<WebSocket<R::MaybeTls, R>, OpenError> {
        let Incoming { upgrade, config, shutdown, mark, .. } = self;
        let options = match config {
            Some(config) if options.chosen_config().is_none() => options.config(config),
            _ => options,
        };
        let mut ws = match upgrade.accept_with(&options).await {
            Ok(ws) => ws,
            Err(e) => {
                mark.handshake_failed();
                return Err(e);
            }
        };
        mark.opened();
        #[cfg(feature = "tracing")]
        tracing::info!(protocol = ws.protocol().unwrap_or(""), "websocket opened");
        mark.observe(&mut ws);
        ws.close_on(&shutdown);
        Ok(ws)
    }

    /// Refuse: answer `status` (401 without credentials, 403 for a foreign origin) with
    /// `body` as plain text.
    ///
    /// # Errors
    /// As [`Upgrade::respond`].
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn reject(self, status: u16, body: &[u8]) -> Result<(), OpenError> {
        self.mark.answered();
        self.upgrade.respond(status, &[("Content-Type", "text/plain; charset=utf-8")], body).await
    }

    /// Answer with a complete HTTP response instead of accepting (a 401 with its
    /// `WWW-Authenticate`, a redirect).
    ///
    /// # Errors
    /// As [`Upgrade::respond`].
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn respond(self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<(), OpenError> {
        self.mark.answered();
        self.upgrade.respond(status, headers, body).await
    }
}

/// What a [`Server::serve`] run did, once it returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Served {
    /// Connections accepted and given a task.
    pub accepted: u64,
    /// Connections dropped at once because the [`HandshakeLimit`] was full.
    pub refused: u64,
    /// Connections still running at the shutdown deadline, dropped then.
    pub abandoned: usize,
}

/// A WebSocket (and small HTTP) server, written once for every runtime: routes, then
/// [`serve`](Self::serve) on a listener until a shutdown future completes.
///
/// - **Socket routes** ([`socket`](Self::socket)) hand each valid upgrade to their handler
///   as an [`Incoming`]; the server answers a non-`GET` request 405 and a request without
///   `Upgrade: websocket` 426 (with `Upgrade: websocket`), and an invalid upgrade with its
///   own status (400, or 426 for a version other than 13).
/// - **Page routes** ([`page`](Self::page)) answer `GET` and `HEAD` with a [`Response`];
///   other methods get 405.
/// - Any other path is 404 (400 for a path that is not valid percent-encoded UTF-8).
/// - Each connection gets a task; at most [`handshake_limit`](Self::handshake_limit)
///   requests are being read at once (more connections are closed at once, unread), each
///   within [`Config::handshake_timeout`], and with
///   [`max_connections_per_ip`](Self::max_connections_per_ip) one address's connections
///   beyond the cap are answered 429.
/// - When the shutdown future completes: stop accepting, close every accepted connection
///   with 1001 (Going Away), wait for the tasks up to
///   [`shutdown_timeout`](Self::shutdown_timeout), then drop the rest and return.
///
/// With tokio (every adapter re-exports this as `server::Server` with its runtime):
///
/// ```no_run
/// # async fn f<R: tether_rt::Runtime>(listener: R::TcpListener)
/// # where R::Io<R::MaybeTls>: tether_rt::Transport + Send {
/// use tether_server::{Response, Server};
/// let server = Server::<R>::new()
///     .page("/", |_| Response::html("<h1>hello</h1>"))
///     .socket("/ws/{room}", |incoming| async move {
///         if incoming.header("Authorization").is_none() {
///             let _ = incoming.reject(401, b"who are you?").await;
///             return;
///         }
///         let room = incoming.params().get("room").unwrap_or_default().to_owned();
///         let Ok(mut ws) = incoming.accept().await else { return };
///         while let Ok(Some(message)) = ws.recv().await {
///             let _ = ws.send(message).await;
///         }
///         # let _ = room;
///     });
/// let shutdown = tether_rt::Shutdown::new(); // trigger it from a Ctrl-C handler
/// let served = server.serve(listener, shutdown.triggered()).await;
/// # let _ = served;
/// # }
/// ```
pub struct Server<R: Runtime> {
    router: Router<Endpoint<R>>,
    config: Config,
    handshake_limit: usize,
    per_ip: Option<usize>,
    shutdown_timeout: Duration,
    #[cfg(feature = "rustls")]
    tls: Option<tether_rt::TlsAcceptor>,
    stats: ServerStats,
}

impl<R: Runtime> fmt::Debug for Server<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("routes", &self.router.templates().collect::<Vec<_>>())
            .field("handshake_limit", &self.handshake_limit)
            .field("per_ip", &self.per_ip)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl<R> Default for Server<R>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<R> Server<R>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    /// A server with no routes, the server defaults ([`server_config`]: the smaller size
    /// limits a server should hold every peer to), a handshake limit of
    /// [`DEFAULT_HANDSHAKE_LIMIT`], no per-IP cap and a [`DEFAULT_SHUTDOWN_TIMEOUT`].
    pub fn new() -> Self {
        Server {
            router: Router::new(),
            config: server_config(),
            handshake_limit: DEFAULT_HANDSHAKE_LIMIT,
            per_ip: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            #[cfg(feature = "rustls")]
            tls: None,
            stats: ServerStats::default(),
        }
    }

    /// Serve over TLS (`https://` pages, `wss://` sockets) with `acceptor`: every
    /// connection's TLS handshake and request are read under one
    /// [`Config::handshake_timeout`](tether_proto::Config::handshake_timeout); a client that
    /// speaks plain HTTP to the port, or fails the handshake, is dropped.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn tls(mut self, acceptor: tether_rt::TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// The server's counters (connections accepted, open, refused; WebSockets opened and
    /// open; HTTP answers): a handle to keep before [`serve`](Self::serve) consumes the
    /// server, readable while it runs and after. See [`ServerStats`].
    pub fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    /// The configuration requests are read with (its handshake limits and deadline) and
    /// that socket routes without their own give their connections.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// At most `max` requests being read at once; connections beyond it are closed at
    /// once, unread.
    pub fn handshake_limit(mut self, max: usize) -> Self {
        self.handshake_limit = max;
        self
    }

    /// At most `max` live connections (handshakes included) from one IP address; beyond it
    /// a connection's request is answered 429 (Too Many Requests). `None` (the default):
    /// no cap.
    pub fn max_connections_per_ip(mut self, max: Option<usize>) -> Self {
        self.per_ip = max;
        self
    }

    /// How long [`serve`](Self::serve) waits, after the shutdown future completed and every
    /// connection was sent 1001, for the connection tasks to finish before dropping them.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// A WebSocket route: `handler` gets each valid upgrade to a path matching `template`
    /// (see [`Router`] for templates), and runs in the connection's task.
    ///
    /// # Panics
    /// On a template [`Router::try_route`] refuses (a bug to fix at startup).
    #[track_caller]
    pub fn socket<F, Fut>(self, template: &str, handler: F) -> Self
    where
        F: Fn(Incoming<R>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_socket(template, None, handler)
    }

    /// A WebSocket route whose connections run under `config` (its message limits,
    /// keepalive, deflate) instead of the server's.
    ///
    /// # Panics
    /// On a template [`Router::try_route`] refuses.
    #[track_caller]
    pub fn socket_with_config<F, Fut>(self, template: &str, config: Config, handler: F) -> Self
    where
        F: Fn(Incoming<R>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_socket(template, Some(config), handler)
    }

    #[track_caller]
    fn add_socket<F, Fut>(mut self, template: &str, config: Option<Config>, handler: F) -> Self
    where
        F: Fn(Incoming<R>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: SocketHandler<R> = Arc::new(move |incoming| Box::pin(handler(incoming)));
        self.router = self.router.route(template, Endpoint::Socket { handler, config: config.map(Box::new) });
        self
    }

    /// A plain page: `handler` answers `GET` and `HEAD` requests to `template` (a `HEAD`
    /// gets the headers only). It runs in the connection's task and should not block.
    ///
    /// # Panics
    /// On a template [`Router::try_route`] refuses.
    #[track_caller]
    pub fn page<F>(mut self, template: &str, handler: F) -> Self
    where
        F: Fn(&PageRequest<'_>) -> Response + Send + Sync + 'static,
    {
        self.router = self.router.route(template, Endpoint::Page(Arc::new(handler)));
        self
    }

    /// Accept connections on `listener` until `shutdown` completes (a Ctrl-C future,
    /// [`Shutdown::triggered`]), then shut down gracefully: stop accepting, send 1001 to
    /// every accepted connection, wait for their tasks up to the
    /// [`shutdown_timeout`](Self::shutdown_timeout), drop the rest, and return what was
    /// done. Failed accepts (out of file descriptors) are retried after a short pause;
    /// nothing else ends the loop.
    ///
    /// Connection tasks are spawned on the runtime, so `serve` must run inside it (as any
    /// task of that runtime does).
    pub async fn serve<F: Future<Output = ()>>(self, listener: R::TcpListener, shutdown: F) -> Served {
        let shared = Arc::new(Shared {
            router: self.router,
            config: self.config,
            #[cfg(feature = "rustls")]
            tls: self.tls,
            per_ip: self.per_ip.map(|max| PerIp { max, live: Mutex::new(HashMap::new()) }),
            going_away: Shutdown::new(),
            abort: Shutdown::new(),
            tasks: Tasks::default(),
            stats: self.stats,
        });
        let limit = HandshakeLimit::new(self.handshake_limit);
        let mut served = Served::default();
        let mut shutdown = pin!(shutdown);
        loop {
            let accepted = {
                let mut accept = pin!(R::accept_tcp(&listener));
                poll_fn(|cx| {
                    if shutdown.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    accept.as_mut().poll(cx).map(Some)
                })
                .await
            };
            match accepted {
                None => break,
                Some(Ok((stream, peer))) => {
                    let Ok(permit) = limit.try_acquire() else {
                        served.refused += 1;
                        shared.stats.refused();
                        #[cfg(feature = "tracing")]
                        tracing::debug!(peer = %peer, "refused: the handshake limit is full");
                        drop(stream);
                        continue;
                    };
                    served.accepted += 1;
                    let open = shared.stats.connection();
                    let task = connection::<R>(shared.clone(), stream, peer, permit, open);
                    // One span per connection: its route and parameters are recorded once routed.
                    #[cfg(feature = "tracing")]
                    let task = tracing::Instrument::instrument(
                        task,
                        tracing::info_span!(
                            "connection",
                            peer = %peer,
                            route = tracing::field::Empty,
                            params = tracing::field::Empty
                        ),
                    );
                    let guard = shared.tasks.enter();
                    let abort = shared.abort.triggered();
                    R::spawn(async move {
                        let _guard = guard;
                        let mut task = pin!(task);
                        let mut abort = abort;
                        // The task, unless the shutdown deadline passes first.
                        poll_fn(|cx| {
                            if task.as_mut().poll(cx).is_ready() || Pin::new(&mut abort).poll(cx).is_ready() {
                                return Poll::Ready(());
                            }
                            Poll::Pending
                        })
                        .await;
                    });
                }
                Some(Err(_)) => {
                    // Out of file descriptors, a connection reset before it was accepted:
                    // pause (unless shutting down) and go on.
                    let mut pause = R::sleep_until(R::now() + ACCEPT_BACKOFF);
                    let stop = poll_fn(|cx| {
                        if shutdown.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(true);
                        }
                        Pin::new(&mut pause).poll(cx).map(|_| false)
                    })
                    .await;
                    if stop {
                        break;
                    }
                }
            }
        }
        drop(listener);
        shared.going_away.trigger();
        let mut deadline = R::sleep_until(R::now() + self.shutdown_timeout);
        poll_fn(|cx| {
            if shared.tasks.poll_idle(cx).is_ready() || Pin::new(&mut deadline).poll(cx).is_ready() {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
        served.abandoned = shared.tasks.live();
        shared.abort.trigger();
        served
    }
}

/// What every connection task shares.
struct Shared<R: Runtime> {
    router: Router<Endpoint<R>>,
    config: Config,
    /// The TLS acceptor, when serving over TLS.
    #[cfg(feature = "rustls")]
    tls: Option<tether_rt::TlsAcceptor>,
    per_ip: Option<PerIp>,
    /// Triggered when serving stops: accepted connections close with 1001.
    going_away: Shutdown,
    /// Triggered at the shutdown deadline: the tasks still running are dropped.
    abort: Shutdown,
    tasks: Tasks,
    stats: ServerStats,
}

/// Live connections per address, for the per-IP cap.
struct PerIp {
    max: usize,
    live: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address until dropped.
struct IpSlot<'a> {
    per_ip: &'a PerIp,
    ip: IpAddr,
}

impl PerIp {
    /// Count a connection from `ip`; `Err` (still counted, until dropped) past the cap.
    fn enter(&self, ip: IpAddr) -> Result<IpSlot<'_>, IpSlot<'_>> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let count = live.entry(ip).or_insert(0);
        *count += 1;
        let slot = IpSlot { per_ip: self, ip };
        if *count > self.max {
            Err(slot)
        } else {
            Ok(slot)
        }
    }
}

impl Drop for IpSlot<'_> {
    fn drop(&mut self) {
        let mut live = self.per_ip.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = live.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                live.remove(&self.ip);
            }
        }
    }
}

/// The connection tasks alive, and the shutdown waiting for none to be.
#[derive(Default)]
struct Tasks {
    live: Arc<TaskCount>,
}

#[derive(Default)]
struct TaskCount {
    live: AtomicUsize,
    idle: Mutex<Option<Waker>>,
}

/// One live task; dropping it (the task ended or was dropped) may wake the shutdown.
struct TaskGuard(Arc<TaskCount>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            if let Some(waker) = self.0.idle.lock().unwrap_or_else(|e| e.into_inner()).take() {
                waker.wake();
            }
        }
    }
}

impl Tasks {
    fn enter(&self) -> TaskGuard {
        self.live.live.fetch_add(1, Ordering::SeqCst);
        TaskGuard(self.live.clone())
    }

    fn live(&self) -> usize {
        self.live.live.load(Ordering::SeqCst)
    }

    fn poll_idle(&self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.live() == 0 {
            return Poll::Ready(());
        }
        *self.live.idle.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        if self.live() == 0 {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// The request on a new connection: over TLS when the server has an acceptor (the TLS
/// handshake and the request under one deadline), else over the plain stream.
async fn read_request<R>(
    shared: &Shared<R>,
    stream: R::TcpStream,
    permit: tether_rt::HandshakePermit,
) -> Result<Upgrade<R::MaybeTls, R>, OpenError>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    #[cfg(feature = "rustls")]
    if let Some(acceptor) = &shared.tls {
        return Upgrade::<R::MaybeTls, R>::read_request_tls(stream, acceptor, shared.config.clone(), Some(permit))
            .await;
    }
    Upgrade::<R::MaybeTls, R>::read_request(R::plain(stream), shared.config.clone(), Some(permit)).await
}

/// One connection: read its request, route it, answer or hand it to the route's handler.
async fn connection<R>(
    shared: Arc<Shared<R>>,
    stream: R::TcpStream,
    peer: SocketAddr,
    permit: tether_rt::HandshakePermit,
    mut open: Open,
) where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    let ip_slot = shared.per_ip.as_ref().map(|per_ip| per_ip.enter(peer.ip()));
    let Ok(request) = read_request(&shared, stream, permit).await else {
        // Invalid or too slow: answered (400, 431) or dropped by the handshake.
        shared.stats.ended(tether_rt::CloseKind::HandshakeFailed);
        return;
    };
    if let Some(Err(_)) = &ip_slot {
        shared.stats.refused_per_ip();
        #[cfg(feature = "tracing")]
        tracing::debug!("answered 429: the address is at its per-IP cap");
        shared.stats.answered();
        let _ = request.respond(429, TEXT, b"too many connections from this address").await;
        return;
    }
    let routed = shared
        .router
        .at(request.path())
        .map(|found| (found.handler().clone(), Arc::<str>::from(found.template()), found.into_params().into_owned()));
    let (endpoint, template, params) = match routed {
        Ok(routed) => {
            #[cfg(feature = "tracing")]
            {
                let span = tracing::Span::current();
                span.record("route", &*routed.1);
                span.record("params", tracing::field::debug(&routed.2));
            }
            routed
        }
        Err(no_match) => {
            shared.stats.answered();
            let _ = request.respond(no_match.status(), TEXT, no_match.to_string().as_bytes()).await;
            return;
        }
    };
    match endpoint {
        Endpoint::Page(page) => {
            if !matches!(request.method(), "GET" | "HEAD") {
                shared.stats.answered();
                let _ = request.respond(405, &[("Allow", "GET, HEAD")], b"").await;
                return;
            }
            let response = page(&PageRequest { request: request.request(), params: &params, peer });
            if !response.headers.iter().all(|(n, v)| sendable_header(n, v)) {
                shared.stats.answered();
                let _ = request.respond(500, TEXT, b"the page's response has an invalid header").await;
                return;
            }
            let headers: Vec<(&str, &str)> = response.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            shared.stats.answered();
            let _ = request.respond(response.status, &headers, &response.body).await;
        }
        Endpoint::Socket { handler, config } => {
            if request.method() != "GET" {
                shared.stats.answered();
                let _ = request.respond(405, &[("Allow", "GET")], b"").await;
                return;
            }
            if !request.wants_websocket() {
                shared.stats.answered();
                let _ = request.respond(426, &[("Upgrade", "websocket")], b"this endpoint speaks WebSocket").await;
                return;
            }
            if !request.is_upgrade() {
                // An invalid upgrade: `accept` writes its standard answer (400, 426).
                shared.stats.answered();
                let _ = request.accept().await;
                return;
            }
            let incoming = Incoming {
                upgrade: request,
                params,
                template,
                peer,
                config: config.map(|config| *config),
                shutdown: shared.going_away.clone(),
                mark: open.mark(),
            };
            // The connection reports its own end (counters, the `websocket closed` event).
            handler(incoming).await;
        }
    }
    drop(ip_slot);
}

const TEXT: &[(&str, &str)] = &[("Content-Type", "text/plain; charset=utf-8")];

/// Whether a page's header can be sent as given: a token name (RFC 9110 §5.6.2), a value
/// without control bytes, and not one the response writes itself.
fn sendable_header(name: &str, value: &str) -> bool {
    const TCHAR: &[u8] = b"!#$%&'*+-.^_`|~";
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || TCHAR.contains(&b))
        && value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
        && !["Content-Length", "Connection", "Transfer-Encoding"].iter().any(|r| r.eq_ignore_ascii_case(name))
}
