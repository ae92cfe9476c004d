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
