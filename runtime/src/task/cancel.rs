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
    pub fn cancel(&self) {
        self.raw.remote_cancel();
    }

    /// Where the task is now.
    pub fn state(&self) -> TaskState {
        TaskState::from_snapshot(self.raw.state().load())
    }

    /// `true` once the task is `Finished`, `Failed` or `Cancelled`.
    pub fn is_finished(&self) -> bool {
        self.state().is_finished()
    }

    /// The task's id.
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
