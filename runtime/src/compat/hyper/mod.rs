//! hyper 1.x on the runtime (feature `hyper`): its three runtime traits,
//! and nothing else.
//!
//! hyper 1.x does not depend on a runtime; it asks for
//!
//! * I/O: [`hyper::rt::Read`] and [`hyper::rt::Write`], given by
//!   [`HyperIo`] around any runtime stream or futures-io type;
//! * an executor for its background tasks (HTTP/2's connection and stream
//!   tasks, hyper-util's auto builder): [`HyperExecutor`];
//! * a timer for its timeouts (`header_read_timeout`, keep-alive, HTTP/2
//!   pings): [`HyperTimer`].
//!
//! With those three, hyper's servers and clients (`hyper::server::conn`,
//! `hyper::client::conn`), hyper-util's `server::conn::auto::Builder` (HTTP/1
//! and HTTP/2 on one port) and `server::graceful`, and axum (through
//! hyper-util, with axum's `tokio` feature off) run on the runtime. No
//! tokio runtime is compiled in. hyper-util's `TokioIo`, `TokioExecutor`,
//! `TokioTimer` and its legacy client need tokio's runtime and are not
//! used: a client connects a [`TcpStream`](crate::net::TcpStream) and
//! hands it to `hyper::client::conn` (see [`HyperIo`]'s example).
//!
//! The adapters are thin, and say where they differ from a plain
//! forwarding: reads zero only what hyper has not initialized, writes are
//! vectored (hyper then queues body chunks instead of copying them), and
//! `HyperTimer::reset` moves a deadline in place rather than allocating a
//! new timer. Nothing here implements `Send` or `Sync` by hand: the types
//! are what their fields make them.
//!
//! # Examples
//!
//! An axum router served with hyper-util's auto builder:
//!
//! ```
//! use hyper_util::server::conn::auto::Builder;
//! use hyper_util::service::TowerToHyperService;
//! use runtime::compat::hyper::{HyperExecutor, HyperIo, HyperTimer};
//! use runtime::net::{TcpListener, TcpStream};
//!
//! #[runtime::main(worker_threads = 2)]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     runtime::spawn(async move {
//!         loop {
//!             let (stream, _) = listener.accept().await.unwrap();
//!             let service = TowerToHyperService::new(app.clone());
//!             runtime::spawn(async move {
//!                 let mut builder = Builder::new(HyperExecutor::new());
//!                 builder.http1().timer(HyperTimer::new());
//!                 builder.serve_connection(HyperIo::new(stream), service).await
//!             });
//!         }
//!     });
//!
//!     let stream = TcpStream::connect(addr).await?;
//!     let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream)).await?;
//!     runtime::spawn(conn);
//!     let request = hyper::Request::get("/").body(axum::body::Body::empty())?;
//!     let response = sender.send_request(request).await?;
//!     let body = http_body_util::BodyExt::collect(response.into_body()).await?.to_bytes();
//!     assert_eq!(body, "hi");
//!     Ok(())
//! }
//! ```

mod io;
mod rt;

pub use self::io::HyperIo;
pub use self::rt::{HyperExecutor, HyperTimer};
