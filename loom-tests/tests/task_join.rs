//! The `JoinHandle` side of a task racing its completion (task core, issue 2):
//! dropping the handle, and the join-waker hand-off (rules 1–4 at the top of
//! `runtime/src/task/mod.rs`).
//!
//! A worker thread runs the task to completion (it returns `Ready` on its
//! first poll) while the main thread drops, polls or re-polls the handle.
//! Checked, for every interleaving:
//!
//! * handle dropped racing completion: the output is dropped exactly once
//!   (by the completer if the handle went first, else by the handle), the
//!   future exactly once, the join waker (if one was registered) is dropped
//!   and woken at most once, and the task cell is freed (loom's leak check
//!   on the cell's scheduler `Arc`, and on the tracked tokens and wakers);
//! * join-waker hand-off — the handle was polled with waker A, and is
//!   re-polled with a different waker B (or A again) while the task
//!   completes. Writing `r` for what the re-poll returned:
//!     - `r` is `Ready`: B was never woken (it was never left registered);
//!       A may or may not have been (it was registered when the task
//!       completed, or not);
//!     - `r` is `Pending`: the latest waker (B) was woken exactly once by the
//!       time the worker is done, and A never (it had been replaced); with A
//!       again, A was woken exactly once;
//!     - at most one wake in total, and the next poll of the handle is
//!       `Ready` with the output: no lost wake-up, no stale waker woken;
//! * the first poll of the handle racing completion: `Pending` implies the
//!   waker is woken exactly once; `Ready` implies it never is.
//!
//! Bug found (debug builds only, now fixed) by `join_waker_swap_racing_completion`
//! run with the runtime's debug assertions on: `State::unset_join_waker`
//! asserts `JOIN_WAKER` is set *before* checking `COMPLETE`. The handle saw
//! `JOIN_WAKER` set, but by the time its CAS loop loads the word the task
//! may have completed, woken the old waker and cleared `JOIN_WAKER` (rule
//! 3): the assertion then fires inside `JoinHandle::poll` although the code
//! after it handles that state correctly (`Err`, read the output). Release
//! builds were unaffected. The assertion now comes after the `COMPLETE`
//! check, and `.ci/run` runs the models with debug assertions on.
//!
//! Run:
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test task_join
//! With the runtime's debug assertions (shows the bug above):
//!   RUSTFLAGS="--cfg loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test task_join
//! Deeper: LOOM_MAX_PREEMPTIONS=3 (or unset, for the exhaustive search).
//! Time (release, 2-core machine): ≈0.05 s at 2 preemptions, ≈0.2 s at 3.

#![cfg(loom)]

use loom::thread;
use loom_tests::{expect_ready, model, poll_handle, CountingWaker, DropCount, Gate, Token};
use runtime::__loom::TestScheduler;
use runtime::{JoinHandle, TaskState};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Returns its output on the first poll.
struct ReadyNow {
    output: Option<Token>,
    _token: Token,
}

impl Future for ReadyNow {
    type Output = Token;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Token> {
        Poll::Ready(self.output.take().expect("polled after Ready"))
    }
}

struct Setup {
    sched: TestScheduler,
    handle: JoinHandle<Token>,
    output_drops: DropCount,
    future_drops: DropCount,
}

fn setup() -> Setup {
    let sched = TestScheduler::new();
    let output_drops = DropCount::new();
    let future_drops = DropCount::new();
    let handle = sched.spawn(ReadyNow {
        output: Some(output_drops.token()),
        _token: future_drops.token(),
    });
    Setup {
        sched,
        handle,
        output_drops,
        future_drops,
    }
}

/// Runs the queue on a new loom thread, which enters `gate` first.
fn worker(sched: &TestScheduler, gate: &Gate) -> thread::JoinHandle<()> {
    let (sched, gate) = (sched.clone(), gate.clone());
    thread::spawn(move || {
        gate.enter();
        sched.tick();
    })
}

