//! [`TcpSocket`]: a TCP socket configured before it becomes a listener or
//! a connection, as tokio's.
//!
//! Creating, configuring, binding and listening are plain system calls
//! (they never block); `connect` is the driver's `Connect` op, the same
//! one [`TcpStream::connect`] uses, so it waits without holding a worker on
//! both drivers. `connect` and `listen` consume the socket: the descriptor
//! moves into the stream or listener.

use super::sys::{self, SockAddr};
use super::{TcpListener, TcpStream};
use std::ffi::c_int;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// A TCP socket that is not connected or listening yet: set its options,
/// [`bind`](TcpSocket::bind) it, then [`connect`](TcpSocket::connect) or
/// [`listen`](TcpSocket::listen).
///
/// Setters return `io::Result<()>`; the buffer sizes are the kernel's to
/// adjust (Linux doubles what it is given, within its limits).
///
/// # Examples
///
/// A listener sharing its port with another one (`SO_REUSEPORT`), and a
/// client connecting from a chosen local address:
///
/// ```
/// use runtime::net::TcpSocket;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseport(true)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(128)?;
///     let addr = listener.local_addr()?;
///
///     let client = TcpSocket::new_v4()?;
///     client.bind("127.0.0.1:0".parse().unwrap())?;
///     let from = client.local_addr()?;
///     let stream = client.connect(addr).await?;
///     let (_, peer) = listener.accept().await?;
///     assert_eq!(peer, from);
///     assert_eq!(stream.local_addr()?, from);
///     Ok(())
/// }
/// ```
pub struct TcpSocket {
    fd: OwnedFd,
}

