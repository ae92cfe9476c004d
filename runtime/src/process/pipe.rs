//! The parent's ends of a child's standard streams: [`ChildStdin`],
//! [`ChildStdout`], [`ChildStderr`].
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

use crate::driver::{self, Op, MAX_RW};
use crate::io::PollAdd;
use crate::io::{BufResult, IoBuf, IoBufMut};
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
type Wait = Op<PollAdd<Arc<OwnedFd>>>;

/// One non-blocking pipe end and the transfer loop over it.
struct Pipe {
    fd: Arc<OwnedFd>,
}

impl Pipe {
    fn new(fd: OwnedFd) -> io::Result<Pipe> {
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

    fn poll_write(
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
    fn into_owned_fd(self) -> io::Result<OwnedFd> {
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

        #[doc = concat!("Wraps std's pipe end (it is put in non-blocking mode).")]
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

        #[doc = concat!("Hands the pipe to another child, e.g. as its stdin (in blocking mode again).")]
        ///
        /// # Errors
        ///
        /// As [`into_owned_fd`](Self::into_owned_fd).
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

reader_type!(ChildStdout, ChildStdout, "standard output", stdout, "echo hi");
reader_type!(ChildStderr, ChildStderr, "standard error", stderr, "echo hi >&2");

/// The parent's end of a child's standard input pipe (`Child::stdin`).
///
/// Writes never block a worker (see the [module docs](crate::process)).
/// Two ways to write:
///
/// * [`write`](ChildStdin::write) and [`write_all`](ChildStdin::write_all)
///   with an owned buffer, like
///   [`TcpStream::write`](crate::net::TcpStream::write);
/// * [`futures_io::AsyncWrite`], so `futures-util`'s `AsyncWriteExt` works;
///   it writes straight from the caller's slice. `poll_flush` has nothing
///   to do (nothing is buffered); `poll_close` closes the descriptor, so
///   the child reads end of file, and later writes fail with
///   `BrokenPipe`.
///
/// The child reads end of file once every copy of the pipe's write end is
/// closed: drop the `ChildStdin` (or close it). [`Child::wait`] drops it
/// first, so a child that reads until end of file cannot deadlock the wait.
///
/// [`Child::wait`]: super::Child::wait
///
/// # Examples
///
/// ```
/// use futures_util::AsyncWriteExt;
/// use runtime::process::Command;
/// use std::process::Stdio;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let mut child = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()?;
///     let mut stdin = child.stdin.take().unwrap();
///     // By path: the owned-buffer `write_all` of the same name comes first.
///     AsyncWriteExt::write_all(&mut stdin, b"meow").await?;
///     stdin.close().await?;
///     let out = child.wait_with_output().await?;
///     assert_eq!(out.stdout, b"meow");
///     Ok(())
/// }
/// ```
pub struct ChildStdin {
    /// The poll-style writer's wait; dropped before the pipe.
    wait: Option<Wait>,
    /// `None` once closed.
    pipe: Option<Pipe>,
}

impl ChildStdin {
    fn pipe(&self) -> io::Result<&Pipe> {
        self.pipe.as_ref().ok_or_else(closed)
    }

    /// Writes some of `buf`'s initialized bytes; resolves to how many the
    /// pipe took (possibly fewer than all: the pipe was nearly full) and
    /// the buffer.
    ///
    /// Cancel-safe: if the future is dropped before it resolves, nothing
    /// was written.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` when the child has closed its end (it exited, say) or
    /// after `close`; the kernel's otherwise; an error outside a runtime or
    /// after the runtime shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    /// use std::process::Stdio;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("cat")
    ///         .stdin(Stdio::piped())
    ///         .stdout(Stdio::piped())
    ///         .spawn()?;
    ///     let stdin = child.stdin.take().unwrap();
    ///     let (n, _buf) = stdin.write(&b"purr"[..]).await;
    ///     assert_eq!(n?, 4); // a small write fits in an empty pipe
    ///     drop(stdin);
    ///     assert_eq!(child.wait_with_output().await?.stdout, b"purr");
    ///     Ok(())
    /// }
    /// ```
    pub async fn write<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        let pipe = match self.pipe() {
            Ok(pipe) => pipe,
            Err(err) => return (Err(err), buf),
        };
        let mut buf = buf;
        // Moved in by `&mut`, which is `Send` for any `B: Send` (a `&B`
        // would need `B: Sync`); pointers are taken at each poll, as a raw
        // pointer held across an await would make the future `!Send`.
        let held = &mut buf;
        let mut wait = None;
        let result = poll_fn(move |cx| {
            let (ptr, len) = (held.stable_ptr(), held.bytes_init());
            pipe.poll_write(cx, &mut wait, ptr, len)
        })
        .await;
        (result, buf)
    }

    /// Writes all of `buf`'s initialized bytes, in as many writes as it
    /// takes, and hands the buffer back.
    ///
    /// Not cancel-safe in the byte-count sense: if the future is dropped
    /// midway, some prefix of `buf` may have been written.
    ///
    /// # Errors
    ///
    /// As [`write`](ChildStdin::write); `WriteZero` if a write took
    /// nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    /// use std::process::Stdio;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("wc")
    ///         .arg("-c")
    ///         .stdin(Stdio::piped())
    ///         .stdout(Stdio::piped())
    ///         .spawn()?;
    ///     let stdin = child.stdin.take().unwrap();
    ///     let writer = runtime::spawn(async move {
    ///         // More than a pipe holds: the child reads while we write.
    ///         let (result, _buf) = stdin.write_all(vec![b'x'; 256 * 1024]).await;
    ///         result
    ///     });
    ///     let out = child.wait_with_output().await?;
    ///     writer.await.unwrap()?;
    ///     assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "262144");
    ///     Ok(())
    /// }
    /// ```
    pub async fn write_all<B: IoBuf + Send>(&self, buf: B) -> BufResult<(), B> {
        let pipe = match self.pipe() {
            Ok(pipe) => pipe,
            Err(err) => return (Err(err), buf),
        };
        let mut buf = buf;
        // As in `write`: a `&mut`, pointers taken at each poll.
        let held = &mut buf;
        let mut wait = None;
        let mut pos = 0;
        let result = poll_fn(move |cx| {
            let (ptr, len) = (held.stable_ptr(), held.bytes_init());
            while pos < len {
                // SAFETY: `pos < len`: still inside the buffer's
                // initialized bytes.
                let rest = unsafe { ptr.add(pos) };
                match ready!(pipe.poll_write(cx, &mut wait, rest, len - pos)) {
                    Ok(0) => {
                        let err = io::Error::new(
                            io::ErrorKind::WriteZero,
                            "failed to write whole buffer",
                        );
                        return Poll::Ready(Err(err));
                    }
                    Ok(n) => pos += n,
                    Err(err) => return Poll::Ready(Err(err)),
                }
            }
            Poll::Ready(Ok(()))
        })
        .await;
        (result, buf)
    }

    /// The descriptor, back in blocking mode, for a std type or another
    /// process.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` after `close`; the kernel's, from `fcntl` (or `dup`).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    /// use std::io::Write;
    /// use std::process::Stdio;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("cat")
    ///         .stdin(Stdio::piped())
    ///         .stdout(Stdio::piped())
    ///         .spawn()?;
    ///     let fd = child.stdin.take().unwrap().into_owned_fd()?;
    ///     // A small blocking write; fine in an example.
    ///     std::fs::File::from(fd).write_all(b"hi")?;
    ///     assert_eq!(child.wait_with_output().await?.stdout, b"hi");
    ///     Ok(())
    /// }
    /// ```
    pub fn into_owned_fd(mut self) -> io::Result<OwnedFd> {
        self.wait = None;
        match self.pipe.take() {
            Some(pipe) => pipe.into_owned_fd(),
            None => Err(closed()),
        }
    }
}

/// What using a [`ChildStdin`] after `poll_close` fails with.
fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the child's stdin was closed (`AsyncWrite::poll_close`)",
    )
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(pipe) = &this.pipe else {
            return Poll::Ready(Err(closed()));
        };
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        pipe.poll_write(cx, &mut this.wait, buf.as_ptr(), buf.len())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every byte reported written is in the pipe already.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.wait = None;
        this.pipe = None;
        Poll::Ready(Ok(()))
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
/// use runtime::process::ChildStdin;
/// use std::process::Stdio;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let mut std_child = std::process::Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::null())
///         .spawn()?;
///     let stdin = ChildStdin::try_from(std_child.stdin.take().unwrap())?;
///     stdin.write_all(&b"hi"[..]).await.0?;
///     drop(stdin);
///     assert!(std_child.wait()?.success());
///     Ok(())
/// }
/// ```
impl TryFrom<std::process::ChildStdin> for ChildStdin {
    type Error = io::Error;

    fn try_from(pipe: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            wait: None,
            pipe: Some(Pipe::new(OwnedFd::from(pipe))?),
        })
    }
}

