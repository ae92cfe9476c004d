//! Unit tests of the io_uring driver, driven by hand: each test owns a
//! `Driver`, polls `Op` futures with wakers that count their wakes, and
//! parks the driver between polls. Waits are bounded (a watchdog unparks the
//! driver and the test fails) so a bug fails a test instead of hanging it.
//!
//! Under valgrind:
//!
//! ```text
//! cargo test -p runtime --lib --no-run   # prints the test binary
//! valgrind --error-exitcode=1 --leak-check=full \
//!     --suppressions=.ci/valgrind.supp <test binary> driver
//! ```
//!
//! The suppressions cover memcheck's blindness to io_uring's writes into
//! buffers; see `under_valgrind` for why parks are bounded there.

use super::{Driver, DriverHandle, Fallback, IoBuf, IoBufMut, Nop, Op, OpData, Read, Write};
use std::fs::File;
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// The longest any test waits for something that should happen at once:
/// 20 s, or 120 s under valgrind, where every thread hand-off may wait out
/// a bounded park and a loaded 2-core machine stretches that further.
fn limit() -> Duration {
    if under_valgrind() {
        Duration::from_secs(120)
    } else {
        Duration::from_secs(20)
    }
}

// ----- helpers -----

/// Whether the tests run under valgrind (which preloads its own libraries).
///
/// Valgrind runs one thread at a time, and 3.19 does not release its lock
/// while a thread waits in `io_uring_enter` (the syscall is not marked as
/// blocking), so a `park(None)` there starves the very thread that would
/// unpark it. Under valgrind the tests park with a short timeout instead.
fn under_valgrind() -> bool {
    std::env::var_os("LD_PRELOAD").is_some_and(|v| v.to_string_lossy().contains("vgpreload"))
}

/// The timeout of the tests' bounded parks.
fn bounded_park() -> Duration {
    if under_valgrind() {
        Duration::from_millis(5)
    } else {
        Duration::from_millis(200)
    }
}

/// `park(None)`, or a bounded park under valgrind (see `under_valgrind`).
fn park_no_timeout(driver: &mut Driver) {
    let timeout = under_valgrind().then(bounded_park);
    driver.park(timeout).unwrap();
}

/// A waker that counts its wakes and unparks the thread that made it.
struct TestWaker {
    wakes: AtomicUsize,
    thread: Thread,
}

impl TestWaker {
    fn new() -> Arc<TestWaker> {
        Arc::new(TestWaker {
            wakes: AtomicUsize::new(0),
            thread: thread::current(),
        })
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for TestWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

fn poll_once<F: Future + Unpin>(fut: &mut F, waker: &Arc<TestWaker>) -> Poll<F::Output> {
    let waker = Waker::from(waker.clone());
    Pin::new(fut).poll(&mut Context::from_waker(&waker))
}

/// Runs `fut` on the driver's thread: polls it, and parks the driver while
/// it is pending and has not been woken.
fn block_on<F: Future>(driver: &mut Driver, fut: F) -> F::Output {
    let waker = TestWaker::new();
    let std_waker = Waker::from(waker.clone());
    let mut fut = pin!(fut);
    let deadline = Instant::now() + limit();
    loop {
        let seen = waker.wakes();
        if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&std_waker)) {
            return out;
        }
        if waker.wakes() == seen {
            driver.park(Some(bounded_park())).unwrap();
        }
        assert!(Instant::now() < deadline, "block_on: no completion");
    }
}

/// Runs every future to completion on the driver's thread.
fn block_on_all<F: Future + Unpin>(driver: &mut Driver, futs: Vec<F>) -> Vec<F::Output> {
    let waker = TestWaker::new();
    let mut futs: Vec<Option<F>> = futs.into_iter().map(Some).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut left = futs.len();
    let deadline = Instant::now() + limit();
    while left > 0 {
        let seen = waker.wakes();
        for (slot, out) in futs.iter_mut().zip(outs.iter_mut()) {
            if let Some(fut) = slot {
                if let Poll::Ready(v) = poll_once(fut, &waker) {
                    *out = Some(v);
                    *slot = None;
                    left -= 1;
                }
            }
        }
        if left > 0 && waker.wakes() == seen {
            driver.park(Some(bounded_park())).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "block_on_all: {left} ops never completed"
        );
    }
    outs.into_iter().map(Option::unwrap).collect()
}

