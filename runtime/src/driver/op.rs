//! In-flight operations: the heap object the kernel points at, and the
//! [`UringOp`] future that waits on it.
//!
//! # The operation object
//!
//! Every operation is one heap allocation, an `Arc<OpCell<T>>`:
//!
//! ```text
//! OpCell<T> (#[repr(C)])
//!   header: Header { state: Mutex<Lifecycle>, vtable }   -- not generic: the driver's view
//!   data:   UnsafeCell<Option<T>>                         -- buffers, fds, sockaddrs, ...
//! ```
//!
//! The `Arc`'s count tracks three kinds of owner:
//!
//! * the [`UringOp`] future (one reference, until it completes or is dropped);
//! * the *kernel reference*: an [`OpRef`] turned into the SQE's `user_data`
//!   when the op is pushed; it comes back out of the CQE's `user_data` when
//!   the completion is reaped, and only then is it released. While the op
//!   sits in the driver's command queue or backlog, the [`OpRef`] there is
//!   that same reference;
//! * a *cancel reference*, held by a queued cancel command and then by the
//!   `AsyncCancel` SQE aimed at the op (its `user_data` is the op's address
//!   with [`CANCEL_TAG`] set) until that cancel's own completion is reaped.
//!   It keeps the address from being reused by a new op while the kernel may
//!   still match the cancel against it.
//!
//! So the allocation, and everything in `data`, lives at least until the
//! kernel has posted the op's completion and the owning ring's thread has
//! reaped it: **the kernel never writes into freed memory**, whatever
//! happens to the future.
//!
//! # Lifecycle and who owns `data`
//!
//! ```text
//!   Submitted ──poll──▶ Waiting(waker) ──CQE──▶ Completed{res, flags} ──poll──▶ Done
//!       │                    │                        │
//!       └──── future dropped ┴──▶ Ignored ──CQE──▶ Done (data completed and dropped by the reaper)
//!                                                     └─ future dropped: Done (data completed and dropped by the future)
//! ```
//!
//! * `Submitted` / `Waiting`: the op is queued for or owned by the kernel.
//!   `data` belongs to the kernel: nobody reads or writes it (the SQE was
//!   built from it before the op was shared with anyone).
//! * `Completed`: the kernel is done; `data` belongs to the future, which
//!   takes it out under the state lock's protection (the transition to
//!   `Done` happens under the lock, so exactly one side ever takes it).
//! * `Ignored`: the future was dropped first; `data` still belongs to the
//!   kernel. The reaper, on the completion, moves to `Done`, hands the
//!   result to `data` ([`OpData::complete`]) and drops the output (the
//!   buffer is freed *then*, not when the future was dropped).
//! * `Done`: `data` has been taken, or completed and dropped.
//!
//! So `complete` runs exactly once for every op the kernel (or the driver,
//! with `-ECANCELED`) has answered, whether or not anybody still waits for
//! it: an op that acquires a resource (the fd of an open or an accept) gives
//! it an owner there, and it is released instead of leaked when the future
//! is gone.
//!
//! An op that never reached the kernel (its driver had shut down, or it was
//! dropped while still in the command queue) is completed by the driver with
//! `-ECANCELED`, through the same transitions.
//!
//! Wakers are woken, and `data` dropped, after the state lock is released.
//!
//! # Model checking
//!
//! The parts that race — the state lock, the `data` cell and the `Arc`
//! behind every reference — are the `crate::loom` shim's types: parking_lot's
//! `Mutex`, std's `UnsafeCell` (behind loom's `with`/`with_mut` API) and
//! std's `Arc` in a normal build, loom's under `cfg(loom)`. Where a dropped
//! future sends its cancel reference is the [`OpOwner`] type parameter of
//! [`UringOp`]: the ring's [`DriverHandle`] (the default, and the only owner
//! in a normal build), or, in the loom models, a stand-in that hands the
//! reference to the model. `loom-tests/tests/op_cell.rs` checks the
//! lifecycle above for every interleaving of the future (poll, re-poll with
//! a new waker, drop), the owning ring's completion and the release of the
//! cancel reference.

use super::handle::DriverHandle;
use crate::loom::{Arc, Mutex, UnsafeCell};
use io_uring::squeue;
use std::fmt;
use std::future::Future;
use std::io;
use std::mem;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// Low bits of a CQE's `user_data` that say what completed. Op objects are
/// aligned to 8, so an op's address has these bits clear.
pub(super) const TAG_MASK: u64 = 0b111;
/// Tag of an `AsyncCancel` aimed at the op at `user_data & !TAG_MASK`.
pub(super) const CANCEL_TAG: u64 = 0b001;

