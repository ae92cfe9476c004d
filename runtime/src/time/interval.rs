//! `interval`: ticks at a fixed period.

use super::sleep::{current_handle, Sleep};
use super::Instant;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// What an [`Interval`] does with ticks it missed (the task was busy).
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
#[derive(Debug)]
pub struct Interval {
    /// Its deadline is the next tick.
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns when it was due.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(Pin::new(&mut self.sleep).poll(cx));
        let due = self.sleep.deadline();
        let now = Instant::now();
        let next = match self.missed {
            MissedTickBehavior::Burst => due + self.period,
            MissedTickBehavior::Delay if now > due + self.period => now + self.period,
            MissedTickBehavior::Skip if now > due + self.period => {
                let behind = (now - due).as_nanos() / self.period.as_nanos().max(1);
                due + self.period * (u32::try_from(behind).unwrap_or(u32::MAX) + 1)
            }
            MissedTickBehavior::Delay | MissedTickBehavior::Skip => due + self.period,
        };
        self.sleep.reset(next);
        Poll::Ready(due)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// Restarts the interval: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(Instant::now() + self.period);
    }
}
