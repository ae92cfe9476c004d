//! Tasks: spawning, joining, cancelling.
//!
//! [`spawn`] runs a future on the current runtime and returns a
//! [`JoinHandle`], which yields the output or a [`JoinError`]. A [`JoinSet`]
//! owns a group of tasks and cancels them all when dropped.
//!
//! ```
//! use runtime::task::{self, TaskState};
//!
//! let rt = runtime::Runtime::new()?;
//! rt.block_on(async {
//!     let handle = task::spawn(async { "done" });
//!     assert_eq!(handle.await.unwrap(), "done");
//!
//!     let stuck = task::spawn(std::future::pending::<()>());
//!     stuck.cancel();
//!     assert!(stuck.await.unwrap_err().is_cancelled());
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Inside a task (for maintainers)
//!
//! A task is one allocation (`core.rs`): a type-independent header (state
//! word, vtable, id, registry links), then the scheduler handle and the
//! *stage* (the future, later its output), then the join waker. Queues,
//! wakers and handles are all one pointer to the header.
//!
//! ## The state word (`state.rs`)
//!
//! | bit | meaning |
//! |---|---|
//! | `RUNNING` | one thread polls (or drops) the future and owns the stage |
//! | `COMPLETE` | the future is gone; the stage holds the output or nothing |
//! | `NOTIFIED` | a `Notified` for the task is queued, or the running thread must resubmit it |
//! | `CANCELLED` | cancellation was requested; the task is never polled again |
//! | `JOIN_INTEREST` | a `JoinHandle` exists and will take the output |
//! | `JOIN_WAKER` | the join waker slot is set and belongs to the task |
//! | `PANICKED`, `ENDED_CANCELLED` | the outcome, meaningful once `COMPLETE` |
//!
//! The high bits count references. A new task has three: its `JoinHandle`,
//! the `Notified` of its first poll, and the runtime's registry (`list.rs`).
//! Every waker, `CancelHandle` and queued `Notified` holds one more. The
//! thread that drops the last one frees the cell.
//!
//! ### Invariants
//!
//! What the code relies on, and where it is kept:
//!
//! 1. `RUNNING` is held by at most one thread. It is only set on an idle
//!    task (neither `RUNNING` nor `COMPLETE`), by `transition_to_running` or
//!    `transition_to_shutdown`, and only its holder clears it
//!    (`transition_to_idle`, `transition_to_complete`).
//! 2. `COMPLETE` is set once, by the holder of `RUNNING`, in the same atomic
//!    step that clears `RUNNING`, and is never cleared. After it, `RUNNING`
//!    is never set again (both transitions that set it need an idle task).
//! 3. The outcome bits (`PANICKED`, `ENDED_CANCELLED`) are written once,
//!    together with `COMPLETE`, in that same step (one `fetch_xor`, which
//!    relies on invariant 2: `RUNNING` set, `COMPLETE` and outcome clear),
//!    and never change afterwards.
//! 4. `CANCELLED` is never cleared. It may also be set after `COMPLETE`
//!    (`transition_to_shutdown` sets it on any task); the outcome bits, not
//!    `CANCELLED`, then say how the task ended.
//! 5. At most one `Notified` exists at any time. One is created only
//!    * at spawn, where the initial word has `NOTIFIED` set;
//!    * by a transition that sets `NOTIFIED` on an idle task whose
//!      `NOTIFIED` was clear (`transition_to_notified_by_val`/`_by_ref`
//!      answering `Submit`, `transition_to_notified_and_cancel` answering
//!      `true`);
//!    * by `transition_to_idle` answering `OkNotified`: it does not set
//!      `NOTIFIED` itself but keeps the `NOTIFIED` that a wake set during
//!      the poll, and hands the running reference to the new `Notified`.
//! 6. What `NOTIFIED` means depends on who holds the task:
//!    * idle: a `Notified` exists if and only if `NOTIFIED` is set, except
//!      after a `Notified` was dropped unrun (a queue drained at shutdown, a
//!      spawn into a closed registry); `NOTIFIED` then stays set until
//!      shutdown takes the task (through the registry, or at once for a
//!      spawn the closed registry refused);
//!    * polled: `transition_to_running` cleared `NOTIFIED` as it consumed
//!      the `Notified`, so none exists; `NOTIFIED` set means a wake arrived
//!      during the poll and the running thread owes a resubmit, unless the
//!      poll returns `Ready` or `CANCELLED` is set: the task then completes
//!      and nothing is resubmitted;
//!    * held by shutdown, or `COMPLETE`: `NOTIFIED` means nothing and is
//!      never cleared; a stale `Notified` queued before shutdown took the
//!      task may still exist, and `transition_to_running` drops it (`Stale`).
//! 7. `JOIN_INTEREST` is set at spawn and cleared once, by the
//!    `JoinHandle` as it is dropped; nothing sets it again.
//! 8. Before `COMPLETE`, `JOIN_WAKER` is only set while `JOIN_INTEREST` is
//!    (the handle sets it, and clears both together when dropped). After
//!    `COMPLETE` a handle dropped before the completing thread gave the slot
//!    back clears `JOIN_INTEREST` alone, so `JOIN_WAKER` can be set without
//!    it until `unset_waker_after_complete`; the completer reads the state
//!    that call returns to find out and then drops the waker (rule 3
//!    below). Once the completing thread is done, `JOIN_WAKER` is clear.
//! 9. The reference count counts the `JoinHandle`, the registry's entry,
//!    each owned waker (not the borrowed `WakerRef` lent to a poll), each
//!    `Notified`, each `CancelHandle`, and the reference the running thread
//!    holds (the consumed `Notified`'s, or the one handed to shutdown). A
//!    new reference is only made from an existing one, so the count never
//!    rises from zero; every decrement is one atomic step that reports
//!    whether it reached zero, so exactly one thread frees the cell.
//!
//! ### Orderings
//!
//! Every change of the word is a read-modify-write: each CAS loop
//! (`fetch_update_action`) uses `AcqRel` on success and `Acquire` on
//! failure; `transition_to_complete`, `unset_waker_after_complete` and the
//! reference drops are `AcqRel` RMWs; `ref_inc` is a `Relaxed` RMW; `load`
//! is `Acquire`. There is no plain store after the cell is built.
//!
//! That suffices to pass the stage and the join waker slot between threads:
//! the giving thread's last access is sequenced before its releasing RMW
//! (`transition_to_idle` clearing `RUNNING`, `transition_to_complete`
//! setting `COMPLETE`, `set_join_waker` setting `JOIN_WAKER`), and the
//! taking thread acts only on a value it read with `Acquire`
//! (`transition_to_running`, `transition_to_shutdown`, the handle's load
//! or failed CAS that sees `COMPLETE`, `transition_to_complete` seeing
//! `JOIN_WAKER`). Every modification after the release is an RMW, so it
//! continues the release sequence, and reading any later value synchronizes
//! with the giver; a `Relaxed` `ref_inc` in between breaks nothing. The
//! same holds from a wake to the poll it causes, which is why
//! `transition_to_notified_by_ref` writes the word back unchanged when the
//! task is already `NOTIFIED`: a step that only loads releases nothing.
//! The steps that do only load pass nothing on: `_by_ref` on a
//! complete task, `transition_to_notified_and_cancel` on a task already
//! cancelled or complete, `transition_to_idle` answering `Cancelled` (the
//! thread keeps `RUNNING`), and `set_join_waker`/`unset_join_waker`
//! failing (the slot stays the handle's). The last reference drop is
//! `AcqRel`, as in `Arc`, so every owner's accesses happen before the free.
//!
//! ## Who owns what
//!
//! * **The stage** belongs to the holder of `RUNNING`. After `COMPLETE` it
//!   belongs to the `JoinHandle` if `JOIN_INTEREST` was set at completion,
//!   otherwise to the completing thread, which drops the output at once.
//!   `JOIN_INTEREST` can only be cleared by the handle; if it is cleared
//!   before `COMPLETE`, the completer drops the output, and if after, the
//!   handle does (`transition_to_join_handle_dropped` says which).
//! * **The join waker slot** — the hand-off rules:
//!   1. While `JOIN_WAKER` is clear, only the `JoinHandle` touches the slot.
//!      It stores a waker, then sets `JOIN_WAKER` with a CAS that fails if
//!      `COMPLETE` is set; on failure it takes the waker back and reads the
//!      output instead.
//!   2. While `JOIN_WAKER` is set, nobody writes the slot. The handle may
//!      read it (`will_wake`); to store a different waker it first clears
//!      `JOIN_WAKER` with a CAS that fails if `COMPLETE` is set, and is then
//!      back under rule 1.
//!   3. The completing task reads the slot only if the state it completed
//!      with shows `JOIN_INTEREST` and `JOIN_WAKER`: it wakes the waker, then
//!      clears `JOIN_WAKER`. If `JOIN_INTEREST` was gone by then, the handle
//!      was dropped meanwhile and the task drops the waker itself.
//!   4. A handle dropped before `COMPLETE` clears `JOIN_WAKER` with
//!      `JOIN_INTEREST` in one step and drops the waker; one dropped after
//!      leaves the slot to the task (rule 3) or to deallocation.
//!
//! ## Cancellation
//!
//! `cancel()` sets `CANCELLED`. If the task was idle and not queued, it also
//! sets `NOTIFIED` and schedules the task once more, so a worker drops the
//! future (`transition_to_running` answers `Cancelled`). If it was running,
//! the worker sees `CANCELLED` in `transition_to_idle` after the poll; a poll
//! that returned `Ready` completes normally and the output wins. Runtime
//! shutdown uses `transition_to_shutdown`, which takes `RUNNING` from an idle
//! task so the shutting-down thread can drop the future itself.
//!
//! Panics in `poll`, and in the future's or output's `Drop`, are caught
//! (`harness.rs`): a worker never unwinds out of a task.

