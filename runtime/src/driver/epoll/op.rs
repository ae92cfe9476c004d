//! [`EpollOp`]: an [`OpData`] carried out without io_uring.
//!
//! The op's [`Fallback`] decides how:
//!
//! * `Immediate` and `Readiness`: the future calls [`OpData::perform`] when
//!   polled, on whatever thread polls it. `-EAGAIN` from a `Readiness` op
//!   registers a wait with the runtime's [`Reactor`] and returns `Pending`;
//!   the reactor wakes the task when the fd is ready and the call is tried
//!   again. The data never leaves the future, and no kernel request is
//!   outstanding between polls, so dropping the future (a timeout, a
//!   cancelled task) drops the data and the registration at once: there is
//!   nothing to cancel.
//! * `Blocking`: the call runs on the runtime's blocking pool. The data sits
//!   in a [`Slot`] shared with the pool's closure, which takes it out only
//!   while the call runs. If the future is dropped first, the closure
//!   completes the data itself when the call returns ([`OpData::complete`]
//!   runs exactly once for every op that ran, so a new fd from `open` gets
//!   an owner and is closed); if the call has not started, it never does.
//!   `slot.rs` has the rules.

use super::reactor::{Reactor, Registration};
use super::slot::Slot;
use crate::driver::op::{cqe_result, Fallback, OpData};
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The future of one op on an epoll-driven runtime.
pub(crate) struct EpollOp<T: OpData> {
    state: State<T>,
}

enum State<T: OpData> {
    /// Performed by the polling thread; `wait` is set while it waits for
    /// readiness. (`wait` is declared first so that it drops before `data`,
    /// which may own the descriptor: see `reactor.rs`.)
    Polled {
        wait: Option<Registration>,
        data: T,
        reactor: Arc<Reactor>,
        /// Wake-ups in a row that found the call still not ready.
        spurious: u32,
        /// A pause before waiting again, after too many of those.
        backoff: Option<Pin<Box<crate::time::Sleep>>>,
    },
    /// Queued or running on the blocking pool.
    Blocking {
        slot: Arc<Slot<T>>,
        done: JoinHandle<()>,
    },
    /// The output has been returned.
    Done,
}

// The data is never pinned (nothing projects a `Pin<&mut T>`), so the
// future may move whatever `T` is, like the ring's `UringOp`.
impl<T: OpData> Unpin for EpollOp<T> {}

impl<T: OpData> EpollOp<T> {
    /// Starts `data` on `reactor`'s runtime; `handle` is that runtime (its
    /// blocking pool runs `Fallback::Blocking` ops).
    pub(crate) fn new(
        data: T,
        reactor: Arc<Reactor>,
        handle: &crate::scheduler::Handle,
    ) -> EpollOp<T> {
        let state = match data.fallback() {
            Fallback::Immediate | Fallback::Readiness { .. } => State::Polled {
                wait: None,
                data,
                reactor,
                spurious: 0,
                backoff: None,
            },
            Fallback::Blocking => {
                let slot = Arc::new(Slot::new(data));
                let done = handle
                    .blocking()
                    .spawn_detachable(run_blocking(slot.clone()), Location::caller());
                State::Blocking { slot, done }
            }
        };
        EpollOp { state }
    }
}

/// Wake-ups in a row after which an op that is "ready" but still says
/// `EAGAIN` pauses before waiting again.
///
/// That happens when epoll's idea of ready is not the call's: a Unix
/// stream `connect` to a listener with a full backlog says `EAGAIN`, while
/// the unconnected socket polls as writable (and hung up). Waiting again
/// at once would spin a worker and the reactor; a short, growing pause
/// (1 ms doubling to 64 ms) retries it like a polite client.
const SPURIOUS_BEFORE_BACKOFF: u32 = 3;

/// The pause after `spurious` such wake-ups, if there is a runtime clock to
/// pause on (an op polled outside any runtime just waits again).
fn backoff_pause(spurious: u32) -> Option<Pin<Box<crate::time::Sleep>>> {
    crate::scheduler::context::current()?;
    let exponent = (spurious - SPURIOUS_BEFORE_BACKOFF).min(6);
    let pause = std::time::Duration::from_millis(1 << exponent);
    Some(Box::pin(crate::time::sleep(pause)))
}

/// The blocking-pool closure of an op (see `slot.rs`).
fn run_blocking<T: OpData>(slot: Arc<Slot<T>>) -> impl FnOnce() + Send + 'static {
    move || {
        // `None`: nobody wants the result any more; like a cancelled
        // request, the call is not made (the data drops with the slot).
        let Some(mut data) = slot.start() else {
            return;
        };
        let res = data.perform();
        if let Some((data, res)) = slot.finish(data, res) {
            drop(data.complete(cqe_result(res), 0));
        }
    }
}

impl<T: OpData> Future for EpollOp<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        let res = match &mut this.state {
            State::Polled {
                wait,
                data,
                reactor,
                spurious,
                backoff,
            } => loop {
                // Whether this attempt follows a wake-up (or a pause).
                let mut woken = false;
                if let Some(pause) = backoff {
                    if pause.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *backoff = None;
                    woken = true;
                }
                match wait.take() {
                    Some(registration) if !registration.poll_ready(cx) => {
                        *wait = Some(registration);
                        return Poll::Pending;
                    }
                    Some(_) => woken = true,
                    None => {}
                }
                let res = data.perform();
                if res != -libc::EAGAIN {
                    break res;
                }
                let Fallback::Readiness { fd, interest } = data.fallback() else {
                    break res;
                };
                if woken {
                    *spurious += 1;
                }
                if *spurious >= SPURIOUS_BEFORE_BACKOFF {
                    if let Some(pause) = backoff_pause(*spurious) {
                        *backoff = Some(pause);
                        continue;
                    }
                }
                match reactor.register(fd, interest, cx) {
                    Ok(registration) => *wait = Some(registration),
                    Err(err) => break -err.raw_os_error().unwrap_or(libc::EIO),
                }
            },
            State::Blocking { slot, done } => {
                if Pin::new(done).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // The closure ran (and put the data back with its result),
                // or was dropped unrun (the pool shut down).
                let (data, res) = slot.take().expect("a blocking op keeps its data");
                this.state = State::Done;
                let res = res.unwrap_or(-libc::ECANCELED);
                return Poll::Ready(data.complete(cqe_result(res), 0));
            }
            State::Done => panic!("`EpollOp` polled after completion"),
        };
        let State::Polled { data, .. } = std::mem::replace(&mut this.state, State::Done) else {
            unreachable!("only a polled op breaks out with a result")
        };
        Poll::Ready(data.complete(cqe_result(res), 0))
    }
}

impl<T: OpData> Drop for EpollOp<T> {
    fn drop(&mut self) {
        let State::Blocking { slot, .. } = &self.state else {
            return;
        };
        // The call finished but nobody took the result: complete the data
        // here (so what the call created gets an owner). Otherwise the
        // closure does, if it makes the call at all.
        if let Some((data, res)) = slot.abandon() {
            drop(data.complete(cqe_result(res), 0));
        }
    }
}

impl<T: OpData> fmt::Debug for EpollOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Polled {
                backoff: Some(_), ..
            } => "Pausing after spurious wake-ups",
            State::Polled { wait: None, .. } => "Ready to try",
            State::Polled { wait: Some(_), .. } => "Waiting for readiness",
            State::Blocking { .. } => "On the blocking pool",
            State::Done => "Done",
        };
        f.debug_struct("EpollOp").field("state", &state).finish()
    }
}
