//! Live stall detection for `Builder::long_poll_warning`: a watchdog
//! thread notices a worker that has been inside one poll longer than the
//! limit and reports it, with the stuck thread's stack, while it is still
//! stuck; the worker reports the total when the poll returns.
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
//! # The stuck thread's stack
//!
//! A live report shows where the stuck poll is, taken from the stuck
//! thread itself (the approach of glommio's stall detector, with a
//! different hand-off):
//!
//! 1. **Who to signal.** Each worker thread, and on current_thread the
//!    thread in `block_on` while it drives, *attaches* to its worker's
//!    `Capture` (`trace.rs`): a thread-local pointer to it for the
//!    handler, and its kernel thread id for the watchdog. It detaches
//!    (id 0, pointer cleared) before the thread stops driving.
//! 2. **The request.** Having found a poll past the limit, the watchdog
//!    moves the capture from IDLE to REQUESTED and sends the thread
//!    `SIGRTMIN + 6` with `tgkill` (a thread id, not a `pthread_t`: a
//!    thread that has just exited makes it fail with ESRCH instead of
//!    being undefined behaviour). Then it waits, at most `CAPTURE_WAIT`
//!    (100 ms) for the handler to start — the thread has to be scheduled,
//!    which on a loaded machine takes a while — and as long again for it
//!    to finish. After that it gives up (a late signal finds the capture
//!    IDLE and does nothing): the report has no stack, never a hang.
//! 3. **The handler** claims the capture (CAS REQUESTED → CAPTURING),
//!    walks the stack into the capture's preallocated frames, stores the
//!    count and publishes DONE with Release.
//! 4. **The check.** The frames count only if the worker's `PollSlot`
//!    still shows the same poll (task and start) after the watchdog's
//!    Acquire of DONE. The handler ran on the worker's own thread, in
//!    program order with the slot's stores, so the poll had started before
//!    the signal struck and had not ended when the handler finished.
//! 5. **Names**, on the watchdog thread, outside any signal context: the
//!    `backtrace` crate reads the binary's symbol table and DWARF (std's
//!    copy of that code is private; `dladdr` sees only exported symbols,
//!    which a Rust executable's functions are not). The summary line is
//!    written first, the frames when named: the first time, reading a
//!    large debug binary's debug info takes a fraction of a second (and
//!    seconds with that crate unoptimized, which is why the workspace's
//!    dev profile optimizes it). The crate resolves under a process-wide
//!    lock: a stuck thread that holds it (stuck inside that crate) would
//!    hold the watchdog up as long.
//!
//! **Why the handler is async-signal-safe.** It reads a `const`
//! thread-local (a plain TLS load: no lazy initialization, no
//! destructor), does atomic loads, stores and one CAS, and calls the
//! unwinder std already links (`_Unwind_Backtrace`, as glibc's
//! `backtrace()` does, but without that function's lazy `dlopen` of
//! libgcc, the reason it is not formally async-signal-safe). It never
//! allocates, locks or panics. The walk reads unwind tables and stack
//! memory; to find each frame's tables, libgcc ≥ 12 on glibc ≥ 2.35 (this
//! machine: 12.2 and 2.36) calls `_dl_find_object`, which glibc documents
//! as async-signal-safe. The candid limits: older systems go through
//! `dl_iterate_phdr`, which takes the loader's (recursive) lock, and a
//! libgcc before 13 takes a mutex when code registered unwind tables at
//! run time (`__register_frame`, as JITs do); a thread interrupted while
//! it holds one of those — inside the loader, or in the middle of an
//! unwind of its own — could then deadlock in the handler. A first walk
//! outside any handler, when the detector starts, checks that the
//! unwinder works at all (no backtraces otherwise). The frames above the
//! interrupted one (the handler's own) are dropped using
//! `_Unwind_GetIPInfo`, which flags the frame a signal interrupted.
//!
//! **The signal.** A real-time one, because users' programs and
//! libraries take `SIGUSR1`/`SIGUSR2` (glommio's default) far more often;
//! `SIGRTMIN` itself and the first few above it are the ones other
//! libraries pick first. It is installed through signal-hook-registry,
//! which chains to whatever handler was there (that handler then sees our
//! requests too; one installed later without chaining makes the watchdog
//! time out: no stack, no harm). It is unblocked on the runtime's own
//! worker threads; a current_thread `block_on` thread's mask is the
//! user's, and where it blocks the signal, no stack is asked for. A signal
//! that reaches a thread not attached, or a capture not REQUESTED (sent
//! by someone else), does nothing. Side effect on the stuck code: a
//! system call that is never restarted returns `EINTR` once (see
//! `Builder::long_poll_warning`).
//!
//! # Cost
//!
//! Off (the default): nothing — no slot, no thread, no signal handler,
//! the poll path is the plain one. On: per poll, two reads of the
//! kernel's coarse clock (`CLOCK_MONOTONIC_COARSE`, a vDSO read of about
//! 5 ns, where the precise clock costs about 23 ns here), three stores
//! into the worker's own cache line and a histogram bucket; one watchdog
//! thread per runtime waking every `limit / 4` (at least 1 ms, at most
//! 100 ms). The coarse clock
//! moves in kernel ticks (4 ms here), so times are exact to a tick: plenty
//! for limits of tens of milliseconds and more. Backtraces cost nothing
//! per poll: a thread id stored when a worker starts, 800 bytes per
//! worker, and, per live report, one signal, a walk of microseconds, and
//! the naming (memory for the symbols, kept once read).

