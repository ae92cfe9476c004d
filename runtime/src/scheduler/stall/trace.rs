//! The mechanics of a stuck thread's backtrace: the signal, its handler,
//! the stack walk into a preallocated buffer, and the symbolization after.
//!
//! Why each step is safe, and what it costs, is in the parent module's
//! documentation (`scheduler::stall`, "The stuck thread's stack"); this
//! file keeps to the protocol. A [`Capture`] moves through
//!
//! ```text
//! IDLE --watchdog: request--> REQUESTED --handler--> CAPTURING --handler--> DONE
//!   ^                             |                                           |
//!   +---- watchdog: gave up ------+       +---- watchdog: frames read --------+
//! ```
//!
//! Only the watchdog moves a capture out of `IDLE` and `DONE`; only the
//! handler, on the capture's own thread, out of `REQUESTED` (by a CAS that
//! races the watchdog giving up) and `CAPTURING`. So the handler writes the
//! frames only while no one reads them, and the watchdog reads them only
//! after the handler's Release store of `DONE`.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::fmt::Write as _;
use std::sync::atomic::{compiler_fence, AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The most frames one capture keeps, innermost first: enough for the
/// deepest poll chains seen in practice, 768 bytes per worker.
const MAX_FRAMES: usize = 96;

const IDLE: u32 = 0;
const REQUESTED: u32 = 1;
const CAPTURING: u32 = 2;
const DONE: u32 = 3;

/// Which real-time signal above `SIGRTMIN` asks for a stack (see the
/// parent module's docs for the choice).
const SIGNAL_OFFSET: c_int = 6;

/// The signal that asks a worker thread for its stack: `SIGRTMIN + 6`
/// (40 with glibc, which keeps 32 and 33 for itself).
pub(crate) fn signal_number() -> c_int {
    libc::SIGRTMIN() + SIGNAL_OFFSET
}

/// One worker's stack buffer and the thread it belongs to.
pub(crate) struct Capture {
    /// The kernel thread id of the thread driving the worker, 0 when none
    /// does (or when the signal could not reach it).
    thread: AtomicI32,
    state: AtomicU32,
    len: AtomicUsize,
    /// Return addresses, innermost first. Atomics, so that the handler and
    /// the watchdog share them without `unsafe`; the state orders them.
    frames: [AtomicUsize; MAX_FRAMES],
}

impl Default for Capture {
    fn default() -> Capture {
        Capture {
            thread: AtomicI32::new(0),
            state: AtomicU32::new(IDLE),
            len: AtomicUsize::new(0),
            frames: [const { AtomicUsize::new(0) }; MAX_FRAMES],
        }
    }
}

thread_local! {
    /// The capture the handler fills on this thread. `const`, with no
    /// destructor: reading it is a plain thread-local load, with no lazy
    /// initialization that a signal handler could not do.
    static CURRENT: Cell<*const Capture> = const { Cell::new(std::ptr::null()) };
}

/// Whether the handler is installed (decided once per process, by the
/// first stall detector that starts).
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs the handler for [`signal_number`], once per process; `false`
/// if this platform cannot have backtraces (the unwinder found no frame,
/// or the handler could not be installed).
pub(crate) fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        if signal_number() > libc::SIGRTMAX() {
            return false;
        }
        // A first walk outside any handler: proves the unwinder works here
        // and does any first-use work it has (none with today's libgcc)
        // where that work is allowed.
        let probe: [AtomicUsize; 4] = Default::default();
        if walk(&probe) == 0 {
            return false;
        }
        // `on_signal` does only async-signal-safe work (a thread-local
        // read, atomics, the unwinder's walk: see the parent module's
        // docs) and touches only memory that is alive while it can run
        // (see `Attached`). signal-hook-registry chains to whatever handler
        // was installed before it.
        // SAFETY: the action is async-signal-safe and never panics.
        unsafe { signal_hook_registry::register(signal_number(), on_signal) }.is_ok()
    })
}

fn installed() -> bool {
    INSTALLED.get() == Some(&true)
}

/// The current thread drives the worker of `capture` while this lives.
pub(crate) struct Attached<'a> {
    capture: &'a Capture,
    previous: *const Capture,
}

