//! The few socket calls made outside the ring, and socket addresses in the
//! kernel's layout.
//!
//! `socket`, `bind`, `listen` and `setsockopt` never block, so they are
//! plain system calls; everything that may wait (accept, connect, send,
//! receive, shutdown) is an op (`ops.rs`): on io_uring, or tried without
//! blocking by the epoll driver.

use std::ffi::c_int;
use std::fmt;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Backlog of every listening socket.
pub(crate) const BACKLOG: c_int = 1024;

/// Turns a `-1` return into the thread's `errno`.
fn cvt(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Sets `O_NONBLOCK` on `fd` if it is not set yet, for the epoll driver's
/// accept and connect (which have no per-call "don't wait" flag). Returns
/// `-errno` on failure, as a CQE would.
pub(crate) fn set_nonblocking(fd: std::os::fd::RawFd) -> Result<(), i32> {
    let fail = || {
        -io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    // SAFETY: `F_GETFL` takes no pointer; a bad fd fails with `EBADF`.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(fail());
    }
    if flags & libc::O_NONBLOCK != 0 {
        return Ok(());
    }
    // SAFETY: as above; `F_SETFL` takes an integer.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(fail());
    }
    Ok(())
}

/// A new socket (`SOCK_CLOEXEC` added to `ty`), owned.
pub(crate) fn socket(domain: c_int, ty: c_int) -> io::Result<OwnedFd> {
    // SAFETY: `socket(2)` takes no pointers.
    let fd = cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Two connected sockets (`SOCK_CLOEXEC` added to `ty`), owned.
pub(crate) fn socketpair(domain: c_int, ty: c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [c_int; 2] = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors the kernel writes.
    cvt(unsafe { libc::socketpair(domain, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    // SAFETY: the kernel just returned these descriptors; nothing else owns
    // them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `SO_REUSEADDR`, so that a listener can be rebound at once after a
/// restart (connections of the previous one in `TIME_WAIT` do not block
/// it); a port with a live listener still fails with `AddrInUse`.
pub(crate) fn set_reuseaddr(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1 as c_int)
}

/// A socket option's value type: plain C data the kernel reads and writes
/// as bytes.
///
/// # Safety
///
/// Every bit pattern of the type's size is a valid value (the kernel may
/// write any), and it has no padding the kernel could be shown.
pub(crate) unsafe trait OptValue: Copy {}

// SAFETY: an integer: every bit pattern is valid, no padding.
unsafe impl OptValue for c_int {}
// SAFETY: two `c_int`s: every bit pattern is valid, no padding.
unsafe impl OptValue for libc::linger {}

/// `setsockopt(fd, level, name, &value)`.
pub(crate) fn set_opt<T: OptValue>(
    fd: BorrowedFd<'_>,
    level: c_int,
    name: c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live `T` and its exact size; the kernel
    // only reads it.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `getsockopt(fd, level, name)` of a `T`.
pub(crate) fn opt<T: OptValue>(fd: BorrowedFd<'_>, level: c_int, name: c_int) -> io::Result<T> {
    let mut value = mem::MaybeUninit::<T>::zeroed();
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` has room for a `T` and `len` says so; the kernel
    // writes at most `len` bytes and updates `len`.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    // SAFETY: zeroed, then (partly) written by the kernel: either way a
    // valid `T`, which any bit pattern is (`OptValue`).
    Ok(unsafe { value.assume_init() })
}

/// A boolean option (`int` 0 or 1).
pub(crate) fn set_flag(fd: BorrowedFd<'_>, level: c_int, name: c_int, on: bool) -> io::Result<()> {
    set_opt(fd, level, name, c_int::from(on))
}

pub(crate) fn flag(fd: BorrowedFd<'_>, level: c_int, name: c_int) -> io::Result<bool> {
    Ok(opt::<c_int>(fd, level, name)? != 0)
}

/// `SO_LINGER`: `None` turns it off; `Some(d)` lingers `d`, in whole
/// seconds (rounded down, at most `c_int::MAX`).
pub(crate) fn set_linger(
    fd: BorrowedFd<'_>,
    linger: Option<std::time::Duration>,
) -> io::Result<()> {
    let value = libc::linger {
        l_onoff: c_int::from(linger.is_some()),
        l_linger: linger.map_or(0, |d| c_int::try_from(d.as_secs()).unwrap_or(c_int::MAX)),
    };
    set_opt(fd, libc::SOL_SOCKET, libc::SO_LINGER, value)
}

pub(crate) fn linger(fd: BorrowedFd<'_>) -> io::Result<Option<std::time::Duration>> {
    let value: libc::linger = opt(fd, libc::SOL_SOCKET, libc::SO_LINGER)?;
    Ok((value.l_onoff != 0).then(|| std::time::Duration::from_secs(value.l_linger.max(0) as u64)))
}

pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr` holds a valid address of `addr.len()` bytes.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr(), addr.len()) })?;
    Ok(())
}

/// The address `fd` is bound to (`getsockname(2)`).
pub(crate) fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SockAddr> {
    let mut addr = SockAddr::empty();
    // SAFETY: `addr` has room for any address, and its length says so; the
    // kernel writes the address and its length.
    cvt(unsafe { libc::getsockname(fd.as_raw_fd(), addr.as_mut_ptr(), addr.len_mut()) })?;
    Ok(addr)
}

pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: c_int) -> io::Result<()> {
    // SAFETY: `listen(2)` takes no pointers.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(())
}

/// `shutdown(fd, SHUT_WR)` as a plain call (it never blocks), for a write
/// half dropped where nothing can await an op. Its failure (the peer reset
/// the connection, it was shut down already) has nobody to go to.
pub(crate) fn shutdown_write(fd: std::os::fd::RawFd) {
    // SAFETY: `shutdown(2)` takes no pointers; a bad fd fails with `EBADF`.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}

/// The address family of an IP socket address.
pub(crate) fn domain_of(addr: &SocketAddr) -> c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// A socket address as the kernel reads and writes it: a
/// `sockaddr_storage` (room and alignment for every family) and the length
/// in use.
#[derive(Clone, Copy)]
pub(crate) struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    /// Room for the kernel to write any address into (accept, recvmsg).
    pub(crate) fn empty() -> SockAddr {
        SockAddr {
            // SAFETY: `sockaddr_storage` is a plain C struct of integers, for
            // which all zeroes is a valid value.
            storage: unsafe { mem::zeroed() },
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// Copies a concrete `sockaddr_*` into the storage.
    fn from_raw<T>(raw: T) -> SockAddr {
        const {
            assert!(mem::size_of::<T>() <= mem::size_of::<libc::sockaddr_storage>());
            assert!(mem::align_of::<T>() <= mem::align_of::<libc::sockaddr_storage>());
        }
        let mut addr = SockAddr::empty();
        // SAFETY: `sockaddr_storage` is large and aligned enough for any
        // socket address type (checked above for this one), and `T` is a
        // plain C struct.
        unsafe { (&raw mut addr.storage).cast::<T>().write(raw) };
        addr.len = mem::size_of::<T>() as libc::socklen_t;
        addr
    }

    /// Reads the storage as the concrete `sockaddr_*` `T`, if the length
    /// says it holds one.
    fn read_raw<T: Copy>(&self) -> Option<T> {
        if (self.len as usize) < mem::size_of::<T>() {
            return None;
        }
        // SAFETY: as in `from_raw`, the storage can hold a `T`; every bit
        // pattern is a valid value of these integer-only C structs.
        Some(unsafe { (&raw const self.storage).cast::<T>().read() })
    }

    /// An IP address in the kernel's layout (network byte order).
    pub(crate) fn from_inet(addr: &SocketAddr) -> SockAddr {
        match addr {
            SocketAddr::V4(a) => SockAddr::from_raw(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(a) => SockAddr::from_raw(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            }),
        }
    }

    /// A Unix socket path. Abstract names (a leading NUL) are not
    /// supported; the path must fit in `sun_path` with its final NUL.
    pub(crate) fn from_path(path: &Path) -> io::Result<SockAddr> {
        let bytes = path.as_os_str().as_bytes();
        // SAFETY: `sockaddr_un` is a plain C struct of integers, for which
        // all zeroes is a valid value.
        let mut raw: libc::sockaddr_un = unsafe { mem::zeroed() };
        if bytes.is_empty() || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix socket path must be non-empty and contain no NUL byte",
            ));
        }
        if bytes.len() >= raw.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix socket path must be shorter than 108 bytes",
            ));
        }
        raw.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, &src) in raw.sun_path.iter_mut().zip(bytes) {
            *dst = src as libc::c_char;
        }
        let mut addr = SockAddr::from_raw(raw);
        // The family, the path and its terminating NUL.
        addr.len =
            (mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1) as libc::socklen_t;
        Ok(addr)
    }

    /// Back to an IP address; an error for another family.
    pub(crate) fn as_inet(&self) -> io::Result<SocketAddr> {
        match self.storage.ss_family as c_int {
            libc::AF_INET => {
                if let Some(raw) = self.read_raw::<libc::sockaddr_in>() {
                    let ip = Ipv4Addr::from(raw.sin_addr.s_addr.to_ne_bytes());
                    let port = u16::from_be(raw.sin_port);
                    return Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)));
                }
            }
            libc::AF_INET6 => {
                if let Some(raw) = self.read_raw::<libc::sockaddr_in6>() {
                    let ip = Ipv6Addr::from(raw.sin6_addr.s6_addr);
                    let port = u16::from_be(raw.sin6_port);
                    return Ok(SocketAddr::V6(SocketAddrV6::new(
                        ip,
                        port,
                        raw.sin6_flowinfo,
                        raw.sin6_scope_id,
                    )));
                }
            }
            _ => {}
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "unexpected socket address (family {}, length {})",
                self.storage.ss_family, self.len
            ),
        ))
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&raw mut self.storage).cast()
    }

    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// Where the kernel writes the length of the address it stores.
    pub(crate) fn len_mut(&mut self) -> &mut libc::socklen_t {
        &mut self.len
    }

    /// Sets the length after the kernel wrote an address of `len` bytes
    /// (clamped to the storage).
    pub(crate) fn set_len(&mut self, len: libc::socklen_t) {
        self.len = len.min(mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t);
    }
}

impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_inet() {
            Ok(addr) => fmt::Debug::fmt(&addr, f),
            Err(_) => f
                .debug_struct("SockAddr")
                .field("family", &self.storage.ss_family)
                .field("len", &self.len)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_addresses_round_trip() {
        for text in ["127.0.0.1:80", "[::1]:65535", "0.0.0.0:0", "[fe80::1%7]:9"] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(SockAddr::from_inet(&addr).as_inet().unwrap(), addr);
        }
    }

    #[test]
    fn unix_paths_are_checked() {
        let ok = SockAddr::from_path(Path::new("/tmp/x.sock")).unwrap();
        assert_eq!(ok.len() as usize, 2 + "/tmp/x.sock".len() + 1);
        assert!(ok.as_inet().is_err());
        assert!(SockAddr::from_path(Path::new("")).is_err());
        assert!(SockAddr::from_path(Path::new(&"a".repeat(108))).is_err());
        assert!(SockAddr::from_path(Path::new(&"a".repeat(107))).is_ok());
    }
}
