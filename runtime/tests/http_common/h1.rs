//! The HTTP/1 test server and client of `hyper_h1.rs` and
//! `hyper_disconnect.rs`: hyper's own, over runtime TCP streams.

use bytes::Bytes;
use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1 as client;
use hyper::server::conn::http1 as server;
use hyper::{Request, Response, StatusCode};
use runtime::compat::hyper::{HyperIo, HyperTimer};
use runtime::net::{TcpListener, TcpStream};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub type Body = BoxBody<Bytes, hyper::Error>;

pub fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The test server's routes.
pub async fn route(mut req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
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
                // Poll-style from here on, as hyper used it: a receive
                // hyper started may still be in flight inside the stream.
                let mut stream = parts.io.into_inner();
                let mut buf = vec![0u8; 1024];
                loop {
                    // Through the traits: the inherent owned-buffer `read`
                    // and `write_all` would shadow them.
                    match AsyncReadExt::read(&mut stream, &mut buf)
                        .await
                        .expect("read")
                    {
                        0 => break,
                        n => AsyncWriteExt::write_all(&mut stream, &buf[..n].to_ascii_uppercase())
                            .await
                            .expect("write"),
                    }
                }
                stream.close().await.expect("close");
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
pub async fn serve() -> (SocketAddr, Arc<AtomicUsize>) {
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
pub async fn connect<B>(addr: SocketAddr) -> client::SendRequest<B>
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
