//! Recognising the runtime's own readers behind a generic type parameter,
//! to give them the path a futures-io type cannot take.
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
//! What ours do differently: [`NativeRead::poll_read_uninit`], a read into
//! memory that may be uninitialized, which the kernel fills directly, so
//! nothing is zeroed. (Writes need no such path: the futures-io trait's own
//! `poll_write_vectored` is the streams' one `sendmsg(2)`.)

use crate::net::{tcp, unix, TcpStream, UnixStream};
use std::any::Any;
use std::io;
use std::mem::MaybeUninit;
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

native_read!(
    TcpStream,
    UnixStream,
    tcp::OwnedReadHalf,
    unix::OwnedReadHalf
);
