//! Unit tests of the task core, driven by a small test scheduler whose queue
//! the test steps by hand, so every interleaving here is deterministic.

use super::list::OwnedTasks;
use super::{new_task, JoinHandle, Notified, Schedule, Task, TaskState};
use crate::loom::Mutex;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct TestScheduler {
    queue: Mutex<VecDeque<Notified<Arc<TestScheduler>>>>,
    owned: OwnedTasks<Arc<TestScheduler>>,
}

impl Schedule for Arc<TestScheduler> {
    fn schedule(&self, task: Notified<Self>) {
        self.queue.lock().push_back(task);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }
}

fn scheduler() -> Arc<TestScheduler> {
    Arc::new(TestScheduler {
        queue: Mutex::new(VecDeque::new()),
        owned: OwnedTasks::new(4),
    })
}

fn spawn<F>(sched: &Arc<TestScheduler>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (task, notified, join) = new_task(future, sched.clone(), None, Location::caller());
    sched.owned.bind(task).expect("test scheduler is open");
    sched.schedule(notified);
    join
}

/// Runs every queued task once; returns how many ran.
fn tick(sched: &Arc<TestScheduler>) -> usize {
    let mut ran = 0;
    loop {
        let next = sched.queue.lock().pop_front();
        let Some(task) = next else { return ran };
        task.run();
        ran += 1;
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_handle<T>(handle: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, super::JoinError>> {
    Pin::new(handle).poll(&mut Context::from_waker(waker))
}

/// Counts drops of the value it wraps.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future that returns Pending once (waking nobody) and keeps its waker.
struct ParkOnce {
    waker: Arc<std::sync::Mutex<Option<Waker>>>,
    polled: bool,
}

impl Future for ParkOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn header_fits_one_cache_line() {
    assert!(
        std::mem::size_of::<super::core::Header>() <= 64,
        "header is {} bytes",
        std::mem::size_of::<super::core::Header>()
    );
}

#[test]
fn output_reaches_the_join_handle_and_wakes_it() {
    let sched = scheduler();
    let mut handle = spawn(&sched, async { 7 });
    let waker = Arc::new(CountingWaker::default());
    let as_waker = Waker::from(waker.clone());
    assert!(poll_handle(&mut handle, &as_waker).is_pending());
    assert_eq!(handle.state(), TaskState::Pending);
    assert_eq!(tick(&sched), 1);
    assert_eq!(waker.0.load(Ordering::SeqCst), 1);
    assert_eq!(handle.state(), TaskState::Finished);
    match poll_handle(&mut handle, &as_waker) {
        Poll::Ready(Ok(7)) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn join_waker_swap_uses_the_newest_waker() {
    let sched = scheduler();
    let mut handle = spawn(&sched, async {});
    let first = Arc::new(CountingWaker::default());
    let second = Arc::new(CountingWaker::default());
    assert!(poll_handle(&mut handle, &Waker::from(first.clone())).is_pending());
    assert!(poll_handle(&mut handle, &Waker::from(second.clone())).is_pending());
    tick(&sched);
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
}

#[test]
fn cancel_before_first_poll_drops_the_future_unpolled() {
    let sched = scheduler();
    let drops = Arc::new(AtomicUsize::new(0));
    let polls = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let polls2 = polls.clone();
    let mut handle = spawn(&sched, async move {
        polls2.fetch_add(1, Ordering::SeqCst);
        drop(guard);
    });
    handle.cancel();
    handle.cancel(); // idempotent
    assert_eq!(handle.state(), TaskState::Cancelled);
    tick(&sched);
    assert_eq!(polls.load(Ordering::SeqCst), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let waker = futures_util::task::noop_waker();
    match poll_handle(&mut handle, &waker) {
        Poll::Ready(Err(err)) => assert!(err.is_cancelled(), "{err}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn cancel_of_an_idle_task_schedules_it_to_drop_its_future() {
    let sched = scheduler();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let stored = Arc::new(std::sync::Mutex::new(None));
    let future = ParkOnce {
        waker: stored.clone(),
        polled: false,
    };
    let handle = spawn(&sched, async move {
        future.await;
        drop(guard);
        std::future::pending::<()>().await;
    });
    tick(&sched);
    assert_eq!(handle.state(), TaskState::Pending);
    handle.cancel();
    assert_eq!(
        sched.queue.lock().len(),
        1,
        "cancel reschedules the idle task"
    );
    tick(&sched);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(handle.state(), TaskState::Cancelled);
    // The future's stored waker outlives the future; waking it is harmless.
    stored.lock().unwrap().take().unwrap().wake();
    assert_eq!(tick(&sched), 0);
}

#[test]
fn cancel_during_poll_wins_over_pending_but_not_over_ready() {
    // Pending: the future is dropped right after the poll.
    let sched = scheduler();
    let slot: Arc<std::sync::Mutex<Option<super::CancelHandle>>> = Default::default();
    let slot2 = slot.clone();
    let handle = spawn(&sched, async move {
        let me = slot2.lock().unwrap().take().unwrap();
        assert_eq!(me.state(), TaskState::Running);
        std::thread::spawn(move || me.cancel()).join().unwrap();
        std::future::pending::<()>().await;
    });
    *slot.lock().unwrap() = Some(handle.cancel_handle());
    tick(&sched);
    assert_eq!(handle.state(), TaskState::Cancelled);

    // Ready: the output wins.
    let slot: Arc<std::sync::Mutex<Option<super::CancelHandle>>> = Default::default();
    let slot2 = slot.clone();
    let mut handle = spawn(&sched, async move {
        let me = slot2.lock().unwrap().take().unwrap();
        std::thread::spawn(move || me.cancel()).join().unwrap();
        "kept"
    });
    *slot.lock().unwrap() = Some(handle.cancel_handle());
    tick(&sched);
    assert_eq!(handle.state(), TaskState::Finished);
    let waker = futures_util::task::noop_waker();
    assert!(matches!(
        poll_handle(&mut handle, &waker),
        Poll::Ready(Ok("kept"))
    ));
}

#[test]
fn cancel_after_completion_changes_nothing() {
    let sched = scheduler();
    let mut handle = spawn(&sched, async { 1 });
    tick(&sched);
    handle.cancel();
    assert_eq!(handle.state(), TaskState::Finished);
    assert_eq!(tick(&sched), 0);
    let waker = futures_util::task::noop_waker();
    assert!(matches!(
        poll_handle(&mut handle, &waker),
        Poll::Ready(Ok(1))
    ));
}

#[test]
fn panic_in_drop_while_cancelled_is_caught() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop panicked");
        }
    }
    let sched = scheduler();
    let guard = PanicOnDrop;
    let mut handle = spawn(&sched, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    tick(&sched);
    handle.cancel();
    tick(&sched);
    assert_eq!(handle.state(), TaskState::Cancelled);
    let waker = futures_util::task::noop_waker();
    match poll_handle(&mut handle, &waker) {
        Poll::Ready(Err(err)) => assert!(err.is_cancelled()),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn detached_task_drops_its_output_once() {
    let sched = scheduler();
    let drops = Arc::new(AtomicUsize::new(0));
    let output = DropCounter(drops.clone());
    let handle = spawn(&sched, async move { output });
    drop(handle);
    tick(&sched);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn handle_dropped_after_completion_drops_the_output_once() {
    let sched = scheduler();
    let drops = Arc::new(AtomicUsize::new(0));
    let output = DropCounter(drops.clone());
    let handle = spawn(&sched, async move { output });
    tick(&sched);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "the output waits for its handle"
    );
    drop(handle);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn shutdown_drops_futures_of_tasks_waiting_on_a_waker() {
    let sched = scheduler();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..10 {
        let guard = DropCounter(drops.clone());
        handles.push(spawn(&sched, async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }));
    }
    tick(&sched);
    sched.owned.close_and_shutdown_all();
    assert_eq!(drops.load(Ordering::SeqCst), 10);
    assert_eq!(sched.owned.live(), 0);
    assert!(handles.iter().all(|h| h.state() == TaskState::Cancelled));
    // A spawn after close is refused and the task is cancelled at once.
    let (task, notified, handle) = new_task(async {}, sched.clone(), None, Location::caller());
    let task = sched.owned.bind(task).unwrap_err();
    drop(notified);
    task.shutdown();
    assert_eq!(handle.state(), TaskState::Cancelled);
}

#[test]
#[should_panic(expected = "`JoinHandle` polled after it returned `Poll::Ready`")]
fn polling_a_handle_after_ready_panics() {
    let sched = scheduler();
    let mut handle = spawn(&sched, async {});
    tick(&sched);
    let waker = futures_util::task::noop_waker();
    assert!(poll_handle(&mut handle, &waker).is_ready());
    let _ = poll_handle(&mut handle, &waker);
}

#[test]
fn self_wake_during_poll_requeues_once() {
    let sched = scheduler();
    let polls = Arc::new(AtomicUsize::new(0));
    let polls2 = polls.clone();
    let handle = spawn(
        &sched,
        std::future::poll_fn(move |cx| {
            if polls2.fetch_add(1, Ordering::SeqCst) < 3 {
                cx.waker().wake_by_ref();
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }),
    );
    for expected in 1..=4 {
        assert_eq!(tick_one(&sched), 1);
        assert_eq!(polls.load(Ordering::SeqCst), expected);
    }
    assert_eq!(tick(&sched), 0);
    assert_eq!(handle.state(), TaskState::Finished);
}

fn tick_one(sched: &Arc<TestScheduler>) -> usize {
    let next = sched.queue.lock().pop_front();
    match next {
        Some(task) => {
            task.run();
            1
        }
        None => 0,
    }
}
