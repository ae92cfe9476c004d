//! A runtime's clock: real time, or (in tests) paused and moved by hand.
//!
//! Time is kept as an offset from a base `Instant`, so pausing, advancing
//! and resuming never make it run backwards: resuming continues from the
//! paused point, shifted forward by however long the clock stood still.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(crate) struct Clock {
    base: Instant,
    /// Fast path for `now`: a running clock reads the OS clock only.
    paused: AtomicBool,
    /// Added to the real elapsed time while running (nanoseconds); only
    /// changed by `resume`, before it clears `paused`.
    offset_nanos: AtomicU64,
    /// The time since `base` at which the clock stands while paused.
    frozen: Mutex<Duration>,
}

impl Clock {
    pub(crate) fn new(start_paused: bool) -> Clock {
        Clock {
            base: Instant::now(),
            paused: AtomicBool::new(start_paused),
            offset_nanos: AtomicU64::new(0),
            frozen: Mutex::new(Duration::ZERO),
        }
    }

    /// Time since the clock's base.
    pub(crate) fn elapsed(&self) -> Duration {
        if self.paused.load(Ordering::Acquire) {
            return *self.frozen.lock();
        }
        // Acquire above pairs with `resume`'s Release: the offset is current.
        self.base.elapsed() + Duration::from_nanos(self.offset_nanos.load(Ordering::Relaxed))
    }

    pub(crate) fn now(&self) -> Instant {
        self.base + self.elapsed()
    }

    /// Milliseconds since the base at which `deadline` is reached, rounded
    /// up so that a timer never fires early.
    pub(crate) fn deadline_ms(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.base);
        let ms = since.as_millis() + u128::from(since.subsec_nanos() % 1_000_000 != 0);
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    /// The current time in whole milliseconds since the base (rounded down).
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long until `ms` (since the base) is reached; zero if it has been.
    pub(crate) fn until_ms(&self, ms: u64) -> Duration {
        Duration::from_millis(ms).saturating_sub(self.elapsed())
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Stops the clock. `false` if it was already paused.
    pub(crate) fn pause(&self) -> bool {
        let mut frozen = self.frozen.lock();
        if self.paused.load(Ordering::Acquire) {
            return false;
        }
        *frozen = self.elapsed();
        self.paused.store(true, Ordering::Release);
        true
    }

    /// Restarts the clock from where it stands. `false` if it was running.
    pub(crate) fn resume(&self) -> bool {
        let frozen = self.frozen.lock();
        if !self.paused.load(Ordering::Acquire) {
            return false;
        }
        let offset = frozen.saturating_sub(self.base.elapsed());
        self.offset_nanos.store(
            u64::try_from(offset.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.paused.store(false, Ordering::Release);
        true
    }

    /// Moves a paused clock forward by `by`. `false` if it is running.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        let mut frozen = self.frozen.lock();
        if !self.paused.load(Ordering::Acquire) {
            return false;
        }
        *frozen += by;
        true
    }

    /// Moves a paused clock forward to `ms` since the base, if that is later.
    pub(crate) fn advance_to_ms(&self, ms: u64) {
        let mut frozen = self.frozen.lock();
        *frozen = (*frozen).max(Duration::from_millis(ms));
    }
}
