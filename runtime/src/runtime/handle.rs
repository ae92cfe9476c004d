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
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::Handle;
    ///
    /// let rt = runtime::Runtime::new()?;
    /// let inside = rt.block_on(async { Handle::current() });
    /// assert!(inside.ptr_eq(&rt.handle()));
    ///
    /// // Outside every runtime it panics.
    /// assert!(std::panic::catch_unwind(Handle::current).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(err) => panic!("`Handle::current()` called outside of a runtime: {err}"),
        }
    }

    /// The runtime this thread is in, or an error outside one.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::Handle;
    ///
    /// let err = Handle::try_current().unwrap_err();
    /// assert!(err.to_string().starts_with("no runtime is running on this thread"));
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert!(rt.block_on(async { Handle::try_current() }).is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current()
            .map(|inner| Handle { inner })
            .ok_or(TryCurrentError { _private: () })
    }

    /// Spawns a task on this runtime, from any thread (a thread of another
    /// runtime too).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let handle = rt.handle();
    /// let task = std::thread::spawn(move || handle.spawn(async { 2 * 21 }))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(task).unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future, None, Location::caller())
    }

    /// Runs `f` on this runtime's blocking pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.handle().spawn_blocking(|| std::thread::current().id());
    /// let pool_thread = rt.block_on(task).unwrap();
    /// assert_ne!(pool_thread, std::thread::current().id());
    /// assert_eq!(rt.metrics().blocking_threads(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.inner.blocking().spawn(f, Location::caller())
    }

    /// Runs `future` to completion on this thread, as [`Runtime::block_on`](crate::Runtime::block_on).
    ///
    /// # Panics
    /// As `Runtime::block_on`: on a thread that already drives a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let handle = rt.handle();
    /// let task = rt.spawn(async { "from a worker" });
    /// // Any thread may block on the runtime through a handle.
    /// let got = std::thread::spawn(move || handle.block_on(task)).join().unwrap();
    /// assert_eq!(got.unwrap(), "from a worker");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.inner.block_on(future)
    }

    /// Makes this runtime current on this thread (so `spawn` and
    /// `Handle::current` work) until the guard drops.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let handle = rt.handle();
    /// let task = std::thread::spawn(move || {
    ///     let _guard = handle.enter();
    ///     assert!(runtime::Handle::current().ptr_eq(&handle));
    ///     runtime::spawn(async { "spawned from a plain thread" })
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(rt.block_on(task).unwrap(), "spawned from a plain thread");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _current: context::set_current(&self.inner),
            _handle: std::marker::PhantomData,
        }
    }

    /// The runtime's counters, as [`Runtime::metrics`](crate::Runtime::metrics).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_multi_thread().worker_threads(2).build()?;
    /// let metrics = rt.block_on(async { runtime::Handle::current().metrics() });
    /// assert_eq!(metrics.num_workers(), 2);
    /// assert_eq!(metrics.io_driver(), rt.handle().io_driver());
    /// # Ok::<(), std::io::Error>(())
    /// ```
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

    /// A snapshot of every live task of this runtime: id, name, state,
    /// spawn location, age and polls so far; its `Display` prints one line
    /// per task, oldest first.
    ///
    /// Callable from any thread, also while a worker is stuck in a poll
    /// (that task shows as `Running`). It never stops the world: it copies
    /// the registry of live tasks one shard at a time, so a worker spawning
    /// or completing a task meanwhile waits at most for one shard's copy.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::TaskState;
    ///
    /// let rt = runtime::Builder::new_multi_thread().worker_threads(2).build()?;
    /// let waiting = runtime::task::Builder::new()
    ///     .name("waiter")
    ///     .spawn_on(std::future::pending::<()>(), &rt.handle());
    /// let dump = std::thread::spawn({
    ///     let handle = rt.handle();
    ///     move || handle.dump()
    /// })
    /// .join()
    /// .unwrap();
    /// let task = &dump.tasks()[0];
    /// assert_eq!((task.id(), task.name()), (waiting.id(), Some("waiter")));
    /// assert_eq!(task.state(), TaskState::Pending);
    /// assert!(dump.to_string().contains("\"waiter\""));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump(&self) -> crate::task::Dump {
        self.inner.dump()
    }

    /// Whether two handles refer to the same runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = runtime::Builder::new_current_thread().build()?;
    /// let b = runtime::Builder::new_current_thread().build()?;
    /// let handle = a.handle();
    /// assert!(handle.ptr_eq(&handle.clone()));
    /// assert!(handle.ptr_eq(&a.handle()));
    /// assert!(!handle.ptr_eq(&b.handle()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
///
/// # Examples
///
/// ```
/// use runtime::Handle;
///
/// let a = runtime::Builder::new_current_thread().build()?;
/// let b = runtime::Builder::new_current_thread().build()?;
/// let outer = a.enter();
/// let inner = b.enter();
/// assert!(Handle::current().ptr_eq(&b.handle()));
/// drop(inner); // `a` is current again
/// assert!(Handle::current().ptr_eq(&a.handle()));
/// drop(outer);
/// assert!(Handle::try_current().is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
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
///
/// # Examples
///
/// ```
/// let err: runtime::TryCurrentError = runtime::Handle::try_current().unwrap_err();
/// // An ordinary error, whose message says where a runtime is current.
/// let err: Box<dyn std::error::Error> = Box::new(err);
/// assert!(err.to_string().contains("`Handle::enter`"));
/// ```
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
