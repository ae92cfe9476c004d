//! A tour of the runtime: spawn, join, cancel, panic propagation, groups of
//! tasks and blocking work, printing what happens.
//!
//! Run it with `cargo run -p examples --bin tour`.

use runtime::task::{JoinSet, TaskState};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    rt.block_on(async {
        // spawn + join: the output comes back through the handle.
        let handle = runtime::spawn(async { (1..=10u64).product::<u64>() });
        println!("spawn/join: 10! = {}", handle.await.unwrap());

        // cancel: a task that would wait forever is cancelled.
        let stuck = runtime::spawn(std::future::pending::<()>());
        stuck.cancel();
        println!("cancel: state is now {:?}", stuck.state());
        let err = stuck.await.unwrap_err();
        println!("cancel: awaiting it gives \"{err}\"");

        // panic propagation: the panic becomes a JoinError with the message.
        let failing = runtime::spawn(async {
            if true {
                panic!("something went wrong");
            }
        });
        let err = failing.await.unwrap_err();
        println!("panic: \"{err}\" (is_panic = {})", err.is_panic());

        // JoinSet: results in completion order; dropping the set cancels the rest.
        let mut set = JoinSet::new();
        for i in 1..=4u64 {
            set.spawn(async move { i * i });
        }
        let mut squares = Vec::new();
        while let Some(result) = set.join_next().await {
            squares.push(result.unwrap());
        }
        squares.sort();
        println!("join set: squares {squares:?}");

        // spawn_blocking: synchronous work off the workers.
        let slept = runtime::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(20));
            "slept 20 ms on the blocking pool"
        });
        println!("blocking: {}", slept.await.unwrap());

        let finished = runtime::spawn(async {});
        while !finished.is_finished() {
            runtime::task::yield_now().await;
        }
        assert_eq!(finished.state(), TaskState::Finished);
        println!("state: a completed task reports {:?}", finished.state());
    });
    let metrics = rt.metrics();
    println!(
        "metrics: {} tasks spawned on {} workers",
        metrics.spawned_tasks(),
        metrics.num_workers()
    );
    Ok(())
}
