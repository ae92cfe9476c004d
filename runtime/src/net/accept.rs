//! Accepting without losing connections to cancellation.
//!
//! An accept is a request to the kernel; dropping its future cancels it,
//! but the cancel may arrive after the kernel has already accepted a
//! connection for it. Closing that connection would drop a client that did
//! nothing wrong (and `select!`-style code drops accept futures all the
//! time). So an accepted connection nobody takes goes to the listener's
//! [`Backlog`], and every `accept` looks there first — also while it waits
//! in the kernel, so a connection parked by someone else's cancelled accept
//! is handed to a waiting one at once. The backlog's connections are closed
//! with the listener.
//!
//! # A wake-up spent on a cancelled accept
//!
//! io_uring's accepts wait on the listener as *exclusive* waiters: a new
//! connection wakes one of them, not all. A cancelled accept stays on the
//! listener's wait queue until the cancel's task work runs (after the
//! cancel itself has completed), and a wake-up it receives meanwhile is
//! spent on a request that is going away: the connection stays queued in
//! the kernel while another accept on the listener sleeps on — for good, if
//! no other client comes. (It takes a connection arriving in that window
//! with a second accept already waiting; a `select!` loop with several
//! acceptors, or a cancel and a connect that reach the kernel in one
//! `io_uring_enter`, is enough.)
//!
//! So when a cancelled accept's completion comes back, [`Backlog::recheck`]
//! asks the listener whether a connection is waiting (one `poll(2)`, no
//! blocking); if so it bumps the backlog's *restart* count and wakes the
//! waiting accepts, and each accept started before the bump replaces its op
//! with a new one, whose first, non-blocking attempt takes the queued
//! connection without any wake-up. A lost wake-up is always followed by
//! such a completion (the cancelled request's), so none goes unanswered;
//! the price is a `poll(2)` per cancelled accept. (The epoll driver has no
//! exclusive waiters; there the check finds nothing to do.)

use super::sys::{set_nonblocking, SockAddr};
use crate::driver::{self, syscall_res, Fallback, OpData};
use io_uring::types::Fd;
use io_uring::{opcode, squeue};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, Waker};

/// Connections accepted for nobody, and the accepts waiting for one.
#[derive(Default)]
pub(crate) struct Backlog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    conns: VecDeque<(OwnedFd, SockAddr)>,
    /// Accepts in progress, by id, with their latest waker.
    waiters: Vec<(u64, Waker)>,
    next_id: u64,
    /// Bumped when a connection may sit in the kernel unseen by the accepts
    /// in flight (module docs): those started before must start afresh.
    restarts: u64,
}

impl Backlog {
    fn pop(&self) -> Option<(OwnedFd, SockAddr)> {
        self.inner.lock().conns.pop_front()
    }

    /// Parks a connection and wakes every waiting accept (one takes it;
    /// the others find the backlog empty and wait on).
    fn push(&self, fd: OwnedFd, addr: SockAddr) {
        let mut inner = self.inner.lock();
        inner.conns.push_back((fd, addr));
        Self::wake_all(inner);
    }

    /// Wakes every waiting accept, outside the lock.
    fn wake_all(inner: parking_lot::MutexGuard<'_, Inner>) {
        let waiters = inner
            .waiters
            .iter()
            .map(|(_, waker)| waker.clone())
            .collect::<Vec<_>>();
        drop(inner);
        for waker in waiters {
            waker.wake();
        }
    }

