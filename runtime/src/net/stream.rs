//! What TCP and Unix streams (and their owned halves) share: owned-buffer
//! reads and writes, and the state machines behind their
//! `futures_io::AsyncRead` / `AsyncWrite`.
//!
//! # Poll-style I/O over a completion-based ring
//!
//! `AsyncRead::poll_read` lends a `&mut [u8]` for one call only, but a ring
//! receive fills its buffer *after* the call that submitted it returns. So
//! the poll-style reader does not submit receives: it makes one `recv(2)`
//! that never waits, straight into the caller's slice, and when nothing is
//! queued it waits for data through the driver (`POLLIN`: an io_uring poll
//! request, or the epoll reactor) and returns `Pending`, having taken
//! nothing. Three things follow:
//!
//! * no copy: the kernel receives into the caller's memory, which may be
//!   uninitialized (hyper's and tokio's read buffers are);
//! * no buffer per stream: a connection waiting for its next request holds
//!   a poll request, not a receive buffer (with 10 000 idle keep-alive
//!   connections, that is 10 000 buffers fewer);
//! * cancel-safe by construction: a wait consumes no byte, so a caller
//!   that gives up loses nothing, and the next `poll_read` (or an
//!   owned-buffer `read`) gets the data.
//!
//! The price is a system call per read outside the ring, where a ring
//! receive would ride on the next `io_uring_enter`. The owned-buffer
//! `read(buf)` still goes through the ring.
//!
//! Writes work the same way: `poll_write` sends from the caller's slice
//! with a send that never waits, returning `Ready(Ok(n))` with the count
//! the kernel took, or `Pending` having taken nothing while the socket is
//! full (it waits for room through the driver); `writer.rs` has the
//! reasons.
//!
//! The read side ([`Reader`]) and the write side ([`Writer`], in
//! `writer.rs`) are separate values, each with its own reference to the
//! socket, so that a stream splits into owned halves (`split.rs`) that
//! reuse them unchanged.

use super::ops::{RecvBuf, SendBuf, Shutdown};
use super::writer::Writer;
use crate::driver::Slice;
use crate::driver::{self, syscall_res, BufResult, IoBuf, IoBufMut, Op, MAX_RW};
use crate::io::PollAdd;
use crate::scheduler::coop;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// What a stream holds: a std socket type, used for its descriptor and
/// its plain getters.
pub(crate) trait Socket: AsRawFd + Send + Sync + 'static {}

impl<S: AsRawFd + Send + Sync + 'static> Socket for S {}

// ----- owned-buffer I/O, on any reference to the socket -----

pub(crate) async fn read<S: Socket, B: IoBufMut + Send>(
    fd: &Arc<S>,
    buf: B,
) -> BufResult<usize, B> {
    driver::run(RecvBuf::new(fd.clone(), buf)).await
}

pub(crate) async fn peek<S: Socket, B: IoBufMut + Send>(
    fd: &Arc<S>,
    buf: B,
) -> BufResult<usize, B> {
    driver::run(RecvBuf::peek(fd.clone(), buf)).await
}

pub(crate) async fn write<S: Socket, B: IoBuf + Send>(fd: &Arc<S>, buf: B) -> BufResult<usize, B> {
    driver::run(SendBuf::new(fd.clone(), buf)).await
}

