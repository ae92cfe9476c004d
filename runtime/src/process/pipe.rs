//! The parent's ends of a child's standard streams: what they share, and
//! the readers [`ChildStdout`] and [`ChildStderr`] ([`ChildStdin`] is in
//! `stdin.rs`).
//!
//! # Readiness, not ring reads
//!
//! Each pipe end is put in `O_NONBLOCK` mode (only our end: the child's end
//! is another open file description, so the child still sees a blocking
//! pipe). A transfer tries `read(2)` / `write(2)` first; on `EAGAIN` it
//! waits for readiness with a one-shot poll (`IORING_OP_POLL_ADD` on a ring,
//! the reactor on the epoll driver) and tries again.
//!
//! Why not `IORING_OP_READ` into the caller's buffer, as sockets do:
//!
//! * Nothing is in flight between polls except a poll, which owns no
//!   buffer. So dropping a read never loses data (no completed-but-unseen
//!   read to carry over), and `futures_io::AsyncRead::poll_read` reads
//!   straight into the caller's slice: no intermediate buffer, no copy.
//! * The price is one extra system call when the pipe is not ready (the
//!   `EAGAIN`), and a readiness round trip before the data moves. Pipes to
//!   a child are mostly either full of data (the first call succeeds) or
//!   idle for a long time (the extra call is noise); the same code then
//!   runs on both drivers.
//!
//! A pipe that is always ready still gives its worker back: each successful
//! call spends a unit of the task's coop budget, as every runtime op does.

use super::stdin::ChildStdin;
use crate::driver::{self, Op, MAX_RW};
use crate::io::PollAdd;
use crate::io::{BufResult, IoBufMut};
use crate::scheduler::coop;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A readiness wait on a pipe end. It owns a reference to the descriptor,
/// so the number stays open (and is never reused) while the poll may still
/// be armed, whatever the order in which things are dropped.
pub(super) type Wait = Op<PollAdd<Arc<OwnedFd>>>;

/// One non-blocking pipe end and the transfer loop over it.
pub(super) struct Pipe {
    pub(super) fd: Arc<OwnedFd>,
}

impl Pipe {
    pub(super) fn new(fd: OwnedFd) -> io::Result<Pipe> {
        set_nonblocking(fd.as_fd(), true)?;
        Ok(Pipe { fd: Arc::new(fd) })
    }

