//! Owned halves of TCP and Unix streams: one task reads while another
//! writes, `reunite`, and what dropping (or forgetting) the write half does.
//! Every test runs on both drivers and both flavors, under a watchdog.

mod common;

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use runtime::net::{tcp, unix, TcpListener, TcpStream, UnixStream};
use runtime::time::timeout;
use std::future::Future;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(30);

fn on_each_runtime<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    common::on_each_runtime(WATCHDOG, body);
}

fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(|i| (i % 251) as u8).collect()
}

fn check_pattern(got: &[u8], len: usize) {
    if let Some(i) = (0..got.len()).find(|&i| got[i] != (i % 251) as u8) {
        panic!("byte {i} of {} is wrong", got.len());
    }
    assert_eq!(got.len(), len);
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Echoes everything `stream` receives back to it, until end of stream,
/// then shuts down its write side.
fn spawn_tcp_echo(stream: TcpStream) -> runtime::JoinHandle<()> {
    runtime::spawn(async move {
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            buf.clear();
            let (n, b) = stream.read(buf).await;
            if n.unwrap() == 0 {
                break;
            }
            let (res, b) = stream.write_all(b).await;
            res.unwrap();
            buf = b;
        }
        stream.shutdown(std::net::Shutdown::Write).await.unwrap();
    })
}

fn spawn_unix_echo(stream: UnixStream) -> runtime::JoinHandle<()> {
    runtime::spawn(async move {
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            buf.clear();
            let (n, b) = stream.read(buf).await;
            if n.unwrap() == 0 {
                break;
            }
            let (res, b) = stream.write_all(b).await;
            res.unwrap();
            buf = b;
        }
        stream.shutdown(std::net::Shutdown::Write).await.unwrap();
    })
}

const ECHOED: usize = 4 * 1024 * 1024;

/// Writes `ECHOED` bytes of the pattern through `write` (poll-style, in
/// uneven chunks) and drops it; reads them back through `read`.
async fn write_and_read_back<R, W>(read: R, write: W)
where
    R: futures_io::AsyncRead + Send + Unpin + 'static,
    W: futures_io::AsyncWrite + Send + Unpin + 'static,
{
    let writer = runtime::spawn(async move {
        let mut write = write;
        let mut pos = 0;
        let mut step = 1;
        while pos < ECHOED {
            let len = (step * 7919 % 100_000 + 1).min(ECHOED - pos);
            write.write_all(&pattern(pos, len)).await.unwrap();
            pos += len;
            step += 1;
        }
        // Dropping the half shuts the write side down, which ends the echo.
        drop(write);
    });
    let reader = runtime::spawn(async move {
        let mut read = read;
        let mut got = Vec::with_capacity(ECHOED);
        read.read_to_end(&mut got).await.unwrap();
        got
    });
    writer.await.unwrap();
    check_pattern(&reader.await.unwrap(), ECHOED);
}

#[test]
fn one_task_writes_4_mib_while_another_reads_the_echo_tcp() {
    on_each_runtime(|| async {
        let (client, server) = tcp_pair().await;
        let echo = spawn_tcp_echo(server);
        let (read, write) = client.into_split();
        write_and_read_back(read, write).await;
        echo.await.unwrap();
    });
}

#[test]
fn one_task_writes_4_mib_while_another_reads_the_echo_unix() {
    on_each_runtime(|| async {
        let (client, server) = UnixStream::pair().unwrap();
        let echo = spawn_unix_echo(server);
        let (read, write) = client.into_split();
        write_and_read_back(read, write).await;
        echo.await.unwrap();
    });
}

#[test]
fn owned_buffer_halves_echo_4_mib() {
    on_each_runtime(|| async {
        let (client, server) = tcp_pair().await;
        let echo = spawn_tcp_echo(server);
        let (read, write) = client.into_split();
        let writer = runtime::spawn(async move {
            for chunk in 0..ECHOED / 65536 {
                let (res, _) = write.write_all(pattern(chunk * 65536, 65536)).await;
                res.unwrap();
            }
        });
        let mut got = Vec::with_capacity(ECHOED);
        while got.len() < ECHOED {
            let (n, buf) = read.read(Vec::with_capacity(65536)).await;
            let n = n.unwrap();
            assert_ne!(n, 0, "end of stream after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
        }
        check_pattern(&got, ECHOED);
        // The write half went with its task: the echo saw the end.
        writer.await.unwrap();
        echo.await.unwrap();
        let (n, _) = read.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0);
    });
}

#[test]
fn halves_are_send() {
    fn send<T: Send + 'static>() {}
    send::<tcp::OwnedReadHalf>();
    send::<tcp::OwnedWriteHalf>();
    send::<unix::OwnedReadHalf>();
    send::<unix::OwnedWriteHalf>();
    send::<tcp::ReuniteError>();
}

