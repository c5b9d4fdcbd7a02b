//! The client side of the opening handshake (RFC 6455 §4.1): [`ClientRequest`] (what to
//! ask for), [`ClientHandshake`] (the request bytes, then validating the server's answer)
//! and [`Response`]. URL parsing is in `url.rs`, head reading in `http.rs`; the server side
//! is in `server.rs`.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use bytes::Bytes;

use super::http::{self, Progress};
use super::{accept_key, url, Header};
use crate::config::{Config, Role};
use crate::connection::Connection;
use crate::error::{ApiMisuse, HandshakeError, PeerMisbehaved};
use crate::time::Instant;
use crate::transmit::{Deadline, Outbox, Transmit};

/// Headers the request writes itself; [`ClientRequest::header`] may not add them again.
/// `Sec-WebSocket-Extensions` is the engine's: it offers permessage-deflate (with the
/// `deflate` feature and [`Config::deflate`](crate::Config) set) and fails any response
/// that names another extension.
const RESERVED_REQUEST_HEADERS: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
    "Content-Length",
    "Transfer-Encoding",
];

/// What a client asks for: where to connect, the request-target, and optional `Origin`,
/// subprotocols and extra headers.
///
/// ```
/// use tether_proto::ClientRequest;
/// let req = ClientRequest::from_url("wss://chat.example.com/room?id=7")
///     .unwrap()
///     .protocol("chat.v2")
///     .header("Authorization", "Bearer t0ken");
/// assert_eq!((req.host(), req.port(), req.is_secure()), ("chat.example.com", 443, true));
/// assert_eq!(req.path(), "/room?id=7");
/// ```
#[derive(Clone, Debug)]
pub struct ClientRequest {
    host: String,
    port: u16,
    secure: bool,
    pub(super) host_header: String,
    pub(super) path: String,
    pub(super) origin: Option<String>,
    pub(super) protocols: Vec<String>,
    pub(super) headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// Parse a `ws://` or `wss://` URL (RFC 6455 §3): the scheme is case-insensitive; the
    /// host is a DNS name, an IPv4 address or a bracketed IPv6 address; the port defaults to
    /// 80 (`ws`) or 443 (`wss`); the path defaults to `/` and the query is kept.
    ///
    /// # Errors
    /// [`ApiMisuse::InvalidUrl`] for another scheme, a fragment (§3 forbids them),
    /// userinfo (`user:pass@`; send an `Authorization` header instead), whitespace, control
    /// or non-ASCII characters, or an invalid host or port.
    ///
    /// ```
    /// use tether_proto::{ApiMisuse, ClientRequest, HandshakeError};
    /// let req = ClientRequest::from_url("ws://[::1]:9001").unwrap();
    /// assert_eq!((req.host(), req.port(), req.path()), ("::1", 9001, "/"));
    /// assert!(matches!(ClientRequest::from_url("ws://h/#x"), Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidUrl(_)))));
    /// ```
    pub fn from_url(url: &str) -> Result<ClientRequest, HandshakeError> {
        let u = url::parse(url)?;
        Ok(ClientRequest {
            host: u.host,
            port: u.port,
            secure: u.secure,
            host_header: u.host_header,
            path: u.target,
            origin: None,
            protocols: Vec::new(),
            headers: Vec::new(),
        })
    }

    /// A plain (`ws`) request with `host` as the `Host` header value (`name`, `name:port`
    /// or `[v6]:port`) and `path` as the request-target. [`host`](Self::host) and
    /// [`port`](Self::port) are derived from `host` (port 80 when it names none). Both are
    /// validated by [`ClientHandshake::new`].
    pub fn new(host: impl Into<String>, path: impl Into<String>) -> Self {
        let host_header = host.into();
        let (host, port) = url::split_host_port(&host_header);
        ClientRequest {
            host,
            port: port.unwrap_or(url::WS_PORT),
            secure: false,
            host_header,
            path: path.into(),
            origin: None,
            protocols: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Send `Origin: origin` (browsers always do; servers may check it, RFC 6455 §10.2).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offer subprotocol `p` (call once per protocol, most preferred first). Each must be an
    /// HTTP token, and offered once.
    pub fn protocol(mut self, p: impl Into<String>) -> Self {
        self.protocols.push(p.into());
        self
    }

    /// Add a header (e.g. `Authorization`, `Cookie`). The name must be an HTTP token, the
    /// value free of CR, LF and other control bytes
    /// ([hostile peers](crate::manual::hostile_peers) B5), and the name not one the handshake
    /// writes itself (`Host`, `Upgrade`, `Connection`, `Origin` — use
    /// [`origin`](Self::origin) —, `Sec-WebSocket-*`, `Content-Length`,
    /// `Transfer-Encoding`); [`ClientHandshake::new`] checks.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The host to connect to (resolve), without IPv6 brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL was `wss://` (the caller must wrap the transport in TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The request-target (path and query).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The offered subprotocols, in order.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The `Host` header value that will be sent.
    pub fn host_header(&self) -> &str {
        &self.host_header
    }
}

/// The server's accepted response (client side): status 101 and its headers.
#[derive(Clone, Debug)]
pub struct Response {
    status: u16,
    headers: Vec<Header>,
    protocol: Option<String>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateParams>,
}

impl Response {
    /// The status (always 101 once validated).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Every header, in the order received.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The first header called `name` (ASCII case-insensitive), or `None` if absent or not
    /// UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        http::first_str(&self.headers, name)
    }

    /// The subprotocol the server chose (one we offered), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters the server agreed to, if it accepted our offer.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<&crate::deflate::DeflateParams> {
        self.deflate.as_ref()
    }
}

