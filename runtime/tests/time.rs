//! Timers: sleep, timeout, interval, and the paused clock.

use runtime::time::{self, Duration, Instant, MissedTickBehavior};
use runtime::{Builder, Runtime};
use std::future::Future;
use std::sync::{Arc, Mutex};

fn paused() -> Runtime {
    Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn a_hundred_thousand_sleeps_fire_in_deadline_order() {
    let rt = paused();
    let fired = Arc::new(Mutex::new(Vec::with_capacity(100_000)));
    rt.block_on(async {
        let start = Instant::now();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut handles = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = Duration::from_millis(seed % 600_000);
            let fired = fired.clone();
            handles.push(runtime::spawn(async move {
                time::sleep(delay).await;
                let now = Instant::now();
                assert!(now - start >= delay, "fired early");
                fired.lock().unwrap().push((now, delay));
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
    });
    let fired = fired.lock().unwrap();
    assert_eq!(fired.len(), 100_000);
    // The paused clock makes firing time exact: each timer fires at its
    // (millisecond) deadline, so the log is sorted by deadline.
    assert!(
        fired.windows(2).all(|w| w[0].1 <= w[1].1),
        "out of deadline order"
    );
    assert!(fired.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(rt.metrics().active_timers(), 0);
}

#[test]
fn timeout_gives_elapsed_and_drops_the_future() {
    let rt = paused();
    rt.block_on(async {
        let start = Instant::now();
        let err = time::timeout(Duration::from_secs(5), std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "deadline has elapsed");
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);

        let ok = time::timeout(Duration::from_secs(5), async { 3 }).await;
        assert_eq!(ok, Ok(3));
        let raced =
            time::timeout(Duration::from_secs(2), time::sleep(Duration::from_secs(1))).await;
        assert!(raced.is_ok());
    });
    assert_eq!(rt.metrics().active_timers(), 0);
}

#[test]
fn interval_ticks_the_expected_count() {
    let rt = paused();
    rt.block_on(async {
        let start = Instant::now();
        let mut interval = time::interval(Duration::from_millis(100));
        let mut ticks = Vec::new();
        while start.elapsed() < Duration::from_secs(1) {
            ticks.push(interval.tick().await - start);
        }
        // Ticks at 0, 100, …, 1000 ms: the first is immediate.
        assert_eq!(ticks.len(), 11);
        for (i, tick) in ticks.iter().enumerate() {
            assert_eq!(*tick, Duration::from_millis(100 * i as u64));
        }
    });
}

#[test]
fn interval_missed_tick_behaviors() {
    let rt = paused();
    rt.block_on(async {
        for (behavior, expected_next) in [
            (MissedTickBehavior::Burst, 200),
            (MissedTickBehavior::Delay, 350 + 100),
            (MissedTickBehavior::Skip, 400),
        ] {
            let start = Instant::now();
            let mut interval = time::interval(Duration::from_millis(100));
            interval.set_missed_tick_behavior(behavior);
            interval.tick().await;
            // Busy for 350 ms: ticks at 100, 200, 300 are missed.
            time::advance(Duration::from_millis(350)).await;
            interval.tick().await; // the late tick, due at 100
            let next = interval.tick().await - start;
            assert_eq!(next, Duration::from_millis(expected_next), "{behavior:?}");
        }
    });
}

#[test]
fn dropped_sleeps_leave_the_wheel_empty() {
    for rt in [
        paused(),
        Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    ] {
        rt.block_on(async {
            let handles: Vec<_> = (0..1000)
                .map(|i| runtime::spawn(time::sleep(Duration::from_secs(100 + i))))
                .collect();
            while runtime::Handle::current().metrics().active_timers() < 1000 {
                runtime::task::yield_now().await;
            }
            for handle in &handles {
                handle.cancel();
            }
            for handle in handles {
                assert!(handle.await.unwrap_err().is_cancelled());
            }
            // Sleeps created and dropped without ever being polled, too.
            for i in 0..1000 {
                drop(time::sleep(Duration::from_secs(i)));
            }
        });
        assert_eq!(rt.metrics().active_timers(), 0);
    }
}

#[test]
fn advance_moves_the_clock_and_fires_due_timers() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        time::pause();
        let start = Instant::now();
        let sleeper = runtime::spawn(time::sleep(Duration::from_secs(10)));
        time::advance(Duration::from_secs(9)).await;
        assert!(!sleeper.is_finished());
        assert_eq!(start.elapsed(), Duration::from_secs(9));
        time::advance(Duration::from_secs(1)).await;
        sleeper.await.unwrap();
        time::resume();
        let resumed = Instant::now();
        time::sleep(Duration::from_millis(5)).await;
        assert!(resumed.elapsed() >= Duration::from_millis(5));
    });
}

#[test]
fn real_sleeps_on_both_flavors() {
    for rt in [
        Builder::new_current_thread().build().unwrap(),
        Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    ] {
        rt.block_on(async {
            let start = std::time::Instant::now();
            let handles: Vec<_> = (0..100)
                .map(|i| runtime::spawn(time::sleep(Duration::from_millis(i % 20))))
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
            time::sleep(Duration::from_millis(20)).await;
            assert!(start.elapsed() >= Duration::from_millis(20));
            let deadline = Instant::now() + Duration::from_millis(10);
            time::sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);
        });
    }
}

#[test]
fn a_sleep_moved_between_threads_still_fires() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        // Registered on the block_on thread (shard 0, owned by worker 0),
        // then awaited inside a task that may run on either worker.
        let mut sleep = time::sleep(Duration::from_millis(30));
        let first = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::pin::Pin::new(&mut sleep).poll(cx).is_ready())
        })
        .await;
        assert!(!first);
        runtime::spawn(sleep).await.unwrap();
    });
}

#[test]
fn sleep_reset_moves_the_deadline() {
    let rt = paused();
    rt.block_on(async {
        let start = Instant::now();
        let mut sleep = time::sleep(Duration::from_secs(10));
        sleep.reset(start + Duration::from_secs(2));
        assert_eq!(sleep.deadline(), start + Duration::from_secs(2));
        (&mut sleep).await;
        assert!(sleep.is_elapsed());
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    });
}

#[test]
#[should_panic(expected = "needs a current_thread runtime")]
fn pause_on_a_multi_thread_runtime_panics_clearly() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async { time::pause() });
}

#[test]
#[should_panic(expected = "`runtime::time::sleep` called outside of a runtime")]
fn sleep_outside_a_runtime_panics_clearly() {
    drop(time::sleep(Duration::from_secs(1)));
}

#[test]
#[should_panic(expected = "period must be non-zero")]
fn a_zero_interval_panics_clearly() {
    let rt = paused();
    rt.block_on(async { drop(time::interval(Duration::ZERO)) });
}

#[test]
fn start_paused_with_multi_thread_is_a_build_error() {
    let err = Builder::new_multi_thread()
        .start_paused(true)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "start_paused requires the current_thread flavor"
    );
}

#[test]
fn sleeps_spend_the_coop_budget() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag2 = flag.clone();
        let greedy = runtime::spawn(async move {
            // An already-elapsed sleep is always ready.
            for i in 0..10_000 {
                time::sleep(Duration::ZERO).await;
                if flag2.load(std::sync::atomic::Ordering::SeqCst) {
                    return Some(i);
                }
            }
            None
        });
        runtime::spawn(async move { flag.store(true, std::sync::atomic::Ordering::SeqCst) });
        let seen_at = greedy.await.unwrap().expect("the other task never ran");
        assert!(seen_at <= 200, "{seen_at}");
    });
}
