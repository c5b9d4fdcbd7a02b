//! The async-layer target's world: a runtime whose clock only moves when the harness moves
//! it (so timers fire deterministically), and a transport that reads scripted peer bytes and
//! records what is written, with short reads and writes, `Pending`, errors and EOF chosen by
//! the input. What does not live here: the operations and the checks (`mod.rs`, `check.rs`).

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

thread_local! {
    static BASE: Instant = Instant::now();
    static OFFSET: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// Restart the virtual clock (at the start of every input).
pub(crate) fn reset_clock() {
    OFFSET.with(|o| o.set(Duration::ZERO));
}

/// Move the virtual clock forward.
pub(crate) fn advance(by: Duration) {
    OFFSET.with(|o| o.set(o.get() + by));
}

fn now() -> Instant {
    BASE.with(|b| *b) + OFFSET.with(Cell::get)
}

/// A timer of the virtual clock: ready once the clock has reached its deadline.
#[derive(Debug)]
pub(crate) struct VirtualSleep {
    at: Instant,
}

impl Future for VirtualSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if now() >= self.at {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The harness's runtime: the virtual clock, and no network.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Virtual;

impl tether_rt::Runtime for Virtual {
    type Io<S> = tether_rt::Plain<S>;
    type Sleep = VirtualSleep;
    type TcpStream = ScriptedIo;
    type TcpListener = NoListener;
    type MaybeTls = ScriptedIo;

    fn wrap<S>(stream: S) -> tether_rt::Plain<S> {
        tether_rt::Plain::new(stream)
    }

    fn now() -> Instant {
        now()
    }

    fn sleep_until(deadline: Instant) -> VirtualSleep {
        VirtualSleep { at: deadline }
    }

    fn reset(sleep: &mut VirtualSleep, deadline: Instant) {
        sleep.at = deadline;
    }

    fn connect_tcp(_host: &str, _port: u16) -> impl Future<Output = io::Result<ScriptedIo>> + Send {
        std::future::ready(Err(io::Error::new(io::ErrorKind::Unsupported, "no network in the harness")))
    }

    async fn accept_tcp(listener: &NoListener) -> io::Result<(ScriptedIo, std::net::SocketAddr)> {
        match *listener {}
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        // The harness drives its futures itself; nothing it runs spawns.
        drop(future);
    }

    fn plain(tcp: ScriptedIo) -> ScriptedIo {
        tcp
    }
}

/// The harness has no network: no listener can exist.
#[derive(Debug)]
pub(crate) enum NoListener {}

/// What the transport saw and did, shared with the harness after the socket is gone.
#[derive(Debug, Default)]
pub(crate) struct Wire {
    /// Every byte written, in order.
    pub(crate) written: Vec<u8>,
    /// A write failed (injected): what was queued may be lost.
    pub(crate) write_failed: bool,
    /// A read failed or ended (injected).
    pub(crate) read_ended: bool,
    /// The writer was shut down (`poll_close` returned ready).
    pub(crate) closed: bool,
    /// Bytes written after the shutdown (must stay 0).
    pub(crate) written_after_close: usize,
    /// The decision bytes have run out (or the harness said so): no more `Pending`, short
    /// writes or faults.
    pub(crate) settled: bool,
    /// A write returned `Pending` at least once (so timers may have given up on a flush).
    pub(crate) write_stalled: bool,
}

/// One IO decision byte: how a read or write call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Pending,
    Some(usize),
    Fail,
    Eof,
}

/// A transport scripted by the input: peer bytes to read, and one decision byte per IO call;
/// once the decisions run out it is *settled*: writes take everything and reads return the
/// rest of the peer's bytes, then either EOF or nothing ever again (a silent peer).
#[derive(Debug)]
pub(crate) struct ScriptedIo {
    inbound: Vec<u8>,
    pos: usize,
    decisions: Vec<u8>,
    next: usize,
    eof_at_end: bool,
    read_failed: bool,
    write_failed: bool,
    wire: Arc<Mutex<Wire>>,
}

impl ScriptedIo {
    pub(crate) fn new(inbound: Vec<u8>, decisions: Vec<u8>, eof_at_end: bool) -> (ScriptedIo, Arc<Mutex<Wire>>) {
        let wire = Arc::new(Mutex::new(Wire { settled: decisions.is_empty(), ..Wire::default() }));
        let io = ScriptedIo {
            inbound,
            pos: 0,
            decisions,
            next: 0,
            eof_at_end,
            read_failed: false,
            write_failed: false,
            wire: wire.clone(),
        };
        (io, wire)
    }

    fn step(&mut self) -> Step {
        if self.wire.lock().unwrap().settled {
            return Step::Some(usize::MAX);
        }
        let Some(&d) = self.decisions.get(self.next) else {
            return Step::Some(usize::MAX);
        };
        self.next += 1;
        if self.next == self.decisions.len() {
            self.wire.lock().unwrap().settled = true;
        }
        match d {
            0..=47 => Step::Pending,
            48..=50 => Step::Fail,
            51..=52 => Step::Eof,
            _ => Step::Some(1 + (usize::from(d - 53) * 37) % 700),
        }
    }
}

impl AsyncRead for ScriptedIo {
    fn poll_read(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if self.read_failed {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let left = self.inbound.len() - self.pos;
        let step = self.step();
        match step {
            Step::Pending => Poll::Pending,
            Step::Fail => {
                self.read_failed = true;
                self.wire.lock().unwrap().read_ended = true;
                Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
            }
            Step::Eof => {
                self.pos = self.inbound.len();
                self.wire.lock().unwrap().read_ended = true;
                Poll::Ready(Ok(0))
            }
            Step::Some(_) if left == 0 => {
                if self.eof_at_end {
                    self.wire.lock().unwrap().read_ended = true;
                    Poll::Ready(Ok(0))
                } else {
                    // A silent peer: the runtime would never wake this read.
                    Poll::Pending
                }
            }
            Step::Some(n) => {
                let n = n.min(left).min(buf.len());
                let start = self.pos;
                buf[..n].copy_from_slice(&self.inbound[start..start + n]);
                self.pos += n;
                Poll::Ready(Ok(n))
            }
        }
    }
}

impl AsyncWrite for ScriptedIo {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.write_failed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        match self.step() {
            Step::Pending => {
                self.wire.lock().unwrap().write_stalled = true;
                Poll::Pending
            }
            Step::Fail | Step::Eof => {
                self.write_failed = true;
                self.wire.lock().unwrap().write_failed = true;
                Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
            }
            Step::Some(n) => {
                let n = n.min(buf.len());
                let mut wire = self.wire.lock().unwrap();
                if wire.closed {
                    wire.written_after_close += n;
                }
                wire.written.extend_from_slice(&buf[..n]);
                Poll::Ready(Ok(n))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.step() {
            Step::Pending => Poll::Pending,
            _ => {
                self.wire.lock().unwrap().closed = true;
                Poll::Ready(Ok(()))
            }
        }
    }
}
