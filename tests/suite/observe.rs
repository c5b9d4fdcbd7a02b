//! What `Server::stats` says about how served WebSockets end and what they carried, over
//! real sockets: one connection ending each way — the peer's close, a message over the
//! limit (1009), invalid UTF-8 (1007), a reserved opcode (1002), a flood past the rate
//! limit (1008), an application's 1013, an abrupt TCP drop (1006), a failed handshake, the
//! server's shutdown (1001) —
//! counted under its own `CloseKind`, and data messages and bytes each way equal to what
//! the client sent and received (while the connection is open and after it ended); a peer
//! that never answers pings (keepalive timeout), a peer that stops reading while the server
//! writes (write timeout) and a hub member evicted for not reading (1013, still `Evicted`
//! when the write timeout then ends it).
//! Peers: Tether's client and scripted raw-TCP peers (`raw`).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use tether_rt::{CloseKind, RateLimit, Shutdown, TrafficSnapshot};
use tether_server::{Server, ServerStats, StatsSnapshot};

use super::*;

/// Wait (bounded) until the server's counters satisfy `ok`: they are updated by the
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

/// A raw peer on a thread: upgrade on `path`, write `bytes`, then (unless `drop_at_once`)
/// read until the server ends TCP; returns what the server sent after its 101.
async fn raw_peer(addr: SocketAddr, path: &'static str, bytes: Vec<u8>, drop_at_once: bool) -> Vec<u8> {
    let peer = std::thread::spawn(move || {
        let mut s = raw::connect(addr);
        s.write_all(raw::request(path).as_bytes()).unwrap();
        let head = raw::read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        s.write_all(&bytes).unwrap();
        if drop_at_once {
            return Vec::new();
        }
        raw::read_to_end(&mut s)
    });
    while !peer.is_finished() {
        sleep::<R>(Duration::from_millis(5)).await;
    }
    peer.join().unwrap()
}

/// A raw peer on a thread that upgrades on `path`, then reads nothing and holds its socket
/// until told (or 20 s): the sender to tell it, and the thread.
fn silent_peer(addr: SocketAddr, path: &'static str) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let mut s = raw::connect(addr);
        s.write_all(raw::request(path).as_bytes()).unwrap();
        let head = raw::read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let _ = wait.recv_timeout(Duration::from_secs(20));
    });
    (done, peer)
}

/// The close code of the first frame in `answer`, which must be a close frame.
fn close_code(answer: &[u8]) -> u16 {
    let close = parse_frame(answer).expect("a close frame");
    assert_eq!(close.header.opcode, CLOSE);
    u16::from_be_bytes([close.payload[0], close.payload[1]])
}

/// Read until the connection ends (for routes whose handler only listens).
async fn drain(incoming: tether_server::Incoming<R>) {
    if let Ok(mut ws) = incoming.accept().await {
        while let Ok(Some(_)) = ws.recv().await {}
    }
}

fn traffic(messages_in: u64, bytes_in: u64, messages_out: u64, bytes_out: u64) -> TrafficSnapshot {
    let mut t = TrafficSnapshot::default();
    t.messages_in = messages_in;
    t.bytes_in = bytes_in;
    t.messages_out = messages_out;
    t.bytes_out = bytes_out;
    t
}

