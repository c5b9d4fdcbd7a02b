//! `WakerSet`: every task waiting to write (senders, and the reader while parked) behind
//! the one waker a transport keeps for its write side. No IO and no protocol here.

use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

/// Tasks to wake when the transport becomes writable (or the connection ends).
///
/// A transport keeps one write waker; several tasks may wait on it (cloned senders, the
/// reader flushing pongs), so the transport is given this set's waker and the set wakes
/// them all. Wakes are rare (only after a write returned `Pending`), so a list is fine.
#[derive(Debug, Default)]
pub(crate) struct WakerSet {
    wakers: Mutex<Vec<Waker>>,
}

impl WakerSet {
    /// Wake `waker` on the next [`wake_all`](Self::wake_all).
    pub(crate) fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    /// Wake and forget every registered task.
    pub(crate) fn wake_all(&self) {
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in wakers {
            waker.wake();
        }
    }
}

impl Wake for WakerSet {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}
