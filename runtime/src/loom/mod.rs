//! The synchronization shim: std / parking_lot types normally, loom's under
//! `cfg(loom)`, so the concurrency core is model-checked as it ships.
//!
//! Only what the modelled code needs lives here. `UnsafeCell` follows loom's
//! closure API (`with` / `with_mut`) in both builds so that loom can track
//! every access to the task's future, output and join waker, and to an
//! io_uring op's data. `Arc` is the op cell's (`driver/op.rs`): under loom its
//! references, raw ones included, are counted and checked for leaks.

// Entry points for the loom models, re-exported as `crate::__loom`.
#[cfg(loom)]
pub mod api;

#[cfg(not(loom))]
mod imp {
    pub(crate) use parking_lot::Mutex;
    pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread_local;

    /// `std::cell::UnsafeCell` with loom's access API.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with a shared pointer to the contents.
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a unique pointer to the contents.
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    // Counts every clone and release as a loom operation and reports an
    // `Arc` still alive at the end of an iteration (a leak). Has the
    // `into_raw` / `from_raw` / `get_mut` the op cell uses.
    pub(crate) use loom::sync::Arc;
    // One value per loom thread (std's would be one per OS thread, and loom
    // runs every model thread on one). Same `with` / `try_with`.
    pub(crate) use loom::thread_local;

    /// loom's mutex with parking_lot's poison-free `lock()`.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            // A poisoned lock means a model thread panicked; loom reports that
            // panic itself, so unwrapping here loses nothing.
            self.0.lock().unwrap()
        }
    }
}

pub(crate) use imp::*;
