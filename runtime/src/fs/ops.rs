//! The file-system operations: [`OpData`] implementations for opening,
//! syncing, inspecting and closing files. (Reads and writes are the
//! driver's `Read` and `Write`.)

use super::Metadata;
use crate::driver::{syscall_res, Fallback, OpData};
use io_uring::types::{Fd, FsyncFlags};
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// `openat(2)` relative to the current directory; resolves to the new fd.
///
/// `O_CLOEXEC` is always added to the flags, as std does.
#[derive(Debug)]
pub(crate) struct OpenAt {
    path: CString,
    flags: i32,
    mode: libc::mode_t,
}

impl OpenAt {
    pub(crate) fn new(path: CString, flags: i32, mode: libc::mode_t) -> OpenAt {
        OpenAt { path, flags, mode }
    }
}

impl OpData for OpenAt {
    type Output = io::Result<OwnedFd>;

    fn sqe(&mut self) -> squeue::Entry {
        // The path's bytes live in the CString's heap allocation, owned by
        // the op until the kernel has answered.
        opcode::OpenAt::new(Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags | libc::O_CLOEXEC)
            .mode(self.mode)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<OwnedFd> {
        let fd = result?;
        let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("openat returned a bad fd"))?;
        // SAFETY: a successful openat returns a new descriptor that nothing
        // else owns; from here on the `OwnedFd` does (and closes it when
        // dropped, also when the future that wanted it is gone).
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn fallback(&self) -> Fallback {
        Fallback::Blocking
    }

    fn perform(&mut self) -> i32 {
        let flags = self.flags | libc::O_CLOEXEC;
        // SAFETY: the path is a valid NUL-terminated string owned by the op.
        let ret = unsafe {
            libc::openat(
                libc::AT_FDCWD,
                self.path.as_ptr(),
                flags,
                libc::c_uint::from(self.mode),
            )
        };
        syscall_res(ret as isize)
    }
}

/// `fsync(2)`, or `fdatasync(2)` with `data_only`.
#[derive(Debug)]
pub(crate) struct Fsync<F> {
    fd: F,
    data_only: bool,
}

impl<F> Fsync<F> {
    pub(crate) fn new(fd: F, data_only: bool) -> Fsync<F> {
        Fsync { fd, data_only }
    }
}

impl<F: AsRawFd + Send + 'static> OpData for Fsync<F> {
    type Output = io::Result<()>;

    fn sqe(&mut self) -> squeue::Entry {
        let flags = if self.data_only {
            FsyncFlags::DATASYNC
        } else {
            FsyncFlags::empty()
        };
        opcode::Fsync::new(Fd(self.fd.as_raw_fd()))
            .flags(flags)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<()> {
        result.map(drop)
    }

    fn fallback(&self) -> Fallback {
        Fallback::Blocking
    }

    fn perform(&mut self) -> i32 {
        let fd = self.fd.as_raw_fd();
        // SAFETY: neither call takes a pointer.
        let ret = unsafe {
            if self.data_only {
                libc::fdatasync(fd)
            } else {
                libc::fsync(fd)
            }
        };
        syscall_res(ret as isize)
    }
}

/// `statx(2)` of an open file (`AT_EMPTY_PATH` on its fd) or of a path;
/// resolves to its [`Metadata`].
#[derive(Debug)]
pub(crate) struct Statx<F> {
    /// The file, or `None` for a path relative to the current directory.
    fd: Option<F>,
    /// Empty with `fd`.
    path: CString,
    flags: i32,
    /// Boxed so the kernel's pointer into it survives moves of the op.
    buf: Box<MaybeUninit<libc::statx>>,
}

/// What we ask statx for: what `stat(2)` has, and the creation time.
const STATX_MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

/// The buffer the kernel fills. Zeroed rather than left uninitialized: the
/// kernel writes it through io_uring, which valgrind's memcheck cannot see,
/// and 256 zeroed bytes per call keep every use of the metadata (the size
/// hint of `fs::read`) from being reported as uninitialized there.
fn statx_buf() -> Box<MaybeUninit<libc::statx>> {
    Box::new(MaybeUninit::zeroed())
}

impl<F> Statx<F> {
    /// The metadata of the open file `fd`.
    pub(crate) fn fd(fd: F) -> Statx<F> {
        Statx {
            fd: Some(fd),
            path: CString::default(),
            flags: libc::AT_EMPTY_PATH,
            buf: statx_buf(),
        }
    }

