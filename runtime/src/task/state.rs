//! The task's state word and every transition on it.
//!
//! The bits and the rules for who may touch what are documented at the top of
//! `task/mod.rs`; each function here is one atomic step (one CAS loop or one
//! read-modify-write), named after the transition it makes, and returns what
//! its caller must do next.

use crate::loom::{AtomicUsize, Ordering};
use std::fmt;

/// The future is being polled (or dropped) by exactly one thread.
const RUNNING: usize = 1 << 0;
/// The task has ended: its stage holds the output, or the output is gone.
const COMPLETE: usize = 1 << 1;
/// The task has been woken: a `Notified` for it sits in a queue, or the thread
/// that runs it must resubmit it after the poll.
const NOTIFIED: usize = 1 << 2;
/// Cancellation was requested. Once set, the task is never polled again
/// (unless the poll in progress when it arrived is still running).
const CANCELLED: usize = 1 << 3;
/// A `JoinHandle` exists and will read the output.
const JOIN_INTEREST: usize = 1 << 4;
/// The join waker slot holds a waker and belongs to the task (see the
/// hand-off rules in `task/mod.rs`).
const JOIN_WAKER: usize = 1 << 5;
/// Outcome, meaningful once COMPLETE: the future panicked.
const PANICKED: usize = 1 << 6;
/// Outcome, meaningful once COMPLETE: the task ended by cancellation.
const ENDED_CANCELLED: usize = 1 << 7;

const FLAG_BITS: u32 = 8;
const REF_ONE: usize = 1 << FLAG_BITS;
const REF_MASK: usize = !(REF_ONE - 1);

/// A new task has three references: its `JoinHandle`, the `Notified` that
/// schedules its first poll, and its owner (the runtime's task registry).
/// It starts NOTIFIED (that first `Notified` exists) with a join interest.
const INITIAL: usize = (3 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

/// How a task ended, recorded in the state word with COMPLETE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Finished,
    Panicked,
    Cancelled,
}

impl Outcome {
    fn bits(self) -> usize {
        match self {
            Outcome::Finished => 0,
            Outcome::Panicked => PANICKED,
            Outcome::Cancelled => ENDED_CANCELLED,
        }
    }
}

/// The atomic state word.
pub(crate) struct State {
    word: AtomicUsize,
}

/// One value of the state word.
#[must_use = "a snapshot says what the caller now owns or must do; read it"]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

/// What the caller of [`State::transition_to_running`] must do.
#[must_use = "the caller must poll, complete as cancelled, or deallocate as the variant says"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// Poll the future.
    Success,
    /// The caller holds RUNNING (and with it the future) and must drop the
    /// future and complete as cancelled.
    Cancelled,
    /// The `Notified` was stale: the task is no longer idle, because shutdown
    /// took RUNNING after the `Notified` was queued, or the task completed.
    /// The `Notified`'s reference was dropped and there is nothing to do.
    Stale,
    /// As `Stale`, and that was the last reference: deallocate.
    StaleDealloc,
}

/// What the caller of [`State::transition_to_idle`] must do.
#[must_use = "the caller must resubmit, deallocate, or complete as cancelled as the variant says"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// The task waits for a wake; the running reference was dropped.
    Ok,
    /// The task was woken during the poll: submit it again. The running
    /// reference now belongs to that new `Notified`.
    OkNotified,
    /// As `Ok`, and that was the last reference: deallocate.
    OkDealloc,
    /// Cancellation arrived during the poll: the task is still RUNNING and the
    /// caller must drop the future and complete as cancelled.
    Cancelled,
}

/// What a consumed waker must do after [`State::transition_to_notified_by_val`].
#[must_use = "the waker must submit the Notified or deallocate as the variant says"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotifiedByVal {
    /// Nothing: the task is already queued, running (it will resubmit
    /// itself) or complete. The waker's reference was dropped.
    DoNothing,
    /// Submit a `Notified`; the waker's reference now belongs to it.
    Submit,
    /// The waker's reference was dropped and was the last: deallocate.
    Dealloc,
}

/// What a borrowed waker must do after [`State::transition_to_notified_by_ref`].
/// The waker keeps its reference, so this never deallocates.
#[must_use = "the waker must submit the Notified if the variant says so"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotifiedByRef {
    /// Nothing: the task is already queued, running (it will resubmit
    /// itself) or complete.
    DoNothing,
    /// Submit a `Notified`; a new reference for it has been taken.
    Submit,
}

