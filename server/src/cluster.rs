//! `RedisCluster` (feature `redis`): a [`Hub`] whose rooms span server instances through a
//! Redis server's pub/sub — broadcast, direct sends, presence with heartbeats and expiry,
//! and the broker's outages (bounded outbox, counted drops, reconnect with backoff), and an
//! opt-in bounded history of each room in a Redis stream. What does not live here: the hub
//! itself (`hub.rs`: local members, queues, the slow-consumer policy) and any other state
//! kept in Redis (nothing is stored there but the node counter and, when on, the
//! histories).
//!
//! # Wire
//! Every instance subscribes to the pattern `PREFIX:*` on one pub/sub connection and
//! publishes, in order, on one multiplexed connection:
//! - `PREFIX:r:ROOM` — a broadcast to `ROOM` (the room's `Display` form), published once
//!   per broadcast;
//! - `PREFIX:all` — a broadcast to every member;
//! - `PREFIX:n:NODE` — a direct send to a member held by instance `NODE`;
//! - `PREFIX:p` — presence: a member joined or left a room, an instance's full membership
//!   (its heartbeat, every [`ClusterConfig::heartbeat`]), an instance's goodbye.
//!
//! Each payload starts with a kind byte and the publishing instance's node number: an
//! instance skips its own messages (its members already got them from the local hub). A
//! received message is decoded once and queued for the local members as one `Bytes`-backed
//! [`Message`] under the hub's slow-consumer policy. Redis delivers one publisher's messages
//! to a subscriber in the order they were published, so per-room order from one instance
//! is kept.
//!
//! # History
//! With [`ClusterConfig::history`]`(N)`, each room broadcast is also appended to the
//! stream `PREFIX:h:ROOM` (`XADD PREFIX:h:ROOM MAXLEN ~ N * m PAYLOAD`, the payload as
//! published), in the same pipeline as its `PUBLISH` and just before it: no extra round
//! trip, and whoever received a message live finds it in the history. Broadcasts to every
//! member and direct sends are not stored. [`RedisCluster::history`] reads a room's stream
//! back (`XRANGE key (ID + COUNT n`, or the latest n), decoding defensively: an entry that
//! is not a stored room broadcast is skipped and counted.
//!
//! A message's id is its stream entry id (`MS-SEQ`), assigned by Redis: one counter per
//! room, so ids from several publishing instances are totally ordered by the stream itself,
//! never collide, and need no clock agreement between instances (explicit ids chosen by
//! the instances would collide or be refused as smaller than the stream's top; ids of the
//! form node + sequence would not order one room's history, nor map to an `XRANGE` start).
//! The cost: the id is known only once Redis has stored the message, so the live delivery
//! through the hub does not carry it. An application that resumes clients by id reads
//! the history (the latest entries give it the current position) rather than learning ids
//! from live messages.
//!
//! The history is at most once too: what was dropped while Redis was unreachable (or the
//! outbox full) was never stored. The `XADD` and the `PUBLISH` are pipelined, not one
//! transaction: across instances, the order of a room's stream is the order Redis stored
//! the broadcasts, which can differ from the order a member received broadcasts from two
//! instances made at the same moment (each instance's own order is the same in both).
//!
//! # Failures
//! Delivery across instances is **at most once**. While Redis is unreachable the instance
//! keeps serving its local rooms; what its hub hands the backend is dropped and counted
//! ([`ClusterStats::dropped`]), as is what does not fit the bounded outbox; nothing is
//! replayed when Redis returns. The backend reconnects with exponential backoff (up to
//! [`ClusterConfig::max_backoff`]), subscribes again, announces its membership, and
//! reports the gap ([`ClusterEvent::Disconnected`], [`ClusterEvent::Reconnected`] with the
//! count of dropped publishes). An instance not heard from for [`ClusterConfig::ttl`] (it
//! died, or the broker or network cut it off) is expired: its members leave every room
//! here, reported as [`ClusterEvent::Left`] with `expired: true`; they come back with its
//! next heartbeat.
//!
//! # Limits
//! - Redis is trusted: whoever can publish on it can speak for any instance (payloads are
//!   still decoded defensively: a malformed one is skipped and counted as undecodable).
//! - Redis disconnects a subscriber whose output buffer passes its
//!   `client-output-buffer-limit pubsub` (32 MiB by default): an instance that falls that
//!   far behind loses the connection, reconnects, and reports the gap as above.
//! - redis-rs hands received messages over through an unbounded channel; this backend
//!   drains it as fast as the hub queues, so it grows only while the instance's own task is
//!   starved.
//! - Stored in Redis: the node counter `PREFIX:nodes` and, with history on, one stream per
//!   room that was ever broadcast to (`PREFIX:h:ROOM`), each trimmed to about N entries
//!   (approximate trimming removes whole stream nodes, `stream-node-max-entries`, 100 by
//!   default, so a stream may hold up to about N + 100). Streams are never deleted: a
//!   cluster with many short-lived rooms should expire or delete those keys itself. A
//!   history read is one `XRANGE` on the backend's connection, bounded by the connect
//!   timeout and by N entries; it needs Redis 6.2 or later (exclusive `(` starts).
//! - A command Redis refuses inside a publish pipeline fails alone: an `XADD` to a room
//!   whose key holds something else than a stream (or refused for memory) is counted
//!   ([`ClusterStats::history_failed`]) and that broadcast is still published; a refused
//!   `PUBLISH` (an ACL, say) is counted ([`ClusterStats::publish_refused`]). Only a lost
//!   connection makes the backend reconnect.
//! - Node numbers come from `INCR PREFIX:nodes`; a Redis that restarts empty is raised back
//!   to every connected instance's number on reconnect, so numbers are not reused.

use std::collections::{HashMap, VecDeque};
use std::fmt::Display;
use std::future::{poll_fn, Future};
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use tether_proto::{Bytes, Message, Utf8Bytes};
use tether_rt::Runtime;

use crate::hub::{Link, Shared};
use crate::{Hub, HubConfig, MemberId};

