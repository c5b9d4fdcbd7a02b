//! `ServerStats`: the counters a [`Server`](crate::Server) keeps while it serves — connections
//! accepted, open now and refused, WebSocket connections opened and open now, HTTP answers,
//! WebSocket endings by [`CloseKind`] ([`CloseCounts`]) and data messages and bytes each way
//! — as relaxed atomics behind one `Arc`, readable from any clone at any time. Traffic is
//! counted by each connection on its own counters ([`Traffic`], registered here while it
//! lives and summed into the totals when it ends), so no counter is shared per message.
//! What does not live here: the hub's counters ([`HubStats`](crate::HubStats), which counts
//! the messages its slow-consumer policy drops) and the counting itself (in `tether-rt`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tether_rt::{CloseKind, Ending, Traffic, TrafficSnapshot};

/// A live view of a [`Server`](crate::Server)'s counters: take it with
/// [`Server::stats`](crate::Server::stats) before [`serve`](crate::Server::serve) and read
/// it (a [`snapshot`](Self::snapshot)) while the server runs or after. Cloning is cheap; the
/// counters are lock-free atomics updated with relaxed ordering, so a snapshot taken while
/// connections come and go is a near-instant view, not one consistent instant.
#[derive(Clone, Debug, Default)]
pub struct ServerStats {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    closed: AtomicU64,
    refused: AtomicU64,
    refused_per_ip: AtomicU64,
    answered: AtomicU64,
    websockets_opened: AtomicU64,
    websockets_closed: AtomicU64,
    /// Endings by [`CloseKind::index`].
    closes: [AtomicU64; CloseKind::COUNT],
    traffic: Mutex<TrafficBook>,
}

/// The traffic of live connections (their own counters, by registration number) and the
/// sum of the ended ones, under one lock so that an ending moves its traffic from one to
/// the other without a snapshot seeing it twice or not at all. Locked twice per connection
/// (registration, ending) and once per snapshot; never per message.
#[derive(Debug, Default)]
struct TrafficBook {
    next: u64,
    live: HashMap<u64, Arc<Traffic>>,
    ended: TrafficSnapshot,
}

/// The counters at one moment ([`ServerStats::snapshot`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// TCP connections accepted and given a task.
    pub accepted: u64,
    /// Accepted connections whose task is still running (handshakes, pages, WebSockets).
    pub open: u64,
    /// Connections closed at once, unread, because the handshake limit was full.
    pub refused: u64,
    /// Requests answered 429 because their address was at the per-IP cap.
    pub refused_per_ip: u64,
    /// Requests answered with a plain HTTP response instead of an upgrade: pages, 404,
    /// 405, 426, invalid upgrades, the 429s above, and handler rejections.
    pub answered: u64,
    /// WebSocket connections opened (a handler's `accept` succeeded).
    pub websockets_opened: u64,
    /// WebSocket connections open now: opened, and their handler has not returned yet.
    pub websockets_open: u64,
    /// How WebSocket connections ended, by [`CloseKind`]; [`CloseKind::HandshakeFailed`]
    /// counts connections whose request was invalid, too slow or never came, and accepts
    /// that failed.
    pub closes: CloseCounts,
    /// Data messages (text and binary) and their payload bytes each way, on every
    /// WebSocket connection served, live ones included.
    pub traffic: TrafficSnapshot,
}

/// Endings counted by [`CloseKind`] ([`StatsSnapshot::closes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloseCounts([u64; CloseKind::COUNT]);

impl CloseCounts {
    /// Endings of this kind.
    pub fn get(&self, kind: CloseKind) -> u64 {
        self.0[kind.index()]
    }

