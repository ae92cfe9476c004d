//! Local tasks (`task::spawn_local`): futures that need not be `Send`,
//! pinned to the thread that spawned them.
//!
//! # The design
//!
//! A local task is an ordinary task cell (same state word, `JoinHandle`,
//! cancellation, panics, dumps) whose scheduler handle is a [`LocalQueue`]
//! instead of the runtime's shared state. Waking the task, from any
//! thread, pushes it onto that queue and wakes the queue's owner thread;
//! nothing else ever queues it, so no worker can steal it and no other
//! thread can poll it. The owner thread runs the queue between its other
//! work: a worker alternates it with its stealable tasks (one of each per
//! tick, so neither starves the other), a `block_on` runs it between polls
//! of the root future.
//!
//! One queue exists per (thread, runtime) pair that has spawned a local
//! task; a thread that never calls `spawn_local` pays one thread-local
//! lookup per scheduler tick and nothing else. A queue is *active* while
//! its thread drives the runtime (a worker's life, one `block_on` call)
//! and *idle* in between: a `block_on` that returns while its local tasks
//! still wait leaves them parked on the thread, and the thread's next
//! `block_on` on that runtime runs them again.
//!
//! # Invariants
//!
//! 1. A local future is polled, cancelled and dropped only on its owner
//!    thread: only the owner pops the queue, and the queue's registry is
//!    shut down only by the owner (`shutdown_on_owner` asserts it). Runtime
//!    shutdown, which shuts tasks down from whichever thread drops the
//!    runtime, never sees local tasks: they are in their queue's registry,
//!    not the runtime's.
//! 2. A queued task is never lost to a sleeping owner: `schedule` pushes
//!    under the queue's lock, then wakes the waker the owner registered;
//!    the owner checks the queue after registering that waker and before
//!    every sleep, and the wakers it uses (a worker's unparker, a
//!    `block_on` parker) keep an unpark that arrives before the sleep.
//! 3. Local futures are dropped on their thread when the runtime shuts
//!    down: a worker shuts its queue down as it exits; a thread that drops
//!    the runtime shuts down its own idle queue; a `block_on` that returns
//!    on a shut-down runtime shuts down its queue; and a thread's exit
//!    shuts down whatever it still holds (the thread-local destructor).
//!
//! Trade-off, stated plainly: the local tasks of a thread that left its
//! `block_on` wait until that thread calls `block_on` again (or exits);
//! nothing else can run them. tokio's `LocalSet` has the same property.

use super::{Handle, WeakHandle};
// The queue's lock and counter are the loom shim's: `loom-tests` models
// the hand-off between `schedule` and the owner (`local_queue.rs`).
use crate::loom::{AtomicUsize, Mutex, Ordering};
use crate::task::list::OwnedTasks;
use crate::task::{bind_and_schedule, new_local_task, JoinHandle, Notified, Schedule, Task};
use crate::task::{TaskId, TaskInfo};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::thread::ThreadId;

pub(crate) type LocalRunnable = Notified<Arc<LocalQueue>>;

/// The local tasks of one thread on one runtime.
pub(crate) struct LocalQueue {
    inner: Mutex<Inner>,
    /// How many tasks `inner.queue` holds: read without the lock, by the
    /// owner before each tick and before it sleeps (a hint; the pop takes
    /// the lock).
    queued: AtomicUsize,
    owned: OwnedTasks<Arc<LocalQueue>>,
    owner: ThreadId,
    /// `None` only in the loom models, which have no runtime.
    runtime: Option<WeakHandle>,
}

struct Inner {
    queue: VecDeque<LocalRunnable>,
    /// Wakes the owner while it drives the runtime; `None` while it does
    /// not (the queue then waits for the owner's next `block_on`).
    waker: Option<Waker>,
    /// Set once the owner shut the queue down: wakes drop their task.
    closed: bool,
}

impl LocalQueue {
    pub(crate) fn new(runtime: Option<WeakHandle>, waker: Option<Waker>) -> LocalQueue {
        LocalQueue {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                waker,
                closed: false,
            }),
            queued: AtomicUsize::new(0),
            owned: OwnedTasks::new(1),
            owner: std::thread::current().id(),
            runtime,
        }
    }

    pub(crate) fn set_waker(&self, waker: Option<Waker>) {
        let old = std::mem::replace(&mut self.inner.lock().waker, waker);
        // Dropped outside the lock: it may be the last handle on a parker.
        drop(old);
    }

    pub(crate) fn pop(&self) -> Option<LocalRunnable> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut inner = self.inner.lock();
        let task = inner.queue.pop_front();
        self.queued.store(inner.queue.len(), Ordering::Release);
        task
    }

    fn is_for(&self, runtime: &Handle) -> bool {
        self.runtime.as_ref().is_some_and(|r| r.is(runtime))
    }

    /// Whether tasks are queued (the owner's look before it sleeps).
    pub(crate) fn has_work(&self) -> bool {
        self.queued.load(Ordering::Acquire) > 0
    }

    /// Invariant 3: cancels and drops every local task, on their thread.
    pub(crate) fn shutdown_on_owner(&self) {
        assert_eq!(
            std::thread::current().id(),
            self.owner,
            "local tasks shut down off their thread"
        );
        let queued = {
            let mut inner = self.inner.lock();
            inner.closed = true;
            inner.waker = None;
            self.queued.store(0, Ordering::Release);
            std::mem::take(&mut inner.queue)
        };
        // Outside the lock: dropping a task runs user code, which may wake
        // another local task (and so take the lock).
        drop(queued);
        self.owned.close_and_shutdown_all();
    }
}