/// Runs `fut` on a thread that owns no driver: parks the thread while the
/// future is pending.
fn block_on_thread<F: Future>(fut: F) -> F::Output {
    let waker = TestWaker::new();
    let std_waker = Waker::from(waker.clone());
    let mut fut = pin!(fut);
    let deadline = Instant::now() + limit();
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&std_waker)) {
            return out;
        }
        thread::park_timeout(Duration::from_millis(100));
        assert!(Instant::now() < deadline, "block_on_thread: no completion");
    }
}

/// Parks the driver until `done` holds.
fn park_until(driver: &mut Driver, mut done: impl FnMut(&Driver) -> bool) {
    let deadline = Instant::now() + limit();
    while !done(driver) {
        driver.park(Some(bounded_park())).unwrap();
        assert!(
            Instant::now() < deadline,
            "park_until: condition never held"
        );
    }
}

/// Unparks a driver parked with `park(None)` if the test has not finished
/// after [`limit`], and records that it had to.
struct Watchdog {
    done: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    fn new(handle: &DriverHandle) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let thread = {
            let (handle, done, fired) = (handle.clone(), done.clone(), fired.clone());
            thread::spawn(move || {
                let start = Instant::now();
                while !done.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(20));
                    if start.elapsed() > limit() {
                        fired.store(true, Ordering::SeqCst);
                        handle.unpark();
                    }
                }
            })
        };
        Watchdog {
            done,
            fired,
            thread: Some(thread),
        }
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn pipe() -> (Arc<OwnedFd>, Arc<OwnedFd>) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(ret, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: `pipe2` just returned these descriptors; nothing else owns them.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    (Arc::new(read), Arc::new(write))
}

/// Writes with a blocking `write(2)`, outside the ring.
fn write_fd(fd: &OwnedFd, data: &[u8]) {
    File::from(fd.try_clone().unwrap()).write_all(data).unwrap();
}

/// A file in the temporary directory, removed on drop.
struct TempFile {
    path: PathBuf,
    file: Arc<File>,
}

impl TempFile {
    fn new() -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "runtime-driver-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        TempFile {
            path,
            file: Arc::new(file),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A heap buffer that counts how often it has been dropped.
struct TrackedBuf {
    vec: Vec<u8>,
    drops: Arc<AtomicUsize>,
}

impl TrackedBuf {
    fn new(capacity: usize, drops: &Arc<AtomicUsize>) -> TrackedBuf {
        TrackedBuf {
            vec: Vec::with_capacity(capacity),
            drops: drops.clone(),
        }
    }
}

impl Drop for TrackedBuf {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: delegates to `Vec<u8>`, whose heap memory does not move with the
// wrapper.
unsafe impl IoBuf for TrackedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.vec.stable_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.vec.bytes_init()
    }

    fn bytes_total(&self) -> usize {
        self.vec.bytes_total()
    }
}

// SAFETY: delegates to `Vec<u8>`.
unsafe impl IoBufMut for TrackedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.vec.stable_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: forwarded from our caller's guarantee.
        unsafe { self.vec.set_init(pos) }
    }
}

fn is_cancelled(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ECANCELED)
}

fn assert_send<T: Send>(_: &T) {}

// ----- tests -----

#[test]
fn nop_round_trip() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let op = driver.submit(Nop);
    assert_send(&op);
    assert_eq!(driver.in_flight(), 1);
    assert_eq!(block_on(&mut driver, op).unwrap(), 0);
    assert_eq!(driver.in_flight(), 0);
    let stats = driver.stats();
    assert_eq!((stats.submitted, stats.completed, stats.cancels), (1, 1, 0));
}

#[test]
fn pipe_write_then_read() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let (rx, tx) = pipe();

    let write = driver.submit(Write::stream(tx.clone(), b"hello".to_vec()));
    let (n, buf) = block_on(&mut driver, write);
    assert_eq!(n.unwrap(), 5);
    assert_eq!(buf, b"hello");

    let read = driver.submit(Read::stream(rx.clone(), Vec::with_capacity(16)));
    let (n, buf) = block_on(&mut driver, read);
    assert_eq!(n.unwrap(), 5);
    assert_eq!(buf, b"hello");
    assert_eq!(buf.capacity(), 16);
    assert_eq!(driver.in_flight(), 0);
}

