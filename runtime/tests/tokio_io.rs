//! tokio's I/O traits on the runtime's types (feature `tokio-io`) and the
//! `bytes` buffers as owned buffers (feature `bytes`): tokio-util's
//! `Framed` with a `LinesCodec` over TCP and Unix streams, futures-util's
//! line reader beside it, tokio-util's codecs on a child's pipes, and `Bytes` / `BytesMut` through the
//! owned-buffer methods. No tokio runtime exists in this process.
#![cfg(all(feature = "tokio-io", feature = "bytes"))]

use bytes::{Bytes, BytesMut};
use futures_util::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures_util::{SinkExt, StreamExt};
use runtime::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use runtime::time::timeout;
use std::future::Future;
use std::time::Duration;
use tokio_util::codec::{Framed, LinesCodec};

const LIMIT: Duration = Duration::from_secs(30);

async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {LIMIT:?}"),
    }
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Lines one way, upper-cased lines back, then the client closes its
/// sink (tokio's `poll_shutdown`): the server's stream ends, and so does
/// the client's after the server closes too.
async fn lines_round_trip<S>(client: S, server: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let server = runtime::spawn(async move {
        let mut framed = Framed::new(server, LinesCodec::new());
        let mut seen = 0;
        while let Some(line) = framed.next().await {
            framed.send(line.unwrap().to_uppercase()).await.unwrap();
            seen += 1;
        }
        SinkExt::<String>::close(&mut framed).await.unwrap();
        seen
    });
    let mut framed = Framed::new(client, LinesCodec::new());
    let lines: Vec<String> = (0..500)
        .map(|i| format!("line {i} {}", "x".repeat(i)))
        .collect();
    for line in &lines {
        framed.feed(line.clone()).await.unwrap();
    }
    SinkExt::<String>::flush(&mut framed).await.unwrap();
    for line in &lines {
        let back = framed.next().await.unwrap().unwrap();
        assert_eq!(back, line.to_uppercase());
    }
    SinkExt::<String>::close(&mut framed).await.unwrap();
    assert!(framed.next().await.is_none(), "the server closed its side");
    assert_eq!(server.await.unwrap(), lines.len());
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_lines_over_tcp() {
    bounded("framed tcp", async {
        let (client, server) = tcp_pair().await;
        lines_round_trip(client, server).await;
    })
    .await;
}

#[runtime::test]
async fn framed_lines_over_unix() {
    bounded("framed unix", async {
        let path =
            std::env::temp_dir().join(format!("runtime-tokio-io-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).await.unwrap();
        let client = UnixStream::connect(&path).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        std::fs::remove_file(&path).unwrap();
        lines_round_trip(client, server).await;
    })
    .await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_lines_over_owned_halves() {
    use tokio_util::codec::{FramedRead, FramedWrite};
    bounded("framed halves", async {
        let (client, server) = tcp_pair().await;
        // The server echoes with its halves in two tasks.
        let (server_read, server_write) = server.into_split();
        let (tx, mut rx) = futures_channel::mpsc::unbounded::<String>();
        let reader = runtime::spawn(async move {
            let mut lines = FramedRead::new(server_read, LinesCodec::new());
            while let Some(line) = lines.next().await {
                tx.unbounded_send(line.unwrap()).unwrap();
            }
        });
        let writer = runtime::spawn(async move {
            let mut sink = FramedWrite::new(server_write, LinesCodec::new());
            while let Some(line) = rx.next().await {
                sink.send(format!("echo {line}")).await.unwrap();
            }
            SinkExt::<String>::close(&mut sink).await.unwrap();
        });
        let (client_read, client_write) = client.into_split();
        let mut sink = FramedWrite::new(client_write, LinesCodec::new());
        let mut lines = FramedRead::new(client_read, LinesCodec::new());
        for i in 0..200 {
            sink.send(format!("{i}")).await.unwrap();
        }
        SinkExt::<String>::close(&mut sink).await.unwrap();
        for i in 0..200 {
            assert_eq!(lines.next().await.unwrap().unwrap(), format!("echo {i}"));
        }
        assert!(lines.next().await.is_none());
        reader.await.unwrap();
        writer.await.unwrap();
    })
    .await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_util_lines_over_tcp() {
    bounded("futures lines", async {
        let (mut client, server) = tcp_pair().await;
        let reader = runtime::spawn(async move {
            let mut lines = BufReader::new(server).lines();
            let mut got = Vec::new();
            while let Some(line) = lines.next().await {
                got.push(line.unwrap());
            }
            got
        });
        let sent: Vec<String> = (0..300)
            .map(|i| format!("{i}:{}", "y".repeat(i % 97)))
            .collect();
        for line in &sent {
            // The trait's `write_all` (the inherent one takes an owned buffer).
            AsyncWriteExt::write_all(&mut client, format!("{line}\n").as_bytes())
                .await
                .unwrap();
        }
        client.close().await.unwrap();
        assert_eq!(reader.await.unwrap(), sent);
    })
    .await;
}

#[runtime::test]
async fn bytes_through_write_all_and_bytes_mut_through_read() {
    bounded("bytes", async {
        let (client, server) = tcp_pair().await;
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sent = Bytes::from(data.clone());
        let writer = runtime::spawn(async move {
            let (result, back) = client.write_all(sent.clone()).await;
            result.unwrap();
            assert_eq!(back, sent, "the same Bytes comes back");
            // A `'static` one too.
            client.write_all(Bytes::from_static(b"!")).await.0.unwrap();
        });
        let mut received = BytesMut::new();
        while received.len() < data.len() + 1 {
            // A read fills a buffer from its start up to its capacity: a
            // fresh one each time.
            let (n, buf) = server.read(BytesMut::with_capacity(64 * 1024)).await;
            let n = n.unwrap();
            assert!(n > 0, "early end of stream");
            assert_eq!(buf.len(), n, "the length grew over what was received");
            received.extend_from_slice(&buf);
        }
        writer.await.unwrap();
        assert_eq!(&received[..data.len()], &data[..]);
        assert_eq!(&received[data.len()..], b"!");
    })
    .await;
}

#[runtime::test]
async fn framed_lines_through_a_child() {
    bounded("child", async {
        use runtime::process::Command;
        use std::process::Stdio;
        let mut child = Command::new("tr")
            .args(["a-z", "A-Z"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut sink = tokio_util::codec::FramedWrite::new(stdin, LinesCodec::new());
        let mut lines = tokio_util::codec::FramedRead::new(stdout, LinesCodec::new());
        for i in 0..100 {
            sink.send(format!("line {i}")).await.unwrap();
        }
        // tokio's `poll_shutdown` closes the pipe: `tr` sees the end.
        SinkExt::<String>::close(&mut sink).await.unwrap();
        for i in 0..100 {
            assert_eq!(lines.next().await.unwrap().unwrap(), format!("LINE {i}"));
        }
        assert!(lines.next().await.is_none());
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

#[test]
fn stdin_and_the_streams_have_tokios_traits() {
    fn read<T: tokio::io::AsyncRead>() {}
    fn write<T: tokio::io::AsyncWrite>() {}
    read::<runtime::io::Stdin>();
    read::<TcpStream>();
    read::<UnixStream>();
    write::<TcpStream>();
    write::<UnixStream>();
    read::<runtime::net::tcp::OwnedReadHalf>();
    write::<runtime::net::tcp::OwnedWriteHalf>();
    read::<runtime::net::unix::OwnedReadHalf>();
    write::<runtime::net::unix::OwnedWriteHalf>();
    read::<runtime::process::ChildStdout>();
    read::<runtime::process::ChildStderr>();
    write::<runtime::process::ChildStdin>();
}
