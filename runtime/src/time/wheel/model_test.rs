//! The timing wheel checked against a model of its pending timers (a
//! sorted set of deadlines), over long seeded random runs.

use super::test::{Rng, DAY, DELTAS, MINUTE, P1, P2, P6};
use super::{TimerKey, Wheel, LEVELS, MAX_DELAY};
use std::collections::BTreeSet;

/// A wheel checked against a model of its pending timers. The payload is the
/// timer's id, an index into the per-timer vectors.
struct Checked {
    wheel: Wheel<u32>,
    /// Pending timers as (effective deadline, id).
    pending: BTreeSet<(u64, u32)>,
    keys: Vec<TimerKey>,
    /// Deadlines as clamped by the wheel.
    deadlines: Vec<u64>,
    fired: usize,
    removed: usize,
    last_fired: u64,
}

impl Checked {
    fn new() -> Self {
        Checked {
            wheel: Wheel::new(),
            pending: BTreeSet::new(),
            keys: Vec::new(),
            deadlines: Vec::new(),
            fired: 0,
            removed: 0,
            last_fired: 0,
        }
    }

    fn insert(&mut self, deadline: u64) -> u32 {
        let id = u32::try_from(self.keys.len()).unwrap();
        let elapsed = self.wheel.elapsed();
        let effective = deadline.clamp(elapsed, elapsed.saturating_add(MAX_DELAY));
        self.keys.push(self.wheel.insert(deadline, id));
        self.deadlines.push(effective);
        self.pending.insert((effective, id));
        id
    }

    /// Removes timer `id`, which is expected to work only while it pends.
    fn remove(&mut self, id: u32) {
        let pending = self.pending.remove(&(self.deadlines[id as usize], id));
        let removed = self.wheel.remove(self.keys[id as usize]);
        assert_eq!(removed, pending.then_some(id), "removing timer {id}");
        self.removed += usize::from(pending);
        assert_eq!(self.wheel.len(), self.pending.len());
    }

    fn earliest(&self) -> Option<u64> {
        self.pending.first().map(|&(deadline, _)| deadline)
    }

    /// Polls up to `now`, checking that each timer fired is a pending one
    /// with the earliest deadline, that it is due, and that afterwards
    /// nothing due is left. Returns how many fired.
    fn advance(&mut self, now: u64) -> usize {
        let target = now.max(self.wheel.elapsed());
        let mut fired = 0;
        while let Some((deadline, id)) = self.wheel.poll(now) {
            assert!(
                deadline <= target,
                "timer {id} due at {deadline} fired at {target}"
            );
            assert_eq!(deadline, self.deadlines[id as usize]);
            assert_eq!(Some(deadline), self.earliest(), "timer {id} out of order");
            assert!(
                self.pending.remove(&(deadline, id)),
                "timer {id} fired twice or after removal"
            );
            assert!(deadline >= self.last_fired);
            assert_eq!(self.wheel.elapsed(), deadline);
            self.last_fired = deadline;
            fired += 1;
        }
        assert_eq!(self.wheel.elapsed(), target);
        if let Some(earliest) = self.earliest() {
            assert!(
                earliest > target,
                "timer due at {earliest} skipped by {target}"
            );
        }
        assert_eq!(self.wheel.len(), self.pending.len());
        self.fired += fired;
        fired
    }

    /// `next_expiration` is a lower bound on the earliest deadline, not
    /// before `elapsed` unless something is due, and exact once the earliest
    /// deadline is in `elapsed`'s level-0 span.
    fn check_next_expiration(&self) {
        let elapsed = self.wheel.elapsed();
        match (self.wheel.next_expiration(), self.earliest()) {
            (None, None) => {}
            (Some(next), Some(earliest)) => {
                assert!(
                    elapsed <= next && next <= earliest,
                    "{elapsed} {next} {earliest}"
                );
                if next == elapsed {
                    assert_eq!(earliest, elapsed);
                }
                if earliest >> 6 == elapsed >> 6 {
                    assert_eq!(next, earliest);
                }
            }
            (next, earliest) => panic!("next_expiration {next:?}, earliest deadline {earliest:?}"),
        }
    }

    /// Polls at `next_expiration`, which must make progress.
    fn advance_to_next_expiration(&mut self) -> Option<usize> {
        let next = self.wheel.next_expiration()?;
        let fired = self.advance(next);
        if fired == 0 {
            assert!(self
                .wheel
                .next_expiration()
                .is_none_or(|later| later > next));
        }
        Some(fired)
    }

    /// A random step: mostly log-uniform jumps, sometimes straight to the
    /// next expiration or to just before or at the earliest deadline.
    fn random_step(&mut self, rng: &mut Rng) {
        let elapsed = self.wheel.elapsed();
        match rng.below(10) {
            0..5 => {
                let step = rng.log_uniform(28);
                self.advance(elapsed + step);
            }
            5 | 6 => {
                self.advance_to_next_expiration();
            }
            7 => {
                if let Some(earliest) = self.earliest().filter(|&e| e > elapsed) {
                    assert_eq!(self.advance(earliest - 1), 0);
                }
            }
            8 => {
                if let Some(earliest) = self.earliest() {
                    assert!(self.advance(earliest) > 0);
                }
            }
            _ => {
                self.advance(elapsed + rng.below(1 << 30));
            }
        }
        self.check_next_expiration();
    }

