//! `ServerStats`: the counters a [`Server`](crate::Server) keeps while it serves — connections
//! accepted, open now and refused, WebSocket connections opened and open now, HTTP answers —
//! as relaxed atomics behind one `Arc`, readable from any clone at any time. What does not
//! live here: the hub's counters ([`HubStats`](crate::HubStats), which counts the messages
//! its slow-consumer policy drops) and anything per message (the handler owns the
//! connection).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

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

impl Open {
    /// Whether the connection's upgrade was accepted.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn websocket_opened(&self) -> bool {
        self.websocket.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed))
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
}
