//! The blocking pool: results, panics, bounds, keep-alive, cancellation.

use runtime::task::TaskState;
use runtime::{Builder, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn rt(max_blocking: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(max_blocking)
        .thread_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap()
}

#[test]
fn returns_the_result_and_reports_a_panic() {
    let rt = rt(4);
    rt.block_on(async {
        assert_eq!(runtime::spawn_blocking(|| 6 * 7).await.unwrap(), 42);
        let err = runtime::spawn_blocking(|| panic!("blocking boom"))
            .await
            .unwrap_err();
        assert!(err.is_panic());
        assert!(err.to_string().contains("blocking boom"));
    });
}

#[test]
fn does_not_block_the_workers() {
    let rt = rt(4);
    rt.block_on(async {
        let blocked = runtime::spawn_blocking(|| std::thread::sleep(Duration::from_millis(200)));
        // The single worker is free meanwhile.
        assert_eq!(runtime::spawn(async { 1 }).await.unwrap(), 1);
        assert!(!blocked.is_finished());
        blocked.await.unwrap();
    });
}

#[test]
fn the_pool_is_bounded_and_queues_the_rest() {
    let rt = rt(3);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            rt.spawn_blocking(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    rt.block_on(async {
        for handle in handles {
            handle.await.unwrap();
        }
    });
    assert!(
        peak.load(Ordering::SeqCst) <= 3,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert!(rt.metrics().blocking_threads() <= 3);
}

#[test]
fn idle_threads_leave_after_the_keep_alive() {
    let rt = rt(8);
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let barrier = barrier.clone();
            rt.spawn_blocking(move || {
                barrier.wait();
            })
        })
        .collect();
    rt.block_on(async {
        for handle in handles {
            handle.await.unwrap();
        }
    });
    assert_eq!(rt.metrics().blocking_threads(), 4);
    let mut waited = Duration::ZERO;
    while rt.metrics().blocking_threads() > 0 {
        assert!(waited < Duration::from_secs(10), "threads never left");
        std::thread::sleep(Duration::from_millis(10));
        waited += Duration::from_millis(10);
    }
}

#[test]
fn a_queued_closure_can_be_cancelled_before_it_runs() {
    let rt = rt(1);
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let occupying = rt.spawn_blocking(move || release_rx.recv().unwrap());
    let ran = Arc::new(AtomicUsize::new(0));
    let ran2 = ran.clone();
    let queued = rt.spawn_blocking(move || {
        ran2.fetch_add(1, Ordering::SeqCst);
    });
    queued.cancel();
    assert_eq!(queued.state(), TaskState::Cancelled);
    release_tx.send(()).unwrap();
    rt.block_on(async {
        occupying.await.unwrap();
        assert!(queued.await.unwrap_err().is_cancelled());
    });
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn blocking_threads_are_inside_the_runtime() {
    let rt = rt(2);
    let inner = rt
        .block_on(rt.spawn_blocking(|| {
            let handle = runtime::Handle::current();
            handle.block_on(runtime::spawn(async { "spawned from a blocking thread" }))
        }))
        .unwrap();
    assert_eq!(inner.unwrap(), "spawned from a blocking thread");
}

#[test]
#[should_panic(expected = "`runtime::spawn_blocking` called outside of a runtime")]
fn spawn_blocking_outside_a_runtime_panics_clearly() {
    drop(runtime::spawn_blocking(|| {}));
}
