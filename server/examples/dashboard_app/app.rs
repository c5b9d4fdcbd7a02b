//! The live dashboard of the `dashboard` example, written once for every runtime: a page at
//! `GET /` (`index.html`, beside this file), subscriptions at `/live/{topic}` (one hub room
//! per topic), and a publisher that pushes a JSON update to every subscriber of each topic
//! once per period — the made-up readings, and the server's own counters on the `server`
//! topic ([`STATS_TOPIC`]: connections, how WebSockets ended by close kind, data messages
//! and bytes each way). The adapter's example only builds its runtime, binds the listener and
//! calls [`run`]. Not a library module: it is included by the example and by the tests
//! with `#[path]`.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use serde_json::json;
use tether_rt::{Message, Runtime, Transport};
use tether_server::{Hub, HubConfig, Incoming, Response, Served, Server, ServerStats};

/// The dashboard page: HTML and JavaScript, no build step.
const INDEX: &str = include_str!("index.html");

/// The topics one can subscribe to; each is a hub room.
pub const TOPICS: [&str; 3] = ["cpu", "memory", "orders"];

/// The topic whose updates are the server's own counters ([`stats_update`]).
pub const STATS_TOPIC: &str = "server";

/// Subscribers by topic; a subscriber carries no data of its own.
type Topics = Hub<&'static str, ()>;

/// How long the server waits, at shutdown, for every subscriber to answer its 1001.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// Serve the dashboard on `listener`, publishing every `period`, until `stop` completes;
/// then shut down gracefully (the publisher stops with the server).
pub async fn run<R>(listener: R::TcpListener, period: Duration, stop: impl Future<Output = ()>) -> Served
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    let topics: Topics = Hub::new(HubConfig::default());
    let server = server::<R>(topics.clone());
    let stats = server.stats();
    let mut serving = pin!(server.serve(listener, stop));
    let mut publishing = pin!(publish::<R>(topics, stats, period));
    poll_fn(|cx| {
        // The publisher never ends by itself; the server's end ends it.
        let _ = publishing.as_mut().poll(cx);
        serving.as_mut().poll(cx)
    })
    .await
}

/// The routes: the page, and a subscription per topic.
fn server<R>(topics: Topics) -> Server<R>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    Server::<R>::new()
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .page("/", |_| Response::html(INDEX))
        .socket("/live/{topic}", move |incoming| subscriber(topics.clone(), incoming))
}

/// Every `period`, one update per topic to its subscribers: a sequence number, a value and
/// how many subscribers the topic has. A broadcast never waits: a subscriber too slow to
/// keep up is disconnected by the hub (1013), not the others.
async fn publish<R: Runtime>(topics: Topics, stats: ServerStats, period: Duration) {
    let mut seq: u64 = 0;
    loop {
        let _ = R::sleep_until(R::now() + period).await;
        seq += 1;
        for (i, topic) in TOPICS.iter().enumerate() {
            let subscribers = topics.presence(topic).len();
            if subscribers == 0 {
                continue;
            }
            // A made-up reading that moves: the sequence number spread over 0..100.
            let value = (seq * 37 + i as u64 * 11) % 100;
            let update = json!({"topic": topic, "seq": seq, "value": value, "subscribers": subscribers});
            topics.broadcast(topic, Message::text(update.to_string()));
        }
        let subscribers = topics.presence(&STATS_TOPIC).len();
        if subscribers > 0 {
            let update = stats_update(&stats, seq, subscribers);
            topics.broadcast(&STATS_TOPIC, Message::text(update.to_string()));
        }
    }
}

/// The server's counters as one update of the [`STATS_TOPIC`]: connections, WebSocket
/// endings by close kind (every kind, zeros included) and data messages and payload bytes
/// each way (`in`: received from clients).
pub fn stats_update(stats: &ServerStats, seq: u64, subscribers: usize) -> serde_json::Value {
    let now = stats.snapshot();
    let closes: serde_json::Map<String, serde_json::Value> =
        now.closes.iter().map(|(kind, n)| (kind.name().to_owned(), n.into())).collect();
    json!({
        "topic": STATS_TOPIC,
        "seq": seq,
        "subscribers": subscribers,
        "connections": {
            "accepted": now.accepted,
            "open": now.open,
            "websockets_opened": now.websockets_opened,
            "websockets_open": now.websockets_open,
        },
        "traffic": {
            "messages_in": now.traffic.messages_in,
            "bytes_in": now.traffic.bytes_in,
            "messages_out": now.traffic.messages_out,
            "bytes_out": now.traffic.bytes_out,
        },
        "closes": closes,
    })
}

/// One subscriber: a known topic, then updates until either side leaves.
async fn subscriber<R>(topics: Topics, incoming: Incoming<R>)
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport,
{
    let requested = incoming.params().get("topic").unwrap_or_default();
    let Some(topic) = TOPICS.iter().copied().chain([STATS_TOPIC]).find(|t| *t == requested) else {
        let _ = incoming.reject(404, b"unknown topic").await;
        return;
    };
    let Ok(ws) = incoming.accept().await else { return };
    let (mut reader, sender) = ws.split();
    let (id, mut mailbox) = topics.register(());
    if topics.join(topic, id).is_err() {
        return;
    }
    let evicted = {
        // Reading only keeps the connection answered (pings, the close); subscribers send
        // nothing.
        let mut receive = pin!(async { while let Ok(Some(_)) = reader.recv().await {} });
        let mut forward = pin!(mailbox.forward(&sender));
        poll_fn(|cx| {
            if receive.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            forward.as_mut().poll(cx).map(|ended| matches!(ended, Ok(tether_server::Forwarded::Evicted(_))))
        })
        .await
    };
    drop(mailbox); // leaves the topic
    if evicted {
        // The hub closed the connection (1013): finish the close handshake.
        while let Ok(Some(_)) = reader.recv().await {}
    }
}

/// Completes at the first Ctrl-C (SIGINT) or SIGTERM; never, if signals cannot be watched.
pub async fn ctrl_c() {
    use async_signal::{Signal, Signals};
    use futures_core::Stream;
    let Ok(mut signals) = Signals::new([Signal::Int, Signal::Term]) else {
        return std::future::pending().await;
    };
    poll_fn(|cx| Pin::new(&mut signals).poll_next(cx)).await;
    eprintln!("shutting down: every subscriber is sent 1001 (Going Away)");
}
