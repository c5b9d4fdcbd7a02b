//! The RFC 8441 client (feature `hyper`): [`Http2Connection`] is one HTTP/2 connection (the
//! `h2` crate, hyper's HTTP/2) over which [`Http2Connection::websocket`] opens any number of
//! Tether client WebSockets, each an extended CONNECT stream ([`H2Stream`]); with feature
//! `rustls`, [`Http2Connection::connect_tls`] dials with ALPN `h2` and [`connect`] falls back
//! to an ordinary HTTP/1.1 upgrade when the server does not offer WebSockets over HTTP/2. The
//! server side lives in `hyper.rs`; the request and the checks of the answer (subprotocol,
//! permessage-deflate) are the engine's (`Http2ClientHandshake`).

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tether_rt::proto::bytes::{Buf, Bytes};
use tether_rt::proto::{ClientRequest, HandshakeError, Http2ClientHandshake};
use tether_rt::Config;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A WebSocket on an HTTP/2 stream.
pub type Http2WebSocket = crate::WebSocket<H2Stream>;

/// Why a WebSocket over HTTP/2 could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Http2Error {
    /// Connecting, or the TLS handshake, failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP/2 connection or stream failed.
    #[error("HTTP/2: {0}")]
    H2(#[from] h2::Error),
    /// The server does not offer WebSockets over HTTP/2: it chose another ALPN protocol
    /// than `h2`, or its SETTINGS do not enable extended CONNECT (RFC 8441 §3), so no
    /// `:protocol` may be sent. Use HTTP/1.1 ([`connect`] does).
    #[error("the server does not offer WebSockets over HTTP/2")]
    NotOffered,
    /// The server answered the extended CONNECT with another status than 200.
    #[error("the server answered {0}")]
    Refused(http::StatusCode),
    /// The request could not be sent as given, or the server's 200 agreed to something
    /// that was not offered (a subprotocol, an extension, permessage-deflate parameters).
    #[error("handshake: {0}")]
    Handshake(#[source] HandshakeError),
    /// The authority or path does not make a valid request.
    #[error("invalid request: {0}")]
    Request(#[from] http::Error),
    /// The server did not answer within the configuration's handshake timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// [`connect`]'s fallback, the HTTP/1.1 upgrade, failed.
    #[error("HTTP/1.1 fallback: {0}")]
    Http1(#[source] tether_rt::OpenError),
}

/// The receive window of each stream the client opens: hyper's HTTP/2 client's (h2's own
/// default is 64 KiB).
const STREAM_WINDOW: u32 = 2 << 20;

/// The client's connection-level receive window: hyper's HTTP/2 client's. h2 also budgets
/// the small DATA frames (under 256 B) a connection may hold unread to half this window,
/// and closes the connection past it (GOAWAY `ENHANCE_YOUR_CALM`); with h2's 64 KiB default
/// that is about 140 frames — each small WebSocket message is one — which many busy
/// sockets on one connection exceed.
const CONNECTION_WINDOW: u32 = 5 << 20;

/// One HTTP/2 client connection that carries WebSockets (RFC 8441), many at once: cheap to
/// share (each [`websocket`](Self::websocket) call opens a stream on it). The connection is
/// driven by a task of its own, which ends when every handle and stream is gone.
#[derive(Clone, Debug)]
pub struct Http2Connection {
    send: h2::client::SendRequest<Bytes>,
    authority: http::uri::Authority,
    scheme: http::uri::Scheme,
    extended_connect: bool,
    config: Config,
}

impl Http2Connection {
    /// Start HTTP/2 over `io` (TLS after ALPN chose `h2`, or cleartext by prior knowledge)
    /// to `authority` (receive windows of 2 MiB per stream and 5 MiB for the connection,
    /// as hyper's client), and wait for the server's SETTINGS (a PING round trip: SETTINGS
    /// come first in the server's preface), all within `config`'s handshake timeout.
    /// `config` is each WebSocket's (a client configuration: [`default_config`](crate::default_config)).
    ///
    /// # Errors
    /// [`Http2Error::H2`] if the HTTP/2 handshake fails, [`Http2Error::Timeout`].
    pub async fn handshake<IO>(
        io: IO,
        authority: http::uri::Authority,
        scheme: http::uri::Scheme,
        config: Config,
    ) -> Result<Http2Connection, Http2Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let timeout = config.handshake_timeout();
        let start = async {
            let (send, mut connection) = h2::client::Builder::new()
                .initial_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .handshake(io)
                .await?;
            let ping = connection.ping_pong();
            tokio::spawn(async move {
                let _ = connection.await;
            });
            if let Some(mut ping) = ping {
                ping.ping(h2::Ping::opaque()).await?;
            }
            let extended_connect = send.is_extended_connect_protocol_enabled();
            Ok::<_, Http2Error>((send, extended_connect))
        };
        let (send, extended_connect) =
            tokio::time::timeout(timeout, start).await.map_err(|_| Http2Error::Timeout(timeout))??;
        Ok(Http2Connection { send, authority, scheme, extended_connect, config })
    }

    /// Dial `host:port`, TLS with ALPN `h2` then `http/1.1` (the `connector`'s trust roots),
    /// and start HTTP/2 as [`handshake`](Self::handshake) does.
    ///
    /// # Errors
    /// [`Http2Error::NotOffered`] when the server chose `http/1.1`; [`Http2Error::Io`] when
    /// connecting or TLS fails; as [`handshake`](Self::handshake).
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub async fn connect_tls(
        host: &str,
        port: u16,
        connector: &tether_rt::TlsConnector,
        config: Config,
    ) -> Result<Http2Connection, Http2Error> {
        let timeout = config.handshake_timeout();
        let mut tls = (*connector.config()).clone();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let dial = async {
            let tcp = tokio::net::TcpStream::connect((host, port)).await?;
            tcp.set_nodelay(true)?;
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls)).connect(name, tcp).await
        };
        let stream = tokio::time::timeout(timeout, dial).await.map_err(|_| Http2Error::Timeout(timeout))??;
        if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(Http2Error::NotOffered);
        }
        let authority: http::uri::Authority = format!("{host}:{port}").parse().map_err(http::Error::from)?;
        Http2Connection::handshake(stream, authority, http::uri::Scheme::HTTPS, config).await
    }

    /// Whether the server enabled extended CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL`), so
    /// that [`websocket`](Self::websocket) can open WebSockets on this connection.
    pub fn supports_websockets(&self) -> bool {
        self.extended_connect
    }

    /// Open a WebSocket to `path` (with its query) on a new stream: an extended CONNECT with
    /// `:protocol websocket` and `Sec-WebSocket-Version: 13`, answered 200, then the stream
    /// driven by a client connection under this connection's configuration.
    ///
    /// # Errors
    /// [`Http2Error::NotOffered`] if the server did not enable extended CONNECT,
    /// [`Http2Error::Refused`] for another status than 200, [`Http2Error::H2`] when the
    /// stream fails, [`Http2Error::Timeout`].
    pub async fn websocket(&self, path: &str) -> Result<Http2WebSocket, Http2Error> {
        self.websocket_with(ClientRequest::new(self.authority.as_str(), path)).await
    }

    /// As [`websocket`](Self::websocket), with `request`'s path, `Origin`, subprotocols and
    /// extra headers (its host is this connection's authority, whatever it says), and
    /// permessage-deflate offered when the connection's configuration has it: the answer
    /// is checked as an HTTP/1.1 101 would be, and the WebSocket has what was agreed
    /// ([`protocol`](crate::WebSocket::protocol), compression).
    ///
    /// # Errors
    /// As [`websocket`](Self::websocket), and [`Http2Error::Handshake`] for a request that
    /// cannot be sent or an answer that agreed to something not offered.
    pub async fn websocket_with(&self, request: ClientRequest) -> Result<Http2WebSocket, Http2Error> {
        if !self.extended_connect {
            return Err(Http2Error::NotOffered);
        }
        let (handshake, mut request) =
            Http2ClientHandshake::new(request, self.config.clone()).map_err(Http2Error::Handshake)?;
        let path = request.uri().path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        *request.uri_mut() = http::Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()?;
        request.extensions_mut().insert(h2::ext::Protocol::from_static("websocket"));
        let timeout = self.config.handshake_timeout();
        let open = async {
            let mut send = self.send.clone().ready().await?;
            let (response, send_stream) = send.send_request(request, false)?;
            let response = response.await?;
            Ok::<_, Http2Error>((response, send_stream))
        };
        let (response, send_stream) =
            tokio::time::timeout(timeout, open).await.map_err(|_| Http2Error::Timeout(timeout))??;
        let (parts, body) = response.into_parts();
        if parts.status != http::StatusCode::OK {
            return Err(Http2Error::Refused(parts.status));
        }
        let connection = handshake.finish(&parts).map_err(Http2Error::Handshake)?;
        let stream = H2Stream { send: send_stream, recv: body, buf: Bytes::new(), ended: false };
        Ok(crate::WebSocket::from_connection(stream, connection))
    }
}

