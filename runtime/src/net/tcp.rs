//! TCP: [`TcpListener`], [`TcpStream`], and a stream's owned halves
//! ([`OwnedReadHalf`], [`OwnedWriteHalf`], from
//! [`TcpStream::into_split`]).
//!
//! The listener and the stream are also at [`runtime::net`](crate::net).

mod options;

use super::accept::{self, Backlog};
use super::addr::{self, ToSocketAddrs};
use super::ops::Connect;
use super::stream::Stream;
use super::sys::{self, SockAddr};
use crate::driver::{self, BufResult, IoBuf, IoBufMut};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;

/// A TCP socket listening for connections.
///
/// Accepting goes through io_uring; any number of `accept`s may be in
/// flight at once (from several tasks sharing the listener through an
/// `Arc`), each completing with its own connection.
///
/// # Restarting a server on the same port
///
/// A server process that is *killed* (SIGKILL, or SIGTERM/SIGINT with no
/// handler, `process::exit`, an abort) while an accept is in flight leaves
/// its port listening for a few milliseconds after it is gone (measured:
/// 5–11 ms here, 30–55 ms reported elsewhere), and a new server binding it
/// at once gets `AddrInUse`. The in-flight accept holds a reference to the
/// listening socket inside the kernel's io_uring request, and the kernel
/// tears a dead process's rings down asynchronously, on a worker thread;
/// the socket closes when that is done. (The epoll driver has no request in
/// the kernel, so its socket closes with the process, as tokio's does.)
///
/// The cure is to let the runtime shut down: handle SIGTERM/ctrl-c with
/// [`runtime::signal`](crate::signal) and return from `main` (or drop the
/// runtime). The runtime cancels its accepts and waits for the kernel to
/// let go before the process exits, and the port is free the moment the
/// process is gone (the `http_server` example does this; its test binds
/// the port again at once). For a server that may be killed, let the new
/// one retry `bind` on `AddrInUse` for a bounded time (100 ms is ample),
/// or bind both the old and the new with
/// [`TcpSocket::set_reuseport`](crate::net::TcpSocket::set_reuseport).
///
/// # Examples
///
/// ```
/// use runtime::net::{TcpListener, TcpStream};
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let client = runtime::spawn(async move { TcpStream::connect(addr).await });
///     let (stream, peer) = listener.accept().await?;
///     let client = client.await.unwrap()?;
///     assert_eq!(peer, client.local_addr()?);
///     assert_eq!(stream.peer_addr()?, client.local_addr()?);
///     Ok(())
/// }
/// ```
pub struct TcpListener {
    fd: Arc<std::net::TcpListener>,
    /// Connections accepted for a cancelled `accept` (see `accept.rs`).
    backlog: Arc<Backlog>,
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        // An accept still in flight (its cancel not through the ring yet)
        // holds the socket open, and a listening socket that stays open
        // keeps taking connections: a server that drops its listener to
        // stop accepting would still complete clients' handshakes, then
        // reset them. `shutdown(SHUT_RD)` on a listening TCP socket stops
        // the listening at once (Linux: the socket leaves LISTEN, queued
        // and future connection attempts are refused, accepts in flight
        // end with `EINVAL`); the descriptor closes with the last op.
        // SAFETY: plain system call on a descriptor we still own.
        unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_RD) };
    }
}

