//! The write side of a stream behind `futures_io::AsyncWrite`: a
//! non-blocking send from the caller's slice, and a wait for room through
//! the driver when there is none.
//!
//! # The contract
//!
//! The futures-io (and tokio) contract says a `poll_write` that returns
//! `Pending` wrote nothing: the caller may come back with the same bytes at
//! another address (hyper does: its write buffer grows and moves while a
//! flush is pending), with other bytes, or not at all. And `Ready(Ok(n))`
//! says `n` bytes were written. A ring send submitted from `poll_write`
//! cannot be taken back, so a `poll_write` that submits the caller's bytes
//! and says `Pending` breaks that promise (it did: a retry from a moved
//! buffer was sent twice).
//!
//! So `poll_write` makes the decision in the call itself: one `send(2)`
//! with `MSG_DONTWAIT` from the caller's slice. The kernel takes what fits
//! in the socket's buffer and says how much: `Ready(Ok(n))`, exactly what
//! it took. If it takes nothing (`EAGAIN`), `poll_write` starts a wait for
//! room (`POLLOUT`: an io_uring poll request, or the epoll reactor) and
//! returns `Pending`, having written nothing. The wait lives in the stream,
//! not in the caller's future, so a caller that gives up loses nothing, and
//! the next `poll_write` (whatever its bytes) sees it finished and sends.
//! Cancel-safe by construction, and no copy: the kernel copies the bytes
//! into the socket buffer, as for any send.
//!
//! A vectored write (`poll_write_vectored`) is one `sendmsg(2)` over all
//! the caller's slices, with the same rules: hyper's headers and body go
//! out in one system call.
//!
//! `poll_flush` has nothing to do (no byte is held back); `poll_close`
//! shuts the write side down. An error is the kernel's, for this send; a
//! broken connection keeps failing later sends by itself.
//!
//! # Why not a write-behind buffer
//!
//! The other way to keep the contract is to copy the bytes into a buffer of
//! the stream and say `Ready` at once, sending them later. Then somebody
//! must drive those later sends (a partial send's rest, bytes queued
//! behind a send in flight): the caller's next `poll_write` or
//! `poll_flush`. A caller that writes and then only reads (waiting for the
//! reply to what it wrote, without a flush: fine with tokio's streams and
//! with std's) would wait forever, and on the epoll driver nothing moves
//! unless polled. Making the buffer drive itself takes a task per stream
//! or ops that resubmit themselves from the completion path; the
//! non-blocking send needs neither, and a send into a socket buffer with
//! room is one system call where a ring send is a submission, a completion
//! and a wake-up of the task.
//!
//! The price: on io_uring, each `poll_write` that finds room is a system
//! call of its own rather than a request batched into the ring's next
//! `io_uring_enter`. The owned-buffer `write` / `write_all` still go
//! through the ring.

use super::ops::Shutdown;
use super::stream::Socket;
use super::sys;
use crate::driver::{self, syscall_res, Op, MAX_RW};
use crate::io::PollAdd;
use crate::scheduler::coop;
use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// The write side of a stream: the wait for room of the poll-style
/// writer, the shutdown of `poll_close`, and what to do when dropped.
pub(crate) struct Writer<S: Socket> {
    fd: Arc<S>,
    /// A wait for room in the socket, started when a send found none.
    waiting: Option<Op<PollAdd<Arc<S>>>>,
    closing: CloseState<S>,
    /// Shut the write side down when dropped: an owned write half that
    /// was not reunited or forgotten.
    shutdown_on_drop: bool,
}

enum CloseState<S: Socket> {
    Open,
    Busy(Op<Shutdown<Arc<S>>>),
    Closed,
}

/// What one poll-style write sends: a slice, or slices gathered by one
/// `sendmsg(2)` (a vectored write: hyper's headers and body).
#[derive(Clone, Copy)]
enum Data<'a> {
    One(&'a [u8]),
    Gather(&'a [IoSlice<'a>]),
}

/// The most slices one `sendmsg(2)` takes (`UIO_MAXIOV`); a write of more
/// sends the first this many and reports what the kernel took.
const MAX_IOV: usize = 1024;

