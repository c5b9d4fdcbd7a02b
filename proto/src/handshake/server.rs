//! The server side of the opening handshake (RFC 6455 §4.2): [`ServerHandshake`] reads and
//! validates a request into a [`Request`] under its deadline, then accepts it (a 101
//! response and a [`Connection`]), rejects it (any status), or — built with
//! [`ServerHandshake::with_plain_http`] — answers a plain HTTP request (a page, a 404) with
//! [`ServerHandshake::respond`]; what it sends leaves through [`Transmit`]. Head reading and list parsing are in
//! `http.rs`; the client side is in `client.rs`.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use base64::Engine as _;
use bytes::Bytes;

use super::http::{self, Progress};
use super::{accept_key, Header};
use crate::config::{Config, Role};
use crate::connection::Connection;
use crate::error::{ApiMisuse, HandshakeError, PeerMisbehaved};
use crate::time::Instant;
use crate::transmit::{Deadline, Outbox, Transmit};

/// Headers the 101 response writes itself; [`AcceptOptions::header`] may not add them again.
/// `Sec-WebSocket-Extensions` is the engine's to write: it answers permessage-deflate (with
/// the `deflate` feature) and no other extension, so announcing one would promise framing
/// it cannot do.
/// Headers a plain response ([`ServerHandshake::respond`]) writes itself: one request per
/// connection, so `Connection: close`, and the body's length.
const RESERVED_PLAIN_HEADERS: &[&str] = &["Connection", "Content-Length", "Transfer-Encoding"];

const RESERVED_RESPONSE_HEADERS: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// Key decoding for validation only: the accept hash uses the key text, so non-zero
/// trailing bits (which the `ws` regex `^[+/0-9A-Za-z]{22}==$` also lets through) are
/// harmless and accepted; padding must still be canonical.
const KEY_ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// A parsed, validated upgrade request (server side).
///
/// Everything the application needs to decide before answering is here: the path and
/// query to route on, the `Origin` to check against cross-site WebSocket hijacking
/// (RFC 6455 §10.2), the offered subprotocols and extensions, and every header.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    uri: String,
    path: Range<usize>,
    query: Option<Range<usize>>,
    headers: Vec<Header>,
    protocols: Vec<String>,
    extensions: Vec<String>,
    key: String,
    /// Why the request is not a valid upgrade (only with
    /// [`ServerHandshake::with_plain_http`]; otherwise such a request fails `receive`).
    upgrade_error: Option<HandshakeError>,
}

impl Request {
    /// The method: always `GET` for a valid upgrade; any method for a plain request
    /// (see [`ServerHandshake::with_plain_http`]).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Whether this is a valid WebSocket upgrade request (always, unless the handshake was
    /// built with [`ServerHandshake::with_plain_http`]).
    pub fn is_upgrade(&self) -> bool {
        self.upgrade_error.is_none()
    }

    /// Why this is not a valid upgrade request — the check that failed first, in the order
    /// [`ServerHandshake`] documents (`MethodNotGet`, `MissingUpgrade`, …) — or `None` for
    /// a valid one. Its [`http_status`](HandshakeError::http_status) is what
    /// [`ServerHandshake::answer_invalid`] answers.
    pub fn upgrade_error(&self) -> Option<&HandshakeError> {
        self.upgrade_error.as_ref()
    }

    /// Whether the request offered the WebSocket upgrade at all (an `Upgrade` header naming
    /// `websocket`), valid or not: a plain request to a WebSocket endpoint has none, and is
    /// answered 426 (Upgrade Required).
    pub fn wants_websocket(&self) -> bool {
        http::has_token(&self.headers, "Upgrade", "websocket")
    }

    /// The request-target exactly as sent, e.g. `/chat?room=1`.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The path without the query, e.g. `/chat`. For an absolute-form target
    /// (`GET http://host/chat`, allowed by RFC 6455 §4.2.1) it is the path part alone,
    /// and `/` when the target has none.
    pub fn path(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.uri[self.path.clone()]
        }
    }

    /// The query after `?`, without it; `None` when there is no `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.clone().map(|q| &self.uri[q])
    }

    /// The first header called `name` (ASCII case-insensitive), or `None` if absent or not
    /// UTF-8.
    ///
    /// ```
    /// use tether_proto::{Config, Instant, ServerHandshake};
    /// let mut hs = ServerHandshake::new(Config::default());
    /// let req = hs
    ///     .receive(Instant::ZERO, b"GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    ///                Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///                Sec-WebSocket-Version: 13\r\nX-Trace: abc\r\n\r\n")
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(req.header("x-trace"), Some("abc"));
    /// assert_eq!((req.path(), req.query()), ("/chat", Some("x=1")));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        http::first_str(&self.headers, name)
    }

    /// Every header, in the order received.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The `Host` header (exactly one was present).
    pub fn host(&self) -> Option<&str> {
        self.header("Host")
    }

    /// The `Origin` header, which browsers always send. Check it before accepting: a page on
    /// another site can open a WebSocket to you with the user's cookies (RFC 6455 §10.2).
    pub fn origin(&self) -> Option<&str> {
        self.header("Origin")
    }

    /// The offered subprotocols in the client's order of preference, from every
    /// `Sec-WebSocket-Protocol` header, comma-split, trimmed, empties (and non-UTF-8
    /// elements) skipped.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The offered extensions (`Sec-WebSocket-Extensions`), raw, one per element of the
    /// comma-separated list (commas inside quoted parameters do not split). The engine
    /// negotiates permessage-deflate itself (with the `deflate` feature and
    /// [`Config::deflate`](crate::Config) set); the rest are only informative.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The `Sec-WebSocket-Key` as sent (base64 of 16 bytes); empty for a plain request
    /// without a valid key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// How a server accepts a request: the chosen subprotocol and extra response headers.
///
/// ```
/// use tether_proto::AcceptOptions;
/// let options = AcceptOptions::new().protocol("chat").header("Set-Cookie", "sid=1; Secure");
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
pub struct AcceptOptions {
    protocol: Option<String>,
    headers: Vec<(String, String)>,
    config: Option<Config>,
}

impl AcceptOptions {
    /// No subprotocol, no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Choose `p` as the subprotocol. It must be one the client offered
    /// ([`Request::protocols`]), or [`ServerHandshake::accept`] fails with
    /// [`ApiMisuse::ProtocolNotOffered`] (RFC 6455 §4.2.2: the server selects one of
    /// the client's values).
    pub fn protocol(mut self, p: impl Into<String>) -> Self {
        self.protocol = Some(p.into());
        self
    }

    /// Add a header to the 101 response. The name must be an HTTP token and the value free
    /// of CR, LF and other control bytes, and the name must not be one the handshake writes
    /// itself (`Upgrade`, `Connection`, `Sec-WebSocket-*`, `Content-Length`,
    /// `Transfer-Encoding`); otherwise `accept` fails with
    /// [`ApiMisuse::InvalidHeader`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The chosen subprotocol, if any.
    pub fn chosen_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Run the accepted connection under `config` instead of the one the request was read
    /// with: an endpoint's own limits (message size, keepalive, permessage-deflate), chosen
    /// once the request has been routed. The handshake's deadline is unchanged (it was
    /// already running).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The configuration the connection will get, if set by [`config`](Self::config).
    pub fn chosen_config(&self) -> Option<&Config> {
        self.config.as_ref()
    }
}

