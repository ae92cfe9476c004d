//! [`Handle`]: a cloneable reference to a runtime, and the thread's
//! current-runtime context it reads.

use crate::metrics::RuntimeMetrics;
use crate::scheduler::{self, context};
use crate::task::JoinHandle;
use crate::IoDriver;
use std::fmt;
use std::future::Future;
use std::panic::Location;

/// A cloneable reference to a runtime, usable from any thread.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// let handle = rt.handle();
/// let answer = std::thread::spawn(move || handle.block_on(async { 42 }))
///     .join()
///     .unwrap();
/// assert_eq!(answer, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: scheduler::Handle,
}

impl Handle {
    /// The runtime this thread is in.
    ///
    /// # Panics
    /// Outside a runtime; [`try_current`](Self::try_current) does not.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(err) => panic!("`Handle::current()` called outside of a runtime: {err}"),
        }
    }

    /// The runtime this thread is in, or an error outside one.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current()
            .map(|inner| Handle { inner })
            .ok_or(TryCurrentError { _private: () })
    }

    /// Spawns a task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future, None, Location::caller())
    }

    /// Runs `f` on this runtime's blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.inner.blocking().spawn(f, Location::caller())
    }

    /// Runs `future` to completion on this thread, as [`Runtime::block_on`](crate::Runtime::block_on).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.inner.block_on(future)
    }

    /// Makes this runtime current on this thread (so `spawn` and
    /// `Handle::current` work) until the guard drops.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _current: context::set_current(&self.inner),
            _handle: std::marker::PhantomData,
        }
    }

    /// The runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.inner.clone())
    }

    /// The I/O driver this runtime uses: [`IoDriver::IoUring`] or
    /// [`IoDriver::Epoll`], never `Auto`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::{Builder, IoDriver};
    ///
    /// let rt = Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .io_driver(IoDriver::Epoll)
    ///     .build()?;
    /// assert_eq!(rt.handle().io_driver(), IoDriver::Epoll);
    ///
    /// let rt = runtime::Runtime::new()?;
    /// println!("I/O through {:?}", rt.handle().io_driver());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_driver(&self) -> IoDriver {
        self.inner.io_driver()
    }

    /// Whether two handles refer to the same runtime.
    pub fn ptr_eq(&self, other: &Handle) -> bool {
        self.inner.ptr_eq(&other.inner)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flavor = match self.inner {
            scheduler::Handle::CurrentThread(_) => "current_thread",
            scheduler::Handle::MultiThread(_) => "multi_thread",
        };
        f.debug_struct("Handle").field("flavor", &flavor).finish()
    }
}

/// Returned by [`Handle::enter`]; the previous runtime context comes back
/// when it drops.
pub struct EnterGuard<'a> {
    _current: context::SetCurrentGuard,
    _handle: std::marker::PhantomData<&'a Handle>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// [`Handle::try_current`] was called outside a runtime.
#[derive(Debug)]
pub struct TryCurrentError {
    _private: (),
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "no runtime is running on this thread; call it from a task, from inside \
             `Runtime::block_on`, or after `Handle::enter`",
        )
    }
}

impl std::error::Error for TryCurrentError {}