mod trace;

pub(crate) use trace::Frames;

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

/// How long the watchdog waits for a stuck thread's handler to take its
/// stack: the thread must be scheduled to run the handler, which on a
/// loaded machine can take tens of milliseconds.
const CAPTURE_WAIT: Duration = Duration::from_millis(100);

/// One runtime's stall detection: the slots, the watchdog and the sink.
pub(crate) struct StallDetector {
    limit: Duration,
    slots: Box<[CachePadded<PollSlot>]>,
    /// Per worker: its thread and a buffer for its stack (cold: touched
    /// only when a stall is reported, so apart from the hot slots).
    captures: Box<[trace::Capture]>,
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
            captures: (0..workers).map(|_| trace::Capture::default()).collect(),
            hook,
            live_reports: AtomicU64::new(0),
            stop: Mutex::new(false),
            stopped: Condvar::new(),
            watchdog: Mutex::new(None),
        }
    }

    /// Starts the watchdog thread; `labels` finds a live task's name.
    /// Installs the backtrace signal's handler (once per process) first,
    /// before any worker can attach.
    pub(crate) fn start(self: &Arc<Self>, labels: Labels) -> std::io::Result<()> {
        trace::install();
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

    /// Makes the current thread the one whose stack a live report of
    /// `worker` shows, until the guard drops. `own_thread`: a worker
    /// thread of the runtime's own (see [`trace::attach`]).
    pub(crate) fn attach(&self, worker: usize, own_thread: bool) -> trace::Attached<'_> {
        trace::attach(&self.captures[worker], own_thread)
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
                backtrace: None,
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
            None => {
                // The summary at once: naming the frames can take a while
                // (the first time, the binary's debug info is read), and
                // must not delay it. The frames follow in one write.
                eprintln!("{}", report.summary());
                if let Some(frames) = report.frames() {
                    eprintln!("{frames}");
                }
            }
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
            // The stack first, while the poll is (most likely) still stuck.
            // It counts only if the slot still shows the same poll after
            // the handler's Release of its frames: the handler ran on the
            // worker's thread, so then it ran inside that poll.
            let frames = trace::request(&detector.captures[worker], CAPTURE_WAIT).filter(|_| {
                slot.task.load(Ordering::Acquire) == task
                    && slot.started.load(Ordering::Acquire) == started
            });
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
                backtrace: frames.map(Arc::new),
            });
        }
    }
}