#[test]
fn pipe_read_waits_for_data() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let (rx, tx) = pipe();
    let waker = TestWaker::new();

    let mut read = driver.submit(Read::stream(rx, vec![0u8; 3].into_boxed_slice()));
    assert!(poll_once(&mut read, &waker).is_pending());
    driver.park(Some(Duration::ZERO)).unwrap();
    assert!(poll_once(&mut read, &waker).is_pending());
    assert_eq!(waker.wakes(), 0);
    assert_eq!(driver.in_flight(), 1);

    write_fd(&tx, b"abcdef");
    park_until(&mut driver, |_| waker.wakes() > 0);
    assert_eq!(waker.wakes(), 1);
    let Poll::Ready((n, buf)) = poll_once(&mut read, &waker) else {
        panic!("woken but not ready")
    };
    assert_eq!(n.unwrap(), 3);
    assert_eq!(&*buf, b"abc");
}

#[test]
fn file_write_and_read_at_offsets() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let tmp = TempFile::new();

    let write = driver.submit(Write::at(tmp.file.clone(), "world", 6));
    assert_eq!(block_on(&mut driver, write).0.unwrap(), 5);
    let write = driver.submit(Write::at(tmp.file.clone(), b"hello ".as_slice(), 0));
    assert_eq!(block_on(&mut driver, write).0.unwrap(), 6);
    let write = driver.submit(Write::at(tmp.file.clone(), String::from("!"), 11));
    assert_eq!(block_on(&mut driver, write).0.unwrap(), 1);

    let mut contents = String::new();
    File::open(&tmp.path)
        .unwrap()
        .read_to_string(&mut contents)
        .unwrap();
    assert_eq!(contents, "hello world!");

    let read = driver.submit(Read::at(tmp.file.clone(), Vec::with_capacity(5), 6));
    let (n, buf) = block_on(&mut driver, read);
    assert_eq!(n.unwrap(), 5);
    assert_eq!(buf, b"world");

    // Past the end: 0 bytes, buffer untouched.
    let read = driver.submit(Read::at(tmp.file.clone(), Vec::with_capacity(5), 100));
    let (n, buf) = block_on(&mut driver, read);
    assert_eq!(n.unwrap(), 0);
    assert!(buf.is_empty());

    // At the file position (0, never moved by positional I/O).
    let read = driver.submit(Read::stream(tmp.file.clone(), Vec::with_capacity(64)));
    let (n, buf) = block_on(&mut driver, read);
    assert_eq!(n.unwrap(), 12);
    assert_eq!(buf, b"hello world!");

    // Errors carry the kernel's errno and give the buffer back.
    let read_only = Arc::new(File::open(&tmp.path).unwrap());
    let write = driver.submit(Write::at(read_only, vec![1u8, 2, 3], 0));
    let (n, buf) = block_on(&mut driver, write);
    assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EBADF));
    assert_eq!(buf, [1, 2, 3]);
    assert_eq!(driver.in_flight(), 0);
}

#[test]
fn dropped_read_is_cancelled_and_buffer_outlives_the_kernel() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let (rx, tx) = pipe();
    let drops = Arc::new(AtomicUsize::new(0));
    let waker = TestWaker::new();

    let mut read = driver.submit(Read::stream(rx.clone(), TrackedBuf::new(8, &drops)));
    assert!(poll_once(&mut read, &waker).is_pending());
    driver.poll().unwrap(); // in the kernel now, waiting for data
    assert_eq!(driver.in_flight(), 1);

    drop(read);
    // The future is gone but the kernel still owns the buffer.
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    assert_eq!(driver.in_flight(), 1);

    park_until(&mut driver, |d| d.in_flight() == 0);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "freed once, after the completion"
    );
    let stats = driver.stats();
    assert_eq!((stats.cancels, stats.completed, stats.cancelled), (1, 1, 1));
    assert_eq!(waker.wakes(), 0, "nobody left to wake");

    // The read really was cancelled: data written now stays in the pipe.
    write_fd(&tx, b"x");
    driver.park(Some(Duration::from_millis(20))).unwrap();
    let mut byte = [0u8; 1];
    File::from(rx.try_clone().unwrap())
        .read_exact(&mut byte)
        .unwrap();
    assert_eq!(&byte, b"x");
}

