//! `runtime::net`: TCP, UDP and Unix sockets over io_uring. Loopback only;
//! every wait is bounded by a timeout so a bug fails a test instead of
//! hanging it.

use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_util::StreamExt;
use runtime::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use runtime::time::{sleep, timeout};
use std::future::{poll_fn, Future};
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// The longest a test waits for something that should happen soon.
const LIMIT: Duration = Duration::from_secs(30);

async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {LIMIT:?}"),
    }
}

/// A connected pair: (client side, server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Reads exactly `len` bytes with owned buffers.
async fn read_exact(stream: &TcpStream, len: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let (n, buf) = stream.read(Vec::with_capacity(len - out.len())).await;
        match n? {
            0 => return Err(ErrorKind::UnexpectedEof.into()),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
    Ok(out)
}

// ----- errors carry the kernel's kind -----

#[runtime::test]
async fn connect_to_a_closed_port_is_refused() {
    // A port that was just free: bind, read it, close.
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let err = bounded("connect", TcpStream::connect(addr))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
}

#[runtime::test]
async fn binding_a_used_port_is_addr_in_use() {
    let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = first.local_addr().unwrap();
    let err = TcpListener::bind(addr).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let err = UdpSocket::bind(udp.local_addr().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
}

#[runtime::test]
async fn a_read_after_the_peer_closed_returns_zero() {
    let (client, server) = tcp_pair().await;
    client.write_all(&b"last words"[..]).await.0.unwrap();
    drop(client);
    assert_eq!(read_exact(&server, 10).await.unwrap(), b"last words");
    let (n, _) = bounded("read", server.read(Vec::with_capacity(16))).await;
    assert_eq!(n.unwrap(), 0);
    // And again: end of stream stays end of stream.
    let (n, _) = bounded("read", server.read(Vec::with_capacity(16))).await;
    assert_eq!(n.unwrap(), 0);
}

#[runtime::test]
async fn a_write_after_the_peer_closed_is_an_error_not_a_signal() {
    let (client, server) = tcp_pair().await;
    drop(server);
    // The first sends may still be accepted; the reset makes a later one
    // fail with EPIPE / ECONNRESET (and MSG_NOSIGNAL keeps SIGPIPE away).
    let mut failed = None;
    for _ in 0..100 {
        let (result, _) = bounded("write", client.write(vec![0u8; 1024])).await;
        if let Err(err) = result {
            failed = Some(err);
            break;
        }
        sleep(Duration::from_millis(1)).await;
    }
    let err = failed.expect("writes to a closed peer kept succeeding");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
        ),
        "{err}"
    );
}

#[runtime::test]
async fn unresolvable_and_unsupported_addresses_are_errors() {
    let err = TcpListener::bind(&[][..] as &[SocketAddr])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // An IPv6 destination from an IPv4 socket: the kernel says no, and the
    // buffer comes back.
    let (result, buf) = udp.send_to(b"x".to_vec(), "[::1]:9").await;
    assert!(result.is_err());
    assert_eq!(buf, b"x");
}

#[test]
fn io_outside_a_runtime_is_an_error_and_gives_the_buffer_back() {
    let rt = runtime::Runtime::new().unwrap();
    let (client, _server) = rt.block_on(tcp_pair());
    let (result, buf) =
        futures_util::FutureExt::now_or_never(client.read(vec![1u8, 2, 3])).expect("fails at once");
    assert!(result.is_err());
    assert_eq!(buf, [1, 2, 3]);
}

// ----- TCP echo -----

const CONNECTIONS: usize = 100;
const MESSAGES: usize = 1000;
const MESSAGE_LEN: usize = 1024;