    /// Runs `call` (a `read`/`write` returning its raw result) until it
    /// transfers, fails, or would block; while it would block, waits in
    /// `wait` for `events`. `wait` is the caller's slot, so a wait armed by
    /// an earlier `Pending` is picked up again rather than re-armed.
    fn poll_io(
        &self,
        cx: &mut Context<'_>,
        wait: &mut Option<Wait>,
        events: libc::c_short,
        mut call: impl FnMut(RawFd) -> isize,
    ) -> Poll<io::Result<usize>> {
        let coop = ready!(coop::poll_proceed(cx));
        loop {
            if let Some(op) = wait {
                let ready = ready!(Pin::new(op).poll(cx));
                *wait = None;
                // Whatever the poll saw (data, hang-up, an error), the call
                // says what it means; only a failed wait itself (a runtime
                // shut down) ends the loop.
                ready?;
            }
            let ret = call(self.fd.as_raw_fd());
            if ret >= 0 {
                coop.made_progress();
                return Poll::Ready(Ok(ret as usize));
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => {
                    *wait = Some(driver::submit(PollAdd::new(self.fd.clone(), events))?);
                }
                _ => return Poll::Ready(Err(err)),
            }
        }
    }

    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        wait: &mut Option<Wait>,
        ptr: *mut u8,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        let len = len.min(MAX_RW);
        self.poll_io(cx, wait, libc::POLLIN, |fd| {
            // SAFETY: the callers pass memory valid for writes of `len`
            // bytes for the whole call (a slice they hold, or an owned
            // buffer's `bytes_total()`).
            unsafe { libc::read(fd, ptr.cast(), len) }
        })
    }

    pub(super) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        wait: &mut Option<Wait>,
        ptr: *const u8,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        let len = len.min(MAX_RW);
        self.poll_io(cx, wait, libc::POLLOUT, |fd| {
            // SAFETY: the callers pass `len` initialized bytes at `ptr`,
            // alive for the whole call.
            unsafe { libc::write(fd, ptr.cast(), len) }
        })
    }

    /// The descriptor, in blocking mode again (another process or a std
    /// type will own it); a duplicate if a cancelled wait still holds the
    /// original for a moment.
    pub(super) fn into_owned_fd(self) -> io::Result<OwnedFd> {
        let fd = match Arc::try_unwrap(self.fd) {
            Ok(fd) => fd,
            Err(shared) => shared.try_clone()?,
        };
        // The mode belongs to the open file description, which the new
        // owner shares: it must not inherit our non-blocking mode.
        set_nonblocking(fd.as_fd(), false)?;
        Ok(fd)
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    // SAFETY: `F_GETFL` takes no pointer; `fd` is open for this call.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if wanted != flags {
        // SAFETY: `F_SETFL` takes an int; `fd` is open for this call.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, wanted) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The read side shared by [`ChildStdout`] and [`ChildStderr`].
pub(super) struct Reader {
    /// The wait of the poll-style reader (`AsyncRead`); the owned-buffer
    /// methods keep theirs in their futures. Declared first, dropped first.
    wait: Option<Wait>,
    pipe: Pipe,
}

impl Reader {
    fn new(fd: OwnedFd) -> io::Result<Reader> {
        Ok(Reader {
            wait: None,
            pipe: Pipe::new(fd)?,
        })
    }

    async fn read<B: IoBufMut + Send>(&self, mut buf: B) -> BufResult<usize, B> {
        let mut wait = None;
        // The pointer is taken at each poll: a raw pointer held across an
        // await would make the future `!Send`.
        let result = poll_fn(|cx| {
            let (ptr, len) = (buf.stable_mut_ptr(), buf.bytes_total());
            self.pipe.poll_read(cx, &mut wait, ptr, len)
        })
        .await;
        if let Ok(n) = result {
            // SAFETY: `read(2)` reported `n <= len` bytes written from the
            // buffer's start.
            unsafe { buf.set_init(n) };
        }
        (result, buf)
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.pipe
            .poll_read(cx, &mut self.wait, out.as_mut_ptr(), out.len())
    }

    /// Everything up to end of file, for `wait_with_output`.
    async fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            out.reserve(32 * 1024);
            let n = poll_fn(|cx| {
                let spare = out.spare_capacity_mut();
                let (ptr, len) = (spare.as_mut_ptr().cast::<u8>(), spare.len());
                self.pipe.poll_read(cx, &mut self.wait, ptr, len)
            })
            .await?;
            if n == 0 {
                return Ok(out);
            }
            // SAFETY: `read(2)` initialized `n <= len` bytes of the spare
            // capacity, right after the current length.
            unsafe { out.set_len(out.len() + n) };
        }
    }
}

/// Reads everything `pipe` (if any) yields until end of file.
pub(super) async fn read_to_end(pipe: Option<Reader>) -> io::Result<Vec<u8>> {
    match pipe {
        Some(mut reader) => reader.read_to_end().await,
        None => Ok(Vec::new()),
    }
}

/// The output pipes as their shared reader (for `wait_with_output`).
impl From<ChildStdout> for Reader {
    fn from(pipe: ChildStdout) -> Reader {
        pipe.inner
    }
}

impl From<ChildStderr> for Reader {
    fn from(pipe: ChildStderr) -> Reader {
        pipe.inner
    }
}

