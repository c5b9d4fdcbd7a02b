//! The load generator for WebSockets over HTTP/2 (`benches/h2.sh`): ONE cleartext HTTP/2
//! connection (prior knowledge) to the server, SOCKETS WebSockets multiplexed on it (RFC 8441
//! extended CONNECT, one stream each), INFLIGHT binary messages of SIZE bytes in flight on
//! each, for SECS seconds after a one-second warm-up; every echo is checked (length, the
//! per-socket sequence number, the rest of the payload) and counted. Prints one `key=value`
//! line: messages/s echoed and this process's CPU (so the client libraries can be compared
//! against the same server). Unlike `loadgen`, this one is a WebSocket library, chosen by
//! CLIENT:
//!
//! - `tether`: `tether_tokio::http2::Http2Connection` (h2 underneath), `websocket("/ws")` per
//!   socket, each split into its reader and sender;
//! - `yawc`: yawc's WebSockets (`WebSocket::from_stream`, role client) on streams of one
//!   hyper HTTP/2 client connection, each opened with the request yawc's own RFC 8441
//!   handshake sends (yawc 0.5's `connect` dials a new HTTP/2 connection per WebSocket, so
//!   its connection setup is done here the way it does it, once), split with `StreamExt::split`;
//! - `yawc-connect`: yawc's public API as is, `WebSocket::connect(ws://…).http_version(Http2)`
//!   per socket — SOCKETS HTTP/2 connections of one stream each, not one connection.
//!
//! Nothing here is compressed; the server's side is `echo_h2`. Loopback only, bounded in
//! time.
//!
//! ```text
//! loadgen_h2 CLIENT ADDR SOCKETS INFLIGHT SIZE SECS     CLIENT: tether | yawc | yawc-connect
//! ```

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use hyper::http;
use tether_benches::procfs::own_cpu_secs;
use tether_tokio::{Bytes, Message};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

type Error = Box<dyn std::error::Error>;

/// Hard cap on any run, whatever the arguments: the generator always stops by itself.
const MAX_RUN: Duration = Duration::from_secs(120);

/// The largest message either side accepts (as `echo_h2`).
const MAX_MESSAGE: usize = 1 << 20;

/// The WebSocket path `echo_h2` serves.
const PATH: &str = "/ws";

fn main() -> ExitCode {
    tether_benches::cli::main_bounded("loadgen_h2", MAX_RUN, |args| async move { run(&args).await })
}

/// What every socket's tasks share: the echoes counted so far, and the first failure.
#[derive(Default)]
struct Tally {
    echoed: Cell<u64>,
    failure: RefCell<Option<String>>,
}

impl Tally {
    fn fail(&self, why: String) {
        self.failure.borrow_mut().get_or_insert(why);
    }
}

/// The messages one socket sends: the same SIZE bytes, the first eight (or fewer) replaced
/// by the socket's sequence number.
#[derive(Clone)]
struct Payloads {
    base: Rc<[u8]>,
}

impl Payloads {
    fn new(size: usize) -> Self {
        Payloads { base: (0..size).map(|i| (i.wrapping_mul(31) + 7) as u8).collect() }
    }

