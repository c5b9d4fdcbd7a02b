//! Bounds on what many connections cost the server: the pending-handshake limit and the
//! handshake deadline against idle pre-upgrade connections (hostile peers A13), and resident
//! memory per pending handshake and per idle upgraded connection (A13, G9), and heap per
//! connection when a thousand peers announce 16 MiB frames and trickle (C5). Throughput and
//! the 4 KiB per-connection target belong to the benches, not here. Also the safe server
//! defaults: announced frames beyond them are refused with 1009 from many peers at once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use tether_rt::HandshakeLimit;
use tether_tests::mem;

use super::*;

/// Resident memory allowed per connection (pending handshake or idle upgraded).
const PER_CONNECTION_BOUND: usize = 16 << 10;

/// Wait (on the runtime's timer) until `ready()` holds; panics with `what` after `limit`.
async fn until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        sleep::<R>(Duration::from_millis(5)).await;
    }
}

/// An accept loop for `total` connections, as a production server would write it: a
/// permit from `limit` is taken in the loop itself (a refused connection is dropped at
/// once, before any task exists for it), then the handshake runs (and is accepted) in its own
/// task under `config`. Returns the handshake tasks and how many connections were refused.
async fn accept_loop(
    listener: crate::rt::Listener,
    total: usize,
    limit: HandshakeLimit,
    config: Config,
) -> (Vec<impl Future<Output = (Result<Ws, OpenError>, Duration)>>, usize) {
    let mut tasks = Vec::with_capacity(total);
    let mut refused = 0;
    for _ in 0..total {
        let stream = rt::accept(&listener).await;
        match limit.try_acquire() {
            Ok(permit) => {
                let config = config.clone();
                tasks.push(rt::spawn(async move {
                    let start = Instant::now();
                    let result = match Upgrade::<Stream, R>::read_with_permit(stream, config, permit).await {
                        Ok(upgrade) => upgrade.accept().await,
                        Err(e) => Err(e),
                    };
                    (result, start.elapsed())
                }));
            }
            Err(e) => {
                assert!(matches!(e, OpenError::TooManyHandshakes(n) if n == limit.max()), "{e:?}");
                refused += 1;
                drop(stream);
            }
        }
    }
    (tasks, refused)
}

/// How long until `s` reports end of stream (or a reset), reading and discarding.
fn time_to_eof(s: &mut TcpStream, since: Instant) -> Duration {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return since.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn pending_handshakes_are_bounded_and_closed_at_the_deadline() {
    // Hostile peers A13: N idle connections hold the N permits; the next one is refused at once
    // (a typed error for the accept loop, end of stream for the peer); each idle one is
    // closed at the handshake deadline, which frees the permits for honest clients.
    const N: usize = 4;
    let deadline = Duration::from_millis(800);
    run(async move {
        let limit = HandshakeLimit::new(N);
        let config = short(|b| b.handshake_timeout(deadline));
        let (listener, addr) = rt::listen().await;
        let server = rt::spawn(accept_loop(listener, N + 2, limit.clone(), config));
        let (tx, rx) = mpsc::channel();
        let peer_limit = limit.clone();
        let peer = std::thread::spawn(move || {
            let start = Instant::now();
            let mut idle: Vec<TcpStream> = (0..N).map(|_| raw::connect(addr)).collect();
            // Wait until the server holds a permit for each before the next one arrives.
            while peer_limit.pending() < N && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(2));
            }
            let mut refused = raw::connect(addr);
            let refused_after = time_to_eof(&mut refused, Instant::now());
            let idle_after: Vec<Duration> = idle.iter_mut().map(|s| time_to_eof(s, start)).collect();
            // The deadline freed every permit: an honest client is served again.
            while peer_limit.pending() > 0 && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(2));
            }
            let honest = raw::client(addr);
            tx.send(()).unwrap();
            (refused_after, idle_after, honest)
        });
        let (tasks, refused) = server.await;
        assert_eq!(refused, 1);
        until(Duration::from_secs(10), "the peer thread", || rx.try_recv().is_ok()).await;
        let (refused_after, idle_after, _honest) = peer.join().unwrap();
        assert!(refused_after < Duration::from_millis(400), "refused connection closed after {refused_after:?}");
        for after in &idle_after {
            assert!(*after >= deadline - Duration::from_millis(50), "closed before the deadline: {after:?}");
            assert!(*after < deadline + Duration::from_millis(1500), "closed late: {after:?}");
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await);
        }
        let (last, _) = results.pop().unwrap();
        assert!(last.is_ok(), "the honest client after the deadline: {last:?}");
        for (result, elapsed) in &results {
            assert!(matches!(result, Err(OpenError::Handshake(HandshakeError::Timeout { .. }))), "{result:?}");
            assert!(*elapsed >= deadline - Duration::from_millis(50), "{elapsed:?}");
        }
        drop(results);
        drop(last);
        assert_eq!(limit.pending(), 0);
    })
}

