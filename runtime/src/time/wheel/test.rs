//! Unit tests of the timing wheel: hand-picked cases around the level
//! boundaries and the clamp. The long seeded random runs checked against a
//! model are in `model_test.rs`, which shares the constants and `Rng` here.

use super::{level_for, TimerKey, Wheel, LEVELS, MAX_DELAY};
use std::rc::Rc;

/// Span of the whole wheel at each level: `P[n]` = 64^n ms.
pub(super) const P1: u64 = 64;
pub(super) const P2: u64 = 64 * P1;
pub(super) const P3: u64 = 64 * P2;
pub(super) const P4: u64 = 64 * P3;
pub(super) const P5: u64 = 64 * P4;
pub(super) const P6: u64 = 64 * P5;

pub(super) const MINUTE: u64 = 60_000;
pub(super) const DAY: u64 = 24 * 60 * MINUTE;

/// Distances from `elapsed` around every level boundary, in increasing
/// order, up to and including the clamp.
pub(super) const DELTAS: [u64; 27] = [
    0,
    1,
    62,
    63,
    64,
    65,
    127,
    128,
    P2 - 1,
    P2,
    P2 + 1,
    P3 - 1,
    P3,
    P3 + 1,
    P4 - 1,
    P4,
    P4 + 1,
    P5 - 1,
    P5,
    P5 + 1,
    2 * P5 + 3,
    P6 / 2,
    MAX_DELAY - P5,
    MAX_DELAY - P5 + 1,
    MAX_DELAY - 64,
    MAX_DELAY - 1,
    MAX_DELAY,
];

/// Wheel times to start from: aligned and unaligned, just before and after
/// level boundaries, inside the last top-level slot of a `64^6` ms block
/// (so the top level wraps), and near the end of `u64`.
const STARTS: [u64; 14] = [
    0,
    1,
    63,
    64,
    P2 - 1,
    100_000,
    P5 - 1,
    P5 + 7,
    P6 - P5 + 12_345,
    P6 - 1,
    P6,
    3 * P6 + 54_321,
    u64::MAX - 2 * MAX_DELAY,
    u64::MAX - MAX_DELAY,
];

/// xorshift64: deterministic and dependency-free.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Below `2^k` for a `k` picked uniformly below `bits`: as many small
    /// steps as large ones.
    pub(super) fn log_uniform(&mut self, bits: u64) -> u64 {
        let k = self.below(bits);
        self.below(1 << k)
    }
}

/// A wheel started at `start`.
fn wheel_at<T>(start: u64) -> Wheel<T> {
    let mut wheel = Wheel::new();
    assert!(wheel.poll(start).is_none());
    assert_eq!(wheel.elapsed(), start);
    wheel
}

/// Everything due by `now`, in the order `poll` returns it.
fn drain<T>(wheel: &mut Wheel<T>, now: u64) -> Vec<(u64, T)> {
    std::iter::from_fn(|| wheel.poll(now)).collect()
}

#[test]
fn new_wheel_is_empty() {
    let mut wheel = Wheel::<u32>::new();
    assert_eq!(wheel.elapsed(), 0);
    assert!(wheel.is_empty());
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_expiration(), None);
    assert_eq!(wheel.poll(100), None);
    assert_eq!(wheel.elapsed(), 100);
}

#[test]
fn fires_at_deadline_and_not_before() {
    let mut wheel = Wheel::new();
    wheel.insert(10, 'a');
    wheel.insert(3, 'b');
    wheel.insert(1000, 'c');
    assert_eq!(wheel.len(), 3);
    assert_eq!(wheel.next_expiration(), Some(3));

    assert_eq!(wheel.poll(2), None);
    assert_eq!(wheel.elapsed(), 2);
    assert_eq!(wheel.poll(9), Some((3, 'b')));
    assert_eq!(wheel.elapsed(), 3);
    assert_eq!(wheel.poll(9), None);
    assert_eq!(wheel.elapsed(), 9);
    assert_eq!(wheel.poll(10), Some((10, 'a')));
    assert_eq!(wheel.poll(999), None);
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.poll(5000), Some((1000, 'c')));
    assert_eq!(wheel.elapsed(), 1000);
    assert_eq!(wheel.poll(5000), None);
    assert_eq!(wheel.elapsed(), 5000);
    assert!(wheel.is_empty());
}

