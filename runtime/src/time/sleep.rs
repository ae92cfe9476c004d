//! `sleep`, `sleep_until` and the `Sleep` future.

use super::wheel::TimerKey;
use super::Instant;
use crate::scheduler::{context, coop, Handle};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Waits until `duration` has passed.
///
/// # Panics
/// Outside a runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let start = runtime::time::Instant::now();
///     runtime::time::sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let handle = current_handle("sleep");
    let now = handle.time().clock().now();
    let deadline = now.checked_add(duration).unwrap_or_else(far_future);
    Sleep::new(handle, deadline)
}

/// Waits until `deadline`.
///
/// # Panics
/// Outside a runtime.
///
/// # Examples
///
/// ```
/// use runtime::time::{sleep_until, Instant};
/// use std::time::Duration;
///
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(current_handle("sleep_until"), deadline.into_std())
}

#[track_caller]
pub(super) fn current_handle(what: &str) -> Handle {
    match context::current() {
        Some(handle) => handle,
        None => panic!(
            "`runtime::time::{what}` called outside of a runtime: timers belong to a \
             runtime; call it from a task or inside `Runtime::block_on`"
        ),
    }
}

/// About 30 years from now: "never", for durations that overflow `Instant`.
/// A timer of a runtime that has shut down: no worker will ever fire it.
#[track_caller]
fn panic_shut_down() -> ! {
    panic!(
        "a timer (sleep, timeout or interval) was polled after its runtime shut down: \
         the runtime has shut down, and its timers will never fire"
    )
}

pub(super) fn far_future() -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// The future returned by [`sleep`] and [`sleep_until`]. Dropping it
/// removes its timer.
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration, Instant};
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let start = Instant::now();
///     let sleep = time::sleep(Duration::from_secs(5));
///     assert_eq!(sleep.deadline(), start + Duration::from_secs(5));
///     sleep.await; // the idle runtime jumps to the deadline
///     assert_eq!(start.elapsed(), Duration::from_secs(5));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Sleep {
    handle: Handle,
    deadline: std::time::Instant,
    /// The wheel shard and key, once registered.
    registration: Option<(usize, TimerKey)>,
}

impl Sleep {
    pub(super) fn new(handle: Handle, deadline: std::time::Instant) -> Sleep {
        Sleep {
            handle,
            deadline,
            registration: None,
        }
    }

    /// When this sleep completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration, Instant};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let deadline = Instant::now() + Duration::from_millis(20);
    ///     assert_eq!(time::sleep_until(deadline).deadline(), deadline);
    ///     let sleep = time::sleep(Duration::from_millis(20));
    ///     assert_eq!(sleep.deadline(), deadline); // the paused clock has not moved
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn deadline(&self) -> Instant {
        Instant::from_std(self.deadline)
    }

    /// `true` once the deadline has passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let sleep = time::sleep(Duration::from_secs(1));
    ///     assert!(!sleep.is_elapsed());
    ///     time::advance(Duration::from_secs(1)).await;
    ///     assert!(sleep.is_elapsed());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.handle.time().clock().now() >= self.deadline
    }

    /// Moves the deadline (earlier or later); the sleep is pending again.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration, Instant};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let start = Instant::now();
    ///     let mut sleep = time::sleep(Duration::from_secs(60));
    ///     sleep.reset(start + Duration::from_secs(1)); // earlier
    ///     (&mut sleep).await;
    ///     assert_eq!(start.elapsed(), Duration::from_secs(1));
    ///     sleep.reset(start + Duration::from_secs(3)); // pending again
    ///     assert!(!sleep.is_elapsed());
    ///     sleep.await;
    ///     assert_eq!(start.elapsed(), Duration::from_secs(3));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline.into_std();
    }

    fn deregister(&mut self) {
        if let Some((shard, key)) = self.registration.take() {
            self.handle.time().deregister(shard, key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let this = &mut *self;
        let time = this.handle.time();
        if time.is_shut_down() {
            this.deregister();
            panic_shut_down();
        }
        if time.clock().now() >= this.deadline {
            this.deregister();
            coop.made_progress();
            return Poll::Ready(());
        }
        match this.registration {
            Some((shard, key)) => {
                if !time.update_waker(shard, key, cx.waker()) {
                    // Fired by the wheel, whose ms granularity rounds up.
                    this.registration = None;
                    coop.made_progress();
                    return Poll::Ready(());
                }
            }
            None => {
                let shard = this.handle.timer_shard();
                let Ok(key) = time.register(shard, this.deadline, cx.waker().clone()) else {
                    panic_shut_down();
                };
                this.registration = Some((shard, key));
                this.handle.timer_registered(shard);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.registration.is_some())
            .finish()
    }
}