impl TcpListener {
    /// Creates a socket listening on `addr` (`SO_REUSEADDR`, a backlog of
    /// 1024). Each address `addr` resolves to is tried in turn until one
    /// binds; the error is the last one's. Port 0 picks a free port (see
    /// [`local_addr`](TcpListener::local_addr)).
    ///
    /// A host name (not a literal address) is looked up on the runtime's
    /// blocking pool (see [`lookup_host`](super::lookup_host)), never on a
    /// worker; a literal address is parsed at once.
    ///
    /// # Errors
    ///
    /// The kernel's: `AddrInUse` if another socket listens on the port,
    /// `PermissionDenied` for a privileged port, ...; `InvalidInput` if
    /// `addr` resolves to nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::TcpListener;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let port = listener.local_addr()?.port();
    ///     assert_ne!(port, 0);
    ///     // The port is taken now.
    ///     let err = TcpListener::bind(("127.0.0.1", port)).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    ///     Ok(())
    /// }
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let resolving = addr::resolve_some(&addr);
        let addrs = resolving.await?;
        addr::each_addr(addrs, |addr| async move { TcpListener::bind_one(addr) }).await
    }

    fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
        let fd = sys::socket(sys::domain_of(&addr), libc::SOCK_STREAM)?;
        sys::set_reuseaddr(fd.as_fd())?;
        sys::bind(fd.as_fd(), &SockAddr::from_inet(&addr))?;
        sys::listen(fd.as_fd(), sys::BACKLOG)?;
        Ok(TcpListener {
            fd: Arc::new(std::net::TcpListener::from(fd)),
            backlog: Arc::default(),
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Cancel-safe: dropping the future cancels the accept, and a
    /// connection the kernel accepted for it as it was cancelled is kept
    /// for the next `accept` (or one waiting now), not lost.
    ///
    /// # Errors
    ///
    /// The kernel's (e.g. `EMFILE` when the process is out of
    /// descriptors); an error if called outside a runtime or after the
    /// runtime shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let client = runtime::spawn(async move {
    ///         let stream = TcpStream::connect(addr).await?;
    ///         stream.write_all(&b"hi"[..]).await.0
    ///     });
    ///     let (stream, _peer) = listener.accept().await?;
    ///     let (n, buf) = stream.read(Vec::with_capacity(16)).await;
    ///     assert_eq!(&buf[..n?], b"hi");
    ///     client.await.unwrap()?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = accept::accept(&self.fd, &self.backlog).await?;
        let stream = TcpStream::from_socket(std::net::TcpStream::from(fd));
        Ok((stream, addr.as_inet()?))
    }

    /// The address the listener is bound to (with the port the kernel
    /// picked, if bound to port 0).
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = runtime::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     assert!(listener.local_addr()?.ip().is_loopback());
    ///     Ok(())
    /// }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.local_addr()
    }

    /// Wraps a listener made with std (it may be in blocking mode; the
    /// runtime never makes blocking calls on it).
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let listener = runtime::net::TcpListener::from_std(std_listener);
    ///     let addr = listener.local_addr()?;
    ///     let _client = runtime::net::TcpStream::connect(addr).await?;
    ///     listener.accept().await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> TcpListener {
        TcpListener {
            fd: Arc::new(listener),
            backlog: Arc::default(),
        }
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TcpListener");
        if let Ok(addr) = self.fd.local_addr() {
            s.field("addr", &addr);
        }
        s.field("fd", &self.fd.as_raw_fd()).finish()
    }
}

