//! An idle runtime sleeps: nothing busy-waits. Its own test binary, so that
//! no other test's CPU time is counted.

use std::time::Duration;

/// CPU time (user + system) used by this whole process so far.
fn process_cpu_time() -> Duration {
    // SAFETY: `rusage` is plain old data; zeroed is a valid value and
    // getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage struct owned by this frame.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(
        rc,
        0,
        "getrusage failed: {}",
        std::io::Error::last_os_error()
    );
    let to_duration = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
    };
    to_duration(usage.ru_utime) + to_duration(usage.ru_stime)
}

#[test]
fn an_idle_multi_thread_runtime_uses_almost_no_cpu() {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    // Some work first, so the workers have been busy and then went idle;
    // a few tasks stay parked on futures that never wake.
    rt.block_on(async {
        for _ in 0..1000 {
            runtime::spawn(async {}).await.unwrap();
        }
    });
    let parked: Vec<_> = (0..10)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    std::thread::sleep(Duration::from_millis(200));

    let before = process_cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let used = process_cpu_time() - before;
    // Under 1% of one core over 2 s.
    assert!(
        used < Duration::from_millis(20),
        "idle runtime used {used:?} of CPU in 2 s"
    );
    assert!(parked.iter().all(|h| !h.is_finished()));
    let metrics = rt.metrics();
    let parks: u64 = (0..2).map(|i| metrics.worker(i).parks).sum();
    assert!(parks >= 2, "workers never parked");
}