#[test]
fn fires_exactly_at_deadline_when_stepping_by_one_ms() {
    for deadline in [0, 1, 5, 63, 64, 65, 200, P2 - 1, P2, P2 + 1, 10_000] {
        let mut wheel = Wheel::new();
        wheel.insert(deadline, ());
        for now in 0..deadline {
            assert_eq!(
                wheel.poll(now),
                None,
                "timer due at {deadline} fired at {now}"
            );
        }
        assert_eq!(wheel.poll(deadline), Some((deadline, ())));
        assert!(wheel.is_empty());
    }
}

#[test]
fn due_and_past_deadlines_fire_on_next_poll() {
    let mut wheel = wheel_at(1000);
    wheel.insert(1000, 'a');
    wheel.insert(10, 'b');
    wheel.insert(0, 'c');
    assert_eq!(wheel.next_expiration(), Some(1000));
    // A `now` in the past counts as `elapsed`; past deadlines are reported
    // as due at `elapsed`, which keeps the order non-decreasing.
    let mut fired = drain(&mut wheel, 500);
    fired.sort();
    assert_eq!(fired, [(1000, 'a'), (1000, 'b'), (1000, 'c')]);
    assert_eq!(wheel.elapsed(), 1000);

    // Also when `elapsed` sits mid-way, at a deadline a poll just returned.
    wheel.insert(1500, 'd');
    wheel.insert(2000, 'e');
    assert_eq!(wheel.poll(3000), Some((1500, 'd')));
    assert_eq!(wheel.elapsed(), 1500);
    wheel.insert(1200, 'f');
    assert_eq!(wheel.next_expiration(), Some(1500));
    assert_eq!(drain(&mut wheel, 3000), [(1500, 'f'), (2000, 'e')]);
}

#[test]
fn time_never_goes_backwards() {
    let mut wheel = wheel_at(100);
    wheel.insert(150, ());
    assert_eq!(wheel.poll(50), None);
    assert_eq!(wheel.elapsed(), 100);
    assert_eq!(wheel.poll(149), None);
    assert_eq!(wheel.poll(0), None);
    assert_eq!(wheel.elapsed(), 149);
    assert_eq!(wheel.poll(150), Some((150, ())));
}

#[test]
fn timers_sharing_a_deadline_all_fire_then() {
    for deadline in [777, P3 + 5, P5 * 3] {
        let mut wheel = Wheel::new();
        for i in 0..1000 {
            wheel.insert(deadline, i);
        }
        wheel.insert(deadline + 1, 1000);
        assert_eq!(wheel.poll(deadline - 1), None);
        let mut fired = drain(&mut wheel, deadline);
        assert!(fired.iter().all(|&(d, _)| d == deadline));
        fired.sort();
        assert!(fired.iter().map(|&(_, i)| i).eq(0..1000));
        assert_eq!(wheel.len(), 1);
    }
}

#[test]
fn levels_follow_the_highest_differing_digit() {
    let cases = [
        (0, 0, 0),
        (0, 63, 0),
        (0, 64, 1),
        (63, 64, 1),
        (64, 127, 0),
        (0, P2 - 1, 1),
        (0, P2, 2),
        (P2 - 1, P2, 2),
        (0, P3 - 1, 2),
        (0, P3, 3),
        (0, P4, 4),
        (0, P5 - 1, 4),
        (0, P5, 5),
        (0, MAX_DELAY, 5),
        (P6 - 1, P6, 5),
        (P6 - 1, P6 - 1 + MAX_DELAY, 5),
        (P6, P6 + 63, 0),
        (u64::MAX - 1, u64::MAX, 0),
        (u64::MAX - MAX_DELAY, u64::MAX, 5),
    ];
    for (elapsed, deadline, level) in cases {
        assert_eq!(
            level_for(elapsed, deadline),
            level,
            "elapsed {elapsed}, deadline {deadline}"
        );
    }
}