/// Makes the current thread the one [`request`] signals for `capture`.
/// `own_thread`: a worker thread of the runtime's own, on which the signal
/// is unblocked; on a user's thread (current_thread's `block_on`) the mask
/// is left alone, and a blocked signal means no backtraces there.
pub(crate) fn attach(capture: &Capture, own_thread: bool) -> Attached<'_> {
    let previous = CURRENT.with(|current| current.replace(capture));
    // The handler runs on this thread: it must not see the publication
    // below before the pointer it needs (a compiler fence is all a signal
    // handler on the same thread needs).
    compiler_fence(Ordering::SeqCst);
    if installed() && deliverable(own_thread) {
        capture.thread.store(current_tid(), Ordering::Release);
    }
    Attached { capture, previous }
}

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        self.capture.thread.store(0, Ordering::Release);
        CURRENT.with(|current| current.set(self.previous));
        // The pointer is gone before whatever owns the capture may go.
        compiler_fence(Ordering::SeqCst);
    }
}

/// Unblocks the signal on this thread (`own_thread`) or says whether it is
/// unblocked.
fn deliverable(own_thread: bool) -> bool {
    // SAFETY: sigset_t is plain data, and all-zero is a valid value for
    // sigemptyset to overwrite.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; pthread_sigmask with a valid how
    // and set pointers only changes or reads this thread's mask.
    unsafe {
        if own_thread {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal_number());
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) == 0
        } else {
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set) == 0
                && libc::sigismember(&set, signal_number()) == 0
        }
    }
}

fn current_tid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    i32::try_from(tid).unwrap_or(0)
}

