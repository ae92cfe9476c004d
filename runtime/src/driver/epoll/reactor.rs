//! The epoll reactor: one thread per runtime that waits in `epoll_wait`
//! (through mio) and wakes the tasks whose descriptors became ready.
//!
//! # Registrations
//!
//! A descriptor is registered (edge-triggered, as mio does) while at least
//! one task waits on it, under its own number as the token, for the union
//! of what its waits want; the registration is removed when the last wait
//! ends. A wait that joins always re-arms the registration
//! (`EPOLL_CTL_MOD`), and the kernel then re-checks the descriptor's
//! current state: a readiness change between the task's failed attempt
//! and its joining is reported, not lost (the same holds for `ADD`).
//!
//! Each wait is woken only by events that match what it waits for (errors
//! and hang-ups match everything), so a writer is not spun by unread data.
//!
//! A descriptor cannot be closed while it has waits: every wait belongs to
//! an operation that owns the descriptor (or borrows it, for
//! `io::readable`), and drops its wait first. So a registration never
//! outlives its descriptor, and a number is never reused under a live
//! registration. An event that `epoll_wait` returned just before a
//! registration was removed may reach a later registration of the same
//! number: a spurious wake-up, which the woken operation absorbs (it tries
//! its call and waits again).
//!
//! # Shutdown
//!
//! [`Reactor::shutdown`] marks the reactor closed, wakes every waiting task
//! (which retries its call and, if still not ready, fails with
//! `ECANCELED` because a closed reactor takes no new registration), and
//! joins the thread.

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::thread;

/// The token of the reactor's own wake-up (shutdown); never a descriptor
/// number.
const WAKE: Token = Token(usize::MAX);

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
    /// The registered descriptors and the waits on each.
    fds: HashMap<RawFd, Registered>,
    waits: HashMap<u64, Wait>,
    /// The next wait's key; never reused.
    next_key: u64,
    shut_down: bool,
}

/// One registered descriptor.
struct Registered {
    /// What it is registered for: the union of its waits' interests.
    interest: Interest,
    waits: Vec<u64>,
}

/// One task waiting on one descriptor.
struct Wait {
    fd: RawFd,
    interest: Interest,
    ready: bool,
    waker: Option<Waker>,
}

impl Wait {
    fn matches(&self, event: &Event) -> bool {
        let failed = event.is_error() || (event.is_read_closed() && event.is_write_closed());
        failed
            || (self.interest.is_readable() && (event.is_readable() || event.is_read_closed()))
            || (self.interest.is_writable() && (event.is_writable() || event.is_write_closed()))
            || (self.interest.is_priority() && event.is_priority())
    }
}

/// Closes the reactor when its thread ends, however it ends (a waker that
/// panics included): waits must fail, not hang.
struct CloseOnExit<'a>(&'a Reactor);

