//! Readiness of any file descriptor: [`readable`] and [`writable`].
//!
//! For code that drives its own non-blocking descriptor (a pipe, a
//! socket made elsewhere, a device): wait until it is ready, then make the
//! system call yourself (it may still return `EAGAIN`: readiness is a hint,
//! so loop). Each wait is one one-shot `IORING_OP_POLL_ADD` request.

use crate::driver;
use crate::net::ops::PollAdd;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Waits until `fd` is readable: data to read, end of file, a pending
/// connection on a listener, or an error or hang-up condition (the next
/// read reports which).
///
/// The future borrows `fd`, so the descriptor stays open while it waits.
/// Dropping the future cancels the poll (the cancellation reaches the
/// kernel shortly after, asynchronously).
///
/// # Errors
///
/// The kernel's (`EBADF`, ...); an error outside a runtime or after it
/// shut down.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use std::os::fd::AsFd;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let (mut a, mut b) = UnixStream::pair()?;
///     b.set_nonblocking(true)?;
///     a.write_all(b"x")?;
///     runtime::io::readable(b.as_fd()).await?;
///     let mut byte = [0u8];
///     b.read_exact(&mut byte)?;
///     assert_eq!(&byte, b"x");
///     Ok(())
/// }
/// ```
pub async fn readable(fd: BorrowedFd<'_>) -> io::Result<()> {
    wait(fd, libc::POLLIN).await
}

/// Waits until `fd` is writable: room to write, or an error or hang-up
/// condition (the next write reports which).
///
/// The future borrows `fd`, so the descriptor stays open while it waits.
/// Dropping the future cancels the poll.
///
/// # Errors
///
/// The kernel's (`EBADF`, ...); an error outside a runtime or after it
/// shut down.
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use std::os::fd::AsFd;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let (a, _b) = UnixStream::pair()?;
///     // An empty socket buffer has room.
///     runtime::io::writable(a.as_fd()).await?;
///     Ok(())
/// }
/// ```
pub async fn writable(fd: BorrowedFd<'_>) -> io::Result<()> {
    wait(fd, libc::POLLOUT).await
}

async fn wait(fd: BorrowedFd<'_>, events: libc::c_short) -> io::Result<()> {
    // The op holds the number only. `fd` is borrowed for as long as this
    // future lives, so the descriptor is open when the request is built
    // and submitted; the kernel takes its own reference to the file then.
    // (If the future is dropped before the ring submitted the request, the
    // poll may meet a closed or reused number until its cancel arrives: a
    // poll has no effect on a file, so the worst outcome is a spurious
    // `EBADF` nobody sees.)
    let op = driver::submit(PollAdd::new(fd.as_raw_fd(), events))?;
    op.await.map(drop)
}