/// Node numbers fit the upper 24 bits of a [`MemberId`].
const MAX_NODE: u64 = (1 << 24) - 1;
/// Events kept for [`RedisCluster::next_event`] before the oldest is dropped (counted).
const EVENT_CAPACITY: usize = 4096;
/// Publishes sent to Redis in one pipeline.
const PUBLISH_BATCH: usize = 256;
/// Pipelines sent to Redis and not yet answered, at most: the next batch goes out without
/// waiting for the previous one's answer (they share one connection, which sends them in
/// the order they were first polled, and Redis answers in order).
const PIPELINES_IN_FLIGHT: usize = 8;
/// Raises the node counter (KEYS[1]) to ARGV[1] if it is below.
const RAISE_COUNTER: &str = "local v = tonumber(redis.call('GET', KEYS[1]) or '0') \
    if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 0";
/// The first reconnect delay; it doubles up to [`ClusterConfig::max_backoff`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// Where a [`RedisCluster`] connects and how it bounds itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    url: String,
    prefix: String,
    heartbeat: Duration,
    ttl: Duration,
    outbox: usize,
    max_backoff: Duration,
    connect_timeout: Duration,
    history: Option<usize>,
}

impl ClusterConfig {
    /// Redis at `url` (`redis://HOST:PORT[/DB]`), with the defaults: channel prefix
    /// `tether`, a heartbeat every 3 s, instances expired after 15 s of silence, 4096
    /// publishes queued at most, reconnects backing off up to 2 s, 5 s to connect.
    pub fn new(url: impl Into<String>) -> Self {
        ClusterConfig {
            url: url.into(),
            prefix: "tether".into(),
            heartbeat: Duration::from_secs(3),
            ttl: Duration::from_secs(15),
            outbox: 4096,
            max_backoff: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            history: None,
        }
    }

    /// The channel prefix: instances with the same prefix on the same Redis are one
    /// cluster. Letters, digits, `-`, `_`, `.` and `:` only (it is part of a glob pattern).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How often an instance announces its membership (at most half the TTL).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(10));
        self
    }

    /// How long an instance may stay silent before its members are expired (at most 30 s,
    /// at least twice the heartbeat).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.min(Duration::from_secs(30));
        self
    }

    /// Publishes queued for Redis at most; beyond, they are dropped and counted.
    pub fn outbox_capacity(mut self, capacity: usize) -> Self {
        self.outbox = capacity.max(1);
        self
    }

    /// The longest wait between two reconnect attempts.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max.max(MIN_BACKOFF);
        self
    }

    /// Keeps a bounded history of every room: each room broadcast is also appended to the
    /// Redis stream `PREFIX:h:ROOM`, trimmed to about `max_len_per_room` entries (at least
    /// 1), for [`RedisCluster::history`]. Off by default (nothing is stored).
    pub fn history(mut self, max_len_per_room: usize) -> Self {
        self.history = Some(max_len_per_room.max(1));
        self
    }

    fn heartbeat_every(&self) -> Duration {
        self.heartbeat.min(self.ttl / 2).max(Duration::from_millis(10))
    }

    fn ttl_for(&self) -> Duration {
        self.ttl.max(self.heartbeat_every() * 2)
    }
}

/// Why [`RedisCluster::start`] or [`RedisCluster::history`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClusterError {
    /// The URL is not a Redis URL.
    Url(redis::RedisError),
    /// The prefix has a character outside letters, digits, `-`, `_`, `.` and `:`.
    Prefix,
    /// Redis refused or failed the first connection or the node-number `INCR`.
    Redis(redis::RedisError),
    /// Redis did not answer within the connect timeout.
    Timeout,
    /// The cluster's node counter passed 2^24 - 1 (reset the key `PREFIX:nodes`).
    NodesExhausted,
    /// [`RedisCluster::history`] on a cluster started without [`ClusterConfig::history`].
    HistoryOff,
    /// [`RedisCluster::history`] was given an id that is not a stream id (`MS` or `MS-SEQ`).
    InvalidId,
    /// [`RedisCluster::history`] while the backend is not connected to Redis.
    Disconnected,
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Url(e) => write!(f, "invalid Redis URL: {e}"),
            ClusterError::Prefix => f.write_str("invalid channel prefix"),
            ClusterError::Redis(e) => write!(f, "Redis: {e}"),
            ClusterError::Timeout => f.write_str("Redis did not answer in time"),
            ClusterError::NodesExhausted => f.write_str("no node number left in this cluster"),
            ClusterError::HistoryOff => f.write_str("this cluster keeps no history"),
            ClusterError::InvalidId => f.write_str("not a history id"),
            ClusterError::Disconnected => f.write_str("not connected to Redis"),
        }
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClusterError::Url(e) | ClusterError::Redis(e) => Some(e),
            _ => None,
        }
    }
}

/// What the cluster learned: other instances' members joining and leaving, and the
/// broker's outages. Local members' joins and leaves are not reported (the application
/// made them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent<R, D> {
    /// A member of another instance joined `room`.
    Joined {
        /// The room.
        room: R,
        /// The member (its [`MemberId::node`] is its instance).
        member: MemberId,
        /// Its data.
        data: D,
    },
    /// A member of another instance left `room`.
    Left {
        /// The room.
        room: R,
        /// The member.
        member: MemberId,
        /// Its data.
        data: D,
        /// Whether its instance was expired (silent for the TTL) rather than saying so.
        expired: bool,
    },
    /// The connection to Redis was lost: cross-instance traffic is dropped (counted) until
    /// [`Reconnected`](ClusterEvent::Reconnected).
    Disconnected,
    /// The connection to Redis is back, subscribed again.
    Reconnected {
        /// Publishes dropped while it was down.
        dropped: u64,
    },
}

