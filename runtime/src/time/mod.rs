//! Time: sleeping, deadlines, intervals, and a clock tests can pause.
//!
//! Timers live in a hierarchical timing wheel per worker (`wheel.rs`,
//! `driver.rs`); the nearest deadline bounds how long a worker sleeps. With
//! the clock paused ([`pause`], or `start_paused` in tests) time only moves
//! by [`advance`], or by itself when the runtime is idle: then it jumps
//! straight to the next timer, so a test of a one-hour timeout finishes at
//! once and deterministically.
//!
//! ```
//! use runtime::time::{self, Duration};
//!
//! let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
//! rt.block_on(async {
//!     let start = time::Instant::now();
//!     time::sleep(Duration::from_secs(3600)).await; // returns at once
//!     assert_eq!(start.elapsed(), Duration::from_secs(3600));
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

mod clock;
pub(crate) mod driver;
mod instant;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub use self::instant::Instant;
pub use self::interval::{interval, Interval, MissedTickBehavior};
pub use self::sleep::{sleep, sleep_until, Sleep};
pub use self::timeout::{timeout, timeout_at, Elapsed, Timeout};
pub use std::time::Duration;

use crate::scheduler::{context, Handle};

#[track_caller]
fn current_thread_handle(what: &str) -> Handle {
    match context::current() {
        Some(handle @ Handle::CurrentThread(_)) => handle,
        Some(Handle::MultiThread(_)) => panic!(
            "`runtime::time::{what}` needs a current_thread runtime: a paused clock on a \
             multi-thread runtime would make timing depend on scheduling"
        ),
        None => panic!("`runtime::time::{what}` called outside of a runtime"),
    }
}

/// Stops the current runtime's clock (current_thread runtimes only). While
/// paused, time moves only by [`advance`] or, when the runtime has nothing
/// else to do, by jumping to the next timer.
///
/// # Panics
/// Outside a current_thread runtime, or if the clock is already paused.
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration, Instant};
///
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     time::pause();
///     let start = Instant::now();
///     std::thread::sleep(Duration::from_millis(5));
///     assert_eq!(Instant::now(), start); // stands still
///     time::advance(Duration::from_secs(60)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(60));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn pause() {
    let handle = current_thread_handle("pause");
    assert!(handle.time().clock().pause(), "the clock is already paused");
}

/// Restarts the current runtime's clock. It never goes back: it runs on
/// from where it stands or, if the OS clock is ahead of that (the clock was
/// paused for longer than it was advanced), from the OS clock.
///
/// # Panics
/// Outside a current_thread runtime, or if the clock is not paused.
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration, Instant};
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let start = Instant::now();
///     time::advance(Duration::from_secs(3600)).await;
///     time::resume();
///     std::thread::sleep(Duration::from_millis(5));
///     let elapsed = start.elapsed(); // the advance is kept, and time moves again
///     assert!(elapsed > Duration::from_secs(3600));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn resume() {
    let handle = current_thread_handle("resume");
    assert!(handle.time().clock().resume(), "the clock is not paused");
}

/// Moves the paused clock forward by `duration`, fires the timers that
/// became due and lets their tasks run.
///
/// # Panics
/// Outside a current_thread runtime, or if the clock is not paused.
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration};
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let sleeper = runtime::spawn(time::sleep(Duration::from_secs(10)));
///     time::advance(Duration::from_secs(9)).await;
///     assert!(!sleeper.is_finished());
///     time::advance(Duration::from_secs(1)).await;
///     sleeper.await.unwrap();
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn advance(duration: Duration) -> impl std::future::Future<Output = ()> {
    let handle = current_thread_handle("advance");
    assert!(
        handle.time().clock().advance(duration),
        "the clock is not paused; call `pause` first"
    );
    handle.fire_timers();
    // Woken timers' tasks get to run before the caller continues.
    async {
        for _ in 0..2 {
            crate::task::yield_now().await;
        }
    }
}
