//! `JoinHandle`: awaits a task's output, cancels it, reports its state.

use super::cancel::CancelHandle;
use super::error::JoinError;
use super::id::TaskId;
use super::raw::RawTask;
use super::TaskState;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked
/// or was cancelled. Dropping it detaches the task: the task runs on and its
/// output is dropped when it ends.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let handle = runtime::spawn(async { 6 * 7 });
///     assert_eq!(handle.await.unwrap(), 42);
///
///     let sleeper = runtime::spawn(std::future::pending::<()>());
///     sleeper.cancel();
///     assert!(sleeper.await.unwrap_err().is_cancelled());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinHandle<T> {
    raw: RawTask,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves a `T` out of the task (never shares one), so
// `T: Send` suffices for both; the cell itself is built for cross-thread use.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` exposes no `T` at all (only state, id, cancel).
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` carries the task's join interest and one reference, and its
    /// output type is `T`.
    pub(crate) unsafe fn new(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    /// Cancels the task. A task that is not running has its future dropped
    /// on a worker and ends `Cancelled`; a running one is cancelled right
    /// after its current poll (if that poll returns `Ready`, the output wins);
    /// a finished one is left alone. Calling it again does nothing more.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let stuck = runtime::spawn(std::future::pending::<()>());
    ///     stuck.cancel();
    ///     stuck.cancel(); // idempotent
    ///     assert!(stuck.await.unwrap_err().is_cancelled());
    ///
    ///     let done = runtime::spawn(async { 1 });
    ///     runtime::task::yield_now().await; // lets it run to completion
    ///     done.cancel(); // too late: the output wins
    ///     assert_eq!(done.await.unwrap(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&self) {
        self.raw.remote_cancel();
    }

    /// Where the task is now. See [`TaskState`]. A cancelled task that is
    /// not being polled reads `Cancelled` at once, even before a worker has
    /// dropped its future.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::TaskState;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async { 1 });
    ///     // Not polled yet: this thread has not yielded to the task.
    ///     assert_eq!(handle.state(), TaskState::Pending);
    ///     runtime::task::yield_now().await;
    ///     assert_eq!(handle.state(), TaskState::Finished);
    ///
    ///     let stuck = runtime::spawn(std::future::pending::<()>());
    ///     stuck.cancel();
    ///     assert_eq!(stuck.state(), TaskState::Cancelled);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn state(&self) -> TaskState {
        TaskState::from_snapshot(self.raw.state().load())
    }

    /// `true` once the task is `Finished`, `Failed` or `Cancelled`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async { "done" });
    ///     assert!(!handle.is_finished());
    ///     while !handle.is_finished() {
    ///         runtime::task::yield_now().await;
    ///     }
    ///     assert_eq!(handle.await.unwrap(), "done");
    ///
    ///     let stuck = runtime::spawn(std::future::pending::<()>());
    ///     stuck.cancel();
    ///     assert!(stuck.is_finished()); // cancelled counts as finished
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.state().is_finished()
    }

    /// The task's id; the [`JoinError`] of the task carries the same one.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(std::future::pending::<()>());
    ///     let id = handle.id();
    ///     handle.cancel();
    ///     let err = handle.await.unwrap_err();
    ///     assert_eq!(err.id(), id);
    ///     assert_eq!(err.to_string(), format!("task {id} was cancelled"));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> TaskId {
        self.raw.id()
    }

    /// A cloneable handle that can cancel the task and watch its state but
    /// not await its output; it keeps no output alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::TaskState;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(std::future::pending::<()>());
    ///     let canceller = handle.cancel_handle();
    ///     assert_eq!(canceller.id(), handle.id());
    ///     canceller.clone().cancel();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    ///     // It outlives the JoinHandle.
    ///     assert_eq!(canceller.state(), TaskState::Cancelled);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel_handle(&self) -> CancelHandle {
        self.raw.ref_inc();
        // SAFETY: the reference was just taken for the new handle.
        unsafe { CancelHandle::new(self.raw) }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = std::task::ready!(crate::scheduler::coop::poll_proceed(cx));
        let mut output = Poll::Pending;
        // SAFETY: `output` has the task's output type (the handle's `T`) and
        // this is the task's JoinHandle.
        unsafe {
            self.raw.try_read_output(
                &mut output as *mut Poll<Self::Output> as *mut (),
                cx.waker(),
            )
        };
        if output.is_ready() {
            coop.made_progress();
        }
        output
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle gives up its join interest and reference.
        unsafe { self.raw.drop_join_handle() }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("state", &self.state())
            .finish()
    }
}
