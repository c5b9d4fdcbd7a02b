//! `tether_server::Server` over real sockets: routes with path parameters and queries,
//! plain pages, the standard HTTP answers (404, 405, 426, 429), refusals before accepting
//! (401, 403), per-route configuration, the per-IP cap, and graceful shutdown (every live
//! connection sees 1001 and `serve` returns; a handler that ignores its socket is dropped at
//! the deadline), and the counters of `Server::stats`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tether_rt::Shutdown;
use tether_server::{Response, Served, Server, ServerStats, StatsSnapshot};

use super::*;

/// A running server: its address, its shutdown signal and the `serve` future's result.
struct Running {
    addr: SocketAddr,
    shutdown: Shutdown,
    served: std::pin::Pin<Box<dyn Future<Output = Served> + Send>>,
}

impl Running {
    /// Trigger the shutdown and wait for `serve` to return.
    async fn stop(self) -> Served {
        self.shutdown.trigger();
        self.served.await
    }
}

async fn start(server: Server<R>) -> Running {
    let (listener, addr) = rt::listen().await;
    let shutdown = Shutdown::new();
    let signal = shutdown.triggered();
    let served = rt::spawn(async move { server.serve(listener, signal).await });
    Running { addr, shutdown, served: Box::pin(served) }
}

/// Send `request` on a plain TCP connection (from a thread) and read the whole answer.
async fn http(addr: SocketAddr, request: &str) -> String {
    let request = request.to_owned();
    let peer = std::thread::spawn(move || {
        let mut s = raw::connect(addr);
        s.write_all(request.as_bytes()).unwrap();
        String::from_utf8(raw::read_to_end(&mut s)).unwrap()
    });
    while !peer.is_finished() {
        sleep::<R>(Duration::from_millis(5)).await;
    }
    peer.join().unwrap()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
}

/// An echo handler for socket routes: accept, then echo until the connection ends.
async fn echo_handler(incoming: tether_server::Incoming<R>) {
    if let Ok(ws) = incoming.accept().await {
        echo(ws).await;
    }
}

fn chat_page() -> Server<R> {
    Server::<R>::new()
        .page("/", |_| Response::html("<h1>chat</h1>"))
        .page("/rooms/{room}", |req| {
            Response::text(200, format!("room {}", req.params().get("room").unwrap_or_default()))
        })
        .socket("/ws/{room}", |incoming| async move {
            let room = incoming.params().get("room").unwrap_or_default().to_owned();
            let name = match incoming.query().ok().and_then(|q| q.get("name").map(str::to_owned)) {
                Some(name) => name,
                None => {
                    let _ = incoming.reject(400, b"name required").await;
                    return;
                }
            };
            let Ok(mut ws) = incoming.accept().await else { return };
            let _ = ws.send_text(format!("{room} {name}")).await;
            echo(ws).await;
        })
}

#[test]
fn routes_hand_params_and_query_to_the_handler_and_pages_answer() {
    run(async {
        let server = start(chat_page()).await;
        let addr = server.addr;
        let mut ws =
            ClientBuilder::<R>::new(&format!("ws://{addr}/ws/caf%C3%A9?name=Ada+L")).connect().await.expect("connect");
        assert_eq!(ws.recv_text().await.unwrap(), "café Ada L");
        ws.send_text("hi").await.unwrap();
        assert_eq!(ws.recv_text().await.unwrap(), "hi");

        let page = http(addr, &get("/")).await;
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(page.contains("Content-Type: text/html; charset=utf-8\r\n"), "{page}");
        assert!(page.ends_with("\r\n\r\n<h1>chat</h1>"), "{page}");
        let room = http(addr, &get("/rooms/a%20b")).await;
        assert!(room.ends_with("room a b"), "{room}");
        let head = http(addr, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"), "{head}");
        assert!(head.contains("Content-Length: 13\r\n"), "{head}");

        // Missing name: the handler's 400, before accepting.
        let err = ClientBuilder::<R>::new(&format!("ws://{addr}/ws/lobby")).connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(400), "{err}");

        ws.close(CloseCode::NORMAL, "").await.unwrap();
        let served = server.stop().await;
        assert_eq!(served.abandoned, 0);
        assert!(served.accepted >= 5, "{served:?}");
    })
}

