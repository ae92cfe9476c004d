//! The bookkeeping a ring's wake-ups rest on: when a thread that queues a
//! command or unparks the ring must write its eventfd, and when the ring's
//! thread may sleep. The ring (`uring.rs`) and its handle (`handle.rs`) do
//! the I/O — the eventfd write, the kernel wait — and ask this module
//! whether to.
//!
//! * [`Mailbox`], shared by every thread that can reach the ring: the
//!   command queue and three words: `has_commands` (the queue may be
//!   non-empty), `unparked` (an eventfd write is outstanding: the read it
//!   completes has not been reaped yet) and `owner` (the thread that drives
//!   the ring: its own commands need no write).
//! * [`WakeState`], the ring's own (it lives in the `Driver`, under the
//!   ring's lock): whether the eventfd read is armed, whether one completed
//!   since `park` last returned (`pending`), and whether a peer is reaping
//!   the ring for its stuck owner (`scheduler/multi_thread/rescue.rs`).
//!
//! The rules:
//!
//! 1. `unpark` writes the eventfd only if it raised `unparked`. Reaping the
//!    read lowers it again *before* the read is re-armed: an unpark from
//!    then on writes, and its write completes the new read (or, if the
//!    read is not in the kernel yet, waits in the eventfd's counter for it).
//! 2. Reaping the read sets `pending`, whoever reaps it — the owner, or a
//!    rescuer for it: the next `park` does not sleep, since the unpark may
//!    have been meant for it. `park` clears `pending` once it has reaped.
//! 3. A sender queues its command and raises `has_commands` under the
//!    queue's lock, then wakes the ring unless it is the recorded owner: the
//!    owner is not parked while it sends, and drains the queue before it
//!    sleeps.
//! 4. The owner records itself each time it drives the ring
//!    ([`Driving::Owner`]); a rescuer never does ([`Driving::Rescuer`]).
//!    A rescuer's own commands therefore always write the eventfd, and the
//!    recorded owner does not change while the ring is rescued.
//!
//! Everything here uses the `crate::loom` shim, so that the loom model
//! `loom-tests/tests/rescue.rs` checks this code as it ships, with a test
//! kernel in place of io_uring (see `rescue.md` beside `rescue.rs`).

use crate::loom::{AtomicBool, AtomicU64, Mutex, Ordering};
use std::mem;

struct Queue<C> {
    items: Vec<C>,
    /// Set by shutdown; from then on commands are refused.
    closed: bool,
}

/// The shared side of a ring's wake-ups: its command queue and the flags
/// that say whether its thread must be woken. `C` is the command type
/// (`handle::Command`; the loom model's own).
pub(crate) struct Mailbox<C> {
    commands: Mutex<Queue<C>>,
    /// `true` when `commands` may be non-empty; lets `poll` skip the lock.
    has_commands: AtomicBool,
    /// `true` from an eventfd write until the ring reaps the read it
    /// completes; while set, `unpark` need not write again.
    unparked: AtomicBool,
    /// [`thread_token`] of the thread that last drove the ring as its
    /// owner. Commands from that thread need no eventfd write: it is not
    /// parked while it sends them, and it drains the queue before it parks.
    owner: AtomicU64,
}

impl<C> Mailbox<C> {
    /// An open, empty queue, with nothing to wake for; the calling thread
    /// (the one building the ring) is recorded as its owner until the
    /// ring's thread first drives it.
    pub(crate) fn new() -> Mailbox<C> {
        Mailbox {
            commands: Mutex::new(Queue {
                items: Vec::new(),
                closed: false,
            }),
            has_commands: AtomicBool::new(false),
            unparked: AtomicBool::new(false),
            owner: AtomicU64::new(thread_token()),
        }
    }

    /// Queues `command`. `Ok(true)` if the caller must then unpark the
    /// ring (it is not the recorded owner), `Ok(false)` if it need not;
    /// `Err` gives the command back if the ring has shut down.
    pub(crate) fn send(&self, command: C) -> Result<bool, C> {
        {
            let mut queue = self.commands.lock();
            if queue.closed {
                return Err(command);
            }
            queue.items.push(command);
            self.has_commands.store(true, Ordering::SeqCst);
        }
        // SeqCst, paired with `record_owner` and the owner's next
        // `may_have_commands`: either this sees the owner to wake, or the
        // owner sees `has_commands`.
        Ok(self.owner.load(Ordering::SeqCst) != thread_token())
    }

    /// Raises `unparked`: `true` if it was down, and the caller must write
    /// the eventfd; `false` if a write is already outstanding (the read it
    /// completes has not been reaped, so the wake-up it causes is still to
    /// come).
    pub(crate) fn unpark(&self) -> bool {
        !self.unparked.swap(true, Ordering::SeqCst)
    }

    /// Whether commands may be queued: the ring's check before it takes
    /// the queue's lock.
    pub(crate) fn may_have_commands(&self) -> bool {
        self.has_commands.load(Ordering::SeqCst)
    }

