//! Clients through real proxies nobody here wrote — Debian's `tinyproxy` (HTTP `CONNECT`,
//! with and without Basic credentials) and `microsocks` (SOCKS5, with and without RFC 1929
//! credentials), installed by `scripts/setup-peers.sh --proxies` and started here on a
//! loopback port with a config in a temp dir, killed when the test ends: `ws://` and
//! `wss://` echo through each, wrong or missing credentials as typed errors, the proxy
//! chosen from injected environment values (`NO_PROXY` respected), an unreachable proxy.
//! Hostile proxies (garbage, a huge head, a slowloris answer, an early hang-up, bytes after
//! the answer) are scripted raw-TCP servers. The proxy protocols' own unit tests are in
//! `tether_proto` (`proxy/tests.rs`).
//!
//! Each proxy makes its outgoing connections from 127.0.0.2 (tinyproxy's `Bind`,
//! microsocks' `-b`): a server that sees its client at 127.0.0.2 proves the connection went
//! through the proxy, as a direct one comes from 127.0.0.1.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use tether_rt::{Proxy, ProxyEnv, ProxyError, Runtime, TlsAcceptor, TlsConnector};
use tether_tests::peer::{self, Peer};
use tether_tests::pki::Ca;

use super::*;

/// Where the proxies connect from, and so where a proxied client appears to come from.
const PROXY_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Every proxy test is bounded by this (starting a proxy included).
const PROXY_LIMIT: Duration = Duration::from_secs(30);

/// Credentials the authenticating proxies are configured with.
const USER: &str = "tether";
const PASSWORD: &str = "s3cretpass";

/// A real proxy process on 127.0.0.1:`port`; dropping it kills it and removes its temp dir.
struct RealProxy {
    peer: Peer,
    port: u16,
    dir: PathBuf,
}

impl Drop for RealProxy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RealProxy {
    /// tinyproxy in the foreground, with Basic credentials when `auth`.
    async fn tinyproxy(auth: bool) -> RealProxy {
        peer::ensure_proxies();
        let port = peer::free_port();
        let dir = temp_dir("tinyproxy", port);
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nBind {PROXY_SOURCE}\nTimeout 20\nMaxClients 20\n\
             DisableViaHeader Yes\nLogLevel Info\nLogFile \"{}\"\n",
            dir.join("tinyproxy.log").display()
        );
        if auth {
            // tinyproxy's config syntax allows no punctuation in the password.
            conf.push_str(&format!("BasicAuth {USER} {PASSWORD}\n"));
        }
        let path = dir.join("tinyproxy.conf");
        std::fs::write(&path, conf).expect("write tinyproxy.conf");
        let peer = Peer::spawn("tinyproxy", &["-d", "-c", path.to_str().expect("utf-8 temp path")]);
        RealProxy::ready(peer, port, dir).await
    }

    /// microsocks, with username/password when `auth`.
    async fn microsocks(auth: bool) -> RealProxy {
        peer::ensure_proxies();
        let port = peer::free_port();
        let dir = temp_dir("microsocks", port);
        let port_arg = port.to_string();
        let source = PROXY_SOURCE.to_string();
        let mut args = vec!["-i", "127.0.0.1", "-p", &port_arg, "-b", &source];
        if auth {
            args.extend(["-u", USER, "-P", PASSWORD]);
        }
        let peer = Peer::spawn("microsocks", &args);
        RealProxy::ready(peer, port, dir).await
    }

    /// Wait (bounded) until the proxy accepts connections.
    async fn ready(peer: Peer, port: u16, dir: PathBuf) -> RealProxy {
        let proxy = RealProxy { peer, port, dir };
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the proxy did not listen on {port}:\n{}",
                proxy.output()
            );
            sleep::<R>(Duration::from_millis(20)).await;
        }
        proxy
    }

    fn url(&self, scheme: &str, credentials: Option<(&str, &str)>) -> Proxy {
        let proxy = Proxy::from_url(&format!("{scheme}://127.0.0.1:{}", self.port)).expect("proxy URL");
        match credentials {
            Some((user, password)) => proxy.with_credentials(user, password),
            None => proxy,
        }
    }

    /// The process's output and tinyproxy's log, for failure messages.
    fn output(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("tinyproxy.log")).unwrap_or_default();
        format!("{}\n--- log\n{log}", self.peer.output())
    }
}

