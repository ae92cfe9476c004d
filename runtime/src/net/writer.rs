//! The write side of a stream behind `futures_io::AsyncWrite`: a
//! write-behind buffer.
//!
//! # Why a write-behind buffer
//!
//! The futures-io (and tokio) contract says a `poll_write` that returns
//! `Pending` wrote nothing: the caller may come back later with the same
//! bytes at another address (hyper does: its write buffer grows and moves
//! while a flush is pending), or with other bytes, or not at all. A ring
//! send cannot be taken back once submitted, so a `poll_write` that submits
//! the caller's bytes and says `Pending` would break that promise. Instead
//! `poll_write` *accepts* bytes: it copies them into a buffer the stream
//! owns, starts sending them, and returns `Ready(Ok(n))` at once. `Ok(n)`
//! then means "the stream has taken `n` bytes and will send them in order",
//! as with a `BufWriter` or a kernel send buffer, not "the kernel has them".
//!
//! At most [`WRITE_MAX`] bytes are accepted and not yet sent. While a send
//! is in flight, new bytes go to a second buffer (up to that cap) that is
//! sent when the first is done, so a caller making many small writes does
//! not wait a round trip for each. When the cap is reached `poll_write`
//! returns `Pending` — having taken nothing — until a send completes.
//!
//! * A partial send continues with the rest of its buffer.
//! * A failed send's error is *sticky*: the bytes after it cannot be
//!   delivered in order, so they are dropped, and every later `poll_write`,
//!   `poll_flush` and `poll_close` reports the error.
//! * `poll_flush` waits until every accepted byte is in the kernel;
//!   `poll_close` flushes, then shuts the write side down.
//!
//! Cancel-safe by construction: all state lives in the stream, not in the
//! futures that poll it, and a call either takes bytes and says so or takes
//! none. Dropping a `write` or `flush` future at any point loses and
//! duplicates nothing.
//!
//! # Dropped with bytes not yet sent
//!
//! The kernel keeps sending what is in a socket's send buffer after
//! `close(2)`; bytes accepted here are treated the same. A stream (or
//! write half) dropped inside a runtime with unsent bytes hands them to a
//! background task of that runtime, which finishes the send in flight,
//! sends the rest, then (for a write half) shuts the write side down, and
//! finally lets the descriptor close. The price: a peer that never reads
//! keeps that task and the descriptor alive until the connection fails or
//! the runtime shuts down (which cancels the task, cutting the data short).
//! Dropped outside a runtime, the bytes are lost. So, as with a
//! `BufWriter`, call `flush` or `close` to *know* that the bytes were sent
//! and to see a failure.

use super::ops::{SendBuf, Shutdown};
use super::stream::Socket;
use super::sys;
use crate::driver::{self, Op, Slice};
use crate::scheduler::context;
use std::future::{poll_fn, Future};
use std::io;
use std::mem;
use std::os::fd::AsRawFd;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// Most bytes accepted by `poll_write` and not yet handed to the kernel.
pub(crate) const WRITE_MAX: usize = 64 * 1024;

type SendOp<S> = Op<SendBuf<Arc<S>, Slice<Vec<u8>>>>;

/// The write side of a stream: the write-behind buffer, the shutdown of
/// `poll_close`, and what to do when dropped.
pub(crate) struct Writer<S: Socket> {
    core: WriteBehind<S>,
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

/// The buffer and the send in flight. No `Drop` of its own: the background
/// task of a dropped [`Writer`] owns one, and must not spawn another when
/// the runtime cancels it.
struct WriteBehind<S: Socket> {
    fd: Arc<S>,
    /// The send in flight, owning the rest of its buffer.
    sending: Option<SendOp<S>>,
    /// Bytes of the send in flight the kernel has not confirmed yet.
    in_flight: usize,
    /// Bytes accepted while a send was in flight, sent after it. Empty
    /// whenever nothing is in flight.
    queued: Vec<u8>,
    /// An empty buffer to reuse for the next send.
    spare: Vec<u8>,
    /// Why a send failed; reported by every later write-side call.
    failed: Option<io::Error>,
}

/// The same error again, for a sticky failure reported more than once
/// (`io::Error` is not `Clone`).
fn replay(err: &io::Error) -> io::Error {
    match err.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(err.kind(), err.to_string()),
    }
}

impl<S: Socket> WriteBehind<S> {
    fn new(fd: Arc<S>) -> WriteBehind<S> {
        WriteBehind {
            fd,
            sending: None,
            in_flight: 0,
            queued: Vec::new(),
            spare: Vec::new(),
            failed: None,
        }
    }

    /// Accepted bytes not yet handed to the kernel.
    fn unsent(&self) -> usize {
        self.in_flight + self.queued.len()
    }

    /// Moves everything out, leaving `self` empty.
    fn take(&mut self) -> WriteBehind<S> {
        WriteBehind {
            fd: self.fd.clone(),
            sending: self.sending.take(),
            in_flight: mem::take(&mut self.in_flight),
            queued: mem::take(&mut self.queued),
            spare: Vec::new(),
            failed: self.failed.take(),
        }
    }

    /// Gives up on the bytes not sent yet: the stream cannot deliver them
    /// in order any more.
    fn fail(&mut self, err: io::Error) {
        self.sending = None;
        self.in_flight = 0;
        self.queued = Vec::new();
        self.failed = Some(err);
    }

