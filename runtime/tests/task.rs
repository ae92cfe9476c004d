//! Task behaviour through the public API: states, cancellation, panics,
//! drops, wakers, misuse messages.

use runtime::task::{CancelHandle, JoinHandle, TaskState};
use runtime::{Builder, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn current_thread() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits (politely) until `f` holds, or fails the test after 10 s.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("timed out waiting until {what}");
}

#[test]
fn every_state_is_observable_through_a_handle() {
    let rt = current_thread();
    // Pending: spawned on a current_thread runtime nobody drives yet.
    let pending = rt.spawn(async { 1 });
    assert_eq!(pending.state(), TaskState::Pending);
    assert!(!pending.is_finished());

    rt.block_on(async move {
        // Running: seen from inside the task's own poll.
        let slot: Arc<Mutex<Option<CancelHandle>>> = Arc::default();
        let slot2 = slot.clone();
        let running = runtime::spawn(async move {
            let me = slot2.lock().unwrap().take().unwrap();
            me.state()
        });
        *slot.lock().unwrap() = Some(running.cancel_handle());
        assert_eq!(running.await.unwrap(), TaskState::Running);

        assert_eq!(pending.await.unwrap(), 1);

        let finished = runtime::spawn(async { "ok" });
        wait_finished(&finished).await;
        assert_eq!(finished.state(), TaskState::Finished);

        let failed = runtime::spawn(async { panic!("failing on purpose") });
        wait_finished(&failed).await;
        assert_eq!(failed.state(), TaskState::Failed);

        let cancelled = runtime::spawn(std::future::pending::<()>());
        cancelled.cancel();
        assert_eq!(cancelled.state(), TaskState::Cancelled);
        assert!(cancelled.is_finished());
        assert!(cancelled.await.unwrap_err().is_cancelled());
    });
}

async fn wait_finished<T>(handle: &JoinHandle<T>) {
    while !handle.is_finished() {
        runtime::task::yield_now().await;
    }
}

#[test]
fn cancel_from_another_thread_during_a_poll() {
    let rt = multi_thread();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let (polling_tx, polling_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let handle = rt.spawn(async move {
        let _guard = guard;
        polling_tx.send(()).unwrap();
        // Hold the worker inside this poll until the cancel has been issued.
        release_rx.recv().unwrap();
        std::future::pending::<()>().await;
    });
    polling_rx.recv().unwrap();
    assert_eq!(handle.state(), TaskState::Running);
    let canceller = handle.cancel_handle();
    std::thread::spawn(move || canceller.cancel())
        .join()
        .unwrap();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "never dropped during a poll"
    );
    release_tx.send(()).unwrap();
    let err = rt.block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_ready_poll_keeps_its_output_despite_a_pending_cancel() {
    let rt = multi_thread();
    let (polling_tx, polling_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let handle = rt.spawn(async move {
        polling_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        "output"
    });
    polling_rx.recv().unwrap();
    handle.cancel();
    release_tx.send(()).unwrap();
    assert_eq!(rt.block_on(handle).unwrap(), "output");
}

#[test]
fn cancel_before_first_poll_and_after_completion() {
    let rt = current_thread();
    let polled = Arc::new(AtomicUsize::new(0));
    let polled2 = polled.clone();
    let before = rt.spawn(async move {
        polled2.fetch_add(1, Ordering::SeqCst);
    });
    before.cancel();
    let err = rt.block_on(before).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(err.to_string(), format!("task {} was cancelled", err.id()));
    assert_eq!(polled.load(Ordering::SeqCst), 0);

    rt.block_on(async {
        let after = runtime::spawn(async { 5 });
        wait_finished(&after).await;
        after.cancel();
        assert_eq!(after.state(), TaskState::Finished);
        assert_eq!(after.await.unwrap(), 5);
    });
}

#[test]
fn a_panic_becomes_a_join_error_with_payload_and_message() {
    let rt = multi_thread();
    let err = rt.block_on(rt.spawn(async { panic!("boom") })).unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(
        err.to_string(),
        format!("task {} panicked with message \"boom\"", err.id())
    );
    let payload = err.into_panic();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "boom");

    // A formatted message arrives as a String.
    let err = rt
        .block_on(rt.spawn(async {
            let n = 3;
            panic!("boom {n}")
        }))
        .unwrap_err();
    assert!(err
        .to_string()
        .ends_with("panicked with message \"boom 3\""));
    let payload = err.try_into_panic().unwrap();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "boom 3");

    // The parent may re-raise it.
    let err = rt
        .block_on(rt.spawn(async { std::panic::panic_any(42u32) }))
        .unwrap_err();
    assert_eq!(err.to_string(), format!("task {} panicked", err.id()));
    let resumed = std::panic::catch_unwind(|| std::panic::resume_unwind(err.into_panic()));
    assert_eq!(*resumed.unwrap_err().downcast_ref::<u32>().unwrap(), 42);

    // The worker survived every one of these.
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn panic_in_drop_during_cancel_still_ends_cancelled() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("panic in drop");
        }
    }
    let rt = multi_thread();
    let guard = PanicOnDrop;
    let handle = rt.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    wait_until("the task is polled once", || {
        rt.metrics().spawned_tasks() == 1
    });
    handle.cancel();
    let err = rt.block_on(handle).unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    // The runtime is intact.
    assert_eq!(rt.block_on(rt.spawn(async { 2 })).unwrap(), 2);
}