fn temp_dir(name: &str, port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tether-{name}-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// An echo server for one connection (TLS with `tls`) that reports the client's address.
async fn echo_server(tls: Option<TlsAcceptor>) -> (SocketAddr, impl Future<Output = IpAddr>) {
    let (listener, addr) = rt::listen().await;
    let task = rt::spawn(async move {
        let (tcp, from) = R::accept_tcp(&listener).await.expect("accept");
        match tls {
            Some(acceptor) => {
                let ws: Ws<<R as Runtime>::MaybeTls> = Upgrade::<_, R>::read_tls(tcp, &acceptor)
                    .await
                    .expect("read TLS upgrade")
                    .accept()
                    .await
                    .expect("accept");
                echo(ws).await;
            }
            None => {
                let ws: Ws =
                    Upgrade::<Stream, R>::read(tcp).await.expect("read upgrade").accept().await.expect("accept");
                echo(ws).await;
            }
        }
        from.ip()
    });
    (addr, task)
}

/// One echo round trip and a clean close.
async fn round_trip<S>(mut ws: Ws<S>)
where
    <R as Runtime>::Io<S>: tether_rt::Transport,
{
    ws.send_text("through the proxy").await.expect("send");
    assert_eq!(ws.recv_text().await.expect("echo"), "through the proxy");
    ws.close(CloseCode::NORMAL, "").await.expect("close");
}

/// `ws://` to a fresh echo server through `proxy`: must work, and the server must see the
/// proxy's address.
async fn ws_through(proxy: Proxy, real: &RealProxy) {
    let (addr, server) = echo_server(None).await;
    let ws = ClientBuilder::<R>::new(&format!("ws://{addr}/echo")).proxy(proxy).connect().await;
    let ws = ws.unwrap_or_else(|e| panic!("connect through the proxy: {e:?}\n{}", real.output()));
    round_trip(ws).await;
    assert_eq!(server.await, PROXY_SOURCE, "the server's client was not the proxy");
}

/// `wss://{host}` to a fresh TLS echo server through `proxy` (TLS over the tunnel, SNI and
/// the name check for `host`).
async fn wss_through(proxy: Proxy, host: &str, real: &RealProxy) {
    let ca = Ca::new("Tether proxy test CA");
    let leaf = ca.leaf();
    let acceptor = TlsAcceptor::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).expect("acceptor");
    let (addr, server) = echo_server(Some(acceptor)).await;
    let connector = TlsConnector::with_roots_from_pem(ca.pem.as_bytes()).expect("connector");
    let url = format!("wss://{host}:{}/echo", addr.port());
    let ws = ClientBuilder::<R>::new(&url).tls(connector).proxy(proxy).connect().await;
    let ws = ws.unwrap_or_else(|e| panic!("wss through the proxy: {e:?}\n{}", real.output()));
    round_trip(ws).await;
    assert_eq!(server.await, PROXY_SOURCE, "the server's client was not the proxy");
}

/// Connect to a server that is never reached (the proxy refuses first) and return the error.
async fn refused(proxy: Proxy) -> OpenError {
    let (_listener, addr) = rt::listen().await;
    match ClientBuilder::<R>::new(&format!("ws://{addr}/")).proxy(proxy).connect().await {
        Ok(_) => panic!("connected despite the proxy's refusal"),
        Err(e) => e,
    }
}

#[test]
fn ws_through_http_connect() {
    run_for(PROXY_LIMIT, async {
        let tinyproxy = RealProxy::tinyproxy(false).await;
        ws_through(tinyproxy.url("http", None), &tinyproxy).await;
    })
}

#[test]
fn ws_through_http_connect_with_basic_auth() {
    run_for(PROXY_LIMIT, async {
        let tinyproxy = RealProxy::tinyproxy(true).await;
        ws_through(tinyproxy.url("http", Some((USER, PASSWORD))), &tinyproxy).await;
        // Credentials from the URL, percent-encoded (`%70` is `p`).
        let from_url = Proxy::from_url(&format!("http://{USER}:s3cret%70ass@127.0.0.1:{}", tinyproxy.port)).unwrap();
        ws_through(from_url, &tinyproxy).await;
    })
}

