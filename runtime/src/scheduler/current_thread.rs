//! The current_thread flavor: one queue, driven by whichever thread is
//! inside `block_on`. The same task core as the multi-thread flavor; no
//! stealing, no worker threads.

use super::park::{Park, Parker, Unpark, Unparker};
use super::stall::StallDetector;
use super::{context, coop, local, Config, Handle};
use crate::metrics::WorkerStats;
use crate::scheduler::blocking::BlockingPool;
use crate::task::list::OwnedTasks;
use crate::task::{spawn_bound, JoinHandle, Notified, Schedule, Task};
use crate::time::driver::TimeDriver;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

type Runnable = Notified<Arc<Shared>>;

pub(crate) struct Shared {
    queue: Mutex<VecDeque<Runnable>>,
    pub(crate) owned: OwnedTasks<Arc<Shared>>,
    pub(crate) time: TimeDriver,
    pub(crate) config: Config,
    pub(crate) blocking: BlockingPool,
    /// The epoll driver, when the runtime runs without a ring.
    pub(crate) reactor: Option<Arc<crate::driver::epoll::Reactor>>,
    /// The driver's ring (or parker), held by the thread in `block_on`
    /// while it drives; `None` while taken.
    park: Mutex<Option<Park>>,
    /// Wakes whichever thread drives (set when the runtime is built).
    driver: Unpark,
    /// `block_on` threads waiting for the driver's parker to come back.
    waiters: Mutex<Vec<Unparker>>,
    shutdown: AtomicBool,
    pub(crate) panicked: AtomicBool,
    pub(crate) stats: WorkerStats,
    /// With `long_poll_warning` set.
    pub(crate) stall: Option<Arc<StallDetector>>,
    /// The threads' queues of local tasks (`task::spawn_local`).
    pub(crate) locals: super::local::LocalQueues,
}

pub(crate) fn build(
    config: Config,
    blocking: BlockingPool,
    ring: Option<crate::driver::Driver>,
    reactor: Option<Arc<crate::driver::epoll::Reactor>>,
) -> std::io::Result<Arc<Shared>> {
    let park = Park::new(ring, config.ring_wait_cap);
    let stall = config
        .long_poll_warning
        .map(|limit| Arc::new(StallDetector::new(limit, 1, config.on_long_poll.clone())));
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        owned: OwnedTasks::new(1),
        time: TimeDriver::new(1, config.start_paused),
        config,
        blocking,
        reactor,
        driver: park.unparker(),
        park: Mutex::new(Some(park)),
        waiters: Mutex::new(Vec::new()),
        shutdown: AtomicBool::new(false),
        panicked: AtomicBool::new(false),
        stats: WorkerStats::default(),
        stall,
        locals: Default::default(),
    });
    if let Some(stall) = &shared.stall {
        let weak = Arc::downgrade(&shared);
        stall.start(Box::new(move |id| {
            let shared = weak.upgrade()?;
            let label = shared.owned.label_of(id);
            label.or_else(|| shared.locals.label_of(id))
        }))?;
    }
    Ok(shared)
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
            self.schedule(task)
        })
    }

    pub(crate) fn spawned_tasks(&self) -> u64 {
        self.owned.bound_total()
    }

    pub(crate) fn queue_depth(&self) -> usize {
        self.queue.lock().len()
    }

    /// Cancels every task and drops every queued one.
    pub(crate) fn shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.owned.close_and_shutdown_all();
        // Taken out under the lock, dropped outside it: a task's last
        // reference may go with it, and freeing a task runs user code.
        let queued = std::mem::take(&mut *self.queue.lock());
        drop(queued);
        // The futures just dropped cancelled their I/O; the kernel must be
        // done with every buffer before the ring may close.
        if let Some(park) = self.park.lock().as_ref() {
            park.shutdown();
        }
        // Timers too: one awaited after this (or now, by a `block_on` on
        // another thread) panics with a message instead of waiting.
        self.time.shutdown();
        self.driver.unpark();
    }

    pub(crate) fn driver_handle(&self) -> Option<crate::driver::DriverHandle> {
        self.driver.ring().cloned()
    }

    /// A timer was registered: the driving thread, if asleep, must
    /// recompute its timeout.
    pub(crate) fn wake_driver_from_elsewhere(&self) {
        self.driver.unpark();
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        // SeqCst pairs the flag with the queue push in `schedule`.
        self.shutdown.load(Ordering::SeqCst)
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Runnable) {
        self.queue.lock().push_back(task);
        if self.is_shutdown() {
            // As in the multi-thread flavor: a task queued after shutdown's
            // drain would keep the runtime alive; drain it here.
            let queued = std::mem::take(&mut *self.queue.lock());
            drop(queued);
            return;
        }
        self.driver.unpark();
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }

    fn unhandled_panic(&self) {
        if self.config.unhandled_panic == crate::UnhandledPanic::ShutdownRuntime {
            self.panicked.store(true, Ordering::Release);
            self.driver.unpark();
        }
    }
}