/// The client side of the opening handshake.
///
/// Write the request out through [`Transmit`] (`poll_transmit`, `consume_transmit`), feed
/// what the server answers to [`receive`](Self::receive) until it yields the [`Response`],
/// then take the [`Connection`] with [`into_connection`](Self::into_connection). The one
/// total deadline ([`Config::handshake_timeout`]) counts from the first instant given to
/// `receive` or [`handle_timeout`](Self::handle_timeout).
///
/// ```
/// use tether_proto::{ClientHandshake, ClientRequest, Config, HandshakeError, Instant, ServerHandshake, Transmit};
/// let now = Instant::ZERO;
/// let request = ClientRequest::from_url("ws://localhost:9001/chat").unwrap().protocol("chat");
/// let mut client = ClientHandshake::new(request, Config::default()).unwrap();
/// let mut wire = Vec::new();
/// client.drain_transmit(&mut wire);
///
/// // What the server sees (normally on the other side of a socket).
/// let mut server = ServerHandshake::new(Config::default());
/// assert_eq!(server.receive(now, &wire).unwrap().unwrap().protocols(), ["chat"]);
///
/// // A server that refuses: the client reports the status, and no connection is made.
/// server.reject(403, b"");
/// let mut refusal = Vec::new();
/// server.drain_transmit(&mut refusal);
/// let err = client.receive(now, &refusal).unwrap_err();
/// assert!(matches!(err, HandshakeError::UnexpectedStatus { status: 403, .. }));
/// assert!(client.into_connection().is_err());
/// ```
#[derive(Debug)]
pub struct ClientHandshake {
    config: Config,
    outbox: Outbox,
    expected_accept: String,
    protocols: Vec<String>,
    progress: Progress<Response>,
    deadline: Deadline,
}

impl ClientHandshake {
    /// Build the request: a fresh 16-byte `Sec-WebSocket-Key` from the config's
    /// [`Rng`](crate::Rng), then `GET <path> HTTP/1.1`, `Host`, `Upgrade: websocket`,
    /// `Connection: Upgrade`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, `Origin` if
    /// set, `Sec-WebSocket-Protocol` (comma-joined) if any, then the extra headers.
    ///
    /// # Errors
    /// - [`ApiMisuse::InvalidHeader`] for a `Host`, `Origin` or extra header that
    ///   cannot be sent (CR, LF, NUL or other control bytes, a non-token name, a name the
    ///   handshake writes itself), or a subprotocol that is not a token or is offered twice;
    /// - [`ApiMisuse::InvalidUrl`] for a path that does not start with `/` or contains
    ///   whitespace, control or non-ASCII bytes, or `#`.
    pub fn new(request: ClientRequest, config: Config) -> Result<ClientHandshake, HandshakeError> {
        check_request(&request)?;
        let ClientRequest { host_header, path, origin, protocols, headers, .. } = request;

        let (key, expected_accept) = new_key(&config);

        let mut out = Vec::with_capacity(192 + path.len() + host_header.len());
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        http::write_header(&mut out, "Host", host_header.as_bytes());
        http::write_header(&mut out, "Upgrade", b"websocket");
        http::write_header(&mut out, "Connection", b"Upgrade");
        http::write_header(&mut out, "Sec-WebSocket-Key", key.as_bytes());
        http::write_header(&mut out, "Sec-WebSocket-Version", b"13");
        if let Some(o) = &origin {
            http::write_header(&mut out, "Origin", o.as_bytes());
        }
        if !protocols.is_empty() {
            http::write_header(&mut out, "Sec-WebSocket-Protocol", protocols.join(", ").as_bytes());
        }
        #[cfg(feature = "deflate")]
        if let Some(d) = &config.deflate {
            http::write_header(&mut out, "Sec-WebSocket-Extensions", crate::deflate::client_offer(d).as_bytes());
        }
        for (name, value) in &headers {
            http::write_header(&mut out, name, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");

        let progress = Progress::new(config.max_handshake_bytes(), config.max_handshake_headers());
        let deadline = Deadline::new(config.handshake_timeout());
        let mut outbox = Outbox::default();
        outbox.push(&out);
        Ok(ClientHandshake { config, outbox, expected_accept, protocols, progress, deadline })
    }

    /// Let the deadline fire: once it has passed before a valid response, the handshake
    /// fails with [`HandshakeError::Timeout`]. Harmless at any other time. The clock starts
    /// at the first instant given (here or to [`receive`](Self::receive)): give the moment
    /// the connection attempt began, so that connecting counts too.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_expired(now) && self.progress.head().is_none() {
            self.progress.fail(HandshakeError::Timeout { after: self.deadline.timeout() });
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called: the deadline,
    /// until a valid response arrived or the handshake failed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.progress {
            Progress::Reading(_) => self.deadline.at(),
            _ => None,
        }
    }