/// The server side of the opening handshake.
///
/// Feed received bytes to [`receive`](Self::receive) until it yields the [`Request`], look
/// at it, then call [`accept`](Self::accept) (the 101 goes to the new [`Connection`]'s
/// transmit queue) or [`reject`](Self::reject). Everything the handshake itself sends — a
/// refusal, or the error response to an invalid request, which `receive` queues on its own —
/// leaves through [`Transmit`](crate::Transmit) (`poll_transmit`, `consume_transmit`), as a
/// connection's frames do; once [`should_close`](Self::should_close), write it out and
/// close the transport.
///
/// Time is an argument: the one total deadline
/// ([`Config::handshake_timeout`], which arriving bytes do not reset) counts from the first
/// instant given to [`receive`](Self::receive) or [`handle_timeout`](Self::handle_timeout),
/// and lasts until the 101 is written (the connection carries it on).
///
/// ```
/// use tether_proto::{AcceptOptions, Config, Instant, ServerHandshake};
/// let mut hs = ServerHandshake::new(Config::default());
/// let request = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let (head, tail) = request.split_at(40); // bytes may arrive in any chunks
/// assert!(hs.receive(Instant::ZERO, head).unwrap().is_none());
/// let req = hs.receive(Instant::ZERO, tail).unwrap().unwrap();
/// assert_eq!(req.origin(), Some("http://example.com"));
/// let conn = hs.accept(&AcceptOptions::new().protocol("chat")).unwrap();
/// assert_eq!(conn.protocol(), Some("chat"));
/// ```
///
/// Validation order (the first failure wins, and decides the status): HTTP syntax (400),
/// method `GET` (405), HTTP/1.1 or later (400), exactly one `Host` (400), `Upgrade`
/// (400), `Connection` (400), `Sec-WebSocket-Key` (400), then `Sec-WebSocket-Version`
/// (426). The version comes last so that 426 — which tells the client which version to use
/// — is only sent to requests that are otherwise well-formed WebSocket requests.
#[derive(Debug)]
pub struct ServerHandshake {
    config: Config,
    progress: Progress<Request>,
    deadline: Deadline,
    outbox: Outbox,
    /// A refusal or an error response is queued: the exchange is over.
    answered: bool,
    /// Requests that are not valid upgrades are handed out too ([`Self::with_plain_http`]).
    plain_http: bool,
}

impl ServerHandshake {
    /// A server handshake that reads a request under `config`'s limits
    /// ([`max_handshake_bytes`](Config::max_handshake_bytes),
    /// [`max_handshake_headers`](Config::max_handshake_headers),
    /// [`handshake_timeout`](Config::handshake_timeout)). The accepted connection gets the
    /// same `config`.
    pub fn new(config: Config) -> Self {
        let progress = Progress::new(config.max_handshake_bytes(), config.max_handshake_headers());
        let deadline = Deadline::new(config.handshake_timeout());
        ServerHandshake { config, progress, deadline, outbox: Outbox::default(), answered: false, plain_http: false }
    }

    /// A server handshake that also hands out requests that are not WebSocket upgrades —
    /// `GET /` for a page, a `POST`, a request to an unknown path — for the application to
    /// answer with [`respond`](Self::respond), under the same limits and deadline as an
    /// upgrade. Only HTTP syntax, the head's size and header count, and a repeated `Host`
    /// still fail [`receive`](Self::receive) (400 or 431, answered by the handshake); any
    /// other failed check is recorded as the request's
    /// [`upgrade_error`](Request::upgrade_error), and [`accept`](Self::accept) refuses it.
    /// The request body, if any, is not read: a plain response always closes the
    /// connection.
    ///
    /// ```
    /// use tether_proto::{Config, Instant, ServerHandshake, Transmit};
    /// let mut hs = ServerHandshake::with_plain_http(Config::default());
    /// let request = hs.receive(Instant::ZERO, b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap().unwrap();
    /// assert!(!request.is_upgrade());
    /// hs.respond(200, &[("Content-Type", "text/html")], b"<h1>hello</h1>").unwrap();
    /// let mut bytes = Vec::new();
    /// hs.drain_transmit(&mut bytes);
    /// assert!(bytes.starts_with(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"));
    /// assert!(hs.should_close());
    /// ```
    pub fn with_plain_http(config: Config) -> Self {
        ServerHandshake { plain_http: true, ..Self::new(config) }
    }

    /// Feed bytes received at `now`, in any chunking (one byte at a time works, in linear
    /// total time).
    ///
    /// `Ok(None)`: the head is not complete, feed more. `Ok(Some(request))`: the request
    /// is complete and valid; bytes after the head (the client's first frames) are kept for
    /// the connection, and so are bytes fed after this point.
    ///
    /// # Errors
    /// [`HandshakeError::PeerMisbehaved`] for a request over a limit or invalid: its error
    /// response (400, 405, 426 or 431) is queued for the transport; write it out and close.
    /// [`HandshakeError::Timeout`] once the deadline has passed (nothing is queued). After an
    /// error, every call returns the same error.
    pub fn receive(&mut self, now: Instant, data: &[u8]) -> Result<Option<&Request>, HandshakeError> {
        self.handle_timeout(now);
        let plain = self.plain_http;
        match self.progress.receive(data, |head, lines| parse_request(head, lines, plain)) {
            Ok(Some(_)) => Ok(self.progress.head()),
            Ok(None) => Ok(None),
            Err(e) => {
                self.answer_error(&e);
                Err(e)
            }
        }
    }

