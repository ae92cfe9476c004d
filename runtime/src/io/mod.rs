//! Asynchronous I/O that is not tied to a socket or file type: the buffer
//! traits of completion-based I/O, standard input, and readiness of any
//! file descriptor.
//!
//! With io_uring the kernel uses a buffer after the call that started the
//! operation has returned, so operations such as
//! [`File::read_at`](crate::fs::File::read_at) or
//! [`TcpStream::read`](crate::net::TcpStream::read) take their buffer by
//! value ([`IoBuf`] to send from, [`IoBufMut`] to receive into) and give it
//! back with the result, as a [`BufResult`]. With the `bytes` feature,
//! `bytes::Bytes` and `BytesMut` are such buffers too.

#[cfg(feature = "bytes")]
mod bytes;
mod ready;
mod stdin;

pub(crate) use self::ready::PollAdd;
pub use self::ready::{readable, writable};
pub use self::stdin::{stdin, Stdin};
pub use crate::driver::{BufResult, IoBuf, IoBufMut};
