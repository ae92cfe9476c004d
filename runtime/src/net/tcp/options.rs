//! `TcpStream`'s socket options: `TCP_NODELAY`, `IP_TTL`, `SO_LINGER`.
//! Plain `setsockopt(2)` / `getsockopt(2)` calls, which never block.

use super::TcpStream;
use crate::net::sys;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

impl TcpStream {
    /// Sets `TCP_NODELAY`: with `true`, small sends go out at once instead
    /// of being coalesced (Nagle's algorithm).
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
    ///     stream.set_nodelay(true)?;
    ///     assert!(stream.nodelay()?);
    ///     Ok(())
    /// }
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.socket().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
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
    ///     assert!(!stream.nodelay()?); // the kernel's default: Nagle on
    ///     stream.set_nodelay(true)?;
    ///     assert!(stream.nodelay()?);
    ///     stream.set_nodelay(false)?;
    ///     assert!(!stream.nodelay()?);
    ///     Ok(())
    /// }
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.socket().nodelay()
    }

    /// Sets the IP time-to-live (`IP_TTL`) of the packets this stream
    /// sends: how many hops they may take.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a value the kernel refuses (0, or above 255).
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
    ///     stream.set_ttl(42)?;
    ///     assert_eq!(stream.ttl()?, 42);
    ///     let err = stream.set_ttl(256).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    ///     Ok(())
    /// }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.socket().set_ttl(ttl)
    }

    /// The IP time-to-live (`IP_TTL`) of the packets this stream sends.
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
    ///     assert!(stream.ttl()? > 0); // the system's default, often 64
    ///     Ok(())
    /// }
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.socket().ttl()
    }

    /// Sets `SO_LINGER`: what closing the socket does with data the kernel
    /// has not sent yet.
    ///
    /// * `None` (the default): the close returns at once and the kernel
    ///   sends the data in the background.
    /// * `Some(Duration::ZERO)`: the close discards the data and resets the
    ///   connection (the peer's next read or write fails with
    ///   `ConnectionReset`), never blocking — the useful setting here.
    /// * `Some(d)`: the close *blocks the thread that closes the socket*
    ///   until the data is sent or `d` (in whole seconds) has passed. That
    ///   thread is whichever drops the stream's last reference, usually a
    ///   worker, which then runs no other task meanwhile: avoid it (tokio
    ///   deprecated its `set_linger` for this reason).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     // Abort instead of a graceful close.
    ///     stream.set_linger(Some(Duration::ZERO))?;
    ///     drop(stream);
    ///     let (n, _) = server.read(Vec::with_capacity(8)).await;
    ///     assert_eq!(n.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    ///     Ok(())
    /// }
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        sys::set_linger(self.inner.socket().as_fd(), linger)
    }

    /// The `SO_LINGER` setting (see [`set_linger`](TcpStream::set_linger)).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.linger()?, None);
    ///     stream.set_linger(Some(Duration::from_secs(3)))?;
    ///     assert_eq!(stream.linger()?, Some(Duration::from_secs(3)));
    ///     stream.set_linger(None)?;
    ///     assert_eq!(stream.linger()?, None);
    ///     Ok(())
    /// }
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        sys::linger(self.inner.socket().as_fd())
    }
}
