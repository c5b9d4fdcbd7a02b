//! Hostile peers against the server handshake over sockets (hostile peers A1–A3, A5):
//! slowloris against the one total deadline, and header floods answered with 431.

use std::io::Write;
use std::time::Instant;

use super::*;

/// Serve one connection's handshake with `config`; returns the result and its duration.
async fn read_one(
    config: Config,
) -> (std::net::SocketAddr, impl std::future::Future<Output = (Result<(), OpenError>, Duration)>) {
    let (listener, addr) = rt::listen().await;
    let task = rt::spawn(async move {
        let stream = rt::accept(&listener).await;
        let start = Instant::now();
        let result = Upgrade::<Stream, R>::read_with_config(stream, config).await.map(drop);
        (result, start.elapsed())
    });
    (addr, task)
}

#[test]
fn slowloris_is_cut_at_the_total_handshake_deadline() {
    // Hostile peers A1: bytes keep arriving, but they do not reset the deadline.
    run(async {
        let config = short(|b| b.handshake_timeout(Duration::from_millis(600)));
        let (addr, server) = read_one(config).await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::connect(addr);
            let drip = b"GET / HTTP/1.1\r\nHost: x\r\n".iter().chain(b"X-A: b\r\n".iter().cycle());
            let start = Instant::now();
            for byte in drip {
                if s.write_all(&[*byte]).is_err() || start.elapsed() > Duration::from_secs(4) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let (result, elapsed) = server.await;
        peer.join().unwrap();
        assert!(matches!(result, Err(OpenError::Handshake(HandshakeError::Timeout { .. }))), "{result:?}");
        assert!(elapsed >= Duration::from_millis(550), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    })
}

fn flood(addr: std::net::SocketAddr, bytes: Vec<u8>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = raw::connect(addr);
        let _ = s.write_all(&bytes);
        String::from_utf8_lossy(&raw::read_to_end(&mut s)).into_owned()
    })
}

#[test]
fn one_huge_header_gets_431_and_close() {
    // Hostile peers A2 (16 KiB of one header, no end of head)
    run(async {
        let (addr, server) = read_one(config()).await;
        let mut bytes = b"GET / HTTP/1.1\r\nX: ".to_vec();
        bytes.extend(std::iter::repeat_n(b'a', 16 << 10));
        let peer = flood(addr, bytes);
        let (result, _) = server.await;
        let response = peer.join().unwrap();
        assert!(matches!(result, Err(OpenError::Handshake(ref e)) if e.http_status() == Some(431)), "{result:?}");
        assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    })
}

#[test]
fn ten_thousand_headers_get_431_and_close() {
    // Hostile peers A3
    run(async {
        let (addr, server) = read_one(config()).await;
        let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..10_000 {
            bytes.extend_from_slice(b"a: x\r\n");
        }
        let peer = flood(addr, bytes);
        let (result, _) = server.await;
        let response = peer.join().unwrap();
        assert!(matches!(result, Err(OpenError::Handshake(ref e)) if e.http_status() == Some(431)), "{result:?}");
        assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    })
}

#[test]
fn invalid_request_gets_its_error_response() {
    // Hostile peers A5: a wrong version is answered 426 before the stream is dropped.
    run(async {
        let (addr, server) = read_one(config()).await;
        let request = raw::request("/").replace("Version: 13", "Version: 8");
        let peer = flood(addr, request.into_bytes());
        let (result, _) = server.await;
        let response = peer.join().unwrap();
        assert!(matches!(result, Err(OpenError::Handshake(_))), "{result:?}");
        assert!(response.starts_with("HTTP/1.1 426"), "{response}");
    })
}