#[test]
fn completed_op_dropped_without_polling_frees_its_buffer() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let (rx, tx) = pipe();
    let drops = Arc::new(AtomicUsize::new(0));

    let read = driver.submit(Read::stream(rx, TrackedBuf::new(8, &drops)));
    write_fd(&tx, b"data");
    park_until(&mut driver, |d| d.in_flight() == 0);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the future still owns it");
    drop(read);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(driver.stats().cancels, 0);
}

#[test]
fn waker_is_replaced_on_repoll() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let (rx, tx) = pipe();
    let (first, second) = (TestWaker::new(), TestWaker::new());

    let mut read = driver.submit(Read::stream(rx, Vec::with_capacity(4)));
    assert!(poll_once(&mut read, &first).is_pending());
    assert!(poll_once(&mut read, &second).is_pending());
    write_fd(&tx, b"z");
    park_until(&mut driver, |d| d.in_flight() == 0);
    assert_eq!((first.wakes(), second.wakes()), (0, 1));
    assert!(poll_once(&mut read, &second).is_ready());
}

#[test]
fn a_completed_op_spends_the_coop_budget() {
    use crate::scheduler::coop;

    let (mut driver, _handle) = Driver::new(8).unwrap();
    let waker = TestWaker::new();
    let mut nop = driver.submit(Nop);
    assert!(poll_once(&mut nop, &waker).is_pending());
    park_until(&mut driver, |d| d.in_flight() == 0);
    let woken = waker.wakes();

    coop::with_budget(|| {
        // Spend the whole budget on other ready work.
        while let Poll::Ready(unit) = coop::poll_proceed(&mut Context::from_waker(Waker::noop())) {
            unit.made_progress();
        }
        assert!(
            poll_once(&mut nop, &waker).is_pending(),
            "a ready op must yield once the budget is spent"
        );
        assert_eq!(waker.wakes(), woken + 1, "and wake its task to come back");
    });
    // The next poll has a fresh budget, and the result is still there.
    let out = coop::with_budget(|| poll_once(&mut nop, &waker));
    assert!(matches!(out, Poll::Ready(Ok(0))));
}

#[test]
fn a_pending_op_costs_no_budget() {
    use crate::scheduler::coop;

    let (mut driver, _handle) = Driver::new(8).unwrap();
    let (rx, _tx) = pipe();
    let waker = TestWaker::new();
    let mut read = driver.submit(Read::stream(rx, Vec::with_capacity(4)));
    coop::with_budget(|| {
        for _ in 0..usize::from(coop::BUDGET) * 2 {
            assert!(poll_once(&mut read, &waker).is_pending());
        }
        assert!(coop::has_budget_remaining(), "pending polls are refunded");
    });
}

#[test]
fn op_submitted_from_another_thread() {
    let (mut driver, handle) = Driver::new(8).unwrap();
    let watchdog = Watchdog::new(&handle);
    let (rx, tx) = pipe();
    let done = Arc::new(AtomicBool::new(false));

    let other = {
        let (handle, done) = (handle.clone(), done.clone());
        thread::spawn(move || {
            // Give the owner time to park.
            thread::sleep(Duration::from_millis(50));
            let nop = handle.submit(Nop);
            assert_eq!(block_on_thread(nop).unwrap(), 0);

            let read = handle.submit(Read::stream(rx, Vec::with_capacity(8)));
            write_fd(&tx, b"ping");
            let (n, buf) = block_on_thread(read);
            assert_eq!(n.unwrap(), 4);
            assert_eq!(buf, b"ping");
            done.store(true, Ordering::SeqCst);
            handle.unpark();
        })
    };

    // The owner blocks with no timeout: only the handle's unparks (and the
    // completions of the ops they bring) wake it.
    while !done.load(Ordering::SeqCst) {
        park_no_timeout(&mut driver);
        assert!(!watchdog.fired(), "a parked driver was never woken");
    }
    other.join().unwrap();
    assert!(driver.stats().wakeups >= 1);
    assert_eq!(driver.stats().submitted, 2);
    assert_eq!(driver.in_flight(), 0);
}

