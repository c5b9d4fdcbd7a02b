//! `ClientBuilder`: the client side of the opening handshake over a runtime stream —
//! `connect(url)` through the runtime's DNS and TCP, through a proxy when one applies (given,
//! or from the environment), then TLS for `wss://` (feature `rustls`, through the runtime's
//! TLS stream), all under the one handshake deadline; or over a stream the caller supplies.
//! Building and validating HTTP is `tether_proto::ClientHandshake`'s; TLS configuration is
//! `tls.rs`'s; the proxy exchange is `proxy.rs`'s.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use tether_proto::{ApiMisuse, ClientHandshake, ClientRequest, Config, HandshakeError, Proxy, ProxyEnv};

use crate::io::{read_until, with_deadline, write_transmit};
use crate::proxy::{open_tunnel, ProxyChoice};
use crate::runtime::{Clock, Runtime, Transport};
use crate::server::timed_out;
use crate::{default_config, OpenError, WebSocket};

/// Builds a client connection: subprotocols, extra headers, origin, configuration.
///
/// Adapters name it `tether_tokio::ClientBuilder` (and offer `client(url)`):
///
/// ```no_run
/// # async fn f<R: tether_rt::Runtime>() -> Result<(), tether_rt::OpenError>
/// # where R::Io<R::MaybeTls>: tether_rt::Transport, for<'a> R::Io<&'a mut R::TcpStream>: tether_rt::Transport {
/// let ws = tether_rt::ClientBuilder::<R>::new("ws://127.0.0.1:9001/chat")
///     .protocol("chat")
///     .header("Authorization", "Bearer x")
///     .connect()
///     .await?;
/// assert_eq!(ws.protocol(), Some("chat"));
/// # Ok(()) }
/// ```
#[must_use]
pub struct ClientBuilder<R> {
    /// Boxed, like the server's `Upgrade`: `connect(self)` keeps the builder in the
    /// caller's future, which is that large for the whole life of the connection.
    parts: Box<Parts>,
    _runtime: PhantomData<fn() -> R>,
}

struct Parts {
    request: Result<ClientRequest, HandshakeError>,
    config: Option<Config>,
    proxy: ProxyChoice,
    #[cfg(feature = "rustls")]
    tls: Option<crate::TlsConnector>,
}

impl<R> fmt::Debug for ClientBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder").field("request", &self.parts.request).finish_non_exhaustive()
    }
}

impl<R: Runtime> ClientBuilder<R> {
    /// A builder for `url` (`ws://host[:port]/path?query`, or `wss://` with
    /// [`connect_on`](Self::connect_on) and a TLS stream). An invalid URL is reported by
    /// `connect`.
    pub fn new(url: &str) -> Self {
        ClientBuilder::with(ClientRequest::from_url(url))
    }

    /// A builder for a prepared [`ClientRequest`] (for example
    /// `ClientRequest::new(host_header, path)` over a stream you connected yourself).
    pub fn from_request(request: ClientRequest) -> Self {
        ClientBuilder::with(Ok(request))
    }

    fn map_request(&mut self, f: impl FnOnce(ClientRequest) -> ClientRequest) {
        // The placeholder is never observed: it is replaced on the next line.
        let request = std::mem::replace(&mut self.parts.request, Err(HandshakeError::ApiMisuse(ApiMisuse::Incomplete)));
        self.parts.request = request.map(f);
    }

    fn with(request: Result<ClientRequest, HandshakeError>) -> Self {
        ClientBuilder {
            parts: Box::new(Parts {
                request,
                config: None,
                proxy: ProxyChoice::default(),
                #[cfg(feature = "rustls")]
                tls: None,
            }),
            _runtime: PhantomData,
        }
    }

    /// Offer a subprotocol (call again for more, in order of preference).
    pub fn protocol(mut self, protocol: &str) -> Self {
        self.map_request(|r| r.protocol(protocol));
        self
    }

