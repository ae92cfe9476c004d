//! `JoinSet`: a group of tasks joined in the order they finish.
//!
//! Each entry's `JoinHandle` is polled with a waker of its own that, when
//! fired, queues the entry's slot index on a shared ready list and wakes
//! whoever waits in `join_next`. Handles complete by waking their join
//! waker, so the ready list is in completion order, and `join_next` polls
//! only the entries that were woken instead of all of them.

use super::{spawn, CancelHandle, JoinError, JoinHandle};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A set of tasks spawned on the current runtime, awaited in the order they
/// complete. Dropping the set cancels every task still in it, so
/// cancellation cascades down a tree of tasks that own `JoinSet`s.
///
/// # Examples
///
/// ```
/// use runtime::task::JoinSet;
///
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut sum = 0;
///     while let Some(result) = set.join_next().await {
///         sum += result.unwrap();
///     }
///     assert_eq!(sum, 285);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinSet<T> {
    slots: Vec<Option<Entry<T>>>,
    free: Vec<usize>,
    len: usize,
    shared: Arc<Shared>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    waker: Waker,
    wake: Arc<EntryWake>,
}

struct Shared {
    ready: Mutex<Ready>,
}

struct Ready {
    indices: VecDeque<usize>,
    /// The task waiting in `join_next`, if any.
    waiter: Option<Waker>,
}

/// What polling one entry gave.
enum Polled<T> {
    Ready(Result<T, JoinError>),
    Pending,
    /// Pending, but already woken again: stop polling for now.
    Yielded,
}

/// The waker an entry's handle is polled with.
struct EntryWake {
    index: usize,
    /// Set while the index sits in the ready list, so it is queued once.
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for EntryWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel pairs with the Release store in `poll_entry`: a wake that
        // finds the flag clear is after the poll that cleared it.
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let waiter = {
            let mut ready = self.shared.ready.lock();
            ready.indices.push_back(self.index);
            ready.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// An empty set. Making one needs no runtime; spawning into it does.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    ///
    /// let set: JoinSet<u32> = JoinSet::new();
    /// assert!(set.is_empty());
    /// assert_eq!(set.len(), 0);
    /// ```
    pub fn new() -> Self {
        JoinSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            shared: Arc::new(Shared {
                ready: Mutex::new(Ready {
                    indices: VecDeque::new(),
                    waiter: None,
                }),
            }),
        }
    }

