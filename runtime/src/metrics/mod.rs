//! Runtime metrics: counters kept by the workers, read from any thread.
//!
//! Counters are relaxed atomics: each is exact on its own, but a snapshot
//! of several is not taken at one instant.

mod long_poll;

pub use self::long_poll::LongPoll;

use crate::scheduler::Handle;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One worker's counters (cache-padded by the scheduler).
#[derive(Default, Debug)]
pub(crate) struct WorkerStats {
    pub(crate) polls: AtomicU64,
    /// Polls over the `long_poll_warning` limit (only counted with it set).
    pub(crate) long_polls: AtomicU64,
    /// Poll times by [`POLL_TIME_BUCKETS`] (only measured with
    /// `long_poll_warning` set).
    poll_times: [AtomicU64; POLL_TIME_BUCKETS.len() + 1],
    pub(crate) steals: AtomicU64,
    pub(crate) stolen_tasks: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) lifo_hits: AtomicU64,
    pub(crate) io_submitted: AtomicU64,
    pub(crate) io_completed: AtomicU64,
    busy_nanos: AtomicU64,
}

/// Upper bounds of the poll-time histogram's buckets (1 ms, then powers of
/// 16 of it); a last bucket takes everything longer. Polls are timed on the
/// kernel's coarse clock (see `Builder::long_poll_warning`), exact to a
/// kernel tick (1–4 ms): the histogram tells short polls from the ones that
/// hold a worker, not microseconds apart.
pub const POLL_TIME_BUCKETS: [Duration; 4] = [
    Duration::from_millis(1),
    Duration::from_millis(16),
    Duration::from_millis(256),
    Duration::from_millis(4096),
];

impl WorkerStats {
    /// One poll's time into the histogram.
    pub(crate) fn record_poll_time(&self, held: Duration) {
        let bucket = POLL_TIME_BUCKETS
            .iter()
            .position(|bound| held < *bound)
            .unwrap_or(POLL_TIME_BUCKETS.len());
        // Only this worker writes its counters: a load and a store, no
        // read-modify-write.
        let count = &self.poll_times[bucket];
        count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub(crate) fn add_busy(&self, busy: Duration) {
        let nanos = u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX);
        self.busy_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn snapshot(&self, local_queue_depth: usize) -> WorkerMetrics {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WorkerMetrics {
            polls: get(&self.polls),
            steals: get(&self.steals),
            stolen_tasks: get(&self.stolen_tasks),
            parks: get(&self.parks),
            local_queue_depth,
            lifo_hits: get(&self.lifo_hits),
            io_submitted: get(&self.io_submitted),
            io_completed: get(&self.io_completed),
            busy_duration: Duration::from_nanos(get(&self.busy_nanos)),
            long_polls: get(&self.long_polls),
            poll_time_histogram: std::array::from_fn(|bucket| get(&self.poll_times[bucket])),
        }
    }
}

/// A view of a runtime's counters.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// rt.block_on(async { runtime::spawn(async {}).await.unwrap() });
/// let metrics = rt.metrics();
/// assert_eq!(metrics.num_workers(), 2);
/// assert!(metrics.spawned_tasks() >= 1);
/// let polls: u64 = (0..2).map(|i| metrics.worker(i).polls).sum();
/// assert!(polls >= 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    handle: Handle,
}

impl std::fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("alive_tasks", &self.alive_tasks())
            .field("spawned_tasks", &self.spawned_tasks())
            .finish()
    }
}

impl RuntimeMetrics {
    pub(crate) fn new(handle: Handle) -> RuntimeMetrics {
        RuntimeMetrics { handle }
    }

    /// Worker threads (1 for the current_thread flavor: the `block_on` thread).
    pub fn num_workers(&self) -> usize {
        match &self.handle {
            Handle::CurrentThread(_) => 1,
            Handle::MultiThread(shared) => shared.num_workers(),
        }
    }

    /// The I/O driver in use (see [`Handle::io_driver`](crate::Handle::io_driver)).
    pub fn io_driver(&self) -> crate::IoDriver {
        self.handle.io_driver()
    }

    /// Tasks spawned and not yet ended, local ones (`spawn_local`) included.
    pub fn alive_tasks(&self) -> usize {
        let shared = match &self.handle {
            Handle::CurrentThread(shared) => shared.owned.live(),
            Handle::MultiThread(shared) => shared.owned.live(),
        };
        shared + self.handle.locals().live()
    }