    /// Feed bytes received from the server, in any chunking, under the same byte and line
    /// caps as the server side ([hostile peers](crate::manual::hostile_peers) B4).
    ///
    /// `Ok(None)`: the head is not complete. `Ok(Some(response))`: a valid 101; bytes after
    /// it (the server's first frames) are kept for the connection, as are bytes fed later.
    ///
    /// # Errors
    /// - [`HandshakeError::UnexpectedStatus`] for any status but 101, with the headers
    ///   (redirects are not followed);
    /// - [`PeerMisbehaved::HttpVersionTooOld`] for an HTTP/1.0 101;
    /// - [`PeerMisbehaved::MissingUpgrade`] / [`PeerMisbehaved::MissingConnectionUpgrade`]
    ///   without the `websocket` / `upgrade` tokens;
    /// - [`PeerMisbehaved::BadAccept`] for a missing, repeated or wrong
    ///   `Sec-WebSocket-Accept`;
    /// - [`PeerMisbehaved::UnofferedExtension`] for any `Sec-WebSocket-Extensions` we did
    ///   not offer (any, without permessage-deflate), and `PeerMisbehaved::DeflateResponse`
    ///   for a permessage-deflate answer RFC 7692 forbids;
    /// - [`PeerMisbehaved::UnofferedProtocol`] for a subprotocol we did not offer (any, if
    ///   we offered none), or several;
    /// - the limit and syntax errors of the server side.
    ///
    /// After an error, every call returns the same error.
    pub fn receive(&mut self, now: Instant, data: &[u8]) -> Result<Option<&Response>, HandshakeError> {
        self.handle_timeout(now);
        let (expected, offered) = (&self.expected_accept, &self.protocols);
        #[cfg(feature = "deflate")]
        let deflate = self.config.deflate.as_ref();
        #[cfg(not(feature = "deflate"))]
        let deflate = None;
        self.progress.receive(data, |head, lines| parse_response(head, lines, expected, offered, deflate))
    }

    /// The client [`Connection`], with the bytes that followed the response and the
    /// negotiated subprotocol.
    ///
    /// # Errors
    /// [`ApiMisuse::Incomplete`] before a valid response (or the `receive` error, if
    /// the response failed).
    pub fn into_connection(self) -> Result<Connection, HandshakeError> {
        let (response, leftover) = self.progress.into_complete()?;
        #[cfg(feature = "deflate")]
        let deflate_config = self.config.deflate.clone();
        let mut conn = Connection::new(Role::Client, self.config);
        if !leftover.is_empty() {
            conn.push_leftover(&leftover);
        }
        #[cfg(feature = "deflate")]
        if let (Some(params), Some(d)) = (response.deflate, &deflate_config) {
            conn.set_deflate(params, d);
        }
        conn.set_protocol(response.protocol);
        Ok(conn)
    }

    /// Bytes received after the response head (test accessor, independent of the
    /// connection type).
    #[cfg(test)]
    pub(crate) fn leftover(&self) -> Option<&[u8]> {
        self.progress.leftover()
    }

    #[cfg(test)]
    pub(crate) fn expected_accept(&self) -> &str {
        &self.expected_accept
    }
}

impl Transmit for ClientHandshake {
    fn poll_transmit<'a>(&'a mut self, chunks: &mut [&'a [u8]]) -> usize {
        self.outbox.poll_transmit(chunks)
    }

    fn consume_transmit(&mut self, n: usize) {
        self.outbox.consume_transmit(n);
    }

    fn buffered_transmit(&self) -> usize {
        self.outbox.buffered_transmit()
    }
}

