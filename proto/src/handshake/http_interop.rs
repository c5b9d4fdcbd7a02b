//! Conversions between the server handshake and the `http` crate's types (feature `http`):
//! a [`Request`] validated from an `http::Request` or its parts with the very checks of the
//! raw path, and the 101 or error answer as an `http::Response`; and the RFC 8441 form — an
//! HTTP/2 extended CONNECT (`:protocol websocket`) checked, answered 200 without the
//! HTTP/1.1 upgrade headers — and its client side, [`Http2ClientHandshake`] (the extended
//! CONNECT to send, then the 200 checked into a client [`Connection`]), and the HTTP/1.1
//! client's upgrade as `http` types, [`Http1ClientHandshake`], for an HTTP client that
//! sends the request and hands the upgraded connection over (hyper). The HTTP/1.1 checks
//! and the response bytes live in `server.rs` and `client.rs`; driving an HTTP server or an
//! HTTP/2 connection (hyper, h2, axum) is the adapters' business, not this file's.

use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;

use super::client::{check_101, check_answer, check_request, new_key, AgreedDeflate, DeflateOffer};
use super::server::{assemble_request, build_request, error_response_bytes};
use super::{AcceptOptions, ClientRequest, Header, Request, ServerHandshake};
use crate::config::{Config, Role};
use crate::connection::Connection;
use crate::error::ApiMisuse;
use crate::error::{HandshakeError, PeerMisbehaved};

/// The HTTP minor version as the raw path's check wants it: `Some(1)` for HTTP/1.1,
/// `Some(0)` for HTTP/1.0 and 0.9, `None` for HTTP/2 and later (RFC 8441's extended
/// CONNECT is not supported, so those fail as the raw path fails a non-1.1 request).
fn minor_version(version: http::Version) -> Option<u8> {
    if version == http::Version::HTTP_11 {
        Some(1)
    } else if version == http::Version::HTTP_10 || version == http::Version::HTTP_09 {
        Some(0)
    } else {
        None
    }
}

fn own_headers(map: &http::HeaderMap) -> Vec<Header> {
    map.iter()
        .map(|(name, value)| Header {
            name: String::from(name.as_str()),
            value: Bytes::copy_from_slice(value.as_bytes()),
        })
        .collect()
}

/// The request's headers, with `Host` taken from the URI's authority (`:authority` in
/// HTTP/2) when there is no `Host` header, and its target.
fn headers_and_target(uri: &http::Uri, headers: &http::HeaderMap) -> (Vec<Header>, String) {
    let mut headers = own_headers(headers);
    // HTTP/1.1 servers keep `Host` as a header; an absolute-form target's authority is the
    // host otherwise (RFC 9112 §3.2.2).
    if !headers.iter().any(|h| h.name.eq_ignore_ascii_case("host")) {
        if let Some(authority) = uri.authority() {
            headers.push(Header {
                name: String::from("host"),
                value: Bytes::copy_from_slice(authority.as_str().as_bytes()),
            });
        }
    }
    let target = uri.path_and_query().map_or_else(|| String::from("/"), |pq| String::from(pq.as_str()));
    (headers, target)
}

fn validate(
    method: &http::Method,
    uri: &http::Uri,
    version: http::Version,
    headers: &http::HeaderMap,
) -> Result<Request, HandshakeError> {
    let (headers, target) = headers_and_target(uri, headers);
    build_request(method.as_str(), target, minor_version(version), headers, false)
}

/// RFC 8441's checks of an HTTP/2 extended CONNECT, in this order: HTTP/2 (400), method
/// CONNECT (405), `:protocol` naming `websocket` (400), exactly one host, the same as
/// `:authority` (400), then
/// `Sec-WebSocket-Version: 13` (426). No key: HTTP/2 has no `Sec-WebSocket-Key`.
fn validate_h2(
    method: &http::Method,
    uri: &http::Uri,
    version: http::Version,
    headers: &http::HeaderMap,
    protocol: Option<&str>,
) -> Result<Request, HandshakeError> {
    let refuse = |e| Err(HandshakeError::PeerMisbehaved(e));
    if version != http::Version::HTTP_2 {
        return refuse(PeerMisbehaved::HttpVersionTooOld);
    }
    if method != http::Method::CONNECT {
        return refuse(PeerMisbehaved::MethodNotConnect);
    }
    if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket")) {
        return refuse(PeerMisbehaved::MissingProtocol);
    }
    let (headers, target) = headers_and_target(uri, headers);
    match super::http::values(&headers, "Host").count() {
        0 => return refuse(PeerMisbehaved::MalformedHttp("missing :authority")),
        1 => {}
        _ => return refuse(PeerMisbehaved::DuplicateHeader("Host")),
    }
    // RFC 9113 §8.3.1: a Host naming another entity than `:authority` is malformed.
    if let (Some(authority), Some(host)) = (uri.authority(), super::http::values(&headers, "Host").next()) {
        if !authority.as_str().as_bytes().eq_ignore_ascii_case(host) {
            return refuse(PeerMisbehaved::MalformedHttp("Host differs from :authority"));
        }
    }
    let version_ok = {
        let mut versions =
            super::http::values(&headers, "Sec-WebSocket-Version").flat_map(super::http::list_elements).peekable();
        versions.peek().is_some() && versions.all(|v| v == b"13")
    };
    if !version_ok {
        return refuse(PeerMisbehaved::UnsupportedVersion);
    }
    Ok(assemble_request(method.as_str(), target, headers, String::new(), None))
}