    /// Add a request header. Values with CR or LF are rejected by `connect`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.map_request(|r| r.header(name, value));
        self
    }

    /// Send an `Origin` header.
    pub fn origin(mut self, origin: &str) -> Self {
        self.map_request(|r| r.origin(origin));
        self
    }

    /// The connection's configuration (default: [`default_config`], with keepalive on).
    pub fn config(mut self, config: Config) -> Self {
        self.parts.config = Some(config);
        self
    }

    /// The TLS settings for a `wss://` URL (feature `rustls`): a private CA, client
    /// certificates, or a connector reused across connections. Default:
    /// [`TlsConnector::default_roots`](crate::TlsConnector::default_roots).
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn tls(mut self, connector: crate::TlsConnector) -> Self {
        self.parts.tls = Some(connector);
        self
    }

    /// Connect through `proxy` (an HTTP proxy asked with `CONNECT`, or SOCKS5), whatever the
    /// environment says (`NO_PROXY` included). Parse one with
    /// [`Proxy::from_url`](tether_proto::Proxy::from_url):
    /// `http://[user:password@]host:port`, `socks5://…` or `socks5h://…`.
    ///
    /// SOCKS5 always sends the target's name to the proxy, which resolves it (remote DNS,
    /// what curl does for `socks5h://`): `socks5://` is treated the same, so no name is
    /// looked up on this machine, where the proxy's network may not resolve it alike.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.parts.proxy = ProxyChoice::Fixed(proxy);
        self
    }

    /// Connect directly, whatever the environment's proxy variables say.
    pub fn no_proxy(mut self) -> Self {
        self.parts.proxy = ProxyChoice::Direct;
        self
    }

    /// Choose the proxy from these settings (as the process environment's are read by
    /// default), for example `ProxyEnv::from_lookup` over a configuration file's values.
    pub fn proxy_env(mut self, env: ProxyEnv) -> Self {
        self.parts.proxy = ProxyChoice::Env(env);
        self
    }

    /// Resolve the URL's host, connect over the runtime's TCP, run the TLS handshake for
    /// `wss://` (SNI from the URL's host, ALPN `http/1.1`) and the WebSocket handshake, all
    /// within [`Config::handshake_timeout`](tether_proto::Config::handshake_timeout).
    ///
    /// # Proxies
    /// Unless [`proxy`](Self::proxy), [`no_proxy`](Self::no_proxy) or
    /// [`proxy_env`](Self::proxy_env) says otherwise, the process environment is honoured as
    /// curl honours it (see [`ProxyEnv`]): `wss://` through `https_proxy` (or
    /// `HTTPS_PROXY`), `ws://` through `http_proxy`, either falling back to `all_proxy` (or
    /// `ALL_PROXY`), hosts in `no_proxy` (or `NO_PROXY`) reached directly. Through a proxy,
    /// the TCP connection goes to the proxy, the tunnel is opened (HTTP `CONNECT` or SOCKS5),
    /// and TLS (SNI and certificate check for the URL's host) and the WebSocket handshake
    /// run through it, all within the same deadline.
    ///
    /// # Errors
    /// [`OpenError::Proxy`] when the proxy refused or botched the tunnel (a
    /// [`ProxyError`](tether_proto::ProxyError): a non-2xx answer to `CONNECT` with its
    /// status — 407 for missing or wrong credentials —, a SOCKS5 failure reply, refused
    /// credentials, a malformed answer, the deadline passing during the exchange, or an
    /// environment variable that holds no valid proxy URL), [`OpenError::ProxyUnreachable`]
    /// when the proxy could not be connected to;
    /// `OpenError::Tls` (feature `rustls`) when the TLS handshake failed (a refused certificate says why,
    /// also via `OpenError::certificate_problem`); [`OpenError::TlsRequired`] for `wss://`
    /// without the `rustls` feature; [`OpenError::Handshake`] for an invalid URL
    /// or header, or a server that did not answer 101
    /// ([`HandshakeError::UnexpectedStatus`] with its status and headers, also via
    /// [`OpenError::http_status`]) or answered wrongly, or [`HandshakeError::Timeout`];
    /// [`OpenError::Io`] when resolving, connecting or the transport failed.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the connection being made.
    pub async fn connect(self) -> Result<WebSocket<R::MaybeTls, R>, OpenError>
    where
        R::Io<R::MaybeTls>: Transport,
        for<'a> R::Io<&'a mut R::TcpStream>: Transport,
    {
        // Boxed: the handshake's state stays out of the caller's future, which would
        // otherwise be that large for the whole life of the connection.
        Box::pin(async move {
            let parts = *self.parts;
            let request = parts.request?;
            let secure = request.is_secure();
            #[cfg(not(feature = "rustls"))]
            if secure {
                return Err(OpenError::TlsRequired);
            }
            let (host, port) = (request.host().to_owned(), request.port());
            let proxy = parts.proxy.resolve(secure, &host)?;
            // TLS settings and the server name are checked before anything is connected.
            #[cfg(feature = "rustls")]
            let tls = match secure {
                true => {
                    let connector = match parts.tls {
                        Some(connector) => connector,
                        None => crate::TlsConnector::default_roots()?,
                    };
                    Some((connector.config(), crate::tls::server_name(&host)?))
                }
                false => None,
            };
            // The handshake (and its deadline) starts before connecting: connecting (and
            // the TLS handshake) count.
            let mut started = Started::<R>::new(request, parts.config)?;
            let tcp = match &proxy {
                None => match with_deadline(&mut started.timer, R::connect_tcp(&host, port)).await {
                    Some(tcp) => tcp?,
                    None => return Err(started.timed_out()),
                },
                Some(proxy) => {
                    let tcp = with_deadline(&mut started.timer, R::connect_tcp(proxy.host(), proxy.port())).await;
                    let mut tcp = match tcp {
                        Some(tcp) => tcp.map_err(OpenError::ProxyUnreachable)?,
                        None => return Err(started.timed_out()),
                    };
                    let (clock, timer, timeout) = (&started.clock, &mut started.timer, started.timeout);
                    open_tunnel(&mut R::wrap(&mut tcp), proxy, &host, port, clock, timer, timeout).await?;
                    tcp
                }
            };
            #[cfg(feature = "rustls")]
            let stream = if let Some((config, name)) = tls {
                match with_deadline(&mut started.timer, R::tls_connect(tcp, config, name)).await {
                    Some(Ok(stream)) => stream,
                    Some(Err(e)) => return Err(OpenError::from_tls_io(e)),
                    None => return Err(started.timed_out()),
                }
            } else {
                R::plain(tcp)
            };
            #[cfg(not(feature = "rustls"))]
            let stream = R::plain(tcp);
            started.run(R::wrap(stream)).await
        })
        .await
    }

    /// Run the handshake over `stream`, already connected to the server (a TLS stream for
    /// `wss://`, or a tunnel through a proxy).
    ///
    /// # Errors
    /// As [`connect`](Self::connect), without `TlsRequired`.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the stream.
    pub async fn connect_on<S>(self, stream: S) -> Result<WebSocket<S, R>, OpenError>
    where
        R::Io<S>: Transport,
    {
        let parts = *self.parts;
        let started = Started::<R>::new(parts.request?, parts.config)?;
        Box::pin(started.run(R::wrap(stream))).await
    }
}

