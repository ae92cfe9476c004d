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
    // The kernel completes a nop inside the enter that submits it, and
    // `submit` reaps it there (inline completion).
    assert_eq!(driver.in_flight(), 0);
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
    let (rx, tx) = pipe();
    let mut nop = driver.submit(Read::stream(rx, Vec::with_capacity(4)));
    assert!(poll_once(&mut nop, &waker).is_pending());
    write_fd(&tx, b"z");
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
    let Poll::Ready((read, buf)) = out else {
        panic!("the completed read is still there")
    };
    assert_eq!((read.unwrap(), &buf[..]), (1, &b"z"[..]));
}

#[test]
fn an_op_the_kernel_finishes_inline_is_ready_at_its_first_poll() {
    let (mut driver, _handle) = Driver::new(8).unwrap();
    let waker = TestWaker::new();
    let mut nop = driver.submit(Nop);
    assert!(matches!(poll_once(&mut nop, &waker), Poll::Ready(Ok(0))));
    assert_eq!(waker.wakes(), 0, "no wake, no second poll");

    // A read of a pipe with data waiting, too.
    let (rx, tx) = pipe();
    write_fd(&tx, b"ready");
    let mut read = driver.submit(Read::stream(rx, Vec::with_capacity(8)));
    let Poll::Ready((n, buf)) = poll_once(&mut read, &waker) else {
        panic!("a read of queued data completes inside its submission")
    };
    assert_eq!((n.unwrap(), &buf[..]), (5, &b"ready"[..]));
    assert_eq!(waker.wakes(), 0);
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

mod in_runtime;
mod park;
mod threads;
