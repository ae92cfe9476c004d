//! The multi-thread flavor: one worker per core, each with a local FIFO
//! deque and a LIFO slot, stealing from one another and from a global
//! injector (`worker.rs`), sleeping by the idle protocol (`idle.rs`).

mod idle;
mod rescue;
mod worker;

#[cfg(not(loom))]
use self::idle::Idle;
// The loom models reach the idle protocol through `crate::__loom`.
#[cfg(loom)]
pub(crate) use self::idle::Idle;
use super::park::{Park, Unpark, Unparker};
use super::stall::StallDetector;
use super::Config;
use crate::metrics::WorkerStats;
use crate::scheduler::blocking::BlockingPool;
use crate::task::list::OwnedTasks;
use crate::task::{spawn_bound, JoinHandle, Notified, Schedule, Task};
use crate::time::driver::TimeDriver;
use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use self::worker::{block_on, current_worker_index, worker_has_queued_tasks};

type Runnable = Notified<Arc<Shared>>;

/// The state every worker, handle and task of one runtime shares.
pub(crate) struct Shared {
    injector: Injector<Runnable>,
    remotes: Box<[Remote]>,
    idle: Idle,
    pub(crate) owned: OwnedTasks<Arc<Shared>>,
    pub(crate) time: TimeDriver,
    pub(crate) config: Config,
    pub(crate) blocking: BlockingPool,
    /// The epoll driver, when the runtime runs without rings.
    pub(crate) reactor: Option<Arc<crate::driver::epoll::Reactor>>,
    /// Set once; workers leave their loop when they see it.
    shutdown: AtomicBool,
    /// A task panicked under `UnhandledPanic::ShutdownRuntime`.
    pub(crate) panicked: AtomicBool,
    /// Workers still running, and a condvar to wait for them to end.
    running_workers: Mutex<usize>,
    workers_done: Condvar,
    /// Threads inside `block_on`, woken when the runtime shuts down.
    block_on_waiters: Mutex<Vec<Unparker>>,
    /// With `long_poll_warning` set.
    pub(crate) stall: Option<Arc<StallDetector>>,
    /// The threads' queues of local tasks (`task::spawn_local`).
    pub(crate) locals: super::local::LocalQueues,
}

pub(crate) struct BlockOnRegistration<'a> {
    shared: &'a Shared,
    unparker: Unparker,
}

impl Drop for BlockOnRegistration<'_> {
    fn drop(&mut self) {
        let mut waiters = self.shared.block_on_waiters.lock();
        if let Some(at) = waiters.iter().position(|w| w.same_as(&self.unparker)) {
            waiters.swap_remove(at);
        }
    }
}

/// What other threads may touch of one worker.
struct Remote {
    stealer: Stealer<Runnable>,
    unparker: Unpark,
    stats: CachePadded<WorkerStats>,
    /// The worker's ring, reaped by a peer while the worker is stuck
    /// (`rescue.rs`); `None` on the epoll driver, and once the worker has
    /// shut its ring down: the ring must close with its worker, not live
    /// on with a `JoinHandle` that outlives the runtime.
    ring: Mutex<Option<Arc<crate::driver::OwnedRing>>>,
    /// Set while the worker parks: a parked worker is not stuck. A hint
    /// only (relaxed); the ring's lock is what makes a rescue safe.
    parked: AtomicBool,
}

/// Builds the shared state and the parts each worker thread takes along;
/// `rings` has one entry per worker (`None`: park on a condvar).
pub(crate) fn build(
    config: Config,
    blocking: BlockingPool,
    rings: Vec<Option<crate::driver::Driver>>,
    reactor: Option<Arc<crate::driver::epoll::Reactor>>,
) -> (Arc<Shared>, Vec<worker::Launch>) {
    let n = config.worker_threads;
    debug_assert_eq!(rings.len(), n);
    let mut remotes = Vec::with_capacity(n);
    let mut launches = Vec::with_capacity(n);
    for (index, ring) in rings.into_iter().enumerate() {
        let local = crossbeam_deque::Worker::new_fifo();
        let park = Park::new(ring, config.ring_wait_cap);
        remotes.push(Remote {
            stealer: local.stealer(),
            unparker: park.unparker(),
            stats: CachePadded::new(WorkerStats::default()),
            ring: Mutex::new(park.ring().cloned()),
            parked: AtomicBool::new(false),
        });
        launches.push(worker::Launch { index, local, park });
    }
    let stall = config
        .long_poll_warning
        .map(|limit| Arc::new(StallDetector::new(limit, n, config.on_long_poll.clone())));
    let shared = Arc::new(Shared {
        injector: Injector::new(),
        remotes: remotes.into_boxed_slice(),
        idle: Idle::new(n),
        owned: OwnedTasks::new(4 * n),
        time: TimeDriver::new(n, false),
        config,
        blocking,
        reactor,
        shutdown: AtomicBool::new(false),
        panicked: AtomicBool::new(false),
        running_workers: Mutex::new(n),
        workers_done: Condvar::new(),
        block_on_waiters: Mutex::new(Vec::new()),
        stall,
        locals: Default::default(),
    });
    (shared, launches)
}

