//! `Shutdown`: a cloneable signal, triggered once, that connections watch (the next receive
//! or send of a watching connection queues a 1001 Going Away close) and that tasks can
//! await (`Shutdown::triggered`). What does not live here: the close itself (the engine's,
//! driven by `core.rs`) and any accept loop or deadline (the server layer's).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use crate::waker::WakerSet;

/// Something woken when the signal is triggered.
trait Watcher: Send + Sync {
    fn notify(&self);
}

impl Watcher for WakerSet {
    fn notify(&self) {
        self.wake_all();
    }
}

/// One [`Triggered`] future's task.
#[derive(Default)]
struct Slot(Mutex<Option<Waker>>);

impl Watcher for Slot {
    fn notify(&self) {
        if let Some(waker) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            waker.wake();
        }
    }
}

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    /// Weak: a watcher that is gone (a closed connection, a dropped future) costs only its
    /// entry, which is swept when the list doubles.
    watchers: Mutex<Watchers>,
}

#[derive(Default)]
struct Watchers {
    list: Vec<Weak<dyn Watcher>>,
    /// Sweep dead entries when the list reaches this length (then twice what is alive).
    sweep_at: usize,
}

/// A shutdown signal: clone it into every place that must learn of it, then
/// [`trigger`](Self::trigger) it once — from a Ctrl-C handler, a server's handle, a test.
///
/// - A connection given it with [`WebSocket::close_on`](crate::WebSocket::close_on) (or
///   `Reader::close_on`) starts the closing handshake with **1001 (Going Away)** when it is
///   triggered: the task blocked in `recv` is woken, the close frame is queued behind what
///   is already queued, and `recv` then drives the handshake as for any close, returning
///   `Ok(None)` once the peer has answered (or [`Error::Closed`](crate::Error::Closed) after
///   the close timeout). Sends after that fail, as after [`close`](crate::WebSocket::close).
///   A connection observes the signal in its receive and send paths only: one that nobody
///   polls closes when it is next used or dropped (dropping sends 1001 too).
/// - A task awaits it with [`triggered`](Self::triggered) (an accept loop that must stop).
///
/// ```no_run
/// # async fn f<S, R: tether_rt::Runtime>(mut ws: tether_rt::WebSocket<S, R>) -> Result<(), tether_rt::Error>
/// # where R::Io<S>: tether_rt::Transport {
/// let shutdown = tether_rt::Shutdown::new();
/// ws.close_on(&shutdown);
/// let trigger = shutdown.clone(); // e.g. moved into a Ctrl-C handler
/// # trigger.trigger();
/// while let Some(message) = ws.recv().await? {
///     // ...
/// #   let _ = message;
/// }
/// // After `trigger.trigger()`: the peer was sent 1001 and answered.
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown").field("triggered", &self.is_triggered()).finish()
    }
}

impl Shutdown {
    /// A signal not triggered yet.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Trigger the signal: every watching connection and every [`triggered`](Self::triggered)
    /// future is woken. Idempotent; callable from any thread (a signal handler's thread
    /// included), it never blocks on IO.
    pub fn trigger(&self) {
        if self.inner.triggered.swap(true, Ordering::SeqCst) {
            return;
        }
        let list = std::mem::take(&mut self.lock().list);
        for watcher in list.iter().filter_map(Weak::upgrade) {
            watcher.notify();
        }
    }

    /// Whether [`trigger`](Self::trigger) has been called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// A future that completes once the signal is triggered (at once if it already is).
    /// Cancel safe; any number may wait.
    pub fn triggered(&self) -> Triggered {
        Triggered { shutdown: self.clone(), slot: None }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watchers> {
        self.inner.watchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wake `watcher` when triggered (unless it already is: the caller checks after).
    fn register(&self, watcher: Weak<dyn Watcher>) {
        let mut watchers = self.lock();
        if self.is_triggered() {
            return;
        }
        if watchers.list.len() >= watchers.sweep_at {
            watchers.list.retain(|w| w.strong_count() > 0);
            watchers.sweep_at = (watchers.list.len() * 2).max(16);
        }
        watchers.list.push(watcher);
    }

    /// A connection's waiting tasks (the reader while parked is among its writers) are
    /// woken when triggered.
    pub(crate) fn watch(&self, writers: &Arc<WakerSet>) {
        let weak: Weak<WakerSet> = Arc::downgrade(writers);
        self.register(weak);
    }
}

/// The future of [`Shutdown::triggered`].
#[must_use = "futures do nothing unless polled"]
pub struct Triggered {
    shutdown: Shutdown,
    slot: Option<Arc<Slot>>,
}

impl fmt::Debug for Triggered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Triggered").field("shutdown", &self.shutdown).finish()
    }
}

impl Future for Triggered {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shutdown.is_triggered() {
            return Poll::Ready(());
        }
        let slot = match &self.slot {
            Some(slot) => slot.clone(),
            None => {
                let slot = Arc::new(Slot::default());
                let weak: Weak<Slot> = Arc::downgrade(&slot);
                self.shutdown.register(weak);
                self.slot = Some(slot.clone());
                slot
            }
        };
        {
            let mut waker = slot.0.lock().unwrap_or_else(|e| e.into_inner());
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
        }
        // Triggered between the first check and the registration: the trigger may have
        // missed the waker.
        if self.shutdown.is_triggered() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn triggered_wakes_every_waiter_once_and_then_is_ready() {
        let shutdown = Shutdown::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut waiting: Vec<Triggered> = (0..3).map(|_| shutdown.triggered()).collect();
        for t in &mut waiting {
            assert!(Pin::new(t).poll(&mut cx).is_pending());
        }
        assert!(!shutdown.is_triggered());
        shutdown.clone().trigger();
        shutdown.trigger();
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
        for t in &mut waiting {
            assert!(Pin::new(t).poll(&mut cx).is_ready());
        }
        assert!(Pin::new(&mut shutdown.triggered()).poll(&mut cx).is_ready());
    }

    #[test]
    fn dropped_waiters_are_swept() {
        let shutdown = Shutdown::new();
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..1000 {
            let mut t = shutdown.triggered();
            assert!(Pin::new(&mut t).poll(&mut cx).is_pending());
        }
        assert!(shutdown.lock().list.len() <= 32, "dead entries are swept as the list grows");
    }
}
