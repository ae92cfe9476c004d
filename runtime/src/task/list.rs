//! The registry of live tasks: intrusive doubly linked lists, sharded by task
//! id, one lock per shard.
//!
//! Shutdown needs it to find the tasks that sit in no queue because they
//! wait on a waker. The links live in each task's header, so registering a
//! task allocates nothing. The registry owns one reference to each task it
//! holds; `remove` gives that reference back.
//!
//! Trade-off: every spawn and every completion takes one shard lock. With
//! shards at four times the worker count, two workers rarely meet on one.

use super::core::Header;
use super::dump::TaskInfo;
use super::raw::RawTask;
use super::{Schedule, Task, TaskId, TaskState};
use crate::loom::{Mutex, UnsafeCell};
use std::marker::PhantomData;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::Arc;

/// A task's name and spawn location, for reports.
pub(crate) type TaskLabel = (Option<Arc<str>>, &'static Location<'static>);

/// A task's place in its registry shard; only touched under that shard's lock.
pub(crate) struct Links {
    prev: UnsafeCell<Option<NonNull<Header>>>,
    next: UnsafeCell<Option<NonNull<Header>>>,
}

impl Links {
    pub(crate) fn new() -> Links {
        Links {
            prev: UnsafeCell::new(None),
            next: UnsafeCell::new(None),
        }
    }
}

struct Shard {
    head: Option<NonNull<Header>>,
    /// Set by `close`; a closed shard takes no new task.
    closed: bool,
    /// Tasks listed now, and ever bound: counted under the lock that
    /// `bind` and `remove` hold anyway, rather than in shared atomics that
    /// every spawn on every worker would bounce between cores.
    len: usize,
    bound: u64,
}

// SAFETY: the pointers are only followed under the shard's lock, and the
// tasks they point to are Send + Sync (their headers are atomics or guarded
// by that lock).
unsafe impl Send for Shard {}

/// Reads or writes a header's link fields.
///
/// # Safety (of every function below)
/// The caller holds the lock of the shard the task is (or will be) in, and the
/// header is live (the registry holds a reference).
unsafe fn prev(node: NonNull<Header>) -> Option<NonNull<Header>> {
    // SAFETY: see above.
    let links = unsafe { &node.as_ref().links };
    // SAFETY: see above.
    links.prev.with(|p| unsafe { *p })
}

unsafe fn next(node: NonNull<Header>) -> Option<NonNull<Header>> {
    // SAFETY: see above.
    let links = unsafe { &node.as_ref().links };
    // SAFETY: see above.
    links.next.with(|p| unsafe { *p })
}

unsafe fn set_prev(node: NonNull<Header>, value: Option<NonNull<Header>>) {
    // SAFETY: see above.
    let links = unsafe { &node.as_ref().links };
    // SAFETY: see above.
    links.prev.with_mut(|p| unsafe { *p = value })
}

unsafe fn set_next(node: NonNull<Header>, value: Option<NonNull<Header>>) {
    // SAFETY: see above.
    let links = unsafe { &node.as_ref().links };
    // SAFETY: see above.
    links.next.with_mut(|p| unsafe { *p = value })
}

impl Shard {
    /// # Safety
    /// The caller holds this shard's lock; `node` is in no list.
    unsafe fn push_front(&mut self, node: NonNull<Header>) {
        // SAFETY: the caller's contract; `head` is live while listed.
        unsafe {
            set_prev(node, None);
            set_next(node, self.head);
            if let Some(head) = self.head {
                set_prev(head, Some(node));
            }
        }
        self.head = Some(node);
    }

    /// Unlinks `node` if it is in this shard; `false` if it is not (shutdown
    /// popped it already).
    ///
    /// # Safety
    /// The caller holds this shard's lock; `node` is live and was only ever
    /// put in this shard.
    unsafe fn remove(&mut self, node: NonNull<Header>) -> bool {
        // SAFETY: the caller's contract; neighbours are live while listed.
        unsafe {
            let (before, after) = (prev(node), next(node));
            match before {
                Some(before) => set_next(before, after),
                // With no predecessor a listed node is the head; a popped
                // node has its links cleared and is not.
                None if self.head == Some(node) => self.head = after,
                None => return false,
            }
            if let Some(after) = after {
                set_prev(after, before);
            }
            set_prev(node, None);
            set_next(node, None);
        }
        true
    }

    /// # Safety
    /// The caller holds this shard's lock.
    unsafe fn pop_front(&mut self) -> Option<NonNull<Header>> {
        let head = self.head?;
        // SAFETY: the caller's contract; `head` is listed, hence live.
        unsafe { self.remove(head) };
        Some(head)
    }
}

/// The registry of one runtime's live tasks.
pub(crate) struct OwnedTasks<S: 'static> {
    shards: Box<[Mutex<Shard>]>,
    /// Shard count minus one; the count is a power of two.
    mask: usize,
    _scheduler: PhantomData<fn(S)>,
}