#[test]
fn http_connect_without_or_with_wrong_credentials_is_a_typed_407() {
    run_for(PROXY_LIMIT, async {
        let tinyproxy = RealProxy::tinyproxy(true).await;
        // Missing credentials: 407 with the challenge.
        let e = refused(tinyproxy.url("http", None)).await;
        assert_eq!(e.proxy_status(), Some(407), "{e:?}");
        let OpenError::Proxy(ProxyError::Refused { headers, .. }) = &e else { panic!("{e:?}") };
        assert!(
            headers.iter().any(|h| h.name.eq_ignore_ascii_case("proxy-authenticate")),
            "no Proxy-Authenticate in {headers:?}"
        );
        // Wrong credentials: tinyproxy 1.11 answers 401 (with WWW-Authenticate) where RFC
        // 9110 says 407; either way the status is handed over, typed.
        for credentials in [(USER, "wrong"), ("nobody", PASSWORD)] {
            let e = refused(tinyproxy.url("http", Some(credentials))).await;
            assert!(matches!(e.proxy_status(), Some(401 | 407)), "{credentials:?}: {e:?}");
        }
    })
}

#[test]
fn http_connect_to_a_closed_port_is_the_proxys_error_status() {
    run_for(PROXY_LIMIT, async {
        let tinyproxy = RealProxy::tinyproxy(false).await;
        // Nothing listens there: tinyproxy answers 500 (its "Unable to connect").
        let closed = peer::free_port();
        let url = format!("ws://127.0.0.1:{closed}/");
        let e = ClientBuilder::<R>::new(&url).proxy(tinyproxy.url("http", None)).connect().await.err();
        let status = e.as_ref().and_then(OpenError::proxy_status);
        assert!(status.is_some_and(|s| !(200..300).contains(&s)), "{e:?}");
    })
}

#[test]
fn ws_through_socks5() {
    run_for(PROXY_LIMIT, async {
        let microsocks = RealProxy::microsocks(false).await;
        ws_through(microsocks.url("socks5h", None), &microsocks).await;
        ws_through(microsocks.url("socks5", None), &microsocks).await;
    })
}

#[test]
fn ws_through_socks5_with_credentials() {
    run_for(PROXY_LIMIT, async {
        let microsocks = RealProxy::microsocks(true).await;
        ws_through(microsocks.url("socks5h", Some((USER, PASSWORD))), &microsocks).await;
    })
}

#[test]
fn socks5_without_or_with_wrong_credentials_is_typed() {
    run_for(PROXY_LIMIT, async {
        let microsocks = RealProxy::microsocks(true).await;
        let e = refused(microsocks.url("socks5h", None)).await;
        assert!(matches!(e, OpenError::Proxy(ProxyError::NoAcceptableAuth)), "{e:?}");
        let e = refused(microsocks.url("socks5h", Some((USER, "wrong")))).await;
        assert!(matches!(e, OpenError::Proxy(ProxyError::AuthRejected)), "{e:?}");
    })
}

#[test]
fn socks5_to_a_closed_port_is_a_typed_reply() {
    run_for(PROXY_LIMIT, async {
        let microsocks = RealProxy::microsocks(false).await;
        let url = format!("ws://127.0.0.1:{}/", peer::free_port());
        let e = ClientBuilder::<R>::new(&url).proxy(microsocks.url("socks5h", None)).connect().await.err();
        assert!(matches!(e, Some(OpenError::Proxy(ProxyError::Socks5Failed(_)))), "{e:?}");
    })
}

#[test]
fn wss_through_http_connect() {
    run_for(PROXY_LIMIT, async {
        let tinyproxy = RealProxy::tinyproxy(true).await;
        let proxy = tinyproxy.url("http", Some((USER, PASSWORD)));
        // By name (the proxy resolves it; SNI and the certificate check are for the name)
        // and by address.
        wss_through(proxy.clone(), "localhost", &tinyproxy).await;
        wss_through(proxy, "127.0.0.1", &tinyproxy).await;
    })
}

