//! Shared pieces of the scheduler benchmarks (`benches/scheduler.rs`);
//! those of the I/O benchmarks (`benches/io.rs`) are in [`io`], those of
//! the stream benchmarks (`benches/streams.rs`) in [`streams`].
//!
//! Each runtime under test is built here with the same number of worker
//! threads, [`WORKERS`], and wrapped behind two small traits so that every
//! workload is written once and runs the same code on all three:
//!
//! * [`Flavor`] owns a runtime and drives a future to completion from the
//!   calling (benchmark) thread; the runtime's tasks run on its workers.
//! * [`Spawner`] is a cloneable handle that spawns tasks and awaits them.
//!   Spawning through it from a worker thread takes the runtime's local
//!   path (runtime and tokio both check the current worker; async-executor
//!   uses the running thread's local queue), from any other thread the
//!   remote one.
//!
//! [`Countdown`] is the completion signal used by the spawn-heavy workloads:
//! an atomic counter whose last decrement fires a `futures-channel` oneshot,
//! the same channel on all three runtimes.

pub mod io;
pub mod streams;

use futures_channel::oneshot;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;

/// Worker threads of every runtime (and of the rayon pool). The benchmark
/// machine has 2 cores.
pub const WORKERS: usize = 2;

/// A runtime under test, driven from the benchmark thread.
pub trait Flavor {
    /// The runtime's spawner.
    type Spawner: Spawner;

    /// A handle that spawns onto this runtime.
    fn spawner(&self) -> Self::Spawner;

    /// Runs `future` to completion on the calling thread, while the
    /// runtime's tasks run on its workers.
    fn block_on<F: Future>(&self, future: F) -> F::Output;
}

/// Spawns tasks onto one runtime, from inside or outside it.
pub trait Spawner: Clone + Send + Sync + 'static {
    /// What awaiting a spawned task looks like: its output, with a panic or
    /// cancellation turned into a panic of the awaiting side.
    type Join<T: Send + 'static>: Future<Output = T> + Send + 'static;

    /// Spawns `future`; the returned handle yields its output.
    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns `future` and lets it run to completion unobserved.
    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// The runtime's own `yield_now`.
    fn yield_now() -> impl Future<Output = ()> + Send;
}

/// A `JoinHandle` whose `Result` is unwrapped, so that runtime and tokio
/// handles look like async-executor's `Task<T>`.
#[derive(Debug)]
pub struct Unwrapped<H>(H);

impl<H, T, E> Future for Unwrapped<H>
where
    H: Future<Output = Result<T, E>> + Unpin,
    E: Debug,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Ready(result) => Poll::Ready(result.expect("benchmark task failed")),
            Poll::Pending => Poll::Pending,
        }
    }
}

// ---------------------------------------------------------------- runtime

/// A multi-thread `runtime` with [`WORKERS`] workers.
pub fn build_runtime() -> runtime::Runtime {
    runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("building runtime")
}

/// [`build_runtime`] with the stall detector on (`long_poll_warning`), to
/// measure what it costs per poll. The limit is never reached here.
pub fn build_runtime_with_stall_detector() -> runtime::Runtime {
    runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .long_poll_warning(std::time::Duration::from_millis(100))
        .build()
        .expect("building runtime")
}

impl Flavor for runtime::Runtime {
    type Spawner = runtime::Handle;

    fn spawner(&self) -> runtime::Handle {
        self.handle()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        runtime::Runtime::block_on(self, future)
    }
}

impl Spawner for runtime::Handle {
    type Join<T: Send + 'static> = Unwrapped<runtime::JoinHandle<T>>;

    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(runtime::Handle::spawn(self, future))
    }

    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(runtime::Handle::spawn(self, future));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        runtime::task::yield_now()
    }
}

// ---------------------------------------------------------------- tokio

/// A tokio multi-thread runtime with [`WORKERS`] workers (no I/O or time
/// driver: the workloads need neither).
pub fn build_tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("building tokio runtime")
}

impl Flavor for tokio::runtime::Runtime {
    type Spawner = tokio::runtime::Handle;

    fn spawner(&self) -> tokio::runtime::Handle {
        self.handle().clone()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Runtime::block_on(self, future)
    }
}

impl Spawner for tokio::runtime::Handle {
    type Join<T: Send + 'static> = Unwrapped<tokio::task::JoinHandle<T>>;

    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(tokio::runtime::Handle::spawn(self, future))
    }

    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::runtime::Handle::spawn(self, future));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

// ---------------------------------------------------------------- smol

/// async-executor (smol) in its usual multi-thread setup: one `Executor`
/// shared by [`WORKERS`] threads, each running
/// `future::block_on(executor.run(shutdown))`. Dropping it stops and joins
/// the threads.
#[derive(Debug)]
pub struct SmolPool {
    executor: Arc<async_executor::Executor<'static>>,
    shutdown: Vec<oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

/// A [`SmolPool`] with [`WORKERS`] threads.
pub fn build_smol() -> SmolPool {
    let executor = Arc::new(async_executor::Executor::new());
    let mut shutdown = Vec::with_capacity(WORKERS);
    let mut threads = Vec::with_capacity(WORKERS);
    for index in 0..WORKERS {
        let (stop, stopped) = oneshot::channel::<()>();
        let executor = executor.clone();
        let thread = thread::Builder::new()
            .name(format!("smol-worker-{index}"))
            .spawn(move || {
                futures_lite::future::block_on(executor.run(async move {
                    // Resolves (as `Canceled`) when the sender drops.
                    let _ = stopped.await;
                }))
            })
            .expect("starting smol worker");
        shutdown.push(stop);
        threads.push(thread);
    }
    SmolPool {
        executor,
        shutdown,
        threads,
    }
}

impl Drop for SmolPool {
    fn drop(&mut self) {
        self.shutdown.clear();
        for thread in self.threads.drain(..) {
            thread.join().expect("smol worker panicked");
        }
    }
}

impl Flavor for SmolPool {
    type Spawner = Arc<async_executor::Executor<'static>>;

    fn spawner(&self) -> Self::Spawner {
        self.executor.clone()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        futures_lite::future::block_on(future)
    }
}

impl Spawner for Arc<async_executor::Executor<'static>> {
    type Join<T: Send + 'static> = async_executor::Task<T>;

    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        async_executor::Executor::spawn(self, future)
    }

    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        async_executor::Executor::spawn(self, future).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
}

// ---------------------------------------------------------------- rayon

/// A rayon pool with [`WORKERS`] threads, the fork-join reference.
pub fn build_rayon() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("building rayon pool")
}

// ---------------------------------------------------------------- helpers

/// Counts down from `n`; the call that reaches zero fires a oneshot.
#[derive(Debug)]
pub struct Countdown {
    left: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Countdown {
    /// A countdown of `n` ticks (`n > 0`) and the receiver it fires.
    pub fn new(n: usize) -> (Arc<Countdown>, oneshot::Receiver<()>) {
        assert!(n > 0, "a countdown needs at least one tick");
        let (done, fired) = oneshot::channel();
        let countdown = Countdown {
            left: AtomicUsize::new(n),
            done: Mutex::new(Some(done)),
        };
        (Arc::new(countdown), fired)
    }

    /// One tick; the last one fires the receiver.
    pub fn tick(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let done = self.done.lock().unwrap().take();
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
    }
}

/// Plain recursive Fibonacci, the sequential leaf of the fork-join
/// workloads.
pub fn fib_sequential(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib_sequential(n - 1) + fib_sequential(n - 2)
    }
}
