//! A tour of the runtime: spawn, join, cancel, panic propagation, groups of
//! tasks, blocking work, timeouts, a TCP echo round trip on loopback and
//! file I/O, printing what happens.
//!
//! Run it with `cargo run -p examples --bin tour`.

use runtime::net::{TcpListener, TcpStream};
use runtime::task::{JoinSet, TaskState};
use runtime::time::{sleep, timeout};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    rt.block_on(async {
        // spawn + join: the output comes back through the handle.
        let handle = runtime::spawn(async { (1..=10u64).product::<u64>() });
        println!("spawn/join: 10! = {}", handle.await.unwrap());

        // cancel: a task that would wait forever is cancelled.
        let stuck = runtime::spawn(std::future::pending::<()>());
        stuck.cancel();
        // A worker may be polling it right now (it was just spawned): it
        // reads `Running` until that poll returns, then `Cancelled`.
        while stuck.state() == TaskState::Running {
            runtime::task::yield_now().await;
        }
        println!("cancel: state is now {:?}", stuck.state());
        let err = stuck.await.unwrap_err();
        println!("cancel: awaiting it gives \"{err}\"");

        // panic propagation: the panic becomes a JoinError with the message.
        let failing = runtime::spawn(async {
            if true {
                panic!("something went wrong");
            }
        });
        let err = failing.await.unwrap_err();
        println!("panic: \"{err}\" (is_panic = {})", err.is_panic());

        // JoinSet: results in completion order; dropping the set cancels the rest.
        let mut set = JoinSet::new();
        for i in 1..=4u64 {
            set.spawn(async move { i * i });
        }
        let mut squares = Vec::new();
        while let Some(result) = set.join_next().await {
            squares.push(result.unwrap());
        }
        squares.sort();
        println!("join set: squares {squares:?}");

        // spawn_blocking: synchronous work off the workers.
        let slept = runtime::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(20));
            "slept 20 ms on the blocking pool"
        });
        println!("blocking: {}", slept.await.unwrap());

        // timeout: a future that takes too long is dropped (cancelling it).
        let late = timeout(Duration::from_millis(10), sleep(Duration::from_secs(60))).await;
        println!("timeout: a 60 s sleep under a 10 ms limit gives {late:?}");
        let quick = timeout(Duration::from_secs(1), async { "in time" }).await;
        println!("timeout: a quick future gives {quick:?}");

        // TCP echo on loopback, through io_uring.
        if let Err(err) = tcp_echo().await {
            println!("tcp: failed: {err}");
        }

        // Files, through io_uring.
        if let Err(err) = files().await {
            println!("files: failed: {err}");
        }

        let finished = runtime::spawn(async {});
        while !finished.is_finished() {
            runtime::task::yield_now().await;
        }
        assert_eq!(finished.state(), TaskState::Finished);
        println!("state: a completed task reports {:?}", finished.state());
    });
    let metrics = rt.metrics();
    println!(
        "metrics: {} tasks spawned on {} workers",
        metrics.spawned_tasks(),
        metrics.num_workers()
    );
    Ok(())
}

/// A server task echoes one message back to a client.
async fn tcp_echo() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = runtime::spawn(async move {
        let (stream, _peer) = listener.accept().await?;
        let (n, buf) = stream.read(vec![0u8; 1024]).await;
        let n = n?;
        let (written, _) = stream.write_all(buf[..n].to_vec()).await;
        written
    });
    let client = TcpStream::connect(addr).await?;
    let (sent, _) = client.write_all(b"hello, echo".to_vec()).await;
    sent?;
    let (n, reply) = client.read(vec![0u8; 1024]).await;
    let n = n?;
    server.await.map_err(std::io::Error::other)??;
    println!(
        "tcp: sent \"hello, echo\" to {addr}, got back {:?}",
        String::from_utf8_lossy(&reply[..n])
    );
    Ok(())
}

/// Writes a file, reads part of it back at an offset, and removes it.
async fn files() -> std::io::Result<()> {
    let path = std::env::temp_dir().join(format!("runtime-tour-{}.txt", std::process::id()));
    runtime::fs::write(&path, "the quick brown fox").await?;
    let file = runtime::fs::File::open(&path).await?;
    let (n, buf) = file.read_at(vec![0u8; 5], 4).await;
    let n = n?;
    let len = file.metadata().await?.len();
    file.close().await?;
    std::fs::remove_file(&path)?;
    println!(
        "files: wrote {len} bytes, read {:?} at offset 4",
        String::from_utf8_lossy(&buf[..n])
    );
    Ok(())
}
