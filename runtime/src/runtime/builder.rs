//! [`Builder`]: every setting of a runtime, checked once in `build()`.

use super::{Handle, Runtime};
use crate::driver::choice::{self, Io};
use crate::scheduler::blocking::{BlockingPool, PoolConfig};
use crate::scheduler::{self, current_thread, multi_thread, Callback, Config};
use crate::IoDriver;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// What a runtime does when a task panics.
///
/// # Examples
///
/// ```
/// use runtime::{Builder, UnhandledPanic};
///
/// // The default, `Ignore`: the panic reaches the task's `JoinHandle` and
/// // the runtime runs on.
/// let rt = Builder::new_current_thread().build()?;
/// let err = rt.block_on(rt.spawn(async { panic!("boom") })).unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// assert_eq!(UnhandledPanic::default(), UnhandledPanic::Ignore);
/// # Ok::<(), std::io::Error>(())
/// ```
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
    on_long_poll: Option<crate::scheduler::stall::LongPollHook>,
    start_paused: bool,
}

impl Builder {
    /// A builder for the multi-thread, work-stealing flavor: spawned tasks
    /// run on worker threads of their own, never on the thread in
    /// `block_on`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_multi_thread().worker_threads(2).build()?;
    /// let here = std::thread::current().id();
    /// let there = rt.block_on(rt.spawn(async { std::thread::current().id() }));
    /// assert_ne!(there.unwrap(), here);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_multi_thread() -> Builder {
        Builder::new(Flavor::MultiThread)
    }

    /// A builder for the current_thread flavor: tasks run on the thread
    /// inside `block_on`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let here = std::thread::current().id();
    /// let there = rt.block_on(rt.spawn(async { std::thread::current().id() }));
    /// assert_eq!(there.unwrap(), here);
    /// assert_eq!(rt.metrics().num_workers(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
            on_long_poll: None,
            start_paused: false,
        }
    }

    /// Worker threads of the multi-thread flavor; default: the number of
    /// CPUs ([`std::thread::available_parallelism`]). `0` (or more than
    /// 65535) makes `build()` fail. Ignored by current_thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::Builder;
    ///
    /// let rt = Builder::new_multi_thread().worker_threads(3).build()?;
    /// assert_eq!(rt.metrics().num_workers(), 3);
    ///
    /// let err = Builder::new_multi_thread().worker_threads(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn worker_threads(&mut self, count: usize) -> &mut Builder {
        self.worker_threads = Some(count);
        self
    }

    /// The name of the runtime's threads: the workers of the multi-thread
    /// flavor and the blocking pool's threads (default `runtime-worker`).
    /// The thread inside `block_on` keeps its own name, and the epoll
    /// driver's thread is `runtime-epoll`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .thread_name("app")
    ///     .build()?;
    /// let task = rt.spawn(async { std::thread::current().name().map(String::from) });
    /// assert_eq!(rt.block_on(task).unwrap().as_deref(), Some("app"));
    /// let blocking = rt.spawn_blocking(|| std::thread::current().name().map(String::from));
    /// assert_eq!(rt.block_on(blocking).unwrap().as_deref(), Some("app"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// The stack size, in bytes, of the multi-thread flavor's worker
    /// threads (default: std's, 2 MiB unless `RUST_MIN_STACK` says
    /// otherwise). Blocking-pool threads keep std's default.
    ///
    /// # Examples
    ///
    /// ```
    /// // Uses 4 MiB of stack: more than a default thread has.
    /// fn deep() -> u8 {
    ///     let buf = [1u8; 4 << 20];
    ///     std::hint::black_box(&buf)[4 << 19]
    /// }
    ///
    /// let rt = runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .thread_stack_size(16 << 20)
    ///     .build()?;
    /// assert_eq!(rt.block_on(rt.spawn(async { deep() })).unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// The most threads the blocking pool runs at once (default 512; `0`
    /// makes `build()` fail). Closures beyond that wait in a queue for a
    /// thread to finish its current one.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().max_blocking_threads(1).build()?;
    /// let a = rt.spawn_blocking(|| std::thread::current().id());
    /// let b = rt.spawn_blocking(|| std::thread::current().id());
    /// let (a, b) = rt.block_on(async { (a.await.unwrap(), b.await.unwrap()) });
    /// // Both finished, one after the other on the pool's only thread.
    /// assert_eq!(a, b);
    /// assert_eq!(rt.metrics().blocking_threads(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_blocking_threads(&mut self, count: usize) -> &mut Builder {
        self.max_blocking_threads = count;
        self
    }

    /// How long an idle blocking-pool thread waits for work before leaving
    /// (default 10 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = runtime::Builder::new_current_thread()
    ///     .thread_keep_alive(Duration::from_millis(10))
    ///     .build()?;
    /// rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    /// let idle_since = Instant::now();
    /// while rt.metrics().blocking_threads() > 0 {
    ///     assert!(idle_since.elapsed() < Duration::from_secs(5), "the thread never left");
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_keep_alive(&mut self, keep_alive: Duration) -> &mut Builder {
        self.thread_keep_alive = keep_alive;
        self
    }

    /// Submission queue entries of each worker's io_uring ring (default
    /// 256). Checked by `build()` whatever the driver: a value outside
    /// 1..=32768 fails with `InvalidInput`, also on epoll, which has no
    /// rings and ignores it otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::Builder;
    ///
    /// let rt = Builder::new_current_thread().ring_entries(1024).build()?;
    /// assert_eq!(rt.block_on(async { 6 * 7 }), 42);
    ///
    /// let err = Builder::new_current_thread().ring_entries(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::{Builder, IoDriver};
    ///
    /// let rt = Builder::new_current_thread().io_driver(IoDriver::Epoll).build()?;
    /// assert_eq!(rt.handle().io_driver(), IoDriver::Epoll);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_driver(&mut self, driver: IoDriver) -> &mut Builder {
        self.io_driver = driver;
        self
    }

    /// What a task panic does to the runtime (default
    /// [`UnhandledPanic::Ignore`]: nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::{Builder, UnhandledPanic};
    /// use std::panic::{catch_unwind, AssertUnwindSafe};
    ///
    /// let rt = Builder::new_current_thread()
    ///     .unhandled_panic(UnhandledPanic::ShutdownRuntime)
    ///     .build()?;
    /// rt.spawn(async { panic!("boom") });
    /// let outcome = catch_unwind(AssertUnwindSafe(|| rt.block_on(std::future::pending::<()>())));
    /// assert!(outcome.is_err(), "block_on panics once a task has panicked");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unhandled_panic(&mut self, behavior: UnhandledPanic) -> &mut Builder {
        self.unhandled_panic = behavior;
        self
    }

    /// Runs `f` on each runtime thread as it starts: the workers of the
    /// multi-thread flavor and the blocking pool's threads (not the thread
    /// inside `block_on`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let starts = Arc::new(AtomicUsize::new(0));
    /// let counter = starts.clone();
    /// let rt = runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .on_thread_start(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    /// drop(rt); // joins every thread
    /// assert_eq!(starts.load(Ordering::SeqCst), 3); // 2 workers + 1 blocking thread
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each runtime thread as it stops (the same threads as
    /// [`on_thread_start`](Self::on_thread_start)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let stops = Arc::new(AtomicUsize::new(0));
    /// let counter = stops.clone();
    /// let rt = runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .on_thread_stop(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// drop(rt); // stops and joins the workers
    /// assert_eq!(stops.load(Ordering::SeqCst), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// A worker of the multi-thread flavor looks at the global queue first
    /// once every this many ticks (default 31; `0` makes `build()` fail).
    /// Ignored by current_thread, which has one queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::Builder;
    ///
    /// // Every tick: remote spawns are taken up before local work.
    /// let rt = Builder::new_multi_thread().global_queue_interval(1).build()?;
    /// assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
    ///
    /// let err = Builder::new_multi_thread().global_queue_interval(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn global_queue_interval(&mut self, ticks: u32) -> &mut Builder {
        self.global_queue_interval = ticks;
        self
    }

    /// Tasks run between two checks for I/O and timer events (default 61;
    /// `0` makes `build()` fail).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::Builder;
    ///
    /// let rt = Builder::new_current_thread().event_interval(1).build()?;
    /// assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
    ///
    /// let err = Builder::new_current_thread().event_interval(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// assert_eq!(err.to_string(), "event_interval must be at least 1");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn event_interval(&mut self, ticks: u32) -> &mut Builder {
        self.event_interval = ticks;
        self
    }

    /// Reports every poll that holds a worker longer than `limit`, with the
    /// task's id, name and spawn location: while it still holds the worker
    /// (a watchdog thread notices within about `limit`), and once more with
    /// the total when the poll returns. One line each on stderr, or to the
    /// hook of [`on_long_poll`](Builder::on_long_poll). Off by default.
    /// It only reports: the poll, and the task, go on as before.
    ///
    /// Cost when off: nothing. When on: two reads of the kernel's coarse
    /// clock (a few nanoseconds each; times are exact to a kernel tick,
    /// 1–4 ms) and a few stores per poll, a poll-time histogram in the
    /// worker metrics, and one watchdog thread waking every `limit / 4`
    /// (1 ms to 100 ms). A poll is reported live within about `limit`
    /// plus a quarter of it.
    ///
    /// The live report also shows the stuck thread's stack
    /// ([`LongPoll::backtrace`](crate::metrics::LongPoll::backtrace)): the
    /// watchdog sends that thread the real-time signal `SIGRTMIN + 6`
    /// (signal 40 with glibc), whose handler records the stack's return
    /// addresses; the watchdog names them afterwards. The handler is
    /// installed, once per process, by the first runtime built with this
    /// option (never without it), chained to any handler that was there
    /// before (which then also sees these signals), and it stays. A thread
    /// in a blocking system call that is never restarted (`poll`,
    /// `epoll_wait`, `nanosleep`, reads with a timeout) sees it return
    /// `EINTR` once: std's `sleep`, locks and `read_exact` retry it, a bare
    /// `read` may return [`ErrorKind::Interrupted`](std::io::ErrorKind).
    /// Naming the frames reads the binary's symbols and debug info the
    /// first time (a fraction of a second for a large debug binary; the
    /// memory is kept for later reports); it is done on the watchdog
    /// thread, after the summary line is written.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = runtime::Builder::new_current_thread()
    ///     .long_poll_warning(Duration::from_millis(10))
    ///     .build()?;
    /// // This poll holds the thread for 50 ms: a report goes to stderr.
    /// let task = rt.spawn(async {
    ///     std::thread::sleep(Duration::from_millis(50));
    ///     "done"
    /// });
    /// assert_eq!(rt.block_on(task).unwrap(), "done");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn long_poll_warning(&mut self, limit: Duration) -> &mut Builder {
        self.long_poll_warning = Some(limit);
        self
    }

    /// Sends the reports of [`long_poll_warning`](Builder::long_poll_warning)
    /// to `hook` instead of stderr (for users who log elsewhere). The hook
    /// runs on the watchdog thread for live reports and on the worker for
    /// the report when a poll returns; a panic in it is caught. Without
    /// `long_poll_warning` it is never called.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let finished = Arc::new(AtomicUsize::new(0));
    /// let count = finished.clone();
    /// let rt = runtime::Builder::new_current_thread()
    ///     .long_poll_warning(Duration::from_millis(10))
    ///     .on_long_poll(move |report| {
    ///         if report.is_finished() {
    ///             assert!(report.held() >= Duration::from_millis(10));
    ///             count.fetch_add(1, Ordering::SeqCst);
    ///         }
    ///     })
    ///     .build()?;
    /// rt.block_on(rt.spawn(async { std::thread::sleep(Duration::from_millis(30)) }))
    ///     .unwrap();
    /// assert_eq!(finished.load(Ordering::SeqCst), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_long_poll(
        &mut self,
        hook: impl Fn(&crate::metrics::LongPoll) + Send + Sync + 'static,
    ) -> &mut Builder {
        self.on_long_poll = Some(Arc::new(hook));
        self
    }

    /// Starts the runtime's clock paused (current_thread only; for tests):
    /// time moves only by `time::advance`, or jumps to the next timer when
    /// the runtime is idle. With the multi-thread flavor, `build()` fails
    /// with `InvalidInput`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{sleep, Instant};
    /// use std::time::Duration;
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// let wall = std::time::Instant::now();
    /// let slept = rt.block_on(async {
    ///     let start = Instant::now();
    ///     sleep(Duration::from_secs(3600)).await;
    ///     start.elapsed()
    /// });
    /// assert!(slept >= Duration::from_secs(3600));
    /// assert!(wall.elapsed() < Duration::from_secs(60), "an hour passed at once");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// Builds the runtime. Invalid settings give `ErrorKind::InvalidInput`;
    /// failing to start a thread, or to set up the driver asked for, gives
    /// the OS error. It never panics.
    ///
    /// Two environment variables are read here, at every `build()`:
    ///
    /// * `RUNTIME_IO_DRIVER`: `io_uring`, `epoll` or `auto`, the driver of a
    ///   runtime whose builder says [`IoDriver::Auto`] (see
    ///   [`io_driver`](Self::io_driver)).
    /// * `RUNTIME_RING_WAIT_MAX_MS`: a whole number of milliseconds above 0
    ///   that caps each wait of a worker in its io_uring ring (unset: no
    ///   cap). For tools such as valgrind that cannot run other threads
    ///   while one waits in the kernel.
    ///
    /// A bad value of either makes `build()` fail with `InvalidInput`, in a
    /// message that names the variable.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::Builder;
    ///
    /// assert_eq!(Builder::new_current_thread().build()?.block_on(async { 1 }), 1);
    ///
    /// for var in ["RUNTIME_IO_DRIVER", "RUNTIME_RING_WAIT_MAX_MS"] {
    ///     std::env::set_var(var, "0.5");
    ///     let err = Builder::new_current_thread().build().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    ///     assert!(err.to_string().starts_with(var), "{err}");
    ///     std::env::remove_var(var);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
        if self.thread_name.contains('\0') {
            // std panics on it when the first thread starts; on current_thread
            // that was the first `spawn_blocking`, long after `build`.
            return invalid("thread_name must not contain a NUL byte");
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
            on_long_poll: self.on_long_poll.clone(),
            start_paused: self.start_paused,
            ring_wait_cap: choice::ring_wait_cap()?,
        };
        let blocking = BlockingPool::new(PoolConfig {
            max_threads: self.max_blocking_threads,
            keep_alive: self.thread_keep_alive,
            thread_name: self.thread_name.clone(),
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
        });

        let (rings, reactor): (Vec<Option<crate::driver::Driver>>, _) =
            match choice::start(self.io_driver, self.ring_entries, worker_threads)? {
                Io::Rings(rings) => (rings.into_iter().map(Some).collect(), None),
                Io::Epoll(reactor) => ((0..worker_threads).map(|_| None).collect(), Some(reactor)),
            };
        let (handle, workers) = match self.flavor {
            Flavor::CurrentThread => {
                let ring = rings.into_iter().next().flatten();
                match current_thread::build(config, blocking.clone(), ring, reactor.clone()) {
                    Ok(shared) => (scheduler::Handle::CurrentThread(shared), Vec::new()),
                    Err(err) => {
                        if let Some(reactor) = reactor {
                            reactor.shutdown();
                        }
                        return Err(err);
                    }
                }
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