/// Connections opened ahead of the server's accept loop, at most: beyond the listen
/// backlog, SYNs are dropped and retried a second later.
const AHEAD: usize = 64;

/// Open `n` raw TCP connections to `addr` from a thread, keeping at most [`AHEAD`] ahead of
/// `accepted`; with `upgrade`, send a request on each and read every 101 head, then write
/// `after` (frames) on each. Keeps them open until `release` fires.
fn open_many(
    addr: SocketAddr,
    n: usize,
    upgrade: bool,
    after: Vec<u8>,
    accepted: impl Fn() -> usize + Send + 'static,
    release: mpsc::Receiver<()>,
) -> (mpsc::Receiver<()>, std::thread::JoinHandle<()>) {
    let (opened_tx, opened) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut conns: Vec<TcpStream> = Vec::with_capacity(n);
        let start = Instant::now();
        for i in 0..n {
            while i >= accepted() + AHEAD && start.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_micros(200));
            }
            let s = TcpStream::connect(addr).expect("connect");
            if upgrade {
                std::io::Write::write_all(&mut &s, raw::request("/").as_bytes()).unwrap();
            }
            conns.push(s);
        }
        if upgrade {
            for s in &mut conns {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let head = raw::read_head(s);
                assert!(head.starts_with("HTTP/1.1 101"), "{head}");
            }
            if !after.is_empty() {
                for s in &mut conns {
                    s.write_all(&after).expect("write after the upgrade");
                }
            }
        }
        opened_tx.send(()).unwrap();
        let _ = release.recv_timeout(Duration::from_secs(30));
    });
    (opened, thread)
}

/// Memory now: (resident set, live heap bytes).
#[derive(Clone, Copy)]
struct Usage {
    rss: usize,
    heap: usize,
}

/// A baseline: freed memory is given back to the OS first, so earlier tests' freed pages
/// cannot absorb (and hide) the growth being measured.
fn baseline() -> Usage {
    mem::trim();
    Usage { rss: mem::rss_bytes(), heap: mem::heap_bytes() }
}

/// Print and check the growth per connection since `before`, as resident memory (pages
/// touched, kernel-side socket memory excluded) and as live heap bytes (exact, no page
/// rounding or reuse); both must be within the bound. The heap count is exact in any run;
/// resident memory is meaningful when these tests run by themselves (`-- limits`): in a
/// full run, pages freed by earlier tests and not returned to the OS absorb part of it.
fn report(what: &str, before: Usage, n: usize) {
    let after = Usage { rss: mem::rss_bytes(), heap: mem::heap_bytes() };
    let rss = after.rss.saturating_sub(before.rss) / n;
    let heap = after.heap.saturating_sub(before.heap) / n;
    println!(
        "{what}: {rss} B RSS and {heap} B heap per connection ({n} connections; VmRSS {} -> {} B)",
        before.rss, after.rss
    );
    assert!(rss <= PER_CONNECTION_BOUND, "{what}: {rss} B RSS per connection > {PER_CONNECTION_BOUND} B");
    assert!(heap <= PER_CONNECTION_BOUND, "{what}: {heap} B heap per connection > {PER_CONNECTION_BOUND} B");
}

#[test]
fn pending_handshake_memory_per_connection() {
    // Hostile peers A13: pre-upgrade memory is tiny (no read buffer before the 101, the header
    // buffer grows with what arrived). Counts everything: task, timer, handshake state.
    const N: usize = 1000;
    mem::raise_nofile((4 * N + 256) as _);
    run_alone(Duration::from_secs(20), async {
        let limit = HandshakeLimit::new(N);
        let (listener, addr) = rt::listen().await;
        let before = baseline();
        let server = rt::spawn(accept_loop(listener, N, limit.clone(), config()));
        let (release, release_rx) = mpsc::channel();
        let counter = limit.clone();
        let (opened, peer) = open_many(addr, N, false, Vec::new(), move || counter.pending(), release_rx);
        until(Duration::from_secs(10), "every connection opened", || opened.try_recv().is_ok()).await;
        until(Duration::from_secs(10), "a permit for every connection", || limit.pending() == N).await;
        let tasks = server.await;
        // Let every handshake task run up to its first read.
        sleep::<R>(Duration::from_millis(200)).await;
        report("pending handshake", before, N);
        release.send(()).unwrap();
        peer.join().unwrap();
        for task in tasks.0 {
            assert!(task.await.0.is_err(), "the peer ended every handshake");
        }
        assert_eq!(limit.pending(), 0);
    })
}

