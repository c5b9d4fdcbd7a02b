//! Flow over sockets: recv_timeout, recv_batch, send_batch, split with concurrent senders,
//! backpressure against a peer that stops reading (hostile peers G1), and cancelled receives
//! losing nothing (hostile peers G7).

use std::io::Write;
use std::sync::mpsc;
use std::time::Instant;

use tether_rt::Bytes;

use super::*;

#[test]
fn recv_timeout_returns_none_and_the_connection_stays_usable() {
    run(async {
        let (mut client, mut server) = pair().await;
        let start = Instant::now();
        assert_eq!(server.recv_timeout(Duration::from_millis(100)).await.unwrap(), None);
        assert!(start.elapsed() >= Duration::from_millis(90));
        let late = rt::spawn(async move {
            sleep::<R>(Duration::from_millis(100)).await;
            client.send_text("late").await.unwrap();
            client
        });
        let got = server.recv_timeout(Duration::from_secs(5)).await.unwrap();
        assert_eq!(got, Some(Message::text("late")));
        let mut client = late.await;
        let closing = rt::spawn(async move { client.close(CloseCode::NORMAL, "").await });
        assert!(server.recv().await.unwrap().is_none());
        // Dropping ends TCP on every runtime (async-std cannot half-close before).
        drop(server);
        closing.await.unwrap();
    })
}

#[test]
fn send_batch_and_recv_batch() {
    run(async {
        let (mut client, mut server) = pair().await;
        let batch: Vec<Message> = (0..5).map(|i| Message::text(format!("m{i}"))).collect();
        client.send_batch(batch.clone()).await.unwrap();
        let start = Instant::now();
        let first = server.recv_batch(3, Duration::from_secs(5)).await.unwrap();
        assert!(start.elapsed() < Duration::from_secs(4), "returns once max arrived");
        assert_eq!(first, batch[..3]);
        let start = Instant::now();
        let rest = server.recv_batch(10, Duration::from_millis(200)).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(150), "waits until the timeout");
        assert_eq!(rest, batch[3..]);
        assert!(server.recv_batch(10, Duration::from_millis(50)).await.unwrap().is_empty());
        // After the peer closes: the close is reported, not an empty batch.
        let closing = rt::spawn(async move { client.close(CloseCode::NORMAL, "").await });
        assert!(matches!(server.recv_batch(10, Duration::from_secs(5)).await, Err(Error::Closed(_))));
        closing.await.unwrap();
    })
}

#[test]
fn split_senders_from_many_tasks_never_interleave() {
    run(async {
        let (client, server) = pair().await;
        let server = rt::spawn(echo(server));
        let (mut reader, sender) = client.split();
        const TASKS: usize = 4;
        const EACH: usize = 200;
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let sender = sender.clone();
            tasks.push(rt::spawn(async move {
                for i in 0..EACH {
                    // Mixed sizes so frames of different messages would show if interleaved.
                    let body = format!("{t}:{i}:{}", "x".repeat((i * 37) % 3000));
                    sender.send_text(body).await.unwrap();
                }
            }));
        }
        let mut next = [0usize; TASKS];
        for _ in 0..TASKS * EACH {
            let text = reader.recv_text().await.unwrap();
            let mut parts = text.splitn(3, ':');
            let t: usize = parts.next().unwrap().parse().unwrap();
            let i: usize = parts.next().unwrap().parse().unwrap();
            assert_eq!(i, next[t], "task {t} out of order");
            assert_eq!(parts.next().unwrap().len(), (i * 37) % 3000);
            next[t] += 1;
        }
        for task in tasks {
            task.await;
        }
        sender.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(reader.recv().await.unwrap().is_none());
        assert!(server.await.unwrap().is_clean());
    })
}