/// The HTTP/2 form of an answer built for HTTP/1.1: no connection-specific headers
/// (RFC 9113 §8.2.2 forbids `Connection` and `Upgrade`), and no `Sec-WebSocket-Accept`
/// (RFC 8441 §5: there is no key to answer).
fn to_h2(mut response: http::Response<()>) -> http::Response<()> {
    for name in [http::header::CONNECTION, http::header::UPGRADE, http::header::SEC_WEBSOCKET_ACCEPT] {
        response.headers_mut().remove(name);
    }
    *response.version_mut() = http::Version::HTTP_2;
    response
}

/// Turns response bytes built by `server.rs` into an `http::Response`: the same status and
/// headers, in order (the bodies of these responses are empty).
fn to_http_response(bytes: &[u8]) -> http::Response<()> {
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut slots);
    let mut response = http::Response::new(());
    // The bytes come from our own writer, which emits only valid tokens and values; a
    // failure here would be a bug, answered as a bare 500 rather than a panic.
    if !matches!(parsed.parse(bytes), Ok(httparse::Status::Complete(_))) {
        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        return response;
    }
    *response.status_mut() =
        parsed.code.and_then(|c| http::StatusCode::from_u16(c).ok()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for h in parsed.headers.iter() {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(h.name.as_bytes()), http::HeaderValue::from_bytes(h.value))
        {
            response.headers_mut().append(name, value);
        }
    }
    response
}

impl Request {
    /// Validate an upgrade request received by an HTTP server, with the checks and errors of
    /// [`ServerHandshake::receive`] after HTTP syntax (which the server already checked):
    /// method `GET` (405), HTTP/1.1 (400; HTTP/2 is refused too: RFC 8441 requests go
    /// through [`from_http2`](Self::from_http2)), exactly one `Host` (400),
    /// `Upgrade` (400), `Connection` (400), `Sec-WebSocket-Key` (400), then
    /// `Sec-WebSocket-Version` (426). The body is not looked at.
    ///
    /// ```
    /// let req = http::Request::get("/chat?room=1")
    ///     .header("Host", "example.com")
    ///     .header("Upgrade", "websocket")
    ///     .header("Connection", "Upgrade")
    ///     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("Sec-WebSocket-Version", "13")
    ///     .body(())
    ///     .unwrap();
    /// let request = tether_proto::Request::from_http(&req).unwrap();
    /// assert_eq!((request.path(), request.query()), ("/chat", Some("room=1")));
    /// ```
    ///
    /// # Errors
    /// [`HandshakeError::PeerMisbehaved`] for the first failed check; its
    /// [`http_response`](HandshakeError::http_response) is the answer to send.
    pub fn from_http<B>(request: &http::Request<B>) -> Result<Request, HandshakeError> {
        validate(request.method(), request.uri(), request.version(), request.headers())
    }

    /// As [`from_http`](Self::from_http), from a request's parts.
    ///
    /// # Errors
    /// As [`from_http`](Self::from_http).
    pub fn from_http_parts(parts: &http::request::Parts) -> Result<Request, HandshakeError> {
        validate(&parts.method, &parts.uri, parts.version, &parts.headers)
    }
}

impl Request {
    /// Validate an RFC 8441 request received by an HTTP/2 server: an extended CONNECT
    /// whose `:protocol` pseudo-header — which the `http` crate does not carry, so the
    /// server passes it (hyper: the `hyper::ext::Protocol` extension) — names `websocket`.
    /// The checks, in order: HTTP/2 ([`HttpVersionTooOld`](PeerMisbehaved::HttpVersionTooOld),
    /// 400), method CONNECT ([`MethodNotConnect`](PeerMisbehaved::MethodNotConnect), 405
    /// with `Allow: CONNECT`), `:protocol` ([`MissingProtocol`](PeerMisbehaved::MissingProtocol),
    /// 400), one `:authority` or `Host` (400), `Sec-WebSocket-Version: 13` (426 with
    /// `Sec-WebSocket-Version: 13`). Subprotocols and extensions are read as in HTTP/1.1.
    /// Answer a failure with [`HandshakeError::http2_response`].
    ///
    /// ```
    /// let req = http::Request::connect("https://example.com/chat?room=1")
    ///     .version(http::Version::HTTP_2)
    ///     .header("Sec-WebSocket-Version", "13")
    ///     .header("Sec-WebSocket-Protocol", "chat")
    ///     .body(())
    ///     .unwrap();
    /// let request = tether_proto::Request::from_http2(&req, Some("websocket")).unwrap();
    /// assert_eq!((request.path(), request.query()), ("/chat", Some("room=1")));
    /// assert_eq!(request.protocols(), ["chat"]);
    /// assert!(tether_proto::Request::from_http2(&req, None).is_err());
    /// ```
    ///
    /// # Errors
    /// [`HandshakeError::PeerMisbehaved`] for the first failed check.
    pub fn from_http2<B>(request: &http::Request<B>, protocol: Option<&str>) -> Result<Request, HandshakeError> {
        validate_h2(request.method(), request.uri(), request.version(), request.headers(), protocol)
    }