/// Parses and validates a complete response head. Order: syntax, status (so a 403 is
/// reported as such whatever else is wrong), version, `Upgrade`, `Connection`, accept key,
/// extensions, subprotocol.
fn parse_response(
    head: Bytes,
    header_lines: usize,
    expected_accept: &str,
    offered: &[String],
    deflate: Option<&DeflateOffer>,
) -> Result<Response, HandshakeError> {
    let http::ResponseHead { status, minor_version, headers } = http::parse_response_head(&head, header_lines)?;
    if status != 101 {
        return Err(HandshakeError::UnexpectedStatus { status, headers });
    }
    let (protocol, deflate) = check_101(&headers, minor_version, expected_accept, offered, deflate)?;
    #[cfg(not(feature = "deflate"))]
    let _: Option<()> = deflate;
    Ok(Response {
        status,
        headers,
        protocol,
        #[cfg(feature = "deflate")]
        deflate,
    })
}

/// The checks of a 101 after its status (shared with the `http` crate's form): version,
/// `Upgrade`, `Connection`, accept key, then [`check_answer`].
pub(super) fn check_101(
    headers: &[Header],
    minor_version: Option<u8>,
    expected_accept: &str,
    offered: &[String],
    deflate: Option<&DeflateOffer>,
) -> Result<(Option<String>, Option<AgreedDeflate>), HandshakeError> {
    if minor_version != Some(1) {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::HttpVersionTooOld));
    }
    if !http::has_token(headers, "Upgrade", "websocket") {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade));
    }
    if !http::has_token(headers, "Connection", "upgrade") {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingConnectionUpgrade));
    }
    let accept_ok = {
        let mut accepts = http::values(headers, "Sec-WebSocket-Accept");
        matches!((accepts.next(), accepts.next()), (Some(a), None) if http::trim_ows(a) == expected_accept.as_bytes())
    };
    if !accept_ok {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept));
    }
    check_answer(headers, offered, deflate)
}

/// A fresh `Sec-WebSocket-Key` (RFC 6455 §4.1 item 7: a random nonce per handshake) and the
/// accept value the server must answer with.
pub(super) fn new_key(config: &Config) -> (String, String) {
    let mut nonce = [0u8; 16];
    config.rng().fill(&mut nonce);
    let key = base64::engine::general_purpose::STANDARD.encode(nonce);
    let expected_accept = accept_key(key.as_bytes());
    (key, expected_accept)
}

/// The checks every request passes before anything is sent (both the HTTP/1.1 upgrade and
/// the RFC 8441 extended CONNECT): see [`ClientHandshake::new`]'s errors.
pub(super) fn check_request(request: &ClientRequest) -> Result<(), HandshakeError> {
    let ClientRequest { host_header, path, origin, protocols, headers, .. } = request;
    if host_header.is_empty() || !http::is_field_value(host_header.as_bytes()) {
        return Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from("Host"))));
    }
    // RFC 6455 §3/§4.1: the request-target is the /resource name/, which starts with
    // `/`; anything that could end the request line or smuggle a fragment is refused.
    if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        return Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidUrl(
            "request path must start with '/' and be visible ASCII without '#'",
        )));
    }
    if let Some(o) = origin {
        if !http::is_field_value(o.as_bytes()) {
            return Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from("Origin"))));
        }
    }
    for (i, p) in protocols.iter().enumerate() {
        // RFC 6455 §4.1 item 10: non-empty tokens, each unique. Offers are few and
        // application-chosen, so the quadratic uniqueness check is fine.
        if !http::is_token(p.as_bytes()) || protocols[..i].contains(p) {
            return Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from("Sec-WebSocket-Protocol"))));
        }
    }
    for (name, value) in headers {
        http::check_extra_header(name, value, RESERVED_REQUEST_HEADERS)?;
    }
    Ok(())
}

/// What the server agreed to, checked against what we offered: the subprotocol, and
/// permessage-deflate's parameters (always `None` without the feature). Shared by the
/// HTTP/1.1 response and the RFC 8441 200.
pub(super) fn check_answer(
    headers: &[Header],
    offered: &[String],
    deflate: Option<&DeflateOffer>,
) -> Result<(Option<String>, Option<AgreedDeflate>), HandshakeError> {
    // RFC 6455 §4.1 item 5: an extension we did not offer fails the connection.
    let extensions = http::values(headers, "Sec-WebSocket-Extensions").flat_map(http::split_top_level);
    #[cfg(feature = "deflate")]
    let deflate = match deflate {
        Some(config) => match crate::deflate::client_check(config, extensions) {
            Ok(params) => params,
            Err(crate::deflate::ClientCheckFault::Unoffered(ext)) => {
                return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedExtension(ext)))
            }
            Err(crate::deflate::ClientCheckFault::Deflate(fault)) => {
                return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::DeflateResponse(fault)))
            }
        },
        None => {
            refuse_extensions(extensions)?;
            None
        }
    };
    #[cfg(not(feature = "deflate"))]
    {
        let _: Option<&DeflateOffer> = deflate;
        refuse_extensions(extensions)?;
    }
    // RFC 6455 §4.1 item 6: at most one protocol, and one we offered. A header with an
    // empty value chooses nothing that was offered either.
    let protocol = choose_protocol(headers, offered)?;
    #[cfg(not(feature = "deflate"))]
    let deflate: Option<AgreedDeflate> = None;
    Ok((protocol, deflate))
}