    /// Starts sending `rest` (never empty).
    fn submit(&mut self, rest: Slice<Vec<u8>>) {
        match driver::start(SendBuf::new(self.fd.clone(), rest)) {
            Ok(op) => self.sending = Some(op),
            Err((result, _)) => {
                let err = result
                    .err()
                    .unwrap_or_else(|| io::Error::other("send not started"));
                self.fail(err);
            }
        }
    }

    /// Drives the sends until every accepted byte is in the kernel
    /// (`Ready(Ok)`), one is still under way (`Pending`, the waker
    /// registered), or a send has failed (`Ready(Err)`, now and for good).
    fn poll_sent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(err) = &self.failed {
                return Poll::Ready(Err(replay(err)));
            }
            let Some(op) = &mut self.sending else {
                return Poll::Ready(Ok(()));
            };
            let (result, mut rest) = ready!(Pin::new(op).poll(cx));
            self.sending = None;
            match result {
                Ok(0) => self.fail(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the socket accepted no bytes of a send",
                )),
                Ok(n) => {
                    rest.advance(n);
                    self.in_flight -= n;
                    if !rest.is_empty() {
                        self.submit(rest);
                        continue;
                    }
                    let mut done = rest.into_inner();
                    done.clear();
                    if self.queued.is_empty() {
                        self.spare = done;
                    } else {
                        let next = mem::replace(&mut self.queued, done);
                        self.in_flight = next.len();
                        self.submit(Slice::init(next));
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => self.submit(rest),
                Err(err) => self.fail(err),
            }
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        // A completed send first: it makes room, and a failure is reported
        // before more bytes are taken.
        if let Poll::Ready(Err(err)) = self.poll_sent(cx) {
            return Poll::Ready(Err(err));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = WRITE_MAX - self.unsent();
        if room == 0 {
            // Full, so a send is in flight and `poll_sent` registered the
            // waker with it. Nothing taken.
            return Poll::Pending;
        }
        let n = room.min(data.len());
        if self.sending.is_some() {
            self.queued.extend_from_slice(&data[..n]);
            return Poll::Ready(Ok(n));
        }
        let mut buf = mem::take(&mut self.spare);
        buf.extend_from_slice(&data[..n]);
        match driver::start(SendBuf::new(self.fd.clone(), Slice::init(buf))) {
            Ok(op) => {
                self.sending = Some(op);
                self.in_flight = n;
            }
            Err((result, slice)) => {
                // Not started (outside a runtime): nothing taken.
                let mut buf = slice.into_inner();
                buf.clear();
                self.spare = buf;
                let err = result
                    .err()
                    .unwrap_or_else(|| io::Error::other("send not started"));
                return Poll::Ready(Err(err));
            }
        }
        // One poll now: the epoll driver makes the call in it, and either
        // driver then wakes this task when the send is done. A failure
        // belongs to the bytes just taken: the next call reports it.
        let _ = self.poll_sent(cx);
        Poll::Ready(Ok(n))
    }
}

impl<S: Socket> Writer<S> {
    pub(crate) fn new(fd: Arc<S>) -> Writer<S> {
        Writer {
            core: WriteBehind::new(fd),
            closing: CloseState::Open,
            shutdown_on_drop: false,
        }
    }

    /// The socket, for its getters and setters.
    pub(crate) fn socket(&self) -> &S {
        &self.core.fd
    }

    /// Whether dropping this writer shuts the write side down (an owned
    /// write half) or not (a whole stream, a reunited or forgotten half).
    pub(crate) fn set_shutdown_on_drop(&mut self, on: bool) {
        self.shutdown_on_drop = on;
    }

    pub(crate) fn fd(&self) -> &Arc<S> {
        &self.core.fd
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.core.poll_write(cx, data)
    }

    /// Waits until every accepted byte is in the kernel.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.core.poll_sent(cx)
    }

    /// Flushes, then shuts down the write side (once).
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_flush(cx))?;
        loop {
            match &mut self.closing {
                CloseState::Open => {
                    let how = std::net::Shutdown::Write;
                    let op = driver::submit(Shutdown::new(self.core.fd.clone(), how))?;
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
    pub(crate) fn describe(&self) -> String {
        if let Some(err) = &self.core.failed {
            return format!("failed: {err}");
        }
        match self.core.unsent() {
            0 => "idle".to_owned(),
            n => format!("{n} bytes accepted, not yet sent"),
        }
    }
}

/// The background task of a writer dropped with bytes not yet sent.
async fn finish<S: Socket>(mut core: WriteBehind<S>, shutdown: bool) {
    // A failure has nobody to be reported to; the socket closes either way.
    let _ = poll_fn(|cx| core.poll_sent(cx)).await;
    if shutdown {
        sys::shutdown_write(core.fd.as_raw_fd());
    }
}

impl<S: Socket> Drop for Writer<S> {
    fn drop(&mut self) {
        let shutdown = self.shutdown_on_drop && !matches!(self.closing, CloseState::Closed);
        if self.core.unsent() == 0 {
            if shutdown {
                sys::shutdown_write(self.core.fd.as_raw_fd());
            }
            return;
        }
        let core = self.core.take();
        match context::current() {
            Some(handle) => {
                let name = Some(Arc::from("runtime::net: send on drop"));
                drop(handle.spawn(finish(core, shutdown), name, Location::caller()));
            }
            None => {
                // No runtime to finish the send: the bytes are lost (the
                // module docs say so); the write half still shuts down.
                drop(core);
                if shutdown {
                    sys::shutdown_write(self.fd().as_raw_fd());
                }
            }
        }
    }
}
