//! Scheduler workloads: `runtime` beside tokio (multi_thread) and
//! async-executor (smol), all with `WORKERS` worker threads, plus rayon as
//! the fork-join reference.
//!
//! Every workload is one generic function over `Flavor`, so the three
//! runtimes run the same code; each runtime is built once per benchmark
//! entry (never inside `b.iter`) and dropped before the next one is built.
//!
//! Run with `cargo bench -p benches --bench scheduler`.

use benches::{
    build_rayon, build_runtime, build_runtime_with_stall_detector, build_smol, build_tokio,
    fib_sequential, Countdown, Flavor, Spawner, WORKERS,
};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use futures_channel::oneshot;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Tasks spawned by the `spawn_many_*` workloads.
const SPAWN_COUNT: usize = 10_000;
/// Tasks of `yield_many`, and the yields each one makes.
const YIELD_TASKS: usize = 200;
const YIELDS_PER_TASK: usize = 1_000;
/// Task pairs of `ping_pong`.
const PING_PONG_PAIRS: usize = 1_000;
/// Length of the `chained_spawn` chain.
const CHAIN_LENGTH: usize = 1_000;
/// `fork_join` computes `fib(FIB_N)`, spawning down to `FIB_CUTOFF` and
/// computing sequentially below it (2583 forks, 635_621 sequential calls).
const FIB_N: u32 = 27;
const FIB_CUTOFF: u32 = 12;
const FIB_EXPECTED: u64 = 196_418;

// ---------------------------------------------------------------- workloads

/// From inside a task, spawn `SPAWN_COUNT` trivial tasks and wait for all.
fn spawn_many_local<R: Flavor>(rt: &R) {
    let spawner = rt.spawner();
    let root = spawner.spawn({
        let spawner = spawner.clone();
        async move {
            let (countdown, done) = Countdown::new(SPAWN_COUNT);
            for _ in 0..SPAWN_COUNT {
                let countdown = countdown.clone();
                spawner.spawn_detached(async move { countdown.tick() });
            }
            done.await.expect("countdown dropped");
        }
    });
    rt.block_on(root);
}

/// From the benchmark thread (outside the runtime), spawn `SPAWN_COUNT`
/// trivial tasks and wait for all.
fn spawn_many_remote<R: Flavor>(rt: &R) {
    let spawner = rt.spawner();
    let (countdown, done) = Countdown::new(SPAWN_COUNT);
    for _ in 0..SPAWN_COUNT {
        let countdown = countdown.clone();
        spawner.spawn_detached(async move { countdown.tick() });
    }
    rt.block_on(done).expect("countdown dropped");
}