#[test]
fn op_moves_to_another_thread_while_in_flight() {
    let (mut driver, handle) = Driver::new(8).unwrap();
    let (rx, tx) = pipe();
    let owner_waker = TestWaker::new();

    let mut read = driver.submit(Read::stream(rx, Vec::with_capacity(8)));
    assert!(poll_once(&mut read, &owner_waker).is_pending());
    driver.poll().unwrap();

    let (polled_tx, polled_rx) = mpsc::channel();
    let other = thread::spawn(move || {
        let waker = TestWaker::new();
        assert!(poll_once(&mut read, &waker).is_pending());
        polled_tx.send(()).unwrap();
        let deadline = Instant::now() + limit();
        loop {
            if let Poll::Ready((n, buf)) = poll_once(&mut read, &waker) {
                assert_eq!(waker.wakes(), 1);
                return (n.unwrap(), buf);
            }
            thread::park_timeout(Duration::from_millis(100));
            assert!(Instant::now() < deadline);
        }
    });
    polled_rx.recv().unwrap();
    write_fd(&tx, b"moved");
    park_until(&mut driver, |d| d.in_flight() == 0);
    let (n, buf) = other.join().unwrap();
    assert_eq!((n, buf.as_slice()), (5, b"moved".as_slice()));
    assert_eq!(owner_waker.wakes(), 0);
    drop(handle);
}

#[test]
fn op_dropped_on_another_thread_is_cancelled_through_the_queue() {
    let (mut driver, handle) = Driver::new(8).unwrap();
    let watchdog = Watchdog::new(&handle);
    let (rx, _tx) = pipe();
    let drops = Arc::new(AtomicUsize::new(0));
    let waker = TestWaker::new();

    let mut read = driver.submit(Read::stream(rx, TrackedBuf::new(8, &drops)));
    assert!(poll_once(&mut read, &waker).is_pending());
    driver.poll().unwrap();

    let other = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        drop(read);
    });
    // Parked with no timeout: the cancel's unpark must wake us.
    while driver.in_flight() > 0 {
        park_no_timeout(&mut driver);
        assert!(!watchdog.fired(), "the cancel never arrived");
    }
    other.join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let stats = driver.stats();
    assert_eq!((stats.cancels, stats.completed, stats.cancelled), (1, 1, 1));
    assert!(stats.wakeups >= 1);
    assert_eq!(waker.wakes(), 0);
}

#[test]
fn op_dropped_before_it_reaches_the_ring() {
    let (mut driver, handle) = Driver::new(8).unwrap();
    let (rx, _tx) = pipe();
    let drops = Arc::new(AtomicUsize::new(0));

    let other = {
        let (handle, drops) = (handle.clone(), drops.clone());
        thread::spawn(move || drop(handle.submit(Read::stream(rx, TrackedBuf::new(8, &drops)))))
    };
    other.join().unwrap();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "queued, not yet seen by the ring"
    );
    driver.poll().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let stats = driver.stats();
    assert_eq!((stats.submitted, stats.cancels, stats.completed), (0, 0, 1));
    assert_eq!(stats.cancelled, 1);
    assert_eq!(driver.in_flight(), 0);
}

#[test]
fn many_ops_dropped_at_once_with_a_small_ring() {
    const OPS: usize = 300;
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let pipes: Vec<_> = (0..10).map(|_| pipe()).collect();
    let drops = Arc::new(AtomicUsize::new(0));
    let waker = TestWaker::new();

    let mut ops: Vec<_> = (0..OPS)
        .map(|i| {
            let rx = pipes[i % pipes.len()].0.clone();
            driver.submit(Read::stream(rx, TrackedBuf::new(8, &drops)))
        })
        .collect();
    for op in &mut ops {
        assert!(poll_once(op, &waker).is_pending());
    }
    driver.park(Some(Duration::ZERO)).unwrap();
    drop(ops);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    // 300 cancels through an 8-entry submission queue.
    park_until(&mut driver, |d| d.in_flight() == 0);
    assert_eq!(drops.load(Ordering::SeqCst), OPS);
    let stats = driver.stats();
    assert_eq!((stats.cancels, stats.cancelled), (OPS as u64, OPS as u64));
    assert_eq!(waker.wakes(), 0);
}

