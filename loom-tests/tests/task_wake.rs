//! Wake racing a re-poll and the completion of a task (task core, issue 2).
//!
//! The task's future waits for a flag: its first poll hands a clone of its
//! waker out and wakes itself (so the scheduler polls it again at once);
//! every poll returns `Ready(output)` once it sees the flag. Another loom
//! thread sets the flag (Release) and wakes the task — by value or by
//! reference — while the main thread re-polls it, possibly completing it.
//! Checked, for every interleaving:
//!
//! * no lost wake-up: once the waking thread is done and the queue is
//!   drained, the task has completed (the flag store reaches the poll through
//!   the state word's synchronization, with no other help);
//! * the future is never polled again after `Ready` (the harness would hit
//!   `unreachable!`), never concurrently (loom's `UnsafeCell` tracking), and
//!   it is dropped exactly once;
//! * the output is read exactly once through the `JoinHandle` and dropped
//!   exactly once; with the handle dropped first (detached), the completer
//!   drops it; the waker may hold the last reference and free the task;
//! * nothing leaks: the task cell holds a loom `Arc` (its scheduler) and the
//!   output and future hold tracked tokens.
//!
//! Bug found by these models (fixed; see `wake_by_ref_of_a_queued_task`):
//! `wake_by_ref` on a task that is already NOTIFIED only *loads* the state
//! word and writes nothing, so it has no release operation: what the waking
//! thread wrote before the wake need not be visible to the poll that the
//! queued `Notified` runs next, and that poll can return `Pending` on stale
//! data with no wake left to come. (`wake`, by value, always writes the word
//! — it drops a reference — and passes.) `Waker::wake` must happen-before
//! the poll it causes. `State::transition_to_notified_by_ref` now does a
//! release RMW on that path (a CAS of the word to its own value).
//!
//! Run:
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test task_wake
//! Deeper: LOOM_MAX_PREEMPTIONS=3 or 4 (unset, the exhaustive search, takes
//! seconds for the two-party models, far longer for the three-party one).
//! Time (release, 2-core machine): ≈0.6 s at 2 preemptions, ≈8 s at 3
//! (almost all of it `wake_and_cancel_racing_repoll`).

#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{expect_ready, model, DropCount, Gate, Token};
use runtime::__loom::TestScheduler;
use runtime::TaskState;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
use std::task::{Context, Poll, Waker};

/// Waits for `flag`; see the module docs.
struct WaitForFlag {
    flag: Arc<AtomicBool>,
    /// Where the first poll puts a clone of its waker for the test to take
    /// (only ever touched by the main thread: a std mutex is enough).
    handoff: std::sync::Arc<std::sync::Mutex<Option<Waker>>>,
    polls: std::sync::Arc<AtomicUsize>,
    output: Option<Token>,
    _future: Token,
}

