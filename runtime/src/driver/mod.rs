//! The io_uring driver: one ring per worker, operations that own their
//! buffers, cross-thread submission, cancellation and wake-up.
//!
//! # Pieces
//!
//! * [`Driver`] (`uring.rs`): one io_uring ring, owned by one thread — the
//!   worker that parks on it. `Send` (it may be built on one thread and moved
//!   to its worker) but not `Sync`; only the thread that owns it ever enters
//!   the ring, which later allows `IORING_SETUP_SINGLE_ISSUER` /
//!   `DEFER_TASKRUN`.
//! * [`DriverHandle`] (`uring.rs`): `Clone + Send + Sync`; the ring's command
//!   queue and eventfd. Everything aimed at a ring from another thread goes
//!   through it: an op submitted by a thread that is not the ring's, and the
//!   cancel of an op whose future was dropped anywhere.
//! * [`OpData`] and `UringOp` (`op.rs`): an in-flight operation is one heap
//!   object that owns the op's data (buffers, fds, ...) and whose address is
//!   the SQE's `user_data`; `UringOp<T>` is its future. `op.rs` documents
//!   the state machine and who owns the data in each state. [`Op`]
//!   (`future.rs`) is the future users of the driver see: a `UringOp`, or
//!   an epoll op (below).
//! * [`IoBuf`], [`IoBufMut`], [`BufResult`] (`buf.rs`): buffer traits.
//! * [`Nop`], [`Read`], [`Write`] (`ops.rs`): the operations so far.
//!
//! # API
//!
//! ```ignore
//! impl Driver {
//!     fn new(entries: u32) -> io::Result<(Driver, DriverHandle)>;
//!     fn submit<T: OpData>(&mut self, data: T) -> Op<T>;     // on the owning thread
//!     fn park(&mut self, timeout: Option<Duration>) -> io::Result<()>;
//!     fn poll(&mut self) -> io::Result<()>;
//!     fn shutdown(&mut self);                                 // also run by Drop
//!     fn in_flight(&self) -> usize;
//!     fn handle(&self) -> &DriverHandle;
//!     fn stats(&self) -> DriverStats;
//! }
//! impl DriverHandle {                                         // Clone + Send + Sync
//!     fn unpark(&self);
//!     fn submit<T: OpData>(&self, data: T) -> Op<T>;          // from any thread
//! }
//! trait OpData: Send + 'static {
//!     type Output;
//!     fn sqe(&mut self) -> io_uring::squeue::Entry;
//!     fn complete(self, result: io::Result<u32>, flags: u32) -> Self::Output;
//!     fn fallback(&self) -> Fallback;                        // the epoll driver's way
//!     fn perform(&mut self) -> i32;                           // ... as one system call
//! }
//! impl<T: OpData> Future for Op<T> { type Output = T::Output; } // Send, Unpin
//! ```
//!
//! # Life of an operation
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
//! # Parking
//!
//! `park(timeout)` submits, then waits in `io_uring_enter` for at least one
//! completion, with the timeout passed as `IORING_ENTER_EXT_ARG` (the
//! worker's nearest timer, later). `unpark` from another thread writes the
//! eventfd; a read of the eventfd is always armed in the ring, so the write
//! completes it and ends the wait; the read is re-armed when reaped. An
//! unpark that arrives while the driver is not parked makes its next `park`
//! return at once. `park(None)` blocks until a completion or an unpark; no
//! busy-waiting anywhere.
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
//! # For the integration
//!
//! * The owning thread should call `poll` every `event_interval` ticks and
//!   `park(nearest timer)` when idle. Wakers run inside `poll`/`park`/
//!   `shutdown`, and an op's data (a user buffer) may be dropped there.
//! * `Op`'s `Drop` never touches the `Driver` directly, only the handle's
//!   queue, so it is safe to drop ops from a waker or from inside the
//!   driver's reaping. A later direct path (a thread-local `&mut Driver` for
//!   the current worker) must keep that property (no re-entrant borrow).
//! * An `Op` spends a unit of the task's coop budget per ready result.
//!
//! # Without io_uring
//!
//! The same ops run on the epoll driver (`epoll/`): each [`OpData`] also
//! says how to carry it out as a plain system call ([`Fallback`],
//! `OpData::perform`), and [`Op`] is either a ring's op or an epoll op.

mod buf;
pub(crate) mod context;
pub(crate) mod epoll;
mod future;
mod op;
mod ops;
mod slice;
mod uring;

#[cfg(test)]
mod test;

pub use buf::{BufResult, IoBuf, IoBufMut};
pub(crate) use context::{set_current, submit, try_submit, OwnedRing};
pub(crate) use future::Op;
pub(crate) use op::{Fallback, OpData};
pub(crate) use ops::{read_done, sqe_len, syscall_res, Nop, Read, Write, CURRENT_POSITION, MAX_RW};
pub(crate) use slice::Slice;
pub(crate) use uring::{Driver, DriverHandle, DriverStats};