    /// Tasks spawned since the runtime started, local ones included
    /// (blocking ones not counted).
    pub fn spawned_tasks(&self) -> u64 {
        let shared = match &self.handle {
            Handle::CurrentThread(shared) => shared.spawned_tasks(),
            Handle::MultiThread(shared) => shared.spawned_tasks(),
        };
        shared + self.handle.locals().spawned()
    }

    /// Tasks waiting in the global injection queue (for current_thread: its
    /// one queue).
    pub fn injection_queue_depth(&self) -> usize {
        match &self.handle {
            Handle::CurrentThread(shared) => shared.queue_depth(),
            Handle::MultiThread(shared) => shared.injection_queue_depth(),
        }
    }

    /// Timers registered (sleeps, timeouts, intervals) and not yet fired
    /// or dropped.
    pub fn active_timers(&self) -> usize {
        self.handle.time().active_timers()
    }

    /// Reports made by the stall watchdog while a poll still held its
    /// worker (`Builder::long_poll_warning`; 0 without it). Read from a
    /// counter the watchdog thread keeps: no cost to the workers.
    pub fn live_stall_reports(&self) -> u64 {
        self.handle.stall().map_or(0, |stall| stall.live_reports())
    }

    /// Threads in the blocking pool.
    pub fn blocking_threads(&self) -> usize {
        self.handle.blocking().num_threads()
    }

    /// Worker `index`'s counters.
    ///
    /// # Panics
    /// If `index >= num_workers()`.
    #[track_caller]
    pub fn worker(&self, index: usize) -> WorkerMetrics {
        let workers = self.num_workers();
        assert!(
            index < workers,
            "worker index {index} out of range: the runtime has {workers} worker(s)"
        );
        match &self.handle {
            Handle::CurrentThread(shared) => shared.stats.snapshot(shared.queue_depth()),
            Handle::MultiThread(shared) => {
                let (stats, depth) = shared.worker_stats(index);
                stats.snapshot(depth)
            }
        }
    }
}

/// One worker's counters at the moment [`RuntimeMetrics::worker`] was called.
/// Each field also has an accessor method of the same name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Task polls.
    pub polls: u64,
    /// Successful steals from other workers.
    pub steals: u64,
    /// Tasks taken by those steals.
    pub stolen_tasks: u64,
    /// Times the worker went to sleep.
    pub parks: u64,
    /// Tasks in its local queue now.
    pub local_queue_depth: usize,
    /// Polls of a task from the LIFO slot.
    pub lifo_hits: u64,
    /// I/O operations submitted to its ring (updated when the worker
    /// parks). Always 0 on the epoll driver, which has no rings: its
    /// operations are plain system calls made by the tasks themselves.
    pub io_submitted: u64,
    /// I/O completions its ring reaped (as `io_submitted`).
    pub io_completed: u64,
    /// Time spent running tasks (between parks).
    pub busy_duration: Duration,
    /// Polls that held the worker longer than the `long_poll_warning`
    /// limit. Counted only with `long_poll_warning` set (0 otherwise); its
    /// cost is that option's: two coarse clock reads per poll.
    pub long_polls: u64,
    /// Poll times: `poll_time_histogram[i]` counts polls shorter than
    /// [`POLL_TIME_BUCKETS`]`[i]` (and not shorter than the bound before);
    /// the last entry counts the rest. Measured only with
    /// `long_poll_warning` set (all 0 otherwise), on the coarse clock, at
    /// one counter store per poll on top of that option's two clock reads.
    pub poll_time_histogram: [u64; POLL_TIME_BUCKETS.len() + 1],
}

macro_rules! accessors {
    ($($field:ident: $ty:ty),*) => {
        impl WorkerMetrics {
            $(
                #[doc = concat!("The `", stringify!($field), "` field.")]
                pub fn $field(&self) -> $ty {
                    self.$field
                }
            )*
        }
    };
}

accessors!(polls: u64, steals: u64, stolen_tasks: u64, parks: u64, local_queue_depth: usize,
    lifo_hits: u64, io_submitted: u64, io_completed: u64, busy_duration: Duration,
    long_polls: u64, poll_time_histogram: [u64; POLL_TIME_BUCKETS.len() + 1]);