#[test]
fn reunited_halves_are_the_stream_again_with_the_write_side_open() {
    on_each_runtime(|| async {
        let (client, server) = tcp_pair().await;
        let local = client.local_addr().unwrap();
        let (read, mut write) = client.into_split();
        assert_eq!(read.local_addr().unwrap(), local);
        assert_eq!(write.peer_addr().unwrap(), server.local_addr().unwrap());
        // Written by the half before the reunite, by the stream after.
        AsyncWriteExt::write_all(&mut write, b"before ")
            .await
            .unwrap();
        let mut client = read.reunite(write).unwrap();
        AsyncWriteExt::write_all(&mut client, b"after")
            .await
            .unwrap();
        client.flush().await.unwrap();
        let mut got = vec![0u8; 12];
        let mut server = server;
        AsyncReadExt::read_exact(&mut server, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"before after");
        // The reunite did not shut the write side down: still no end.
        // (Poll-style: a read given up keeps its data for the next one.)
        let mut byte = [0u8; 1];
        let more = timeout(
            Duration::from_millis(50),
            AsyncReadExt::read(&mut server, &mut byte),
        )
        .await;
        assert!(more.is_err(), "the peer saw {more:?} after a reunite");
        AsyncWriteExt::write_all(&mut client, b"!").await.unwrap();
        client.close().await.unwrap();
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"!");
    });
}

#[test]
fn reuniting_halves_of_different_streams_is_an_error_that_gives_them_back() {
    on_each_runtime(|| async {
        let (a, mut a_peer) = tcp_pair().await;
        let (b, _b_peer) = tcp_pair().await;
        let (a_read, _a_write) = a.into_split();
        let (_b_read, b_write) = b.into_split();
        let err = a_read.reunite(b_write).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tried to reunite halves that are not from the same socket"
        );
        let _: &dyn std::error::Error = &err;
        // Both halves are back, and work.
        let tcp::ReuniteError(a_read, b_write) = err;
        AsyncWriteExt::write_all(&mut a_peer, b"to a")
            .await
            .unwrap();
        let (n, buf) = a_read.read(Vec::with_capacity(8)).await;
        assert_eq!(&buf[..n.unwrap()], b"to a");
        let (res, _) = b_write.write_all(&b"from b"[..]).await;
        res.unwrap();

        let (c, _) = UnixStream::pair().unwrap();
        let (d, _) = UnixStream::pair().unwrap();
        let (c_read, _c_write) = c.into_split();
        let (_d_read, d_write) = d.into_split();
        let err = d_write.reunite(c_read).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tried to reunite halves that are not from the same socket"
        );
    });
}

#[test]
fn dropping_the_write_half_ends_the_stream_after_every_byte() {
    for unix in [false, true] {
        on_each_runtime(move || async move {
            // The read half stays alive: the end of the stream the peer
            // sees comes from the write half's shutdown, not a close.
            let (keep, mut write, mut peer): (
                Box<dyn Send>,
                Box<dyn futures_io::AsyncWrite + Send + Unpin>,
                Box<dyn Duplex>,
            ) = if unix {
                let (a, b) = UnixStream::pair().unwrap();
                let (r, w) = a.into_split();
                (Box::new(r), Box::new(w), Box::new(b))
            } else {
                let (a, b) = tcp_pair().await;
                let (r, w) = a.into_split();
                (Box::new(r), Box::new(w), Box::new(b))
            };
            // Nobody reads yet: write until the socket is full, then drop
            // the half at once.
            let taken = {
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                let mut taken = 0;
                loop {
                    let chunk = pattern(taken, 8192);
                    match futures_io::AsyncWrite::poll_write(
                        std::pin::Pin::new(&mut write),
                        &mut cx,
                        &chunk,
                    ) {
                        std::task::Poll::Ready(Ok(n)) => taken += n,
                        std::task::Poll::Ready(Err(err)) => panic!("poll_write: {err}"),
                        std::task::Poll::Pending => break,
                    }
                    assert!(
                        taken < 256 * 1024 * 1024,
                        "a socket nobody reads took it all"
                    );
                }
                taken
            };
            drop(write);
            let mut got = Vec::new();
            peer.read_to_end(&mut got).await.unwrap();
            check_pattern(&got, taken);
            drop(keep);
        });
    }
}

#[test]
fn a_forgotten_write_half_leaves_the_write_side_open_until_the_read_half_goes() {
    on_each_runtime(|| async {
        let (a, mut b) = tcp_pair().await;
        let (read, mut write) = a.into_split();
        AsyncWriteExt::write_all(&mut write, b"bytes")
            .await
            .unwrap();
        write.forget();
        let mut got = vec![0u8; 5];
        AsyncReadExt::read_exact(&mut b, &mut got).await.unwrap();
        assert_eq!(got, b"bytes");
        let mut byte = [0u8; 1];
        let more = timeout(
            Duration::from_millis(50),
            AsyncReadExt::read(&mut b, &mut byte),
        )
        .await;
        assert!(more.is_err(), "the peer saw {more:?} after a forget");
        drop(read);
        let mut rest = Vec::new();
        b.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}

#[test]
fn the_write_half_works_after_the_read_half_is_dropped() {
    on_each_runtime(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        let (read, write) = a.into_split();
        drop(read);
        let (res, _) = write.write_all(&b"still writing"[..]).await;
        res.unwrap();
        drop(write);
        let mut got = Vec::new();
        let mut b = b;
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"still writing");
    });
}

trait Duplex: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static {}
impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static> Duplex for T {}
