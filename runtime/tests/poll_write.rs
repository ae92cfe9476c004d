//! The poll-style traits on the streams. `futures_io::AsyncWrite`: a
//! `Pending` write wrote nothing, so a caller may retry from a moved
//! buffer, drop the future at any point, or switch to other bytes, and the
//! peer still receives every byte it was told was written, once, in order;
//! a vectored write takes from every slice. `futures_io::AsyncRead`: a
//! read dropped at any point takes nothing, so the bytes reach the next
//! read, of either style.
//!
//! Every test runs on both drivers (io_uring where the kernel allows it,
//! and epoll), on a runtime built for it, under a watchdog.

mod common;

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use runtime::net::{TcpListener, TcpStream, UnixStream};
use runtime::time::{sleep, timeout};
use std::future::{poll_fn, Future};
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The longest a test body may take.
const WATCHDOG: Duration = Duration::from_secs(30);

fn on_each_runtime<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    common::on_each_runtime(WATCHDOG, body);
}

/// Byte `i` of the checked stream: a counter that does not repeat at
/// powers of two, so a shifted, doubled or missing chunk shows.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

fn pattern_range(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(pattern).collect()
}

/// Checks that `got` is the pattern from 0 and says where it first is not.
fn check_pattern(got: &[u8], expected_len: usize) {
    if let Some(i) = (0..got.len()).find(|&i| got[i] != pattern(i)) {
        panic!(
            "byte {i} of {} is {}, expected {} (bytes lost, doubled or reordered)",
            got.len(),
            got[i],
            pattern(i)
        );
    }
    assert_eq!(got.len(), expected_len, "the peer got a different count");
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Both stream types, as the writing end and the reading end.
trait Duplex: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static {}
impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static> Duplex for T {}

async fn pair(unix: bool) -> (Box<dyn Duplex>, Box<dyn Duplex>) {
    if unix {
        let (a, b) = UnixStream::pair().unwrap();
        (Box::new(a), Box::new(b))
    } else {
        let (a, b) = tcp_pair().await;
        (Box::new(a), Box::new(b))
    }
}

/// Reads to the end, slowly at first so that the writer's socket fills up
/// and its writes return `Pending`.
async fn slow_read_to_end(mut reader: Box<dyn Duplex>) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut reads = 0u32;
    loop {
        let n = reader.read(&mut buf).await.expect("read");
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
        reads += 1;
        if reads % 16 == 0 && reads < 200 {
            sleep(Duration::from_millis(1)).await;
        }
    }
}

/// A small deterministic generator (xorshift64*), so a failing schedule
/// can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ----- a retry from a moved buffer -----

const BIG: usize = 8 * 1024 * 1024;

/// Writes `BIG` bytes poll by poll; each time `poll_write` says `Pending`,
/// the caller moves what it has not written yet to a new allocation of
/// another capacity (as hyper's growing write buffer does) and retries
/// from there.
async fn write_moving_the_buffer(writer: &mut Box<dyn Duplex>) -> usize {
    let mut rest = pattern_range(0, BIG);
    let mut pendings = 0usize;
    poll_fn(|cx| loop {
        if rest.is_empty() {
            return Poll::Ready(());
        }
        match Pin::new(&mut **writer).poll_write(cx, &rest) {
            Poll::Ready(Ok(n)) => {
                assert!(n > 0 && n <= rest.len(), "poll_write said {n}");
                rest.drain(..n);
            }
            Poll::Ready(Err(err)) => panic!("poll_write: {err}"),
            Poll::Pending => {
                pendings += 1;
                let mut moved = Vec::with_capacity(rest.len() + 1 + pendings % 4096);
                moved.extend_from_slice(&rest);
                let old = std::mem::replace(&mut rest, moved);
                assert_ne!(old.as_ptr(), rest.as_ptr());
                return Poll::Pending;
            }
        }
    })
    .await;
    writer.flush().await.unwrap();
    writer.close().await.unwrap();
    pendings
}

#[test]
fn a_retry_from_a_moved_buffer_sends_every_byte_once() {
    for unix in [false, true] {
        on_each_runtime(move || async move {
            let (mut writer, reader) = pair(unix).await;
            let read = runtime::spawn(slow_read_to_end(reader));
            let pendings = write_moving_the_buffer(&mut writer).await;
            let got = read.await.unwrap();
            check_pattern(&got, BIG);
            // The peer's slow start filled the socket: the retries happened.
            assert!(pendings > 0, "no poll_write was ever Pending");
        });
    }
}

