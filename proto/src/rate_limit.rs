//! Inbound rate limits: the public settings (`RateLimit`, `Rate`, `RatePolicy`, `RateKind`)
//! and the token bucket the connection keeps for each (`Bucket`), in integer arithmetic on
//! the time the caller gives. Where the connection consults the buckets (lending read
//! space, handing out events) lives in `connection/mod.rs`; nothing here reads a clock.

use core::time::Duration;

use crate::error::ConfigError;
use crate::time::Instant;

/// One token in a bucket, in nano-tokens: a rate of `r` per second refills exactly `r`
/// nano-tokens per nanosecond, so refilling is an exact integer product.
const NANO: i128 = 1_000_000_000;

/// A rate and its burst: on average at most `per_second` units per second, and at most
/// `burst` at once after a quiet period. Over any interval of `t` seconds from the start of
/// the connection, at most `burst + per_second * t` units are admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    per_second: u64,
    burst: u64,
}

impl Rate {
    /// `per_second` units per second on average, up to `burst` at once. Both must be at
    /// least 1 ([`ConfigBuilder::build`](crate::ConfigBuilder::build) checks).
    pub const fn new(per_second: u64, burst: u64) -> Rate {
        Rate { per_second, burst }
    }

    /// The sustained rate, in units per second.
    pub const fn per_second(&self) -> u64 {
        self.per_second
    }

    /// The most units admitted at once (the bucket's capacity).
    pub const fn burst(&self) -> u64 {
        self.burst
    }
}

/// What happens to a peer that sends faster than its [`RateLimit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RatePolicy {
    /// Stop reading until the bucket has refilled: the engine lends no read space and hands
    /// out no event until then (a deadline in [`Connection::poll_timeout`](crate::Connection::poll_timeout)),
    /// so TCP pushes back on the peer. Nothing is dropped; the admitted count never exceeds
    /// `burst + per_second * elapsed`.
    #[default]
    Throttle,
    /// Close the connection with 1008 (Policy Violation) and
    /// [`CloseCause::RateLimitExceeded`](crate::CloseCause::RateLimitExceeded) as soon as a
    /// message or byte beyond the limit arrives.
    Close,
}

/// Which limit a peer exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateKind {
    /// Messages (data messages, pings and pongs) per second.
    Messages,
    /// Bytes read from the transport per second.
    Bytes,
}

/// Per-connection limits on what the peer sends: messages per second and bytes per second,
/// each a token bucket with its own burst, and what to do beyond them ([`RatePolicy`]).
/// Off by default; set with [`ConfigBuilder::rate_limit`](crate::ConfigBuilder::rate_limit).
///
/// A message is a complete data message, a ping or a pong, counted when it is handed out
/// (the close frame is never counted). Bytes are every byte read from the transport, headers
/// included, counted as they are read.
///
/// ```
/// use tether_proto::{Config, RateLimit, RatePolicy};
/// // 100 messages per second (200 at once), and 1 MiB per second (4 MiB at once),
/// // closing with 1008 beyond either.
/// let limit = RateLimit::messages(100, 200).with_bytes(1 << 20, 4 << 20).close();
/// let config = Config::builder().rate_limit(limit).build().unwrap();
/// assert_eq!(config.rate_limit().unwrap().policy(), RatePolicy::Close);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    messages: Option<Rate>,
    bytes: Option<Rate>,
    policy: RatePolicy,
}

impl RateLimit {
    /// At most `per_second` messages per second, `burst` at once; throttled beyond.
    pub const fn messages(per_second: u64, burst: u64) -> RateLimit {
        RateLimit { messages: Some(Rate::new(per_second, burst)), bytes: None, policy: RatePolicy::Throttle }
    }

    /// At most `per_second` bytes per second, `burst` at once; throttled beyond.
    pub const fn bytes(per_second: u64, burst: u64) -> RateLimit {
        RateLimit { messages: None, bytes: Some(Rate::new(per_second, burst)), policy: RatePolicy::Throttle }
    }

    /// This limit with a message rate as well (or instead of the one it had).
    pub const fn with_messages(mut self, per_second: u64, burst: u64) -> RateLimit {
        self.messages = Some(Rate::new(per_second, burst));
        self
    }

    /// This limit with a byte rate as well (or instead of the one it had).
    pub const fn with_bytes(mut self, per_second: u64, burst: u64) -> RateLimit {
        self.bytes = Some(Rate::new(per_second, burst));
        self
    }

    /// Close with 1008 beyond the limit ([`RatePolicy::Close`]).
    pub const fn close(mut self) -> RateLimit {
        self.policy = RatePolicy::Close;
        self
    }

    /// Stop reading beyond the limit ([`RatePolicy::Throttle`], the default).
    pub const fn throttle(mut self) -> RateLimit {
        self.policy = RatePolicy::Throttle;
        self
    }

    /// The message rate, if limited.
    pub const fn message_rate(&self) -> Option<Rate> {
        self.messages
    }

    /// The byte rate, if limited.
    pub const fn byte_rate(&self) -> Option<Rate> {
        self.bytes
    }

