//! An accept cancelled just as a connection arrives must not keep that
//! connection from an accept still waiting on the same listener.
//!
//! On io_uring, accepts wait on the listener as *exclusive* waiters: a new
//! connection wakes one of them. A cancelled accept stays on the wait
//! queue until the cancel's task work runs, and a wake-up it receives then
//! is spent on a request that is going away; the other accept sleeps on
//! with the connection queued. Here the cancel and the connect reach the
//! kernel in one `io_uring_enter` (the connect submits the queued cancel
//! first, and the loopback handshake completes inside that same call), so
//! without a remedy the second accept hangs every time.

use runtime::net::{TcpListener, TcpStream};
use runtime::time::timeout;
use std::future::{poll_fn, Future};
use std::task::Poll;
use std::time::Duration;

/// A connection on loopback that takes longer than this is lost.
const LIMIT: Duration = Duration::from_secs(20);

#[runtime::test]
async fn a_connection_arriving_as_an_accept_is_cancelled_reaches_the_other_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    for _ in 0..5 {
        let mut cancelled = Box::pin(listener.accept());
        let mut waiting = Box::pin(listener.accept());
        // Both in the kernel, the one to be cancelled first in line.
        poll_fn(|cx| {
            assert!(cancelled.as_mut().poll(cx).is_pending());
            assert!(waiting.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        drop(cancelled);
        let client = TcpStream::connect(addr).await.unwrap();
        let (_server, peer) = timeout(LIMIT, waiting)
            .await
            .expect("the waiting accept never got the connection")
            .unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    }
}