    /// Spawns `future` on the current runtime as a member of this set.
    ///
    /// # Panics
    /// Outside a runtime, like [`spawn`](crate::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     let first = set.spawn(async { 1 });
    ///     let second = set.spawn(async { 2 });
    ///     assert_ne!(first.id(), second.id());
    ///     assert_eq!(set.len(), 2);
    ///     let mut outputs = set.join_all().await;
    ///     outputs.sort();
    ///     assert_eq!(outputs, [1, 2]);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> CancelHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let handle = spawn(future);
        let cancel = handle.cancel_handle();
        self.insert(handle);
        cancel
    }

    fn insert(&mut self, handle: JoinHandle<T>) {
        let index = self.free.pop().unwrap_or(self.slots.len());
        let wake = Arc::new(EntryWake {
            index,
            queued: AtomicBool::new(false),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(wake.clone());
        if index == self.slots.len() {
            self.slots.push(None);
        }
        self.slots[index] = Some(Entry {
            handle,
            waker: waker.clone(),
            wake,
        });
        self.len += 1;
        // Queue the new entry so that its first poll registers its waker.
        waker.wake();
    }

    /// Waits for the next task to finish and returns its result; `None`
    /// when the set is empty. Results come in completion order.
    ///
    /// Cancel safety: if this future is dropped before it completes, no
    /// result is lost; the task stays in the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    /// use runtime::time::{self, Duration};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async {
    ///         time::sleep(Duration::from_secs(1)).await;
    ///         "slow"
    ///     });
    ///     set.spawn(async { "fast" });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), "fast");
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), "slow");
    ///     assert!(set.join_next().await.is_none()); // empty
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The result of a task that has already finished, without waiting;
    /// `None` if none has (or the set is empty).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async { 7 });
    ///     // This thread has not yielded yet, so the task has not run.
    ///     assert!(set.try_join_next().is_none());
    ///     runtime::task::yield_now().await;
    ///     assert_eq!(set.try_join_next().unwrap().unwrap(), 7);
    ///     assert!(set.try_join_next().is_none());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        loop {
            let index = self.shared.ready.lock().indices.pop_front()?;
            match self.poll_entry(index, &mut cx) {
                Polled::Ready(result) => return Some(result),
                Polled::Pending => {}
                // Out of budget; the entry is queued again for next time.
                Polled::Yielded => return None,
            }
        }
    }

    fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        loop {
            let index = {
                let mut ready = self.shared.ready.lock();
                match ready.indices.pop_front() {
                    Some(index) => index,
                    None => {
                        // Registered under the lock that wakers queue under,
                        // so no wake can slip between the check and this.
                        ready.waiter = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            };
            match self.poll_entry(index, cx) {
                Polled::Ready(result) => return Poll::Ready(Some(result)),
                Polled::Pending => {}
                // The caller was woken and comes back with a fresh budget;
                // looping here would pop the same entry forever.
                Polled::Yielded => return Poll::Pending,
            }
        }
    }

    /// Polls the entry at `index` with its own waker; removes it when done.
    fn poll_entry(&mut self, index: usize, cx: &mut Context<'_>) -> Polled<T> {
        // A stale index (its entry was taken out since it was queued) is skipped.
        let Some(entry) = self.slots.get_mut(index).and_then(Option::as_mut) else {
            return Polled::Pending;
        };
        entry.wake.queued.store(false, Ordering::Release);
        let mut entry_cx = Context::from_waker(&entry.waker);
        match Pin::new(&mut entry.handle).poll(&mut entry_cx) {
            Poll::Ready(result) => {
                self.slots[index] = None;
                self.free.push(index);
                self.len -= 1;
                Polled::Ready(result)
            }
            Poll::Pending if entry.wake.queued.load(Ordering::Acquire) => {
                // Woken during its own poll: the coop budget is spent (or
                // the task just finished). Make sure the caller comes back.
                cx.waker().wake_by_ref();
                Polled::Yielded
            }
            Poll::Pending => Polled::Pending,
        }
    }

    /// Waits for every task and returns their outputs in completion order.
    ///
    /// # Panics
    /// If a task panicked, the remaining tasks are cancelled and the panic
    /// is resumed in the caller; if a task was cancelled, this panics saying
    /// which.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     for i in 1..=3 {
    ///         set.spawn(async move { i * 10 });
    ///     }
    ///     let mut outputs = set.join_all().await;
    ///     outputs.sort(); // they come in completion order
    ///     assert_eq!(outputs, [10, 20, 30]);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.len);
        while let Some(result) = self.join_next().await {
            match result {
                Ok(output) => outputs.push(output),
                Err(err) => {
                    drop(self);
                    match err.try_into_panic() {
                        Ok(payload) => std::panic::resume_unwind(payload),
                        Err(err) => panic!("JoinSet::join_all: {err}"),
                    }
                }
            }
        }
        outputs
    }

    /// Cancels every task in the set. They stay in the set until joined;
    /// `join_next` then returns their (cancelled, or finished) results.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     for _ in 0..3 {
    ///         set.spawn(std::future::pending::<()>());
    ///     }
    ///     set.cancel_all();
    ///     assert_eq!(set.len(), 3); // in the set until joined
    ///     while let Some(result) = set.join_next().await {
    ///         assert!(result.unwrap_err().is_cancelled());
    ///     }
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel_all(&mut self) {
        for entry in self.slots.iter().flatten() {
            entry.handle.cancel();
        }
    }

    /// Cancels every task and waits until each has ended; the set is empty
    /// afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    /// use runtime::TaskState;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     let watcher = set.spawn(std::future::pending::<()>());
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    ///     assert_eq!(watcher.state(), TaskState::Cancelled);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn shutdown(&mut self) {
        self.cancel_all();
        while self.join_next().await.is_some() {}
    }

    /// The number of tasks in the set (finished ones count until joined).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async {});
    ///     set.spawn(async {});
    ///     runtime::task::yield_now().await; // both run to completion...
    ///     assert_eq!(set.len(), 2); // ...and still count
    ///     set.join_next().await.unwrap().unwrap();
    ///     assert_eq!(set.len(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if the set holds no task.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::task::JoinSet;
    ///
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     assert!(set.is_empty());
    ///     set.spawn(async {});
    ///     assert!(!set.is_empty());
    ///     set.join_next().await.unwrap().unwrap();
    ///     assert!(set.is_empty());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T: Send + 'static> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for entry in self.slots.iter().flatten() {
            entry.handle.cancel();
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}
