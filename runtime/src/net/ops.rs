//! Socket operations: [`OpData`] implementations for the ring.
//!
//! Like the driver's own ops, each owns everything the kernel touches while
//! it is in flight — the socket's owner `F` (an `Arc` of the socket, so the
//! descriptor stays open until the completion), the buffer, and the
//! structures the kernel reads or writes (`sockaddr`, `msghdr`, `iovec`),
//! boxed so their addresses do not depend on where the op object lives.
//! The driver keeps the op object alive until the completion is reaped, even
//! if the future is dropped first, so none of these pointers can dangle.

use super::sys::{set_nonblocking, SockAddr};
use crate::driver::{
    read_done, sqe_len, syscall_res, BufResult, Fallback, IoBuf, IoBufMut, OpData, MAX_RW,
};
use io_uring::types::Fd;
use io_uring::{opcode, squeue};
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, RawFd};

/// `connect(2)` to `addr`.
#[derive(Debug)]
pub(crate) struct Connect<F> {
    fd: F,
    addr: Box<SockAddr>,
    /// The epoll driver started a non-blocking connect; its outcome is
    /// read from `SO_ERROR` once the socket is writable.
    in_progress: bool,
}

impl<F> Connect<F> {
    pub(crate) fn new(fd: F, addr: SockAddr) -> Self {
        Connect {
            fd,
            addr: Box::new(addr),
            in_progress: false,
        }
    }
}

/// The outcome of a non-blocking connect that reported `EINPROGRESS`:
/// `0`, `-errno`, or `-EAGAIN` while it is still under way.
fn connect_outcome(fd: RawFd) -> i32 {
    let mut error: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `error` and `len` are valid for writes of an `int` and a
    // `socklen_t`, as `SO_ERROR` needs.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut error).cast(),
            &mut len,
        )
    };
    if ret < 0 {
        return syscall_res(ret as isize);
    }
    if error != 0 {
        return -error;
    }
    // No error yet: connected, or (woken early) still connecting.
    let mut peer = SockAddr::empty();
    // SAFETY: `peer` has room for any address and its length.
    let ret = unsafe { libc::getpeername(fd, peer.as_mut_ptr(), peer.len_mut()) };
    match syscall_res(ret as isize) {
        res if res == -libc::ENOTCONN => -libc::EAGAIN,
        res => res.min(0),
    }
}

impl<F: AsRawFd + Send + 'static> OpData for Connect<F> {
    type Output = io::Result<()>;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Connect::new(Fd(self.fd.as_raw_fd()), self.addr.as_ptr(), self.addr.len()).build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<()> {
        result.map(drop)
    }

    fn fallback(&self) -> Fallback {
        Fallback::writable(&self.fd)
    }

    fn perform(&mut self) -> i32 {
        let fd = self.fd.as_raw_fd();
        if self.in_progress {
            return connect_outcome(fd);
        }
        if let Err(res) = set_nonblocking(fd) {
            return res;
        }
        // SAFETY: the address lives in the op's box, with its length.
        let ret = unsafe { libc::connect(fd, self.addr.as_ptr(), self.addr.len()) };
        match syscall_res(ret as isize) {
            res if res == -libc::EINPROGRESS => {
                self.in_progress = true;
                -libc::EAGAIN
            }
            res => res,
        }
    }
}

/// `recv(2)` into `buf`, from its start up to `bytes_total()` bytes;
/// resolves to the number of bytes received (0: the peer shut down its
/// side) and the buffer, whose received bytes are marked initialized.
/// With `MSG_PEEK` ([`RecvBuf::peek`]) the bytes stay in the socket for the
/// next receive.
#[derive(Debug)]
pub(crate) struct RecvBuf<F, B> {
    fd: F,
    buf: B,
    flags: i32,
}

impl<F, B> RecvBuf<F, B> {
    pub(crate) fn new(fd: F, buf: B) -> Self {
        RecvBuf { fd, buf, flags: 0 }
    }

    /// A receive that leaves the bytes in the socket (`MSG_PEEK`).
    pub(crate) fn peek(fd: F, buf: B) -> Self {
        RecvBuf {
            fd,
            buf,
            flags: libc::MSG_PEEK,
        }
    }
}

