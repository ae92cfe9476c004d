//! The server side of `benches/http.sh` and `benches/idle_rss.sh`: one
//! hyper HTTP/1 server, on this runtime or on tokio, for wrk to load; and
//! the client of `idle_rss.sh`, which holds keep-alive connections open.
//!
//! ```sh
//! http_hello runtime|tokio ADDR WORKERS [hello|json]
//! http_hello idle-clients ADDR CONNECTIONS
//! ```
//!
//! Both servers run the same hyper connection code with the same settings;
//! only the I/O adapters, the executor and the timer differ: `HyperIo` /
//! `HyperTimer` on this runtime, hyper-util's `TokioIo` / `TokioTimer` on
//! tokio's multi-thread runtime. `hello` answers every request with a
//! fixed body from a `service_fn`; `json` serves an axum router whose `/`
//! returns a small JSON document (through hyper-util's
//! `TowerToHyperService`). Prints `listening on ADDR` when ready.
//!
//! `idle-clients` opens CONNECTIONS connections to ADDR with plain
//! blocking sockets, sends one request on each and reads its response, then
//! prints `holding N` and keeps them open (idle, keep-alive) until its
//! standard input closes.

use axum::routing::get;
use axum::{Json, Router};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::io::{Read, Write};

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!\n",
    ))))
}

async fn json() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "message": "Hello, world!", "id": 42, "ok": true }))
}

fn router() -> Router {
    Router::new().route("/", get(json))
}

/// Serves one connection: the axum router if there is one, else `hello`.
/// The same code on both runtimes; only `io` and the builder's timer
/// differ.
async fn serve<I>(builder: http1::Builder, io: I, app: Option<Router>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let _ = match app {
        Some(app) => {
            let service = TowerToHyperService::new(app);
            builder.serve_connection(io, service).await
        }
        None => {
            let service = hyper::service::service_fn(hello);
            builder.serve_connection(io, service).await
        }
    };
}

fn announce(addr: std::net::SocketAddr) {
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
}

fn on_runtime(addr: &str, workers: usize, use_json: bool) -> std::io::Result<()> {
    use runtime::compat::hyper::{HyperIo, HyperTimer};
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()?;
    rt.block_on(async {
        let listener = runtime::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        let app = use_json.then(router);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let mut builder = http1::Builder::new();
            builder.timer(HyperTimer::new());
            runtime::spawn(serve(builder, HyperIo::new(stream), app.clone()));
        }
    })
}

fn on_tokio(addr: &str, workers: usize, use_json: bool) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?);
        let app = use_json.then(router);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new());
            tokio::spawn(serve(builder, TokioIo::new(stream), app.clone()));
        }
    })
}

/// Opens `count` keep-alive connections, one request and response on each,
/// and holds them until standard input closes.
fn idle_clients(addr: &str, count: usize) -> std::io::Result<()> {
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut conns = Vec::with_capacity(count);
    let mut buf = [0u8; 1024];
    for _ in 0..count {
        let mut conn = std::net::TcpStream::connect(addr)?;
        conn.write_all(request.as_bytes())?;
        // The whole response: headers, then a body of `content-length`.
        let mut got = Vec::new();
        loop {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                return Err(std::io::Error::other("the server closed a connection"));
            }
            got.extend_from_slice(&buf[..n]);
            if response_complete(&got) {
                break;
            }
        }
        conns.push(conn);
    }
    println!("holding {}", conns.len());
    let _ = std::io::stdout().flush();
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    Ok(())
}

fn response_complete(got: &[u8]) -> bool {
    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    got.len() >= end + 4 + len
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "usage: http_hello runtime|tokio ADDR WORKERS [hello|json] | idle-clients ADDR CONNECTIONS",
        )
    };
    let args: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let (which, addr, number, mode) = match args[..] {
        [which, addr, number] => (which, addr, number, "hello"),
        [which, addr, number, mode] => (which, addr, number, mode),
        _ => return Err(usage()),
    };
    let number: usize = number.parse().map_err(|_| usage())?;
    let use_json = match mode {
        "hello" => false,
        "json" => true,
        _ => return Err(usage()),
    };
    match which {
        "runtime" => on_runtime(addr, number, use_json),
        "tokio" => on_tokio(addr, number, use_json),
        "idle-clients" => idle_clients(addr, number),
        _ => Err(usage()),
    }
}