/// Counters of a [`RedisCluster`] since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// This instance's node number (the upper bits of its members' ids).
    pub node: u32,
    /// Whether the backend is connected and subscribed now.
    pub connected: bool,
    /// Messages published to Redis.
    pub published: u64,
    /// Messages received from other instances.
    pub received: u64,
    /// Publishes dropped: Redis unreachable, or the outbox full.
    pub dropped: u64,
    /// Reconnections after a lost connection.
    pub reconnects: u64,
    /// Instances expired for silence.
    pub expired_nodes: u64,
    /// Received messages that could not be decoded (skipped).
    pub undecodable: u64,
    /// Events dropped because nobody read them ([`RedisCluster::next_event`]).
    pub events_dropped: u64,
    /// History entries skipped by [`RedisCluster::history`] because they could not be
    /// decoded.
    pub history_skipped: u64,
    /// History appends Redis refused (the room's key holds something else than a stream);
    /// the broadcasts themselves were still published.
    pub history_failed: u64,
    /// Publishes Redis answered with an error (an ACL that denies `PUBLISH`, for example):
    /// counted in `published` too, and delivered to no other instance.
    pub publish_refused: u64,
}

/// One publish: its channel, its payload, and the history stream it is also appended to.
struct Publish {
    channel: String,
    payload: Vec<u8>,
    history: Option<String>,
}

/// The outbox between the hub (which never waits) and the publishing task.
struct Outbox {
    items: VecDeque<Publish>,
    up: bool,
    waker: Option<Waker>,
}

struct Inner {
    outbox: Mutex<Outbox>,
    capacity: usize,
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
    expired: AtomicU64,
    undecodable: AtomicU64,
    history_skipped: AtomicU64,
    history_failed: AtomicU64,
    publish_refused: AtomicU64,
    connected: AtomicBool,
    halted: AtomicBool,
    /// The backend's command connection while it is connected (for history reads).
    conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Inner {
    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, channel: String, payload: Vec<u8>) {
        self.push_publish(Publish { channel, payload, history: None });
    }