/// A message whose every byte depends on the connection and the message
/// number, so a byte delivered to the wrong place shows.
fn message(conn: usize, seq: usize) -> Vec<u8> {
    let mut msg = Vec::with_capacity(MESSAGE_LEN);
    msg.extend_from_slice(&(conn as u32).to_le_bytes());
    msg.extend_from_slice(&(seq as u32).to_le_bytes());
    let mut x = (conn as u32).wrapping_mul(0x9E37_79B9) ^ (seq as u32).wrapping_mul(0x85EB_CA6B);
    while msg.len() < MESSAGE_LEN {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        msg.push(x as u8);
    }
    msg
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_echo_100_connections_1000_messages_each() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runtime::spawn(async move {
        let mut handlers = Vec::new();
        for _ in 0..CONNECTIONS {
            let (stream, _) = listener.accept().await.unwrap();
            handlers.push(runtime::spawn(async move {
                let mut buf = Vec::with_capacity(4096);
                let mut echoed = 0;
                loop {
                    buf.clear();
                    let (n, b) = stream.read(buf).await;
                    if n.unwrap() == 0 {
                        return echoed;
                    }
                    echoed += b.len();
                    let (written, b) = stream.write_all(b).await;
                    written.unwrap();
                    buf = b;
                }
            }));
        }
        let mut total = 0;
        for handler in handlers {
            total += handler.await.unwrap();
        }
        total
    });

    let start = Instant::now();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|conn| {
            runtime::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                for seq in 0..MESSAGES {
                    let msg = message(conn, seq);
                    let (written, msg) = stream.write_all(msg).await;
                    written.unwrap();
                    let echo = read_exact(&stream, MESSAGE_LEN).await.unwrap();
                    assert!(
                        echo == msg,
                        "connection {conn} message {seq} came back changed"
                    );
                }
                stream.shutdown(Shutdown::Write).await.unwrap();
                let (n, _) = stream.read(Vec::with_capacity(1)).await;
                assert_eq!(n.unwrap(), 0, "nothing after the last echo");
            })
        })
        .collect();
    bounded("echo clients", async {
        for client in clients {
            client.await.unwrap();
        }
    })
    .await;
    let total = bounded("echo server", server).await.unwrap();
    assert_eq!(total, CONNECTIONS * MESSAGES * MESSAGE_LEN);
    eprintln!(
        "echo: {CONNECTIONS} connections x {MESSAGES} messages x {MESSAGE_LEN} B in {:?}",
        start.elapsed()
    );
}

#[runtime::test]
async fn ipv6_loopback_works() {
    let listener = match TcpListener::bind("[::1]:0").await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("skipped: no IPv6 loopback ({err})");
            return;
        }
    };
    let addr = listener.local_addr().unwrap();
    assert!(addr.is_ipv6());
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    server.write_all("v6").await.0.unwrap();
    assert_eq!(read_exact(&client, 2).await.unwrap(), b"v6");
}

// ----- UDP -----

#[runtime::test]
async fn udp_send_to_and_recv_from_round_trip() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server_addr = server.local_addr().unwrap();
    for i in 0..100u8 {
        let datagram = vec![i; 1 + i as usize];
        let (sent, _) = client.send_to(datagram.clone(), server_addr).await;
        assert_eq!(sent.unwrap(), datagram.len());
        let (received, buf) = bounded("recv_from", server.recv_from(Vec::with_capacity(512))).await;
        let (n, from) = received.unwrap();
        assert_eq!(from, client.local_addr().unwrap());
        assert_eq!(&buf[..n], &datagram[..]);
        let (sent, _) = server.send_to(buf, from).await;
        sent.unwrap();
        let (received, buf) = bounded("reply", client.recv_from(vec![0u8; 512])).await;
        let (n, from) = received.unwrap();
        assert_eq!(from, server_addr);
        assert_eq!(&buf[..n], &datagram[..]);
    }
}

#[runtime::test]
async fn udp_datagram_longer_than_the_buffer_is_truncated() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = socket.local_addr().unwrap();
    socket.send_to(vec![9u8; 100], me).await.0.unwrap();
    let (received, buf) = socket.recv_from(Vec::with_capacity(10)).await;
    let (n, _) = received.unwrap();
    assert_eq!((n, buf.len()), (10, 10));
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_connected_send_and_recv() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.connect(b.local_addr().unwrap()).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    let b = Arc::new(b);
    let echo = {
        let b = b.clone();
        runtime::spawn(async move {
            for _ in 0..50 {
                let (n, buf) = b.recv(Vec::with_capacity(64)).await;
                let n = n.unwrap();
                assert_eq!(b.send(buf).await.0.unwrap(), n);
            }
        })
    };
    for i in 0..50u32 {
        let payload = format!("datagram {i}");
        a.send(payload.clone()).await.0.unwrap();
        let (n, buf) = bounded("recv", a.recv(Vec::with_capacity(64))).await;
        assert_eq!(&buf[..n.unwrap()], payload.as_bytes());
    }
    bounded("echo task", echo).await.unwrap();
    // Not connected: the kernel's EDESTADDRREQ.
    let lone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let err = lone.send(&b"?"[..]).await.0.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EDESTADDRREQ));
}

