//! `#[runtime::test]` and `#[runtime::main]` as users write them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[runtime::test]
async fn current_thread_by_default() {
    assert_eq!(runtime::Handle::current().metrics().num_workers(), 1);
    let answer = runtime::spawn(async { 40 + 2 }).await.unwrap();
    assert_eq!(answer, 42);
}

#[runtime::test(flavor = "current_thread")]
async fn explicit_current_thread() {
    assert_eq!(runtime::Handle::current().metrics().num_workers(), 1);
    // Spawned tasks run on the thread inside `block_on`: this one.
    let here = std::thread::current().id();
    let there = runtime::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_eq!(here, there);
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_with_two_workers() {
    assert_eq!(runtime::Handle::current().metrics().num_workers(), 2);
    let count = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..16 {
        let count = count.clone();
        handles.push(runtime::spawn(async move {
            count.fetch_add(1, Ordering::Relaxed);
            std::thread::current().id()
        }));
    }
    for handle in handles {
        // Tasks run on worker threads, never on the test's own thread.
        assert_ne!(handle.await.unwrap(), std::thread::current().id());
    }
    assert_eq!(count.load(Ordering::Relaxed), 16);
}

#[runtime::test(flavor = "multi_thread")]
async fn multi_thread_one_worker_per_cpu() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(runtime::Handle::current().metrics().num_workers(), cpus);
    assert_eq!(runtime::spawn(async { 7 }).await.unwrap(), 7);
}

#[runtime::test]
async fn returns_result() -> Result<(), std::io::Error> {
    let value: u32 = "17"
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    assert_eq!(value, 17);
    Ok(())
}

#[runtime::test]
#[should_panic(expected = "boom")]
async fn keeps_should_panic() {
    panic!("boom");
}

#[runtime::test]
#[ignore = "checks that #[ignore] is kept; never run"]
async fn keeps_ignore() {
    unreachable!("ignored tests do not run");
}

mod renamed {
    pub use runtime as rt2;
}

#[runtime::test(crate = "renamed::rt2")]
async fn crate_option_renamed_path() {
    assert_eq!(renamed::rt2::spawn(async { 3 }).await.unwrap(), 3);
}

#[runtime::test(crate = "::runtime", flavor = "multi_thread", worker_threads = 1)]
async fn crate_option_absolute_path() {
    assert_eq!(runtime::Handle::current().metrics().num_workers(), 1);
}

// `#[runtime::main]` on a function that is not the program's entry point:
// it becomes a plain blocking function.
#[runtime::main(worker_threads = 2)]
async fn blocking_entry() -> usize {
    runtime::Handle::current().metrics().num_workers()
}

#[runtime::main(flavor = "current_thread")]
async fn blocking_entry_current_thread() -> Result<u8, String> {
    let n = runtime::spawn(async { 5u8 })
        .await
        .map_err(|e| e.to_string())?;
    Ok(n)
}

#[test]
fn main_macro_blocks_on_the_body() {
    assert_eq!(blocking_entry(), 2);
    assert_eq!(blocking_entry_current_thread(), Ok(5));
}

#[test]
fn each_test_has_its_own_runtime() {
    // Outside the generated functions there is no runtime.
    assert!(runtime::Handle::try_current().is_err());
    assert_eq!(blocking_entry(), 2);
    assert!(runtime::Handle::try_current().is_err());
}

#[runtime::test(start_paused = true)]
async fn start_paused_gives_a_clock_that_jumps_when_idle() {
    let start = runtime::time::Instant::now();
    runtime::time::sleep(std::time::Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(3600));
}