    /// Takes every queued command, leaving `into`'s (empty) buffer in the
    /// queue for reuse.
    pub(crate) fn take_commands(&self, into: &mut Vec<C>) {
        debug_assert!(into.is_empty());
        let mut queue = self.commands.lock();
        self.has_commands.store(false, Ordering::SeqCst);
        mem::swap(&mut queue.items, into);
    }

    /// Shutdown: refuses further commands and returns those still queued.
    pub(crate) fn close(&self) -> Vec<C> {
        let mut queue = self.commands.lock();
        queue.closed = true;
        mem::take(&mut queue.items)
    }

    /// `has_commands`, for `Debug` output only (a relaxed read).
    pub(crate) fn has_commands_hint(&self) -> bool {
        self.has_commands.load(Ordering::Relaxed)
    }

    /// Records the calling thread as the ring's owner (rule 4).
    #[inline]
    fn record_owner(&self) {
        let token = thread_token();
        if self.owner.load(Ordering::Relaxed) != token {
            // SeqCst, paired with `send`: either the sender sees this thread
            // as the owner-to-wake, or this thread sees its `has_commands`.
            self.owner.store(token, Ordering::SeqCst);
        }
    }
}

/// Who holds the ring's lock and drives the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driving {
    /// The ring's own thread: `poll`, `park`, `shutdown`.
    Owner,
    /// A peer reaping the ring for its stuck owner
    /// (`Driver::reap_for_stuck_owner`), until [`WakeState::rescue_done`].
    Rescuer,
}

/// The ring's side of its wake-ups, kept in the `Driver` (so only the
/// holder of the ring's lock reads or writes it).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WakeState {
    /// Whether the eventfd read is in the ring (or its backlog, or the SQ).
    armed: bool,
    /// An eventfd read completed since the last `park` returned: the next
    /// `park` must not sleep (the unpark it reports may be meant for it).
    pending: bool,
    /// Set while a peer reaps the ring for a stuck owner: nothing may
    /// enter the kernel then (only the owner enters its ring).
    rescuing: bool,
}

impl WakeState {
    /// No read armed yet, nothing pending, no rescue.
    pub(crate) fn new() -> WakeState {
        WakeState::default()
    }

    /// The caller, holding the ring's lock, starts driving the ring as
    /// `who`. The owner records itself as the ring's owner (`Mailbox::owner`);
    /// a rescuer does not (rule 4, `rescue.md` invariant 3) and marks the
    /// rescue until [`rescue_done`](Self::rescue_done).
    #[inline]
    pub(crate) fn enter<C>(&mut self, mailbox: &Mailbox<C>, who: Driving) {
        match who {
            Driving::Owner => mailbox.record_owner(),
            Driving::Rescuer => {
                debug_assert!(!self.rescuing, "nested rescue");
                self.rescuing = true;
            }
        }
    }

    /// The rescue that [`enter`](Self::enter) began is over.
    pub(crate) fn rescue_done(&mut self) {
        self.rescuing = false;
    }

    /// Whether a rescuer drives the ring: then nothing may enter the kernel.
    pub(crate) fn rescuing(&self) -> bool {
        self.rescuing
    }

    /// The eventfd read is being queued (in the SQ or the backlog).
    pub(crate) fn arming(&mut self) {
        self.armed = true;
    }

    /// Whether the eventfd read is queued or in the kernel.
    pub(crate) fn armed(&self) -> bool {
        self.armed
    }

    /// The eventfd read's completion is being dispatched, by the owner or a
    /// rescuer: an unpark has been seen (rule 2). Lowers `unparked` before
    /// the read is re-armed (rule 1). `true` if the caller must re-arm the
    /// read (not once shutdown has begun: `closing`).
    pub(crate) fn read_completed<C>(&mut self, mailbox: &Mailbox<C>, closing: bool) -> bool {
        self.armed = false;
        self.pending = true;
        mailbox.unparked.store(false, Ordering::SeqCst);
        !closing
    }

    /// `park`'s decision, after it drained the command queue: whether it
    /// may sleep. Not once shutdown has begun (`closing`: no read is armed
    /// then, so an unpark could not end the wait), not while a reaped
    /// unpark is pending, not while completions are waiting (asked last).
    #[inline]
    pub(crate) fn may_sleep(
        self,
        closing: bool,
        completions_waiting: impl FnOnce() -> bool,
    ) -> bool {
        !(closing || self.pending || completions_waiting())
    }

    /// `park` has reaped after its wait: the unparks seen so far are
    /// accounted for.
    pub(crate) fn park_returned(&mut self) {
        self.pending = false;
    }
}

/// A number unique to the calling thread (never 0); 0 if the thread is
/// being torn down.
pub(crate) fn thread_token() -> u64 {
    // A std atomic in both builds: it only hands out distinct numbers, and
    // orders nothing.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    // The shim's thread-local: under loom, every model thread runs on one
    // OS thread, and a std thread-local would give them all one token.
    crate::loom::thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    TOKEN.try_with(|token| *token).unwrap_or(0)
}