// ----- futures_io compatibility -----

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_io_write_all_and_read_exact() {
    let (mut client, mut server) = tcp_pair().await;
    let data: Vec<u8> = (0..(1 << 20) + 123).map(|i| (i * 7 % 251) as u8).collect();
    let expected = data.clone();
    // Both directions at once, more than a socket buffer holds: partial
    // sends and receives on both sides.
    let echo = runtime::spawn(async move {
        let mut buf = vec![0u8; expected.len()];
        server.read_exact(&mut buf).await.unwrap();
        assert!(buf == expected, "server got other bytes");
        AsyncWriteExt::write_all(&mut server, &buf).await.unwrap();
        server.flush().await.unwrap();
        server.close().await.unwrap();
    });
    AsyncWriteExt::write_all(&mut client, &data).await.unwrap();
    client.flush().await.unwrap();
    let mut back = vec![0u8; data.len()];
    bounded("read_exact", client.read_exact(&mut back))
        .await
        .unwrap();
    assert!(back == data, "echo differs");
    // poll_close shut down the server's write side: end of stream.
    let mut rest = Vec::new();
    bounded("read_to_end", client.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(rest.is_empty());
    bounded("echo task", echo).await.unwrap();
}

#[runtime::test]
async fn futures_io_buf_reader_lines() {
    let (client, server) = tcp_pair().await;
    let writer = runtime::spawn(async move {
        let mut text = String::new();
        for i in 0..1000 {
            text.push_str(&format!("line number {i}\n"));
        }
        // Owned-buffer writes on one side, poll-style reads on the other.
        server.write_all(text).await.0.unwrap();
        server.shutdown(Shutdown::Write).await.unwrap();
    });
    let lines: Vec<String> = bounded("lines", BufReader::new(client).lines().collect::<Vec<_>>())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(lines.len(), 1000);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line, &format!("line number {i}"));
    }
    writer.await.unwrap();
}

#[runtime::test]
async fn futures_io_write_abandoned_then_other_bytes_keeps_the_stream_whole() {
    let (mut client, server) = tcp_pair().await;
    // A poll_write polled once and abandoned, then a write of other bytes:
    // the peer gets exactly what poll_write said it took, then the rest.
    // (`Pending` means nothing was taken; `tests/poll_write.rs` tests that
    // under load.)
    let first = b"first-".to_vec();
    let mut taken = 0;
    poll_fn(|cx| {
        let poll = futures_io::AsyncWrite::poll_write(Pin::new(&mut client), cx, &first);
        if let Poll::Ready(n) = poll {
            taken = n.unwrap();
        }
        Poll::Ready(())
    })
    .await;
    AsyncWriteExt::write_all(&mut client, b"second")
        .await
        .unwrap();
    client.close().await.unwrap();
    let expected = [&first[..taken], b"second"].concat();
    let got = read_exact(&server, expected.len()).await.unwrap();
    assert_eq!(got, expected);
    let (n, _) = server.read(Vec::with_capacity(8)).await;
    assert_eq!(n.unwrap(), 0, "more bytes than were written");
}

// ----- cancellation -----

#[runtime::test]
async fn a_read_dropped_by_timeout_leaves_the_socket_usable() {
    let (client, server) = tcp_pair().await;
    let read = timeout(
        Duration::from_millis(50),
        server.read(Vec::with_capacity(64)),
    )
    .await;
    assert!(read.is_err(), "nothing was sent, the read must time out");

    // The runtime is healthy: tasks and timers still run.
    assert_eq!(runtime::spawn(async { 7 }).await.unwrap(), 7);

    // The cancelled read took nothing: data sent now is read by the next
    // read.
    client.write_all(&b"late"[..]).await.0.unwrap();
    assert_eq!(
        bounded("read", read_exact(&server, 4)).await.unwrap(),
        b"late"
    );
}

#[runtime::test]
async fn a_poll_style_read_dropped_by_timeout_keeps_its_data() {
    let (client, mut server) = tcp_pair().await;
    let mut buf = [0u8; 4];
    assert!(
        timeout(Duration::from_millis(50), server.read_exact(&mut buf))
            .await
            .is_err()
    );
    client.write_all(&b"late"[..]).await.0.unwrap();
    // The receive stayed in flight inside the stream; its bytes are there.
    bounded("read_exact", server.read_exact(&mut buf))
        .await
        .unwrap();
    assert_eq!(&buf, b"late");
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_dropped_by_timeout_leaves_the_listener_usable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    for _ in 0..10 {
        assert!(timeout(Duration::from_millis(5), listener.accept())
            .await
            .is_err());
    }
    let addr = listener.local_addr().unwrap();
    let client = runtime::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (_server, peer) = bounded("accept", listener.accept()).await.unwrap();
    assert_eq!(peer, client.await.unwrap().local_addr().unwrap());
}

