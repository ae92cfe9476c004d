//! [`Slot`]: the hand-off between an epoll op's future and the
//! blocking-pool closure that runs its system call.
//!
//! ```text
//!   data: Some, res: None ──closure takes──▶ data: None (running)
//!        │                                        │
//!        │ future dropped                         ├─ future alive: ──▶ data: Some, res: Some ──future takes──▶ (done)
//!        ▼                                        │                          │ future dropped
//!   abandoned: the closure never                  │                          ▼
//!   runs the call; data drops                     │                    the future completes it
//!   with the slot                                 └─ future dropped (abandoned): the closure completes it
//! ```
//!
//! Rules, each a transition under the one lock:
//!
//! 1. The closure takes the data only if the op is not abandoned; an
//!    abandoned op's call is never made.
//! 2. Once the call ran, exactly one side completes the data: the closure
//!    if it sees `abandoned` when it comes back, otherwise whoever takes the
//!    result (the future when polled, or the future's drop).
//! 3. The future marks the op abandoned only while there is no result to
//!    take; with a result there, it takes it instead.
//!
//! So a call's result, and anything it created (an fd from `open`), always
//! reaches `OpData::complete` exactly once, and data whose call never ran
//! is simply dropped. `loom-tests/tests/epoll_slot.rs` checks this for
//! every interleaving.

use crate::loom::Mutex;

/// What the future and the closure share (module docs).
#[derive(Debug)]
pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
}

#[derive(Debug)]
struct State<T> {
    /// The op's data, except while the closure runs the call.
    data: Option<T>,
    /// The call's result (`-errno` on failure), once it ran.
    res: Option<i32>,
    /// The future is gone.
    abandoned: bool,
}

impl<T> Slot<T> {
    pub(crate) fn new(data: T) -> Slot<T> {
        Slot {
            state: Mutex::new(State {
                data: Some(data),
                res: None,
                abandoned: false,
            }),
        }
    }

    /// The closure: the data to run the call on, or `None` if the future
    /// is gone (rule 1).
    pub(crate) fn start(&self) -> Option<T> {
        let mut state = self.state.lock();
        if state.abandoned {
            return None;
        }
        let data = state.data.take();
        debug_assert!(data.is_some(), "a blocking op is started once");
        data
    }

    /// The closure, after the call: hands the data and result to the
    /// future, or gives them back to be completed here if the future is
    /// gone (rule 2).
    pub(crate) fn finish(&self, data: T, res: i32) -> Option<(T, i32)> {
        let mut state = self.state.lock();
        if state.abandoned {
            return Some((data, res));
        }
        state.data = Some(data);
        state.res = Some(res);
        None
    }

    /// The future, once the closure is over (it ran, or was dropped
    /// unrun): the data and the call's result, `None` for "never ran".
    pub(crate) fn take(&self) -> Option<(T, Option<i32>)> {
        let mut state = self.state.lock();
        let res = state.res.take();
        state.data.take().map(|data| (data, res))
    }

    /// The future's drop: the data and result to complete, if the call has
    /// finished (rule 3); otherwise marks the op abandoned.
    pub(crate) fn abandon(&self) -> Option<(T, i32)> {
        let mut state = self.state.lock();
        match state.res.take() {
            Some(res) => state.data.take().map(|data| (data, res)),
            None => {
                state.abandoned = true;
                None
            }
        }
    }
}
