//! The epoll driver, chosen explicitly (`IoDriver::Epoll`), so that these
//! run in the default test command. `RUNTIME_IO_DRIVER=epoll cargo test`
//! runs every other suite on it as well (`.ci/run` does).
//!
//! What is particular to epoll: each wait registers a duplicate descriptor
//! (none may leak), file calls run on the blocking pool (one abandoned
//! there must still release what it created), and a stream that never gets
//! data must not pin a pool thread.
//!
//! The tests take turns (a lock): several count open descriptors.

mod common;

use common::{open_fds, pipe};
use runtime::fs::File;
use runtime::net::{TcpListener, TcpStream, UdpSocket};
use runtime::time::{sleep, timeout};
use runtime::{Builder, IoDriver, Runtime};
use std::future::{poll_fn, Future};
use std::io::ErrorKind;
use std::pin::pin;
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtimes() -> [Runtime; 2] {
    [
        Builder::new_current_thread()
            .io_driver(IoDriver::Epoll)
            .build()
            .unwrap(),
        Builder::new_multi_thread()
            .worker_threads(2)
            .io_driver(IoDriver::Epoll)
            .build()
            .unwrap(),
    ]
}

#[test]
fn the_runtime_reports_epoll_and_has_no_ring_to_size() {
    let _turn = turn();
    for rt in runtimes() {
        assert_eq!(rt.handle().io_driver(), IoDriver::Epoll);
        assert_eq!(rt.metrics().io_driver(), IoDriver::Epoll);
    }
    // `ring_entries` is still validated, then unused.
    let rt = Builder::new_current_thread()
        .io_driver(IoDriver::Epoll)
        .ring_entries(1)
        .build()
        .unwrap();
    assert_eq!(rt.handle().io_driver(), IoDriver::Epoll);
}

#[test]
fn tcp_echo_with_content_checked() {
    let _turn = turn();
    for rt in runtimes() {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = runtime::spawn(async move {
                let mut tasks = Vec::new();
                for _ in 0..20 {
                    let (stream, _) = listener.accept().await.unwrap();
                    tasks.push(runtime::spawn(async move {
                        let mut buf = Vec::with_capacity(1024);
                        loop {
                            let (n, mut back) = stream.read(buf).await;
                            let n = n.unwrap();
                            if n == 0 {
                                return;
                            }
                            back.truncate(n);
                            let (res, mut back) = stream.write_all(back).await;
                            res.unwrap();
                            back.clear();
                            buf = back;
                        }
                    }));
                }
                for task in tasks {
                    task.await.unwrap();
                }
            });
            let mut clients = Vec::new();
            for conn in 0..20u8 {
                clients.push(runtime::spawn(async move {
                    let stream = TcpStream::connect(addr).await.unwrap();
                    for seq in 0..100u8 {
                        let message = vec![conn ^ seq; 1000];
                        let (res, _) = stream.write_all(message.clone()).await;
                        res.unwrap();
                        let mut got = Vec::new();
                        while got.len() < message.len() {
                            let (n, buf) = stream.read(Vec::with_capacity(1000)).await;
                            let n = n.unwrap();
                            assert_ne!(n, 0, "the echo server closed early");
                            got.extend_from_slice(&buf[..n]);
                        }
                        assert!(got == message, "connection {conn} message {seq} corrupted");
                    }
                }));
            }
            for client in clients {
                client.await.unwrap();
            }
            server.await.unwrap();
        });
    }
}

#[test]
fn errors_carry_the_kernel_kind() {
    let _turn = turn();
    for rt in runtimes() {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let err = TcpListener::bind(addr).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse);
            drop(listener);
            let err = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
            let err = File::open("/definitely/not/here").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound);
        });
    }
}

