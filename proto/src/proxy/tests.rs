//! Tests of the proxy exchanges against hand-written proxy answers (HTTP CONNECT, SOCKS5 with
//! and without authentication), their limits and deadlines, and the curl-style choice of a
//! proxy from environment values. Real proxies are exercised by the adapters' tests.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;

const T: Duration = Duration::from_secs(10);

fn wire(h: &mut ProxyHandshake) -> Vec<u8> {
    let mut out = Vec::new();
    h.drain_transmit(&mut out);
    out
}

fn at(secs: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(secs)
}

fn http(url: &str, host: &str, port: u16) -> ProxyHandshake {
    ProxyHandshake::new(&Proxy::from_url(url).unwrap(), host, port, T).unwrap()
}

// RFC 9110 §9.3.6: CONNECT names host:port as the request target and in Host; credentials go
// in Proxy-Authorization (RFC 9110 §11.7.2, Basic per RFC 7617).
#[test]
fn http_connect_request_bytes() {
    let mut h = http("http://proxy:3128", "echo.example", 443);
    assert_eq!(wire(&mut h), b"CONNECT echo.example:443 HTTP/1.1\r\nHost: echo.example:443\r\n\r\n");
    let mut h = http("http://proxy:3128", "::1", 9001);
    assert_eq!(wire(&mut h), b"CONNECT [::1]:9001 HTTP/1.1\r\nHost: [::1]:9001\r\n\r\n");
    let mut h = http("http://Aladdin:open%20sesame@proxy:3128", "h", 80);
    let sent = String::from_utf8(wire(&mut h)).unwrap();
    assert!(sent.contains("\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"), "{sent}");
    assert_eq!(h.buffered_transmit(), 0);
}

#[test]
fn http_connect_opens_on_2xx_in_any_chunking_and_keeps_what_follows() {
    let answer: &[u8] =
        b"HTTP/1.1 200 Connection established\r\nProxy-Agent: test\r\nContent-Length: 5\r\n\r\n\x16\x03\x01tls";
    for cut in 0..answer.len() {
        let mut h = http("http://p:1", "h", 443);
        let first = h.receive(at(0), &answer[..cut]).unwrap();
        let open = match first {
            Some(tunnel) => {
                let mut tunnel = tunnel;
                tunnel.extend(h.receive(at(0), &answer[cut..]).unwrap().unwrap());
                tunnel
            }
            None => h.receive(at(0), &answer[cut..]).unwrap().unwrap(),
        };
        assert_eq!(open, b"\x16\x03\x01tls", "cut {cut}: a 2xx answer's length header is ignored");
        assert_eq!(h.poll_timeout(), None);
    }
    let mut h = http("http://p:1", "h", 443);
    assert_eq!(h.receive(at(0), b"HTTP/1.0 204 OK\r\n\r\n").unwrap(), Some(vec![]));
}