/// Asks the thread attached to `capture` for its stack and waits at most
/// `wait` for the handler to start (and as long again for it to finish).
/// Returns the raw addresses (innermost first; each one past the
/// instruction it stands for, as return addresses are) or `None`: no
/// thread, no handler, the signal could not be sent or was not handled in
/// time. Called by one watchdog thread at a time.
pub(crate) fn request(capture: &Capture, wait: Duration) -> Option<Frames> {
    let tid = capture.thread.load(Ordering::Acquire);
    if tid == 0 || !installed() {
        return None;
    }
    // A capture that finished after an earlier request gave up on it.
    let _ = capture
        .state
        .compare_exchange(DONE, IDLE, Ordering::AcqRel, Ordering::Relaxed);
    capture
        .state
        .compare_exchange(IDLE, REQUESTED, Ordering::AcqRel, Ordering::Relaxed)
        .ok()?;
    // A thread that has exited since `tid` was read makes tgkill fail with
    // ESRCH; a reused id would reach a thread whose capture is not
    // REQUESTED, whose handler then does nothing.
    // SAFETY: tgkill with our own process id reaches only our threads.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            tid as libc::c_long,
            signal_number() as libc::c_long,
        )
    } == 0;
    let give_up = |capture: &Capture| {
        capture
            .state
            .compare_exchange(REQUESTED, IDLE, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    };
    if !sent {
        give_up(capture);
        return None;
    }
    let asked = Instant::now();
    loop {
        match capture.state.load(Ordering::Acquire) {
            DONE => {
                let len = capture.len.load(Ordering::Relaxed).min(MAX_FRAMES);
                let frames = capture.frames[..len]
                    .iter()
                    .map(|frame| frame.load(Ordering::Relaxed))
                    .collect();
                capture.state.store(IDLE, Ordering::Release);
                return (len > 0).then(|| Frames::new(frames));
            }
            // A late signal finds IDLE and does nothing.
            REQUESTED if asked.elapsed() >= wait && give_up(capture) => return None,
            // The handler started: it is a walk of microseconds unless its
            // thread was preempted; a bounded wait still.
            CAPTURING if asked.elapsed() >= 2 * wait => return None,
            _ => {}
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The handler's action (after signal-hook-registry's own handler, which
/// saves and restores `errno` around it).
fn on_signal() {
    let Ok(capture) = CURRENT.try_with(Cell::get) else {
        return;
    };
    if capture.is_null() {
        return;
    }
    // CURRENT is non-null only while an `Attached` guard for this capture
    // lives on this thread, whose owner keeps the capture alive; the guard
    // resets it (behind a compiler fence) before it goes, and this handler
    // runs on this same thread, so never in between.
    // SAFETY: so the pointer is to a live capture.
    let capture = unsafe { &*capture };
    if capture
        .state
        .compare_exchange(REQUESTED, CAPTURING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        // Not asked for (a stray or late signal): nothing to do.
        return;
    }
    let len = walk(&capture.frames);
    capture.len.store(len, Ordering::Relaxed);
    capture.state.store(DONE, Ordering::Release);
}

// The unwinder std itself links (libgcc_s with glibc, the bundled libunwind
// with musl): the same walk glibc's `backtrace()` does, without its lazy
// dlopen, and with `_Unwind_GetIPInfo`, which tells where the signal
// interrupted the thread.
extern "C" {
    fn _Unwind_Backtrace(
        trace: extern "C" fn(context: *mut c_void, arg: *mut c_void) -> c_int,
        arg: *mut c_void,
    ) -> c_int;
    fn _Unwind_GetIPInfo(context: *mut c_void, ip_before_insn: *mut c_int) -> usize;
}

const URC_NO_REASON: c_int = 0;
const URC_NORMAL_STOP: c_int = 4;
const URC_END_OF_STACK: c_int = 5;

struct Walk<'a> {
    out: &'a [AtomicUsize],
    len: usize,
    passed_signal_frame: bool,
}

/// Walks the current thread's stack into `out`; returns how many frames
/// it stored. From a signal handler, the frames above the interrupted
/// one (the handler's own) are dropped.
fn walk(out: &[AtomicUsize]) -> usize {
    let mut walk = Walk {
        out,
        len: 0,
        passed_signal_frame: false,
    };
    // SAFETY: `step` matches the callback type the unwinder calls, and
    // `walk` outlives the call, which calls `step` only before it returns.
    unsafe { _Unwind_Backtrace(step, (&mut walk as *mut Walk<'_>).cast()) };
    walk.len
}

extern "C" fn step(context: *mut c_void, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `&mut Walk` that `walk` passed, alive and not
    // otherwise borrowed during the walk.
    let walk = unsafe { &mut *arg.cast::<Walk<'_>>() };
    let mut before_insn: c_int = 0;
    // SAFETY: `context` is the one the unwinder passes for this frame,
    // valid during this call; `before_insn` is a valid out-pointer.
    let ip = unsafe { _Unwind_GetIPInfo(context, &mut before_insn) };
    if ip == 0 {
        return URC_END_OF_STACK;
    }
    // A frame interrupted by a signal has its exact instruction, not a
    // return address; +1 keeps every stored address "one past", so the
    // symbolizer may treat them all alike. The first such frame is where
    // our signal struck: what came before is the handler's own stack.
    let address = if before_insn != 0 {
        if !walk.passed_signal_frame {
            walk.passed_signal_frame = true;
            walk.len = 0;
        }
        ip.wrapping_add(1)
    } else {
        ip
    };
    match walk.out.get(walk.len) {
        Some(slot) => {
            slot.store(address, Ordering::Relaxed);
            walk.len += 1;
            URC_NO_REASON
        }
        None => URC_NORMAL_STOP,
    }
}

/// A captured stack: raw addresses, named on first use.
pub(crate) struct Frames {
    addresses: Vec<usize>,
    text: OnceLock<String>,
}

impl Frames {
    fn new(addresses: Vec<usize>) -> Frames {
        Frames {
            addresses,
            text: OnceLock::new(),
        }
    }

    /// The frames' names (see [`symbolize`]), worked out on the first
    /// call: the report is made without waiting for them.
    pub(crate) fn text(&self) -> &str {
        self.text.get_or_init(|| symbolize(&self.addresses))
    }
}

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frames")
            .field("addresses", &self.addresses.len())
            .field("text", &self.text.get())
            .finish()
    }
}

/// Whether a function is where the runtime polls a task: the frames from
/// it on are the runtime's own loop, the same in every report.
fn is_poll_entry(name: &str) -> bool {
    let name = name.trim_start_matches('<');
    name.starts_with("runtime::task::harness::") || name.starts_with("runtime::task::core::")
}

/// Names the frames of a capture, one line each, innermost first:
/// `N: function at file:line` (an inlined call is a line of its own with
/// the same N). Stops at the runtime's poll of the task. Runs outside any
/// signal handler (the watchdog thread): it reads the binary's symbols and
/// debug info and allocates.
fn symbolize(frames: &[usize]) -> String {
    let mut out = String::new();
    'frames: for (index, &address) in frames.iter().enumerate() {
        let mut symbols = Vec::new();
        backtrace::resolve(address as *mut c_void, |symbol| {
            let name = symbol.name().map(|name| format!("{name:#}"));
            let place = match (symbol.filename(), symbol.lineno()) {
                (Some(file), Some(line)) => Some(format!("{}:{line}", file.display())),
                _ => None,
            };
            symbols.push((name, place));
        });
        if symbols.is_empty() {
            symbols.push((None, None));
        }
        for (name, place) in symbols {
            if name.as_deref().is_some_and(is_poll_entry) {
                if out.is_empty() {
                    // Stuck in the runtime itself (or the names are
                    // ambiguous): show the frame rather than nothing.
                    let _ = write!(out, "{index}: {}", name.as_deref().unwrap_or("?"));
                }
                break 'frames;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            match name {
                Some(name) => {
                    let _ = write!(out, "{index}: {name}");
                }
                None => {
                    let _ = write!(out, "{index}: {address:#x}");
                }
            }
            if let Some(place) = place {
                let _ = write!(out, " at {place}");
            }
        }
    }
    out
}
