//! `task::spawn_local`: futures that are not `Send` run on the thread that
//! spawned them, and only there, on both flavors.

// `block_on` hands a local task's JoinHandle out on purpose.
#![allow(clippy::async_yields_async)]

use futures_channel::oneshot;
use runtime::task::{self, spawn_local};
use runtime::{Builder, Runtime, TaskState};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

fn flavors() -> Vec<(&'static str, Runtime)> {
    vec![
        (
            "current_thread",
            Builder::new_current_thread().build().unwrap(),
        ),
        (
            "multi_thread",
            Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap(),
        ),
    ]
}

/// Runs `body` under a watchdog, so a lost wake-up fails instead of hanging.
fn watchdog<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, wait) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(body());
    });
    wait.recv_timeout(Duration::from_secs(30))
        .expect("the test did not finish within 30 s")
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn an_rc_refcell_future_runs_in_block_on_on_both_flavors() {
    watchdog(|| {
        for (flavor, rt) in flavors() {
            let me = thread::current().id();
            let seen = rt.block_on(async move {
                let shared = Rc::new(RefCell::new(Vec::new()));
                let mut handles = Vec::new();
                for i in 0..10 {
                    let shared = shared.clone();
                    handles.push(spawn_local(async move {
                        task::yield_now().await;
                        shared.borrow_mut().push((i, thread::current().id()));
                        i
                    }));
                }
                let mut sum = 0;
                for handle in handles {
                    sum += handle.await.unwrap();
                }
                assert_eq!(sum, 45);
                let seen = shared.borrow().clone();
                seen
            });
            assert_eq!(seen.len(), 10, "{flavor}");
            assert!(
                seen.iter().all(|(_, thread)| *thread == me),
                "{flavor}: a local task left the block_on thread"
            );
        }
    });
}

#[test]
fn a_task_on_a_worker_spawns_local_tasks_that_stay_on_its_thread() {
    watchdog(|| {
        for (flavor, rt) in flavors() {
            let (spawner, ran_on) = rt.block_on(async {
                runtime::spawn(async {
                    let spawner = thread::current().id();
                    let state = Arc::new(Mutex::new(Vec::new()));
                    let mut handles = Vec::new();
                    for _ in 0..20 {
                        let state = state.clone();
                        handles.push(spawn_local(async move {
                            // Not `Send`, held across the awaits.
                            let me = Rc::new(thread::current().id());
                            for _ in 0..3 {
                                runtime::time::sleep(Duration::from_millis(1)).await;
                                assert_eq!(*me, thread::current().id());
                                state.lock().unwrap().push(thread::current().id());
                            }
                        }));
                    }
                    for handle in handles {
                        handle.await.unwrap();
                    }
                    let ran_on = state.lock().unwrap().clone();
                    (spawner, ran_on)
                })
                .await
                .unwrap()
            });
            assert_eq!(ran_on.len(), 60, "{flavor}");
            assert!(
                ran_on.iter().all(|t| *t == spawner),
                "{flavor}: a local task ran off its worker"
            );
        }
    });
}

