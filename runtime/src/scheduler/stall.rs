//! Live stall detection for `Builder::long_poll_warning`: a watchdog
//! thread notices a worker that has been inside one poll longer than the
//! limit and reports it while it is still stuck; the worker reports the
//! total when the poll returns.
//!
//! # The hand-off
//!
//! Each worker has a [`PollSlot`] that only it writes: before a poll it
//! stores the poll's start (`started`, Release) and then the task's id
//! (`task`, Release); after the poll it stores `task = 0` (Release). The
//! watchdog reads `task`, then `started`, then `task` again (Acquire); it
//! trusts `started` only if both reads of `task` give the same non-zero id.
//! Ids are never reused, so equal reads mean no other task's poll was
//! published in between; a `started` stored by a later poll of the same
//! task is that later, still running, poll's start. Nothing here can touch
//! a task's memory: the watchdog knows only ids and looks names up in the
//! runtime's registry, under its lock, where a listed task is alive.
//!
//! # Cost
//!
//! Off (the default): nothing — no slot, no thread, the poll path is the
//! plain one. On: per poll, two reads of the kernel's coarse clock
//! (`CLOCK_MONOTONIC_COARSE`, a vDSO read of about 5 ns, where the precise
//! clock costs about 23 ns here), three stores into the worker's own cache
//! line and a histogram bucket; one watchdog thread per runtime waking
//! every `limit / 4` (at least 1 ms, at most 100 ms). The coarse clock
//! moves in kernel ticks (4 ms here), so times are exact to a tick: plenty
//! for limits of tens of milliseconds and more.

use crate::metrics::LongPoll;
use crate::metrics::WorkerStats;
use crate::task::list::TaskLabel;
use crate::task::TaskId;
use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A user's hook for reports (`Builder::on_long_poll`).
pub(crate) type LongPollHook = Arc<dyn Fn(&LongPoll) + Send + Sync>;

/// Looks a live task's name and spawn location up (in its registry).
pub(crate) type Labels = Box<dyn Fn(TaskId) -> Option<TaskLabel> + Send + Sync>;

/// What one worker is polling, for the watchdog.
#[derive(Default)]
struct PollSlot {
    /// The id of the task being polled; 0 between polls.
    task: AtomicU64,
    /// When that poll started: nanoseconds on the coarse clock.
    started: AtomicU64,
}

/// One runtime's stall detection: the slots, the watchdog and the sink.
pub(crate) struct StallDetector {
    limit: Duration,
    slots: Box<[CachePadded<PollSlot>]>,
    hook: Option<LongPollHook>,
    live_reports: AtomicU64,
    stop: Mutex<bool>,
    stopped: Condvar,
    watchdog: Mutex<Option<JoinHandle<()>>>,
}

impl StallDetector {
    pub(crate) fn new(
        limit: Duration,
        workers: usize,
        hook: Option<LongPollHook>,
    ) -> StallDetector {
        StallDetector {
            limit,
            slots: (0..workers).map(|_| CachePadded::default()).collect(),
            hook,
            live_reports: AtomicU64::new(0),
            stop: Mutex::new(false),
            stopped: Condvar::new(),
            watchdog: Mutex::new(None),
        }
    }

    /// Starts the watchdog thread; `labels` finds a live task's name.
    pub(crate) fn start(self: &Arc<Self>, labels: Labels) -> std::io::Result<()> {
        let detector = Arc::downgrade(self);
        let period = (self.limit / 4).clamp(Duration::from_millis(1), Duration::from_millis(100));
        let thread = std::thread::Builder::new()
            .name("runtime-watchdog".into())
            .spawn(move || watch(detector, labels, period))?;
        *self.watchdog.lock() = Some(thread);
        Ok(())
    }

    /// Stops and joins the watchdog (runtime shutdown). Idempotent.
    pub(crate) fn stop(&self) {
        *self.stop.lock() = true;
        self.stopped.notify_all();
        let thread = self.watchdog.lock().take();
        if let Some(thread) = thread {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }

    /// Live reports made so far (`RuntimeMetrics::live_stall_reports`).
    pub(crate) fn live_reports(&self) -> u64 {
        self.live_reports.load(Ordering::Relaxed)
    }

    /// Polls `run` as the poll of `task` on `worker`, publishing it to the
    /// watchdog, then reports it if it held the worker too long.
    pub(crate) fn poll(
        &self,
        worker: usize,
        stats: &WorkerStats,
        task: TaskId,
        label: TaskLabel,
        run: impl FnOnce(),
    ) {
        let slot = &self.slots[worker];
        let started = coarse_nanos();
        slot.started.store(started, Ordering::Release);
        slot.task.store(task.as_u64(), Ordering::Release);
        // Cleared however the poll ends (a poll never unwinds out of the
        // harness, but this costs nothing).
        struct Clear<'a>(&'a AtomicU64);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                self.0.store(0, Ordering::Release);
            }
        }
        let clear = Clear(&slot.task);
        run();
        drop(clear);
        let held = Duration::from_nanos(coarse_nanos().saturating_sub(started));
        stats.record_poll_time(held);
        if held > self.limit {
            stats.long_polls.fetch_add(1, Ordering::Relaxed);
            self.report(&LongPoll {
                task,
                name: label.0,
                spawned_at: Some(label.1),
                worker,
                held,
                finished: true,
            });
        }
    }

    fn report(&self, report: &LongPoll) {
        match &self.hook {
            Some(hook) => {
                // A panicking hook must not take a worker (or the watchdog)
                // down with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(report)));
            }
            None => eprintln!("{report}"),
        }
    }
}

/// The coarse clock in nanoseconds (see the module docs).
fn coarse_nanos() -> u64 {
    u64::try_from(crate::task::dump::coarse_now().as_nanos()).unwrap_or(u64::MAX)
}

/// The watchdog thread's body: every `period`, reports each worker that has
/// been in its current poll longer than the limit, once per poll.
fn watch(detector: std::sync::Weak<StallDetector>, labels: Labels, period: Duration) {
    // Per worker: the (task, start) of the poll last reported.
    let mut reported: Vec<(u64, u64)> = Vec::new();
    loop {
        let Some(detector) = detector.upgrade() else {
            return;
        };
        {
            let mut stop = detector.stop.lock();
            if !*stop {
                detector.stopped.wait_for(&mut stop, period);
            }
            if *stop {
                return;
            }
        }
        reported.resize(detector.slots.len(), (0, 0));
        let now = coarse_nanos();
        for (worker, slot) in detector.slots.iter().enumerate() {
            let task = slot.task.load(Ordering::Acquire);
            let started = slot.started.load(Ordering::Acquire);
            if task == 0 || slot.task.load(Ordering::Acquire) != task {
                continue;
            }
            let held = Duration::from_nanos(now.saturating_sub(started));
            if held <= detector.limit || reported[worker] == (task, started) {
                continue;
            }
            reported[worker] = (task, started);
            let id = TaskId::from_u64(task);
            let (name, spawned_at) = match labels(id) {
                Some((name, location)) => (name, Some(location)),
                None => (None, None),
            };
            detector.live_reports.fetch_add(1, Ordering::Relaxed);
            detector.report(&LongPoll {
                task: id,
                name,
                spawned_at,
                worker,
                held,
                finished: false,
            });
        }
    }
}