    fn message(&self, seq: u64) -> Bytes {
        let mut data = self.base.to_vec();
        let n = data.len().min(8);
        data[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
        Bytes::from(data)
    }

    fn check(&self, payload: &[u8], seq: u64) -> Result<(), String> {
        let n = self.base.len().min(8);
        if payload.len() != self.base.len() {
            return Err(format!("echo {seq}: {} bytes, sent {}", payload.len(), self.base.len()));
        }
        if payload[..n] != seq.to_le_bytes()[..n] || payload[n..] != self.base[n..] {
            return Err(format!("echo {seq}: payload differs from the message sent"));
        }
        Ok(())
    }
}

async fn run(args: &[String]) -> Result<String, Error> {
    let num = |i: usize| -> Result<usize, Error> {
        Ok(args.get(i).ok_or("missing argument")?.parse::<usize>().map_err(|e| format!("argument {i}: {e}"))?)
    };
    let usage = "usage: loadgen_h2 tether|yawc|yawc-connect ADDR SOCKETS INFLIGHT SIZE SECS";
    let client = args.first().map(String::as_str).unwrap_or("");
    let addr: SocketAddr = args.get(1).ok_or(usage)?.parse()?;
    if !addr.ip().is_loopback() {
        return Err("the load generator only targets loopback addresses".into());
    }
    let (sockets, inflight, size, secs) = (num(2)?, num(3)?, num(4)?, Duration::from_secs(num(5)? as u64));
    if sockets == 0 || inflight == 0 || size == 0 || size > MAX_MESSAGE {
        return Err(format!("SOCKETS and INFLIGHT must be > 0, SIZE in 1..={MAX_MESSAGE}").into());
    }
    let tally = Rc::new(Tally::default());
    let payloads = Payloads::new(size);
    let mut tasks = Vec::new();
    match client {
        "tether" => {
            for ws in open_tether(addr, sockets).await? {
                tasks.extend(drive_tether(ws, inflight, payloads.clone(), tally.clone()));
            }
        }
        "yawc" => {
            for ws in open_yawc(addr, sockets).await? {
                tasks.extend(drive_yawc(ws, inflight, payloads.clone(), tally.clone()));
            }
        }
        "yawc-connect" => {
            for ws in open_yawc_connect(addr, sockets).await? {
                tasks.extend(drive_yawc(ws, inflight, payloads.clone(), tally.clone()));
            }
        }
        _ => return Err(usage.into()),
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (start, start_count, cpu0) = (Instant::now(), tally.echoed.get(), own_cpu_secs());
    tokio::time::sleep(secs).await;
    let (elapsed, count, cpu1) = (start.elapsed(), tally.echoed.get() - start_count, own_cpu_secs());
    for task in &tasks {
        task.abort();
    }
    if let Some(why) = tally.failure.borrow_mut().take() {
        return Err(why.into());
    }
    if count == 0 {
        return Err("no echo during the run".into());
    }
    let rate = count as f64 / elapsed.as_secs_f64();
    let cpu = cpu1 - cpu0;
    Ok(format!(
        "client={client} sockets={sockets} inflight={inflight} size={size} msgs_per_sec={rate:.0} mib_per_sec={:.2} \
         gen_cpu_pct={:.0} gen_cpu_ns_per_msg={:.0}",
        rate * size as f64 / f64::from(1 << 20),
        cpu / elapsed.as_secs_f64() * 100.0,
        cpu * 1e9 / count as f64,
    ))
}

async fn tcp(addr: SocketAddr) -> Result<TcpStream, Error> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Tether's RFC 8441 client: one connection, SOCKETS WebSockets on it.
async fn open_tether(addr: SocketAddr, sockets: usize) -> Result<Vec<tether_tokio::http2::Http2WebSocket>, Error> {
    let config = tether_tokio::default_config()
        .to_builder()
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .build()?;
    let authority: http::uri::Authority = addr.to_string().parse()?;
    let connection =
        tether_tokio::http2::Http2Connection::handshake(tcp(addr).await?, authority, http::uri::Scheme::HTTP, config)
            .await?;
    if !connection.supports_websockets() {
        return Err("the server did not enable extended CONNECT".into());
    }
    let mut out = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        out.push(connection.websocket(PATH).await?);
    }
    Ok(out)
}

fn yawc_options() -> yawc::Options {
    yawc::Options::default().with_utf8().with_limits(MAX_MESSAGE, MAX_MESSAGE)
}

/// yawc's WebSockets on the streams of one hyper HTTP/2 client connection, each opened with
/// the extended CONNECT yawc's `http2::handshake` sends (and its answer checked as it does:
/// 200, no extension agreed since none was offered).
async fn open_yawc(addr: SocketAddr, sockets: usize) -> Result<Vec<yawc::HttpWebSocket>, Error> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp(addr).await?)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut out = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let mut request = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(format!("http://{addr}{PATH}"))
            .header(http::header::SEC_WEBSOCKET_VERSION, "13")
            .body(http_body_util::Empty::<Bytes>::new())?;
        request.extensions_mut().insert(hyper::ext::Protocol::from_static("websocket"));
        let mut response = sender.clone().send_request(request).await?;
        if response.status() != http::StatusCode::OK {
            return Err(format!("the server answered {}", response.status()).into());
        }
        if let Some(agreed) = response.headers().get(http::header::SEC_WEBSOCKET_EXTENSIONS) {
            return Err(format!("the server agreed to an extension not offered: {agreed:?}").into());
        }
        let upgraded = hyper::upgrade::on(&mut response).await?;
        let io = yawc::HttpStream::from(TokioIo::new(upgraded));
        out.push(yawc::WebSocket::from_stream(io, yawc::Role::Client, yawc_options())?);
    }
    Ok(out)
}

