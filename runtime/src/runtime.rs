//! `Runtime`, its `Builder`, and `Handle`.

use crate::blocking::{BlockingPool, PoolConfig};
use crate::metrics::RuntimeMetrics;
use crate::scheduler::{self, context, current_thread, multi_thread, Callback, Config};
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which I/O driver a runtime uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum IoDriver {
    /// io_uring if the kernel allows it, else epoll.
    #[default]
    Auto,
    /// io_uring, or `build()` fails.
    IoUring,
    /// epoll (through mio), with file I/O on the blocking pool; `build()`
    /// fails only if epoll itself cannot be set up.
    Epoll,
}

/// What a runtime does when a task panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum UnhandledPanic {
    /// The panic completes the task as failed; its `JoinHandle` reports it.
    #[default]
    Ignore,
    /// Any task panic shuts the runtime down: every task is cancelled and
    /// `block_on` panics.
    ShutdownRuntime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let rt = runtime::Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("app-worker")
///     .max_blocking_threads(16)
///     .long_poll_warning(Duration::from_millis(50))
///     .build()?;
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
///
/// // Invalid settings are reported by `build`, never by a panic.
/// let err = runtime::Builder::new_multi_thread().worker_threads(0).build().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Builder {
    flavor: Flavor,
    worker_threads: Option<usize>,
    thread_name: String,
    thread_stack_size: Option<usize>,
    max_blocking_threads: usize,
    thread_keep_alive: Duration,
    ring_entries: u32,
    io_driver: IoDriver,
    unhandled_panic: UnhandledPanic,
    on_thread_start: Option<Callback>,
    on_thread_stop: Option<Callback>,
    global_queue_interval: u32,
    event_interval: u32,
    long_poll_warning: Option<Duration>,
    start_paused: bool,
}

impl Builder {
    /// A builder for the multi-thread, work-stealing flavor.
    pub fn new_multi_thread() -> Builder {
        Builder::new(Flavor::MultiThread)
    }

    /// A builder for the current_thread flavor: tasks run on the thread
    /// inside `block_on`.
    pub fn new_current_thread() -> Builder {
        Builder::new(Flavor::CurrentThread)
    }

    fn new(flavor: Flavor) -> Builder {
        Builder {
            flavor,
            worker_threads: None,
            thread_name: "runtime-worker".to_string(),
            thread_stack_size: None,
            max_blocking_threads: 512,
            thread_keep_alive: Duration::from_secs(10),
            ring_entries: 256,
            io_driver: IoDriver::Auto,
            unhandled_panic: UnhandledPanic::Ignore,
            on_thread_start: None,
            on_thread_stop: None,
            global_queue_interval: 31,
            event_interval: 61,
            long_poll_warning: None,
            start_paused: false,
        }
    }

    /// Worker threads of the multi-thread flavor; default: the number of
    /// CPUs. `0` makes `build()` fail. Ignored by current_thread.
    pub fn worker_threads(&mut self, count: usize) -> &mut Builder {
        self.worker_threads = Some(count);
        self
    }

    /// The name of the runtime's threads.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// The stack size of the runtime's threads.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// The most threads the blocking pool starts (default 512; `0` makes
    /// `build()` fail).
    pub fn max_blocking_threads(&mut self, count: usize) -> &mut Builder {
        self.max_blocking_threads = count;
        self
    }

    /// How long an idle blocking-pool thread waits for work before leaving
    /// (default 10 s).
    pub fn thread_keep_alive(&mut self, keep_alive: Duration) -> &mut Builder {
        self.thread_keep_alive = keep_alive;
        self
    }

    /// Submission queue entries of each worker's io_uring ring (default
    /// 256; must be 1..=32768).
    pub fn ring_entries(&mut self, entries: u32) -> &mut Builder {
        self.ring_entries = entries;
        self
    }

    /// Which I/O driver to use (default [`IoDriver::Auto`]).
    ///
    /// With `Auto`, the environment variable `RUNTIME_IO_DRIVER` decides
    /// when it is set: `io_uring`, `epoll`, or `auto` (then `build()` fails
    /// with `InvalidInput` on any other value). That lets a whole test suite
    /// run on the epoll driver without changing a line. An explicit
    /// `IoUring` or `Epoll` here wins over the variable.
    ///
    /// The epoll driver serves the same types (files, sockets, readiness,
    /// timers): socket calls are tried without blocking and wait for
    /// readiness on `EAGAIN`; file calls run on the blocking pool.
    /// `ring_entries` does not apply to it.
    pub fn io_driver(&mut self, driver: IoDriver) -> &mut Builder {
        self.io_driver = driver;
        self
    }

