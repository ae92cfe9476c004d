//! The ring: [`Driver`], owned by one thread (`handle.rs` holds the side
//! other threads reach it through, [`DriverHandle`](super::DriverHandle)).
//!
//! See the module docs of `driver` for the design; `op.rs` for the op
//! objects. What happens here:
//!
//! * **Submission.** An SQE goes into the submission queue; when the queue
//!   is full it is flushed to the kernel (`io_uring_enter`) and the push is
//!   retried; if the kernel will not take entries right now (`EBUSY` /
//!   `EAGAIN` under completion pressure) the SQE waits, in order, in a local
//!   backlog that every `poll` and `park` drains first. Nothing is dropped.
//! * **Completion.** Reaping copies a batch of CQEs out of the ring (freeing
//!   their slots at once), dispatches them, and repeats until the ring is
//!   empty *and* the kernel's `IORING_SQ_CQ_OVERFLOW` flag is clear: with
//!   `IORING_FEAT_NODROP` (required) completions that did not fit wait in a
//!   kernel list, and an `io_uring_enter(GETEVENTS)` moves them in.
//! * **Commands.** Other threads never enter this ring. They push a
//!   [`Command`] (submit this op / cancel that op) on the handle's queue and,
//!   unless they are the ring's own thread, write the eventfd. The ring's
//!   thread drains the queue at every `poll` and `park` (before sleeping, and
//!   again after waking).
//! * **Wake-ups.** A read of the eventfd is kept armed in the ring
//!   (`user_data` [`WAKE`]), re-armed each time it completes; so a write to
//!   the eventfd ends an `io_uring_enter` wait like any completion. An
//!   `unparked` flag coalesces writes: between one write and the reaping of
//!   the read it completes, further `unpark`s are free. The flags involved
//!   and their rules are in `wake.rs` (`Mailbox`, [`WakeState`]), which the
//!   loom model `loom-tests/tests/rescue.rs` checks.
//!
//! `user_data` values: [`WAKE`] and [`CANCEL_ALL`] (below 8), an op's
//! address (low 3 bits clear), or an op's address | [`CANCEL_TAG`] for the
//! `AsyncCancel` aimed at it.

use super::handle::{Command, DriverHandle};
use super::op::{OpData, OpRef, UringOp, CANCEL_TAG, TAG_MASK};
use super::wake::{Driving, WakeState};
use super::Op;
use io_uring::types::{CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{opcode, squeue, IoUring};
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// `user_data` of the eventfd read that wakes a parked driver.
const WAKE: u64 = 1;
/// `user_data` of the `AsyncCancel` matching every request (shutdown).
const CANCEL_ALL: u64 = 2;

/// How long shutdown waits for completions before it sends another
/// cancel-everything (for requests the kernel could not cancel at once, e.g.
/// a regular-file read already running in an io-wq worker).
const SHUTDOWN_RETRY: Duration = Duration::from_millis(100);

/// Counters of what a driver did; for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DriverStats {
    /// Operations handed to the ring (SQEs of ops, not of internal requests).
    pub(crate) submitted: u64,
    /// Operations whose completion was reaped (or that were completed with
    /// `ECANCELED` without reaching the kernel).
    pub(crate) completed: u64,
    /// Operations that completed with `ECANCELED`: cancelled in the kernel,
    /// or never submitted because the driver shut down.
    pub(crate) cancelled: u64,
    /// `AsyncCancel`s sent for ops whose futures were dropped.
    pub(crate) cancels: u64,
    /// Times a full submission queue was flushed to make room.
    pub(crate) sq_full_flushes: u64,
    /// Times the kernel's overflow list was flushed into the completion queue.
    pub(crate) cq_overflow_flushes: u64,
    /// Completions of the eventfd read (cross-thread wake-ups seen).
    pub(crate) wakeups: u64,
}

