//! Entry points for the loom models in `loom-tests/`. This module exists only
//! under `cfg(loom)` (as `runtime::__loom`); a normal build has none of it.
//!
//! It exposes purpose-built wrappers rather than the internals themselves:
//!
//! * [`TestScheduler`]: a scheduler whose queue the model steps by hand
//!   (`tick`), with the runtime's real task registry (`OwnedTasks`). Tasks
//!   spawned on it are real task cells (state word, harness, join waker hand-off);
//!   [`JoinHandle`] and [`CancelHandle`](crate::CancelHandle) are the public ones.
//! * [`Idle`]: the multi-thread scheduler's idle protocol, unchanged.
//!
//! Every synchronization point on these paths is a loom type (through
//! `crate::loom`), so loom explores their interleavings. The scheduler handle
//! that each task cell holds is a loom `Arc`: a task cell that is never freed
//! keeps it alive, and loom reports the leak at the end of the iteration.

use crate::loom::Mutex;
use crate::scheduler::multi_thread::Idle as RealIdle;
use crate::task::list::OwnedTasks;
use crate::task::{spawn_bound, JoinHandle, Notified, Schedule, Task};
use loom::sync::Arc;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;

/// A hand-stepped scheduler for loom models. Cloning it clones a handle to
/// the same queue and registry.
#[derive(Clone)]
pub struct TestScheduler {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<VecDeque<Notified<Arc<Inner>>>>,
    owned: OwnedTasks<Arc<Inner>>,
}

impl Schedule for Arc<Inner> {
    fn schedule(&self, task: Notified<Self>) {
        self.queue.lock().push_back(task);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }

    fn unhandled_panic(&self) {
        // The harness catches panics from a task's future, and with them any
        // panic loom raises *inside* the task (a data race on the stage, a
        // causality violation). Models use futures that never panic, so a
        // panicked task always means something went wrong: fail loudly.
        panic!(
            "a task panicked inside a loom model; if the model's future cannot \
             panic, this is loom reporting a violation (see the message above)"
        );
    }
}

impl TestScheduler {
    /// An empty scheduler with an open registry.
    pub fn new() -> TestScheduler {
        TestScheduler {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                // One shard: fewer loom objects, same code paths.
                owned: OwnedTasks::new(1),
            }),
        }
    }

    /// Spawns `future` through the runtime's own spawn sequence
    /// (`task::spawn_bound`): binds the task to the registry and queues its
    /// first poll; if the registry is closed, the task is shut down at once
    /// and its handle reports `Cancelled`.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let inner = &self.inner;
        spawn_bound(
            &inner.owned,
            inner.clone(),
            future,
            None,
            Location::caller(),
            |task| inner.schedule(task),
        )
    }

    /// Polls the task at the front of the queue, if any; `true` if one ran.
    pub fn tick_one(&self) -> bool {
        // The lock is released before the poll, as in the real schedulers.
        let next = self.inner.queue.lock().pop_front();
        match next {
            Some(task) => {
                task.run();
                true
            }
            None => false,
        }
    }

    /// Polls queued tasks until the queue is empty (tasks queued meanwhile
    /// included); returns how many polls ran.
    pub fn tick(&self) -> usize {
        let mut ran = 0;
        while self.tick_one() {
            ran += 1;
        }
        ran
    }

    /// Queued `Notified`s.
    pub fn queued(&self) -> usize {
        self.inner.queue.lock().len()
    }

    /// Tasks in the registry (spawned and not yet completed or shut down).
    pub fn live(&self) -> usize {
        self.inner.owned.live()
    }

    /// Runtime shutdown as the multi-thread flavor does it: closes the
    /// registry and shuts down every task in it, then drops every queued
    /// `Notified`.
    pub fn shutdown(&self) {
        self.inner.owned.close_and_shutdown_all();
        let drained: Vec<_> = self.inner.queue.lock().drain(..).collect();
        // Dropped outside the lock: the last reference may free a cell.
        drop(drained);
    }
}

impl Default for TestScheduler {
    fn default() -> Self {
        TestScheduler::new()
    }
}

impl fmt::Debug for TestScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestScheduler").finish_non_exhaustive()
    }
}

/// The multi-thread scheduler's idle protocol (`scheduler/multi_thread/idle.rs`),
/// method for method; see that module for the rules.
pub struct Idle(RealIdle);

impl Idle {
    /// All `num_workers` workers start unparked and not searching.
    pub fn new(num_workers: usize) -> Idle {
        Idle(RealIdle::new(num_workers))
    }

    /// Rule 2: after pushing work, the worker to wake, if any (already
    /// counted as unparked and searching).
    pub fn worker_to_notify(&self) -> Option<usize> {
        self.0.worker_to_notify()
    }

    /// Rule 1: may this worker start searching?
    pub fn transition_worker_to_searching(&self) -> bool {
        self.0.transition_worker_to_searching()
    }

    /// Rule 3: a searcher found work; `true` if it was the last searcher
    /// (it must then wake a peer).
    pub fn transition_worker_from_searching(&self) -> bool {
        self.0.transition_worker_from_searching()
    }

    /// Rule 4: the worker parks; `true` if it was the last searcher (it must
    /// then rescan every queue).
    pub fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> bool {
        self.0.transition_worker_to_parked(index, is_searching)
    }

    /// After a wake-up: `true` if the worker was notified (it is now
    /// unparked and searching), `false` if it still counts as parked.
    pub fn transition_worker_from_parked(&self, index: usize) -> bool {
        self.0.transition_worker_from_parked(index)
    }

    /// A parked worker woke by itself (its timer fired) with work to do:
    /// `true` if it took itself off the list (unparked, not searching),
    /// `false` if it had been notified meanwhile (unparked and searching).
    pub fn unpark_worker_by_id(&self, index: usize) -> bool {
        self.0.unpark_worker_by_id(index)
    }

    /// Shutdown: takes every parked worker off the list.
    pub fn unpark_all(&self) -> Vec<usize> {
        self.0.unpark_all()
    }
}

impl fmt::Debug for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idle").finish_non_exhaustive()
    }
}

/// The epoll driver's hand-off between a blocking op's future and the pool
/// closure that makes its system call (`driver/epoll/slot.rs`), unchanged.
pub struct BlockingSlot<T>(crate::driver::epoll::slot::Slot<T>);

impl<T> BlockingSlot<T> {
    /// A slot holding the op's data.
    pub fn new(data: T) -> BlockingSlot<T> {
        BlockingSlot(crate::driver::epoll::slot::Slot::new(data))
    }

    /// The closure, before the call: the data, or `None` if abandoned.
    pub fn start(&self) -> Option<T> {
        self.0.start()
    }

    /// The closure, after the call: `Some` if it must complete the data.
    pub fn finish(&self, data: T, res: i32) -> Option<(T, i32)> {
        self.0.finish(data, res)
    }

    /// The future, once the closure is over.
    pub fn take(&self) -> Option<(T, Option<i32>)> {
        self.0.take()
    }

    /// The future's drop: `Some` if it must complete the data.
    pub fn abandon(&self) -> Option<(T, i32)> {
        self.0.abandon()
    }
}

impl<T: fmt::Debug> fmt::Debug for BlockingSlot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlockingSlot").field(&self.0).finish()
    }
}