#[test]
fn server_stats_count_each_way_a_websocket_ends_and_its_traffic() {
    run(async {
        let small = short(|b| b.max_message_size(16).max_frame_size(16));
        let limited = short(|b| b.rate_limit(RateLimit::messages(100, 10).close()));
        let server = Server::<R>::new()
            .socket("/echo", |incoming| async move {
                if let Ok(ws) = incoming.accept().await {
                    echo(ws).await;
                }
            })
            .socket_with_config("/small", small, drain)
            .socket_with_config("/limited", limited, drain)
            .socket("/evict", |incoming| async move {
                if let Ok(mut ws) = incoming.accept().await {
                    let _ = ws.close(CloseCode::TRY_AGAIN_LATER, "too slow").await;
                }
            });
        let stats = server.stats();
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { server.serve(listener, signal).await });
        let url = |path: &str| format!("ws://{addr}{path}");

        // The peer closes (1000), after 2 messages (8 bytes) each way, counted while open.
        let mut ws = ClientBuilder::<R>::new(&url("/echo")).connect().await.expect("connect");
        ws.send_text("hello").await.unwrap();
        ws.send_bytes(&[1, 2, 3]).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::text("hello")));
        assert_eq!(ws.recv().await.unwrap(), Some(Message::binary(vec![1, 2, 3])));
        let live = stats_until(&stats, "the live traffic", |s| s.traffic.messages_out == 2).await;
        assert_eq!(live.traffic, traffic(2, 8, 2, 8), "{live:?}");
        assert_eq!(live.closes.total(), 0, "{live:?}");
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        let now = stats_until(&stats, "the peer's close", |s| s.closes.get(CloseKind::PeerClosed) == 1).await;
        assert_eq!(now.traffic, traffic(2, 8, 2, 8), "after the end: {now:?}");

        // A message over the route's 16-byte limit: 1009.
        let answer = raw_peer(addr, "/small", client_frame(true, TEXT, &[b'x'; 100]), false).await;
        assert_eq!(close_code(&answer), 1009);
        stats_until(&stats, "too big", |s| s.closes.get(CloseKind::MessageTooBig) == 1).await;

        // Text that is not UTF-8: 1007.
        let answer = raw_peer(addr, "/echo", client_frame(true, TEXT, &[0xff, 0xfe]), false).await;
        assert_eq!(close_code(&answer), 1007);
        stats_until(&stats, "bad UTF-8", |s| s.closes.get(CloseKind::InvalidUtf8) == 1).await;

        // A reserved opcode (0x3): 1002.
        let answer = raw_peer(addr, "/echo", client_frame(true, 0x3, b""), false).await;
        assert_eq!(close_code(&answer), 1002);
        stats_until(&stats, "a protocol error", |s| s.closes.get(CloseKind::ProtocolError) == 1).await;

        // A burst well past 10 messages (small enough to sit in the socket buffers): 1008.
        let answer = raw_peer(addr, "/limited", client_frame(true, TEXT, b"flood").repeat(200), false).await;
        assert_eq!(close_code(&answer), 1008);
        stats_until(&stats, "rate limited", |s| s.closes.get(CloseKind::RateLimited) == 1).await;

        // The application closes with 1013, as a hub evicting a slow member does.
        let mut ws = ClientBuilder::<R>::new(&url("/evict")).connect().await.expect("connect");
        match ws.recv().await {
            Err(Error::Closed(closed)) => assert_eq!(closed.code, CloseCode::TRY_AGAIN_LATER),
            Ok(None) => assert_eq!(ws.closed().map(|c| c.code), Some(CloseCode::TRY_AGAIN_LATER)),
            other => panic!("{other:?}"),
        }
        stats_until(&stats, "evicted", |s| s.closes.get(CloseKind::Evicted) == 1).await;

        // The peer drops TCP without a close frame: 1006.
        raw_peer(addr, "/echo", Vec::new(), true).await;
        stats_until(&stats, "abrupt", |s| s.closes.get(CloseKind::Abrupt) == 1).await;

        // Not an upgrade request at all: the handshake fails.
        let answer = {
            let peer = std::thread::spawn(move || {
                let mut s = raw::connect(addr);
                s.write_all(b"NONSENSE\r\n\r\n").unwrap();
                raw::read_to_end(&mut s)
            });
            while !peer.is_finished() {
                sleep::<R>(Duration::from_millis(5)).await;
            }
            peer.join().unwrap()
        };
        assert!(answer.starts_with(b"HTTP/1.1 400"), "{:?}", String::from_utf8_lossy(&answer));
        stats_until(&stats, "a failed handshake", |s| s.closes.get(CloseKind::HandshakeFailed) == 1).await;

        // The server shuts down with one connection open: 1001.
        let mut ws = ClientBuilder::<R>::new(&url("/echo")).connect().await.expect("connect");
        ws.send_text("last").await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::text("last")));
        shutdown.trigger();
        assert!(matches!(ws.recv().await, Ok(None)), "the client is sent 1001");
        assert_eq!(ws.closed().map(|c| c.code), Some(CloseCode::GOING_AWAY));
        let served = served.await;
        assert_eq!(served.abandoned, 0, "{served:?}");

        let end = stats.snapshot();
        let counts: Vec<(CloseKind, u64)> = end.closes.iter().filter(|&(_, n)| n > 0).collect();
        assert_eq!(
            counts,
            [
                (CloseKind::PeerClosed, 1),
                (CloseKind::Shutdown, 1),
                (CloseKind::Evicted, 1),
                (CloseKind::RateLimited, 1),
                (CloseKind::MessageTooBig, 1),
                (CloseKind::InvalidUtf8, 1),
                (CloseKind::ProtocolError, 1),
                (CloseKind::Abrupt, 1),
                (CloseKind::HandshakeFailed, 1),
            ],
            "{end:?}"
        );
        assert_eq!(end.websockets_opened, 8, "{end:?}");
        // Out: the echoes (2 + 1 messages); in: those, plus what the rate-limited peer got
        // through before its close (at most its burst and rate), nothing else.
        assert_eq!((end.traffic.messages_out, end.traffic.bytes_out), (3, 12), "{end:?}");
        let flood = end.traffic.messages_in - 3;
        assert_eq!(end.traffic.bytes_in, 12 + flood * 5, "{end:?}");
        assert!(flood < 200, "{end:?}");
    })
}