#[test]
fn many_threads_submit_through_handles() {
    const THREADS: usize = 4;
    // Under valgrind every round trip waits out bounded parks (see
    // `under_valgrind`; 20 each took 25 s there): fewer of them.
    let ops = if under_valgrind() { 5 } else { 200 };
    let (mut driver, handle) = Driver::new(16).unwrap();
    let watchdog = Watchdog::new(&handle);
    let finished = Arc::new(AtomicUsize::new(0));

    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (handle, finished) = (handle.clone(), finished.clone());
            thread::spawn(move || {
                for _ in 0..ops {
                    assert_eq!(block_on_thread(handle.submit(Nop)).unwrap(), 0);
                }
                finished.fetch_add(1, Ordering::SeqCst);
                handle.unpark();
            })
        })
        .collect();
    while finished.load(Ordering::SeqCst) < THREADS {
        park_no_timeout(&mut driver);
        assert!(!watchdog.fired(), "a parked driver was never woken");
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = driver.stats();
    assert_eq!(stats.completed, (THREADS * ops) as u64);
    assert_eq!(driver.in_flight(), 0);
}

#[test]
fn reads_of_one_file_with_a_small_ring() {
    const OPS: usize = 4096;
    let (mut driver, _handle) = Driver::new(64).unwrap();
    let tmp = TempFile::new();
    let contents: Vec<u8> = (0..OPS as u64).flat_map(u64::to_le_bytes).collect();
    (&*tmp.file).write_all(&contents).unwrap();

    let ops: Vec<_> = (0..OPS)
        .map(|i| {
            let buf = Vec::with_capacity(8);
            driver.submit(Read::at(tmp.file.clone(), buf, (i * 8) as u64))
        })
        .collect();
    assert_eq!(driver.in_flight(), OPS);
    let results = block_on_all(&mut driver, ops);
    for (i, (n, buf)) in results.into_iter().enumerate() {
        assert_eq!(n.unwrap(), 8);
        assert_eq!(buf, (i as u64).to_le_bytes());
    }
    let stats = driver.stats();
    println!("{OPS} file reads, ring of 64: {stats:?}");
    assert_eq!(driver.in_flight(), 0);
    assert_eq!((stats.submitted, stats.completed), (OPS as u64, OPS as u64));
    assert!(stats.sq_full_flushes > 0, "{stats:?}");
    assert!(stats.cq_overflow_flushes > 0, "{stats:?}");
}

#[test]
fn reads_of_many_pipes_with_a_small_ring() {
    const PIPES: usize = 4096;
    let (mut driver, _handle) = Driver::new(64).unwrap();
    let pipes: Vec<_> = (0..PIPES).map(|_| pipe()).collect();
    let waker = TestWaker::new();

    let mut ops: Vec<_> = pipes
        .iter()
        .map(|(rx, _)| driver.submit(Read::stream(rx.clone(), Vec::with_capacity(8))))
        .collect();
    for op in &mut ops {
        assert!(poll_once(op, &waker).is_pending());
    }
    // Every read waits in the kernel; then all become ready at once, far
    // more completions than the 128-entry completion queue holds.
    driver.park(Some(Duration::ZERO)).unwrap();
    assert_eq!(driver.in_flight(), PIPES);
    for (i, (_, tx)) in pipes.iter().enumerate() {
        write_fd(tx, &(i as u64).to_le_bytes());
    }
    let results = block_on_all(&mut driver, ops);
    for (i, (n, buf)) in results.into_iter().enumerate() {
        assert_eq!(n.unwrap(), 8);
        assert_eq!(buf, (i as u64).to_le_bytes());
    }
    assert_eq!(driver.in_flight(), 0);
    let stats = driver.stats();
    println!("{PIPES} pipe reads, ring of 64: {stats:?}");
    assert!(stats.cq_overflow_flushes > 0, "{stats:?}");
}

#[test]
fn park_with_a_timeout_returns() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let start = Instant::now();
    driver.park(Some(Duration::ZERO)).unwrap();
    let zero = start.elapsed();

    let start = Instant::now();
    driver.park(Some(Duration::from_millis(10))).unwrap();
    let ten = start.elapsed();
    println!("park(0) took {zero:?}, park(10ms) took {ten:?}");
    assert!(ten < limit());
    assert_eq!(driver.stats().wakeups, 0);
}

#[test]
fn park_without_timeout_returns_on_unpark() {
    let (mut driver, handle) = Driver::new(8).unwrap();
    let watchdog = Watchdog::new(&handle);
    let other = {
        let handle = handle.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            handle.unpark();
        })
    };
    let start = Instant::now();
    park_no_timeout(&mut driver);
    while under_valgrind() && driver.stats().wakeups == 0 {
        park_no_timeout(&mut driver);
    }
    println!("park(None) woke after {:?}", start.elapsed());
    assert!(!watchdog.fired());
    assert_eq!(driver.stats().wakeups, 1);
    other.join().unwrap();
}

