//! hyper 1.x HTTP/1 on the runtime (feature `hyper`): a hyper server and a
//! hyper client over runtime TCP streams through `HyperIo`, with
//! `HyperTimer` for hyper's timeouts. Keep-alive, large chunked bodies
//! both ways, upgrades to a raw stream, and `header_read_timeout` on a
//! paused and on a real clock. (Clients vanishing mid-request:
//! `hyper_disconnect.rs`, a process of its own so that descriptor counts
//! are its own.)
#![cfg(feature = "hyper")]

mod http_common;

use bytes::Bytes;
use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Empty};
use http_common::h1::{connect, serve};
use http_common::{bounded, check_pattern, pattern_body};
use hyper::body::Incoming;
use hyper::rt::Timer;
use hyper::server::conn::http1 as server;
use hyper::{Request, Response, StatusCode};
use runtime::compat::hyper::{HyperIo, HyperTimer};
use runtime::net::{TcpListener, TcpStream};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

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
        response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .is_none(),
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
            &*sleep as *const dyn hyper::rt::Sleep as *const (), boxed,
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

/// A futures-io type the runtime does not know: `HyperIo` takes the
/// generic paths with it (zeroing reads, the type's own vectored writes).
struct Foreign(TcpStream);

impl futures_io::AsyncRead for Foreign {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for Foreign {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_close(cx)
    }
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_futures_io_type_serves_and_calls() {
    const LEN: usize = 1 << 20;
    bounded("foreign io", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        runtime::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|req: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(req.into_body()))
            });
            server::Builder::new()
                .serve_connection(HyperIo::new(Foreign(stream)), service)
                .await
        });
        let stream = Foreign(TcpStream::connect(addr).await.unwrap());
        let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
            .await
            .unwrap();
        runtime::spawn(conn);
        for _ in 0..3 {
            let request = Request::post("/")
                .header(hyper::header::HOST, "test")
                .body(pattern_body(LEN, 10_000))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            check_pattern(response.into_body(), LEN).await;
        }
    })
    .await;
}

#[runtime::test]
async fn vectored_writes_take_every_slice() {
    bounded("vectored", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut io = HyperIo::new(client);
        assert!(hyper::rt::Write::is_write_vectored(&io));
        let parts: [&[u8]; 3] = [b"HTTP/1.1 200 OK\r\n", b"", b"content-length: 0\r\n\r\n"];
        let all = parts.concat();
        let mut written = 0;
        while written < all.len() {
            // The parts not written yet, as slices.
            let mut skip = written;
            let slices: Vec<std::io::IoSlice<'_>> = parts
                .iter()
                .filter_map(|part| {
                    let rest = &part[skip.min(part.len())..];
                    skip = skip.saturating_sub(part.len());
                    (!rest.is_empty()).then(|| std::io::IoSlice::new(rest))
                })
                .collect();
            let n = std::future::poll_fn(|cx| {
                hyper::rt::Write::poll_write_vectored(std::pin::Pin::new(&mut io), cx, &slices)
            })
            .await
            .unwrap();
            assert!(n > 0);
            written += n;
        }
        std::future::poll_fn(|cx| hyper::rt::Write::poll_shutdown(std::pin::Pin::new(&mut io), cx))
            .await
            .unwrap();
        let mut got = Vec::new();
        loop {
            let (n, buf) = server.read(Vec::with_capacity(256)).await;
            match n.unwrap() {
                0 => break,
                _ => got.extend_from_slice(&buf),
            }
        }
        assert_eq!(got, all, "poll_shutdown sent everything, then shut down");
    })
    .await;
}