/// What an operation owns while in flight (buffers, fds, sockaddr
/// storage, ...) and how it turns into a submission queue entry.
pub(crate) trait OpData: Send + 'static {
    /// What the [`Op`](super::Op) future resolves to.
    type Output;

    /// Builds the SQE. Called once, after `self` has reached its final place
    /// in the heap object, so pointers into `self` stay valid for the whole
    /// operation. The driver sets `user_data`; anything set here is
    /// overwritten.
    fn sqe(&mut self) -> squeue::Entry;

    /// Turns the kernel's answer into the output: `Ok(res)` for a
    /// non-negative `res`, `Err(from_raw_os_error(-res))` otherwise; `flags`
    /// are the CQE's flags.
    ///
    /// Called exactly once for every op that was answered, also when its
    /// future was dropped first (the output is then dropped at once, on the
    /// thread that reaped or dropped the op): a resource the kernel created
    /// for the op (a new fd) must be given an owner here.
    fn complete(self, result: io::Result<u32>, flags: u32) -> Self::Output;

    /// How the epoll driver (no io_uring) runs this op: see [`Fallback`].
    fn fallback(&self) -> Fallback;

    /// The op as one ordinary system call, for the epoll driver; returns
    /// what a CQE's `res` would hold (the result, or `-errno`).
    ///
    /// With [`Fallback::Readiness`] it must not block: `-EAGAIN` means "not
    /// ready, call again once the fd is". It may be called several times,
    /// and is followed by exactly one [`complete`](OpData::complete) with
    /// the final answer (flags 0).
    fn perform(&mut self) -> i32;

    /// Whether the kernel usually finishes this op inside the
    /// `io_uring_enter` that submits it (a send into a socket with room, a
    /// read of a page-cached file): the owner's `submit` then enters the
    /// ring at once and reaps, and the op is `Ready` at its first poll
    /// (`Driver::submit`). Ops that usually wait (a receive, an accept)
    /// say `false` and go to the kernel with the rest of the tick's
    /// submissions, in one enter: entering for each of them costs a system
    /// call and finishes nothing. Even an inline op is batched when the
    /// worker has other tasks queued (they will submit too): entering for
    /// every send made `tcp_echo`, 64 connections, 1.36x slower
    /// (benches/RESULTS.md, "inline completion").
    fn completes_inline(&self) -> bool {
        false
    }

    /// Whether the owner's `submit` tries the op first as one system call
    /// that never waits ([`perform`](OpData::perform), e.g. a send with
    /// `MSG_DONTWAIT`), and goes to the ring only if that says `EAGAIN`.
    /// For sends: a socket with room in its buffer takes the bytes at
    /// once, and the op is `Ready` at its first poll with no SQE, no CQE,
    /// no wake and no re-poll, even while other tasks are queued (where
    /// [`completes_inline`](OpData::completes_inline) would wait for the
    /// tick's batch). tokio's streams pay the same one call per send.
    /// The owner tries only while nothing it queued for the kernel waits
    /// in its ring (`Driver::submit` says why: batching, cancel order, a
    /// queued op left behind a hog); otherwise the op joins the batch.
    /// Not for receives: a receive usually finds nothing yet, and the
    /// failed try would be a system call spent for nothing.
    fn tries_first(&self) -> bool {
        false
    }
}

/// How the epoll driver performs an [`OpData`] without a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// The system call never blocks (`shutdown`, a no-op): it runs on the
    /// polling thread.
    Immediate,
    /// Sockets, pipes and other pollable descriptors: try the call without
    /// blocking; while it says `EAGAIN`, wait until `fd` is ready for
    /// `interest`, then try again.
    Readiness {
        fd: std::os::fd::RawFd,
        interest: mio::Interest,
    },
    /// The call may block for a while and cannot be polled (regular files,
    /// `open`, `fsync`, `statx`, `close`): it runs on the blocking pool.
    Blocking,
}

impl Fallback {
    /// Readiness: wait until `fd` is readable.
    pub(crate) fn readable(fd: &impl std::os::fd::AsRawFd) -> Fallback {
        Fallback::Readiness {
            fd: fd.as_raw_fd(),
            interest: mio::Interest::READABLE,
        }
    }

    /// Readiness: wait until `fd` is writable.
    pub(crate) fn writable(fd: &impl std::os::fd::AsRawFd) -> Fallback {
        Fallback::Readiness {
            fd: fd.as_raw_fd(),
            interest: mio::Interest::WRITABLE,
        }
    }
}