    /// As [`from_http2`](Self::from_http2), from a request's parts.
    ///
    /// # Errors
    /// As [`from_http2`](Self::from_http2).
    pub fn from_http2_parts(parts: &http::request::Parts, protocol: Option<&str>) -> Result<Request, HandshakeError> {
        validate_h2(&parts.method, &parts.uri, parts.version, &parts.headers, protocol)
    }

    /// Whether this request came as an RFC 8441 extended CONNECT over HTTP/2 (built by
    /// [`from_http2`](Self::from_http2)), which is answered 200 rather than 101.
    pub fn is_extended_connect(&self) -> bool {
        // Only `from_http2` builds a CONNECT that passed its checks; the raw path keeps a
        // plain CONNECT only as a refused upgrade.
        self.method() == "CONNECT" && self.upgrade_error().is_none()
    }
}

impl ServerHandshake {
    /// A handshake for an RFC 8441 extended CONNECT an HTTP/2 server has received, validated
    /// as [`Request::from_http2`] does; [`accept_http`](Self::accept_http) answers it 200.
    ///
    /// # Errors
    /// As [`Request::from_http2`].
    pub fn from_http2<B>(
        config: Config,
        request: &http::Request<B>,
        protocol: Option<&str>,
    ) -> Result<ServerHandshake, HandshakeError> {
        Ok(ServerHandshake::from_request(config, Request::from_http2(request, protocol)?))
    }

    /// As [`from_http2`](Self::from_http2), from a request's parts.
    ///
    /// # Errors
    /// As [`Request::from_http2`].
    pub fn from_http2_parts(
        config: Config,
        parts: &http::request::Parts,
        protocol: Option<&str>,
    ) -> Result<ServerHandshake, HandshakeError> {
        Ok(ServerHandshake::from_request(config, Request::from_http2_parts(parts, protocol)?))
    }

    /// A handshake for a request an HTTP server has already read, validated as
    /// [`Request::from_http`] does; look at it with [`request`](Self::request), then answer
    /// with [`accept_http`](Self::accept_http). `config` is the accepted connection's (its
    /// handshake limits and deadline do not apply: the HTTP server read the request).
    ///
    /// # Errors
    /// As [`Request::from_http`].
    pub fn from_http<B>(config: Config, request: &http::Request<B>) -> Result<ServerHandshake, HandshakeError> {
        Ok(ServerHandshake::from_request(config, Request::from_http(request)?))
    }

    /// As [`from_http`](Self::from_http), from a request's parts.
    ///
    /// # Errors
    /// As [`Request::from_http`].
    pub fn from_http_parts(config: Config, parts: &http::request::Parts) -> Result<ServerHandshake, HandshakeError> {
        Ok(ServerHandshake::from_request(config, Request::from_http_parts(parts)?))
    }

    /// Accept: the 101 response for the HTTP server to send (200 without `Upgrade`,
    /// `Connection` and `Sec-WebSocket-Accept` for an RFC 8441 request from
    /// [`from_http2`](Self::from_http2)) — `Upgrade`, `Connection`,
    /// `Sec-WebSocket-Accept`, the chosen subprotocol, the permessage-deflate answer when
    /// the configuration (the handshake's, or [`AcceptOptions::config`]) has deflate and the
    /// client offered it, and the extra headers, exactly as [`accept`](Self::accept) writes
    /// them — and the server [`Connection`] to drive over the upgraded stream, with the
    /// negotiated deflate parameters and the subprotocol set and nothing queued.
    ///
    /// ```
    /// use tether_proto::{AcceptOptions, Config, ServerHandshake};
    /// let req = http::Request::get("/chat")
    ///     .header("Host", "example.com")
    ///     .header("Upgrade", "websocket")
    ///     .header("Connection", "Upgrade")
    ///     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("Sec-WebSocket-Version", "13")
    ///     .header("Sec-WebSocket-Protocol", "chat")
    ///     .body(())
    ///     .unwrap();
    /// let hs = ServerHandshake::from_http(Config::default(), &req).unwrap();
    /// let (response, conn) = hs.accept_http(&AcceptOptions::new().protocol("chat")).unwrap();
    /// assert_eq!(response.status(), 101);
    /// assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /// assert_eq!(conn.protocol(), Some("chat"));
    /// ```
    ///
    /// # Errors
    /// As [`accept`](Self::accept): [`ApiMisuse::ProtocolNotOffered`](crate::ApiMisuse::ProtocolNotOffered),
    /// [`ApiMisuse::InvalidHeader`](crate::ApiMisuse::InvalidHeader).
    pub fn accept_http(self, options: &AcceptOptions) -> Result<(http::Response<()>, Connection), HandshakeError> {
        let extended_connect = self.request().is_some_and(Request::is_extended_connect);
        let (bytes, conn) = self.into_connection(options, false)?;
        let response = to_http_response(&bytes);
        if extended_connect {
            // RFC 8441 §5: a 2xx answers the CONNECT; the rest of the answer is the same.
            let mut response = to_h2(response);
            *response.status_mut() = http::StatusCode::OK;
            return Ok((response, conn));
        }
        Ok((response, conn))
    }
}

