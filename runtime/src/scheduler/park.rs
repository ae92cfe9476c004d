//! The parking seam: how an idle thread sleeps until it is woken.
//!
//! A condvar parker for now; the workers' io_uring rings take its place for
//! the worker threads when the I/O driver lands. The state word makes an
//! `unpark` before `park` count (the park returns at once), so a wake-up
//! can never fall between a thread's last look at its queues and its sleep.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// Sleeps the owning thread; see [`Unparker`] for the other side.
#[derive(Debug)]
pub(crate) struct Parker {
    inner: Arc<Inner>,
}

/// Wakes a [`Parker`]; cheap to clone and usable from any thread.
#[derive(Clone, Debug)]
pub(crate) struct Unparker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                cvar: Condvar::new(),
            }),
        }
    }

    pub(crate) fn unparker(&self) -> Unparker {
        Unparker {
            inner: self.inner.clone(),
        }
    }

    /// Blocks until unparked or until `timeout` passes (forever if `None`).
    pub(crate) fn park_timeout(&self, timeout: Option<Duration>) {
        match timeout {
            None => self.park(),
            Some(timeout) => self.park_for(timeout),
        }
    }

    fn park_for(&self, timeout: Duration) {
        let inner = &*self.inner;
        if inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            || timeout.is_zero()
        {
            return;
        }
        let mut guard = inner.lock.lock();
        if inner
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            inner.state.store(EMPTY, Ordering::SeqCst);
            return;
        }
        let _ = inner.cvar.wait_for(&mut guard, timeout);
        // Woken, timed out, or spurious: either way no longer parked, and a
        // pending unpark is consumed (the caller re-checks its conditions).
        inner.state.store(EMPTY, Ordering::SeqCst);
    }

    /// Blocks until unparked (returns at once if an unpark is pending).
    pub(crate) fn park(&self) {
        let inner = &*self.inner;
        // SeqCst on both sides: the unparker stores NOTIFIED then reads the
        // sleeper's flag, we store PARKED then re-read; one of us sees the other.
        if inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
        let mut guard = inner.lock.lock();
        if let Err(actual) =
            inner
                .state
                .compare_exchange(EMPTY, PARKED, Ordering::SeqCst, Ordering::SeqCst)
        {
            debug_assert_eq!(actual, NOTIFIED);
            inner.state.store(EMPTY, Ordering::SeqCst);
            return;
        }
        loop {
            inner.cvar.wait(&mut guard);
            if inner
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
            // A spurious wake-up: sleep again.
        }
    }
}

impl Unparker {
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        if inner.state.swap(NOTIFIED, Ordering::SeqCst) == PARKED {
            // Taking the lock orders this notify after the sleeper's wait
            // started (it holds the lock from its CAS until it waits).
            drop(inner.lock.lock());
            inner.cvar.notify_one();
        }
    }

    /// Whether both unpark the same parker.
    pub(crate) fn same_as(&self, other: &Unparker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// A waker that unparks this parker.
    pub(crate) fn into_waker(self) -> Waker {
        Waker::from(Arc::new(self))
    }
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.unpark();
    }
}