/// Hands the pipe to another child as an output (in blocking mode again).
///
/// # Errors
///
/// As [`ChildStdin::into_owned_fd`].
///
/// # Examples
///
/// ```
/// use runtime::process::Command;
/// use std::process::Stdio;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let mut cat = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()?;
///     let into_cat: Stdio = cat.stdin.take().unwrap().try_into()?;
///     // `echo` writes straight into `cat`'s input.
///     Command::new("echo").arg("hi").stdout(into_cat).status().await?;
///     assert_eq!(cat.wait_with_output().await?.stdout, b"hi\n");
///     Ok(())
/// }
/// ```
impl TryFrom<ChildStdin> for Stdio {
    type Error = io::Error;

    fn try_from(pipe: ChildStdin) -> io::Result<Stdio> {
        pipe.into_owned_fd().map(Stdio::from)
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ChildStdin");
        match &self.pipe {
            Some(pipe) => s.field("fd", &pipe.fd.as_raw_fd()),
            None => s.field("closed", &true),
        };
        s.finish()
    }
}

/// Wraps a spawned std child's pipe ends (for `Command::spawn`).
pub(super) fn wrap_stdio(
    child: &mut std::process::Child,
) -> io::Result<(Option<ChildStdin>, Option<ChildStdout>, Option<ChildStderr>)> {
    let stdin = child.stdin.take().map(ChildStdin::try_from).transpose()?;
    let stdout = child.stdout.take().map(ChildStdout::try_from).transpose()?;
    let stderr = child.stderr.take().map(ChildStderr::try_from).transpose()?;
    Ok((stdin, stdout, stderr))
}
