//! The epoll reactor: one thread per runtime that waits in `epoll_wait`
//! (through mio) and wakes the tasks whose descriptors became ready.
//!
//! # One registration per wait
//!
//! A task that must wait registers a *duplicate* of the descriptor
//! (`F_DUPFD_CLOEXEC`) under a token that is never reused, and the
//! registration is removed (and the duplicate closed) as soon as the wait
//! ends or its future is dropped. That costs a `dup`, two `epoll_ctl` and a
//! `close` per wait, and buys what a long-lived registration per fd would
//! have to track by hand:
//!
//! * several waits on one socket (a reader and a writer, two accepts) are
//!   several registrations, which epoll refuses for one fd number but takes
//!   for distinct duplicates;
//! * nothing goes stale when a descriptor is closed and its number reused:
//!   the registration belonged to the duplicate, which we close ourselves;
//! * an event that `epoll_wait` returned just before the registration was
//!   removed names a token nobody holds any more, and is ignored.
//!
//! mio registers edge-triggered; adding a registration for a descriptor
//! that is already ready reports it at once, so a readiness change between
//! the failed attempt and the registration is not lost.
//!
//! # Shutdown
//!
//! [`Reactor::shutdown`] marks the reactor closed, wakes every waiting task
//! (which retries its call and, if still not ready, fails with
//! `ECANCELED` because a closed reactor takes no new registration), and
//! joins the thread.

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::thread;

/// The token of the reactor's own wake-up (shutdown).
const WAKE: Token = Token(0);

/// Events taken from the kernel per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 256;

/// The epoll side of an epoll-driven runtime.
pub(crate) struct Reactor {
    registry: Registry,
    wake: mio::Waker,
    state: Mutex<State>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

struct State {
    waits: HashMap<usize, Wait>,
    /// The next token; tokens are never reused (see the module docs).
    next_token: usize,
    shut_down: bool,
}

/// One registered wait.
struct Wait {
    ready: bool,
    waker: Option<Waker>,
}

impl Reactor {
    /// Creates the epoll instance and starts its thread, named
    /// `{thread_name}-epoll`.
    pub(crate) fn start(thread_name: &str) -> io::Result<Arc<Reactor>> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let wake = mio::Waker::new(poll.registry(), WAKE)?;
        let reactor = Arc::new(Reactor {
            registry,
            wake,
            state: Mutex::new(State {
                waits: HashMap::new(),
                next_token: WAKE.0 + 1,
                shut_down: false,
            }),
            thread: Mutex::new(None),
        });
        let thread = thread::Builder::new()
            .name(format!("{thread_name}-epoll"))
            .spawn({
                let reactor = reactor.clone();
                move || reactor.run(poll)
            })?;
        *reactor.thread.lock() = Some(thread);
        Ok(reactor)
    }

    /// The reactor thread: waits for events and wakes their tasks until
    /// shutdown.
    fn run(&self, mut poll: Poll) {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        let mut wakers = Vec::new();
        loop {
            if let Err(err) = poll.poll(&mut events, None) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Not expected from a valid epoll fd; waiting tasks must
                // not hang on a reactor that is gone.
                eprintln!("runtime: epoll_wait failed, I/O stops: {err}");
                self.shutdown_without_join();
                return;
            }
            let shut_down = {
                let mut state = self.state.lock();
                for event in events.iter() {
                    if let Some(wait) = state.waits.get_mut(&event.token().0) {
                        wait.ready = true;
                        wakers.extend(wait.waker.take());
                    }
                }
                state.shut_down
            };
            // Woken outside the lock: a waker may poll and register again.
            for waker in wakers.drain(..) {
                waker.wake();
            }
            if shut_down {
                return;
            }
        }
    }

    /// Registers a wait for `interest` on `fd` on behalf of the task of
    /// `cx`. Fails with `ECANCELED` after shutdown, and with epoll's error
    /// for a descriptor it cannot watch (`EPERM` for a regular file).
    pub(crate) fn register(
        self: &Arc<Self>,
        fd: RawFd,
        interest: Interest,
        cx: &Context<'_>,
    ) -> io::Result<Registration> {
        // SAFETY: `fcntl(F_DUPFD_CLOEXEC)` only reads the descriptor number;
        // a closed or invalid `fd` makes it fail with `EBADF`.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the new descriptor was just created for us alone.
        let dup = unsafe { OwnedFd::from_raw_fd(dup) };
        let token = {
            let mut state = self.state.lock();
            if state.shut_down {
                return Err(io::Error::from_raw_os_error(libc::ECANCELED));
            }
            let token = state.next_token;
            state.next_token += 1;
            let wait = Wait {
                ready: false,
                waker: Some(cx.waker().clone()),
            };
            state.waits.insert(token, wait);
            token
        };
        let registration = Registration {
            reactor: self.clone(),
            token,
            fd: dup,
        };
        // Registered after the wait exists, so an event for it always
        // finds it. On failure, dropping `registration` undoes the insert.
        let raw = registration.fd.as_raw_fd();
        self.registry
            .register(&mut SourceFd(&raw), Token(token), interest)?;
        Ok(registration)
    }

    /// Wakes every waiting task, takes no new registration, and stops and
    /// joins the thread. Idempotent.
    pub(crate) fn shutdown(&self) {
        self.shutdown_without_join();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }

    fn shutdown_without_join(&self) {
        let wakers: Vec<Waker> = {
            let mut state = self.state.lock();
            state.shut_down = true;
            state
                .waits
                .values_mut()
                .filter_map(|wait| {
                    wait.ready = true;
                    wait.waker.take()
                })
                .collect()
        };
        for waker in wakers {
            waker.wake();
        }
        if let Err(err) = self.wake.wake() {
            eprintln!("runtime: cannot wake the epoll thread: {err}");
        }
    }

    /// Waits registered right now (for tests).
    #[cfg(test)]
    pub(crate) fn waits(&self) -> usize {
        self.state.lock().waits.len()
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Reactor")
            .field("waits", &state.waits.len())
            .field("shut_down", &state.shut_down)
            .finish_non_exhaustive()
    }
}

/// A registered wait; dropping it removes the registration.
pub(crate) struct Registration {
    reactor: Arc<Reactor>,
    token: usize,
    /// The duplicate descriptor that is registered.
    fd: OwnedFd,
}

impl Registration {
    /// Whether the descriptor became ready (or the reactor shut down);
    /// if not, the task of `cx` is woken when it does.
    pub(crate) fn poll_ready(&self, cx: &Context<'_>) -> bool {
        let mut state = self.reactor.state.lock();
        let Some(wait) = state.waits.get_mut(&self.token) else {
            return true;
        };
        if wait.ready {
            return true;
        }
        match &mut wait.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        false
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let raw = self.fd.as_raw_fd();
        // Fails only if the registration never happened (`register`
        // failed); nothing to undo then.
        let _ = self.reactor.registry.deregister(&mut SourceFd(&raw));
        let wait = self.reactor.state.lock().waits.remove(&self.token);
        // A waker may be anything; it is dropped outside the lock.
        drop(wait);
        // `self.fd`, the duplicate, closes after this.
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}
