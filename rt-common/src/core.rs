//! `Core`: the one drive loop — a transport, an engine and the runtime timers that fire
//! the engine's deadlines (one for the reading side, one for waiting writers), advanced by
//! poll functions shared by every public type, and the one drop policy. No protocol rules
//! and no endings of its own live here (they are `tether-proto`'s: a transport error goes
//! to the engine), and no runtime is named (that is the `Runtime` parameter).

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use tether_proto::{
    BufMut, CloseCause, CloseCode, Closed, ConfigError, Connection, Event, Instant, Message, RateLimit, SendError,
};

use crate::observe::{LocalClose, OnEnd};
use crate::runtime::{deadline_after, Runtime, Transport};
use crate::waker::WakerSet;
use crate::{CloseKind, Ending, Traffic};
use crate::{Error, Shutdown};

/// Chunks handed to one vectored write.
const MAX_CHUNKS: usize = 16;

/// What the reading side produced.
pub(crate) enum Next {
    /// A message (pings and pongs only when asked for).
    Message(Message),
    /// The connection ended (and the transport has been shut down).
    Ended(Closed),
}

/// A connection's transport, engine and timer. Every public type drives it through these
/// poll functions, under a lock held only inside them.
pub(crate) struct Core<T, R: Runtime> {
    /// The transport; `None` once the connection is over (shut down, or failed): it is
    /// released then, not when the application drops the connection, so the peer sees the
    /// end of TCP even on transports whose `poll_close` cannot half-close (async-std), and
    /// an ended connection kept around holds no socket.
    io: Option<T>,
    conn: Connection,
    /// The engine's `Instant::ZERO`.
    epoch: std::time::Instant,
    timer: Option<R::Sleep>,
    timer_at: Option<Instant>,
    /// The waker `timer` was last polled with while pending: it wakes that task when due,
    /// so polling it again for the same task before its deadline only re-registers the
    /// same waker (measured: that re-registration, an atomic operation and a coop-budget
    /// check on tokio, was ~1% of the 16 B echo server's time).
    timer_waker: Option<Waker>,
    /// Tasks waiting for the transport to become writable.
    writers: Arc<WakerSet>,
    /// `writers` as the one waker the transport keeps for its write side.
    write_waker: Waker,
    /// Bytes written since the last `poll_flush` of the transport.
    unflushed: bool,
    /// The kind of the transport error that ended the connection, if one did (the ending
    /// itself is the engine's: [`CloseCause::TransportError`]).
    transport_error: Option<io::ErrorKind>,
    /// The write paths' own timer (for the engine's deadlines while a sender waits for the
    /// transport), polled with `write_waker` so that it wakes every waiting task.
    write_timer: Option<R::Sleep>,
    write_timer_at: Option<Instant>,
    /// Hand pings and pongs to the application.
    control: bool,
    /// When shutting the transport down, the latest moment to give up waiting for it.
    shutdown_at: Option<Instant>,
    /// The drop policy ([`Core::drain_on_drop`]), set where the transport's bounds are
    /// known: `Drop` cannot require them.
    on_drop: fn(&mut Self),
    /// A shutdown signal watched until it is observed ([`Core::observe_shutdown`]).
    shutdown: Option<Shutdown>,
    /// The close this side queued itself, and why (for the ending's report).
    local_close: Option<LocalClose>,
    /// This connection's counters, once asked for ([`Core::traffic`]); `None` costs one
    /// branch per message.
    traffic: Option<Arc<Traffic>>,
    /// Told once how the connection ended ([`Core::report_end`]).
    on_end: Option<OnEnd>,
}

impl<T, R: Runtime> Core<T, R> {
    /// Tell the callback how the connection ended, once: when the ending is handed out (all
    /// received messages were), or when the connection is dropped.
    fn report_end(&mut self) {
        let Some(f) = self.on_end.take() else { return };
        let closed = self.conn.ending().cloned();
        let (kind, code) = CloseKind::classify(closed.as_ref(), self.local_close);
        let ending = Ending {
            kind,
            code,
            closed,
            transport_error: self.transport_error,
            traffic: self.traffic.as_ref().map(|t| t.snapshot()),
        };
        f(&ending);
    }
}

