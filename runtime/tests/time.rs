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

// ----- defects found by stress tests -----

/// What a timer of a shut-down runtime does when awaited: panics with the
/// message, instead of waiting for a wheel no worker drives.
fn assert_panics_with_shutdown_message(result: std::thread::Result<()>) {
    let payload = result.expect_err("a timer of a shut-down runtime must not wait or fire");
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(message.contains("runtime has shut down"), "{message}");
}

/// Runs `f` on a thread and fails (instead of hanging the suite) if it
/// does not end within 20 s.
fn within_20s<F: FnOnce() + Send + 'static>(f: F) -> std::thread::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(result);
    });
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("hung: a timer of a shut-down runtime waited")
}

fn both_flavors() -> [Runtime; 2] {
    [
        Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
        Builder::new_current_thread().build().unwrap(),
    ]
}

#[test]
fn a_sleep_on_a_dropped_runtime_panics_instead_of_waiting_forever() {
    for rt in both_flavors() {
        let handle = rt.handle();
        drop(rt);
        let result = within_20s(move || {
            handle.block_on(async { time::sleep(Duration::from_millis(100)).await });
        });
        assert_panics_with_shutdown_message(result);
    }
}

#[test]
fn a_block_on_sleeping_when_the_runtime_drops_panics_instead_of_waiting_forever() {
    for rt in both_flavors() {
        let handle = rt.handle();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                handle.block_on(async {
                    let sleep = time::sleep(Duration::from_secs(3600));
                    let mut sleep = std::pin::pin!(sleep);
                    // Registered in a wheel before the runtime drops.
                    std::future::poll_fn(|cx| {
                        assert!(sleep.as_mut().poll(cx).is_pending());
                        std::task::Poll::Ready(())
                    })
                    .await;
                    started_tx.send(()).unwrap();
                    sleep.await;
                })
            }))
        });
        started_rx.recv().unwrap();
        drop(rt);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(sleeper.join().unwrap());
        });
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("hung: the sleeping block_on was never woken");
        assert_panics_with_shutdown_message(result);
    }
}

#[test]
fn a_sleep_registered_before_the_drop_and_polled_after_on_another_executor_panics() {
    for rt in both_flavors() {
        // Registered in the runtime's wheel, then carried out of it.
        let guard = rt.enter();
        let mut sleep = Box::pin(time::sleep(Duration::from_secs(3600)));
        drop(guard);
        rt.block_on(std::future::poll_fn(|cx| {
            assert!(sleep.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        }));
        drop(rt);
        let result = within_20s(move || futures_executor_block_on(sleep.as_mut()));
        assert_panics_with_shutdown_message(result);
    }
}

/// A minimal executor that is not the runtime: polls on this thread and
/// sleeps between wakes.
fn futures_executor_block_on<F: Future<Output = ()> + Unpin>(mut future: F) {
    struct ThreadWaker(std::thread::Thread);
    impl std::task::Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    while std::pin::Pin::new(&mut future).poll(&mut cx).is_pending() {
        std::thread::park();
    }
}

#[test]
fn an_interval_of_duration_max_ticks_without_overflow() {
    let rt = paused();
    rt.block_on(async {
        let start = Instant::now();
        let mut interval = time::interval(Duration::MAX);
        assert_eq!(interval.tick().await, start, "the first tick is at once");
        // The next deadline saturates far in the future instead of
        // panicking with "overflow when adding duration to instant".
        let next = time::timeout(Duration::from_secs(3600), interval.tick()).await;
        assert!(next.is_err(), "the second tick is not due within an hour");
        interval.reset();
        for behavior in [MissedTickBehavior::Delay, MissedTickBehavior::Skip] {
            let mut interval = time::interval(Duration::MAX);
            interval.set_missed_tick_behavior(behavior);
            interval.tick().await;
            assert!(time::timeout(Duration::from_secs(1), interval.tick())
                .await
                .is_err());
        }
    });
}

#[test]
fn a_skip_interval_after_a_stall_of_more_than_u32_max_periods_moves_on() {
    let rt = paused();
    rt.block_on(async {
        let mut interval = time::interval(Duration::from_nanos(1));
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let first = interval.tick().await;
        // 5 s of 1 ns periods: 5e9 missed ticks, more than u32::MAX.
        time::advance(Duration::from_secs(5)).await;
        let mut previous = first;
        for _ in 0..3 {
            let tick = interval.tick().await;
            assert!(tick > previous, "the same instant twice: {tick:?}");
            previous = tick;
        }
        assert!(previous - first >= Duration::from_secs(5), "skipped ahead");
    });
}