    /// Every kind with its count, in [`CloseKind::ALL`] order (zeros included).
    pub fn iter(&self) -> impl Iterator<Item = (CloseKind, u64)> + '_ {
        CloseKind::ALL.iter().map(|&kind| (kind, self.get(kind)))
    }

    /// Endings of every kind.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl ServerStats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let c = &self.inner;
        let accepted = c.accepted.load(Ordering::Relaxed);
        let closed = c.closed.load(Ordering::Relaxed);
        let opened = c.websockets_opened.load(Ordering::Relaxed);
        let ws_closed = c.websockets_closed.load(Ordering::Relaxed);
        StatsSnapshot {
            accepted,
            open: accepted.saturating_sub(closed),
            refused: c.refused.load(Ordering::Relaxed),
            refused_per_ip: c.refused_per_ip.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
            websockets_opened: opened,
            websockets_open: opened.saturating_sub(ws_closed),
            closes: CloseCounts(std::array::from_fn(|i| c.closes[i].load(Ordering::Relaxed))),
            traffic: {
                let book = c.traffic.lock().unwrap_or_else(|e| e.into_inner());
                let mut sum = book.ended;
                for traffic in book.live.values() {
                    sum += traffic.snapshot();
                }
                sum
            },
        }
    }

    /// Count an ending of `kind`.
    pub(crate) fn ended(&self, kind: CloseKind) {
        self.inner.closes[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Register a connection's own traffic counters; the number is for [`ended_with`](Self::ended_with).
    pub(crate) fn track(&self, traffic: Arc<Traffic>) -> u64 {
        let mut book = self.inner.traffic.lock().unwrap_or_else(|e| e.into_inner());
        let id = book.next;
        book.next += 1;
        book.live.insert(id, traffic);
        id
    }

    /// A tracked connection ended: count its kind, and move its final traffic to the totals.
    pub(crate) fn ended_with(&self, id: u64, ending: &Ending) {
        self.ended(ending.kind);
        let mut book = self.inner.traffic.lock().unwrap_or_else(|e| e.into_inner());
        let live = book.live.remove(&id);
        if let Some(traffic) = ending.traffic.or_else(|| live.map(|t| t.snapshot())) {
            book.ended += traffic;
        }
    }

    pub(crate) fn refused(&self) {
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refused_per_ip(&self) {
        self.inner.refused_per_ip.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn answered(&self) {
        self.inner.answered.fetch_add(1, Ordering::Relaxed);
    }

    /// Count an accepted connection until the guard is dropped (its task ended or was
    /// dropped at the shutdown deadline).
    pub(crate) fn connection(&self) -> Open {
        self.inner.accepted.fetch_add(1, Ordering::Relaxed);
        Open { stats: self.clone(), websocket: None }
    }
}

/// One accepted connection, counted as open until dropped; also counts its WebSocket, once
/// opened, until then.
#[derive(Debug)]
pub(crate) struct Open {
    stats: ServerStats,
    websocket: Option<Arc<AtomicBool>>,
}

impl Open {
    /// A mark for the connection's [`Incoming`](crate::Incoming), set when its upgrade is
    /// accepted.
    pub(crate) fn mark(&mut self) -> OpenedMark {
        let flag = self.websocket.get_or_insert_with(Default::default).clone();
        OpenedMark { stats: self.stats.clone(), flag }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.stats.inner.closed.fetch_add(1, Ordering::Relaxed);
        if self.websocket.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed)) {
            self.stats.inner.websockets_closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Held by an [`Incoming`](crate::Incoming): records that its upgrade was accepted, or that
/// it was answered instead.
#[derive(Debug)]
pub(crate) struct OpenedMark {
    stats: ServerStats,
    flag: Arc<AtomicBool>,
}

impl OpenedMark {
    pub(crate) fn opened(&self) {
        if !self.flag.swap(true, Ordering::Relaxed) {
            self.stats.inner.websockets_opened.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn answered(&self) {
        self.stats.answered();
    }

    /// The handler's accept failed (the 101 could not be written, invalid options).
    pub(crate) fn handshake_failed(&self) {
        self.stats.ended(CloseKind::HandshakeFailed);
    }

    /// Count `ws`'s traffic and its ending; with the `tracing` feature, log the ending (the
    /// `websocket closed` event, in the connection's span wherever the connection is
    /// dropped).
    pub(crate) fn observe<S, R>(&self, ws: &mut tether_rt::WebSocket<S, R>)
    where
        R: tether_rt::Runtime,
        R::Io<S>: tether_rt::Transport,
    {
        let stats = self.stats.clone();
        let id = stats.track(ws.traffic());
        #[cfg(feature = "tracing")]
        let span = tracing::Span::current();
        ws.on_end(move |ending| {
            stats.ended_with(id, ending);
            #[cfg(feature = "tracing")]
            span.in_scope(|| {
                let traffic = ending.traffic.unwrap_or_default();
                tracing::info!(
                    cause = ending.kind.name(),
                    code = ending.code.as_u16(),
                    messages_in = traffic.messages_in,
                    bytes_in = traffic.bytes_in,
                    messages_out = traffic.messages_out,
                    bytes_out = traffic.bytes_out,
                    "websocket closed"
                );
            });
        });
    }
}