    /// What a task panic does to the runtime (default: nothing).
    pub fn unhandled_panic(&mut self, behavior: UnhandledPanic) -> &mut Builder {
        self.unhandled_panic = behavior;
        self
    }

    /// Runs `f` on each runtime thread (workers and blocking pool) as it starts.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each runtime thread as it stops.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// A worker looks at the global queue first once every this many ticks
    /// (default 31; `0` makes `build()` fail).
    pub fn global_queue_interval(&mut self, ticks: u32) -> &mut Builder {
        self.global_queue_interval = ticks;
        self
    }

    /// Tasks run between two checks for I/O and timer events (default 61;
    /// `0` makes `build()` fail).
    pub fn event_interval(&mut self, ticks: u32) -> &mut Builder {
        self.event_interval = ticks;
        self
    }

    /// Reports (on stderr) every poll that holds a worker longer than
    /// `limit`, with the task's id, name and spawn location. Off by default.
    pub fn long_poll_warning(&mut self, limit: Duration) -> &mut Builder {
        self.long_poll_warning = Some(limit);
        self
    }

    /// Starts the runtime's clock paused (current_thread only; for tests):
    /// time moves only by `time::advance`, or jumps to the next timer when
    /// the runtime is idle.
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// Builds the runtime. Invalid settings give `ErrorKind::InvalidInput`;
    /// failing to start a thread gives the OS error.
    pub fn build(&mut self) -> io::Result<Runtime> {
        let invalid = |message: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        let worker_threads = match (self.flavor, self.worker_threads) {
            (Flavor::CurrentThread, _) => 1,
            (Flavor::MultiThread, Some(0)) => {
                return invalid("worker_threads must be at least 1");
            }
            (Flavor::MultiThread, Some(count)) => count,
            (Flavor::MultiThread, None) => {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            }
        };
        if worker_threads > 0xFFFF {
            return invalid("worker_threads must be at most 65535");
        }
        if self.max_blocking_threads == 0 {
            return invalid("max_blocking_threads must be at least 1");
        }
        if self.global_queue_interval == 0 {
            return invalid("global_queue_interval must be at least 1");
        }
        if self.event_interval == 0 {
            return invalid("event_interval must be at least 1");
        }
        if self.start_paused && self.flavor == Flavor::MultiThread {
            return invalid("start_paused requires the current_thread flavor");
        }
        if self.ring_entries == 0 || self.ring_entries > 32768 {
            return invalid("ring_entries must be between 1 and 32768");
        }

        let config = Config {
            worker_threads,
            thread_name: self.thread_name.clone(),
            thread_stack_size: self.thread_stack_size,
            global_queue_interval: self.global_queue_interval,
            event_interval: self.event_interval,
            unhandled_panic: self.unhandled_panic,
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
            long_poll_warning: self.long_poll_warning,
            start_paused: self.start_paused,
        };
        let blocking = BlockingPool::new(PoolConfig {
            max_threads: self.max_blocking_threads,
            keep_alive: self.thread_keep_alive,
            thread_name: self.thread_name.clone(),
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
        });

        let (rings, reactor): (Vec<Option<crate::driver::Driver>>, _) =
            match self.io(worker_threads)? {
                Io::Rings(rings) => (rings.into_iter().map(Some).collect(), None),
                Io::Epoll(reactor) => ((0..worker_threads).map(|_| None).collect(), Some(reactor)),
            };
        let (handle, workers) = match self.flavor {
            Flavor::CurrentThread => {
                let ring = rings.into_iter().next().flatten();
                let shared = current_thread::build(config, blocking.clone(), ring, reactor);
                (scheduler::Handle::CurrentThread(shared), Vec::new())
            }
            Flavor::MultiThread => {
                let (shared, launches) =
                    multi_thread::build(config, blocking.clone(), rings, reactor.clone());
                match multi_thread::launch(&shared, launches) {
                    Ok(workers) => (scheduler::Handle::MultiThread(shared), workers),
                    Err(err) => {
                        if let Some(reactor) = reactor {
                            reactor.shutdown();
                        }
                        return Err(err);
                    }
                }
            }
        };
        blocking.set_handle(handle.clone());
        Ok(Runtime {
            handle: Handle { inner: handle },
            workers,
            blocking,
            shut_down: false,
        })
    }
}

/// The I/O side of a runtime being built: a ring per worker, or the epoll
/// driver.
enum Io {
    Rings(Vec<crate::driver::Driver>),
    Epoll(Arc<crate::driver::epoll::Reactor>),
}

/// The environment variable that picks the driver of runtimes whose
/// builder says [`IoDriver::Auto`].
const IO_DRIVER_ENV: &str = "RUNTIME_IO_DRIVER";

