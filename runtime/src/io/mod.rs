//! Asynchronous I/O that is not tied to a socket or file type: the buffer
//! traits of completion-based I/O, and standard input.
//!
//! With io_uring the kernel uses a buffer after the call that started the
//! operation has returned, so operations such as
//! [`File::read_at`](crate::fs::File::read_at) take their buffer by value
//! ([`IoBuf`] to read from, [`IoBufMut`] to write into) and give it back
//! with the result, as a [`BufResult`].

mod stdin;

pub use self::stdin::{stdin, Stdin};
pub use crate::driver::{BufResult, IoBuf, IoBufMut};
