//! The task cell: the one heap allocation behind every spawned task.
//!
//! ```text
//! Cell<F, S>  (#[repr(C)], so a pointer to it is a pointer to its header)
//! ├── Header   state word, vtable, id, registry links     (type-independent)
//! ├── Meta     name and spawn location                     (type-independent)
//! ├── Body     scheduler handle S; Stage: the future, then its output
//! └── Trailer  the join waker
//! ```
//!
//! Everything that does not depend on the future's type sits in front, at a
//! fixed offset, so queues, wakers and the registry work on `NonNull<Header>`
//! alone and reach the typed parts only through the vtable.

use super::error::JoinError;
use super::id::TaskId;
use super::list::Links;
use super::raw::Vtable;
use super::state::State;
use crate::loom::UnsafeCell;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
// Diagnostics only: not part of any hand-off, so not modelled by loom.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The type-independent front of every task cell.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: TaskId,
    /// Links of the runtime's registry of live tasks; guarded by the lock of
    /// the registry shard the task lives in.
    pub(crate) links: Links,
}

/// What a task says about itself in diagnostics (`long_poll_warning`,
/// `Handle::dump`).
#[derive(Debug)]
pub(crate) struct Meta {
    /// Shared, so that a stall report can hold it past the task's end.
    pub(crate) name: Option<Arc<str>>,
    pub(crate) location: &'static Location<'static>,
    /// When the task was spawned, on the coarse clock (`dump::coarse_now`):
    /// one vDSO read per spawn, a few nanoseconds.
    pub(crate) spawned_at: Duration,
    /// Polls so far. Written only by the thread that holds RUNNING (a load
    /// and a store, no read-modify-write), read by dumps from any thread.
    pub(crate) polls: AtomicU64,
}

impl Meta {
    pub(crate) fn new(name: Option<Arc<str>>, location: &'static Location<'static>) -> Meta {
        Meta {
            name,
            location,
            spawned_at: super::dump::coarse_now(),
            polls: AtomicU64::new(0),
        }
    }

    /// Counts a poll; called by the RUNNING holder only.
    pub(crate) fn count_poll(&self) {
        let polls = self.polls.load(Ordering::Relaxed);
        self.polls.store(polls + 1, Ordering::Relaxed);
    }
}

/// The part of every cell whose layout does not depend on `F` or `S`.
#[repr(C)]
struct Prefix {
    header: Header,
    meta: Meta,
}

/// The whole allocation.
#[repr(C)]
pub(crate) struct Cell<F: Future, S> {
    pub(crate) header: Header,
    pub(crate) meta: Meta,
    pub(crate) body: Body<F, S>,
    pub(crate) trailer: Trailer,
}

/// The future's slot moves through these stages once each.
pub(crate) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// The typed middle of the cell: everything that depends on `F` or `S`
/// except the join waker.
pub(crate) struct Body<F: Future, S> {
    pub(crate) scheduler: S,
    /// Owned by whoever holds RUNNING; after COMPLETE, by the JoinHandle if
    /// it has interest, else by the completing thread.
    pub(crate) stage: UnsafeCell<Stage<F>>,
}

pub(crate) struct Trailer {
    /// Owned by the task while JOIN_WAKER is set, by the JoinHandle while it
    /// is clear (hand-off rules in `task/mod.rs`).
    pub(crate) waker: UnsafeCell<Option<Waker>>,
}

impl Header {
    /// The task's metadata, read through the type-independent prefix.
    pub(crate) fn meta(&self) -> &Meta {
        let prefix = (self as *const Header).cast::<Prefix>();
        // A Header starts a `repr(C)` `Cell<F, S>` laid out `Header, Meta, ..`
        // exactly like `Prefix`, so `meta` sits at the same offset.
        // SAFETY: as above; `meta` is never mutated and lives as long as `self`.
        unsafe { &(*prefix).meta }
    }
}