#[test]
fn unpark_before_park_is_not_lost() {
    let (mut driver, handle) = Driver::new(8).unwrap();
    let watchdog = Watchdog::new(&handle);

    handle.unpark();
    park_no_timeout(&mut driver);
    assert!(!watchdog.fired());

    // Even if `poll` reaps the wake-up first, the next park returns.
    handle.unpark();
    handle.unpark(); // coalesced
    let deadline = Instant::now() + limit();
    while driver.stats().wakeups < 2 {
        driver.poll().unwrap();
        assert!(Instant::now() < deadline);
    }
    park_no_timeout(&mut driver);
    assert!(!watchdog.fired());
    assert_eq!(driver.stats().wakeups, 2);
}

#[test]
fn shutdown_cancels_reads_in_flight() {
    const OPS: usize = 100;
    let (mut driver, handle) = Driver::new(32).unwrap();
    let pipes: Vec<_> = (0..OPS).map(|_| pipe()).collect();
    let drops = Arc::new(AtomicUsize::new(0));
    let waker = TestWaker::new();

    let mut ops: Vec<_> = pipes
        .iter()
        .map(|(rx, _)| driver.submit(Read::stream(rx.clone(), TrackedBuf::new(8, &drops))))
        .collect();
    for op in &mut ops {
        assert!(poll_once(op, &waker).is_pending());
    }
    driver.poll().unwrap();
    // One more, still in the command queue when shutdown begins.
    let (queued_rx, _queued_tx) = pipe();
    let mut queued = thread::spawn({
        let handle = handle.clone();
        let drops = drops.clone();
        move || handle.submit(Read::stream(queued_rx, TrackedBuf::new(8, &drops)))
    })
    .join()
    .unwrap();
    assert_eq!(driver.in_flight(), OPS);

    driver.shutdown();
    assert_eq!(driver.in_flight(), 0);
    assert_eq!(waker.wakes(), OPS);
    assert_eq!(driver.stats().cancelled, OPS as u64 + 1);
    // The futures own their buffers again, and report the cancellation.
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    for op in &mut ops {
        let Poll::Ready((result, _buf)) = poll_once(op, &waker) else {
            panic!("not completed by shutdown")
        };
        assert!(is_cancelled(&result.unwrap_err()));
    }
    let Poll::Ready((result, buf)) = poll_once(&mut queued, &waker) else {
        panic!("queued op not completed by shutdown")
    };
    assert!(is_cancelled(&result.unwrap_err()));
    drop(buf);
    drop(ops);
    drop(queued);
    assert_eq!(drops.load(Ordering::SeqCst), OPS + 1);

    // After shutdown nothing hangs: new ops fail at once.
    let mut late = driver.submit(Nop);
    assert!(matches!(poll_once(&mut late, &waker), Poll::Ready(Err(e)) if is_cancelled(&e)));
    let mut late = handle.submit(Nop);
    assert!(matches!(poll_once(&mut late, &waker), Poll::Ready(Err(e)) if is_cancelled(&e)));
    driver.shutdown(); // idempotent
    park_no_timeout(&mut driver); // does not sleep: nothing could wake it
}

#[test]
fn dropping_the_driver_frees_ignored_ops() {
    const OPS: usize = 100;
    let (mut driver, handle) = Driver::new(16).unwrap();
    let pipes: Vec<_> = (0..10).map(|_| pipe()).collect();
    let drops = Arc::new(AtomicUsize::new(0));

    let ops: Vec<_> = (0..OPS)
        .map(|i| {
            let rx = pipes[i % pipes.len()].0.clone();
            driver.submit(Read::stream(rx, TrackedBuf::new(8, &drops)))
        })
        .collect();
    driver.poll().unwrap();
    drop(ops); // all Ignored, cancels queued
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(driver);
    assert_eq!(drops.load(Ordering::SeqCst), OPS);
    // The handle outlives the driver and stays usable.
    handle.unpark();
    let mut late = handle.submit(Nop);
    let waker = TestWaker::new();
    assert!(matches!(poll_once(&mut late, &waker), Poll::Ready(Err(e)) if is_cancelled(&e)));
}

