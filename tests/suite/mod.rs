//! The cross-runtime suite: written once, included by `tests/tests/{tokio,smol,async_std}.rs`
//! through `#[path]`, each providing `crate::rt` (block_on, spawn, listen, accept, connect).
//! Real loopback TCP on 127.0.0.1 only; every test is bounded in time. Comments such as
//! "hostile peers G3" name items of the catalogue in `tether_proto::manual::hostile_peers`,
//! which lists the tests of every item.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

pub(crate) use crate::rt::{self, Stream, R};
pub(crate) use tether_rt::{
    AcceptOptions, ClientBuilder, CloseCause, CloseCode, Config, Error, HandshakeError, Message, OpenError, Upgrade,
};
pub(crate) use tether_testkit::{client_frame, parse_frame, BINARY, CLOSE, PING, TEXT};
pub(crate) use tether_tests::{raw, sleep, timeout, Slow};

mod chat;
mod close;
mod dashboard;
mod deadlines;
mod deflate;
mod flow;
mod handshake;
mod hostile;
mod hostile_peer;
mod hostile_sockets;
mod interop;
mod interop_tls;
mod limits;
mod messages;
mod observe;
mod proxy;
mod rate_limit;
mod serve;
mod shutdown;
mod slow;
mod tls;

/// A WebSocket over the runtime's TCP stream (or another stream).
pub(crate) type Ws<S = Stream> = tether_rt::WebSocket<S, R>;

/// What `ClientBuilder::connect` hands back: TCP, or TLS over it.
pub(crate) type ClientWs = Ws<<R as tether_rt::Runtime>::MaybeTls>;

/// Run a test body on the runtime, failing it if it takes more than 30 s.
pub(crate) fn run<F: Future>(f: F) -> F::Output {
    run_for(Duration::from_secs(30), f)
}

/// Run a test body on the runtime, failing it if it takes more than `limit`. It shares the
/// process with other tests, but never with a memory measurement ([`run_alone`]).
pub(crate) fn run_for<F: Future>(limit: Duration, f: F) -> F::Output {
    let _shared = tether_tests::mem::shared();
    rt::block_on(async { timeout::<R, _>(limit, f).await.expect("test timed out") })
}

/// Run a test body that measures process-wide memory: no other suite test runs meanwhile.
pub(crate) fn run_alone<F: Future>(limit: Duration, f: F) -> F::Output {
    let _alone = tether_tests::mem::alone();
    rt::block_on(async { timeout::<R, _>(limit, f).await.expect("test timed out") })
}

/// The adapters' defaults.
pub(crate) fn config() -> Config {
    tether_rt::default_config()
}

/// A connected (client, server) pair over loopback TCP.
pub(crate) async fn pair_with(client: Config, server: Config) -> (Ws, Ws) {
    let (listener, addr) = rt::listen().await;
    let accepted = rt::spawn(async move {
        let stream = rt::accept(&listener).await;
        Upgrade::<Stream, R>::read_with_config(stream, server)
            .await
            .expect("read upgrade")
            .accept()
            .await
            .expect("accept")
    });
    // `connect_on` over the runtime's TCP stream, so both ends have the same type (`connect`
    // hands back the plain-or-TLS stream; the handshake and TLS tests use it).
    let stream = rt::connect(addr).await;
    let client =
        ClientBuilder::<R>::new(&format!("ws://{addr}/")).config(client).connect_on(stream).await.expect("connect");
    (client, accepted.await)
}

/// A pair with default configuration.
pub(crate) async fn pair() -> (Ws, Ws) {
    pair_with(config(), config()).await
}

/// Echo every message until the connection ends; returns how it ended.
pub(crate) async fn echo<S>(mut ws: Ws<S>) -> Option<tether_rt::Closed>
where
    R: tether_rt::Runtime,
    <R as tether_rt::Runtime>::Io<S>: tether_rt::Transport,
{
    while let Ok(Some(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
    ws.closed()
}

/// A server accepting one connection with `config` and handing it to `serve`.
pub(crate) async fn server<F, Fut>(
    config: Config,
    serve: F,
) -> (std::net::SocketAddr, impl Future<Output = Fut::Output>)
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let (listener, addr) = rt::listen().await;
    let task = rt::spawn(async move {
        let stream = rt::accept(&listener).await;
        let ws = Upgrade::<Stream, R>::read_with_config(stream, config)
            .await
            .expect("read upgrade")
            .accept()
            .await
            .expect("accept");
        serve(ws).await
    });
    (addr, task)
}

/// A configuration with short timers for tests.
pub(crate) fn short(f: impl FnOnce(tether_rt::ConfigBuilder) -> tether_rt::ConfigBuilder) -> Config {
    f(config().to_builder()).build().expect("valid config")
}