impl<F: Future, S> Cell<F, S> {
    /// Allocates the cell; the state starts as `State::new()` describes.
    pub(crate) fn allocate(
        future: F,
        scheduler: S,
        id: TaskId,
        meta: Meta,
        vtable: &'static Vtable,
    ) -> NonNull<Header> {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable,
                id,
                links: Links::new(),
            },
            meta,
            body: Body {
                scheduler,
                stage: UnsafeCell::new(Stage::Running(future)),
            },
            trailer: Trailer {
                waker: UnsafeCell::new(None),
            },
        });
        NonNull::from(Box::leak(cell)).cast()
    }
}

impl<F: Future, S> Body<F, S> {
    /// Polls the future.
    ///
    /// # Safety
    /// The caller holds RUNNING, so no other thread touches the stage.
    pub(crate) unsafe fn poll(&self, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.stage.with_mut(|stage| {
            // SAFETY: exclusive access by the caller's contract.
            match unsafe { &mut *stage } {
                Stage::Running(future) => {
                    // SAFETY: the cell is heap-allocated and never moved;
                    // the future is dropped in place, so it stays pinned.
                    let future = unsafe { Pin::new_unchecked(future) };
                    future.poll(cx)
                }
                _ => unreachable!("a task was polled after its future was dropped"),
            }
        })
    }

    /// Drops the future or the output, whichever the stage holds.
    ///
    /// # Safety
    /// The caller owns the stage (see the field's comment).
    pub(crate) unsafe fn drop_future_or_output(&self) {
        // SAFETY: forwarded from the caller.
        unsafe { self.set_stage(Stage::Consumed) }
    }

    /// # Safety
    /// The caller owns the stage and the future has been dropped.
    pub(crate) unsafe fn store_output(&self, output: Result<F::Output, JoinError>) {
        // SAFETY: forwarded from the caller.
        unsafe { self.set_stage(Stage::Finished(output)) }
    }

    /// Takes the output out for the JoinHandle.
    ///
    /// # Safety
    /// The caller is the JoinHandle and has seen COMPLETE.
    pub(crate) unsafe fn take_output(&self) -> Result<F::Output, JoinError> {
        self.stage.with_mut(|stage| {
            // SAFETY: after COMPLETE with join interest the handle owns the stage.
            let stage = unsafe { &mut *stage };
            match std::mem::replace(stage, Stage::Consumed) {
                Stage::Finished(output) => output,
                _ => panic!("`JoinHandle` polled after it returned `Poll::Ready`"),
            }
        })
    }

    /// # Safety
    /// The caller owns the stage.
    unsafe fn set_stage(&self, stage: Stage<F>) {
        // The old value is dropped in place: a pinned future is never moved.
        // SAFETY: exclusive access by the caller's contract.
        self.stage.with_mut(|slot| unsafe { *slot = stage });
    }
}

impl Trailer {
    /// # Safety
    /// The caller owns the slot (see the field's comment).
    pub(crate) unsafe fn set_waker(&self, waker: Option<Waker>) {
        // SAFETY: exclusive access by the caller's contract.
        self.waker.with_mut(|slot| unsafe { *slot = waker });
    }

    /// # Safety
    /// No thread writes the slot meanwhile: JOIN_WAKER is set and the caller
    /// is the task or the JoinHandle, neither of which writes it then.
    pub(crate) unsafe fn will_wake(&self, waker: &Waker) -> bool {
        // SAFETY: shared read by the caller's contract.
        self.waker.with(|slot| match unsafe { &*slot } {
            Some(stored) => stored.will_wake(waker),
            None => false,
        })
    }

    /// # Safety
    /// As `will_wake`.
    pub(crate) unsafe fn wake_join(&self) {
        // SAFETY: shared read by the caller's contract.
        self.waker.with(|slot| match unsafe { &*slot } {
            Some(waker) => waker.wake_by_ref(),
            None => unreachable!("JOIN_WAKER is set but the slot is empty"),
        })
    }
}
