//! The timer wheels' shutdown hand-off (`time/driver.rs`): a timer
//! registered while the runtime shuts down is refused, or woken by the
//! shutdown's drain; never left in a wheel nobody drives (where a sleep
//! would wait forever). `TimeDriver::register` reads the shut-down flag
//! again after its insert; `shutdown` stores the flag before it drains.
//!
//! Seeded bug checked: with the read after the insert removed
//! (`register` checking the flag only before it inserts), `a_registration_
//! racing_shutdown_is_refused_or_woken` fails ("registered, never woken").
//!
//! Run:
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test timer_shutdown

#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use runtime::__loom::TimerWheels;
use std::sync::Arc;
use std::task::{Wake, Waker};

/// Counts its wakes.
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_registration_racing_shutdown_is_refused_or_woken() {
    loom::model(|| {
        let wheels = loom::sync::Arc::new(TimerWheels::new(1));
        let woken = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let registering = {
            let (wheels, woken) = (wheels.clone(), woken.clone());
            thread::spawn(move || wheels.register(0, Waker::from(woken)))
        };
        wheels.shutdown();
        let registered = registering.join().unwrap();
        let wakes = woken.0.load(Ordering::SeqCst);
        if registered {
            assert_eq!(
                wakes, 1,
                "registered, never woken: a sleep would wait forever"
            );
        } else {
            assert!(wakes <= 1, "woken twice");
        }
        assert_eq!(wheels.registered(), 0, "a timer left in a dead wheel");
    });
}

#[test]
fn two_shards_two_registrations_and_shutdown() {
    loom::model(|| {
        let wheels = loom::sync::Arc::new(TimerWheels::new(2));
        let wakers: Vec<_> = (0..2)
            .map(|_| Arc::new(CountingWaker(AtomicUsize::new(0))))
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|shard| {
                let (wheels, woken) = (wheels.clone(), wakers[shard].clone());
                thread::spawn(move || wheels.register(shard, Waker::from(woken)))
            })
            .collect();
        wheels.shutdown();
        for (thread, woken) in threads.into_iter().zip(&wakers) {
            let registered = thread.join().unwrap();
            if registered {
                assert_eq!(woken.0.load(Ordering::SeqCst), 1);
            }
        }
        assert_eq!(wheels.registered(), 0);
    });
}
