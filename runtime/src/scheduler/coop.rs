//! Cooperative scheduling: a budget of 128 runtime operations per poll.
//!
//! Every task poll (and every poll of a `block_on` root) gets a budget. The
//! runtime's own futures — `JoinHandle`, timers, I/O — call [`poll_proceed`]
//! and spend one unit per ready result; once the budget is spent they wake
//! themselves and return `Pending`, so a loop over always-ready runtime
//! futures still gives the worker back. Outside a budgeted poll (a plain
//! thread, a foreign executor) nothing is limited.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Units per task poll.
pub(crate) const BUDGET: u8 = 128;

thread_local! {
    /// `None`: unconstrained.
    static CURRENT: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs `f` with a fresh budget, restoring the previous one afterwards.
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(BUDGET))));
    f()
}

/// `false` once the current budget is spent.
pub(crate) fn has_budget_remaining() -> bool {
    CURRENT.with(|c| c.get() != Some(0))
}

/// Spends one unit, or returns `Pending` (after waking the task) if none is
/// left. The unit is refunded unless `made_progress` is called, so a poll
/// that ends up `Pending` anyway costs nothing.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    CURRENT.with(|c| match c.get() {
        None => Poll::Ready(RestoreOnPending(None)),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            c.set(Some(n - 1));
            Poll::Ready(RestoreOnPending(Some(n)))
        }
    })
}

/// Refunds the unit spent by `poll_proceed` unless progress was made.
#[must_use]
pub(crate) struct RestoreOnPending(Option<u8>);

impl RestoreOnPending {
    pub(crate) fn made_progress(mut self) {
        self.0 = None;
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        if let Some(previous) = self.0 {
            CURRENT.with(|c| c.set(Some(previous)));
        }
    }
}

/// Yields to the scheduler once: the task goes behind every other runnable
/// task on its worker, then continues.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     for _ in 0..3 {
///         // ... a slice of long work ...
///         runtime::task::yield_now().await;
///     }
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Woken while running, the task is requeued behind the others when
        // this poll ends (Schedule::yield_now).
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
