//! Unix domain stream sockets: [`UnixListener`], [`UnixStream`] and a
//! stream's owned halves ([`OwnedReadHalf`], [`OwnedWriteHalf`], from
//! [`UnixStream::into_split`]); the same shape as TCP's.
//!
//! The listener and the stream are also at [`runtime::net`](crate::net).

use super::accept::{self, Backlog};
use super::ops::Connect;
use super::stream::Stream;
use super::sys::{self, SockAddr};
use crate::driver::{self, BufResult, IoBuf, IoBufMut};
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A Unix domain socket listening for connections on a path.
///
/// The socket file is not removed when the listener is dropped (as with
/// std): remove it yourself to reuse the path.
///
/// # Examples
///
/// ```
/// use runtime::net::{UnixListener, UnixStream};
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let path = std::env::temp_dir().join(format!("runtime-doc-{}.sock", std::process::id()));
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).await?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _peer) = listener.accept().await?;
///     client.write_all(&b"hi"[..]).await.0?;
///     let (n, buf) = server.read(Vec::with_capacity(8)).await;
///     assert_eq!(&buf[..n?], b"hi");
///     std::fs::remove_file(&path)?;
///     Ok(())
/// }
/// ```
pub struct UnixListener {
    fd: Arc<std::os::unix::net::UnixListener>,
    /// Connections accepted for a cancelled `accept` (see `accept.rs`).
    backlog: Arc<Backlog>,
}

impl UnixListener {
    /// Creates a socket listening on `path` (a backlog of 1024).
    ///
    /// # Errors
    ///
    /// The kernel's: `AddrInUse` if the path exists (even a stale socket
    /// file), `NotFound` if its directory does not; `InvalidInput` for a
    /// path that is empty, contains a NUL byte or is 108 bytes or longer.
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let path = std::env::temp_dir().join(format!("runtime-bind-{}.sock", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = runtime::net::UnixListener::bind(&path).await?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     std::fs::remove_file(&path)?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let addr = SockAddr::from_path(path.as_ref())?;
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        sys::bind(fd.as_fd(), &addr)?;
        sys::listen(fd.as_fd(), sys::BACKLOG)?;
        Ok(UnixListener {
            fd: Arc::new(std::os::unix::net::UnixListener::from(fd)),
            backlog: Arc::default(),
        })
    }

    /// Wraps a listener made with std.
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let path = std::env::temp_dir().join(format!("runtime-std-{}.sock", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = runtime::net::UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path)?);
    ///     let _client = runtime::net::UnixStream::connect(&path).await?;
    ///     listener.accept().await?;
    ///     std::fs::remove_file(&path)?;
    ///     Ok(())
    /// }
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> UnixListener {
        UnixListener {
            fd: Arc::new(listener),
            backlog: Arc::default(),
        }
    }

    /// Waits for a connection and returns it with the peer's address
    /// (usually unnamed: a connecting socket rarely binds a path).
    ///
    /// Cancel-safe: dropping the future cancels the accept, and a
    /// connection the kernel accepted for it as it was cancelled is kept
    /// for the next `accept` (or one waiting now), not lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{UnixListener, UnixStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let path = std::env::temp_dir().join(format!("runtime-acc-{}.sock", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path).await?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let (_server, peer) = listener.accept().await?;
    ///     assert!(peer.is_unnamed());
    ///     std::fs::remove_file(&path)?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, _addr) = accept::accept(&self.fd, &self.backlog).await?;
        let socket = std::os::unix::net::UnixStream::from(fd);
        let peer = socket.peer_addr()?;
        Ok((UnixStream::from_std(socket), peer))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.local_addr()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("UnixListener");
        if let Ok(addr) = self.fd.local_addr() {
            s.field("addr", &addr);
        }
        s.field("fd", &self.fd.as_raw_fd()).finish()
    }
}