#[test]
fn idle_upgraded_connection_memory() {
    // Hostile peers G9: idle connections after the upgrade (echo server loops parked in `recv`).
    const N: usize = 2000;
    mem::raise_nofile((4 * N + 256) as _);
    run_alone(Duration::from_secs(30), async {
        let (listener, addr) = rt::listen().await;
        let upgraded = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let before = baseline();
        let counter = upgraded.clone();
        let accepts = accepted.clone();
        let server = rt::spawn(async move {
            let mut tasks = Vec::with_capacity(N);
            for _ in 0..N {
                let stream = rt::accept(&listener).await;
                accepts.fetch_add(1, Ordering::Relaxed);
                let counter = counter.clone();
                tasks.push(rt::spawn(async move {
                    let ws = Upgrade::<Stream, R>::read(stream).await.expect("read").accept().await.expect("accept");
                    counter.fetch_add(1, Ordering::Relaxed);
                    echo(ws).await
                }));
            }
            tasks
        });
        let (release, release_rx) = mpsc::channel();
        let (opened, peer) = open_many(addr, N, true, Vec::new(), move || accepted.load(Ordering::Relaxed), release_rx);
        until(Duration::from_secs(20), "every connection upgraded", || opened.try_recv().is_ok()).await;
        until(Duration::from_secs(5), "every server task parked", || upgraded.load(Ordering::Relaxed) == N).await;
        let tasks = server.await;
        sleep::<R>(Duration::from_millis(200)).await;
        report("idle upgraded connection", before, N);
        release.send(()).unwrap();
        peer.join().unwrap();
        for task in tasks {
            let closed = task.await.expect("ended");
            assert_eq!(closed.cause, CloseCause::TransportEof);
        }
    })
}

#[test]
fn a_thousand_peers_announcing_16_mib_frames_cost_what_they_sent() {
    // Hostile peers C5 at scale, under the client-sized limits (16 MiB frames allowed, so
    // nothing refuses the header): every peer announces a 16 MiB - 1 frame and sends a few
    // KiB of it. The server holds what arrived (its read buffer grows with bytes received,
    // never with a header's promise), so the heap grows by what was sent plus a small
    // constant per connection, not by 16 GiB.
    const N: usize = 1000;
    const SENT: usize = 4 << 10;
    mem::raise_nofile((4 * N + 256) as _);
    let mut frame = tether_testkit::Frame::new(BINARY, b"").announce((16 << 20) - 1).mask(Some([1, 2, 3, 4])).encode();
    frame.extend(std::iter::repeat_n(0x5a_u8, SENT));
    run_alone(Duration::from_secs(40), async {
        let (listener, addr) = rt::listen().await;
        let upgraded = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let before = baseline();
        let counter = upgraded.clone();
        let accepts = accepted.clone();
        let server = rt::spawn(async move {
            let mut tasks = Vec::with_capacity(N);
            for _ in 0..N {
                let stream = rt::accept(&listener).await;
                accepts.fetch_add(1, Ordering::Relaxed);
                let counter = counter.clone();
                tasks.push(rt::spawn(async move {
                    let ws = Upgrade::<Stream, R>::read_with_config(stream, config())
                        .await
                        .expect("read")
                        .accept()
                        .await
                        .expect("accept");
                    counter.fetch_add(1, Ordering::Relaxed);
                    echo(ws).await
                }));
            }
            tasks
        });
        let (release, release_rx) = mpsc::channel();
        let sent = frame.len();
        let (opened, peer) = open_many(addr, N, true, frame, move || accepted.load(Ordering::Relaxed), release_rx);
        until(Duration::from_secs(20), "every connection upgraded and written", || opened.try_recv().is_ok()).await;
        until(Duration::from_secs(5), "every server task parked", || upgraded.load(Ordering::Relaxed) == N).await;
        let tasks = server.await;
        // Let every connection read what its peer sent.
        sleep::<R>(Duration::from_millis(300)).await;
        let heap = mem::heap_bytes().saturating_sub(before.heap) / N;
        println!("16 MiB announced, {sent} B sent: {heap} B heap per connection ({N} connections)");
        assert!(
            heap <= 2 * sent + PER_CONNECTION_BOUND,
            "{heap} B of heap per connection for {sent} B sent (bound {} B)",
            2 * sent + PER_CONNECTION_BOUND
        );
        release.send(()).unwrap();
        peer.join().unwrap();
        for task in tasks {
            assert!(task.await.is_some(), "every connection ended when its peer went away");
        }
    })
}

