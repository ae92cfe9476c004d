//! `peek` on streams and read halves, and TCP socket options (`TTL`,
//! `SO_LINGER`, `TCP_NODELAY`). Both drivers and flavors, under a watchdog.

mod common;

use runtime::net::{TcpListener, TcpStream, UnixStream};
use std::future::Future;
use std::io::ErrorKind;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(30);

fn on_each_runtime<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    common::on_each_runtime(WATCHDOG, body);
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Peeks with `peek` until `want` bytes are there (a stream may deliver a
/// send in parts), and returns them.
async fn peek_until<F, Fut>(want: usize, peek: F) -> Vec<u8>
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: Future<Output = (std::io::Result<usize>, Vec<u8>)>,
{
    loop {
        let (n, buf) = peek(Vec::with_capacity(want)).await;
        let n = n.unwrap();
        assert_ne!(n, 0, "end of stream while peeking");
        if n == want {
            return buf;
        }
        runtime::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn a_peek_returns_data_that_the_next_read_returns_again() {
    on_each_runtime(|| async {
        let (client, server) = tcp_pair().await;
        client.write_all(&b"peek-a-boo"[..]).await.0.unwrap();
        let peeked = peek_until(10, |buf| server.peek(buf)).await;
        assert_eq!(peeked, b"peek-a-boo");
        // Again: still there.
        let (n, again) = server.peek(vec![0u8; 4]).await;
        assert_eq!(&again[..n.unwrap()], b"peek");
        let (n, read) = server.read(Vec::with_capacity(64)).await;
        assert_eq!(&read[..n.unwrap()], b"peek-a-boo");
        // Consumed now: the next peek waits for the next bytes.
        client.write_all(&b"next"[..]).await.0.unwrap();
        assert_eq!(peek_until(4, |buf| server.peek(buf)).await, b"next");
    });
}

#[test]
fn a_peek_on_a_unix_stream_and_on_a_read_half() {
    on_each_runtime(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        a.write_all(&b"unix"[..]).await.0.unwrap();
        assert_eq!(peek_until(4, |buf| b.peek(buf)).await, b"unix");
        let (read, _write) = b.into_split();
        let (n, buf) = read.peek(Vec::with_capacity(8)).await;
        assert_eq!(&buf[..n.unwrap()], b"unix");
        let (n, buf) = read.read(Vec::with_capacity(8)).await;
        assert_eq!(&buf[..n.unwrap()], b"unix");

        let (client, server) = tcp_pair().await;
        let (read, _write) = server.into_split();
        client.write_all(&b"tcp half"[..]).await.0.unwrap();
        assert_eq!(peek_until(8, |buf| read.peek(buf)).await, b"tcp half");
        let (n, buf) = read.read(Vec::with_capacity(8)).await;
        assert_eq!(&buf[..n.unwrap()], b"tcp half");
    });
}

#[test]
fn a_peek_after_the_peer_closed_is_the_end_of_stream() {
    on_each_runtime(|| async {
        let (client, server) = tcp_pair().await;
        drop(client);
        let (n, _) = server.peek(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0);
    });
}

#[test]
fn ttl_reads_back_and_a_bad_ttl_is_invalid_input() {
    on_each_runtime(|| async {
        let (client, _server) = tcp_pair().await;
        client.set_ttl(17).unwrap();
        assert_eq!(client.ttl().unwrap(), 17);
        for bad in [0, 256] {
            let err = client.set_ttl(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "ttl {bad}: {err}");
        }
        assert_eq!(client.ttl().unwrap(), 17);
    });
}

#[test]
fn linger_reads_back_and_zero_resets_the_connection_on_close() {
    on_each_runtime(|| async {
        let (client, server) = tcp_pair().await;
        assert_eq!(client.linger().unwrap(), None);
        client.set_linger(Some(Duration::from_secs(7))).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(7)));
        // Whole seconds: the rest is dropped.
        client
            .set_linger(Some(Duration::from_millis(2500)))
            .unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(2)));
        client.set_linger(None).unwrap();
        assert_eq!(client.linger().unwrap(), None);

        client.set_linger(Some(Duration::ZERO)).unwrap();
        drop(client);
        let (n, _) = server.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap_err().kind(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn nodelay_reads_back() {
    on_each_runtime(|| async {
        let (client, server) = tcp_pair().await;
        for on in [true, false, true] {
            client.set_nodelay(on).unwrap();
            assert_eq!(client.nodelay().unwrap(), on);
        }
        assert!(!server.nodelay().unwrap());
    });
}
