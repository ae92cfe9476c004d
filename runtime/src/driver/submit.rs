//! Which ring an operation goes to.
//!
//! A thread that owns a ring (a worker, or the thread driving a
//! current_thread runtime) submits straight into it. Any other thread inside
//! a runtime (a multi-thread `block_on`, the blocking pool) hands the op to
//! one of the runtime's rings through its command queue; the op then
//! belongs to that ring, which reaps its completion and wakes the waker
//! wherever the task is by then. On a runtime without rings, the op is
//! carried out by the epoll driver.

use super::epoll::EpollOp;
use super::{Driver, DriverHandle, Op, OpData};
use crate::scheduler::context;
use parking_lot::Mutex;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A ring owned by the thread that parks on it, with a handle to it for
/// the moments the ring itself is taken.
///
/// The lock is the owner's almost always, taken without contention (one
/// atomic swap where a `RefCell` borrow used to be); another worker takes
/// it only to reap the completions of an owner stuck in a long poll
/// (`scheduler/multi_thread/rescue.rs`), and only with `try_lock`. A
/// submission that finds it taken (by a rescuer, or by the owner itself
/// when a waker inside the driver starts I/O) goes through the command
/// queue.
pub(crate) struct OwnedRing {
    pub(crate) driver: Mutex<Driver>,
    pub(crate) handle: DriverHandle,
}

impl OwnedRing {
    pub(crate) fn new(driver: Driver) -> OwnedRing {
        let handle = driver.handle().clone();
        OwnedRing {
            driver: Mutex::new(driver),
            handle,
        }
    }
}

thread_local! {
    /// The ring this thread owns while it runs as a worker or driver.
    static CURRENT: Cell<*const OwnedRing> = const { Cell::new(std::ptr::null()) };
}

/// Makes `ring` this thread's ring until the guard drops.
pub(crate) fn set_current(ring: &OwnedRing) -> CurrentGuard<'_> {
    let previous = CURRENT.with(|current| current.replace(ring));
    CurrentGuard {
        previous,
        _ring: ring,
    }
}

pub(crate) struct CurrentGuard<'a> {
    previous: *const OwnedRing,
    _ring: &'a OwnedRing,
}

impl Drop for CurrentGuard<'_> {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}

/// Starts an operation on the right ring (see the module docs).
///
/// Errors: outside a runtime. On a runtime that has shut down, the op
/// completes with `ECANCELED`.
pub(crate) fn submit<T: OpData>(data: T) -> io::Result<Op<T>> {
    try_submit(data).map_err(|(err, _)| err)
}

/// Starts `data` on the right ring and waits for its output.
///
/// An op that cannot start (outside a runtime) completes at once with that
/// error through [`OpData::complete`], so what it holds comes back the
/// usual way: a buffer is handed back beside the error. This is the one way
/// the user-facing types hand a caller's buffer back from an op that never
/// started.
///
/// A named future that holds the op data rather than `T::Output`, and no
/// `async fn`: a future whose state names `<T as OpData>::Output` made
/// rustc's `Send` check of callers fail for buffers with a lifetime
/// (`&'static [u8]`: "implementation of `IoBuf` is not general enough").
pub(crate) fn run<T: OpData>(data: T) -> Run<T> {
    Run(Some(try_submit(data)))
}

/// The future of [`run`]: the op in flight, or the data of an op that could
/// not start and the reason, completed when polled.
pub(crate) struct Run<T: OpData>(Option<Result<Op<T>, (io::Error, T)>>);

// Nothing is ever pinned through a `Run`: the op is `Unpin` and the data is
// moved out whole.
impl<T: OpData> Unpin for Run<T> {}

impl<T: OpData> Future for Run<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        match this.0.take().expect("`Run` polled after it completed") {
            Ok(mut op) => {
                let poll = Pin::new(&mut op).poll(cx);
                if poll.is_pending() {
                    this.0 = Some(Ok(op));
                }
                poll
            }
            Err((err, data)) => Poll::Ready(data.complete(Err(err), 0)),
        }
    }
}

/// [`submit`], but on error gives `data` back with the error, for an op
/// that must do something else with it (`fs::File::close` closes the
/// descriptor itself).
pub(crate) fn try_submit<T: OpData>(data: T) -> Result<Op<T>, (io::Error, T)> {
    let data = match submit_local(data) {
        Ok(op) => return Ok(op),
        Err(data) => data,
    };
    let Some(handle) = context::current() else {
        let err = io::Error::other(
            "I/O outside of a runtime: call it from a task or inside `Runtime::block_on`",
        );
        return Err((err, data));
    };
    if let Some(ring) = handle.driver_handle() {
        return Ok(ring.submit(data));
    }
    match handle.reactor() {
        Some(reactor) => {
            let op = EpollOp::new(data, reactor.clone(), &handle);
            Ok(Op::Epoll(Box::new(op)))
        }
        None => {
            // Every runtime has rings or a reactor; this is a bug.
            let err = io::Error::other("this runtime has no I/O driver");
            Err((err, data))
        }
    }
}

/// Submits into this thread's own ring, or gives `data` back.
fn submit_local<T: OpData>(data: T) -> Result<Op<T>, T> {
    CURRENT.with(|current| {
        let ring = current.get();
        if ring.is_null() {
            return Err(data);
        }
        // SAFETY: CURRENT is only set by `set_current`, whose guard (which
        // borrows the ring) restores it before the ring can be dropped.
        let ring = unsafe { &*ring };
        match ring.driver.try_lock() {
            Some(mut driver) => Ok(driver.submit(data)),
            // Re-entered from inside the driver (a waker that submits), or
            // a peer is reaping this ring for us: go through the command
            // queue like a foreign thread.
            None => Ok(ring.handle.submit(data)),
        }
    })
}
