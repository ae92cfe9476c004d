//! UDP: [`UdpSocket`].

use super::addr::{self, ToSocketAddrs};
use super::ops::{Connect, RecvBuf, RecvFrom, SendBuf, SendTo};
use super::sys::{self, SockAddr};
use crate::driver::{self, BufResult, IoBuf, IoBufMut};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

/// A UDP socket.
///
/// Datagrams are sent and received with owned buffers, through io_uring.
/// All methods take `&self`: several tasks may send and receive on one
/// socket (shared through an `Arc`) at once.
///
/// # Examples
///
/// ```
/// use runtime::net::UdpSocket;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     let (n, _) = a.send_to(&b"ping"[..], b.local_addr()?).await;
///     assert_eq!(n?, 4);
///     let (received, buf) = b.recv_from(Vec::with_capacity(64)).await;
///     let (n, from) = received?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok(())
/// }
/// ```
pub struct UdpSocket {
    fd: Arc<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Creates a socket bound to `addr`, trying each address it resolves
    /// to in turn; port 0 picks a free port. A host name is looked up on
    /// the runtime's blocking pool (see [`lookup_host`](super::lookup_host)),
    /// never on a worker; a literal address is parsed at once.
    ///
    /// # Errors
    ///
    /// The kernel's (`AddrInUse`, ...); `InvalidInput` if `addr` resolves
    /// to nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let socket = runtime::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok(())
    /// }
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let resolving = addr::resolve_some(&addr);
        let addrs = resolving.await?;
        addr::each_addr(addrs, |addr| async move { UdpSocket::bind_one(addr) }).await
    }

    fn bind_one(addr: SocketAddr) -> io::Result<UdpSocket> {
        let fd = sys::socket(sys::domain_of(&addr), libc::SOCK_DGRAM)?;
        sys::bind(fd.as_fd(), &SockAddr::from_inet(&addr))?;
        Ok(UdpSocket {
            fd: Arc::new(std::net::UdpSocket::from(fd)),
        })
    }

    /// Wraps a socket made with std (it may be in blocking mode; the
    /// runtime never makes blocking calls on it).
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let socket = runtime::net::UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0")?);
    ///     socket.send_to(&b"me"[..], socket.local_addr()?).await.0?;
    ///     let (n, _) = socket.recv(Vec::with_capacity(8)).await;
    ///     assert_eq!(n?, 2);
    ///     Ok(())
    /// }
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> UdpSocket {
        UdpSocket {
            fd: Arc::new(socket),
        }
    }

    /// Sends `buf`'s initialized bytes as one datagram to `target` (its
    /// first resolved address, looked up off the workers if it is a name);
    /// resolves to the number of bytes sent and the buffer. The buffer
    /// comes back with the error if `target` does not resolve.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let target = socket.local_addr()?; // to itself
    ///     let (n, buf) = socket.send_to(b"hello".to_vec(), target).await;
    ///     assert_eq!(n?, buf.len());
    ///     Ok(())
    /// }
    /// ```
    pub async fn send_to<B: IoBuf + Send>(
        &self,
        buf: B,
        target: impl ToSocketAddrs,
    ) -> BufResult<usize, B> {
        let resolving = addr::resolve_some(&target);
        let addr = match resolving.await {
            Ok(addrs) => addrs[0],
            Err(err) => return (Err(err), buf),
        };
        let op = SendTo::new(self.fd.clone(), buf, SockAddr::from_inet(&addr));
        driver::run(op).await
    }

    /// Receives one datagram into `buf` (from its start, up to its
    /// capacity; the rest of a longer datagram is discarded); resolves to
    /// the byte count and the sender's address, and the buffer.
    ///
    /// Dropping the future cancels the receive; a datagram that arrives
    /// just as it is cancelled may be consumed by it and lost (which UDP
    /// allows anyway).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let server = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let client = UdpSocket::bind("127.0.0.1:0").await?;
    ///     client.send_to(&b"ping"[..], server.local_addr()?).await.0?;
    ///
    ///     let (received, buf) = server.recv_from(vec![0u8; 1500]).await;
    ///     let (n, from) = received?;
    ///     assert_eq!(&buf[..n], b"ping");
    ///     server.send_to(b"pong".to_vec(), from).await.0?;
    ///
    ///     let (received, buf) = client.recv_from(Vec::with_capacity(1500)).await;
    ///     assert_eq!(received?.1, server.local_addr()?);
    ///     assert_eq!(buf, b"pong");
    ///     Ok(())
    /// }
    /// ```
    pub async fn recv_from<B: IoBufMut + Send>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (result, buf) = driver::run(RecvFrom::new(self.fd.clone(), buf)).await;
        let result = result.and_then(|(n, addr)| Ok((n, addr.as_inet()?)));
        (result, buf)
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and the
    /// only source [`recv`](UdpSocket::recv) accepts datagrams from, trying
    /// each address `addr` resolves to (off the workers, for a name) in
    /// turn.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send(&b"over"[..]).await.0?;
    ///     let (n, buf) = b.recv(Vec::with_capacity(16)).await;
    ///     assert_eq!(&buf[..n?], b"over");
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok(())
    /// }
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let resolving = addr::resolve_some(&addr);
        let addrs = resolving.await?;
        addr::each_addr(addrs, |addr| async move {
            driver::submit(Connect::new(self.fd.clone(), SockAddr::from_inet(&addr)))?.await
        })
        .await
    }

    /// Sends `buf`'s initialized bytes as one datagram to the connected
    /// peer (see [`connect`](UdpSocket::connect)); an error
    /// (`EDESTADDRREQ`) on a socket that is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(socket.send(&b"nowhere"[..]).await.0.is_err());
    ///     socket.connect(socket.local_addr()?).await?;
    ///     assert_eq!(socket.send(&b"here"[..]).await.0?, 4);
    ///     Ok(())
    /// }
    /// ```
    pub async fn send<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        driver::run(SendBuf::new(self.fd.clone(), buf)).await
    }

    /// Receives one datagram from the connected peer into `buf` (from its
    /// start, up to its capacity).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.connect(socket.local_addr()?).await?;
    ///     socket.send(&b"echo"[..]).await.0?;
    ///     let (n, buf) = socket.recv(Vec::with_capacity(16)).await;
    ///     assert_eq!(&buf[..n?], b"echo");
    ///     Ok(())
    /// }
    /// ```
    pub async fn recv<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        driver::run(RecvBuf::new(self.fd.clone(), buf)).await
    }

    /// The address the socket is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let socket = runtime::net::UdpSocket::bind("[::1]:0").await?;
    ///     assert!(socket.local_addr()?.is_ipv6());
    ///     Ok(())
    /// }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.local_addr()
    }

    /// The connected peer's address (`NotConnected` if none).
    ///
    /// # Examples
    ///
    /// ```
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let socket = runtime::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     let err = socket.peer_addr().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    ///     socket.connect("127.0.0.1:9").await?;
    ///     assert_eq!(socket.peer_addr()?.port(), 9);
    ///     Ok(())
    /// }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.fd.set_broadcast(on)
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("UdpSocket");
        if let Ok(addr) = self.fd.local_addr() {
            s.field("addr", &addr);
        }
        s.field("fd", &self.fd.as_raw_fd()).finish()
    }
}
