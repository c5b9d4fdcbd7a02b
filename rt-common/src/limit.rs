//! `HandshakeLimit` and `HandshakePermit`: a server-wide bound on opening handshakes in
//! progress (hostile-peers A13), shared by an accept loop and its connection tasks. The
//! handshake itself is `server.rs`'s; no runtime and no IO here.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::OpenError;

/// A bound on upgrades in progress: connections accepted whose `101 Switching Protocols`
/// has not been written yet. Each holds a [`HandshakePermit`] from the moment the accept
/// loop takes it until [`Upgrade::accept`](crate::Upgrade::accept) /
/// [`reject`](crate::Upgrade::reject) has finished, the handshake failed, or the
/// [`Upgrade`](crate::Upgrade) was dropped.
///
/// When the bound is reached, further connections are **refused, not queued**:
/// [`try_acquire`](Self::try_acquire) fails at once with [`OpenError::TooManyHandshakes`] and
/// the caller drops the TCP stream (closing it costs nothing and holds nothing). Waiting
/// instead would keep every refused socket, its kernel buffers and a task alive, and an
/// honest client would queue behind peers that never send a byte for up to the handshake
/// deadline. An accept loop that prefers to push back on the kernel's listen backlog can
/// stop calling `accept` while [`is_full`](Self::is_full).
///
/// Each pending handshake is also closed at the one total handshake deadline
/// ([`Config::handshake_timeout`](tether_proto::Config::handshake_timeout), 10 s by
/// default), so the bound frees up by itself under a flood of idle connections. What a
/// pending handshake costs is measured by the suite (`handshake_limit` tests).
///
/// ```no_run
/// # async fn serve<R: tether_rt::Runtime, S>(incoming: Vec<S>) -> Result<(), tether_rt::OpenError>
/// # where R::Io<S>: tether_rt::Transport {
/// use tether_rt::{HandshakeLimit, Upgrade};
/// let limit = HandshakeLimit::new(1024);
/// for tcp in incoming {
///     // `listener.accept().await` in a real server. Refuse in the accept loop itself,
///     // before spending a task on the connection: dropping `tcp` closes it at once.
///     let Ok(permit) = limit.try_acquire() else { continue };
///     // Usually in a spawned task: the permit is held until the 101 is written.
///     let upgrade = Upgrade::<S, R>::read_with_permit(tcp, tether_rt::default_config(), permit).await?;
///     let ws = upgrade.accept().await?;
/// #   drop(ws);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HandshakeLimit {
    shared: Arc<Shared>,
}

struct Shared {
    max: usize,
    pending: AtomicUsize,
}

impl fmt::Debug for HandshakeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeLimit").field("max", &self.max()).field("pending", &self.pending()).finish()
    }
}

impl HandshakeLimit {
    /// At most `max` handshakes in progress at once (clones share the bound). `0` refuses
    /// every connection.
    pub fn new(max: usize) -> Self {
        HandshakeLimit { shared: Arc::new(Shared { max, pending: AtomicUsize::new(0) }) }
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.shared.max
    }

    /// Handshakes in progress now (permits alive).
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::Acquire)
    }

    /// Whether every permit is taken.
    pub fn is_full(&self) -> bool {
        self.pending() >= self.max()
    }

    /// Take a permit for one handshake, if fewer than [`max`](Self::max) are in progress.
    ///
    /// # Errors
    /// [`OpenError::TooManyHandshakes`] (with the bound) when all permits are taken; drop the
    /// stream.
    pub fn try_acquire(&self) -> Result<HandshakePermit, OpenError> {
        let max = self.shared.max;
        self.shared
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .map(|_| HandshakePermit { shared: self.shared.clone() })
            .map_err(|_| OpenError::TooManyHandshakes(max))
    }
}

/// One handshake's share of a [`HandshakeLimit`]; released when dropped.
pub struct HandshakePermit {
    shared: Arc<Shared>,
}

impl fmt::Debug for HandshakePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakePermit").finish_non_exhaustive()
    }
}

impl Drop for HandshakePermit {
    fn drop(&mut self) {
        self.shared.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_and_released_on_drop() {
        let limit = HandshakeLimit::new(2);
        let a = limit.try_acquire().unwrap();
        let b = limit.clone().try_acquire().unwrap();
        assert!(limit.is_full());
        assert!(matches!(limit.try_acquire(), Err(OpenError::TooManyHandshakes(2))));
        drop(a);
        assert_eq!(limit.pending(), 1);
        let _c = limit.try_acquire().unwrap();
        drop(b);
        assert_eq!(limit.pending(), 1);
        assert!(HandshakeLimit::new(0).try_acquire().is_err());
    }
}
