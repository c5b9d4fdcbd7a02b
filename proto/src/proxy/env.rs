//! Choosing a proxy the way curl does, from the values of `https_proxy`, `http_proxy`,
//! `all_proxy` and `no_proxy` (handed in: reading the environment is the adapters' job),
//! with `NO_PROXY` matching by domain suffix, IP address and CIDR block. What does not live
//! here: talking to the proxy (`http_connect.rs`, `socks5.rs`).

use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

use super::{Proxy, ProxyError};

/// The proxy settings of an environment, read as curl reads them:
/// - `wss://` uses `https_proxy` (or `HTTPS_PROXY`), `ws://` uses `http_proxy` — lower case
///   only, as in curl, because a CGI server puts a request's `Proxy:` header in
///   `HTTP_PROXY` ("httpoxy");
/// - either falls back to `all_proxy` (or `ALL_PROXY`);
/// - `no_proxy` (or `NO_PROXY`) lists hosts reached directly (see [`NoProxy`]);
/// - the lower-case name wins when both are set; an empty value counts as unset.
///
/// ```
/// use tether_proto::{ProxyEnv, ProxyKind};
/// let env = ProxyEnv::from_lookup(|name| match name {
///     "https_proxy" => Some("http://proxy.corp:3128".into()),
///     "all_proxy" => Some("socks5h://127.0.0.1:1080".into()),
///     "no_proxy" => Some("localhost,.internal,10.0.0.0/8".into()),
///     _ => None,
/// });
/// let https = env.proxy_for(true, "api.example.com").unwrap().unwrap();
/// assert_eq!((https.kind(), https.host()), (ProxyKind::HttpConnect, "proxy.corp"));
/// let ws = env.proxy_for(false, "api.example.com").unwrap().unwrap();
/// assert_eq!(ws.kind(), ProxyKind::Socks5 { remote_dns: true });
/// assert!(env.proxy_for(true, "db.internal").unwrap().is_none());
/// assert!(env.proxy_for(true, "10.1.2.3").unwrap().is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    https: Option<String>,
    http: Option<String>,
    all: Option<String>,
    no_proxy: NoProxy,
}

impl ProxyEnv {
    /// Reads the settings through `lookup` (for example `|name| std::env::var(name).ok()`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let get = |names: &[&str]| names.iter().find_map(|name| lookup(name).filter(|v| !v.trim().is_empty()));
        ProxyEnv {
            https: get(&["https_proxy", "HTTPS_PROXY"]),
            http: get(&["http_proxy"]),
            all: get(&["all_proxy", "ALL_PROXY"]),
            no_proxy: NoProxy::parse(&get(&["no_proxy", "NO_PROXY"]).unwrap_or_default()),
        }
    }

    /// The proxy to reach `host` through (`secure`: a `wss://` URL), or `None` to connect
    /// directly.
    ///
    /// # Errors
    /// [`ProxyError::InvalidProxyUrl`] when the variable that applies holds no valid proxy
    /// URL: a setting that cannot be honoured is reported, not silently bypassed.
    pub fn proxy_for(&self, secure: bool, host: &str) -> Result<Option<Proxy>, ProxyError> {
        if self.no_proxy.matches(host) {
            return Ok(None);
        }
        let chosen = if secure { self.https.as_ref() } else { self.http.as_ref() }.or(self.all.as_ref());
        chosen.map(|url| Proxy::from_url(url)).transpose()
    }

    /// The `no_proxy` list in force.
    pub fn no_proxy(&self) -> &NoProxy {
        &self.no_proxy
    }
}

/// A `NO_PROXY` list, matched as curl matches it: entries separated by commas (and
/// whitespace), case-insensitive; `*` alone matches every host; a name matches itself and
/// its subdomains (`example.com` and `.example.com` both match `example.com` and
/// `a.example.com`, not `badexample.com`); an IP address matches itself, and an address with
/// a prefix length (`10.0.0.0/8`, `fd00::/8`) matches its block. An entry may carry a port
/// (`example.com:8080`, `[::1]:443`), which is not compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    names: Vec<String>,
    blocks: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    /// Parses a `NO_PROXY` value; entries that are neither a name, an address nor a block
    /// are ignored.
    pub fn parse(value: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in value.split([',', ' ', '\t', '\n']).map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                out.all = true;
                continue;
            }
            let (addr, prefix) = match entry.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix)),
                // `host:port`, `a.b.c.d:port` or `[v6]:port`: the port is not compared.
                None => (split_host_port(entry).map_or(entry, |(host, _)| host), None),
            };
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = addr.parse::<IpAddr>() {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                match prefix.map(str::parse::<u8>) {
                    None => out.blocks.push((ip, max)),
                    Some(Ok(bits)) if bits <= max => out.blocks.push((ip, bits)),
                    Some(_) => {}
                }
                continue;
            }
            if prefix.is_none() {
                let name = addr.trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
                if !name.is_empty() {
                    out.names.push(name);
                }
            }
        }
        out
    }

    /// Whether `host` (a name, or an IP address with or without IPv6 brackets) is reached
    /// directly.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.blocks.iter().any(|&(block, bits)| in_block(ip, block, bits));
        }
        let host = bare.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|name| {
            host == *name
                || (host.len() > name.len()
                    && host.ends_with(name.as_str())
                    && host.as_bytes()[host.len() - name.len() - 1] == b'.')
        })
    }
}

fn in_block(ip: IpAddr, block: IpAddr, bits: u8) -> bool {
    match (ip, block) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            prefix_eq(u128::from(u32::from(a)) << 96, u128::from(u32::from(b)) << 96, bits)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix_eq(u128::from(a), u128::from(b), bits),
        // An IPv4-mapped IPv6 address is its IPv4 address.
        (IpAddr::V6(a), IpAddr::V4(_)) => a.to_ipv4_mapped().is_some_and(|a| in_block(IpAddr::V4(a), block, bits)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

fn prefix_eq(a: u128, b: u128, bits: u8) -> bool {
    let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
    a & mask == b & mask
}

/// Splits `host[:port]` or `[v6][:port]`; `None` for a bad port or unbalanced brackets.
pub(super) fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        // More than one colon without brackets: an IPv6 address with no port.
        Some(_) => Some((s, None)),
        None => Some((s, None)),
    }
}

/// Percent-decodes URL userinfo; `None` on a bad escape or non-UTF-8 result.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