mod cancel;
pub(crate) mod core;
pub(crate) mod dump;
mod error;
mod harness;
mod id;
mod join;
mod join_set;
pub(crate) mod list;
pub(crate) mod raw;
mod spawn;
pub(crate) mod state;
mod waker;

#[cfg(test)]
mod test;

pub use self::cancel::CancelHandle;
pub use self::dump::{Dump, TaskInfo};
pub use self::error::JoinError;
pub use self::id::TaskId;
pub use self::join::JoinHandle;
pub use self::join_set::JoinSet;
pub(crate) use self::spawn::{bind_and_schedule, spawn_bound};
pub use self::spawn::{spawn, spawn_local, Builder};
pub use crate::scheduler::blocking::spawn_blocking;
pub use crate::scheduler::coop::yield_now;

use self::core::Meta;
use self::raw::RawTask;
use self::state::{Outcome, Snapshot};
use std::fmt;
use std::future::Future;
use std::panic::Location;

/// Where a task is in its life, as seen through a [`JoinHandle`] or
/// [`CancelHandle`].
///
/// # Examples
///
/// ```
/// use runtime::TaskState;
///
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let handle = runtime::spawn(async { 1 });
///     while !handle.is_finished() {
///         runtime::task::yield_now().await;
///     }
///     assert_eq!(handle.state(), TaskState::Finished);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting to be polled, or waiting for a wake-up between polls.
    Pending,
    /// Being polled right now, on some worker.
    Running,
    /// Returned its output.
    Finished,
    /// Panicked; the `JoinHandle` yields a [`JoinError`] with the payload.
    Failed,
    /// Cancelled: its future was (or, after a cancel of an idle task, is
    /// about to be) dropped without being polled again.
    Cancelled,
}

