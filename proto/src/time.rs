//! `Instant`: the engine's only notion of time, always passed in by the caller — nothing here
//! reads a clock.

use core::ops::{Add, AddAssign};
use core::time::Duration;

/// A point in time, as a [`Duration`] since an epoch the caller chooses (usually the moment
/// its runtime started). The engine only ever compares instants it was given.
///
/// ```
/// use core::time::Duration;
/// use tether_proto::Instant;
/// let t = Instant::ZERO + Duration::from_secs(5);
/// assert_eq!(t.saturating_duration_since(Instant::ZERO), Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `since_epoch` after the caller's epoch.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Instant(since_epoch)
    }

    /// The time since the epoch.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + d`, saturating at the largest representable instant.
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = self.saturating_add(rhs);
    }
}