/// Starts the worker threads.
pub(crate) fn launch(
    shared: &Arc<Shared>,
    launches: Vec<worker::Launch>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    if let Some(stall) = &shared.stall {
        let weak = Arc::downgrade(shared);
        stall.start(Box::new(move |id| {
            let shared = weak.upgrade()?;
            let label = shared.owned.label_of(id);
            label.or_else(|| shared.locals.label_of(id))
        }))?;
    }
    let mut threads = Vec::with_capacity(launches.len());
    let shared_ref = shared;
    for launch in launches {
        let shared = shared_ref.clone();
        let mut builder = std::thread::Builder::new().name(shared.config.thread_name.clone());
        if let Some(size) = shared.config.thread_stack_size {
            builder = builder.stack_size(size);
        }
        let spawned = builder.spawn(move || worker::run(shared, launch));
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(err) => {
                // Stop the workers already started before reporting.
                begin_shutdown(shared_ref);
                for thread in threads {
                    let _ = thread.join();
                }
                return Err(err);
            }
        }
    }
    Ok(threads)
}

impl Shared {
    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        future: F,
        name: Option<std::sync::Arc<str>>,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_bound(&self.owned, self.clone(), future, name, location, |task| {
            self.schedule_task(task, false)
        })
    }

    pub(super) fn schedule_task(self: &Arc<Self>, task: Runnable, is_yield: bool) {
        // A worker of this very runtime keeps the task local; anyone else
        // (another runtime's worker too) goes through the injector.
        if let Err(task) = worker::schedule_local(self, task, is_yield) {
            self.injector.push(task);
            // Orders the push before the flag check; `close_and_cancel_all`
            // fences between setting the flag and draining.
            fence(Ordering::SeqCst);
            if self.is_shutdown() {
                // Shutdown may have drained the injector already; a task
                // left there would keep this runtime alive through its
                // scheduler handle. The flag is set before the drain, so a
                // push the drain missed sees it here.
                drain_injector(self);
                return;
            }
            self.notify_parked();
        }
    }

    /// Wakes a parked worker if the idle protocol says one is needed.
    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.remotes[index].unparker.unpark();
        }
    }

    /// Rule 4 of the idle protocol: the last searcher's rescan.
    fn notify_if_work_pending(&self) {
        let pending = !self.injector.is_empty()
            || self.remotes.iter().any(|remote| !remote.stealer.is_empty());
        if pending {
            self.notify_parked();
        }
    }

    /// Cancels every task and empties the injector. Idempotent.
    fn close_and_cancel_all(&self) {
        // Tasks that wait on a waker sit in no queue: the registry finds
        // them. A worker still stuck in a poll sees CANCELLED after it.
        self.owned.close_and_shutdown_all();
        fence(Ordering::SeqCst);
        drain_injector(self);
        // No worker drives a wheel any more: wake every timer, so that one
        // awaited elsewhere (a `block_on` thread) reports the shutdown.
        self.time.shutdown();
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Registers a `block_on` thread to be woken at shutdown, until the
    /// returned guard drops.
    pub(crate) fn register_block_on(&self, unparker: Unparker) -> BlockOnRegistration<'_> {
        self.block_on_waiters.lock().push(unparker.clone());
        BlockOnRegistration {
            shared: self,
            unparker,
        }
    }

    /// A ring to hand an operation to from a thread that owns none; spread
    /// over the workers.
    pub(crate) fn driver_handle(&self) -> Option<crate::driver::DriverHandle> {
        use std::sync::atomic::AtomicUsize;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let index = NEXT.fetch_add(1, Ordering::Relaxed) % self.remotes.len();
        self.remotes[index].unparker.ring().cloned()
    }

    pub(crate) fn unpark_worker(&self, index: usize) {
        self.remotes[index].unparker.unpark();
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    pub(crate) fn spawned_tasks(&self) -> u64 {
        self.owned.bound_total()
    }

    pub(crate) fn injection_queue_depth(&self) -> usize {
        self.injector.len()
    }

    pub(crate) fn worker_stats(&self, index: usize) -> (&WorkerStats, usize) {
        let remote = &self.remotes[index];
        (&remote.stats, remote.stealer.len())
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Runnable) {
        self.schedule_task(task, false);
    }

    fn yield_now(&self, task: Runnable) {
        self.schedule_task(task, true);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }

    fn unhandled_panic(&self) {
        if self.config.unhandled_panic == crate::UnhandledPanic::ShutdownRuntime {
            self.panicked.store(true, Ordering::Release);
            begin_shutdown(self);
        }
    }
}

/// Tells every worker and `block_on` thread to stop; does not wait.
fn begin_shutdown(shared: &Shared) {
    if shared.shutdown.swap(true, Ordering::SeqCst) {
        return;
    }
    shared.idle.unpark_all();
    for remote in shared.remotes.iter() {
        remote.unparker.unpark();
    }
    for waiter in shared.block_on_waiters.lock().iter() {
        waiter.unpark();
    }
}

/// Full shutdown: stops the workers, waits for them (up to `timeout`),
/// then cancels every task left. Returns `false` on a timeout.
pub(crate) fn shutdown_and_wait(
    shared: &Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
    timeout: Option<Duration>,
) -> bool {
    begin_shutdown(shared);
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut running = shared.running_workers.lock();
    while *running > 0 {
        match deadline {
            None => shared.workers_done.wait(&mut running),
            Some(deadline) => {
                if shared
                    .workers_done
                    .wait_until(&mut running, deadline)
                    .timed_out()
                {
                    break;
                }
            }
        }
    }
    let all_stopped = *running == 0;
    drop(running);
    if all_stopped {
        for thread in threads {
            let _ = thread.join();
        }
    }
    shared.close_and_cancel_all();
    all_stopped
}

/// Drops every queued `Notified`; their tasks were shut down already.
fn drain_injector(shared: &Shared) {
    loop {
        match shared.injector.steal() {
            crossbeam_deque::Steal::Success(task) => drop(task),
            crossbeam_deque::Steal::Retry => continue,
            crossbeam_deque::Steal::Empty => break,
        }
    }
}
