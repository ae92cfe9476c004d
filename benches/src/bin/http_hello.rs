//! The server side of `benches/http.sh`: one hyper HTTP/1 "hello" server,
//! on this runtime or on tokio, for wrk to load.
//!
//! ```sh
//! http_hello runtime|tokio ADDR WORKERS
//! ```
//!
//! Both run the same hyper connection code with the same settings; only
//! the I/O adapters, the executor and the timer differ: `HyperIo` /
//! `HyperTimer` on this runtime, hyper-util's `TokioIo` / `TokioTimer` on
//! tokio's multi-thread runtime. Prints `listening on ADDR` when ready.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::io::Write;

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!\n",
    ))))
}

fn announce(addr: std::net::SocketAddr) {
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
}

fn on_runtime(addr: &str, workers: usize) -> std::io::Result<()> {
    use runtime::compat::hyper::{HyperIo, HyperTimer};
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()?;
    rt.block_on(async {
        let listener = runtime::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            runtime::spawn(async move {
                let _ = http1::Builder::new()
                    .timer(HyperTimer::new())
                    .serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    })
}

fn on_tokio(addr: &str, workers: usize) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    })
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "usage: http_hello runtime|tokio ADDR WORKERS",
        )
    };
    let (which, addr, workers) = match &args[1..] {
        [which, addr, workers] => (which, addr, workers.parse().map_err(|_| usage())?),
        _ => return Err(usage()),
    };
    match which.as_str() {
        "runtime" => on_runtime(addr, workers),
        "tokio" => on_tokio(addr, workers),
        _ => Err(usage()),
    }
}
