//! The schedulers through the public API: volume, stealing, fairness,
//! misuse messages and shutdown.

use runtime::task::{JoinHandle, TaskState};
use runtime::{Builder, Handle, Runtime, UnhandledPanic};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn multi_thread(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_hundred_thousand_tasks_from_outside_all_complete() {
    let rt = multi_thread(2);
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<JoinHandle<usize>> = (0..100_000)
        .map(|i| {
            let done = done.clone();
            rt.spawn(async move {
                done.fetch_add(1, Ordering::Relaxed);
                i
            })
        })
        .collect();
    let sum = rt.block_on(async move {
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sum
    });
    assert_eq!(done.load(Ordering::Relaxed), 100_000);
    assert_eq!(sum, (0..100_000).sum::<usize>());
}

#[test]
fn a_hundred_thousand_tasks_from_inside_are_stolen_by_the_other_worker() {
    let rt = multi_thread(2);
    let done = Arc::new(AtomicUsize::new(0));
    let done2 = done.clone();
    // One task spawns everything, so everything starts in one local queue.
    let total = rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = (0..100_000)
            .map(|_| {
                let done = done2.clone();
                runtime::spawn(async move {
                    // A little work per task, so the spawner's worker
                    // cannot drain its queue before the other looks.
                    std::hint::black_box((0..50).sum::<u64>());
                    done.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        // Hold this worker inside this poll until all but one have run:
        // only the other worker can run them, by stealing, so the steal
        // counts below follow from the contract, not from timing. (The last
        // task spawned sits in this worker's LIFO slot, which is never
        // stolen.)
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while done2.load(Ordering::Relaxed) < 99_999 {
            assert!(
                std::time::Instant::now() < deadline,
                "the other worker did not steal the spawned tasks"
            );
            std::hint::spin_loop();
        }
        let count = handles.len();
        for handle in handles {
            handle.await.unwrap();
        }
        count
    }));
    assert_eq!(total.unwrap(), 100_000);
    assert_eq!(done.load(Ordering::Relaxed), 100_000);
    let metrics = rt.metrics();
    let steals: u64 = (0..2).map(|i| metrics.worker(i).steals).sum();
    let stolen: u64 = (0..2).map(|i| metrics.worker(i).stolen_tasks).sum();
    assert!(steals > 0, "the idle worker never stole");
    assert!(stolen >= steals);
    let polls: u64 = (0..2).map(|i| metrics.worker(i).polls).sum();
    assert!(polls >= 100_001, "polls: {polls}");
}

#[test]
fn a_spinning_task_does_not_stop_the_other_worker() {
    let rt = multi_thread(2);
    let release = Arc::new(AtomicBool::new(false));
    let spinning = Arc::new(AtomicBool::new(false));
    let (release2, spinning2) = (release.clone(), spinning.clone());
    // The spinner and its siblings start in one worker's local queue: the
    // siblings must be stolen while the spinner holds that worker.
    let spawner = rt.spawn(async move {
        let spinner = runtime::spawn(async move {
            spinning2.store(true, Ordering::SeqCst);
            while !release2.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        });
        let siblings: Vec<_> = (0..1000)
            .map(|i| runtime::spawn(async move { i }))
            .collect();
        (spinner, siblings)
    });
    let (spinner, siblings) = rt.block_on(spawner).unwrap();
    let sum = rt.block_on(async {
        let mut sum = 0;
        for sibling in siblings {
            sum += sibling.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..1000).sum::<i32>());
    // And tasks spawned from outside also run meanwhile.
    assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
    assert!(spinning.load(Ordering::SeqCst));
    release.store(true, Ordering::SeqCst);
    rt.block_on(spinner).unwrap();
}

#[test]
fn coop_budget_keeps_an_always_ready_loop_from_starving_current_thread() {
    let rt = current_thread();
    rt.block_on(async {
        // Finished tasks: awaiting their handles is always ready at once.
        let handles: Vec<_> = (0..1000)
            .map(|i| runtime::spawn(async move { i }))
            .collect();
        while !handles.iter().all(|h| h.is_finished()) {
            runtime::task::yield_now().await;
        }
        let flag = Arc::new(AtomicBool::new(false));
        let flag2 = flag.clone();
        let greedy = runtime::spawn(async move {
            let mut seen_at = None;
            for (i, handle) in handles.into_iter().enumerate() {
                handle.await.unwrap();
                if seen_at.is_none() && flag2.load(Ordering::SeqCst) {
                    seen_at = Some(i);
                }
            }
            seen_at
        });
        let other = runtime::spawn(async move { flag.store(true, Ordering::SeqCst) });
        let seen_at = greedy.await.unwrap();
        other.await.unwrap();
        let seen_at = seen_at.expect("the other task never ran during the loop");
        assert!(seen_at <= 200, "the other task waited {seen_at} awaits");
    });
}

#[test]
fn yield_now_lets_every_task_make_progress() {
    let rt = current_thread();
    let order = rt.block_on(async {
        let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..3)
            .map(|id| {
                let log = log.clone();
                runtime::spawn(async move {
                    for round in 0..3 {
                        log.lock().push((id, round));
                        runtime::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let log = log.lock().clone();
        log
    });
    let expected: Vec<_> = (0..3)
        .flat_map(|round| (0..3).map(move |id| (id, round)))
        .collect();
    assert_eq!(order, expected, "round-robin");
}

#[test]
#[should_panic(expected = "cannot start a runtime from within a runtime")]
fn nested_block_on_panics_clearly() {
    let outer = current_thread();
    let inner = current_thread();
    outer.block_on(async { inner.block_on(async {}) });
}

#[test]
#[should_panic(expected = "cannot start a runtime from within a runtime")]
fn block_on_inside_a_task_panics_clearly() {
    let rt = multi_thread(1);
    let handle = rt.handle();
    let err = rt
        .block_on(rt.spawn(async move { handle.block_on(async {}) }))
        .unwrap_err();
    std::panic::resume_unwind(err.into_panic());
}

#[test]
#[should_panic(expected = "`Handle::current()` called outside of a runtime")]
fn handle_current_outside_a_runtime_panics_clearly() {
    let _ = Handle::current();
}

#[test]
#[should_panic(expected = "`runtime::spawn` called outside of a runtime")]
fn spawn_outside_a_runtime_panics_clearly() {
    drop(runtime::spawn(async {}));
}

#[test]
fn try_current_says_why_it_failed_and_works_inside() {
    let err = Handle::try_current().unwrap_err();
    assert!(
        err.to_string()
            .contains("no runtime is running on this thread"),
        "{err}"
    );
    let rt = multi_thread(1);
    assert!(rt.block_on(async { Handle::try_current().is_ok() }));
    assert!(rt
        .block_on(rt.spawn(async { Handle::try_current().is_ok() }))
        .unwrap());
    let _guard = rt.enter();
    let handle = Handle::current();
    assert!(handle.ptr_eq(&rt.handle()));
    assert_eq!(rt.block_on(runtime::spawn(async { 3 })).unwrap(), 3);
}

#[test]
fn invalid_settings_are_build_errors() {
    type Configure = Box<dyn Fn(&mut Builder) -> &mut Builder>;
    let cases: [(&str, Configure); 6] = [
        (
            "worker_threads must be at least 1",
            Box::new(|b| b.worker_threads(0)),
        ),
        (
            "max_blocking_threads must be at least 1",
            Box::new(|b| b.max_blocking_threads(0)),
        ),
        (
            "global_queue_interval must be at least 1",
            Box::new(|b| b.global_queue_interval(0)),
        ),
        (
            "event_interval must be at least 1",
            Box::new(|b| b.event_interval(0)),
        ),
        (
            "ring_entries must be between 1 and 32768",
            Box::new(|b| b.ring_entries(0)),
        ),
        (
            "thread_name must not contain a NUL byte",
            Box::new(|b| b.thread_name("a\0b")),
        ),
    ];
    for (message, configure) in cases {
        // Both flavors, but current_thread ignores worker_threads.
        let flavors = [Builder::new_multi_thread(), Builder::new_current_thread()];
        for (flavor, mut builder) in flavors.into_iter().enumerate() {
            if flavor == 1 && message.starts_with("worker_threads") {
                continue;
            }
            let err = configure(&mut builder).build().unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{message}");
            assert_eq!(err.to_string(), message);
        }
    }
}

#[test]
#[should_panic(expected = "cannot drop a runtime in an asynchronous context")]
fn dropping_a_runtime_inside_async_code_panics_instead_of_deadlocking() {
    let outer = current_thread();
    outer.block_on(async {
        let inner = multi_thread(1);
        drop(inner);
    });
}

#[test]
fn spawn_after_shutdown_resolves_to_cancelled() {
    for rt in [multi_thread(2), current_thread()] {
        let handle = rt.handle();
        drop(rt);
        let late = handle.spawn(async { 1 });
        assert_eq!(late.state(), TaskState::Cancelled);
        let other = current_thread();
        assert!(other.block_on(late).unwrap_err().is_cancelled());
    }
}

#[test]
fn dropping_a_runtime_drops_ten_thousand_parked_futures() {
    for rt in [multi_thread(2), current_thread()] {
        let drops = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..10_000)
            .map(|_| {
                let guard = DropCounter(drops.clone());
                rt.spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                })
            })
            .collect();
        // Let every task reach its pending point (for current_thread, this
        // block_on drives them).
        rt.block_on(async {
            for _ in 0..10 {
                runtime::task::yield_now().await;
            }
        });
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(rt);
        assert_eq!(drops.load(Ordering::SeqCst), 10_000);
        assert!(handles.iter().all(|h| h.state() == TaskState::Cancelled));
    }
}

#[test]
fn shutdown_is_safe_while_tasks_keep_spawning() {
    let rt = multi_thread(2);
    let spawned = Arc::new(AtomicUsize::new(0));
    for _ in 0..4 {
        let spawned = spawned.clone();
        rt.spawn(async move {
            loop {
                let spawned = spawned.clone();
                runtime::spawn(async move {
                    spawned.fetch_add(1, Ordering::Relaxed);
                });
                runtime::task::yield_now().await;
            }
        });
    }
    while spawned.load(Ordering::Relaxed) < 1000 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(rt);
}

#[test]
fn shutdown_timeout_returns_while_a_task_spins() {
    let rt = multi_thread(2);
    let started = Arc::new(AtomicBool::new(false));
    let started2 = started.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    rt.spawn(async move {
        started2.store(true, Ordering::SeqCst);
        while !stop2.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let began = std::time::Instant::now();
    rt.shutdown_timeout(Duration::from_millis(100));
    assert!(began.elapsed() < Duration::from_secs(5));
    stop.store(true, Ordering::SeqCst);
}

#[test]
fn unhandled_panic_can_shut_the_runtime_down() {
    for builder in [Builder::new_current_thread(), Builder::new_multi_thread()].iter_mut() {
        let rt = builder
            .worker_threads(2)
            .unhandled_panic(UnhandledPanic::ShutdownRuntime)
            .build()
            .unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                runtime::spawn(async { panic!("task failure") });
                std::future::pending::<()>().await;
            })
        }));
        let payload = result.expect_err("block_on must panic");
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(
            message.contains("configured to shut down on unhandled panic"),
            "{message}"
        );
        // The runtime is shut down: new tasks are cancelled at once.
        assert!(rt.block_on(rt.spawn(async {})).unwrap_err().is_cancelled());
    }
}

#[test]
fn named_tasks_and_long_poll_warning() {
    let rt = Builder::new_current_thread()
        .long_poll_warning(Duration::from_millis(1))
        .build()
        .unwrap();
    let output = rt.block_on(async {
        runtime::task::Builder::new()
            .name("sleepy")
            .spawn(async {
                // Holds the thread: the warning goes to stderr.
                std::thread::sleep(Duration::from_millis(5));
                "done"
            })
            .await
    });
    assert_eq!(output.unwrap(), "done");
}

#[test]
fn thread_hooks_and_names() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s, t) = (started.clone(), stopped.clone());
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hooked")
        .on_thread_start(move || {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let name = rt
        .block_on(rt.spawn(async { std::thread::current().name().map(str::to_owned) }))
        .unwrap();
    assert_eq!(name.as_deref(), Some("hooked"));
    drop(rt);
    assert_eq!(started.load(Ordering::SeqCst), 2);
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
}

#[test]
fn metrics_count_what_happened() {
    let rt = multi_thread(2);
    rt.block_on(async {
        for _ in 0..10 {
            runtime::spawn(async {}).await.unwrap();
        }
    });
    let metrics = rt.metrics();
    assert_eq!(metrics.num_workers(), 2);
    assert_eq!(metrics.spawned_tasks(), 10);
    assert_eq!(metrics.alive_tasks(), 0);
    assert_eq!(metrics.injection_queue_depth(), 0);
    let total_polls: u64 = (0..2).map(|i| metrics.worker(i).polls()).sum();
    assert!(total_polls >= 10);
    let parked = rt.spawn(std::future::pending::<()>());
    assert_eq!(rt.metrics().alive_tasks(), 1);
    parked.cancel();
    assert!(rt.block_on(parked).unwrap_err().is_cancelled());
    assert_eq!(rt.metrics().alive_tasks(), 0);
}

#[test]
#[should_panic(expected = "worker index 2 out of range: the runtime has 2 worker(s)")]
fn worker_metrics_index_out_of_range_panics_clearly() {
    let rt = multi_thread(2);
    let _ = rt.metrics().worker(2);
}

/// A one-shot signal: `wait` completes once `fire` was called.
#[derive(Clone, Default)]
struct Signal(Arc<parking_lot::Mutex<(bool, Option<std::task::Waker>)>>);

impl Signal {
    fn fire(&self) {
        let waker = {
            let mut state = self.0.lock();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.0.lock();
            if state.0 {
                std::task::Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn a_wake_from_another_runtimes_worker_runs_the_task_on_its_own_runtime() {
    let a = multi_thread(1);
    let b = multi_thread(1);
    let b_handle = b.handle();
    for _ in 0..100 {
        let signal = Signal::default();
        let waiting = signal.clone();
        let expected = b_handle.clone();
        let on_b = b.spawn(async move {
            waiting.wait().await;
            // Woken from a worker of `a`: still polled by `b`.
            Handle::current().ptr_eq(&expected)
        });
        // Fire from a task on `a`, i.e. from a's worker thread.
        a.block_on(a.spawn(async move { signal.fire() })).unwrap();
        assert!(
            b.block_on(on_b).unwrap(),
            "the task ran on the wrong runtime"
        );
    }
}

#[test]
fn the_io_driver_in_use_is_reported() {
    use runtime::IoDriver;
    let uring_works = Builder::new_current_thread()
        .io_driver(IoDriver::IoUring)
        .build()
        .is_ok();
    // `RUNTIME_IO_DRIVER=epoll` runs the whole suite on epoll; without it,
    // `Auto` is io_uring wherever io_uring can be set up.
    let default = match std::env::var("RUNTIME_IO_DRIVER").as_deref() {
        Ok("epoll") => IoDriver::Epoll,
        _ if uring_works => IoDriver::IoUring,
        _ => IoDriver::Epoll,
    };
    for rt in [multi_thread(2), current_thread()] {
        assert_eq!(rt.handle().io_driver(), default);
        assert_eq!(rt.metrics().io_driver(), default);
    }
    // An explicit choice wins over the variable.
    let mut explicit = vec![IoDriver::Epoll];
    if uring_works {
        explicit.push(IoDriver::IoUring);
    }
    for driver in explicit {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .io_driver(driver)
            .build()
            .unwrap();
        assert_eq!(rt.handle().io_driver(), driver);
    }
}
