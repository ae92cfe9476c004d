//! Entry points for the loom models in `loom-tests/`. This module exists only
//! under `cfg(loom)` (as `runtime::__loom`); a normal build has none of it.
//!
//! It exposes purpose-built wrappers rather than the internals themselves:
//!
//! * [`TestScheduler`]: a scheduler whose queue the model steps by hand
//!   (`tick`), with the runtime's real task registry (`OwnedTasks`). Tasks
//!   spawned on it are real task cells (state word, harness, join waker hand-off);
//!   [`JoinHandle`] and [`CancelHandle`](crate::CancelHandle) are the public ones.
//! * [`Idle`]: the multi-thread scheduler's idle protocol, unchanged.
//! * [`BlockingSlot`]: the epoll driver's blocking-op hand-off, unchanged.
//! * [`OpCellModel`], [`KernelRef`], [`CancelRef`]: an io_uring op's real
//!   cell and `UringOp` future (`driver/op.rs`), with the owning ring played
//!   by the model: it completes the kernel reference and releases the
//!   cancel reference a dropped future sends.
//! * [`RingMailbox`], [`RingWake`]: a ring's wake-up bookkeeping
//!   (`driver/wake.rs`), unchanged, for the model of the stuck-worker
//!   rescue; the model supplies the kernel (eventfd, CQ) and the ring lock.
//!
//! Every synchronization point on these paths is a loom type (through
//! `crate::loom`), so loom explores their interleavings. The scheduler handle
//! that each task cell holds is a loom `Arc`: a task cell that is never freed
//! keeps it alive, and loom reports the leak at the end of the iteration.

use crate::driver::{Fallback, OpData};
use crate::loom::Mutex;
use crate::scheduler::multi_thread::Idle as RealIdle;
use crate::task::list::OwnedTasks;
use crate::task::{spawn_bound, JoinHandle, Notified, Schedule, Task};
use io_uring::squeue;
use loom::sync::Arc;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A hand-stepped scheduler for loom models. Cloning it clones a handle to
/// the same queue and registry.
#[derive(Clone)]
pub struct TestScheduler {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<VecDeque<Notified<Arc<Inner>>>>,
    owned: OwnedTasks<Arc<Inner>>,
}

impl Schedule for Arc<Inner> {
    fn schedule(&self, task: Notified<Self>) {
        self.queue.lock().push_back(task);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }

    fn unhandled_panic(&self) {
        // The harness catches panics from a task's future, and with them any
        // panic loom raises *inside* the task (a data race on the stage, a
        // causality violation). Models use futures that never panic, so a
        // panicked task always means something went wrong: fail loudly.
        panic!(
            "a task panicked inside a loom model; if the model's future cannot \
             panic, this is loom reporting a violation (see the message above)"
        );
    }
}

impl TestScheduler {
    /// An empty scheduler with an open registry.
    pub fn new() -> TestScheduler {
        TestScheduler {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                // One shard: fewer loom objects, same code paths.
                owned: OwnedTasks::new(1),
            }),
        }
    }

    /// Spawns `future` through the runtime's own spawn sequence
    /// (`task::spawn_bound`): binds the task to the registry and queues its
    /// first poll; if the registry is closed, the task is shut down at once
    /// and its handle reports `Cancelled`.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let inner = &self.inner;
        spawn_bound(
            &inner.owned,
            inner.clone(),
            future,
            None,
            Location::caller(),
            |task| inner.schedule(task),
        )
    }

    /// Polls the task at the front of the queue, if any; `true` if one ran.
    pub fn tick_one(&self) -> bool {
        // The lock is released before the poll, as in the real schedulers.
        let next = self.inner.queue.lock().pop_front();
        match next {
            Some(task) => {
                task.run();
                true
            }
            None => false,
        }
    }

    /// Polls queued tasks until the queue is empty (tasks queued meanwhile
    /// included); returns how many polls ran.
    pub fn tick(&self) -> usize {
        let mut ran = 0;
        while self.tick_one() {
            ran += 1;
        }
        ran
    }

    /// Queued `Notified`s.
    pub fn queued(&self) -> usize {
        self.inner.queue.lock().len()
    }

    /// Tasks in the registry (spawned and not yet completed or shut down).
    pub fn live(&self) -> usize {
        self.inner.owned.live()
    }

    /// Runtime shutdown as the multi-thread flavor does it: closes the
    /// registry and shuts down every task in it, then drops every queued
    /// `Notified`.
    pub fn shutdown(&self) {
        self.inner.owned.close_and_shutdown_all();
        let drained: Vec<_> = self.inner.queue.lock().drain(..).collect();
        // Dropped outside the lock: the last reference may free a cell.
        drop(drained);
    }
}