#[test]
fn a_peer_that_never_answers_pings_is_counted_as_a_keepalive_timeout() {
    run(async {
        let quiet = short(|b| {
            b.keepalive_interval(Some(Duration::from_millis(50))).keepalive_timeout(Duration::from_millis(100))
        });
        let server = Server::<R>::new().socket_with_config("/quiet", quiet, drain);
        let stats = server.stats();
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { server.serve(listener, signal).await });

        // The raw peer reads (the pings) and never writes: no pong, so the server gives up.
        let answer = raw_peer(addr, "/quiet", Vec::new(), false).await;
        assert_eq!(parse_frame(&answer).expect("a ping first").header.opcode, PING);
        let now = stats_until(&stats, "a keepalive timeout", |s| s.closes.total() == 1).await;
        assert_eq!(now.closes.get(CloseKind::KeepaliveTimeout), 1, "{now:?}");

        shutdown.trigger();
        assert_eq!(served.await.abandoned, 0);
    })
}

/// A hub member: joins `room`, and its mailbox is forwarded into its connection until the
/// peer leaves or the hub evicts it (then the close handshake is driven to its end).
async fn member(hub: tether_server::Hub<&'static str, ()>, incoming: tether_server::Incoming<R>) {
    use std::future::poll_fn;
    use std::task::Poll;
    let Ok(ws) = incoming.accept().await else { return };
    let (mut reader, sender) = ws.split();
    let (id, mut mailbox) = hub.register(());
    if hub.join("room", id).is_err() {
        return;
    }
    let evicted = {
        let mut receive = std::pin::pin!(async { while let Ok(Some(_)) = reader.recv().await {} });
        let mut forward = std::pin::pin!(mailbox.forward(&sender));
        poll_fn(|cx| {
            if receive.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            forward.as_mut().poll(cx).map(|ended| matches!(ended, Ok(tether_server::Forwarded::Evicted(_))))
        })
        .await
    };
    drop(mailbox);
    if evicted {
        while let Ok(Some(_)) = reader.recv().await {}
    }
}

#[test]
fn a_member_the_hub_evicts_is_counted_as_evicted() {
    use tether_server::{Hub, HubConfig, SlowPolicy};
    run(async {
        let hub: Hub<&'static str, ()> = Hub::new(
            HubConfig::default().with_capacity(8).with_policy(SlowPolicy::Disconnect(CloseCode::TRY_AGAIN_LATER)),
        );
        // A small write queue and a short write timeout: the eviction cannot wait long on a
        // peer that reads nothing.
        let small = short(|b| b.write_high_water_mark(16 * 1024).write_timeout(Some(Duration::from_millis(300))));
        let members = hub.clone();
        let server =
            Server::<R>::new().socket_with_config("/room", small, move |incoming| member(members.clone(), incoming));
        let stats = server.stats();
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { server.serve(listener, signal).await });

        // The member upgrades, then never reads (a thread holds its socket until told).
        let (done, peer) = silent_peer(addr, "/room");
        while hub.room_len(&"room") < 1 {
            sleep::<R>(Duration::from_millis(5)).await;
        }
        let payload = Message::binary(vec![7u8; 64 * 1024]);
        for _ in 0..2000 {
            if hub.stats().evicted == 1 {
                break;
            }
            hub.broadcast(&"room", payload.clone());
            sleep::<R>(Duration::from_millis(1)).await;
        }
        assert_eq!(hub.stats().evicted, 1, "{:?}", hub.stats());
        let now = stats_until(&stats, "the eviction", |s| s.closes.total() == 1).await;
        assert_eq!(now.closes.get(CloseKind::Evicted), 1, "{now:?}");
        let _ = done.send(());
        peer.join().unwrap();

        shutdown.trigger();
        assert_eq!(served.await.abandoned, 0);
    })
}

/// A peer that stops reading while the server writes to it: the write timeout ends the
/// connection and the server counts it under `CloseKind::WriteTimeout`.
#[test]
fn a_peer_that_stops_reading_is_counted_as_a_write_timeout() {
    run(async {
        let stalled = short(|b| {
            b.write_high_water_mark(128 * 1024).write_timeout(Some(Duration::from_millis(300))).keepalive_interval(None)
        });
        let server = Server::<R>::new().socket_with_config("/flood", stalled, |incoming| async move {
            if let Ok(mut ws) = incoming.accept().await {
                let chunk = Message::binary(vec![5u8; 64 * 1024]);
                while ws.send(chunk.clone()).await.is_ok() {}
            }
        });
        let stats = server.stats();
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { server.serve(listener, signal).await });

        // The peer upgrades, then never reads (a thread holds its socket until told).
        let (done, peer) = silent_peer(addr, "/flood");
        let now = stats_until(&stats, "the write timeout", |s| s.closes.total() == 1).await;
        assert_eq!(now.closes.get(CloseKind::WriteTimeout), 1, "{now:?}");
        assert!(now.traffic.messages_out > 0, "{now:?}");
        let _ = done.send(());
        peer.join().unwrap();

        shutdown.trigger();
        assert_eq!(served.await.abandoned, 0);
    })
}
