//! Deadlines the engine owns, fired from every write path (hostile peers G1: a peer that
//! stops reading): unsplit `send` in a loop, `flush`, `close`, and `Sender::close` with no
//! reader polled all end with `CloseCause::WriteTimeout` instead of waiting forever.

use std::sync::mpsc;

use tether_rt::Bytes;

use super::*;

/// The write timeout the tests use: short, so the tests are quick.
const WRITE_TIMEOUT: Duration = Duration::from_millis(300);

/// Queued bytes the tests feed before flushing: far more than loopback socket buffers take.
const FEED: usize = 32 << 20;

/// A server configuration with a short write timeout and a high-water mark of `mark`.
fn stalled_config(mark: usize) -> Config {
    short(|b| b.write_timeout(Some(WRITE_TIMEOUT)).write_high_water_mark(mark).keepalive_interval(None))
}

/// Run `serve` on a server whose client completes the handshake and then never reads.
async fn against_a_peer_that_never_reads<F, Fut>(config: Config, serve: F) -> Fut::Output
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (addr, server) = server(config, serve).await;
    let peer = std::thread::spawn(move || {
        let s = raw::client(addr);
        // Never read; hold the socket until the server is done.
        let _ = done_rx.recv_timeout(Duration::from_secs(25));
        drop(s);
    });
    let output = server.await;
    done_tx.send(()).unwrap();
    peer.join().unwrap();
    output
}

/// Queue `FEED` bytes without writing (the mark is above it).
async fn feed_a_lot(ws: &mut Ws) {
    let chunk = Bytes::from(vec![0x5a_u8; 1 << 20]);
    for _ in 0..FEED >> 20 {
        ws.feed(Message::Binary(chunk.clone())).await.unwrap();
    }
}

fn assert_write_timeout(result: Result<(), Error>) {
    match result {
        Err(Error::Closed(closed)) => {
            assert_eq!(closed.cause, CloseCause::WriteTimeout, "{closed:?}");
            assert_eq!(closed.code, CloseCode::ABNORMAL);
        }
        other => panic!("expected Closed(WriteTimeout), got {other:?}"),
    }
}

#[test]
fn send_in_a_loop_ends_with_the_write_timeout() {
    run(async {
        let result = against_a_peer_that_never_reads(stalled_config(128 << 10), |mut ws| async move {
            let chunk = Bytes::from(vec![0x5a_u8; 64 << 10]);
            loop {
                ws.send(Message::Binary(chunk.clone())).await?;
            }
        })
        .await;
        assert_write_timeout(result);
    })
}

#[test]
fn flush_ends_with_the_write_timeout() {
    run(async {
        let result = against_a_peer_that_never_reads(stalled_config(FEED * 2), |mut ws| async move {
            feed_a_lot(&mut ws).await;
            ws.flush().await
        })
        .await;
        assert_write_timeout(result);
    })
}

#[test]
fn close_ends_with_the_write_timeout() {
    run(async {
        let (result, closed) = against_a_peer_that_never_reads(stalled_config(FEED * 2), |mut ws| async move {
            feed_a_lot(&mut ws).await;
            let result = ws.close(CloseCode::NORMAL, "").await;
            (result, ws.closed())
        })
        .await;
        assert_write_timeout(result);
        assert_eq!(closed.map(|c| c.cause), Some(CloseCause::WriteTimeout));
    })
}

#[test]
fn sender_close_without_a_reader_ends_with_the_write_timeout() {
    run(async {
        let result = against_a_peer_that_never_reads(stalled_config(FEED * 2), |mut ws| async move {
            feed_a_lot(&mut ws).await;
            let (reader, sender) = ws.split();
            let result = sender.close(CloseCode::NORMAL, "").await;
            drop(reader);
            result
        })
        .await;
        assert_write_timeout(result);
    })
}

/// Every timeout at `Duration::MAX`: never a panic on `Instant + Duration`, and the
/// connection works (the deadlines are simply too far away to fire).
fn endless() -> Config {
    short(|b| {
        b.handshake_timeout(Duration::MAX)
            .close_timeout(Duration::MAX)
            .keepalive_interval(Some(Duration::MAX))
            .keepalive_timeout(Duration::MAX)
            .idle_timeout(Some(Duration::MAX))
            .write_timeout(Some(Duration::MAX))
    })
}