impl TcpSocket {
    fn new(domain: c_int) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: sys::socket(domain, libc::SOCK_STREAM)?,
        })
    }

    /// A new IPv4 TCP socket.
    ///
    /// # Errors
    ///
    /// The kernel's (`EMFILE` when the process is out of descriptors).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// assert!(socket.local_addr()?.is_ipv4());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(libc::AF_INET)
    }

    /// A new IPv6 TCP socket.
    ///
    /// # Errors
    ///
    /// The kernel's (`EAFNOSUPPORT` where IPv6 is disabled, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v6()?;
    /// assert!(socket.local_addr()?.is_ipv6());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(libc::AF_INET6)
    }

    /// Sets `SO_REUSEADDR`: the address may be bound again at once after a
    /// previous socket on it closed (its connections in `TIME_WAIT` do not
    /// block it). A port with a live listener still cannot be bound.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// socket.set_reuseaddr(true)?;
    /// assert!(socket.reuseaddr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        sys::set_flag(
            self.fd.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            reuseaddr,
        )
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// assert!(!socket.reuseaddr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reuseaddr(&self) -> io::Result<bool> {
        sys::flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR)
    }

    /// Sets `SO_REUSEPORT`: several sockets (of the same user), each with
    /// it set, may bind the same address and port; the kernel spreads
    /// incoming connections over the listeners among them.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::TcpSocket;
    ///
    /// let a = TcpSocket::new_v4()?;
    /// a.set_reuseport(true)?;
    /// assert!(a.reuseport()?);
    /// a.bind("127.0.0.1:0".parse().unwrap())?;
    /// let b = TcpSocket::new_v4()?;
    /// b.set_reuseport(true)?;
    /// b.bind(a.local_addr()?)?; // the same port
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        sys::set_flag(
            self.fd.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            reuseport,
        )
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// assert!(!socket.reuseport()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reuseport(&self) -> io::Result<bool> {
        sys::flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT)
    }

    /// Sets the size of the kernel's send buffer (`SO_SNDBUF`), in bytes.
    /// Linux doubles the value (for its bookkeeping) and keeps it within
    /// `net.core.wmem_max` and a minimum; read the result back with
    /// [`send_buffer_size`](TcpSocket::send_buffer_size).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// socket.set_send_buffer_size(64 * 1024)?;
    /// assert!(socket.send_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.set_size(libc::SO_SNDBUF, size)
    }

    /// The size of the kernel's send buffer (`SO_SNDBUF`), in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// assert!(socket.send_buffer_size()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.size(libc::SO_SNDBUF)
    }

    /// Sets the size of the kernel's receive buffer (`SO_RCVBUF`), in
    /// bytes; doubled and bounded like the send buffer's
    /// (`net.core.rmem_max`).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// socket.set_recv_buffer_size(64 * 1024)?;
    /// assert!(socket.recv_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.set_size(libc::SO_RCVBUF, size)
    }

    /// The size of the kernel's receive buffer (`SO_RCVBUF`), in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// assert!(socket.recv_buffer_size()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.size(libc::SO_RCVBUF)
    }

    fn set_size(&self, name: c_int, size: u32) -> io::Result<()> {
        // The kernel caps the size far below `c_int::MAX` anyway.
        let size = c_int::try_from(size).unwrap_or(c_int::MAX);
        sys::set_opt(self.fd.as_fd(), libc::SOL_SOCKET, name, size)
    }

    fn size(&self, name: c_int) -> io::Result<u32> {
        let size: c_int = sys::opt(self.fd.as_fd(), libc::SOL_SOCKET, name)?;
        Ok(size.max(0) as u32)
    }

    /// The address the socket is bound to: the unspecified address and
    /// port 0 before [`bind`](TcpSocket::bind), the port the kernel picked
    /// after binding port 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = runtime::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sys::local_addr(self.fd.as_fd())?.as_inet()
    }

    /// Binds the socket to `addr` (port 0: a free port, see
    /// [`local_addr`](TcpSocket::local_addr)). A literal address: resolve
    /// a name first with [`lookup_host`](super::lookup_host).
    ///
    /// # Errors
    ///
    /// The kernel's: `AddrInUse` if the port is taken (and the sockets do
    /// not all have `SO_REUSEPORT`), `AddrNotAvailable` for an address of
    /// no local interface, an error for an address of the other IP
    /// version, ...
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::TcpSocket;
    ///
    /// let a = TcpSocket::new_v4()?;
    /// a.bind("127.0.0.1:0".parse().unwrap())?;
    /// let taken = a.local_addr()?;
    /// let b = TcpSocket::new_v4()?;
    /// let err = b.bind(taken).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        sys::bind(self.fd.as_fd(), &SockAddr::from_inet(&addr))
    }

    /// Connects to `addr` (a literal address, as for `bind`) and returns
    /// the connection; the socket moves into it. Waits through the driver (an io_uring `connect`, or a
    /// non-blocking one and a readiness wait on epoll), as
    /// [`TcpStream::connect`] does.
    ///
    /// # Errors
    ///
    /// The kernel's: `ConnectionRefused` when nothing listens there,
    /// `TimedOut`, `NetworkUnreachable`, ...; an error outside a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpSocket};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let stream = TcpSocket::new_v4()?.connect(addr).await?;
    ///     assert_eq!(stream.peer_addr()?, addr);
    ///
    ///     drop((stream, listener));
    ///     let err = TcpSocket::new_v4()?.connect(addr).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    ///     Ok(())
    /// }
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_socket(self.fd, addr).await
    }

    /// Listens for connections, with room for `backlog` of them waiting to
    /// be accepted (the kernel caps it at `net.core.somaxconn`); the
    /// socket moves into the listener. Bind it first, or the kernel picks
    /// a port on every address.
    ///
    /// # Errors
    ///
    /// The kernel's: `AddrInUse` if an unbound socket's automatic port
    /// cannot be had, ...
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpSocket, TcpStream};
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.set_reuseaddr(true)?;
    ///     socket.bind("127.0.0.1:0".parse().unwrap())?;
    ///     let listener = socket.listen(16)?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_server, peer) = listener.accept().await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     Ok(())
    /// }
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = c_int::try_from(backlog).unwrap_or(c_int::MAX);
        sys::listen(self.fd.as_fd(), backlog)?;
        Ok(TcpListener::from_std(std::net::TcpListener::from(self.fd)))
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl FromRawFd for TcpSocket {
    /// Takes ownership of `fd`, a TCP socket.
    ///
    /// # Safety
    ///
    /// `fd` must be an open socket descriptor that nothing else owns (it is
    /// closed with the `TcpSocket`).
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        TcpSocket {
            // SAFETY: the caller guarantees `fd` is open and ours alone.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        }
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl From<OwnedFd> for TcpSocket {
    /// Takes ownership of `fd`, which must be a TCP socket (nothing checks:
    /// other descriptors make the calls fail).
    fn from(fd: OwnedFd) -> TcpSocket {
        TcpSocket { fd }
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TcpSocket");
        if let Ok(addr) = self.local_addr() {
            s.field("addr", &addr);
        }
        s.field("fd", &self.fd.as_raw_fd()).finish()
    }
}
