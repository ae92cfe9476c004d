//! Waits on file descriptors, on time, and on other tasks, then exits when
//! nothing is left to run.
//!
//! The article's minimal loop suspends coroutines on "readable"/"writable"
//! callables, on sleeps until a time, and resumes them with values or with
//! errors (`throw`). Here a pipe is waited on with `runtime::io::readable`
//! and `writable` (io_uring poll requests, no busy loop), sleeps use the
//! runtime's timers (`sleep` for a duration, `sleep_until` an instant), a
//! task is resumed with an error through a one-shot [`Resume`], and the
//! program ends when its set of tasks is empty, as the article's loop does
//! when no coroutine is left.

use runtime::task::JoinSet;
use runtime::time::{sleep, sleep_until, Duration, Instant};
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A one-shot slot through which one task resumes another with a value or
/// an error (the article's `send` / `throw`).
struct Resume<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// The value or error, once resumed, and the waiting task's waker.
type Slot<T> = (Option<io::Result<T>>, Option<Waker>);

impl<T> Resume<T> {
    fn new() -> (Resume<T>, Resume<T>) {
        let slot = Arc::new(Mutex::new((None, None)));
        (Resume { slot: slot.clone() }, Resume { slot })
    }

    /// Completes the waiting side with `result`.
    fn resume(self, result: io::Result<T>) {
        let waker = {
            let mut slot = self.slot.lock().expect("resume slot");
            slot.0 = Some(result);
            slot.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits until the other side resumes this one.
    async fn wait(self) -> io::Result<T> {
        std::future::poll_fn(|cx| {
            let mut slot = self.slot.lock().expect("resume slot");
            match slot.0.take() {
                Some(result) => Poll::Ready(result),
                None => {
                    slot.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these descriptors, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `write(2)` on a non-blocking fd.
fn write_now(fd: &OwnedFd, data: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `data` is a live slice of `data.len()` bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `read(2)` on a non-blocking fd.
fn read_now(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[runtime::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let start = Instant::now();
    let (read_end, write_end) = pipe()?;
    let mut tasks = JoinSet::new();

    // Waits until the pipe has data, then reads it.
    tasks.spawn(async move {
        println!("reader: waiting for the pipe to become readable");
        runtime::io::readable(read_end.as_fd()).await?;
        let mut buf = [0u8; 64];
        let n = read_now(&read_end, &mut buf)?;
        println!(
            "reader: readable, read {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        Ok(())
    });

    // Sleeps for a duration, then waits until the pipe is writable and writes.
    tasks.spawn(async move {
        sleep(Duration::from_millis(20)).await;
        println!("writer: slept 20 ms, waiting for the pipe to become writable");
        runtime::io::writable(write_end.as_fd()).await?;
        write_now(&write_end, b"hello through the pipe")?;
        println!("writer: writable, wrote 22 bytes");
        Ok(())
    });

    // Sleeps until an instant.
    tasks.spawn(async move {
        let deadline = start + Duration::from_millis(40);
        sleep_until(deadline).await;
        println!("sleeper: woke at the 40 ms instant");
        Ok(())
    });

    // One task resumes another with an error: the article's `throw`.
    let (waiting, thrower) = Resume::<u32>::new();
    tasks.spawn(async move {
        println!("catcher: waiting to be resumed");
        match waiting.wait().await {
            Ok(value) => println!("catcher: resumed with {value}"),
            Err(err) => println!("catcher: resumed with an error: {err}"),
        }
        Ok(())
    });
    tasks.spawn(async move {
        sleep(Duration::from_millis(10)).await;
        println!("thrower: resuming the catcher with an error");
        thrower.resume(Err(io::Error::other("thrown into the catcher")));
        Ok(())
    });

    // Runs until nothing is left, as the article's loop does.
    while let Some(result) = tasks.join_next().await {
        let outcome: io::Result<()> = result.map_err(io::Error::other)?;
        outcome?;
    }
    println!(
        "nothing left to run after {} ms",
        start.elapsed().as_millis()
    );
    Ok(())
}
