//! `tether-server`: the layer above one connection, written once for every runtime. What
//! lives here: the [`Server`] (an accept loop with routes, plain pages, the standard HTTP
//! answers, a per-IP cap and graceful shutdown; each adapter re-exports it with its runtime
//! as `server::Server`), route templates with named parameters ([`Router`]), typed access to
//! path parameters and the query ([`Params`], [`Query`]), and rooms that broadcast without
//! waiting for anyone ([`Hub`]: bounded per-member queues, a [`SlowPolicy`], presence).
//! What does not: protocol rules (in `tether-proto`) and the connection API (in `tether-rt`
//! and the adapters).
//!
//! The [`Server`] looks the request path up ([`Router::at`]): no route is answered with
//! [`NoMatch::status`] (404, or 400 for a path that is not valid percent-encoded UTF-8);
//! a socket route's handler gets the [`Params`] with the pending upgrade ([`Incoming`]) and
//! decides to accept or reject it. [`Server::stats`] hands out lock-free counters of what
//! the server does ([`ServerStats`]: connections, answers, WebSocket endings by
//! [`CloseKind`], data messages and bytes each way); the hub counts its own ([`Hub::stats`]).
//!
//! With the `tracing` feature, each connection runs in a `connection` span (INFO) with the
//! fields `peer` (the address), `route` (the template, a low-cardinality label) and `params`
//! (the decoded path parameters), both recorded once the request is routed; inside it, INFO
//! events `websocket opened` (with the agreed `protocol`) and `websocket closed` (with its
//! `cause`, a [`CloseKind`] name such as `peer_closed` or `rate_limited`, the close `code`,
//! and `messages_in`, `bytes_in`, `messages_out`, `bytes_out`), and DEBUG events for
//! refusals (handshake limit full, per-IP cap). No subscriber is installed: the application
//! picks one.
//!
//! ```
//! use tether_server::{Query, Router};
//!
//! #[derive(Debug, PartialEq)]
//! enum Endpoint { Client, Room }
//!
//! let router = Router::new()
//!     .route("/ws/{client_id}", Endpoint::Client)
//!     .nest("/rooms", Router::new().route("/{room}/live", Endpoint::Room));
//!
//! // GET /ws/42?token=abc
//! let found = router.at("/ws/42").unwrap();
//! assert_eq!(found.handler(), &Endpoint::Client);
//! assert_eq!(found.params().get_as::<u64>("client_id"), Ok(42));
//! let query = Query::parse(Some("token=abc")).unwrap();
//! assert_eq!(query.get("token"), Some("abc"));
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

#[cfg(feature = "redis")]
mod cluster;
mod hub;
mod params;
mod router;
mod serve;
mod stats;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use cluster::{ClusterConfig, ClusterError, ClusterEvent, ClusterStats, RedisCluster};
pub use hub::{Delivery, Forwarded, Hub, HubConfig, HubStats, Mail, Mailbox, MemberId, SlowPolicy, UnknownMember};

pub use params::{InvalidQuery, ParamError, Params, Query};
pub use router::{Match, NoMatch, Router, TemplateError};
pub use serve::{Incoming, PageRequest, Response, Served, Server, DEFAULT_HANDSHAKE_LIMIT, DEFAULT_SHUTDOWN_TIMEOUT};
pub use stats::{CloseCounts, ServerStats, StatsSnapshot};
pub use tether_rt::{CloseKind, Ending, Traffic, TrafficSnapshot};
