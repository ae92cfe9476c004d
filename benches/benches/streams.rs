//! Stream workloads that divide work-stealing runtimes from thread-per-core
//! ones: `runtime` beside tokio (both multi_thread, `WORKERS` workers, the
//! servers and clients in one runtime) and compio (thread-per-core
//! io_uring: `WORKERS` threads, each with its own runtime and its share of
//! the streams, client and server ends together).
//!
//! * `echo_rtt`: one loopback connection, `RTT_ROUNDS` round trips of a
//!   256 B message per iteration (write it, read the whole echo, check its
//!   round number). Latency-bound: what each hop between the two ends
//!   costs.
//! * `stream_balanced`: `STREAMS` connections to echo servers, each
//!   sending `BALANCED_FRAMES` frames of 4 KiB with up to `WINDOW` frames
//!   in flight (a writer task and a reader task per stream; each frame's
//!   header carries its stream and sequence number, checked on return).
//!   Throughput-bound, with every stream as busy as the others.
//! * `stream_hotspot_rotation`: the same streams, in `PHASES` phases one
//!   after the other; in phase `p` stream `p % STREAMS` is hot, carrying
//!   90 % of the phase's frames. A thread-per-core runtime keeps a hot
//!   stream on the core it was placed on; a stealing one can spread the
//!   hot stream's tasks. `cpu` variant: the reader runs about 20 µs of
//!   work on each frame (`cpu_stage`), so the hot stream is CPU-bound.
//!
//! Every socket has `TCP_NODELAY`. Connections and runtimes are set up once
//! per entry, outside the measured loop; the tasks of an iteration are
//! spawned in it. Throughput is the bytes sent one way.
//!
//! Run with `cargo bench -p benches --bench streams`.

use benches::streams::{
    balanced_plan, check_ping, hotspot_plan, new_frame, plan_bytes, stamp_frame, stamp_ping,
    window, FrameCheck, Plan, READ_CHUNK, RTT_MESSAGE, RTT_ROUNDS, STREAMS,
};
use benches::WORKERS;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::future::Future;
use std::mem;
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- runtime

fn build_runtime() -> runtime::Runtime {
    benches::build_runtime()
}

fn run_on_runtime<F>(rt: &runtime::Runtime, future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(rt.spawn(future))
        .expect("benchmark task failed")
}

async fn rt_echo_server(stream: runtime::net::TcpStream) {
    let mut buf = Vec::with_capacity(READ_CHUNK);
    loop {
        // A read fills the buffer from its start and only ever grows its
        // length: clear it, so its length is what this read received.
        buf.clear();
        let (received, back) = stream.read(buf).await;
        match received {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (sent, back) = stream.write_all(back).await;
        if sent.is_err() {
            return;
        }
        buf = back;
    }
}

/// `count` client ends connected to echo servers in the same runtime.
async fn rt_connect(count: usize) -> Vec<Arc<runtime::net::TcpStream>> {
    let listener = runtime::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    runtime::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            runtime::spawn(rt_echo_server(stream));
        }
    });
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let stream = runtime::net::TcpStream::connect(addr)
            .await
            .expect("connect");
        stream.set_nodelay(true).unwrap();
        clients.push(Arc::new(stream));
    }
    clients
}

async fn rt_rtt(client: Arc<runtime::net::TcpStream>, rounds: u64) -> Arc<runtime::net::TcpStream> {
    let mut ping = vec![0xa5; RTT_MESSAGE];
    let mut input = Vec::with_capacity(RTT_MESSAGE);
    let mut echo = Vec::with_capacity(RTT_MESSAGE);
    for round in 0..rounds {
        stamp_ping(&mut ping, round);
        let (sent, back) = client.write_all(ping).await;
        sent.expect("echo_rtt: send");
        ping = back;
        echo.clear();
        while echo.len() < RTT_MESSAGE {
            let (received, back) = client.read(input).await;
            let n = received.expect("echo_rtt: receive");
            assert!(n > 0, "echo_rtt: the server closed");
            echo.extend_from_slice(&back[..n]);
            input = back;
        }
        check_ping(&echo, round);
    }
    client
}