impl Default for TestScheduler {
    fn default() -> Self {
        TestScheduler::new()
    }
}

impl fmt::Debug for TestScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestScheduler").finish_non_exhaustive()
    }
}

/// The multi-thread scheduler's idle protocol (`scheduler/multi_thread/idle.rs`),
/// method for method; see that module for the rules.
pub struct Idle(RealIdle);

impl Idle {
    /// All `num_workers` workers start unparked and not searching.
    pub fn new(num_workers: usize) -> Idle {
        Idle(RealIdle::new(num_workers))
    }

    /// Rule 2: after pushing work, the worker to wake, if any (already
    /// counted as unparked and searching).
    pub fn worker_to_notify(&self) -> Option<usize> {
        self.0.worker_to_notify()
    }

    /// Rule 1: may this worker start searching?
    pub fn transition_worker_to_searching(&self) -> bool {
        self.0.transition_worker_to_searching()
    }

    /// Rule 3: a searcher found work; `true` if it was the last searcher
    /// (it must then wake a peer).
    pub fn transition_worker_from_searching(&self) -> bool {
        self.0.transition_worker_from_searching()
    }

    /// Rule 4: the worker parks; `true` if it was the last searcher (it must
    /// then rescan every queue).
    pub fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> bool {
        self.0.transition_worker_to_parked(index, is_searching)
    }

    /// After a wake-up: `true` if the worker was notified (it is now
    /// unparked and searching), `false` if it still counts as parked.
    pub fn transition_worker_from_parked(&self, index: usize) -> bool {
        self.0.transition_worker_from_parked(index)
    }

    /// A parked worker woke by itself (its timer fired) with work to do:
    /// `true` if it took itself off the list (unparked, not searching),
    /// `false` if it had been notified meanwhile (unparked and searching).
    pub fn unpark_worker_by_id(&self, index: usize) -> bool {
        self.0.unpark_worker_by_id(index)
    }

    /// Shutdown: takes every parked worker off the list.
    pub fn unpark_all(&self) -> Vec<usize> {
        self.0.unpark_all()
    }
}

impl fmt::Debug for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idle").finish_non_exhaustive()
    }
}

/// The epoll driver's hand-off between a blocking op's future and the pool
/// closure that makes its system call (`driver/epoll/slot.rs`), unchanged.
pub struct BlockingSlot<T>(crate::driver::epoll::slot::Slot<T>);

impl<T> BlockingSlot<T> {
    /// A slot holding the op's data.
    pub fn new(data: T) -> BlockingSlot<T> {
        BlockingSlot(crate::driver::epoll::slot::Slot::new(data))
    }

    /// The closure, before the call: the data, or `None` if abandoned.
    pub fn start(&self) -> Option<T> {
        self.0.start()
    }

    /// The closure, after the call: `Some` if it must complete the data.
    pub fn finish(&self, data: T, res: i32) -> Option<(T, i32)> {
        self.0.finish(data, res)
    }

    /// The future, once the closure is over.
    pub fn take(&self) -> Option<(T, Option<i32>)> {
        self.0.take()
    }

    /// The future's drop: `Some` if it must complete the data.
    pub fn abandon(&self) -> Option<(T, i32)> {
        self.0.abandon()
    }
}

impl<T: fmt::Debug> fmt::Debug for BlockingSlot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlockingSlot").field(&self.0).finish()
    }
}

// ----- io_uring op cell -----

/// An op's data in the op-cell model: what `OpData` is to the driver,
/// without the SQE (the model's "kernel" is the test itself).
pub trait ModelOpData: Send + 'static {
    /// What the op resolves to.
    type Output;

    /// `OpData::complete`: runs exactly once for every answered op, on the
    /// thread of whoever ends up with the data (the future's poll, its drop,
    /// or the ring thread's [`KernelRef::complete`]).
    fn complete(self, result: io::Result<u32>, flags: u32) -> Self::Output;
}