// ----- writes and flushes dropped at random points -----

const RANDOM_TOTAL: usize = 2 * 1024 * 1024;

/// One step of the random schedule: what it wrote.
async fn random_step(writer: &mut Box<dyn Duplex>, rng: &mut Rng, pos: usize) -> usize {
    let len = match rng.below(3) {
        0 => 1 + rng.below(16) as usize,
        1 => 1 + rng.below(4096) as usize,
        _ => 1 + rng.below(200_000) as usize,
    }
    .min(RANDOM_TOTAL - pos);
    // A fresh allocation every time: never the address of a previous try.
    let chunk = pattern_range(pos, len);
    match rng.below(6) {
        // Polled once, then dropped.
        0 => {
            poll_fn(|cx| {
                Poll::Ready(match Pin::new(&mut **writer).poll_write(cx, &chunk) {
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(err)) => panic!("poll_write: {err}"),
                    Poll::Pending => 0,
                })
            })
            .await
        }
        // Polled with a no-op waker, then dropped.
        1 => {
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(&mut **writer).poll_write(&mut cx, &chunk) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(err)) => panic!("poll_write: {err}"),
                Poll::Pending => 0,
            }
        }
        // A write future under a 0 or 1 ms timeout.
        2 => {
            let limit = Duration::from_millis(rng.below(2));
            match timeout(limit, writer.write(&chunk)).await {
                Ok(Ok(n)) => n,
                Ok(Err(err)) => panic!("write: {err}"),
                Err(_) => 0,
            }
        }
        // A flush under a 0 or 1 ms timeout: writes nothing new.
        3 => {
            let limit = Duration::from_millis(rng.below(2));
            if let Ok(Err(err)) = timeout(limit, writer.flush()).await {
                panic!("flush: {err}");
            }
            0
        }
        // A flush polled once.
        4 => {
            poll_fn(|cx| {
                if let Poll::Ready(Err(err)) = Pin::new(&mut **writer).poll_flush(cx) {
                    panic!("poll_flush: {err}");
                }
                Poll::Ready(())
            })
            .await;
            0
        }
        // A write awaited to the end.
        _ => writer.write(&chunk).await.expect("write"),
    }
}

#[test]
fn writes_and_flushes_dropped_at_random_lose_and_double_nothing() {
    for unix in [false, true] {
        for seed in [1u64, 0x9E37_79B9_7F4A_7C15] {
            on_each_runtime(move || async move {
                let (mut writer, reader) = pair(unix).await;
                let read = runtime::spawn(slow_read_to_end(reader));
                let mut rng = Rng(seed);
                let mut pos = 0;
                while pos < RANDOM_TOTAL {
                    pos += random_step(&mut writer, &mut rng, pos).await;
                }
                writer.close().await.unwrap();
                let got = read.await.unwrap();
                check_pattern(&got, RANDOM_TOTAL);
            });
        }
    }
}

// ----- what Ready and Pending mean -----

/// Writes with `poll_write` (noop waker) until it says `Pending`; returns
/// how many bytes it reported written.
fn fill(writer: &mut Box<dyn Duplex>, limit: usize) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    let mut taken = 0;
    while taken < limit {
        let chunk = pattern_range(taken, 8192.min(limit - taken));
        match Pin::new(&mut **writer).poll_write(&mut cx, &chunk) {
            Poll::Ready(Ok(n)) => taken += n,
            Poll::Ready(Err(err)) => panic!("poll_write: {err}"),
            Poll::Pending => break,
        }
    }
    taken
}

#[test]
fn the_bytes_poll_write_reported_reach_the_peer_when_the_stream_is_dropped_at_once() {
    for unix in [false, true] {
        on_each_runtime(move || async move {
            let (mut writer, mut reader) = pair(unix).await;
            // Nobody reads yet: the socket fills, and the last call says
            // Pending, having taken nothing.
            let limit = 64 * 1024 * 1024;
            let taken = fill(&mut writer, limit);
            assert!(taken < limit, "the stream took {limit} bytes nobody reads");
            drop(writer);
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.unwrap();
            check_pattern(&got, taken);
        });
    }
}