/// One io_uring ring and everything in flight on it.
///
/// Owned by one thread at a time (`Send`, not `Sync`), and only that thread
/// enters the ring. Dropping it shuts it down first (see
/// [`Driver::shutdown`]).
pub(crate) struct Driver {
    ring: IoUring,
    handle: DriverHandle,
    /// SQEs that did not fit in the submission queue, in order.
    backlog: VecDeque<squeue::Entry>,
    /// Reused buffer for reaped CQEs: `(user_data, res, flags)`.
    cqes: Vec<(u64, i32, u32)>,
    /// Reused buffer for swapping out the command queue.
    commands: Vec<Command>,
    /// Ops whose kernel reference the driver holds (in the ring or backlog).
    ops_in_flight: usize,
    /// Internal requests in flight: per-op cancels and cancel-alls.
    internal_in_flight: usize,
    /// Whether a cancel-all is in flight.
    cancel_all_in_flight: bool,
    /// An op or a per-op cancel was queued and the SQ and backlog have not
    /// been seen empty since (`has_unsubmitted`).
    unsubmitted: bool,
    /// Whether the eventfd read is armed, whether one completed since the
    /// last `park` returned, whether a peer is reaping for a stuck owner.
    wake: WakeState,
    /// The eventfd read's 8-byte target. A raw heap allocation (not a `Box`)
    /// because the kernel writes into it behind Rust's back; freed in `Drop`
    /// only once no read of it is in flight.
    wake_buf: NonNull<u64>,
    /// Shutdown has begun: no new submissions, no re-arming.
    closing: bool,
    /// Shutdown finished: nothing of ours is in the kernel any more.
    shut_down: bool,
    stats: DriverStats,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: every field is `Send` except `wake_buf`, a pointer to a heap
// allocation that the driver owns exclusively (the kernel is its only other
// user). Moving the driver to another thread before it runs there is fine:
// the ring is entered only by the thread that owns the `Driver`.
unsafe impl Send for Driver {}

fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EINTR | libc::EAGAIN | libc::EBUSY | libc::ETIME)
    )
}