impl<S: Schedule> OwnedTasks<S> {
    /// A registry with at least `min_shards` shards.
    pub(crate) fn new(min_shards: usize) -> Self {
        let count = min_shards.max(1).next_power_of_two();
        let shards = (0..count)
            .map(|_| {
                Mutex::new(Shard {
                    head: None,
                    closed: false,
                    len: 0,
                    bound: 0,
                })
            })
            .collect();
        OwnedTasks {
            shards,
            mask: count - 1,
            _scheduler: PhantomData,
        }
    }

    fn shard(&self, header: NonNull<Header>) -> &Mutex<Shard> {
        // SAFETY: the caller holds a reference to the task.
        let id = unsafe { header.as_ref() }.id.as_u64() as usize;
        &self.shards[id & self.mask]
    }

    /// Adds a new task, taking over the reference `task` owns. If the
    /// registry is closed, the task is handed back untouched.
    pub(crate) fn bind(&self, task: Task<S>) -> Result<(), Task<S>> {
        let node = task.raw().header_ptr();
        let mut shard = self.shard(node).lock();
        if shard.closed {
            return Err(task);
        }
        // SAFETY: the lock is held and a new task is in no list.
        unsafe { shard.push_front(node) };
        shard.len += 1;
        shard.bound += 1;
        std::mem::forget(task);
        Ok(())
    }

    /// Takes `task` out, returning the registry's reference; `None` if
    /// shutdown already took it out.
    pub(crate) fn remove(&self, task: &Task<S>) -> Option<Task<S>> {
        let node = task.raw().header_ptr();
        let removed = {
            let mut shard = self.shard(node).lock();
            // SAFETY: the lock is held; tasks only enter their own shard.
            let removed = unsafe { shard.remove(node) };
            shard.len -= usize::from(removed);
            removed
        };
        if !removed {
            return None;
        }
        // SAFETY: the registry owned a reference to every listed task.
        Some(unsafe { Task::from_raw(task.raw()) })
    }

    /// Closes every shard to new tasks and shuts down each listed task. The
    /// lock is never held while a task's future is dropped: that runs user
    /// code, which may spawn or complete other tasks.
    pub(crate) fn close_and_shutdown_all(&self) {
        for shard in self.shards.iter() {
            shard.lock().closed = true;
        }
        for shard in self.shards.iter() {
            loop {
                let popped = {
                    let mut shard = shard.lock();
                    // SAFETY: the lock is held for the duration of the pop.
                    let popped = unsafe { shard.pop_front() };
                    shard.len -= usize::from(popped.is_some());
                    popped
                };
                let Some(node) = popped else { break };
                // SAFETY: the popped registry reference is handed to shutdown.
                unsafe { RawTask::from_raw(node).shutdown() };
            }
        }
    }

    /// Copies what every listed task says about itself (`Handle::dump`),
    /// one shard's lock at a time; nothing else is done under the lock.
    pub(crate) fn snapshot(&self) -> Vec<TaskInfo> {
        let now = super::dump::coarse_now();
        let mut tasks = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            let mut node = shard.head;
            while let Some(header) = node {
                // SAFETY: the lock is held; a listed task is live (the
                // registry holds a reference) and its links are guarded by
                // this lock.
                let header_ref = unsafe { header.as_ref() };
                let meta = header_ref.meta();
                tasks.push(TaskInfo {
                    id: header_ref.id,
                    name: meta.name.clone(),
                    state: TaskState::from_snapshot(header_ref.state.load()),
                    spawned_at: meta.location,
                    age: now.saturating_sub(meta.spawned_at),
                    polls: meta.polls.load(std::sync::atomic::Ordering::Relaxed),
                });
                // SAFETY: as above.
                node = unsafe { next(header) };
            }
        }
        tasks
    }

    /// The name and spawn location of the live task `id`, if it is listed
    /// (for a stall report from the watchdog thread, which may not touch a
    /// task it holds no reference to).
    pub(crate) fn label_of(&self, id: TaskId) -> Option<TaskLabel> {
        let shard = self.shards[id.as_u64() as usize & self.mask].lock();
        let mut node = shard.head;
        while let Some(header) = node {
            // SAFETY: as in `snapshot`.
            let header_ref = unsafe { header.as_ref() };
            if header_ref.id == id {
                let meta = header_ref.meta();
                return Some((meta.name.clone(), meta.location));
            }
            // SAFETY: as in `snapshot`.
            node = unsafe { next(header) };
        }
        None
    }

    /// Tasks registered and not yet completed (takes every shard's lock).
    pub(crate) fn live(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().len).sum()
    }

    /// Tasks ever registered (takes every shard's lock).
    pub(crate) fn bound_total(&self) -> u64 {
        self.shards.iter().map(|shard| shard.lock().bound).sum()
    }
}

impl<S> Drop for OwnedTasks<S> {
    fn drop(&mut self) {
        // Every runtime closes its registry before dropping it; a listed task
        // here would keep a reference nobody can release.
        debug_assert!(
            self.shards.iter().all(|s| s.lock().head.is_none()),
            "task registry dropped with live tasks"
        );
    }
}