impl Data<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Data::One(data) => data.is_empty(),
            Data::Gather(bufs) => bufs.iter().all(|buf| buf.is_empty()),
        }
    }

    /// One send that never waits: the count the kernel took, or its error
    /// (`WouldBlock` when the socket buffer is full).
    fn send_now(&self, fd: &impl AsRawFd) -> io::Result<usize> {
        let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        let ret = match *self {
            Data::One(data) => {
                let len = data.len().min(MAX_RW);
                // SAFETY: `data` is a live slice of at least `len`
                // initialized bytes, which the kernel only reads, and only
                // during the call.
                unsafe { libc::send(fd.as_raw_fd(), data.as_ptr().cast(), len, flags) }
            }
            Data::Gather(bufs) => {
                let bufs = &bufs[..bufs.len().min(MAX_IOV)];
                // SAFETY: all-zero is a valid `msghdr` (no address, no
                // control data).
                let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                // `IoSlice` is guaranteed ABI-compatible with `iovec` on
                // Unix; the kernel only reads through the pointer, and caps
                // the total at its own `MAX_RW_COUNT`.
                msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
                msg.msg_iovlen = bufs.len();
                // SAFETY: `msg` holds `bufs.len()` live `iovec`s over live,
                // initialized slices, borrowed for the call, only read.
                unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) }
            }
        };
        match syscall_res(ret) {
            res if res < 0 => Err(io::Error::from_raw_os_error(-res)),
            n => Ok(n as usize),
        }
    }
}

impl<S: Socket> Writer<S> {
    pub(crate) fn new(fd: Arc<S>) -> Writer<S> {
        Writer {
            fd,
            waiting: None,
            closing: CloseState::Open,
            shutdown_on_drop: false,
        }
    }

    /// The socket, for its getters and setters.
    pub(crate) fn socket(&self) -> &S {
        &self.fd
    }

    pub(crate) fn fd(&self) -> &Arc<S> {
        &self.fd
    }

    /// Whether dropping this writer shuts the write side down (an owned
    /// write half) or not (a whole stream, a reunited or forgotten half).
    pub(crate) fn set_shutdown_on_drop(&mut self, on: bool) {
        self.shutdown_on_drop = on;
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, Data::One(data))
    }

    /// A vectored write: one `sendmsg(2)` takes bytes from every slice, in
    /// order, as many as the socket has room for.
    pub(crate) fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, Data::Gather(bufs))
    }

    fn poll_send(&mut self, cx: &mut Context<'_>, data: Data<'_>) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if let Some(wait) = &mut self.waiting {
                // Room, an error or a hang-up: the send says which.
                let result = ready!(Pin::new(wait).poll(cx));
                self.waiting = None;
                result?;
            }
            // A writer that always finds room must still give its worker
            // back now and then, as the ring's ops do.
            let coop = ready!(coop::poll_proceed(cx));
            match data.send_now(&self.fd) {
                Ok(n) => {
                    coop.made_progress();
                    return Poll::Ready(Ok(n));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    let wait = PollAdd::new(self.fd.clone(), libc::POLLOUT);
                    self.waiting = Some(driver::submit(wait)?);
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }

    /// Nothing to flush: every byte `poll_write` reported is in the kernel.
    pub(crate) fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down the write side (once).
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.closing {
                CloseState::Open => {
                    let how = std::net::Shutdown::Write;
                    let op = driver::submit(Shutdown::new(self.fd.clone(), how))?;
                    self.closing = CloseState::Busy(op);
                }
                CloseState::Busy(op) => {
                    let result = ready!(Pin::new(op).poll(cx));
                    self.closing = CloseState::Closed;
                    return Poll::Ready(result);
                }
                CloseState::Closed => return Poll::Ready(Ok(())),
            }
        }
    }

    /// What the `Debug` output says of the write side.
    pub(crate) fn describe(&self) -> &'static str {
        match (&self.closing, &self.waiting) {
            (CloseState::Closed, _) => "shut down",
            (CloseState::Busy(_), _) => "shutting down",
            (CloseState::Open, Some(_)) => "waiting for room",
            (CloseState::Open, None) => "idle",
        }
    }
}

impl<S: Socket> Drop for Writer<S> {
    fn drop(&mut self) {
        // `shutdown(2)` never blocks: a plain call, so the peer sees the
        // end of the stream at once, whether or not a runtime is around.
        if self.shutdown_on_drop && !matches!(self.closing, CloseState::Closed) {
            sys::shutdown_write(self.fd.as_raw_fd());
        }
    }
}