/// `YIELD_TASKS` tasks, each yielding `YIELDS_PER_TASK` times.
fn yield_many<R: Flavor>(rt: &R) {
    let spawner = rt.spawner();
    let root = spawner.spawn({
        let spawner = spawner.clone();
        async move {
            let tasks: Vec<_> = (0..YIELD_TASKS)
                .map(|_| {
                    spawner.spawn(async {
                        for _ in 0..YIELDS_PER_TASK {
                            R::Spawner::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        }
    });
    rt.block_on(root);
}

/// `PING_PONG_PAIRS` pairs of tasks; in each, the first sends a ping to the
/// second over a oneshot and awaits the pong on another.
fn ping_pong<R: Flavor>(rt: &R) {
    let spawner = rt.spawner();
    let root = spawner.spawn({
        let spawner = spawner.clone();
        async move {
            let (countdown, done) = Countdown::new(PING_PONG_PAIRS);
            for _ in 0..PING_PONG_PAIRS {
                let countdown = countdown.clone();
                let inner = spawner.clone();
                spawner.spawn_detached(async move {
                    let (ping_tx, ping_rx) = oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = oneshot::channel::<()>();
                    inner.spawn_detached(async move {
                        ping_rx.await.expect("ping lost");
                        pong_tx.send(()).expect("pong receiver gone");
                    });
                    ping_tx.send(()).expect("ping receiver gone");
                    pong_rx.await.expect("pong lost");
                    countdown.tick();
                });
            }
            done.await.expect("countdown dropped");
        }
    });
    rt.block_on(root);
}

/// One link of `chained_spawn`: spawns the next one, and the last link
/// fires `done`.
fn chain_link<S: Spawner>(spawner: S, left: usize, done: oneshot::Sender<()>) {
    if left == 0 {
        let _ = done.send(());
        return;
    }
    let next = spawner.clone();
    spawner.spawn_detached(async move { chain_link(next, left - 1, done) });
}

/// A chain of `CHAIN_LENGTH` tasks, each spawning the next.
fn chained_spawn<R: Flavor>(rt: &R) {
    let spawner = rt.spawner();
    let root = spawner.spawn({
        let spawner = spawner.clone();
        async move {
            let (done, fired) = oneshot::channel();
            chain_link(spawner, CHAIN_LENGTH, done);
            fired.await.expect("chain broken");
        }
    });
    rt.block_on(root);
}

type BoxedFib = Pin<Box<dyn Future<Output = u64> + Send + 'static>>;

/// `fib(n)`: forks `fib(n - 1)` as a task, computes `fib(n - 2)` in place,
/// then joins; sequential below `FIB_CUTOFF`.
fn fib_tasks<S: Spawner>(spawner: S, n: u32) -> BoxedFib {
    Box::pin(async move {
        if n < FIB_CUTOFF {
            return fib_sequential(n);
        }
        let left = spawner.spawn(fib_tasks(spawner.clone(), n - 1));
        let right = fib_tasks(spawner, n - 2).await;
        left.await + right
    })
}

fn fork_join<R: Flavor>(rt: &R) {
    let spawner = rt.spawner();
    let root = spawner.spawn(fib_tasks(spawner.clone(), black_box(FIB_N)));
    assert_eq!(rt.block_on(root), FIB_EXPECTED);
}

/// The same recursion with `rayon::join`.
fn fib_rayon(n: u32) -> u64 {
    if n < FIB_CUTOFF {
        return fib_sequential(n);
    }
    let (left, right) = rayon::join(|| fib_rayon(n - 1), || fib_rayon(n - 2));
    left + right
}

fn rayon_fork_join() {
    assert_eq!(fib_rayon(black_box(FIB_N)), FIB_EXPECTED);
}

// ---------------------------------------------------------------- busy workers

/// Keeps one worker busy: yields in a loop until `stop` is set.
async fn spin<S: Spawner>(stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        S::yield_now().await;
    }
}

/// `spawn_many_remote` while `WORKERS` tasks keep every worker busy.
fn bench_busy<R: Flavor>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, rt: R) {
    let spawner = rt.spawner();
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..WORKERS)
        .map(|_| spawner.spawn(spin::<R::Spawner>(stop.clone())))
        .collect();
    group.bench_function(name, |b| b.iter(|| spawn_many_remote(&rt)));
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for spinner in spinners {
            spinner.await;
        }
    });
    drop(rt);
}

// ---------------------------------------------------------------- groups

/// One group with an entry per runtime, all running `$workload`.
macro_rules! three_way {
    ($c:expr, $name:literal, $workload:ident) => {{
        let mut group = $c.benchmark_group($name);
        {
            let rt = build_runtime();
            group.bench_function("runtime", |b| b.iter(|| $workload(&rt)));
        }
        {
            let rt = build_runtime_with_stall_detector();
            group.bench_function("runtime_stall_detector", |b| b.iter(|| $workload(&rt)));
        }
        {
            let rt = build_tokio();
            group.bench_function("tokio", |b| b.iter(|| $workload(&rt)));
        }
        {
            let rt = build_smol();
            group.bench_function("smol", |b| b.iter(|| $workload(&rt)));
        }
        group
    }};
}

fn bench_spawn_many_local(c: &mut Criterion) {
    three_way!(c, "spawn_many_local", spawn_many_local).finish();
}

fn bench_spawn_many_remote_idle(c: &mut Criterion) {
    three_way!(c, "spawn_many_remote_idle", spawn_many_remote).finish();
}

fn bench_spawn_many_remote_busy(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_many_remote_busy");
    bench_busy(&mut group, "runtime", build_runtime());
    bench_busy(
        &mut group,
        "runtime_stall_detector",
        build_runtime_with_stall_detector(),
    );
    bench_busy(&mut group, "tokio", build_tokio());
    bench_busy(&mut group, "smol", build_smol());
    group.finish();
}

fn bench_yield_many(c: &mut Criterion) {
    three_way!(c, "yield_many", yield_many).finish();
}

fn bench_ping_pong(c: &mut Criterion) {
    three_way!(c, "ping_pong", ping_pong).finish();
}

fn bench_chained_spawn(c: &mut Criterion) {
    three_way!(c, "chained_spawn", chained_spawn).finish();
}

fn bench_fork_join(c: &mut Criterion) {
    let mut group = three_way!(c, "fork_join", fork_join);
    let pool = build_rayon();
    group.bench_function("rayon", |b| b.iter(|| pool.install(rayon_fork_join)));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = scheduler;
    config = config();
    targets =
        bench_spawn_many_local,
        bench_spawn_many_remote_idle,
        bench_spawn_many_remote_busy,
        bench_yield_many,
        bench_ping_pong,
        bench_chained_spawn,
        bench_fork_join,
}
criterion_main!(scheduler);
