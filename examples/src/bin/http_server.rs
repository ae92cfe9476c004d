//! An HTTP server: an axum router on the runtime, HTTP/1 and HTTP/2 on one
//! port, with graceful shutdown.
//!
//! ```sh
//! cargo run -p examples --bin http_server -- 127.0.0.1:3000
//! cargo run -p examples --bin http_get -- http://127.0.0.1:3000/json
//! ```
//!
//! Routes: `/` (plain text), `/json`, `/users/{id}` (a path parameter),
//! `/add?a=1&b=2` (a query), `POST /echo` (the body back), `/slow?ms=500`
//! (answers after a delay), `/upgrade` (switches the connection to a raw
//! byte stream that echoes every chunk upper-cased).
//!
//! No tokio runtime: axum's router is a tower service, hyper-util's `auto`
//! builder serves it over a runtime `TcpStream` wrapped in `HyperIo`, with
//! `HyperExecutor` for HTTP/2's tasks and `HyperTimer` for hyper's
//! timeouts. On ctrl-c or SIGTERM the server stops accepting, tells every
//! connection to finish (HTTP/1 after its request in flight, HTTP/2 with a
//! GOAWAY) and waits for them up to a deadline (`HTTP_SERVER_GRACE_MS`,
//! default 5000), then exits.

use axum::extract::{Path, Query, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::future::{select, Either};
use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use runtime::compat::hyper::{HyperExecutor, HyperIo, HyperTimer};
use runtime::net::TcpListener;
use runtime::signal::unix::{signal, SignalKind};
use std::collections::HashMap;
use std::io::Write;
use std::pin::pin;
use std::time::Duration;

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello from runtime\n" }))
        .route(
            "/json",
            get(|| async {
                let driver = runtime::Handle::current().io_driver();
                Json(serde_json::json!({ "server": "runtime", "io_driver": format!("{driver:?}") }))
            }),
        )
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}\n") }),
        )
        .route("/add", get(add))
        .route("/echo", post(|body: axum::body::Bytes| async move { body }))
        .route("/slow", get(slow))
        .route("/upgrade", get(upgrade))
}

async fn add(Query(q): Query<HashMap<String, String>>) -> Response {
    let arg = |name: &str| q.get(name).and_then(|v| v.parse::<i64>().ok());
    match (arg("a"), arg("b")) {
        (Some(a), Some(b)) => format!("{}\n", a + b).into_response(),
        _ => (StatusCode::BAD_REQUEST, "want ?a=<int>&b=<int>\n").into_response(),
    }
}

async fn slow(Query(q): Query<HashMap<String, u64>>) -> String {
    let ms = q.get("ms").copied().unwrap_or(500);
    // Said on stdout so that a test knows the request is in flight.
    println!("slow request: sleeping {ms} ms");
    let _ = std::io::stdout().flush();
    runtime::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms\n")
}

/// Answers 101 and, once hyper hands the connection over, echoes bytes
/// upper-cased until the client closes its side.
async fn upgrade(mut req: Request) -> Response {
    let wants_raw = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"shout"));
    if !wants_raw {
        return (StatusCode::BAD_REQUEST, "send `Upgrade: shout`\n").into_response();
    }
    runtime::spawn(async move {
        let upgraded = match hyper::upgrade::on(&mut req).await {
            Ok(upgraded) => upgraded,
            Err(err) => return eprintln!("upgrade failed: {err}"),
        };
        // Back to futures-io, over hyper's upgraded connection.
        let mut raw = HyperIo::new(upgraded);
        let mut buf = vec![0u8; 4096];
        loop {
            match raw.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    // `AsyncWriteExt::write_all` here: `raw` is a `HyperIo`,
                    // which has no owned-buffer `write_all` to shadow it.
                    if raw.write_all(&buf[..n].to_ascii_uppercase()).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = raw.close().await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "shout")
        .body(axum::body::Body::empty())
        .unwrap()
}

/// Resolves at the first ctrl-c (SIGINT) or SIGTERM.
async fn shutdown_signal() -> std::io::Result<&'static str> {
    let mut term = signal(SignalKind::terminate())?;
    let ctrl_c = pin!(runtime::signal::ctrl_c());
    let term = pin!(term.recv());
    Ok(match select(ctrl_c, term).await {
        Either::Left((result, _)) => result.map(|()| "SIGINT")?,
        Either::Right(_) => "SIGTERM",
    })
}

#[runtime::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let grace = Duration::from_millis(
        std::env::var("HTTP_SERVER_GRACE_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(5000),
    );
    let listener = TcpListener::bind(&*addr).await?;
    // The signal listeners are installed before the address is announced:
    // a SIGTERM sent right after that line is seen.
    let mut stop = pin!(shutdown_signal());
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;

    let app = app();
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(HyperExecutor::new());
    builder.http1().timer(HyperTimer::new());
    builder.http2().timer(HyperTimer::new());

    let signal = loop {
        let accept = pin!(listener.accept());
        let (stream, peer) = match select(accept, stop.as_mut()).await {
            Either::Left((accepted, _)) => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors, say: the next accept may succeed.
                    eprintln!("accept failed: {err}");
                    runtime::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Either::Right((signal, _)) => break signal?,
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection_with_upgrades(HyperIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        runtime::spawn(async move {
            if let Err(err) = conn.await {
                eprintln!("connection from {peer}: {err}");
            }
        });
    };

    drop(listener);
    println!("{signal}: no new connections; waiting up to {grace:?} for open ones");
    match runtime::time::timeout(grace, graceful.shutdown()).await {
        Ok(()) => println!("all connections closed"),
        Err(_) => println!("deadline passed; cutting the connections still open"),
    }
    Ok(())
}