/// `OpData` is object-free: a custom op compiles against the trait alone.
#[test]
fn custom_op_data() {
    struct Answer;
    impl OpData for Answer {
        type Output = io::Result<u32>;
        fn sqe(&mut self) -> io_uring::squeue::Entry {
            io_uring::opcode::Nop::new().build()
        }
        fn complete(self, result: io::Result<u32>, _flags: u32) -> io::Result<u32> {
            result.map(|n| n + 42)
        }
        fn fallback(&self) -> Fallback {
            Fallback::Immediate
        }
        fn perform(&mut self) -> i32 {
            0
        }
    }
    let (mut driver, _handle) = Driver::new(4).unwrap();
    let op: Op<Answer> = driver.submit(Answer);
    assert_eq!(block_on(&mut driver, op).unwrap(), 42);
}

/// The driver inside real runtimes: ops submitted from tasks, from a
/// `block_on` thread, dropped by timeouts, and cut off by shutdown.
mod in_runtime {
    use super::{pipe, write_fd, TrackedBuf};
    use crate::driver::{submit, Read};
    use crate::time::{sleep, timeout};
    use crate::{Builder, Runtime};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn runtimes() -> [Runtime; 2] {
        [
            Builder::new_current_thread().build().unwrap(),
            Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap(),
        ]
    }

    #[test]
    fn a_pipe_read_dropped_by_timeout_keeps_its_buffer_until_the_kernel_is_done() {
        for rt in runtimes() {
            let drops = Arc::new(AtomicUsize::new(0));
            let (read_end, write_end) = pipe();
            let (r, d) = (read_end.clone(), drops.clone());
            rt.block_on(async move {
                let task = crate::spawn(async move {
                    let read = submit(Read::stream(r, TrackedBuf::new(4096, &d))).unwrap();
                    timeout(Duration::from_millis(20), read).await.is_err()
                });
                assert!(
                    task.await.unwrap(),
                    "the read must time out: the pipe is empty"
                );
            });
            // The cancel may still be on its way; the ring keeps the buffer
            // until the completion. Shutdown waits for all of that.
            drop(rt);
            assert_eq!(drops.load(Ordering::SeqCst), 1, "buffer freed exactly once");
            // The pipe is intact: a later read sees later data.
            write_fd(&write_end, b"after");
            let mut buf = [0u8; 5];
            let n = std::io::Read::read(
                &mut std::fs::File::from(read_end.try_clone().unwrap()),
                &mut buf,
            )
            .unwrap();
            assert_eq!(&buf[..n], b"after");
        }
    }

    #[test]
    fn reads_from_tasks_and_from_block_on_complete_on_every_flavor() {
        for rt in runtimes() {
            let (read_end, write_end) = pipe();
            let writer = write_end.clone();
            let got = rt.block_on(async move {
                let r = read_end.clone();
                let in_task = crate::spawn(async move {
                    let (n, buf) = submit(Read::stream(r, vec![0u8; 16])).unwrap().await;
                    buf[..n.unwrap()].to_vec()
                });
                sleep(Duration::from_millis(5)).await;
                write_fd(&writer, b"one");
                let first = in_task.await.unwrap();
                // From the block_on thread itself (which owns a ring only on
                // current_thread; on multi_thread it goes through a worker's
                // command queue).
                let read = submit(Read::stream(read_end, vec![0u8; 16])).unwrap();
                write_fd(&writer, b"two");
                let (n, buf) = read.await;
                (first, buf[..n.unwrap()].to_vec())
            });
            assert_eq!(got, (b"one".to_vec(), b"two".to_vec()));
        }
    }

    #[test]
    fn an_op_after_shutdown_fails_instead_of_hanging() {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let handle = rt.handle();
        drop(rt);
        let (read_end, _write_end) = pipe();
        let other = Builder::new_current_thread().build().unwrap();
        let _enter = handle.enter();
        let result = submit(Read::stream(read_end, vec![0u8; 8]));
        match result {
            Ok(op) => {
                let (res, _) = other.block_on(op);
                assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
            }
            Err(err) => panic!("expected an op that fails, got {err}"),
        }
    }

    #[test]
    fn io_outside_a_runtime_is_an_error_with_a_message() {
        let (read_end, _write_end) = pipe();
        let err = submit(Read::stream(read_end, vec![0u8; 8])).err().unwrap();
        assert!(
            err.to_string().contains("I/O outside of a runtime"),
            "{err}"
        );
    }
}