#[test]
fn backpressure_bounds_memory_against_a_peer_that_stops_reading() {
    // Hostile peers G1
    run(async {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let (addr, server) = server(config(), |mut ws| async move {
            let hwm = 128 << 10;
            let chunk = Bytes::from(vec![0x5a_u8; 64 << 10]);
            let mut sent = 0usize;
            let mut blocked = false;
            for _ in 0..2000 {
                match timeout::<R, _>(Duration::from_millis(300), ws.send_bytes(chunk.clone())).await {
                    Some(result) => {
                        result.unwrap();
                        sent += 1;
                    }
                    None => {
                        blocked = true;
                        break;
                    }
                }
                assert!(ws.buffered_transmit() <= hwm + chunk.len() + 14, "{}", ws.buffered_transmit());
            }
            assert!(ws.buffered_transmit() <= hwm + chunk.len() + 14, "{}", ws.buffered_transmit());
            if blocked {
                // A borrowed send dropped while waiting for room copied nothing: the queue
                // did not grow (the peer reads nothing, so it cannot shrink by much either).
                let before = ws.buffered_transmit();
                let text = "y".repeat(1000);
                assert!(timeout::<R, _>(Duration::from_millis(100), ws.send_text(&text)).await.is_none());
                assert!(ws.buffered_transmit() <= before, "{} > {before}", ws.buffered_transmit());
            }
            (blocked, sent)
        })
        .await;
        let peer = std::thread::spawn(move || {
            let s = raw::client(addr);
            // Never read; hold the socket until the server is done.
            let _ = done_rx.recv_timeout(Duration::from_secs(20));
            drop(s);
        });
        let (blocked, sent) = server.await;
        done_tx.send(()).unwrap();
        peer.join().unwrap();
        assert!(blocked, "send never waited after {sent} messages");
        assert!(sent > 0);
    })
}

#[test]
fn cancelled_recv_loses_nothing() {
    // Hostile peers G7: a frame dribbled byte by byte while recv is cancelled over and over.
    run(async {
        let payload = "cancel-safe: every byte is committed before the future yields".repeat(3);
        let expected = payload.clone();
        let (addr, server) = server(config(), move |mut ws| async move {
            let mut cancels = 0;
            let first = loop {
                match timeout::<R, _>(Duration::from_millis(2), ws.recv()).await {
                    None => cancels += 1,
                    Some(result) => break result.unwrap().unwrap(),
                }
            };
            let second = ws.recv().await.unwrap().unwrap();
            (first, second, cancels)
        })
        .await;
        let peer = std::thread::spawn(move || {
            let mut s = raw::client(addr);
            for byte in client_frame(true, TEXT, payload.as_bytes()) {
                s.write_all(&[byte]).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            s.write_all(&client_frame(true, BINARY, b"next")).unwrap();
            raw::read_to_end(&mut s)
        });
        let (first, second, cancels) = server.await;
        drop(peer);
        assert_eq!(first, Message::text(expected));
        assert_eq!(second, Message::binary(&b"next"[..]));
        assert!(cancels > 10, "recv was cancelled only {cancels} times");
    })
}

#[test]
fn send_batch_checks_the_high_water_mark_per_message() {
    // Hostile peers G1, for a batch: against a peer that stops reading, a batch waits for the
    // transport before each message instead of queueing all of it at once.
    run(async {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let mark = 128 << 10;
        let config = short(|b| b.write_high_water_mark(mark).write_timeout(None));
        let (addr, server) = server(config, move |mut ws| async move {
            let chunk = Bytes::from(vec![0x5a_u8; 64 << 10]);
            // 25 MiB: far more than loopback socket buffers take.
            let batch: Vec<Message> = (0..400).map(|_| Message::Binary(chunk.clone())).collect();
            let sent = timeout::<R, _>(Duration::from_millis(500), ws.send_batch(batch)).await;
            (sent.is_some(), ws.buffered_transmit())
        })
        .await;
        let peer = std::thread::spawn(move || {
            let s = raw::client(addr);
            // Never read; hold the socket until the server is done.
            let _ = done_rx.recv_timeout(Duration::from_secs(20));
            drop(s);
        });
        let (finished, buffered) = server.await;
        done_tx.send(()).unwrap();
        peer.join().unwrap();
        assert!(!finished, "the batch cannot have been written to a peer that reads nothing");
        assert!(buffered <= mark + (64 << 10) + 14, "{buffered} bytes queued past the mark");
    })
}