/// yawc's own `connect` over HTTP/2 (prior knowledge on `ws://`): one connection per socket.
async fn open_yawc_connect(addr: SocketAddr, sockets: usize) -> Result<Vec<yawc::HttpWebSocket>, Error> {
    let mut out = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let url = format!("ws://{addr}{PATH}").parse()?;
        let ws = yawc::WebSocket::connect(url)
            .with_options(yawc_options().with_no_delay())
            .http_version(yawc::HttpVersion::Http2)
            .await?;
        out.push(ws);
    }
    Ok(out)
}

/// One Tether socket: a sender task keeping INFLIGHT messages outstanding (a permit per
/// message, returned by each echo) and a reader task checking and counting the echoes.
fn drive_tether(
    ws: tether_tokio::http2::Http2WebSocket,
    inflight: usize,
    payloads: Payloads,
    tally: Rc<Tally>,
) -> [tokio::task::JoinHandle<()>; 2] {
    let (mut reader, sender) = ws.split();
    let permits = Rc::new(Semaphore::new(inflight));
    let writer = {
        let (permits, payloads, tally) = (permits.clone(), payloads.clone(), tally.clone());
        tokio::task::spawn_local(async move {
            for seq in 0u64.. {
                let Ok(permit) = permits.acquire().await else { return };
                permit.forget();
                if let Err(e) = sender.send(Message::binary(payloads.message(seq))).await {
                    return tally.fail(format!("send: {e}"));
                }
            }
        })
    };
    let reader = tokio::task::spawn_local(async move {
        for seq in 0u64.. {
            let payload = match reader.recv().await {
                Ok(Some(Message::Binary(data))) => data,
                Ok(Some(other)) if !other.is_data() => continue,
                Ok(Some(_)) => return tally.fail("a text message came back".into()),
                Ok(None) => return tally.fail("the server closed the WebSocket".into()),
                Err(e) => return tally.fail(format!("receive: {e} (transport: {:?})", reader.transport_error())),
            };
            if let Err(why) = payloads.check(&payload, seq) {
                return tally.fail(why);
            }
            tally.echoed.set(tally.echoed.get() + 1);
            permits.add_permits(1);
        }
    });
    [writer, reader]
}

/// One yawc socket, driven as [`drive_tether`] drives Tether's.
fn drive_yawc(
    ws: yawc::HttpWebSocket,
    inflight: usize,
    payloads: Payloads,
    tally: Rc<Tally>,
) -> [tokio::task::JoinHandle<()>; 2] {
    let (mut sink, mut stream) = ws.split();
    let permits = Rc::new(Semaphore::new(inflight));
    let writer = {
        let (permits, payloads, tally) = (permits.clone(), payloads.clone(), tally.clone());
        tokio::task::spawn_local(async move {
            for seq in 0u64.. {
                let Ok(permit) = permits.acquire().await else { return };
                permit.forget();
                if let Err(e) = sink.send(yawc::frame::Frame::binary(payloads.message(seq))).await {
                    return tally.fail(format!("send: {e}"));
                }
            }
        })
    };
    let reader = tokio::task::spawn_local(async move {
        let mut seq = 0u64;
        while let Some(frame) = stream.next().await {
            match frame.opcode() {
                yawc::frame::OpCode::Binary => {}
                yawc::frame::OpCode::Close => return tally.fail("the server closed the WebSocket".into()),
                yawc::frame::OpCode::Text => return tally.fail("a text message came back".into()),
                _ => continue,
            }
            if let Err(why) = payloads.check(frame.payload(), seq) {
                return tally.fail(why);
            }
            seq += 1;
            tally.echoed.set(tally.echoed.get() + 1);
            permits.add_permits(1);
        }
        tally.fail("the WebSocket ended".into());
    });
    [writer, reader]
}
