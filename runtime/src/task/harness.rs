//! The typed side of a task: polling, completing, cancelling, and the
//! JoinHandle's half of the join-waker hand-off.
//!
//! Each function here is entered through the vtable with a reference whose
//! fate it decides; the comments say where each reference goes.

use super::core::{Body, Cell, Header, Trailer};
use super::error::JoinError;
use super::raw::RawTask;
use super::state::{Outcome, TransitionToIdle, TransitionToRunning};
use super::waker::waker_ref;
use super::{Notified, Schedule, Task};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

pub(crate) struct Harness<F: Future, S> {
    cell: NonNull<Cell<F, S>>,
}

impl<F, S> Harness<F, S>
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    /// # Safety
    /// `ptr` is the header of a live `Cell<F, S>`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        Harness { cell: ptr.cast() }
    }

    fn cell(&self) -> &Cell<F, S> {
        // SAFETY: the caller of `from_raw` holds a reference to the live cell.
        unsafe { self.cell.as_ref() }
    }

    fn header(&self) -> &Header {
        &self.cell().header
    }

    fn body(&self) -> &Body<F, S> {
        &self.cell().body
    }

    fn trailer(&self) -> &Trailer {
        &self.cell().trailer
    }

    fn raw(&self) -> RawTask {
        // SAFETY: the cell is live (see `cell`).
        unsafe { RawTask::from_raw(self.cell.cast()) }
    }

    /// Runs the task once; consumes the caller's `Notified` reference.
    pub(crate) fn poll(self) {
        match self.header().state.transition_to_running() {
            TransitionToRunning::Success => {}
            TransitionToRunning::Cancelled => return self.cancel_and_complete(),
            TransitionToRunning::Stale => return,
            TransitionToRunning::StaleDealloc => return self.dealloc(),
        }

        self.header().meta().count_poll();
        // The waker lent to the future borrows the running reference; the
        // future clones it (taking its own reference) if it keeps it.
        let header = self.cell.cast::<Header>();
        let waker = waker_ref(&header);
        let mut cx = Context::from_waker(&waker);
        if let Poll::Ready(outcome) = self.poll_future(&mut cx) {
            return self.complete(outcome);
        }

        match self.header().state.transition_to_idle() {
            TransitionToIdle::Ok => {}
            TransitionToIdle::OkNotified => {
                // Woken while it ran: the running reference becomes this
                // Notified. `yield_now` queues it behind the others, so a task
                // that wakes itself cannot hog its worker.
                // SAFETY: transition_to_idle handed the reference over.
                let notified = unsafe { Notified::from_raw(self.raw()) };
                self.body().scheduler.yield_now(notified);
            }
            TransitionToIdle::OkDealloc => self.dealloc(),
            TransitionToIdle::Cancelled => self.cancel_and_complete(),
        }
    }

    /// Polls the future under `catch_unwind`. On `Ready` or a panic, the
    /// future is dropped (inside a guard too) and the result stored.
    fn poll_future(&self, cx: &mut Context<'_>) -> Poll<Outcome> {
        let id = self.header().id;
        let body = self.body();
        // SAFETY: this thread holds RUNNING, so it owns the stage.
        let polled = catch_unwind(AssertUnwindSafe(|| unsafe { body.poll(cx) }));
        let mut result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(JoinError::panic(id, payload)),
        };
        // SAFETY: as above.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { body.drop_future_or_output() }));
        if let Err(payload) = dropped {
            // The future panicked in `Drop` after finishing: the task failed.
            // A panic already recorded by the poll stays the reported one.
            if result.is_ok() {
                let output = std::mem::replace(&mut result, Err(JoinError::panic(id, payload)));
                // The discarded output's own `Drop` may panic as well; the
                // task already reports a panic, so this one is ignored.
                let _ = catch_unwind(AssertUnwindSafe(move || drop(output)));
            }
        }
        let outcome = match &result {
            Ok(_) => Outcome::Finished,
            Err(_) => Outcome::Panicked,
        };
        // SAFETY: this thread still holds RUNNING; the future is gone.
        unsafe { body.store_output(result) };
        Poll::Ready(outcome)
    }

    /// Drops the future (catching a panic from its `Drop`) and completes the
    /// task as cancelled. The caller holds RUNNING.
    fn cancel_and_complete(self) {
        let body = self.body();
        // A panicking `Drop` must not take the worker down, and the task
        // still ends Cancelled: the user asked for cancellation, and got it.
        // SAFETY: the caller holds RUNNING, so this thread owns the stage.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe { body.drop_future_or_output() }));
        // SAFETY: as above.
        unsafe { body.store_output(Err(JoinError::cancelled(self.header().id))) };
        self.complete(Outcome::Cancelled);
    }

    /// Leaves the registry, publishes COMPLETE, hands the output to the
    /// JoinHandle (or drops it) and drops the running reference.
    fn complete(self, outcome: Outcome) {
        // Leave the registry first, so that whoever sees COMPLETE also sees
        // the task gone from the runtime's live count. The registry's
        // reference comes back unless shutdown already took the task out
        // (shutdown then used that reference to run us).
        let task = Task::<S>::borrowed(self.raw());
        let released = self.body().scheduler.release(&task);
        std::mem::forget(task);
        let refs = match released {
            Some(owner) => {
                std::mem::forget(owner);
                2
            }
            None => 1,
        };

        let snapshot = self.header().state.transition_to_complete(outcome);
        if !snapshot.is_join_interested() {
            // Nobody will read the output: it is ours to drop. A panic in its
            // `Drop` has nobody left to report to and must not unwind the
            // worker, so it is ignored.
            let body = self.body();
            // SAFETY: COMPLETE without join interest gives the stage to us.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe { body.drop_future_or_output() }));
        } else if snapshot.is_join_waker_set() {
            let trailer = self.trailer();
            // A panicking waker is ignored: the task is complete either way,
            // and the slot and the references must still be given up below.
            // SAFETY: JOIN_WAKER is set, so the slot is the task's to read.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe { trailer.wake_join() }));
            let prev = self.header().state.unset_waker_after_complete();
            if !prev.is_join_interested() {
                // The handle went away while we woke it; the waker is ours.
                // A panic in its `Drop` is ignored, as for the wake above.
                // SAFETY: the handle is gone and JOIN_WAKER is now clear.
                let _ = catch_unwind(AssertUnwindSafe(|| unsafe { trailer.set_waker(None) }));
            }
        }

        if outcome == Outcome::Panicked {
            self.body().scheduler.unhandled_panic();
        }
        if self.header().state.ref_dec_many(refs) {
            self.dealloc();
        }
    }

    /// Hands a `Notified` to the scheduler; consumes the caller's reference.
    pub(crate) fn schedule(self) {
        // SAFETY: the caller gives up a reference to this Notified.
        let notified = unsafe { Notified::from_raw(self.raw()) };
        self.body().scheduler.schedule(notified);
    }

    /// Runtime shutdown; consumes the caller's reference, which becomes the
    /// running reference if the task was idle.
    pub(crate) fn shutdown(self) {
        if self.header().state.transition_to_shutdown() {
            self.cancel_and_complete();
        } else {
            // Running elsewhere (that worker sees CANCELLED after its poll)
            // or already complete.
            // SAFETY: the caller gave up this reference.
            unsafe { self.raw().ref_dec() };
        }
    }

    /// The JoinHandle's poll: the output if COMPLETE, else the waker is
    /// registered following the hand-off rules.
    pub(crate) fn try_read_output(
        self,
        dst: &mut Poll<Result<F::Output, JoinError>>,
        waker: &Waker,
    ) {
        if self.can_read_output(waker) {
            // SAFETY: COMPLETE was seen with Acquire, and the handle has
            // interest, so the stage is the handle's.
            *dst = Poll::Ready(unsafe { self.body().take_output() });
        }
    }

    fn can_read_output(&self, waker: &Waker) -> bool {
        let state = &self.header().state;
        let snapshot = state.load();
        if snapshot.is_complete() {
            return true;
        }
        let registered = if !snapshot.is_join_waker_set() {
            self.install_join_waker(waker)
        } else {
            // SAFETY: JOIN_WAKER is set: the task only reads the slot now.
            if unsafe { self.trailer().will_wake(waker) } {
                return false;
            }
            // Take the slot back to swap the waker; fails if it completed.
            state
                .unset_join_waker()
                .and_then(|_| self.install_join_waker(waker))
        };
        match registered {
            Ok(_) => false,
            Err(snapshot) => {
                debug_assert!(snapshot.is_complete());
                true
            }
        }
    }

    /// Stores `waker` and hands the slot to the task.
    fn install_join_waker(
        &self,
        waker: &Waker,
    ) -> Result<super::state::Snapshot, super::state::Snapshot> {
        let trailer = self.trailer();
        // SAFETY: JOIN_WAKER is clear, so the handle owns the slot.
        unsafe { trailer.set_waker(Some(waker.clone())) };
        let result = self.header().state.set_join_waker();
        if result.is_err() {
            // Completed meanwhile: the task never saw the waker; take it back.
            // SAFETY: JOIN_WAKER is still clear.
            unsafe { trailer.set_waker(None) };
        }
        result
    }

    /// The JoinHandle is dropped; consumes its reference.
    pub(crate) fn drop_join_handle(self) {
        let cleanup = self.header().state.transition_to_join_handle_dropped();
        let mut panic = None;
        if cleanup.drop_output {
            let body = self.body();
            // SAFETY: COMPLETE with join interest: the output is the handle's.
            panic =
                catch_unwind(AssertUnwindSafe(|| unsafe { body.drop_future_or_output() })).err();
        }
        if cleanup.drop_waker {
            let trailer = self.trailer();
            // A panic in the old waker's `Drop` is ignored: the handle's
            // reference must still be given up below. (There is no output to
            // drop here: that happens only after COMPLETE.)
            // SAFETY: the transition cleared JOIN_WAKER before COMPLETE: the
            // slot is the handle's.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe { trailer.set_waker(None) }));
        }
        // SAFETY: the handle gives up its reference.
        unsafe { self.raw().ref_dec() };
        // The output's `Drop` panicked in the user's own code: let it be
        // seen there, unless that would abort a thread already unwinding.
        if let Some(payload) = panic {
            if !std::thread::panicking() {
                std::panic::resume_unwind(payload);
            }
        }
    }

    fn dealloc(self) {
        // SAFETY: the reference count reached zero; the vtable matches.
        unsafe { (self.header().vtable.dealloc)(self.cell.cast()) }
    }
}
