//! `interval`: ticks at a fixed period.

use super::sleep::{current_handle, Sleep};
use super::Instant;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// What an [`Interval`] does with ticks it missed (the task was busy).
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration, MissedTickBehavior};
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
///     let mut interval = time::interval(Duration::from_millis(10));
///     interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
///     let start = interval.tick().await;
///     time::sleep(Duration::from_millis(35)).await; // misses the ticks at 10, 20, 30
///     let ms = |d: Duration| d.as_millis();
///     assert_eq!(ms(interval.tick().await - start), 10); // late, at once
///     assert_eq!(ms(interval.tick().await - start), 40); // 20 and 30 are dropped
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up (the default).
    #[default]
    Burst,
    /// Restart the period from the late tick.
    Delay,
    /// Drop the missed ticks; fire at the next multiple of the period.
    Skip,
}

/// Creates an interval whose first tick completes at once and then every
/// `period`.
///
/// # Panics
/// If `period` is zero, or outside a runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let mut interval = runtime::time::interval(Duration::from_millis(2));
///     let first = interval.tick().await;
///     let third = {
///         interval.tick().await;
///         interval.tick().await
///     };
///     assert!(third - first >= Duration::from_millis(4));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "`runtime::time::interval` period must be non-zero"
    );
    let handle = current_handle("interval");
    let now = handle.time().clock().now();
    Interval {
        sleep: Sleep::new(handle, now),
        period,
        missed: MissedTickBehavior::Burst,
    }
}

/// Ticks every period; see [`interval`].
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration, Instant};
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let mut interval = time::interval(Duration::from_secs(1));
///     let start = interval.tick().await; // the first tick completes at once
///     assert_eq!(start, Instant::now());
///     assert_eq!(interval.tick().await - start, Duration::from_secs(1));
///     assert_eq!(interval.tick().await - start, Duration::from_secs(2));
///     assert_eq!(start.elapsed(), Duration::from_secs(2));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Interval {
    /// Its deadline is the next tick.
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns when it was due.
    /// Ticks missed while the caller was busy are handled as set by
    /// [`set_missed_tick_behavior`](Interval::set_missed_tick_behavior)
    /// (by default, [`Burst`](MissedTickBehavior::Burst)).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let mut interval = time::interval(Duration::from_millis(10));
    ///     let start = interval.tick().await;
    ///     time::sleep(Duration::from_millis(35)).await;
    ///     // Burst: the missed ticks come back to back, each saying when it was due.
    ///     for due in [10, 20, 30] {
    ///         assert_eq!(interval.tick().await - start, Duration::from_millis(due));
    ///     }
    ///     assert_eq!(start.elapsed(), Duration::from_millis(35));
    ///     assert_eq!(interval.tick().await - start, Duration::from_millis(40));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick: `Ready` with the time it was due, or
    /// `Pending` (waking `cx` when it is due).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration};
    /// use std::task::Context;
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let waker = futures_util::task::noop_waker();
    ///     let mut cx = Context::from_waker(&waker);
    ///     let mut interval = time::interval(Duration::from_secs(1));
    ///     assert!(interval.poll_tick(&mut cx).is_ready()); // the first tick
    ///     assert!(interval.poll_tick(&mut cx).is_pending());
    ///     time::advance(Duration::from_secs(1)).await;
    ///     assert!(interval.poll_tick(&mut cx).is_ready());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(Pin::new(&mut self.sleep).poll(cx));
        let due = self.sleep.deadline();
        let now = Instant::now();
        // Saturating throughout: `interval(Duration::MAX)` must not panic,
        // and a `Skip` interval stalled for more than `u32::MAX` periods
        // must still move on (a `u32` count of periods once wrapped to 0
        // here and returned the same instant forever).
        let following = due.saturating_add(self.period);
        let next = match self.missed {
            MissedTickBehavior::Burst => following,
            MissedTickBehavior::Delay if now > following => now.saturating_add(self.period),
            MissedTickBehavior::Skip if now > following => {
                let behind = (now - due).as_nanos() / self.period.as_nanos().max(1);
                due.saturating_add(periods(self.period, behind + 1))
            }
            MissedTickBehavior::Delay | MissedTickBehavior::Skip => following,
        };
        self.sleep.reset(next);
        Poll::Ready(due)
    }

    /// The period.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let interval = runtime::time::interval(Duration::from_millis(250));
    ///     assert_eq!(interval.period(), Duration::from_millis(250));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Sets what happens to missed ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration, MissedTickBehavior};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let mut interval = time::interval(Duration::from_millis(10));
    ///     interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ///     let start = interval.tick().await;
    ///     time::sleep(Duration::from_millis(35)).await;
    ///     let ms = |d: Duration| d.as_millis();
    ///     assert_eq!(ms(interval.tick().await - start), 10); // late, at once
    ///     assert_eq!(ms(interval.tick().await - start), 45); // 35 (when it fired) + 10
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// Restarts the interval: the next tick is one period from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let mut interval = time::interval(Duration::from_secs(1));
    ///     let start = interval.tick().await;
    ///     time::advance(Duration::from_millis(500)).await;
    ///     interval.reset();
    ///     assert_eq!(interval.tick().await - start, Duration::from_millis(1500));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&mut self) {
        self.sleep.reset(Instant::now().saturating_add(self.period));
    }
}

/// `period * count`, saturating at `Duration::MAX`.
fn periods(period: Duration, count: u128) -> Duration {
    let nanos = period.as_nanos().saturating_mul(count);
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    if secs == u64::MAX {
        return Duration::MAX;
    }
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}
