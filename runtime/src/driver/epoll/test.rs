//! Unit tests of the epoll reactor, driven by hand with counting wakers.

use super::Reactor;
use mio::Interest;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    (counter.clone(), Waker::from(counter))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: never happened");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_wait_is_woken_when_its_fd_becomes_ready_and_removed_when_dropped() {
    let reactor = Reactor::start().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    let (count, waker) = waker();
    let cx = Context::from_waker(&waker);

    let registration = reactor
        .register(b.as_raw_fd(), Interest::READABLE, &cx)
        .unwrap();
    assert!(!registration.poll_ready(&cx), "nothing to read yet");
    assert_eq!(reactor.counts(), (1, 1));
    a.write_all(b"x").unwrap();
    wait_for("the wake", || count.0.load(Ordering::SeqCst) == 1);
    assert!(registration.poll_ready(&cx));
    drop(registration);
    assert_eq!(reactor.counts(), (0, 0));
    reactor.shutdown();
}

#[test]
fn a_registration_on_an_fd_that_is_already_ready_fires_at_once() {
    let reactor = Reactor::start().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"already here").unwrap();
    let (count, waker) = waker();
    let cx = Context::from_waker(&waker);
    let registration = reactor
        .register(b.as_raw_fd(), Interest::READABLE, &cx)
        .unwrap();
    wait_for("the wake", || count.0.load(Ordering::SeqCst) == 1);
    assert!(registration.poll_ready(&cx));
    reactor.shutdown();
}

#[test]
fn two_waits_on_one_fd_are_both_woken() {
    let reactor = Reactor::start().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    let (count, waker) = waker();
    let cx = Context::from_waker(&waker);
    let first = reactor
        .register(b.as_raw_fd(), Interest::READABLE, &cx)
        .unwrap();
    let second = reactor
        .register(b.as_raw_fd(), Interest::READABLE, &cx)
        .unwrap();
    assert_eq!(reactor.counts(), (2, 1), "one registration for both");
    a.write_all(b"x").unwrap();
    wait_for("both wakes", || count.0.load(Ordering::SeqCst) == 2);
    assert!(first.poll_ready(&cx) && second.poll_ready(&cx));
    drop(first);
    assert_eq!(reactor.counts(), (1, 1), "registered while a wait is left");
    drop(second);
    assert_eq!(reactor.counts(), (0, 0));
    reactor.shutdown();
}

#[test]
fn a_writer_is_not_woken_by_unread_data_and_a_late_joiner_sees_readiness() {
    let reactor = Reactor::start().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    // Fill b's send buffer, so a writer on b has to wait.
    b.set_nonblocking(true).unwrap();
    let chunk = [0u8; 4096];
    while (&b).write(&chunk).is_ok() {}
    let (writes, write_waker) = waker();
    let writer = reactor
        .register(
            b.as_raw_fd(),
            Interest::WRITABLE,
            &Context::from_waker(&write_waker),
        )
        .unwrap();
    // Data for b arrives, and a reader joins only afterwards: the edge
    // happened before its wait existed, and it must still see it.
    a.write_all(b"x").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let (reads, read_waker) = waker();
    let reader = reactor
        .register(
            b.as_raw_fd(),
            Interest::READABLE,
            &Context::from_waker(&read_waker),
        )
        .unwrap();
    wait_for("the reader's wake", || reads.0.load(Ordering::SeqCst) == 1);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        writes.0.load(Ordering::SeqCst),
        0,
        "the writer was woken by data"
    );
    assert!(!writer.poll_ready(&Context::from_waker(&write_waker)));
    drop((reader, writer));
    reactor.shutdown();
}

#[test]
fn shutdown_wakes_every_wait_and_refuses_new_ones() {
    let reactor = Reactor::start().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    let (count, waker) = waker();
    let cx = Context::from_waker(&waker);
    let registration = reactor
        .register(b.as_raw_fd(), Interest::READABLE, &cx)
        .unwrap();
    reactor.shutdown();
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken by the shutdown");
    assert!(registration.poll_ready(&cx));
    let err = reactor
        .register(b.as_raw_fd(), Interest::READABLE, &cx)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
    drop(registration);
    assert_eq!(reactor.counts(), (0, 0));
}

#[test]
fn a_regular_file_or_a_closed_fd_cannot_be_waited_on() {
    let reactor = Reactor::start().unwrap();
    let (_count, waker) = waker();
    let cx = Context::from_waker(&waker);
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let err = reactor
        .register(file.as_raw_fd(), Interest::READABLE, &cx)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    let err = reactor.register(-1, Interest::READABLE, &cx).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
    assert_eq!(
        reactor.counts(),
        (0, 0),
        "failed registrations leave nothing"
    );
    reactor.shutdown();
}
