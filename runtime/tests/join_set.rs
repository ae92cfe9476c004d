//! `JoinSet`: completion order, cancellation, cascading drops, panics.

use runtime::task::JoinSet;
use runtime::{Builder, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn rt() -> Runtime {
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

/// A task that finishes after `n` yields, so completion order is known on
/// a current_thread runtime.
async fn after_yields(n: usize) -> usize {
    for _ in 0..n {
        runtime::task::yield_now().await;
    }
    n
}

#[test]
fn results_come_in_completion_order() {
    let rt = Builder::new_current_thread().build().unwrap();
    let order = rt.block_on(async {
        let mut set = JoinSet::new();
        for n in [30, 10, 20, 0] {
            set.spawn(after_yields(n));
        }
        assert_eq!(set.len(), 4);
        let mut order = Vec::new();
        while let Some(result) = set.join_next().await {
            order.push(result.unwrap());
        }
        assert!(set.is_empty());
        order
    });
    assert_eq!(order, [0, 10, 20, 30]);
}

#[test]
fn join_next_on_an_empty_set_is_none() {
    let rt = rt();
    rt.block_on(async {
        let mut set: JoinSet<()> = JoinSet::new();
        assert!(set.join_next().await.is_none());
        assert!(set.try_join_next().is_none());
    });
}

#[test]
fn try_join_next_returns_only_finished_tasks() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async { 1 });
        set.spawn(std::future::pending::<i32>());
        assert!(set.try_join_next().is_none(), "nothing ran yet");
        for _ in 0..3 {
            runtime::task::yield_now().await;
        }
        assert_eq!(set.try_join_next().unwrap().unwrap(), 1);
        assert!(set.try_join_next().is_none());
        assert_eq!(set.len(), 1);
    });
}

#[test]
fn many_tasks_on_two_workers() {
    let rt = rt();
    let sum = rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..10_000u64 {
            set.spawn(async move { i });
        }
        let mut sum = 0;
        while let Some(result) = set.join_next().await {
            sum += result.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..10_000).sum::<u64>());
}

#[test]
fn join_all_returns_every_output() {
    let rt = rt();
    let mut outputs = rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..100 {
            set.spawn(async move { i });
        }
        set.join_all().await
    });
    outputs.sort();
    assert_eq!(outputs, (0..100).collect::<Vec<_>>());
}

#[test]
fn join_all_reraises_the_first_panic_and_cancels_the_rest() {
    let rt = rt();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            set.spawn(async { panic!("child failed") });
            set.join_all().await
        })
    }));
    let payload = result.unwrap_err();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "child failed");
    // The pending sibling was cancelled when the set was dropped.
    rt.block_on(async {
        while drops.load(Ordering::SeqCst) == 0 {
            runtime::task::yield_now().await;
        }
    });
}

#[test]
fn cancel_all_and_shutdown() {
    let rt = rt();
    rt.block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for _ in 0..10 {
            let guard = DropCounter(drops.clone());
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
        }
        set.cancel_all();
        let mut cancelled = 0;
        while let Some(result) = set.join_next().await {
            assert!(result.unwrap_err().is_cancelled());
            cancelled += 1;
        }
        assert_eq!(cancelled, 10);
        assert_eq!(drops.load(Ordering::SeqCst), 10);

        for _ in 0..10 {
            let guard = DropCounter(drops.clone());
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
        }
        set.shutdown().await;
        assert!(set.is_empty());
        assert_eq!(
            drops.load(Ordering::SeqCst),
            20,
            "shutdown waits for every drop"
        );
    });
}

#[test]
fn cancel_handle_from_spawn_cancels_one_member() {
    let rt = rt();
    rt.block_on(async {
        let mut set = JoinSet::new();
        let stuck = set.spawn(std::future::pending::<u8>());
        set.spawn(async { 9 });
        stuck.cancel();
        let mut results: Vec<_> = Vec::new();
        while let Some(result) = set.join_next().await {
            results.push(result.map_err(|e| e.is_cancelled()));
        }
        results.sort();
        assert_eq!(results, [Ok(9), Err(true)]);
    });
}

#[test]
fn dropping_a_set_cancels_down_the_task_tree() {
    let rt = rt();
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (drops2, started2) = (drops.clone(), started.clone());
    let parent = rt.spawn(async move {
        let mut children = JoinSet::new();
        for _ in 0..3 {
            let (drops, started) = (drops2.clone(), started2.clone());
            let child_guard = DropCounter(drops.clone());
            children.spawn(async move {
                let _child_guard = child_guard;
                // Each child owns a set of grandchildren.
                let mut grandchildren = JoinSet::new();
                for _ in 0..3 {
                    let guard = DropCounter(drops.clone());
                    let started = started.clone();
                    grandchildren.spawn(async move {
                        let _guard = guard;
                        started.fetch_add(1, Ordering::SeqCst);
                        std::future::pending::<()>().await;
                    });
                }
                std::future::pending::<()>().await;
                drop(grandchildren);
            });
        }
        std::future::pending::<()>().await;
        drop(children);
    });
    // Cancel once the whole tree is up and waiting.
    rt.block_on(async {
        while started.load(Ordering::SeqCst) < 9 {
            runtime::task::yield_now().await;
        }
    });
    parent.cancel();
    assert!(rt.block_on(parent).unwrap_err().is_cancelled());
    // 3 children + 9 grandchildren, all dropped by the cascade.
    rt.block_on(async {
        while drops.load(Ordering::SeqCst) < 12 {
            runtime::task::yield_now().await;
        }
    });
    assert_eq!(drops.load(Ordering::SeqCst), 12);
}

#[test]
fn a_panicking_member_is_reported_as_an_error() {
    let rt = rt();
    rt.block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("member panicked") });
        let err = set.join_next().await.unwrap().unwrap_err();
        assert!(err.is_panic());
        assert!(err.to_string().contains("member panicked"));
    });
}

#[test]
#[should_panic(expected = "`runtime::spawn` called outside of a runtime")]
fn spawning_into_a_set_outside_a_runtime_panics_clearly() {
    let mut set = JoinSet::new();
    set.spawn(async {});
}