    /// After an accept on listener `fd` was cancelled: if a connection is
    /// waiting in the kernel, the cancelled accept may have taken the
    /// wake-up meant for another one (module docs), so the accepts in
    /// flight start afresh.
    fn recheck(&self, fd: RawFd) {
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`, and a zero timeout: `poll` neither
        // blocks nor keeps the pointer. `fd` is the listener, kept open by
        // the op being completed.
        let ready = unsafe { libc::poll(&mut pollfd, 1, 0) } > 0;
        if ready && pollfd.revents & libc::POLLIN != 0 {
            let mut inner = self.inner.lock();
            inner.restarts += 1;
            Self::wake_all(inner);
        }
    }

    fn restarts(&self) -> u64 {
        self.inner.lock().restarts
    }

    fn register(&self) -> u64 {
        let mut inner = self.inner.lock();
        inner.next_id += 1;
        inner.next_id
    }

    /// Takes a parked connection, or records `waker` for accept `id`.
    fn pop_or_wait(&self, id: u64, waker: &Waker) -> Option<(OwnedFd, SockAddr)> {
        let mut inner = self.inner.lock();
        if let Some(conn) = inner.conns.pop_front() {
            return Some(conn);
        }
        match inner.waiters.iter_mut().find(|(other, _)| *other == id) {
            Some((_, old)) if old.will_wake(waker) => {}
            Some((_, old)) => *old = waker.clone(),
            None => inner.waiters.push((id, waker.clone())),
        }
        None
    }

    fn unregister(&self, id: u64) {
        self.inner.lock().waiters.retain(|(other, _)| *other != id);
    }
}

impl fmt::Debug for Backlog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("Backlog")
            .field("parked", &inner.conns.len())
            .field("waiting", &inner.waiters.len())
            .finish()
    }
}

/// A connection an accept op produced; if it is dropped without being
/// taken, the connection goes to the backlog.
#[derive(Debug)]
pub(crate) struct Accepted {
    conn: Option<(OwnedFd, SockAddr)>,
    backlog: Arc<Backlog>,
}

impl Accepted {
    pub(crate) fn new(fd: OwnedFd, addr: SockAddr, backlog: Arc<Backlog>) -> Accepted {
        Accepted {
            conn: Some((fd, addr)),
            backlog,
        }
    }

    fn take(mut self) -> (OwnedFd, SockAddr) {
        self.conn.take().expect("taken once")
    }
}

impl Drop for Accepted {
    fn drop(&mut self) {
        if let Some((fd, addr)) = self.conn.take() {
            self.backlog.push(fd, addr);
        }
    }
}

/// Removes an accept's waker from the backlog when the accept ends.
struct Registration<'a> {
    backlog: &'a Backlog,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.backlog.unregister(self.id);
    }
}

/// Waits for a connection on the listening socket `fd`: a parked one if
/// there is one, else the next the kernel accepts (or one parked
/// meanwhile).
pub(crate) async fn accept<S>(
    fd: &Arc<S>,
    backlog: &Arc<Backlog>,
) -> io::Result<(OwnedFd, SockAddr)>
where
    S: AsRawFd + Send + Sync + 'static,
{
    if let Some(conn) = backlog.pop() {
        return Ok(conn);
    }
    // Read before the op starts: a restart asked for from now on may be
    // about a wake-up this op missed.
    let mut restarts = backlog.restarts();
    let mut op = driver::submit(Accept::new(fd.clone(), backlog.clone()))?;
    let registration = Registration {
        backlog,
        id: backlog.register(),
    };
    poll_fn(|cx| {
        // A parked connection first; our own op is then dropped, and what
        // it accepts, if anything, is parked in turn.
        if let Some(conn) = registration
            .backlog
            .pop_or_wait(registration.id, cx.waker())
        {
            return Poll::Ready(Ok(conn));
        }
        let now = backlog.restarts();
        if now != restarts {
            restarts = now;
            // The new op is submitted before the old one is dropped
            // (cancelled), so its first attempt comes first; what the old
            // one accepts meanwhile is parked for us.
            match driver::submit(Accept::new(fd.clone(), backlog.clone())) {
                Ok(new) => op = new,
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        match Pin::new(&mut op).poll(cx) {
            Poll::Ready(Ok(accepted)) => Poll::Ready(Ok(accepted.take())),
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// `accept4(2)` with `SOCK_CLOEXEC`: resolves to the new connection's
/// descriptor and the peer's address, as an [`Accepted`] that hands the
/// connection to the listener's [`Backlog`] if nobody takes it (the
/// accept's future was dropped as the connection arrived).
#[derive(Debug)]
pub(crate) struct Accept<F> {
    fd: F,
    addr: Box<SockAddr>,
    backlog: Arc<Backlog>,
}

impl<F> Accept<F> {
    pub(crate) fn new(fd: F, backlog: Arc<Backlog>) -> Self {
        Accept {
            fd,
            addr: Box::new(SockAddr::empty()),
            backlog,
        }
    }
}

impl<F: AsRawFd + Send + 'static> OpData for Accept<F> {
    type Output = io::Result<Accepted>;

    fn sqe(&mut self) -> squeue::Entry {
        let addr = &mut *self.addr;
        let sockaddr = addr.as_mut_ptr();
        opcode::Accept::new(Fd(self.fd.as_raw_fd()), sockaddr, addr.len_mut())
            .flags(libc::SOCK_CLOEXEC)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        if let Err(err) = &result {
            if err.raw_os_error() == Some(libc::ECANCELED) {
                self.backlog.recheck(self.fd.as_raw_fd());
            }
        }
        let fd = result? as RawFd;
        // SAFETY: a successful accept's result is a new descriptor, created
        // for this op alone; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Accepted::new(fd, *self.addr, self.backlog))
    }

    fn fallback(&self) -> Fallback {
        Fallback::readable(&self.fd)
    }

    fn perform(&mut self) -> i32 {
        let fd = self.fd.as_raw_fd();
        if let Err(res) = set_nonblocking(fd) {
            return res;
        }
        *self.addr = SockAddr::empty();
        let addr = &mut *self.addr;
        let sockaddr = addr.as_mut_ptr();
        // SAFETY: `sockaddr` and the length point into the op's boxed
        // `SockAddr`, which has room for any address.
        let ret = unsafe { libc::accept4(fd, sockaddr, addr.len_mut(), libc::SOCK_CLOEXEC) };
        syscall_res(ret as isize)
    }
}
