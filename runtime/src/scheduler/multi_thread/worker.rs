//! One worker: its loop, its local queue and LIFO slot, stealing, parking.
//!
//! The loop, each tick: every `global_queue_interval` ticks the injector
//! first (so remote spawns are not starved by a busy local queue), otherwise
//! the LIFO slot, the local queue, a batch from the injector; then steal a
//! batch from a random victim; then spin a little; then park.
//!
//! # Spinning before parking
//!
//! A worker that runs out of work spins for up to [`SPIN_BEFORE_PARK`]
//! first, reaping its own ring (a memory read while nothing arrives) and
//! watching its own queues and the injector. The case it is for: two tasks
//! that talk (a client and a server on one connection, a request and its
//! reply) are usually on two workers, each waiting for a completion on its
//! own ring; a worker asleep in `io_uring_enter` costs every hop the
//! kernel's wake-up of a sleeping thread (about 100 µs on this project's
//! machines), a spinning one picks the completion up within a microsecond.
//! The price is CPU: an idle worker burns up to `SPIN_BEFORE_PARK` each
//! time it runs dry, which on a machine shared with other processes is
//! time they do not get (crossbeam's `Backoff` and Go's scheduler make the
//! same trade, also bounded).
//!
//! While it spins the worker is neither parked nor searching: to the idle
//! protocol (`idle.md`) it is a worker running a task, so the protocol's
//! reasoning holds unchanged and no wake-up is lost. But a push that finds
//! no sleeper wakes nobody, and a spinning worker is no sleeper: so the
//! spin also watches the peers' queues, and goes back to the loop (which
//! steals as a searcher, rule 1) when one has tasks. Without that look, a
//! CPU-heavy shape (stream_hotspot_rotation_cpu) ran 40 % slower: work
//! queued on a busy worker waited out the spin instead of being stolen.

use super::rescue::{Watch, RESCUE_INTERVAL};
use super::{Runnable, Shared};
use crate::scheduler::context;
use crate::scheduler::coop;
use crate::scheduler::local::{self, LocalRunnable};
use crate::scheduler::park::{Park, Parker};
use crate::scheduler::Handle;
use crossbeam_deque::{Steal, Worker};
use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// At most this many LIFO-slot polls in a row, so that two tasks pinging
/// each other cannot starve the rest of the local queue.
const MAX_LIFO_POLLS: u32 = 3;

/// How long a worker that ran out of work watches its ring and queues
/// before it parks (see the module's notes). Long enough to cover a
/// loopback round trip between two tasks (tens of microseconds), short
/// next to the rescue's 10 ms.
const SPIN_BEFORE_PARK: std::time::Duration = std::time::Duration::from_micros(50);

/// Local tasks a `block_on` thread runs before it polls its root future
/// again.
const LOCAL_BATCH: usize = 61;

/// What a worker thread is started with.
pub(crate) struct Launch {
    pub(super) index: usize,
    pub(super) local: Worker<Runnable>,
    pub(super) park: Park,
}

/// The worker's own state, reachable from its thread only.
struct WorkerThread {
    index: usize,
    shared: Arc<Shared>,
    local: Worker<Runnable>,
    lifo: Cell<Option<Runnable>>,
    park: Park,
    tick: Cell<u32>,
    is_searching: Cell<bool>,
    rng: Cell<u64>,
    /// The peers' progress, to step in for one stuck in a poll.
    watch: Watch,
}

thread_local! {
    /// The worker running on this thread, if any (for `schedule_local`).
    static CURRENT: Cell<*const WorkerThread> = const { Cell::new(std::ptr::null()) };
}