    /// Let the deadline fire: once it has passed before the request was answered, the
    /// handshake fails with [`HandshakeError::Timeout`] (and
    /// [`should_close`](Self::should_close) says so). Harmless at any other time.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_expired(now) && !self.answered {
            self.progress.fail(HandshakeError::Timeout { after: self.deadline.timeout() });
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called: the deadline,
    /// until the request is answered or has failed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.answered || self.progress.error().is_some() {
            None
        } else {
            self.deadline.at()
        }
    }

    /// The request, once [`receive`](Self::receive) has returned it.
    pub fn request(&self) -> Option<&Request> {
        self.progress.head()
    }

    /// Why the handshake failed, if it has.
    pub fn error(&self) -> Option<&HandshakeError> {
        self.progress.error()
    }

    /// Whether the exchange is over without a connection — the request failed, timed out or
    /// was [`reject`](Self::reject)ed: write out what is queued, then close the transport.
    pub fn should_close(&self) -> bool {
        self.answered || self.progress.error().is_some()
    }

    /// Accept the request: queue the 101 response (with `Sec-WebSocket-Accept`, the chosen
    /// subprotocol and the extra headers) on a new server [`Connection`], ahead of any
    /// frame and bounded by the handshake deadline; hand it the bytes that followed the
    /// request, and record the subprotocol.
    ///
    /// # Errors
    /// - the `receive` error if the request failed, [`HandshakeError::Timeout`] after the
    ///   deadline, [`ApiMisuse::Incomplete`] before a complete request,
    ///   [`ApiMisuse::AlreadyAnswered`] after [`reject`](Self::reject);
    /// - the request's [`upgrade_error`](Request::upgrade_error) for a plain request (see
    ///   [`answer_invalid`](Self::answer_invalid) to answer it first);
    /// - [`ApiMisuse::ProtocolNotOffered`] if the chosen subprotocol was not offered;
    /// - [`ApiMisuse::InvalidHeader`] for an extra header that cannot be sent.
    pub fn accept(self, options: &AcceptOptions) -> Result<Connection, HandshakeError> {
        self.into_connection(options, true).map(|(_, conn)| conn)
    }

    /// `accept`'s work: the 101 response bytes and the connection, which carries the
    /// response in its transmit queue when `queue_response` (the raw path) and not otherwise
    /// (an HTTP server writes the response itself, see the `http` feature).
    pub(crate) fn into_connection(
        self,
        options: &AcceptOptions,
        queue_response: bool,
    ) -> Result<(Vec<u8>, Connection), HandshakeError> {
        if self.answered && self.progress.error().is_none() {
            return Err(ApiMisuse::AlreadyAnswered.into());
        }
        if let Some(e) = self.request().and_then(Request::upgrade_error) {
            return Err(e.clone());
        }
        let response = self.response_bytes(options)?;
        let ServerHandshake { config, progress, deadline, .. } = self;
        let config = options.config.clone().unwrap_or(config);
        let (_request, leftover) = progress.into_complete()?;
        #[cfg(feature = "deflate")]
        let deflate = config
            .deflate
            .as_ref()
            .and_then(|d| negotiate_deflate(d, &_request).map(|(params, _)| (params, d.clone())));
        let mut conn = Connection::new(Role::Server, config);
        #[cfg(feature = "deflate")]
        if let Some((params, d)) = deflate {
            conn.set_deflate(params, &d);
        }
        if queue_response {
            conn.queue_handshake_response(&response, deadline.at());
        }
        if !leftover.is_empty() {
            conn.push_leftover(&leftover);
        }
        conn.set_protocol(options.protocol.clone());
        Ok((response, conn))
    }

    /// A handshake whose request was read and validated elsewhere (by an HTTP server):
    /// complete, nothing left over, nothing queued.
    #[cfg(feature = "http")]
    pub(crate) fn from_request(config: Config, request: Request) -> Self {
        let mut hs = Self::new(config);
        hs.progress = Progress::Complete { head: request, leftover: Vec::new() };
        hs
    }

    /// The 101 response `accept` would queue, after checking `options`.
    pub(crate) fn response_bytes(&self, options: &AcceptOptions) -> Result<Vec<u8>, HandshakeError> {
        let request = match &self.progress {
            Progress::Complete { head, .. } => head,
            Progress::Failed(e) => return Err(e.clone()),
            Progress::Reading(_) => return Err(ApiMisuse::Incomplete.into()),
        };
        if let Some(p) = &options.protocol {
            if !request.protocols.iter().any(|o| o == p) {
                return Err(ApiMisuse::ProtocolNotOffered(p.clone()).into());
            }
            // Offered values came through httparse, so they cannot break the head, but
            // RFC 6455 §4.1 wants a token; refuse to echo anything else.
            if !http::is_token(p.as_bytes()) {
                return Err(ApiMisuse::InvalidHeader(String::from("Sec-WebSocket-Protocol")).into());
            }
        }
        for (name, value) in &options.headers {
            http::check_extra_header(name, value, RESERVED_RESPONSE_HEADERS)?;
        }
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        http::write_header(&mut out, "Upgrade", b"websocket");
        http::write_header(&mut out, "Connection", b"Upgrade");
        http::write_header(&mut out, "Sec-WebSocket-Accept", accept_key(request.key.as_bytes()).as_bytes());
        if let Some(p) = &options.protocol {
            http::write_header(&mut out, "Sec-WebSocket-Protocol", p.as_bytes());
        }
        #[cfg(feature = "deflate")]
        if let Some((_, answer)) =
            options.config.as_ref().unwrap_or(&self.config).deflate.as_ref().and_then(|d| negotiate_deflate(d, request))
        {
            http::write_header(&mut out, "Sec-WebSocket-Extensions", answer.as_bytes());
        }
        for (name, value) in &options.headers {
            http::write_header(&mut out, name, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }

    /// Bytes received after the head (test accessor, independent of the connection type).
    #[cfg(test)]
    pub(crate) fn leftover(&self) -> Option<&[u8]> {
        self.progress.leftover()
    }

    #[cfg(test)]
    pub(crate) fn scanned(&self) -> Option<usize> {
        self.progress.reader().map(|r| r.scanned)
    }

    /// Refuse the upgrade: queue a complete HTTP/1.1 response with `status` (e.g. 403 after
    /// an [`origin`](Request::origin) check), `Content-Length`, `Connection: close`, then
    /// `body`. Write it out, then close the transport. Only the first answer counts: after
    /// an error response or an earlier refusal this queues nothing.
    ///
    /// A status outside 100–999 cannot be written on a status line and is sent as 500.
    ///
    /// ```
    /// use tether_proto::{Config, ServerHandshake, Transmit};
    /// let mut hs = ServerHandshake::new(Config::default());
    /// hs.reject(403, b"forbidden origin");
    /// let mut bytes = Vec::new();
    /// hs.drain_transmit(&mut bytes);
    /// assert!(bytes.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    /// assert!(bytes.ends_with(b"\r\n\r\nforbidden origin"));
    /// assert!(hs.should_close());
    /// ```
    pub fn reject(&mut self, status: u16, body: &[u8]) {
        if !self.should_close() {
            self.outbox.push(&build_response(status, &[], b"close", body));
            self.answered = true;
        }
    }

    /// Answer the request with a complete HTTP/1.1 response — `status`, the application's
    /// `headers` (e.g. `Content-Type`), `Content-Length`, `Connection: close` (`Upgrade,
    /// close` when `headers` name an `Upgrade`, as a 426 must) and `body` (left out, its
    /// length kept, for a `HEAD` request) — then write it out and close the transport. For
    /// plain requests ([`with_plain_http`](Self::with_plain_http)) and refusals alike; only
    /// the first answer counts, as with [`reject`](Self::reject).
    ///
    /// A status outside 100–999 is sent as 500.
    ///
    /// # Errors
    /// [`ApiMisuse::InvalidHeader`] for a header whose name is not a token, whose value holds
    /// CR, LF or another control byte, or that the response writes itself (`Connection`,
    /// `Content-Length`, `Transfer-Encoding`); nothing is queued then.
    pub fn respond(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<(), HandshakeError> {
        for (name, value) in headers {
            http::check_extra_header(name, value, RESERVED_PLAIN_HEADERS)?;
        }
        if self.should_close() {
            return Ok(());
        }
        let extra: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        let upgrade = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("Upgrade"));
        let connection: &[u8] = if upgrade { b"Upgrade, close" } else { b"close" };
        let head_only = self.request().is_some_and(|r| r.method == "HEAD");
        let mut response = build_response(status, &extra, connection, body);
        if head_only {
            response.truncate(response.len() - body.len());
        }
        self.outbox.push(&response);
        self.answered = true;
        Ok(())
    }

    /// Answer a request that is not a valid upgrade as a strict handshake would have: its
    /// [`upgrade_error`](Request::upgrade_error)'s status (400, 405 with `Allow: GET`, 426
    /// with `Upgrade: websocket` and `Sec-WebSocket-Version: 13`) and an empty body. Nothing
    /// for a valid upgrade or once answered.
    pub fn answer_invalid(&mut self) {
        if let Some(e) = self.request().and_then(Request::upgrade_error).cloned() {
            self.answer_error(&e);
        }
    }

    /// Queue the response for a failed request: [`HandshakeError::http_status`] (400, 405,
    /// 426 or 431), with `Sec-WebSocket-Version: 13` and `Upgrade: websocket` on 426
    /// (RFC 6455 §4.4, RFC 9110 §15.5.22) and `Allow: GET` on 405 (RFC 9110 §15.5.6),
    /// `Connection: close` (`Upgrade, close` on 426) and an empty body. Nothing for errors
    /// that are not about a received request.
    fn answer_error(&mut self, err: &HandshakeError) {
        if self.answered {
            return;
        }
        if let Some(response) = error_response_bytes(err) {
            self.outbox.push(&response);
            self.answered = true;
        }
    }
}

/// The complete response to a failed request (see `answer_error`), or `None` for errors
/// that are not about a received request. Shared by the raw path and the `http` interop.
pub(crate) fn error_response_bytes(err: &HandshakeError) -> Option<Vec<u8>> {
    let status = err.http_status()?;
    let extra: &[(&str, &[u8])] = match status {
        // RFC 9110 §15.5.22: a 426 MUST name the protocol to upgrade to, and §7.8: a
        // sender of Upgrade MUST list `upgrade` in Connection.
        426 => &[("Upgrade", b"websocket"), ("Sec-WebSocket-Version", b"13")],
        405 if matches!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::MethodNotConnect)) => {
            &[("Allow", b"CONNECT")]
        }
        405 => &[("Allow", b"GET")],
        _ => &[],
    };
    let connection: &[u8] = if status == 426 { b"Upgrade, close" } else { b"close" };
    Some(build_response(status, extra, connection, b""))
}

