//! Parking and shutdown: bounded and unbounded parks, unparks that come
//! early, and rings shut down or dropped with ops in flight.

use super::*;

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
