//! A small HTTP client: hyper's client connection over a runtime
//! `TcpStream`.
//!
//! ```sh
//! http_get URL                  # GET, prints the status line and the body
//! http_get --http2 URL          # the same over HTTP/2 (prior knowledge, h2c)
//! http_get --post TEXT URL      # POST TEXT
//! http_get --upgrade TEXT URL   # `Upgrade: shout`, then TEXT over the raw stream
//! ```
//!
//! The connector is three lines: connect a `TcpStream`, wrap it in
//! `HyperIo`, hand it to `hyper::client::conn`, and spawn the connection
//! task it returns. Only `http://` URLs (no TLS here).

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use runtime::compat::hyper::{HyperExecutor, HyperIo};
use runtime::net::TcpStream;
use std::error::Error;

type BoxError = Box<dyn Error + Send + Sync>;

enum Mode {
    Get,
    Http2,
    Post(String),
    Upgrade(String),
}

fn usage() -> BoxError {
    "usage: http_get [--http2 | --post TEXT | --upgrade TEXT] http://HOST:PORT/PATH".into()
}

fn parse_args() -> Result<(Mode, Uri), BoxError> {
    let mut args = std::env::args().skip(1);
    let mut mode = Mode::Get;
    loop {
        let arg = args.next().ok_or_else(usage)?;
        mode = match arg.as_str() {
            "--http2" => Mode::Http2,
            "--post" => Mode::Post(args.next().ok_or_else(usage)?),
            "--upgrade" => Mode::Upgrade(args.next().ok_or_else(usage)?),
            _ => {
                let uri: Uri = arg.parse()?;
                if uri.scheme_str() != Some("http") {
                    return Err(format!("{uri}: only http:// URLs").into());
                }
                return Ok((mode, uri));
            }
        };
    }
}

/// The connector: a runtime stream to the URL's host and port.
async fn connect(uri: &Uri) -> Result<HyperIo<TcpStream>, BoxError> {
    let host = uri.host().ok_or("the URL has no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(HyperIo::new(stream))
}

#[runtime::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let (mode, uri) = parse_args()?;
    let io = connect(&uri).await?;
    let authority = uri.authority().ok_or("the URL has no host")?.to_string();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();

    let response = if let Mode::Http2 = mode {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(HyperExecutor::new(), io).await?;
        runtime::spawn(conn);
        // HTTP/2 wants the full URI (its `:authority` and `:scheme`).
        let request = Request::get(uri.clone()).body(Full::<Bytes>::default())?;
        sender.send_request(request).await?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        runtime::spawn(async move {
            if let Err(err) = conn.with_upgrades().await {
                eprintln!("connection: {err}");
            }
        });
        let request = Request::builder()
            .uri(&path)
            .header(hyper::header::HOST, &authority);
        let request = match &mode {
            Mode::Post(text) => request
                .method("POST")
                .body(Full::new(Bytes::from(text.clone())))?,
            Mode::Upgrade(_) => request
                .header(hyper::header::CONNECTION, "upgrade")
                .header(hyper::header::UPGRADE, "shout")
                .body(Full::default())?,
            Mode::Get | Mode::Http2 => request.body(Full::default())?,
        };
        sender.send_request(request).await?
    };

    println!("{:?} {}", response.version(), response.status());
    if let Mode::Upgrade(text) = mode {
        let upgraded = hyper::upgrade::on(response).await?;
        let mut raw = HyperIo::new(upgraded);
        raw.write_all(text.as_bytes()).await?;
        // Half-close: the server answers, then closes its side too.
        raw.close().await?;
        let mut back = String::new();
        raw.read_to_string(&mut back).await?;
        println!("{back}");
        return Ok(());
    }
    let body = response.into_body().collect().await?.to_bytes();
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
