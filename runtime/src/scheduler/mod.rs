//! Schedulers: the multi-thread work-stealing flavor and the current_thread
//! flavor, with what they share — the thread context, the coop budget and
//! the parking seam.

pub(crate) mod blocking;
pub(crate) mod context;
pub(crate) mod coop;
pub(crate) mod current_thread;
pub(crate) mod local;
pub(crate) mod multi_thread;
pub(crate) mod park;
pub(crate) mod stall;

use crate::task::{JoinHandle, Notified};
use crate::UnhandledPanic;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

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
    pub(crate) on_long_poll: Option<stall::LongPollHook>,
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

/// A runtime, held weakly (by what lives on after it: local queues).
#[derive(Clone)]
pub(crate) enum WeakHandle {
    CurrentThread(std::sync::Weak<current_thread::Shared>),
    MultiThread(std::sync::Weak<multi_thread::Shared>),
}

impl WeakHandle {
    pub(crate) fn upgrade(&self) -> Option<Handle> {
        match self {
            WeakHandle::CurrentThread(weak) => weak.upgrade().map(Handle::CurrentThread),
            WeakHandle::MultiThread(weak) => weak.upgrade().map(Handle::MultiThread),
        }
    }

    /// Whether this is `handle`'s runtime. Sound after the runtime is gone
    /// too: a `Weak` keeps the allocation, so its address is not reused.
    pub(crate) fn is(&self, handle: &Handle) -> bool {
        match (self, handle) {
            (WeakHandle::CurrentThread(weak), Handle::CurrentThread(shared)) => {
                std::ptr::eq(weak.as_ptr(), Arc::as_ptr(shared))
            }
            (WeakHandle::MultiThread(weak), Handle::MultiThread(shared)) => {
                std::ptr::eq(weak.as_ptr(), Arc::as_ptr(shared))
            }
            _ => false,
        }
    }
}

impl Handle {
    pub(crate) fn downgrade(&self) -> WeakHandle {
        match self {
            Handle::CurrentThread(shared) => WeakHandle::CurrentThread(Arc::downgrade(shared)),
            Handle::MultiThread(shared) => WeakHandle::MultiThread(Arc::downgrade(shared)),
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        match self {
            Handle::CurrentThread(shared) => shared.is_shutdown(),
            Handle::MultiThread(shared) => shared.is_shutdown(),
        }
    }

    /// The runtime's local queues (`task::spawn_local`), for dumps and metrics.
    pub(crate) fn locals(&self) -> &local::LocalQueues {
        match self {
            Handle::CurrentThread(shared) => &shared.locals,
            Handle::MultiThread(shared) => &shared.locals,
        }
    }

    pub(crate) fn spawn<F>(
        &self,
        future: F,
        name: Option<std::sync::Arc<str>>,
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

    /// The stall detector, with `long_poll_warning` set.
    pub(crate) fn stall(&self) -> Option<&Arc<stall::StallDetector>> {
        match self {
            Handle::CurrentThread(shared) => shared.stall.as_ref(),
            Handle::MultiThread(shared) => shared.stall.as_ref(),
        }
    }

    /// A snapshot of every live task.
    pub(crate) fn dump(&self) -> crate::task::Dump {
        let mut tasks = match self {
            Handle::CurrentThread(shared) => shared.owned.snapshot(),
            Handle::MultiThread(shared) => shared.owned.snapshot(),
        };
        tasks.extend(self.locals().snapshot());
        crate::task::Dump::new(tasks)
    }

    pub(crate) fn ptr_eq(&self, other: &Handle) -> bool {
        match (self, other) {
            (Handle::CurrentThread(a), Handle::CurrentThread(b)) => Arc::ptr_eq(a, b),
            (Handle::MultiThread(a), Handle::MultiThread(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Polls `task` once on `worker`; with `long_poll_warning` set, through
/// the stall detector, which times it and publishes it to the watchdog.
pub(crate) fn run_task<S: 'static>(
    stall: Option<&stall::StallDetector>,
    stats: &crate::metrics::WorkerStats,
    task: Notified<S>,
    worker: usize,
) {
    let Some(stall) = stall else {
        return task.run();
    };
    let id = task.id();
    let meta = task.meta();
    // The name is shared (an `Arc`), so the report after the poll can name
    // a task that ended in it.
    let label = (meta.name.clone(), meta.location);
    stall.poll(worker, stats, id, label, || task.run());
}
