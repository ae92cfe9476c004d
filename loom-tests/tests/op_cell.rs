//! The io_uring op's lifecycle (`driver/op.rs`): `Submitted → Waiting →
//! Completed / Ignored → Done`, the op's data, and the `Arc` references to
//! its cell (the future's, the kernel reference, a cancel reference), raced
//! by the future's poll and drop, the owning ring's completion, and the
//! ring's release of the cancel reference. The cell and the `UringOp`
//! future are the real ones (`runtime::__loom::OpCellModel`); only the ring
//! is played by the model: a thread that "is the kernel" (writes the op's
//! buffer, then completes the kernel reference, as the ring does when it
//! reaps the CQE) and drains a one-slot command queue for the cancel.
//! Checked, for every interleaving:
//!
//! * the data's `complete` runs exactly once (also when the future is gone,
//!   so what the kernel created for the op gets an owner), with the result
//!   the ring delivered, and the data is dropped exactly once;
//! * neither happens before the kernel answered (the model's kernel writes
//!   the op's buffer, a loom cell, right before it completes: a `complete`
//!   or drop of the data not ordered after that write is a loom failure);
//! * the future gets `Ready`, or `Pending` and then a wake through the waker
//!   it last polled with: never a wake of only an older waker (no lost
//!   wake-up), and no wake once the future is dropped;
//! * every reference is released: loom reports an `Arc` (the cell) or a
//!   waker clone still alive at the end of an iteration.
//!
//! Run:
//!   RUSTFLAGS="--cfg loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --target-dir target-loom --test op_cell
//!
//! Well under a second once built (about a hundred iterations in all), with
//! `LOOM_MAX_PREEMPTIONS=2` and also with 3 or unbounded: the parties share
//! one lock and a handful of `Arc` counts.
//!
//! Seeded bugs (each put into `driver/op.rs` by hand, run, and reverted):
//!
//! 1. `UringOp::drop` decides under the lock, but moves the op to `Ignored`
//!    in a second critical section (`drop(state)`, then
//!    `mem::replace(&mut *cell.header.state.lock(), Lifecycle::Ignored)`).
//!    `completion_racing_drop` and `cancel_racing_completion` fail: in the
//!    interleaving where the completion runs between the two sections (sees
//!    `Submitted`, leaves `Completed`), the drop then overwrites `Completed`
//!    with `Ignored`, and the models fail with "the op is still ignored
//!    after its completion was reaped: nobody will complete its data" (its
//!    `complete` never runs; the data is only dropped with the cell).
//! 2. The re-poll keeps the first waker (`Waiting` no longer replaced):
//!    `completion_racing_repoll_with_a_new_waker` fails with "lost wake-up:
//!    the completion must wake the latest waker" (`left: 0, right: 1`).
//! 3. `UringOp::drop` forgets the waker it replaces instead of dropping it:
//!    `completion_racing_drop` and `cancel_racing_completion` fail with
//!    loom's "Allocation leaked" (the counting waker's `Track`).

#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Mutex;
use loom::thread;
use loom_tests::CountingWaker;
use runtime::__loom::{CancelRef, KernelRef, ModelOpData, OpCellModel};
use std::io;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

/// What the op's "kernel" answers when the op runs to its end.
const RES: i32 = 7;
/// What it answers when an `AsyncCancel` caught the op: `-ECANCELED`
/// (125 on Linux).
const CANCELED: i32 = -125;
/// `Counts::answered` before the kernel answered.
const NOT_YET: i32 = i32::MIN;
/// An op whose completion was reaped must have left `Ignored`.
const STILL_IGNORED: &str =
    "the op is still ignored after its completion was reaped: nobody will complete its data";

/// What the model counts. std atomics (see `loom_tests` for why): they
/// record, they synchronize nothing.
struct Counts {
    /// The `res` the kernel answered with, once it did.
    answered: AtomicI32,
    completions: AtomicUsize,
    drops: AtomicUsize,
}

/// The op's buffer, as the kernel writes it: a loom cell, so loom checks
/// that every later access by whoever has the data is ordered after the
/// kernel's write.
struct Buffer(UnsafeCell<i32>);

// SAFETY: every access goes through loom's `with` / `with_mut`, and loom runs
// one model thread at a time and fails the iteration on any pair of
// accesses not ordered by happens-before; nothing here is ever accessed
// concurrently for real.
unsafe impl Sync for Buffer {}

impl Buffer {
    fn read(&self) -> i32 {
        // SAFETY: see `impl Sync`: loom checks this access.
        self.0.with(|value| unsafe { *value })
    }
}

/// One op's data: counts its completion and its drop, and checks both come
/// after the kernel answered.
struct Data {
    counts: Arc<Counts>,
    buffer: Arc<Buffer>,
}

/// What the op resolves to: the data comes back with the result (as an
/// owned buffer does in the runtime's `BufResult`), and is dropped with it.
struct Output {
    res: i32,
    _data: Data,
}

impl ModelOpData for Data {
    type Output = Output;