/// The worker thread's body.
pub(crate) fn run(shared: Arc<Shared>, launch: Launch) {
    let handle = Handle::MultiThread(shared.clone());
    let _enter = context::enter_runtime(&handle);
    // Dropped before `shared`, which keeps the capture it points to alive.
    let _stall = shared
        .stall
        .as_deref()
        .map(|stall| stall.attach(launch.index, true));
    if let Some(start) = &shared.config.on_thread_start {
        start();
    }
    let launch_index = launch.index;
    let worker = WorkerThread {
        index: launch.index,
        shared: shared.clone(),
        local: launch.local,
        lifo: Cell::new(None),
        park: launch.park,
        tick: Cell::new(0),
        is_searching: Cell::new(false),
        rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ (launch.index as u64 + 1)),
        watch: Watch::new(shared.remotes.len()),
    };
    CURRENT.with(|c| c.set(&worker));
    {
        let _ring = worker.park.enter();
        let locals = local::attach(&handle);
        locals.set_waker(&Waker::from(Arc::new(worker.park.unparker())));
        worker.run();
        // The runtime is shutting down: this worker's local tasks are
        // dropped here, on their thread, while the ring still takes their
        // cancellations.
        drop(locals);
        // Every operation in flight on this ring is cancelled and its
        // completion awaited before the ring may close.
        worker.park.shutdown();
    }
    // No peer may rescue this ring any more: it closes with this thread.
    drop(shared.remotes[launch_index].ring.lock().take());
    CURRENT.with(|c| c.set(std::ptr::null()));
    // Queued Notifieds belong to tasks that shutdown cancels; drop them.
    drop(worker.lifo.take());
    while worker.local.pop().is_some() {}
    if let Some(stop) = &shared.config.on_thread_stop {
        stop();
    }
    let last = {
        let mut running = shared.running_workers.lock();
        *running -= 1;
        *running == 0
    };
    if last {
        // Whatever stopped the workers (runtime drop, or a task panic under
        // `UnhandledPanic::ShutdownRuntime`), no task may be left waiting
        // for a worker that will never come.
        shared.close_and_cancel_all();
    }
    shared.workers_done.notify_all();
}

/// Queues `task` on the current worker if this thread is one of `shared`'s
/// workers; hands it back otherwise.
pub(super) fn schedule_local(
    shared: &Arc<Shared>,
    task: Runnable,
    is_yield: bool,
) -> Result<(), Runnable> {
    CURRENT.with(|current| {
        let worker = current.get();
        if worker.is_null() {
            return Err(task);
        }
        // SAFETY: CURRENT points to the WorkerThread on this thread's stack while
        // `WorkerThread::run` is running, and is cleared before that WorkerThread is dropped.
        let worker = unsafe { &*worker };
        if !Arc::ptr_eq(&worker.shared, shared) {
            return Err(task);
        }
        if is_yield || context::wakes_are_stealable() {
            worker.local.push(task);
        } else if let Some(previous) = worker.lifo.replace(Some(task)) {
            // The slot keeps the newest task; the older one becomes stealable.
            worker.local.push(previous);
        } else {
            // Only the slot holds it: this worker runs it next, no peer needed.
            return Ok(());
        }
        worker.shared.notify_parked();
        Ok(())
    })
}

/// Whether this thread is a worker with other tasks waiting in its LIFO
/// slot or local queue (`false` off the workers). The driver batches a
/// submission into the tick's one `io_uring_enter` then, rather than
/// entering for it alone: the tasks behind will submit too.
pub(crate) fn worker_has_queued_tasks() -> bool {
    CURRENT.with(|current| {
        let worker = current.get();
        if worker.is_null() {
            return false;
        }
        // SAFETY: as in `schedule_local`: CURRENT points to this thread's
        // live WorkerThread while it runs.
        let worker = unsafe { &*worker };
        !worker.local.is_empty() || worker.has_lifo()
    })
}

/// The index of the worker running on this thread, if it is one of
/// `shared`'s workers.
pub(crate) fn current_worker_index(shared: &Arc<Shared>) -> Option<usize> {
    CURRENT.with(|current| {
        let worker = current.get();
        if worker.is_null() {
            return None;
        }
        // SAFETY: as in `schedule_local`: CURRENT points to this thread's
        // live WorkerThread while it runs.
        let worker = unsafe { &*worker };
        Arc::ptr_eq(&worker.shared, shared).then_some(worker.index)
    })
}

impl WorkerThread {
    fn stats(&self) -> &crate::metrics::WorkerStats {
        &self.shared.remotes[self.index].stats
    }

    fn run(&self) {
        let mut busy_since = Instant::now();
        while !self.shared.is_shutdown() {
            let tick = self.tick.get().wrapping_add(1);
            self.tick.set(tick);
            if tick % self.shared.config.event_interval == 0 {
                self.park.poll();
                self.shared.time.process(self.index);
                self.watch.look_if_due(&self.shared, self.index);
            }
            // Local tasks (`spawn_local`) and stealable ones take turns,
            // one of each per tick: neither kind starves the other.
            let ran_local = local::run_one(|task| self.run_local_task(task));
            if let Some(task) = self.next_task(tick).or_else(|| self.steal_work()) {
                self.run_task(task);
                continue;
            }
            if ran_local || self.spin_before_park() {
                continue;
            }
            self.stats().add_busy(busy_since.elapsed());
            self.park();
            busy_since = Instant::now();
        }
    }

