//! Asynchronous signal handling: [`ctrl_c`] for the common case, and
//! [`unix::signal`] for a listener of any catchable signal.
//!
//! ```no_run
//! #[runtime::main]
//! async fn main() -> std::io::Result<()> {
//!     runtime::spawn(async { /* serve */ });
//!     runtime::signal::ctrl_c().await?;
//!     println!("Ctrl-C: shutting down");
//!     Ok(())
//! }
//! ```
//!
//! # Design
//!
//! A signal handler may run on any thread, between any two instructions,
//! and may only do async-signal-safe work: no lock, no allocation, no
//! waker (waking a task takes locks). So the work is split in three:
//!
//! 1. **The handler** (installed and chained to any handler that was there
//!    before by [signal-hook-registry], which also saves and restores
//!    `errno` around it, as tokio does) adds one to the signal's
//!    *generation*, a process-wide `AtomicU64` per signal number, then
//!    writes one byte to a self-pipe (non-blocking, close-on-exec; a full
//!    pipe is fine, since it already holds a wake-up). Nothing else.
//! 2. **The dispatcher**, a thread named `runtime-signal`, sleeps in
//!    `read` on the pipe. For each byte batch it looks at the generation
//!    of every signal that has listeners and wakes all the listeners of
//!    each one whose generation moved.
//! 3. **A listener** ([`unix::Signal`]) remembers the generation it last
//!    delivered. `recv` completes at once if the generation has moved past
//!    it (and takes the new value); otherwise it stores its waker and looks
//!    again.
//!
//! ## Why no delivery is lost
//!
//! Arrivals are counted, not queued, so an arrival while no `recv` is
//! pending (or while nobody polls at all) stays in the count until the
//! next `recv` reads it. Several arrivals between two looks read as one
//! delivery: that is the coalescing the kernel does anyway for a
//! standard signal that is already pending.
//!
//! The only race is between a listener going to sleep and an arrival. The
//! handler bumps the count before it writes to the pipe; the dispatcher
//! reads the count after the byte, and takes the listener's waker under
//! the waker's lock; the listener stores its waker under that lock and only
//! then looks at the count a second time. Either the listener's store comes
//! first, and the dispatcher finds and wakes the waker; or the dispatcher
//! took the lock first, after the bump, and then the listener's second look
//! (after the same lock) sees the bumped count and returns at once. There
//! is no third order.
//!
//! ## Choices, and what they cost
//!
//! * **A self-pipe read by a thread, not a signalfd, and not through the
//!   I/O driver.** A signalfd only receives signals that every thread of
//!   the process blocks, which a library cannot arrange (threads it did not
//!   start, blocking calls of the application). Reading the pipe on its
//!   own thread makes signals independent of any runtime and of the I/O
//!   driver: they work the same on io_uring and epoll, in every runtime of
//!   the process, outside any runtime, and after the runtime that made the
//!   first listener has shut down (a design that reads the pipe in one
//!   runtime's driver must hand it over when that runtime goes away). The
//!   cost is a thread while any listener exists, and one thread hop per
//!   delivery, which is nothing next to the rate signals come at.
//! * **The dispatcher thread stops when the last listener is dropped**
//!   (the last one out nudges it through the pipe), and the next
//!   [`unix::signal`] starts a new one, so a program that is done with
//!   signals keeps no thread. The pipe's two descriptors do stay open for
//!   the life of the process, because the handlers do.
//! * **Handlers stay installed after the last listener is dropped**, as in
//!   tokio: the signal's original disposition does *not* come back.
//!   Restoring it would race with deliveries (an arrival just after the
//!   restore takes the default action, which for most signals kills the
//!   process, while a new listener may be on its way), and would undo
//!   whatever another library chained on top of our handler in the
//!   meantime. Users of tokio expect this: once a program has listened for
//!   `SIGINT`, Ctrl-C no longer kills it, and arrivals while nobody listens
//!   are counted and dropped. A program that wants the default effect can
//!   exit by itself when its listener fires.
//! * **No runtime is needed** to make a listener (tokio requires one):
//!   nothing here uses the runtime, so a `Signal` made on a plain thread
//!   can be awaited in any task, or by another executor.
//! * **`SIGCHLD`** gets no special treatment: its listeners are told that
//!   some child changed state, and the handler never calls `wait*()`, so it
//!   never reaps a child someone else waits for (`runtime::process` waits
//!   for its children by pidfd; `std::process::Child::wait` by pid).
//!   Installing a handler (rather than `SIG_IGN`) keeps the kernel from
//!   reaping children automatically, so exit statuses stay collectable.
//!
//! Refused signals: `SIGKILL` and `SIGSTOP` cannot be caught; `SIGSEGV`,
//! `SIGILL`, `SIGFPE` and `SIGBUS` report a fault of the running thread and
//! return to the faulting instruction, so a handler that only counts them
//! would spin; numbers outside `1..=SIGRTMAX` and the real-time signals
//! the C library keeps for itself are no signals to listen for. Each is an
//! [`InvalidInput`](std::io::ErrorKind::InvalidInput) error naming it.
//!
//! [signal-hook-registry]: https://docs.rs/signal-hook-registry

mod registry;
pub mod unix;

use std::io;

/// Completes on the next `SIGINT` (Ctrl-C in a terminal) after this future
/// is first polled.
///
/// Any number of `ctrl_c` futures may wait at once, in any tasks on any
/// workers; one Ctrl-C completes all of them. Its listener is made on the
/// first poll, so a Ctrl-C before that is not seen; a program that reacts
/// to Ctrl-C more than once, or must not miss one that comes early, keeps
/// one [`signal(SignalKind::interrupt())`](unix::signal) listener instead.
///
/// Once any listener of `SIGINT` has been made, Ctrl-C no longer
/// terminates the process, also after the listeners are gone (see the
/// module docs for why).
///
/// # Errors
///
/// The error of [`unix::signal`] if the listener cannot be set up (the
/// handler, the self-pipe or the dispatcher thread); an error of kind
/// [`Other`](io::ErrorKind::Other) if signal handling stopped for good in
/// this process (see [`unix::Signal::recv`]).
///
/// # Examples
///
/// ```no_run
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let server = runtime::spawn(async {
///         // accept connections ...
///     });
///     runtime::signal::ctrl_c().await?;
///     server.cancel();
///     println!("interrupted");
///     Ok(())
/// }
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupt = unix::signal(unix::SignalKind::interrupt())?;
    match interrupt.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other(
            "signal handling has stopped in this process; no Ctrl-C can be received",
        )),
    }
}
