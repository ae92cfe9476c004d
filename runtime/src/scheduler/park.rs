//! The parking seam: how an idle thread sleeps until it is woken.
//!
//! A worker (or the thread driving a current_thread runtime) sleeps in its
//! io_uring ring ([`Park::Ring`]): completions, its nearest timer and other
//! threads' wake-ups (an eventfd) all end the wait. [`Parker`] is the
//! condvar alternative, for threads that own no ring (a multi-thread
//! `block_on`). Either way an `unpark` before `park` counts (the park
//! returns at once), so a wake-up can never fall between a thread's last
//! look at its queues and its sleep.

use parking_lot::{Condvar, Mutex};
use std::cell::Cell;
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

/// How a runtime thread that may own a ring sleeps.
pub(crate) enum Park {
    /// The thread's io_uring ring (boxed: it is large, and built once).
    Ring(Box<RingPark>),
    /// A condvar (a runtime built without a ring).
    Condvar(Parker),
}

/// A ring to sleep in, and what parking on it has learnt.
pub(crate) struct RingPark {
    /// Shared with the other workers, which reap it if this one is stuck.
    ring: Arc<crate::driver::OwnedRing>,
    /// The longest one wait in the ring may last (`RUNTIME_RING_WAIT_MAX_MS`;
    /// see `driver/choice.rs`): for tools such as valgrind that cannot run
    /// other threads while one waits in `io_uring_enter`.
    wait_cap: Option<Duration>,
    /// Waits in a row that failed with a non-transient error.
    failures: Cell<u32>,
}

/// Wakes a [`Park`] from any thread.
#[derive(Clone, Debug)]
pub(crate) enum Unpark {
    Ring(crate::driver::DriverHandle),
    Condvar(Unparker),
}

impl Park {
    pub(crate) fn new(ring: Option<crate::driver::Driver>, wait_cap: Option<Duration>) -> Park {
        match ring {
            Some(driver) => Park::Ring(Box::new(RingPark {
                ring: Arc::new(crate::driver::OwnedRing::new(driver)),
                wait_cap,
                failures: Cell::new(0),
            })),
            None => Park::Condvar(Parker::new()),
        }
    }

    /// Sleeps until woken, a completion arrives, or `timeout` passes;
    /// reaps every completion (waking its task) before returning.
    pub(crate) fn park_timeout(&self, timeout: Option<Duration>) {
        match self {
            Park::Ring(park) => park.park_timeout(timeout),
            Park::Condvar(parker) => parker.park_timeout(timeout),
        }
    }

    /// Reaps completions without blocking (a memory read when there are none).
    pub(crate) fn poll(&self) {
        if let Park::Ring(park) = self {
            // Taken: a peer is reaping it for us right now.
            if let Some(mut driver) = park.ring.driver.try_lock() {
                let _ = driver.poll();
            }
        }
    }

    /// The ring, for the peers that reap it while this thread is stuck.
    pub(crate) fn ring(&self) -> Option<&Arc<crate::driver::OwnedRing>> {
        match self {
            Park::Ring(park) => Some(&park.ring),
            Park::Condvar(_) => None,
        }
    }

    pub(crate) fn unparker(&self) -> Unpark {
        match self {
            Park::Ring(park) => Unpark::Ring(park.ring.handle.clone()),
            Park::Condvar(parker) => Unpark::Condvar(parker.unparker()),
        }
    }

    /// Makes the ring this thread's ring (for submissions) until the guard drops.
    pub(crate) fn enter(&self) -> Option<crate::driver::CurrentGuard<'_>> {
        match self {
            Park::Ring(park) => Some(crate::driver::set_current(&park.ring)),
            Park::Condvar(_) => None,
        }
    }

    /// Cancels every operation in flight on the ring and waits for the
    /// kernel to finish with them.
    pub(crate) fn shutdown(&self) {
        if let Park::Ring(park) = self {
            park.ring.driver.lock().shutdown();
        }
    }

    /// Operations submitted and completed on the ring so far.
    pub(crate) fn io_counts(&self) -> (u64, u64) {
        match self {
            Park::Ring(park) => match park.ring.driver.try_lock() {
                Some(driver) => {
                    let stats = driver.stats();
                    (stats.submitted, stats.completed)
                }
                None => (0, 0),
            },
            Park::Condvar(_) => (0, 0),
        }
    }
}

impl RingPark {
    fn park_timeout(&self, timeout: Option<Duration>) {
        let timeout = match (timeout, self.wait_cap) {
            (Some(timeout), Some(cap)) => Some(timeout.min(cap)),
            (None, cap) => cap,
            (timeout, None) => timeout,
        };
        // Transient errors (EINTR, EBUSY, ETIME) are absorbed by the
        // driver; anything else means the ring is broken. Say so once, not
        // on every park, and back off (10 ms doubling to 1 s) so a broken
        // ring neither floods stderr nor spins; a wait that works again
        // resets both.
        // The lock is released before the back-off below (a `match` on
        // the call itself would hold it through the sleep, keeping a
        // rescuer and this thread's own submissions out of the ring).
        let parked = self.ring.driver.lock().park(timeout);
        match parked {
            Ok(()) => self.failures.set(0),
            Err(err) => {
                let failures = self.failures.get();
                if failures == 0 {
                    eprintln!(
                        "runtime: io_uring wait failed: {err} (retrying with a back-off; \
                         further failures of this ring are not reported)"
                    );
                }
                self.failures.set(failures.saturating_add(1));
                let backoff = Duration::from_millis(10 << failures.min(7));
                std::thread::sleep(backoff.min(Duration::from_secs(1)));
            }
        }
    }
}

impl Unpark {
    pub(crate) fn unpark(&self) {
        match self {
            Unpark::Ring(handle) => handle.unpark(),
            Unpark::Condvar(unparker) => unparker.unpark(),
        }
    }

    /// The ring's handle, for submitting from a thread that owns no ring.
    pub(crate) fn ring(&self) -> Option<&crate::driver::DriverHandle> {
        match self {
            Unpark::Ring(handle) => Some(handle),
            Unpark::Condvar(_) => None,
        }
    }
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.unpark();
    }
}