/// One iteration of `plan` over `streams`: per phase a writer and a reader
/// task for each stream with frames to send; the phase ends when every
/// frame came back.
async fn rt_streams(streams: Arc<Vec<Arc<runtime::net::TcpStream>>>, plan: Arc<Plan>, cpu: bool) {
    for phase in plan.iter() {
        let mut tasks = Vec::with_capacity(2 * STREAMS);
        for (index, &frames) in phase.iter().enumerate() {
            let (mut credits, mut returns) = window();
            let stream = streams[index].clone();
            tasks.push(runtime::spawn({
                let stream = stream.clone();
                async move {
                    let mut frame = new_frame();
                    for seq in 0..u64::from(frames) {
                        credits.take().await;
                        stamp_frame(&mut frame, index, seq);
                        let (sent, back) = stream.write_all(frame).await;
                        sent.expect("stream: send");
                        frame = back;
                    }
                }
            }));
            tasks.push(runtime::spawn(async move {
                let mut check = FrameCheck::new(index, cpu);
                let mut buf = Vec::with_capacity(READ_CHUNK);
                let mut done = 0;
                while done < frames {
                    let (received, back) = stream.read(buf).await;
                    let n = received.expect("stream: receive");
                    assert!(n > 0, "stream: the server closed");
                    let frames_done = check.feed(&back[..n]);
                    returns.give_back(frames_done);
                    done += frames_done;
                    buf = back;
                }
            }));
        }
        for task in tasks {
            task.await.expect("stream task failed");
        }
    }
}

// ---------------------------------------------------------------- tokio

fn build_tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("building tokio runtime")
}

fn run_on_tokio<F>(rt: &tokio::runtime::Runtime, future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(rt.spawn(future))
        .expect("benchmark task failed")
}

type TokioHalves = (
    tokio::net::tcp::OwnedReadHalf,
    tokio::net::tcp::OwnedWriteHalf,
);

async fn tokio_echo_server(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0; READ_CHUNK];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn tokio_connect(count: usize) -> Vec<TokioHalves> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            tokio::spawn(tokio_echo_server(stream));
        }
    });
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        clients.push(stream.into_split());
    }
    clients
}

async fn tokio_rtt(mut client: TokioHalves, rounds: u64) -> TokioHalves {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut ping = vec![0xa5; RTT_MESSAGE];
    let mut echo = vec![0; RTT_MESSAGE];
    for round in 0..rounds {
        stamp_ping(&mut ping, round);
        client.1.write_all(&ping).await.expect("echo_rtt: send");
        client
            .0
            .read_exact(&mut echo)
            .await
            .expect("echo_rtt: receive");
        check_ping(&echo, round);
    }
    client
}

async fn tokio_streams(
    mut streams: Vec<TokioHalves>,
    plan: Arc<Plan>,
    cpu: bool,
) -> Vec<TokioHalves> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for phase in plan.iter() {
        let mut tasks = Vec::with_capacity(STREAMS);
        for (index, (mut reader, mut writer)) in streams.drain(..).enumerate() {
            let frames = phase[index];
            let (mut credits, mut returns) = window();
            let write = tokio::spawn(async move {
                let mut frame = new_frame();
                for seq in 0..u64::from(frames) {
                    credits.take().await;
                    stamp_frame(&mut frame, index, seq);
                    writer.write_all(&frame).await.expect("stream: send");
                }
                writer
            });
            let read = tokio::spawn(async move {
                let mut check = FrameCheck::new(index, cpu);
                let mut buf = vec![0; READ_CHUNK];
                let mut done = 0;
                while done < frames {
                    let n = reader.read(&mut buf).await.expect("stream: receive");
                    assert!(n > 0, "stream: the server closed");
                    let frames_done = check.feed(&buf[..n]);
                    returns.give_back(frames_done);
                    done += frames_done;
                }
                reader
            });
            tasks.push((read, write));
        }
        for (read, write) in tasks {
            let reader = read.await.expect("stream task failed");
            let writer = write.await.expect("stream task failed");
            streams.push((reader, writer));
        }
    }
    streams
}

// ---------------------------------------------------------------- compio

/// What the bench thread asks of a compio thread.
enum CompioJob {
    /// Run `plan` over this thread's streams (phase by phase, in step with
    /// the other threads), then report.
    Streams { plan: Arc<Plan>, cpu: bool },
    /// `rounds` echo_rtt round trips on this thread's first stream.
    Rtt { rounds: u64 },
}