#[test]
fn top_level_wraps_into_the_next_block() {
    // In the last top-level slot of the first 64^6 ms block.
    let start = P6 - P5 + 12_345;
    let mut wheel = wheel_at(start);
    let mut deadlines = [
        start + P5,
        start + 2 * P5,
        start + MAX_DELAY,
        P6 - 1,
        P6,
        P6 + 1,
    ];
    let keys: Vec<TimerKey> = deadlines.iter().map(|&d| wheel.insert(d, d)).collect();
    let filed = |key: &TimerKey| {
        let entry = &wheel.entries[key.index as usize];
        (entry.level, entry.slot)
    };
    // One slot ahead on the ring is index 0 again, behind the current 63.
    assert_eq!(filed(&keys[0]), (5, 0));
    assert_eq!(filed(&keys[1]), (5, 1));
    assert_eq!(filed(&keys[2]), (5, 62));
    assert_eq!(filed(&keys[3]).0, 4);
    assert_eq!(filed(&keys[4]), (5, 0));

    deadlines.sort();
    for d in deadlines {
        assert_eq!(wheel.poll(d - 1), None);
        assert_eq!(wheel.poll(d), Some((d, d)));
    }
    assert!(wheel.is_empty());
}

#[test]
fn deadlines_across_level_boundaries() {
    for start in STARTS {
        for delta in DELTAS {
            let deadline = start + delta;

            // Alone, it fires exactly at its deadline.
            let mut wheel = wheel_at(start);
            wheel.insert(deadline, delta);
            if delta > 0 {
                assert_eq!(
                    wheel.poll(deadline - 1),
                    None,
                    "start {start}, delta {delta}"
                );
            }
            assert_eq!(wheel.poll(deadline), Some((deadline, delta)));
            assert!(wheel.is_empty());

            // Following `next_expiration` (a paused clock) reaches it in at
            // most one cascade per level, each bound later than the last.
            let mut wheel = wheel_at(start);
            wheel.insert(deadline, delta);
            let mut empty_polls = 0;
            loop {
                let next = wheel.next_expiration().unwrap();
                assert!(next <= deadline, "start {start}, delta {delta}: {next}");
                if let Some(fired) = wheel.poll(next) {
                    assert_eq!(fired, (deadline, delta));
                    break;
                }
                empty_polls += 1;
                assert!(empty_polls < LEVELS, "start {start}, delta {delta}");
                assert!(wheel.next_expiration().unwrap() > next);
            }
        }

        // All together, they fire one by one, each exactly on time.
        let mut wheel = wheel_at(start);
        for delta in DELTAS {
            wheel.insert(start + delta, delta);
        }
        for delta in DELTAS {
            let deadline = start + delta;
            if delta > 0 {
                assert_eq!(
                    wheel.poll(deadline - 1),
                    None,
                    "start {start}, delta {delta}"
                );
            }
            assert_eq!(wheel.poll(deadline), Some((deadline, delta)));
        }
        assert!(wheel.is_empty());
    }
}

#[test]
fn far_deadlines_are_clamped() {
    for start in [
        0,
        12_345,
        P6 - P5 + 1,
        u64::MAX - MAX_DELAY - 5,
        u64::MAX - 10,
    ] {
        let mut wheel = wheel_at(start);
        let max = start.saturating_add(MAX_DELAY);
        let requested = [
            max,
            max.saturating_add(1),
            start.saturating_add(P6),
            u64::MAX,
        ];
        for d in requested {
            wheel.insert(d, d);
        }
        let next = wheel.next_expiration().unwrap();
        assert!(start < next && next <= max);
        if max > start {
            assert_eq!(wheel.poll(max - 1), None, "start {start}");
        }
        let fired = drain(&mut wheel, u64::MAX);
        assert_eq!(fired.len(), requested.len());
        for (deadline, d) in fired {
            assert_eq!(deadline, max, "start {start}, requested {d}");
        }
        assert_eq!(wheel.elapsed(), u64::MAX);
        assert!(wheel.is_empty());
    }
}