#[test]
fn a_write_without_a_flush_reaches_a_peer_that_waits_for_it() {
    on_each_runtime(|| async {
        // The writer then only waits for the reply: nothing may hold its
        // bytes back until a flush that never comes.
        let (mut client, server) = tcp_pair().await;
        let echo = runtime::spawn(async move {
            for _ in 0..100 {
                let (n, buf) = server.read(Vec::with_capacity(64)).await;
                let n = n.unwrap();
                assert_ne!(n, 0);
                server.write_all(buf).await.0.unwrap();
            }
        });
        for i in 0..100 {
            let line = format!("line {i}");
            AsyncWriteExt::write_all(&mut client, line.as_bytes())
                .await
                .unwrap();
            let mut back = vec![0u8; line.len()];
            client.read_exact(&mut back).await.unwrap();
            assert_eq!(back, line.as_bytes());
        }
        echo.await.unwrap();
    });
}

#[test]
fn a_write_to_a_reset_connection_fails_and_keeps_failing() {
    on_each_runtime(|| async {
        let (mut writer, reader) = pair(false).await;
        drop(reader);
        // The kernel may take a first send before it learns of the reset;
        // within a few, the failure shows.
        let chunk = vec![7u8; 64 * 1024];
        let mut first = None;
        for _ in 0..1000 {
            if let Err(err) = writer.write(&chunk).await {
                first = Some(err);
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        let first = first.expect("writing to a closed peer never failed");
        let broken = |err: &io::Error| {
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            )
        };
        assert!(broken(&first), "{first}");
        let again = writer.write(b"more").await.unwrap_err();
        assert!(broken(&again), "{again}");
    });
}

#[test]
fn an_empty_write_takes_nothing_and_a_flush_of_nothing_is_ready() {
    on_each_runtime(|| async {
        let (mut a, mut b) = pair(false).await;
        assert_eq!(a.write(b"").await.unwrap(), 0);
        a.flush().await.unwrap();
        a.write_all(b"x").await.unwrap();
        a.close().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"x");
    });
}

// ----- vectored writes -----

/// Writes `total` pattern bytes with `poll_write_vectored` over slices of
/// varied lengths (empty ones among them), advancing by what each call
/// reports, as hyper's queued write buffer does.
async fn write_vectored_pattern(writer: &mut Box<dyn Duplex>, total: usize) -> usize {
    let lens = [0usize, 7, 1, 4096, 0, 65_536, 13, 300_000];
    let mut pos = 0;
    let mut calls_taking_several = 0;
    while pos < total {
        // The next slices, from `pos` on, as separate allocations.
        let mut chunks = Vec::new();
        let mut at = pos;
        for len in lens {
            let len = len.min(total - at);
            chunks.push(pattern_range(at, len));
            at += len;
        }
        let slices: Vec<io::IoSlice<'_>> = chunks.iter().map(|c| io::IoSlice::new(c)).collect();
        let n = poll_fn(|cx| Pin::new(&mut **writer).poll_write_vectored(cx, &slices))
            .await
            .expect("poll_write_vectored");
        assert!(n > 0 && n <= at - pos, "poll_write_vectored said {n}");
        if n > 7 {
            calls_taking_several += 1;
        }
        pos += n;
    }
    calls_taking_several
}

#[test]
fn a_vectored_write_takes_bytes_from_every_slice_in_order() {
    for unix in [false, true] {
        on_each_runtime(move || async move {
            let (mut writer, reader) = pair(unix).await;
            let read = runtime::spawn(slow_read_to_end(reader));
            let several = write_vectored_pattern(&mut writer, BIG).await;
            writer.close().await.unwrap();
            check_pattern(&read.await.unwrap(), BIG);
            // Each call offers a 7-byte slice behind the leading empty one:
            // a write that took only the first non-empty slice would never
            // report more than 7 bytes.
            assert!(several > 0, "no vectored write took more than one slice");
        });
    }
}

#[test]
fn a_vectored_write_of_only_empty_slices_takes_nothing() {
    on_each_runtime(|| async {
        let (mut a, mut b) = pair(false).await;
        let empty = [io::IoSlice::new(b""), io::IoSlice::new(b"")];
        let n = poll_fn(|cx| Pin::new(&mut *a).poll_write_vectored(cx, &empty))
            .await
            .unwrap();
        assert_eq!(n, 0);
        let none: [io::IoSlice<'_>; 0] = [];
        let n = poll_fn(|cx| Pin::new(&mut *a).poll_write_vectored(cx, &none))
            .await
            .unwrap();
        assert_eq!(n, 0);
        a.write_all(b"x").await.unwrap();
        a.close().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"x");
    });
}

