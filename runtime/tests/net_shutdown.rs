//! Dropping a runtime with a thousand accepts and reads in flight: it
//! returns promptly and leaks no file descriptor.
//!
//! A binary of its own, whose tests take turns (a lock), so that no other
//! test opens or closes descriptors while one counts them.

mod common;

use common::open_fds;
use runtime::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Held by each test for its whole run: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const ACCEPTS: usize = 1000;
const PAIRS: usize = 50;
/// Reads in flight on each of the 2 × PAIRS stream ends.
const READS_PER_END: usize = 10;
const READS: usize = 2 * PAIRS * READS_PER_END;

#[test]
fn dropping_a_multi_thread_runtime_with_a_thousand_accepts_and_reads_in_flight() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    drop_with_ops_in_flight(|| {
        runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    });
}

#[test]
fn dropping_a_current_thread_runtime_with_a_thousand_accepts_and_reads_in_flight() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    drop_with_ops_in_flight(|| runtime::Builder::new_current_thread().build().unwrap());
}

fn drop_with_ops_in_flight(build: impl FnOnce() -> runtime::Runtime) {
    let before = open_fds();

    let rt = build();
    let started = Arc::new(AtomicUsize::new(0));
    let (listener, streams) = rt.block_on(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let mut streams = Vec::new();
        for _ in 0..PAIRS {
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            streams.push(Arc::new(client));
            streams.push(Arc::new(server));
        }
        for _ in 0..ACCEPTS {
            let listener = listener.clone();
            let started = started.clone();
            runtime::spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                let _ = listener.accept().await;
                unreachable!("nobody connects");
            });
        }
        for stream in &streams {
            for _ in 0..READS_PER_END {
                let stream = stream.clone();
                let started = started.clone();
                runtime::spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let _ = stream.read(Vec::with_capacity(64)).await;
                    unreachable!("nobody writes");
                });
            }
        }
        // Every task has started its operation; give the rings a moment
        // to hand them to the kernel.
        let deadline = Instant::now() + Duration::from_secs(20);
        while started.load(Ordering::SeqCst) < ACCEPTS + READS {
            assert!(Instant::now() < deadline, "tasks did not start");
            runtime::time::sleep(Duration::from_millis(5)).await;
        }
        runtime::time::sleep(Duration::from_millis(100)).await;
        (listener, streams)
    });
    let metrics = rt.metrics();
    let submitted: u64 = (0..metrics.num_workers())
        .map(|i| metrics.worker(i).io_submitted())
        .sum();
    eprintln!(
        "{} accepts and {} reads in flight (io_submitted metric: {submitted})",
        ACCEPTS, READS
    );
    assert_eq!(started.load(Ordering::SeqCst), ACCEPTS + READS);
    // The metrics hold the runtime's handle (and so the rings' eventfds).
    drop(metrics);

    let start = Instant::now();
    drop(rt);
    let took = start.elapsed();
    eprintln!("runtime dropped in {took:?}");
    assert!(took < Duration::from_secs(5), "dropping took {took:?}");

    // The tasks (and their Arcs) are gone; the ops' references to the
    // sockets were released when their cancelled completions were reaped.
    assert_eq!(
        Arc::strong_count(&listener),
        1,
        "an op still holds the listener"
    );
    for stream in &streams {
        assert_eq!(Arc::strong_count(stream), 1, "an op still holds a stream");
    }
    drop((listener, streams));
    // The other test of this binary runs at the same time and opens and
    // closes descriptors of its own: a descriptor of ours must be gone,
    // one of its own may come and go while we list ours. So: equal
    // within a bounded wait (a leak stays and fails).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = open_fds();
    while after != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        after = open_fds();
    }
    assert_eq!(before, after, "file descriptors leaked");
}
