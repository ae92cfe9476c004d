//! Helpers for the HTTP tests (`hyper_h1.rs`, `hyper_h2.rs`, `axum.rs`):
//! bounded waits, a body of known bytes, a loop counting what a runtime
//! holds. Each test binary uses some of them.
#![allow(dead_code)]

pub mod h1;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Body, Frame};
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

/// The longest a test waits for something that should happen soon.
pub const LIMIT: Duration = Duration::from_secs(30);

/// `fut`, or a panic naming `what` if it is not done within [`LIMIT`].
pub async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match runtime::time::timeout(LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {LIMIT:?}"),
    }
}

/// The byte at offset `i` of a test body: not periodic over any short
/// length, so a chunk lost, repeated or swapped shows.
pub fn pattern(i: usize) -> u8 {
    (i as u64).wrapping_mul(0x9e37_79b9).rotate_left(7) as u8 ^ (i >> 16) as u8
}

/// A streamed body of `len` pattern bytes in `chunk`-byte frames (no
/// length known up front, so HTTP/1 sends it chunked).
pub fn pattern_body(
    len: usize,
    chunk: usize,
) -> impl Body<Data = Bytes, Error = Infallible> + Send + 'static {
    let frames = (0..len).step_by(chunk).map(move |start| {
        let end = (start + chunk).min(len);
        let bytes: Vec<u8> = (start..end).map(pattern).collect();
        Ok::<_, Infallible>(Frame::data(Bytes::from(bytes)))
    });
    StreamBody::new(futures_util::stream::iter(frames))
}

/// Reads `body` to its end and checks it is `len` pattern bytes.
pub async fn check_pattern<B>(body: B, len: usize)
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let bytes = body.collect().await.expect("body").to_bytes();
    assert_eq!(bytes.len(), len, "body length");
    if let Some(at) = (0..len).find(|&i| bytes[i] != pattern(i)) {
        panic!("body differs from the pattern at byte {at}");
    }
}

/// The number of open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits (a bounded loop, polling every 10 ms) until the current runtime's
/// live tasks and the process's descriptors are back to `tasks` and
/// `fds`; panics with what is left over otherwise.
pub async fn back_to_baseline(tasks: usize, fds: usize) {
    let metrics = runtime::Handle::current().metrics();
    // A third of the limit: the caller's `bounded` must not cut this
    // short before it says what is left.
    for _ in 0..(LIMIT.as_millis() / 30) {
        if metrics.alive_tasks() == tasks && fd_count() == fds {
            return;
        }
        runtime::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "not back to the baseline: {} tasks alive (baseline {tasks}), {} descriptors \
         open (baseline {fds}); tasks: {}",
        metrics.alive_tasks(),
        fd_count(),
        runtime::Handle::current().dump()
    );
}