/// `WORKERS` threads, each with a compio runtime owning the streams
/// `index % WORKERS == thread` — client and server ends alike, as a
/// thread-per-core design places a connection's work on one core.
struct CompioPool {
    jobs: Vec<mpsc::Sender<CompioJob>>,
    done: mpsc::Receiver<()>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl CompioPool {
    fn start(streams: usize) -> CompioPool {
        let barrier = Arc::new(Barrier::new(WORKERS));
        let (done_tx, done) = mpsc::channel();
        let mut jobs = Vec::new();
        let mut threads = Vec::new();
        for thread_index in 0..WORKERS {
            let (job_tx, job_rx) = mpsc::channel();
            jobs.push(job_tx);
            let barrier = barrier.clone();
            let done_tx = done_tx.clone();
            threads.push(thread::spawn(move || {
                compio_thread(thread_index, streams, job_rx, done_tx, barrier)
            }));
        }
        CompioPool {
            jobs,
            done,
            threads,
        }
    }

    /// Runs `job` on every thread and waits for all of them.
    fn run(&self, job: impl Fn() -> CompioJob) {
        for jobs in &self.jobs {
            jobs.send(job()).expect("compio thread gone");
        }
        for _ in 0..self.jobs.len() {
            self.done.recv().expect("compio thread failed");
        }
    }

    /// Runs `job` on the first thread only.
    fn run_first(&self, job: CompioJob) {
        self.jobs[0].send(job).expect("compio thread gone");
        self.done.recv().expect("compio thread failed");
    }
}

impl Drop for CompioPool {
    fn drop(&mut self) {
        self.jobs.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

async fn compio_echo_server(mut stream: compio::net::TcpStream) {
    use compio::io::{AsyncRead, AsyncWriteExt};
    let mut buf = Vec::with_capacity(READ_CHUNK);
    loop {
        let compio::BufResult(received, back) = stream.read(buf).await;
        match received {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let compio::BufResult(sent, back) = stream.write_all(back).await;
        if sent.is_err() {
            return;
        }
        buf = back;
        buf.clear();
    }
}

fn compio_thread(
    thread_index: usize,
    streams: usize,
    jobs: mpsc::Receiver<CompioJob>,
    done: mpsc::Sender<()>,
    barrier: Arc<Barrier>,
) {
    let rt = compio::runtime::Runtime::new().expect("compio runtime");
    // (stream index, client end) of this thread's streams.
    let mine: Vec<(usize, compio::net::TcpStream)> = rt.block_on(async {
        let listener = compio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        compio::runtime::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).unwrap();
                compio::runtime::spawn(compio_echo_server(stream)).detach();
            }
        })
        .detach();
        let mut mine = Vec::new();
        for index in (thread_index..streams).step_by(WORKERS) {
            let stream = compio::net::TcpStream::connect(addr)
                .await
                .expect("connect");
            stream.set_nodelay(true).unwrap();
            mine.push((index, stream));
        }
        mine
    });
    while let Ok(job) = jobs.recv() {
        match job {
            CompioJob::Streams { plan, cpu } => {
                for phase in plan.iter() {
                    rt.block_on(compio_phase(&mine, phase, cpu));
                    // Phases are global: the next hot stream may be
                    // another thread's.
                    barrier.wait();
                }
            }
            CompioJob::Rtt { rounds } => rt.block_on(compio_rtt(mine[0].1.clone(), rounds)),
        }
        if done.send(()).is_err() {
            return;
        }
    }
}

async fn compio_rtt(mut client: compio::net::TcpStream, rounds: u64) {
    use compio::io::{AsyncRead, AsyncWriteExt};
    let mut ping = vec![0xa5; RTT_MESSAGE];
    let mut input = Vec::with_capacity(RTT_MESSAGE);
    let mut echo = Vec::with_capacity(RTT_MESSAGE);
    for round in 0..rounds {
        stamp_ping(&mut ping, round);
        let compio::BufResult(sent, back) = client.write_all(ping).await;
        sent.expect("echo_rtt: send");
        ping = back;
        echo.clear();
        while echo.len() < RTT_MESSAGE {
            input.clear();
            let compio::BufResult(received, back) = client.read(input).await;
            let n = received.expect("echo_rtt: receive");
            assert!(n > 0, "echo_rtt: the server closed");
            echo.extend_from_slice(&back[..n]);
            input = back;
        }
        check_ping(&echo, round);
    }
}