#[test]
fn a_thousand_local_tasks_of_a_busy_worker_all_run_on_its_thread() {
    watchdog(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let (spawner, ran_on) = rt.block_on(async {
            runtime::spawn(async {
                let spawner = thread::current().id();
                let ran_on: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
                let mut handles = Vec::new();
                for _ in 0..1000 {
                    let ran_on = ran_on.clone();
                    handles.push(spawn_local(async move {
                        let marker = Rc::new(());
                        task::yield_now().await;
                        drop(marker);
                        ran_on.lock().unwrap().push(thread::current().id());
                    }));
                }
                // Keep this worker busy inside one poll while its peer is
                // idle: a peer that could steal the local tasks would have
                // every chance to.
                let spin_until = std::time::Instant::now() + Duration::from_millis(50);
                while std::time::Instant::now() < spin_until {
                    std::hint::spin_loop();
                }
                // And busy with stealable work that keeps yielding.
                let busy: Vec<_> = (0..8)
                    .map(|_| {
                        runtime::spawn(async {
                            for _ in 0..200 {
                                task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
                for handle in busy {
                    handle.await.unwrap();
                }
                let ran_on = ran_on.lock().unwrap().clone();
                (spawner, ran_on)
            })
            .await
            .unwrap()
        });
        assert_eq!(ran_on.len(), 1000);
        let strays = ran_on.iter().filter(|t| **t != spawner).count();
        assert_eq!(strays, 0, "local tasks ran on another thread");
    });
}

#[test]
fn a_local_task_woken_from_another_thread_runs_on_its_own() {
    watchdog(|| {
        for (flavor, rt) in flavors() {
            let me = thread::current().id();
            let ran_on = rt.block_on(async {
                let (tx, rx) = oneshot::channel::<u32>();
                let marker = Rc::new(());
                let local = spawn_local(async move {
                    let value = rx.await.unwrap();
                    let _keep = marker;
                    (value, thread::current().id())
                });
                // Sent from a plain thread once the local task waits.
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(10));
                    tx.send(7).unwrap();
                });
                local.await.unwrap()
            });
            assert_eq!(ran_on, (7, me), "{flavor}");
        }
    });
}

#[test]
fn a_local_task_of_a_parked_worker_woken_from_a_plain_thread_runs() {
    watchdog(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        for _ in 0..20 {
            let (tx, rx) = oneshot::channel::<u32>();
            let (spawned_tx, spawned_rx) = std::sync::mpsc::channel();
            let task = rt.spawn(async move {
                let worker = thread::current().id();
                let local = spawn_local(async move {
                    let rc = Rc::new(rx.await.unwrap());
                    (*rc, thread::current().id())
                });
                spawned_tx.send(()).unwrap();
                let (value, ran_on) = local.await.unwrap();
                assert_eq!(ran_on, worker);
                value
            });
            spawned_rx.recv().unwrap();
            // Both workers have nothing left to do and park; the wake comes
            // from this thread.
            thread::sleep(Duration::from_millis(5));
            tx.send(5).unwrap();
            assert_eq!(rt.block_on(task).unwrap(), 5);
        }
    });
}

#[test]
fn a_local_task_left_waiting_by_block_on_runs_in_the_next_block_on() {
    watchdog(|| {
        for (flavor, rt) in flavors() {
            let (tx, rx) = oneshot::channel::<u32>();
            let handle = rt.block_on(async move {
                let rc = Rc::new(40);
                spawn_local(async move { *rc + rx.await.unwrap() })
            });
            tx.send(2).unwrap();
            let output = rt.block_on(handle);
            assert_eq!(output.unwrap(), 42, "{flavor}");
        }
    });
}

#[test]
fn local_tasks_cancel_panic_and_report_their_state_like_any_task() {
    watchdog(|| {
        for (flavor, rt) in flavors() {
            rt.block_on(async {
                let pending = spawn_local(async { std::future::pending::<Rc<()>>().await });
                task::yield_now().await;
                assert_eq!(pending.state(), TaskState::Pending, "{flavor}");
                pending.cancel();
                let err = pending.await.unwrap_err();
                assert!(err.is_cancelled(), "{flavor}");

                let panicking = spawn_local(async {
                    let _rc = Rc::new(());
                    panic!("local boom");
                });
                let err = panicking.await.unwrap_err();
                assert!(err.is_panic(), "{flavor}");
                assert_eq!(panic_message(err.into_panic()), "local boom");

                let named = task::Builder::new()
                    .name("local-named")
                    .spawn_local(async { Rc::new(3) });
                assert_eq!(*named.await.unwrap(), 3, "{flavor}");
            });
        }
    });
}