impl Transmit for ServerHandshake {
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

/// The first permessage-deflate offer of `request` this server can honour, and its answer.
#[cfg(feature = "deflate")]
fn negotiate_deflate(
    config: &crate::deflate::DeflateConfig,
    request: &Request,
) -> Option<(crate::deflate::DeflateParams, String)> {
    crate::deflate::server_accept(config, request.extensions.iter().map(|e| e.as_bytes()))
}

/// A non-101 response that ends the exchange.
fn build_response(status: u16, extra: &[(&str, &[u8])], connection: &[u8], body: &[u8]) -> Vec<u8> {
    let status = if (100..=999).contains(&status) { status } else { 500 };
    let mut out = Vec::with_capacity(96 + body.len());
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", http::reason_phrase(status)).as_bytes());
    for (name, value) in extra {
        http::write_header(&mut out, name, value);
    }
    http::write_header(&mut out, "Connection", connection);
    http::write_header(&mut out, "Content-Length", format!("{}", body.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Parses and validates a complete request head (see [`ServerHandshake`] for the order).
/// With `plain`, only HTTP syntax and a repeated `Host` fail; the first other failed check
/// becomes the request's `upgrade_error`.
fn parse_request(head: Bytes, header_lines: usize, plain: bool) -> Result<Request, HandshakeError> {
    let mut slots = vec![httparse::EMPTY_HEADER; header_lines];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp("incomplete HTTP head"))),
        Err(e) => return Err(http::malformed(e)),
    }
    let method = parsed.method.unwrap_or_default();
    let uri = String::from(parsed.path.unwrap_or_default());
    let headers = http::own_headers(&head, parsed.headers);
    build_request(method, uri, parsed.version, headers, plain)
}

/// Validates a request's method, HTTP minor version (`Some(1)` for HTTP/1.1), target and
/// headers into a [`Request`] — the checks after HTTP syntax, shared by the raw path and
/// the `http` interop. With `plain`, only a repeated `Host` fails; the first other failed
/// check becomes the request's `upgrade_error`.
pub(crate) fn build_request(
    method: &str,
    uri: String,
    version: Option<u8>,
    headers: Vec<Header>,
    plain: bool,
) -> Result<Request, HandshakeError> {
    if plain && http::values(&headers, "Host").count() > 1 {
        // Two hosts make the request ambiguous whatever it asks for.
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::DuplicateHeader("Host")));
    }
    let (key, upgrade_error) = match check_upgrade(method, version, &headers) {
        Ok(key) => (key, None),
        Err(e) if plain => (String::new(), Some(e)),
        Err(e) => return Err(e),
    };
    Ok(assemble_request(method, uri, headers, key, upgrade_error))
}

/// A checked request's view: offered subprotocols and extensions, path and query.
pub(crate) fn assemble_request(
    method: &str,
    uri: String,
    headers: Vec<Header>,
    key: String,
    upgrade_error: Option<HandshakeError>,
) -> Request {
    let protocols = http::values(&headers, "Sec-WebSocket-Protocol")
        .flat_map(http::list_elements)
        .filter_map(|p| core::str::from_utf8(p).ok().map(String::from))
        .collect();
    let extensions = http::values(&headers, "Sec-WebSocket-Extensions")
        .flat_map(http::split_top_level)
        .filter_map(|e| core::str::from_utf8(e).ok().map(String::from))
        .collect();
    let (path, query) = split_target(&uri);
    Request { method: String::from(method), uri, path, query, headers, protocols, extensions, key, upgrade_error }
}

/// The upgrade checks after HTTP syntax, in the documented order; the key when they pass.
fn check_upgrade(method: &str, version: Option<u8>, headers: &[Header]) -> Result<String, HandshakeError> {
    if method != "GET" {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MethodNotGet));
    }
    if version != Some(1) {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::HttpVersionTooOld));
    }
    match http::values(headers, "Host").count() {
        0 => return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp("missing Host header"))),
        1 => {}
        _ => return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::DuplicateHeader("Host"))),
    }
    if !http::has_token(headers, "Upgrade", "websocket") {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade));
    }
    if !http::has_token(headers, "Connection", "upgrade") {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingConnectionUpgrade));
    }
    let key = check_key(headers)?;
    // Every element of every Sec-WebSocket-Version header must be 13, and there must be one.
    let version_ok = {
        let mut versions = http::values(headers, "Sec-WebSocket-Version").flat_map(http::list_elements).peekable();
        versions.peek().is_some() && versions.all(|v| v == b"13")
    };
    if !version_ok {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::UnsupportedVersion));
    }
    Ok(key)
}

/// The one `Sec-WebSocket-Key`, which must be base64 of 16 bytes (RFC 6455 §4.2.1 item 5).
fn check_key(headers: &[Header]) -> Result<String, HandshakeError> {
    let mut keys = http::values(headers, "Sec-WebSocket-Key");
    let key = match (keys.next(), keys.next()) {
        (None, _) => return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingKey)),
        (Some(_), Some(_)) => {
            return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::DuplicateHeader("Sec-WebSocket-Key")))
        }
        (Some(k), None) => http::trim_ows(k),
    };
    // 24 characters is the only length that can decode to 16 bytes; checking it first keeps
    // an 8 KiB junk key from being decoded at all.
    if key.len() != 24 || KEY_ENGINE.decode(key).map(|k| k.len()) != Ok(16) {
        return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::InvalidKey));
    }
    core::str::from_utf8(key).map(String::from).map_err(|_| HandshakeError::PeerMisbehaved(PeerMisbehaved::InvalidKey))
}