impl Drop for CloseOnExit<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Reactor {
    /// Creates the epoll instance and starts its thread, `runtime-epoll`.
    pub(crate) fn start() -> io::Result<Arc<Reactor>> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let wake = mio::Waker::new(poll.registry(), WAKE)?;
        let reactor = Arc::new(Reactor {
            registry,
            wake,
            state: Mutex::new(State {
                fds: HashMap::new(),
                waits: HashMap::new(),
                next_key: 0,
                shut_down: false,
            }),
            thread: Mutex::new(None),
        });
        let thread = thread::Builder::new()
            .name("runtime-epoll".to_string())
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
        let _close = CloseOnExit(self);
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        let mut wakers = Vec::new();
        loop {
            if let Err(err) = poll.poll(&mut events, None) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Not expected from a valid epoll fd; waiting tasks must
                // not hang on a reactor that is gone (`_close`).
                eprintln!("runtime: epoll_wait failed, I/O stops: {err}");
                return;
            }
            let shut_down = {
                let mut state = self.state.lock();
                let State { fds, waits, .. } = &mut *state;
                for event in events.iter() {
                    let Ok(fd) = RawFd::try_from(event.token().0) else {
                        continue; // WAKE
                    };
                    let Some(registered) = fds.get(&fd) else {
                        continue; // removed since
                    };
                    for key in &registered.waits {
                        let Some(wait) = waits.get_mut(key) else {
                            continue;
                        };
                        if wait.matches(event) {
                            wait.ready = true;
                            wakers.extend(wait.waker.take());
                        }
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
    /// `cx`; `fd` must stay open until the returned registration is
    /// dropped. Fails with `ECANCELED` after shutdown, and with epoll's
    /// error for a descriptor it cannot watch (`EPERM` for a regular file,
    /// `EBADF` for a closed one).
    pub(crate) fn register(
        self: &Arc<Self>,
        fd: RawFd,
        interest: Interest,
        cx: &Context<'_>,
    ) -> io::Result<Registration> {
        let waker = cx.waker().clone();
        let mut state = self.state.lock();
        if state.shut_down {
            return Err(io::Error::from_raw_os_error(libc::ECANCELED));
        }
        let token =
            Token(usize::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?);
        let source = &mut SourceFd(&fd);
        match state.fds.get_mut(&fd) {
            None => {
                self.registry.register(source, token, interest)?;
                let registered = Registered {
                    interest,
                    waits: Vec::new(),
                };
                state.fds.insert(fd, registered);
            }
            Some(registered) => {
                // Always re-armed, so the kernel re-checks the current
                // state for this wait (see the module docs).
                let union = registered.interest.add(interest);
                match self.registry.reregister(source, token, union) {
                    Ok(()) => registered.interest = union,
                    // Closed and reopened behind our back (a bare fd
                    // number): the old registration went with the old file.
                    Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
                        self.registry.register(source, token, union)?;
                        registered.interest = union;
                    }
                    Err(err) => return Err(err),
                }
            }
        }
        let key = state.next_key;
        state.next_key += 1;
        let wait = Wait {
            fd,
            interest,
            ready: false,
            waker: Some(waker),
        };
        state.waits.insert(key, wait);
        state
            .fds
            .get_mut(&fd)
            .expect("registered just above")
            .waits
            .push(key);
        Ok(Registration {
            reactor: self.clone(),
            key,
        })
    }

    /// [`close`](Reactor::close)s, then joins the thread. Idempotent.
    pub(crate) fn shutdown(&self) {
        self.close();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }

    /// Wakes every waiting task, takes no new registration (waits then
    /// fail with `ECANCELED`), and tells the thread to stop. Idempotent.
    pub(crate) fn close(&self) {
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

    /// Waits registered right now, and descriptors registered (for tests).
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        let state = self.state.lock();
        (state.waits.len(), state.fds.len())
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Reactor")
            .field("waits", &state.waits.len())
            .field("fds", &state.fds.len())
            .field("shut_down", &state.shut_down)
            .finish_non_exhaustive()
    }
}

/// A registered wait; dropping it ends the wait (and the descriptor's
/// registration, if it was the last one).
pub(crate) struct Registration {
    reactor: Arc<Reactor>,
    key: u64,
}

impl Registration {
    /// Whether the descriptor became ready (or the reactor shut down);
    /// if not, the task of `cx` is woken when it does.
    pub(crate) fn poll_ready(&self, cx: &Context<'_>) -> bool {
        let mut state = self.reactor.state.lock();
        let Some(wait) = state.waits.get_mut(&self.key) else {
            return true;
        };
        if wait.ready {
            return true;
        }
        let old = match &mut wait.waker {
            Some(waker) if waker.will_wake(cx.waker()) => None,
            slot => slot.replace(cx.waker().clone()),
        };
        drop(state);
        // A waker may be anything; dropped outside the lock.
        drop(old);
        false
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let reactor = &*self.reactor;
        let mut state = reactor.state.lock();
        let Some(wait) = state.waits.remove(&self.key) else {
            return;
        };
        if let Some(registered) = state.fds.get_mut(&wait.fd) {
            registered.waits.retain(|&key| key != self.key);
            if registered.waits.is_empty() {
                state.fds.remove(&wait.fd);
                // The descriptor is still open (module docs); an error
                // here could only mean it was closed behind our back, and
                // then the kernel dropped the registration already.
                let _ = reactor.registry.deregister(&mut SourceFd(&wait.fd));
            }
        }
        drop(state);
        // A waker may be anything; dropped outside the lock.
        drop(wait);
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
