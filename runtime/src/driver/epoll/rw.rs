//! Reads and writes without a ring: what kind of descriptor an op's fd is,
//! and the one system call that transfers without blocking a worker.
//!
//! | descriptor | how | why |
//! |---|---|---|
//! | regular file, block device | `pread`/`pwrite` on the blocking pool | never "not ready", but may take a disk's time |
//! | anything in `O_NONBLOCK` mode | `read`/`write` after readiness | the mode already forbids waiting |
//! | socket, or pipe (when the kernel supports it) in blocking mode | `preadv2`/`pwritev2` with `RWF_NOWAIT` after readiness | "don't wait" per call, without changing a mode the descriptor's other users share |
//! | anything else in blocking mode (a terminal, a device) | `read`/`write` on the blocking pool | nothing makes one call non-blocking; like `io::stdin` |
//!
//! The classification is made once per op: `statx` with
//! `AT_STATX_DONT_SYNC` (no round trip to a network file system's server)
//! and `F_GETFL`.

use crate::driver::op::Fallback;
use crate::driver::ops::{syscall_res, MAX_RW};
use std::os::fd::RawFd;
use std::sync::OnceLock;

/// How a read or write on one descriptor is carried out (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// A regular file or block device.
    File,
    /// In `O_NONBLOCK` mode.
    Nonblocking,
    /// Blocking mode, but `RWF_NOWAIT` makes one call non-blocking.
    NoWait,
    /// Blocking mode, and nothing to make a call non-blocking.
    Blocking,
}

impl FdKind {
    /// Classifies `fd`. One it cannot inspect counts as a file: the call
    /// (on the pool) then reports the error.
    pub(crate) fn of(fd: RawFd) -> FdKind {
        let Some(mode) = file_type(fd) else {
            return FdKind::File;
        };
        if mode == libc::S_IFREG || mode == libc::S_IFBLK {
            return FdKind::File;
        }
        // SAFETY: `F_GETFL` takes no pointer; a bad fd fails with `EBADF`.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
            FdKind::Nonblocking
        } else if mode == libc::S_IFSOCK || (mode == libc::S_IFIFO && pipes_take_nowait()) {
            FdKind::NoWait
        } else {
            FdKind::Blocking
        }
    }

    /// The op's [`Fallback`] for `interest`.
    pub(crate) fn fallback(self, fd: RawFd, interest: mio::Interest) -> Fallback {
        match self {
            FdKind::File | FdKind::Blocking => Fallback::Blocking,
            FdKind::Nonblocking | FdKind::NoWait => Fallback::Readiness { fd, interest },
        }
    }

    /// Reads into `len` bytes at `ptr`, at `offset` on a file (`None`:
    /// its position); CQE-style result.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of `len` bytes for the whole call.
    pub(crate) unsafe fn read(
        self,
        fd: RawFd,
        ptr: *mut u8,
        len: usize,
        offset: Option<libc::off_t>,
    ) -> i32 {
        let (ptr, len) = (ptr.cast::<libc::c_void>(), len.min(MAX_RW));
        // SAFETY: the caller guarantees `ptr` is writable for `len` bytes;
        // the `iovec` lives across the call.
        let ret = unsafe {
            match (self, offset) {
                (FdKind::File, Some(offset)) => libc::pread(fd, ptr, len, offset),
                (FdKind::NoWait, _) => {
                    let iov = libc::iovec {
                        iov_base: ptr,
                        iov_len: len,
                    };
                    libc::preadv2(fd, &iov, 1, -1, libc::RWF_NOWAIT)
                }
                _ => libc::read(fd, ptr, len),
            }
        };
        syscall_res(ret)
    }

    /// Writes `len` bytes from `ptr`, like [`FdKind::read`].
    ///
    /// # Safety
    ///
    /// `ptr` is valid for reads of `len` bytes for the whole call.
    pub(crate) unsafe fn write(
        self,
        fd: RawFd,
        ptr: *const u8,
        len: usize,
        offset: Option<libc::off_t>,
    ) -> i32 {
        let (ptr, len) = (ptr.cast::<libc::c_void>(), len.min(MAX_RW));
        // SAFETY: the caller guarantees `ptr` is readable for `len` bytes;
        // the `iovec` lives across the call (the kernel only reads
        // through it).
        let ret = unsafe {
            match (self, offset) {
                (FdKind::File, Some(offset)) => libc::pwrite(fd, ptr, len, offset),
                (FdKind::NoWait, _) => {
                    let iov = libc::iovec {
                        iov_base: ptr.cast_mut(),
                        iov_len: len,
                    };
                    libc::pwritev2(fd, &iov, 1, -1, libc::RWF_NOWAIT)
                }
                _ => libc::write(fd, ptr, len),
            }
        };
        syscall_res(ret)
    }
}

/// The `S_IFMT` bits of `fd`'s mode, without syncing with a remote server.
fn file_type(fd: RawFd) -> Option<libc::mode_t> {
    let mut statx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    let flags = libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC;
    // SAFETY: an empty NUL-terminated path and room for a `struct statx`.
    let ret = unsafe {
        libc::statx(
            fd,
            c"".as_ptr(),
            flags,
            libc::STATX_TYPE,
            statx.as_mut_ptr(),
        )
    };
    if ret != 0 {
        return None;
    }
    // SAFETY: zero-initialized, then (partly) filled by the kernel: every
    // bit pattern is a valid `statx`.
    let statx = unsafe { statx.assume_init() };
    Some(libc::mode_t::from(statx.stx_mode) & libc::S_IFMT)
}

/// Whether this kernel honours `RWF_NOWAIT` on pipes (5.x kernels added
/// it); probed once on an empty pipe, which then says `EAGAIN`.
fn pipes_take_nowait() -> bool {
    static PROBED: OnceLock<bool> = OnceLock::new();
    *PROBED.get_or_init(|| {
        let mut fds = [-1; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return false;
        }
        let mut byte = 0u8;
        let iov = libc::iovec {
            iov_base: (&raw mut byte).cast(),
            iov_len: 1,
        };
        // SAFETY: one valid `iovec` over `byte`; the pipe is empty, so the
        // call returns at once either way.
        let ret = unsafe { libc::preadv2(fds[0], &iov, 1, -1, libc::RWF_NOWAIT) };
        let answer = syscall_res(ret) == -libc::EAGAIN;
        for fd in fds {
            // SAFETY: both descriptors were created above and are ours.
            unsafe { libc::close(fd) };
        }
        answer
    })
}

#[cfg(test)]
mod test {
    use super::FdKind;
    use std::os::fd::AsRawFd;

    #[test]
    fn descriptors_are_classified_by_type_and_mode() {
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(FdKind::of(file.as_raw_fd()), FdKind::File);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(FdKind::of(a.as_raw_fd()), FdKind::NoWait);
        a.set_nonblocking(true).unwrap();
        assert_eq!(FdKind::of(a.as_raw_fd()), FdKind::Nonblocking);
        // A closed descriptor: the call on the pool reports EBADF.
        assert_eq!(FdKind::of(-1), FdKind::File);
    }

    #[test]
    fn a_blocking_socket_read_does_not_wait() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut buf = [0u8; 8];
        // SAFETY: `buf` is writable for its length.
        let res = unsafe { FdKind::NoWait.read(a.as_raw_fd(), buf.as_mut_ptr(), 8, None) };
        assert_eq!(res, -libc::EAGAIN);
    }
}
