//! Helpers shared by the integration tests that count descriptors or need
//! a pipe. Each test binary uses some of them.
#![allow(dead_code)]

/// The open descriptors, with what they point to (for the message).
pub fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            // The directory's own descriptor is gone by now.
            let target = std::fs::read_link(entry.path()).ok()?;
            Some(format!(
                "{} -> {}",
                entry.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .collect();
    fds.sort();
    fds
}

/// A pipe: (read end, write end), both close-on-exec.
pub fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 succeeded: both descriptors are new and owned by nobody
    // else.
    unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    }
}

/// The I/O drivers this machine can run: epoll always, io_uring where the
/// kernel allows it.
pub fn drivers() -> Vec<runtime::IoDriver> {
    let mut drivers = vec![runtime::IoDriver::Epoll];
    if runtime::Builder::new_current_thread()
        .io_driver(runtime::IoDriver::IoUring)
        .build()
        .is_ok()
    {
        drivers.push(runtime::IoDriver::IoUring);
    } else {
        eprintln!("io_uring cannot be set up here: epoll only");
    }
    drivers
}

/// Runs the future `body()` makes on each driver, on a current_thread and
/// a two-worker multi_thread runtime, each under a watchdog of `limit`.
pub fn on_each_runtime<F, Fut>(limit: std::time::Duration, body: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    for driver in drivers() {
        for multi in [false, true] {
            let mut builder = if multi {
                let mut builder = runtime::Builder::new_multi_thread();
                builder.worker_threads(2);
                builder
            } else {
                runtime::Builder::new_current_thread()
            };
            let rt = builder.io_driver(driver).build().unwrap();
            let what = format!("{driver:?}, multi_thread: {multi}");
            let fut = body();
            rt.block_on(async move {
                if runtime::time::timeout(limit, fut).await.is_err() {
                    panic!("{what}: not done within {limit:?}");
                }
            });
        }
    }
}