/// A client handshake whose clock has started: the request is queued, the runtime timer
/// is armed at the engine's deadline, and the connection after it keeps the clock.
struct Started<R: Runtime> {
    handshake: ClientHandshake,
    clock: Clock<R>,
    timer: R::Sleep,
    timeout: Duration,
}

impl<R: Runtime> Started<R> {
    fn new(request: ClientRequest, config: Option<Config>) -> Result<Self, OpenError> {
        let config = config.unwrap_or_else(default_config);
        let timeout = config.handshake_timeout();
        let mut handshake = ClientHandshake::new(request, config)?;
        let clock = Clock::<R>::start();
        handshake.handle_timeout(clock.now());
        let timer = clock.timer_at(handshake.poll_timeout());
        Ok(Started { handshake, clock, timer, timeout })
    }

    /// The deadline passed: the engine's error.
    fn timed_out(&mut self) -> OpenError {
        self.handshake.handle_timeout(self.clock.now());
        let error = self.handshake.receive(self.clock.now(), &[]).err();
        timed_out(error.as_ref(), self.timeout)
    }

    /// Write the request, read the response, and hand back the connection.
    async fn run<S>(mut self, mut io: R::Io<S>) -> Result<WebSocket<S, R>, OpenError>
    where
        R::Io<S>: Transport,
    {
        let Some(written) = with_deadline(&mut self.timer, write_transmit(&mut io, &mut self.handshake)).await else {
            return Err(self.timed_out());
        };
        written?;
        let (handshake, clock) = (&mut self.handshake, &self.clock);
        let response = read_until(&mut io, &mut self.timer, |chunk| {
            handshake.receive(clock.now(), chunk).map(|done| done.map(drop)).transpose()
        })
        .await;
        match response {
            Some(response) => response??,
            None => return Err(self.timed_out()),
        }
        let connection = self.handshake.into_connection()?;
        Ok(WebSocket::from_io(io, connection, self.clock.epoch()))
    }
}