#[test]
fn wss_through_socks5() {
    run_for(PROXY_LIMIT, async {
        let microsocks = RealProxy::microsocks(true).await;
        let proxy = microsocks.url("socks5h", Some((USER, PASSWORD)));
        wss_through(proxy.clone(), "localhost", &microsocks).await;
        wss_through(proxy, "127.0.0.1", &microsocks).await;
    })
}

/// Proxy settings as an environment would hold them (never the process's own: tests run
/// on many threads).
fn env(vars: &[(&str, String)]) -> ProxyEnv {
    ProxyEnv::from_lookup(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()))
}

#[test]
fn environment_proxies_are_used_and_no_proxy_is_respected() {
    run_for(PROXY_LIMIT, async {
        let tinyproxy = RealProxy::tinyproxy(false).await;
        let microsocks = RealProxy::microsocks(false).await;
        let http = format!("http://127.0.0.1:{}", tinyproxy.port);
        let socks = format!("socks5h://127.0.0.1:{}", microsocks.port);

        // ws:// takes http_proxy, then all_proxy.
        for vars in [vec![("http_proxy", http.clone())], vec![("all_proxy", socks.clone())]] {
            let (addr, server) = echo_server(None).await;
            let ws = ClientBuilder::<R>::new(&format!("ws://{addr}/")).proxy_env(env(&vars)).connect().await;
            round_trip(ws.unwrap_or_else(|e| panic!("{vars:?}: {e:?}"))).await;
            assert_eq!(server.await, PROXY_SOURCE, "{vars:?}");
        }

        // NO_PROXY (upper case, by address; and a suffix that matches nothing here) means a
        // direct connection, even with a proxy that would fail.
        let dead = format!("http://127.0.0.1:{}", peer::free_port());
        for no_proxy in ["127.0.0.1", "example.com, 127.0.0.1", "*", "127.0.0.0/8"] {
            let vars = [("http_proxy", dead.clone()), ("NO_PROXY", no_proxy.to_owned())];
            let (addr, server) = echo_server(None).await;
            let ws = ClientBuilder::<R>::new(&format!("ws://{addr}/")).proxy_env(env(&vars)).connect().await;
            round_trip(ws.unwrap_or_else(|e| panic!("NO_PROXY={no_proxy}: {e:?}"))).await;
            assert_eq!(server.await, IpAddr::V4(Ipv4Addr::LOCALHOST), "NO_PROXY={no_proxy}");
        }

        // Without a NO_PROXY match the dead proxy is tried, and reported as such.
        let vars = [("http_proxy", dead.clone()), ("no_proxy", "example.com,.internal".to_owned())];
        let (_listener, addr) = rt::listen().await;
        let e = ClientBuilder::<R>::new(&format!("ws://{addr}/")).proxy_env(env(&vars)).connect().await.err();
        assert!(matches!(e, Some(OpenError::ProxyUnreachable(_))), "{e:?}");

        // The explicit options override the environment.
        let (addr, server) = echo_server(None).await;
        let ws = ClientBuilder::<R>::new(&format!("ws://{addr}/")).proxy_env(env(&vars)).no_proxy().connect().await;
        round_trip(ws.expect("no_proxy() connects directly")).await;
        assert_eq!(server.await, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let (addr, server) = echo_server(None).await;
        let url = format!("ws://{addr}/");
        let ws = ClientBuilder::<R>::new(&url).proxy_env(env(&vars)).proxy(tinyproxy.url("http", None)).connect().await;
        round_trip(ws.expect("proxy() wins over the environment")).await;
        assert_eq!(server.await, PROXY_SOURCE);

        // A setting that is not a proxy URL is an error, not a silent direct connection.
        let vars = [("http_proxy", "ftp://127.0.0.1:21".to_owned())];
        let (_listener, addr) = rt::listen().await;
        let e = ClientBuilder::<R>::new(&format!("ws://{addr}/")).proxy_env(env(&vars)).connect().await.err();
        assert!(matches!(e, Some(OpenError::Proxy(ProxyError::InvalidProxyUrl(_)))), "{e:?}");
    })
}

#[test]
fn wss_takes_https_proxy_not_http_proxy() {
    run_for(PROXY_LIMIT, async {
        let tinyproxy = RealProxy::tinyproxy(false).await;
        let dead = format!("http://127.0.0.1:{}", peer::free_port());
        let vars = [("http_proxy", dead), ("https_proxy", format!("http://127.0.0.1:{}", tinyproxy.port))];
        let ca = Ca::new("Tether proxy test CA");
        let leaf = ca.leaf();
        let acceptor = TlsAcceptor::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).expect("acceptor");
        let (addr, server) = echo_server(Some(acceptor)).await;
        let connector = TlsConnector::with_roots_from_pem(ca.pem.as_bytes()).expect("connector");
        let url = format!("wss://localhost:{}/", addr.port());
        let ws = ClientBuilder::<R>::new(&url).tls(connector).proxy_env(env(&vars)).connect().await;
        round_trip(ws.unwrap_or_else(|e| panic!("{e:?}\n{}", tinyproxy.output()))).await;
        assert_eq!(server.await, PROXY_SOURCE);
    })
}