#[test]
fn duration_max_everywhere_does_not_panic() {
    run(async {
        let (mut client, mut server) = pair_with(endless(), endless()).await;
        client.send_text("one").await.unwrap();
        assert_eq!(server.recv_timeout(Duration::MAX).await.unwrap(), Some(Message::text("one")));
        client.send_text("two").await.unwrap();
        assert_eq!(server.recv_batch(1, Duration::MAX).await.unwrap(), vec![Message::text("two")]);
        server.send_text("back").await.unwrap();
        server.flush().await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Some(Message::text("back")));
        let closing = rt::spawn(async move { client.close(CloseCode::NORMAL, "").await });
        assert!(server.recv().await.unwrap().is_none());
        drop(server);
        closing.await.unwrap();
    })
}

#[test]
fn duration_max_each_alone_does_not_panic() {
    type Set = fn(tether_rt::ConfigBuilder) -> tether_rt::ConfigBuilder;
    let settings: [(&str, Set); 6] = [
        ("handshake", |b| b.handshake_timeout(Duration::MAX)),
        ("close", |b| b.close_timeout(Duration::MAX)),
        ("keepalive interval", |b| b.keepalive_interval(Some(Duration::MAX))),
        ("keepalive timeout", |b| {
            b.keepalive_interval(Some(Duration::from_millis(20))).keepalive_timeout(Duration::MAX)
        }),
        ("idle", |b| b.idle_timeout(Some(Duration::MAX))),
        ("write", |b| b.write_timeout(Some(Duration::MAX))),
    ];
    for (name, set) in settings {
        run(async {
            let config = short(set);
            let (mut client, mut server) = pair_with(config.clone(), config).await;
            client.send_text(name).await.unwrap();
            assert_eq!(server.recv().await.unwrap(), Some(Message::text(name)), "{name}");
            sleep::<R>(Duration::from_millis(50)).await;
            let closing = rt::spawn(async move { client.close(CloseCode::NORMAL, "").await });
            assert!(server.recv().await.unwrap().is_none(), "{name}");
            drop(server);
            closing.await.unwrap();
        });
    }
}

// The server connection carries the handshake deadline until its 101 is written, on the
// handshake's clock: a 101 that cannot be written fails `accept` with the engine's
// `HandshakeError::Timeout` at the deadline counted from the request's first byte.
#[test]
fn a_101_that_cannot_be_written_fails_accept_at_the_handshake_deadline() {
    use tether_tests::NeverWrites;
    run(async {
        let deadline = Duration::from_millis(400);
        let config = short(|b| b.handshake_timeout(deadline));
        let (listener, addr) = rt::listen().await;
        let server = rt::spawn(async move {
            let stream = NeverWrites(rt::accept(&listener).await);
            let upgrade = Upgrade::<NeverWrites<Stream>, R>::read_with_config(stream, config).await.unwrap();
            upgrade.accept().await.map(drop)
        });
        let peer = std::thread::spawn(move || {
            let mut s = raw::connect(addr);
            std::io::Write::write_all(&mut s, raw::request("/").as_bytes()).unwrap();
            raw::read_to_end(&mut s)
        });
        let result = server.await;
        assert!(
            matches!(result, Err(OpenError::Handshake(HandshakeError::Timeout { after })) if after == deadline),
            "{result:?}"
        );
        drop(peer);
    })
}

// A `Sender` in a send loop with no reader polled: its own waits fire the write timeout,
// and the refusal comes from the engine's decided ending (before any reader handed it out).
#[test]
fn sender_send_loop_without_a_reader_ends_with_the_write_timeout() {
    run(async {
        let (result, closed) = against_a_peer_that_never_reads(stalled_config(128 << 10), |ws| async move {
            let (reader, sender) = ws.split();
            let chunk = Bytes::from(vec![0x5a_u8; 64 << 10]);
            let result = loop {
                if let Err(e) = sender.send(Message::Binary(chunk.clone())).await {
                    break Err(e);
                }
            };
            // Decided, not handed out: no receive has run.
            let closed = reader.closed();
            (result, closed)
        })
        .await;
        assert_write_timeout(result);
        assert_eq!(closed, None);
    })
}