impl<F, B> OpData for RecvBuf<F, B>
where
    F: AsRawFd + Send + 'static,
    B: IoBufMut + Send,
{
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> squeue::Entry {
        let len = sqe_len(self.buf.bytes_total());
        opcode::Recv::new(Fd(self.fd.as_raw_fd()), self.buf.stable_mut_ptr(), len)
            .flags(self.flags)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        read_done(self.buf, result)
    }

    fn fallback(&self) -> Fallback {
        Fallback::readable(&self.fd)
    }

    fn perform(&mut self) -> i32 {
        let len = self.buf.bytes_total().min(MAX_RW);
        let ptr = self.buf.stable_mut_ptr().cast();
        let flags = self.flags | libc::MSG_DONTWAIT;
        // SAFETY: the op owns the buffer, which has room for
        // `bytes_total()` bytes; `len` is at most that.
        let ret = unsafe { libc::recv(self.fd.as_raw_fd(), ptr, len, flags) };
        syscall_res(ret)
    }
}

/// `send(2)` of `buf`'s initialized bytes with `MSG_NOSIGNAL` (a closed
/// peer is an `EPIPE` error, never a `SIGPIPE`); resolves to the number of
/// bytes sent and the buffer.
#[derive(Debug)]
pub(crate) struct SendBuf<F, B> {
    fd: F,
    buf: B,
}

impl<F, B> SendBuf<F, B> {
    pub(crate) fn new(fd: F, buf: B) -> Self {
        SendBuf { fd, buf }
    }
}

