//! `ws://` / `wss://` URL parsing for the client (RFC 6455 §3): scheme, host, port and
//! request-target, plus the lenient `host[:port]` split used by `ClientRequest::new`.
//! Nothing here builds requests or does name resolution.

use alloc::format;
use alloc::string::String;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{ApiMisuse, HandshakeError};

/// The parts of a WebSocket URL that the handshake needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WsUrl {
    pub(crate) secure: bool,
    /// Hostname or address to connect to, lowercased, IPv6 without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The `Host` header value: bracketed IPv6, port only when not the default.
    pub(crate) host_header: String,
    /// The request-target: path (default `/`) and query.
    pub(crate) target: String,
}

fn invalid(why: &'static str) -> HandshakeError {
    HandshakeError::ApiMisuse(ApiMisuse::InvalidUrl(why))
}

/// `ws://`'s default port (RFC 6455 §3).
pub(crate) const WS_PORT: u16 = 80;

/// `wss://`'s default port (RFC 6455 §3).
pub(crate) const WSS_PORT: u16 = 443;

/// The scheme's default port.
pub(crate) fn default_port(secure: bool) -> u16 {
    if secure {
        WSS_PORT
    } else {
        WS_PORT
    }
}

/// Parses `ws[s]://host[:port][/path][?query]` (RFC 6455 §3). Rejected: other schemes,
/// userinfo (credentials in URLs leak into logs; send an `Authorization` header instead),
/// fragments (§3: "MUST NOT" be used), whitespace, control and non-ASCII characters
/// (percent-encode the path, use the punycode form of the host), and invalid hosts or ports.
pub(crate) fn parse(url: &str) -> Result<WsUrl, HandshakeError> {
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(invalid("URL contains whitespace or control characters"));
    }
    if !url.is_ascii() {
        return Err(invalid("URL must be ASCII (percent-encode the path, use punycode for the host)"));
    }
    let (scheme, rest) = url.split_once("://").ok_or(invalid("missing ws:// or wss:// scheme"))?;
    let secure = if scheme.eq_ignore_ascii_case("ws") {
        false
    } else if scheme.eq_ignore_ascii_case("wss") {
        true
    } else {
        return Err(invalid("scheme must be ws or wss"));
    };
    if rest.contains('#') {
        return Err(invalid("fragments are not allowed in WebSocket URLs"));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(invalid("userinfo is not allowed in WebSocket URLs"));
    }
    if authority.is_empty() {
        return Err(invalid("missing host"));
    }
    let (host, port, ipv6) = if let Some(inner) = authority.strip_prefix('[') {
        let (addr, tail) = inner.split_once(']').ok_or(invalid("unterminated IPv6 address"))?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(invalid("invalid IPv6 address"));
        }
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':').ok_or(invalid("unexpected characters after IPv6 address"))?),
        };
        (addr, port, true)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        check_host(host)?;
        (host, port, false)
    };
    let port = match port {
        // RFC 3986 §3.2.3: an empty port means the default.
        None | Some("") => default_port(secure),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u16>() {
            Ok(n) if n != 0 => n,
            _ => return Err(invalid("port out of range")),
        },
        Some(_) => return Err(invalid("invalid port")),
    };
    let host = host.to_ascii_lowercase();
    let bracketed = if ipv6 { format!("[{host}]") } else { host.clone() };
    let host_header = if port == default_port(secure) { bracketed } else { format!("{bracketed}:{port}") };
    let target = match target.as_bytes().first() {
        None => String::from("/"),
        Some(b'?') => format!("/{target}"),
        Some(_) => String::from(target),
    };
    Ok(WsUrl { secure, host, port, host_header, target })
}

/// A DNS name (letters, digits, `-`, `_`, dot-separated non-empty labels, an optional final
/// dot) or, when it is only digits and dots, a dotted-quad IPv4 address.
fn check_host(host: &str) -> Result<(), HandshakeError> {
    if host.is_empty() {
        return Err(invalid("missing host"));
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host.parse::<Ipv4Addr>().map(|_| ()).map_err(|_| invalid("invalid IPv4 address"));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let ok = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid("invalid host name"))
    }
}

