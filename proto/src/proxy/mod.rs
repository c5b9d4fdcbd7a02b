//! Reaching a WebSocket server through a proxy, sans-IO: [`ProxyHandshake`] opens a tunnel
//! with HTTP `CONNECT` (RFC 9110 §9.3.6) or SOCKS5 (RFC 1928, RFC 1929), with one total
//! deadline and bounded buffers, its bytes leaving through [`Transmit`]; [`Proxy`] is a
//! parsed proxy URL and [`ProxyEnv`] the curl-style choice of a proxy from the environment's
//! values. What does not live here: sockets and reading the environment (the adapters do).

mod env;
mod http_connect;
mod socks5;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

pub use env::{NoProxy, ProxyEnv};

use crate::handshake::Header;
use crate::time::Instant;
use crate::transmit::Transmit;
use crate::PeerMisbehaved;

/// The kind of proxy, from its URL's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyKind {
    /// `http://`: an HTTP proxy asked to open a tunnel with `CONNECT`.
    HttpConnect,
    /// `socks5://` (curl resolves names itself) or `socks5h://` (names sent to the proxy,
    /// which resolves them: `remote_dns`). [`ProxyHandshake`] sends whatever host it is
    /// given — a name goes out as a name — so resolving first is the driver's choice; Tether's
    /// client does not, it lets the proxy resolve for both.
    Socks5 {
        /// Whether the proxy resolves the target's name.
        remote_dns: bool,
    },
}

/// A proxy: where it is, what it speaks, and the credentials to give it.
///
/// ```
/// use tether_proto::{Proxy, ProxyKind};
/// let proxy = Proxy::from_url("http://user:p%40ss@proxy.example:3128").unwrap();
/// assert_eq!((proxy.kind(), proxy.host(), proxy.port()), (ProxyKind::HttpConnect, "proxy.example", 3128));
/// assert_eq!(proxy.credentials(), Some(("user", "p@ss")));
/// let socks = Proxy::from_url("socks5h://[::1]:1080").unwrap();
/// assert_eq!(socks.kind(), ProxyKind::Socks5 { remote_dns: true });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl Proxy {
    /// Parses a proxy URL as curl reads one: `http://`, `socks5://`, `socks5h://` (and a
    /// bare `host:port`, which means `http://`), optional percent-encoded `user:password@`,
    /// the port defaulting to 1080 for SOCKS and 80 for HTTP; a path is ignored.
    ///
    /// # Errors
    /// [`ProxyError::InvalidProxyUrl`] for another scheme (`https://` proxies, which need TLS
    /// to the proxy itself, are not supported), an empty or invalid host, or a bad port.
    pub fn from_url(url: &str) -> Result<Proxy, ProxyError> {
        let url = url.trim();
        let (scheme, rest) = match url.find("://") {
            Some(i) => (&url[..i], &url[i + 3..]),
            None => ("http", url),
        };
        let (kind, default_port) = if scheme.eq_ignore_ascii_case("http") {
            (ProxyKind::HttpConnect, 80)
        } else if scheme.eq_ignore_ascii_case("socks5") {
            (ProxyKind::Socks5 { remote_dns: false }, 1080)
        } else if scheme.eq_ignore_ascii_case("socks5h") {
            (ProxyKind::Socks5 { remote_dns: true }, 1080)
        } else {
            return Err(ProxyError::InvalidProxyUrl("unsupported proxy scheme"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(info) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                let decode = |s: &str| env::percent_decode(s).ok_or(ProxyError::InvalidProxyUrl("bad credentials"));
                Some((decode(user)?, decode(pass)?))
            }
        };
        let (host, port) = env::split_host_port(hostport).ok_or(ProxyError::InvalidProxyUrl("bad host or port"))?;
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ProxyError::InvalidProxyUrl("bad host"));
        }
        Ok(Proxy { kind, host: String::from(host), port: port.unwrap_or(default_port), credentials })
    }

    /// The proxy's kind.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The proxy's host (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name and password to give the proxy, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The same proxy with these credentials (overriding any from the URL).
    pub fn with_credentials(mut self, user: &str, password: &str) -> Proxy {
        self.credentials = Some((String::from(user), String::from(password)));
        self
    }
}

