//! The process-wide part of signal handling: one generation counter per
//! signal number, the handler that bumps it, the self-pipe that wakes the
//! dispatcher thread, and the listeners the dispatcher wakes.
//!
//! The protocol and the reasons behind it are in the parent module's
//! documentation ([`crate::signal`]); this file keeps to the mechanics.
//! Lock order: [`REGISTRY`], then a listener's waker slot. Wakers are woken
//! only after both are released, because a waker may run arbitrary code
//! (a foreign executor's, say), which might create or drop a `Signal` and
//! so take [`REGISTRY`] again.

use parking_lot::Mutex;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Waker;
use std::thread::JoinHandle;

/// One more than the largest signal number Linux has (`_NSIG`): signals
/// are 1..=64, so index 0 is never used.
pub(super) const NSIG: usize = 65;

/// How many times each signal has arrived since the process started, as
/// counted by our handler. Only ever incremented, from the handler, which
/// is why it is a plain atomic (lock-free, so async-signal-safe).
static GENERATIONS: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];

/// The self-pipe's write end, or -1 before the first registration. The
/// handler reads it, so it is an atomic rather than part of [`REGISTRY`]
/// (a handler must not take a lock). Once set it never changes and is never
/// closed: a handler may be running on any thread at any time, and a closed
/// number could be reused by an unrelated file that the handler would then
/// write into.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

static REGISTRY: Mutex<Registry> = Mutex::new(Registry::new());

/// The arrivals of `signum` counted so far. A listener compares it with the
/// count it last returned.
pub(super) fn generation(signum: i32) -> u64 {
    GENERATIONS[signum as usize].load(SeqCst)
}

/// One `Signal`'s half that the dispatcher sees: where to wake it.
#[derive(Debug)]
pub(super) struct Listener {
    signum: i32,
    waker: Mutex<Option<Waker>>,
    /// Set when the dispatcher failed for good; `recv` then says `None`.
    closed: AtomicBool,
}

impl Listener {
    /// Stores the waker the dispatcher wakes on the next arrival. Called by
    /// `poll_recv` before its second look at the generation, so an arrival
    /// in between is either seen by that look or wakes this waker.
    pub(super) fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock();
        match &*slot {
            Some(old) if old.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    /// Whether the dispatcher has stopped for good (see [`fail`]).
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }
}

struct Entry {
    /// Whether our handler is installed for this signal. It stays installed
    /// once it is (see the module docs of `signal` for why).
    installed: bool,
    /// The generation the dispatcher last woke this signal's listeners for.
    /// Only spares wake-ups: a listener never relies on it.
    dispatched: u64,
    listeners: Vec<Arc<Listener>>,
}

struct Registry {
    entries: [Entry; NSIG],
    /// Listeners of every signal; the dispatcher stops when it reaches 0.
    listeners: usize,
    /// The self-pipe's read end (the write end is [`WAKE_FD`]); both are
    /// kept for the life of the process.
    pipe: Option<(OwnedFd, OwnedFd)>,
    /// Whether a dispatcher thread is running (or about to), and its handle
    /// once it decided to stop, so the next start can join it.
    running: bool,
    thread: Option<JoinHandle<()>>,
    /// Why the dispatcher stopped for good, if it did.
    failed: Option<String>,
}

impl Registry {
    const fn new() -> Self {
        Registry {
            entries: [const {
                Entry {
                    installed: false,
                    dispatched: 0,
                    listeners: Vec::new(),
                }
            }; NSIG],
            listeners: 0,
            pipe: None,
            running: false,
            thread: None,
            failed: None,
        }
    }

    /// Creates the self-pipe if there is none yet. The read end blocks (the
    /// dispatcher sleeps in `read`); the write end does not: a handler must
    /// never block, and a full pipe already guarantees a wake-up.
    fn pipe_read_fd(&mut self) -> io::Result<RawFd> {
        if let Some((read, _)) = &self.pipe {
            return Ok(read.as_raw_fd());
        }
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(with_context(
                io::Error::last_os_error(),
                "cannot create the signal pipe",
            ));
        }
        // SAFETY: pipe2 succeeded: both descriptors are new and ours alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_SETFL on a descriptor we own; no pointers involved.
        if unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
            return Err(with_context(
                io::Error::last_os_error(),
                "cannot make the signal pipe non-blocking",
            ));
        }
        let fd = read.as_raw_fd();
        // Published before any handler is installed, so no handler ever
        // sees -1 after its signal could have been delivered to a listener.
        WAKE_FD.store(write.as_raw_fd(), SeqCst);
        self.pipe = Some((read, write));
        Ok(fd)
    }

    /// Installs our handler for `signum` unless it is installed already.
    fn install(&mut self, signum: i32) -> io::Result<()> {
        if self.entries[signum as usize].installed {
            return Ok(());
        }
        // The action is an atomic increment and a non-blocking write(2)
        // (see `on_signal`); signal-hook-registry saves and restores errno
        // around it. `signum` was validated by the caller: it is not one of
        // signal-hook-registry's FORBIDDEN signals, so `register` does not
        // panic.
        // SAFETY: the action is async-signal-safe: no panic, allocation or lock.
        let registered =
            unsafe { signal_hook_registry::register(signum, move || on_signal(signum)) };
        registered.map_err(|err| {
            with_context(
                err,
                &format!("cannot install a handler for signal {signum}"),
            )
        })?;
        self.entries[signum as usize].installed = true;
        Ok(())
    }

    /// Makes sure a dispatcher thread runs, joining one that has stopped.
    fn start_dispatcher(&mut self, read_fd: RawFd) -> io::Result<()> {
        if self.running {
            return Ok(());
        }
        if let Some(old) = self.thread.take() {
            // It released the lock for the last time before exiting and has
            // nothing left to do: this only waits for the thread to end.
            let _ = old.join();
        }
        let thread = std::thread::Builder::new()
            .name("runtime-signal".into())
            .spawn(move || dispatch(read_fd))
            .map_err(|err| with_context(err, "cannot start the signal dispatcher thread"))?;
        self.thread = Some(thread);
        self.running = true;
        Ok(())
    }
}

