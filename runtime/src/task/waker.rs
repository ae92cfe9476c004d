//! The one static waker vtable shared by every task.
//!
//! A task's waker is its header pointer; each operation dispatches on the
//! header's state word and, when the task must be queued, through the task's
//! own vtable to its scheduler. A waker owns one reference to the task, so it
//! stays sound after the task completes and after its runtime is gone.

use super::core::Header;
use super::raw::RawTask;
use super::state::{TransitionToNotifiedByRef, TransitionToNotifiedByVal};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

/// A waker that borrows the caller's reference instead of owning one: lent
/// to the future during a poll, which the running reference outlives.
pub(crate) struct WakerRef<'a> {
    waker: ManuallyDrop<Waker>,
    _borrow: PhantomData<&'a Header>,
}

impl Deref for WakerRef<'_> {
    type Target = Waker;

    fn deref(&self) -> &Waker {
        &self.waker
    }
}

pub(crate) fn waker_ref(header: &NonNull<Header>) -> WakerRef<'_> {
    let raw = RawWaker::new(header.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: the vtable's functions uphold the RawWaker contract for a
    // header pointer, and `ManuallyDrop` keeps this borrowed waker from
    // dropping a reference it never took.
    let waker = unsafe { Waker::from_raw(raw) };
    WakerRef {
        waker: ManuallyDrop::new(waker),
        _borrow: PhantomData,
    }
}

/// # Safety
/// `ptr` is the data pointer of one of our wakers: a live task header.
unsafe fn raw_task(ptr: *const ()) -> RawTask {
    // SAFETY: by the caller's contract the pointer is a non-null live header.
    unsafe { RawTask::from_raw(NonNull::new_unchecked(ptr as *mut Header)) }
}

unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
    // SAFETY: called by `Waker::clone` on one of our wakers.
    unsafe { raw_task(ptr) }.ref_inc();
    RawWaker::new(ptr, &WAKER_VTABLE)
}

unsafe fn wake_by_val(ptr: *const ()) {
    // SAFETY: called by `Waker::wake` on one of our wakers.
    let task = unsafe { raw_task(ptr) };
    match task.state().transition_to_notified_by_val() {
        // SAFETY: the waker's reference now belongs to the Notified.
        TransitionToNotifiedByVal::Submit => unsafe { task.schedule() },
        // SAFETY: the waker's reference was the last one.
        TransitionToNotifiedByVal::Dealloc => unsafe {
            (task.header().vtable.dealloc)(task.header_ptr())
        },
        TransitionToNotifiedByVal::DoNothing => {}
    }
}

unsafe fn wake_by_ref(ptr: *const ()) {
    // SAFETY: called by `Waker::wake_by_ref` on one of our wakers.
    let task = unsafe { raw_task(ptr) };
    match task.state().transition_to_notified_by_ref() {
        // SAFETY: the transition took a reference for the Notified.
        TransitionToNotifiedByRef::Submit => unsafe { task.schedule() },
        TransitionToNotifiedByRef::DoNothing => {}
    }
}

unsafe fn drop_waker(ptr: *const ()) {
    // SAFETY: called by `Waker::drop` on one of our wakers, which owns a reference.
    unsafe { raw_task(ptr).ref_dec() }
}
