//! Opening handshake over sockets: request inspection, subprotocol choice, extra headers,
//! reject with status and body, non-101 answers (hostile peers B1), `wss://` without TLS, and
//! frames glued to the request (hostile peers A11).

use std::io::Write;
use std::net::TcpListener;

use super::*;

#[test]
fn accept_inspects_request_and_chooses_subprotocol() {
    run(async {
        let (listener, addr) = rt::listen().await;
        let server = rt::spawn(async move {
            let up = Upgrade::<Stream, R>::read(rt::accept(&listener).await).await.expect("read");
            assert_eq!(up.method(), "GET");
            assert_eq!(up.path(), "/chat");
            assert_eq!(up.query(), Some("room=1"));
            assert_eq!(up.header("x-token"), Some("abc"));
            assert_eq!(up.origin(), Some("https://example.com"));
            assert_eq!(up.protocols(), ["superchat".to_string(), "chat".to_string()]);
            let options = AcceptOptions::new().protocol("chat").header("X-Server", "tether");
            let mut ws = up.accept_with(&options).await.expect("accept");
            assert_eq!(ws.protocol(), Some("chat"));
            let text = ws.recv_text().await.expect("text");
            ws.send_text(text).await.expect("send");
            assert!(ws.recv().await.expect("clean close").is_none());
        });
        let mut ws = ClientBuilder::<R>::new(&format!("ws://{addr}/chat?room=1"))
            .protocol("superchat")
            .protocol("chat")
            .header("X-Token", "abc")
            .origin("https://example.com")
            .connect()
            .await
            .expect("connect");
        assert_eq!(ws.protocol(), Some("chat"));
        ws.send_text("hi").await.unwrap();
        assert_eq!(ws.recv_text().await.unwrap(), "hi");
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        server.await;
    })
}

#[test]
fn accept_shortcut_without_subprotocol() {
    run(async {
        let (listener, addr) = rt::listen().await;
        let server = rt::spawn(async move {
            let ws = Ws::accept(rt::accept(&listener).await).await.expect("accept");
            echo(ws).await
        });
        let mut ws = ClientBuilder::<R>::new(&format!("ws://{addr}/")).protocol("chat").connect().await.unwrap();
        assert_eq!(ws.protocol(), None);
        ws.send_text("x").await.unwrap();
        assert_eq!(ws.recv_text().await.unwrap(), "x");
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(server.await.expect("closed").is_clean());
    })
}

#[test]
fn reject_sends_status_and_body() {
    run(async {
        let (listener, addr) = rt::listen().await;
        let server = rt::spawn(async move {
            for _ in 0..2 {
                let up = Upgrade::<Stream, R>::read(rt::accept(&listener).await).await.expect("read");
                assert_eq!(up.origin(), Some("https://evil.example"));
                up.reject(403, b"forbidden origin").await.expect("reject");
            }
        });
        let err = ClientBuilder::<R>::new(&format!("ws://{addr}/"))
            .origin("https://evil.example")
            .connect()
            .await
            .unwrap_err();
        assert_eq!(err.http_status(), Some(403), "{err}");
        let raw = std::thread::spawn(move || {
            let mut s = raw::connect(addr);
            let request = raw::request("/").replace("\r\n\r\n", "\r\nOrigin: https://evil.example\r\n\r\n");
            s.write_all(request.as_bytes()).unwrap();
            String::from_utf8(raw::read_to_end(&mut s)).unwrap()
        });
        server.await;
        let response = raw.join().unwrap();
        assert!(response.starts_with("HTTP/1.1 403"), "{response}");
        assert!(response.ends_with("forbidden origin"), "{response}");
    })
}

#[test]
fn non_101_answer_is_a_typed_error_with_status_and_headers() {
    // Hostile peers B1
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            raw::read_head(&mut s);
            s.write_all(b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n").unwrap();
        });
        let err = ClientBuilder::<R>::new(&format!("ws://{addr}/")).connect().await.unwrap_err();
        peer.join().unwrap();
        assert_eq!(err.http_status(), Some(302), "{err}");
        let headers = err.http_headers().expect("headers");
        assert!(headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("location") && &h.value[..] == b"http://elsewhere/"));
    })
}

#[test]
fn wss_without_tls_stream_is_a_typed_error() {
    run(async {
        // The suite is built with `rustls`: without trust roots (no roots feature) that is
        // the typed TLS error, with them the refused TCP connect (nothing listens on 9).
        let err = ClientBuilder::<R>::new("wss://127.0.0.1:9/").connect().await.unwrap_err();
        assert!(matches!(err, OpenError::Tls(tether_rt::TlsError::NoRoots(_)) | OpenError::Io(_)), "{err}");
        let err = ClientBuilder::<R>::new("http://x/").connect().await.unwrap_err();
        assert!(matches!(err, OpenError::Handshake(_)), "{err}");
    })
}

#[test]
fn frames_glued_to_the_request_are_not_lost() {
    // Hostile peers A11
    run(async {
        let (addr, server) = server(config(), |mut ws| async move {
            let text = ws.recv_text().await.expect("glued frame");
            ws.send_text(text).await.unwrap();
            ws.flush().await.unwrap();
        })
        .await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::connect(addr);
            let mut bytes = raw::request("/").into_bytes();
            bytes.extend(client_frame(true, TEXT, b"glued"));
            s.write_all(&bytes).unwrap();
            let head = raw::read_head(&mut s);
            assert!(head.starts_with("HTTP/1.1 101"), "{head}");
            raw::read_to_end(&mut s)
        });
        server.await;
        let rest = peer.join().unwrap();
        let frame = parse_frame(&rest).expect("a frame");
        assert_eq!((frame.header.opcode, frame.payload), (TEXT, &b"glued"[..]));
    })
}