/// A TCP connection.
///
/// Two ways to do I/O on it:
///
/// * Owned buffers ([`read`](TcpStream::read), [`write`](TcpStream::write),
///   [`write_all`](TcpStream::write_all)): the buffer moves into the
///   operation and comes back with the result, with no copy. They take
///   `&self`, so a reader task and a writer task can share the stream
///   through an `Arc`.
/// * Poll-style, through [`futures_io::AsyncRead`] and
///   [`futures_io::AsyncWrite`] (so `futures-util`'s `AsyncReadExt`,
///   `BufReader::lines`, codecs...). These make non-blocking system calls
///   on the caller's slices (see the note below).
///
/// The two styles can be mixed on one stream: the poll-style reader holds
/// no bytes of its own, so what it has not returned is still in the
/// socket for [`read`](TcpStream::read).
///
/// # `write_all` and `AsyncWriteExt::write_all`
///
/// The owned-buffer methods are inherent, so they win over the extension
/// traits' methods of the same name (`read`, `write`, `write_all`), even
/// with `futures_util::AsyncWriteExt` imported. `stream.write_all(b"hi")`
/// then fails to compile with "`&[u8; 2]` is not an owned buffer
/// (`runtime::io::IoBuf`)"; with a `&[u8]` argument it compiles as far as
/// the `?`, which cannot be applied to the `(io::Result<()>, &[u8])` the
/// owned-buffer method returns. The way out is one of:
///
/// * call the trait's method as a function:
///   `AsyncWriteExt::write_all(&mut stream, data).await?` (likewise
///   `AsyncReadExt::read(&mut stream, &mut buf)`);
/// * or hand the inherent method an owned buffer and take it back:
///   `let (result, buf) = stream.write_all(data.to_vec()).await; result?;`.
///
/// The trait methods without a namesake (`read_exact`, `read_to_end`,
/// `flush`, `close`, ...) need neither. The names stay as they are: they
/// are the owned-buffer API's (as in tokio-uring and monoio), and a
/// renamed pair would shadow nothing but read as a second API.
///
///
/// ```
/// use futures_util::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
/// use runtime::net::{TcpListener, TcpStream};
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     AsyncWriteExt::write_all(&mut client, b"one\ntwo\n").await?;
///     client.close().await?; // finishes the send, then shuts down writing
///     let mut lines = BufReader::new(server).lines();
///     let mut got = Vec::new();
///     while let Some(line) = futures_util::StreamExt::next(&mut lines).await {
///         got.push(line?);
///     }
///     assert_eq!(got, ["one", "two"]);
///     Ok(())
/// }
/// ```
///
/// # The cost of poll-style I/O
///
/// io_uring fills buffers after the call that started the operation has
/// returned, while `poll_read` lends a slice for one call only. So
/// `AsyncRead` does not go through the ring: `poll_read` receives straight
/// into the caller's slice with a `recv(2)` that never waits, and while
/// nothing is queued it waits for data through the driver and returns
/// `Pending` having taken nothing. No copy, no buffer held by an idle
/// stream, and a read dropped at any point loses no byte.
///
/// `AsyncWrite` copies nothing either: `poll_write` sends from the caller's slice
/// with a send that never waits, and returns `Ready(Ok(n))` with what the
/// kernel took, or `Pending` — having written nothing — while the socket is
/// full (the task then waits for room through the driver). So a caller may
/// retry from a moved buffer, switch to other bytes, or drop the write
/// future at any point. `poll_flush` has nothing to do; `poll_close` shuts
/// down the write side; `poll_write_vectored` is one `sendmsg(2)` over every
/// slice. Each poll-style read or write that finds data or room is one
/// system call, outside the ring.
///
/// # Examples
///
/// ```
/// use runtime::net::{TcpListener, TcpStream};
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = runtime::spawn(async move {
///         let (stream, _) = listener.accept().await?;
///         let (n, buf) = stream.read(vec![0u8; 64]).await;
///         let n = n?;
///         stream.write_all(buf[..n].to_ascii_uppercase()).await.0
///     });
///
///     let stream = TcpStream::connect(addr).await?;
///     stream.write_all("hello").await.0?;
///     let (n, buf) = stream.read(Vec::with_capacity(64)).await;
///     assert_eq!(&buf[..n?], b"HELLO");
///     server.await.unwrap()?;
///     Ok(())
/// }
/// ```
pub struct TcpStream {
    inner: Stream<std::net::TcpStream>,
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each address it resolves to in
    /// turn; the error is the last one's.
    ///
    /// A host name (not a literal address) is looked up on the runtime's
    /// blocking pool (see [`lookup_host`](super::lookup_host)), never on a
    /// worker; a literal address is parsed at once.
    ///
    /// # Errors
    ///
    /// The kernel's: `ConnectionRefused` when nothing listens there,
    /// `TimedOut`, `NetworkUnreachable`, ...; `InvalidInput` if `addr`
    /// resolves to nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let stream = TcpStream::connect(addr).await?;
    ///     assert_eq!(stream.peer_addr()?, addr);
    ///
    ///     // Nothing listens any more: the kernel refuses.
    ///     drop((stream, listener));
    ///     let err = TcpStream::connect(addr).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    ///     Ok(())
    /// }
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let resolving = addr::resolve_some(&addr);
        let addrs = resolving.await?;
        addr::each_addr(addrs, TcpStream::connect_one).await
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = sys::socket(sys::domain_of(&addr), libc::SOCK_STREAM)?;
        TcpStream::connect_socket(fd, addr).await
    }

    /// Connects the new socket `fd` to `addr` through the driver's
    /// `Connect` op (also `TcpSocket::connect`'s way).
    pub(super) async fn connect_socket(fd: OwnedFd, addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = Arc::new(std::net::TcpStream::from(fd));
        driver::submit(Connect::new(socket.clone(), SockAddr::from_inet(&addr)))?.await?;
        Ok(TcpStream {
            inner: Stream::from_arc(socket),
        })
    }

    fn from_socket(socket: std::net::TcpStream) -> TcpStream {
        TcpStream {
            inner: Stream::from_arc(Arc::new(socket)),
        }
    }

    fn from_inner(inner: Stream<std::net::TcpStream>) -> TcpStream {
        TcpStream { inner }
    }

    /// Wraps a stream made with std (it may be in blocking mode; the
    /// runtime never makes blocking calls on it).
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let stream = runtime::net::TcpStream::from_std(std_stream);
    ///     let (mut accepted, _) = listener.accept()?;
    ///     stream.write_all(&b"from std"[..]).await.0?;
    ///     let mut buf = [0u8; 8];
    ///     std::io::Read::read_exact(&mut accepted, &mut buf)?;
    ///     assert_eq!(&buf, b"from std");
    ///     Ok(())
    /// }
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> TcpStream {
        TcpStream::from_socket(stream)
    }

    /// Receives into `buf`, from its start, up to its capacity
    /// ([`IoBufMut`]); resolves to the number of bytes received, and the
    /// buffer with them marked initialized (a `Vec`'s length grows to
    /// cover them). `Ok(0)` means the peer closed its side (or `buf` has no
    /// room).
    ///
    /// Dropping the future cancels the receive; bytes the kernel had
    /// already put in the buffer by then are lost with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(&b"ping"[..]).await.0?;
    ///     drop(client);
    ///     let (n, buf) = server.read(Vec::with_capacity(16)).await;
    ///     assert_eq!((n?, &buf[..]), (4, &b"ping"[..]));
    ///     // The peer is gone: end of stream.
    ///     let (n, _) = server.read(buf).await;
    ///     assert_eq!(n?, 0);
    ///     Ok(())
    /// }
    /// ```
    pub async fn read<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.read(buf).await
    }

    /// Receives into `buf` like [`read`](TcpStream::read), but leaves the
    /// bytes in the socket (`MSG_PEEK`): the next `read` or `peek` returns
    /// them again. Resolves to the number of bytes copied (`Ok(0)`: the
    /// peer closed its side, or `buf` has no room) and the buffer; waits
    /// for data like `read`.
    ///
    /// The poll-style reader ([`futures_io::AsyncRead`]) holds no bytes
    /// back: `peek` sees everything not yet returned by either style.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(&b"GET /"[..]).await.0?;
    ///     let (n, peeked) = server.peek(vec![0u8; 3]).await;
    ///     assert_eq!(&peeked[..n?], b"GET");
    ///     // Still there for the read.
    ///     let (n, read) = server.read(Vec::with_capacity(16)).await;
    ///     assert_eq!(&read[..n?], b"GET /");
    ///     Ok(())
    /// }
    /// ```
    pub async fn peek<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.peek(buf).await
    }

    /// Sends `buf`'s initialized bytes, or a first part of them; resolves
    /// to the number sent and the buffer. See
    /// [`write_all`](TcpStream::write_all) to send everything.
    ///
    /// A closed connection is an error (`BrokenPipe`, `ConnectionReset`),
    /// never a `SIGPIPE`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (n, _buf) = client.write(b"hello".to_vec()).await;
    ///     assert!(n? > 0);
    ///     Ok(())
    /// }
    /// ```
    pub async fn write<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.write(buf).await
    }

    /// Sends all of `buf`'s initialized bytes, sending the rest after each
    /// partial send (no copy: the rest is a view of the same buffer);
    /// resolves to `Ok(())` and the buffer, or the first error and the
    /// buffer (how much was sent before an error is not reported).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let reader = runtime::spawn(async move {
    ///         let mut total = 0;
    ///         let mut buf = Vec::with_capacity(64 * 1024);
    ///         loop {
    ///             buf.clear();
    ///             let (n, b) = server.read(buf).await;
    ///             buf = b;
    ///             match n.unwrap() {
    ///                 0 => return total,
    ///                 n => total += n,
    ///             }
    ///         }
    ///     });
    ///     let (result, _buf) = client.write_all(vec![7u8; 1 << 20]).await;
    ///     result?;
    ///     drop(client);
    ///     assert_eq!(reader.await.unwrap(), 1 << 20);
    ///     Ok(())
    /// }
    /// ```
    pub async fn write_all<B: IoBuf + Send>(&self, buf: B) -> BufResult<(), B> {
        self.inner.write_all(buf).await
    }

    /// Shuts down the read side, the write side or both (`shutdown(2)`):
    /// after `Shutdown::Write` the peer reads end-of-stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    /// use std::net::Shutdown;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.shutdown(Shutdown::Write).await?;
    ///     let (n, _) = server.read(Vec::with_capacity(8)).await;
    ///     assert_eq!(n?, 0);
    ///     Ok(())
    /// }
    /// ```
    pub async fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how).await
    }

    /// The address of the other end.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok(())
    /// }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.socket().peer_addr()
    }

    /// The address of this end.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (accepted, peer) = listener.accept().await?;
    ///     assert_eq!(stream.local_addr()?, peer);
    ///     assert_eq!(accepted.local_addr()?, listener.local_addr()?);
    ///     Ok(())
    /// }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.socket().local_addr()
    }
}

super::stream::stream_traits!(TcpStream);

super::split::owned_halves!(
    TcpStream,
    std::net::TcpStream,
    SocketAddr,
    "#     let listener = runtime::net::TcpListener::bind(\"127.0.0.1:0\").await?;
#     let a = runtime::net::TcpStream::connect(listener.local_addr()?).await?;
#     let (b, _) = listener.accept().await?;"
);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let socket = self.inner.socket();
        let mut s = f.debug_struct("TcpStream");
        if let Ok(addr) = socket.local_addr() {
            s.field("local", &addr);
        }
        if let Ok(addr) = socket.peer_addr() {
            s.field("peer", &addr);
        }
        s.field("fd", &socket.as_raw_fd())
            .field("io", &self.inner)
            .finish()
    }
}