impl Schedule for Arc<LocalQueue> {
    fn schedule(&self, task: LocalRunnable) {
        let waker = {
            let mut inner = self.inner.lock();
            if inner.closed {
                drop(inner);
                // The owner shut its tasks down: this one is already
                // cancelled, and its queued reference just goes.
                drop(task);
                return;
            }
            inner.queue.push_back(task);
            self.queued.store(inner.queue.len(), Ordering::Release);
            inner.waker.clone()
        };
        // Invariant 2: pushed first, then the owner is woken.
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }

    fn unhandled_panic(&self) {
        match self.runtime.as_ref().and_then(WeakHandle::upgrade) {
            Some(Handle::CurrentThread(shared)) => shared.unhandled_panic(),
            Some(Handle::MultiThread(shared)) => shared.unhandled_panic(),
            None => {}
        }
    }
}

/// The local queues of one runtime, for dumps and metrics. Holds them
/// weakly: a queue belongs to its thread.
#[derive(Default)]
pub(crate) struct LocalQueues {
    queues: parking_lot::Mutex<Vec<Weak<LocalQueue>>>,
    spawned: AtomicU64,
}

impl LocalQueues {
    fn register(&self, queue: &Arc<LocalQueue>) {
        let mut queues = self.queues.lock();
        queues.retain(|q| q.strong_count() > 0);
        queues.push(Arc::downgrade(queue));
    }

    fn live_queues(&self) -> Vec<Arc<LocalQueue>> {
        self.queues
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Every live local task (`Handle::dump`).
    pub(crate) fn snapshot(&self) -> Vec<TaskInfo> {
        self.live_queues()
            .iter()
            .flat_map(|q| q.owned.snapshot())
            .collect()
    }

    /// Local tasks spawned and not yet ended.
    pub(crate) fn live(&self) -> usize {
        self.live_queues().iter().map(|q| q.owned.live()).sum()
    }

    /// Local tasks ever spawned on the runtime.
    pub(crate) fn spawned(&self) -> u64 {
        self.spawned.load(Ordering::Relaxed)
    }

    /// For a stall report about a local task.
    pub(crate) fn label_of(&self, id: TaskId) -> Option<crate::task::list::TaskLabel> {
        self.live_queues().iter().find_map(|q| q.owned.label_of(id))
    }
}

/// What this thread holds.
#[derive(Default)]
struct ThreadQueues {
    /// While the thread drives a runtime: which, its waker, and the
    /// thread's queue for it once a local task was spawned.
    active: Option<Active>,
    /// Queues of runtimes this thread does not drive right now, with
    /// tasks still waiting.
    idle: Vec<Arc<LocalQueue>>,
}

struct Active {
    runtime: WeakHandle,
    waker: Option<Waker>,
    queue: Option<Arc<LocalQueue>>,
}

impl Drop for ThreadQueues {
    fn drop(&mut self) {
        // Invariant 3, last resort: the thread exits with local tasks.
        let active = self.active.take().and_then(|a| a.queue);
        for queue in active.into_iter().chain(self.idle.drain(..)) {
            queue.shutdown_on_owner();
        }
    }
}

thread_local! {
    static QUEUES: RefCell<ThreadQueues> = RefCell::new(ThreadQueues::default());
    /// Set once this thread has had a local queue: until then the
    /// scheduler's per-tick look (`has_work`, `run_one`) is one read of a
    /// plain thread-local flag, not a borrow of `QUEUES` (that borrow cost
    /// fork_join 40 %).
    static EVER_HAD_QUEUE: Cell<bool> = const { Cell::new(false) };
}

/// This thread drives `runtime` until the guard drops: local tasks may be
/// spawned here and run here.
pub(crate) fn attach(runtime: &Handle) -> Attached {
    let weak = runtime.downgrade();
    let _ = QUEUES.try_with(|queues| {
        let mut queues = queues.borrow_mut();
        debug_assert!(queues.active.is_none(), "a thread drives one runtime");
        let at = queues.idle.iter().position(|q| q.is_for(runtime));
        let queue = at.map(|at| queues.idle.swap_remove(at));
        if queue.is_some() {
            let _ = EVER_HAD_QUEUE.try_with(|flag| flag.set(true));
        }
        queues.active = Some(Active {
            runtime: weak,
            waker: None,
            queue,
        });
    });
    Attached { _private: () }
}

/// See [`attach`]. Dropping it detaches the thread; a queue whose runtime
/// has shut down is shut down here, on its thread.
pub(crate) struct Attached {
    _private: (),
}

impl Attached {
    /// What wakes this thread when a local task is woken from elsewhere.
    /// Call before checking for local work and sleeping (invariant 2).
    pub(crate) fn set_waker(&self, waker: &Waker) {
        let queue = QUEUES
            .try_with(|queues| {
                let mut queues = queues.borrow_mut();
                let active = queues.active.as_mut()?;
                if active.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    return None;
                }
                active.waker = Some(waker.clone());
                active.queue.clone()
            })
            .ok()
            .flatten();
        if let Some(queue) = queue {
            queue.set_waker(Some(waker.clone()));
        }
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let Ok(Some(active)) = QUEUES.try_with(|q| q.borrow_mut().active.take()) else {
            return;
        };
        let Some(queue) = active.queue else { return };
        queue.set_waker(None);
        let shut_down = active.runtime.upgrade().is_none_or(|h| h.is_shutdown());
        if shut_down {
            queue.shutdown_on_owner();
        } else if queue.owned.live() > 0 {
            let _ = QUEUES.try_with(|q| q.borrow_mut().idle.push(queue));
        }
    }
}