impl<T, R: Runtime> Drop for Core<T, R> {
    fn drop(&mut self) {
        (self.on_drop)(self);
        self.report_end();
    }
}

impl<T: Transport, R: Runtime> Core<T, R> {
    /// A core driving `conn` over `io`, on the clock whose `Instant::ZERO` is `epoch`: the
    /// moment its opening handshake began, so that a server connection's handshake
    /// deadline (carried until the 101 is written) means what the handshake meant.
    pub(crate) fn new(io: T, mut conn: Connection, epoch: std::time::Instant) -> Self {
        // Start the engine's clock (keepalive and idle timers count from here).
        conn.handle_timeout(Instant::from_duration(R::now().saturating_duration_since(epoch)));
        let writers = Arc::new(WakerSet::default());
        Core {
            io: Some(io),
            conn,
            epoch,
            timer: None,
            timer_at: None,
            timer_waker: None,
            write_waker: Waker::from(writers.clone()),
            writers,
            unflushed: false,
            transport_error: None,
            write_timer: None,
            write_timer_at: None,
            control: false,
            shutdown_at: None,
            on_drop: Self::drain_on_drop,
            shutdown: None,
            local_close: None,
            traffic: None,
            on_end: None,
        }
    }

    /// The one drop policy, run when the last owner of the connection goes — an unsplit
    /// `WebSocket`, or the last of a split one's `Reader` and `Sender`s. A connection that
    /// has not ended gets a close frame (1001 Going Away) behind what is queued; then what
    /// is queued (sends that returned `Ok` while deferred or left to the reader included)
    /// is written as far as the transport takes it now, the transport is flushed and
    /// half-closed, and input already here is discarded (so closing the socket sends no
    /// reset that could destroy what was written). Nothing waits: a drop cannot, and
    /// spawning would need a `Send + 'static` transport. What the transport does not take
    /// at once is lost; await [`close`](crate::WebSocket::close) to deliver everything.
    fn drain_on_drop(&mut self) {
        if self.io.is_none() {
            return;
        }
        if self.conn.can_send() {
            let now = self.now();
            // Only fails for an invalid code or reason; 1001 with no reason is valid.
            if self.conn.close(now, CloseCode::GOING_AWAY, "").is_ok() {
                self.local_close.get_or_insert(LocalClose::Dropped);
            }
        }
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(Ok(())) = self.poll_write_out(&mut cx) {
            if let Some(io) = self.io.as_mut() {
                if Pin::new(&mut *io).poll_close(&mut cx).is_ready() {
                    discard_ready_input(io, &mut cx);
                }
            }
        }
        self.release();
    }

