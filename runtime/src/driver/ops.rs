//! The operations: [`OpData`] implementations.
//!
//! Each owns what the kernel uses while the operation is in flight: the
//! buffer and the file descriptor's owner `F` (any `AsRawFd`, e.g. an
//! `Arc<OwnedFd>` or a `File`; the fd stays open until the op completes
//! because the op holds `F`). A bare `RawFd` also works, but then the
//! caller must keep the descriptor open until the op has completed or been
//! dropped: the ring resolves the number at submission, but the epoll
//! driver uses it at every attempt and while it waits.

use super::buf::{BufResult, IoBuf, IoBufMut};
use super::epoll::FdKind;
use super::op::{Fallback, OpData};
use io_uring::types::Fd;
use io_uring::{opcode, squeue};
use std::cell::OnceCell;
use std::io;
use std::os::fd::AsRawFd;

/// The offset that means "no explicit position" (`-1` for the kernel): the
/// file's current position, advanced by the transfer, on seekable files
/// (like `read(2)` / `write(2)`); on pipes, sockets and other streams, which
/// have no position, the only meaningful value.
const CURRENT_POSITION: u64 = u64::MAX;

/// Clamps a buffer length to what one SQE can carry; a longer buffer is
/// transferred partially, as `read(2)` may.
pub(crate) fn sqe_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The most one `read(2)` or `write(2)` transfers on Linux
/// (`MAX_RW_COUNT`); the epoll driver's calls ask for at most this much, so
/// a byte count always fits a CQE-style `i32`.
pub(crate) const MAX_RW: usize = 0x7fff_f000;

/// A system call's return value as a CQE's `res`: the value, or `-errno`
/// (read right after the call, on the same thread).
pub(crate) fn syscall_res(ret: isize) -> i32 {
    if ret < 0 {
        -io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    } else {
        i32::try_from(ret).unwrap_or(i32::MAX)
    }
}

/// A file offset for `pread(2)` / `pwrite(2)`, or `None` for
/// [`CURRENT_POSITION`]; offsets past `off_t` fail with `EINVAL`, as the
/// kernel would.
fn file_offset(offset: u64) -> Result<Option<libc::off_t>, i32> {
    if offset == CURRENT_POSITION {
        return Ok(None);
    }
    libc::off_t::try_from(offset)
        .map(Some)
        .map_err(|_| -libc::EINVAL)
}

/// Does nothing in the kernel; completes with 0. For the driver's tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Nop;

#[cfg(test)]
impl OpData for Nop {
    type Output = io::Result<u32>;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<u32> {
        result
    }

    fn fallback(&self) -> Fallback {
        Fallback::Immediate
    }

    fn perform(&mut self) -> i32 {
        0
    }

    fn completes_inline(&self) -> bool {
        true
    }
}

/// What a read and a write at an offset both hold: the descriptor's owner,
/// the buffer, the offset, and the epoll driver's view of the descriptor.
#[derive(Debug)]
struct FdAt<F, B> {
    fd: F,
    buf: B,
    offset: u64,
    /// The epoll driver's view of `fd`, found once.
    kind: OnceCell<FdKind>,
}

impl<F: AsRawFd, B> FdAt<F, B> {
    fn new(fd: F, buf: B, offset: u64) -> Self {
        FdAt {
            fd,
            buf,
            offset,
            kind: OnceCell::new(),
        }
    }

    fn kind(&self) -> FdKind {
        *self.kind.get_or_init(|| FdKind::of(self.fd.as_raw_fd()))
    }

    fn fallback(&self, interest: mio::Interest) -> Fallback {
        self.kind().fallback(self.fd.as_raw_fd(), interest)
    }
}

/// `pread(2)` (or `read(2)` at [`CURRENT_POSITION`]) into `buf`.
///
/// Reads into the buffer from its start, up to `bytes_total()` bytes, and
/// marks the bytes read as initialized (`set_init(n)`); resolves to the
/// number of bytes read (0 at end of file) and the buffer.
#[derive(Debug)]
pub(crate) struct Read<F, B>(FdAt<F, B>);

impl<F: AsRawFd, B> Read<F, B> {
    /// A positional read at `offset` of a seekable file (the file position
    /// is neither used nor moved).
    pub(crate) fn at(fd: F, buf: B, offset: u64) -> Self {
        Read(FdAt::new(fd, buf, offset))
    }

    /// A read at the current position: for pipes, sockets, terminals, or a
    /// file's position (see [`CURRENT_POSITION`]). The driver's tests read
    /// pipes with it; the user-facing types read sockets with `RecvBuf`.
    #[cfg(test)]
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
        let op = &mut self.0;
        let len = sqe_len(op.buf.bytes_total());
        opcode::Read::new(Fd(op.fd.as_raw_fd()), op.buf.stable_mut_ptr(), len)
            .offset(op.offset)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> BufResult<usize, B> {
        read_done(self.0.buf, result)
    }

    fn fallback(&self) -> Fallback {
        self.0.fallback(mio::Interest::READABLE)
    }

    fn perform(&mut self) -> i32 {
        let op = &mut self.0;
        let offset = match file_offset(op.offset) {
            Ok(offset) => offset,
            Err(res) => return res,
        };
        let (kind, len) = (op.kind(), op.buf.bytes_total());
        // SAFETY: the op owns the buffer, which has room for
        // `bytes_total()` bytes at `stable_mut_ptr()`.
        unsafe { kind.read(op.fd.as_raw_fd(), op.buf.stable_mut_ptr(), len, offset) }
    }

    fn completes_inline(&self) -> bool {
        true
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
pub(crate) struct Write<F, B>(FdAt<F, B>);

impl<F: AsRawFd, B> Write<F, B> {
    /// A positional write at `offset` of a seekable file.
    pub(crate) fn at(fd: F, buf: B, offset: u64) -> Self {
        Write(FdAt::new(fd, buf, offset))
    }

    /// A write at the current position (pipes, sockets, a file's position,
    /// or its end with `O_APPEND`). For the driver's tests, as `Read::stream`.
    #[cfg(test)]
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
        let op = &self.0;
        let len = sqe_len(op.buf.bytes_init());
        opcode::Write::new(Fd(op.fd.as_raw_fd()), op.buf.stable_ptr(), len)
            .offset(op.offset)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> BufResult<usize, B> {
        (result.map(|n| n as usize), self.0.buf)
    }

    fn fallback(&self) -> Fallback {
        self.0.fallback(mio::Interest::WRITABLE)
    }

    fn perform(&mut self) -> i32 {
        let op = &self.0;
        let offset = match file_offset(op.offset) {
            Ok(offset) => offset,
            Err(res) => return res,
        };
        let (kind, len) = (op.kind(), op.buf.bytes_init());
        // SAFETY: the buffer's first `bytes_init()` bytes are initialized
        // and stay put while the op owns it.
        unsafe { kind.write(op.fd.as_raw_fd(), op.buf.stable_ptr(), len, offset) }
    }

    fn completes_inline(&self) -> bool {
        true
    }
}
