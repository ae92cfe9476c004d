//! A hierarchical timing wheel: the pure data structure behind sleeps and
//! timeouts.
//!
//! Each worker owns one [`Wheel`] behind its own lock (the shards of
//! `time/driver.rs`, whose module docs say who fires them and when); this
//! module knows nothing of locks, wakers or `Instant`s. Time is a `u64` count of milliseconds since the wheel was
//! created, and the payload `T` is whatever the timer driver needs to act on
//! a fired timer.
//!
//! # Layout
//!
//! Six levels of 64 slots. A slot on level `L` spans `64^L` ms, so level 0
//! has 1 ms slots covering 64 ms, level 1 has 64 ms slots covering 4 s,
//! level 2 covers ~4.4 min, level 3 ~4.7 h, level 4 ~12.4 days and level 5
//! ~2.2 years. A timer with deadline `d` lives on the lowest level whose
//! slots are too coarse to tell `d` apart from the wheel's current time
//! `elapsed`: write both in base 64, and the level is the position of the
//! highest digit in which they differ,
//!
//! ```text
//! level = highest_set_bit((elapsed ^ d) | 63) / 6      (at most 5)
//! slot  = (d >> (6 * level)) & 63
//! ```
//!
//! So a level-0 slot holds timers of one exact millisecond, and a slot on a
//! higher level holds timers that share a `64^L` ms stretch of time that
//! `elapsed` has not reached yet. When `elapsed` moves into such a stretch,
//! the slot is *cascaded*: its timers are re-filed by their exact deadlines,
//! which now differ from `elapsed` in a lower digit, so they land on lower
//! levels. Every timer thus moves down at most five times before it fires
//! from level 0.
//!
//! Below the top level the digits above a timer's level agree with
//! `elapsed`, so its slot index is always ahead of `elapsed`'s own slot
//! index on that level and slots never wrap. The top level has no digit
//! above it to agree on, so it is used as a ring: a deadline in the next
//! `64^6` ms block takes a slot index "behind" the current one. That is why
//! the range is one top-level slot short of `64^6` ms: a deadline a full
//! revolution ahead would share the slot `elapsed` is in.
//!
//! Each level keeps a 64-bit occupancy bitmap, so the next non-empty slot of
//! a level is a rotate and a `trailing_zeros`, and the next slot overall is
//! the earliest of six such answers.
//!
//! Timers live in a slab (a `Vec` of entries with an intrusive free list);
//! each slot is an intrusive doubly linked list threaded through the slab by
//! index. Insert, remove and firing are O(1) and allocate only when the slab
//! grows past its high-water mark. A [`TimerKey`] is a slab index plus the
//! generation of the entry when the timer was inserted; an entry's generation
//! changes whenever it is freed, so a stale key (its timer fired or was
//! removed, and the entry perhaps reused) cannot remove someone else's timer.
//!
//! # Trade-offs
//!
//! * **Clamping.** Deadlines more than [`MAX_DELAY`] (63 * 64^5 ms, about
//!   783 days) after `elapsed` are clamped to `elapsed + MAX_DELAY`: such a
//!   timer fires *early*, at the clamped time, and [`Wheel::poll`] reports
//!   the clamped deadline. Deadlines already past are likewise raised to
//!   `elapsed`. A runtime's sleeps of over two years are rare enough that a
//!   separate overflow list did not seem worth its cost.
//! * **Cascading cost.** Cascading is lazy and amortised (at most five moves
//!   per timer), but a single [`Wheel::poll`] that crosses into a crowded
//!   higher-level slot re-files all of that slot's timers at once: 100 000
//!   timers due in the same ~4.7 h stretch cost one O(100 000) step when
//!   that stretch begins.
//! * **Inexact next expiration.** [`Wheel::next_expiration`] reports the
//!   start of the earliest non-empty slot. That is exact for a level-0 slot
//!   but only a lower bound for a higher one, so a worker parked until then
//!   may wake, cascade, find nothing due and park again (at most five times
//!   per deadline, each time with a tighter bound). Making it exact would
//!   need a per-slot minimum that removal would invalidate.
//! * **Resolution.** 1 ms; the integrator decides how to round `Instant`s
//!   (rounding deadlines up keeps timers from firing early).

