//! The blocking pool: threads for synchronous work, so it never holds a worker.
//!
//! A blocking closure is an ordinary task whose future runs the closure on
//! its first poll; it gets the same `JoinHandle`, panic capture and
//! cancellation (before it starts) as any task. Threads are started on
//! demand up to `max_blocking_threads` and leave after `keep_alive` idle.

use crate::scheduler::{context, Callback, Handle};
use crate::task::{new_task, JoinHandle, Notified, Schedule, Task};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Runs `f` on the blocking pool and returns a handle to its result.
///
/// Use it for work that would hold a worker too long: blocking system calls,
/// synchronous libraries, heavy computation. Cancelling the handle before
/// the closure starts drops it unrun; once started it runs to the end.
///
/// # Panics
/// Outside a runtime.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// let sum = rt.block_on(async {
///     runtime::spawn_blocking(|| (1..=100u64).sum::<u64>()).await.unwrap()
/// });
/// assert_eq!(sum, 5050);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let location = Location::caller();
    match context::current() {
        Some(handle) => handle.blocking().spawn(f, location),
        None => panic!(
            "`runtime::spawn_blocking` called outside of a runtime: call it from inside \
             `Runtime::block_on` or a task, or after `Handle::enter`"
        ),
    }
}

/// A closure as a future that runs it on the first poll.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("a blocking task is polled once: it never returns Pending");
        Poll::Ready(f())
    }
}

/// The pool; cloned into each runtime handle.
#[derive(Clone)]
pub(crate) struct BlockingPool {
    inner: Arc<Pool>,
}

struct Pool {
    state: Mutex<PoolState>,
    /// Idle threads wait here for work.
    work: Condvar,
    /// Shutdown waits here for the last thread to leave.
    all_exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
    on_thread_start: Option<Callback>,
    on_thread_stop: Option<Callback>,
}

struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// Wake-ups sent to idle threads and not yet taken, so that a thread
    /// woken by a timeout does not mistake itself for a notified one.
    notified: usize,
    shutdown: bool,
    /// The runtime, for the threads' context; cleared at shutdown to break
    /// the pool ↔ runtime cycle.
    handle: Option<Handle>,
    workers: HashMap<usize, std::thread::JoinHandle<()>>,
    next_worker_id: usize,
    /// Threads running a detachable job now (by id): shutdown does not
    /// wait for them.
    detached: HashSet<usize>,
}

/// How long shutdown waits for a detachable call before leaving its thread
/// to finish in the background.
const DETACH_GRACE: Duration = Duration::from_secs(1);

/// A queued closure.
struct Job {
    task: Notified<BlockingSchedule>,
    /// The epoll driver's system calls for I/O whose future is gone (at
    /// shutdown every one is): a call that blocks forever (`open` of a FIFO
    /// nobody opens for writing) must not hold the runtime's drop. Such a
    /// thread is left to finish in the background, as with
    /// `shutdown_background`; what it holds is behind `Arc`s.
    detachable: bool,
}

/// The scheduler of blocking tasks: a wake (only a cancel can cause one)
/// queues the task for a pool thread.
#[derive(Clone)]
struct BlockingSchedule {
    pool: Arc<Pool>,
}

impl Schedule for BlockingSchedule {
    fn schedule(&self, task: Notified<Self>) {
        // Only a cancel wakes a blocking task (its closure then drops
        // unrun, running the user's `Drop`: waited for like any closure).
        self.pool.push(Job {
            task,
            detachable: false,
        });
    }

    fn release(&self, _task: &Task<Self>) -> Option<Task<Self>> {
        // Blocking tasks are not in a registry: the pool's queue is the
        // only place one can wait, and shutdown drains it.
        None
    }
}

pub(crate) struct PoolConfig {
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) thread_name: String,
    pub(crate) on_thread_start: Option<Callback>,
    pub(crate) on_thread_stop: Option<Callback>,
}