impl HandshakeError {
    /// The answer to a request that failed this error's check, as the raw path writes it:
    /// [`http_status`](Self::http_status) (400, 405, 426 or 431), `Allow: GET` on 405,
    /// `Upgrade: websocket` and `Sec-WebSocket-Version: 13` on 426, `Connection: close`
    /// (`Upgrade, close` on 426), `Content-Length: 0`. `None` for errors that are not about
    /// a received request.
    ///
    /// ```
    /// use tether_proto::{HandshakeError, PeerMisbehaved};
    /// let response = HandshakeError::from(PeerMisbehaved::UnsupportedVersion).http_response().unwrap();
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// ```
    pub fn http_response(&self) -> Option<http::Response<()>> {
        error_response_bytes(self).map(|bytes| to_http_response(&bytes))
    }

    /// The answer to an RFC 8441 request that failed this error's check: as
    /// [`http_response`](Self::http_response) without the headers HTTP/2 forbids
    /// (`Connection`, `Upgrade`): 400, 405 with `Allow: CONNECT`
    /// ([`MethodNotConnect`](PeerMisbehaved::MethodNotConnect)), 426 with
    /// `Sec-WebSocket-Version: 13`.
    ///
    /// ```
    /// use tether_proto::{HandshakeError, PeerMisbehaved};
    /// let response = HandshakeError::from(PeerMisbehaved::UnsupportedVersion).http2_response().unwrap();
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// assert!(response.headers().get("connection").is_none());
    /// ```
    pub fn http2_response(&self) -> Option<http::Response<()>> {
        self.http_response().map(to_h2)
    }
}

/// The headers both client forms send after their own (`Origin`, `Sec-WebSocket-Protocol`,
/// the permessage-deflate offer of `config`, the request's extra headers).
fn with_client_headers(
    mut builder: http::request::Builder,
    request: &ClientRequest,
    config: &Config,
) -> http::request::Builder {
    if let Some(origin) = &request.origin {
        builder = builder.header(http::header::ORIGIN, origin.as_str());
    }
    if !request.protocols.is_empty() {
        builder = builder.header(http::header::SEC_WEBSOCKET_PROTOCOL, request.protocols.join(", "));
    }
    #[cfg(feature = "deflate")]
    if let Some(d) = &config.deflate {
        builder = builder.header(http::header::SEC_WEBSOCKET_EXTENSIONS, crate::deflate::client_offer(d));
    }
    #[cfg(not(feature = "deflate"))]
    let _ = config;
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
}

/// The client [`Connection`] an accepted answer agreed on: its subprotocol, and its
/// permessage-deflate parameters under `config`'s settings.
fn client_connection(config: Config, protocol: Option<String>, deflate: Option<AgreedDeflate>) -> Connection {
    #[cfg(feature = "deflate")]
    let settings = config.deflate.clone();
    let mut conn = Connection::new(Role::Client, config);
    #[cfg(feature = "deflate")]
    if let (Some(params), Some(d)) = (deflate, &settings) {
        conn.set_deflate(params, d);
    }
    #[cfg(not(feature = "deflate"))]
    let _ = deflate;
    conn.set_protocol(protocol);
    conn
}

/// The client side of RFC 8441: a WebSocket on an HTTP/2 stream. [`new`](Self::new) checks
/// the [`ClientRequest`] as the HTTP/1.1 handshake does and returns the extended CONNECT to
/// send (method CONNECT, HTTP/2, `:authority` and `:path` from the request,
/// `Sec-WebSocket-Version: 13`, `Origin`, `Sec-WebSocket-Protocol`, the permessage-deflate
/// offer of [`Config::deflate`](crate::Config) and the extra headers; no key, no `Upgrade`).
/// The `http` crate does not carry the `:protocol` pseudo-header: the caller adds it (h2:
/// the `h2::ext::Protocol` extension, `websocket`), and sends the request only if the
/// server's SETTINGS enabled extended CONNECT (RFC 8441 §3). [`finish`](Self::finish) checks
/// the answer — 200, then the subprotocol and extensions exactly as an HTTP/1.1 101's — and
/// returns the client [`Connection`] for the stream's bytes.
///
/// ```
/// use tether_proto::{ClientRequest, Config, Http2ClientHandshake};
/// let request = ClientRequest::from_url("wss://example.com/chat").unwrap().protocol("chat");
/// let (handshake, connect) = Http2ClientHandshake::new(request, Config::default()).unwrap();
/// assert_eq!(connect.method(), http::Method::CONNECT);
/// assert_eq!(connect.uri(), "https://example.com/chat");
/// assert_eq!(connect.headers()["sec-websocket-protocol"], "chat");
///
/// let answer = http::Response::builder().header("sec-websocket-protocol", "chat").body(()).unwrap();
/// let connection = handshake.finish(&answer.into_parts().0).unwrap();
/// assert_eq!(connection.protocol(), Some("chat"));
/// ```
#[derive(Debug)]
pub struct Http2ClientHandshake {
    config: Config,
    protocols: Vec<String>,
}