/// A future's size is the size of its largest state, for as long as it lives: a server
/// task that awaited the opening handshake carries that many bytes for the whole life of
/// the connection. The handshake's state (parser, request, timer) is therefore boxed while
/// it runs, and what a connection's task holds afterwards — and the futures of the hot
/// receive and send calls — stay a few words each (what boxing saved is in
/// `tether_proto::manual::performance`).
#[test]
fn handshake_state_does_not_stay_in_the_connection_task() {
    fn size<F>(_: &F) -> usize {
        std::mem::size_of::<F>()
    }
    async fn serve(stream: Stream) -> Result<(), Box<dyn std::error::Error>> {
        let mut ws = Ws::accept(stream).await?;
        while let Some(message) = ws.recv().await? {
            ws.send(message).await?;
        }
        Ok(())
    }
    async fn serve_upgrade(stream: Stream) -> Result<(), Box<dyn std::error::Error>> {
        let upgrade = Upgrade::<Stream, R>::read(stream).await?;
        if upgrade.path() != "/" {
            return Ok(upgrade.reject(404, b"not found").await?);
        }
        let mut ws = upgrade.accept_with(&AcceptOptions::new()).await?;
        while let Some(message) = ws.recv().await? {
            ws.send(message).await?;
        }
        Ok(())
    }
    run(async {
        let (listener, addr) = rt::listen().await;
        let client = rt::spawn(async move { ClientBuilder::<R>::new(&format!("ws://{addr}/")).connect().await });
        let stream = rt::accept(&listener).await;
        assert!(std::mem::size_of::<Upgrade<Stream, R>>() <= 8, "Upgrade is one pointer");
        let read = Upgrade::<Stream, R>::read(stream);
        // Before its first poll a future holds its arguments: the stream itself.
        let stream_size = std::mem::size_of::<Stream>();
        assert!(size(&read) <= stream_size + 32, "Upgrade::read future: {} bytes", size(&read));
        let upgrade = read.await.expect("read");
        let accept = upgrade.accept();
        assert!(size(&accept) <= 32, "Upgrade::accept future: {} bytes", size(&accept));
        let mut ws = accept.await.expect("accept");
        let connect = ClientBuilder::<R>::new("ws://127.0.0.1:1/").connect();
        assert!(size(&connect) <= 64, "ClientBuilder::connect future: {} bytes", size(&connect));
        drop(connect);
        {
            let recv = ws.recv();
            assert!(size(&recv) <= 48, "recv future: {} bytes", size(&recv));
        }
        {
            let send = ws.send(Message::text("x"));
            assert!(size(&send) <= 160, "send future: {} bytes", size(&send));
        }
        let stream = rt::connect(addr).await;
        for (what, bytes) in [
            ("accept + echo", size(&serve(stream))),
            ("read + accept_with + echo", {
                let stream = rt::connect(addr).await;
                size(&serve_upgrade(stream))
            }),
        ] {
            assert!(bytes <= stream_size + 400, "a connection task ({what}): {bytes} bytes");
        }
        drop(client.await);
    });
}

#[test]
fn server_defaults_refuse_announced_16_mib_frames_from_many_peers_with_1009() {
    // Safe server defaults (`Config::server`, used by `Upgrade::read`): many peers announce
    // a 16 MiB frame and trickle its bytes; each is refused with 1009 at the header, before
    // anything is reserved for it.
    const PEERS: usize = 40;
    run(async {
        let (listener, addr) = rt::listen().await;
        let server = rt::spawn(async move {
            let mut tasks = Vec::new();
            for _ in 0..PEERS {
                let stream = rt::accept(&listener).await;
                tasks.push(rt::spawn(async move {
                    let mut ws =
                        Upgrade::<Stream, R>::read(stream).await.expect("read").accept().await.expect("accept");
                    match ws.recv().await {
                        Err(Error::Closed(closed)) => closed.code,
                        other => panic!("{other:?}"),
                    }
                }));
            }
            let mut codes = Vec::new();
            for task in tasks {
                codes.push(task.await);
            }
            codes
        });
        let peers: Vec<_> = (0..PEERS)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut s = raw::client(addr);
                    let head =
                        tether_testkit::Frame::new(BINARY, b"").announce(16 << 20).mask(Some([1, 2, 3, 4])).encode();
                    s.write_all(&head).unwrap();
                    // Trickle: a few payload bytes, slowly (the refusal does not wait for them).
                    for _ in 0..3 {
                        if s.write_all(&[0u8; 8]).is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    let answer = raw::read_to_end(&mut s);
                    let close = parse_frame(&answer).expect("a close frame");
                    assert_eq!(close.header.opcode, CLOSE);
                    u16::from_be_bytes([close.payload[0], close.payload[1]])
                })
            })
            .collect();
        // The server first: joining a peer thread blocks this runtime thread.
        assert!(server.await.iter().all(|&code| code == CloseCode::MESSAGE_TOO_BIG));
        for peer in peers {
            assert_eq!(peer.join().unwrap(), 1009);
        }
    })
}