// ----- reads dropped at random points -----

/// One read of the random schedule, into `got`.
async fn random_read(reader: &mut Box<dyn Duplex>, rng: &mut Rng, got: &mut Vec<u8>) -> bool {
    let mut buf = vec![0u8; 1 + rng.below(70_000) as usize];
    let n = match rng.below(4) {
        // Polled once with a no-op waker, then dropped.
        0 => {
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(&mut **reader).poll_read(&mut cx, &mut buf) {
                Poll::Ready(result) => result.expect("poll_read"),
                Poll::Pending => return true,
            }
        }
        // Under a 0 or 1 ms timeout.
        1 => {
            let limit = Duration::from_millis(rng.below(2));
            match timeout(limit, reader.read(&mut buf)).await {
                Ok(result) => result.expect("read"),
                Err(_) => return true,
            }
        }
        // Polled once with the task's waker, then dropped.
        2 => {
            let polled = poll_fn(|cx| {
                Poll::Ready(match Pin::new(&mut **reader).poll_read(cx, &mut buf) {
                    Poll::Ready(result) => Some(result.expect("poll_read")),
                    Poll::Pending => None,
                })
            })
            .await;
            match polled {
                Some(n) => n,
                None => return true,
            }
        }
        // Awaited to the end.
        _ => reader.read(&mut buf).await.expect("read"),
    };
    got.extend_from_slice(&buf[..n]);
    n != 0
}

#[test]
fn reads_dropped_at_random_lose_and_double_nothing() {
    for unix in [false, true] {
        for seed in [3u64, 0x2545_F491_4F6C_DD1D] {
            on_each_runtime(move || async move {
                let (mut writer, mut reader) = pair(unix).await;
                // The writer goes slowly at times, so reads find nothing
                // and wait, and are dropped while they wait.
                let write = runtime::spawn(async move {
                    let mut rng = Rng(seed ^ 0xFF);
                    let mut pos = 0;
                    while pos < RANDOM_TOTAL {
                        let len = (1 + rng.below(50_000) as usize).min(RANDOM_TOTAL - pos);
                        writer.write_all(&pattern_range(pos, len)).await.unwrap();
                        pos += len;
                        if rng.below(8) == 0 {
                            sleep(Duration::from_millis(1)).await;
                        }
                    }
                    writer.close().await.unwrap();
                });
                let mut rng = Rng(seed);
                let mut got = Vec::new();
                while random_read(&mut reader, &mut rng, &mut got).await {}
                write.await.unwrap();
                check_pattern(&got, RANDOM_TOTAL);
            });
        }
    }
}

#[test]
fn the_poll_style_reader_holds_nothing_back_from_read_and_peek() {
    on_each_runtime(|| async {
        let (mut client, server) = tcp_pair().await;
        server.write_all(&b"0123456789"[..]).await.0.unwrap();
        // Wait until all ten bytes are there, then take three poll-style.
        let mut all = [0u8; 10];
        let (n, _) = client.peek(Vec::with_capacity(10)).await;
        assert!(n.unwrap() > 0);
        while client.peek(Vec::with_capacity(10)).await.0.unwrap() < 10 {
            sleep(Duration::from_millis(1)).await;
        }
        AsyncReadExt::read_exact(&mut client, &mut all[..3])
            .await
            .unwrap();
        assert_eq!(&all[..3], b"012");
        // The rest is still in the socket, for peek and the owned-buffer read.
        let (n, peeked) = client.peek(Vec::with_capacity(16)).await;
        assert_eq!(&peeked[..n.unwrap()], b"3456789");
        let (n, rest) = client.read(Vec::with_capacity(16)).await;
        assert_eq!(&rest[..n.unwrap()], b"3456789");
        // And a poll-style read left waiting, then dropped, takes nothing
        // from what arrives after.
        {
            let mut byte = [0u8; 1];
            let read = AsyncReadExt::read(&mut client, &mut byte);
            let waited = timeout(Duration::from_millis(20), read).await;
            assert!(
                waited.is_err(),
                "a read of an empty socket finished: {waited:?}"
            );
        }
        server.write_all(&b"late"[..]).await.0.unwrap();
        let (n, late) = client.read(Vec::with_capacity(16)).await;
        assert_eq!(&late[..n.unwrap()], b"late");
    });
}