#[test]
fn unknown_paths_wrong_methods_and_plain_requests_get_real_http_answers() {
    run(async {
        let server = start(chat_page()).await;
        let addr = server.addr;
        let cases: &[(&str, &str, &[&str])] = &[
            (&get("/nowhere"), "HTTP/1.1 404 Not Found\r\n", &["no route matches the path"]),
            (&get("/ws/%FF"), "HTTP/1.1 400 Bad Request\r\n", &[]),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", "HTTP/1.1 405", &["Allow: GET, HEAD\r\n"]),
            ("DELETE /ws/lobby HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405", &["Allow: GET\r\n"]),
            (
                &get("/ws/lobby?name=a"),
                "HTTP/1.1 426 Upgrade Required\r\n",
                &["Upgrade: websocket\r\n", "Connection: Upgrade, close\r\n"],
            ),
            (
                // An upgrade with the wrong version: its own 426.
                &raw::request("/ws/lobby?name=a").replace("Version: 13", "Version: 8"),
                "HTTP/1.1 426",
                &["Sec-WebSocket-Version: 13\r\n"],
            ),
            // An upgrade to a page is served the page.
            (&raw::request("/"), "HTTP/1.1 200 OK\r\n", &["<h1>chat</h1>"]),
        ];
        for (request, status, contains) in cases {
            let response = http(addr, request).await;
            assert!(response.starts_with(status), "{request:?} -> {response}");
            for needle in *contains {
                assert!(response.contains(needle), "{request:?} -> {response} lacks {needle:?}");
            }
        }
        assert_eq!(server.stop().await.abandoned, 0);
    })
}

#[test]
fn handlers_refuse_with_401_and_403_before_accepting() {
    run(async {
        let server = start(Server::<R>::new().socket("/private", |incoming| async move {
            match incoming.header("Authorization") {
                None => {
                    let _ = incoming.respond(401, &[("WWW-Authenticate", "Bearer")], b"").await;
                }
                Some("Bearer good") => echo_handler(incoming).await,
                Some(_) => {
                    let _ = incoming.reject(403, b"forbidden").await;
                }
            }
        }))
        .await;
        let url = format!("ws://{}/private", server.addr);
        let err = ClientBuilder::<R>::new(&url).connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(401), "{err}");
        let challenge = err.http_headers().expect("headers");
        assert!(challenge.iter().any(|h| h.name.eq_ignore_ascii_case("www-authenticate") && &h.value[..] == b"Bearer"));
        let err = ClientBuilder::<R>::new(&url).header("Authorization", "Bearer bad").connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(403), "{err}");
        let mut ws = ClientBuilder::<R>::new(&url).header("Authorization", "Bearer good").connect().await.unwrap();
        ws.send_text("in").await.unwrap();
        assert_eq!(ws.recv_text().await.unwrap(), "in");
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        server.stop().await;
    })
}

#[test]
fn each_socket_route_runs_under_its_own_config() {
    run(async {
        let small = short(|b| b.max_message_size(64).max_frame_size(64));
        let server = start(
            Server::<R>::new().socket_with_config("/small", small, echo_handler).socket("/big", echo_handler).socket(
                "/chosen",
                |incoming| async move {
                    // The handler's own choice wins over the route's.
                    let config = short(|b| b.max_message_size(32).max_frame_size(32));
                    if let Ok(ws) = incoming.accept_with(AcceptOptions::new().config(config)).await {
                        echo(ws).await;
                    }
                },
            ),
        )
        .await;
        let message = "x".repeat(100);
        for (path, fits) in [("/small", false), ("/big", true), ("/chosen", false)] {
            let mut ws = ClientBuilder::<R>::new(&format!("ws://{}{path}", server.addr)).connect().await.unwrap();
            ws.send_text(message.as_str()).await.unwrap();
            let answer = ws.recv_text().await;
            if fits {
                assert_eq!(answer.unwrap(), message);
                ws.close(CloseCode::NORMAL, "").await.unwrap();
            } else {
                let Err(Error::Closed(closed)) = answer else { panic!("{path}: {answer:?}") };
                assert_eq!(closed.code, CloseCode::MESSAGE_TOO_BIG, "{path}");
            }
        }
        server.stop().await;
    })
}

