//! The thread-local runtime context: which runtime this thread belongs to
//! (for `spawn` and `Handle::current`), and whether it is already driving
//! one (a worker, or inside `block_on`), where blocking on another is a bug.

use super::Handle;
use std::cell::{Cell, RefCell};

thread_local! {
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
    static DRIVING: Cell<bool> = const { Cell::new(false) };
    static WAKES_STEALABLE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every task it wakes queued where peers can steal it, not
/// in this worker's LIFO slot: for completions reaped in the middle of a
/// task's poll (inline completion, `driver/uring.rs`), whose tasks would
/// otherwise wait behind that poll however long it runs.
pub(crate) fn with_stealable_wakes<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = WAKES_STEALABLE.try_with(|w| w.set(self.0));
        }
    }
    let _restore = Restore(WAKES_STEALABLE.with(|w| w.replace(true)));
    f()
}

/// Inside [`with_stealable_wakes`].
pub(crate) fn wakes_are_stealable() -> bool {
    WAKES_STEALABLE.try_with(|w| w.get()).unwrap_or(false)
}

/// The runtime this thread is in, if any.
pub(crate) fn current() -> Option<Handle> {
    HANDLE.try_with(|h| h.borrow().clone()).ok().flatten()
}

/// `true` on a worker thread or inside `block_on`.
pub(crate) fn is_driving() -> bool {
    DRIVING.try_with(|d| d.get()).unwrap_or(false)
}

/// Makes `handle` the current runtime until the guard drops.
pub(crate) fn set_current(handle: &Handle) -> SetCurrentGuard {
    let previous = HANDLE.with(|h| h.borrow_mut().replace(handle.clone()));
    SetCurrentGuard { previous }
}

pub(crate) struct SetCurrentGuard {
    previous: Option<Handle>,
}

impl Drop for SetCurrentGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // The old handle is put back outside the borrow: dropping the one
        // we replace may drop a runtime's last handle, which runs code.
        let replaced = HANDLE.try_with(|h| std::mem::replace(&mut *h.borrow_mut(), previous));
        drop(replaced);
    }
}

/// Marks this thread as driving `handle`'s runtime.
///
/// # Panics
/// If the thread already drives a runtime: blocking a worker (or a
/// `block_on`) on another runtime would stall every task queued behind it.
#[track_caller]
pub(crate) fn enter_runtime(handle: &Handle) -> EnterRuntimeGuard {
    if is_driving() {
        panic!(
            "cannot start a runtime from within a runtime: `block_on` (or dropping a runtime) \
             was called from a thread that is already driving asynchronous tasks; \
             use `.await` instead, or `spawn_blocking` for synchronous code"
        );
    }
    DRIVING.with(|d| d.set(true));
    EnterRuntimeGuard {
        _current: set_current(handle),
    }
}

pub(crate) struct EnterRuntimeGuard {
    _current: SetCurrentGuard,
}

impl Drop for EnterRuntimeGuard {
    fn drop(&mut self) {
        let _ = DRIVING.try_with(|d| d.set(false));
    }
}
