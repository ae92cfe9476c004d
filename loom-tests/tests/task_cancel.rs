//! Cancellation racing the task's polls (task core, issue 2).
//!
//! One thread cancels (through a `CancelHandle`, or the `JoinHandle`) while
//! the main thread runs the scheduler. The future has a preemption point in
//! the middle of its poll, so "cancel during a poll" really lands mid-poll.
//! Checked, for every interleaving:
//!
//! * cancel before the first poll: the future is never polled, it is dropped
//!   (unpolled) by the worker, the task ends `Cancelled`;
//! * cancel during a poll that returns `Pending`: the future is dropped after
//!   that poll returns, never during it (and never on the cancelling
//!   thread), and the task ends `Cancelled`;
//! * cancel during a poll that returns `Ready`: the output wins (`Finished`);
//! * cancel after completion: no effect, nothing is scheduled, the output is
//!   still there;
//! * in all of them: the future and the output are dropped exactly once, the
//!   `JoinHandle` (or the waker it registered) learns the outcome, and no task
//!   memory leaks (loom's leak check on the task cell's scheduler `Arc` and
//!   on the tracked tokens).
//!
//! Run:
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test task_cancel
//! Deeper: LOOM_MAX_PREEMPTIONS=3 (or unset, for the exhaustive search).
//! Time (release, 2-core machine): ≈0.1 s at 2 preemptions, ≈0.3 s at 3.

#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_cancelled, expect_ready, model, poll_handle, CountingWaker, Gate, Probe};
use runtime::__loom::TestScheduler;
use runtime::TaskState;
use std::sync::Arc;
use std::task::Poll;

/// Cancel (from another thread) racing the task's polls on the main thread.
/// Returns the final state and the poll count; checks drops and leaks.
fn cancel_racing_polls(ready_on: Option<usize>, self_wake: bool) -> (TaskState, usize) {
    // The model runs many times; the outcome of each run is checked inside.
    let sched = TestScheduler::new();
    let probe = Probe::default();
    let mut handle = sched.spawn(probe.future(ready_on, self_wake));
    let canceller = handle.cancel_handle();
    let gate = Gate::new();
    let th = thread::spawn({
        let gate = gate.clone();
        move || {
            gate.enter();
            canceller.cancel();
        }
    });
    gate.enter();
    sched.tick();
    th.join().unwrap();
    // A cancel that found the task idle queued it once more.
    sched.tick();

    let state = handle.state();
    let polls = probe.polls();
    assert_eq!(sched.live(), 0, "the task did not end: {state:?}");
    assert_eq!(sched.queued(), 0);
    assert_eq!(probe.future_drops.get(), 1);
    match state {
        TaskState::Finished => {
            assert_eq!(Some(polls), ready_on, "Finished without a Ready poll");
            assert_eq!(
                probe.output_drops.get(),
                0,
                "the output waits for its handle"
            );
            let output = expect_ready(&mut handle).expect("Finished");
            drop(output);
        }
        TaskState::Cancelled => {
            assert!(
                ready_on.is_none_or(|r| polls < r),
                "a Ready poll was discarded"
            );
            assert_cancelled(expect_ready(&mut handle));
        }
        other => panic!("unexpected final state {other:?}"),
    }
    drop(handle);
    assert_eq!(probe.output_drops.get(), 1);
    (state, polls)
}

/// Cancel racing the first poll, which would return `Ready`: either the
/// cancel is seen first (never polled, `Cancelled`) or the output wins.
#[test]
fn cancel_racing_first_poll() {
    model(|| {
        cancel_racing_polls(Some(1), false);
    });
}

/// Cancel racing a poll that returns `Pending`: always `Cancelled`, and the
/// future is dropped after the poll, not during it.
#[test]
fn cancel_racing_pending_poll() {
    model(|| {
        let (state, polls) = cancel_racing_polls(None, false);
        assert_eq!(state, TaskState::Cancelled);
        assert!(polls <= 1);
    });
}