/// A scripted "proxy" on a plain thread: reads the client's first bytes, then runs
/// `answer` on the socket. Returns its address.
fn scripted(answer: impl FnOnce(&mut std::net::TcpStream) + Send + 'static) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else { return };
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        answer(&mut s);
    });
    addr
}

/// Connect to a target (never reached) through the scripted HTTP proxy at `proxy`, with a
/// 400 ms handshake deadline.
async fn through_scripted(proxy: SocketAddr) -> OpenError {
    let config = short(|c| c.handshake_timeout(Duration::from_millis(400)));
    let proxy = Proxy::from_url(&format!("http://{proxy}")).unwrap();
    let result = ClientBuilder::<R>::new("ws://127.0.0.1:9/").config(config).proxy(proxy).connect().await;
    match result {
        Ok(_) => panic!("connected through a hostile proxy"),
        Err(e) => e,
    }
}

#[test]
fn hostile_http_proxies_are_typed_errors() {
    run(async {
        // Garbage instead of an HTTP answer.
        let addr = scripted(|s| {
            let _ = s.write_all(b"\x16\x03\x01garbage that is not HTTP\r\n\r\n");
        });
        let e = through_scripted(addr).await;
        assert!(matches!(e, OpenError::Proxy(ProxyError::PeerMisbehaved(_))), "{e:?}");

        // A head that never ends, larger than the cap: refused once over it, not read forever.
        let addr = scripted(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
            let line = format!("X-Padding: {}\r\n", "a".repeat(100));
            for _ in 0..1000 {
                if s.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
        });
        let e = through_scripted(addr).await;
        assert!(matches!(e, OpenError::Proxy(ProxyError::PeerMisbehaved(_))), "{e:?}");

        // A slowloris answer, one byte every 50 ms: the handshake deadline ends it.
        let addr = scripted(|s| {
            for byte in b"HTTP/1.1 200 Connection established\r\nX-Slow: ".iter().chain([b'a'; 1000].iter()) {
                if s.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let e = through_scripted(addr).await;
        assert!(e.is_timeout(), "{e:?}");
        assert!(matches!(e, OpenError::Proxy(ProxyError::Timeout { .. })), "{e:?}");

        // A proxy that hangs up mid-answer.
        let addr = scripted(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 Conn");
        });
        let e = through_scripted(addr).await;
        assert!(matches!(&e, OpenError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof), "{e:?}");

        // Tunnel bytes before the client spoke (a server may not speak first).
        let addr = scripted(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n");
            std::thread::sleep(Duration::from_millis(500));
        });
        let e = through_scripted(addr).await;
        assert!(matches!(e, OpenError::Proxy(ProxyError::UnexpectedTunnelData(_))), "{e:?}");

        // A proxy that accepts and says nothing: the deadline, typed.
        let addr = scripted(|_| std::thread::sleep(Duration::from_secs(2)));
        let e = through_scripted(addr).await;
        assert!(matches!(e, OpenError::Proxy(ProxyError::Timeout { .. })), "{e:?}");
    })
}