#[test]
fn files_read_write_sync_and_stat_on_the_blocking_pool() {
    let _turn = turn();
    let dir = std::env::temp_dir().join(format!("runtime-epoll-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (index, rt) in runtimes().into_iter().enumerate() {
        let path = dir.join(format!("file-{index}"));
        rt.block_on(async {
            let file = File::create(&path).await.unwrap();
            let (res, _) = file.write_all_at(b"hello, epoll".to_vec(), 0).await;
            res.unwrap();
            file.sync_all().await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), 12);
            file.close().await.unwrap();

            let file = File::open(&path).await.unwrap();
            let (res, buf) = file.read_exact_at(vec![0u8; 5], 7).await;
            res.unwrap();
            assert_eq!(buf, b"epoll");
            let (n, _) = file.read_at(Vec::with_capacity(8), 12).await;
            assert_eq!(n.unwrap(), 0, "end of file");
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"hello, epoll");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn udp_round_trip() {
    let _turn = turn();
    for rt in runtimes() {
        rt.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b_addr = b.local_addr().unwrap();
            let receive = runtime::spawn(async move {
                let (res, buf) = b.recv_from(Vec::with_capacity(64)).await;
                let (n, from) = res.unwrap();
                (buf[..n].to_vec(), from)
            });
            sleep(Duration::from_millis(10)).await;
            let (res, _) = a.send_to(b"datagram".to_vec(), b_addr).await;
            assert_eq!(res.unwrap(), 8);
            let (got, from) = receive.await.unwrap();
            assert_eq!(got, b"datagram");
            assert_eq!(from, a.local_addr().unwrap());
        });
    }
}

#[test]
fn readiness_on_a_pipe() {
    let _turn = turn();
    for rt in runtimes() {
        let (reader, mut writer) = pipe();
        rt.block_on(async move {
            use std::os::fd::AsFd;
            let waiting = runtime::spawn(async move {
                runtime::io::readable(reader.as_fd()).await.unwrap();
            });
            sleep(Duration::from_millis(20)).await;
            assert!(!waiting.is_finished(), "an empty pipe is not readable");
            std::io::Write::write_all(&mut writer, b"x").unwrap();
            timeout(Duration::from_secs(10), waiting)
                .await
                .expect("readable after a write")
                .unwrap();
        });
    }
}

/// 200 socket reads and 200 accepts waiting on one stream and one
/// listener, half of them after a timeout dropped an earlier wait; then one
/// reader gets data, and the rest go with the runtime. No descriptor is
/// left behind, and the runtime drops promptly.
#[test]
fn waits_dropped_by_timeout_or_shutdown_leak_no_descriptor() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let _turn = turn();
    let before = open_fds();
    for rt in runtimes() {
        let accepted = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = rt.block_on(async {
            let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = listener.local_addr().unwrap();
            let client = Arc::new(TcpStream::connect(addr).await.unwrap());
            let (server, _) = listener.accept().await.unwrap();
            for i in 0..200 {
                let (listener, reader) = (listener.clone(), client.clone());
                let accepted = accepted.clone();
                runtime::spawn(async move {
                    if i % 2 == 0 {
                        let _ = timeout(Duration::from_millis(50), listener.accept()).await;
                        let _ = timeout(Duration::from_millis(50), reader.read(vec![0u8; 8])).await;
                    }
                    if listener.accept().await.is_ok() {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                });
                let (client, received) = (client.clone(), received.clone());
                runtime::spawn(async move {
                    let (n, buf) = client.read(Vec::with_capacity(16)).await;
                    if let Ok(n) = n {
                        received.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                });
            }
            sleep(Duration::from_millis(200)).await;
            // The stream still works after all those dropped reads: one of
            // the waiting readers gets the data.
            let (res, _) = server.write_all(b"ping".to_vec()).await;
            res.unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while received.lock().unwrap().len() < 4 {
                assert!(Instant::now() < deadline, "no reader got the data");
                sleep(Duration::from_millis(5)).await;
            }
            (listener, client, server)
        });
        assert_eq!(*received.lock().unwrap(), b"ping");
        let start = Instant::now();
        drop(rt);
        assert!(start.elapsed() < Duration::from_secs(5), "slow drop");
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "nobody connected");
        drop(kept);
    }
    assert_eq!(before, open_fds(), "file descriptors leaked");
}

