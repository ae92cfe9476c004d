//! `TcpSocket`: options read back, binding, listening, connecting, and the
//! kernel's errors. Both drivers and flavors, under a watchdog.

mod common;

use runtime::net::{TcpListener, TcpSocket, TcpStream};
use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(30);

fn on_each_runtime<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    common::on_each_runtime(WATCHDOG, body);
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A listener with `SO_REUSEPORT` on `addr`.
fn reuseport_listener(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseport(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(64).unwrap()
}

#[test]
fn two_listeners_with_reuseport_on_one_port_both_accept() {
    on_each_runtime(|| async {
        let first = reuseport_listener(loopback());
        let addr = first.local_addr().unwrap();
        let second = reuseport_listener(addr);
        assert_eq!(second.local_addr().unwrap(), addr);

        let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let mut acceptors = Vec::new();
        for (i, listener) in [first, second].into_iter().enumerate() {
            let counts = counts.clone();
            acceptors.push(runtime::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    drop(stream);
                    counts[i].fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        // The kernel picks a listener by a hash of the connection's
        // addresses, so new client ports land on both sooner or later.
        let total = |counts: &[AtomicUsize; 2]| {
            counts[0].load(Ordering::SeqCst) + counts[1].load(Ordering::SeqCst)
        };
        let mut connections = 0;
        while counts.iter().any(|c| c.load(Ordering::SeqCst) == 0) {
            assert!(
                connections < 2000,
                "2000 connections and one listener accepted none: {:?}",
                counts
            );
            let before = total(&counts);
            let stream = TcpStream::connect(addr).await.unwrap();
            connections += 1;
            // Accepted before the next connect, so neither queue fills.
            while total(&counts) == before {
                runtime::time::sleep(Duration::from_millis(1)).await;
            }
            drop(stream);
        }
        for acceptor in acceptors {
            acceptor.cancel();
        }
    });
}

#[test]
fn without_reuse_binding_a_taken_port_is_addr_in_use() {
    on_each_runtime(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let taken = listener.local_addr().unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        let err = socket.bind(taken).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        // SO_REUSEADDR does not make a live listener's port free either.
        socket.set_reuseaddr(true).unwrap();
        let err = socket.bind(taken).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        // Nor SO_REUSEPORT on one side only.
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseport(true).unwrap();
        let err = socket.bind(taken).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    });
}

#[test]
fn connecting_where_nothing_listens_is_refused() {
    on_each_runtime(|| async {
        let addr = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap()
        };
        let err = TcpSocket::new_v4()
            .unwrap()
            .connect(addr)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn options_read_back() {
    let socket = TcpSocket::new_v4().unwrap();
    for on in [true, false] {
        socket.set_reuseaddr(on).unwrap();
        assert_eq!(socket.reuseaddr().unwrap(), on);
        socket.set_reuseport(on).unwrap();
        assert_eq!(socket.reuseport().unwrap(), on);
    }
    // Linux doubles the sizes it is given (within its limits).
    for size in [16 * 1024, 100_000] {
        socket.set_send_buffer_size(size).unwrap();
        assert!(socket.send_buffer_size().unwrap() >= size);
        socket.set_recv_buffer_size(size).unwrap();
        assert!(socket.recv_buffer_size().unwrap() >= size);
    }
    // Far beyond any limit: clamped by the kernel, not an error.
    socket.set_send_buffer_size(u32::MAX).unwrap();
    assert!(socket.send_buffer_size().unwrap() > 0);
}

#[test]
fn a_bound_socket_connects_from_its_address_and_listens_on_it() {
    on_each_runtime(|| async {
        let server = TcpSocket::new_v4().unwrap();
        server.set_reuseaddr(true).unwrap();
        server.bind(loopback()).unwrap();
        let addr = server.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let listener = server.listen(8).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);

        let client = TcpSocket::new_v4().unwrap();
        client.bind(loopback()).unwrap();
        let from = client.local_addr().unwrap();
        let (stream, accepted) =
            futures_util::future::join(client.connect(addr), listener.accept()).await;
        let stream = stream.unwrap();
        let (accepted, peer) = accepted.unwrap();
        assert_eq!(peer, from);
        assert_eq!(stream.local_addr().unwrap(), from);
        assert_eq!(stream.peer_addr().unwrap(), addr);
        stream.write_all(&b"via TcpSocket"[..]).await.0.unwrap();
        let (n, buf) = accepted.read(Vec::with_capacity(32)).await;
        assert_eq!(&buf[..n.unwrap()], b"via TcpSocket");
    });
}

#[test]
fn ipv6_sockets_bind_and_connect() {
    on_each_runtime(|| async {
        let server = TcpSocket::new_v6().unwrap();
        server.bind("[::1]:0".parse().unwrap()).unwrap();
        let addr = server.local_addr().unwrap();
        let listener = server.listen(8).unwrap();
        let (stream, accepted) = futures_util::future::join(
            TcpSocket::new_v6().unwrap().connect(addr),
            listener.accept(),
        )
        .await;
        assert!(stream.unwrap().local_addr().unwrap().is_ipv6());
        accepted.unwrap();
        // An IPv4 socket cannot take an IPv6 address.
        let v4 = TcpSocket::new_v4().unwrap();
        assert!(v4.bind("[::1]:0".parse().unwrap()).is_err());
    });
}

#[test]
fn raw_descriptor_round_trip_and_debug() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(loopback()).unwrap();
    let addr = socket.local_addr().unwrap();
    let text = format!("{socket:?}");
    assert!(text.contains(&addr.to_string()), "{text}");
    let fd = socket.into_raw_fd();
    // SAFETY: `fd` came from `into_raw_fd` just above; nothing else owns it.
    let socket = unsafe { TcpSocket::from_raw_fd(fd) };
    assert_eq!(socket.as_raw_fd(), fd);
    assert_eq!(socket.local_addr().unwrap(), addr);
}

/// A server stops accepting by dropping its listener: from then on clients
/// are refused, even while an accept of it is still being cancelled in the
/// ring (which holds the socket open a little longer).
#[test]
fn a_dropped_listener_refuses_connections_at_once_even_with_an_accept_in_flight() {
    on_each_runtime(|| async {
        let listener = TcpListener::bind(loopback()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        {
            // An accept in flight, dropped with the listener.
            let accept = listener.accept();
            let mut accept = std::pin::pin!(accept);
            let polled = std::future::poll_fn(|cx| {
                assert!(accept.as_mut().poll(cx).is_pending());
                std::task::Poll::Ready(())
            });
            polled.await;
        }
        drop(listener);
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}