impl<F, B> OpData for SendBuf<F, B>
where
    F: AsRawFd + Send + 'static,
    B: IoBuf + Send,
{
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> squeue::Entry {
        let len = sqe_len(self.buf.bytes_init());
        opcode::Send::new(Fd(self.fd.as_raw_fd()), self.buf.stable_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        (result.map(|n| n as usize), self.buf)
    }

    fn fallback(&self) -> Fallback {
        Fallback::writable(&self.fd)
    }

    fn perform(&mut self) -> i32 {
        let len = self.buf.bytes_init().min(MAX_RW);
        let ptr = self.buf.stable_ptr().cast();
        let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        // SAFETY: the buffer's first `bytes_init()` bytes are initialized
        // and owned by the op; `len` is at most that.
        let ret = unsafe { libc::send(self.fd.as_raw_fd(), ptr, len, flags) };
        syscall_res(ret)
    }

    fn completes_inline(&self) -> bool {
        true
    }

    fn tries_first(&self) -> bool {
        true
    }
}

/// What `sendmsg(2)` / `recvmsg(2)` read and write besides the data: the
/// header, its one `iovec`, and the peer's address. One heap allocation,
/// which the header points into.
struct MsgParts {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddr,
}

// SAFETY: the raw pointers in `hdr` and `iov` point into this same
// allocation and into the op's buffer, both owned by the op that owns this
// value; they are only dereferenced by the kernel while the op is in
// flight. Moving the value to another thread does not invalidate them.
unsafe impl Send for MsgParts {}

impl MsgParts {
    fn new(addr: SockAddr) -> Box<MsgParts> {
        Box::new(MsgParts {
            // SAFETY: `msghdr` is a plain C struct of integers and raw
            // pointers, for which all zeroes (null pointers, no control
            // data) is a valid value.
            hdr: unsafe { mem::zeroed() },
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            addr,
        })
    }

    /// Points the header at the address and at one `iovec` of `len` bytes
    /// at `base`; returns the header's address.
    fn prepare(&mut self, base: *mut u8, len: usize) -> *mut libc::msghdr {
        self.iov = libc::iovec {
            iov_base: base.cast(),
            iov_len: len,
        };
        self.hdr.msg_name = self.addr.as_mut_ptr().cast();
        self.hdr.msg_namelen = self.addr.len();
        self.hdr.msg_iov = &raw mut self.iov;
        self.hdr.msg_iovlen = 1;
        &raw mut self.hdr
    }
}

impl std::fmt::Debug for MsgParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgParts")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// `sendmsg(2)` of `buf`'s initialized bytes to `addr` (a datagram),
/// with `MSG_NOSIGNAL`.
#[derive(Debug)]
pub(crate) struct SendTo<F, B> {
    fd: F,
    buf: B,
    msg: Box<MsgParts>,
}

impl<F, B> SendTo<F, B> {
    pub(crate) fn new(fd: F, buf: B, addr: SockAddr) -> Self {
        SendTo {
            fd,
            buf,
            msg: MsgParts::new(addr),
        }
    }
}

impl<F, B> OpData for SendTo<F, B>
where
    F: AsRawFd + Send + 'static,
    B: IoBuf + Send,
{
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> squeue::Entry {
        // The kernel only reads through `iov_base` for a send.
        let base = self.buf.stable_ptr().cast_mut();
        let hdr = self.msg.prepare(base, self.buf.bytes_init());
        opcode::SendMsg::new(Fd(self.fd.as_raw_fd()), hdr)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        (result.map(|n| n as usize), self.buf)
    }

    fn fallback(&self) -> Fallback {
        Fallback::writable(&self.fd)
    }

    fn perform(&mut self) -> i32 {
        let base = self.buf.stable_ptr().cast_mut();
        let hdr = self.msg.prepare(base, self.buf.bytes_init().min(MAX_RW));
        let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        // SAFETY: `hdr` points into the op's `MsgParts`, at its address and
        // one iovec over the buffer's initialized bytes; the kernel only
        // reads through them for a send.
        let ret = unsafe { libc::sendmsg(self.fd.as_raw_fd(), hdr, flags) };
        syscall_res(ret)
    }

    fn completes_inline(&self) -> bool {
        true
    }

    fn tries_first(&self) -> bool {
        true
    }
}

/// `recvmsg(2)` of one datagram into `buf` (from its start, up to
/// `bytes_total()`; the rest of a longer datagram is discarded); resolves
/// to the byte count and the sender's address.
#[derive(Debug)]
pub(crate) struct RecvFrom<F, B> {
    fd: F,
    buf: B,
    msg: Box<MsgParts>,
}

impl<F, B> RecvFrom<F, B> {
    pub(crate) fn new(fd: F, buf: B) -> Self {
        RecvFrom {
            fd,
            buf,
            msg: MsgParts::new(SockAddr::empty()),
        }
    }
}

impl<F, B> OpData for RecvFrom<F, B>
where
    F: AsRawFd + Send + 'static,
    B: IoBufMut + Send,
{
    type Output = BufResult<(usize, SockAddr), B>;

    fn sqe(&mut self) -> squeue::Entry {
        let base = self.buf.stable_mut_ptr();
        let hdr = self.msg.prepare(base, self.buf.bytes_total());
        opcode::RecvMsg::new(Fd(self.fd.as_raw_fd()), hdr).build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        // One iovec over the whole buffer: the data is a read into `buf`.
        let (result, buf) = read_done(self.buf, result);
        match result {
            Ok(n) => {
                // The kernel wrote the sender's address and its length.
                let mut addr = self.msg.addr;
                addr.set_len(self.msg.hdr.msg_namelen);
                (Ok((n, addr)), buf)
            }
            Err(err) => (Err(err), buf),
        }
    }

    fn fallback(&self) -> Fallback {
        Fallback::readable(&self.fd)
    }

    fn perform(&mut self) -> i32 {
        // A fresh address each try: `prepare` resets the length the kernel
        // may write back.
        self.msg.addr = SockAddr::empty();
        let base = self.buf.stable_mut_ptr();
        let hdr = self.msg.prepare(base, self.buf.bytes_total().min(MAX_RW));
        // SAFETY: `hdr` points into the op's `MsgParts` (room for any
        // address) and at one iovec over the op's buffer, `bytes_total()`
        // bytes long at most.
        let ret = unsafe { libc::recvmsg(self.fd.as_raw_fd(), hdr, libc::MSG_DONTWAIT) };
        syscall_res(ret)
    }
}

/// `shutdown(2)` of one or both directions.
#[derive(Debug)]
pub(crate) struct Shutdown<F> {
    fd: F,
    how: i32,
}

impl<F> Shutdown<F> {
    pub(crate) fn new(fd: F, how: std::net::Shutdown) -> Self {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        Shutdown { fd, how }
    }
}

impl<F: AsRawFd + Send + 'static> OpData for Shutdown<F> {
    type Output = io::Result<()>;

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Shutdown::new(Fd(self.fd.as_raw_fd()), self.how).build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<()> {
        result.map(drop)
    }

    fn fallback(&self) -> Fallback {
        Fallback::Immediate
    }

    fn perform(&mut self) -> i32 {
        // SAFETY: `shutdown(2)` takes no pointers.
        let ret = unsafe { libc::shutdown(self.fd.as_raw_fd(), self.how) };
        syscall_res(ret as isize)
    }
}