impl Http2ClientHandshake {
    /// Check `request` and build the extended CONNECT for it (scheme `https` for a
    /// `wss://` request, `http` otherwise; the authority is the request's `Host`).
    ///
    /// # Errors
    /// As [`ClientHandshake::new`](crate::ClientHandshake::new), and
    /// [`ApiMisuse::InvalidHeader`] for a header value the `http` crate refuses.
    pub fn new(
        request: ClientRequest,
        config: Config,
    ) -> Result<(Http2ClientHandshake, http::Request<()>), HandshakeError> {
        check_request(&request)?;
        let invalid = |what: &str| HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from(what)));
        let scheme = if request.is_secure() { "https" } else { "http" };
        let uri = http::Uri::builder()
            .scheme(scheme)
            .authority(request.host_header.as_str())
            .path_and_query(request.path.as_str())
            .build()
            .map_err(|_| invalid("Host"))?;
        let builder = http::Request::builder()
            .method(http::Method::CONNECT)
            .version(http::Version::HTTP_2)
            .uri(uri)
            .header(http::header::SEC_WEBSOCKET_VERSION, "13");
        let connect = with_client_headers(builder, &request, &config).body(()).map_err(|_| invalid("header"))?;
        Ok((Http2ClientHandshake { config, protocols: request.protocols }, connect))
    }

    /// Check the server's answer to the extended CONNECT and make the client
    /// [`Connection`], with the agreed subprotocol and permessage-deflate parameters.
    ///
    /// # Errors
    /// [`HandshakeError::UnexpectedStatus`] for any status but 200 (with the headers);
    /// [`PeerMisbehaved::UnofferedExtension`], `PeerMisbehaved::DeflateResponse` and
    /// [`PeerMisbehaved::UnofferedProtocol`] as for an HTTP/1.1 101.
    pub fn finish(self, response: &http::response::Parts) -> Result<Connection, HandshakeError> {
        let headers = own_headers(&response.headers);
        if response.status != http::StatusCode::OK {
            return Err(HandshakeError::UnexpectedStatus { status: response.status.as_u16(), headers });
        }
        #[cfg(feature = "deflate")]
        let offer: Option<&DeflateOffer> = self.config.deflate.as_ref();
        #[cfg(not(feature = "deflate"))]
        let offer: Option<&DeflateOffer> = None;
        let (protocol, deflate) = check_answer(&headers, &self.protocols, offer)?;
        Ok(client_connection(self.config, protocol, deflate))
    }
}

/// The client's HTTP/1.1 upgrade in the `http` crate's types, for an HTTP client that sends
/// the request itself and hands the connection over once answered (hyper's
/// `client::conn::http1` with `hyper::upgrade::on`). [`new`](Self::new) checks the
/// [`ClientRequest`] as [`ClientHandshake`](crate::ClientHandshake) does and returns the
/// `GET` to send (`Host`, `Upgrade: websocket`, `Connection: Upgrade`, a fresh
/// `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, `Origin`, `Sec-WebSocket-Protocol`, the
/// permessage-deflate offer of [`Config::deflate`](crate::Config), the extra headers; the
/// URI is the request's path). [`finish`](Self::finish) checks the answer exactly as the raw
/// client checks a 101 and returns the client [`Connection`] for the upgraded bytes.
///
/// ```
/// use tether_proto::{accept_key, ClientRequest, Config, Http1ClientHandshake};
/// let request = ClientRequest::from_url("ws://example.com/chat").unwrap().protocol("chat");
/// let (handshake, get) = Http1ClientHandshake::new(request, Config::default()).unwrap();
/// assert_eq!(get.headers()["upgrade"], "websocket");
/// let key = get.headers()["sec-websocket-key"].as_bytes();
///
/// let answer = http::Response::builder()
///     .status(101)
///     .header("upgrade", "websocket")
///     .header("connection", "Upgrade")
///     .header("sec-websocket-accept", accept_key(key))
///     .header("sec-websocket-protocol", "chat")
///     .body(())
///     .unwrap();
/// let connection = handshake.finish(&answer.into_parts().0).unwrap();
/// assert_eq!(connection.protocol(), Some("chat"));
/// ```
#[derive(Debug)]
pub struct Http1ClientHandshake {
    config: Config,
    protocols: Vec<String>,
    expected_accept: String,
}

