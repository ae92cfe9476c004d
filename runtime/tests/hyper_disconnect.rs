//! A client that disconnects in the middle of a request leaves no task
//! and no descriptor behind on a hyper server (feature `hyper`). A test
//! binary of its own: descriptors are counted for the whole process, and
//! no other test may open or close any meanwhile.
#![cfg(feature = "hyper")]

mod http_common;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use http_common::h1::{connect, serve};
use http_common::{back_to_baseline, bounded, fd_count};
use hyper::Request;
use runtime::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

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
