//! Client proxies over the runtime's TCP stream: which proxy a `ClientBuilder` uses (given,
//! none, or chosen from the environment as curl chooses) and the driver that runs
//! `tether_proto::ProxyHandshake` (HTTP `CONNECT` or SOCKS5) on the stream, under the
//! connection's handshake deadline. The proxy protocols themselves (bytes, replies, limits)
//! are `tether_proto`'s; TLS and the WebSocket handshake over the tunnel are `client.rs`'s.

use std::time::Duration;

use tether_proto::{Proxy, ProxyEnv, ProxyError, ProxyHandshake, Transmit};

use crate::io::{read_until, write_transmit};
use crate::runtime::{Clock, Runtime, Transport};
use crate::OpenError;

/// How a client chooses its proxy.
#[derive(Clone, Debug, Default)]
pub(crate) enum ProxyChoice {
    /// From the process environment, read when connecting (the default).
    #[default]
    FromEnv,
    /// From these settings.
    Env(ProxyEnv),
    /// Always this proxy.
    Fixed(Proxy),
    /// Never a proxy.
    Direct,
}

impl ProxyChoice {
    /// The proxy for `host` (`secure`: a `wss://` URL), or `None` to connect directly.
    pub(crate) fn resolve(self, secure: bool, host: &str) -> Result<Option<Proxy>, ProxyError> {
        match self {
            ProxyChoice::FromEnv => ProxyEnv::from_lookup(|name| std::env::var(name).ok()).proxy_for(secure, host),
            ProxyChoice::Env(env) => env.proxy_for(secure, host),
            ProxyChoice::Fixed(proxy) => Ok(Some(proxy)),
            ProxyChoice::Direct => Ok(None),
        }
    }
}

/// Ask the proxy at the other end of `io` for a tunnel to `host:port`, writing its requests
/// and reading its replies until the tunnel is open. The caller's `timer` (the handshake
/// deadline) bounds it all; `timeout` is that deadline's length, for the error.
///
/// A proxy that hangs up mid-exchange is an [`OpenError::Io`] (`UnexpectedEof`); bytes of
/// the tunnel that come with the proxy's answer are refused
/// ([`ProxyError::UnexpectedTunnelData`]): the server may not speak first.
pub(crate) async fn open_tunnel<R: Runtime, T: Transport>(
    io: &mut T,
    proxy: &Proxy,
    host: &str,
    port: u16,
    clock: &Clock<R>,
    timer: &mut R::Sleep,
    timeout: Duration,
) -> Result<(), OpenError> {
    let timed_out = || OpenError::Proxy(ProxyError::Timeout { after: timeout });
    // The runtime timer is the deadline; the engine's own is the same length, from now.
    let mut tunnel = ProxyHandshake::new(proxy, host, port, timeout)?;
    tunnel.handle_timeout(clock.now());
    loop {
        match crate::io::with_deadline(timer, write_transmit(io, &mut tunnel)).await {
            Some(written) => written?,
            None => return Err(timed_out()),
        }
        // Read until the tunnel is open, fails, or has something more to send (SOCKS5
        // answers the method choice with credentials, then with CONNECT).
        let read = read_until(io, timer, |chunk| match tunnel.receive(clock.now(), chunk) {
            Ok(None) if tunnel.buffered_transmit() == 0 => None,
            Ok(None) => Some(Ok(None)),
            Ok(Some(rest)) => Some(Ok(Some(rest))),
            Err(e) => Some(Err(e)),
        })
        .await;
        match read {
            None => return Err(timed_out()),
            Some(Err(e)) => return Err(OpenError::Io(e)),
            Some(Ok(Err(e))) => return Err(OpenError::Proxy(e)),
            Some(Ok(Ok(None))) => continue,
            Some(Ok(Ok(Some(rest)))) if rest.is_empty() => return Ok(()),
            Some(Ok(Ok(Some(rest)))) => return Err(OpenError::Proxy(ProxyError::UnexpectedTunnelData(rest.len()))),
        }
    }
}