impl Http1ClientHandshake {
    /// Check `request` and build the upgrade `GET` for it.
    ///
    /// # Errors
    /// As [`ClientHandshake::new`](crate::ClientHandshake::new), and
    /// [`ApiMisuse::InvalidHeader`] for a header value the `http` crate refuses.
    pub fn new(
        request: ClientRequest,
        config: Config,
    ) -> Result<(Http1ClientHandshake, http::Request<()>), HandshakeError> {
        check_request(&request)?;
        let invalid = |what: &str| HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from(what)));
        let (key, expected_accept) = new_key(&config);
        let builder = http::Request::builder()
            .method(http::Method::GET)
            .version(http::Version::HTTP_11)
            .uri(request.path.as_str())
            .header(http::header::HOST, request.host_header.as_str())
            .header(http::header::UPGRADE, "websocket")
            .header(http::header::CONNECTION, "Upgrade")
            .header(http::header::SEC_WEBSOCKET_KEY, key.as_str())
            .header(http::header::SEC_WEBSOCKET_VERSION, "13");
        let get = with_client_headers(builder, &request, &config).body(()).map_err(|_| invalid("header"))?;
        Ok((Http1ClientHandshake { config, protocols: request.protocols, expected_accept }, get))
    }

    /// Check the server's answer and make the client [`Connection`], with the agreed
    /// subprotocol and permessage-deflate parameters.
    ///
    /// # Errors
    /// [`HandshakeError::UnexpectedStatus`] for any status but 101 (with the headers);
    /// [`PeerMisbehaved::HttpVersionTooOld`], [`PeerMisbehaved::MissingUpgrade`],
    /// [`PeerMisbehaved::MissingConnectionUpgrade`], [`PeerMisbehaved::BadAccept`],
    /// [`PeerMisbehaved::UnofferedExtension`], `PeerMisbehaved::DeflateResponse` and
    /// [`PeerMisbehaved::UnofferedProtocol`] as the raw client.
    pub fn finish(self, response: &http::response::Parts) -> Result<Connection, HandshakeError> {
        let headers = own_headers(&response.headers);
        if response.status != http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(HandshakeError::UnexpectedStatus { status: response.status.as_u16(), headers });
        }
        #[cfg(feature = "deflate")]
        let offer: Option<&DeflateOffer> = self.config.deflate.as_ref();
        #[cfg(not(feature = "deflate"))]
        let offer: Option<&DeflateOffer> = None;
        let (protocol, deflate) =
            check_101(&headers, minor_version(response.version), &self.expected_accept, &self.protocols, offer)?;
        Ok(client_connection(self.config, protocol, deflate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Instant, Transmit};
    use alloc::vec;

    const GOOD: &[(&str, &str)] = &[
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Protocol", "a, chat"),
    ];

    /// The same request both ways: raw bytes and an `http::Request`, `edit` applied.
    fn both(method: &str, edit: impl Fn(&mut Vec<(&str, &str)>)) -> (Vec<u8>, http::Request<()>) {
        let mut headers = GOOD.to_vec();
        edit(&mut headers);
        let mut raw = alloc::format!("{method} /chat?x=1 HTTP/1.1\r\n").into_bytes();
        let mut req = http::Request::builder().method(method).uri("/chat?x=1");
        for (n, v) in &headers {
            raw.extend_from_slice(alloc::format!("{n}: {v}\r\n").as_bytes());
            req = req.header(*n, *v);
        }
        raw.extend_from_slice(b"\r\n");
        (raw, req.body(()).unwrap())
    }

    fn raw_answer(raw: &[u8]) -> (Result<(), HandshakeError>, Vec<u8>) {
        let mut hs = ServerHandshake::new(Config::default());
        let result = hs.receive(Instant::ZERO, raw).map(|_| ());
        let mut out = Vec::new();
        hs.drain_transmit(&mut out);
        (result, out)
    }

    fn status_and_headers(r: &http::Response<()>) -> (u16, Vec<(String, Vec<u8>)>) {
        let headers = r.headers().iter().map(|(n, v)| (String::from(n.as_str()), v.as_bytes().to_vec())).collect();
        (r.status().as_u16(), headers)
    }

    #[test]
    fn errors_match_the_raw_path() {
        type Edit = fn(&mut Vec<(&str, &str)>);
        let cases: Vec<(&str, Edit)> = vec![
            ("POST", |_| {}),
            ("GET", |h| h.retain(|(n, _)| *n != "Upgrade")),
            ("GET", |h| h.retain(|(n, _)| *n != "Connection")),
            ("GET", |h| h.retain(|(n, _)| *n != "Host")),
            ("GET", |h| h.push(("Host", "other.example"))),
            ("GET", |h| h.retain(|(n, _)| *n != "Sec-WebSocket-Key")),
            ("GET", |h| h[3].1 = "short"),
            ("GET", |h| h.push(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="))),
            ("GET", |h| h[4].1 = "8"),
            ("GET", |h| h.retain(|(n, _)| *n != "Sec-WebSocket-Version")),
        ];
        for (i, (method, edit)) in cases.into_iter().enumerate() {
            let (raw, req) = both(method, edit);
            let (raw_result, raw_bytes) = raw_answer(&raw);
            let raw_err = raw_result.expect_err("raw path must refuse");
            let err = Request::from_http(&req).expect_err("http path must refuse");
            assert_eq!(err, raw_err, "case {i}");
            let ours = err.http_response().unwrap();
            assert_eq!(status_and_headers(&ours), status_and_headers(&to_http_response(&raw_bytes)), "case {i}");
            assert!(ours.status().as_u16() >= 400);
        }
    }

    #[test]
    fn accept_matches_the_raw_path() {
        let (raw, req) = both("GET", |_| {});
        let options = AcceptOptions::new().protocol("chat").header("X-Id", "7");
        let mut hs = ServerHandshake::new(Config::default());
        hs.receive(Instant::ZERO, &raw).unwrap().unwrap();
        let mut conn = hs.accept(&options).unwrap();
        let mut raw_bytes = Vec::new();
        conn.drain_transmit(&mut raw_bytes);

        let request = Request::from_http(&req).unwrap();
        assert_eq!(
            (request.path(), request.query(), request.protocols()),
            ("/chat", Some("x=1"), &["a".into(), "chat".into()][..])
        );
        let hs = ServerHandshake::from_http(Config::default(), &req).unwrap();
        let (response, mut conn) = hs.accept_http(&options).unwrap();
        assert_eq!(status_and_headers(&response), status_and_headers(&to_http_response(&raw_bytes)));
        assert_eq!(response.status(), 101);
        assert_eq!(conn.protocol(), Some("chat"));
        assert_eq!(conn.buffered_transmit(), 0, "the HTTP server writes the 101, not the connection");
        let mut rest = Vec::new();
        conn.drain_transmit(&mut rest);
        assert!(rest.is_empty());
    }

    #[test]
    fn unoffered_protocol_is_refused() {
        let (_, req) = both("GET", |_| {});
        let hs = ServerHandshake::from_http(Config::default(), &req).unwrap();
        assert!(hs.accept_http(&AcceptOptions::new().protocol("nope")).is_err());
    }

    #[test]
    fn http2_and_http10_are_refused() {
        for version in [http::Version::HTTP_10, http::Version::HTTP_2] {
            let (_, mut req) = both("GET", |_| {});
            *req.version_mut() = version;
            let err = Request::from_http(&req).unwrap_err();
            assert_eq!(err, HandshakeError::PeerMisbehaved(crate::PeerMisbehaved::HttpVersionTooOld));
        }
    }

    /// An RFC 8441 request as hyper hands it over: CONNECT, HTTP/2, `:authority` in the URI.
    fn h2_request(method: http::Method, edit: impl Fn(&mut Vec<(&str, &str)>)) -> http::Request<()> {
        let mut headers =
            vec![("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Protocol", "a, chat"), ("Origin", "https://x")];
        edit(&mut headers);
        let mut req = http::Request::builder().method(method).uri("https://example.com/chat?x=1");
        for (n, v) in &headers {
            req = req.header(*n, *v);
        }
        let mut req = req.body(()).unwrap();
        *req.version_mut() = http::Version::HTTP_2;
        req
    }

    #[test]
    fn extended_connect_is_checked_in_order() {
        use PeerMisbehaved as P;
        type Edit = fn(&mut Vec<(&str, &str)>);
        let none: Edit = |_| {};
        let cases: Vec<(http::Method, Option<&str>, Edit, P, u16)> = vec![
            (http::Method::GET, Some("websocket"), none, P::MethodNotConnect, 405),
            (http::Method::CONNECT, None, none, P::MissingProtocol, 400),
            (http::Method::CONNECT, Some("webtransport"), none, P::MissingProtocol, 400),
            (http::Method::CONNECT, Some("websocket"), |h| h[0].1 = "8", P::UnsupportedVersion, 426),
            (http::Method::CONNECT, Some("websocket"), |h| h.truncate(0), P::UnsupportedVersion, 426),
            (
                http::Method::CONNECT,
                Some("websocket"),
                |h| h.push(("Host", "a")),
                P::MalformedHttp("Host differs from :authority"),
                400,
            ),
            (
                http::Method::CONNECT,
                Some("websocket"),
                |h| h.extend([("Host", "example.com"), ("Host", "example.com")]),
                P::DuplicateHeader("Host"),
                400,
            ),
        ];
        for (i, (method, protocol, edit, want, status)) in cases.into_iter().enumerate() {
            let req = h2_request(method, edit);
            let err = Request::from_http2(&req, protocol).expect_err("refused");
            assert_eq!(err, HandshakeError::PeerMisbehaved(want), "case {i}");
            let response = err.http2_response().unwrap();
            assert_eq!(response.status().as_u16(), status, "case {i}");
            for forbidden in ["connection", "upgrade"] {
                assert!(response.headers().get(forbidden).is_none(), "case {i}: {forbidden}");
            }
            match status {
                405 => assert_eq!(response.headers()["allow"], "CONNECT"),
                426 => assert_eq!(response.headers()["sec-websocket-version"], "13"),
                _ => {}
            }
        }
        let mut h1 = h2_request(http::Method::CONNECT, |_| {});
        *h1.version_mut() = http::Version::HTTP_11;
        assert_eq!(
            Request::from_http2(&h1, Some("websocket")).unwrap_err(),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::HttpVersionTooOld)
        );
    }

    #[test]
    fn extended_connect_is_answered_200_without_upgrade_headers() {
        let req = h2_request(http::Method::CONNECT, |_| {});
        let request = Request::from_http2(&req, Some("websocket")).unwrap();
        assert!(request.is_extended_connect());
        assert_eq!((request.path(), request.query()), ("/chat", Some("x=1")));
        assert_eq!(request.header("host"), Some("example.com"));
        let hs = ServerHandshake::from_http2(Config::default(), &req, Some("websocket")).unwrap();
        let (response, mut conn) = hs.accept_http(&AcceptOptions::new().protocol("chat").header("X-Id", "7")).unwrap();
        assert_eq!(response.status(), 200);
        for forbidden in ["connection", "upgrade", "sec-websocket-accept", "content-length"] {
            assert!(response.headers().get(forbidden).is_none(), "{forbidden}");
        }
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        assert_eq!(response.headers()["x-id"], "7");
        assert_eq!(conn.protocol(), Some("chat"));
        let mut rest = Vec::new();
        conn.drain_transmit(&mut rest);
        assert!(rest.is_empty());
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn extended_connect_negotiates_deflate() {
        let req = h2_request(http::Method::CONNECT, |h| {
            h.push(("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"))
        });
        let config = Config::builder().deflate(Some(crate::DeflateConfig::default())).build().unwrap();
        let hs = ServerHandshake::from_http2(config, &req, Some("websocket")).unwrap();
        let (response, conn) = hs.accept_http(&AcceptOptions::new()).unwrap();
        let ext = response.headers()["sec-websocket-extensions"].to_str().unwrap();
        assert!(ext.starts_with("permessage-deflate"), "{ext}");
        assert!(conn.deflate().is_some());
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn deflate_is_negotiated_and_reaches_the_connection() {
        let (_, req) =
            both("GET", |h| h.push(("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")));
        let config = Config::builder().deflate(Some(crate::DeflateConfig::default())).build().unwrap();
        let hs = ServerHandshake::from_http(config, &req).unwrap();
        let (response, conn) = hs.accept_http(&AcceptOptions::new()).unwrap();
        let ext = response.headers()["sec-websocket-extensions"].to_str().unwrap();
        assert!(ext.starts_with("permessage-deflate"), "{ext}");
        assert!(conn.deflate().is_some());
    }

    /// The HTTP/1.1 client in `http` types refuses what the raw client refuses, with the
    /// same typed errors, and accepts a correct 101 with the subprotocol it offered.
    #[test]
    fn http1_client_answers_are_checked_as_the_raw_client_does() {
        let request = || ClientRequest::new("example.com", "/chat").protocol("chat");
        let answer = |key: &[u8], edit: &dyn Fn(http::response::Builder) -> http::response::Builder| {
            let builder = http::Response::builder()
                .status(101)
                .header("upgrade", "websocket")
                .header("connection", "Upgrade")
                .header("sec-websocket-accept", crate::accept_key(key));
            edit(builder).body(()).unwrap().into_parts().0
        };
        type Edit = fn(http::response::Builder) -> http::response::Builder;
        let cases: Vec<(Edit, HandshakeError)> = vec![
            (|b| b.status(403), HandshakeError::UnexpectedStatus { status: 403, headers: Vec::new() }),
            (|b| b.version(http::Version::HTTP_10), HandshakeError::PeerMisbehaved(PeerMisbehaved::HttpVersionTooOld)),
            (|b| b.header("sec-websocket-accept", "again"), HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept)),
            (
                |b| b.header("sec-websocket-protocol", "other"),
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(String::from("other"))),
            ),
        ];
        for (i, (edit, expected)) in cases.into_iter().enumerate() {
            let (hs, get) = Http1ClientHandshake::new(request(), Config::default()).unwrap();
            let key = get.headers()["sec-websocket-key"].as_bytes().to_vec();
            let err = hs.finish(&answer(&key, &edit)).unwrap_err();
            match (&err, &expected) {
                (
                    HandshakeError::UnexpectedStatus { status: a, .. },
                    HandshakeError::UnexpectedStatus { status: b, .. },
                ) => {
                    assert_eq!(a, b, "case {i}")
                }
                _ => assert_eq!(err, expected, "case {i}"),
            }
        }
        // A wrong accept key (another request's) and a missing Upgrade.
        let (hs, _) = Http1ClientHandshake::new(request(), Config::default()).unwrap();
        let err = hs.finish(&answer(b"dGhlIHNhbXBsZSBub25jZQ==", &|b| b)).unwrap_err();
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept));
        let (hs, get) = Http1ClientHandshake::new(request(), Config::default()).unwrap();
        let key = get.headers()["sec-websocket-key"].as_bytes().to_vec();
        let mut parts = answer(&key, &|b| b);
        parts.headers.remove("upgrade");
        assert_eq!(hs.finish(&parts).unwrap_err(), HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade));
        // The good answer.
        let (hs, get) = Http1ClientHandshake::new(request(), Config::default()).unwrap();
        assert_eq!(
            (get.method(), get.uri().path(), get.version()),
            (&http::Method::GET, "/chat", http::Version::HTTP_11)
        );
        assert_eq!(get.headers()["host"], "example.com");
        let key = get.headers()["sec-websocket-key"].as_bytes().to_vec();
        let conn = hs.finish(&answer(&key, &|b| b.header("sec-websocket-protocol", "chat"))).unwrap();
        assert_eq!(conn.protocol(), Some("chat"));
    }
}
