//! axum on the runtime (feature `hyper`): a router served through
//! hyper-util's auto builder with `HyperExecutor` and `HyperTimer`; a
//! thousand requests from fifty concurrent keep-alive clients on two
//! workers, every response checked, on both I/O drivers.
#![cfg(feature = "hyper")]

mod http_common;

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use http_common::bounded;
use hyper::{Request, StatusCode};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use runtime::compat::hyper::{HyperExecutor, HyperIo, HyperTimer};
use runtime::net::{TcpListener, TcpStream};
use runtime::IoDriver;
use std::collections::HashMap;
use std::net::SocketAddr;

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move {
                Json(serde_json::json!({ "id": id, "name": format!("user{id}") }))
            }),
        )
        .route(
            "/add",
            get(|Query(q): Query<HashMap<String, i64>>| async move {
                (q["a"] + q["b"]).to_string()
            }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    runtime::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(app.clone());
            runtime::spawn(async move {
                let mut builder = Builder::new(HyperExecutor::new());
                builder.http1().timer(HyperTimer::new());
                builder.http2().timer(HyperTimer::new());
                builder
                    .serve_connection(HyperIo::new(stream), service)
                    .await
                    .expect("serve");
            });
        }
    });
    addr
}

/// Request `i` of client `c`, and the body it must get back.
fn request(c: usize, i: usize) -> (Request<Full<Bytes>>, String) {
    let (builder, body, expected) = match i % 4 {
        0 => (Request::get("/"), Bytes::new(), "hello".to_owned()),
        1 => {
            let id = c * 1000 + i;
            let json = format!(r#"{{"id":{id},"name":"user{id}"}}"#);
            (Request::get(format!("/users/{id}")), Bytes::new(), json)
        }
        2 => {
            let uri = format!("/add?a={c}&b={i}");
            (Request::get(uri), Bytes::new(), (c + i).to_string())
        }
        _ => {
            let text = format!("client {c} request {i} ").repeat(i + 1);
            (Request::post("/echo"), Bytes::from(text.clone()), text)
        }
    };
    let request = builder
        .header(hyper::header::HOST, "test")
        .body(Full::new(body))
        .unwrap();
    (request, expected)
}

async fn client(addr: SocketAddr, c: usize, requests: usize) -> usize {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    runtime::spawn(conn);
    for i in 0..requests {
        let (req, expected) = request(c, i);
        sender.ready().await.unwrap();
        let response = sender.send_request(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "client {c} request {i}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, expected, "client {c} request {i}");
    }
    requests
}

fn thousand_requests_from_fifty_clients(driver: IoDriver) {
    const CLIENTS: usize = 50;
    const PER_CLIENT: usize = 20;
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .io_driver(driver)
        .build()
        .unwrap();
    rt.block_on(bounded("1000 requests", async {
        let addr = serve(app()).await;
        let mut clients = runtime::task::JoinSet::new();
        for c in 0..CLIENTS {
            clients.spawn(client(addr, c, PER_CLIENT));
        }
        let answered: usize = clients.join_all().await.into_iter().sum();
        assert_eq!(answered, CLIENTS * PER_CLIENT);
    }));
}

/// The driver the environment picks (`RUNTIME_IO_DRIVER`, else io_uring
/// where it can be set up).
#[test]
fn a_thousand_requests_from_fifty_clients() {
    thousand_requests_from_fifty_clients(IoDriver::Auto);
}

/// And on the epoll driver whatever the environment says.
#[test]
fn a_thousand_requests_from_fifty_clients_on_epoll() {
    thousand_requests_from_fifty_clients(IoDriver::Epoll);
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_through_the_auto_builder() {
    bounded("h2 via auto", async {
        let addr = serve(app()).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(HyperExecutor::new(), HyperIo::new(stream))
                .await
                .unwrap();
        runtime::spawn(conn);
        let response = sender
            .send_request(
                Request::get("http://test/users/7")
                    .body(Full::<Bytes>::default())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, r#"{"id":7,"name":"user7"}"#);
    })
    .await;
}
