//! Progress past a stuck worker: a free worker fires the due timers and
//! reaps the ring of a peer stuck inside one poll (a CPU loop that belongs
//! on `spawn_blocking`), so that the peer's timers and the completions of
//! tasks already stolen from it are not held for the length of that poll.
//! The protocol and its invariants are in `rescue.md` beside this file.
//!
//! What it costs the fast path: nothing per poll beyond the `polls` metric
//! the worker already keeps; two relaxed stores per park (the `parked`
//! flag); a clock read every `event_interval` ticks; and the ring's lock,
//! an uncontended atomic swap per submission and per `poll`/`park` where a
//! `RefCell` borrow used to be. What it costs an idle worker next to a busy
//! one: a wake-up every [`RESCUE_INTERVAL`] to look.

use super::Shared;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a peer must have been inside one poll before a free worker
/// steps in, and how often an idle worker looks while a peer is awake.
/// A stuck peer's timers and completions are late by about twice this at
/// most; a shorter interval wakes idle workers more often.
pub(super) const RESCUE_INTERVAL: Duration = Duration::from_millis(10);

/// One worker's view of its peers' progress.
pub(super) struct Watch {
    /// Per peer: the `polls` count last seen, and since when it stood still.
    seen: Box<[Cell<(u64, Instant)>]>,
    /// When this worker looks next (from its run loop).
    next_look: Cell<Instant>,
}

impl Watch {
    pub(super) fn new(workers: usize) -> Watch {
        let now = Instant::now();
        Watch {
            seen: (0..workers).map(|_| Cell::new((0, now))).collect(),
            next_look: Cell::new(now + RESCUE_INTERVAL),
        }
    }

    /// Whether a peer of worker `me` is awake (not parked): only an awake
    /// worker can get stuck, so only then must a parked worker wake up to
    /// look (`park_timeout`).
    pub(super) fn peer_awake(shared: &Shared, me: usize) -> bool {
        shared
            .remotes
            .iter()
            .enumerate()
            .any(|(index, remote)| index != me && !remote.parked.load(Ordering::Relaxed))
    }

    /// From the run loop, at most once per [`RESCUE_INTERVAL`]: looks at
    /// the peers. `true` if it fired or reaped anything for one.
    pub(super) fn look_if_due(&self, shared: &Shared, me: usize) -> bool {
        let now = Instant::now();
        if now < self.next_look.get() {
            return false;
        }
        self.look(shared, me, now)
    }

    /// Fires the due timers and reaps the ring of every peer that has been
    /// awake inside one poll for at least [`RESCUE_INTERVAL`]. `true` if
    /// any rescue ran.
    pub(super) fn look(&self, shared: &Shared, me: usize, now: Instant) -> bool {
        self.next_look.set(now + RESCUE_INTERVAL);
        let mut rescued = false;
        for (peer, remote) in shared.remotes.iter().enumerate() {
            if peer == me {
                continue;
            }
            let polls = remote.stats.polls.load(Ordering::Relaxed);
            let (seen, since) = self.seen[peer].get();
            if polls != seen || remote.parked.load(Ordering::Relaxed) {
                // Moving, or asleep (then its own ring and timers wake it).
                self.seen[peer].set((polls, now));
                continue;
            }
            if now.duration_since(since) < RESCUE_INTERVAL {
                continue;
            }
            // Stuck in one poll (or awake without polling, which costs a
            // look and nothing else). Its wheel and its ring are behind
            // locks that its own fast path takes uncontended.
            rescued |= shared.time.process(peer) > 0;
            // Cloned out of the lock (a rescue is rare), so the ring stays
            // alive while it is reaped even if its worker is leaving.
            let ring = remote.ring.lock().clone();
            if let Some(ring) = ring {
                if let Some(mut driver) = ring.driver.try_lock() {
                    let before = driver.stats().completed;
                    driver.reap_for_stuck_owner();
                    rescued |= driver.stats().completed != before;
                }
            }
        }
        rescued
    }
}