#[test]
fn dumps_and_metrics_include_local_tasks() {
    watchdog(|| {
        for (flavor, rt) in flavors() {
            let handle = rt.handle().clone();
            rt.block_on(async {
                let (tx, rx) = oneshot::channel::<()>();
                let waiting = task::Builder::new()
                    .name("local-waiter")
                    .spawn_local(async move {
                        let _rc = Rc::new(());
                        rx.await.unwrap();
                    });
                task::yield_now().await;
                let dump = handle.dump();
                let info = dump
                    .tasks()
                    .iter()
                    .find(|t| t.name() == Some("local-waiter"))
                    .unwrap_or_else(|| panic!("{flavor}: the local task is not in the dump"));
                assert_eq!(info.state(), TaskState::Pending, "{flavor}");
                assert_eq!(info.spawned_at().file(), file!());
                assert!(handle.metrics().alive_tasks() >= 1, "{flavor}");
                tx.send(()).unwrap();
                waiting.await.unwrap();
                assert!(
                    handle
                        .dump()
                        .tasks()
                        .iter()
                        .all(|t| t.name() != Some("local-waiter")),
                    "{flavor}: an ended local task is still listed"
                );
            });
        }
    });
}

/// Records the thread that drops it.
struct DropProbe(Arc<Mutex<Option<ThreadId>>>, #[allow(dead_code)] Rc<()>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(thread::current().id());
    }
}

#[test]
fn dropping_the_runtime_drops_a_workers_local_futures_on_that_worker() {
    watchdog(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let dropped_on = Arc::new(Mutex::new(None));
        let probe = dropped_on.clone();
        let spawner = rt.block_on(async move {
            runtime::spawn(async move {
                let probe = DropProbe(probe, Rc::new(()));
                drop(spawn_local(async move {
                    let _probe = probe;
                    std::future::pending::<()>().await;
                }));
                thread::current().id()
            })
            .await
            .unwrap()
        });
        drop(rt);
        let dropped_on = dropped_on
            .lock()
            .unwrap()
            .expect("the local future was not dropped");
        assert_eq!(dropped_on, spawner);
        assert_ne!(dropped_on, thread::current().id());
    });
}

#[test]
fn dropping_the_runtime_drops_block_on_local_futures_on_that_thread() {
    watchdog(|| {
        for (flavor, rt) in flavors() {
            let dropped_on = Arc::new(Mutex::new(None));
            let probe = dropped_on.clone();
            let handle = rt.block_on(async move {
                let probe = DropProbe(probe, Rc::new(()));
                spawn_local(async move {
                    let _probe = probe;
                    std::future::pending::<()>().await;
                })
            });
            assert!(dropped_on.lock().unwrap().is_none(), "{flavor}");
            drop(rt);
            assert_eq!(
                *dropped_on.lock().unwrap(),
                Some(thread::current().id()),
                "{flavor}"
            );
            // Its handle reports the cancellation.
            let err = futures_util::FutureExt::now_or_never(handle)
                .expect("a shut-down task's handle is ready")
                .unwrap_err();
            assert!(err.is_cancelled(), "{flavor}");
        }
    });
}

#[test]
fn spawn_local_outside_a_runtime_thread_panics_with_where_it_may_be_called() {
    let outside = std::panic::catch_unwind(|| drop(spawn_local(async {})));
    let message = panic_message(outside.unwrap_err());
    assert!(message.contains("spawn_local"), "{message}");
    assert!(message.contains("block_on"), "{message}");

    // After `Handle::enter` alone the thread still runs no tasks.
    let rt = Runtime::new().unwrap();
    let entered = {
        let _guard = rt.enter();
        std::panic::catch_unwind(|| drop(spawn_local(async {})))
    };
    let message = panic_message(entered.unwrap_err());
    assert!(message.contains("spawn_local"), "{message}");

    // Nor does a blocking-pool thread.
    let in_pool = rt.block_on(async {
        runtime::spawn_blocking(|| std::panic::catch_unwind(|| drop(spawn_local(async {}))))
            .await
            .unwrap()
    });
    let message = panic_message(in_pool.unwrap_err());
    assert!(message.contains("spawn_local"), "{message}");
}
