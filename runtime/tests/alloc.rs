//! One allocation per spawned task, and none left behind: counted by a
//! global allocator that keeps per-thread tallies, so the test harness's
//! own threads do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static FREES: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; the thread-local
// counters are const-initialised Cells, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = FREES.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counts() -> (usize, usize) {
    (ALLOCS.with(Cell::get), FREES.with(Cell::get))
}

#[test]
fn one_allocation_per_task_and_none_live_at_the_end() {
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    let polled = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        // Warm up: the run queue reaches its steady capacity.
        for _ in 0..16 {
            runtime::spawn(async {}).await.unwrap();
        }
        let (allocs_before, frees_before) = counts();
        const TASKS: usize = 1000;
        for _ in 0..TASKS {
            let polled = polled.clone(); // an Arc clone: no allocation
            let handle = runtime::spawn(async move {
                polled.fetch_add(1, Ordering::Relaxed);
            });
            handle.await.unwrap();
        }
        let (allocs_after, frees_after) = counts();
        assert_eq!(
            allocs_after - allocs_before,
            TASKS,
            "one allocation per task"
        );
        assert_eq!(frees_after - frees_before, TASKS, "every task cell freed");
    });
    assert_eq!(polled.load(Ordering::Relaxed), 1000);
    drop(rt);

    // A whole runtime lifetime with tasks that never finish: everything
    // happens on this thread (current_thread), so every allocation made
    // in between must be freed by the end.
    let (allocs_before, frees_before) = counts();
    // io_uring explicitly: the epoll driver has a thread of its own, which
    // frees (at its exit) some of what this thread allocated for it, and
    // the tallies are per thread.
    let Ok(rt) = runtime::Builder::new_current_thread()
        .io_driver(runtime::IoDriver::IoUring)
        .build()
    else {
        eprintln!("no io_uring here: the whole-lifetime count is skipped");
        return;
    };
    let handles: Vec<_> = (0..100)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    rt.block_on(async { runtime::task::yield_now().await });
    drop(rt);
    assert!(handles.iter().all(|h| h.is_finished()));
    drop(handles);
    let (allocs_after, frees_after) = counts();
    assert!(allocs_after - allocs_before > 100);
    assert_eq!(
        allocs_after - allocs_before,
        frees_after - frees_before,
        "allocations still live after the runtime and its handles are gone"
    );
}