/// A SOCKS5 server's failure reply to `CONNECT` (RFC 1928 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Socks5Reply {
    /// 0x01 general SOCKS server failure.
    GeneralFailure,
    /// 0x02 connection not allowed by ruleset.
    NotAllowed,
    /// 0x03 network unreachable.
    NetworkUnreachable,
    /// 0x04 host unreachable.
    HostUnreachable,
    /// 0x05 connection refused.
    ConnectionRefused,
    /// 0x06 TTL expired.
    TtlExpired,
    /// 0x07 command not supported.
    CommandNotSupported,
    /// 0x08 address type not supported.
    AddressTypeNotSupported,
    /// Any other (unassigned) code.
    Other(u8),
}

impl Socks5Reply {
    fn from_code(code: u8) -> Socks5Reply {
        match code {
            1 => Socks5Reply::GeneralFailure,
            2 => Socks5Reply::NotAllowed,
            3 => Socks5Reply::NetworkUnreachable,
            4 => Socks5Reply::HostUnreachable,
            5 => Socks5Reply::ConnectionRefused,
            6 => Socks5Reply::TtlExpired,
            7 => Socks5Reply::CommandNotSupported,
            8 => Socks5Reply::AddressTypeNotSupported,
            other => Socks5Reply::Other(other),
        }
    }
}

