//! Schedulers: the multi-thread work-stealing flavor and the current_thread
//! flavor, with what they share — the thread context, the coop budget and
//! the parking seam.

pub(crate) mod blocking;
pub(crate) mod context;
pub(crate) mod coop;
pub(crate) mod current_thread;
pub(crate) mod multi_thread;
pub(crate) mod park;

use crate::task::{JoinHandle, Notified, TaskId};
use crate::UnhandledPanic;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) type Callback = Arc<dyn Fn() + Send + Sync>;

/// The settled configuration of one runtime (`Builder` validates it).
pub(crate) struct Config {
    pub(crate) worker_threads: usize,
    pub(crate) thread_name: String,
    pub(crate) thread_stack_size: Option<usize>,
    pub(crate) global_queue_interval: u32,
    pub(crate) event_interval: u32,
    pub(crate) unhandled_panic: UnhandledPanic,
    pub(crate) on_thread_start: Option<Callback>,
    pub(crate) on_thread_stop: Option<Callback>,
    pub(crate) long_poll_warning: Option<Duration>,
    pub(crate) start_paused: bool,
    /// The longest one wait in a ring may last (`RUNTIME_RING_WAIT_MAX_MS`).
    pub(crate) ring_wait_cap: Option<Duration>,
}

/// A runtime of either flavor.
#[derive(Clone)]
pub(crate) enum Handle {
    CurrentThread(Arc<current_thread::Shared>),
    MultiThread(Arc<multi_thread::Shared>),
}

impl Handle {
    pub(crate) fn spawn<F>(
        &self,
        future: F,
        name: Option<Box<str>>,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Handle::CurrentThread(shared) => shared.spawn(future, name, location),
            Handle::MultiThread(shared) => shared.spawn(future, name, location),
        }
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self {
            Handle::CurrentThread(shared) => current_thread::block_on(shared, future),
            Handle::MultiThread(shared) => multi_thread::block_on(shared, future),
        }
    }

    pub(crate) fn blocking(&self) -> &crate::scheduler::blocking::BlockingPool {
        match self {
            Handle::CurrentThread(shared) => &shared.blocking,
            Handle::MultiThread(shared) => &shared.blocking,
        }
    }

    pub(crate) fn time(&self) -> &crate::time::driver::TimeDriver {
        match self {
            Handle::CurrentThread(shared) => &shared.time,
            Handle::MultiThread(shared) => &shared.time,
        }
    }

    /// The timer wheel a sleep first polled on this thread registers in:
    /// the current worker's, or shard 0 off the workers.
    pub(crate) fn timer_shard(&self) -> usize {
        match self {
            Handle::CurrentThread(_) => 0,
            Handle::MultiThread(shared) => multi_thread::current_worker_index(shared).unwrap_or(0),
        }
    }

    /// A timer was registered in `shard`: if that shard's owner may be
    /// asleep with a later timeout (it is not this thread), wake it so it
    /// recomputes its timeout.
    pub(crate) fn timer_registered(&self, shard: usize) {
        match self {
            Handle::CurrentThread(shared) => shared.wake_driver_from_elsewhere(),
            Handle::MultiThread(shared) => {
                if multi_thread::current_worker_index(shared) != Some(shard) {
                    shared.unpark_worker(shard);
                }
            }
        }
    }

    /// The I/O driver in use: `IoUring` when the runtime has rings, else
    /// `Epoll`.
    pub(crate) fn io_driver(&self) -> crate::IoDriver {
        match self.reactor() {
            Some(_) => crate::IoDriver::Epoll,
            None => crate::IoDriver::IoUring,
        }
    }

    /// The epoll driver, on a runtime without rings.
    pub(crate) fn reactor(&self) -> Option<&Arc<crate::driver::epoll::Reactor>> {
        match self {
            Handle::CurrentThread(shared) => shared.reactor.as_ref(),
            Handle::MultiThread(shared) => shared.reactor.as_ref(),
        }
    }

    /// A ring to start an operation on from a thread that owns none.
    pub(crate) fn driver_handle(&self) -> Option<crate::driver::DriverHandle> {
        match self {
            Handle::CurrentThread(shared) => shared.driver_handle(),
            Handle::MultiThread(shared) => shared.driver_handle(),
        }
    }

    /// Fires every due timer of every shard (after `time::advance`).
    pub(crate) fn fire_timers(&self) {
        let time = self.time();
        for shard in 0..time.num_shards() {
            time.process(shard);
        }
    }

    pub(crate) fn ptr_eq(&self, other: &Handle) -> bool {
        match (self, other) {
            (Handle::CurrentThread(a), Handle::CurrentThread(b)) => Arc::ptr_eq(a, b),
            (Handle::MultiThread(a), Handle::MultiThread(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Polls `task` once, timing the poll if `long_poll_warning` is set.
pub(crate) fn run_task<S: 'static>(config: &Config, task: Notified<S>, worker: usize) {
    let Some(limit) = config.long_poll_warning else {
        return task.run();
    };
    let id = task.id();
    let meta = task.meta();
    let (name, location) = (meta.name.clone(), meta.location);
    let started = Instant::now();
    task.run();
    let held = started.elapsed();
    if held > limit {
        warn_long_poll(id, name.as_deref(), location, worker, held);
    }
}

/// Reports a poll that held a worker longer than `long_poll_warning`.
fn warn_long_poll(
    id: TaskId,
    name: Option<&str>,
    location: &Location<'_>,
    worker: usize,
    held: Duration,
) {
    let name = name.map(|n| format!(" \"{n}\"")).unwrap_or_default();
    eprintln!(
        "runtime: a poll of task {id}{name} (spawned at {location}) held worker {worker} for {held:?}; \
         move blocking work to `spawn_blocking`"
    );
}