/// Adapts a [`ModelOpData`] to the driver's [`OpData`].
pub(crate) struct Modelled<D>(D);

impl<D> Modelled<D> {
    pub(crate) fn new(data: D) -> Modelled<D> {
        Modelled(data)
    }
}

impl<D: ModelOpData> OpData for Modelled<D> {
    type Output = D::Output;

    fn sqe(&mut self) -> squeue::Entry {
        io_uring::opcode::Nop::new().build()
    }

    fn complete(self, result: io::Result<u32>, flags: u32) -> D::Output {
        self.0.complete(result, flags)
    }

    fn fallback(&self) -> Fallback {
        Fallback::Immediate
    }

    fn perform(&mut self) -> i32 {
        unreachable!("the op-cell model has no epoll driver")
    }
}

/// What the op-cell model needs of `driver/op.rs`, whose types are private
/// to the driver: implemented there, under `cfg(loom)`, for [`UringOpCell`].
/// Its associated types name the real ones (`OpRef`, `UringOp`).
pub(crate) trait OpCellHooks {
    /// `OpRef`: the kernel reference or a cancel reference.
    type Ref: Send;
    /// `UringOp<Modelled<D>, CancelMailbox>`.
    type Future<D: ModelOpData>: Future<Output = D::Output> + Unpin + Send;

    /// `UringOp::new`: the future and the kernel reference (the SQE is
    /// dropped: nobody submits it).
    fn submit<D: ModelOpData>(data: D, owner: CancelMailbox) -> (Self::Future<D>, Self::Ref);

    /// `OpRef::complete`: the owning ring reaped the op's completion.
    fn complete(op: Self::Ref, res: i32, flags: u32);

    /// `OpRef::is_ignored`.
    fn is_ignored(op: &Self::Ref) -> bool;
}

/// See [`OpCellHooks`].
pub(crate) struct UringOpCell;

type Ref = <UringOpCell as OpCellHooks>::Ref;

/// The stand-in for the ring's command queue as a future sees it
/// (`OpOwner`): what the future's drop sends lands here, and
/// [`OpCellModel::drop_future`] takes it out on the same thread, right
/// after. A std mutex on purpose: it is only ever used by the one thread that
/// drops the future, so it orders nothing loom needs to see; the model hands
/// the reference on to the ring thread with loom types of its own.
pub(crate) struct CancelMailbox(std::sync::Arc<std::sync::Mutex<Option<Ref>>>);

impl CancelMailbox {
    /// `OpOwner::cancel`.
    pub(crate) fn send(&self, op: Ref) {
        let previous = self.0.lock().unwrap().replace(op);
        assert!(previous.is_none(), "a future sent two cancel references");
    }
}

/// The future side of one io_uring op cell (`driver/op.rs`): the real
/// `UringOp` future over the real cell (state lock, data cell, `Arc`
/// references), with the ring it would send its cancel reference to
/// replaced by a mailbox. Created with the op's kernel reference, which the
/// model's "ring thread" completes.
pub struct OpCellModel<D: ModelOpData> {
    // Dropped before `sent`: a plain drop sends into `sent`, which then
    // releases the cancel reference on the dropping thread.
    op: <UringOpCell as OpCellHooks>::Future<D>,
    sent: std::sync::Arc<std::sync::Mutex<Option<Ref>>>,
}

impl<D: ModelOpData> OpCellModel<D> {
    /// A submitted op holding `data` (state `Submitted`): its future and its
    /// kernel reference.
    pub fn new(data: D) -> (OpCellModel<D>, KernelRef) {
        let sent = std::sync::Arc::new(std::sync::Mutex::new(None));
        let (op, kernel_ref) = UringOpCell::submit(data, CancelMailbox(sent.clone()));
        (OpCellModel { op, sent }, KernelRef(kernel_ref))
    }

    /// Polls the future once with `waker`.
    pub fn poll(&mut self, waker: &Waker) -> Poll<D::Output> {
        Pin::new(&mut self.op).poll(&mut Context::from_waker(waker))
    }

