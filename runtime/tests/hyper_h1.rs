//! hyper 1.x HTTP/1 on the runtime (feature `hyper`): a hyper server and a
//! hyper client over runtime TCP streams through `HyperIo`, with
//! `HyperTimer` for hyper's timeouts. Keep-alive, large chunked bodies
//! both ways, upgrades to a raw stream, a client vanishing mid-request, and
//! `header_read_timeout` on a paused and on a real clock.
#![cfg(feature = "hyper")]

mod http_common;

use bytes::Bytes;
use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use http_common::{back_to_baseline, bounded, check_pattern, fd_count, pattern_body};
use hyper::body::Incoming;
use hyper::client::conn::http1 as client;
use hyper::rt::Timer;
use hyper::server::conn::http1 as server;
use hyper::{Request, Response, StatusCode};
use runtime::compat::hyper::{HyperIo, HyperTimer};
use runtime::net::{TcpListener, TcpStream};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

type Body = BoxBody<Bytes, hyper::Error>;

fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into()).map_err(|never| match never {}).boxed()
}

/// The test server's routes.
async fn route(mut req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let response = match path.as_str() {
        // Streams the request body back as it arrives, saying whether it
        // came chunked.
        "/echo" => {
            let chunked = req
                .headers()
                .get(hyper::header::TRANSFER_ENCODING)
                .is_some_and(|te| te == "chunked");
            Response::builder()
                .header("x-request-chunked", if chunked { "yes" } else { "no" })
                .body(req.into_body().boxed())
                .unwrap()
        }
        // Reads the whole body before answering.
        "/collect" => match req.into_body().collect().await {
            Ok(body) => Response::new(full(format!("{} bytes", body.to_bytes().len()))),
            Err(err) => Response::new(full(format!("error: {err}"))),
        },
        // Switches to a raw byte stream: the server takes its TcpStream back
        // and answers each chunk upper-cased.
        "/upgrade" => {
            runtime::spawn(async move {
                let upgraded = hyper::upgrade::on(&mut req).await.expect("upgrade");
                let parts = upgraded
                    .downcast::<HyperIo<TcpStream>>()
                    .expect("the upgraded connection is the runtime's TcpStream");
                assert!(parts.read_buf.is_empty(), "the client waits for the 101");
                let stream = parts.io.into_inner();
                loop {
                    let (n, buf) = stream.read(Vec::with_capacity(1024)).await;
                    match n.expect("read") {
                        0 => break,
                        _ => {
                            let (res, _) = stream.write_all(buf.to_ascii_uppercase()).await;
                            res.expect("write");
                        }
                    }
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(hyper::header::CONNECTION, "upgrade")
                .header(hyper::header::UPGRADE, "shout")
                .body(full(""))
                .unwrap()
        }
        other => Response::new(full(format!("you asked for {other}"))),
    };
    Ok(response)
}

/// Serves [`route`] on a fresh port: one task accepting, one per
/// connection. Returns the address and the count of connections accepted.
async fn serve() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    runtime::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            count.fetch_add(1, Ordering::SeqCst);
            runtime::spawn(async move {
                // Errors (a client gone mid-request) end the connection.
                let _ = server::Builder::new()
                    .timer(HyperTimer::new())
                    .serve_connection(HyperIo::new(stream), hyper::service::service_fn(route))
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, accepted)
}

/// A hyper client connection to `addr`; its connection task is spawned.
async fn connect<B>(addr: SocketAddr) -> client::SendRequest<B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = client::handshake(HyperIo::new(stream))
        .await
        .expect("handshake");
    runtime::spawn(async move { conn.with_upgrades().await });
    sender
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_keep_alive_requests_on_one_connection() {
    bounded("keep-alive", async {
        let (addr, accepted) = serve().await;
        let mut sender = connect(addr).await;
        for i in 0..100 {
            sender.ready().await.expect("ready");
            let request = Request::get(format!("/n/{i}"))
                .header(hyper::header::HOST, "test")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.expect("response");
            assert_eq!(response.status(), StatusCode::OK);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, format!("you asked for /n/{i}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");
    })
    .await;
}

async fn chunked_both_ways() {
    const LEN: usize = 8 << 20;
    let (addr, _) = serve().await;
    let mut sender = connect(addr).await;
    let request = Request::post("/echo")
        .header(hyper::header::HOST, "test")
        .body(pattern_body(LEN, 61 * 1024 + 3))
        .unwrap();
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-chunked"], "yes");
    assert!(
        response.headers().get(hyper::header::CONTENT_LENGTH).is_none(),
        "the echo streams, so it is chunked too"
    );
    check_pattern(response.into_body(), LEN).await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_chunked_each_way_multi_thread() {
    bounded("8 MiB echo", chunked_both_ways()).await;
}

#[runtime::test]
async fn eight_mib_chunked_each_way_current_thread() {
    bounded("8 MiB echo", chunked_both_ways()).await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_to_a_raw_stream() {
    bounded("upgrade", async {
        let (addr, _) = serve().await;
        let mut sender = connect(addr).await;
        let request = Request::get("/upgrade")
            .header(hyper::header::HOST, "test")
            .header(hyper::header::CONNECTION, "upgrade")
            .header(hyper::header::UPGRADE, "shout")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let upgraded = hyper::upgrade::on(response).await.expect("upgrade");
        // The client's side through futures-io, over hyper's `Upgraded`.
        let mut raw = HyperIo::new(upgraded);
        for word in ["hello", "raw", "bytes"] {
            raw.write_all(word.as_bytes()).await.unwrap();
            raw.flush().await.unwrap();
            let mut back = vec![0u8; word.len()];
            raw.read_exact(&mut back).await.unwrap();
            assert_eq!(back, word.to_ascii_uppercase().as_bytes());
        }
        // Half-close: the server sees end-of-stream and closes its side.
        raw.close().await.unwrap();
        let mut rest = Vec::new();
        raw.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    })
    .await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_request_leaves_no_task_and_no_descriptor() {
    bounded("disconnects", async {
        let (addr, accepted) = serve().await;
        // Settled: the accept loop is the only task, its listener open.
        let tasks = runtime::Handle::current().metrics().alive_tasks();
        let fds = fd_count();
        let partial: [&[u8]; 3] = [
            // In the middle of the headers.
            b"POST /collect HTTP/1.1\r\nHost: test\r\nContent-Le",
            // Headers done, 3 of 100 body bytes sent.
            b"POST /collect HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nabc",
            // A chunked body cut inside a chunk.
            b"POST /collect HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        ];
        for (i, bytes) in partial.iter().enumerate() {
            let stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(bytes.to_vec()).await.0.unwrap();
            // Until the server has the connection, it holds no task for it.
            while accepted.load(Ordering::SeqCst) <= i {
                runtime::time::sleep(Duration::from_millis(1)).await;
            }
            drop(stream);
        }
        back_to_baseline(tasks, fds).await;
        // The server still serves.
        let mut sender = connect(addr).await;
        let request = Request::post("/collect")
            .header(hyper::header::HOST, "test")
            .body(Full::new(Bytes::from_static(b"12345")))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "5 bytes");
    })
    .await;
}

/// Serves one connection with a `header_read_timeout`; resolves to how
/// the serving ended.
async fn serve_with_header_timeout(stream: TcpStream, limit: Duration) -> hyper::Result<()> {
    let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
    });
    server::Builder::new()
        .timer(HyperTimer::new())
        .header_read_timeout(limit)
        .serve_connection(HyperIo::new(stream), service)
        .await
}

#[test]
fn header_read_timeout_fires_on_the_paused_clock() {
    let rt = runtime::Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        // Half a request line, then nothing.
        client.write_all(&b"GET / HT"[..]).await.0.unwrap();
        let start = runtime::time::Instant::now();
        let served = serve_with_header_timeout(stream, Duration::from_secs(3600)).await;
        assert!(served.expect_err("timed out").is_timeout());
        // On the paused clock: an hour passed in no time, not less.
        assert!(start.elapsed() >= Duration::from_secs(3600));
        // The server closed the connection.
        let (n, _) = client.read(Vec::with_capacity(64)).await;
        assert_eq!(n.unwrap(), 0);
    });
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_read_timeout_fires_in_real_time() {
    bounded("header timeout", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let start = std::time::Instant::now();
        let limit = Duration::from_millis(200);
        let served = runtime::spawn(serve_with_header_timeout(stream, limit));
        // Never a byte from the client: it would wait forever without the
        // timeout.
        let (n, _) = client.read(Vec::with_capacity(64)).await;
        assert_eq!(n.unwrap(), 0, "the server hung up");
        assert!(served.await.unwrap().expect_err("timed out").is_timeout());
        assert!(start.elapsed() >= limit);
    })
    .await;
}

#[test]
fn timer_reset_moves_the_deadline_in_place() {
    let rt = runtime::Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let timer = HyperTimer::new();
        let start = timer.now();
        assert_eq!(start, runtime::time::Instant::now().into_std());
        let mut sleep = timer.sleep(Duration::from_secs(60));
        let boxed = &*sleep as *const dyn hyper::rt::Sleep as *const ();
        timer.reset(&mut sleep, start + Duration::from_secs(2));
        assert_eq!(
            &*sleep as *const dyn hyper::rt::Sleep as *const (),
            boxed,
            "reset kept the same box"
        );
        sleep.as_mut().await;
        assert_eq!(timer.now() - start, Duration::from_secs(2));
        // Pending again once moved later, and fires then.
        timer.reset(&mut sleep, start + Duration::from_secs(5));
        sleep.await;
        assert_eq!(timer.now() - start, Duration::from_secs(5));
    });
}

#[test]
fn the_timer_follows_the_paused_clock() {
    let rt = runtime::Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let timer = HyperTimer::new();
        let start = timer.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(timer.now(), start, "paused: no time passes");
        runtime::time::advance(Duration::from_secs(7)).await;
        assert_eq!(timer.now() - start, Duration::from_secs(7));
        let deadline = timer.now() + Duration::from_secs(1);
        timer.sleep_until(deadline).await;
        assert_eq!(timer.now(), deadline);
    });
}
