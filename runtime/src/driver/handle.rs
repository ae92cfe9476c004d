//! [`DriverHandle`]: what other threads may do to a ring — queue a
//! command (submit an op, cancel one whose future was dropped) and wake the
//! ring's thread through its eventfd. The ring itself (`uring.rs`) drains
//! the queue at every `poll` and `park`.

use super::op::{OpData, OpRef, UringOp};
use super::Op;
use io_uring::squeue;
use parking_lot::Mutex;
use std::fmt;
use std::mem;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Something another thread (or a dropped future) asks of a ring.
pub(super) enum Command {
    /// Submit this op; `sqe` has no `user_data` yet.
    Submit { op: OpRef, sqe: squeue::Entry },
    /// The op's future was dropped: cancel it if it is still in flight.
    /// Holds a cancel reference (see `op.rs`).
    Cancel(OpRef),
}

pub(super) struct CommandQueue {
    pub(super) items: Vec<Command>,
    /// Set by shutdown; from then on commands are refused.
    pub(super) closed: bool,
}

pub(super) struct Shared {
    pub(super) commands: Mutex<CommandQueue>,
    /// `true` when `commands` may be non-empty; lets `poll` skip the lock.
    pub(super) has_commands: AtomicBool,
    /// `true` from an eventfd write until the driver reaps the read it
    /// completes; while set, `unpark` need not write again.
    pub(super) unparked: AtomicBool,
    /// [`thread_token`] of the thread that last drove the ring. Commands from
    /// that thread need no eventfd write: it is not parked while it runs
    /// them, and it drains the queue before it parks.
    pub(super) owner: AtomicU64,
    pub(super) eventfd: OwnedFd,
}

/// The cheap, cloneable, `Send + Sync` side of a [`Driver`]: its command
/// queue and its eventfd.
#[derive(Clone)]
pub(crate) struct DriverHandle {
    pub(super) shared: Arc<Shared>,
}

/// A number unique to the calling thread (never 0); 0 if the thread is
/// being torn down.
pub(super) fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.try_with(|token| *token).unwrap_or(0)
}

impl DriverHandle {
    /// A handle over a new, open command queue and the ring's eventfd.
    pub(super) fn new(eventfd: OwnedFd) -> DriverHandle {
        DriverHandle {
            shared: Arc::new(Shared {
                commands: Mutex::new(CommandQueue {
                    items: Vec::new(),
                    closed: false,
                }),
                has_commands: AtomicBool::new(false),
                unparked: AtomicBool::new(false),
                owner: AtomicU64::new(thread_token()),
                eventfd,
            }),
        }
    }

    /// Wakes the driver if it is parked, or makes its next `park` return at
    /// once. Cheap when repeated: one eventfd write per wake-up reaped.
    pub(crate) fn unpark(&self) {
        let shared = &*self.shared;
        if shared.unparked.swap(true, Ordering::SeqCst) {
            return;
        }
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to an eventfd the handle
        // keeps open.
        let written = unsafe {
            libc::write(
                shared.eventfd.as_raw_fd(),
                (&raw const one).cast(),
                mem::size_of::<u64>(),
            )
        };
        // A write to an eventfd can only fail (or block) if the counter would
        // pass 2^64 - 2; ours is at most 1 before the armed read resets it.
        debug_assert_eq!(written, 8, "eventfd write failed");
    }

    /// Starts an operation on this ring from a thread that does not own it:
    /// the op travels through the command queue and the ring's thread
    /// submits it (waking it if parked). The returned future may be polled on
    /// any thread. If the driver has shut down, the op completes at once
    /// with `ECANCELED`.
    pub(crate) fn submit<T: OpData>(&self, data: T) -> Op<T> {
        let (op, kernel_ref, sqe) = UringOp::new(data, self.clone());
        let command = Command::Submit {
            op: kernel_ref,
            sqe,
        };
        if let Some(Command::Submit { op: kernel_ref, .. }) = self.send(command) {
            kernel_ref.complete(-libc::ECANCELED, 0);
        }
        Op::Uring(op)
    }

    /// Asks the ring to cancel an op whose future was dropped (`op` is a
    /// cancel reference). After shutdown there is nothing left to cancel.
    pub(super) fn cancel(&self, op: OpRef) {
        drop(self.send(Command::Cancel(op)));
    }

    /// Queues a command and wakes the ring's thread unless it is the caller.
    /// Gives the command back if the driver has shut down.
    fn send(&self, command: Command) -> Option<Command> {
        let shared = &*self.shared;
        {
            let mut queue = shared.commands.lock();
            if queue.closed {
                return Some(command);
            }
            queue.items.push(command);
            shared.has_commands.store(true, Ordering::SeqCst);
        }
        if shared.owner.load(Ordering::SeqCst) != thread_token() {
            self.unpark();
        }
        None
    }
}

impl fmt::Debug for DriverHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverHandle")
            .field("eventfd", &self.shared.eventfd.as_raw_fd())
            .field(
                "has_commands",
                &self.shared.has_commands.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Submit { op, .. } => f.debug_tuple("Submit").field(op).finish(),
            Command::Cancel(op) => f.debug_tuple("Cancel").field(op).finish(),
        }
    }
}