enum Lifecycle {
    Submitted,
    Waiting(Waker),
    Completed { res: i32, flags: u32 },
    Ignored,
    Done,
}

impl Lifecycle {
    fn name(&self) -> &'static str {
        match self {
            Lifecycle::Submitted => "Submitted",
            Lifecycle::Waiting(_) => "Waiting",
            Lifecycle::Completed { .. } => "Completed",
            Lifecycle::Ignored => "Ignored",
            Lifecycle::Done => "Done",
        }
    }
}

/// The part of an op the driver sees: its state and how to reach `T`.
///
/// `align(8)` keeps the low [`TAG_MASK`] bits of every op's address clear.
#[repr(C, align(8))]
pub(super) struct Header {
    state: Mutex<Lifecycle>,
    vtable: &'static VTable,
}

struct VTable {
    /// Completes `data` with the CQE's `res` and `flags` and drops the
    /// output. Only in state `Ignored` → `Done`, by the reaper.
    complete_ignored: unsafe fn(NonNull<Header>, i32, u32),
    /// Releases one reference of the `Arc`.
    release: unsafe fn(NonNull<Header>),
}

#[repr(C)]
struct OpCell<T> {
    // First field of a `repr(C)` struct: a pointer to the cell is a pointer
    // to its header.
    header: Header,
    data: UnsafeCell<Option<T>>,
}

// SAFETY: `data` is the only field that is not `Sync`. Access to it is
// serialized by the lifecycle: before the op is shared it is reached through
// `Arc::get_mut`; afterwards exactly one party may touch it, the future after
// it observed `Completed` or the reaper after it observed `Ignored`, each
// switching the state to `Done` under the state lock first (see the module
// docs). `T: Send` because whichever thread that is may drop it.
unsafe impl<T: Send> Sync for OpCell<T> {}

fn vtable<T: OpData>() -> &'static VTable {
    &VTable {
        complete_ignored: complete_ignored::<T>,
        release: release::<T>,
    }
}

/// A CQE's `res` as a result: `-errno` on failure.
pub(super) fn cqe_result(res: i32) -> io::Result<u32> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as u32)
    }
}

/// Completes `data` whose future is gone, and drops the output.
fn complete_and_drop<T: OpData>(data: Option<T>, res: i32, flags: u32) {
    if let Some(data) = data {
        drop(data.complete(cqe_result(res), flags));
    }
}

/// # Safety
///
/// `ptr` points to a live `OpCell<T>` whose state the caller has just moved
/// from `Ignored` to `Done`, which makes the caller the sole accessor of
/// `data`.
unsafe fn complete_ignored<T: OpData>(ptr: NonNull<Header>, res: i32, flags: u32) {
    // SAFETY: the caller guarantees the cell is alive.
    let cell = unsafe { ptr.cast::<OpCell<T>>().as_ref() };
    // SAFETY: the caller guarantees that nobody else accesses `data` (see
    // above).
    let data = cell.data.with_mut(|data| unsafe { (*data).take() });
    complete_and_drop(data, res, flags);
}

/// # Safety
///
/// `ptr` came from `Arc::<OpCell<T>>::into_raw` and the caller gives up the
/// reference it stands for.
unsafe fn release<T: OpData>(ptr: NonNull<Header>) {
    // SAFETY: per the contract above, this is an `Arc<OpCell<T>>` reference
    // that the caller owns and no longer uses.
    drop(unsafe { Arc::from_raw(ptr.cast::<OpCell<T>>().as_ptr()) });
}

/// A counted, type-erased reference to an op object: the kernel reference or
/// a cancel reference (see the module docs). Dropping it releases the
/// reference.
pub(crate) struct OpRef(NonNull<Header>);

// SAFETY: an `OpRef` stands for an `Arc<OpCell<T>>` with `T: Send`, and
// `OpCell<T>` is then `Send + Sync`, so the `Arc` may be sent anywhere.
unsafe impl Send for OpRef {}

impl OpRef {
    fn new<T: OpData>(cell: Arc<OpCell<T>>) -> OpRef {
        let ptr = Arc::into_raw(cell).cast_mut().cast::<Header>();
        // SAFETY: `Arc::into_raw` never returns null.
        OpRef(unsafe { NonNull::new_unchecked(ptr) })
    }

    fn header(&self) -> &Header {
        // SAFETY: this reference keeps the cell alive, and the header is
        // only ever accessed through shared references.
        unsafe { self.0.as_ref() }
    }

