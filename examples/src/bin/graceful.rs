//! A TCP service that shuts down gracefully: on SIGTERM (or ctrl-c) it
//! stops accepting, lets the connections in flight finish within a
//! deadline, and exits 0.
//!
//! The protocol is one line per request: `echo <text>` answers `<text>`,
//! `sleep <ms>` answers `slept <ms>` after that long (a slow request, to
//! watch the shutdown wait for it). A connection ends when the client
//! closes it.
//!
//! Run: `cargo run -p examples --bin graceful -- 127.0.0.1:4000 [grace_ms]`,
//! then `printf 'sleep 2000\n' | nc 127.0.0.1 4000` and `kill -TERM <pid>`
//! while it sleeps: the answer still comes, then the server exits.
//!
//! What it prints on stdout, one line each: `listening on <addr> (pid
//! <pid>)`; on the signal `SIGTERM: no new connections; waiting up to
//! <grace> for <n> open ones`; then `all connections finished` or
//! `deadline passed: <n> connections cancelled`; `bye`.

use futures_util::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use runtime::net::{TcpListener, TcpStream};
use runtime::signal::unix::{signal, SignalKind};
use runtime::task::JoinSet;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

#[runtime::main(worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let grace = Duration::from_millis(
        args.next()
            .map(|ms| ms.parse().expect("grace_ms: a number of milliseconds"))
            .unwrap_or(5000),
    );
    // Listeners first: a signal that arrives from now on is not lost.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!(
        "listening on {} (pid {})",
        listener.local_addr()?,
        std::process::id()
    );

    let mut connections = JoinSet::new();
    let which = loop {
        // Whichever comes first: a connection or a signal.
        let mut accept = pin!(listener.accept());
        let event = poll_fn(|cx| {
            if terminate.poll_recv(cx).is_ready() {
                return Poll::Ready(Err("SIGTERM"));
            }
            if interrupt.poll_recv(cx).is_ready() {
                return Poll::Ready(Err("SIGINT"));
            }
            accept.as_mut().poll(cx).map(Ok)
        })
        .await;
        match event {
            Ok(Ok((stream, _peer))) => {
                connections.spawn(serve(stream));
            }
            Ok(Err(err)) => eprintln!("accept failed: {err}"),
            Err(which) => break which,
        }
        // Reap the connections that ended, so the set stays small.
        while connections.try_join_next().is_some() {}
    };
    // Stop accepting: a client connecting from now on is refused.
    drop(listener);
    println!(
        "{which}: no new connections; waiting up to {grace:?} for {} open ones",
        connections.len()
    );
    let drained = runtime::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => println!("all connections finished"),
        Err(_) => {
            println!(
                "deadline passed: {} connections cancelled",
                connections.len()
            );
            connections.shutdown().await;
        }
    }
    println!("bye");
    Ok(())
}

/// Answers one connection's requests until the client closes it.
async fn serve(stream: TcpStream) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    use futures_util::StreamExt;
    while let Some(Ok(line)) = lines.next().await {
        let answer = match line.split_once(' ') {
            Some(("echo", text)) => text.to_owned(),
            Some(("sleep", ms)) => match ms.trim().parse() {
                Ok(ms) => {
                    runtime::time::sleep(Duration::from_millis(ms)).await;
                    format!("slept {ms}")
                }
                Err(_) => format!("bad duration: {ms}"),
            },
            _ => format!("unknown request: {line}"),
        };
        // `AsyncWriteExt::write_all` (a borrowed slice), not the owned-buffer
        // inherent method of the same name.
        let reply = format!("{answer}\n");
        if AsyncWriteExt::write_all(&mut writer, reply.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}
