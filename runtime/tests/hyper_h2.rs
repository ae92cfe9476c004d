//! hyper 1.x HTTP/2 on the runtime (feature `hyper`): `HyperExecutor` runs
//! hyper's connection and stream tasks; a hundred streams in flight at once
//! on one connection; and hyper-util's graceful shutdown letting a request
//! in flight finish.
#![cfg(feature = "hyper")]

mod http_common;

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::future::FutureExt;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty, Full};
use http_common::{bounded, check_pattern, pattern_body};
use hyper::body::Incoming;
use hyper::{Request, Response, Version};
use runtime::compat::hyper::{HyperExecutor, HyperIo, HyperTimer};
use runtime::net::{TcpListener, TcpStream};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_streams_on_one_connection() {
    const STREAMS: usize = 100;
    bounded("100 streams", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Every handler reports its arrival, then waits for `go`: the test
        // sees all of them in flight at once before any is answered.
        let (arrived_tx, mut arrived) = mpsc::unbounded::<usize>();
        let (go_tx, go) = oneshot::channel::<()>();
        let go = go.shared();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        runtime::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let (arrived_tx, go) = (arrived_tx.clone(), go.clone());
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (arrived_tx, go) = (arrived_tx.clone(), go.clone());
                    async move {
                        assert_eq!(req.version(), Version::HTTP_2);
                        let n: usize = req.uri().path()[1..].parse().unwrap();
                        arrived_tx.unbounded_send(n).unwrap();
                        go.await.unwrap();
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                            "stream {n}"
                        )))))
                    }
                });
                runtime::spawn(async move {
                    hyper::server::conn::http2::Builder::new(HyperExecutor::new())
                        .timer(HyperTimer::new())
                        .max_concurrent_streams(STREAMS as u32)
                        .serve_connection(HyperIo::new(stream), service)
                        .await
                });
            }
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http2::Builder::new(HyperExecutor::new())
            .timer(HyperTimer::new())
            .handshake(HyperIo::new(stream))
            .await
            .unwrap();
        runtime::spawn(conn);
        let mut requests = runtime::task::JoinSet::new();
        for n in 0..STREAMS {
            let mut sender = sender.clone();
            requests.spawn(async move {
                let request = Request::get(format!("http://test/{n}"))
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let response = sender.send_request(request).await.unwrap();
                assert_eq!(response.version(), Version::HTTP_2);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(body, format!("stream {n}"));
                n
            });
        }
        let mut seen = [false; STREAMS];
        for _ in 0..STREAMS {
            seen[arrived.next().await.unwrap()] = true;
        }
        assert!(seen.iter().all(|&s| s), "every stream reached its handler");
        go_tx.send(()).unwrap();
        let mut done = requests.join_all().await;
        done.sort();
        assert_eq!(done, (0..STREAMS).collect::<Vec<_>>());
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");
    })
    .await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_both_ways_over_http2() {
    const LEN: usize = 8 << 20;
    bounded("h2 echo", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        runtime::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|req: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(req.into_body()))
            });
            hyper::server::conn::http2::Builder::new(HyperExecutor::new())
                .serve_connection(HyperIo::new(stream), service)
                .await
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(HyperExecutor::new(), HyperIo::new(stream))
                .await
                .unwrap();
        runtime::spawn(conn);
        let request = Request::post("http://test/echo")
            .body(pattern_body(LEN, 100_000))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        check_pattern(response.into_body(), LEN).await;
    })
    .await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_the_request_in_flight_finish() {
    bounded("graceful", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (arrived_tx, arrived) = oneshot::channel::<()>();
        let (release_tx, release) = oneshot::channel::<()>();
        let handler = Arc::new(gate::Once::new(arrived_tx, release));
        let (stop_tx, stop) = oneshot::channel::<()>();
        let server = runtime::spawn(async move {
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            let (stream, _) = listener.accept().await.unwrap();
            let handler = handler.clone();
            let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                let handler = handler.clone();
                async move {
                    handler.arrive_and_wait().await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("finished"))))
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(HyperExecutor::new());
            let conn = builder.serve_connection(HyperIo::new(stream), service);
            let conn = graceful.watch(conn.into_owned());
            let conn = runtime::spawn(conn);
            stop.await.unwrap();
            graceful.shutdown().await;
            conn.await.unwrap().is_ok()
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
            .await
            .unwrap();
        let client_conn = runtime::spawn(conn);
        let request = Request::get("/")
            .header(hyper::header::HOST, "test")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = runtime::spawn(sender.send_request(request));
        arrived.await.unwrap();
        // Shutdown begins while the request is in its handler.
        stop_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        let response = response.await.unwrap().unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "finished");
        assert!(server.await.unwrap(), "the connection ended cleanly");
        // ...and the server closed the keep-alive connection afterwards.
        client_conn.await.unwrap().unwrap();
    })
    .await;
}

/// A handler that runs once: reports its arrival, waits to be released.
mod gate {
    use futures_channel::oneshot;
    use std::sync::Mutex;

    pub struct Once {
        channels: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
    }

    impl Once {
        pub fn new(arrived: oneshot::Sender<()>, release: oneshot::Receiver<()>) -> Once {
            Once {
                channels: Mutex::new(Some((arrived, release))),
            }
        }

        pub async fn arrive_and_wait(&self) {
            let (arrived, release) = self.channels.lock().unwrap().take().expect("one request");
            arrived.send(()).unwrap();
            release.await.unwrap();
        }
    }
}
