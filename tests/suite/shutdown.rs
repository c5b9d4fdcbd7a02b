//! `Shutdown` and `close_on` on plain connections (no server layer): a connection watching
//! a triggered signal closes with 1001 (Going Away) — the task blocked in `recv` is woken,
//! the peer answers, and `recv` ends cleanly — whether the signal fires while it waits,
//! before it watches, or on a split connection.

use std::time::Duration;

use tether_rt::Shutdown;

use super::*;

/// How `ws`'s receive loop ended: `Ok(None)` and the close, or the error.
async fn drain(mut ws: Ws) -> Result<tether_rt::Closed, Error> {
    loop {
        match ws.recv().await {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(ws.closed().expect("closed")),
            Err(e) => return Err(e),
        }
    }
}

#[test]
fn a_reader_blocked_in_recv_is_woken_and_closes_with_1001() {
    // Keepalive off: only the signal can wake the parked reader (with it, the first ping
    // would, and the test could pass without the wake-up).
    run_for(Duration::from_secs(10), async {
        let quiet = short(|b| b.keepalive_interval(None));
        let (client, server) = pair_with(quiet.clone(), quiet).await;
        let shutdown = Shutdown::new();
        let (mut reader, _sender) = server.split();
        reader.close_on(&shutdown);
        let server_side = rt::spawn(async move {
            let end = reader.recv().await;
            (end.map(|m| m.is_none()), reader.closed())
        });
        let client_side = rt::spawn(drain(client));
        sleep::<R>(Duration::from_millis(50)).await;
        shutdown.trigger();
        let closed = client_side.await.expect("a clean close");
        assert_eq!((closed.code, closed.cause), (CloseCode::GOING_AWAY, CloseCause::PeerInitiated));
        let (end, closed) = server_side.await;
        assert_eq!(end.ok(), Some(true));
        let closed = closed.expect("closed");
        assert_eq!((closed.code, closed.cause), (CloseCode::GOING_AWAY, CloseCause::LocallyInitiated));
    })
}

#[test]
fn a_signal_triggered_before_watching_closes_at_the_next_recv() {
    run(async {
        let (client, mut server) = pair().await;
        let shutdown = Shutdown::new();
        shutdown.trigger();
        assert!(shutdown.is_triggered());
        server.close_on(&shutdown);
        let client_side = rt::spawn(drain(client));
        assert!(matches!(server.recv().await, Ok(None)));
        assert_eq!(server.closed().expect("closed").code, CloseCode::GOING_AWAY);
        assert_eq!(client_side.await.expect("clean").code, CloseCode::GOING_AWAY);
        // Sending after the shutdown fails as after any close.
        assert!(server.send_text("late").await.is_err());
    })
}

#[test]
fn messages_queued_before_the_shutdown_arrive_before_the_1001() {
    run(async {
        let (mut client, mut server) = pair().await;
        let shutdown = Shutdown::new();
        server.close_on(&shutdown);
        server.send_text("first").await.unwrap();
        shutdown.trigger();
        // The next send observes the signal: its message is queued, then the close.
        server.send_text("second").await.unwrap();
        let server_side = rt::spawn(drain(server));
        assert_eq!(client.recv_text().await.unwrap(), "first");
        assert_eq!(client.recv_text().await.unwrap(), "second");
        assert!(matches!(client.recv().await, Ok(None)));
        assert_eq!(client.closed().expect("closed").code, CloseCode::GOING_AWAY);
        assert_eq!(server_side.await.expect("clean").code, CloseCode::GOING_AWAY);
    })
}

#[test]
fn one_signal_closes_many_connections() {
    run(async {
        let shutdown = Shutdown::new();
        let mut ends = Vec::new();
        for _ in 0..20 {
            let (client, mut server) = pair().await;
            server.close_on(&shutdown);
            ends.push((rt::spawn(drain(client)), rt::spawn(drain(server))));
        }
        sleep::<R>(Duration::from_millis(20)).await;
        shutdown.trigger();
        for (client, server) in ends {
            assert_eq!(client.await.expect("clean").code, CloseCode::GOING_AWAY);
            assert_eq!(server.await.expect("clean").code, CloseCode::GOING_AWAY);
        }
    })
}
