//! The hand-off of local tasks (`task::spawn_local`, `scheduler/local.rs`):
//! a task of one thread's queue woken from another thread while the owner
//! looks for work and goes to sleep.
//!
//! The owner registers its waker with the queue, runs what is queued, and
//! sleeps (`loom::thread::park`, which keeps an unpark that came first, as
//! the runtime's parkers do) when the queue looks empty and the task has
//! not finished. Another thread wakes the task. Checked, for every
//! interleaving: the task runs to completion on the owner — no wake-up is
//! lost between `schedule`'s push and the owner's last look (invariant 2 of
//! `scheduler/local.rs`; loom reports a deadlock otherwise) — and the
//! future is never polled concurrently.
//!
//! A second model wakes the task while the owner shuts its queue down: the
//! wake may come before or after; either way nothing is left queued, the
//! handle reports the cancellation or the output, and nothing leaks.
//!
//! Seeded bug checked: with `schedule` waking the owner *before* pushing
//! the task, the first model deadlocks (loom: "deadlock; threads =
//! [...]") at LOOM_MAX_PREEMPTIONS=2.
//!
//! Run:
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test local_queue

#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use loom_tests::model;
use runtime::__loom::LocalQueueModel;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::{Poll, Wake, Waker};

/// Wakes a loom thread.
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// A flag and a waker slot: the future's own, race-free wait (the flag is
/// set before the slot is read; the slot is filled before the flag is
/// looked at again).
#[derive(Clone, Default)]
struct Signal {
    set: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Signal {
    fn fire(&self) {
        self.set.store(true, Ordering::Release);
        let waker = self.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.set.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn a_wake_from_another_thread_reaches_a_sleeping_owner() {
    model(|| {
        let queue = LocalQueueModel::new();
        queue.set_waker(&Waker::from(std::sync::Arc::new(Unpark(thread::current()))));
        let signal = Signal::default();
        let handle = queue.spawn({
            let signal = signal.clone();
            async move {
                // Not `Send`: held across the wait.
                let here = Rc::new(7);
                signal.wait().await;
                *here
            }
        });
        // The first poll: the task waits.
        assert!(queue.run_one());
        let waker = thread::spawn(move || signal.fire());
        // The owner's loop, as a worker or `block_on` runs it.
        while !handle.is_finished() {
            if !queue.run_one() {
                thread::park();
            }
        }
        waker.join().unwrap();
        assert!(!queue.has_work());
        let output = futures_poll_ready(handle);
        assert_eq!(output, 7);
        queue.shutdown();
    });
}

#[test]
fn a_wake_racing_the_owners_shutdown_leaves_nothing_queued() {
    model(|| {
        let queue = LocalQueueModel::new();
        queue.set_waker(&Waker::from(std::sync::Arc::new(Unpark(thread::current()))));
        let signal = Signal::default();
        let handle = queue.spawn({
            let signal = signal.clone();
            async move {
                signal.wait().await;
                1
            }
        });
        assert!(queue.run_one());
        let waker = thread::spawn(move || signal.fire());
        queue.shutdown();
        waker.join().unwrap();
        // Woken before the shutdown: the task was queued, and shutdown
        // drained it; woken after: the closed queue dropped the wake.
        assert!(!queue.has_work());
        assert!(!queue.run_one());
        let handle = std::pin::pin!(handle);
        let out = handle.poll(&mut std::task::Context::from_waker(Waker::noop()));
        match out {
            Poll::Ready(Err(err)) => assert!(err.is_cancelled()),
            other => panic!("a shut-down task's handle: {other:?}"),
        }
    });
}

/// The output of a finished task's handle.
fn futures_poll_ready<T>(handle: runtime::JoinHandle<T>) -> T {
    let mut handle = std::pin::pin!(handle);
    match handle
        .as_mut()
        .poll(&mut std::task::Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out.expect("the task ran to completion"),
        Poll::Pending => panic!("a finished task's handle is pending"),
    }
}