    /// The op's identity in the ring: its address (tag bits clear).
    pub(super) fn user_data(&self) -> u64 {
        self.0.as_ptr().expose_provenance() as u64
    }

    /// Hands the reference to the kernel: it lives on in an SQE's
    /// `user_data` and comes back with [`OpRef::from_user_data`].
    pub(super) fn into_user_data(self) -> u64 {
        let user_data = self.user_data();
        mem::forget(self);
        user_data
    }

    /// Takes back a reference handed out by [`OpRef::into_user_data`].
    ///
    /// # Safety
    ///
    /// `user_data` (tag bits cleared) came from `into_user_data` and is
    /// taken back exactly once.
    pub(super) unsafe fn from_user_data(user_data: u64) -> OpRef {
        let ptr = std::ptr::with_exposed_provenance_mut::<Header>(user_data as usize);
        // SAFETY: the caller guarantees this is the non-null address of a
        // live op, exposed by `user_data()`.
        OpRef(unsafe { NonNull::new_unchecked(ptr) })
    }

    /// Whether the future is gone and the op's completion not yet reaped.
    pub(super) fn is_ignored(&self) -> bool {
        matches!(*self.header().state.lock(), Lifecycle::Ignored)
    }

    /// Records the op's completion (`res` as in a CQE) and gives up this
    /// reference, which must be the kernel reference: wakes the future, or,
    /// if it is gone, drops the op's data.
    pub(super) fn complete(self, res: i32, flags: u32) {
        let header = self.header();
        let mut state = header.state.lock();
        let previous = mem::replace(&mut *state, Lifecycle::Completed { res, flags });
        match previous {
            Lifecycle::Submitted => drop(state),
            Lifecycle::Waiting(waker) => {
                drop(state);
                waker.wake();
            }
            Lifecycle::Ignored => {
                *state = Lifecycle::Done;
                drop(state);
                // SAFETY: the cell is alive (we hold a reference) and we just
                // moved it from `Ignored` to `Done`: the future is gone and
                // the kernel is finished, so the data is ours alone.
                unsafe { (header.vtable.complete_ignored)(self.0, res, flags) };
            }
            Lifecycle::Completed { .. } | Lifecycle::Done => {
                unreachable!("an io_uring operation completed twice")
            }
        }
    }
}

impl Drop for OpRef {
    fn drop(&mut self) {
        let release = self.header().vtable.release;
        // SAFETY: `self.0` came from `Arc::into_raw` of the matching
        // `OpCell<T>` (the vtable is `T`'s), and this reference is given up.
        unsafe { release(self.0) };
    }
}

impl fmt::Debug for OpRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpRef")
            .field("addr", &self.0)
            .field("state", &self.header().state.lock().name())
            .finish()
    }
}

/// Where a dropped [`UringOp`] sends its cancel reference: the ring that
/// owns the op. Only [`DriverHandle`] in a normal build (a type parameter,
/// so the call is static); the loom models put a stand-in here.
pub(crate) trait OpOwner: Unpin {
    /// Hands `op`, a cancel reference, to the ring; the ring releases it
    /// once the op's completion can no longer be matched (module docs).
    fn cancel(&self, op: OpRef);
}

impl OpOwner for DriverHandle {
    #[inline]
    fn cancel(&self, op: OpRef) {
        DriverHandle::cancel(self, op);
    }
}

/// The future of one in-flight operation.
///
/// It resolves to `T::Output` once the owning ring's thread has reaped the
/// completion, on whatever thread the future is polled from by then.
/// Dropping it before that marks the op `Ignored` and sends an `AsyncCancel`
/// to the ring that owns it (through that ring's command queue, via
/// [`OpOwner::cancel`]); the op's data, and so its buffer, is freed only
/// when the completion arrives.
pub(crate) struct UringOp<T: OpData, O: OpOwner = DriverHandle> {
    /// `None` once the output has been returned.
    cell: Option<Arc<OpCell<T>>>,
    /// The ring this op was submitted to; cancels go there.
    owner: O,
}