    /// What happens beyond the limit.
    pub const fn policy(&self) -> RatePolicy {
        self.policy
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (rate, per_second, burst) in [
            (self.messages, "rate_limit messages per_second", "rate_limit messages burst"),
            (self.bytes, "rate_limit bytes per_second", "rate_limit bytes burst"),
        ] {
            if let Some(rate) = rate {
                if rate.per_second == 0 {
                    return Err(ConfigError::Zero(per_second));
                }
                if rate.burst == 0 {
                    return Err(ConfigError::Zero(burst));
                }
            }
        }
        Ok(())
    }
}

/// A token bucket in nano-tokens. It starts full at the first time it is given; the level
/// may go negative (debt: input the caller pushed without asking, see `Connection::receive`),
/// and refills at the rate up to the burst.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    rate: Rate,
    level: i128,
    at: Option<Instant>,
}

impl Bucket {
    pub(crate) fn new(rate: Rate) -> Bucket {
        Bucket { rate, level: i128::from(rate.burst) * NANO, at: None }
    }

    /// Add what `now - at` earned, up to the burst.
    pub(crate) fn refill(&mut self, now: Instant) {
        let Some(at) = self.at else {
            self.at = Some(now);
            return;
        };
        if now <= at {
            return;
        }
        let elapsed = i128::try_from(now.saturating_duration_since(at).as_nanos()).unwrap_or(i128::MAX);
        let earned = elapsed.saturating_mul(i128::from(self.rate.per_second));
        self.level = self.level.saturating_add(earned).min(i128::from(self.rate.burst) * NANO);
        self.at = Some(now);
    }

    /// Whole tokens available (0 in debt).
    pub(crate) fn available(&self) -> u64 {
        u64::try_from((self.level / NANO).max(0)).unwrap_or(u64::MAX)
    }

    /// Take `n` tokens (the level may go negative).
    pub(crate) fn take(&mut self, n: u64) {
        self.level = self.level.saturating_sub(i128::from(n).saturating_mul(NANO));
    }

    /// When to look again once the bucket is empty: when it holds `resume` tokens, about a
    /// fiftieth of a second's worth (at least 1, at most the burst), so a throttled
    /// connection wakes at most about 50 times a second.
    pub(crate) fn refilled_at(&self) -> Instant {
        let resume = (self.rate.per_second / 50).max(1).min(self.rate.burst.max(1));
        let want = i128::from(resume) * NANO - self.level;
        let at = self.at.unwrap_or(Instant::ZERO);
        if want <= 0 {
            return at;
        }
        let rate = i128::from(self.rate.per_second.max(1));
        let nanos = (want + rate - 1) / rate;
        at + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// A connection's buckets (boxed in the connection: one pointer when limits are off).
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) policy: RatePolicy,
    pub(crate) messages: Option<Bucket>,
    pub(crate) bytes: Option<Bucket>,
    /// Under [`RatePolicy::Close`]: the limit exceeded, to be reported at the next event.
    pub(crate) exceeded: Option<RateKind>,
}

impl Limiter {
    pub(crate) fn new(limit: &RateLimit) -> Limiter {
        Limiter {
            policy: limit.policy,
            messages: limit.messages.map(Bucket::new),
            bytes: limit.bytes.map(Bucket::new),
            exceeded: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn a_bucket_starts_full_and_refills_exactly() {
        let mut b = Bucket::new(Rate::new(10, 5));
        b.refill(at_ms(0));
        assert_eq!(b.available(), 5);
        b.take(5);
        assert_eq!(b.available(), 0);
        // 10 per second: one token per 100 ms, exactly.
        b.refill(at_ms(99));
        assert_eq!(b.available(), 0);
        b.refill(at_ms(100));
        assert_eq!(b.available(), 1);
        // Never beyond the burst.
        b.refill(at_ms(100_000));
        assert_eq!(b.available(), 5);
    }

    #[test]
    fn debt_is_repaid_before_tokens_return() {
        let mut b = Bucket::new(Rate::new(1000, 100));
        b.refill(at_ms(0));
        b.take(300);
        assert_eq!(b.available(), 0);
        // 200 in debt, resume at 20 tokens (1000 / 50): 220 ms.
        assert_eq!(b.refilled_at(), at_ms(220));
        b.refill(at_ms(219));
        assert_eq!(b.available(), 19);
        b.refill(at_ms(220));
        assert_eq!(b.available(), 20);
    }

    #[test]
    fn refill_instants_round_up() {
        // 3 per second: the first token is earned after 333 333 334 ns, not before.
        let mut b = Bucket::new(Rate::new(3, 1));
        b.refill(Instant::ZERO);
        b.take(1);
        let at = b.refilled_at();
        assert_eq!(at.as_duration(), Duration::from_nanos(333_333_334));
        b.refill(at);
        assert_eq!(b.available(), 1);
    }

    #[test]
    fn extreme_settings_do_not_overflow() {
        let mut b = Bucket::new(Rate::new(u64::MAX, u64::MAX));
        b.refill(Instant::ZERO);
        b.take(u64::MAX);
        b.take(u64::MAX);
        b.refill(Instant::from_duration(Duration::MAX));
        assert_eq!(b.available(), u64::MAX);
        let _ = b.refilled_at();
    }

    #[test]
    fn zero_rates_are_config_errors() {
        assert!(RateLimit::messages(0, 1).validate().is_err());
        assert!(RateLimit::bytes(1, 0).validate().is_err());
        assert!(RateLimit::messages(1, 1).with_bytes(1, 1).validate().is_ok());
    }
}
