//! Name resolution: `lookup_host` and every `impl ToSocketAddrs` argument
//! resolve a name on the blocking pool, never on a worker, and a literal
//! address inline, without the pool. Every wait is under a watchdog.

mod common;

use runtime::net::{lookup_host, TcpListener, TcpSocket, TcpStream, UdpSocket};
use runtime::time::{sleep, timeout};
use runtime::Builder;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(30);

fn on_each_runtime<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    common::on_each_runtime(WATCHDOG, body);
}

fn is_localhost(addr: &SocketAddr, port: u16) -> bool {
    addr.ip().is_loopback() && addr.port() == port
}

#[test]
fn localhost_resolves_to_a_loopback_address() {
    on_each_runtime(|| async {
        let addrs: Vec<SocketAddr> = lookup_host("localhost:8080").await.unwrap().collect();
        assert!(!addrs.is_empty());
        assert!(
            addrs.iter().all(|a| is_localhost(a, 8080)),
            "localhost:8080 resolved to {addrs:?}"
        );
        let addrs: Vec<SocketAddr> = lookup_host(("localhost", 9)).await.unwrap().collect();
        assert!(addrs.iter().all(|a| is_localhost(a, 9)), "{addrs:?}");
        let addrs: Vec<SocketAddr> = lookup_host(String::from("localhost:7"))
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| is_localhost(a, 7)), "{addrs:?}");
    });
}

#[test]
fn bind_connect_and_send_to_take_a_name() {
    on_each_runtime(|| async {
        let listener = TcpListener::bind("localhost:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // `localhost` may name ::1 first, where nothing listens: each
        // address is tried in turn.
        let client = TcpStream::connect(format!("localhost:{port}"))
            .await
            .unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        drop(server);

        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = receiver.local_addr().unwrap().port();
        let sender = UdpSocket::bind(("localhost", 0)).await.unwrap();
        let target = if sender.local_addr().unwrap().is_ipv4() {
            format!("localhost:{port}")
        } else {
            format!("127.0.0.1:{port}")
        };
        let (n, _) = sender.send_to(&b"by name"[..], target.as_str()).await;
        assert_eq!(n.unwrap(), 7);
        let (got, buf) = receiver.recv_from(Vec::with_capacity(16)).await;
        got.unwrap();
        assert_eq!(buf, b"by name");
    });
}

#[test]
fn literal_addresses_never_use_the_blocking_pool() {
    for driver in common::drivers() {
        for multi in [false, true] {
            let mut builder = if multi {
                Builder::new_multi_thread()
            } else {
                Builder::new_current_thread()
            };
            let rt = builder.io_driver(driver).build().unwrap();
            rt.block_on(async {
                timeout(WATCHDOG, async {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    let _c = TcpStream::connect(addr).await.unwrap();
                    let _c = TcpStream::connect(("127.0.0.1", addr.port()))
                        .await
                        .unwrap();
                    let _c = TcpStream::connect(addr.to_string()).await.unwrap();
                    let _c = TcpSocket::new_v4().unwrap().connect(addr).await.unwrap();
                    let udp = UdpSocket::bind("[::1]:0").await.unwrap();
                    udp.connect("[::1]:9").await.unwrap();
                    let (n, _) = udp.send_to(&b"x"[..], "[::1]:9").await;
                    n.unwrap();
                    let found: Vec<_> = lookup_host("10.1.2.3:4").await.unwrap().collect();
                    assert_eq!(found, ["10.1.2.3:4".parse::<SocketAddr>().unwrap()]);
                    // Malformed text fails inline too.
                    let err = lookup_host("127.0.0.1").await.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::InvalidInput);
                })
                .await
                .expect("watchdog");
            });
            assert_eq!(
                rt.metrics().blocking_threads(),
                0,
                "a literal address went to the blocking pool ({driver:?}, multi: {multi})"
            );
            // A name does go there: the metric would have seen it.
            rt.block_on(async { lookup_host("localhost:1").await.unwrap().count() });
            assert!(rt.metrics().blocking_threads() >= 1);
        }
    }
}

#[test]
fn a_slow_resolution_does_not_stall_other_tasks_on_the_same_worker() {
    for driver in common::drivers() {
        let rt = Builder::new_current_thread()
            .max_blocking_threads(1)
            .io_driver(driver)
            .build()
            .unwrap();
        rt.block_on(async {
            timeout(WATCHDOG, async {
                // The pool's one thread is held until `release` is sent (or
                // dropped, if the test fails first), so a lookup can only
                // wait for it.
                let (release, held) = mpsc::channel::<()>();
                let blocker = runtime::spawn_blocking(move || {
                    let _ = held.recv();
                });
                let lookup = runtime::spawn(async {
                    lookup_host("localhost:80")
                        .await
                        .map(|addrs| addrs.collect::<Vec<_>>())
                });
                // Another task on the same (only) thread keeps running.
                let ticks = Arc::new(AtomicUsize::new(0));
                let ticker = runtime::spawn({
                    let ticks = ticks.clone();
                    async move {
                        for _ in 0..20 {
                            ticks.fetch_add(1, Ordering::SeqCst);
                            sleep(Duration::from_millis(2)).await;
                        }
                    }
                });
                ticker.await.unwrap();
                assert_eq!(ticks.load(Ordering::SeqCst), 20);
                assert!(
                    !lookup.is_finished(),
                    "the lookup finished although the pool's only thread was held"
                );
                release.send(()).unwrap();
                blocker.await.unwrap();
                let addrs = lookup.await.unwrap().unwrap();
                assert!(addrs.iter().all(|a| is_localhost(a, 80)), "{addrs:?}");
            })
            .await
            .expect("watchdog");
        });
    }
}

#[test]
fn a_name_that_does_not_resolve_is_an_error() {
    for driver in common::drivers() {
        let rt = Builder::new_current_thread()
            .io_driver(driver)
            .build()
            .unwrap();
        rt.block_on(async {
            // Resolvers differ in the kind; an error it must be, and soon.
            let result = timeout(
                Duration::from_secs(60),
                lookup_host("nonexistent.invalid:80"),
            )
            .await
            .expect("the resolver did not answer within 60 s");
            assert!(result.is_err(), "nonexistent.invalid resolved");
            let err = timeout(
                Duration::from_secs(60),
                TcpStream::connect("nonexistent.invalid:80"),
            )
            .await
            .expect("the resolver did not answer within 60 s")
            .unwrap_err();
            assert!(!err.to_string().is_empty());
        });
        // A resolver still stuck would not hold up the runtime's drop.
        rt.shutdown_timeout(Duration::from_secs(5));
    }
}

#[test]
fn a_lookup_outside_a_runtime_resolves_on_the_calling_thread() {
    let addrs: Vec<SocketAddr> = futures_util::FutureExt::now_or_never(lookup_host("localhost:5"))
        .expect("an inline lookup is ready at once")
        .unwrap()
        .collect();
    assert!(addrs.iter().all(|a| is_localhost(a, 5)), "{addrs:?}");
}

#[test]
fn an_empty_address_list_is_invalid_input_for_bind_and_connect() {
    on_each_runtime(|| async {
        let none: &[SocketAddr] = &[];
        let err = TcpListener::bind(none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), "could not resolve to any address");
        let err = TcpStream::connect(none).await.unwrap_err();
        assert_eq!(err.to_string(), "could not resolve to any address");
        // lookup_host reports an empty list as such, not as an error.
        assert_eq!(lookup_host(none).await.unwrap().count(), 0);
    });
}
