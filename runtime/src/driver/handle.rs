//! [`DriverHandle`]: what other threads may do to a ring — queue a
//! command (submit an op, cancel one whose future was dropped) and wake the
//! ring's thread through its eventfd. The ring itself (`uring.rs`) drains
//! the queue at every `poll` and `park`. When an eventfd write is needed is
//! decided by the ring's [`Mailbox`] (`wake.rs`).

use super::op::{OpData, OpRef, UringOp};
use super::wake::Mailbox;
use super::Op;
use io_uring::squeue;
use std::fmt;
use std::mem;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

/// Something another thread (or a dropped future) asks of a ring.
pub(super) enum Command {
    /// Submit this op; `sqe` has no `user_data` yet.
    Submit { op: OpRef, sqe: squeue::Entry },
    /// The op's future was dropped: cancel it if it is still in flight.
    /// Holds a cancel reference (see `op.rs`).
    Cancel(OpRef),
}

pub(super) struct Shared {
    /// The command queue, and whether the ring's thread must be woken.
    pub(super) mailbox: Mailbox<Command>,
    pub(super) eventfd: OwnedFd,
}

/// The cheap, cloneable, `Send + Sync` side of a [`Driver`]: its command
/// queue and its eventfd.
#[derive(Clone)]
pub(crate) struct DriverHandle {
    pub(super) shared: Arc<Shared>,
}

impl DriverHandle {
    /// A handle over a new, open command queue and the ring's eventfd.
    pub(super) fn new(eventfd: OwnedFd) -> DriverHandle {
        DriverHandle {
            shared: Arc::new(Shared {
                mailbox: Mailbox::new(),
                eventfd,
            }),
        }
    }

    /// Wakes the driver if it is parked, or makes its next `park` return at
    /// once. Cheap when repeated: one eventfd write per wake-up reaped.
    pub(crate) fn unpark(&self) {
        let shared = &*self.shared;
        if !shared.mailbox.unpark() {
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
        match self.shared.mailbox.send(command) {
            Ok(must_unpark) => {
                if must_unpark {
                    self.unpark();
                }
                None
            }
            Err(command) => Some(command),
        }
    }
}

impl fmt::Debug for DriverHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverHandle")
            .field("eventfd", &self.shared.eventfd.as_raw_fd())
            .field("has_commands", &self.shared.mailbox.has_commands_hint())
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
