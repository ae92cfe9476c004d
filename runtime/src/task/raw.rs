//! A type-erased pointer to a task cell and the vtable that restores its type.

use super::core::{Cell, Header, Meta};
use super::harness::Harness;
use super::id::TaskId;
use super::state::State;
use super::Schedule;
use std::future::Future;
use std::ptr::NonNull;
use std::task::Waker;

/// The operations that need the task's concrete `F` and `S`. One static
/// instance exists per (future, scheduler) pair.
pub(crate) struct Vtable {
    /// Polls the task; consumes a `Notified` reference.
    pub(crate) poll: unsafe fn(NonNull<Header>),
    /// Hands a `Notified` (consuming one reference) to the task's scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Frees the cell; the reference count is zero.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// For `JoinHandle::poll`: writes `Poll<Result<T, JoinError>>` to the
    /// pointer if the output is ready, else registers the waker.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// Releases the JoinHandle's interest and reference.
    pub(crate) drop_join_handle: unsafe fn(NonNull<Header>),
    /// Runtime shutdown: cancels the task; consumes one reference.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
}

/// The vtable for one `(F, S)` pair.
pub(crate) fn vtable<F, S>() -> &'static Vtable
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// A pointer to a task cell. Copying it copies no reference: the typed
/// handles (`Task`, `Notified`, `JoinHandle`, wakers …) own the references.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

impl RawTask {
    pub(crate) fn new<F, S>(future: F, scheduler: S, id: TaskId, meta: Meta) -> RawTask
    where
        F: Future + 'static,
        F::Output: 'static,
        S: Schedule,
    {
        RawTask {
            ptr: Cell::allocate(future, scheduler, id, meta, vtable::<F, S>()),
        }
    }

    /// # Safety
    /// `ptr` points to a live task header.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(crate) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only made from a live cell, and whoever uses it
        // holds a reference that keeps the cell alive.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn state(&self) -> &State {
        &self.header().state
    }

    pub(crate) fn id(&self) -> TaskId {
        self.header().id
    }

    fn vtable(&self) -> &'static Vtable {
        self.header().vtable
    }

    /// # Safety
    /// The caller gives up a `Notified` reference.
    pub(crate) unsafe fn poll(self) {
        // SAFETY: forwarded from the caller; the vtable matches the cell.
        unsafe { (self.vtable().poll)(self.ptr) }
    }

    /// # Safety
    /// The caller gives up a reference, which the `Notified` takes over.
    pub(crate) unsafe fn schedule(self) {
        // SAFETY: forwarded from the caller; the vtable matches the cell.
        unsafe { (self.vtable().schedule)(self.ptr) }
    }

    /// # Safety
    /// `dst` points to a `Poll<Result<T, JoinError>>` of the task's `T`, and
    /// the caller is the task's JoinHandle.
    pub(crate) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: forwarded from the caller; the vtable matches the cell.
        unsafe { (self.vtable().try_read_output)(self.ptr, dst, waker) }
    }

    /// # Safety
    /// The caller is the JoinHandle and gives up its reference.
    pub(crate) unsafe fn drop_join_handle(self) {
        // SAFETY: forwarded from the caller; the vtable matches the cell.
        unsafe { (self.vtable().drop_join_handle)(self.ptr) }
    }

    /// # Safety
    /// The caller gives up a reference.
    pub(crate) unsafe fn shutdown(self) {
        // SAFETY: forwarded from the caller; the vtable matches the cell.
        unsafe { (self.vtable().shutdown)(self.ptr) }
    }

    /// Takes one more reference.
    pub(crate) fn ref_inc(self) {
        self.state().ref_inc();
    }

    /// Drops one reference, freeing the cell if it was the last.
    ///
    /// # Safety
    /// The caller gives up a reference it owns.
    pub(crate) unsafe fn ref_dec(self) {
        if self.state().ref_dec() {
            // SAFETY: that was the last reference; nobody else can reach the cell.
            unsafe { (self.vtable().dealloc)(self.ptr) }
        }
    }

    /// Asks for cancellation (JoinHandle / CancelHandle). A task that is not
    /// running is scheduled once more so that a worker drops its future.
    pub(crate) fn remote_cancel(self) {
        if self.state().transition_to_notified_and_cancel() {
            // SAFETY: the transition took a reference for this Notified.
            unsafe { self.schedule() }
        }
    }
}

unsafe fn poll<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    // SAFETY: this vtable was built for `Cell<F, S>`.
    unsafe { Harness::<F, S>::from_raw(ptr) }.poll();
}

unsafe fn schedule<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    // SAFETY: this vtable was built for `Cell<F, S>`; the caller gives up a
    // reference, which the Notified now owns.
    unsafe { Harness::<F, S>::from_raw(ptr) }.schedule();
}

unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the reference count is zero; the cell came from `Box::leak`.
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) });
}

unsafe fn try_read_output<F, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let dst = dst.cast::<std::task::Poll<Result<F::Output, super::JoinError>>>();
    // SAFETY: this vtable was built for `Cell<F, S>`; `dst` has the task's
    // output type by the caller's contract.
    unsafe { Harness::<F, S>::from_raw(ptr).try_read_output(&mut *dst, waker) }
}

unsafe fn drop_join_handle<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    // SAFETY: this vtable was built for `Cell<F, S>`.
    unsafe { Harness::<F, S>::from_raw(ptr) }.drop_join_handle();
}

unsafe fn shutdown<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    // SAFETY: this vtable was built for `Cell<F, S>`.
    unsafe { Harness::<F, S>::from_raw(ptr) }.shutdown();
}
