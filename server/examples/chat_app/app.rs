//! The chat server of the `chat_server` examples (tokio, async-std, smol), written once for
//! every runtime: the page at `GET /` (`index.html`, beside this file), the socket at
//! `/ws/{room}?name=NAME` with rooms, presence and broadcast through the `Hub` (a frame
//! `{"text": ...}` goes to the room, `{"to": NAME, "text": ...}` to one member), and the
//! Ctrl-C future that shuts the server down gracefully. Each adapter's example only builds
//! its runtime, binds the listener and calls [`run`]. Not a library module: it is included
//! by the examples with `#[path]`.
//!
//! With `--redis redis://HOST:PORT` (the adapter's feature `redis`), the rooms span every
//! chat_server started with the same Redis: the hub comes from `RedisCluster::start`, and
//! the rest of the app is unchanged but for one task, which announces the members of an
//! instance that died (expired from the presence lists) to this instance's members.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use serde_json::{json, Value};
use tether_rt::{default_config, Config, Message, RateLimit, Runtime, Transport};
use tether_server::{Forwarded, Hub, HubConfig, Incoming, Response, Served, Server};

/// The chat page: HTML and JavaScript, no build step.
const INDEX: &str = include_str!("index.html");

/// Rooms by name; each member's data is its display name.
type Rooms = Hub<String, String>;

/// Longest accepted name and room, in characters.
const MAX_NAME: usize = 32;
const MAX_ROOM: usize = 64;

/// What one member may send: 100 messages per second, 200 at once, closed with 1008 beyond.
pub const MEMBER_RATE: RateLimit = RateLimit::messages(100, 200).close();

/// How long the server waits, after Ctrl-C, for every member to answer its 1001.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// The configuration of a member's connection.
fn member_config() -> Config {
    default_config()
        .to_builder()
        // A chat line is small; refuse anything bigger than 64 KiB (closed with 1009).
        .max_message_size(64 << 10)
        .max_frame_size(64 << 10)
        // Per member: 100 messages/s, burst 200; a member past it is closed with 1008
        // (Policy Violation, `CloseCause::RateLimitExceeded`). The others are not affected.
        .rate_limit(MEMBER_RATE)
        .build()
        .unwrap_or_else(|_| default_config())
}

/// The command line: `[ADDR] [--redis URL]` (ADDR defaults to 127.0.0.1:8080).
pub fn args() -> (String, Option<String>) {
    let mut addr = None;
    let mut redis = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--redis" {
            redis = args.next();
        } else if addr.is_none() {
            addr = Some(arg);
        }
    }
    (addr.unwrap_or_else(|| "127.0.0.1:8080".into()), redis)
}

/// Serve the chat on `listener` until Ctrl-C (or SIGTERM), then shut down gracefully; with
/// `redis`, as one chat with every instance on that Redis.
///
/// # Errors
/// Redis is unreachable at start, or the example was built without the `redis` feature.
pub async fn run<R>(listener: R::TcpListener, redis: Option<&str>) -> std::io::Result<Served>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    let rooms = match redis {
        None => in_process(),
        Some(url) => clustered::<R>(url).await?,
    };
    Ok(server_with::<R>(rooms).serve(listener, ctrl_c()).await)
}

/// The default hub bounds: a member whose queue passes 1024 messages is disconnected
/// (1013, Try Again Later).
fn in_process() -> Rooms {
    Hub::new(HubConfig::default())
}

/// Rooms spanning every chat_server on the Redis at `url`.
#[cfg(feature = "redis")]
async fn clustered<R: Runtime>(url: &str) -> std::io::Result<Rooms> {
    use tether_server::{ClusterConfig, ClusterEvent, RedisCluster};
    let (rooms, cluster) = RedisCluster::<String, String>::start::<R>(ClusterConfig::new(url), HubConfig::default())
        .await
        .map_err(std::io::Error::other)?;
    println!("one chat with every instance on {url} (this one is node {})", cluster.node());
    let announcer = rooms.clone();
    // An instance that died said no goodbye: each instance tells its own members (a local
    // broadcast, so that the survivors do not announce it to each other several times).
    R::spawn(async move {
        while let Some(event) = cluster.next_event().await {
            match event {
                ClusterEvent::Left { room, data, expired: true, .. } => {
                    let members: Vec<String> = announcer.presence(&room).into_iter().map(|(_, name)| name).collect();
                    let event = json!({"type": "leave", "room": room, "name": data, "members": members});
                    announcer.broadcast_local(&room, Message::text(event.to_string()));
                }
                ClusterEvent::Disconnected => eprintln!("Redis lost: other instances are out of reach"),
                ClusterEvent::Reconnected { dropped } => {
                    eprintln!("Redis back ({dropped} messages to other instances were dropped meanwhile)")
                }
                _ => {}
            }
        }
    });
    Ok(rooms)
}