async fn compio_phase(mine: &[(usize, compio::net::TcpStream)], phase: &[u32; STREAMS], cpu: bool) {
    use compio::io::{AsyncRead, AsyncWriteExt};
    let mut tasks = Vec::with_capacity(2 * mine.len());
    for (index, stream) in mine {
        let (index, frames) = (*index, phase[*index]);
        let (mut credits, mut returns) = window();
        let mut writer = stream.clone();
        tasks.push(compio::runtime::spawn(async move {
            let mut frame = new_frame();
            for seq in 0..u64::from(frames) {
                credits.take().await;
                stamp_frame(&mut frame, index, seq);
                let compio::BufResult(sent, back) = writer.write_all(frame).await;
                sent.expect("stream: send");
                frame = back;
            }
        }));
        let mut reader = stream.clone();
        tasks.push(compio::runtime::spawn(async move {
            let mut check = FrameCheck::new(index, cpu);
            let mut buf = Vec::with_capacity(READ_CHUNK);
            let mut done = 0;
            while done < frames {
                buf.clear();
                let compio::BufResult(received, back) = reader.read(buf).await;
                let n = received.expect("stream: receive");
                assert!(n > 0, "stream: the server closed");
                let frames_done = check.feed(&back[..n]);
                returns.give_back(frames_done);
                done += frames_done;
                buf = back;
            }
        }));
    }
    for task in tasks {
        task.await.expect("stream task failed");
    }
}

// ---------------------------------------------------------------- the entries

fn bench_echo_rtt(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo_rtt");
    group.throughput(Throughput::Bytes(RTT_ROUNDS * RTT_MESSAGE as u64));
    {
        let rt = build_runtime();
        let mut client = run_on_runtime(&rt, rt_connect(1)).pop();
        group.bench_function("runtime", |b| {
            b.iter_custom(|iters| {
                let taken = client.take().unwrap();
                let start = Instant::now();
                client = Some(run_on_runtime(&rt, rt_rtt(taken, iters * RTT_ROUNDS)));
                start.elapsed()
            })
        });
        drop(client);
        drop(rt);
    }
    {
        let rt = build_tokio();
        let mut client = run_on_tokio(&rt, tokio_connect(1)).pop();
        group.bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                let taken = client.take().unwrap();
                let start = Instant::now();
                client = Some(run_on_tokio(&rt, tokio_rtt(taken, iters * RTT_ROUNDS)));
                start.elapsed()
            })
        });
        drop(client);
        drop(rt);
    }
    {
        // One connection lives on one thread of a thread-per-core runtime.
        let pool = CompioPool::start(1);
        group.bench_function("compio", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                pool.run_first(CompioJob::Rtt {
                    rounds: iters * RTT_ROUNDS,
                });
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn bench_streams(c: &mut Criterion, name: &str, plan: Plan, cpu: bool) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(plan_bytes(&plan)));
    let plan = Arc::new(plan);
    {
        let rt = build_runtime();
        let streams = Arc::new(run_on_runtime(&rt, rt_connect(STREAMS)));
        group.bench_function("runtime", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    run_on_runtime(&rt, rt_streams(streams.clone(), plan.clone(), cpu));
                }
                start.elapsed()
            })
        });
        drop(streams);
        drop(rt);
    }
    {
        let rt = build_tokio();
        let mut streams = run_on_tokio(&rt, tokio_connect(STREAMS));
        group.bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let taken = mem::take(&mut streams);
                    streams = run_on_tokio(&rt, tokio_streams(taken, plan.clone(), cpu));
                }
                start.elapsed()
            })
        });
        drop(streams);
        drop(rt);
    }
    {
        let pool = CompioPool::start(STREAMS);
        group.bench_function("compio", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    pool.run(|| CompioJob::Streams {
                        plan: plan.clone(),
                        cpu,
                    });
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn bench_stream_balanced(c: &mut Criterion) {
    bench_streams(c, "stream_balanced", balanced_plan(), false);
}

fn bench_stream_hotspot_rotation(c: &mut Criterion) {
    bench_streams(c, "stream_hotspot_rotation", hotspot_plan(), false);
    bench_streams(c, "stream_hotspot_rotation_cpu", hotspot_plan(), true);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = streams;
    config = config();
    targets = bench_echo_rtt, bench_stream_balanced, bench_stream_hotspot_rotation,
}
criterion_main!(streams);
