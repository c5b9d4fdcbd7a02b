//! Every way a connection ends, over sockets: we close, the peer closes (a typed error from
//! typed receives), the peer vanishes (keepalive, hostile peers G3), the peer never answers our
//! close (close timeout, hostile peers E9), EOF mid-frame (G5), reset mid-frame (G4) with a
//! split sender learning it (G8).

use std::io::Write;
use std::net::Shutdown;
use std::time::Instant;

use super::*;

#[test]
fn we_close_cleanly_and_the_peer_sees_code_and_reason() {
    run(async {
        let (mut client, mut server) = pair().await;
        let server = rt::spawn(async move {
            assert!(server.recv().await.unwrap().is_none());
            server.closed().unwrap()
        });
        client.close(CloseCode::NORMAL, "bye").await.unwrap();
        let ours = client.closed().unwrap();
        assert_eq!(ours.code, CloseCode::NORMAL);
        assert_eq!(ours.cause, CloseCause::LocallyInitiated);
        let theirs = server.await;
        assert_eq!(theirs.code, CloseCode::NORMAL);
        assert_eq!(theirs.reason, "bye");
        assert_eq!(theirs.cause, CloseCause::PeerInitiated);
        // Idempotent, and sending afterwards is a typed error.
        client.close(CloseCode::NORMAL, "again").await.unwrap();
        assert!(matches!(client.send_text("late").await, Err(Error::Closed(_))));
        assert!(client.recv().await.unwrap().is_none());
    })
}

#[test]
fn peer_close_is_a_typed_error_from_typed_receives() {
    run(async {
        let (mut client, mut server) = pair().await;
        let server = rt::spawn(async move {
            server.close(CloseCode::new(4001).unwrap(), "kicked").await.unwrap();
            server.closed().unwrap()
        });
        match client.recv_text().await {
            Err(Error::Closed(closed)) => {
                assert_eq!(closed.code.as_u16(), 4001);
                assert_eq!(closed.reason, "kicked");
                assert_eq!(closed.cause, CloseCause::PeerInitiated);
            }
            other => panic!("{other:?}"),
        }
        assert!(client.recv().await.unwrap().is_none(), "recv: Ok(None) after a clean close");
        assert!(server.await.is_clean());
    })
}

#[test]
fn invalid_close_code_is_rejected_locally() {
    // Hostile peers I1
    run(async {
        let (mut client, _server) = pair().await;
        let err = client.close(CloseCode::ABNORMAL, "").await.unwrap_err();
        assert!(matches!(err, Error::Send(_)), "{err}");
        let err = client.close(CloseCode::NORMAL, &"x".repeat(124)).await.unwrap_err();
        assert!(matches!(err, Error::Send(_)), "{err}");
    })
}

#[test]
fn keepalive_detects_a_vanished_peer() {
    // Hostile peers G3: the peer holds the socket open and says nothing.
    run(async {
        let config = short(|b| {
            b.keepalive_interval(Some(Duration::from_millis(200))).keepalive_timeout(Duration::from_millis(300))
        });
        let (addr, server) = server(config, |mut ws| async move {
            let start = Instant::now();
            let err = ws.recv().await.unwrap_err();
            (err, start.elapsed())
        })
        .await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            raw::read_to_end(&mut s)
        });
        let (err, elapsed) = server.await;
        match err {
            Error::Closed(closed) => {
                assert_eq!(closed.code, CloseCode::ABNORMAL);
                assert_eq!(closed.cause, CloseCause::IdleTimeout);
            }
            other => panic!("{other:?}"),
        }
        assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
        // The peer saw a keepalive ping, then a best-effort 1011 close.
        let bytes = peer.join().unwrap();
        let ping = parse_frame(&bytes).expect("ping");
        assert_eq!(ping.header.opcode, PING);
        let close = parse_frame(&bytes[ping.wire_len()..]).expect("close");
        assert_eq!(close.header.opcode, CLOSE);
        assert_eq!(&close.payload[..2], &1011u16.to_be_bytes());
    })
}

