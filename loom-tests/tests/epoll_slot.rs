//! The epoll driver's blocking-op hand-off (`driver/epoll/slot.rs`): the
//! op's future dropped at any moment against the pool closure that makes
//! the system call. Checked, for every interleaving:
//!
//! * if the call was made, its result is completed exactly once, by the
//!   closure (future gone) or by the future (its poll or its drop);
//! * if the future was gone before the call started, the call is never
//!   made;
//! * the data is dropped exactly once, whoever ends up with it.
//!
//! Run:
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test epoll_slot

#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use runtime::__loom::BlockingSlot;

/// What the model counts.
#[derive(Default)]
struct Counts {
    calls: AtomicUsize,
    completions: AtomicUsize,
    drops: AtomicUsize,
}

/// An op's data: counts its call, its completion and its drop.
struct Data(Arc<Counts>);

impl Data {
    fn perform(&mut self) -> i32 {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        7
    }

    fn complete(self, res: i32) {
        assert_eq!(res, 7, "the call's own result is completed");
        self.0.completions.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// The pool closure (`epoll/op.rs`, `run_blocking`).
fn closure(slot: &BlockingSlot<Data>) {
    let Some(mut data) = slot.start() else {
        return;
    };
    let res = data.perform();
    if let Some((data, res)) = slot.finish(data, res) {
        data.complete(res);
    }
}

fn check(counts: &Counts) {
    let calls = counts.calls.load(Ordering::SeqCst);
    assert!(calls <= 1, "the call was made {calls} times");
    assert_eq!(
        counts.completions.load(Ordering::SeqCst),
        calls,
        "a call's result must be completed exactly once, and only a call's"
    );
    assert_eq!(counts.drops.load(Ordering::SeqCst), 1, "data dropped once");
}

/// The future is dropped while the closure runs (or before, or after).
#[test]
fn future_dropped_racing_the_call() {
    loom::model(|| {
        let counts = Arc::new(Counts::default());
        let slot = Arc::new(BlockingSlot::new(Data(counts.clone())));
        let pool = thread::spawn({
            let slot = slot.clone();
            move || closure(&slot)
        });
        // The future's drop (`EpollOp::drop`).
        if let Some((data, res)) = slot.abandon() {
            data.complete(res);
        }
        pool.join().unwrap();
        drop(slot);
        check(&counts);
    });
}

/// The future waits for the closure (its `JoinHandle`), then takes the
/// result; or is dropped right after the closure ended, result untaken.
#[test]
fn future_takes_the_result_or_drops_it_after_the_call() {
    for take in [true, false] {
        loom::model(move || {
            let counts = Arc::new(Counts::default());
            let slot = Arc::new(BlockingSlot::new(Data(counts.clone())));
            let pool = thread::spawn({
                let slot = slot.clone();
                move || closure(&slot)
            });
            pool.join().unwrap();
            if take {
                let (data, res) = slot.take().expect("the data is back");
                data.complete(res.expect("the call ran"));
            } else if let Some((data, res)) = slot.abandon() {
                data.complete(res);
            }
            drop(slot);
            assert_eq!(counts.calls.load(Ordering::SeqCst), 1);
            check(&counts);
        });
    }
}

/// The pool shut down before running the closure (it is dropped unrun):
/// the future finds its data without a result, or its drop leaves the data
/// to go with the slot. The call is never made.
#[test]
fn closure_never_runs() {
    for poll_first in [true, false] {
        loom::model(move || {
            let counts = Arc::new(Counts::default());
            let slot = Arc::new(BlockingSlot::new(Data(counts.clone())));
            if poll_first {
                let (data, res) = slot.take().expect("the data never left");
                assert_eq!(res, None, "no call, no result");
                drop(data);
            } else {
                assert!(slot.abandon().is_none());
            }
            drop(slot);
            check(&counts);
        });
    }
}