/// Shuts down this thread's idle queue for `runtime`, which is shutting
/// down (invariant 3: the thread dropping the runtime).
pub(crate) fn shutdown_idle_on_this_thread(runtime: &Handle) {
    let queue = QUEUES
        .try_with(|queues| {
            let mut queues = queues.borrow_mut();
            let at = queues.idle.iter().position(|q| q.is_for(runtime))?;
            Some(queues.idle.swap_remove(at))
        })
        .ok()
        .flatten();
    if let Some(queue) = queue {
        queue.shutdown_on_owner();
    }
}

/// Whether this thread's active queue has tasks waiting.
pub(crate) fn has_work() -> bool {
    if !EVER_HAD_QUEUE.try_with(Cell::get).unwrap_or(false) {
        return false;
    }
    QUEUES
        .try_with(|queues| {
            let queues = queues.borrow();
            let queue = queues.active.as_ref().and_then(|a| a.queue.as_ref());
            queue.is_some_and(|q| q.has_work())
        })
        .unwrap_or(false)
}

/// Pops one task of this thread's active queue and hands it to `run`;
/// `false` if there was none.
pub(crate) fn run_one(run: impl FnOnce(LocalRunnable)) -> bool {
    if !has_work() {
        return false;
    }
    // The queue is cloned out of the thread-local: the task may spawn
    // local tasks, which borrows it again.
    let queue = QUEUES
        .try_with(|q| q.borrow().active.as_ref()?.queue.clone())
        .ok()
        .flatten();
    match queue.and_then(|q| q.pop()) {
        Some(task) => {
            run(task);
            true
        }
        None => false,
    }
}

/// `task::spawn_local`: the task runs on this thread only.
#[track_caller]
pub(crate) fn spawn<F>(
    future: F,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let found = QUEUES
        .try_with(|queues| {
            let mut queues = queues.borrow_mut();
            let active = queues.active.as_mut()?;
            let runtime = active.runtime.upgrade()?;
            let queue = match &active.queue {
                Some(queue) => queue.clone(),
                None => {
                    let queue = Arc::new(LocalQueue::new(
                        Some(active.runtime.clone()),
                        active.waker.clone(),
                    ));
                    runtime.locals().register(&queue);
                    let _ = EVER_HAD_QUEUE.try_with(|flag| flag.set(true));
                    active.queue = Some(queue.clone());
                    queue
                }
            };
            Some((runtime, queue))
        })
        .ok()
        .flatten();
    let Some((runtime, queue)) = found else {
        panic!(
            "`runtime::task::spawn_local` called on a thread that runs no tasks: a local task \
             runs only on the thread that spawns it, so call it from a task or from inside \
             `Runtime::block_on` (not from `spawn_blocking`, a plain thread or a thread that only \
             entered a runtime with `Handle::enter`)"
        );
    };
    runtime
        .locals()
        .spawned
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: `queue` is this thread's (`spawn` reads this thread's
    // active queue): only this thread pops it (`run_one`).
    unsafe { spawn_on(&queue, future, name, location) }
}

/// Binds a new local task to `queue` and queues its first poll.
///
/// # Safety
/// Only the calling thread pops `queue` and shuts it down (invariant 1).
pub(crate) unsafe fn spawn_on<F>(
    queue: &Arc<LocalQueue>,
    future: F,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    // The task's scheduler is `queue`, which only this thread pops (the
    // caller's contract) and only its owner, this thread, shuts down
    // (`shutdown_on_owner` asserts it). `JoinHandle<T>` is `Send` only for
    // `T: Send`.
    // SAFETY: so the future is polled and dropped on this thread only.
    let (task, notified, join) = unsafe { new_local_task(future, queue.clone(), name, location) };
    // A closed registry (the runtime shut down meanwhile) shuts the task
    // down at once, here; its handle then reports the cancellation.
    bind_and_schedule(&queue.owned, task, notified, |task| queue.schedule(task));
    join
}
