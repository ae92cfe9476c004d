//! tokio's `io::AsyncRead` / `io::AsyncWrite` on the runtime's streams and
//! their owned halves, standard input and child pipes (feature `tokio-io`).
//!
//! Each impl forwards to the type's futures-io impl, which already is the
//! poll-style state machine (see `net/stream.rs`); the two trait families
//! differ only in their read buffer and in the name of `close`:
//!
//! * `poll_read` gets a `tokio::io::ReadBuf`, possibly uninitialized. The
//!   sockets and read halves receive straight into it, zeroing nothing;
//!   standard input and the child pipes get the part not yet initialized
//!   zeroed (once; the `ReadBuf` remembers), then read into as a
//!   `&mut [u8]`.
//! * `poll_shutdown` is futures-io's `poll_close`: finish sending, then
//!   shut down the write side.
//! * Vectored writes on the sockets are one `sendmsg(2)` over every slice.
//!   (A child's stdin keeps tokio's one-slice default.)
//!
//! No tokio runtime is involved: tokio is compiled with every feature off,
//! which still has these two traits.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// tokio's read through a type's futures-io read.
fn poll_read_via_futures<R: futures_io::AsyncRead + Unpin>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let n = ready!(Pin::new(reader).poll_read(cx, buf.initialize_unfilled()))?;
    // Panics (rather than exposing uninitialized bytes) should a reader
    // claim more than it was given.
    buf.advance(n);
    Poll::Ready(Ok(()))
}

macro_rules! tokio_read {
    (native: $($ty:ty),*) => {$(
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: `poll_read_uninit` only writes initialized bytes
                // into the unfilled part (it never de-initializes any).
                let unfilled = unsafe { buf.unfilled_mut() };
                let n = ready!(self.get_mut().poll_read_uninit(cx, unfilled))?;
                // SAFETY: the reader initialized the first `n` bytes of the
                // unfilled part (`advance` checks `n` against the buffer).
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }
    )*};
    (zeroing: $($ty:ty),*) => {$(
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read_via_futures(self.get_mut(), cx, buf)
            }
        }
    )*};
}

macro_rules! tokio_write {
    (gather: $($ty:ty),*) => {$(
        tokio_write!(@impl $ty, {
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }
        });
    )*};
    (plain: $($ty:ty),*) => {$(
        tokio_write!(@impl $ty, {});
    )*};
    (@impl $ty:ty, { $($vectored:tt)* }) => {
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_close(self, cx)
            }

            $($vectored)*
        }
    };
}

tokio_read!(
    native: crate::net::TcpStream,
    crate::net::UnixStream,
    crate::net::tcp::OwnedReadHalf,
    crate::net::unix::OwnedReadHalf
);
tokio_read!(
    zeroing: crate::io::Stdin,
    crate::process::ChildStdout,
    crate::process::ChildStderr
);
tokio_write!(
    gather: crate::net::TcpStream,
    crate::net::UnixStream,
    crate::net::tcp::OwnedWriteHalf,
    crate::net::unix::OwnedWriteHalf
);
// A child's stdin writes one slice per `poll_write` into its pipe: tokio's
// default (the first slice) stands.
tokio_write!(plain: crate::process::ChildStdin);
