//! `runtime::io::readable` / `writable` on descriptors the runtime does not
//! own: pipes and sockets made elsewhere. Every wait is bounded.

use runtime::time::{sleep, timeout};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not ready within {LIMIT:?}"),
    }
}

/// A non-blocking pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    assert_eq!(ret, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: `pipe2` just returned these descriptors; nothing else owns them.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn write_fd(fd: &OwnedFd, data: &[u8]) -> io::Result<usize> {
    // SAFETY: writes from a live slice of `data.len()` bytes to an open
    // descriptor.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reads into a live, writable slice of `buf.len()` bytes from an
    // open descriptor.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[runtime::test]
async fn an_empty_pipe_is_writable_at_once() {
    let (_rx, tx) = pipe();
    bounded("writable", runtime::io::writable(tx.as_fd()))
        .await
        .unwrap();
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_becomes_readable_after_a_write_from_another_task() {
    let (rx, tx) = pipe();
    // Nothing yet: a read would block.
    let mut buf = [0u8; 16];
    assert_eq!(
        read_fd(&rx, &mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    let writer = runtime::spawn(async move {
        sleep(Duration::from_millis(30)).await;
        assert_eq!(write_fd(&tx, b"ready").unwrap(), 5);
        tx
    });
    bounded("readable", runtime::io::readable(rx.as_fd()))
        .await
        .unwrap();
    assert_eq!(read_fd(&rx, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"ready");
    let tx = writer.await.unwrap();

    // End of file is readable too.
    drop(tx);
    bounded("readable at eof", runtime::io::readable(rx.as_fd()))
        .await
        .unwrap();
    assert_eq!(read_fd(&rx, &mut buf).unwrap(), 0);
}

#[runtime::test]
async fn a_readable_dropped_by_timeout_leaves_things_healthy() {
    let (rx, tx) = pipe();
    for _ in 0..20 {
        let wait = timeout(Duration::from_millis(5), runtime::io::readable(rx.as_fd())).await;
        assert!(wait.is_err(), "nothing was written");
    }
    // Tasks still run.
    assert_eq!(runtime::spawn(async { 1 }).await.unwrap(), 1);
    // A poll takes nothing: the data written now is all there.
    write_fd(&tx, b"abc").unwrap();
    bounded("readable", runtime::io::readable(rx.as_fd()))
        .await
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(read_fd(&rx, &mut buf).unwrap(), 3);
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pipe_becomes_writable_when_drained() {
    let (rx, tx) = pipe();
    let chunk = [7u8; 4096];
    let mut written = 0;
    loop {
        match write_fd(&tx, &chunk) {
            Ok(n) => written += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) => panic!("write: {err}"),
        }
        assert!(written < 64 << 20, "the pipe never filled");
    }
    // Full: not writable within a short while.
    assert!(
        timeout(Duration::from_millis(20), runtime::io::writable(tx.as_fd()))
            .await
            .is_err()
    );
    let rx = Arc::new(rx);
    let reader = {
        let rx = rx.clone();
        runtime::spawn(async move {
            sleep(Duration::from_millis(20)).await;
            let mut buf = vec![0u8; 64 * 1024];
            let mut drained = 0;
            while drained < written {
                match read_fd(&rx, &mut buf) {
                    Ok(n) => drained += n,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) => panic!("read: {err}"),
                }
            }
            drained
        })
    };
    bounded("writable", runtime::io::writable(tx.as_fd()))
        .await
        .unwrap();
    assert!(write_fd(&tx, b"x").unwrap() == 1);
    assert!(reader.await.unwrap() > 0);
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_waits_on_many_pipes_from_many_tasks() {
    const PIPES: usize = 100;
    let mut waiters = Vec::new();
    let mut writers = Vec::new();
    for i in 0..PIPES {
        let (rx, tx) = pipe();
        waiters.push(runtime::spawn(async move {
            runtime::io::readable(rx.as_fd()).await.unwrap();
            let mut buf = [0u8; 8];
            let n = read_fd(&rx, &mut buf).unwrap();
            (buf[0] as usize, n)
        }));
        writers.push((i, tx));
    }
    sleep(Duration::from_millis(10)).await;
    for (i, tx) in &writers {
        write_fd(tx, &[*i as u8]).unwrap();
    }
    for (i, waiter) in waiters.into_iter().enumerate() {
        assert_eq!(bounded("waiter", waiter).await.unwrap(), (i, 1));
    }
}

#[runtime::test]
async fn a_socket_made_with_std_is_readable_when_data_arrives() {
    use std::io::Write;
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    assert!(
        timeout(Duration::from_millis(10), runtime::io::readable(b.as_fd()))
            .await
            .is_err()
    );
    a.write_all(b"hello").unwrap();
    bounded("readable", runtime::io::readable(b.as_fd()))
        .await
        .unwrap();
}

#[runtime::test]
async fn a_bad_descriptor_is_the_kernels_error() {
    // A number far above any open descriptor (the limit is lower).
    let raw = 999_999;
    // SAFETY: `raw` is not -1; it names no open file, which is the point
    // (the kernel's EBADF); it is only handed to the poll below.
    let closed = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
    let err = bounded("readable", runtime::io::readable(closed))
        .await
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF));
}