/// permessage-deflate's agreed parameters (nothing without the feature).
#[cfg(feature = "deflate")]
pub(super) type AgreedDeflate = crate::deflate::DeflateParams;
#[cfg(not(feature = "deflate"))]
pub(super) type AgreedDeflate = ();

/// What the client offered as permessage-deflate (nothing without the feature).
#[cfg(feature = "deflate")]
pub(super) type DeflateOffer = crate::deflate::DeflateConfig;
#[cfg(not(feature = "deflate"))]
pub(super) type DeflateOffer = ();

/// Any extension in the response fails it when we offered none.
fn refuse_extensions<'a>(mut extensions: impl Iterator<Item = &'a [u8]>) -> Result<(), HandshakeError> {
    match extensions.next() {
        Some(ext) => Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedExtension(
            String::from_utf8_lossy(ext).into_owned(),
        ))),
        None => Ok(()),
    }
}

/// The server's `Sec-WebSocket-Protocol`, checked against what we offered.
fn choose_protocol(headers: &[Header], offered: &[String]) -> Result<Option<String>, HandshakeError> {
    let mut chosen = http::values(headers, "Sec-WebSocket-Protocol");
    Ok(match (chosen.next(), chosen.next()) {
        (None, _) => None,
        (Some(p), None) => {
            let p = http::trim_ows(p);
            match offered.iter().find(|o| o.as_bytes() == p) {
                Some(o) => Some(o.clone()),
                None => {
                    return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(
                        String::from_utf8_lossy(p).into_owned(),
                    )))
                }
            }
        }
        (Some(a), Some(b)) => {
            let mut both = String::from_utf8_lossy(a).into_owned();
            both.push_str(", ");
            both.push_str(&String::from_utf8_lossy(b));
            return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(both)));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a handshake has queued for the transport.
    fn request_of(hs: &mut impl Transmit) -> Vec<u8> {
        let mut out = Vec::new();
        hs.drain_transmit(&mut out);
        out
    }
    use crate::rng::{OsRng, SeededRng};
    use alloc::format;
    use alloc::sync::Arc;

    fn seeded(seed: u64) -> Config {
        Config::builder().rng(Arc::new(SeededRng::new(seed))).build().unwrap()
    }

    fn client(req: ClientRequest) -> ClientHandshake {
        ClientHandshake::new(req, seeded(1)).unwrap()
    }

    fn key_of(hs: &ClientHandshake) -> String {
        let text = core::str::from_utf8(hs.outbox.queued()).unwrap();
        let line = text.lines().find(|l| l.starts_with("Sec-WebSocket-Key: ")).unwrap();
        String::from(&line["Sec-WebSocket-Key: ".len()..])
    }

    /// A valid 101 for `hs`, with extra header lines appended.
    fn response_for(hs: &ClientHandshake, extra: &[&str]) -> Vec<u8> {
        let mut s = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            hs.expected_accept()
        );
        for e in extra {
            s.push_str(e);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        s.into_bytes()
    }

    fn receive_err(hs: &mut ClientHandshake, bytes: &[u8]) -> HandshakeError {
        hs.receive(Instant::ZERO, bytes).map(|r| r.is_some()).expect_err("response should be rejected")
    }

    // RFC 6455 §4.1 items 1-9 (and §1.2's sample): the request's exact bytes.
    #[test]
    fn request_bytes_are_exact() {
        let req = ClientRequest::from_url("ws://server.example.com/chat")
            .unwrap()
            .origin("http://example.com")
            .protocol("chat")
            .protocol("superchat")
            .header("X-Trace", "1");
        let mut hs = client(req);
        let key = key_of(&hs);
        let expected = format!(
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nX-Trace: 1\r\n\r\n"
        );
        assert_eq!(String::from_utf8(request_of(&mut hs)).unwrap(), expected);
        // §4.1 item 7: the key is base64 of 16 bytes.
        let nonce = base64::engine::general_purpose::STANDARD.decode(&key).unwrap();
        assert_eq!(nonce.len(), 16);
        assert_eq!(hs.expected_accept(), accept_key(key.as_bytes()));
    }

    // RFC 6455 §4.1 item 4: Host carries the port only when it is not the default, and
    // brackets IPv6.
    #[test]
    fn host_header_forms() {
        for (url, host) in [
            ("ws://example.com:80/", "Host: example.com\r\n"),
            ("wss://example.com:443/", "Host: example.com\r\n"),
            ("wss://example.com:80/", "Host: example.com:80\r\n"),
            ("ws://[::1]:9001/", "Host: [::1]:9001\r\n"),
            ("ws://[::1]/", "Host: [::1]\r\n"),
            ("ws://10.0.0.1:8080", "Host: 10.0.0.1:8080\r\n"),
        ] {
            let mut hs = client(ClientRequest::from_url(url).unwrap());
            let text = String::from_utf8(request_of(&mut hs)).unwrap();
            assert!(text.contains(host), "{url}: {text}");
        }
        let req = ClientRequest::new("example.com:8080", "/p?q=1");
        assert_eq!((req.host(), req.port(), req.is_secure(), req.path()), ("example.com", 8080, false, "/p?q=1"));
        let mut hs = client(req);
        assert!(request_of(&mut hs).starts_with(b"GET /p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n"));
        let req = ClientRequest::new("[::1]", "/");
        assert_eq!((req.host(), req.port()), ("::1", 80));
    }

    // Hostile peers B6 (see the manual), the handshake part / RFC 6455 §4.1 item 7, §10.3:
    // keys come from the configured Rng — fresh per handshake from the OS, reproducible when
    // seeded.
    #[test]
    fn keys_come_from_the_config_rng() {
        let os = Config::builder().rng(Arc::new(OsRng)).build().unwrap();
        let req = ClientRequest::from_url("ws://a/").unwrap();
        let a = ClientHandshake::new(req.clone(), os.clone()).unwrap();
        let b = ClientHandshake::new(req.clone(), os).unwrap();
        assert_ne!(key_of(&a), key_of(&b));
        let mut c = ClientHandshake::new(req.clone(), seeded(1)).unwrap();
        let mut d = ClientHandshake::new(req.clone(), seeded(1)).unwrap();
        assert_eq!(key_of(&c), key_of(&d));
        assert_eq!(request_of(&mut c), request_of(&mut d));
        // Two handshakes on one shared seeded Rng still differ.
        let shared = seeded(2);
        let e = ClientHandshake::new(req.clone(), shared.clone()).unwrap();
        let f = ClientHandshake::new(req, shared).unwrap();
        assert_ne!(key_of(&e), key_of(&f));
    }

    // Hostile peers B5 (undici CVE-2026-1527): CR/LF/NUL in any application value, or a bad
    // name, is refused before a byte is built.
    #[test]
    fn header_injection_is_refused() {
        let base = || ClientRequest::from_url("ws://a/").unwrap();
        let cases: [(ClientRequest, &str); 10] = [
            (base().header("X-A", "1\r\nX-Injected: 1"), "X-A"),
            (base().header("X-A", "1\n"), "X-A"),
            (base().header("X-A", "1\0"), "X-A"),
            (base().header("X A", "1"), "X A"),
            (base().header("X-A:", "1"), "X-A:"),
            (base().header("", "1"), ""),
            (base().header("host", "evil"), "host"),
            (base().header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), "Sec-WebSocket-Key"),
            (base().origin("http://a\r\nX: y"), "Origin"),
            (ClientRequest::new("a\r\nX: y", "/"), "Host"),
        ];
        for (req, name) in cases {
            assert_eq!(
                ClientHandshake::new(req, seeded(1)).unwrap_err(),
                HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from(name)))
            );
        }
        for bad in ["", "a b", "a,b", "a\r\n", "é"] {
            assert_eq!(
                ClientHandshake::new(base().protocol(bad), seeded(1)).unwrap_err(),
                HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from("Sec-WebSocket-Protocol"))),
                "{bad:?}"
            );
        }
        assert!(ClientHandshake::new(base().protocol("a").protocol("a"), seeded(1)).is_err(), "duplicate offer");
        for path in ["", "chat", "/a b", "/a\r\nX: y", "/#f", "/é"] {
            assert!(
                matches!(
                    ClientHandshake::new(ClientRequest::new("a", path), seeded(1)),
                    Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidUrl(_)))
                ),
                "{path:?}"
            );
        }
    }

    // RFC 6455 §4.1 / §4.2.2: a valid 101 with the right accept succeeds.
    #[test]
    fn valid_response_is_accepted() {
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap().protocol("chat").protocol("v2"));
        let resp =
            response_for(&hs, &["Sec-WebSocket-Protocol: v2", "Server: test", "Date: Mon, 01 Jul 2024 12:00:00 GMT"]);
        let r = hs.receive(Instant::ZERO, &resp).unwrap().unwrap();
        assert_eq!((r.status(), r.protocol(), r.header("server")), (101, Some("v2"), Some("test")));
        assert_eq!(r.headers().len(), 6);
        let conn = hs.into_connection().unwrap();
        assert_eq!((conn.role(), conn.protocol()), (Role::Client, Some("v2")));
    }

    // RFC 6455 §4.1 items 2-3: token lists, any case, across headers.
    #[test]
    fn upgrade_and_connection_tokens() {
        for (extra, want) in [
            (&["-Upgrade"][..], Some(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade))),
            (&["-Upgrade", "Upgrade: h2c"], Some(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade))),
            (&["-Upgrade", "Upgrade: WebSocket"], None),
            (&["-Connection"], Some(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingConnectionUpgrade))),
            (
                &["-Connection", "Connection: close"],
                Some(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingConnectionUpgrade)),
            ),
            (&["-Connection", "Connection: keep-alive, UPGRADE"], None),
            (&["-Connection", "Connection: keep-alive", "connection: upgrade"], None),
        ] {
            let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
            let full = String::from(core::str::from_utf8(&response_for(&hs, &[])).unwrap());
            let mut lines: Vec<String> = full.trim_end().split("\r\n").map(String::from).collect();
            for e in extra {
                match e.strip_prefix('-') {
                    Some(n) => lines.retain(|l| !l.starts_with(&format!("{n}:"))),
                    None => lines.push(String::from(*e)),
                }
            }
            let bytes = format!("{}\r\n\r\n", lines.join("\r\n"));
            match want {
                Some(err) => assert_eq!(receive_err(&mut hs, bytes.as_bytes()), err, "{extra:?}"),
                None => assert!(hs.receive(Instant::ZERO, bytes.as_bytes()).unwrap().is_some(), "{extra:?}"),
            }
        }
    }

    // Hostile peers B1: non-101 answers are typed errors exposing status and headers; no
    // redirect is followed.
    #[test]
    fn non_101_is_unexpected_status() {
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let err = receive_err(&mut hs, b"HTTP/1.1 302 Found\r\nLocation: ws://b/\r\nContent-Length: 0\r\n\r\n");
        match &err {
            HandshakeError::UnexpectedStatus { status: 302, headers } => {
                assert_eq!(headers[0].name, "Location");
                assert_eq!(&headers[0].value[..], b"ws://b/");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(hs.into_connection().unwrap_err(), err, "errors are sticky");
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let err = receive_err(&mut hs, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>");
        assert!(matches!(err, HandshakeError::UnexpectedStatus { status: 200, .. }));
        assert_eq!(err.http_status(), None);
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let err = receive_err(&mut hs, b"HTTP/1.0 403 Forbidden\r\n\r\n");
        assert!(matches!(err, HandshakeError::UnexpectedStatus { status: 403, .. }), "status first, then version");
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let mut resp = response_for(&hs, &[]);
        resp[7] = b'0';
        assert_eq!(receive_err(&mut hs, &resp), HandshakeError::PeerMisbehaved(PeerMisbehaved::HttpVersionTooOld));
    }

    // Hostile peers B2 / RFC 6455 §4.1 item 4: a missing, wrong or repeated accept fails.
    #[test]
    fn bad_accept_fails() {
        let rfc_accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        for extra in [
            &["-Sec-WebSocket-Accept"][..],
            &["-Sec-WebSocket-Accept", rfc_accept],
            &["-Sec-WebSocket-Accept", "Sec-WebSocket-Accept: "],
        ] {
            let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
            let good = String::from(core::str::from_utf8(&response_for(&hs, &[])).unwrap());
            let mut text = good.replace(&format!("Sec-WebSocket-Accept: {}\r\n", hs.expected_accept()), "");
            if extra.len() > 1 {
                text.insert_str(text.len() - 2, &format!("{}\r\n", extra[1]));
            }
            assert_eq!(
                receive_err(&mut hs, text.as_bytes()),
                HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept),
                "{extra:?}"
            );
        }
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let dup = format!("Sec-WebSocket-Accept: {}", hs.expected_accept());
        let resp = response_for(&hs, &[&dup]);
        assert_eq!(
            receive_err(&mut hs, &resp),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept),
            "repeated accept"
        );
        // Case matters: base64 is case-sensitive.
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let lower = hs.expected_accept().to_ascii_lowercase();
        let text = core::str::from_utf8(&response_for(&hs, &[])).unwrap().replace(hs.expected_accept(), &lower);
        assert_eq!(receive_err(&mut hs, text.as_bytes()), HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept));
    }

    // Hostile peers B3 / RFC 6455 §4.1 items 5-6 / RFC 7692 §7.1.2: unoffered protocol or
    // any extension fails, including hostile deflate parameters.
    #[test]
    fn unoffered_protocol_or_extension_fails() {
        let offered = || ClientRequest::from_url("ws://a/").unwrap().protocol("chat");
        for (req, extra, want) in [
            (
                offered(),
                "Sec-WebSocket-Protocol: mqtt",
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(String::from("mqtt"))),
            ),
            (
                offered(),
                "Sec-WebSocket-Protocol: Chat",
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(String::from("Chat"))),
            ),
            (
                offered(),
                "Sec-WebSocket-Protocol: chat, mqtt",
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(String::from("chat, mqtt"))),
            ),
            (
                offered(),
                "Sec-WebSocket-Protocol: ",
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(String::new())),
            ),
            (
                ClientRequest::from_url("ws://a/").unwrap(),
                "Sec-WebSocket-Protocol: chat",
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(String::from("chat"))),
            ),
            (
                offered(),
                "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7",
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedExtension(String::from(
                    "permessage-deflate; server_max_window_bits=7",
                ))),
            ),
            (
                offered(),
                "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16",
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedExtension(String::from(
                    "permessage-deflate; server_max_window_bits=16",
                ))),
            ),
            (
                offered(),
                "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=abc",
                HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedExtension(String::from(
                    "permessage-deflate; server_max_window_bits=abc",
                ))),
            ),
        ] {
            let mut hs = client(req);
            let resp = response_for(&hs, &[extra]);
            assert_eq!(receive_err(&mut hs, &resp), want, "{extra}");
        }
        let mut hs = client(offered());
        let resp = response_for(&hs, &["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"]);
        assert_eq!(
            receive_err(&mut hs, &resp),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedProtocol(String::from("chat, chat")))
        );
        // An empty extensions header names no extension.
        let mut hs = client(offered());
        let resp = response_for(&hs, &["Sec-WebSocket-Extensions: , "]);
        assert!(hs.receive(Instant::ZERO, &resp).unwrap().is_some());
        // Offering protocols and getting none back is the application's call, not an error.
        let mut hs = client(offered());
        let resp = response_for(&hs, &[]);
        assert_eq!(hs.receive(Instant::ZERO, &resp).unwrap().unwrap().protocol(), None);
    }

    // Hostile peers B4: the response head is capped like a request (bytes and lines), while
    // reading.
    #[test]
    fn response_caps() {
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let mut big = b"HTTP/1.1 101 Switching Protocols\r\nX: ".to_vec();
        big.resize(1 << 20, b'a');
        assert_eq!(
            receive_err(&mut hs, &big),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::HeadTooLarge { max: 8192 })
        );
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let mut many = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        for _ in 0..10_000 {
            many.extend_from_slice(b"a: x\r\n");
        }
        assert_eq!(
            receive_err(&mut hs, &many),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::TooManyHeaders { max: 64 })
        );
        let config = Config::builder().max_handshake_headers(8).rng(Arc::new(SeededRng::new(3))).build().unwrap();
        let mut hs = ClientHandshake::new(ClientRequest::from_url("ws://a/").unwrap(), config).unwrap();
        let resp = response_for(&hs, &["A: 1", "B: 2", "C: 3", "D: 4", "E: 5", "F: 6"]);
        assert_eq!(
            receive_err(&mut hs, &resp),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::TooManyHeaders { max: 8 })
        );
    }

    // Hostile peers A4 mirrored (B4): one byte at a time, with the server's first frame glued
    // behind the head (A11 mirrored): the leftover is exact.
    #[test]
    fn byte_at_a_time_with_leftover() {
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        let frame = b"\x81\x05Hello"; // RFC 6455 §5.7 unmasked "Hello"
        let data = [response_for(&hs, &[]), frame.to_vec()].concat();
        let head_len = data.len() - frame.len();
        for (i, b) in data.iter().enumerate() {
            let done = hs.receive(Instant::ZERO, core::slice::from_ref(b)).unwrap().is_some();
            assert_eq!(done, i + 1 >= head_len, "byte {i}");
        }
        assert_eq!(hs.leftover(), Some(&frame[..]));
        assert!(hs.into_connection().is_ok());
    }

    // The API contract: no connection before a valid response.
    #[test]
    fn into_connection_before_response_is_incomplete() {
        let hs = client(ClientRequest::from_url("ws://a/").unwrap());
        assert_eq!(hs.into_connection().unwrap_err(), HandshakeError::ApiMisuse(ApiMisuse::Incomplete));
        let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
        assert!(hs.receive(Instant::ZERO, b"HTTP/1.1 101 Switching").unwrap().is_none());
        assert_eq!(hs.into_connection().unwrap_err(), HandshakeError::ApiMisuse(ApiMisuse::Incomplete));
    }

    #[test]
    fn malformed_response_is_malformed_http() {
        for bad in [
            &b"HTTP/1.1 10x Switching\r\n\r\n"[..],
            b"HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n",
            b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        ] {
            let mut hs = client(ClientRequest::from_url("ws://a/").unwrap());
            assert!(
                matches!(receive_err(&mut hs, bad), HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp(_))),
                "{bad:?}"
            );
        }
    }
}