/// What [`ChildStdout`] and [`ChildStderr`] share: the owned-buffer read,
/// the futures-io reader, descriptors and conversions. One expansion per
/// type, so the two cannot drift apart.
macro_rules! reader_type {
    ($name:ident, $std:ident, $stream:literal, $field:ident, $cmd:literal) => {
        #[doc = concat!("The parent's end of a child's ", $stream, " pipe (`Child::", stringify!($field), "`).")]
        ///
        /// Reads never block a worker (see the [module docs](crate::process)).
        /// Two ways to read:
        ///
        /// * [`read`](Self::read) with an owned buffer, like
        ///   [`TcpStream::read`](crate::net::TcpStream::read);
        /// * [`futures_io::AsyncRead`], so `futures-util`'s `AsyncReadExt`,
        ///   `BufReader` and `lines()` work; it reads straight into the
        ///   caller's slice.
        ///
        /// End of file (a read of 0 bytes) comes when the child and every
        /// process it handed the pipe to have closed it, usually at exit.
        ///
        /// # Examples
        ///
        /// ```
        /// use futures_util::AsyncReadExt;
        /// use runtime::process::Command;
        /// use std::process::Stdio;
        ///
        /// #[runtime::main(flavor = "current_thread")]
        /// async fn main() -> std::io::Result<()> {
        #[doc = concat!("    let mut child = Command::new(\"sh\").args([\"-c\", \"", $cmd, "\"])")]
        #[doc = concat!("        .", stringify!($field), "(Stdio::piped())")]
        ///         .spawn()?;
        #[doc = concat!("    let mut pipe = child.", stringify!($field), ".take().unwrap();")]
        ///     let mut text = String::new();
        ///     pipe.read_to_string(&mut text).await?;
        ///     assert_eq!(text, "hi\n");
        ///     assert!(child.wait().await?.success());
        ///     Ok(())
        /// }
        /// ```
        pub struct $name {
            inner: Reader,
        }

        impl $name {
            /// Reads into `buf` from its start, up to its capacity
            /// (`bytes_total()`), and marks the bytes read initialized;
            /// resolves to the count (0 at end of file) and the buffer.
            ///
            /// Cancel-safe: dropping the future before it resolves loses
            /// no data (nothing is read until the pipe is ready and the
            /// result is handed back in the same poll).
            ///
            /// # Errors
            ///
            /// The kernel's; an error outside a runtime or after the
            /// runtime shut down.
            ///
            /// # Examples
            ///
            /// ```
            /// use runtime::process::Command;
            /// use std::process::Stdio;
            ///
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = concat!("    let mut child = Command::new(\"sh\").args([\"-c\", \"", $cmd, "\"])")]
            #[doc = concat!("        .", stringify!($field), "(Stdio::piped())")]
            ///         .spawn()?;
            #[doc = concat!("    let pipe = child.", stringify!($field), ".take().unwrap();")]
            ///     let mut all = Vec::new();
            ///     let mut buf = Vec::with_capacity(64);
            ///     loop {
            ///         let (n, b) = pipe.read(buf).await;
            ///         if n? == 0 {
            ///             break;
            ///         }
            ///         all.extend_from_slice(&b);
            ///         buf = b;
            ///     }
            ///     assert_eq!(all, b"hi\n");
            ///     child.wait().await?;
            ///     Ok(())
            /// }
            /// ```
            pub async fn read<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
                self.inner.read(buf).await
            }

            /// The descriptor, back in blocking mode, for a std type or
            /// another process.
            ///
            /// # Errors
            ///
            /// The kernel's, from `fcntl` (or `dup` in the rare case a
            /// cancelled wait still holds the descriptor).
            ///
            /// # Examples
            ///
            /// ```
            /// use runtime::process::Command;
            /// use std::io::Read;
            /// use std::process::Stdio;
            ///
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = concat!("    let mut child = Command::new(\"sh\").args([\"-c\", \"", $cmd, "\"])")]
            #[doc = concat!("        .", stringify!($field), "(Stdio::piped())")]
            ///         .spawn()?;
            #[doc = concat!("    let fd = child.", stringify!($field), ".take().unwrap().into_owned_fd()?;")]
            ///     let mut text = String::new();
            ///     // A blocking read; fine in an example.
            ///     std::fs::File::from(fd).read_to_string(&mut text)?;
            ///     assert_eq!(text, "hi\n");
            ///     child.wait().await?;
            ///     Ok(())
            /// }
            /// ```
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                let Reader { wait, pipe } = self.inner;
                drop(wait);
                pipe.into_owned_fd()
            }
        }

        impl futures_io::AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().inner.poll_read_slice(cx, buf)
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.pipe.fd.as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.pipe.fd.as_raw_fd()
            }
        }

        /// Wraps std's pipe end (it is put in non-blocking mode).
        ///
        /// # Errors
        ///
        /// The kernel's, from `fcntl`.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("use runtime::process::", stringify!($name), ";")]
        /// use futures_util::AsyncReadExt;
        /// use std::process::Stdio;
        ///
        /// #[runtime::main(flavor = "current_thread")]
        /// async fn main() -> std::io::Result<()> {
        #[doc = concat!("    let mut std_child = std::process::Command::new(\"sh\").args([\"-c\", \"", $cmd, "\"])")]
        #[doc = concat!("        .", stringify!($field), "(Stdio::piped())")]
        ///         .spawn()?;
        #[doc = concat!("    let mut pipe = ", stringify!($name), "::try_from(std_child.", stringify!($field), ".take().unwrap())?;")]
        ///     let mut text = String::new();
        ///     pipe.read_to_string(&mut text).await?;
        ///     assert_eq!(text, "hi\n");
        ///     std_child.wait()?;
        ///     Ok(())
        /// }
        /// ```
        impl TryFrom<std::process::$std> for $name {
            type Error = io::Error;

            fn try_from(pipe: std::process::$std) -> io::Result<$name> {
                Ok($name {
                    inner: Reader::new(OwnedFd::from(pipe))?,
                })
            }
        }

        /// Hands the pipe to another child, e.g. as its stdin (in blocking
        /// mode again).
        ///
        /// # Errors
        ///
        #[doc = concat!("As [`", stringify!($name), "::into_owned_fd`].")]
        ///
        /// # Examples
        ///
        /// ```
        /// use runtime::process::Command;
        /// use std::process::Stdio;
        ///
        /// #[runtime::main(flavor = "current_thread")]
        /// async fn main() -> std::io::Result<()> {
        #[doc = concat!("    let mut first = Command::new(\"sh\").args([\"-c\", \"", $cmd, "\"])")]
        #[doc = concat!("        .", stringify!($field), "(Stdio::piped())")]
        ///         .spawn()?;
        #[doc = concat!("    let pipe: Stdio = first.", stringify!($field), ".take().unwrap().try_into()?;")]
        ///     let out = Command::new("cat").stdin(pipe).output().await?;
        ///     assert_eq!(out.stdout, b"hi\n");
        ///     first.wait().await?;
        ///     Ok(())
        /// }
        /// ```
        impl TryFrom<$name> for Stdio {
            type Error = io::Error;

            fn try_from(pipe: $name) -> io::Result<Stdio> {
                pipe.into_owned_fd().map(Stdio::from)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.inner.pipe.fd.as_raw_fd())
                    .finish()
            }
        }
    };
}

reader_type!(
    ChildStdout,
    ChildStdout,
    "standard output",
    stdout,
    "echo hi"
);
reader_type!(
    ChildStderr,
    ChildStderr,
    "standard error",
    stderr,
    "echo hi >&2"
);

/// Wraps a spawned std child's pipe ends (for `Command::spawn`).
pub(super) fn wrap_stdio(
    child: &mut std::process::Child,
) -> io::Result<(Option<ChildStdin>, Option<ChildStdout>, Option<ChildStderr>)> {
    let stdin = child.stdin.take().map(ChildStdin::try_from).transpose()?;
    let stdout = child.stdout.take().map(ChildStdout::try_from).transpose()?;
    let stderr = child.stderr.take().map(ChildStderr::try_from).transpose()?;
    Ok((stdin, stdout, stderr))
}
