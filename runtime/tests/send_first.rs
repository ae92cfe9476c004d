//! A send into a socket with room finishes in the poll that starts it, on
//! a worker that has other tasks queued too: the future is `Ready` at its
//! first poll, with no trip through the ring and no wake-up. That is what a
//! tokio user gets from a non-blocking `send`, and what keeps a stream's
//! writer from waiting for the tick's batch of submissions.
//!
//! Both drivers; the task runs on a one-worker multi_thread runtime whose
//! only worker also has three runnable tasks queued, the case where an
//! op that the ring finishes inline would otherwise wait for the batch.

mod common;

use runtime::net::{TcpListener, TcpStream, UdpSocket};
use runtime::task::yield_now;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Runs `body` as a task on a one-worker runtime with the `driver`, beside
/// three tasks that keep yielding until it is done, so the worker's queue
/// is never empty while `body` polls.
fn on_a_busy_worker<F, Fut>(driver: runtime::IoDriver, body: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .io_driver(driver)
        .build()
        .unwrap();
    rt.block_on(rt.spawn(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let busy: Vec<_> = (0..3)
            .map(|_| {
                let stop = stop.clone();
                runtime::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        yield_now().await;
                    }
                })
            })
            .collect();
        // Once round the queue, so the three are queued behind this task.
        yield_now().await;
        let output = body().await;
        stop.store(true, Ordering::Relaxed);
        for task in busy {
            task.await.unwrap();
        }
        output
    }))
    .unwrap()
}

/// Polls `future` once, with a waker that does nothing.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn a_tcp_send_into_a_socket_with_room_is_ready_at_its_first_poll() {
    for driver in common::drivers() {
        let (first_poll, received) = on_a_busy_worker(driver, move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let message: Vec<u8> = (0..1000).map(|i| (i % 251) as u8).collect();
            let first_poll = {
                let mut write = pin!(client.write_all(message.clone()));
                match poll_once(write.as_mut()) {
                    Poll::Ready((result, _)) => Some(result.map_err(|err| err.kind())),
                    // Finished the usual way, so the check below is about
                    // the first poll alone.
                    Poll::Pending => {
                        write.await.0.unwrap();
                        None
                    }
                }
            };
            let mut received = Vec::new();
            while received.len() < message.len() {
                let (n, buf) = server.read(Vec::with_capacity(4096)).await;
                let n = n.unwrap();
                assert!(n > 0, "the client's bytes never came");
                received.extend_from_slice(&buf[..n]);
            }
            assert_eq!(received, message, "{driver:?}: the peer got other bytes");
            (first_poll, received.len())
        });
        assert_eq!(
            first_poll,
            Some(Ok(())),
            "{driver:?}: a 1000-byte send into an empty socket buffer was not done at its first poll"
        );
        assert_eq!(received, 1000);
    }
}

#[test]
fn a_udp_send_to_is_ready_at_its_first_poll() {
    for driver in common::drivers() {
        let first_poll = on_a_busy_worker(driver, move || async move {
            let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let to = receiver.local_addr().unwrap();
            let first_poll = {
                let mut send = pin!(sender.send_to(b"datagram".to_vec(), to));
                match poll_once(send.as_mut()) {
                    Poll::Ready((result, _)) => Some(result.map_err(|err| err.kind())),
                    Poll::Pending => {
                        send.await.0.unwrap();
                        None
                    }
                }
            };
            let (got, buf) = receiver.recv_from(Vec::with_capacity(64)).await;
            let (n, from) = got.unwrap();
            assert_eq!(&buf[..n], b"datagram");
            assert_eq!(from, sender.local_addr().unwrap());
            first_poll
        });
        assert_eq!(
            first_poll,
            Some(Ok(8)),
            "{driver:?}: a datagram send was not done at its first poll"
        );
    }
}

#[test]
fn a_send_to_a_closed_peer_reports_its_error_at_its_first_poll() {
    for driver in common::drivers() {
        let error = on_a_busy_worker(driver, move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (server, _) = listener.accept().await.unwrap();
            // Unread data at close makes the kernel reset the connection.
            let (sent, _) = client.write_all(vec![1u8; 10]).await;
            sent.unwrap();
            drop(server);
            // The reset needs a moment to come back over loopback; send
            // until the error shows.
            for _ in 0..1000 {
                let mut write = pin!(client.write_all(vec![2u8; 10]));
                let result = match poll_once(write.as_mut()) {
                    Poll::Ready((result, _)) => result,
                    Poll::Pending => write.await.0,
                };
                if let Err(err) = result {
                    return err.kind();
                }
                runtime::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            panic!("{driver:?}: sends to a reset connection kept succeeding");
        });
        assert!(
            matches!(
                error,
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{driver:?}: {error:?}"
        );
    }
}
