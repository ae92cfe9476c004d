//! `timeout`: a future with a deadline.

use super::sleep::{current_handle, Sleep};
use super::Instant;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The deadline of a [`timeout`] passed before its future completed.
/// Displays as `deadline has elapsed`; converts into an [`std::io::Error`]
/// of kind `TimedOut`.
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration};
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let err = time::timeout(Duration::from_secs(1), std::future::pending::<()>())
///         .await
///         .unwrap_err();
///     assert_eq!(err.to_string(), "deadline has elapsed");
///     let io: std::io::Error = err.into();
///     assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(elapsed: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed)
    }
}

/// Runs `future` with a time limit: its output, or [`Elapsed`] if
/// `duration` passes first (the future is then dropped, cancelling
/// whatever it owns).
///
/// # Panics
/// Outside a runtime.
///
/// # Examples
///
/// ```
/// use runtime::time::{sleep, timeout};
/// use std::time::Duration;
///
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let quick = timeout(Duration::from_secs(1), async { 5 }).await;
///     assert_eq!(quick, Ok(5));
///
///     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(60))).await;
///     assert!(slow.is_err());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    let handle = current_handle("timeout");
    let now = handle.time().clock().now();
    let deadline = now
        .checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(86400 * 365 * 30));
    Timeout {
        future,
        sleep: Sleep::new(handle, deadline),
    }
}

/// Like [`timeout`], with an absolute deadline.
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration, Instant};
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_secs(5);
///     assert_eq!(time::timeout_at(deadline, async { 1 }).await, Ok(1));
///     let slow = time::timeout_at(deadline, time::sleep(Duration::from_secs(10)));
///     assert!(slow.await.is_err());
///     assert_eq!(Instant::now(), deadline); // given up at the deadline
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: Sleep::new(current_handle("timeout_at"), deadline.into_std()),
    }
}

/// The future returned by [`timeout`].
/// Awaiting it to [`Elapsed`] drops the inner future, and with it whatever
/// that owns.
///
/// # Examples
///
/// ```
/// use runtime::time::{self, Duration};
/// use std::sync::Arc;
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let shared = Arc::new(());
///     let owned = shared.clone();
///     let work = async move {
///         let _owned = owned;
///         std::future::pending::<()>().await
///     };
///     assert!(time::timeout(Duration::from_secs(1), work).await.is_err());
///     assert_eq!(Arc::strong_count(&shared), 1); // `work` was dropped
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration};
    /// use runtime::TaskState;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async { 1 });
    ///     let limited = time::timeout(Duration::from_secs(1), handle);
    ///     assert_eq!(limited.get_ref().state(), TaskState::Pending);
    ///     assert_eq!(limited.await.unwrap().unwrap(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Gives the inner future back, without the time limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration, Instant};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let start = Instant::now();
    ///     let slow = time::sleep(Duration::from_secs(2));
    ///     let limited = time::timeout(Duration::from_secs(1), slow);
    ///     limited.into_inner().await; // no time limit any more
    ///     assert_eq!(start.elapsed(), Duration::from_secs(2));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is never moved out of a pinned `Timeout` (the
        // only move, `into_inner`, takes `self` by value, so it is unpinned)
        // and `Timeout` has no `Drop` impl; `sleep` is `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: structural pinning of `future`, as argued above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("sleep", &self.sleep)
            .finish()
    }
}
