//! The operations: [`OpData`] implementations.
//!
//! Each owns what the kernel uses while the operation is in flight: the
//! buffer and the file descriptor's owner `F` (any `AsRawFd`, e.g. an
//! `Arc<OwnedFd>` or a `File`; the fd stays open until the op completes
//! because the op holds `F`). A bare `RawFd` also works, but then the
//! caller must keep the descriptor open until the op has been *submitted*
//! (the kernel resolves the number at submission and holds its own file
//! reference from then on).

use super::buf::{BufResult, IoBuf, IoBufMut};
use super::op::OpData;
use io_uring::types::Fd;
use io_uring::{opcode, squeue};
use std::io;
use std::os::fd::AsRawFd;

/// The offset that means "no explicit position" (`-1` for the kernel): the
/// file's current position, advanced by the transfer, on seekable files
/// (like `read(2)` / `write(2)`); on pipes, sockets and other streams, which
/// have no position, the only meaningful value.
pub(crate) const CURRENT_POSITION: u64 = u64::MAX;

/// Clamps a buffer length to what one SQE can carry; a longer buffer is
/// transferred partially, as `read(2)` may.
pub(crate) fn sqe_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Does nothing in the kernel; completes with 0. For tests and wake-ups.
#[derive(Debug, Default)]
pub(crate) struct Nop;

impl OpData for Nop {
    type Output = io::Result<u32>;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<u32> {
        result
    }
}

/// `pread(2)` (or `read(2)` at [`CURRENT_POSITION`]) into `buf`.
///
/// Reads into the buffer from its start, up to `bytes_total()` bytes, and
/// marks the bytes read as initialized (`set_init(n)`); resolves to the
/// number of bytes read (0 at end of file) and the buffer.
#[derive(Debug)]
pub(crate) struct Read<F, B> {
    fd: F,
    buf: B,
    offset: u64,
}

impl<F, B> Read<F, B> {
    /// A positional read at `offset` of a seekable file (the file position
    /// is neither used nor moved).
    pub(crate) fn at(fd: F, buf: B, offset: u64) -> Self {
        Read { fd, buf, offset }
    }

    /// A read at the current position: for pipes, sockets, terminals, or a
    /// file's position (see [`CURRENT_POSITION`]).
    pub(crate) fn stream(fd: F, buf: B) -> Self {
        Read::at(fd, buf, CURRENT_POSITION)
    }
}

impl<F, B> OpData for Read<F, B>
where
    F: AsRawFd + Send + 'static,
    B: IoBufMut + Send,
{
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> squeue::Entry {
        let len = sqe_len(self.buf.bytes_total());
        opcode::Read::new(Fd(self.fd.as_raw_fd()), self.buf.stable_mut_ptr(), len)
            .offset(self.offset)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> BufResult<usize, B> {
        read_done(self.buf, result)
    }
}

/// The end of any read into `buf` from its start: the kernel's byte count
/// marks that many bytes initialized, and the buffer goes back with it.
///
/// `result` must be the completion of an op that read into
/// `buf.stable_mut_ptr()` with a length of at most `buf.bytes_total()`.
pub(crate) fn read_done<B: IoBufMut>(mut buf: B, result: io::Result<u32>) -> BufResult<usize, B> {
    match result {
        Ok(n) => {
            let n = n as usize;
            // SAFETY: the kernel reports that it wrote `n` bytes from the
            // start of the buffer, and `n <= bytes_total()`, the most any
            // read given this buffer may ask for (the contract above).
            unsafe { buf.set_init(n) };
            (Ok(n), buf)
        }
        Err(err) => (Err(err), buf),
    }
}

/// `pwrite(2)` (or `write(2)` at [`CURRENT_POSITION`]) of `buf`'s
/// initialized bytes; resolves to the number of bytes written and the
/// buffer.
#[derive(Debug)]
pub(crate) struct Write<F, B> {
    fd: F,
    buf: B,
    offset: u64,
}

impl<F, B> Write<F, B> {
    /// A positional write at `offset` of a seekable file.
    pub(crate) fn at(fd: F, buf: B, offset: u64) -> Self {
        Write { fd, buf, offset }
    }

    /// A write at the current position (pipes, sockets, a file's position,
    /// or its end with `O_APPEND`).
    pub(crate) fn stream(fd: F, buf: B) -> Self {
        Write::at(fd, buf, CURRENT_POSITION)
    }
}

impl<F, B> OpData for Write<F, B>
where
    F: AsRawFd + Send + 'static,
    B: IoBuf + Send,
{
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> squeue::Entry {
        let len = sqe_len(self.buf.bytes_init());
        opcode::Write::new(Fd(self.fd.as_raw_fd()), self.buf.stable_ptr(), len)
            .offset(self.offset)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> BufResult<usize, B> {
        (result.map(|n| n as usize), self.buf)
    }
}