pub(crate) async fn write_all<S: Socket, B: IoBuf + Send>(fd: &Arc<S>, buf: B) -> BufResult<(), B> {
    let mut rest = Slice::init(buf);
    while !rest.is_empty() {
        let (result, slice) = write(fd, rest).await;
        rest = slice;
        match result {
            Ok(0) => {
                let err = io::Error::new(io::ErrorKind::WriteZero, "failed to write whole buffer");
                return (Err(err), rest.into_inner());
            }
            Ok(n) => rest.advance(n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return (Err(err), rest.into_inner()),
        }
    }
    (Ok(()), rest.into_inner())
}

pub(crate) async fn shutdown<S: Socket>(fd: &Arc<S>, how: std::net::Shutdown) -> io::Result<()> {
    driver::submit(Shutdown::new(fd.clone(), how))?.await
}

// ----- the poll-style read side -----

/// The read side of a stream: the poll-style reader's wait for data.
pub(crate) struct Reader<S: Socket> {
    fd: Arc<S>,
    /// A wait for data (`POLLIN`), started when a receive found none.
    waiting: Option<Op<PollAdd<Arc<S>>>>,
    /// The last receive came back short of the caller's buffer, so the
    /// socket is most likely empty: the next read waits for data first
    /// instead of spending a system call on a receive that would say
    /// `EAGAIN` (as tokio's streams do). A wait on a socket that does have
    /// data completes at once, so the guess costs at most a trip through
    /// the driver.
    drained: bool,
}

/// One `recv(2)` that never waits, into memory that need not be
/// initialized: the count received (the first that many bytes of `out` are
/// initialized), or the error (`WouldBlock` when nothing is queued).
fn recv_now(fd: &impl AsRawFd, out: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    let len = out.len().min(MAX_RW);
    // SAFETY: `out` is live, writable memory of at least `len` bytes,
    // borrowed for the call; the kernel writes only initialized bytes into
    // it, and only during the call.
    let ret = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            out.as_mut_ptr().cast(),
            len,
            libc::MSG_DONTWAIT,
        )
    };
    match syscall_res(ret) {
        res if res < 0 => Err(io::Error::from_raw_os_error(-res)),
        n => Ok(n as usize),
    }
}

impl<S: Socket> Reader<S> {
    pub(crate) fn new(fd: Arc<S>) -> Reader<S> {
        Reader {
            fd,
            waiting: None,
            drained: false,
        }
    }

    /// The socket, for its getters and setters.
    pub(crate) fn socket(&self) -> &S {
        &self.fd
    }

    pub(crate) fn fd(&self) -> &Arc<S> {
        &self.fd
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and
        // `poll_read_uninit` only ever writes initialized bytes into `out`,
        // so it stays initialized, as a `&mut [u8]` must.
        let out = unsafe { &mut *(out as *mut [u8] as *mut [MaybeUninit<u8>]) };
        self.poll_read_uninit(cx, out)
    }

    /// `poll_read` into memory that need not be initialized (hyper's and
    /// tokio's read buffers): on `Ready(Ok(n))`, the first `n` bytes of
    /// `out` are. The kernel receives straight into `out`: nothing is
    /// zeroed or copied.
    pub(crate) fn poll_read_uninit(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if let Some(wait) = &mut self.waiting {
                // Data, the end of the stream, an error or a hang-up: the
                // receive says which.
                let result = ready!(Pin::new(wait).poll(cx));
                self.waiting = None;
                self.drained = false;
                result?;
            } else if self.drained {
                self.start_wait()?;
                continue;
            }
            // A reader that always finds data must still give its worker
            // back now and then, as the ring's ops do.
            let coop = ready!(coop::poll_proceed(cx));
            match recv_now(&self.fd, out) {
                Ok(n) => {
                    coop.made_progress();
                    // Short (or the end of the stream): wait first next time.
                    self.drained = n < out.len();
                    return Poll::Ready(Ok(n));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.start_wait()?,
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }

    fn start_wait(&mut self) -> io::Result<()> {
        let wait = PollAdd::new(self.fd.clone(), libc::POLLIN);
        self.waiting = Some(driver::submit(wait)?);
        Ok(())
    }

    /// What the `Debug` output says of the read side.
    pub(crate) fn describe(&self) -> &'static str {
        match self.waiting {
            Some(_) => "waiting for data",
            None => "idle",
        }
    }
}

// ----- the whole stream -----

/// A connected stream socket `S`: its two sides, each holding the socket,
/// which stays open until the last of them and of their ops in flight is
/// gone.
pub(crate) struct Stream<S: Socket> {
    reader: Reader<S>,
    writer: Writer<S>,
}

impl<S: Socket> Stream<S> {
    pub(crate) fn from_arc(fd: Arc<S>) -> Stream<S> {
        Stream {
            reader: Reader::new(fd.clone()),
            writer: Writer::new(fd),
        }
    }

