//! Where the connection applies its inbound rate limit (`Config::rate_limit`): how much read
//! space it may lend, counting the bytes read, gating the events it hands out, throttling
//! (a deadline in the timer table) and closing with 1008. The buckets' arithmetic and the
//! settings live in `rate_limit.rs`; when timers fire is `mod.rs`'s.
//!
//! Control frames: under [`RatePolicy::Throttle`] a throttled connection neither reads nor
//! decodes anything — pings and close frames included — until the deadline. That cannot be
//! abused: the peer is pushed back by TCP, pings and pongs count as messages (a ping flood is
//! throttled like any other), and our own deadlines (close, write, handshake) keep running.
//! Only the idle and keepalive clocks pause: our throttling is not the peer's silence.

use super::ending::End;
use super::timer::Timer;
use super::Connection;
use crate::close::{CloseCode, CloseFrame};
use crate::error::ConfigError;
use crate::event::{CloseCause, Closed, Event};
use crate::message::Utf8Bytes;
use crate::rate_limit::{Limiter, RateKind, RateLimit, RatePolicy};
use crate::time::Instant;

use super::send::ClosePlace;

impl Connection {
    /// Replace the rate limit (`None` removes it), for example once a server has routed the
    /// request; the buckets start full at the next time given. The same checks as
    /// [`ConfigBuilder::rate_limit`](crate::ConfigBuilder::rate_limit).
    ///
    /// # Errors
    /// [`ConfigError::Zero`] for a rate or burst of 0 (nothing changes).
    ///
    /// ```
    /// use tether_proto::{Config, Connection, RateLimit, Role};
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// conn.set_rate_limit(Some(RateLimit::bytes(64 << 10, 256 << 10))).unwrap();
    /// assert!(conn.config().rate_limit().is_some());
    /// ```
    pub fn set_rate_limit(&mut self, limit: Option<RateLimit>) -> Result<(), ConfigError> {
        if let Some(l) = &limit {
            l.validate()?;
        }
        self.limiter = limit.as_ref().map(|l| alloc::boxed::Box::new(Limiter::new(l)));
        self.config.rate_limit = limit;
        self.timers.stop(Timer::Throttle);
        Ok(())
    }

    /// The most bytes the rate limit lets the transport read now (`usize::MAX` without a
    /// byte limit); 0 throttles reading until the bucket has refilled.
    pub(super) fn rate_read_cap(&mut self) -> usize {
        if self.limiter.is_none() || !matches!(self.end, End::Running) {
            return usize::MAX;
        }
        if self.timers.is_armed(Timer::Throttle) {
            return 0;
        }
        let now = self.now();
        let Some(limiter) = self.limiter.as_deref_mut() else {
            return usize::MAX;
        };
        if limiter.exceeded.is_some() {
            // Closing: the next event is the 1008 close.
            return 0;
        }
        if limiter.policy == RatePolicy::Close {
            // Judged as bytes arrive (`count_input`), not limited here.
            return usize::MAX;
        }
        let Some(bytes) = limiter.bytes.as_mut() else {
            return usize::MAX;
        };
        bytes.refill(now);
        match bytes.available() {
            0 => {
                let at = bytes.refilled_at();
                self.throttle_until(at);
                0
            }
            n => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }

    /// `n` bytes were read from the transport: take them from the byte bucket (it may go
    /// into debt when the caller pushed them without asking, through `receive`). Under
    /// [`RatePolicy::Close`], bytes beyond the bucket end the connection at the next event.
    pub(super) fn count_input(&mut self, n: usize) {
        let now = self.now();
        let Some(limiter) = self.limiter.as_deref_mut() else {
            return;
        };
        let Some(bytes) = limiter.bytes.as_mut() else {
            return;
        };
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        bytes.refill(now);
        if limiter.policy == RatePolicy::Close && bytes.available() < n {
            limiter.exceeded.get_or_insert(RateKind::Bytes);
        }
        bytes.take(n);
    }

    /// `poll_event` under a rate limit: a message (data, ping or pong) is handed out only
    /// with a token in the message bucket. Under [`RatePolicy::Throttle`], an empty bucket
    /// hands out nothing and throttles reading until it has refilled; under
    /// [`RatePolicy::Close`], a message beyond it (or bytes beyond the byte bucket) ends the
    /// connection with 1008 instead.
    #[inline(never)]
    pub(super) fn poll_event_limited(&mut self) -> Option<Event> {
        if matches!(self.end, End::Emitted(_)) {
            return self.poll_event_unlimited();
        }
        let now = self.now();
        let running = matches!(self.end, End::Running);
        // Every message is made of input still buffered: without any, only an ending can
        // come out, and an empty bucket need not stop anything (nor pause the idle clock).
        let buffered = self.rx.len() > 0;
        if let Some(limiter) = self.limiter.as_deref_mut() {
            if let (Some(kind), true) = (limiter.exceeded, running) {
                return Some(self.exceed(kind));
            }
            if let (Some(messages), RatePolicy::Throttle) = (limiter.messages.as_mut(), limiter.policy) {
                messages.refill(now);
                if messages.available() == 0 && buffered {
                    let at = messages.refilled_at();
                    self.throttle_until(at);
                    return None;
                }
            }
        }
        let event = self.poll_event_unlimited()?;
        if !matches!(event, Event::Message(_)) {
            return Some(event);
        }
        if let Some(limiter) = self.limiter.as_deref_mut() {
            if let Some(messages) = limiter.messages.as_mut() {
                messages.refill(now);
                if limiter.policy == RatePolicy::Close && messages.available() == 0 && running {
                    return Some(self.exceed(RateKind::Messages));
                }
                messages.take(1);
            }
        }
        Some(event)
    }

    /// Stop reading until `at` (or later, if already throttled for longer). The idle and
    /// keepalive clocks stop meanwhile and start over when reading resumes.
    fn throttle_until(&mut self, at: Instant) {
        let at = self.timers.get(Timer::Throttle).map_or(at, |armed| armed.max(at));
        self.timers.set(Timer::Throttle, at);
        for timer in [Timer::Idle, Timer::KeepalivePing, Timer::KeepaliveTimeout] {
            self.timers.stop(timer);
        }
    }

    /// The throttle's deadline passed: reading resumes, and the idle and keepalive clocks
    /// start over (the peer was anything but idle).
    pub(super) fn end_throttle(&mut self, now: Instant) {
        if self.timers.is_expired(Timer::Throttle, now) {
            self.timers.stop(Timer::Throttle);
            self.note_activity(now);
        }
    }

    /// The peer exceeded the rate limit under [`RatePolicy::Close`]: a close frame with 1008
    /// after the data already queued, then end the transport once it is written.
    fn exceed(&mut self, kind: RateKind) -> Event {
        if !self.send.close_sent {
            let frame = CloseFrame::new(CloseCode::POLICY_VIOLATION, "rate limit exceeded").ok();
            self.queue_close(frame, ClosePlace::AfterData);
        }
        self.shutdown.ready = true;
        self.emit(Closed {
            code: CloseCode::POLICY_VIOLATION,
            reason: Utf8Bytes::default(),
            cause: CloseCause::RateLimitExceeded(kind),
        })
    }
}