#[test]
fn http_connect_refusals_are_typed_and_sticky() {
    let mut h = http("http://p:1", "h", 443);
    let err = h
        .receive(at(0), b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n")
        .unwrap_err();
    match &err {
        ProxyError::Refused { status: 407, headers } => {
            assert!(headers.iter().any(|h| h.name.eq_ignore_ascii_case("proxy-authenticate")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.receive(at(0), b"more").unwrap_err(), err);
    assert_eq!(h.error(), Some(&err));
    assert_eq!(h.poll_timeout(), None);

    let mut h = http("http://p:1", "h", 443);
    assert!(matches!(
        h.receive(at(0), b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n"),
        Err(ProxyError::PeerMisbehaved(_))
    ));
    let mut h = http("http://p:1", "h", 443);
    assert!(matches!(h.receive(at(0), b"SSH-2.0-OpenSSH\r\n\r\n"), Err(ProxyError::PeerMisbehaved(_))));
}

// Hostile peers B4 for proxies: the answer's head is capped while it arrives.
#[test]
fn http_connect_answer_is_bounded() {
    let mut h = http("http://p:1", "h", 443);
    h.receive(at(0), b"HTTP/1.1 200 OK\r\n").unwrap();
    let line = b"X-Filler: 0123456789012345678901234567890123456789012345678901234567890123456789\r\n";
    let mut err = None;
    for _ in 0..200 {
        match h.receive(at(0), line) {
            Ok(None) => {}
            Ok(Some(_)) => panic!("opened"),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert!(
        matches!(
            err,
            Some(ProxyError::PeerMisbehaved(
                PeerMisbehaved::HeadTooLarge { .. } | PeerMisbehaved::TooManyHeaders { .. }
            ))
        ),
        "{err:?}"
    );
}

#[test]
fn deadlines_count_from_the_first_instant_and_fail_once() {
    for url in ["http://p:1", "socks5://p:1"] {
        let mut h = http(url, "h", 443);
        assert_eq!(h.poll_timeout(), None, "no clock before the first instant");
        h.handle_timeout(at(5));
        assert_eq!(h.poll_timeout(), Some(at(15)));
        h.handle_timeout(at(14));
        assert_eq!(h.error(), None);
        assert_eq!(h.receive(at(14), b"").unwrap(), None);
        h.handle_timeout(at(15));
        assert_eq!(h.error(), Some(&ProxyError::Timeout { after: T }), "{url}");
        assert_eq!(h.poll_timeout(), None);
        assert_eq!(h.receive(at(16), b"HTTP/1.1 200 OK\r\n\r\n").unwrap_err(), ProxyError::Timeout { after: T });
    }
}

fn socks(url: &str, host: &str, port: u16) -> ProxyHandshake {
    ProxyHandshake::new(&Proxy::from_url(url).unwrap(), host, port, T).unwrap()
}

// RFC 1928 §3, §4: greeting, method choice, CONNECT with a domain name (the proxy resolves
// it), a reply with the bound address, then the tunnel.
#[test]
fn socks5_without_credentials() {
    let mut s = socks("socks5h://p", "echo.example", 443);
    assert_eq!(wire(&mut s), [5, 1, 0]);
    assert_eq!(s.receive(at(0), &[5, 0]).unwrap(), None);
    let mut expected = vec![5, 1, 0, 3, 12];
    expected.extend_from_slice(b"echo.example");
    expected.extend_from_slice(&443u16.to_be_bytes());
    assert_eq!(wire(&mut s), expected);
    assert_eq!(s.receive(at(0), &[5, 0, 0, 1, 127, 0, 0, 1, 0x1f]).unwrap(), None);
    assert_eq!(s.receive(at(0), &[0x90, b'x']).unwrap(), Some(vec![b'x']));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn socks5_addresses_are_typed() {
    let mut s = socks("socks5://p", "10.1.2.3", 80);
    wire(&mut s);
    s.receive(at(0), &[5, 0]).unwrap();
    assert_eq!(wire(&mut s), [5, 1, 0, 1, 10, 1, 2, 3, 0, 80]);
    let mut s = socks("socks5://p", "::1", 80);
    wire(&mut s);
    s.receive(at(0), &[5, 0]).unwrap();
    let mut expected = vec![5, 1, 0, 4];
    expected.extend_from_slice(&[0; 15]);
    expected.extend_from_slice(&[1, 0, 80]);
    assert_eq!(wire(&mut s), expected);
    let long = "a".repeat(256);
    assert!(matches!(
        ProxyHandshake::new(&Proxy::from_url("socks5://p").unwrap(), &long, 1, T),
        Err(ProxyError::InvalidTarget(_))
    ));
    assert!(matches!(
        ProxyHandshake::new(&Proxy::from_url("socks5://:x@p").unwrap(), "h", 1, T),
        Err(ProxyError::InvalidTarget(_))
    ));
    assert!(matches!(
        ProxyHandshake::new(&Proxy::from_url("http://p").unwrap(), "h\r\nX: y", 1, T),
        Err(ProxyError::InvalidTarget(_))
    ));
}

// RFC 1929: username/password after the proxy chooses method 2.
#[test]
fn socks5_with_credentials() {
    let mut s = socks("socks5://user:pa%3Ass@p", "h", 1);
    assert_eq!(wire(&mut s), [5, 2, 0, 2]);
    s.receive(at(0), &[5, 2]).unwrap();
    assert_eq!(wire(&mut s), b"\x01\x04user\x05pa:ss");
    s.receive(at(0), &[1, 0]).unwrap();
    assert_eq!(wire(&mut s), [5, 1, 0, 3, 1, b'h', 0, 1]);
    // A domain in the reply, fed one byte at a time.
    let reply = [5, 0, 0, 3, 4, b'p', b'r', b'o', b'x', 0, 1];
    for (i, b) in reply.iter().enumerate() {
        let got = s.receive(at(0), &[*b]).unwrap();
        assert_eq!(got.is_some(), i + 1 == reply.len(), "byte {i}");
    }
    // The proxy may also accept without authentication even though we offered it.
    let mut s = socks("socks5://user:pw@p", "h", 1);
    wire(&mut s);
    s.receive(at(0), &[5, 0]).unwrap();
    assert_eq!(wire(&mut s)[..4], [5, 1, 0, 3]);
}

#[test]
fn socks5_failures_are_typed() {
    let fail = |url: &str, replies: &[&[u8]]| {
        let mut s = socks(url, "h", 1);
        let mut last = Ok(None);
        for r in replies {
            wire(&mut s);
            last = s.receive(at(0), r);
            if last.is_err() {
                break;
            }
        }
        last.unwrap_err()
    };
    assert_eq!(fail("socks5://p", &[&[5, 0xff]]), ProxyError::NoAcceptableAuth);
    assert!(matches!(fail("socks5://p", &[&[5, 2]]), ProxyError::MalformedSocks5(_)), "method 2 was not offered");
    assert!(matches!(fail("socks5://p", &[&[4, 0]]), ProxyError::MalformedSocks5(_)));
    assert_eq!(fail("socks5://u:p@p", &[&[5, 2], &[1, 1]]), ProxyError::AuthRejected);
    assert_eq!(fail("socks5://p", &[&[5, 0], &[5, 5, 0, 1]]), ProxyError::Socks5Failed(Socks5Reply::ConnectionRefused));
    assert_eq!(fail("socks5://p", &[&[5, 0], &[5, 0x42, 0, 1]]), ProxyError::Socks5Failed(Socks5Reply::Other(0x42)));
    assert!(matches!(fail("socks5://p", &[&[5, 0], &[5, 0, 0, 9]]), ProxyError::MalformedSocks5(_)));
    assert!(matches!(fail("socks5://p", &[&[5, 0], &[4, 0, 0, 1, 0, 0, 0, 0, 0, 0]]), ProxyError::MalformedSocks5(_)));
}

#[test]
fn proxy_urls_parse_as_curl_reads_them() {
    let p = Proxy::from_url("proxy.corp:8080").unwrap();
    assert_eq!((p.kind(), p.host(), p.port(), p.credentials()), (ProxyKind::HttpConnect, "proxy.corp", 8080, None));
    assert_eq!(Proxy::from_url("HTTP://p").unwrap().port(), 80);
    assert_eq!(Proxy::from_url("socks5://p/").unwrap().port(), 1080);
    assert_eq!(Proxy::from_url("socks5://p").unwrap().kind(), ProxyKind::Socks5 { remote_dns: false });
    assert_eq!(Proxy::from_url(" http://[fd00::1]:3128/ignored?x ").unwrap().host(), "fd00::1");
    assert_eq!(Proxy::from_url("http://u@p").unwrap().credentials(), Some(("u", "")));
    assert_eq!(Proxy::from_url("http://p").unwrap().with_credentials("a", "b").credentials(), Some(("a", "b")));
    for bad in [
        "https://p:1",
        "ftp://p",
        "http://",
        "http://p:99999",
        "http://p:x",
        "http://[::1",
        "http://%zz@p",
        "http://p q",
    ] {
        assert!(matches!(Proxy::from_url(bad), Err(ProxyError::InvalidProxyUrl(_))), "{bad}");
    }
}

#[test]
fn environment_choice_follows_curl() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        ProxyEnv::from_lookup(move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| String::from(*v)))
    };
    let host = |e: &ProxyEnv, secure| e.proxy_for(secure, "x.example").unwrap().map(|p| String::from(p.host()));
    let e = env(&[("https_proxy", "http://lower"), ("HTTPS_PROXY", "http://upper")]);
    assert_eq!(host(&e, true).as_deref(), Some("lower"), "lower case wins");
    assert_eq!(host(&e, false), None, "ws:// does not use https_proxy");
    let e = env(&[("HTTPS_PROXY", "http://upper"), ("HTTP_PROXY", "http://httpoxy")]);
    assert_eq!(host(&e, true).as_deref(), Some("upper"));
    assert_eq!(host(&e, false), None, "upper-case HTTP_PROXY is ignored, as curl does");
    let e = env(&[("http_proxy", "http://plain"), ("ALL_PROXY", "socks5://all"), ("https_proxy", "  ")]);
    assert_eq!(host(&e, false).as_deref(), Some("plain"));
    assert_eq!(host(&e, true).as_deref(), Some("all"), "empty counts as unset; all_proxy is the fallback");
    let e = env(&[("all_proxy", "gopher://x")]);
    assert!(matches!(e.proxy_for(true, "h"), Err(ProxyError::InvalidProxyUrl(_))));
    let e = env(&[("all_proxy", "http://p"), ("NO_PROXY", "x.example")]);
    assert_eq!(host(&e, true), None);
    assert!(e.no_proxy().matches("X.EXAMPLE."));
}

#[test]
fn no_proxy_matching() {
    let n = NoProxy::parse(
        "localhost, .internal,example.com\t10.0.0.0/8,192.168.1.5, [::1], fd00::/8, bogus/33, 1.2.3.4/40",
    );
    for yes in [
        "localhost",
        "a.internal",
        "internal",
        "example.com",
        "a.b.example.com",
        "10.200.3.4",
        "192.168.1.5",
        "::1",
        "[::1]",
        "fd12::1",
        "::ffff:10.0.0.1",
        "EXAMPLE.COM.",
    ] {
        assert!(n.matches(yes), "{yes}");
    }
    for no in ["badexample.com", "example.org", "11.0.0.1", "192.168.1.6", "::2", "fe80::1", "1.2.3.4", "bogus"] {
        assert!(!n.matches(no), "{no}");
    }
    assert!(NoProxy::parse("*").matches("anything"));
    assert!(!NoProxy::parse("").matches("anything"));
    assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8"));
    // An entry's optional port is accepted and not compared.
    let n = NoProxy::parse("example.com:8080, 127.0.0.1:9000, [::1]:443");
    for yes in ["example.com", "a.example.com", "127.0.0.1", "::1"] {
        assert!(n.matches(yes), "{yes}");
    }
    assert!(!n.matches("example.org"));
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Hostile peers (proxies): any bytes in any chunking end in an open tunnel, a typed
        // error or a wait — never a panic — and the SOCKS5 reply buffer never outgrows the
        // longest reply (262 bytes).
        #[test]
        fn any_answer_in_any_chunking_is_handled(
            socks_kind in any::<bool>(),
            creds in any::<bool>(),
            data in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(0usize..40, 0..20),
        ) {
            let url = match (socks_kind, creds) {
                (true, true) => "socks5://u:p@p",
                (true, false) => "socks5h://p",
                (false, true) => "http://u:p@p",
                (false, false) => "http://p",
            };
            let mut h = ProxyHandshake::new(&Proxy::from_url(url).unwrap(), "target.example", 443, T).unwrap();
            let mut rest = &data[..];
            for cut in cuts.iter().copied().chain([usize::MAX]) {
                let (piece, after) = rest.split_at(cut.min(rest.len()));
                rest = after;
                let _ = wire(&mut h);
                match h.receive(at(1), piece) {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) => {}
                }
                if let Inner::Socks5(s) = &h.inner {
                    prop_assert!(s.buffered_reply() <= 262);
                }
            }
        }
    }
}
