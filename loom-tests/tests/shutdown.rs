//! Runtime shutdown racing a spawn (scheduler, issue 3).
//!
//! One thread shuts the scheduler down as the multi-thread flavor does:
//! `OwnedTasks::close_and_shutdown_all` (close every registry shard, then
//! pop each listed task and shut it down: cancel it, dropping its future at
//! once if it is idle), then drop every queued `Notified`. Meanwhile the main
//! thread spawns a task (bind it to the registry, queue its first poll; if
//! the registry is closed, shut the task down at once) and runs the queue.
//! Checked, for every interleaving:
//!
//! * the task either runs normally (`Finished`, its one `Ready` poll
//!   happened and the output reaches the `JoinHandle`) or ends `Cancelled`
//!   (never polled to `Ready`), never both, and it always ends: no task is
//!   left in the registry or the queue;
//! * a task whose future never completes is always cancelled, whether the
//!   shutdown finds it queued, mid-poll or idle;
//! * the future and the output are dropped exactly once, the future never
//!   while it is being polled, and no task memory leaks (loom's leak check on
//!   the task cell's scheduler `Arc` and on the tracked tokens).
//!
//! Run:
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test shutdown
//! Deeper: LOOM_MAX_PREEMPTIONS=3 (or unset, for the exhaustive search).
//! Time (release, 2-core machine): ≈0.05 s at 2 preemptions, ≈0.4 s at 3;
//! unbounded, the yielding variant runs ~4 million iterations (minutes).

#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_cancelled, expect_ready, model, Gate, Probe};
use runtime::__loom::TestScheduler;
use runtime::TaskState;

/// `ready_on`: the poll on which the future returns `Ready` (`None`: never).
fn shutdown_racing_spawn(ready_on: Option<usize>, self_wake: bool) {
    model(move || {
        let sched = TestScheduler::new();
        let probe = Probe::default();
        let gate = Gate::new();
        let shutdown = {
            let (sched, gate) = (sched.clone(), gate.clone());
            thread::spawn(move || {
                gate.enter();
                sched.shutdown();
            })
        };
        gate.enter();
        let mut handle = sched.spawn(probe.future(ready_on, self_wake));
        sched.tick();
        shutdown.join().unwrap();
        // A Notified queued after the shutdown's drain is run (and found
        // stale) here, as a worker would before it stops.
        sched.tick();

        assert_eq!(sched.live(), 0, "a task outlived shutdown in the registry");
        assert_eq!(sched.queued(), 0);
        assert_eq!(probe.future_drops.get(), 1);
        let polls = probe.polls();
        match handle.state() {
            TaskState::Finished => {
                assert_eq!(Some(polls), ready_on, "Finished without a Ready poll");
                drop(expect_ready(&mut handle).expect("Finished"));
            }
            TaskState::Cancelled => {
                assert!(
                    ready_on.is_none_or(|r| polls < r),
                    "the task completed and was reported Cancelled"
                );
                assert_cancelled(expect_ready(&mut handle));
            }
            other => panic!("unexpected final state {other:?}"),
        }
        drop(handle);
        assert_eq!(probe.output_drops.get(), 1);
    });
}

/// A task that completes on its first poll: it runs, or is cancelled.
#[test]
fn shutdown_racing_spawn_of_a_ready_task() {
    shutdown_racing_spawn(Some(1), false);
}

/// A task that never completes (and is never woken): always cancelled.
#[test]
fn shutdown_racing_spawn_of_a_pending_task() {
    shutdown_racing_spawn(None, false);
}

/// A task that wakes itself once, then completes: the shutdown may find it
/// queued again after its first poll.
#[test]
fn shutdown_racing_spawn_of_a_yielding_task() {
    shutdown_racing_spawn(Some(2), true);
}
