//! The runtime: [`Builder`] (`builder.rs`) builds a [`Runtime`] (here),
//! which owns the worker threads and the blocking pool; [`Handle`]
//! (`handle.rs`) reaches it from anywhere. How a runtime stops, and why
//! nothing hangs or touches freed memory then, is in `shutdown.md` beside
//! this file.

mod builder;
mod handle;

pub use self::builder::{Builder, UnhandledPanic};
pub use self::handle::{EnterGuard, Handle, TryCurrentError};

use crate::metrics::RuntimeMetrics;
use crate::scheduler::blocking::BlockingPool;
use crate::scheduler::{self, context, multi_thread};
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

/// A runtime: worker threads, a blocking pool, and the tasks on them.
///
/// Dropping it cancels every task (dropping their futures) and joins its
/// threads.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// let handle = rt.spawn(async { "from a worker" });
/// assert_eq!(rt.block_on(handle).unwrap(), "from a worker");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    handle: Handle,
    workers: Vec<std::thread::JoinHandle<()>>,
    blocking: BlockingPool,
    shut_down: bool,
}

impl Runtime {
    /// A multi-thread runtime with one worker per CPU, and every other
    /// setting at its default: `Builder::new_multi_thread().build()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// assert_eq!(rt.metrics().num_workers(), cpus);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().build()
    }

    /// Runs `future` to completion on this thread and returns its output.
    /// Spawned tasks run on the workers meanwhile (on this thread, for the
    /// current_thread flavor).
    ///
    /// # Panics
    /// When called on a thread that already drives a runtime (inside
    /// `block_on` or a task): that would block its worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::panic::{catch_unwind, AssertUnwindSafe};
    ///
    /// let rt = runtime::Runtime::new()?;
    /// let sum = rt.block_on(async {
    ///     let task = runtime::spawn(async { 40 });
    ///     task.await.unwrap() + 2
    /// });
    /// assert_eq!(sum, 42);
    ///
    /// // A nested `block_on` panics instead of blocking a driving thread.
    /// let nested = catch_unwind(AssertUnwindSafe(|| {
    ///     rt.block_on(async { rt.block_on(async {}) })
    /// }));
    /// assert!(nested.is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.inner.block_on(future)
    }

    /// Spawns a task on this runtime (from any thread). It starts at once,
    /// whether or not its `JoinHandle` is awaited.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let task = rt.spawn(async { std::thread::current().id() });
    /// // A multi-thread runtime runs it on one of its workers.
    /// assert_ne!(rt.block_on(task).unwrap(), std::thread::current().id());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on the blocking pool of this runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let task = rt.spawn_blocking(|| {
    ///     let name = std::thread::current().name().map(String::from);
    ///     (name, (1..=10u32).product::<u32>())
    /// });
    /// let (name, product) = rt.block_on(task).unwrap();
    /// assert_eq!(name.as_deref(), Some("runtime-worker")); // the default thread name
    /// assert_eq!(product, 3_628_800);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let handle = rt.handle();
    /// let task = std::thread::spawn(move || handle.spawn(async { 5 })).join().unwrap();
    /// assert_eq!(rt.block_on(task).unwrap(), 5);
    /// let inside = rt.block_on(async { runtime::Handle::current() });
    /// assert!(inside.ptr_eq(&rt.handle()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The runtime's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_multi_thread().worker_threads(2).build()?;
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// let metrics = rt.metrics();
    /// assert_eq!(metrics.num_workers(), 2);
    /// assert_eq!(metrics.spawned_tasks(), 1);
    /// assert_eq!(metrics.alive_tasks(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Makes this runtime current on this thread until the guard drops, so
    /// that [`runtime::spawn`](crate::spawn) and [`Handle::current`] work
    /// outside `block_on`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let guard = rt.enter();
    /// let task = runtime::spawn(async { "spawned outside block_on" });
    /// drop(guard);
    /// assert!(runtime::Handle::try_current().is_err());
    /// assert_eq!(rt.block_on(task).unwrap(), "spawned outside block_on");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// Cancels every task and waits at most `timeout` for the workers and
    /// blocking threads to stop. Threads still busy then (a task stuck in a
    /// poll, a long blocking closure) are left to finish in the background.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = runtime::Runtime::new()?;
    /// let (started, wait) = std::sync::mpsc::channel();
    /// rt.spawn(async move {
    ///     started.send(()).unwrap();
    ///     std::thread::sleep(Duration::from_secs(60)); // holds its worker
    /// });
    /// wait.recv().unwrap();
    /// let begin = Instant::now();
    /// rt.shutdown_timeout(Duration::from_millis(100));
    /// assert!(begin.elapsed() < Duration::from_secs(30), "did not wait for the stuck task");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(Instant::now() + timeout));
    }

    /// Cancels every task without waiting for any thread:
    /// `shutdown_timeout(Duration::ZERO)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// let stuck = rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_background();
    /// // Its handle, awaited on another runtime, reports the cancellation.
    /// let other = runtime::Builder::new_current_thread().build()?;
    /// assert!(other.block_on(stuck).unwrap_err().is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    fn shutdown(&mut self, deadline: Option<Instant>) {
        if std::mem::replace(&mut self.shut_down, true) {
            return;
        }
        // The local tasks this thread left parked (`spawn_local` in a
        // `block_on` that returned) are dropped here, on their thread,
        // while the driver still takes their cancellations. Other threads'
        // are dropped by those threads (`scheduler/local.rs`, invariant 3).
        scheduler::local::shutdown_idle_on_this_thread(&self.handle.inner);
        match &self.handle.inner {
            scheduler::Handle::CurrentThread(shared) => shared.shutdown(),
            scheduler::Handle::MultiThread(shared) => {
                let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                multi_thread::shutdown_and_wait(shared, std::mem::take(&mut self.workers), timeout);
            }
        }
        // Like the rings above: I/O still waiting (a `block_on` on a
        // blocking-pool thread, which the pool's shutdown would otherwise
        // wait for forever) is woken and fails with `ECANCELED`.
        let reactor = self.handle.inner.reactor().cloned();
        if let Some(reactor) = &reactor {
            reactor.close();
        }
        self.blocking.shutdown(deadline);
        if let Some(reactor) = reactor {
            reactor.shutdown();
        }
        // Last: a worker still stuck past a `shutdown_timeout` was reported
        // until now.
        if let Some(stall) = self.handle.inner.stall() {
            stall.stop();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.shut_down {
            return;
        }
        if context::is_driving() {
            // Waiting for the workers here could wait for this very thread.
            // Stop everything without waiting, then say what went wrong.
            self.shutdown(Some(Instant::now()));
            if !std::thread::panicking() {
                panic!(
                    "cannot drop a runtime in an asynchronous context (inside a task or \
                     `block_on`): it would block a worker while waiting for the runtime's \
                     threads. Drop it outside, or use `Runtime::shutdown_background`"
                );
            }
            return;
        }
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish()
    }
}