/// The task is polled twice (the first poll wakes itself and returns
/// `Pending`, the second returns `Ready`); the cancel lands anywhere in
/// between: a cancel during the second poll loses to its output.
#[test]
fn cancel_racing_repoll_that_completes() {
    model(|| {
        let (state, polls) = cancel_racing_polls(Some(2), true);
        assert_eq!(state == TaskState::Finished, polls == 2);
    });
}

/// Cancel and drop the `JoinHandle` (detach) on one thread while the task
/// runs on another: the completer or the cancel path drops the output
/// exactly once and frees the task.
#[test]
fn cancel_and_detach_racing_first_poll() {
    model(|| {
        let sched = TestScheduler::new();
        let probe = Probe::default();
        let handle = sched.spawn(probe.future(Some(1), false));
        let gate = Gate::new();
        let th = thread::spawn({
            let gate = gate.clone();
            move || {
                gate.enter();
                handle.cancel();
                drop(handle);
            }
        });
        gate.enter();
        sched.tick();
        th.join().unwrap();
        sched.tick();
        assert_eq!(sched.live(), 0);
        assert_eq!(sched.queued(), 0);
        assert!(probe.polls() <= 1);
        assert_eq!(probe.future_drops.get(), 1);
        assert_eq!(probe.output_drops.get(), 1);
    });
}

/// Cancelled before its first poll; a worker thread then runs the queue
/// while the main thread awaits the `JoinHandle`: the future is dropped
/// unpolled, and the handle sees `Cancelled` either at once or after its
/// waker is woken.
#[test]
fn cancel_before_first_poll_racing_join() {
    model(|| {
        let sched = TestScheduler::new();
        let probe = Probe::default();
        let mut handle = sched.spawn(probe.future(Some(1), false));
        handle.cancel();
        assert_eq!(handle.state(), TaskState::Cancelled);
        let (wakes, waker) = CountingWaker::new();
        let gate = Gate::new();
        let worker = {
            let (sched, gate) = (sched.clone(), gate.clone());
            thread::spawn(move || {
                gate.enter();
                sched.tick();
            })
        };
        gate.enter();
        let first = poll_handle(&mut handle, &waker);
        worker.join().unwrap();
        match first {
            Poll::Ready(result) => {
                assert_cancelled(result);
                assert_eq!(wakes.wakes(), 0);
            }
            Poll::Pending => {
                assert_eq!(wakes.wakes(), 1, "the join waker was not woken");
                assert_cancelled(expect_ready(&mut handle));
            }
        }
        assert_eq!(probe.polls(), 0, "a cancelled task was polled");
        assert_eq!(probe.future_drops.get(), 1);
        assert_eq!(probe.output_drops.get(), 1);
        assert_eq!(sched.live(), 0);
        drop(handle);
        drop(waker);
        assert_eq!(Arc::strong_count(&wakes), 1, "a join waker clone leaked");
    });
}

/// Cancel after completion, racing the `JoinHandle`'s read of the output:
/// nothing changes and nothing is scheduled.
#[test]
fn cancel_after_completion() {
    model(|| {
        let sched = TestScheduler::new();
        let probe = Probe::default();
        let mut handle = sched.spawn(probe.future(Some(1), false));
        sched.tick();
        assert_eq!(handle.state(), TaskState::Finished);
        let canceller = handle.cancel_handle();
        let gate = Gate::new();
        let th = thread::spawn({
            let gate = gate.clone();
            move || {
                gate.enter();
                canceller.cancel();
                assert_eq!(canceller.state(), TaskState::Finished);
            }
        });
        gate.enter();
        let output = expect_ready(&mut handle).expect("cancel after completion changes nothing");
        th.join().unwrap();
        assert_eq!(
            sched.queued(),
            0,
            "a cancel after completion scheduled the task"
        );
        assert_eq!(handle.state(), TaskState::Finished);
        drop(output);
        drop(handle);
        assert_eq!(probe.future_drops.get(), 1);
        assert_eq!(probe.output_drops.get(), 1);
    });
}
