//! The I/O drivers: a ring per worker (io_uring), or one epoll reactor per
//! runtime when io_uring cannot be had; the same operations on both.
//!
//! # Pieces
//!
//! * [`Driver`] (`uring.rs`): one io_uring ring, owned by one thread — the
//!   worker (or current_thread driver) that parks on it. `Send` (it is built
//!   by `Builder::build` and moved to its worker) but not `Sync`; only the
//!   owning thread ever enters the ring, which leaves room for
//!   `IORING_SETUP_SINGLE_ISSUER` / `DEFER_TASKRUN`.
//! * [`DriverHandle`] (`handle.rs`): `Clone + Send + Sync`; the ring's
//!   command queue and eventfd. Everything aimed at a ring from another
//!   thread goes through it: an op started by a thread that owns no ring
//!   (a multi-thread `block_on`, the blocking pool), the cancel of an op
//!   whose future was dropped, and wake-ups.
//! * `wake.rs`: the bookkeeping the wake-ups rest on (the command queue's
//!   flags, the owner token, the eventfd read's state, whether `park` may
//!   sleep), shared by the ring and its handle; loom-checked.
//! * `OpData` and `UringOp` (`op.rs`): an in-flight operation is one heap
//!   object that owns the op's data (buffers, fds, ...) and whose address is
//!   the SQE's `user_data`; `UringOp<T>` is its future. `op.rs` documents
//!   the state machine and who owns the data in each state. [`Op`]
//!   (`future.rs`) is the future the user-facing types await: a `UringOp`,
//!   or an epoll op; it spends the task's coop budget.
//! * `submit.rs`: which ring an op goes to (this thread's own, or one of
//!   the runtime's through its handle, or the epoll driver), and [`run`],
//!   the one way an op that never started hands its buffer back.
//! * `choice.rs`: [`IoDriver`], `RUNTIME_IO_DRIVER` and `Auto`'s fallback.
//! * [`IoBuf`], [`IoBufMut`], [`BufResult`] (`buf.rs`) and [`Slice`]
//!   (`slice.rs`): owned buffers.
//! * `ops.rs`: the file-descriptor ops shared by `fs` and `io` ([`Read`],
//!   [`Write`] at an offset); sockets' ops live in `net/`, readiness in
//!   `io/ready.rs`, file-system ops in `fs/ops.rs`.
//! * `epoll/`: the fallback driver (below).
//!
//! # Life of an operation on a ring
//!
//! 1. `Driver::submit` (owning thread) or `DriverHandle::submit` (any
//!    thread) moves the data into a new op object, builds the SQE from it in
//!    place, and returns the `Op` future. On the owning thread the SQE goes
//!    straight into the submission queue; from elsewhere it goes into the
//!    command queue and the eventfd is written, so a parked ring wakes up and
//!    submits it.
//! 2. The SQEs reach the kernel at the next `poll` or `park` (or at once
//!    when the submission queue is full: it is flushed and the push
//!    retried). Nothing is ever dropped: what the kernel will not take yet
//!    waits, in order, in a backlog.
//! 3. The owning ring's thread reaps the completion in `poll` or `park` and
//!    stores the result in the op; if the future has polled, its waker is
//!    woken — wherever the task lives now: a task may move to another thread
//!    while its op is in flight.
//! 4. The future, polled again, takes the data back and resolves with
//!    `T::complete(result, flags)`: for reads and writes, the byte count and
//!    the buffer.
//!
//! Dropping the future before the completion marks the op `Ignored` and
//! queues an `AsyncCancel` to the ring that owns the op (through its
//! command queue; the eventfd is written only if the dropping thread is not
//! the ring's own). The op object keeps the buffer until the completion
//! arrives — `ECANCELED`, or the result if the cancel came too late — and is
//! freed then. The kernel never writes into freed memory.
//!
//! Re-entrancy: wakers run inside `poll`/`park`/`shutdown`, and an op's data
//! (a user buffer) may be dropped there. `Op`'s `Drop` never touches the
//! `Driver` directly, only the handle's queue, and a submission made while
//! the ring is borrowed (a waker that starts I/O) goes through the queue
//! too (`submit.rs`), so nothing borrows the ring twice.
//!
//! # Parking
//!
//! The worker calls `poll` every `event_interval` ticks (reaping is a
//! memory read when nothing completed) and `park(nearest timer)` when idle.
//! `park` submits, then waits in `io_uring_enter` for at least one
//! completion, with the timeout passed as `IORING_ENTER_EXT_ARG`. `unpark`
//! from another thread writes the eventfd; a read of the eventfd is always
//! armed in the ring, so the write completes it and ends the wait; the read
//! is re-armed when reaped. An unpark that arrives while the driver is not
//! parked makes its next `park` return at once. No busy-waiting anywhere.
//! `RUNTIME_RING_WAIT_MAX_MS` caps each wait, for valgrind (`choice.rs`).
//!
//! # Completion-queue overflow
//!
//! The kernel must have `IORING_FEAT_NODROP`: completions that do not fit in
//! the CQ are kept in a kernel list and `IORING_SQ_CQ_OVERFLOW` is set.
//! Reaping continues until the CQ is empty and that flag is clear, entering
//! the kernel with `GETEVENTS` to flush the list as needed.
//!
//! # Shutdown
//!
//! `shutdown` (and `Drop`) refuses further commands, completes queued ops
//! with `ECANCELED`, sends `AsyncCancel` with `IORING_ASYNC_CANCEL_ANY`, and
//! waits until every op, cancel and the eventfd read have completed (sending
//! the cancel again every 100 ms for requests the kernel could not cancel at
//! once). Only then may the ring be closed and the op objects freed. Ops
//! submitted afterwards, on the driver or through a handle, complete at
//! once with `ECANCELED`: nothing hangs.
//!
//! # Without io_uring
//!
//! The same ops run on the epoll driver (`epoll/`): each `OpData` also
//! says how to carry it out as a plain system call (`Fallback`,
//! `OpData::perform`), and [`Op`] is either a ring's op or an epoll op.
//! Sockets and pipes: the call is tried without blocking, and on `EAGAIN`
//! the task waits for readiness on the runtime's one reactor thread. Files:
//! the call runs on the blocking pool. `epoll/mod.rs` has the details and
//! the trade-offs.

mod buf;
pub(crate) mod choice;
pub(crate) mod epoll;
mod future;
mod handle;
mod op;
mod ops;
mod slice;
mod submit;
mod uring;
mod wake;

#[cfg(test)]
mod test;

pub use buf::{BufResult, IoBuf, IoBufMut};
pub use choice::IoDriver;
pub(crate) use future::Op;
pub(crate) use handle::DriverHandle;
pub(crate) use op::{Fallback, OpData};
#[cfg(test)]
pub(crate) use ops::Nop;
pub(crate) use ops::{read_done, sqe_len, syscall_res, Read, Write, MAX_RW};
pub(crate) use slice::Slice;
pub(crate) use submit::{run, set_current, submit, try_submit, CurrentGuard, OwnedRing};
pub(crate) use uring::Driver;
// The loom model of the rescue hand-off drives these with a test kernel.
#[cfg(loom)]
pub(crate) use wake::{Driving, Mailbox, WakeState};