#[test]
fn close_times_out_when_the_peer_never_answers() {
    // Hostile peers E9
    run(async {
        let (listener, addr) = rt::listen().await;
        // A server that accepts and is then never polled again: it never answers.
        let silent = rt::spawn(async move {
            let ws = Ws::accept(rt::accept(&listener).await).await.unwrap();
            sleep::<R>(Duration::from_secs(3)).await;
            drop(ws);
        });
        let config = short(|b| b.close_timeout(Duration::from_millis(300)));
        let mut client = ClientBuilder::<R>::new(&format!("ws://{addr}/")).config(config).connect().await.unwrap();
        let start = Instant::now();
        client.close(CloseCode::NORMAL, "").await.unwrap();
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
        let closed = client.closed().unwrap();
        assert_eq!(closed.code, CloseCode::ABNORMAL);
        assert_eq!(closed.cause, CloseCause::CloseTimeout);
        drop(silent);
    })
}

#[test]
fn eof_mid_frame_is_abnormal_closure() {
    // Hostile peers G5
    run(async {
        let (addr, server) = server(config(), |mut ws| async move { ws.recv().await }).await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            let frame = client_frame(true, TEXT, b"hello world");
            s.write_all(&frame[..6]).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            raw::read_to_end(&mut s)
        });
        match server.await {
            Err(Error::Closed(closed)) => {
                assert_eq!(closed.code, CloseCode::ABNORMAL);
                assert_eq!(closed.cause, CloseCause::TransportEof);
            }
            other => panic!("{other:?}"),
        }
        peer.join().unwrap();
    })
}

#[test]
fn reset_mid_frame_is_typed_and_senders_learn_it() {
    // Hostile peers G4 + G8
    run(async {
        let (addr, server) = server(config(), |ws| async move {
            let (mut reader, sender) = ws.split();
            // Unread by the peer: its close then resets the connection.
            sender.send_text("unread").await.unwrap();
            let err = reader.recv().await.unwrap_err();
            let again = reader.recv().await.unwrap_err();
            let send_err = sender.send_text("after").await.unwrap_err();
            (err, again, send_err, reader.transport_error())
        })
        .await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            std::thread::sleep(Duration::from_millis(150));
            let frame = client_frame(true, BINARY, &[7u8; 100]);
            s.write_all(&frame[..40]).unwrap();
            drop(s);
        });
        let (err, again, send_err, kind) = server.await;
        peer.join().unwrap();
        // The engine owns the ending: every call reports the same `Closed`, caused by the
        // transport error (not an EOF, and not a bare io::Error for the first caller).
        let transport_error = |e: &Error| matches!(e, Error::Closed(c) if c.code == CloseCode::ABNORMAL && c.cause == CloseCause::TransportError);
        assert!(transport_error(&err), "{err:?}");
        assert!(transport_error(&again), "{again:?}");
        assert!(transport_error(&send_err), "{send_err:?}");
        assert_eq!(kind, Some(std::io::ErrorKind::ConnectionReset));
    })
}

// A transport whose shutdown never completes (a TLS close_notify queued to a peer that
// stopped reading): the ending is still bounded by the close timeout — `close` returns, the
// transport is released (the peer sees the end of TCP), nothing waits forever.
#[test]
fn a_shutdown_that_never_completes_is_bounded_by_the_close_timeout() {
    use tether_tests::NeverCloses;
    run(async {
        let config = short(|b| b.close_timeout(Duration::from_millis(300)));
        let (listener, addr) = rt::listen().await;
        let server = rt::spawn(async move {
            let stream = NeverCloses(rt::accept(&listener).await);
            let upgrade = Upgrade::<NeverCloses<Stream>, R>::read_with_config(stream, config).await.unwrap();
            let mut ws = upgrade.accept().await.unwrap();
            let start = Instant::now();
            let result = timeout::<R, _>(Duration::from_secs(10), ws.close(CloseCode::NORMAL, "bye")).await;
            (result.map(|r| r.is_ok()), start.elapsed(), ws.closed())
        });
        let mut client = ClientBuilder::<R>::new(&format!("ws://{addr}/")).connect().await.unwrap();
        // The client answers our close, then waits for the end of TCP: it must come.
        let end = timeout::<R, _>(Duration::from_secs(10), client.recv()).await;
        assert!(matches!(end, Some(Ok(None))), "client: {end:?}");
        let (result, elapsed, closed) = server.await;
        assert_eq!(result, Some(true), "close did not return within 10 s");
        assert!(elapsed < Duration::from_secs(5), "close took {elapsed:?}");
        assert_eq!(closed.map(|c| c.code), Some(CloseCode::NORMAL));
    })
}

/// Ready once, after being polled twice (waking itself in between): lets a sibling future
/// in the same task run.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

