//! The idle protocol: which workers search for work, which sleep, and who
//! wakes whom. This is where lost wake-ups live if anything is off.
//!
//! One atomic word counts the workers that are *unparked* (awake) and,
//! among them, those *searching* (looking for work to steal). The rules:
//!
//! 1. At most half the workers search at once (`transition_worker_to_searching`),
//!    so a burst of new work does not have every idle worker fighting over it.
//! 2. Whoever pushes work wakes one parked worker, but only if nobody is
//!    searching (`worker_to_notify`): a searcher will find the work.
//! 3. A searcher that finds work stops searching; if it was the last
//!    searcher it wakes a peer, because more work may be behind the piece it
//!    took.
//! 4. A searcher that gives up parks; if it was the last searcher it rescans
//!    every queue after leaving the count, because work pushed while it was
//!    still counted as searching woke nobody (rule 2).
//!
//! Rules 2 and 4 are a store-then-load race on both sides (push work, then
//! read the count / leave the count, then read the queues), so the count is
//! SeqCst and the pusher fences before reading it.
//!
//! The types come from `crate::loom`, so the protocol as it ships is
//! model-checked against a queue stand-in in `loom-tests/tests/idle.rs`.

use crate::loom::{fence, AtomicUsize, Mutex, Ordering};

const SEARCHING_MASK: usize = (1 << 16) - 1;
const UNPARKED_ONE: usize = 1 << 16;

pub(crate) struct Idle {
    /// `unparked << 16 | searching`.
    state: AtomicUsize,
    num_workers: usize,
    /// The parked workers, by index. A worker is "woken" exactly when it is
    /// taken off this list (with the count raised under the same lock).
    sleepers: Mutex<Vec<usize>>,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        Idle {
            state: AtomicUsize::new(num_workers * UNPARKED_ONE),
            num_workers,
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
        }
    }

    /// Rule 2: after pushing work, the worker to wake, if any. The chosen
    /// worker is counted as unparked and searching before it even wakes, so
    /// concurrent pushes do not wake a second one for the same work.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        // Orders the caller's push before the load below (see module docs).
        fence(Ordering::SeqCst);
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_notify() {
            return None;
        }
        let index = sleepers.pop()?;
        self.state.fetch_add(UNPARKED_ONE | 1, Ordering::SeqCst);
        Some(index)
    }

    fn should_notify(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        state & SEARCHING_MASK == 0 && state / UNPARKED_ONE < self.num_workers
    }

    /// Rule 1: may this worker start searching?
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        if 2 * (state & SEARCHING_MASK) >= self.num_workers {
            return false;
        }
        // Racy by design: two workers may pass the check together and
        // briefly exceed half. That costs a little contention, nothing more.
        self.state.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Rule 3: a searcher found work. `true` if it was the last searcher
    /// (the caller then wakes a peer).
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(prev & SEARCHING_MASK > 0);
        prev & SEARCHING_MASK == 1
    }

    /// Rule 4: the worker parks. `true` if it was the last searcher (the
    /// caller must then rescan every queue).
    pub(crate) fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let delta = UNPARKED_ONE | usize::from(is_searching);
        let prev = self.state.fetch_sub(delta, Ordering::SeqCst);
        sleepers.push(index);
        is_searching && prev & SEARCHING_MASK == 1
    }

    /// After waking: `true` if the worker was notified (taken off the
    /// list, now unparked and searching); `false` if the wake was for
    /// something else and the worker still counts as parked.
    pub(crate) fn transition_worker_from_parked(&self, index: usize) -> bool {
        !self.sleepers.lock().contains(&index)
    }

    /// A parked worker woke by itself (its timer) with work to do: takes it
    /// off the list as unparked, not searching. `false` if it was notified
    /// meanwhile (then it is already unparked, and counted as searching).
    pub(crate) fn unpark_worker_by_id(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&sleeper| sleeper == index) {
            Some(at) => {
                sleepers.swap_remove(at);
                self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Wakes every parked worker's bookkeeping (shutdown): takes them all off
    /// the list and returns their indices.
    pub(crate) fn unpark_all(&self) -> Vec<usize> {
        let mut sleepers = self.sleepers.lock();
        let woken: Vec<usize> = sleepers.drain(..).collect();
        self.state
            .fetch_add(woken.len() * UNPARKED_ONE, Ordering::SeqCst);
        woken
    }
}
