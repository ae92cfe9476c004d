//! The driver across threads: ops submitted through handles, moved to and
//! dropped on other threads, and many threads at once on small rings.

use super::*;

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
    // Not asserted: how many eventfd reads completed (`stats.wakeups`);
    // with capped waits (valgrind) the commands can be drained first. That
    // the ops arrived and ran is the contract.
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
    // Not asserted: that the eventfd read completed (`stats.wakeups`). With
    // ring waits capped (valgrind) the capped park can drain the cancel
    // before the wake-up's read is reaped; what the contract promises is
    // above: the cancel arrives, the buffer outlives the kernel, and the
    // dropped op's waker is never woken.
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
    let (mut driver, handle) = Driver::new(64).unwrap();
    let tmp = TempFile::new();
    let contents: Vec<u8> = (0..OPS as u64).flat_map(u64::to_le_bytes).collect();
    (&*tmp.file).write_all(&contents).unwrap();

    // Through the command queue, as from another thread: the driver takes
    // all 4096 at its next park, more than its SQ holds, and the kernel
    // finishes them faster than a CQ of 128 is reaped. (The owner's own
    // `submit` hands each SQE over at once and so never fills either.)
    let ops: Vec<_> = (0..OPS)
        .map(|i| {
            let buf = Vec::with_capacity(8);
            handle.submit(Read::at(tmp.file.clone(), buf, (i * 8) as u64))
        })
        .collect();
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