impl Future for WaitForFlag {
    type Output = Token;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Token> {
        let this = &mut *self;
        let poll = this.polls.fetch_add(1, StdOrdering::SeqCst);
        if poll == 0 {
            *this.handoff.lock().unwrap() = Some(cx.waker().clone());
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if this.flag.load(Ordering::Acquire) {
            Poll::Ready(this.output.take().expect("polled after Ready"))
        } else {
            Poll::Pending
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Wake {
    ByVal,
    ByRef,
}

fn wake_racing_repoll(wake: Wake, detach: bool) {
    model(move || {
        let sched = TestScheduler::new();
        let flag = Arc::new(AtomicBool::new(false));
        let handoff = std::sync::Arc::new(std::sync::Mutex::new(None));
        let polls = std::sync::Arc::new(AtomicUsize::new(0));
        let output_drops = DropCount::new();
        let future_drops = DropCount::new();
        let mut handle = Some(sched.spawn(WaitForFlag {
            flag: flag.clone(),
            handoff: handoff.clone(),
            polls: polls.clone(),
            output: Some(output_drops.token()),
            _future: future_drops.token(),
        }));

        // First poll: hands out the waker, wakes itself, returns Pending.
        assert!(sched.tick_one());
        assert_eq!(sched.queued(), 1, "a self-wake requeues the task");
        let waker = handoff.lock().unwrap().take().unwrap();

        let gate = Gate::new();
        let waker_thread = thread::spawn({
            let gate = gate.clone();
            move || {
                gate.enter();
                flag.store(true, Ordering::Release);
                match wake {
                    Wake::ByVal => waker.wake(),
                    Wake::ByRef => {
                        waker.wake_by_ref();
                        drop(waker);
                    }
                }
            }
        });
        gate.enter();
        if detach {
            // Dropping the handle races the wake too.
            handle = None;
        }
        // The re-poll races the wake.
        sched.tick();
        waker_thread.join().unwrap();
        // Whatever the wake queued runs now; after that the task must be done.
        sched.tick();

        let polls = polls.load(StdOrdering::SeqCst);
        assert!((2..=3).contains(&polls), "{polls} polls");
        assert_eq!(sched.live(), 0, "the task never completed: lost wake-up");
        if let Some(mut handle) = handle {
            assert_eq!(handle.state(), TaskState::Finished);
            assert_eq!(output_drops.get(), 0, "the output waits for its handle");
            let output = expect_ready(&mut handle).expect("the task finished");
            assert_eq!(output_drops.get(), 0);
            drop(output);
            assert_eq!(output_drops.get(), 1);
        } else {
            assert_eq!(output_drops.get(), 1, "a detached task drops its output");
        }
        assert_eq!(sched.queued(), 0);
    });
}

#[test]
fn wake_by_val_racing_repoll() {
    wake_racing_repoll(Wake::ByVal, false);
}

#[test]
fn wake_by_ref_racing_repoll() {
    wake_racing_repoll(Wake::ByRef, false);
}

#[test]
fn wake_by_val_racing_repoll_detached() {
    wake_racing_repoll(Wake::ByVal, true);
}

/// The minimal model of the lost wake-up described in the module docs: the
/// task is queued (it woke itself), another thread publishes the flag and
/// calls `wake_by_ref` while the main thread runs the queued poll.
#[test]
fn wake_by_ref_of_a_queued_task() {
    model(|| {
        let sched = TestScheduler::new();
        let flag = Arc::new(AtomicBool::new(false));
        let handoff = std::sync::Arc::new(std::sync::Mutex::new(None));
        let output = DropCount::new();
        let future = DropCount::new();
        let handle = sched.spawn(WaitForFlag {
            flag: flag.clone(),
            handoff: handoff.clone(),
            polls: Default::default(),
            output: Some(output.token()),
            _future: future.token(),
        });
        // Poll 1 hands out the waker and wakes itself: NOTIFIED and queued.
        sched.tick_one();
        let waker: Waker = handoff.lock().unwrap().take().unwrap();
        let gate = Gate::new();
        let th = thread::spawn({
            let gate = gate.clone();
            move || {
                gate.enter();
                flag.store(true, Ordering::Release);
                waker.wake_by_ref();
            }
        });
        gate.enter();
        sched.tick();
        th.join().unwrap();
        sched.tick();
        assert_eq!(handle.state(), TaskState::Finished, "lost wake-up");
    });
}

/// Three parties: the waker thread (flag, then `wake`), a thread that
/// cancels, and the main thread polling. The task ends exactly once, either
/// `Finished` (the output reaches the handle) or `Cancelled`; the future and
/// the output are dropped exactly once and nothing leaks.
#[test]
fn wake_and_cancel_racing_repoll() {
    model(|| {
        let sched = TestScheduler::new();
        let flag = Arc::new(AtomicBool::new(false));
        let handoff = std::sync::Arc::new(std::sync::Mutex::new(None));
        let output_drops = DropCount::new();
        let future_drops = DropCount::new();
        let mut handle = sched.spawn(WaitForFlag {
            flag: flag.clone(),
            handoff: handoff.clone(),
            polls: Default::default(),
            output: Some(output_drops.token()),
            _future: future_drops.token(),
        });
        sched.tick_one();
        let waker: Waker = handoff.lock().unwrap().take().unwrap();
        let gate = Gate::new();
        let waking = thread::spawn({
            let gate = gate.clone();
            move || {
                gate.enter();
                flag.store(true, Ordering::Release);
                waker.wake();
            }
        });
        let cancelling = thread::spawn({
            let (gate, canceller) = (gate.clone(), handle.cancel_handle());
            move || {
                gate.enter();
                canceller.cancel();
            }
        });
        gate.enter();
        sched.tick();
        waking.join().unwrap();
        cancelling.join().unwrap();
        sched.tick();

        assert_eq!(sched.live(), 0, "the task did not end");
        assert_eq!(sched.queued(), 0);
        assert_eq!(future_drops.get(), 1);
        match handle.state() {
            TaskState::Finished => drop(expect_ready(&mut handle).expect("Finished")),
            TaskState::Cancelled => loom_tests::assert_cancelled(expect_ready(&mut handle)),
            other => panic!("unexpected final state {other:?}"),
        }
        drop(handle);
        assert_eq!(output_drops.get(), 1);
    });
}