/// A WebSocket opened by [`connect`]: on an HTTP/2 stream when the server offers it, else
/// over an HTTP/1.1 upgrade.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
#[derive(Debug)]
pub enum AnyWebSocket {
    /// RFC 8441, on a stream of the returned connection.
    Http2(Http2WebSocket),
    /// RFC 6455's HTTP/1.1 upgrade on a connection of its own.
    Http1(crate::WebSocket<crate::MaybeTlsStream>),
}

/// Open a WebSocket to `wss://host:port/path` over HTTP/2 when the server offers it (ALPN
/// `h2` and extended CONNECT), on `reuse` when given (one connection, many WebSockets),
/// else on a new connection; fall back to an HTTP/1.1 upgrade on a new connection
/// otherwise. Returns the HTTP/2 connection to reuse for the next WebSocket, if any.
///
/// # Errors
/// [`Http2Error`] from the HTTP/2 attempt (other than [`Http2Error::NotOffered`]), or
/// [`Http2Error::Http1`] with the HTTP/1.1 attempt's error.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub async fn connect(
    host: &str,
    port: u16,
    path: &str,
    connector: &tether_rt::TlsConnector,
    reuse: Option<Http2Connection>,
) -> Result<(AnyWebSocket, Option<Http2Connection>), Http2Error> {
    let config = crate::default_config();
    let connection = match reuse {
        Some(connection) => Ok(connection),
        None => Http2Connection::connect_tls(host, port, connector, config.clone()).await,
    };
    match connection {
        Ok(connection) if connection.supports_websockets() => {
            let ws = connection.websocket(path).await?;
            Ok((AnyWebSocket::Http2(ws), Some(connection)))
        }
        Ok(_) | Err(Http2Error::NotOffered) => {
            let url = format!("wss://{host}:{port}{path}");
            let ws = tether_rt::ClientBuilder::<crate::Tokio>::new(&url)
                .tls(connector.clone())
                .config(config)
                .connect()
                .await
                .map_err(Http2Error::Http1)?;
            Ok((AnyWebSocket::Http1(ws), None))
        }
        Err(e) => Err(e),
    }
}