    /// Deadlines mostly within ten minutes, some over days, a few already
    /// past, on level boundaries, or beyond the clamp.
    fn random_deadline(&self, rng: &mut Rng) -> u64 {
        let elapsed = self.wheel.elapsed();
        match rng.below(100) {
            0..80 => elapsed + rng.below(10 * MINUTE),
            80..95 => elapsed + rng.below(5 * DAY),
            95..98 => elapsed.saturating_sub(rng.below(1000)),
            98 => elapsed + DELTAS[rng.below(DELTAS.len() as u64) as usize],
            _ => match rng.below(3) {
                0 => u64::MAX,
                1 => elapsed + MAX_DELAY + rng.below(P6),
                _ => elapsed + MAX_DELAY - rng.below(P2),
            },
        }
    }

    /// At the end: nothing pending, every timer accounted for, every key
    /// stale.
    fn finish(mut self) {
        assert!(self.wheel.is_empty());
        assert_eq!(self.wheel.len(), 0);
        assert_eq!(self.wheel.next_expiration(), None);
        assert_eq!(self.fired + self.removed, self.keys.len());
        for key in std::mem::take(&mut self.keys) {
            assert_eq!(self.wheel.remove(key), None);
        }
    }
}

#[test]
fn random_timers_fire_once_in_order() {
    const TIMERS: usize = 100_000;
    let mut rng = Rng::new(1);
    let mut checked = Checked::new();
    for _ in 0..TIMERS / 2 {
        let deadline = checked.random_deadline(&mut rng);
        checked.insert(deadline);
    }
    checked.check_next_expiration();
    // The other half arrive while time passes.
    while checked.keys.len() < TIMERS || !checked.pending.is_empty() {
        let arriving = rng.below(400).min((TIMERS - checked.keys.len()) as u64);
        for _ in 0..arriving {
            let deadline = checked.random_deadline(&mut rng);
            checked.insert(deadline);
        }
        checked.check_next_expiration();
        checked.random_step(&mut rng);
    }
    assert_eq!(checked.fired, TIMERS);
    checked.finish();
}

#[test]
fn every_other_timer_removed_rest_fire_in_order() {
    const TIMERS: u32 = 100_000;
    let mut rng = Rng::new(2);
    let mut checked = Checked::new();
    for _ in 0..TIMERS {
        let deadline = checked.random_deadline(&mut rng);
        checked.insert(deadline);
    }
    // Half of the even timers go at once, the other half only when they are
    // about to fire, which catches them wherever cascading has got them to.
    for id in (0..TIMERS).step_by(4) {
        checked.remove(id);
    }
    checked.check_next_expiration();
    while !checked.pending.is_empty() {
        let now = match rng.below(3) {
            0 => checked.wheel.next_expiration().unwrap(),
            _ => checked.wheel.elapsed() + rng.log_uniform(30),
        };
        let due: Vec<u32> = checked
            .pending
            .range(..=(now, u32::MAX))
            .map(|&(_, id)| id)
            .filter(|id| id % 4 == 2)
            .collect();
        for id in due {
            checked.remove(id);
        }
        checked.check_next_expiration();
        checked.advance(now);
        checked.check_next_expiration();
    }
    assert_eq!(checked.fired, TIMERS as usize / 2);
    assert_eq!(checked.removed, TIMERS as usize / 2);
    checked.finish();
}

#[test]
fn paused_clock_follows_next_expiration() {
    let mut rng = Rng::new(3);
    let mut checked = Checked::new();
    for _ in 0..10_000 {
        let deadline = checked.random_deadline(&mut rng);
        checked.insert(deadline);
    }
    let mut polls = 0;
    while let Some(fired) = checked.advance_to_next_expiration() {
        checked.check_next_expiration();
        polls += 1;
        // Now and then a new timer, as a woken task would set.
        if fired > 0 && rng.below(4) == 0 {
            let deadline = checked.random_deadline(&mut rng);
            checked.insert(deadline);
        }
    }
    // At most one cascade per level for each timer, plus the firing poll.
    assert!(polls <= checked.keys.len() * LEVELS, "{polls} polls");
    assert_eq!(checked.fired, checked.keys.len());
    checked.finish();
}

#[test]
fn random_inserts_removes_and_polls() {
    for seed in 10..40 {
        let mut rng = Rng::new(seed);
        let mut checked = Checked::new();
        for _ in 0..2000 {
            match rng.below(10) {
                0..5 => {
                    // Dense, so slots hold many timers and lists get long.
                    let deadline = match rng.below(4) {
                        0 => checked.random_deadline(&mut rng),
                        _ => checked.wheel.elapsed() + rng.below(P2 + 100),
                    };
                    checked.insert(deadline);
                }
                5..8 => {
                    // Any timer so far: pending, fired or removed.
                    if !checked.keys.is_empty() {
                        let id = rng.below(checked.keys.len() as u64) as u32;
                        checked.remove(id);
                    }
                }
                _ => {
                    let now = checked.wheel.elapsed() + rng.below(P1 * 3);
                    checked.advance(now);
                }
            }
            checked.check_next_expiration();
        }
        checked.advance(u64::MAX);
        checked.finish();
    }
}
