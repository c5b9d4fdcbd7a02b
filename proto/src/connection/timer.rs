//! The connection's deadlines in one table: which timers exist, when each is due, and the
//! earliest of them. Both `poll_timeout` and `handle_timeout` read this table; what happens
//! when a timer fires is decided by the connection (`mod.rs`), not here.

use crate::time::Instant;

/// A deadline of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The opening handshake's one total deadline, until the server's 101 response has
    /// been written.
    Handshake,
    /// Our close frame is queued: the peer's must arrive by then. After the end: the flush
    /// (and a client's wait for the server to end the transport) is bounded by it.
    Close,
    /// Queued output has not moved: no byte may stay unwritten for longer.
    Write,
    /// No inbound traffic for the idle timeout.
    Idle,
    /// No inbound traffic for the keepalive interval: send a ping.
    KeepalivePing,
    /// A keepalive ping was sent: something must arrive by then.
    KeepaliveTimeout,
    /// Reading is throttled by the rate limit until then (not an ending: when it fires,
    /// reading resumes).
    Throttle,
    /// The kept permessage-deflate compressor has been unused this long: free it (not an
    /// ending).
    CompressorIdle,
}

impl Timer {
    const COUNT: usize = 8;
    /// Every timer, in the order `handle_timeout` looks at them when several are due.
    pub(crate) const ALL: [Timer; Timer::COUNT] = [
        Timer::Handshake,
        Timer::Close,
        Timer::Write,
        Timer::Idle,
        Timer::KeepaliveTimeout,
        Timer::KeepalivePing,
        Timer::Throttle,
        Timer::CompressorIdle,
    ];

    fn index(self) -> usize {
        match self {
            Timer::Handshake => 0,
            Timer::Close => 1,
            Timer::Write => 2,
            Timer::Idle => 3,
            Timer::KeepalivePing => 4,
            Timer::KeepaliveTimeout => 5,
            Timer::Throttle => 6,
            Timer::CompressorIdle => 7,
        }
    }
}

/// When each timer is due (`None`: not armed).
#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    due: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.due[timer.index()] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.due[timer.index()] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.due[timer.index()]
    }

    pub(crate) fn is_armed(&self, timer: Timer) -> bool {
        self.due[timer.index()].is_some()
    }

    /// Whether `timer` is armed and due at `now`.
    pub(crate) fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        self.due[timer.index()].is_some_and(|at| at <= now)
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.due.iter().flatten().min().copied()
    }

    /// Disarm every timer but `keep`.
    pub(crate) fn stop_all_but(&mut self, keep: Timer) {
        for timer in Timer::ALL {
            if timer != keep {
                self.stop(timer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    #[test]
    fn the_earliest_armed_timer_is_next() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Idle, at(30));
        t.set(Timer::KeepalivePing, at(20));
        assert_eq!(t.next(), Some(at(20)));
        t.stop(Timer::KeepalivePing);
        assert_eq!(t.next(), Some(at(30)));
        assert!(t.is_expired(Timer::Idle, at(30)) && !t.is_expired(Timer::Idle, at(29)));
        t.set(Timer::Close, at(5));
        t.stop_all_but(Timer::Close);
        assert_eq!((t.next(), t.is_armed(Timer::Idle)), (Some(at(5)), false));
    }

    #[test]
    fn every_timer_has_its_own_slot() {
        let mut t = TimerTable::default();
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            t.set(timer, at(i as u64 + 1));
        }
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            assert_eq!(t.get(timer), Some(at(i as u64 + 1)), "{timer:?}");
        }
    }
}
