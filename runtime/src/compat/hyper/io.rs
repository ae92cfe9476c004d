//! [`HyperIo`]: hyper's `rt::Read`/`rt::Write` over futures-io, and back.

use super::super::native;
use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Adapts I/O types between futures-io and hyper 1.x's own I/O traits,
/// both ways, as hyper-util's `TokioIo` does for tokio's.
///
/// * `HyperIo<T>` with `T` a runtime stream ([`TcpStream`], [`UnixStream`],
///   their owned halves) or any `futures_io::AsyncRead + AsyncWrite` type implements
///   [`hyper::rt::Read`] and [`hyper::rt::Write`]: give it to hyper's (or
///   hyper-util's) server and client connection builders.
/// * `HyperIo<T>` with `T` one of hyper's I/O types (an
///   [`Upgraded`](hyper::upgrade::Upgraded) connection after an HTTP
///   upgrade) implements `futures_io::AsyncRead` and `AsyncWrite`, for
///   `futures-util`'s extension traits and codecs.
///
/// What the hyper side does:
///
/// * Reads go into hyper's read buffer, which may be uninitialized. The
///   runtime's streams and read halves receive straight into it: nothing
///   is zeroed or copied. Other types get a `&mut [u8]`, so
///   what hyper has not initialized yet is zeroed first (once: hyper's
///   `ReadBuf` remembers).
/// * Writes are vectored ([`is_write_vectored`](Write::is_write_vectored)
///   is `true`), so hyper queues a body's chunks behind the headers instead
///   of copying them into one buffer. On the runtime's streams a vectored
///   write is one `sendmsg(2)` over every slice; other types get their own
///   `poll_write_vectored`.
/// * [`poll_shutdown`](Write::poll_shutdown) is futures-io's `poll_close`:
///   on the runtime's streams, finish sending, then shut down the write
///   side (`shutdown(Write)`); reading goes on.
///
/// After an HTTP upgrade, [`Upgraded::downcast`] with
/// `HyperIo<TcpStream>` hands the stream back with any bytes hyper read
/// past the request (`read_buf`; handle those first), then go on with
/// either style of I/O: the stream's poll-style reader holds no bytes of
/// its own.
///
/// The impls need `T: Unpin + 'static` (the runtime recognises its own
/// streams by `TypeId`): wrap the stream itself, not a `&mut` to it.
///
/// [`TcpStream`]: crate::net::TcpStream
/// [`UnixStream`]: crate::net::UnixStream
/// [`Upgraded::downcast`]: hyper::upgrade::Upgraded::downcast
///
/// # Examples
///
/// An HTTP/1 server and client over a loopback connection:
///
/// ```
/// use http_body_util::{BodyExt, Full};
/// use hyper::body::Bytes;
/// use runtime::compat::hyper::HyperIo;
/// use runtime::net::{TcpListener, TcpStream};
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     runtime::spawn(async move {
///         let (stream, _) = listener.accept().await.unwrap();
///         let service = hyper::service::service_fn(|_req| async {
///             Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from("hello"))))
///         });
///         hyper::server::conn::http1::Builder::new()
///             .serve_connection(HyperIo::new(stream), service)
///             .await
///     });
///
///     let stream = TcpStream::connect(addr).await?;
///     let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream)).await?;
///     runtime::spawn(conn);
///     let request = hyper::Request::get("/").body(http_body_util::Empty::<Bytes>::new())?;
///     let response = sender.send_request(request).await?;
///     let body = response.into_body().collect().await?.to_bytes();
///     assert_eq!(body, "hello");
///     Ok(())
/// }
/// ```
pub struct HyperIo<T> {
    inner: T,
}

impl<T> HyperIo<T> {
    /// Wraps `inner`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::compat::hyper::HyperIo;
    ///
    /// // Any futures-io type: here an in-memory cursor.
    /// let io = HyperIo::new(futures_util::io::Cursor::new(Vec::<u8>::new()));
    /// assert!(io.inner().get_ref().is_empty());
    /// ```
    pub fn new(inner: T) -> HyperIo<T> {
        HyperIo { inner }
    }

    /// The wrapped value.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::compat::hyper::HyperIo;
    ///
    /// let io = HyperIo::new(futures_util::io::Cursor::new(vec![1u8, 2]));
    /// assert_eq!(io.inner().get_ref(), &[1, 2]);
    /// ```
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped value, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::compat::hyper::HyperIo;
    ///
    /// let mut io = HyperIo::new(futures_util::io::Cursor::new(vec![1u8]));
    /// io.inner_mut().get_mut().push(2);
    /// assert_eq!(io.inner().get_ref(), &[1, 2]);
    /// ```
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::compat::hyper::HyperIo;
    ///
    /// let io = HyperIo::new(futures_util::io::Cursor::new(vec![7u8]));
    /// assert_eq!(io.into_inner().into_inner(), [7]);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for HyperIo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HyperIo").field(&self.inner).finish()
    }
}

// ----- futures-io -> hyper -----

impl<T: AsyncRead + Unpin + 'static> Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = &mut self.get_mut().inner;
        let n = match native::reader(inner) {
            Some(native) => {
                // SAFETY: `poll_read_uninit` only writes initialized bytes
                // into the unfilled part (it never de-initializes any).
                let unfilled = unsafe { buf.as_mut() };
                ready!(native.poll_read_uninit(cx, unfilled))?
            }
            // Zeroes only what hyper's `ReadBuf` does not know to be
            // initialized, and records it.
            None => ready!(Pin::new(inner).poll_read(cx, buf.initialize_unfilled()))?,
        };
        // `advance` checks for overflow only; a reader claiming more bytes
        // than it was given is a bug to stop at, not to pass on to hyper.
        assert!(
            n <= buf.remaining(),
            "poll_read reported more bytes than it was given"
        );
        // SAFETY: the first `n <= remaining` bytes of the unfilled part are
        // initialized: the native reader wrote them, or
        // `initialize_unfilled` made the whole part so.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin + 'static> Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

// ----- hyper -> futures-io -----

impl<T: Read + Unpin> AsyncRead for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.get_mut().inner).poll_read(cx, buf.unfilled()))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

impl<T: Write + Unpin> AsyncWrite for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
