//! The keepalive timer under activity, on tokio's paused clock (deterministic): the adapter
//! re-arms its runtime timer only for earlier deadlines, so while messages keep arriving the
//! timer fires early, finds nothing due and is re-armed — no ping may go out then — and
//! once the peer falls silent the ping goes out on time.

use std::time::Duration;

use tether_tokio::{Config, Connection, Message, WebSocket};
use tokio::io::DuplexStream;
use tokio::time::{sleep, timeout, Instant};

fn config(keepalive: Option<Duration>) -> Config {
    Config::builder().keepalive_interval(keepalive).keepalive_timeout(Duration::from_secs(10)).build().unwrap()
}

fn pair() -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(64 << 10);
    let server = WebSocket::from_connection(
        a,
        Connection::new(tether_tokio::proto::Role::Server, config(Some(Duration::from_millis(200)))),
    );
    let client = WebSocket::from_connection(b, Connection::new(tether_tokio::proto::Role::Client, config(None)));
    (server, client)
}

#[tokio::test(start_paused = true)]
async fn no_keepalive_ping_while_messages_arrive_and_one_soon_after_they_stop() {
    let (mut server, mut client) = pair();
    client.set_control_messages(true);
    let echo = tokio::spawn(async move {
        while let Ok(Some(message)) = server.recv().await {
            if server.send(message).await.is_err() {
                break;
            }
        }
    });
    // Two seconds of traffic, a message every 50 ms (keepalive interval: 200 ms).
    let start = Instant::now();
    for i in 0..40u32 {
        client.send_text(format!("{i}")).await.unwrap();
        match client.recv().await.unwrap() {
            Some(Message::Text(text)) => assert_eq!(text, format!("{i}")),
            other => panic!("during traffic, at {:?}: {other:?}", start.elapsed()),
        }
        sleep(Duration::from_millis(50)).await;
    }
    // Silence: the ping comes 200 ms after the last message the server received.
    let quiet = Instant::now();
    let ping = timeout(Duration::from_millis(400), client.recv()).await.expect("a keepalive ping").unwrap();
    assert!(matches!(ping, Some(Message::Ping(_))), "{ping:?}");
    let waited = quiet.elapsed();
    assert!(waited <= Duration::from_millis(200), "ping after {waited:?} of silence");
    drop(client);
    let _ = echo.await;
}