/// Why a tunnel through a proxy could not be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The HTTP proxy answered `CONNECT` with a non-2xx status (407: credentials missing or
    /// refused; its `Proxy-Authenticate` header is among `headers`).
    #[error("the proxy answered CONNECT with status {status}")]
    Refused {
        /// The status code.
        status: u16,
        /// The response headers.
        headers: Vec<Header>,
    },
    /// The SOCKS5 proxy could not or would not connect to the target.
    #[error("the SOCKS5 proxy failed to connect: {0:?}")]
    Socks5Failed(Socks5Reply),
    /// The SOCKS5 proxy accepts none of the authentication methods offered (it wants
    /// credentials that were not given, or a method Tether does not speak).
    #[error("the SOCKS5 proxy accepts none of the offered authentication methods")]
    NoAcceptableAuth,
    /// The SOCKS5 proxy refused the user name and password.
    #[error("the SOCKS5 proxy refused the credentials")]
    AuthRejected,
    /// The HTTP proxy's answer is not a valid HTTP/1.1 head, or is over the size caps.
    #[error("the proxy misbehaved: {0}")]
    PeerMisbehaved(PeerMisbehaved),
    /// The SOCKS5 proxy's reply broke RFC 1928 (a wrong version, an unknown address type, a
    /// method that was not offered).
    #[error("the SOCKS5 proxy misbehaved: {0}")]
    MalformedSocks5(&'static str),
    /// The tunnel was not open within the deadline (one total deadline that arriving bytes
    /// do not reset).
    #[error("the proxy did not open the tunnel within {after:?}")]
    Timeout {
        /// The deadline's length.
        after: Duration,
    },
    /// The target cannot be asked for: a SOCKS5 domain name over 255 bytes, a user name or
    /// password over 255 bytes (RFC 1929), or a host with characters no request may carry.
    #[error("the proxy request cannot be made: {0}")]
    InvalidTarget(&'static str),
    /// A proxy URL (given, or from the environment) could not be parsed.
    #[error("invalid proxy URL: {0}")]
    InvalidProxyUrl(&'static str),
    /// Bytes of the tunnel arrived with the proxy's answer, before the client had sent
    /// anything through it: neither TLS nor the WebSocket handshake lets the server speak
    /// first, so a driver that has nowhere to put them reports this.
    #[error("the tunnel delivered {0} bytes before the client spoke")]
    UnexpectedTunnelData(usize),
}

/// Opens a tunnel to `host:port` through a [`Proxy`]: queue its request at creation, feed
/// it the proxy's bytes with [`receive`](ProxyHandshake::receive) until it returns the
/// tunnel's first bytes, and write what [`Transmit`] hands out. Then run the WebSocket (or
/// TLS, for `wss://`) handshake over the same transport, starting with those bytes.
///
/// ```
/// use tether_proto::{Instant, Proxy, ProxyHandshake, Transmit};
/// let proxy = Proxy::from_url("http://127.0.0.1:3128").unwrap();
/// let mut tunnel = ProxyHandshake::new(&proxy, "echo.example", 443, core::time::Duration::from_secs(10)).unwrap();
/// let mut wire = Vec::new();
/// tunnel.drain_transmit(&mut wire);
/// assert!(wire.starts_with(b"CONNECT echo.example:443 HTTP/1.1\r\nHost: echo.example:443\r\n"));
/// let open = tunnel.receive(Instant::ZERO, b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap();
/// assert_eq!(open, Some(Vec::new())); // the tunnel is open, and nothing followed the head
/// ```
#[derive(Debug)]
pub struct ProxyHandshake {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Http(http_connect::HttpConnect),
    Socks5(socks5::Socks5),
}

impl ProxyHandshake {
    /// Prepares the exchange that asks `proxy` for a tunnel to `host:port` (`host` as in a
    /// URL's host, an IPv6 address without brackets), bounded by `timeout` from the first
    /// call that gives the time. The first bytes are queued at once.
    ///
    /// # Errors
    /// [`ProxyError::InvalidTarget`] when the request cannot be expressed (see there).
    pub fn new(proxy: &Proxy, host: &str, port: u16, timeout: Duration) -> Result<ProxyHandshake, ProxyError> {
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ProxyError::InvalidTarget("the host is empty or has characters a request cannot carry"));
        }
        let inner = match proxy.kind {
            ProxyKind::HttpConnect => {
                Inner::Http(http_connect::HttpConnect::new(host, port, proxy.credentials(), timeout))
            }
            ProxyKind::Socks5 { .. } => Inner::Socks5(socks5::Socks5::new(host, port, proxy.credentials(), timeout)?),
        };
        Ok(ProxyHandshake { inner })
    }

    /// Feeds bytes from the proxy. `Ok(Some(bytes))` once the tunnel is open: `bytes` came
    /// after the proxy's answer and belong to the tunnelled protocol. `Ok(None)`: more
    /// bytes are needed (and maybe more are queued to send).
    ///
    /// # Errors
    /// A [`ProxyError`]; errors are sticky, later calls return the same one.
    pub fn receive(&mut self, now: Instant, data: &[u8]) -> Result<Option<Vec<u8>>, ProxyError> {
        match &mut self.inner {
            Inner::Http(h) => h.receive(now, data),
            Inner::Socks5(s) => s.receive(now, data),
        }
    }

    /// Fails the exchange with [`ProxyError::Timeout`] if its deadline has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.inner {
            Inner::Http(h) => h.handle_timeout(now),
            Inner::Socks5(s) => s.handle_timeout(now),
        }
    }

    /// When [`handle_timeout`](ProxyHandshake::handle_timeout) should next be called
    /// (`None` before the clock starts, or once the exchange has ended).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.inner {
            Inner::Http(h) => h.poll_timeout(),
            Inner::Socks5(s) => s.poll_timeout(),
        }
    }

    /// The error, once the exchange has failed.
    pub fn error(&self) -> Option<&ProxyError> {
        match &self.inner {
            Inner::Http(h) => h.error(),
            Inner::Socks5(s) => s.error(),
        }
    }
}

impl Transmit for ProxyHandshake {
    fn poll_transmit<'a>(&'a mut self, chunks: &mut [&'a [u8]]) -> usize {
        match &mut self.inner {
            Inner::Http(h) => h.outbox.poll_transmit(chunks),
            Inner::Socks5(s) => s.outbox.poll_transmit(chunks),
        }
    }

    fn consume_transmit(&mut self, n: usize) {
        match &mut self.inner {
            Inner::Http(h) => h.outbox.consume_transmit(n),
            Inner::Socks5(s) => s.outbox.consume_transmit(n),
        }
    }

    fn buffered_transmit(&self) -> usize {
        match &self.inner {
            Inner::Http(h) => h.outbox.buffered_transmit(),
            Inner::Socks5(s) => s.outbox.buffered_transmit(),
        }
    }
}
