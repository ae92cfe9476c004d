//! Readiness of any file descriptor: [`readable`] and [`writable`].
//!
//! For code that drives its own non-blocking descriptor (a pipe, a
//! socket made elsewhere, a device): wait until it is ready, then make the
//! system call yourself (it may still return `EAGAIN`: readiness is a hint,
//! so loop). Each wait is one one-shot `IORING_OP_POLL_ADD` request.

use crate::driver::{self, syscall_res, Fallback, OpData};
use io_uring::types::Fd;
use io_uring::{opcode, squeue};
use mio::Interest;
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

/// One-shot `poll(2)` for `events` (`POLLIN`, `POLLOUT`, ...); resolves to
/// the events that are ready (which may include `POLLERR` / `POLLHUP`).
///
/// `F` may be a bare `RawFd` (readiness on a borrowed descriptor): a poll
/// has no effect on the file, and the kernel takes its own reference to the
/// file when the request is submitted.
#[derive(Debug)]
pub(crate) struct PollAdd<F> {
    fd: F,
    events: u32,
}

impl<F> PollAdd<F> {
    pub(crate) fn new(fd: F, events: libc::c_short) -> Self {
        PollAdd {
            fd,
            events: events as u16 as u32,
        }
    }
}

impl<F: AsRawFd + Send + 'static> OpData for PollAdd<F> {
    type Output = io::Result<u32>;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::PollAdd::new(Fd(self.fd.as_raw_fd()), self.events).build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<u32> {
        result
    }

    fn fallback(&self) -> Fallback {
        let events = self.events as libc::c_short;
        let mut interest: Option<Interest> = None;
        let mut add = |more: Interest| {
            interest = Some(interest.map_or(more, |have| have.add(more)));
        };
        if events & libc::POLLIN != 0 {
            add(Interest::READABLE);
        }
        if events & libc::POLLOUT != 0 {
            add(Interest::WRITABLE);
        }
        if events & libc::POLLPRI != 0 {
            add(Interest::PRIORITY);
        }
        Fallback::Readiness {
            fd: self.fd.as_raw_fd(),
            // Errors and hang-ups are always reported; readable stands in
            // for "nothing else asked".
            interest: interest.unwrap_or(Interest::READABLE),
        }
    }

    fn perform(&mut self) -> i32 {
        let mut pollfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: self.events as libc::c_short,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`, and a zero timeout: never blocks.
        let ret = unsafe { libc::poll(&mut pollfd, 1, 0) };
        match ret {
            0 => -libc::EAGAIN,
            // A closed descriptor: the ring reports it as `EBADF` too.
            _ if pollfd.revents & libc::POLLNVAL != 0 => -libc::EBADF,
            ret if ret > 0 => i32::from(pollfd.revents as u16),
            ret => syscall_res(ret as isize),
        }
    }
}