/// An open abandoned while the blocking pool runs it: opening a FIFO for
/// reading blocks in `openat` until a writer comes, so the future is
/// certainly gone by the time the call returns a descriptor, which the pool
/// thread must then close.
#[test]
fn an_open_abandoned_on_the_blocking_pool_closes_what_it_opened() {
    let _turn = turn();
    let fifo = std::env::temp_dir().join(format!("runtime-epoll-fifo-{}", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let before = open_fds();
    for rt in runtimes() {
        let blocking_before = rt.metrics().blocking_threads();
        rt.block_on(async {
            let mut open = pin!(File::open(&fifo));
            let first = poll_fn(|cx| Poll::Ready(open.as_mut().poll(cx).is_ready())).await;
            assert!(!first, "a FIFO cannot open before a writer does");
            // Let the pool thread start and enter `openat`, then abandon.
            sleep(Duration::from_millis(50)).await;
        });
        assert!(rt.metrics().blocking_threads() > blocking_before);
        // The writer's open lets the pool's `openat` return.
        let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        drop(rt); // waits for the pool
        drop(writer);
    }
    assert_eq!(
        before,
        open_fds(),
        "the abandoned open leaked its descriptor"
    );
    std::fs::remove_file(&fifo).unwrap();
}

/// A `block_on` on a blocking-pool thread, waiting for a read that never
/// gets data: dropping the runtime wakes it (the read fails with
/// `ECANCELED`) instead of waiting for it forever.
#[test]
fn a_read_waiting_on_the_blocking_pool_ends_when_the_runtime_drops() {
    let _turn = turn();
    for rt in runtimes() {
        let (client, _server) = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (server, _) = listener.accept().await.unwrap();
            (std::sync::Arc::new(client), server)
        });
        let handle = rt.handle();
        let reader = client.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        drop(rt.spawn_blocking(move || {
            let (res, _) = handle.block_on(reader.read(vec![0u8; 8]));
            let _ = tx.send(res.map_err(|err| err.raw_os_error()));
        }));
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        let watchdog = Watchdog::new(&client);
        drop(rt);
        watchdog.disarm();
        assert!(start.elapsed() < Duration::from_secs(5), "slow drop");
        let res = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the read ended");
        assert_eq!(res, Err(Some(libc::ECANCELED)));
    }
}

/// Shuts `stream` down after 10 s unless disarmed, so that a regression
/// fails an assertion instead of hanging the test.
struct Watchdog(std::sync::mpsc::Sender<()>);

impl Watchdog {
    fn new(stream: &std::sync::Arc<TcpStream>) -> Watchdog {
        use std::os::fd::AsRawFd;
        let fd = stream.as_raw_fd();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if rx.recv_timeout(Duration::from_secs(10)).is_err() {
                // SAFETY: no pointers; the stream outlives the test's wait.
                unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
            }
        });
        Watchdog(tx)
    }

    fn disarm(self) {
        let _ = self.0.send(());
    }
}

/// A `File` over a pipe that never gets data: its read waits for
/// readiness, not on a pool thread, so a timeout ends it and the runtime
/// drops at once.
#[test]
fn a_pipe_read_dropped_by_timeout_does_not_pin_a_pool_thread() {
    let _turn = turn();
    for rt in runtimes() {
        let (reader, writer) = pipe();
        rt.block_on(async {
            let file = File::from_std(reader);
            let read = file.read_at(vec![0u8; 16], 0);
            assert!(timeout(Duration::from_millis(30), read).await.is_err());
        });
        // If the read sat on a pool thread, closing the writer after 10 s
        // ends it (so the assertion fails instead of the test hanging).
        let watchdog = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            drop(writer);
        });
        let start = Instant::now();
        drop(rt);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the runtime waited for a read nobody wants"
        );
        drop(watchdog);
    }
}