/// What a dropped `JoinHandle` must clean up, from
/// [`State::transition_to_join_handle_dropped`].
#[must_use = "the handle must drop the output and/or the join waker as the fields say"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct JoinHandleDropped {
    /// The task completed while the handle had interest: the output is the
    /// handle's to drop.
    pub(crate) drop_output: bool,
    /// The handle holds exclusive access to the join waker slot.
    pub(crate) drop_waker: bool,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            word: AtomicUsize::new(INITIAL),
        }
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.word.load(Ordering::Acquire))
    }

    /// Runs `f` on the current value until its CAS succeeds. `f` returns the
    /// caller's action and, if the word should change, its next value.
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut current = self.load();
        loop {
            let (action, next) = f(current);
            let Some(next) = next else { return action };
            match self
                .word
                .compare_exchange(current.0, next.0, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return action,
                Err(actual) => current = Snapshot(actual),
            }
        }
    }

    /// A worker popped a `Notified` and wants to poll. Takes the RUNNING bit
    /// (and with it the future) if the task is idle.
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update_action(|mut s| {
            if !s.is_idle() {
                // Stale: shutdown took the task, or it completed. Drop the
                // reference that the Notified carried.
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToRunning::StaleDealloc
                } else {
                    TransitionToRunning::Stale
                };
                return (action, Some(s));
            }
            s.0 |= RUNNING;
            s.0 &= !NOTIFIED;
            let action = if s.is_cancel_requested() {
                TransitionToRunning::Cancelled
            } else {
                TransitionToRunning::Success
            };
            (action, Some(s))
        })
    }

    /// The poll returned `Pending`: give up RUNNING unless a cancel arrived.
    pub(crate) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_running());
            if s.is_cancel_requested() {
                return (TransitionToIdle::Cancelled, None);
            }
            s.0 &= !RUNNING;
            if s.is_notified() {
                // The running reference moves to the new Notified.
                return (TransitionToIdle::OkNotified, Some(s));
            }
            s.ref_dec();
            let action = if s.ref_count() == 0 {
                TransitionToIdle::OkDealloc
            } else {
                TransitionToIdle::Ok
            };
            (action, Some(s))
        })
    }

    /// The future is gone and the output (or error) is stored: publish
    /// COMPLETE with the outcome. Returns the state just after.
    #[must_use = "the completer must drop the output if JOIN_INTEREST is clear, else wake the join waker if JOIN_WAKER is set"]
    pub(crate) fn transition_to_complete(&self, outcome: Outcome) -> Snapshot {
        // RUNNING is set and COMPLETE and the outcome bits are clear, so one
        // XOR flips all of them; Release publishes the stored output to the
        // JoinHandle, which reads it after seeing COMPLETE with Acquire.
        let delta = RUNNING | COMPLETE | outcome.bits();
        let prev = Snapshot(self.word.fetch_xor(delta, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        Snapshot(prev.0 ^ delta)
    }

    /// A waker is consumed by `wake()`. Its reference either becomes the
    /// `Notified`'s or is dropped.
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotifiedByVal {
        self.fetch_update_action(|mut s| {
            if s.is_running() {
                // The worker that runs it resubmits it after the poll; it
                // holds a reference, so this cannot be the last one.
                s.0 |= NOTIFIED;
                s.ref_dec();
                debug_assert!(s.ref_count() > 0);
                (TransitionToNotifiedByVal::DoNothing, Some(s))
            } else if s.is_complete() || s.is_notified() {
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToNotifiedByVal::Dealloc
                } else {
                    TransitionToNotifiedByVal::DoNothing
                };
                (action, Some(s))
            } else {
                s.0 |= NOTIFIED;
                (TransitionToNotifiedByVal::Submit, Some(s))
            }
        })
    }

    /// `wake_by_ref()`: like `by_val`, but a reference for the `Notified`
    /// has to be taken rather than transferred.
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotifiedByRef {
        self.fetch_update_action(|mut s| {
            if s.is_complete() {
                (TransitionToNotifiedByRef::DoNothing, None)
            } else if s.is_notified() {
                // Already queued, but the wake must still happen-before the
                // poll it stands for: a CAS of the word to its own value is
                // the release that publishes what the waker wrote before
                // waking (a plain load would publish nothing; found by the
                // loom model `wake_by_ref_of_a_queued_task`).
                (TransitionToNotifiedByRef::DoNothing, Some(s))
            } else if s.is_running() {
                s.0 |= NOTIFIED;
                (TransitionToNotifiedByRef::DoNothing, Some(s))
            } else {
                s.0 |= NOTIFIED;
                s.ref_inc_unchecked();
                (TransitionToNotifiedByRef::Submit, Some(s))
            }
        })
    }

    /// A `JoinHandle` or `CancelHandle` asks for cancellation. Returns `true`
    /// when the caller must submit a `Notified` (a reference for it has been
    /// taken) so that a worker drops the future.
    #[must_use = "on `true` the caller must submit a Notified, which owns the reference just taken"]
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.fetch_update_action(|mut s| {
            if s.is_cancel_requested() || s.is_complete() {
                return (false, None);
            }
            s.0 |= CANCELLED;
            if s.is_running() || s.is_notified() {
                // The running worker checks CANCELLED when the poll ends; a
                // queued Notified finds it in transition_to_running.
                return (false, Some(s));
            }
            s.0 |= NOTIFIED;
            s.ref_inc_unchecked();
            (true, Some(s))
        })
    }

    /// The runtime shuts down. Marks the task cancelled and, if it is idle,
    /// takes RUNNING so that the caller drops the future now (returns `true`).
    /// On `false` the caller still owns its reference and must drop it.
    #[must_use = "on `true` the caller holds RUNNING and must cancel and complete the task; on `false` it must drop its reference"]
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update_action(|mut s| {
            let idle = s.is_idle();
            if idle {
                s.0 |= RUNNING;
            }
            s.0 |= CANCELLED;
            (idle, Some(s))
        })
    }

    /// The `JoinHandle` is dropped. Clears JOIN_INTEREST and, if the task
    /// has not completed, takes the join waker slot back from the task.
    pub(crate) fn transition_to_join_handle_dropped(&self) -> JoinHandleDropped {
        self.fetch_update_action(|s| {
            debug_assert!(s.is_join_interested());
            let mut next = s;
            next.0 &= !JOIN_INTEREST;
            if !s.is_complete() {
                next.0 &= !JOIN_WAKER;
            }
            let action = JoinHandleDropped {
                drop_output: s.is_complete(),
                drop_waker: !s.is_complete(),
            };
            (action, Some(next))
        })
    }

    /// The `JoinHandle` stored a waker in the slot and hands the slot to the
    /// task. Fails (with the current state) if the task completed meanwhile;
    /// the slot then still belongs to the handle.
    #[must_use = "on `Err` the task completed: the handle must take its waker back and read the output"]
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|s| {
            if s.is_complete() {
                return (Err(s), None);
            }
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            let next = Snapshot(s.0 | JOIN_WAKER);
            (Ok(next), Some(next))
        })
    }

    /// The `JoinHandle` takes the slot back to store a different waker.
    /// Fails if the task completed (the task may be reading the slot).
    #[must_use = "on `Err` the task completed: the handle must not touch the slot and must read the output"]
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|s| {
            // COMPLETE first: the task may have completed and given the slot
            // back (clearing JOIN_WAKER) since the handle looked; then there
            // is nothing to take back (found by the loom model
            // `join_waker_swap_racing_completion`).
            if s.is_complete() {
                return (Err(s), None);
            }
            debug_assert!(s.is_join_interested() && s.is_join_waker_set());
            let next = Snapshot(s.0 & !JOIN_WAKER);
            (Ok(next), Some(next))
        })
    }

    /// The completing task has woken the join waker and gives the slot back.
    /// Returns the state before; if the handle was dropped meanwhile, the
    /// waker is now the task's to drop.
    #[must_use = "if JOIN_INTEREST was clear before, the completer must drop the join waker"]
    pub(crate) fn unset_waker_after_complete(&self) -> Snapshot {
        let prev = Snapshot(self.word.fetch_and(!JOIN_WAKER, Ordering::AcqRel));
        debug_assert!(prev.is_complete() && prev.is_join_waker_set());
        prev
    }

    /// Takes one more reference (a cloned waker or handle).
    pub(crate) fn ref_inc(&self) {
        // Relaxed suffices: a new reference is made from an existing one,
        // which already keeps the task alive (as `Arc::clone` reasons).
        let prev = self.word.fetch_add(REF_ONE, Ordering::Relaxed);
        // Wrapping the count would free a live task; abort like `Arc` does.
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Drops one reference; `true` if it was the last (deallocate).
    #[must_use = "on `true` the caller must deallocate the cell"]
    pub(crate) fn ref_dec(&self) -> bool {
        self.ref_dec_many(1)
    }

    /// Drops `count` references at once; `true` if they were the last.
    #[must_use = "on `true` the caller must deallocate the cell"]
    pub(crate) fn ref_dec_many(&self, count: usize) -> bool {
        // AcqRel: the last owner must see every other owner's writes before
        // it frees the cell (as `Arc::drop` reasons).
        let prev = Snapshot(self.word.fetch_sub(count * REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= count);
        prev.ref_count() == count
    }
}

impl Snapshot {
    /// Neither running nor complete: the future sits in the cell untouched.
    pub(crate) fn is_idle(self) -> bool {
        self.0 & (RUNNING | COMPLETE) == 0
    }

    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }

    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }

    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }

    pub(crate) fn is_cancel_requested(self) -> bool {
        self.0 & CANCELLED != 0
    }

    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }

    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }

    /// How the task ended; `None` until COMPLETE.
    pub(crate) fn outcome(self) -> Option<Outcome> {
        if !self.is_complete() {
            None
        } else if self.0 & PANICKED != 0 {
            Some(Outcome::Panicked)
        } else if self.0 & ENDED_CANCELLED != 0 {
            Some(Outcome::Cancelled)
        } else {
            Some(Outcome::Finished)
        }
    }

    pub(crate) fn ref_count(self) -> usize {
        (self.0 & REF_MASK) >> FLAG_BITS
    }

    fn ref_dec(&mut self) {
        debug_assert!(self.ref_count() > 0);
        self.0 -= REF_ONE;
    }

    fn ref_inc_unchecked(&mut self) {
        self.0 += REF_ONE;
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancel_requested", &self.is_cancel_requested())
            .field("join_interested", &self.is_join_interested())
            .field("join_waker_set", &self.is_join_waker_set())
            .field("outcome", &self.outcome())
            .field("ref_count", &self.ref_count())
            .finish()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}