/// Tells the user, once per process, why `IoDriver::Auto` runs on epoll:
/// a silent fallback would hide a misconfiguration (a seccomp profile, a
/// memlock limit) behind slower I/O.
fn say_once_why_epoll(err: &io::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!("runtime: io_uring cannot be set up ({err}); using the epoll driver");
    });
}

/// What `RUNTIME_IO_DRIVER` asks for: `io_uring`, `epoll` or `auto` (or
/// nothing, when unset); anything else is an `InvalidInput` error that
/// names the variable.
fn driver_from_env(value: Option<&std::ffi::OsStr>) -> io::Result<IoDriver> {
    let Some(value) = value else {
        return Ok(IoDriver::Auto);
    };
    match value.to_str().map(str::trim) {
        Some("epoll") => Ok(IoDriver::Epoll),
        Some("io_uring") => Ok(IoDriver::IoUring),
        Some("auto" | "") => Ok(IoDriver::Auto),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{IO_DRIVER_ENV}={value:?} is not a driver: use `io_uring`, `epoll` or `auto`"),
        )),
    }
}

impl Builder {
    /// The driver to set up: the builder's, or for `Auto` what
    /// `RUNTIME_IO_DRIVER` says.
    fn driver_choice(&self) -> io::Result<IoDriver> {
        if self.io_driver != IoDriver::Auto {
            return Ok(self.io_driver);
        }
        driver_from_env(std::env::var_os(IO_DRIVER_ENV).as_deref())
    }

    /// One io_uring ring per worker, or the epoll driver, as `io_driver`
    /// (or `RUNTIME_IO_DRIVER`) asks. `Auto` takes epoll when io_uring
    /// cannot be set up (an old kernel, `kernel.io_uring_disabled`, a
    /// seccomp profile, the memlock limit).
    fn io(&self, count: usize) -> io::Result<Io> {
        let choice = self.driver_choice()?;
        if choice != IoDriver::Epoll {
            let mut rings = Vec::with_capacity(count);
            for _ in 0..count {
                match crate::driver::Driver::new(self.ring_entries) {
                    Ok((driver, _handle)) => rings.push(driver),
                    Err(err) if choice == IoDriver::IoUring => {
                        return Err(io::Error::new(
                            err.kind(),
                            format!("cannot set up an io_uring ring: {err}"),
                        ));
                    }
                    Err(err) => {
                        say_once_why_epoll(&err);
                        break;
                    }
                }
            }
            if rings.len() == count {
                return Ok(Io::Rings(rings));
            }
        }
        let reactor = crate::driver::epoll::Reactor::start().map_err(|err| {
            io::Error::new(err.kind(), format!("cannot start the epoll driver: {err}"))
        })?;
        Ok(Io::Epoll(reactor))
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("flavor", &self.flavor)
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("ring_entries", &self.ring_entries)
            .field("io_driver", &self.io_driver)
            .field("unhandled_panic", &self.unhandled_panic)
            .finish_non_exhaustive()
    }
}

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
    /// A multi-thread runtime with one worker per CPU.
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
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.inner.block_on(future)
    }

    /// Spawns a task on this runtime (from any thread).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on the blocking pool of this runtime.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Makes this runtime current on this thread until the guard drops.
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// Cancels every task and waits at most `timeout` for the workers and
    /// blocking threads to stop. Threads still busy then (a task stuck in a
    /// poll, a long blocking closure) are left to finish in the background.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(Instant::now() + timeout));
    }

    /// Cancels every task without waiting for any thread.
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    fn shutdown(&mut self, deadline: Option<Instant>) {
        if std::mem::replace(&mut self.shut_down, true) {
            return;
        }
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

    /// Runs `future` to completion on this thread, as [`Runtime::block_on`].
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

#[cfg(test)]
mod test {
    use super::{driver_from_env, IoDriver};
    use std::ffi::OsStr;

    #[test]
    fn the_driver_variable_is_parsed_or_refused_with_its_name() {
        let parse = |value: &str| driver_from_env(Some(OsStr::new(value)));
        assert_eq!(driver_from_env(None).unwrap(), IoDriver::Auto);
        assert_eq!(parse("epoll").unwrap(), IoDriver::Epoll);
        assert_eq!(parse("io_uring").unwrap(), IoDriver::IoUring);
        assert_eq!(parse(" auto ").unwrap(), IoDriver::Auto);
        let err = parse("kqueue").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            "RUNTIME_IO_DRIVER=\"kqueue\" is not a driver: use `io_uring`, `epoll` or `auto`"
        );
    }
}