/// Adds a listener for `signum` (validated by the caller): creates the pipe,
/// installs the handler and starts the dispatcher as needed. Returns the
/// listener and the generation it starts from: arrivals after this call
/// returns are delivered to it.
pub(super) fn register(signum: i32) -> io::Result<(Arc<Listener>, u64)> {
    let mut reg = REGISTRY.lock();
    if let Some(why) = &reg.failed {
        return Err(io::Error::other(format!(
            "signal handling has stopped in this process: {why}"
        )));
    }
    let read_fd = reg.pipe_read_fd()?;
    reg.install(signum)?;
    reg.start_dispatcher(read_fd)?;
    let listener = Arc::new(Listener {
        signum,
        waker: Mutex::new(None),
        closed: AtomicBool::new(false),
    });
    reg.entries[signum as usize]
        .listeners
        .push(listener.clone());
    reg.listeners += 1;
    // Read after the handler is installed: every later arrival moves the
    // counter past this value.
    let start = generation(signum);
    Ok((listener, start))
}

/// Removes a listener. The last one out nudges the dispatcher, which sees
/// that nobody listens any more and stops.
pub(super) fn deregister(listener: &Arc<Listener>) {
    let mut reg = REGISTRY.lock();
    let list = &mut reg.entries[listener.signum as usize].listeners;
    let Some(at) = list.iter().position(|l| Arc::ptr_eq(l, listener)) else {
        return;
    };
    list.swap_remove(at);
    reg.listeners -= 1;
    if reg.listeners == 0 && reg.running {
        nudge();
    }
}

/// The signal handler's action (through signal-hook-registry's handler).
/// Async-signal-safe: an atomic increment and one write(2).
fn on_signal(signum: i32) {
    // `get`, not indexing: a handler must not have a panicking path, even
    // one that cannot be taken.
    if let Some(counter) = GENERATIONS.get(signum as usize) {
        counter.fetch_add(1, SeqCst);
    }
    nudge();
}

/// Writes one byte to the self-pipe. Non-blocking; errors are ignored: a
/// full pipe (EAGAIN) already holds a wake-up for the dispatcher, and there
/// is nothing else a signal handler could do about one.
fn nudge() {
    let fd = WAKE_FD.load(SeqCst);
    if fd < 0 {
        return;
    }
    let byte = 1u8;
    // SAFETY: writes one byte from a live local to a descriptor that stays
    // open for the life of the process (see `WAKE_FD`).
    let _ = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// The dispatcher thread: sleeps in `read` on the self-pipe and wakes the
/// listeners of every signal whose generation moved. Stops when no listener
/// is left (the next `register` starts another).
fn dispatch(read_fd: RawFd) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into a live local buffer of `buf.len()` bytes from
        // the pipe's read end, which is never closed.
        let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return fail(format!("reading the signal pipe failed: {err}"));
        }
        if n == 0 {
            // We hold the write end, so this means someone closed a
            // descriptor of ours behind our back.
            return fail("the signal pipe was closed".into());
        }
        let mut wakers = Vec::new();
        let stop = {
            let mut reg = REGISTRY.lock();
            for (signum, entry) in reg.entries.iter_mut().enumerate() {
                if entry.listeners.is_empty() {
                    continue;
                }
                let now = GENERATIONS[signum].load(SeqCst);
                if now == entry.dispatched {
                    continue;
                }
                entry.dispatched = now;
                wakers.extend(entry.listeners.iter().filter_map(|l| l.waker.lock().take()));
            }
            let stop = reg.listeners == 0;
            if stop {
                reg.running = false;
            }
            stop
        };
        for waker in wakers {
            waker.wake();
        }
        if stop {
            return;
        }
    }
}

/// The dispatcher cannot go on: every listener gets `None` from `recv`, and
/// later registrations fail with `why`, instead of waiting for ever.
fn fail(why: String) {
    let wakers: Vec<Waker> = {
        let mut reg = REGISTRY.lock();
        reg.running = false;
        reg.failed = Some(why.clone());
        reg.entries
            .iter()
            .flat_map(|e| e.listeners.iter())
            .filter_map(|l| {
                l.closed.store(true, SeqCst);
                l.waker.lock().take()
            })
            .collect()
    };
    eprintln!("runtime: {why}; signal listeners are closed");
    for waker in wakers {
        waker.wake();
    }
}

fn with_context(err: io::Error, what: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}