/// A connected Unix domain stream socket.
///
/// The same interface as [`TcpStream`](super::TcpStream): owned-buffer
/// [`read`](UnixStream::read) / [`write`](UnixStream::write) /
/// [`write_all`](UnixStream::write_all), and
/// [`futures_io::AsyncRead`] / [`futures_io::AsyncWrite`] through
/// non-blocking system calls on the caller's slices (see `TcpStream`'s
/// notes, which apply here unchanged).
///
/// # Examples
///
/// ```
/// use runtime::net::UnixStream;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let (a, b) = UnixStream::pair()?;
///     a.write_all("over the pair").await.0?;
///     let (n, buf) = b.read(Vec::with_capacity(64)).await;
///     assert_eq!(&buf[..n?], b"over the pair");
///     Ok(())
/// }
/// ```
pub struct UnixStream {
    inner: Stream<std::os::unix::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket listening on `path`.
    ///
    /// # Errors
    ///
    /// The kernel's: `NotFound` if there is no such file,
    /// `ConnectionRefused` if nothing listens on it; `InvalidInput` for a
    /// path that cannot be a socket address.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UnixStream;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let err = UnixStream::connect("/nonexistent/socket").await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// }
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = SockAddr::from_path(path.as_ref())?;
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        let socket = Arc::new(std::os::unix::net::UnixStream::from(fd));
        driver::submit(Connect::new(socket.clone(), addr))?.await?;
        Ok(UnixStream {
            inner: Stream::from_arc(socket),
        })
    }

    /// Two connected sockets (`socketpair(2)`), e.g. to talk between tasks
    /// or to a child process.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UnixStream;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, b) = UnixStream::pair()?;
    ///     drop(a);
    ///     let (n, _) = b.read(Vec::with_capacity(8)).await;
    ///     assert_eq!(n?, 0);
    ///     Ok(())
    /// }
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = sys::socketpair(libc::AF_UNIX, libc::SOCK_STREAM)?;
        Ok((
            UnixStream::from_std(a.into()),
            UnixStream::from_std(b.into()),
        ))
    }

    /// Wraps a stream made with std.
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     let (a, b) = (runtime::net::UnixStream::from_std(a), runtime::net::UnixStream::from_std(b));
    ///     a.write_all(&b"x"[..]).await.0?;
    ///     let (n, _) = b.read(Vec::with_capacity(1)).await;
    ///     assert_eq!(n?, 1);
    ///     Ok(())
    /// }
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> UnixStream {
        UnixStream {
            inner: Stream::from_arc(Arc::new(stream)),
        }
    }

    fn from_inner(inner: Stream<std::os::unix::net::UnixStream>) -> UnixStream {
        UnixStream { inner }
    }

    /// Receives into `buf`, from its start, up to its capacity; resolves to
    /// the number of bytes received (`Ok(0)`: the peer closed its side) and
    /// the buffer. See [`TcpStream::read`](super::TcpStream::read).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UnixStream;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, b) = UnixStream::pair()?;
    ///     a.write(&b"abc"[..]).await.0?;
    ///     let (n, buf) = b.read(vec![0u8; 8]).await;
    ///     assert_eq!(&buf[..n?], b"abc");
    ///     Ok(())
    /// }
    /// ```
    pub async fn read<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.read(buf).await
    }

    /// Receives into `buf` like [`read`](UnixStream::read), but leaves the
    /// bytes in the socket (`MSG_PEEK`): the next `read` or `peek` returns
    /// them again. See [`TcpStream::peek`](super::TcpStream::peek).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UnixStream;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, b) = UnixStream::pair()?;
    ///     a.write_all(&b"hello"[..]).await.0?;
    ///     let (n, peeked) = b.peek(vec![0u8; 8]).await;
    ///     assert_eq!(&peeked[..n?], b"hello");
    ///     let (n, read) = b.read(vec![0u8; 8]).await;
    ///     assert_eq!(&read[..n?], b"hello");
    ///     Ok(())
    /// }
    /// ```
    pub async fn peek<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.peek(buf).await
    }

    /// Sends `buf`'s initialized bytes, or a first part of them; resolves
    /// to the number sent and the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UnixStream;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     let (n, _) = a.write(b"abc".to_vec()).await;
    ///     assert_eq!(n?, 3);
    ///     Ok(())
    /// }
    /// ```
    pub async fn write<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.write(buf).await
    }

    /// Sends all of `buf`'s initialized bytes (the rest after each partial
    /// send, without copying).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UnixStream;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, b) = UnixStream::pair()?;
    ///     a.write_all(vec![1u8; 4096]).await.0?;
    ///     let (n, _) = b.read(Vec::with_capacity(8192)).await;
    ///     assert!(n? > 0);
    ///     Ok(())
    /// }
    /// ```
    pub async fn write_all<B: IoBuf + Send>(&self, buf: B) -> BufResult<(), B> {
        self.inner.write_all(buf).await
    }

    /// Shuts down the read side, the write side or both.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UnixStream;
    /// use std::net::Shutdown;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, b) = UnixStream::pair()?;
    ///     a.shutdown(Shutdown::Write).await?;
    ///     let (n, _) = b.read(Vec::with_capacity(8)).await;
    ///     assert_eq!(n?, 0);
    ///     Ok(())
    /// }
    /// ```
    pub async fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how).await
    }

    /// The address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.socket().local_addr()
    }

    /// The address of the other end.
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, _b) = runtime::net::UnixStream::pair()?;
    ///     // A socket pair has no names.
    ///     assert!(a.peer_addr()?.is_unnamed());
    ///     assert!(a.local_addr()?.is_unnamed());
    ///     Ok(())
    /// }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.socket().peer_addr()
    }
}

super::stream::stream_traits!(UnixStream);

super::split::owned_halves!(
    UnixStream,
    std::os::unix::net::UnixStream,
    SocketAddr,
    "#     let (a, b) = runtime::net::UnixStream::pair()?;"
);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.inner.socket().as_raw_fd())
            .field("io", &self.inner)
            .finish()
    }
}
