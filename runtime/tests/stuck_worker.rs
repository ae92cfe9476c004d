//! One worker stuck in a long poll must not hold other tasks' timers or
//! I/O completions hostage: a free worker fires the stuck worker's due
//! timers and reaps its ring (see `scheduler/multi_thread/rescue.md`).
//!
//! The hog spins for 1.5 s. Bounds are generous (the point is "not the
//! length of the hog", and the machine may be loaded); the figures seen are
//! printed.

use runtime::net::{TcpListener, TcpStream};
use runtime::time::{self, Instant};
use runtime::{Builder, IoDriver, Runtime};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

const HOG: Duration = Duration::from_millis(1500);
/// Far below the hog's length, far above what a loaded machine adds.
const BOUND: Duration = Duration::from_millis(300);

fn two_workers(driver: IoDriver) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .io_driver(driver)
        .build()
        .unwrap()
}

fn spin(d: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

type Pinned = Pin<Box<dyn Future<Output = Duration> + Send>>;

/// Polls `future` once on this thread (registering its timer or op here),
/// expecting `Pending`.
async fn poll_once_here(future: &mut Pinned) {
    poll_fn(|cx| {
        assert!(future.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
}

fn sleeps_fire_on_time_while_a_worker_hogs(driver: IoDriver) {
    let rt = two_workers(driver);
    let (tx, rx) = mpsc::channel::<(Pinned, std::thread::ThreadId)>();
    // The hog registers the sleeps in its own worker's wheel (first poll
    // here), hands them over, then spins.
    let hog = rt.spawn(async move {
        for ms in [5u64, 10, 15, 20, 25] {
            let duration = Duration::from_millis(ms);
            let start = Instant::now();
            let mut sleep: Pinned = Box::pin(async move {
                time::sleep(duration).await;
                start.elapsed().saturating_sub(duration)
            });
            poll_once_here(&mut sleep).await;
            tx.send((sleep, std::thread::current().id())).unwrap();
        }
        drop(tx);
        spin(HOG);
    });
    let mut waiters = Vec::new();
    for (sleep, hog_thread) in rx {
        waiters.push(rt.spawn(async move {
            let late = sleep.await;
            (late, hog_thread != std::thread::current().id())
        }));
    }
    rt.block_on(async {
        for waiter in waiters {
            let (late, elsewhere) = waiter.await.unwrap();
            println!("{driver:?}: a sleep fired {late:?} late (on the free worker: {elsewhere})");
            assert!(late < BOUND, "{driver:?}: a sleep fired {late:?} late");
        }
        hog.await.unwrap();
    });
}

#[test]
fn sleeps_fire_on_time_while_a_worker_hogs_io_uring() {
    sleeps_fire_on_time_while_a_worker_hogs(IoDriver::IoUring);
}

#[test]
fn sleeps_fire_on_time_while_a_worker_hogs_epoll() {
    sleeps_fire_on_time_while_a_worker_hogs(IoDriver::Epoll);
}

fn echo_round_trips_complete_while_a_worker_hogs(driver: IoDriver) {
    let rt = two_workers(driver);
    let (tx, rx) = mpsc::channel::<(Pinned, Arc<TcpStream>)>();
    let hog = rt.spawn(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The echo server: answers each message after 20 ms.
        runtime::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut buf = Vec::with_capacity(64);
            loop {
                buf.clear();
                let (n, b) = stream.read(buf).await;
                if n.unwrap() == 0 {
                    return;
                }
                time::sleep(Duration::from_millis(20)).await;
                let (res, b) = stream.write_all(b).await;
                res.unwrap();
                buf = b;
            }
        });
        let client = Arc::new(TcpStream::connect(addr).await.unwrap());
        // A receive submitted on this (the hog's) worker's ring, then a
        // message for the server to echo: its reply completes that receive
        // while this worker spins.
        let started = Instant::now();
        let mut reply: Pinned = {
            let client = client.clone();
            Box::pin(async move {
                let (n, _) = client.read(Vec::with_capacity(64)).await;
                assert_eq!(n.unwrap(), 4);
                started.elapsed()
            })
        };
        poll_once_here(&mut reply).await;
        let (res, _) = client.write_all(&b"ping"[..]).await;
        res.unwrap();
        tx.send((reply, client)).unwrap();
        spin(HOG);
    });
    let (reply, client) = rx.recv().unwrap();
    let round_trips = rt.spawn(async move {
        let mut times = vec![reply.await];
        // More round trips from the free worker while the hog goes on.
        for _ in 0..5 {
            let start = Instant::now();
            let (res, _) = client.write_all(&b"pong"[..]).await;
            res.unwrap();
            let (n, _) = client.read(Vec::with_capacity(64)).await;
            assert_eq!(n.unwrap(), 4);
            times.push(start.elapsed());
        }
        times
    });
    rt.block_on(async {
        let times = round_trips.await.unwrap();
        println!("{driver:?}: round trips {times:?} (the server waits 20 ms each)");
        for rtt in times {
            assert!(rtt < BOUND, "{driver:?}: a round trip took {rtt:?}");
        }
        hog.await.unwrap();
    });
}

#[test]
fn echo_round_trips_complete_while_a_worker_hogs_io_uring() {
    echo_round_trips_complete_while_a_worker_hogs(IoDriver::IoUring);
}

#[test]
fn echo_round_trips_complete_while_a_worker_hogs_epoll() {
    echo_round_trips_complete_while_a_worker_hogs(IoDriver::Epoll);
}