#[test]
#[should_panic(expected = "is not a panic: task")]
fn into_panic_on_a_cancelled_error_names_the_task() {
    let rt = current_thread();
    let handle = rt.spawn(std::future::pending::<()>());
    handle.cancel();
    let err = rt.block_on(handle).unwrap_err();
    let id = err.id();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| err.into_panic()));
    let message = result.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains(&format!("task {id} was cancelled")),
        "{message}"
    );
    panic!("{message}");
}

#[test]
#[should_panic(expected = "`JoinHandle` polled after it returned `Poll::Ready`")]
fn a_join_handle_polled_after_ready_panics() {
    let rt = current_thread();
    rt.block_on(async {
        let mut handle = runtime::spawn(async {});
        (&mut handle).await.unwrap();
        let _ = (&mut handle).await;
    });
}

#[test]
fn every_future_and_output_is_dropped_exactly_once() {
    let rt = multi_thread();
    let futures = Arc::new(AtomicUsize::new(0));
    let outputs = Arc::new(AtomicUsize::new(0));
    let make = |futures: &Arc<AtomicUsize>, outputs: &Arc<AtomicUsize>| {
        let in_future = DropCounter(futures.clone());
        let output = DropCounter(outputs.clone());
        async move {
            let _in_future = in_future;
            runtime::task::yield_now().await;
            output
        }
    };

    // Handle dropped before completion.
    for _ in 0..100 {
        drop(rt.spawn(make(&futures, &outputs)));
    }
    // Handle dropped after completion, output never taken.
    let done: Vec<_> = (0..100)
        .map(|_| rt.spawn(make(&futures, &outputs)))
        .collect();
    wait_until("200 tasks end", || futures.load(Ordering::SeqCst) == 200);
    wait_until("all detached outputs dropped", || {
        outputs.load(Ordering::SeqCst) == 100
    });
    wait_until("the rest finished", || done.iter().all(|h| h.is_finished()));
    drop(done);
    assert_eq!(outputs.load(Ordering::SeqCst), 200);

    // Output taken through the handle.
    let taken = rt.block_on(rt.spawn(make(&futures, &outputs))).unwrap();
    assert_eq!(outputs.load(Ordering::SeqCst), 200);
    drop(taken);
    assert_eq!(outputs.load(Ordering::SeqCst), 201);

    // Never polled: the runtime is dropped first.
    let idle = current_thread();
    let never = idle.spawn(make(&futures, &outputs));
    drop(idle);
    assert_eq!(futures.load(Ordering::SeqCst), 202);
    // The output value lived inside the unpolled future and went with it.
    assert_eq!(outputs.load(Ordering::SeqCst), 202);
    assert_eq!(never.state(), TaskState::Cancelled);

    drop(rt);
    assert_eq!(futures.load(Ordering::SeqCst), 202);
    assert_eq!(outputs.load(Ordering::SeqCst), 202);
}

/// Stores the waker it is polled with, then never completes.
struct StoreWaker(Arc<Mutex<Option<Waker>>>);

impl Future for StoreWaker {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn wakers_of_ended_tasks_are_harmless_anywhere() {
    let rt = multi_thread();
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    // A task that finishes after handing out its waker.
    let slot2 = slot.clone();
    let handle = rt.spawn(async move {
        let mut first = true;
        std::future::poll_fn(|cx| {
            *slot2.lock().unwrap() = Some(cx.waker().clone());
            if std::mem::take(&mut first) {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await
    });
    rt.block_on(handle).unwrap();
    let finished_waker = slot.lock().unwrap().take().unwrap();

    // A task that is cancelled while its waker is held elsewhere.
    let cancelled = rt.spawn(StoreWaker(slot.clone()));
    wait_until("the waker is stored", || slot.lock().unwrap().is_some());
    cancelled.cancel();
    assert!(rt.block_on(cancelled).unwrap_err().is_cancelled());
    let cancelled_waker = slot.lock().unwrap().take().unwrap();

    finished_waker.wake_by_ref();
    cancelled_waker.wake_by_ref();
    drop(rt);
    // Everything else is gone: the runtime, the handles. Clone, wake and
    // drop on other threads.
    let threads: Vec<_> = [finished_waker, cancelled_waker]
        .into_iter()
        .map(|waker| {
            std::thread::spawn(move || {
                let clone = waker.clone();
                clone.wake();
                waker.wake_by_ref();
                drop(waker);
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn task_ids_are_unique_and_displayed() {
    let rt = current_thread();
    let a = rt.spawn(async {});
    let b = rt.spawn(async {});
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id(), a.cancel_handle().id());
    assert_eq!(a.id().to_string(), a.id().as_u64().to_string());
    let debug = format!("{a:?}");
    assert!(debug.contains("JoinHandle"), "{debug}");
}