impl TaskState {
    pub(crate) fn from_snapshot(snapshot: Snapshot) -> TaskState {
        match snapshot.outcome() {
            Some(Outcome::Finished) => TaskState::Finished,
            Some(Outcome::Panicked) => TaskState::Failed,
            Some(Outcome::Cancelled) => TaskState::Cancelled,
            // A cancelled task that is not mid-poll will never be polled again.
            None if snapshot.is_cancel_requested() && !snapshot.is_running() => {
                TaskState::Cancelled
            }
            None if snapshot.is_running() => TaskState::Running,
            None => TaskState::Pending,
        }
    }

    /// `Finished`, `Failed` or `Cancelled`.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskState::Finished | TaskState::Failed | TaskState::Cancelled
        )
    }
}

/// The seam between the task core and a scheduler.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Queues a task that was woken.
    fn schedule(&self, task: Notified<Self>);

    /// Queues a task that woke itself during its poll; it should go behind
    /// the other runnable tasks.
    fn yield_now(&self, task: Notified<Self>) {
        self.schedule(task);
    }

    /// The task completed: take it out of the registry and return the
    /// registry's reference (`None` if shutdown took it out already).
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>>;

    /// A task of this scheduler panicked.
    fn unhandled_panic(&self) {}
}

/// One owned reference to a task, as the registry holds it.
pub(crate) struct Task<S: 'static> {
    raw: RawTask,
    _scheduler: std::marker::PhantomData<S>,
}