    fn complete(self, result: io::Result<u32>, flags: u32) -> Output {
        let res = match result {
            Ok(n) => i32::try_from(n).expect("a CQE's res is an i32"),
            Err(err) => -err.raw_os_error().expect("an errno"),
        };
        assert_eq!(flags, 0);
        let answered = self.counts.answered.load(Ordering::SeqCst);
        assert_ne!(answered, NOT_YET, "completed before the kernel answered");
        assert_eq!(res, answered, "completed with another result");
        assert_eq!(self.buffer.read(), answered, "the kernel's write is seen");
        self.counts.completions.fetch_add(1, Ordering::SeqCst);
        Output { res, _data: self }
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        assert_ne!(
            self.counts.answered.load(Ordering::SeqCst),
            NOT_YET,
            "the data was freed while the kernel could still write into it"
        );
        // Ordered after the kernel's write, or loom fails the iteration.
        let _ = self.buffer.read();
        self.counts.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A new op: its future, its kernel reference, what it counts, its buffer.
fn submit() -> (OpCellModel<Data>, KernelRef, Arc<Counts>, Arc<Buffer>) {
    let counts = Arc::new(Counts {
        answered: AtomicI32::new(NOT_YET),
        completions: AtomicUsize::new(0),
        drops: AtomicUsize::new(0),
    });
    let buffer = Arc::new(Buffer(UnsafeCell::new(0)));
    let data = Data {
        counts: counts.clone(),
        buffer: buffer.clone(),
    };
    let (op, kernel) = OpCellModel::new(data);
    (op, kernel, counts, buffer)
}

/// The kernel finishes the op with `res` (writing its buffer last), and the
/// ring reaps the CQE: completes the kernel reference.
fn answer(kernel: KernelRef, buffer: &Buffer, counts: &Counts, res: i32) {
    // SAFETY: see `impl Sync for Buffer`: loom checks this access.
    buffer.0.with_mut(|value| unsafe { *value = res });
    counts.answered.store(res, Ordering::SeqCst);
    kernel.complete(res);
}

/// The op's data was completed once and dropped once.
#[track_caller]
fn check(counts: &Counts) {
    assert_ne!(counts.answered.load(Ordering::SeqCst), NOT_YET);
    assert_eq!(
        counts.completions.load(Ordering::SeqCst),
        1,
        "the data's `complete` must run exactly once"
    );
    assert_eq!(
        counts.drops.load(Ordering::SeqCst),
        1,
        "the data must be dropped exactly once"
    );
}

/// 1. The ring completes the op while the future is dropped on another
///    thread (the future first polled once, or never). Whoever comes second
///    completes the data: the future's drop if the completion was first (no
///    cancel is sent), the ring if the drop was first (the op was
///    `Ignored`; a cancel reference was sent). The waker is woken only if
///    the completion found the future waiting.
#[test]
fn completion_racing_drop() {
    for polled in [false, true] {
        loom::model(move || {
            let (mut op, kernel, counts, buffer) = submit();
            let (wakes, waker) = CountingWaker::new();
            if polled {
                assert!(op.poll(&waker).is_pending());
            }
            let ring = thread::spawn({
                let counts = counts.clone();
                move || answer(kernel, &buffer, &counts, RES)
            });
            let dropper = thread::spawn(move || op.drop_future());
            let cancel = dropper.join().unwrap();
            ring.join().unwrap();
            let cancelled = cancel.is_some();
            if let Some(cancel) = cancel {
                // The ring, at its next poll, finds the cancel command; the
                // op's completion is reaped by now: nothing to cancel.
                assert!(!cancel.is_ignored(), "{STILL_IGNORED}");
                drop(cancel);
            }
            check(&counts);
            assert_eq!(
                wakes.wakes(),
                usize::from(polled && !cancelled),
                "woken iff the completion found the future waiting"
            );
        });
    }
}

/// 2. The future, waiting with one waker, is polled again with another
///    (its task moved) while the ring completes the op. The re-poll gets
///    `Ready` (the completion was first and woke the old waker), or
///    `Pending`, and then the completion wakes the *new* waker.
#[test]
fn completion_racing_repoll_with_a_new_waker() {
    loom::model(|| {
        let (mut op, kernel, counts, buffer) = submit();
        let (old_wakes, old) = CountingWaker::new();
        let (new_wakes, new) = CountingWaker::new();
        assert!(op.poll(&old).is_pending());
        let ring = thread::spawn({
            let counts = counts.clone();
            move || answer(kernel, &buffer, &counts, RES)
        });
        let output = match op.poll(&new) {
            Poll::Ready(output) => {
                ring.join().unwrap();
                assert_eq!(
                    old_wakes.wakes(),
                    1,
                    "the completion woke the waker it found"
                );
                assert_eq!(new_wakes.wakes(), 0);
                output
            }
            Poll::Pending => {
                ring.join().unwrap();
                assert_eq!(
                    new_wakes.wakes(),
                    1,
                    "lost wake-up: the completion must wake the latest waker"
                );
                assert_eq!(old_wakes.wakes(), 0, "the replaced waker is not woken");
                match op.poll(&new) {
                    Poll::Ready(output) => output,
                    Poll::Pending => panic!("woken, but still pending"),
                }
            }
        };
        assert_eq!(output.res, RES);
        drop(output);
        assert!(op.drop_future().is_none(), "a finished op sends no cancel");
        check(&counts);
    });
}

/// How the ring meets the cancel of model 3.
#[derive(Clone, Copy, Debug)]
enum Ring {
    /// The op completes by itself; then the ring drains its commands.
    CompletionFirst,
    /// The ring drains its commands first. If the cancel is there (the op
    /// still ignored), it submits the `AsyncCancel` and the kernel answers
    /// the op with `-ECANCELED`; the two CQEs are reaped in either order
    /// (`op_cqe_first`). If it is not there yet, the op completes by itself.
    CancelFirst { op_cqe_first: bool },
}

/// 3. The future is dropped (first polled once, or never) and its cancel
///    reference goes through the ring's command queue to the ring's thread,
///    which releases it when the `AsyncCancel`'s own completion is reaped;
///    meanwhile the op completes (by itself, or because of the cancel).
///    The data is completed and dropped once, never before the kernel
///    answered, and every reference to the cell is released.
#[test]
fn cancel_racing_completion() {
    let rings = [
        Ring::CompletionFirst,
        Ring::CancelFirst { op_cqe_first: true },
        Ring::CancelFirst {
            op_cqe_first: false,
        },
    ];
    for polled in [false, true] {
        for ring in rings {
            loom::model(move || {
                let (mut op, kernel, counts, buffer) = submit();
                let (_wakes, waker) = CountingWaker::new();
                if polled {
                    assert!(op.poll(&waker).is_pending());
                }
                // The ring's command queue (`DriverHandle::send`).
                let commands: loom::sync::Arc<Mutex<Option<CancelRef>>> =
                    loom::sync::Arc::new(Mutex::new(None));
                let ring_thread = thread::spawn({
                    let counts = counts.clone();
                    let commands = commands.clone();
                    move || ring_thread(ring, kernel, &buffer, &counts, &commands)
                });
                // The future's drop, and the cancel command it queues.
                if let Some(cancel) = op.drop_future() {
                    let previous = commands.lock().unwrap().replace(cancel);
                    assert!(previous.is_none());
                }
                ring_thread.join().unwrap();
                // The ring's next poll: a cancel still queued finds the op
                // completed, and is released at once.
                let late = commands.lock().unwrap().take();
                if let Some(cancel) = late {
                    assert!(!cancel.is_ignored(), "{STILL_IGNORED}");
                    drop(cancel);
                }
                drop(commands);
                check(&counts);
            });
        }
    }
}

/// The ring's thread in model 3.
fn ring_thread(
    ring: Ring,
    kernel: KernelRef,
    buffer: &Buffer,
    counts: &Counts,
    commands: &Mutex<Option<CancelRef>>,
) {
    let drain = || commands.lock().unwrap().take();
    match ring {
        Ring::CompletionFirst => {
            answer(kernel, buffer, counts, RES);
            if let Some(cancel) = drain() {
                // `Driver::cancel_ref`: an op no longer ignored needs no
                // `AsyncCancel`; its cancel reference is released at once.
                assert!(!cancel.is_ignored(), "{STILL_IGNORED}");
                drop(cancel);
            }
        }
        Ring::CancelFirst { op_cqe_first } => match drain() {
            Some(cancel) => {
                // This thread holds the kernel reference: the op cannot
                // have completed, so the dropped future left it ignored.
                assert!(cancel.is_ignored());
                // The `AsyncCancel` is submitted with the cancel reference;
                // the kernel cancels the op. Two CQEs, in either order.
                if op_cqe_first {
                    answer(kernel, buffer, counts, CANCELED);
                    drop(cancel);
                } else {
                    drop(cancel);
                    answer(kernel, buffer, counts, CANCELED);
                }
            }
            None => answer(kernel, buffer, counts, RES),
        },
    }
}

/// 4. The op completes (the future waiting, or never polled), and the
///    future is then dropped on another thread without taking the result:
///    the drop completes the data (so what the kernel created gets an
///    owner) and drops it, and sends no cancel.
#[test]
fn completed_but_unpolled_op_dropped() {
    for polled in [false, true] {
        loom::model(move || {
            let (mut op, kernel, counts, buffer) = submit();
            let (wakes, waker) = CountingWaker::new();
            if polled {
                assert!(op.poll(&waker).is_pending());
            }
            let ring = thread::spawn({
                let counts = counts.clone();
                move || answer(kernel, &buffer, &counts, RES)
            });
            ring.join().unwrap();
            assert_eq!(wakes.wakes(), usize::from(polled));
            assert_eq!(
                counts.completions.load(Ordering::SeqCst),
                0,
                "the future owns the completed data"
            );
            let dropper = thread::spawn(move || op.drop_future());
            assert!(
                dropper.join().unwrap().is_none(),
                "a completed op sends no cancel"
            );
            check(&counts);
        });
    }
}
