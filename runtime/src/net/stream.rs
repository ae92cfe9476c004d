//! What TCP and Unix streams share: owned-buffer reads and writes, and the
//! state machines behind their `futures_io::AsyncRead` / `AsyncWrite`.
//!
//! # Poll-style I/O over a completion-based ring
//!
//! `AsyncRead::poll_read` lends a `&mut [u8]` for one call only, but the
//! kernel fills a buffer *after* the call returns. So the stream reads into
//! a buffer it owns and copies out of it; likewise `poll_write` copies the
//! caller's bytes into an owned buffer and sends that. Each byte through the
//! poll-style traits is copied once more than through the owned-buffer
//! methods (`read(buf)`, `write(buf)`): a `memcpy`, cheap next to a system
//! call but not free for bulk transfers. At most one read and one write are
//! in flight per stream.
//!
//! Reads: the internal buffer (at least [`READ_MIN`], at most [`READ_MAX`]
//! bytes, sized by the caller's request) is filled by one receive; bytes
//! left over are handed out by the next calls before another receive is
//! started. A receive in flight stays in flight when its caller gives up,
//! and the next `poll_read` picks up its data: nothing is lost.
//!
//! Writes: `poll_write` copies up to [`WRITE_MAX`] bytes, submits a send,
//! and returns `Pending` until the kernel has taken them; then it returns
//! how many it took (possibly fewer: the caller writes the rest, as with
//! any partial write). So `Ok(n)` means what it means for a socket: the
//! bytes are in the kernel. The send cannot be taken back once submitted,
//! so when `poll_write` is called again with *other* bytes (not the same
//! buffer it was `Pending` on — told apart by address and length), the
//! abandoned send is finished in full first, then the new bytes are
//! written. `poll_flush` finishes such abandoned sends; `poll_close`
//! finishes any send in flight, then shuts the write side down.

use super::ops::{RecvBuf, SendBuf, Shutdown};
use crate::driver::Slice;
use crate::driver::{self, BufResult, IoBuf, IoBufMut, Op};
use std::future::Future;
use std::io;
use std::mem;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// Smallest receive the poll-style reader asks for.
pub(crate) const READ_MIN: usize = 8 * 1024;
/// Largest receive the poll-style reader asks for.
pub(crate) const READ_MAX: usize = 64 * 1024;
/// Largest chunk one `poll_write` copies and sends.
pub(crate) const WRITE_MAX: usize = 64 * 1024;

/// What a stream holds: a std socket type, used for its descriptor and
/// its plain getters.
pub(crate) trait Socket: AsRawFd + Send + Sync + 'static {}

impl<S: AsRawFd + Send + Sync + 'static> Socket for S {}

/// A connected stream socket `S`, shared with the ops in flight.
pub(crate) struct Stream<S: Socket> {
    fd: Arc<S>,
    reading: ReadState<S>,
    writing: WriteState<S>,
    closing: CloseState<S>,
}

enum ReadState<S: Socket> {
    /// `buf[pos..]` was received and not handed out yet.
    Idle {
        buf: Vec<u8>,
        pos: usize,
    },
    Busy(Op<RecvBuf<Arc<S>, Vec<u8>>>),
}

enum WriteState<S: Socket> {
    Idle(Vec<u8>),
    /// A send in flight. `claim` names the caller's bytes it copied, so that
    /// the caller polling again with them gets the result; `None` once the
    /// caller has moved on (the send is then finished in full, unreported).
    Busy {
        op: Op<SendBuf<Arc<S>, Slice<Vec<u8>>>>,
        claim: Option<Claim>,
    },
}

/// The caller's bytes a send was copied from: their address and the count
/// copied.
#[derive(Clone, Copy, Debug)]
struct Claim {
    addr: usize,
    len: usize,
}

impl Claim {
    fn of(data: &[u8], len: usize) -> Claim {
        Claim {
            addr: data.as_ptr() as usize,
            len,
        }
    }