// SAFETY: the cell is shared by design; a `Task` only touches the atomic
// state and the vtable. The future and output are `Send`, or the task is
// local and its scheduler keeps them on their thread (`new_local_task`).
unsafe impl<S> Send for Task<S> {}
// SAFETY: as above; `&Task` gives no access to the future or output.
unsafe impl<S> Sync for Task<S> {}

impl<S: 'static> Task<S> {
    /// # Safety
    /// The caller gives the new `Task` one reference.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Task<S> {
        Task {
            raw,
            _scheduler: std::marker::PhantomData,
        }
    }

    /// A `Task` that must not be dropped (callers `mem::forget` it): lets
    /// `Schedule::release` look at a task without owning a reference.
    pub(crate) fn borrowed(raw: RawTask) -> Task<S> {
        Task {
            raw,
            _scheduler: std::marker::PhantomData,
        }
    }

    pub(crate) fn raw(&self) -> RawTask {
        self.raw
    }

    pub(crate) fn id(&self) -> TaskId {
        self.raw.id()
    }

    /// Cancels the task for runtime shutdown; consumes the reference.
    pub(crate) fn shutdown(self) {
        let raw = self.raw;
        std::mem::forget(self);
        // SAFETY: the reference this Task owned is handed to shutdown.
        unsafe { raw.shutdown() }
    }
}

impl<S: 'static> Drop for Task<S> {
    fn drop(&mut self) {
        // SAFETY: a Task owns one reference.
        unsafe { self.raw.ref_dec() }
    }
}

impl<S: 'static> fmt::Debug for Task<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Task({})", self.id())
    }
}

/// A task that is due to be polled: what the queues hold.
pub(crate) struct Notified<S: 'static>(Task<S>);

impl<S: 'static> Notified<S> {
    /// # Safety
    /// The caller gives the `Notified` one reference.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Notified<S> {
        // SAFETY: forwarded from the caller.
        Notified(unsafe { Task::from_raw(raw) })
    }

    /// Polls the task once.
    pub(crate) fn run(self) {
        let raw = self.0.raw;
        std::mem::forget(self);
        // SAFETY: this Notified's reference is handed to the poll.
        unsafe { raw.poll() }
    }

    pub(crate) fn id(&self) -> TaskId {
        self.0.id()
    }

    /// The spawn metadata, for diagnostics.
    pub(crate) fn meta(&self) -> &Meta {
        self.0.raw.header().meta()
    }

    pub(crate) fn into_raw(self) -> RawTask {
        let raw = self.0.raw;
        std::mem::forget(self);
        raw
    }
}

impl<S: 'static> fmt::Debug for Notified<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Notified({})", self.id())
    }
}

/// Allocates a task. It starts with three references: the registry's
/// (`Task`), the first poll's (`Notified`) and the `JoinHandle`'s.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    name: Option<std::sync::Arc<str>>,
    location: &'static Location<'static>,
) -> (Task<S>, Notified<S>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the future and its output are `Send`, so any thread may poll
    // or drop them.
    unsafe { new_local_task(future, scheduler, name, location) }
}

/// [`new_task`] for a future or output that need not be `Send`.
///
/// # Safety
/// `scheduler` runs (polls, cancels, shuts down) the task only on the
/// thread calling this, so the future is only ever touched there, and so is
/// an output no `JoinHandle` takes (the completing thread drops it). The
/// `JoinHandle` is `Send` only if the output is; that keeps an output that
/// is not on its thread too. `scheduler::local` is the one such scheduler.
pub(crate) unsafe fn new_local_task<F, S>(
    future: F,
    scheduler: S,
    name: Option<std::sync::Arc<str>>,
    location: &'static Location<'static>,
) -> (Task<S>, Notified<S>, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let raw = RawTask::new(future, scheduler, TaskId::next(), Meta::new(name, location));
    // SAFETY: the three references of a new task are handed out, one each.
    unsafe {
        (
            Task::from_raw(raw),
            Notified::from_raw(raw),
            JoinHandle::new(raw),
        )
    }
}