    fn push_publish(&self, publish: Publish) {
        let mut outbox = self.outbox();
        if !outbox.up || outbox.items.len() >= self.capacity {
            drop(outbox);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        outbox.items.push_back(publish);
        let waker = outbox.waker.take();
        drop(outbox);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Opens (`up`) or closes the outbox; closing drops (and counts) what it holds.
    fn set_up(&self, up: bool) {
        let mut outbox = self.outbox();
        outbox.up = up;
        if !up {
            let lost = outbox.items.len() as u64;
            outbox.items.clear();
            self.dropped.fetch_add(lost, Ordering::Relaxed);
        }
        self.connected.store(up, Ordering::Relaxed);
        drop(outbox);
        if !up {
            *self.conn() = None;
        }
    }

    fn conn(&self) -> MutexGuard<'_, Option<redis::aio::MultiplexedConnection>> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct EventQueue<R, D> {
    items: VecDeque<ClusterEvent<R, D>>,
    waker: Option<Waker>,
    dropped: u64,
    /// The backend task ended: nothing more will come.
    ended: bool,
}

struct Events<R, D> {
    queue: Mutex<EventQueue<R, D>>,
}

impl<R, D> Events<R, D> {
    fn lock(&self) -> MutexGuard<'_, EventQueue<R, D>> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, event: ClusterEvent<R, D>) {
        let mut queue = self.lock();
        if queue.items.len() >= EVENT_CAPACITY {
            queue.items.pop_front();
            queue.dropped += 1;
        }
        queue.items.push_back(event);
        let waker = queue.waker.take();
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn end(&self) {
        let mut queue = self.lock();
        queue.ended = true;
        let waker = queue.waker.take();
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Payload kinds (the first byte).
const ROOM: u8 = b'M';
const ALL: u8 = b'A';
const DIRECT: u8 = b'D';
const JOIN: u8 = b'J';
const LEAVE: u8 = b'L';
const SNAPSHOT: u8 = b'S';
const BYE: u8 = b'B';
/// "No member excepted" in a room broadcast.
const NO_EXCEPT: u64 = u64::MAX;

/// The hub's side of the backend: encodes and queues, never waits.
struct RedisLink<R, D> {
    inner: Arc<Inner>,
    prefix: String,
    node: u32,
    /// Whether room broadcasts are also appended to the room's history stream.
    history: bool,
    _types: PhantomData<fn(R, D)>,
}

impl<R, D> RedisLink<R, D> {
    fn header(&self, kind: u8, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + capacity);
        out.push(kind);
        out.extend_from_slice(&self.node.to_be_bytes());
        out
    }

    fn presence_channel(&self) -> String {
        format!("{}:p", self.prefix)
    }
}

/// The opcode byte and payload of a message a backend carries (`None`: a close frame,
/// which is never published).
fn message_parts(message: &Message) -> Option<(u8, &[u8])> {
    match message {
        Message::Text(text) => Some((0, text.as_bytes())),
        Message::Binary(data) => Some((1, data)),
        Message::Ping(data) => Some((2, data)),
        Message::Pong(data) => Some((3, data)),
        Message::Close(_) => None,
    }
}

fn decode_message(opcode: u8, payload: &[u8]) -> Option<Message> {
    // One copy per receiving instance; every local member then shares it.
    let data = Bytes::copy_from_slice(payload);
    match opcode {
        0 => Utf8Bytes::try_from(data).ok().map(Message::Text),
        1 => Some(Message::Binary(data)),
        2 => Some(Message::Ping(data)),
        3 => Some(Message::Pong(data)),
        _ => None,
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl<R: Display, D: Display> Link<R, D> for RedisLink<R, D> {
    fn joined(&self, room: &R, id: MemberId, data: &D) {
        let (room, data) = (room.to_string(), data.to_string());
        let mut out = self.header(JOIN, 16 + room.len() + data.len());
        out.extend_from_slice(&id.get().to_be_bytes());
        put_str(&mut out, &room);
        put_str(&mut out, &data);
        self.inner.push(self.presence_channel(), out);
    }

    fn left(&self, room: &R, id: MemberId) {
        let room = room.to_string();
        let mut out = self.header(LEAVE, 12 + room.len());
        out.extend_from_slice(&id.get().to_be_bytes());
        put_str(&mut out, &room);
        self.inner.push(self.presence_channel(), out);
    }

    fn broadcast(&self, room: &R, except: Option<MemberId>, message: &Message) {
        let Some((opcode, payload)) = message_parts(message) else { return };
        let mut out = self.header(ROOM, 9 + payload.len());
        out.extend_from_slice(&except.map_or(NO_EXCEPT, MemberId::get).to_be_bytes());
        out.push(opcode);
        out.extend_from_slice(payload);
        let history = self.history.then(|| history_key(&self.prefix, room));
        self.inner.push_publish(Publish { channel: format!("{}:r:{room}", self.prefix), payload: out, history });
    }

    fn broadcast_all(&self, message: &Message) {
        let Some((opcode, payload)) = message_parts(message) else { return };
        let mut out = self.header(ALL, 1 + payload.len());
        out.push(opcode);
        out.extend_from_slice(payload);
        self.inner.push(format!("{}:all", self.prefix), out);
    }

    fn send(&self, id: MemberId, message: &Message) {
        let Some((opcode, payload)) = message_parts(message) else { return };
        let mut out = self.header(DIRECT, 9 + payload.len());
        out.extend_from_slice(&id.get().to_be_bytes());
        out.push(opcode);
        out.extend_from_slice(payload);
        self.inner.push(format!("{}:n:{}", self.prefix, id.node()), out);
    }
}

/// A reader over a received payload: every read checks its length (payloads are hostile).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// What this instance knows of another one.
struct NodeView<R, D> {
    last_seen: Instant,
    members: HashMap<(R, MemberId), D>,
}

/// A [`Hub`] spanning server instances through Redis: the handle to its backend (counters,
/// events, a halt for failover drills). Made by [`RedisCluster::start`], which hands back
/// the hub the application uses exactly as an in-process one.
///
/// Rooms and member data cross instances in their text form: `R` and `D` implement
/// `Display` and `FromStr` (a `String` room and a `String` name do; a room whose text does
/// not parse back is skipped on the receiving instances and counted as undecodable).
///
/// ```no_run
/// # async fn run() -> Result<(), tether_server::ClusterError> {
/// use tether_server::{ClusterConfig, HubConfig, RedisCluster};
/// let (hub, cluster) = RedisCluster::<String, String>::start::<tether_tokio::Tokio>(
///     ClusterConfig::new("redis://127.0.0.1:6379"),
///     HubConfig::default(),
/// )
/// .await?;
/// // `hub` is a `Hub<String, String>`: register, join, broadcast as ever.
/// while let Some(event) = cluster.next_event().await {
///     println!("{event:?}");
/// }
/// # Ok(()) }
/// ```
pub struct RedisCluster<R, D> {
    inner: Arc<Inner>,
    events: Arc<Events<R, D>>,
    node: u32,
    prefix: String,
    history: Option<usize>,
    /// How long a history read may wait for Redis.
    timeout: Duration,
    _room: PhantomData<fn(&R)>,
}

impl<R, D> std::fmt::Debug for RedisCluster<R, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster").field("node", &self.node).finish_non_exhaustive()
    }
}

impl<R, D> RedisCluster<R, D>
where
    R: Hash + Eq + Clone + Display + FromStr + Send + Sync + 'static,
    D: Clone + Display + FromStr + Send + Sync + 'static,
{
    /// Connects to Redis, takes a node number for this instance (`INCR PREFIX:nodes`), and
    /// starts the backend as a task of the runtime `Rt`: the hub it returns publishes to and
    /// receives from every instance with the same prefix. It returns once subscribed; the
    /// others' members are known a moment later (every instance announces its members to a
    /// new one). The task ends once every clone of the hub is dropped (saying goodbye to the
    /// others), or at [`halt`](Self::halt).
    ///
    /// # Errors
    /// [`ClusterError`]: the URL or prefix is invalid, or Redis is unreachable now (later
    /// outages are survived).
    pub async fn start<Rt: Runtime>(
        config: ClusterConfig,
        hub: HubConfig,
    ) -> Result<(Hub<R, D>, RedisCluster<R, D>), ClusterError> {
        if config.prefix.is_empty()
            || !config.prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            return Err(ClusterError::Prefix);
        }
        let client = client(&config.url).map_err(ClusterError::Url)?;
        let node_key = format!("{}:nodes", config.prefix);
        let node = with_timeout::<Rt, _>(config.connect_timeout, async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("INCR").arg(&node_key).query_async::<u64>(&mut conn).await
        })
        .await
        .ok_or(ClusterError::Timeout)?
        .map_err(ClusterError::Redis)?;
        if node > MAX_NODE {
            return Err(ClusterError::NodesExhausted);
        }
        let node = node as u32;
        let history = config.history.is_some();
        let inner = Arc::new(Inner {
            // Open from the start: what the hub hands over before the first connection is
            // queued (bounded) rather than dropped.
            outbox: Mutex::new(Outbox { items: VecDeque::new(), up: true, waker: None }),
            capacity: config.outbox,
            published: AtomicU64::new(0),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            undecodable: AtomicU64::new(0),
            history_skipped: AtomicU64::new(0),
            history_failed: AtomicU64::new(0),
            publish_refused: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            conn: Mutex::new(None),
        });
        let link = RedisLink::<R, D> {
            inner: Arc::clone(&inner),
            prefix: config.prefix.clone(),
            node,
            history,
            _types: PhantomData,
        };
        let link: Arc<dyn Link<R, D>> = Arc::new(link);
        let hub = Hub::with_link(hub, node, Some(link));
        let events = Arc::new(Events {
            queue: Mutex::new(EventQueue { items: VecDeque::new(), waker: None, dropped: 0, ended: false }),
        });
        let task = Task::<R, D> {
            client,
            hub: hub.downgrade(),
            link: RedisLink {
                inner: Arc::clone(&inner),
                prefix: config.prefix.clone(),
                node,
                history,
                _types: PhantomData,
            },
            events: Arc::clone(&events),
            nodes: HashMap::new(),
            config,
        };
        let connect_timeout = task.config.connect_timeout;
        let (prefix, history_len) = (task.config.prefix.clone(), task.config.history);
        Rt::spawn(task.run::<Rt>());
        // Back only once subscribed: what the hub publishes from now on reaches the others,
        // and theirs reaches it.
        let deadline = Rt::now() + connect_timeout;
        while !inner.connected.load(Ordering::Relaxed) {
            if Rt::now() >= deadline {
                return Err(ClusterError::Timeout);
            }
            let mut sleep = Rt::sleep_until(Rt::now() + Duration::from_millis(5));
            poll_fn(|cx| Pin::new(&mut sleep).poll(cx)).await;
        }
        Ok((
            hub,
            RedisCluster {
                inner,
                events,
                node,
                prefix,
                history: history_len,
                timeout: connect_timeout,
                _room: PhantomData,
            },
        ))
    }
}

impl<R, D> RedisCluster<R, D> {
    /// This instance's node number.
    pub fn node(&self) -> u32 {
        self.node
    }