use std::fmt;

/// log2 of the number of slots per level.
const SLOT_BITS: u32 = 6;

/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;

const SLOT_MASK: u64 = SLOTS as u64 - 1;

/// Levels in the wheel.
const LEVELS: usize = 6;

/// The top level, the only one used as a ring.
const TOP: usize = LEVELS - 1;

/// How far past [`Wheel::elapsed`] a deadline may lie, in ms; later
/// deadlines are clamped to this distance. 63 top-level slots of `64^5` ms:
/// 67 645 734 912 ms, about 783 days.
pub(crate) const MAX_DELAY: u64 = (SLOTS as u64 - 1) << (SLOT_BITS * TOP as u32);

/// "No entry" in the slab's links. `u32` indices keep entries small; the
/// slab refuses to grow to this many entries.
const NIL: u32 = u32::MAX;

/// Names one inserted timer, for [`Wheel::remove`].
///
/// Only meaningful for the wheel that issued it. Once the timer has fired or
/// been removed the key is stale and [`Wheel::remove`] returns `None` for it,
/// even if the slab entry has since been reused by another timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    index: u32,
    /// A `u64` so that it cannot wrap round to a live timer's generation
    /// while a stale key is still held.
    generation: u64,
}

/// A hierarchical timing wheel of timers carrying a `T` each: 6 levels of
/// 64 slots at 1 ms resolution. See the [module documentation](self).
pub(crate) struct Wheel<T> {
    /// The wheel's current time in ms. Every pending timer's deadline is at
    /// least this, and each level's current slot above level 0 is empty.
    elapsed: u64,
    levels: [Level; LEVELS],
    /// The slab: pending timers and vacant entries.
    entries: Vec<Entry<T>>,
    /// Head of the list of vacant entries, linked through `Entry::next`.
    free_head: u32,
    /// Number of pending timers.
    len: usize,
}

struct Level {
    /// Bit `s` is set exactly when `heads[s]` is not `NIL`.
    occupied: u64,
    /// Head of each slot's list of timers.
    heads: [u32; SLOTS],
}

struct Entry<T> {
    /// Bumped whenever the entry is freed, which invalidates its keys.
    generation: u64,
    /// `Some` while the timer is pending, `None` while the entry is vacant.
    value: Option<T>,
    /// Already clamped into `elapsed..=elapsed + MAX_DELAY` at insertion.
    deadline: u64,
    /// Neighbours in the slot's list; `next` doubles as the free-list link.
    prev: u32,
    next: u32,
    /// Where the entry is filed, so removal can fix the list head and the
    /// occupancy bit without recomputing it from a since-moved `elapsed`.
    level: u8,
    slot: u8,
}

impl<T> Wheel<T> {
    /// Creates an empty wheel whose time is 0.
    pub(crate) fn new() -> Self {
        const EMPTY: Level = Level {
            occupied: 0,
            heads: [NIL; SLOTS],
        };
        Wheel {
            elapsed: 0,
            levels: [EMPTY; LEVELS],
            entries: Vec::new(),
            free_head: NIL,
            len: 0,
        }
    }

    /// The wheel's current time in ms: where the last [`poll`](Self::poll)
    /// stopped, which is its `now` if it returned `None` and the returned
    /// timer's deadline otherwise (0 for a new wheel). It never decreases,
    /// and every timer with an earlier deadline has fired.
    #[cfg_attr(not(test), allow(dead_code))] // the driver reads the clock instead
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of pending timers (inserted, not yet fired or removed).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    #[cfg_attr(not(test), allow(dead_code))] // the driver only needs `len`
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a timer that fires at `deadline` (ms) carrying `value`, and
    /// returns the key that [`remove`](Self::remove) takes.
    ///
    /// The deadline is clamped into `elapsed()..=elapsed() + MAX_DELAY`: a
    /// deadline at or before [`elapsed`](Self::elapsed) fires on the next
    /// [`poll`](Self::poll) (reported as due at `elapsed()`), and one more
    /// than [`MAX_DELAY`] ahead fires at `elapsed() + MAX_DELAY`.
    ///
    /// O(1); allocates only when every slab entry is in use.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` timers are already pending (slab indices are `u32`s,
    /// one value being reserved for "none").
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let deadline = deadline.clamp(self.elapsed, self.elapsed.saturating_add(MAX_DELAY));
        let index = self.alloc(deadline, value);
        self.link(index);
        self.len += 1;
        TimerKey {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Cancels the timer named by `key` and returns its value, or returns
    /// `None`, changing nothing, if the key is stale (its timer already
    /// fired or was removed).
    ///
    /// O(1); frees the slab entry for reuse.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.entries.get(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        debug_assert!(entry.value.is_some(), "a live generation on a vacant entry");
        self.unlink(key.index);
        Some(self.release(key.index).1)
    }