    /// The metadata of what `path` names, following symlinks.
    pub(crate) fn path(path: CString) -> Statx<F> {
        Statx {
            fd: None,
            path,
            flags: 0,
            buf: statx_buf(),
        }
    }
}

impl<F: AsRawFd + Send + 'static> OpData for Statx<F> {
    type Output = io::Result<Metadata>;

    fn sqe(&mut self) -> squeue::Entry {
        let dirfd = self.fd.as_ref().map_or(libc::AT_FDCWD, F::as_raw_fd);
        opcode::Statx::new(
            Fd(dirfd),
            self.path.as_ptr(),
            self.buf.as_mut_ptr().cast::<types::statx>(),
        )
        .flags(self.flags)
        .mask(STATX_MASK)
        .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<Metadata> {
        result?;
        // SAFETY: a successful statx filled the whole `struct statx` (the
        // kernel writes every field, zeroing those it has no value for).
        let statx = unsafe { self.buf.assume_init_read() };
        Ok(Metadata::from_statx(statx))
    }

    fn fallback(&self) -> Fallback {
        Fallback::Blocking
    }

    fn perform(&mut self) -> i32 {
        let dirfd = self.fd.as_ref().map_or(libc::AT_FDCWD, F::as_raw_fd);
        // SAFETY: the path is a valid NUL-terminated string and the buffer
        // a boxed `struct statx`, both owned by the op.
        let ret = unsafe {
            libc::statx(
                dirfd,
                self.path.as_ptr(),
                self.flags,
                STATX_MASK,
                self.buf.as_mut_ptr(),
            )
        };
        syscall_res(ret as isize)
    }
}

/// `close(2)` of a descriptor the op owns; resolves to the kernel's
/// verdict.
#[derive(Debug)]
pub(crate) struct Close {
    /// `None` once the kernel has taken the descriptor.
    fd: Option<OwnedFd>,
}

impl Close {
    pub(crate) fn new(fd: OwnedFd) -> Close {
        Close { fd: Some(fd) }
    }
}

impl Close {
    /// Closes the descriptor synchronously, for when the op cannot be
    /// started.
    pub(crate) fn close_now(mut self) -> io::Result<()> {
        close_now(self.fd.take().expect("a new close has its fd"))
    }
}

/// `close(2)`, reporting its error (dropping an `OwnedFd` ignores it).
fn close_now(fd: OwnedFd) -> io::Result<()> {
    let fd = fd.into_raw_fd();
    // SAFETY: `fd` was owned by the `OwnedFd` just taken apart; nothing
    // else closes or uses it. Linux releases the number even when close
    // fails, so it must not be closed again either way.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl OpData for Close {
    type Output = io::Result<()>;

    fn sqe(&mut self) -> squeue::Entry {
        let fd = self.fd.as_ref().expect("a new close has its fd");
        opcode::Close::new(Fd(fd.as_raw_fd())).build()
    }

    fn complete(mut self, result: io::Result<u32>, _flags: u32) -> io::Result<()> {
        let Some(fd) = self.fd.take() else {
            // `perform` closed it (the epoll driver).
            return result.map(drop);
        };
        match result {
            // The op never ran (the runtime shut down, or it was cancelled
            // before the kernel started it): the descriptor is still open
            // and still ours. Close it here, synchronously (close is cheap),
            // and report that instead.
            Err(err) if err.raw_os_error() == Some(libc::ECANCELED) => close_now(fd),
            // Otherwise the kernel has released the descriptor, even when
            // it reports an error (as `close(2)` does on Linux): forget the
            // number, it may already belong to someone else.
            result => {
                let _ = fd.into_raw_fd();
                result.map(drop)
            }
        }
    }

    fn fallback(&self) -> Fallback {
        Fallback::Blocking
    }

    fn perform(&mut self) -> i32 {
        let fd = self
            .fd
            .take()
            .expect("a close is performed once")
            .into_raw_fd();
        // SAFETY: `fd` came out of the op's `OwnedFd`; nothing else closes
        // or uses it, and it is not used again whatever `close` says.
        let ret = unsafe { libc::close(fd) };
        syscall_res(ret as isize)
    }
}
