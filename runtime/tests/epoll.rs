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

fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some(format!(
                "{} -> {}",
                entry.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .collect();
    fds.sort();
    fds
}

fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and belong to nobody else.
    unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    }
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

/// 200 socket reads and 200 accepts waiting (each holds a registered
/// duplicate descriptor), then: half dropped by a timeout, the rest by
/// dropping the runtime. No descriptor is left behind, and the runtime
/// drops promptly.
#[test]
fn waits_dropped_by_timeout_or_shutdown_leak_no_descriptor() {
    let _turn = turn();
    let before = open_fds();
    for rt in runtimes() {
        let listener_and_streams = rt.block_on(async {
            let listener = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = listener.local_addr().unwrap();
            let client = std::sync::Arc::new(TcpStream::connect(addr).await.unwrap());
            let (server, _) = listener.accept().await.unwrap();
            for i in 0..200 {
                let (listener, reader) = (listener.clone(), client.clone());
                runtime::spawn(async move {
                    if i % 2 == 0 {
                        let _ = timeout(Duration::from_millis(50), listener.accept()).await;
                        let _ = timeout(Duration::from_millis(50), reader.read(vec![0u8; 8])).await;
                    }
                    let _ = listener.accept().await;
                    unreachable!("nobody connects");
                });
                let client = client.clone();
                runtime::spawn(async move {
                    let _ = client.read(Vec::with_capacity(16)).await;
                    unreachable!("nobody writes");
                });
            }
            sleep(Duration::from_millis(200)).await;
            // The stream still works after all those dropped reads.
            let (res, _) = server.write_all(b"ping".to_vec()).await;
            res.unwrap();
            (listener, client, server)
        });
        let start = Instant::now();
        drop(rt);
        assert!(start.elapsed() < Duration::from_secs(5), "slow drop");
        drop(listener_and_streams);
    }
    assert_eq!(before, open_fds(), "file descriptors leaked");
}

/// Opens abandoned after their first poll (the call queued or running on
/// the blocking pool): each file the pool opens anyway is closed by it.
#[test]
fn opens_abandoned_on_the_blocking_pool_close_what_they_opened() {
    let _turn = turn();
    let path = std::env::temp_dir().join(format!("runtime-epoll-abandon-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();
    let before = open_fds();
    for rt in runtimes() {
        rt.block_on(async {
            for _ in 0..200 {
                let mut open = pin!(File::open(&path));
                let first = poll_fn(|cx| Poll::Ready(open.as_mut().poll(cx).is_ready())).await;
                if first {
                    continue;
                }
            }
        });
        // Dropping the runtime waits for the pool's running calls.
        drop(rt);
    }
    assert_eq!(before, open_fds(), "abandoned opens leaked descriptors");
    std::fs::remove_file(&path).unwrap();
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
        let start = Instant::now();
        drop(rt);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the runtime waited for a read nobody wants"
        );
        drop(writer);
    }
}