/// Splits a `Host` header value into the host to connect to and its port, leniently (it is
/// validated as a header value elsewhere): `[v6]:port`, `name:port`, or just the host.
pub(crate) fn split_host_port(authority: &str) -> (String, Option<u16>) {
    if let Some(inner) = authority.strip_prefix('[') {
        if let Some((addr, tail)) = inner.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (String::from(addr), port);
        }
    }
    match authority.rsplit_once(':') {
        // A second colon means an unbracketed IPv6 address, not a port.
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (String::from(h), Some(port)),
            Err(_) => (String::from(authority), None),
        },
        _ => (String::from(authority), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> WsUrl {
        parse(url).unwrap_or_else(|e| panic!("{url}: {e:?}"))
    }

    fn err(url: &str) -> &'static str {
        match parse(url) {
            Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidUrl(why))) => why,
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }

    // RFC 6455 §3: ws/wss, default ports 80/443, path defaults to "/", query kept.
    #[test]
    fn schemes_ports_and_targets() {
        let u = ok("ws://example.com");
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.host_header.as_str(), u.target.as_str()),
            (false, "example.com", 80, "example.com", "/")
        );
        let u = ok("WSS://Example.COM/chat?room=1&x=%20");
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.host_header.as_str(), u.target.as_str()),
            (true, "example.com", 443, "example.com", "/chat?room=1&x=%20")
        );
        let u = ok("ws://example.com:8080/a/b/");
        assert_eq!((u.port, u.host_header.as_str(), u.target.as_str()), (8080, "example.com:8080", "/a/b/"));
        let u = ok("wss://example.com:443/");
        assert_eq!((u.port, u.host_header.as_str()), (443, "example.com"), "default port omitted from Host");
        let u = ok("ws://example.com:443");
        assert_eq!(u.host_header, "example.com:443", "443 is not the ws default");
        let u = ok("ws://example.com?x=1");
        assert_eq!(u.target, "/?x=1");
        let u = ok("ws://example.com:/p");
        assert_eq!(u.port, 80, "empty port = default (RFC 3986 §3.2.3)");
        let u = ok("ws://my_host.internal./");
        assert_eq!(u.host, "my_host.internal.");
    }

    // RFC 6455 §3 / RFC 3986 §3.2.2: IPv4 and bracketed IPv6 hosts.
    #[test]
    fn ip_hosts() {
        let u = ok("ws://127.0.0.1:9001/");
        assert_eq!((u.host.as_str(), u.port, u.host_header.as_str()), ("127.0.0.1", 9001, "127.0.0.1:9001"));
        let u = ok("ws://[::1]:9001/x");
        assert_eq!(
            (u.host.as_str(), u.port, u.host_header.as_str(), u.target.as_str()),
            ("::1", 9001, "[::1]:9001", "/x")
        );
        let u = ok("wss://[2001:DB8::1]");
        assert_eq!((u.host.as_str(), u.port, u.host_header.as_str()), ("2001:db8::1", 443, "[2001:db8::1]"));
        assert_eq!(err("ws://[::1/"), "unterminated IPv6 address");
        assert_eq!(err("ws://[::g]/"), "invalid IPv6 address");
        assert_eq!(err("ws://[fe80::1%25eth0]/"), "invalid IPv6 address");
        assert_eq!(err("ws://[::1]x/"), "unexpected characters after IPv6 address");
        assert_eq!(err("ws://256.1.1.1/"), "invalid IPv4 address");
        assert_eq!(err("ws://1.2.3/"), "invalid IPv4 address");
        assert_eq!(err("ws://::1/"), "missing host", "IPv6 needs brackets");
    }

    // RFC 6455 §3: fragments MUST NOT be used; userinfo is refused (in the spirit of hostile
    // peers B5 in the manual: credentials do not belong in URLs).
    #[test]
    fn fragment_and_userinfo_rejected() {
        assert_eq!(err("ws://example.com/chat#frag"), "fragments are not allowed in WebSocket URLs");
        assert_eq!(err("ws://example.com#"), "fragments are not allowed in WebSocket URLs");
        assert_eq!(err("ws://user:pass@example.com/"), "userinfo is not allowed in WebSocket URLs");
        assert_eq!(err("ws://@example.com/"), "userinfo is not allowed in WebSocket URLs");
    }

    #[test]
    fn malformed_urls_rejected() {
        assert_eq!(err("http://example.com/"), "scheme must be ws or wss");
        assert_eq!(err("wss:/example.com"), "missing ws:// or wss:// scheme");
        assert_eq!(err("example.com"), "missing ws:// or wss:// scheme");
        assert_eq!(err("ws://"), "missing host");
        assert_eq!(err("ws:///path"), "missing host");
        assert_eq!(err("ws://:80/"), "missing host");
        assert_eq!(err("ws://example.com:0/"), "port out of range");
        assert_eq!(err("ws://example.com:65536/"), "port out of range");
        assert_eq!(err("ws://example.com:8a/"), "invalid port");
        assert_eq!(err("ws://example.com:-1/"), "invalid port");
        assert_eq!(err("ws://exa mple.com/"), "URL contains whitespace or control characters");
        assert_eq!(err("ws://example.com/a\r\nX: y"), "URL contains whitespace or control characters");
        assert_eq!(err("ws://example.com/\0"), "URL contains whitespace or control characters");
        assert!(err("ws://bücher.example/").starts_with("URL must be ASCII"));
        assert!(err("ws://example.com/ü").starts_with("URL must be ASCII"));
        assert_eq!(err("ws://a..b/"), "invalid host name");
        assert_eq!(err("ws://a%2eb/"), "invalid host name");
        assert_eq!(err("ws://a:1:2/"), "invalid port");
    }

    #[test]
    fn host_port_split_is_lenient() {
        assert_eq!(split_host_port("example.com"), (String::from("example.com"), None));
        assert_eq!(split_host_port("example.com:8080"), (String::from("example.com"), Some(8080)));
        assert_eq!(split_host_port("[::1]:9"), (String::from("::1"), Some(9)));
        assert_eq!(split_host_port("[::1]"), (String::from("::1"), None));
        assert_eq!(split_host_port("::1"), (String::from("::1"), None));
        assert_eq!(split_host_port("h:x"), (String::from("h:x"), None));
    }
}