#[test]
fn connections_past_the_per_ip_cap_are_answered_429() {
    run(async {
        let server = start(Server::<R>::new().max_connections_per_ip(Some(2)).socket("/", echo_handler)).await;
        let url = format!("ws://{}/", server.addr);
        let mut first = ClientBuilder::<R>::new(&url).connect().await.unwrap();
        let mut second = ClientBuilder::<R>::new(&url).connect().await.unwrap();
        let err = ClientBuilder::<R>::new(&url).connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(429), "{err}");
        // A connection that ends gives its place back.
        first.close(CloseCode::NORMAL, "").await.unwrap();
        let mut third = None;
        for _ in 0..200 {
            match ClientBuilder::<R>::new(&url).connect().await {
                Ok(ws) => {
                    third = Some(ws);
                    break;
                }
                Err(e) => {
                    assert_eq!(e.http_status(), Some(429), "{e}");
                    sleep::<R>(Duration::from_millis(10)).await;
                }
            }
        }
        let mut third = third.expect("a place was given back");
        for ws in [&mut second, &mut third] {
            ws.send_text("ok").await.unwrap();
            assert_eq!(ws.recv_text().await.unwrap(), "ok");
        }
        server.stop().await;
    })
}

/// How many connections the shutdown test opens: 1 000 where file descriptors allow.
fn many() -> usize {
    let limit = tether_tests::mem::raise_nofile(2 * 1000 + 256) as usize;
    1000.min(limit.saturating_sub(256) / 2)
}

#[test]
fn shutdown_sends_1001_to_every_live_connection_and_serve_returns() {
    run_for(Duration::from_secs(60), async {
        let n = many();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let server =
            start(Server::<R>::new().shutdown_timeout(Duration::from_secs(20)).socket("/live/{id}", move |incoming| {
                let counter = counter.clone();
                async move {
                    let Ok(mut ws) = incoming.accept().await else { return };
                    counter.fetch_add(1, Ordering::SeqCst);
                    while let Ok(Some(_)) = ws.recv().await {}
                }
            }))
            .await;
        let addr = server.addr;
        let mut peers = Vec::with_capacity(n);
        for batch in 0..n.div_ceil(100) {
            let connects: Vec<_> = (batch * 100..n.min(batch * 100 + 100))
                .map(|i| {
                    rt::spawn(async move {
                        ClientBuilder::<R>::new(&format!("ws://{addr}/live/{i}")).connect().await.expect("connect")
                    })
                })
                .collect();
            for connect in connects {
                let mut ws = connect.await;
                peers.push(rt::spawn(async move {
                    let end = ws.recv().await;
                    (end.map(|m| m.is_none()), ws.closed())
                }));
            }
        }
        while accepted.load(Ordering::SeqCst) < n {
            sleep::<R>(Duration::from_millis(10)).await;
        }
        let served = server.stop().await;
        assert_eq!(served.abandoned, 0, "{served:?}");
        assert_eq!(served.accepted, n as u64);
        for peer in peers {
            let (end, closed) = peer.await;
            assert_eq!(end.ok(), Some(true), "a clean close");
            let closed = closed.expect("closed");
            assert_eq!(closed.code, CloseCode::GOING_AWAY, "{closed:?}");
            assert_eq!(closed.cause, CloseCause::PeerInitiated, "{closed:?}");
        }
    })
}