impl<T: OpData, O: OpOwner> UringOp<T, O> {
    /// Allocates the op, builds its SQE from `data` in its final place, and
    /// returns the future, the kernel reference and the SQE (without
    /// `user_data`; the driver sets it from the kernel reference).
    pub(super) fn new(data: T, owner: O) -> (UringOp<T, O>, OpRef, squeue::Entry) {
        let mut cell = Arc::new(OpCell {
            header: Header {
                state: Mutex::new(Lifecycle::Submitted),
                vtable: vtable::<T>(),
            },
            data: UnsafeCell::new(Some(data)),
        });
        let unique = Arc::get_mut(&mut cell).expect("a new op is not shared yet");
        let sqe = unique.data.with_mut(|data| {
            // SAFETY: `Arc::get_mut` succeeded, so this is the only
            // reference to the cell: nothing else can access `data`.
            let data = unsafe { &mut *data };
            data.as_mut().expect("a new op has its data").sqe()
        });
        let kernel_ref = OpRef::new(cell.clone());
        let op = UringOp {
            cell: Some(cell),
            owner,
        };
        (op, kernel_ref, sqe)
    }
}

impl<T: OpData, O: OpOwner> Future for UringOp<T, O> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        let cell = this
            .cell
            .as_ref()
            .expect("`UringOp` polled after completion");
        let mut state = cell.header.state.lock();
        let (res, flags) = match &mut *state {
            Lifecycle::Submitted => {
                *state = Lifecycle::Waiting(cx.waker().clone());
                return Poll::Pending;
            }
            Lifecycle::Waiting(waker) => {
                if !waker.will_wake(cx.waker()) {
                    let old = mem::replace(waker, cx.waker().clone());
                    drop(state);
                    drop(old);
                }
                return Poll::Pending;
            }
            Lifecycle::Completed { res, flags } => (*res, *flags),
            Lifecycle::Ignored | Lifecycle::Done => {
                unreachable!("a live `UringOp` sees its op ignored or done")
            }
        };
        *state = Lifecycle::Done;
        drop(state);
        let data = cell
            .data
            // SAFETY: we moved the op from `Completed` to `Done` under the
            // lock: the kernel and the driver are finished with `data`, and
            // the future is the only party allowed to take it (module docs).
            .with_mut(|data| unsafe { (*data).take() })
            .expect("a completed op has its data");
        this.cell = None;
        Poll::Ready(data.complete(cqe_result(res), flags))
    }
}

impl<T: OpData, O: OpOwner> Drop for UringOp<T, O> {
    fn drop(&mut self) {
        let Some(cell) = self.cell.take() else { return };
        let mut state = cell.header.state.lock();
        match *state {
            Lifecycle::Submitted | Lifecycle::Waiting(_) => {
                let old = mem::replace(&mut *state, Lifecycle::Ignored);
                drop(state);
                drop(old);
                // Our reference becomes the cancel reference.
                self.owner.cancel(OpRef::new(cell));
            }
            // The result was never taken: complete the data here (so what
            // the kernel created for it gets an owner) and drop the output.
            Lifecycle::Completed { res, flags } => {
                *state = Lifecycle::Done;
                drop(state);
                // SAFETY: we moved `Completed` -> `Done` under the lock: the
                // kernel is done with `data` and only the future may take it.
                let data = cell.data.with_mut(|data| unsafe { (*data).take() });
                complete_and_drop(data, res, flags);
            }
            Lifecycle::Ignored | Lifecycle::Done => {
                unreachable!("a live `UringOp` sees its op ignored or done")
            }
        }
    }
}

impl<T: OpData, O: OpOwner> fmt::Debug for UringOp<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.cell {
            Some(cell) => cell.header.state.lock().name(),
            None => "Done",
        };
        f.debug_struct("UringOp").field("state", &state).finish()
    }
}

// The loom models' access to the op cell (`crate::loom::api`, which cannot
// name this module's types): the real `UringOp` and `OpRef`, with a mailbox
// for owner.
#[cfg(loom)]
mod loom_hooks {
    use super::{OpOwner, OpRef, UringOp};
    use crate::loom::api::{CancelMailbox, ModelOpData, Modelled, OpCellHooks, UringOpCell};

    impl OpOwner for CancelMailbox {
        fn cancel(&self, op: OpRef) {
            self.send(op);
        }
    }

    impl OpCellHooks for UringOpCell {
        type Ref = OpRef;
        type Future<D: ModelOpData> = UringOp<Modelled<D>, CancelMailbox>;

        fn submit<D: ModelOpData>(data: D, owner: CancelMailbox) -> (Self::Future<D>, OpRef) {
            let (op, kernel_ref, _sqe) = UringOp::new(Modelled::new(data), owner);
            (op, kernel_ref)
        }

        fn complete(op: OpRef, res: i32, flags: u32) {
            op.complete(res, flags);
        }

        fn is_ignored(op: &OpRef) -> bool {
            op.is_ignored()
        }
    }
}