    /// Drops the future (the real `UringOp::drop`) and returns the cancel
    /// reference it sent to its ring, if it sent one (it does if the op had
    /// not completed yet). The ring releases that reference once the
    /// cancel's own completion is reaped: drop it on the ring's thread.
    pub fn drop_future(self) -> Option<CancelRef> {
        let OpCellModel { op, sent } = self;
        drop(op);
        let cancel = sent.lock().unwrap().take();
        cancel.map(CancelRef)
    }
}

impl<D: ModelOpData> fmt::Debug for OpCellModel<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpCellModel").finish_non_exhaustive()
    }
}

/// An op's kernel reference (`OpRef`), as the owning ring holds it from
/// submission until it reaps the op's completion.
pub struct KernelRef(Ref);

impl KernelRef {
    /// The ring reaped the op's completion (`res` as in a CQE: the result,
    /// or `-errno`): wakes the future or, if it is gone, completes and drops
    /// the data; then releases this reference.
    pub fn complete(self, res: i32) {
        UringOpCell::complete(self.0, res, 0);
    }

    /// Whether the future is gone (and the completion not reaped yet).
    pub fn is_ignored(&self) -> bool {
        UringOpCell::is_ignored(&self.0)
    }
}

impl fmt::Debug for KernelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelRef").finish_non_exhaustive()
    }
}

/// A cancel reference (`OpRef`) that a dropped future sent to its ring.
/// Dropping it releases it, as the ring does when the `AsyncCancel`'s own
/// completion is reaped (or at once, if the op is no longer ignored).
pub struct CancelRef(Ref);

impl CancelRef {
    /// The ring's check before it submits the `AsyncCancel` (`cancel_ref`
    /// in `uring.rs`): is the op still waiting for its completion?
    pub fn is_ignored(&self) -> bool {
        UringOpCell::is_ignored(&self.0)
    }
}

impl fmt::Debug for CancelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelRef").finish_non_exhaustive()
    }
}

/// One runtime's timer wheels (`time/driver.rs`), for the model of the
/// shutdown hand-off: a timer registered while the runtime shuts down is
/// either refused or woken by the shutdown's drain, never left behind.
pub struct TimerWheels(crate::time::driver::TimeDriver);

impl TimerWheels {
    /// `shards` wheels on a running clock.
    pub fn new(shards: usize) -> TimerWheels {
        TimerWheels(crate::time::driver::TimeDriver::new(shards, false))
    }

    /// Registers a timer an hour away in `shard`: `true` if registered,
    /// `false` if refused because the runtime has shut down.
    pub fn register(&self, shard: usize, waker: std::task::Waker) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        self.0.register(shard, deadline, waker).is_ok()
    }

    /// The runtime's shutdown: marks the wheels dead, wakes every timer.
    pub fn shutdown(&self) {
        self.0.shutdown();
    }

    /// Timers still registered.
    pub fn registered(&self) -> usize {
        self.0.active_timers()
    }
}

impl fmt::Debug for TimerWheels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheels").finish_non_exhaustive()
    }
}

/// The queue of local tasks (`scheduler/local.rs`) without a runtime: the
/// model thread that creates it is its owner and runs its tasks by hand.
pub struct LocalQueueModel(std::sync::Arc<crate::scheduler::local::LocalQueue>);

impl LocalQueueModel {
    /// An empty queue owned by the calling model thread.
    #[allow(clippy::new_without_default)]
    pub fn new() -> LocalQueueModel {
        LocalQueueModel(std::sync::Arc::new(
            crate::scheduler::local::LocalQueue::new(None, None),
        ))
    }

    /// What wakes the owner when a task is queued from elsewhere.
    pub fn set_waker(&self, waker: &Waker) {
        self.0.set_waker(Some(waker.clone()));
    }

    /// Spawns a local task (need not be `Send`) through the real spawn
    /// sequence; its first poll is queued.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // SAFETY: only the owner (the model thread that made the queue and
        // spawns on it) calls `run_one` and `shutdown`.
        unsafe { crate::scheduler::local::spawn_on(&self.0, future, None, Location::caller()) }
    }

    /// Pops and polls one queued task; `true` if one ran.
    pub fn run_one(&self) -> bool {
        match self.0.pop() {
            Some(task) => {
                task.run();
                true
            }
            None => false,
        }
    }

    /// Whether tasks are queued.
    pub fn has_work(&self) -> bool {
        self.0.has_work()
    }

    /// Cancels and drops every local task, as the owner does at shutdown.
    pub fn shutdown(&self) {
        self.0.shutdown_on_owner();
    }
}