#[test]
fn a_handler_that_ignores_its_socket_is_dropped_at_the_deadline() {
    run(async {
        let server = start(Server::<R>::new().shutdown_timeout(Duration::from_millis(300)).socket(
            "/stuck",
            |incoming| async move {
                let Ok(_ws) = incoming.accept().await else { return };
                // Never reads: only the deadline ends this task.
                std::future::pending::<()>().await;
            },
        ))
        .await;
        let mut ws = ClientBuilder::<R>::new(&format!("ws://{}/stuck", server.addr)).connect().await.unwrap();
        sleep::<R>(Duration::from_millis(50)).await;
        let served = server.stop().await;
        assert_eq!(served.abandoned, 1, "{served:?}");
        // Dropping the connection sends 1001 too.
        let end = ws.recv().await;
        let closed = match end {
            Ok(None) => ws.closed().expect("closed"),
            Err(Error::Closed(closed)) => closed,
            other => panic!("{other:?}"),
        };
        assert_eq!(closed.code, CloseCode::GOING_AWAY, "{closed:?}");
    })
}

#[test]
fn a_full_handshake_limit_closes_new_connections_unread() {
    run(async {
        let server = start(Server::<R>::new().handshake_limit(1).socket("/", echo_handler)).await;
        let addr = server.addr;
        // A client that sends nothing holds the only handshake permit.
        let idle = std::thread::spawn(move || {
            let mut s = raw::connect(addr);
            std::thread::sleep(Duration::from_millis(300));
            let _ = s.write_all(b"G");
        });
        sleep::<R>(Duration::from_millis(100)).await;
        let refused = http(addr, &get("/")).await;
        assert_eq!(refused, "", "closed unread while the limit is full");
        while !idle.is_finished() {
            sleep::<R>(Duration::from_millis(5)).await;
        }
        let served = server.stop().await;
        assert!(served.refused >= 1, "{served:?}");
    })
}

#[test]
fn a_tls_server_serves_wss_routes_and_drops_plain_http_and_shuts_down_with_1001() {
    use tether_rt::{TlsAcceptor, TlsConnector};
    use tether_tests::pki::Ca;
    run(async {
        let ca = Ca::new("Tether serve CA");
        let leaf = ca.leaf();
        let acceptor = TlsAcceptor::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).expect("acceptor");
        let server = start(Server::<R>::new().tls(acceptor).socket("/echo/{id}", |incoming| async move {
            let id = incoming.params().get("id").unwrap_or_default().to_owned();
            let Ok(mut ws) = incoming.accept().await else { return };
            let _ = ws.send_text(format!("hello {id}")).await;
            echo(ws).await;
        }))
        .await;
        let url = format!("wss://127.0.0.1:{}/echo/7", server.addr.port());
        let connector = TlsConnector::with_roots_from_pem(ca.pem.as_bytes()).expect("connector");
        let mut ws = ClientBuilder::<R>::new(&url).tls(connector.clone()).connect().await.expect("wss connect");
        assert_eq!(ws.recv_text().await.unwrap(), "hello 7");
        ws.send_text("over TLS").await.unwrap();
        assert_eq!(ws.recv_text().await.unwrap(), "over TLS");

        // Plain HTTP to the TLS port: no answer in clear text, the connection is dropped.
        let answer = http(server.addr, &get("/echo/7")).await;
        assert!(!answer.starts_with("HTTP/1.1"), "a TLS port answered plain HTTP: {answer:?}");

        // A ws:// client to the TLS port fails to open, with a typed error.
        let plain = ClientBuilder::<R>::new(&format!("ws://127.0.0.1:{}/echo/8", server.addr.port())).connect().await;
        assert!(plain.is_err(), "a plain upgrade succeeded on the TLS port");

        // Shutdown: the live wss connection gets 1001 and serve returns.
        let shutdown = server.shutdown.clone();
        let served = rt::spawn(server.stop());
        // A receive ends cleanly (`Ok(None)`) once the server's close handshake completes.
        assert!(matches!(ws.recv().await, Ok(None)), "the close handshake completed cleanly");
        let closed = ws.closed().expect("closed");
        assert_eq!(closed.code, CloseCode::GOING_AWAY, "{closed:?}");
        assert_eq!(closed.cause, CloseCause::PeerInitiated, "{closed:?}");
        let served = served.await;
        drop(shutdown);
        assert_eq!(served.abandoned, 0, "{served:?}");
    })
}

