//! [`Op`]: the future of every I/O operation, whichever driver runs it.

use super::epoll::EpollOp;
use super::op::{cqe_result, OpData, UringOp};
use crate::scheduler::coop;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// One I/O operation in flight: on an io_uring ring, or carried out by the
/// epoll driver. `Send` and `Unpin`; resolves to `T::Output`. Dropping it
/// cancels the operation (see `op.rs` and `epoll/op.rs` for what that
/// means for each driver).
pub(crate) enum Op<T: OpData> {
    Uring(UringOp<T>),
    /// Boxed: it holds the op's data inline, which would make every op
    /// future (io_uring ones too) as large as the largest data.
    Epoll(Box<EpollOp<T>>),
    /// Finished before it reached a ring ([`OpData::tries_first`]): the
    /// data and the system call's result (`-errno` on failure), turned
    /// into the output by the first poll. Not the output itself: a future
    /// whose state names `T::Output` trips rustc's `Send` check for
    /// buffers with a lifetime (see `driver::run`).
    Done(Option<(T, i32)>),
}

// Nothing is pinned through an `Op`: the ring and epoll variants are
// pointers, and `Done`'s data is moved out whole, never polled in place.
impl<T: OpData> Unpin for Op<T> {}

impl<T: OpData> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        // A loop over ops whose results are already in must still give its
        // worker back: each ready result spends a unit of the task's budget
        // (refunded when the op turns out to be still pending).
        let coop = ready!(coop::poll_proceed(cx));
        let output = match self.get_mut() {
            Op::Uring(op) => ready!(Pin::new(op).poll(cx)),
            Op::Epoll(op) => ready!(Pin::new(&mut **op).poll(cx)),
            Op::Done(done) => {
                let (data, res) = done.take().expect("`Op` polled after it completed");
                data.complete(cqe_result(res), 0)
            }
        };
        coop.made_progress();
        Poll::Ready(output)
    }
}

impl<T: OpData> fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Uring(op) => op.fmt(f),
            Op::Epoll(op) => op.fmt(f),
            Op::Done(done) => f
                .debug_struct("Done")
                .field("res", &done.as_ref().map(|(_, res)| *res))
                .finish(),
        }
    }
}