#[test]
fn removed_timers_never_fire() {
    let mut wheel = Wheel::new();
    let a = wheel.insert(10, 'a');
    let b = wheel.insert(10, 'b');
    let c = wheel.insert(10, 'c');
    let d = wheel.insert(10, 'd');
    let far = wheel.insert(P4 + 3, 'f');
    assert_eq!(wheel.len(), 5);

    // Middle, head and tail of one slot's list.
    assert_eq!(wheel.remove(b), Some('b'));
    assert_eq!(wheel.remove(d), Some('d'));
    assert_eq!(wheel.remove(a), Some('a'));
    // Alone on a higher level.
    assert_eq!(wheel.remove(far), Some('f'));
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.next_expiration(), Some(10));

    assert_eq!(drain(&mut wheel, u64::MAX), [(10, 'c')]);
    assert_eq!(wheel.remove(c), None);

    // Emptying a slot clears its occupancy, so it is not reported any more.
    let mut wheel = Wheel::new();
    let keys = [
        wheel.insert(5, 0),
        wheel.insert(P3 + 9, 1),
        wheel.insert(MAX_DELAY, 2),
    ];
    assert_eq!(wheel.remove(keys[0]), Some(0));
    assert_eq!(wheel.next_expiration(), Some(P3));
    assert_eq!(wheel.remove(keys[1]), Some(1));
    assert_eq!(wheel.remove(keys[2]), Some(2));
    assert_eq!(wheel.next_expiration(), None);
    assert!(wheel.is_empty());
    assert_eq!(wheel.poll(u64::MAX), None);
}

#[test]
fn stale_keys_are_harmless() {
    let mut wheel = Wheel::new();
    let fired = wheel.insert(5, 'f');
    let removed = wheel.insert(6, 'r');
    let other = wheel.insert(7, 'o');

    assert_eq!(wheel.poll(5), Some((5, 'f')));
    assert_eq!(wheel.remove(fired), None);
    assert_eq!(wheel.remove(removed), Some('r'));
    assert_eq!(wheel.remove(removed), None);

    // New timers reuse the freed entries, under new generations.
    let reused_removed = wheel.insert(8, 'n');
    let reused_fired = wheel.insert(9, 'm');
    assert_eq!(reused_removed.index, removed.index);
    assert_eq!(reused_fired.index, fired.index);
    assert_ne!(reused_removed, removed);
    assert_ne!(reused_fired, fired);
    assert_eq!(wheel.remove(removed), None);
    assert_eq!(wheel.remove(fired), None);
    assert_eq!(wheel.len(), 3);

    assert_eq!(drain(&mut wheel, 100), [(7, 'o'), (8, 'n'), (9, 'm')]);
    for key in [fired, removed, other, reused_removed, reused_fired] {
        assert_eq!(wheel.remove(key), None);
    }

    // A key whose index the slab never reached.
    let mut big = Wheel::new();
    let keys: Vec<TimerKey> = (0..10).map(|i| big.insert(i, i)).collect();
    let mut small = Wheel::<u64>::new();
    small.insert(1, 1);
    assert_eq!(small.remove(keys[9]), None);
    assert_eq!(small.len(), 1);
}

#[test]
fn values_are_dropped_exactly_once() {
    let token = Rc::new(());
    let mut wheel = Wheel::new();
    let key = wheel.insert(10, Rc::clone(&token));
    for deadline in [20, P3, MAX_DELAY] {
        wheel.insert(deadline, Rc::clone(&token));
    }
    assert_eq!(Rc::strong_count(&token), 5);
    drop(wheel.remove(key));
    assert_eq!(Rc::strong_count(&token), 4);
    drop(wheel.poll(20));
    assert_eq!(Rc::strong_count(&token), 3);
    // Pending timers go with the wheel.
    drop(wheel);
    assert_eq!(Rc::strong_count(&token), 1);
}

#[test]
fn slab_does_not_grow_in_steady_state() {
    let mut rng = Rng::new(7);
    let mut wheel = Wheel::new();
    let mut keys: Vec<TimerKey> = (0..1000).map(|i| wheel.insert(rng.below(P3), i)).collect();
    let capacity = wheel.entries.capacity();
    for i in 0..20_000 {
        if i % 2 == 0 {
            // The earliest timer fires...
            wheel.poll(u64::MAX).unwrap();
        } else {
            // ...or a random one is cancelled (perhaps already fired).
            let _ = wheel.remove(keys[rng.below(1000) as usize]);
        }
        let deadline = wheel.elapsed() + rng.below(P3);
        while wheel.len() < 1000 {
            keys[rng.below(1000) as usize] = wheel.insert(deadline, i);
        }
        assert_eq!(wheel.entries.len(), 1000);
    }
    assert_eq!(wheel.entries.capacity(), capacity);
}