    fn next_task(&self, tick: u32) -> Option<Runnable> {
        if tick % self.shared.config.global_queue_interval == 0 {
            // A batch, not one task: a worker whose local queue never runs
            // dry (tasks that keep yielding) would otherwise take one remote
            // spawn per interval while the injector grows.
            if let Some(task) =
                steal_retrying(|| self.shared.injector.steal_batch_and_pop(&self.local))
            {
                return Some(task);
            }
        }
        if let Some(task) = self.lifo.take() {
            return Some(task);
        }
        self.local
            .pop()
            .or_else(|| steal_retrying(|| self.shared.injector.steal_batch_and_pop(&self.local)))
    }

    /// Steals a batch from a random victim, then the injector. Only a
    /// searching worker steals (idle rule 1).
    fn steal_work(&self) -> Option<Runnable> {
        if !self.is_searching.get() {
            if !self.shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.is_searching.set(true);
        }
        let remotes = &self.shared.remotes;
        let n = remotes.len();
        let start = self.next_random() as usize % n;
        for offset in 0..n {
            let victim = (start + offset) % n;
            if victim == self.index {
                continue;
            }
            if let Some(task) =
                steal_retrying(|| remotes[victim].stealer.steal_batch_and_pop(&self.local))
            {
                let stats = self.stats();
                stats.steals.fetch_add(1, Ordering::Relaxed);
                stats
                    .stolen_tasks
                    .fetch_add(1 + self.local.len() as u64, Ordering::Relaxed);
                return Some(task);
            }
        }
        steal_retrying(|| self.shared.injector.steal_batch_and_pop(&self.local))
    }

    /// Leaves the searching state, about to run a task.
    fn stop_searching(&self) {
        if self.is_searching.replace(false) && self.shared.idle.transition_worker_from_searching() {
            // Idle rule 3: the last searcher found work; more may follow.
            self.shared.notify_parked();
        }
    }

    /// Polls one of this thread's local tasks.
    fn run_local_task(&self, task: LocalRunnable) {
        self.stop_searching();
        self.stats().polls.fetch_add(1, Ordering::Relaxed);
        coop::with_budget(|| {
            crate::scheduler::run_task(self.shared.stall.as_deref(), self.stats(), task, self.index)
        });
    }

    fn run_task(&self, task: Runnable) {
        self.stop_searching();
        coop::with_budget(|| {
            self.poll(task);
            // Tasks woken into the LIFO slot run now, on the same budget.
            for _ in 0..MAX_LIFO_POLLS {
                if !coop::has_budget_remaining() {
                    break;
                }
                let Some(next) = self.lifo.take() else { return };
                self.stats().lifo_hits.fetch_add(1, Ordering::Relaxed);
                self.poll(next);
            }
            // Cap reached: the slot's task waits its turn in the queue.
            if let Some(next) = self.lifo.take() {
                self.local.push(next);
                self.shared.notify_parked();
            }
        });
    }

    fn poll(&self, task: Runnable) {
        self.stats().polls.fetch_add(1, Ordering::Relaxed);
        crate::scheduler::run_task(self.shared.stall.as_deref(), self.stats(), task, self.index);
    }

    /// Watches this worker's ring and queues for up to
    /// [`SPIN_BEFORE_PARK`]; `true` when work showed up. Only a worker with
    /// a ring spins: without one, its tasks are woken by other threads,
    /// and the idle protocol already wakes it for those.
    fn spin_before_park(&self) -> bool {
        if self.park.ring().is_none() {
            return false;
        }
        let deadline = Instant::now() + SPIN_BEFORE_PARK;
        loop {
            // Completions wake their tasks onto this worker's queues.
            self.park.poll();
            if self.has_local_work() || !self.shared.injector.is_empty() || self.peer_has_work() {
                return true;
            }
            if self.shared.is_shutdown() || Instant::now() >= deadline {
                return false;
            }
            std::hint::spin_loop();
        }
    }

    /// Whether a peer's queue has tasks to steal. A spinning worker is not
    /// parked, so a peer's push wakes nobody for it: the spin must look.
    fn peer_has_work(&self) -> bool {
        let remotes = &self.shared.remotes;
        (0..remotes.len()).any(|i| i != self.index && !remotes[i].stealer.is_empty())
    }