impl fmt::Debug for LocalQueueModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalQueueModel").finish_non_exhaustive()
    }
}

// ----- a ring's wake-ups (the stuck-worker rescue) -----

/// A ring's shared wake-up side (`driver/wake.rs`'s `Mailbox`, as
/// `DriverHandle` holds it): the command queue, `has_commands`, `unparked`
/// and the owner token. The model thread that creates it is recorded as
/// the ring's owner (as `Driver::new` records the thread that builds it).
pub struct RingMailbox<C>(crate::driver::Mailbox<C>);

impl<C> RingMailbox<C> {
    /// An open, empty queue owned by the calling model thread.
    #[allow(clippy::new_without_default)]
    pub fn new() -> RingMailbox<C> {
        RingMailbox(crate::driver::Mailbox::new())
    }

    /// `DriverHandle::send`'s bookkeeping: queues `command`; `Ok(true)` if
    /// the caller must then unpark the ring (it is not the recorded owner).
    /// `Err` if the queue is closed.
    pub fn send(&self, command: C) -> Result<bool, C> {
        self.0.send(command)
    }

    /// `DriverHandle::unpark`'s bookkeeping: `true` if the caller must
    /// write the eventfd.
    pub fn unpark(&self) -> bool {
        self.0.unpark()
    }

    /// `Driver::drain_commands`' first check: may commands be queued?
    pub fn may_have_commands(&self) -> bool {
        self.0.may_have_commands()
    }

    /// `Driver::drain_commands`: takes the queued commands.
    pub fn take_commands(&self) -> Vec<C> {
        let mut commands = Vec::new();
        self.0.take_commands(&mut commands);
        commands
    }
}

impl<C> fmt::Debug for RingMailbox<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingMailbox").finish_non_exhaustive()
    }
}

/// The ring's own side of its wake-ups (`driver/wake.rs`'s `WakeState`, a
/// field of `Driver`); the model keeps it under its ring lock, as the
/// driver is.
#[derive(Debug)]
pub struct RingWake(crate::driver::WakeState);

impl RingWake {
    /// `Driver::new`, before it arms the eventfd read.
    #[allow(clippy::new_without_default)]
    pub fn new() -> RingWake {
        RingWake(crate::driver::WakeState::new())
    }

    /// The first step of `Driver::poll`, `park` and `shutdown`.
    pub fn owner_enters<C>(&mut self, mailbox: &RingMailbox<C>) {
        self.0.enter(&mailbox.0, crate::driver::Driving::Owner);
    }

    /// The first step of `Driver::reap_for_stuck_owner`, once it has
    /// found a completion to reap.
    pub fn rescuer_enters<C>(&mut self, mailbox: &RingMailbox<C>) {
        self.0.enter(&mailbox.0, crate::driver::Driving::Rescuer);
    }

    /// The last step of `Driver::reap_for_stuck_owner`.
    pub fn rescue_done(&mut self) {
        self.0.rescue_done();
    }

    /// Whether a rescuer drives the ring (nothing may enter the kernel).
    pub fn rescuing(&self) -> bool {
        self.0.rescuing()
    }

    /// `Driver::arm_wake`: the eventfd read is being queued.
    pub fn arming(&mut self) {
        self.0.arming();
    }

    /// Whether the eventfd read is queued or in the kernel.
    pub fn armed(&self) -> bool {
        self.0.armed()
    }

    /// `Driver::dispatch` of the eventfd read's completion: `true` if the
    /// read must be re-armed.
    pub fn read_completed<C>(&mut self, mailbox: &RingMailbox<C>, closing: bool) -> bool {
        self.0.read_completed(&mailbox.0, closing)
    }

    /// `Driver::park`'s decision: may it sleep?
    pub fn may_sleep(&self, closing: bool, completions_waiting: impl FnOnce() -> bool) -> bool {
        self.0.may_sleep(closing, completions_waiting)
    }

    /// `Driver::park`, after its reap.
    pub fn park_returned(&mut self) {
        self.0.park_returned();
    }
}