#[runtime::test]
async fn a_connection_accepted_for_a_dropped_accept_goes_to_the_next_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut accept = Box::pin(listener.accept());
    poll_fn(|cx| {
        assert!(accept.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
    let client = TcpStream::connect(addr).await.unwrap();
    // Let the ring reap the accept's completion, then drop its future
    // without polling it: the connection must not be lost.
    sleep(Duration::from_millis(20)).await;
    drop(accept);
    let (server, peer) = bounded("accept", listener.accept()).await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    client.write_all(&b"kept"[..]).await.0.unwrap();
    assert_eq!(read_exact(&server, 4).await.unwrap(), b"kept");
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_cancelled_all_the_time_lose_no_connection() {
    const CLIENTS: usize = 50;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = runtime::spawn(async move {
        let mut streams = Vec::new();
        for i in 0..CLIENTS {
            let stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(vec![i as u8]).await.0.unwrap();
            streams.push(stream);
            sleep(Duration::from_millis(1)).await;
        }
        streams
    });
    // Accepts with a tiny timeout, as a `select!` loop would drop them.
    let mut seen = [false; CLIENTS];
    let deadline = Instant::now() + LIMIT;
    let mut accepted = 0;
    let mut cancelled = 0;
    while accepted < CLIENTS {
        assert!(
            Instant::now() < deadline,
            "only {accepted} of {CLIENTS} connections accepted"
        );
        match timeout(Duration::from_micros(300), listener.accept()).await {
            Ok(result) => {
                let (stream, _) = result.unwrap();
                let id = read_exact(&stream, 1).await.unwrap()[0] as usize;
                assert!(!seen[id], "connection {id} accepted twice");
                seen[id] = true;
                accepted += 1;
            }
            Err(_) => cancelled += 1,
        }
    }
    eprintln!("{CLIENTS} connections accepted, {cancelled} accepts cancelled on the way");
    bounded("clients", clients).await.unwrap();
}

/// The thread a future is polled on right now.
fn thread_id() -> std::thread::ThreadId {
    std::thread::current().id()
}

/// A read started on one worker and dropped on the other: the cancel
/// travels to the ring the read was submitted to. Seen from outside: the
/// read's op holds the socket open until its completion, so once the
/// stream and the future are gone, the peer reads end-of-stream only if the
/// cancel reached the ring and completed the op. (Whether bytes sent after
/// the drop are still there for a new read cannot be promised: a cancel
/// that arrives after the data loses the race, and the data goes with the
/// cancelled read.)
#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_dropped_on_another_worker_is_cancelled_on_its_ring() {
    const ROUNDS: usize = 20;
    let mut moved = 0;
    for _ in 0..ROUNDS {
        let (client, server) = tcp_pair().await;
        let (tx, rx) = futures_channel::oneshot::channel();
        // Task A starts the read (so it is submitted to A's ring), then
        // sends the pending future away and keeps its worker busy, so the
        // task that drops it runs on the other worker.
        let a = runtime::spawn(async move {
            let mut read = Box::pin(async move { server.read(Vec::with_capacity(8)).await });
            poll_fn(|cx| {
                assert!(read.as_mut().poll(cx).is_pending(), "no data was sent");
                Poll::Ready(())
            })
            .await;
            let submitted_on = thread_id();
            tx.send(read).ok().unwrap();
            let spin = Instant::now();
            while spin.elapsed() < Duration::from_millis(20) {
                std::hint::spin_loop();
            }
            submitted_on
        });
        let b = runtime::spawn(async move {
            let read = rx.await.unwrap();
            let dropped_on = thread_id();
            // The stream goes with the future; the op keeps the socket.
            drop(read);
            dropped_on
        });
        let (submitted_on, dropped_on) =
            bounded("tasks", async { (a.await.unwrap(), b.await.unwrap()) }).await;
        moved += usize::from(submitted_on != dropped_on);

        let (n, _) = bounded(
            "end of stream after the cancel",
            client.read(Vec::with_capacity(8)),
        )
        .await;
        assert_eq!(n.unwrap(), 0, "the server socket was closed");
    }
    eprintln!("{moved} of {ROUNDS} reads were dropped on another thread than they started on");
    assert!(moved > 0, "the drop never happened on another worker");
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_reads_on_two_workers_all_get_their_data() {
    const PAIRS: usize = 200;
    let migrated = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for i in 0..PAIRS {
        let (client, server) = tcp_pair().await;
        let migrated = migrated.clone();
        readers.push(runtime::spawn(async move {
            let mut got = Vec::new();
            for round in 0..10 {
                let before = thread_id();
                let (n, buf) = server.read(Vec::with_capacity(64)).await;
                if before != thread_id() {
                    migrated.fetch_add(1, Ordering::Relaxed);
                }
                let n = n.unwrap();
                assert!(n > 0, "pair {i}: early end of stream in round {round}");
                got.extend_from_slice(&buf[..n]);
                if got.len() == 10 * 8 {
                    break;
                }
            }
            got
        }));
        writers.push((i, client));
    }
    let writers = runtime::spawn(async move {
        for round in 0..10u32 {
            for (i, client) in &writers {
                let chunk = format!("{:04}{:04}", i, round);
                client.write_all(chunk).await.0.unwrap();
            }
            runtime::yield_now().await;
        }
        writers
    });
    let _writers = bounded("writers", writers).await.unwrap();
    for (i, reader) in readers.into_iter().enumerate() {
        let got = bounded("reader", reader).await.unwrap();
        let expected: String = (0..10).map(|round| format!("{i:04}{round:04}")).collect();
        assert_eq!(got, expected.as_bytes(), "pair {i}");
    }
    eprintln!(
        "{} reads completed on another thread than they started on",
        migrated.load(Ordering::Relaxed)
    );
}

// ----- Unix sockets -----

fn socket_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("runtime-net-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_listener_and_stream_echo() {
    let path = socket_path("echo");
    let listener = UnixListener::bind(&path).await.unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    let err = UnixListener::bind(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);

    let server = runtime::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        assert!(peer.is_unnamed());
        let mut buf = Vec::with_capacity(1024);
        loop {
            buf.clear();
            let (n, b) = stream.read(buf).await;
            if n.unwrap() == 0 {
                return;
            }
            buf = stream.write_all(b).await.1;
        }
    });
    let mut client = UnixStream::connect(&path).await.unwrap();
    for i in 0..100 {
        let line = format!("message {i}\n");
        AsyncWriteExt::write_all(&mut client, line.as_bytes())
            .await
            .unwrap();
        let mut back = vec![0u8; line.len()];
        bounded("read_exact", client.read_exact(&mut back))
            .await
            .unwrap();
        assert_eq!(back, line.as_bytes());
    }
    client.shutdown(Shutdown::Write).await.unwrap();
    bounded("server", server).await.unwrap();
    std::fs::remove_file(&path).unwrap();

    let err = UnixStream::connect(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[runtime::test]
async fn unix_pair_and_dropped_read() {
    let (a, b) = UnixStream::pair().unwrap();
    assert!(
        timeout(Duration::from_millis(20), b.read(Vec::with_capacity(8)))
            .await
            .is_err()
    );
    a.write_all(&b"after"[..]).await.0.unwrap();
    let (n, buf) = bounded("read", b.read(Vec::with_capacity(8))).await;
    assert_eq!(&buf[..n.unwrap()], b"after");
}

/// Sockets made non-blocking by their owner (as tokio's `from_std` asks)
/// still wait for a connection and for data, on either driver.
#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_std_of_non_blocking_sockets_still_waits() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let listener = TcpListener::from_std(std_listener);
    let addr = listener.local_addr().unwrap();
    let accepting = runtime::spawn(async move { listener.accept().await });
    sleep(Duration::from_millis(30)).await;
    assert!(!accepting.is_finished(), "accept did not wait");
    let std_client = std::net::TcpStream::connect(addr).unwrap();
    std_client.set_nonblocking(true).unwrap();
    let client = TcpStream::from_std(std_client);
    let (server, _) = bounded("accept", accepting).await.unwrap().unwrap();

    let reading = runtime::spawn(async move {
        let (n, buf) = client.read(Vec::with_capacity(8)).await;
        buf[..n.unwrap()].to_vec()
    });
    sleep(Duration::from_millis(30)).await;
    assert!(!reading.is_finished(), "read did not wait");
    let (res, _) = server.write_all(b"late".to_vec()).await;
    res.unwrap();
    assert_eq!(bounded("read", reading).await.unwrap(), b"late");
}