    /// The value of the pending timer named by `key`, or `None` if the key
    /// is stale.
    pub(crate) fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        let entry = self.entries.get_mut(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        entry.value.as_mut()
    }

    /// When the next timer may be due: the start of the earliest non-empty
    /// slot, or `None` if no timer is pending.
    ///
    /// This is a lower bound on the earliest pending deadline, never later
    /// than it, and exact when that slot is on level 0 (in particular
    /// whenever the earliest deadline is within the same 64 ms-aligned block
    /// as `elapsed()`). It is at least `elapsed()`, and equal to it only if a
    /// timer is due right now. `poll(t)` with `t` the returned value always
    /// makes progress: it returns a timer, or it cascades and afterwards
    /// `next_expiration()` is later than `t`.
    ///
    /// O(levels): one bitmap look-up per level, no scan of timers.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.next_slot().map(|(_, start)| start)
    }

    /// Removes and returns one timer whose deadline is at or before `now`,
    /// with that deadline (as clamped by [`insert`](Self::insert)), moving
    /// [`elapsed`](Self::elapsed) forward to the deadline. Returns `None`
    /// once nothing is due up to `now`, and then `elapsed() == now`.
    ///
    /// Called in a loop with the same `now`, it returns timers in
    /// non-decreasing deadline order, each exactly once; timers with the same
    /// deadline come in no particular order. Time does not go backwards: a
    /// `now` before `elapsed()` is taken as `elapsed()`.
    ///
    /// Amortised O(levels) per timer; one call may cascade whole slots (see
    /// the module documentation).
    pub(crate) fn poll(&mut self, now: u64) -> Option<(u64, T)> {
        let now = now.max(self.elapsed);
        loop {
            let (level, start) = match self.next_slot() {
                Some((level, start)) if start <= now => (level, start),
                _ => {
                    // No non-empty slot starts by `now`, so moving there
                    // enters none and keeps the invariants.
                    self.elapsed = now;
                    return None;
                }
            };
            // Taking the earliest slot means no higher-level slot is passed
            // without being cascaded, so no timer due by `now` stays hidden
            // on a higher level.
            self.elapsed = start;
            let slot = slot_for(start, level);
            if level == 0 {
                let index = self.levels[0].heads[slot];
                self.unlink(index);
                return Some(self.release(index));
            }
            self.cascade(level, slot);
        }
    }

    /// The earliest non-empty slot as `(level, start time)`.
    ///
    /// Non-empty slots on different levels never start at the same time: a
    /// level-`L` timer agrees with `elapsed` on every digit above `L`, so its
    /// slot starts inside `elapsed`'s current `64^(L+1)` ms block, whereas
    /// the slots of higher levels start on multiples of `64^(L+1)` after
    /// `elapsed`. So there is no tie to break between firing and cascading.
    fn next_slot(&self) -> Option<(usize, u64)> {
        let mut best: Option<(usize, u64)> = None;
        for (level, lvl) in self.levels.iter().enumerate().rev() {
            if lvl.occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let current = self.elapsed >> shift;
            // Rotating puts the current slot at bit 0, so the count is how
            // many slots ahead the next occupied one is. Only the top level
            // can wrap, and rotation handles that too.
            let distance = lvl
                .occupied
                .rotate_right((current & SLOT_MASK) as u32)
                .trailing_zeros();
            debug_assert!(
                level == 0 || distance > 0,
                "current slot of level {level} not cascaded"
            );
            // This equals the slot's timers' deadlines rounded down to the
            // slot, hence no overflow.
            let start = (current + u64::from(distance)) << shift;
            debug_assert!(best.is_none_or(|(_, earliest)| start != earliest));
            if best.is_none_or(|(_, earliest)| start < earliest) {
                best = Some((level, start));
            }
        }
        best
    }

    /// Re-files every timer of a higher-level slot that `elapsed` has just
    /// entered; each lands on a lower level.
    fn cascade(&mut self, level: usize, slot: usize) {
        let lvl = &mut self.levels[level];
        let mut index = std::mem::replace(&mut lvl.heads[slot], NIL);
        lvl.occupied &= !(1 << slot);
        while index != NIL {
            let next = self.entries[index as usize].next;
            self.link(index);
            debug_assert!(usize::from(self.entries[index as usize].level) < level);
            index = next;
        }
    }

    /// Takes a vacant entry (or grows the slab) and fills it.
    fn alloc(&mut self, deadline: u64, value: T) -> u32 {
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            self.free_head = entry.next;
            entry.value = Some(value);
            entry.deadline = deadline;
            return index;
        }
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&index| index != NIL)
            .expect("timing wheel: too many pending timers");
        self.entries.push(Entry {
            generation: 0,
            value: Some(value),
            deadline,
            prev: NIL,
            next: NIL,
            level: 0,
            slot: 0,
        });
        index
    }

    /// Frees an unlinked entry, invalidating its keys, and returns its
    /// deadline and value.
    fn release(&mut self, index: u32) -> (u64, T) {
        let entry = &mut self.entries[index as usize];
        entry.generation += 1;
        entry.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
        let value = entry.value.take().expect("releasing a vacant entry");
        (entry.deadline, value)
    }

    /// Files an entry in the slot its deadline picks relative to `elapsed`.
    fn link(&mut self, index: u32) {
        let deadline = self.entries[index as usize].deadline;
        let level = level_for(self.elapsed, deadline);
        let slot = slot_for(deadline, level);
        let lvl = &mut self.levels[level];
        let head = std::mem::replace(&mut lvl.heads[slot], index);
        lvl.occupied |= 1 << slot;
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        let entry = &mut self.entries[index as usize];
        entry.prev = NIL;
        entry.next = head;
        // Both fit: level < 6, slot < 64.
        entry.level = level as u8;
        entry.slot = slot as u8;
    }

    /// Takes a pending entry out of its slot's list.
    fn unlink(&mut self, index: u32) {
        let entry = &self.entries[index as usize];
        let (prev, next) = (entry.prev, entry.next);
        let (level, slot) = (usize::from(entry.level), usize::from(entry.slot));
        if prev == NIL {
            let lvl = &mut self.levels[level];
            debug_assert_eq!(lvl.heads[slot], index);
            lvl.heads[slot] = next;
            if next == NIL {
                lvl.occupied &= !(1 << slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len)
            .field("next_expiration", &self.next_expiration())
            .finish_non_exhaustive()
    }
}

/// The level on which a timer due at `deadline` is filed when the wheel's
/// time is `elapsed`: the base-64 digit position of the highest difference
/// between the two, capped at the top level (which is a ring, so it also
/// takes deadlines in the next top-level block).
fn level_for(elapsed: u64, deadline: u64) -> usize {
    debug_assert!(elapsed <= deadline && deadline - elapsed <= MAX_DELAY);
    // `| SLOT_MASK` so equal times land on level 0 rather than nowhere.
    let highest_bit = u64::BITS - 1 - ((elapsed ^ deadline) | SLOT_MASK).leading_zeros();
    ((highest_bit / SLOT_BITS) as usize).min(TOP)
}

/// The slot on `level` that holds time `t`.
fn slot_for(t: u64, level: usize) -> usize {
    ((t >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize
}

#[cfg(test)]
mod model_test;
#[cfg(test)]
mod test;