impl Driver {
    /// Sets up a ring with `entries` submission queue entries (rounded up to
    /// a power of two by the kernel; the completion queue gets twice that),
    /// an eventfd, and the armed eventfd read.
    ///
    /// Fails if io_uring is unavailable or lacks what the driver relies on
    /// (`IORING_FEAT_NODROP`, `IORING_FEAT_EXT_ARG`; in practice Linux 5.19+
    /// for `IORING_SETUP_SUBMIT_ALL` and `IORING_ASYNC_CANCEL_ANY`).
    pub(crate) fn new(entries: u32) -> io::Result<(Driver, DriverHandle)> {
        // COOP_TASKRUN: the kernel does not interrupt the worker (an IPI) to
        // run a completion's task work; it runs when the worker next enters
        // the kernel, which it does to park or submit, and TASKRUN_FLAG
        // tells `poll` when it should enter just for that. (On tcp_echo the
        // interrupts cost more than the work they delivered early.)
        let ring = IoUring::builder()
            .setup_clamp()
            .setup_submit_all()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(entries)?;
        let params = ring.params();
        if !params.is_feature_nodrop() || !params.is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG",
            ));
        }

        // SAFETY: plain system call; no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `eventfd` just returned this descriptor; nothing else owns it.
        let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };

        let handle = DriverHandle::new(eventfd);
        let cq_entries = ring.params().cq_entries() as usize;
        let mut driver = Driver {
            ring,
            handle: handle.clone(),
            backlog: VecDeque::new(),
            cqes: Vec::with_capacity(cq_entries),
            commands: Vec::new(),
            ops_in_flight: 0,
            internal_in_flight: 0,
            cancel_all_in_flight: false,
            unsubmitted: false,
            wake: WakeState::new(),
            wake_buf: NonNull::from(Box::leak(Box::new(0u64))),
            closing: false,
            shut_down: false,
            stats: DriverStats::default(),
            _not_sync: PhantomData,
        };
        driver.arm_wake();
        Ok((driver, handle))
    }

    /// The handle other threads use to reach this ring.
    pub(crate) fn handle(&self) -> &DriverHandle {
        &self.handle
    }

    /// Ops handed to this ring whose completions have not been reaped yet
    /// (internal requests — the eventfd read, cancels — not counted).
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.ops_in_flight
    }

    /// What this driver has done so far.
    pub(crate) fn stats(&self) -> DriverStats {
        self.stats
    }

    /// Starts an operation on this ring, from its owning thread. An op
    /// that may be tried first ([`OpData::tries_first`]: a send) is one
    /// non-blocking system call, and only goes to the ring if that says
    /// `EAGAIN`. An op that usually completes inline
    /// ([`OpData::completes_inline`]) goes to the kernel at once and is
    /// reaped before this returns (`submit_and_reap_now`) when no other
    /// task waits on this worker; others are queued for the next `poll` or
    /// `park`. After shutdown the op completes at once with `ECANCELED`.
    pub(crate) fn submit<T: OpData>(&mut self, mut data: T) -> Op<T> {
        // Commands first: a cancel queued by a future dropped before this
        // submission must reach the kernel before it. Otherwise a write
        // submitted after a read was dropped could feed the dropped read
        // (its cancel still queued), and the bytes would be lost.
        self.drain_commands();
        let mut inline = data.completes_inline();
        // Only while no op or cancel waits in the ring for the kernel:
        // * a busy tick (other tasks' ops queued) batches this send with
        //   theirs into one enter; trying it alone would add a system call
        //   per send where the batch shares one (tcp_echo, 64
        //   connections: 26 ms with the batch, 31-34 ms with a try for
        //   every send; benches/RESULTS.md);
        // * the try goes past the ring, and a queued cancel of an earlier
        //   send on this socket, whose future was dropped, must act before
        //   these bytes go out, or the dropped send's bytes could follow;
        // * a queued op (a receive this task started) must not wait
        //   behind a task that goes on to hold the worker: the inline
        //   path below flushes it, and a rescuer never submits for a
        //   stuck owner (`scheduler/multi_thread/rescue.md`).
        if data.tries_first() && !self.closing && !self.has_unsubmitted() {
            let res = data.perform();
            if res != -libc::EAGAIN {
                return Op::Done(Some((data, res)));
            }
            // No room: the ring's send waits for it; entering now would
            // finish nothing.
            inline = false;
        }
        let inline = inline && !crate::scheduler::multi_thread::worker_has_queued_tasks();
        let (op, kernel_ref, sqe) = UringOp::new(data, self.handle.clone());
        self.submit_ref(kernel_ref, sqe);
        if inline {
            self.submit_and_reap_now();
        }
        Op::Uring(op)
    }

    /// Hands the SQ to the kernel at once and reaps what it finished while
    /// it was at it. A send into a socket with room, a receive with data
    /// queued, a read of a page-cached file complete inside
    /// `io_uring_enter`: reaped here, their op is `Completed` before its
    /// future's first poll, which then returns `Ready` — no waker, no
    /// re-poll, no trip through a run queue. The price is one
    /// `io_uring_enter` per submission where a tick's submissions used to
    /// share one (tokio pays one non-blocking syscall per operation too);
    /// measured in benches/RESULTS.md ("inline completion"). Errors are
    /// left to the next `poll` or `park`, which reports them.
    fn submit_and_reap_now(&mut self) {
        self.drain_backlog();
        if !self.sq_is_empty() {
            self.flush_sq();
        }
        // This runs inside some task's poll, which may go on for long: the
        // tasks woken here must not wait in this worker's LIFO slot.
        let _ = crate::scheduler::context::with_stealable_wakes(|| self.reap());
    }

    /// Submits pending SQEs and queued commands, then waits until at least
    /// one completion arrives, `timeout` passes (`None`: no timeout;
    /// `Some(ZERO)`: do not block), or [`DriverHandle::unpark`] is called;
    /// reaps every completion (waking wakers) before returning.
    ///
    /// Does not block if a completion is already waiting, if an unpark
    /// arrived since the last `park` returned (even if `poll` reaped it), or
    /// after shutdown.
    /// May return early (a signal, a completion of an internal request).
    pub(crate) fn park(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.wake.enter(&self.handle.shared.mailbox, Driving::Owner);
        self.drain_commands();
        self.drain_backlog();

        // Not after shutdown (no eventfd read is armed then), nor with an
        // unpark reaped since the last park (perhaps by a rescuer), nor with
        // completions waiting.
        let may_sleep = self
            .wake
            .may_sleep(self.closing, || self.completions_waiting());
        let timeout = if may_sleep {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let entered = self.enter(timeout);
        self.reap()?;
        self.wake.park_returned();

        // Work that arrived while we slept goes to the kernel now rather than
        // at the next park.
        self.drain_commands();
        self.drain_backlog();
        if !self.sq_is_empty() {
            self.flush_sq();
        }
        entered
    }

    /// Submits queued commands and SQEs and reaps completions, without
    /// blocking. Costs a few memory reads when there is nothing to do.
    pub(crate) fn poll(&mut self) -> io::Result<()> {
        self.wake.enter(&self.handle.shared.mailbox, Driving::Owner);

        self.drain_commands();
        self.drain_backlog();
        let must_enter = {
            // With `IORING_SQ_TASKRUN` set, completions wait as task work
            // until we enter the kernel; `submit` enters with GETEVENTS.
            let sq = self.ring.submission();
            !sq.is_empty() || sq.taskrun()
        };
        if must_enter {
            self.flush_sq();
        }
        if self.completions_waiting() {
            self.reap()?;
        }
        Ok(())
    }

    /// Reaps the completions already in the queue on behalf of an owner
    /// stuck in a long poll, by another worker holding the ring's lock:
    /// their wakers run on the calling thread. A memory read and the
    /// dispatch, nothing more: no submission and no `io_uring_enter` from
    /// this thread. With `COOP_TASKRUN` a request's completion runs as task
    /// work of the thread that *submitted* it, and a thread asleep in its
    /// own ring is not woken to run it: had the rescuer submitted here, a
    /// completion could wait until the rescuer happened to wake. Commands
    /// and SQEs (the re-armed wake-up read) are left to the owner, whose
    /// next `poll` or `park` submits them; the CQ overflow list too. The
    /// caller is not recorded as the ring's owner (`wake.rs`, rule 4).
    pub(crate) fn reap_for_stuck_owner(&mut self) {
        if self.ring.completion().is_empty() {
            return;
        }
        self.wake
            .enter(&self.handle.shared.mailbox, Driving::Rescuer);
        // No error is possible without entering the kernel.
        let _ = self.reap();
        self.wake.rescue_done();
    }

    /// Cancels every in-flight op and waits for all their completions (and
    /// those of the driver's internal requests); afterwards the ring may be
    /// dropped. Ops queued by other threads and not yet submitted complete
    /// with `ECANCELED`; so does everything submitted later. Idempotent.
    ///
    /// Waits as long as the kernel needs: an op that cannot be cancelled
    /// (e.g. a regular-file read already running) is waited for. If the ring
    /// fails (an unexpected error from `io_uring_enter`), it gives up and
    /// leaks what is still in flight rather than free memory the kernel may
    /// write.
    pub(crate) fn shutdown(&mut self) {
        if self.shut_down {
            return;
        }
        self.closing = true;
        self.wake.enter(&self.handle.shared.mailbox, Driving::Owner);

        // Refuse new commands; fail the queued submissions (they never
        // reached the kernel); queued cancels are covered by the cancel-all.
        let queued = self.handle.shared.mailbox.close();
        for command in queued {
            match command {
                Command::Submit { op, .. } => self.complete_unsubmitted(op),
                Command::Cancel(op) => drop(op),
            }
        }
        // Entries the kernel never saw complete here, as if cancelled.
        while let Some(sqe) = self.backlog.pop_front() {
            self.dispatch(sqe.get_user_data(), -libc::ECANCELED, 0);
        }

        let mut last_cancel_all: Option<Instant> = None;
        while self.ops_in_flight + self.internal_in_flight > 0 || self.wake.armed() {
            let retry_due = last_cancel_all.is_none_or(|at| at.elapsed() >= SHUTDOWN_RETRY);
            if !self.cancel_all_in_flight && retry_due {
                let sqe = opcode::AsyncCancel2::new(CancelBuilder::any())
                    .build()
                    .user_data(CANCEL_ALL);
                self.cancel_all_in_flight = true;
                self.internal_in_flight += 1;
                self.push_sqe(sqe);
                last_cancel_all = Some(Instant::now());
            }
            let entered = self.enter(Some(SHUTDOWN_RETRY));
            if entered.is_err() || self.reap().is_err() {
                // The ring is broken: whatever is still in flight stays
                // allocated forever (its kernel reference is never released).
                break;
            }
            self.drain_backlog();
        }
        self.shut_down = true;
    }

    // ----- submission -----

    /// Hands an op's kernel reference and SQE to the ring.
    fn submit_ref(&mut self, op: OpRef, sqe: squeue::Entry) {
        if self.closing {
            self.complete_unsubmitted(op);
            return;
        }
        let sqe = sqe.user_data(op.into_user_data());
        self.unsubmitted = true;
        self.ops_in_flight += 1;
        self.stats.submitted += 1;
        self.push_sqe(sqe);
    }

    /// Sends an `AsyncCancel` for an op whose future was dropped, if its
    /// completion has not been reaped yet. `op` is a cancel reference; it
    /// travels in the cancel's `user_data` until the cancel completes, so
    /// the op's address cannot be reused by another op meanwhile.
    fn cancel_ref(&mut self, op: OpRef) {
        if self.closing || !op.is_ignored() {
            return;
        }
        let target = op.user_data();
        let sqe = opcode::AsyncCancel::new(target)
            .build()
            .user_data(op.into_user_data() | CANCEL_TAG);
        self.internal_in_flight += 1;
        self.stats.cancels += 1;
        self.unsubmitted = true;
        self.push_sqe(sqe);
    }

    /// Whether an op or a per-op cancel pushed since the ring was last seen
    /// empty may still sit in the SQ or the backlog, unseen by the kernel.
    /// (The eventfd read's re-arm and shutdown's cancel-all do not count.)
    fn has_unsubmitted(&mut self) -> bool {
        if self.unsubmitted && self.backlog.is_empty() && self.sq_is_empty() {
            self.unsubmitted = false;
        }
        self.unsubmitted
    }

    fn complete_unsubmitted(&mut self, op: OpRef) {
        self.stats.completed += 1;
        self.stats.cancelled += 1;
        op.complete(-libc::ECANCELED, 0);
    }

    fn arm_wake(&mut self) {
        let sqe = opcode::Read::new(
            Fd(self.handle.shared.eventfd.as_raw_fd()),
            self.wake_buf.as_ptr().cast::<u8>(),
            mem::size_of::<u64>() as u32,
        )
        .build()
        .user_data(WAKE);
        self.wake.arming();
        self.push_sqe(sqe);
    }

    /// Queues an SQE: into the ring if it has room (flushing it to the
    /// kernel once if full), else at the end of the backlog. Never reaps, so
    /// it is safe to call while dispatching completions.
    fn push_sqe(&mut self, sqe: squeue::Entry) {
        if self.backlog.is_empty() {
            if self.try_push(&sqe) {
                return;
            }
            if self.wake.rescuing() {
                // No flush from a rescuer (see `reap_for_stuck_owner`).
                self.backlog.push_back(sqe);
                return;
            }
            self.stats.sq_full_flushes += 1;
            if self.flush_sq() && self.try_push(&sqe) {
                return;
            }
        }
        self.backlog.push_back(sqe);
    }

    fn try_push(&mut self, sqe: &squeue::Entry) -> bool {
        // Every SQE the driver builds points only into memory that outlives
        // the request: an op's data, kept alive by the kernel reference in
        // `user_data` until the completion is reaped; or the wake buffer,
        // freed only when no read of it is in flight; or nothing (nop, cancels).
        // SAFETY: as above, the SQE's pointers stay valid until completion.
        unsafe { self.ring.submission().push(sqe) }.is_ok()
    }

    /// Moves the backlog into the ring, flushing it to the kernel as it fills.
    fn drain_backlog(&mut self) {
        while let Some(sqe) = self.backlog.pop_front() {
            if !self.try_push(&sqe) {
                self.stats.sq_full_flushes += 1;
                if !(self.flush_sq() && self.try_push(&sqe)) {
                    self.backlog.push_front(sqe);
                    return;
                }
            }
        }
    }

    /// `io_uring_enter` without waiting; `false` if the kernel took nothing
    /// (transient pressure, or an error that the next `park` reports).
    fn flush_sq(&mut self) -> bool {
        self.ring.submit().is_ok()
    }

    fn sq_is_empty(&mut self) -> bool {
        self.ring.submission().is_empty()
    }

    /// Whether reaping would find something: a CQE in the ring or in the
    /// kernel's overflow list.
    fn completions_waiting(&mut self) -> bool {
        !self.ring.completion().is_empty() || self.ring.submission().cq_overflow()
    }

    /// Submits the ring's SQEs and waits per `timeout` for one completion.
    /// Timeouts, signals and transient pressure are not errors.
    fn enter(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let result = match timeout {
            Some(timeout) if timeout.is_zero() => {
                let idle = {
                    let sq = self.ring.submission();
                    sq.is_empty() && !sq.cq_overflow() && !sq.taskrun()
                };
                if idle {
                    return Ok(());
                }
                self.ring.submit()
            }
            None => self.ring.submit_and_wait(1),
            Some(timeout) => {
                let ts = Timespec::from(timeout);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_transient(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }

    // ----- completion -----

    /// Reaps until the completion queue and the kernel's overflow list are
    /// both empty.
    fn reap(&mut self) -> io::Result<()> {
        let mut batch = mem::take(&mut self.cqes);
        let mut result = Ok(());
        loop {
            batch.extend(
                self.ring
                    .completion()
                    .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
            );
            if batch.is_empty() {
                if !self.ring.submission().cq_overflow() || self.wake.rescuing() {
                    break;
                }
                // FEAT_NODROP kept the completions that did not fit; an enter
                // with GETEVENTS (which `submit` adds when the overflow flag
                // is set) moves them into the ring, which now has room.
                self.stats.cq_overflow_flushes += 1;
                match self.ring.submit() {
                    Ok(_) => continue,
                    Err(err) if is_transient(&err) => continue,
                    Err(err) => {
                        result = Err(err);
                        break;
                    }
                }
            }
            for (user_data, res, flags) in batch.drain(..) {
                self.dispatch(user_data, res, flags);
            }
        }
        self.cqes = batch;
        result
    }

    fn dispatch(&mut self, user_data: u64, res: i32, flags: u32) {
        match user_data {
            WAKE => {
                self.stats.wakeups += 1;
                // Marks the unpark pending (the next `park` returns at once,
                // also when a rescuer reaps this) and lowers `unparked`
                // before the read is re-armed: an unpark from now on writes
                // again, and that write completes the new read.
                if self
                    .wake
                    .read_completed(&self.handle.shared.mailbox, self.closing)
                {
                    self.arm_wake();
                }
            }
            CANCEL_ALL => {
                self.cancel_all_in_flight = false;
                self.internal_in_flight -= 1;
            }
            _ if user_data & TAG_MASK == CANCEL_TAG => {
                // SAFETY: a cancel's `user_data` is an op address that came
                // from `into_user_data` (with the tag added), and each CQE is
                // reaped once.
                drop(unsafe { OpRef::from_user_data(user_data & !TAG_MASK) });
                self.internal_in_flight -= 1;
            }
            _ => {
                debug_assert_eq!(user_data & TAG_MASK, 0, "unknown user_data {user_data:#x}");
                debug_assert!(
                    !io_uring::cqueue::more(flags),
                    "multishot operations are not supported"
                );
                // SAFETY: every other `user_data` the driver uses is an op's
                // kernel reference from `into_user_data`, and each CQE is
                // reaped once.
                let op = unsafe { OpRef::from_user_data(user_data) };
                self.ops_in_flight -= 1;
                self.stats.completed += 1;
                if res == -libc::ECANCELED {
                    self.stats.cancelled += 1;
                }
                op.complete(res, flags);
            }
        }
    }

    // ----- commands -----

    fn drain_commands(&mut self) {
        let mailbox = &self.handle.shared.mailbox;
        if !mailbox.may_have_commands() {
            return;
        }
        let mut commands = mem::take(&mut self.commands);
        mailbox.take_commands(&mut commands);
        for command in commands.drain(..) {
            match command {
                // Dropped before it reached the ring: no need to bother the
                // kernel (the cancel queued behind it finds it done).
                Command::Submit { op, .. } if op.is_ignored() => self.complete_unsubmitted(op),
                Command::Submit { op, sqe } => self.submit_ref(op, sqe),
                Command::Cancel(op) => self.cancel_ref(op),
            }
        }
        self.commands = commands;
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.shutdown();
        if !self.wake.armed() {
            // SAFETY: allocated by `Box::new` in `new`; no read of it is in
            // flight any more, and nothing else refers to it.
            drop(unsafe { Box::from_raw(self.wake_buf.as_ptr()) });
        }
        // Otherwise the ring failed during shutdown: leak the buffer rather
        // than free memory the kernel may still write.
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("ring_fd", &self.ring.as_raw_fd())
            .field("in_flight", &self.ops_in_flight)
            .field("internal_in_flight", &self.internal_in_flight)
            .field("backlog", &self.backlog.len())
            .field("shut_down", &self.shut_down)
            .field("stats", &self.stats)
            .finish()
    }
}