/// Without the `redis` feature, `--redis` is refused.
#[cfg(not(feature = "redis"))]
#[allow(clippy::extra_unused_type_parameters)] // the signature of the `redis` build
async fn clustered<R: Runtime>(_url: &str) -> std::io::Result<Rooms> {
    Err(std::io::Error::other("--redis needs the example built with the `redis` feature"))
}

/// The chat's routes on an in-process hub: the page and the members' socket.
#[allow(dead_code)] // the chat suite's entry; the examples call `run`
pub fn server<R>() -> Server<R>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    server_with::<R>(in_process())
}

/// The chat's routes with these rooms (in-process or spanning instances).
pub fn server_with<R>(rooms: Rooms) -> Server<R>
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport + Send,
{
    Server::<R>::new().shutdown_timeout(SHUTDOWN_TIMEOUT).page("/", |_| Response::html(INDEX)).socket_with_config(
        "/ws/{room}",
        member_config(),
        move |incoming| member(rooms.clone(), incoming),
    )
}

/// One member: check the request, join the room, relay until either side leaves.
async fn member<R>(rooms: Rooms, incoming: Incoming<R>)
where
    R: Runtime,
    R::Io<R::MaybeTls>: Transport,
{
    let room = incoming.params().get("room").unwrap_or_default().trim().to_owned();
    let name = incoming.query().ok().and_then(|q| q.get("name").map(|n| n.trim().to_owned())).unwrap_or_default();
    if name.is_empty() || name.chars().count() > MAX_NAME || room.is_empty() || room.chars().count() > MAX_ROOM {
        let _ = incoming.reject(400, b"use /ws/ROOM?name=NAME (a name of 1 to 32 characters)").await;
        return;
    }
    // A page of another site must not open a chat with this user's cookies (RFC 6455 §10.2).
    if !same_origin(incoming.origin(), incoming.header("Host")) {
        let _ = incoming.reject(403, b"foreign origin").await;
        return;
    }
    let Ok(ws) = incoming.accept().await else { return };
    let (mut reader, sender) = ws.split();
    let (id, mut mailbox) = rooms.register(name.clone());
    if rooms.join(room.clone(), id).is_err() {
        return;
    }
    presence(&rooms, &room, "join", &name);

    let receive = async {
        // Ends when the peer leaves, the connection fails, or the server shuts down (the
        // 1001 handshake completes here).
        while let Ok(Some(message)) = reader.recv().await {
            let Message::Text(text) = message else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
            let Some(text) = frame["text"].as_str() else { continue };
            if let Some(to) = frame["to"].as_str() {
                // A direct message: to the first member of the room with that name, on
                // whichever instance holds it (nothing if there is none).
                let target = rooms.presence(&room).into_iter().find(|(_, n)| n == to).map(|(id, _)| id);
                if let Some(target) = target {
                    let line = json!({"type": "direct", "room": room, "from": name, "to": to, "text": text});
                    let _ = rooms.send_to(target, Message::text(line.to_string()));
                }
                continue;
            }
            let line = json!({"type": "message", "room": room, "from": name, "text": text});
            rooms.broadcast(&room, Message::text(line.to_string()));
        }
    };
    let forward = mailbox.forward(&sender);
    let evicted = match first_of(receive, forward).await {
        Either::Left(()) => false,
        Either::Right(ended) => matches!(ended, Ok(Forwarded::Evicted(_))),
    };
    drop(mailbox); // leaves every room
    presence(&rooms, &room, "leave", &name);
    if evicted {
        // The hub closed the connection (1013): finish the close handshake.
        while let Ok(Some(_)) = reader.recv().await {}
    }
}

/// Tell `room` that `name` joined or left, with who is there now.
fn presence(rooms: &Rooms, room: &String, kind: &str, name: &str) {
    let members: Vec<String> = rooms.presence(room).into_iter().map(|(_, name)| name).collect();
    let event = json!({"type": kind, "room": room, "name": name, "members": members});
    rooms.broadcast(room, Message::text(event.to_string()));
}

/// A request without `Origin` (not a browser), or one whose origin is this host.
fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else { return true };
    let origin_host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    origin_host.is_some() && origin_host == host
}

enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls both futures; the first to finish wins and the other is dropped.
async fn first_of<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        b.as_mut().poll(cx).map(Either::Right)
    })
    .await
}

/// Completes at the first Ctrl-C (SIGINT) or SIGTERM; never, if signals cannot be watched.
pub async fn ctrl_c() {
    use async_signal::{Signal, Signals};
    use futures_core::Stream;
    let Ok(mut signals) = Signals::new([Signal::Int, Signal::Term]) else {
        return std::future::pending().await;
    };
    poll_fn(|cx| Pin::new(&mut signals).poll_next(cx)).await;
    eprintln!("shutting down: every member is sent 1001 (Going Away)");
}