    /// The backend's counters now.
    pub fn stats(&self) -> ClusterStats {
        let events_dropped = self.events.lock().dropped;
        ClusterStats {
            node: self.node,
            connected: self.inner.connected.load(Ordering::Relaxed),
            published: self.inner.published.load(Ordering::Relaxed),
            received: self.inner.received.load(Ordering::Relaxed),
            dropped: self.inner.dropped.load(Ordering::Relaxed),
            reconnects: self.inner.reconnects.load(Ordering::Relaxed),
            expired_nodes: self.inner.expired.load(Ordering::Relaxed),
            undecodable: self.inner.undecodable.load(Ordering::Relaxed),
            events_dropped,
            history_skipped: self.inner.history_skipped.load(Ordering::Relaxed),
            history_failed: self.inner.history_failed.load(Ordering::Relaxed),
            publish_refused: self.inner.publish_refused.load(Ordering::Relaxed),
        }
    }

    /// The next event, if one is already there.
    pub fn try_event(&self) -> Option<ClusterEvent<R, D>> {
        self.events.lock().items.pop_front()
    }

    /// The next event, waiting for one; `None` once the backend task has ended and every
    /// event was taken. Events beyond 4096 unread ones drop the oldest (counted in
    /// [`ClusterStats::events_dropped`]).
    ///
    /// # Cancel safety
    /// Cancel-safe: an event is taken only in the poll that returns it.
    pub async fn next_event(&self) -> Option<ClusterEvent<R, D>> {
        poll_fn(|cx| {
            let mut queue = self.events.lock();
            if let Some(event) = queue.items.pop_front() {
                return Poll::Ready(Some(event));
            }
            if queue.ended {
                return Poll::Ready(None);
            }
            queue.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Stops the backend at once, without a goodbye, as if the process had died: the other
    /// instances expire this one's members after their TTL. The hub keeps serving its local
    /// members; cross-instance traffic is dropped (counted). For failover drills and tests.
    pub fn halt(&self) {
        self.inner.halted.store(true, Ordering::SeqCst);
        self.inner.set_up(false);
        let waker = self.inner.outbox().waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<R: Display, D> RedisCluster<R, D> {
    /// What `room` missed: the stored broadcasts to it, oldest first, each with its id (the
    /// Redis stream entry id, `MS-SEQ`), at most `limit` and at most the configured length.
    /// With `after`, the earliest ones stored after that id (page on with the last id
    /// returned); without, the latest ones. The runtime `Rt` bounds the wait for Redis by
    /// the connect timeout.
    ///
    /// Entries that cannot be decoded (written by hand, or by something else) are skipped
    /// and counted in [`ClusterStats::history_skipped`]; a page may then hold fewer than
    /// `limit` entries although more follow.
    ///
    /// # Errors
    /// [`ClusterError::HistoryOff`] without [`ClusterConfig::history`];
    /// [`ClusterError::InvalidId`] when `after` is not a stream id;
    /// [`ClusterError::Disconnected`] while the backend is reconnecting;
    /// [`ClusterError::Timeout`] or [`ClusterError::Redis`] when Redis fails the read.
    pub async fn history<Rt: Runtime>(
        &self,
        room: &R,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Message)>, ClusterError> {
        let Some(max_len) = self.history else { return Err(ClusterError::HistoryOff) };
        if after.is_some_and(|id| !valid_id(id)) {
            return Err(ClusterError::InvalidId);
        }
        let limit = limit.min(max_len);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Some(mut conn) = self.inner.conn().clone() else { return Err(ClusterError::Disconnected) };
        let key = history_key(&self.prefix, room);
        let mut cmd = match after {
            Some(id) => {
                let mut cmd = redis::cmd("XRANGE");
                cmd.arg(&key).arg(format!("({id}")).arg("+");
                cmd
            }
            None => {
                let mut cmd = redis::cmd("XREVRANGE");
                cmd.arg(&key).arg("+").arg("-");
                cmd
            }
        };
        cmd.arg("COUNT").arg(limit);
        let entries = with_timeout::<Rt, _>(self.timeout, cmd.query_async::<redis::Value>(&mut conn))
            .await
            .ok_or(ClusterError::Timeout)?
            .map_err(ClusterError::Redis)?;
        let redis::Value::Array(entries) = entries else {
            return Err(ClusterError::Redis(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "a stream range is an array",
            ))));
        };
        let mut out = Vec::with_capacity(entries.len());
        for entry in &entries {
            match decode_entry(entry) {
                Some(decoded) => out.push(decoded),
                None => {
                    self.inner.history_skipped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if after.is_none() {
            out.reverse();
        }
        Ok(out)
    }
}

/// The field of a history entry that holds the room broadcast's payload (as published).
const HISTORY_FIELD: &str = "m";

/// The history stream of `room`.
fn history_key(prefix: &str, room: &impl Display) -> String {
    format!("{prefix}:h:{room}")
}

/// Whether `id` is a stream id: `MS` or `MS-SEQ`, both 64-bit decimal numbers.
fn valid_id(id: &str) -> bool {
    let number =
        |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u64>().is_ok();
    match id.split_once('-') {
        Some((ms, seq)) => number(ms) && number(seq),
        None => number(id),
    }
}

/// One stream entry (`[id, [field, value, ...]]`) as an id and the room broadcast it
/// stores; `None` when it is not one.
fn decode_entry(entry: &redis::Value) -> Option<(String, Message)> {
    let redis::Value::Array(parts) = entry else { return None };
    let [id, fields] = parts.as_slice() else { return None };
    let redis::Value::BulkString(id) = id else { return None };
    let id = String::from_utf8(id.clone()).ok()?;
    let redis::Value::Array(fields) = fields else { return None };
    let payload = fields.chunks_exact(2).find_map(|pair| match pair {
        [redis::Value::BulkString(field), redis::Value::BulkString(value)] if field == HISTORY_FIELD.as_bytes() => {
            Some(value)
        }
        _ => None,
    })?;
    let mut reader = Reader(payload);
    let (Some(ROOM), Some(_node), Some(_except), Some(opcode)) = (reader.u8(), reader.u32(), reader.u64(), reader.u8())
    else {
        return None;
    };
    Some((id, decode_message(opcode, reader.rest())?))
}

/// The client for `url`, its connections with `TCP_NODELAY`: publishes are small writes
/// sent while earlier ones may still be unacknowledged, which Nagle's algorithm would hold
/// back.
fn client(url: &str) -> redis::RedisResult<redis::Client> {
    use redis::IntoConnectionInfo;
    let info = url.into_connection_info()?;
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    redis::Client::open(info.set_tcp_settings(tcp))
}

/// Runs `future` until `timeout` passes on the runtime's clock (`None` then).
async fn with_timeout<Rt: Runtime, F: Future>(timeout: Duration, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut sleep = Rt::sleep_until(Rt::now() + timeout);
    poll_fn(|cx| {
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if Pin::new(&mut sleep).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// How a connected period ended.
enum End {
    /// The connection failed: reconnect.
    Lost,
    /// Every hub clone is gone: say goodbye and stop.
    HubGone,
    /// [`RedisCluster::halt`]: stop without a word.
    Halted,
}

/// One turn of the connected loop.
enum Step {
    Received(redis::Msg),
    StreamEnded,
    PublishFailed,
    Publish,
    Tick,
}

type Publishing = Pin<Box<dyn Future<Output = redis::RedisResult<()>> + Send>>;

/// The backend task's state.
struct Task<R, D> {
    client: redis::Client,
    hub: Weak<Shared<R, D>>,
    link: RedisLink<R, D>,
    events: Arc<Events<R, D>>,
    nodes: HashMap<u32, NodeView<R, D>>,
    config: ClusterConfig,
}

impl<R, D> Task<R, D>
where
    R: Hash + Eq + Clone + Display + FromStr + Send + Sync + 'static,
    D: Clone + Display + FromStr + Send + Sync + 'static,
{
    fn inner(&self) -> &Inner {
        &self.link.inner
    }

    async fn run<Rt: Runtime>(mut self) {
        let mut backoff = MIN_BACKOFF;
        let mut ever_connected = false;
        let mut dropped_at_loss = 0;
        loop {
            if self.inner().halted.load(Ordering::SeqCst) || self.hub.strong_count() == 0 {
                break;
            }
            let connected = with_timeout::<Rt, _>(self.config.connect_timeout, self.connect()).await;
            if let Some(Ok((conn, sink, stream))) = connected {
                backoff = MIN_BACKOFF;
                *self.inner().conn() = Some(conn.clone());
                self.inner().set_up(true);
                // Silence while this instance was cut off says nothing about the others:
                // they get one more TTL to be heard from.
                let now = Rt::now();
                self.nodes.values_mut().for_each(|view| view.last_seen = now);
                if ever_connected {
                    self.inner().reconnects.fetch_add(1, Ordering::Relaxed);
                    let dropped = self.inner().dropped.load(Ordering::Relaxed) - dropped_at_loss;
                    self.events.push(ClusterEvent::Reconnected { dropped });
                }
                ever_connected = true;
                let end = self.serve::<Rt>(conn.clone(), stream).await;
                drop(sink);
                self.inner().set_up(false);
                match end {
                    End::Lost => {
                        dropped_at_loss = self.inner().dropped.load(Ordering::Relaxed);
                        self.events.push(ClusterEvent::Disconnected);
                    }
                    End::HubGone => {
                        let bye = self.link.header(BYE, 0);
                        let mut conn = conn;
                        let mut publish = redis::cmd("PUBLISH");
                        publish.arg(self.link.presence_channel()).arg(bye);
                        let _ =
                            with_timeout::<Rt, _>(Duration::from_secs(1), publish.query_async::<()>(&mut conn)).await;
                        break;
                    }
                    End::Halted => break,
                }
            } else {
                // Not even the first connection: stop queueing for it.
                self.inner().set_up(false);
            }
            // Wait before the next attempt, still expiring silent instances.
            self.expire(Rt::now());
            let mut sleep = Rt::sleep_until(Rt::now() + backoff);
            poll_fn(|cx| Pin::new(&mut sleep).poll(cx)).await;
            backoff = (backoff * 2).min(self.config.max_backoff);
        }
        self.inner().set_up(false);
        self.events.end();
    }

    async fn connect(
        &self,
    ) -> redis::RedisResult<(redis::aio::MultiplexedConnection, redis::aio::PubSubSink, redis::aio::PubSubStream)> {
        let mut conn = self.client.get_multiplexed_async_connection().await?;
        // A Redis that came back empty (no persistence) must not hand this node's number to
        // a new instance: raise the counter to it if it is below.
        redis::cmd("EVAL")
            .arg(RAISE_COUNTER)
            .arg(1)
            .arg(format!("{}:nodes", self.config.prefix))
            .arg(self.link.node)
            .query_async::<()>(&mut conn)
            .await?;
        let pubsub = self.client.get_async_pubsub().await?;
        let (mut sink, stream) = pubsub.split();
        sink.psubscribe(format!("{}:*", self.config.prefix)).await?;
        Ok((conn, sink, stream))
    }

    /// One connected period: publish the outbox in order, receive, heartbeat, expire.
    async fn serve<Rt: Runtime>(
        &mut self,
        conn: redis::aio::MultiplexedConnection,
        stream: redis::aio::PubSubStream,
    ) -> End {
        let mut stream = Box::pin(stream);
        // Pipelines sent and not yet all answered, oldest first, each with whether it is done.
        let mut publishing: VecDeque<(Publishing, bool)> = VecDeque::new();
        let every = self.config.heartbeat_every();
        let mut tick = Rt::sleep_until(Rt::now());
        let inner = Arc::clone(&self.link.inner);
        loop {
            let step = poll_fn(|cx| {
                // In order: each pipeline enqueues its commands on the connection when first
                // polled, after the ones before it.
                for (publish, done) in publishing.iter_mut().filter(|(_, done)| !*done) {
                    match publish.as_mut().poll(cx) {
                        Poll::Ready(Ok(())) => *done = true,
                        Poll::Ready(Err(_)) => return Poll::Ready(Step::PublishFailed),
                        Poll::Pending => {}
                    }
                }
                while publishing.front().is_some_and(|(_, done)| *done) {
                    publishing.pop_front();
                }
                if publishing.len() < PIPELINES_IN_FLIGHT {
                    let mut outbox = inner.outbox();
                    if !outbox.items.is_empty() || inner.halted.load(Ordering::SeqCst) {
                        return Poll::Ready(Step::Publish);
                    }
                    outbox.waker = Some(cx.waker().clone());
                }
                match stream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(msg)) => return Poll::Ready(Step::Received(msg)),
                    Poll::Ready(None) => return Poll::Ready(Step::StreamEnded),
                    Poll::Pending => {}
                }
                if Pin::new(&mut tick).poll(cx).is_ready() {
                    return Poll::Ready(Step::Tick);
                }
                Poll::Pending
            })
            .await;
            match step {
                Step::Received(msg) => self.receive(&msg, Rt::now()),
                Step::StreamEnded => return End::Lost,
                Step::PublishFailed => return End::Lost,
                Step::Publish => {
                    if inner.halted.load(Ordering::SeqCst) {
                        return End::Halted;
                    }
                    let batch: Vec<Publish> = {
                        let mut outbox = inner.outbox();
                        let n = outbox.items.len().min(PUBLISH_BATCH);
                        outbox.items.drain(..n).collect()
                    };
                    let mut pipe = redis::pipe();
                    // A command Redis refuses (an XADD to a key of another type, a PUBLISH an
                    // ACL denies) fails alone, not the connection; each answer is checked and
                    // a refusal counted under its command. `appends[i]`: answer i is an XADD.
                    pipe.ignore_errors();
                    let mut appends = Vec::with_capacity(batch.len() * 2);
                    for publish in &batch {
                        // Stored before it is published: whoever received it live finds it
                        // in the history.
                        if let (Some(key), Some(max_len)) = (&publish.history, self.config.history) {
                            pipe.cmd("XADD")
                                .arg(key)
                                .arg("MAXLEN")
                                .arg("~")
                                .arg(max_len)
                                .arg("*")
                                .arg(HISTORY_FIELD)
                                .arg(&publish.payload);
                            appends.push(true);
                        }
                        pipe.cmd("PUBLISH").arg(&publish.channel).arg(&publish.payload);
                        appends.push(false);
                    }
                    inner.published.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    let (mut conn, inner) = (conn.clone(), Arc::clone(&inner));
                    publishing.push_back((
                        Box::pin(async move {
                            let answers = pipe.query_async::<Vec<redis::Value>>(&mut conn).await?;
                            let (mut appends_failed, mut publishes_refused) = (0u64, 0u64);
                            for (answer, &append) in answers.iter().zip(&appends) {
                                if matches!(answer, redis::Value::ServerError(_)) {
                                    *(if append { &mut appends_failed } else { &mut publishes_refused }) += 1;
                                }
                            }
                            inner.history_failed.fetch_add(appends_failed, Ordering::Relaxed);
                            inner.publish_refused.fetch_add(publishes_refused, Ordering::Relaxed);
                            Ok(())
                        }),
                        false,
                    ));
                }
                Step::Tick => {
                    if inner.halted.load(Ordering::SeqCst) {
                        return End::Halted;
                    }
                    let Some(hub) = Hub::upgrade(&self.hub) else { return End::HubGone };
                    self.expire(Rt::now());
                    self.announce(&hub);
                    Rt::reset(&mut tick, Rt::now() + every);
                }
            }
        }
    }

    /// Queues this instance's whole membership (its heartbeat), in order with the joins
    /// and leaves around it.
    fn announce(&self, hub: &Hub<R, D>) {
        hub.with_memberships(|all| {
            let mut out = self.link.header(SNAPSHOT, 64 * all.len());
            for (room, id, data) in all {
                out.extend_from_slice(&id.get().to_be_bytes());
                put_str(&mut out, &room.to_string());
                put_str(&mut out, &data.to_string());
            }
            self.inner().push(self.link.presence_channel(), out);
        });
    }

    /// Expires every instance silent for the TTL.
    fn expire(&mut self, now: Instant) {
        let ttl = self.config.ttl_for();
        let silent: Vec<u32> = self
            .nodes
            .iter()
            .filter(|(_, view)| now.saturating_duration_since(view.last_seen) > ttl)
            .map(|(node, _)| *node)
            .collect();
        for node in silent {
            self.inner().expired.fetch_add(1, Ordering::Relaxed);
            self.forget(node, true);
        }
    }

    /// Removes every member of `node` here, with Left events.
    fn forget(&mut self, node: u32, expired: bool) {
        let Some(view) = self.nodes.remove(&node) else { return };
        let hub = Hub::upgrade(&self.hub);
        for ((room, member), data) in view.members {
            if let Some(hub) = &hub {
                hub.remove_remote(&room, member);
            }
            self.events.push(ClusterEvent::Left { room, member, data, expired });
        }
    }

    fn receive(&mut self, msg: &redis::Msg, now: Instant) {
        let mut reader = Reader(msg.get_payload_bytes());
        let (Some(kind), Some(node)) = (reader.u8(), reader.u32()) else {
            self.inner().undecodable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if node == self.link.node {
            // Our own publish: the local members already have it.
            return;
        }
        self.inner().received.fetch_add(1, Ordering::Relaxed);
        let Some(hub) = Hub::upgrade(&self.hub) else { return };
        if kind != BYE {
            if !self.nodes.contains_key(&node) {
                // A new instance (or one back from an outage): it learns this one's members
                // now rather than at the next heartbeat.
                self.announce(&hub);
            }
            self.nodes.entry(node).or_insert_with(|| NodeView { last_seen: now, members: HashMap::new() }).last_seen =
                now;
        }
        let ok = match kind {
            ROOM => self.receive_room(&hub, msg.get_channel_name(), &mut reader),
            ALL => {
                let message = reader.u8().and_then(|opcode| decode_message(opcode, reader.rest()));
                message.map(|message| hub.deliver_all_local(&message)).is_some()
            }
            DIRECT => {
                let ours = msg.get_channel_name() == format!("{}:n:{}", self.config.prefix, self.link.node);
                let target = reader.u64().map(MemberId::from_raw);
                let message = reader.u8().and_then(|opcode| decode_message(opcode, reader.rest()));
                match (target, message) {
                    (Some(target), Some(message)) => {
                        if ours {
                            hub.send_local(target, &message);
                        }
                        true
                    }
                    _ => false,
                }
            }
            JOIN => self.receive_join(&hub, node, &mut reader),
            LEAVE => self.receive_leave(&hub, node, &mut reader),
            SNAPSHOT => self.receive_snapshot(&hub, node, &mut reader),
            BYE => {
                self.forget(node, false);
                true
            }
            _ => false,
        };
        if !ok {
            self.inner().undecodable.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn receive_room(&self, hub: &Hub<R, D>, channel: &str, reader: &mut Reader<'_>) -> bool {
        let Some(room) = channel.strip_prefix(&self.config.prefix).and_then(|rest| rest.strip_prefix(":r:")) else {
            return false;
        };
        let Ok(room) = room.parse::<R>() else { return false };
        let (Some(except), Some(opcode)) = (reader.u64(), reader.u8()) else { return false };
        let except = (except != NO_EXCEPT).then_some(MemberId::from_raw(except));
        if !hub.has_local(&room) {
            return true;
        }
        let Some(message) = decode_message(opcode, reader.rest()) else { return false };
        hub.deliver_local(&room, except, &message);
        true
    }

    fn member_of(node: u32, raw: u64) -> Option<MemberId> {
        let member = MemberId::from_raw(raw);
        // A member id names its instance: another instance cannot announce it.
        (member.node() == node).then_some(member)
    }

    fn receive_join(&mut self, hub: &Hub<R, D>, node: u32, reader: &mut Reader<'_>) -> bool {
        let Some(member) = reader.u64().and_then(|raw| Self::member_of(node, raw)) else { return false };
        let (Some(room), Some(data)) = (reader.str(), reader.str()) else { return false };
        let (Ok(room), Ok(data)) = (room.parse::<R>(), data.parse::<D>()) else { return false };
        self.add(hub, node, room, member, data);
        true
    }

    fn add(&mut self, hub: &Hub<R, D>, node: u32, room: R, member: MemberId, data: D) {
        if let Some(view) = self.nodes.get_mut(&node) {
            view.members.insert((room.clone(), member), data.clone());
        }
        if hub.add_remote(room.clone(), member, data.clone()) {
            self.events.push(ClusterEvent::Joined { room, member, data });
        }
    }

    fn receive_leave(&mut self, hub: &Hub<R, D>, node: u32, reader: &mut Reader<'_>) -> bool {
        let Some(member) = reader.u64().and_then(|raw| Self::member_of(node, raw)) else { return false };
        let Some(Ok(room)) = reader.str().map(str::parse::<R>) else { return false };
        if let Some(view) = self.nodes.get_mut(&node) {
            view.members.remove(&(room.clone(), member));
        }
        if let Some(data) = hub.remove_remote(&room, member) {
            self.events.push(ClusterEvent::Left { room, member, data, expired: false });
        }
        true
    }

    fn receive_snapshot(&mut self, hub: &Hub<R, D>, node: u32, reader: &mut Reader<'_>) -> bool {
        let mut now_there = HashMap::new();
        while !reader.0.is_empty() {
            let Some(member) = reader.u64().and_then(|raw| Self::member_of(node, raw)) else { return false };
            let (Some(room), Some(data)) = (reader.str(), reader.str()) else { return false };
            let (Ok(room), Ok(data)) = (room.parse::<R>(), data.parse::<D>()) else { return false };
            now_there.insert((room, member), data);
        }
        let gone: Vec<(R, MemberId)> = self
            .nodes
            .get(&node)
            .map(|view| view.members.keys().filter(|key| !now_there.contains_key(*key)).cloned().collect())
            .unwrap_or_default();
        for (room, member) in gone {
            if let Some(view) = self.nodes.get_mut(&node) {
                view.members.remove(&(room.clone(), member));
            }
            if let Some(data) = hub.remove_remote(&room, member) {
                self.events.push(ClusterEvent::Left { room, member, data, expired: false });
            }
        }
        for ((room, member), data) in now_there {
            self.add(hub, node, room, member, data);
        }
        true
    }
}