    fn park(&self) {
        let shared = &*self.shared;
        let was_searching = self.is_searching.replace(false);
        if shared
            .idle
            .transition_worker_to_parked(self.index, was_searching)
        {
            // Idle rule 4: the last searcher rescans after leaving the count.
            shared.notify_if_work_pending();
        }
        let stats = self.stats();
        stats.parks.fetch_add(1, Ordering::Relaxed);
        let (submitted, completed) = self.park.io_counts();
        stats.io_submitted.store(submitted, Ordering::Relaxed);
        stats.io_completed.store(completed, Ordering::Relaxed);
        let remote = &shared.remotes[self.index];
        remote.parked.store(true, Ordering::Relaxed);
        let _awake = UnparkedOnDrop(&remote.parked);
        loop {
            if shared.is_shutdown() {
                return;
            }
            let mut timeout = shared.time.park_timeout(self.index);
            let peer_awake = Watch::peer_awake(shared, self.index);
            if peer_awake {
                // An awake peer may get stuck: look again in a while.
                timeout = Some(timeout.map_or(RESCUE_INTERVAL, |t| t.min(RESCUE_INTERVAL)));
            }
            self.park.park_timeout(timeout);
            let mut fired = shared.time.process(self.index);
            if peer_awake && self.watch.look(shared, self.index, Instant::now()) {
                // The rescued tasks were woken onto this worker.
                fired += 1;
            }
            if shared.idle.transition_worker_from_parked(self.index) {
                // Notified: worker_to_notify counted us as searching.
                self.is_searching.set(true);
                return;
            }
            if fired > 0 || self.has_local_work() {
                // Our timers or our ring's completions woke tasks, queued
                // here: back to work, unless a notifier took us off the list
                // meanwhile (then we count as searching).
                if !shared.idle.unpark_worker_by_id(self.index) {
                    self.is_searching.set(true);
                }
                return;
            }
        }
    }

    fn has_lifo(&self) -> bool {
        let lifo = self.lifo.take();
        let has_lifo = lifo.is_some();
        self.lifo.set(lifo);
        has_lifo
    }

    /// Work in this worker's own LIFO slot, local queue or queue of
    /// local tasks (`spawn_local`).
    fn has_local_work(&self) -> bool {
        let lifo = self.lifo.take();
        let has_lifo = lifo.is_some();
        self.lifo.set(lifo);
        has_lifo || !self.local.is_empty() || local::has_work()
    }

    fn next_random(&self) -> u64 {
        // xorshift64*: victims need spreading, not cryptography.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Clears a worker's `parked` flag when its park returns, however it does.
struct UnparkedOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for UnparkedOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// `Steal::Retry` means "lost a race, try again", never "empty".
fn steal_retrying(mut steal: impl FnMut() -> Steal<Runnable>) -> Option<Runnable> {
    loop {
        match steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => continue,
        }
    }
}

/// `block_on` for the multi-thread flavor: the future runs on the calling
/// thread, which sleeps on its own parker between polls; tasks run on the
/// workers.
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let handle = Handle::MultiThread(shared.clone());
    let _enter = context::enter_runtime(&handle);
    let parker = Parker::new();
    let _registered = shared.register_block_on(parker.unparker());
    let waker = parker.unparker().into_waker();
    let mut cx = Context::from_waker(&waker);
    // Local tasks spawned here run here, between polls of `future`; they
    // wake this thread with the root future's waker.
    let locals = local::attach(&handle);
    locals.set_waker(&waker);
    let mut future = std::pin::pin!(future);
    // Only the block_on calls under way when a task panic shuts the runtime
    // down report it; later calls run on a shut-down runtime like any other.
    let panicked_before = shared.panicked.load(Ordering::Acquire);
    loop {
        if let Poll::Ready(output) = coop::with_budget(|| future.as_mut().poll(&mut cx)) {
            return output;
        }
        if !panicked_before && shared.panicked.load(Ordering::Acquire) {
            panic!(
                "a spawned task panicked and the runtime is configured to shut down on \
                 unhandled panic (`UnhandledPanic::ShutdownRuntime`)"
            );
        }
        // A batch of local tasks, then the root future again (a local task
        // may be what it waits for).
        let mut ran = 0;
        while ran < LOCAL_BATCH && local::run_one(|task| coop::with_budget(|| task.run())) {
            ran += 1;
        }
        if ran > 0 || local::has_work() {
            continue;
        }
        parker.park();
    }
}
