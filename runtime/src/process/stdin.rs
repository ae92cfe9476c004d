//! [`ChildStdin`]: the parent's end of a child's standard input, written
//! by readiness like the other pipes (`pipe.rs` has the design).

use super::pipe::{Pipe, Wait};
use crate::io::{BufResult, IoBuf};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{ready, Context, Poll};

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
