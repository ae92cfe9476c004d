//! Recognising the runtime's own readers and writers behind a generic type
//! parameter, to give them the paths a futures-io type cannot take.
//!
//! Rust has no specialization, and an adapter such as `HyperIo<T>` must
//! accept any futures-io `T`. So it asks [`reader`] / [`writer`] whether
//! `T` is one of ours: a `TypeId` comparison per candidate type, which the
//! compiler folds to a constant for each `T`, so a foreign type pays
//! nothing and ours go straight to their own code. The price is a `'static`
//! bound on the adapters' impls (`TypeId` needs it): `HyperIo<&mut
//! TcpStream>` is not accepted, `HyperIo<TcpStream>` is. The dispatch goes
//! through a trait object; the call is indirect but the object is the
//! stream itself, nothing is allocated.
//!
//! What ours do differently:
//!
//! * [`NativeRead::poll_read_uninit`]: a read into memory that may be
//!   uninitialized. The streams copy out of their own receive buffer, and a
//!   copy works as well into uninitialized memory: nothing is zeroed.
//! * [`NativeWrite::poll_write_gather`]: a vectored write that takes bytes
//!   from every slice, not just the first (futures-io's default). A
//!   `poll_write` on our streams copies into the stream's own send buffer,
//!   so gathering costs one copy per slice, not a system call.

use crate::net::{tcp, unix, TcpStream, UnixStream};
use futures_io::AsyncWrite;
use std::any::Any;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A reader of ours that fills uninitialized memory.
pub(crate) trait NativeRead {
    /// Reads into `buf`, whose bytes need not be initialized; on
    /// `Ready(Ok(n))` its first `n` bytes are.
    fn poll_read_uninit(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>;
}

/// A writer of ours whose vectored writes gather.
pub(crate) trait NativeWrite {
    /// Writes from as many of `bufs`, in order, as the writer takes now.
    fn poll_write_gather(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;
}

/// `$io` as a `&mut dyn $trait` if it is one of `$ty`s.
macro_rules! downcast {
    ($io:expr, $trait:ident: $($ty:ty),*) => {{
        let io: &mut dyn Any = $io;
        $(
            if io.is::<$ty>() {
                return io.downcast_mut::<$ty>().map(|s| s as &mut dyn $trait);
            }
        )*
        None
    }};
}

/// `io` as one of the runtime's readers, if it is one.
pub(crate) fn reader<T: 'static>(io: &mut T) -> Option<&mut dyn NativeRead> {
    downcast!(io, NativeRead: TcpStream, UnixStream, tcp::OwnedReadHalf, unix::OwnedReadHalf)
}

/// `io` as one of the runtime's writers, if it is one.
pub(crate) fn writer<T: 'static>(io: &mut T) -> Option<&mut dyn NativeWrite> {
    downcast!(io, NativeWrite: TcpStream, UnixStream, tcp::OwnedWriteHalf, unix::OwnedWriteHalf)
}

/// A vectored write as a sequence of `poll_write`s, one per slice, for
/// writers whose `poll_write` only copies (so one call per slice costs a
/// copy, not a system call). Stops at the first slice not taken in full.
pub(crate) fn gather<W: AsyncWrite + Unpin + ?Sized>(
    writer: &mut W,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let mut total = 0;
    for buf in bufs.iter().filter(|buf| !buf.is_empty()) {
        match Pin::new(&mut *writer).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                total += n;
                if n < buf.len() {
                    break;
                }
            }
            // After some bytes were taken, report those; an error comes back
            // on the next call, `Pending` has registered the waker (a
            // spurious wake at worst).
            Poll::Ready(Err(err)) if total == 0 => return Poll::Ready(Err(err)),
            Poll::Pending if total == 0 => return Poll::Pending,
            Poll::Ready(Err(_)) | Poll::Pending => break,
        }
    }
    Poll::Ready(Ok(total))
}

macro_rules! native_read {
    ($($ty:ty),*) => {$(
        impl NativeRead for $ty {
            fn poll_read_uninit(
                &mut self,
                cx: &mut Context<'_>,
                buf: &mut [MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                <$ty>::poll_read_uninit(self, cx, buf)
            }
        }
    )*};
}

macro_rules! native_write {
    ($($ty:ty),*) => {$(
        impl NativeWrite for $ty {
            fn poll_write_gather(
                &mut self,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                gather(self, cx, bufs)
            }
        }
    )*};
}

native_read!(
    TcpStream,
    UnixStream,
    tcp::OwnedReadHalf,
    unix::OwnedReadHalf
);
native_write!(
    TcpStream,
    UnixStream,
    tcp::OwnedWriteHalf,
    unix::OwnedWriteHalf
);