/// Path and query ranges of a request-target: origin-form `/p?q`, or absolute-form
/// `scheme://authority/p?q` (whose path starts after the authority).
fn split_target(uri: &str) -> (Range<usize>, Option<Range<usize>>) {
    let path_start = match uri.find("://") {
        Some(i) if !uri.starts_with('/') => {
            let after = i + 3;
            uri[after..].find(['/', '?']).map_or(uri.len(), |j| after + j)
        }
        _ => 0,
    };
    match uri[path_start..].find('?') {
        Some(q) => (path_start..path_start + q, Some(path_start + q + 1..uri.len())),
        None => (path_start..uri.len(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response queued for a failed request, if any.
    fn error_response(err: &HandshakeError) -> Option<Vec<u8>> {
        let mut hs = server();
        hs.answer_error(err);
        let out = request_of(&mut hs);
        (!out.is_empty()).then_some(out)
    }

    /// The refusal `reject` queues.
    fn rejected(mut hs: ServerHandshake, status: u16, body: &[u8]) -> Vec<u8> {
        hs.reject(status, body);
        assert!(hs.should_close());
        request_of(&mut hs)
    }

    /// Everything a handshake has queued for the transport.
    fn request_of(hs: &mut impl Transmit) -> Vec<u8> {
        let mut out = Vec::new();
        hs.drain_transmit(&mut out);
        out
    }

    const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

    /// A valid request with `lines` replaced/added: each entry is a full header line, or
    /// `-Name` to drop every line starting with `Name:`.
    fn request_with(edits: &[&str]) -> Vec<u8> {
        let text = core::str::from_utf8(RFC_REQUEST).unwrap();
        let mut lines: Vec<String> = text.trim_end().split("\r\n").map(String::from).collect();
        for e in edits {
            if let Some(name) = e.strip_prefix('-') {
                let prefix = format!("{}:", name.to_ascii_lowercase());
                lines.retain(|l| !l.to_ascii_lowercase().starts_with(&prefix));
            } else {
                lines.push(String::from(*e));
            }
        }
        let mut out = lines.join("\r\n").into_bytes();
        out.extend_from_slice(b"\r\n\r\n");
        out
    }

    fn server() -> ServerHandshake {
        ServerHandshake::new(Config::default())
    }

    fn receive_err(bytes: &[u8]) -> HandshakeError {
        let mut hs = server();
        hs.receive(Instant::ZERO, bytes).map(|r| r.is_some()).expect_err("request should be rejected")
    }

    fn status_line(resp: &[u8]) -> &[u8] {
        &resp[..resp.iter().position(|&b| b == b'\r').unwrap()]
    }

    fn parse_response(bytes: &[u8]) -> (u16, Vec<(String, Vec<u8>)>, usize) {
        let mut slots = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Response::new(&mut slots);
        let n = match r.parse(bytes).unwrap() {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => panic!("incomplete response"),
        };
        let headers = r.headers.iter().map(|h| (String::from(h.name), h.value.to_vec())).collect();
        (r.code.unwrap(), headers, n)
    }

    fn header_of<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &v[..])
    }

    // RFC 6455 §1.2 / §4.2.1: the RFC's sample request is accepted and exposed.
    #[test]
    fn rfc_sample_request_is_parsed() {
        let mut hs = server();
        let req = hs.receive(Instant::ZERO, RFC_REQUEST).unwrap().unwrap();
        assert_eq!(req.method(), "GET");
        assert_eq!(req.uri(), "/chat");
        assert_eq!(req.path(), "/chat");
        assert_eq!(req.query(), None);
        assert_eq!(req.host(), Some("server.example.com"));
        assert_eq!(req.origin(), Some("http://example.com"));
        assert_eq!(req.protocols(), ["chat", "superchat"]);
        assert!(req.extensions().is_empty());
        assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(req.headers().len(), 7);
        assert_eq!(req.headers()[0].name, "Host");
        assert_eq!(req.header("SEC-WEBSOCKET-VERSION"), Some("13"));
        assert!(hs.request().is_some());
    }

    // RFC 6455 §1.3 / §4.2.2: the 101 response with the RFC's accept value.
    #[test]
    fn accept_builds_the_rfc_response() {
        let mut hs = server();
        hs.receive(Instant::ZERO, RFC_REQUEST).unwrap();
        let bytes = hs.response_bytes(&AcceptOptions::new().protocol("chat")).unwrap();
        assert_eq!(
            bytes,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        );
        let no_protocol = hs.response_bytes(&AcceptOptions::new().header("X-Id", "7")).unwrap();
        let (status, headers, n) = parse_response(&no_protocol);
        assert_eq!((status, n), (101, no_protocol.len()));
        assert_eq!(header_of(&headers, "sec-websocket-protocol"), None);
        assert_eq!(header_of(&headers, "x-id"), Some(&b"7"[..]));
    }

    // RFC 6455 §4.2.2: the server's subprotocol must be one the client offered.
    #[test]
    fn accept_rejects_unoffered_protocol() {
        let mut hs = server();
        hs.receive(Instant::ZERO, RFC_REQUEST).unwrap();
        assert_eq!(
            hs.response_bytes(&AcceptOptions::new().protocol("mqtt")),
            Err(HandshakeError::ApiMisuse(ApiMisuse::ProtocolNotOffered(String::from("mqtt"))))
        );
        // Case matters: subprotocol names are compared exactly.
        assert!(hs.response_bytes(&AcceptOptions::new().protocol("Chat")).is_err());
        let mut hs = server();
        hs.receive(Instant::ZERO, &request_with(&["-Sec-WebSocket-Protocol"])).unwrap();
        assert_eq!(
            hs.accept(&AcceptOptions::new().protocol("chat")).unwrap_err(),
            HandshakeError::ApiMisuse(ApiMisuse::ProtocolNotOffered(String::from("chat")))
        );
    }

    // Hostile peers I (see the manual: local misuse must not reach the wire) / B5 on the
    // server side: extra response headers are validated and may not duplicate the
    // handshake's own.
    #[test]
    fn accept_rejects_invalid_extra_headers() {
        for (name, value) in [
            ("X-A", "1\r\nSet-Cookie: evil=1"),
            ("X-A", "nul\0"),
            ("X A", "1"),
            ("X-A\r\n", "1"),
            ("sec-websocket-accept", "forged"),
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
            ("Content-Length", "0"),
        ] {
            let mut hs = server();
            hs.receive(Instant::ZERO, RFC_REQUEST).unwrap();
            assert_eq!(
                hs.accept(&AcceptOptions::new().header(name, value)).unwrap_err(),
                HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from(name)))
            );
        }
    }

    // The API contract: accept before a complete request is Incomplete; after a failure it
    // repeats the failure.
    #[test]
    fn accept_before_request_is_incomplete() {
        let mut hs = server();
        assert_eq!(hs.receive(Instant::ZERO, &RFC_REQUEST[..10]).unwrap().map(|_| ()), None);
        assert_eq!(hs.accept(&AcceptOptions::new()).unwrap_err(), HandshakeError::ApiMisuse(ApiMisuse::Incomplete));
        let mut hs = server();
        let _ = hs.receive(Instant::ZERO, b"POST / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            hs.accept(&AcceptOptions::new()).unwrap_err(),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MethodNotGet)
        );
    }

    // The API contract: errors are sticky.
    #[test]
    fn errors_are_sticky() {
        let mut hs = server();
        let err = hs.receive(Instant::ZERO, b"PUT / HTTP/1.1\r\n\r\n").unwrap_err();
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::MethodNotGet));
        assert_eq!(hs.receive(Instant::ZERO, RFC_REQUEST).unwrap_err(), err);
        assert!(hs.request().is_none());
    }

    // RFC 6455 §4.2.1 item 1 / hostile peers A7: only GET, answered with 405 + Allow.
    #[test]
    fn non_get_is_405() {
        let req = [b"POST".as_slice(), &RFC_REQUEST[3..]].concat();
        let err = receive_err(&req);
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::MethodNotGet));
        let resp = error_response(&err).unwrap();
        let (status, headers, _) = parse_response(&resp);
        assert_eq!(status, 405);
        assert_eq!(header_of(&headers, "allow"), Some(&b"GET"[..]));
        // Methods are case-sensitive (RFC 9110 §9.1).
        assert_eq!(
            receive_err(&[b"get".as_slice(), &RFC_REQUEST[3..]].concat()),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MethodNotGet)
        );
    }

    // RFC 6455 §4.2.1 item 1 / hostile peers A7: HTTP/1.0 is refused with 400.
    #[test]
    fn http_1_0_is_refused() {
        let text = core::str::from_utf8(RFC_REQUEST).unwrap().replacen("HTTP/1.1", "HTTP/1.0", 1);
        let err = receive_err(text.as_bytes());
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::HttpVersionTooOld));
        assert_eq!(err.http_status(), Some(400));
        let text = core::str::from_utf8(RFC_REQUEST).unwrap().replacen("HTTP/1.1", "HTTP/2.0", 1);
        assert_eq!(
            receive_err(text.as_bytes()),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp("invalid HTTP version"))
        );
    }

    // RFC 6455 §4.2.1 item 3 / hostile peers A7: Upgrade must name websocket (any case,
    // anywhere in the token list).
    #[test]
    fn upgrade_header_rules() {
        assert_eq!(
            receive_err(&request_with(&["-Upgrade"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade)
        );
        assert_eq!(
            receive_err(&request_with(&["-Upgrade", "Upgrade: h2c"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade)
        );
        assert_eq!(
            receive_err(&request_with(&["-Upgrade", "Upgrade: websockets"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade)
        );
        for ok in ["Upgrade: WebSocket", "Upgrade: WEBSOCKET", "Upgrade: h2c, websocket"] {
            assert!(server().receive(Instant::ZERO, &request_with(&["-Upgrade", ok])).unwrap().is_some(), "{ok}");
        }
        assert!(server()
            .receive(Instant::ZERO, &request_with(&["-Upgrade", "Upgrade: h2c", "upgrade: websocket"]))
            .unwrap()
            .is_some());
    }

    // RFC 6455 §4.2.1 item 4 / hostile peers A7: Connection is a token list across repeated
    // headers; `keep-alive, Upgrade` (Firefox) is accepted; a substring is not a token.
    #[test]
    fn connection_header_rules() {
        assert_eq!(
            receive_err(&request_with(&["-Connection"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingConnectionUpgrade)
        );
        assert_eq!(
            receive_err(&request_with(&["-Connection", "Connection: keep-alive"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingConnectionUpgrade)
        );
        assert_eq!(
            receive_err(&request_with(&["-Connection", "Connection: upgraded"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingConnectionUpgrade)
        );
        for edits in [
            &["-Connection", "Connection: keep-alive, Upgrade"][..],
            &["-Connection", "Connection: UPGRADE"],
            &["-Connection", "Connection: keep-alive", "connection: upgrade"],
            &["-Connection", "Connection: ,, upgrade ,"],
        ] {
            assert!(server().receive(Instant::ZERO, &request_with(edits)).unwrap().is_some(), "{edits:?}");
        }
    }

    // RFC 6455 §4.2.1 item 5 / hostile peers A6: the key is base64 of exactly 16 bytes.
    #[test]
    fn key_rules() {
        assert_eq!(
            receive_err(&request_with(&["-Sec-WebSocket-Key"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingKey)
        );
        for bad in [
            "Sec-WebSocket-Key: not base64!!",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ",   // unpadded
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j",     // 15 bytes
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZXM=", // 17 bytes
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j ZQ==",
            "Sec-WebSocket-Key: ",
        ] {
            assert_eq!(
                receive_err(&request_with(&["-Sec-WebSocket-Key", bad])),
                HandshakeError::PeerMisbehaved(PeerMisbehaved::InvalidKey),
                "{bad}"
            );
        }
        // Non-zero trailing bits decode to 16 bytes too (the ws regex accepts them).
        assert!(server()
            .receive(
                Instant::ZERO,
                &request_with(&["-Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB=="])
            )
            .unwrap()
            .is_some());
        let err = receive_err(&request_with(&["-Sec-WebSocket-Key", "Sec-WebSocket-Key: x"]));
        assert_eq!(error_response(&err).map(|r| status_line(&r).to_vec()), Some(b"HTTP/1.1 400 Bad Request".to_vec()));
    }

    // Hostile peers A8: a duplicate key or Host is ambiguous: 400. A missing Host too
    // (RFC 6455 §4.2.1 item 2).
    #[test]
    fn duplicate_key_or_host_is_400() {
        let err = receive_err(&request_with(&["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]));
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::DuplicateHeader("Sec-WebSocket-Key")));
        assert_eq!(err.http_status(), Some(400));
        let err = receive_err(&request_with(&["host: other.example"]));
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::DuplicateHeader("Host")));
        assert_eq!(err.http_status(), Some(400));
        let err = receive_err(&request_with(&["-Host"]));
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp("missing Host header")));
    }

    // RFC 6455 §4.2.2, §4.4 / hostile peers A5: version 8 or missing → 426 naming 13.
    #[test]
    fn version_rules_and_426() {
        for edits in [
            &["-Sec-WebSocket-Version"][..],
            &["-Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"],
            &["-Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8"],
            &["-Sec-WebSocket-Version", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"],
            &["-Sec-WebSocket-Version", "Sec-WebSocket-Version: "],
        ] {
            let err = receive_err(&request_with(edits));
            assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::UnsupportedVersion), "{edits:?}");
            let resp = error_response(&err).unwrap();
            let (status, headers, n) = parse_response(&resp);
            assert_eq!((status, n), (426, resp.len()));
            assert_eq!(header_of(&headers, "sec-websocket-version"), Some(&b"13"[..]));
            assert_eq!(header_of(&headers, "upgrade"), Some(&b"websocket"[..]));
            assert_eq!(header_of(&headers, "connection"), Some(&b"Upgrade, close"[..]));
            assert_eq!(header_of(&headers, "content-length"), Some(&b"0"[..]));
        }
    }

    // The documented check order: HTTP basics first, the version last.
    #[test]
    fn check_order_is_as_documented() {
        let all_bad = [b"POST".as_slice(), &request_with(&["-Upgrade", "-Sec-WebSocket-Version"])[3..]].concat();
        assert_eq!(receive_err(&all_bad), HandshakeError::PeerMisbehaved(PeerMisbehaved::MethodNotGet));
        assert_eq!(
            receive_err(&request_with(&["-Upgrade", "-Sec-WebSocket-Version"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade)
        );
        assert_eq!(
            receive_err(&request_with(&["-Connection", "-Sec-WebSocket-Key"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingConnectionUpgrade)
        );
        assert_eq!(
            receive_err(&request_with(&["-Sec-WebSocket-Key", "-Sec-WebSocket-Version"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingKey)
        );
        assert_eq!(
            receive_err(&request_with(&["Host: b", "-Upgrade"])),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::DuplicateHeader("Host"))
        );
    }

    // RFC 9112 §2: malformed heads are 400 without reaching WebSocket checks.
    #[test]
    fn malformed_http_is_400() {
        for bad in [
            &b"GET /chat HTTP/1.1\r\nHost a\r\n\r\n"[..],
            b"GET  /chat HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /chat HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
            b"GET /chat HTTP/1.1\r\n Host: a\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", // TLS on a plain port
        ] {
            let err = receive_err(bad);
            assert!(matches!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp(_))), "{err:?}");
            assert_eq!(err.http_status(), Some(400));
        }
    }

    // RFC 6455 §4.2.1: query and absolute-form targets.
    #[test]
    fn path_and_query() {
        let text = core::str::from_utf8(RFC_REQUEST).unwrap();
        for (target, path, query) in [
            ("/chat?room=1&x", "/chat", Some("room=1&x")),
            ("/?", "/", Some("")),
            ("/a/b", "/a/b", None),
            ("http://server.example.com/chat?x=1", "/chat", Some("x=1")),
            ("http://server.example.com", "/", None),
            ("https://server.example.com?q", "/", Some("q")),
        ] {
            let req_text = text.replacen("/chat", target, 1);
            let mut hs = server();
            let req = hs.receive(Instant::ZERO, req_text.as_bytes()).unwrap().unwrap();
            assert_eq!((req.uri(), req.path(), req.query()), (target, path, query));
        }
    }

    // RFC 6455 §4.2.1 item 8 / §11.3.4: offered subprotocols across headers, in order.
    #[test]
    fn protocols_are_collected_in_order() {
        let mut hs = server();
        let req = hs
            .receive(
                Instant::ZERO,
                &request_with(&[
                    "-Sec-WebSocket-Protocol",
                    "Sec-WebSocket-Protocol:  a ,, b\t",
                    "Sec-WebSocket-Protocol: ",
                    "sec-websocket-protocol: c,",
                ]),
            )
            .unwrap()
            .unwrap();
        assert_eq!(req.protocols(), ["a", "b", "c"]);
    }

    // Hostile peers A9 / CVE-2021-32640: pathological lists parse in linear time (the caps are
    // raised so the input gets through; a quadratic parser would not finish).
    #[test]
    fn pathological_lists_parse_linearly() {
        let config = Config::builder().max_handshake_bytes(1 << 20).build().unwrap();
        let spaces = format!("Sec-WebSocket-Protocol: b{}x", " ".repeat(100_000));
        let commas = format!("Sec-WebSocket-Protocol: a{}", ",".repeat(10_000));
        let ext = format!("Sec-WebSocket-Extensions: e{}", ",".repeat(10_000));
        let conn = format!("Connection: keep-alive{}upgrade", ", ".repeat(10_000));
        let mut hs = ServerHandshake::new(config);
        let req = hs
            .receive(
                Instant::ZERO,
                &request_with(&["-Sec-WebSocket-Protocol", "-Connection", &spaces, &commas, &ext, &conn]),
            )
            .unwrap()
            .unwrap();
        assert_eq!(req.protocols().len(), 2);
        assert_eq!(req.protocols()[1], "a");
        assert_eq!(req.extensions(), ["e"]);
        // Only an offered protocol may be chosen; the space-laden one is not a token.
        assert!(hs.response_bytes(&AcceptOptions::new().protocol("a")).is_ok());
        assert_eq!(
            hs.response_bytes(&AcceptOptions::new().protocol("b")),
            Err(HandshakeError::ApiMisuse(ApiMisuse::ProtocolNotOffered(String::from("b"))))
        );
        let weird = String::from(req_protocol(&hs, 0));
        assert_eq!(
            hs.response_bytes(&AcceptOptions::new().protocol(weird)),
            Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from("Sec-WebSocket-Protocol"))))
        );
        // With the default 8 KiB cap the same request is simply too large.
        let err = receive_err(&request_with(&[&spaces]));
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::HeadTooLarge { max: 8192 }));
    }

    fn req_protocol(hs: &ServerHandshake, i: usize) -> &str {
        &hs.request().unwrap().protocols()[i]
    }

    // Hostile peers A10 / RFC 7692 §5: hostile extension offers are exposed raw, never
    // crash, and are never echoed (the engine negotiates no extension).
    #[test]
    fn hostile_extension_offers_are_declined() {
        let mut hs = server();
        let req = hs
            .receive(Instant::ZERO, &request_with(&[
                "Sec-WebSocket-Extensions: constructor",
                "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99, permessage-deflate; client_max_window_bits; client_max_window_bits",
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=junk\"",
                "Sec-WebSocket-Extensions: x; q=\"a,b\"",
            ]))
            .unwrap()
            .unwrap();
        assert_eq!(
            req.extensions(),
            [
                "constructor",
                "permessage-deflate; server_max_window_bits=99",
                "permessage-deflate; client_max_window_bits; client_max_window_bits",
                "permessage-deflate; client_max_window_bits=junk\"",
                "x; q=\"a,b\"",
            ]
        );
        let bytes = hs.response_bytes(&AcceptOptions::new()).unwrap();
        let (status, headers, _) = parse_response(&bytes);
        assert_eq!(status, 101);
        assert_eq!(header_of(&headers, "sec-websocket-extensions"), None);
        // Control bytes in the offer are not HTTP at all: 400.
        let err =
            receive_err(&request_with(&["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\x01"]));
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp("invalid header value")));
    }

    // Hostile peers A2 / CVE-2023-43669: a 1 MiB header without a terminator fails with 431
    // as soon as the 8 KiB cap is passed, having scanned no more than the cap.
    #[test]
    fn one_mib_header_is_431_at_the_cap() {
        let mut data = b"GET / HTTP/1.1\r\nX: ".to_vec();
        data.resize(1 << 20, b'a');
        // In one slice.
        let mut hs = server();
        let err = hs.receive(Instant::ZERO, &data).unwrap_err();
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::HeadTooLarge { max: 8192 }));
        let resp = error_response(&err).unwrap();
        assert_eq!(status_line(&resp), b"HTTP/1.1 431 Request Header Fields Too Large");
        // In 1 KiB reads: fails on the ninth read, and later reads cost nothing.
        let mut hs = server();
        let mut reads = 0;
        for chunk in data.chunks(1024) {
            reads += 1;
            if hs.receive(Instant::ZERO, chunk).is_err() {
                break;
            }
            assert_eq!(hs.scanned(), Some(reads * 1024));
        }
        assert_eq!(reads, 9);
    }

    // Hostile peers A3 / CVE-2024-37890: 10 000 and 2 000 header lines → 431 at line 65.
    #[test]
    fn many_headers_are_431() {
        for count in [10_000, 2_000] {
            let mut data = b"GET / HTTP/1.1\r\n".to_vec();
            for _ in 0..count {
                data.extend_from_slice(b"a: x\r\n");
            }
            data.extend_from_slice(b"\r\n");
            let config = Config::builder().max_handshake_bytes(1 << 20).build().unwrap();
            let mut hs = ServerHandshake::new(config);
            let err = hs.receive(Instant::ZERO, &data).unwrap_err();
            assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::TooManyHeaders { max: 64 }));
            assert_eq!(err.http_status(), Some(431));
            // With the default byte cap, whichever cap trips first still gives 431.
            let err = receive_err(&data);
            assert_eq!(err.http_status(), Some(431));
            assert_eq!(
                err,
                HandshakeError::PeerMisbehaved(PeerMisbehaved::TooManyHeaders { max: 64 }),
                "65 short lines fit in 8 KiB"
            );
        }
        // Exactly 64 header lines are fine.
        let mut lines = Vec::new();
        for i in 0..57 {
            lines.push(format!("X-{i}: y"));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let ok = request_with(&refs);
        assert_eq!(ok.split(|&b| b == b'\n').count() - 3, 64);
        assert!(server().receive(Instant::ZERO, &ok).unwrap().is_some());
    }

    // Hostile peers A4: a valid request fed one byte at a time succeeds, scanning each byte
    // once (no MIN_PACKET heuristic: slow drips are the deadline's business, A1).
    #[test]
    fn one_byte_at_a_time_succeeds() {
        let mut hs = server();
        let mut scanned = 0;
        for (i, b) in RFC_REQUEST.iter().enumerate() {
            let done = hs.receive(Instant::ZERO, core::slice::from_ref(b)).unwrap().is_some();
            assert_eq!(done, i == RFC_REQUEST.len() - 1);
            if let Some(s) = hs.scanned() {
                scanned = s;
            }
        }
        assert_eq!(scanned, RFC_REQUEST.len() - 1);
        assert_eq!(hs.request().unwrap().protocols(), ["chat", "superchat"]);
        assert_eq!(hs.leftover(), Some(&b""[..]));
    }

    // Hostile peers A11: frame bytes glued to the request are kept exactly, once, including
    // bytes that arrive after the request was returned.
    #[test]
    fn leftover_is_exact() {
        let frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; // RFC 6455 §5.7 masked "Hello"
        let mut hs = server();
        let data = [RFC_REQUEST, frame.as_slice()].concat();
        let (a, b) = data.split_at(RFC_REQUEST.len() - 2);
        assert!(hs.receive(Instant::ZERO, a).unwrap().is_none());
        assert!(hs.receive(Instant::ZERO, &b[..5]).unwrap().is_some());
        assert!(hs.receive(Instant::ZERO, &b[5..]).unwrap().is_some());
        assert_eq!(hs.leftover(), Some(&frame[..]));
    }

    // Hostile peers A12 / RFC 6455 §10.2: the Origin is visible before answering, and the
    // reject path produces a complete 403.
    #[test]
    fn cross_site_origin_is_exposed_and_rejected_with_403() {
        let mut hs = server();
        let req =
            hs.receive(Instant::ZERO, &request_with(&["-Origin", "Origin: https://evil.example"])).unwrap().unwrap();
        assert_eq!(req.origin(), Some("https://evil.example"));
        assert_ne!(req.origin(), Some("http://example.com"));
        let bytes = rejected(hs, 403, b"cross-site request refused");
        assert_eq!(
            bytes,
            b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 26\r\n\r\ncross-site request refused"
        );
        let (status, headers, n) = parse_response(&bytes);
        assert_eq!((status, &bytes[n..]), (403, &b"cross-site request refused"[..]));
        assert_eq!(header_of(&headers, "content-length"), Some(&b"26"[..]));
    }

    // Hostile peers I: an impossible status never corrupts the status line.
    #[test]
    fn reject_with_out_of_range_status_sends_500() {
        for status in [0, 99, 1000, u16::MAX] {
            let bytes = rejected(server(), status, b"");
            assert!(bytes.starts_with(b"HTTP/1.1 500 Internal Server Error\r\n"), "{status}");
        }
        let bytes = rejected(server(), 499, b"x");
        let (status, _, n) = parse_response(&bytes);
        assert_eq!((status, &bytes[n..]), (499, &b"x"[..]));
    }

    // The error → status table of HandshakeError::http_status, as responses.
    #[test]
    fn error_responses_for_every_status() {
        for (err, line) in [
            (HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp("x")), &b"HTTP/1.1 400 Bad Request"[..]),
            (HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade), b"HTTP/1.1 400 Bad Request"),
            (HandshakeError::PeerMisbehaved(PeerMisbehaved::MethodNotGet), b"HTTP/1.1 405 Method Not Allowed"),
            (HandshakeError::PeerMisbehaved(PeerMisbehaved::UnsupportedVersion), b"HTTP/1.1 426 Upgrade Required"),
            (
                HandshakeError::PeerMisbehaved(PeerMisbehaved::TooManyHeaders { max: 64 }),
                b"HTTP/1.1 431 Request Header Fields Too Large",
            ),
        ] {
            let resp = error_response(&err).unwrap();
            assert_eq!(status_line(&resp), line);
            let (_, headers, n) = parse_response(&resp);
            assert_eq!(n, resp.len(), "empty body");
            assert_eq!(header_of(&headers, "content-length"), Some(&b"0"[..]));
            let connection = header_of(&headers, "connection").unwrap();
            assert!(http::list_elements(connection).any(|t| t == b"close"));
        }
        for err in [
            HandshakeError::ApiMisuse(ApiMisuse::Incomplete),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept),
            HandshakeError::ApiMisuse(ApiMisuse::InvalidUrl("x")),
        ] {
            assert!(error_response(&err).is_none());
        }
    }

    // The accepted connection carries the config, the role and the chosen protocol.
    #[test]
    fn accept_keeps_config_and_role() {
        let config = Config::builder().max_message_size(1 << 20).max_frame_size(1 << 20).build().unwrap();
        let mut hs = ServerHandshake::new(config);
        hs.receive(Instant::ZERO, RFC_REQUEST).unwrap();
        let conn = hs.accept(&AcceptOptions::new().protocol("superchat")).unwrap();
        assert_eq!(conn.role(), Role::Server);
        assert_eq!(conn.config().max_message_size(), 1 << 20);
        assert_eq!(conn.protocol(), Some("superchat"));
        let mut hs = server();
        hs.receive(Instant::ZERO, RFC_REQUEST).unwrap();
        assert_eq!(hs.accept(&AcceptOptions::new()).unwrap().protocol(), None);
    }

    // RFC 6455 §4.2.1: non-UTF-8 header values are kept as bytes but not exposed as &str.
    #[test]
    fn non_utf8_header_values() {
        let mut req = request_with(&[]);
        let end = req.len() - 2;
        req.splice(end..end, b"X-Bin: \xff\xfe\r\nSec-WebSocket-Protocol: \xff, ok\r\n".iter().copied());
        let mut hs = server();
        let r = hs.receive(Instant::ZERO, &req).unwrap().unwrap();
        assert_eq!(r.header("x-bin"), None);
        assert_eq!(&r.headers().iter().find(|h| h.name == "X-Bin").unwrap().value[..], b"\xff\xfe");
        assert_eq!(r.protocols(), ["chat", "superchat", "ok"]);
    }

    fn plain() -> ServerHandshake {
        ServerHandshake::with_plain_http(Config::default())
    }

    // A plain request is handed out with why it is not an upgrade, and answered with the
    // application's status, headers and body; accept refuses it.
    #[test]
    fn plain_requests_reach_the_application() {
        let cases: &[(&[u8], PeerMisbehaved)] = &[
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", PeerMisbehaved::MissingUpgrade),
            (b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", PeerMisbehaved::MethodNotGet),
            (b"GET /old HTTP/1.0\r\n\r\n", PeerMisbehaved::HttpVersionTooOld),
            (b"GET / HTTP/1.1\r\n\r\n", PeerMisbehaved::MalformedHttp("missing Host header")),
        ];
        for (bytes, why) in cases {
            let mut hs = plain();
            let request = hs.receive(Instant::ZERO, bytes).unwrap().expect("complete");
            assert!(!request.is_upgrade());
            assert!(!request.wants_websocket());
            assert_eq!(request.upgrade_error(), Some(&HandshakeError::PeerMisbehaved(why.clone())));
            assert_eq!(request.key(), "");
            // The strict handshake refuses the same bytes.
            assert_eq!(receive_err(bytes), HandshakeError::PeerMisbehaved(why.clone()));
        }
        let mut hs = plain();
        let request = hs.receive(Instant::ZERO, b"GET /page?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().unwrap();
        assert_eq!((request.method(), request.path(), request.query()), ("GET", "/page", Some("x=1")));
        hs.respond(200, &[("Content-Type", "text/html; charset=utf-8")], b"<p>hi</p>").unwrap();
        let out = request_of(&mut hs);
        let (status, headers, n) = parse_response(&out);
        assert_eq!(status, 200);
        assert_eq!(header_of(&headers, "content-type"), Some(&b"text/html; charset=utf-8"[..]));
        assert_eq!(header_of(&headers, "content-length"), Some(&b"9"[..]));
        assert_eq!(header_of(&headers, "connection"), Some(&b"close"[..]));
        assert_eq!(&out[n..], b"<p>hi</p>");
        assert!(hs.should_close());
        // Only the first answer counts.
        hs.respond(500, &[], b"again").unwrap();
        assert!(request_of(&mut hs).is_empty());

        let mut hs = plain();
        hs.receive(Instant::ZERO, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(
            hs.accept(&AcceptOptions::new()).unwrap_err(),
            HandshakeError::PeerMisbehaved(PeerMisbehaved::MissingUpgrade)
        );
    }

    // A valid upgrade through the plain-HTTP handshake is exactly an upgrade.
    #[test]
    fn plain_handshake_still_accepts_upgrades() {
        let mut hs = plain();
        let request = hs.receive(Instant::ZERO, RFC_REQUEST).unwrap().unwrap();
        assert!(request.is_upgrade() && request.wants_websocket());
        assert_eq!(request.upgrade_error(), None);
        let conn = hs.accept(&AcceptOptions::new().protocol("chat")).unwrap();
        assert_eq!(conn.protocol(), Some("chat"));
    }

    // Syntax, size and a repeated Host still fail a plain handshake, answered by it.
    #[test]
    fn plain_handshake_keeps_the_hard_limits() {
        let mut hs = plain();
        let err = hs.receive(Instant::ZERO, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err();
        assert_eq!(err, HandshakeError::PeerMisbehaved(PeerMisbehaved::DuplicateHeader("Host")));
        assert_eq!(status_line(&request_of(&mut hs)), b"HTTP/1.1 400 Bad Request");
        let mut hs = plain();
        assert!(hs.receive(Instant::ZERO, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n").is_err());
        assert_eq!(status_line(&request_of(&mut hs)), b"HTTP/1.1 400 Bad Request");
        let mut hs = plain();
        let huge = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "a".repeat(64 << 10));
        assert!(hs.receive(Instant::ZERO, huge.as_bytes()).is_err());
        assert_eq!(status_line(&request_of(&mut hs)), b"HTTP/1.1 431 Request Header Fields Too Large");
    }

    // A 426 names the upgrade (and lists it in Connection); HEAD gets no body; headers the
    // response writes itself, or with CR/LF, are refused; answer_invalid answers as a
    // strict handshake would.
    #[test]
    fn plain_responses_are_well_formed() {
        let mut hs = plain();
        hs.receive(Instant::ZERO, b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        hs.respond(426, &[("Upgrade", "websocket")], b"").unwrap();
        let out = request_of(&mut hs);
        let (status, headers, _) = parse_response(&out);
        assert_eq!(status, 426);
        assert_eq!(header_of(&headers, "upgrade"), Some(&b"websocket"[..]));
        assert_eq!(header_of(&headers, "connection"), Some(&b"Upgrade, close"[..]));

        let mut hs = plain();
        hs.receive(Instant::ZERO, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        hs.respond(200, &[], b"body").unwrap();
        let out = request_of(&mut hs);
        let (_, headers, n) = parse_response(&out);
        assert_eq!((n, header_of(&headers, "content-length")), (out.len(), Some(&b"4"[..])));

        let mut hs = plain();
        hs.receive(Instant::ZERO, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        for (name, value) in
            [("Content-Length", "1"), ("connection", "keep-alive"), ("X-A", "a\r\nB: c"), ("Bad Name", "v")]
        {
            assert_eq!(
                hs.respond(200, &[(name, value)], b""),
                Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from(name))))
            );
        }
        assert!(request_of(&mut hs).is_empty() && !hs.should_close());

        let mut hs = plain();
        hs.receive(Instant::ZERO, b"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        hs.answer_invalid();
        let out = request_of(&mut hs);
        let (status, headers, _) = parse_response(&out);
        assert_eq!((status, header_of(&headers, "allow")), (405, Some(&b"GET"[..])));
        let mut hs = plain();
        hs.receive(Instant::ZERO, RFC_REQUEST).unwrap();
        hs.answer_invalid();
        assert!(request_of(&mut hs).is_empty(), "a valid upgrade is not answered");
    }

    // AcceptOptions::config replaces the configuration the request was read with.
    #[test]
    fn accept_options_carry_a_route_config() {
        let route = Config::builder().max_message_size(1 << 10).max_frame_size(1 << 10).build().unwrap();
        let mut hs = server();
        hs.receive(Instant::ZERO, RFC_REQUEST).unwrap();
        let conn = hs.accept(&AcceptOptions::new().config(route)).unwrap();
        assert_eq!(conn.config().max_message_size(), 1 << 10);
    }
}