// A peer flooding frames while we close: `close` discards them, but yields now and then, so
// a sibling future in the same task (a single-threaded executor's other work) still runs
// while the close handshake waits. Checked without timing: the sibling must observe the
// close in progress before `close` returns.
#[test]
fn close_yields_to_siblings_while_a_peer_floods() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    run(async {
        let config = short(|b| b.close_timeout(Duration::from_millis(500)).keepalive_interval(None));
        let (addr, server) = server(config, |mut ws| async move {
            // Let the flood start.
            assert!(ws.recv().await.unwrap().is_some());
            let closing = Arc::new(AtomicBool::new(false));
            let seen = Arc::new(AtomicBool::new(false));
            let close = {
                let closing = closing.clone();
                let seen = seen.clone();
                async move {
                    closing.store(true, Ordering::SeqCst);
                    let _ = ws.close(CloseCode::NORMAL, "").await;
                    // Read before anything else can run.
                    seen.load(Ordering::SeqCst)
                }
            };
            let sibling = async move {
                while !closing.load(Ordering::SeqCst) {
                    YieldNow(false).await;
                }
                seen.store(true, Ordering::SeqCst);
            };
            let (seen_during_close, ()) = futures_util::join!(close, sibling);
            seen_during_close
        })
        .await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            let mut batch = Vec::new();
            for _ in 0..4096 {
                batch.extend_from_slice(&client_frame(true, BINARY, b"flood"));
            }
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_secs(10) && s.write_all(&batch).is_ok() {}
        });
        assert!(server.await, "the sibling never ran while close discarded the flood");
        peer.join().unwrap();
    })
}

/// Messages `drop_*` tests send before dropping.
const SENT_BEFORE_DROP: usize = 10;

/// A raw client that sends `incoming` text frames in one write, then reads until the end
/// of TCP; returns the text payloads it received and the close code that followed them.
fn drop_peer(addr: std::net::SocketAddr, incoming: usize) -> std::thread::JoinHandle<(Vec<String>, Option<u16>)> {
    std::thread::spawn(move || {
        let mut s = raw::client(addr);
        let mut burst = Vec::new();
        for i in 0..incoming {
            burst.extend_from_slice(&client_frame(true, TEXT, format!("in{i}").as_bytes()));
        }
        s.write_all(&burst).unwrap();
        let bytes = raw::read_to_end(&mut s);
        let (mut texts, mut close, mut at) = (Vec::new(), None, 0);
        while let Some(frame) = parse_frame(&bytes[at..]) {
            at += frame.wire_len();
            match frame.header.opcode {
                TEXT => texts.push(String::from_utf8_lossy(frame.payload).into_owned()),
                CLOSE if frame.payload.len() >= 2 => {
                    close = Some(u16::from_be_bytes([frame.payload[0], frame.payload[1]]));
                    break;
                }
                _ => {}
            }
        }
        (texts, close)
    })
}

fn assert_all_then_going_away((texts, close): (Vec<String>, Option<u16>)) {
    let expected: Vec<String> = (0..SENT_BEFORE_DROP).map(|i| format!("out{i}")).collect();
    assert_eq!(texts, expected, "messages sent before the drop");
    assert_eq!(close, Some(1001), "a close frame after them");
}

// One drain-before-drop policy: sends that returned `Ok` while deferred (received input was
// still buffered) are written when the `WebSocket` is dropped, then a 1001 close frame.
#[test]
fn dropping_a_websocket_writes_deferred_sends_then_a_close() {
    run(async {
        let (addr, server) = server(config(), |mut ws| async move {
            // The burst arrives in one read: after the first message, input stays buffered
            // and the sends below are deferred.
            assert!(ws.recv().await.unwrap().is_some());
            for i in 0..SENT_BEFORE_DROP {
                ws.send_text(format!("out{i}")).await.unwrap();
            }
            drop(ws);
        })
        .await;
        let peer = drop_peer(addr, 4);
        server.await;
        assert_all_then_going_away(peer.join().unwrap());
    })
}

// The same policy when the last half of a split connection goes.
#[test]
fn dropping_the_halves_writes_queued_sends_then_a_close() {
    run(async {
        let (addr, server) = server(config(), |mut ws| async move {
            assert!(ws.recv().await.unwrap().is_some());
            let (reader, sender) = ws.split();
            for i in 0..SENT_BEFORE_DROP {
                sender.feed(Message::text(format!("out{i}"))).await.unwrap();
            }
            drop(reader);
            drop(sender);
        })
        .await;
        let peer = drop_peer(addr, 4);
        server.await;
        assert_all_then_going_away(peer.join().unwrap());
    })
}
