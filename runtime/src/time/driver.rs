//! The timer driver: one timing wheel per worker, each behind its own lock.
//!
//! A sleep registers in the wheel of the worker it is first polled on (shard
//! 0 off the workers) and stores its task's waker there. The owning worker
//! fires due timers when it wakes and every `event_interval` ticks, and
//! parks no longer than its wheel's next expiration. A sleep polled or
//! dropped elsewhere takes that wheel's lock to update or deregister.
//!
//! Trade-off: a worker stuck in a long poll fires its own wheel's timers
//! late; the other workers do not take them over.
//!
//! At shutdown (`shutdown`, once no worker runs any more) every wheel is
//! drained and its timers woken: a sleep polled after its runtime is gone
//! panics with a message instead of waiting forever, as tokio's do.

use super::clock::Clock;
use super::wheel::{TimerKey, Wheel};
// The loom shim: the shutdown hand-off below is model-checked
// (`loom-tests/tests/timer_shutdown.rs`).
use crate::loom::{AtomicBool, Mutex, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

/// Wakers fired per lock hold: they are woken after the lock is released,
/// because waking may drop a task's last reference, and dropping its future
/// may drop a sleep, which takes this lock.
const FIRE_BATCH: usize = 32;

/// The runtime has shut down: its timers never fire.
#[derive(Debug)]
pub(crate) struct ShutDown;

pub(crate) struct TimeDriver {
    clock: Clock,
    shards: Box<[Mutex<Wheel<Waker>>]>,
    /// Set once, by the runtime's shutdown after its workers stopped: no
    /// wheel will ever be driven again, so every timer is woken (and
    /// panics when polled) instead of waiting forever.
    shut_down: AtomicBool,
}

impl TimeDriver {
    pub(crate) fn new(shards: usize, start_paused: bool) -> TimeDriver {
        TimeDriver {
            clock: Clock::new(start_paused),
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Wheel::new()))
                .collect(),
            shut_down: AtomicBool::new(false),
        }
    }

    /// The runtime has shut down: marks every wheel dead and wakes every
    /// timer in it, so a sleep being awaited (a `block_on` on another
    /// thread, a future moved to another executor) is polled once more and
    /// reports the shutdown instead of waiting for a wheel nobody drives.
    ///
    /// No timer is missed: the flag is stored before each shard's lock is
    /// taken to drain it, and `register` reads the flag again after its
    /// insert, so a registration either lands before the drain (and is
    /// woken) or sees the flag.
    pub(crate) fn shutdown(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
        for shard in 0..self.shards.len() {
            loop {
                // Taken out under the lock, woken outside it (as in `process`).
                let mut batch = Vec::with_capacity(FIRE_BATCH);
                {
                    let mut wheel = self.shards[shard].lock();
                    while batch.len() < FIRE_BATCH {
                        match wheel.poll(u64::MAX) {
                            Some((_, waker)) => batch.push(waker),
                            None => break,
                        }
                    }
                }
                let last = batch.len() < FIRE_BATCH;
                for waker in batch {
                    waker.wake();
                }
                if last {
                    break;
                }
            }
        }
    }

    /// Whether [`shutdown`](Self::shutdown) has run.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn num_shards(&self) -> usize {
        self.shards.len()
    }

    /// Registers a timer in `shard`, or refuses with [`ShutDown`] if the
    /// runtime has shut down: then nothing will ever fire it.
    ///
    /// The flag is read after the insert, under no lock: a shutdown that
    /// drains this shard stores the flag before it takes the shard's lock,
    /// so either the drain finds (and wakes) this timer or this read sees
    /// the flag. Reading it only before the insert would let a timer land
    /// behind the drain and wait forever (the loom model `timer_shutdown`
    /// checks both orders).
    pub(crate) fn register(
        &self,
        shard: usize,
        deadline: Instant,
        waker: Waker,
    ) -> Result<TimerKey, ShutDown> {
        if self.is_shut_down() {
            return Err(ShutDown);
        }
        let ms = self.clock.deadline_ms(deadline);
        let key = self.shards[shard].lock().insert(ms, waker);
        if self.is_shut_down() {
            self.deregister(shard, key);
            return Err(ShutDown);
        }
        Ok(key)
    }

    /// Stores `waker` for a registered timer. `false` if it already fired.
    pub(crate) fn update_waker(&self, shard: usize, key: TimerKey, waker: &Waker) -> bool {
        let mut wheel = self.shards[shard].lock();
        match wheel.get_mut(key) {
            Some(stored) => {
                if !stored.will_wake(waker) {
                    *stored = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn deregister(&self, shard: usize, key: TimerKey) {
        let removed = self.shards[shard].lock().remove(key);
        // Dropped after the lock is released (a waker's drop runs code).
        drop(removed);
    }

    /// Fires every timer of `shard` that is due; returns how many fired.
    pub(crate) fn process(&self, shard: usize) -> usize {
        let now = self.clock.now_ms();
        let mut fired = 0;
        loop {
            let mut batch: [Option<Waker>; FIRE_BATCH] = Default::default();
            let mut count = 0;
            {
                let mut wheel = self.shards[shard].lock();
                while count < FIRE_BATCH {
                    match wheel.poll(now) {
                        Some((_, waker)) => {
                            batch[count] = Some(waker);
                            count += 1;
                        }
                        None => break,
                    }
                }
            }
            for waker in batch.iter_mut().take(count) {
                if let Some(waker) = waker.take() {
                    waker.wake();
                }
            }
            fired += count;
            if count < FIRE_BATCH {
                return fired;
            }
        }
    }

    /// Milliseconds (since the clock's base) at which `shard` may next have
    /// a timer due.
    pub(crate) fn next_expiration_ms(&self, shard: usize) -> Option<u64> {
        self.shards[shard].lock().next_expiration()
    }

    /// How long the owner of `shard` may sleep: until its next expiration,
    /// or indefinitely (`None`). A paused clock never expires by itself.
    pub(crate) fn park_timeout(&self, shard: usize) -> Option<Duration> {
        if self.clock.is_paused() {
            return None;
        }
        self.next_expiration_ms(shard)
            .map(|ms| self.clock.until_ms(ms))
    }

    /// With the clock paused and nothing else to do: jumps to the earliest
    /// expiration over all shards. `false` if no timer is pending.
    pub(crate) fn advance_paused_to_next(&self) -> bool {
        let next = (0..self.shards.len())
            .filter_map(|shard| self.next_expiration_ms(shard))
            .min();
        match next {
            Some(ms) => {
                self.clock.advance_to_ms(ms);
                true
            }
            None => false,
        }
    }

    /// Timers registered and not yet fired or dropped.
    pub(crate) fn active_timers(&self) -> usize {
        self.shards.iter().map(|wheel| wheel.lock().len()).sum()
    }
}