/// One HTTP/2 stream as a byte stream (tokio IO): DATA frames in, DATA frames out, within
/// the stream's flow-control windows (received bytes are released as they are read; a write
/// waits for send capacity). Shutting down ends the stream (END_STREAM).
#[derive(Debug)]
pub struct H2Stream {
    send: h2::SendStream<Bytes>,
    recv: h2::RecvStream,
    buf: Bytes,
    ended: bool,
}

fn reset_error(e: h2::Error) -> std::io::Error {
    match e.reason() {
        Some(h2::Reason::STREAM_CLOSED) => std::io::Error::new(std::io::ErrorKind::BrokenPipe, e),
        _ if e.is_io() => e.into_io().unwrap_or_else(|| std::io::ErrorKind::Other.into()),
        _ => std::io::Error::other(e),
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        while self.buf.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Ok(data)) => self.buf = data,
                Some(Err(e)) => {
                    return Poll::Ready(match e.reason() {
                        Some(h2::Reason::NO_ERROR) | Some(h2::Reason::CANCEL) => Ok(()),
                        _ => Err(reset_error(e)),
                    })
                }
            }
        }
        let n = self.buf.len().min(out.remaining());
        out.put_slice(&self.buf[..n]);
        self.buf.advance(n);
        let _ = self.recv.flow_control().release_capacity(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.send.reserve_capacity(buf.len());
        loop {
            if let Poll::Ready(reset) = self.send.poll_reset(cx) {
                return Poll::Ready(Err(match reset {
                    Ok(reason) => reset_error(reason.into()),
                    Err(e) => reset_error(e),
                }));
            }
            let capacity = self.send.capacity();
            if capacity > 0 {
                let n = capacity.min(buf.len());
                self.send.send_data(Bytes::copy_from_slice(&buf[..n]), false).map_err(reset_error)?;
                return Poll::Ready(Ok(n));
            }
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(reset_error(e))),
                None => return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // The connection's task writes what the stream has queued.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.ended {
            self.ended = true;
            self.send.reserve_capacity(0);
            // Already reset or closed by the peer: nothing left to end.
            let _ = self.send.send_data(Bytes::new(), true);
        }
        Poll::Ready(Ok(()))
    }
}
