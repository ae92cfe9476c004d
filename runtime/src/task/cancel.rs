//! `CancelHandle`: cancel a task and watch its state from anywhere.

use super::id::TaskId;
use super::raw::RawTask;
use super::TaskState;
use std::fmt;

/// Cancels a task and reports its state, without access to its output.
/// `Clone + Send + Sync`; it may outlive the task and its runtime.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let handle = runtime::spawn(std::future::pending::<()>());
///     let canceller = handle.cancel_handle();
///     std::thread::spawn(move || canceller.cancel()).join().unwrap();
///     assert!(handle.await.unwrap_err().is_cancelled());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct CancelHandle {
    raw: RawTask,
}

// SAFETY: a CancelHandle only touches the task's atomic state and schedules it
// through the task's own (Send + Sync) scheduler; it never touches the future
// or the output.
unsafe impl Send for CancelHandle {}
// SAFETY: as above; every method takes `&self` and is atomic.
unsafe impl Sync for CancelHandle {}

impl CancelHandle {
    /// # Safety
    /// The caller gives the new handle one reference to the task.
    pub(crate) unsafe fn new(raw: RawTask) -> CancelHandle {
        CancelHandle { raw }
    }

    /// Cancels the task, exactly as [`JoinHandle::cancel`](crate::task::JoinHandle::cancel).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     let canceller = set.spawn(std::future::pending::<()>());
    ///     canceller.cancel();
    ///     let result = set.join_next().await.unwrap();
    ///     assert!(result.unwrap_err().is_cancelled());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&self) {
        self.raw.remote_cancel();
    }

    /// Where the task is now. See [`TaskState`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::TaskState;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async {});
    ///     let watcher = handle.cancel_handle();
    ///     assert_eq!(watcher.state(), TaskState::Pending);
    ///     handle.await.unwrap();
    ///     assert_eq!(watcher.state(), TaskState::Finished);
    ///     watcher.cancel(); // does nothing to a finished task
    ///     assert_eq!(watcher.state(), TaskState::Finished);
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
    ///     let handle = runtime::spawn(async {});
    ///     let watcher = handle.cancel_handle();
    ///     drop(handle); // detaches the task; it runs on
    ///     assert!(!watcher.is_finished());
    ///     while !watcher.is_finished() {
    ///         runtime::task::yield_now().await;
    ///     }
    ///     assert_eq!(watcher.state(), runtime::TaskState::Finished);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.state().is_finished()
    }

    /// The task's id, the same as its [`JoinHandle`](crate::task::JoinHandle)'s.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async {});
    ///     let canceller = handle.cancel_handle();
    ///     assert_eq!(canceller.id(), handle.id());
    ///     assert_eq!(canceller.clone().id(), handle.id());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> TaskId {
        self.raw.id()
    }
}

impl Clone for CancelHandle {
    fn clone(&self) -> CancelHandle {
        self.raw.ref_inc();
        CancelHandle { raw: self.raw }
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        // SAFETY: the handle owns one reference.
        unsafe { self.raw.ref_dec() }
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("id", &self.id())
            .field("state", &self.state())
            .finish()
    }
}