/// Wait (bounded) until the server's counters satisfy `ok`; they are updated by the
/// connection tasks, a moment after the client sees the outcome.
async fn stats_until(stats: &ServerStats, what: &str, ok: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
    for _ in 0..2000 {
        let now = stats.snapshot();
        if ok(&now) {
            return now;
        }
        sleep::<R>(Duration::from_millis(5)).await;
    }
    panic!("the counters never showed {what}: {:?}", stats.snapshot());
}

#[test]
fn server_stats_count_connections_websockets_answers_and_refusals() {
    run(async {
        let server = Server::<R>::new()
            .max_connections_per_ip(Some(2))
            .page("/", |_| Response::html("<p>hi</p>"))
            .socket("/ws/{x}", |incoming| async move {
                if incoming.params().get("x") == Some("no") {
                    let _ = incoming.reject(403, b"no").await;
                } else {
                    echo_handler(incoming).await;
                }
            });
        let stats = server.stats();
        assert_eq!(stats.snapshot(), StatsSnapshot::default());
        let server = start(server).await;
        let addr = server.addr;

        assert!(http(addr, &get("/")).await.starts_with("HTTP/1.1 200 "));
        assert!(http(addr, &get("/nope")).await.starts_with("HTTP/1.1 404 "));
        let err = ClientBuilder::<R>::new(&format!("ws://{addr}/ws/no")).connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(403), "{err}");
        let now = stats_until(&stats, "three answered connections ended", |s| s.accepted == 3 && s.open == 0).await;
        assert_eq!((now.answered, now.websockets_opened), (3, 0), "{now:?}");

        let mut a = ClientBuilder::<R>::new(&format!("ws://{addr}/ws/a")).connect().await.expect("a");
        let mut b = ClientBuilder::<R>::new(&format!("ws://{addr}/ws/b")).connect().await.expect("b");
        let now = stats_until(&stats, "two websockets open", |s| s.websockets_open == 2).await;
        assert_eq!((now.websockets_opened, now.open, now.accepted), (2, 2, 5), "{now:?}");

        // A third connection from 127.0.0.1 is past the cap of 2.
        let err = ClientBuilder::<R>::new(&format!("ws://{addr}/ws/c")).connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(429), "{err}");
        let now = stats_until(&stats, "the 429 counted", |s| s.refused_per_ip == 1 && s.open == 2).await;
        assert_eq!(now.answered, 4, "{now:?}");

        a.close(CloseCode::NORMAL, "").await.unwrap();
        let now = stats_until(&stats, "one websocket left", |s| s.websockets_open == 1).await;
        assert_eq!((now.websockets_opened, now.open), (2, 1), "{now:?}");

        server.shutdown.trigger();
        assert!(matches!(b.recv().await, Ok(None)), "b is sent 1001");
        let served = server.served.await;
        assert_eq!(served.abandoned, 0, "{served:?}");
        let end = stats.snapshot();
        assert_eq!((end.accepted, end.refused_per_ip, end.answered, end.websockets_opened), (6, 1, 4, 2), "{end:?}");
        assert_eq!((end.open, end.websockets_open, end.refused), (0, 0, 0), "{end:?}");
    })
}

#[test]
fn server_stats_count_connections_refused_by_the_handshake_limit() {
    run(async {
        let server = Server::<R>::new().handshake_limit(1).socket("/", echo_handler);
        let stats = server.stats();
        let server = start(server).await;
        let addr = server.addr;
        let idle = std::thread::spawn(move || {
            let mut s = raw::connect(addr);
            std::thread::sleep(Duration::from_millis(300));
            let _ = s.write_all(b"G");
        });
        stats_until(&stats, "the idle connection accepted", |s| s.accepted == 1).await;
        assert_eq!(http(addr, &get("/")).await, "");
        let now = stats_until(&stats, "one refusal", |s| s.refused == 1).await;
        assert_eq!(now.accepted, 1, "a refused connection is not accepted: {now:?}");
        while !idle.is_finished() {
            sleep::<R>(Duration::from_millis(5)).await;
        }
        server.stop().await;
        assert_eq!(stats.snapshot().open, 0);
    })
}