    /// The socket, for its getters and setters.
    pub(crate) fn socket(&self) -> &S {
        self.reader.socket()
    }

    pub(crate) async fn read<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        read(self.reader.fd(), buf).await
    }

    pub(crate) async fn peek<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        peek(self.reader.fd(), buf).await
    }

    pub(crate) async fn write<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        write(self.reader.fd(), buf).await
    }

    pub(crate) async fn write_all<B: IoBuf + Send>(&self, buf: B) -> BufResult<(), B> {
        write_all(self.reader.fd(), buf).await
    }

    pub(crate) async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        shutdown(self.reader.fd(), how).await
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.reader.poll_read(cx, out)
    }

    pub(crate) fn poll_read_uninit(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.reader.poll_read_uninit(cx, out)
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writer.poll_write(cx, data)
    }

    pub(crate) fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writer.poll_write_vectored(cx, bufs)
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.poll_flush(cx)
    }

    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.poll_close(cx)
    }

    /// The two sides as owned halves: the writer now shuts the write side
    /// down when dropped.
    pub(crate) fn into_split(self) -> (Reader<S>, Writer<S>) {
        let Stream { reader, mut writer } = self;
        writer.set_shutdown_on_drop(true);
        (reader, writer)
    }

    /// The stream back from its halves, if they are of the same socket;
    /// else the halves back, untouched (by value: a rare path).
    #[allow(clippy::result_large_err)]
    pub(crate) fn reunite(
        reader: Reader<S>,
        mut writer: Writer<S>,
    ) -> Result<Stream<S>, (Reader<S>, Writer<S>)> {
        if !Arc::ptr_eq(reader.fd(), writer.fd()) {
            return Err((reader, writer));
        }
        writer.set_shutdown_on_drop(false);
        Ok(Stream { reader, writer })
    }
}

impl<S: Socket> std::fmt::Debug for Stream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("reading", &self.reader.describe())
            .field("writing", &self.writer.describe())
            .finish_non_exhaustive()
    }
}

/// `futures_io::AsyncRead` for a type whose `inner` has `poll_read` (a
/// [`Stream`] or a [`Reader`]).
macro_rules! async_read {
    ($ty:ty) => {
        impl $ty {
            /// `poll_read` into memory that need not be initialized, for
            /// `compat`'s hyper and tokio adapters.
            #[allow(dead_code)] // without the `hyper` and `tokio-io` features
            pub(crate) fn poll_read_uninit(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.inner.poll_read_uninit(cx, buf)
            }
        }

        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().inner.poll_read(cx, buf)
            }
        }
    };
}
pub(crate) use async_read;

/// `futures_io::AsyncWrite` for a type whose `inner` has `poll_write`,
/// `poll_write_vectored`, `poll_flush` and `poll_close` (a [`Stream`] or a
/// [`Writer`]).
macro_rules! async_write {
    ($ty:ty) => {
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().inner.poll_write(cx, buf)
            }

            /// One `sendmsg(2)` over every slice.
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().inner.poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.get_mut().inner.poll_close(cx)
            }
        }
    };
}
pub(crate) use async_write;

/// `AsFd` and `AsRawFd` for a type whose `inner` has `socket()`.
macro_rules! fd_traits {
    ($ty:ty) => {
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.inner.socket())
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.inner.socket())
            }
        }
    };
}
pub(crate) use fd_traits;

/// The traits every stream type implements the same way over its
/// `inner: Stream<_>`: the futures-io pair (the poll-style state machines
/// above) and access to the descriptor. One expansion per stream type, so
/// TCP and Unix streams cannot drift apart.
macro_rules! stream_traits {
    ($stream:ty) => {
        $crate::net::stream::async_read!($stream);
        $crate::net::stream::async_write!($stream);
        $crate::net::stream::fd_traits!($stream);
    };
}
pub(crate) use stream_traits;