fn handle_dropped_racing_completion(register_waker: bool) {
    model(move || {
        let Setup {
            sched,
            mut handle,
            output_drops,
            future_drops,
        } = setup();
        let (counter, waker) = CountingWaker::new();
        if register_waker {
            assert!(poll_handle(&mut handle, &waker).is_pending());
        }
        let gate = Gate::new();
        let th = worker(&sched, &gate);
        gate.enter();
        drop(handle);
        th.join().unwrap();

        assert_eq!(sched.live(), 0);
        assert_eq!(sched.queued(), 0);
        assert_eq!(future_drops.get(), 1);
        assert_eq!(
            output_drops.get(),
            1,
            "the output must be dropped exactly once"
        );
        assert!(counter.wakes() <= 1);
        drop(waker);
        assert_eq!(Arc::strong_count(&counter), 1, "a join waker clone leaked");
    });
}

#[test]
fn handle_dropped_racing_completion_without_waker() {
    handle_dropped_racing_completion(false);
}

/// With a join waker registered: the completer may be waking it while the
/// handle is dropped (rule 3's "handle went away meanwhile" case).
#[test]
fn handle_dropped_racing_completion_with_waker() {
    handle_dropped_racing_completion(true);
}

fn join_waker_repoll_racing_completion(same_waker: bool) {
    model(move || {
        let Setup {
            sched,
            mut handle,
            output_drops,
            future_drops,
        } = setup();
        let (a, waker_a) = CountingWaker::new();
        let (b, waker_b) = CountingWaker::new();
        assert!(poll_handle(&mut handle, &waker_a).is_pending());

        let gate = Gate::new();
        let th = worker(&sched, &gate);
        gate.enter();
        let latest = if same_waker { &waker_a } else { &waker_b };
        let repoll = poll_handle(&mut handle, latest);
        th.join().unwrap();

        let (a_wakes, b_wakes) = (a.wakes(), b.wakes());
        assert!(a_wakes + b_wakes <= 1, "woken {a_wakes} + {b_wakes} times");
        let output = match repoll {
            Poll::Ready(result) => {
                assert_eq!(b_wakes, 0, "B was woken but never left registered");
                result.expect("the task finished")
            }
            Poll::Pending => {
                if same_waker {
                    assert_eq!(a_wakes, 1, "lost wake-up: A still registered, not woken");
                } else {
                    assert_eq!(b_wakes, 1, "lost wake-up: B registered last, not woken");
                    assert_eq!(a_wakes, 0, "A was woken after B replaced it");
                }
                expect_ready(&mut handle).expect("the task finished")
            }
        };
        assert_eq!(handle.state(), TaskState::Finished);
        assert_eq!(output_drops.get(), 0);
        drop(output);
        assert_eq!(output_drops.get(), 1);
        assert_eq!(future_drops.get(), 1);
        assert_eq!(sched.live(), 0);
        drop(handle);
        drop(waker_a);
        drop(waker_b);
        assert_eq!(Arc::strong_count(&a), 1, "a clone of waker A leaked");
        assert_eq!(Arc::strong_count(&b), 1, "a clone of waker B leaked");
    });
}

/// Rules 1–3: the handle swaps its join waker (A for B) while the task
/// completes and wakes whichever it finds.
#[test]
fn join_waker_swap_racing_completion() {
    join_waker_repoll_racing_completion(false);
}

/// Re-poll with the same waker (`will_wake` keeps it, no swap) racing the
/// completion.
#[test]
fn join_waker_same_waker_racing_completion() {
    join_waker_repoll_racing_completion(true);
}

/// The handle's first poll (installing the join waker) racing completion.
#[test]
fn join_first_poll_racing_completion() {
    model(|| {
        let Setup {
            sched,
            mut handle,
            output_drops,
            future_drops,
        } = setup();
        let (counter, waker) = CountingWaker::new();
        let gate = Gate::new();
        let th = worker(&sched, &gate);
        gate.enter();
        let first = poll_handle(&mut handle, &waker);
        th.join().unwrap();
        let output = match first {
            Poll::Ready(result) => {
                assert_eq!(counter.wakes(), 0, "woken although it was never registered");
                result.expect("the task finished")
            }
            Poll::Pending => {
                assert_eq!(counter.wakes(), 1, "lost wake-up");
                expect_ready(&mut handle).expect("the task finished")
            }
        };
        drop(output);
        assert_eq!(output_drops.get(), 1);
        assert_eq!(future_drops.get(), 1);
        drop(handle);
        drop(waker);
        assert_eq!(Arc::strong_count(&counter), 1, "a join waker clone leaked");
    });
}