    fn now(&self) -> Instant {
        Instant::from_duration(R::now().saturating_duration_since(self.epoch))
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn set_control(&mut self, on: bool) {
        self.control = on;
    }

    /// Replace the engine's inbound rate limit (its deadline is picked up by the next poll
    /// of the reading side).
    pub(crate) fn set_rate_limit(&mut self, limit: Option<RateLimit>) -> Result<(), ConfigError> {
        self.conn.set_rate_limit(limit)
    }

    /// Close with 1001 (Going Away) once `shutdown` is triggered: the tasks waiting on this
    /// connection are woken by the trigger, and the receive and send paths observe it.
    pub(crate) fn close_on(&mut self, shutdown: &Shutdown) {
        shutdown.watch(&self.writers);
        self.shutdown = Some(shutdown.clone());
    }

    /// If the watched shutdown signal has been triggered, queue our 1001 close (once; a
    /// no-op when already closing) and stop watching.
    #[inline]
    fn observe_shutdown(&mut self) {
        if self.shutdown.as_ref().is_some_and(Shutdown::is_triggered) {
            self.shutdown = None;
            // 1001 with no reason is always a valid close.
            let _ = self.close_as(LocalClose::Shutdown, CloseCode::GOING_AWAY, "");
        }
    }

    /// How the connection ended, once that has been observed (the engine's `Closed` was
    /// handed out).
    pub(crate) fn closed(&self) -> Option<Closed> {
        self.conn.closed().cloned()
    }

    /// The kind of the transport error that ended the connection, if one did.
    pub(crate) fn transport_error(&self) -> Option<io::ErrorKind> {
        self.transport_error
    }

    /// The transport failed: the engine ends the connection ([`CloseCause::TransportError`],
    /// 1006, after the messages already received), the transport is dropped and every
    /// waiting task learns it.
    fn fail(&mut self, error: &io::Error) {
        self.transport_error.get_or_insert(error.kind());
        let now = self.now();
        self.conn.handle_transport_error(now);
        self.release();
    }

    /// Nothing more is read or written: drop the transport (closing the socket) and wake
    /// every waiting task.
    fn release(&mut self) {
        self.io = None;
        self.writers.wake_all();
    }

    // ----- writing -----

    /// Write what the engine has queued (vectored when it is several chunks) until it is all
    /// written (then flush the transport) or the transport is not ready. `Pending` registers
    /// the task in `writers`.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        loop {
            let mut chunks: [&[u8]; MAX_CHUNKS] = [&[]; MAX_CHUNKS];
            let n = self.conn.poll_transmit(&mut chunks);
            if n == 0 {
                break;
            }
            let mut wcx = Context::from_waker(&self.write_waker);
            let mut result = poll_write_chunks(io, &mut wcx, &chunks, n);
            if result.is_pending() {
                // Join the set, then look once more: a wake between the first poll and
                // the registration would otherwise be lost.
                self.writers.register(cx.waker());
                result = poll_write_chunks(io, &mut wcx, &chunks, n);
            }
            match result {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => {
                    self.unflushed = true;
                    self.conn.consume_transmit(written);
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.unflushed {
            // Buffered transports (TLS) only send on flush; for TCP this is free.
            let mut wcx = Context::from_waker(&self.write_waker);
            let mut result = Pin::new(&mut *io).poll_flush(&mut wcx);
            if result.is_pending() {
                self.writers.register(cx.waker());
                result = Pin::new(&mut *io).poll_flush(&mut wcx);
            }
            ready!(result)?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Whether a message may be sent now; if not, the reason as an error. Checked on every
    /// send, so the common answer is one flag test, inlined.
    #[inline]
    fn check_send(&self) -> Result<(), Error> {
        if self.conn.can_send() {
            return Ok(());
        }
        Err(self.send_refused())
    }

    /// Why nothing may be sent: the engine's decided ending, even before the reading side
    /// has handed it out, or our close frame was already queued.
    #[cold]
    fn send_refused(&self) -> Error {
        match self.conn.ending() {
            Some(closed) => Error::Closed(closed.clone()),
            None => Error::Send(SendError::AlreadyClosed),
        }
    }

    /// Ready to queue a message: below the write high-water mark (writing until it is).
    #[inline]
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.check_send()?;
        if self.conn.is_transmit_full() {
            return self.poll_write_until(cx, Until::BelowMark);
        }
        Poll::Ready(Ok(()))
    }

    /// Queue one message in the engine (no IO). Inlined, like `poll_next`'s fast path, so
    /// the message is not moved once more through memory on its way to the engine.
    #[inline]
    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.check_send()?;
        let data = self.counted_len(&message);
        self.conn.send(message).map_err(Error::Send)?;
        if let Some(bytes) = data {
            self.count_out(bytes);
        }
        Ok(())
    }

    /// Queue one message without compressing it, even under permessage-deflate (no IO).
    #[cfg(feature = "deflate")]
    pub(crate) fn start_send_uncompressed(&mut self, message: Message) -> Result<(), Error> {
        self.check_send()?;
        let data = self.counted_len(&message);
        self.conn.send_uncompressed(message).map_err(Error::Send)?;
        if let Some(bytes) = data {
            self.count_out(bytes);
        }
        Ok(())
    }

    /// Queue one text message copied from `text` (no IO).
    pub(crate) fn start_send_text(&mut self, text: &str) -> Result<(), Error> {
        self.check_send()?;
        self.conn.send_text(text).map_err(Error::Send)?;
        self.count_out(text.len());
        Ok(())
    }

    /// Queue one binary message copied from `data` (no IO).
    pub(crate) fn start_send_bytes(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_send()?;
        self.conn.send_bytes(data).map_err(Error::Send)?;
        self.count_out(data.len());
        Ok(())
    }

    /// After queueing: write through, waiting only while above the high-water mark. With
    /// `defer`, do not write while received input is still buffered (the caller is an
    /// unsplit connection whose next `recv` returns at once and flushes before it waits).
    #[inline]
    pub(crate) fn poll_write_through(&mut self, cx: &mut Context<'_>, defer: bool) -> Poll<Result<(), Error>> {
        if defer && self.conn.buffered_receive() > 0 {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_until(cx, Until::BelowMark)
    }

    /// Write everything queued and flush the transport.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_write_until(cx, Until::AllWritten)
    }

    /// The one write path of senders: write what is queued until `until` holds, firing the
    /// engine's timers (the write timeout, the close timeout, keepalive) while the transport
    /// is not ready, so a peer that stops reading cannot make a sender wait forever.
    ///
    /// `Err(Closed)` when the connection ended with queued output abandoned (a transport
    /// error, the write timeout) or when it has ended and the output can no longer move.
    #[inline(never)]
    fn poll_write_until(&mut self, cx: &mut Context<'_>, until: Until) -> Poll<Result<(), Error>> {
        self.observe_shutdown();
        for _ in 0..WRITE_TIMER_PASSES {
            if let Some(closed) = self.conn.ending().filter(|c| output_abandoned(c)) {
                return Poll::Ready(Err(Error::Closed(closed.clone())));
            }
            match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => {
                    self.fail(&e);
                    continue;
                }
                // Left for the reader (registered in `writers` while parked) or the next call.
                Poll::Pending if until == Until::BelowMark && !self.conn.is_transmit_full() => {
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending => {}
            }
            match self.poll_write_timer(cx) {
                Poll::Ready(true) => continue,
                Poll::Ready(false) => {
                    // No deadline left and the output cannot move: the connection has ended.
                    if let Some(closed) = self.conn.ending() {
                        return Poll::Ready(Err(Error::Closed(closed.clone())));
                    }
                    return Poll::Pending;
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        // Timers keep firing without the output moving: give other tasks a turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The engine's next deadline for a task waiting to write: fire it if due
    /// (`Ready(true)`), else arm the write timer and wait (`Pending`, woken through the
    /// `writers` set). `Ready(false)`: the engine has no deadline at all.
    fn poll_write_timer(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let Some(at) = self.conn.poll_timeout() else {
            return Poll::Ready(false);
        };
        let now = self.now();
        if at <= now {
            self.conn.handle_timeout(now);
            return Poll::Ready(true);
        }
        self.writers.register(cx.waker());
        let deadline = deadline_after(self.epoch, at.as_duration());
        let timer = match self.write_timer.as_mut() {
            Some(timer) => {
                if self.write_timer_at != Some(at) {
                    R::reset(timer, deadline);
                }
                timer
            }
            None => self.write_timer.insert(R::sleep_until(deadline)),
        };
        self.write_timer_at = Some(at);
        let mut wcx = Context::from_waker(&self.write_waker);
        if Pin::new(timer).poll(&mut wcx).is_pending() {
            return Poll::Pending;
        }
        self.write_timer_at = None;
        let now = self.now();
        self.conn.handle_timeout(now);
        Poll::Ready(true)
    }

    /// Queue our close frame; a no-op once closing or closed (close is idempotent).
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.close_as(LocalClose::App(code), code, reason)
    }

    /// Queue our close frame, remembering why for the ending's report.
    fn close_as(&mut self, why: LocalClose, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !self.conn.can_send() {
            return Ok(());
        }
        let now = self.now();
        self.conn.close(now, code, reason).map_err(Error::Send)?;
        self.local_close.get_or_insert(why);
        Ok(())
    }

    // ----- observing -----

    /// This connection's traffic counters, counting from the first call on.
    pub(crate) fn traffic(&mut self) -> Arc<Traffic> {
        self.traffic.get_or_insert_with(Default::default).clone()
    }

    /// Report the ending to `f` once it happens (replacing an earlier callback).
    pub(crate) fn on_end(&mut self, f: OnEnd) {
        self.on_end = Some(f);
    }

    /// The payload length of a data message when traffic is counted; `None` (one branch)
    /// when it is not, or for a control message.
    #[inline]
    fn counted_len(&self, message: &Message) -> Option<usize> {
        match message {
            Message::Text(_) | Message::Binary(_) if self.traffic.is_some() => Some(message.len()),
            _ => None,
        }
    }

    #[inline]
    fn count_out(&self, bytes: usize) {
        if let Some(traffic) = &self.traffic {
            traffic.sent(bytes);
        }
    }

    // ----- reading -----

    /// Fire the engine's timer if due; otherwise arm the runtime timer for it.
    /// `Ready` means the engine's timers were handled (look for events again).
    /// `now` is the clock as the caller read it (once per pass of its loop).
    fn poll_timers(&mut self, cx: &mut Context<'_>, now: Instant) -> Poll<()> {
        let Some(at) = self.conn.poll_timeout() else {
            return Poll::Pending;
        };
        if at <= now {
            self.conn.handle_timeout(now);
            return Poll::Ready(());
        }
        // Re-arm only for an earlier deadline. The keepalive deadline moves later with
        // every read; a timer left at the old one just fires early, finds nothing due,
        // and is re-armed then — instead of a timer-wheel update per read.
        if self.timer_at.is_none_or(|armed| at < armed) {
            self.arm_timer(at);
        }
        let (Some(timer), Some(armed)) = (self.timer.as_mut(), self.timer_at) else {
            return Poll::Pending;
        };
        // Before its deadline the armed timer cannot have fired; if this task's waker is
        // the one it holds, there is nothing to poll.
        if now < armed && self.timer_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        if Pin::new(timer).poll(cx).is_pending() {
            self.timer_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        // Fired: forget it so the next deadline re-arms it, then let the engine decide.
        self.timer_at = None;
        self.timer_waker = None;
        let now = self.now();
        self.conn.handle_timeout(now);
        Poll::Ready(())
    }

    /// Arm the runtime timer for the engine instant `at` (reusing the one timer) and forget
    /// which task it last registered.
    fn arm_timer(&mut self, at: Instant) -> &mut R::Sleep {
        let deadline = deadline_after(self.epoch, at.as_duration());
        self.timer_at = Some(at);
        self.timer_waker = None;
        if let Some(timer) = self.timer.as_mut() {
            R::reset(timer, deadline);
        }
        self.timer.get_or_insert_with(|| R::sleep_until(deadline))
    }

    /// Read what the transport has into the engine and commit it: into uninitialized
    /// capacity where the transport can (nothing is zeroed first), else into zeroed space.
    /// `None` when the engine offers no space (backpressure, or the end) or the transport
    /// is gone; `Ok(0)` is the end of the stream, left to the caller.
    fn poll_read_in(&mut self, cx: &mut Context<'_>, now: Instant) -> Option<Poll<io::Result<usize>>> {
        let io = self.io.as_mut()?;
        let read = if T::READS_UNINIT {
            let mut space = self.conn.read_buf_uninit();
            if space.remaining_mut() == 0 {
                return None;
            }
            let read = Pin::new(io).poll_read_buf(cx, &mut space);
            if matches!(read, Poll::Ready(Ok(n)) if n > 0) {
                self.conn.commit_appended(now);
            }
            read
        } else {
            let buf = self.conn.read_buf();
            if buf.is_empty() {
                return None;
            }
            let read = Pin::new(io).poll_read(cx, buf);
            if let Poll::Ready(Ok(n @ 1..)) = read {
                self.conn.commit_read(now, n);
            }
            read
        };
        Some(read)
    }

    /// The drive loop of the reading side: hand out an event if one is complete; else
    /// flush queued writes (a pending write never blocks reading), fire due timers and
    /// read into the engine. Every byte read is committed to the engine before this
    /// returns, so dropping the caller's future loses nothing.
    ///
    /// The common case (a message is already decoded) is inlined into the caller's future;
    /// measured on the 16 B echo server, moving each message out through the outlined loop
    /// and the layers above it cost a store-forwarding stall per layer.
    #[inline]
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Next, Error>> {
        if let Some(Some(message)) = self.next_event() {
            return Poll::Ready(Ok(Next::Message(message)));
        }
        self.poll_next_slow(cx)
    }

    /// The engine's next event as the reading side sees it: `Some(Some(_))` a message to
    /// hand out; `Some(None)` an event it does not hand out (pings and pongs unless asked
    /// for; `Closed`, which the engine records and `conn.closed()` reports); `None` nothing
    /// decoded yet.
    #[inline]
    fn next_event(&mut self) -> Option<Option<Message>> {
        match self.conn.poll_event()? {
            Event::Message(Message::Ping(_) | Message::Pong(_)) if !self.control => Some(None),
            Event::Message(message) => {
                if let Some(bytes) = self.counted_len(&message) {
                    if let Some(traffic) = &self.traffic {
                        traffic.received(bytes);
                    }
                }
                Some(Some(message))
            }
            // `Closed` (and anything newer).
            _ => Some(None),
        }
    }

    #[inline(never)]
    fn poll_next_slow(&mut self, cx: &mut Context<'_>) -> Poll<Result<Next, Error>> {
        self.observe_shutdown();
        for _ in 0..READ_PASSES {
            if let Some(closed) = self.conn.closed() {
                let closed = closed.clone();
                ready!(self.poll_finish(cx));
                self.report_end();
                return Poll::Ready(Ok(Next::Ended(closed)));
            }
            match self.next_event() {
                Some(Some(message)) => return Poll::Ready(Ok(Next::Message(message))),
                // Not handed out; `Closed` is handled at the top of the loop.
                Some(None) => continue,
                None => {}
            }
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                // The engine ends the connection: buffered messages first, then `Closed`.
                self.fail(&e);
                continue;
            }
            // One clock read per pass, for the timers and for the read below.
            let now = self.now();
            if self.poll_timers(cx, now).is_ready() {
                continue;
            }
            if self.io.is_none() {
                // Released before the engine's `Closed` was handed out (a transport error):
                // the engine hands out what was received, then the ending. Never read a
                // dropped transport; should nothing be left to hand out, end it here.
                if self.conn.ending().is_none() {
                    self.conn.handle_transport_error(now);
                } else if self.conn.poll_timeout().is_some() {
                    // What is left waits for the rate limit's deadline: the timer armed
                    // above wakes this task then.
                    return Poll::Pending;
                }
                continue;
            }
            let Some(read) = self.poll_read_in(cx, now) else {
                // No space offered: backpressure (parked until events are taken), or the
                // rate limit, whose deadline the engine may have set just now when asked
                // for space: arm the timer for it. Also woken for writability, to write
                // what senders left queued.
                if self.poll_timers(cx, now).is_ready() {
                    continue;
                }
                self.writers.register(cx.waker());
                return Poll::Pending;
            };
            match read {
                Poll::Ready(Ok(0)) => self.conn.receive_eof(now),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => self.fail(&e),
                Poll::Pending => {
                    // Parked: also wake for writability, to write what senders left queued.
                    self.writers.register(cx.waker());
                    return Poll::Pending;
                }
            }
        }
        // Input kept coming without anything to hand out (a flood of pings): yield, so a
        // runtime without a cooperative budget (smol, async-std) runs its other tasks.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// After the engine's `Closed`: flush our close frame, keep reading (a client waits for
    /// the server to end TCP), then shut the transport down and release it — all bounded
    /// by the engine's close timeout. Transport errors here only end the wait.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.io.is_none() {
                return Poll::Ready(());
            }
            // Write what is queued first, even when giving up (a best-effort 1011 close
            // after a timeout): a write that would block is then simply abandoned.
            if let Poll::Ready(Err(_)) = self.poll_write_out(cx) {
                self.release();
                return Poll::Ready(());
            }
            if self.conn.should_shutdown() {
                // The connection is over whatever the transport says. Half-close where the
                // transport can (a TLS close_notify, a TCP FIN), discard input that is
                // already here (closing a socket with unread input sends a reset, which can
                // destroy our close frame before the peer reads it), then drop it. A
                // half-close that cannot finish (a close_notify queued to a peer that stopped
                // reading) is given up after the close timeout: the transport is dropped.
                let now = self.now();
                let close_timeout = self.conn.config().close_timeout();
                let deadline = *self.shutdown_at.get_or_insert(now + close_timeout);
                if let Some(io) = self.io.as_mut() {
                    match Pin::new(&mut *io).poll_close(cx) {
                        Poll::Ready(_) => discard_ready_input(io, cx),
                        Poll::Pending if now < deadline => {
                            let timer = self.arm_timer(deadline);
                            if Pin::new(timer).poll(cx).is_pending() {
                                return Poll::Pending;
                            }
                        }
                        // Past the deadline: give up on the half-close.
                        Poll::Pending => {}
                    }
                }
                self.release();
                return Poll::Ready(());
            }
            let now = self.now();
            if self.poll_timers(cx, now).is_ready() {
                continue;
            }
            let Some(read) = self.poll_read_in(cx, now) else {
                return Poll::Pending;
            };
            match read {
                Poll::Ready(Ok(0)) => self.conn.receive_eof(now),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(_)) => self.conn.receive_eof(now),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Write the first `n` (at least one) of `chunks`: a plain write for one chunk, a vectored
/// write for more. Small messages are copied into one contiguous chunk, so one is the
/// common case, and on Linux a `send` of one buffer costs the kernel less than a `writev`
/// of one iovec: measured on the 16 B echo server, +3.8% messages/s.
#[inline]
fn poll_write_chunks<T: Transport>(
    io: &mut T,
    cx: &mut Context<'_>,
    chunks: &[&[u8]; MAX_CHUNKS],
    n: usize,
) -> Poll<io::Result<usize>> {
    if n == 1 {
        return Pin::new(io).poll_write(cx, chunks[0]);
    }
    let slices: [IoSlice<'_>; MAX_CHUNKS] = chunks.map(IoSlice::new);
    Pin::new(io).poll_write_vectored(cx, &slices[..n])
}

/// Input discarded, at most, when a transport is released (what a well-behaved peer sends
/// after its close frame is nothing; this only spares the reset in the common case).
const DISCARD_LIMIT: usize = 64 << 10;

/// Read and drop input that is ready now, without waiting, up to [`DISCARD_LIMIT`].
fn discard_ready_input<T: Transport>(io: &mut T, cx: &mut Context<'_>) {
    let mut buf = [0u8; 2048];
    let mut left = DISCARD_LIMIT;
    while left > 0 {
        match Pin::new(&mut *io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}

/// Passes of the reading loop (each a read, a timer or an event not handed out) in one
/// poll before it yields.
const READ_PASSES: usize = 64;

/// How long a sender waiting for the transport keeps firing engine timers within one poll
/// before it yields (each pass either fires a timer or returns).
const WRITE_TIMER_PASSES: usize = 8;

/// Until when a sender writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// The queue is below the write high-water mark (what is left is written later).
    BelowMark,
    /// Everything queued is written and the transport flushed.
    AllWritten,
}

/// Whether an ending abandoned the queued output: the transport failed, the peer stopped
/// reading for the write timeout, or a server's 101 was not written by the handshake
/// deadline. A sender learns it at once as
/// [`Error::Closed`], before the reading side hands the ending out.
pub(crate) fn output_abandoned(closed: &Closed) -> bool {
    matches!(closed.cause, CloseCause::TransportError | CloseCause::WriteTimeout | CloseCause::HandshakeTimeout)
}