/// Wakes the root future of a `block_on`.
struct RootWake {
    woken: AtomicBool,
    unparker: Unpark,
}

impl Wake for RootWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.unparker.unpark();
    }
}

pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let handle = Handle::CurrentThread(shared.clone());
    let _enter = context::enter_runtime(&handle);
    // Local tasks spawned on this thread run here, whether it drives the
    // runtime or waits for the thread that does.
    let locals = local::attach(&handle);
    let mut future = std::pin::pin!(future);
    loop {
        // Taken in its own statement: an `if let` would hold the lock for
        // its whole body, and the guard below takes it again.
        let park = shared.park.lock().take();
        if let Some(park) = park {
            let driving = DriveGuard {
                shared,
                park: Some(park),
                // As for multi_thread: only a shutdown during this call is reported.
                panicked_before: shared.panicked.load(Ordering::Acquire),
            };
            return driving.drive(future.as_mut(), &locals);
        }
        // Another thread drives the tasks: poll our own future until it is
        // done or the driver's parker comes back to us.
        let parker = Parker::new();
        shared.waiters.lock().push(parker.unparker());
        let waker = parker.unparker().into_waker();
        locals.set_waker(&waker);
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        let mut ran = 0;
        while ran < shared.config.event_interval
            && local::run_one(|task| coop::with_budget(|| task.run()))
        {
            ran += 1;
        }
        if ran > 0 || local::has_work() {
            continue;
        }
        parker.park();
    }
}

/// Holds the driver's ring; gives it back (and wakes a waiting
/// `block_on`) when dropped, even by a panic.
struct DriveGuard<'a> {
    shared: &'a Arc<Shared>,
    park: Option<Park>,
    panicked_before: bool,
}

impl DriveGuard<'_> {
    fn drive<F: Future>(&self, mut future: Pin<&mut F>, locals: &local::Attached) -> F::Output {
        let shared = self.shared;
        let park = self
            .park
            .as_ref()
            .expect("the driving thread holds the park");
        let _ring = park.enter();
        // A live stall report shows this thread's stack while it drives.
        let _stall = shared.stall.as_deref().map(|stall| stall.attach(0, false));
        let root = Arc::new(RootWake {
            woken: AtomicBool::new(true),
            unparker: park.unparker(),
        });
        let waker = Waker::from(root.clone());
        let mut cx = Context::from_waker(&waker);
        // Local tasks wake the driver, not the root future.
        locals.set_waker(&Waker::from(Arc::new(park.unparker())));
        let interval = shared.config.event_interval as usize;
        let mut busy_since = Instant::now();
        loop {
            if root.woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(output) = coop::with_budget(|| future.as_mut().poll(&mut cx)) {
                    return output;
                }
            }
            let mut ran = 0;
            while ran < interval {
                self.check_panicked();
                if shared.is_shutdown() {
                    break;
                }
                let Some(task) = shared.queue.lock().pop_front() else {
                    break;
                };
                shared.stats.polls.fetch_add(1, Ordering::Relaxed);
                coop::with_budget(|| {
                    super::run_task(shared.stall.as_deref(), &shared.stats, task, 0)
                });
                ran += 1;
            }
            // Then as many of this thread's local tasks, at most.
            let mut ran_local = 0;
            while ran_local < interval
                && !shared.is_shutdown()
                && local::run_one(|task| {
                    shared.stats.polls.fetch_add(1, Ordering::Relaxed);
                    coop::with_budget(|| {
                        super::run_task(shared.stall.as_deref(), &shared.stats, task, 0)
                    });
                })
            {
                ran_local += 1;
            }
            ran += ran_local;
            self.check_panicked();
            park.poll();
            if shared.time.process(0) > 0
                || ran > 0
                || root.woken.load(Ordering::Acquire)
                || local::has_work()
            {
                continue;
            }
            // Nothing to run. A paused clock jumps to the next timer instead
            // of sleeping until it.
            if shared.time.clock().is_paused() && shared.time.advance_paused_to_next() {
                continue;
            }
            shared.stats.add_busy(busy_since.elapsed());
            shared.stats.parks.fetch_add(1, Ordering::Relaxed);
            park.park_timeout(shared.time.park_timeout(0));
            busy_since = Instant::now();
        }
    }

    fn check_panicked(&self) {
        if !self.panicked_before && self.shared.panicked.load(Ordering::Acquire) {
            self.shared.shutdown();
            panic!(
                "a spawned task panicked and the runtime is configured to shut down on \
                 unhandled panic (`UnhandledPanic::ShutdownRuntime`)"
            );
        }
    }
}

impl Drop for DriveGuard<'_> {
    fn drop(&mut self) {
        *self.shared.park.lock() = self.park.take();
        let waiters = std::mem::take(&mut *self.shared.waiters.lock());
        for waiter in waiters {
            waiter.unpark();
        }
    }
}