impl BlockingPool {
    pub(crate) fn new(config: PoolConfig) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Pool {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                    handle: None,
                    workers: HashMap::new(),
                    next_worker_id: 0,
                    detached: HashSet::new(),
                }),
                work: Condvar::new(),
                all_exited: Condvar::new(),
                max_threads: config.max_threads,
                keep_alive: config.keep_alive,
                thread_name: config.thread_name,
                on_thread_start: config.on_thread_start,
                on_thread_stop: config.on_thread_stop,
            }),
        }
    }

    /// Gives the pool its runtime's handle (once the runtime exists).
    pub(crate) fn set_handle(&self, handle: Handle) {
        self.inner.state.lock().handle = Some(handle);
    }

    pub(crate) fn spawn<F, R>(&self, f: F, location: &'static Location<'static>) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_job(f, location, false)
    }

    /// [`spawn`](Self::spawn) for the epoll driver's blocking system calls:
    /// the pool's shutdown does not wait for the call to return (see `Job`).
    pub(crate) fn spawn_detachable<F, R>(
        &self,
        f: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_job(f, location, true)
    }

    fn spawn_job<F, R>(
        &self,
        f: F,
        location: &'static Location<'static>,
        detachable: bool,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let schedule = BlockingSchedule {
            pool: self.inner.clone(),
        };
        let (task, notified, join) = new_task(BlockingTask(Some(f)), schedule, None, location);
        // No registry: its reference goes now (see `release`).
        drop(task);
        self.inner.push(Job {
            task: notified,
            detachable,
        });
        join
    }

    /// Threads currently in the pool.
    pub(crate) fn num_threads(&self) -> usize {
        self.inner.state.lock().threads
    }

    /// Cancels queued closures, waits for running ones (at most until
    /// `deadline`) and joins the threads. `false` if the deadline passed.
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) -> bool {
        let pool = &*self.inner;
        let (queued, handle) = {
            let mut state = pool.state.lock();
            state.shutdown = true;
            (std::mem::take(&mut state.queue), state.handle.take())
        };
        pool.work.notify_all();
        // Dropped outside the lock: both run user code.
        for job in queued {
            shutdown_notified(job.task);
        }
        drop(handle);

        // Every thread, but those in a detachable call only for a grace
        // period: such a call normally returns at once (an fsync, a read),
        // and one that does not (an open of a FIFO nobody opens) must not
        // hold the runtime's drop forever.
        let grace_ends = Instant::now() + DETACH_GRACE;
        let mut state = pool.state.lock();
        loop {
            let now = Instant::now();
            let in_grace = now < grace_ends;
            let waited_for = if in_grace { 0 } else { state.detached.len() };
            if state.threads <= waited_for {
                break;
            }
            if deadline.is_some_and(|deadline| now >= deadline) {
                return false;
            }
            // Wake at the deadline, at the end of the grace period, or
            // when a thread leaves (or starts a detachable call).
            let until = match (deadline, in_grace) {
                (Some(deadline), true) => Some(deadline.min(grace_ends)),
                (Some(deadline), false) => Some(deadline),
                (None, true) => Some(grace_ends),
                (None, false) => None,
            };
            match until {
                Some(until) => drop(pool.all_exited.wait_until(&mut state, until)),
                None => pool.all_exited.wait(&mut state),
            }
        }
        let workers = std::mem::take(&mut state.workers);
        let detached = state.detached.clone();
        drop(state);
        for (id, worker) in workers {
            // A thread still in a detachable call is left to end by itself.
            if !detached.contains(&id) {
                let _ = worker.join();
            }
        }
        true
    }
}

/// Cancels a queued blocking task: its closure is dropped unrun.
fn shutdown_notified(task: Notified<BlockingSchedule>) {
    // SAFETY: the Notified's reference moves to the Task that shuts it down.
    let task: Task<BlockingSchedule> = unsafe { Task::from_raw(task.into_raw()) };
    task.shutdown();
}

impl Pool {
    fn push(self: &Arc<Self>, job: Job) {
        let mut state = self.state.lock();
        if state.shutdown {
            drop(state);
            return shutdown_notified(job.task);
        }
        state.queue.push_back(job);
        if state.idle > state.notified {
            state.notified += 1;
            self.work.notify_one();
        } else if state.threads < self.max_threads {
            let id = state.next_worker_id;
            state.next_worker_id += 1;
            let pool = self.clone();
            let spawned = std::thread::Builder::new()
                .name(self.thread_name.clone())
                .spawn(move || pool.run(id));
            match spawned {
                Ok(worker) => {
                    state.threads += 1;
                    state.workers.insert(id, worker);
                }
                // Out of threads: the task waits for a running thread to
                // finish its current closure, like at the limit.
                Err(err) if state.threads > 0 => drop(err),
                Err(err) => panic!("runtime: failed to start a blocking pool thread: {err}"),
            }
        }
    }

    fn run(self: Arc<Self>, id: usize) {
        // The runtime is this thread's current one while it runs user
        // closures (so `Handle::current` works there).
        let mut current = self.state.lock().handle.as_ref().map(context::set_current);
        if let Some(start) = &self.on_thread_start {
            start();
        }
        let mut state = self.state.lock();
        'outer: loop {
            while let Some(job) = state.queue.pop_front() {
                if job.detachable {
                    state.detached.insert(id);
                    // Shutdown may be waiting for the threads it must join.
                    self.all_exited.notify_all();
                    // A driver call needs no runtime context, and one left
                    // behind by shutdown must not keep the runtime (its
                    // reactor's descriptors) alive while it blocks.
                    drop(state);
                    drop(current.take());
                    job.task.run();
                    state = self.state.lock();
                    state.detached.remove(&id);
                    current = state.handle.as_ref().map(context::set_current);
                    continue;
                }
                drop(state);
                job.task.run();
                state = self.state.lock();
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            loop {
                let timed_out = self.work.wait_for(&mut state, self.keep_alive).timed_out();
                if state.notified > 0 {
                    state.notified -= 1;
                    state.idle -= 1;
                    continue 'outer;
                }
                if state.shutdown || (timed_out && state.queue.is_empty()) {
                    state.idle -= 1;
                    if !state.shutdown {
                        // Leaving on keep-alive: nobody will join this thread.
                        drop(state.workers.remove(&id));
                    }
                    break 'outer;
                }
            }
        }
        drop(state);
        if let Some(stop) = &self.on_thread_stop {
            stop();
        }
        let mut state = self.state.lock();
        state.threads -= 1;
        if state.threads <= state.detached.len() {
            self.all_exited.notify_all();
        }
    }
}