    /// Whether `data` is the buffer the send was copied from (a retry of
    /// the same write).
    fn matches(&self, data: &[u8]) -> bool {
        data.as_ptr() as usize == self.addr && data.len() >= self.len
    }
}

enum CloseState<S: Socket> {
    Open,
    Busy(Op<Shutdown<Arc<S>>>),
    Closed,
}

impl<S: Socket> Stream<S> {
    pub(crate) fn from_arc(fd: Arc<S>) -> Stream<S> {
        Stream {
            fd,
            reading: ReadState::Idle {
                buf: Vec::new(),
                pos: 0,
            },
            writing: WriteState::Idle(Vec::new()),
            closing: CloseState::Open,
        }
    }

    /// The socket, for its getters and setters.
    pub(crate) fn socket(&self) -> &S {
        &self.fd
    }

    pub(crate) async fn read<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        driver::run(RecvBuf::new(self.fd.clone(), buf)).await
    }

    pub(crate) async fn write<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        driver::run(SendBuf::new(self.fd.clone(), buf)).await
    }

    pub(crate) async fn write_all<B: IoBuf + Send>(&self, buf: B) -> BufResult<(), B> {
        let mut rest = Slice::init(buf);
        while !rest.is_empty() {
            let (result, slice) = self.write(rest).await;
            rest = slice;
            match result {
                Ok(0) => {
                    let err =
                        io::Error::new(io::ErrorKind::WriteZero, "failed to write whole buffer");
                    return (Err(err), rest.into_inner());
                }
                Ok(n) => rest.advance(n),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return (Err(err), rest.into_inner()),
            }
        }
        (Ok(()), rest.into_inner())
    }

    pub(crate) async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        driver::submit(Shutdown::new(self.fd.clone(), how))?.await
    }

    // ----- poll-style reads -----

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match &mut self.reading {
                ReadState::Idle { buf, pos } => {
                    if *pos < buf.len() {
                        let n = out.len().min(buf.len() - *pos);
                        out[..n].copy_from_slice(&buf[*pos..*pos + n]);
                        *pos += n;
                        return Poll::Ready(Ok(n));
                    }
                    if out.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                    let mut buf = mem::take(buf);
                    buf.clear();
                    buf.reserve(out.len().clamp(READ_MIN, READ_MAX));
                    match driver::start(RecvBuf::new(self.fd.clone(), buf)) {
                        Ok(op) => self.reading = ReadState::Busy(op),
                        Err((result, buf)) => {
                            self.reading = ReadState::Idle { buf, pos: 0 };
                            return Poll::Ready(result);
                        }
                    }
                }
                ReadState::Busy(op) => {
                    let (result, buf) = ready!(Pin::new(op).poll(cx));
                    // `buf` was empty when submitted: its length is what
                    // was received.
                    self.reading = ReadState::Idle { buf, pos: 0 };
                    match result {
                        Ok(0) => return Poll::Ready(Ok(0)),
                        Ok(_) => {}
                        Err(err) => return Poll::Ready(Err(err)),
                    }
                }
            }
        }
    }

    // ----- poll-style writes -----

    /// Submits a send of `slice`; on failure the buffer goes back to idle.
    fn start_write(&mut self, slice: Slice<Vec<u8>>, claim: Option<Claim>) -> io::Result<()> {
        match driver::start(SendBuf::new(self.fd.clone(), slice)) {
            Ok(op) => {
                self.writing = WriteState::Busy { op, claim };
                Ok(())
            }
            Err((result, slice)) => {
                self.writing = WriteState::Idle(slice.into_inner());
                result.map(drop)
            }
        }
    }

    /// After a send nobody claims completed: sends what is left of it, or
    /// goes idle (reporting a failure, which says the connection is broken).
    fn continue_unclaimed(
        &mut self,
        result: io::Result<usize>,
        mut rest: Slice<Vec<u8>>,
    ) -> io::Result<()> {
        match result {
            Ok(n) if n > 0 => {
                rest.advance(n);
                if rest.is_empty() {
                    self.writing = WriteState::Idle(rest.into_inner());
                    Ok(())
                } else {
                    self.start_write(rest, None)
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => self.start_write(rest, None),
            Ok(_) => {
                self.writing = WriteState::Idle(rest.into_inner());
                Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write whole buffer",
                ))
            }
            Err(err) => {
                self.writing = WriteState::Idle(rest.into_inner());
                Err(err)
            }
        }
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match &mut self.writing {
                WriteState::Idle(buf) => {
                    if data.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                    let n = data.len().min(WRITE_MAX);
                    let mut buf = mem::take(buf);
                    buf.clear();
                    buf.extend_from_slice(&data[..n]);
                    let slice = Slice::new(buf, 0, n);
                    if let Err(err) = self.start_write(slice, Some(Claim::of(data, n))) {
                        return Poll::Ready(Err(err));
                    }
                }
                WriteState::Busy { op, claim } => {
                    if claim.is_some_and(|claim| !claim.matches(data)) {
                        *claim = None;
                    }
                    let claimed = claim.is_some();
                    let (result, slice) = ready!(Pin::new(op).poll(cx));
                    if claimed {
                        self.writing = WriteState::Idle(slice.into_inner());
                        return Poll::Ready(result);
                    }
                    if let Err(err) = self.continue_unclaimed(result, slice) {
                        return Poll::Ready(Err(err));
                    }
                }
            }
        }
    }

    /// Waits until no unclaimed send is in flight. A claimed one (the
    /// caller's `poll_write` returned `Pending` and will be called again) is
    /// left to it: its bytes were not reported written, so there is nothing
    /// to flush yet.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.writing {
                WriteState::Busy { op, claim: None } => {
                    let (result, slice) = ready!(Pin::new(op).poll(cx));
                    if let Err(err) = self.continue_unclaimed(result, slice) {
                        return Poll::Ready(Err(err));
                    }
                }
                WriteState::Busy { claim: Some(_), .. } | WriteState::Idle(_) => {
                    return Poll::Ready(Ok(()))
                }
            }
        }
    }

    /// Finishes any send in flight, then shuts down the write side (once).
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let WriteState::Busy { claim, .. } = &mut self.writing {
            // Closing: nobody will come back for the result; finish it.
            *claim = None;
        }
        ready!(self.poll_flush(cx))?;
        loop {
            match &mut self.closing {
                CloseState::Open => {
                    let op =
                        driver::submit(Shutdown::new(self.fd.clone(), std::net::Shutdown::Write))?;
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
}

impl<S: Socket> std::fmt::Debug for Stream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reading = match &self.reading {
            ReadState::Idle { buf, pos } => format!("idle, {} bytes buffered", buf.len() - pos),
            ReadState::Busy(_) => "receiving".to_owned(),
        };
        let writing = match &self.writing {
            WriteState::Idle(_) => "idle",
            WriteState::Busy { claim: Some(_), .. } => "sending",
            WriteState::Busy { claim: None, .. } => "finishing an abandoned send",
        };
        f.debug_struct("Stream")
            .field("reading", &reading)
            .field("writing", &writing)
            .finish_non_exhaustive()
    }
}

/// The traits every stream type implements the same way over its
/// `inner: Stream<_>`: the futures-io pair (the poll-style state machines
/// above) and access to the descriptor. One expansion per stream type, so
/// TCP and Unix streams cannot drift apart.
macro_rules! stream_traits {
    ($stream:ty) => {
        impl futures_io::AsyncRead for $stream {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().inner.poll_read(cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $stream {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().inner.poll_write(cx, buf)
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

        impl std::os::fd::AsFd for $stream {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.inner.socket().as_fd()
            }
        }

        impl std::os::fd::AsRawFd for $stream {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner.socket().as_raw_fd()
            }
        }
    };
}
pub(crate) use stream_traits;
