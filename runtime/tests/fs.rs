//! Files over io_uring: round trips, the kernel's errors, metadata, many
//! concurrent reads on a small ring, futures dropped mid-flight, and use
//! outside a runtime.
//!
//! Under valgrind (3.19 keeps its big lock while a thread waits in
//! `io_uring_enter`, so a worker parked on its ring starves the thread that
//! would wake it: the multi-thread tests hang there; their names end in
//! `multi_thread`):
//!
//! ```text
//! cargo test -p runtime --test fs --no-run   # prints the test binary
//! valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
//!     --suppressions=.ci/valgrind.supp <test binary> --test-threads=1 --skip multi_thread
//! ```

mod common;

use common::pipe;
use runtime::fs::{self, File, OpenOptions};
use runtime::Builder;
use std::future::{poll_fn, Future};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

// ----- helpers -----

/// A unique path in the temp directory, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().canonicalize().unwrap();
        TempPath(dir.join(format!("runtime-fs-test-{}-{n}-{name}", std::process::id())))
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// `len` pseudo-random bytes (xorshift), different for each `seed`.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&x.to_le_bytes()[..take]);
    }
    out
}

/// Polls `fut` once, from inside a task.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// How many of this process's descriptors are open on `path`.
fn fds_open_on(path: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target == path)
        .count()
}

// ----- round trips -----

async fn round_trip_at_offsets() {
    let path = TempPath::new("round-trip");
    let file = File::create(&path).await.unwrap();

    // Out of order, with a hole in between.
    let (res, buf) = file.write_at(b"world".to_vec(), 100).await;
    assert_eq!(res.unwrap(), 5);
    assert_eq!(buf, b"world", "the buffer comes back intact");
    let (res, _) = file.write_at(String::from("hello"), 10).await;
    assert_eq!(res.unwrap(), 5);
    let (res, _) = file.write_all_at(pattern(1000, 1), 200).await;
    res.unwrap();
    file.close().await.unwrap();

    let file = File::open(&path).await.unwrap();
    let (res, buf) = file.read_at(Vec::with_capacity(5), 10).await;
    assert_eq!(res.unwrap(), 5);
    assert_eq!(buf, b"hello");
    // The hole reads as zeros.
    let (res, buf) = file.read_exact_at(vec![0xFF; 85], 15).await;
    res.unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    let (res, buf) = file.read_exact_at(Vec::with_capacity(5), 100).await;
    res.unwrap();
    assert_eq!(buf, b"world");
    let (res, buf) = file
        .read_exact_at(vec![0; 1000].into_boxed_slice(), 200)
        .await;
    res.unwrap();
    assert_eq!(&buf[..], &pattern(1000, 1)[..]);
    // A short read at the end: what is there, then 0 at the end.
    let (res, buf) = file.read_at(Vec::with_capacity(4096), 1100).await;
    assert_eq!(res.unwrap(), 100);
    assert_eq!(&buf[..], &pattern(1000, 1)[900..]);
    let (res, _) = file.read_at(Vec::with_capacity(4096), 1200).await;
    assert_eq!(res.unwrap(), 0);
    // A buffer of capacity 0 reads nothing.
    let (res, buf) = file.read_at(Vec::new(), 0).await;
    assert_eq!(res.unwrap(), 0);
    assert!(buf.is_empty());
    file.close().await.unwrap();

    // The whole file, against std's view of it.
    let whole = fs::read(&path).await.unwrap();
    assert_eq!(whole.len(), 1200);
    assert_eq!(whole, std::fs::read(&path).unwrap());

    fs::write(&path, "replaced").await.unwrap();
    assert_eq!(fs::read(&path).await.unwrap(), b"replaced");
    assert_eq!(std::fs::read(&path).unwrap(), b"replaced");
    fs::write(&path, b"").await.unwrap();
    assert_eq!(fs::read(&path).await.unwrap(), b"");
}

#[runtime::test]
async fn round_trip_current_thread() {
    round_trip_at_offsets().await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_multi_thread() {
    round_trip_at_offsets().await;
    // From tasks on the workers too, not only from the `block_on` thread.
    runtime::spawn(round_trip_at_offsets()).await.unwrap();
}

async fn large_round_trip() {
    const LEN: usize = 8 << 20;
    let path = TempPath::new("large");
    let data = pattern(LEN, 8);
    fs::write(&path, &data).await.unwrap();
    let back = fs::read(&path).await.unwrap();
    assert_eq!(back.len(), LEN);
    assert!(back == data, "8 MiB came back different");

    let file = File::open(&path).await.unwrap();
    let (res, buf) = file.read_exact_at(vec![0u8; LEN], 0).await;
    res.unwrap();
    assert!(buf == data);
    let (res, buf) = file
        .read_exact_at(Vec::with_capacity(LEN / 2), LEN as u64 / 4)
        .await;
    res.unwrap();
    assert!(buf[..] == data[LEN / 4..LEN / 4 + LEN / 2]);
    assert_eq!(file.metadata().await.unwrap().len(), LEN as u64);
}

#[runtime::test]
async fn large_file_round_trip_current_thread() {
    large_round_trip().await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_file_round_trip_multi_thread() {
    runtime::spawn(large_round_trip()).await.unwrap();
}

#[runtime::test]
async fn read_grows_past_the_size_hint() {
    // /proc files report size 0: the buffer grows as the reads go on.
    let status = fs::read("/proc/self/status").await.unwrap();
    assert!(
        status.starts_with(b"Name:"),
        "{:?}",
        String::from_utf8_lossy(&status)
    );
    assert_eq!(status.last(), Some(&b'\n'));
    // A /proc file larger than the first growth step.
    let maps = fs::read("/proc/self/maps").await.unwrap();
    assert!(maps.ends_with(b"\n"));
    assert!(maps.len() > 32);
}

// ----- short transfers: a pipe gives them -----

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_exact_at_fills_the_rest_after_short_reads_multi_thread() {
    let (reader, mut writer) = pipe();
    let data = pattern(10_000, 3);
    let sent = data.clone();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        for chunk in sent.chunks(777) {
            writer.write_all(chunk).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let file = File::from_std(reader);
    let (res, buf) = file.read_exact_at(Vec::with_capacity(10_000), 0).await;
    res.unwrap();
    assert!(buf == data, "short reads were stitched together wrongly");
    feeder.join().unwrap();
    // The writer is gone: the pipe is at its end.
    let (res, buf) = file.read_exact_at(vec![0; 10], 0).await;
    let err = res.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    assert_eq!(buf, [0; 10]);
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_all_at_writes_the_rest_after_short_writes_multi_thread() {
    let (mut reader, writer) = pipe();
    // More than the pipe holds (64 KiB): the writes come out short.
    let data = pattern(1 << 20, 4);
    let drain = std::thread::spawn(move || {
        use std::io::Read;
        let mut got = Vec::new();
        let mut chunk = [0u8; 5000];
        loop {
            match reader.read(&mut chunk).unwrap() {
                0 => return got,
                n => got.extend_from_slice(&chunk[..n]),
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let file = File::from_std(writer);
    let (res, buf) = file.write_all_at(data, 0).await;
    res.unwrap();
    file.close().await.unwrap();
    let got = drain.join().unwrap();
    assert_eq!(got.len(), buf.len());
    assert!(got == buf);
}

// ----- errors -----

#[runtime::test]
async fn errors_carry_the_kernels_kind() {
    let dir = TempPath::new("errors-dir");
    std::fs::create_dir(&dir).unwrap();
    let missing = dir.0.join("missing");

    let err = File::open(&missing).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(
        fs::read(&missing).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs::metadata(&missing).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let existing = TempPath::new("errors-existing");
    fs::write(&existing, "12345").await.unwrap();
    let err = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&existing)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));

    // Past the end of the file: UnexpectedEof, and the bytes that were there.
    let file = File::open(&existing).await.unwrap();
    let (res, buf) = file.read_exact_at(vec![0u8; 8], 2).await;
    let err = res.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    assert!(err.to_string().contains("3 of 8 bytes"), "{err}");
    assert_eq!(&buf[..3], b"345");

    // Writing to a file opened for reading only: EBADF from the kernel.
    let (res, buf) = file.write_at(b"nope".to_vec(), 0).await;
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EBADF));
    assert_eq!(buf, b"nope");
    let (res, _) = file.write_all_at(b"nope".to_vec(), 0).await;
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EBADF));
    file.close().await.unwrap();

    // And reading from a file opened for writing only.
    let file = OpenOptions::new()
        .write(true)
        .open(&existing)
        .await
        .unwrap();
    let (res, _) = file.read_at(Vec::with_capacity(4), 0).await;
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EBADF));
    drop(file);

    // A directory cannot be opened for writing.
    let err = OpenOptions::new().write(true).open(&dir).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IsADirectory);
    assert_eq!(err.raw_os_error(), Some(libc::EISDIR));
    // Reading one: the open works, the read fails with EISDIR.
    let err = fs::read(&dir).await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EISDIR));
    std::fs::remove_dir(&dir).unwrap();
}

#[runtime::test]
async fn open_options_are_checked_like_std() {
    let path = TempPath::new("options");
    fs::write(&path, "contents").await.unwrap();

    let cases: [(&str, OpenOptions); 5] = [
        ("nothing", OpenOptions::new()),
        ("truncate without write", {
            let mut o = OpenOptions::new();
            o.read(true).truncate(true);
            o
        }),
        ("create without write", {
            let mut o = OpenOptions::new();
            o.read(true).create(true);
            o
        }),
        ("create_new without write", {
            let mut o = OpenOptions::new();
            o.read(true).create_new(true);
            o
        }),
        ("append and truncate", {
            let mut o = OpenOptions::new();
            o.append(true).truncate(true);
            o
        }),
    ];
    for (what, options) in cases {
        let ours = options.open(&path).await.map(drop).unwrap_err();
        assert_eq!(ours.kind(), ErrorKind::InvalidInput, "{what}: {ours}");
        // std agrees.
        let mut std_options = std::fs::OpenOptions::new();
        match what {
            "nothing" => {}
            "truncate without write" => {
                std_options.read(true).truncate(true);
            }
            "create without write" => {
                std_options.read(true).create(true);
            }
            "create_new without write" => {
                std_options.read(true).create_new(true);
            }
            _ => {
                std_options.append(true).truncate(true);
            }
        }
        let theirs = std_options.open(&path).unwrap_err();
        assert_eq!(theirs.kind(), ours.kind(), "{what}");
    }
    assert_eq!(
        fs::read(&path).await.unwrap(),
        b"contents",
        "nothing was truncated"
    );

    // A NUL in the path.
    let err = File::open("bad\0path").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // write without truncate keeps the rest; create on an existing file
    // opens it.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .open(&path)
        .await
        .unwrap();
    file.write_all_at(b"CON".to_vec(), 0).await.0.unwrap();
    file.close().await.unwrap();
    assert_eq!(fs::read(&path).await.unwrap(), b"CONtents");

    // append writes at the end whatever the offset.
    let file = OpenOptions::new().append(true).open(&path).await.unwrap();
    file.write_all_at(b"!".to_vec(), 0).await.0.unwrap();
    file.close().await.unwrap();
    assert_eq!(fs::read(&path).await.unwrap(), b"CONtents!");

    // truncate empties it; read + write on one file.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .await
        .unwrap();
    assert_eq!(file.metadata().await.unwrap().len(), 0);
    file.write_all_at(b"new".to_vec(), 0).await.0.unwrap();
    let (res, buf) = file.read_at(Vec::with_capacity(10), 0).await;
    assert_eq!(res.unwrap(), 3);
    assert_eq!(buf, b"new");
    file.close().await.unwrap();

    // The descriptors are close-on-exec.
    let file = File::open(&path).await.unwrap();
    // SAFETY: F_GETFD on a descriptor the file owns changes nothing.
    let fd_flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
}

// ----- metadata, sync, close -----

async fn metadata_sync_close() {
    let path = TempPath::new("metadata");
    let before = SystemTime::now() - Duration::from_secs(5);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .await
        .unwrap();
    file.write_all_at(pattern(12_345, 5), 0).await.0.unwrap();
    file.sync_all().await.unwrap();
    file.write_all_at(b"more".to_vec(), 12_345).await.0.unwrap();
    file.sync_data().await.unwrap();

    let metadata = file.metadata().await.unwrap();
    assert_eq!(metadata.len(), 12_349);
    assert!(!metadata.is_empty());
    assert!(metadata.is_file());
    assert!(!metadata.is_dir());
    assert!(!metadata.is_symlink());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert_eq!(metadata.mode() & 0o777, 0o600);
    assert!(!metadata.permissions().readonly());
    let modified = metadata.modified().unwrap();
    assert!(modified >= before && modified <= SystemTime::now() + Duration::from_secs(5));
    metadata.accessed().unwrap();
    assert!(metadata.nlink() >= 1);

    // Against std's view of the same file.
    let std_metadata = std::fs::metadata(&path).unwrap();
    assert_eq!(metadata.len(), std_metadata.len());
    assert_eq!(
        metadata.modified().unwrap(),
        std_metadata.modified().unwrap()
    );
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(metadata.ino(), std_metadata.ino());
        assert_eq!(metadata.dev(), std_metadata.dev());
        assert_eq!(metadata.mode(), std_metadata.mode());
        assert_eq!(metadata.uid(), std_metadata.uid());
    }
    assert_eq!(fs::metadata(&path).await.unwrap().ino(), metadata.ino());
    assert!(format!("{metadata:?}").contains("len: 12349"));

    file.close().await.unwrap();

    let dir = fs::metadata(std::env::temp_dir()).await.unwrap();
    assert!(dir.is_dir());
    assert!(!dir.is_file());
}

#[runtime::test]
async fn metadata_sync_and_close_current_thread() {
    metadata_sync_close().await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_sync_and_close_multi_thread() {
    runtime::spawn(metadata_sync_close()).await.unwrap();
}

#[runtime::test]
async fn close_releases_the_descriptor() {
    let path = TempPath::new("close");
    fs::write(&path, "x").await.unwrap();
    let file = File::open(&path).await.unwrap();
    assert_eq!(fds_open_on(&path.0), 1);
    file.close().await.unwrap();
    assert_eq!(fds_open_on(&path.0), 0);

    let file = File::open(&path).await.unwrap();
    drop(file);
    assert_eq!(fds_open_on(&path.0), 0, "drop closes too");
}

// ----- concurrency -----

/// 4096 concurrent 4 KiB reads of one file, each from its own task, on
/// rings of 64 entries: every one completes with its own block.
fn concurrent_reads(mut builder: Builder) {
    const BLOCKS: usize = 4096;
    const BLOCK: usize = 4096;
    let rt = builder.ring_entries(64).build().unwrap();
    let path = TempPath::new("concurrent");
    let data = Arc::new(pattern(BLOCKS * BLOCK, 6));
    std::fs::write(&path, &*data).unwrap();

    rt.block_on(async {
        let file = Arc::new(File::open(&path).await.unwrap());
        let started = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::with_capacity(BLOCKS);
        for i in 0..BLOCKS {
            let (file, data, started) = (file.clone(), data.clone(), started.clone());
            tasks.push(runtime::spawn(async move {
                started.fetch_add(1, Ordering::Relaxed);
                let offset = (i * BLOCK) as u64;
                let (res, buf) = file.read_at(Vec::with_capacity(BLOCK), offset).await;
                assert_eq!(res.unwrap(), BLOCK, "block {i}");
                assert!(
                    buf[..] == data[i * BLOCK..(i + 1) * BLOCK],
                    "block {i} is wrong"
                );
                i
            }));
        }
        let mut done = 0;
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), i);
            done += 1;
        }
        assert_eq!(done, BLOCKS);
        assert_eq!(started.load(Ordering::Relaxed), BLOCKS);
    });
}

#[test]
fn concurrent_reads_4096_on_a_64_entry_ring_multi_thread() {
    let mut builder = Builder::new_multi_thread();
    builder.worker_threads(2);
    concurrent_reads(builder);
}

#[test]
fn concurrent_reads_4096_on_a_64_entry_ring_current_thread() {
    concurrent_reads(Builder::new_current_thread());
}

#[test]
fn concurrent_reads_4096_joined_in_one_task_multi_thread() {
    // All 4096 in flight from one future at once, not one per task.
    const BLOCKS: usize = 4096;
    const BLOCK: usize = 4096;
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .ring_entries(64)
        .build()
        .unwrap();
    let path = TempPath::new("joined");
    let data = pattern(BLOCKS * BLOCK, 7);
    std::fs::write(&path, &data).unwrap();
    rt.block_on(async {
        let file = File::open(&path).await.unwrap();
        let reads = (0..BLOCKS).map(|i| {
            let file = &file;
            async move {
                let (res, buf) = file
                    .read_at(Vec::with_capacity(BLOCK), (i * BLOCK) as u64)
                    .await;
                assert_eq!(res.unwrap(), BLOCK);
                (i, buf)
            }
        });
        let results = futures_util::future::join_all(reads).await;
        for (i, buf) in results {
            assert!(buf[..] == data[i * BLOCK..(i + 1) * BLOCK], "block {i}");
        }
    });
}

// ----- futures dropped mid-flight -----

async fn drop_mid_flight(path: PathBuf, data: Arc<Vec<u8>>) {
    let file = File::open(&path).await.unwrap();

    // A timeout of zero: the read is started, then dropped.
    for _ in 0..20 {
        let read = file.read_at(Vec::with_capacity(data.len()), 0);
        let res = runtime::time::timeout(Duration::ZERO, read).await;
        if let Ok((res, buf)) = res {
            // Finished before the timer fired: then it is complete.
            assert_eq!(res.unwrap(), data.len());
            assert!(buf[..] == data[..]);
        }
    }

    // Polled once (submitted), then dropped; and polled once, left to
    // complete unobserved, then dropped.
    for round in 0..50 {
        let mut read = Box::pin(file.read_exact_at(vec![0u8; data.len()], 0));
        if poll_once(&mut read).await.is_pending() {
            if round % 2 == 1 {
                runtime::time::sleep(Duration::from_millis(1)).await;
            }
            drop(read);
        }
    }
    // Several at once, from other tasks, dropped with their task.
    let file = Arc::new(file);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let file = file.clone();
        let len = data.len();
        tasks.push(runtime::spawn(async move {
            let _ = file.read_at(Vec::with_capacity(len), 0).await;
        }));
    }
    for task in &tasks {
        task.cancel();
    }
    for task in tasks {
        let _ = task.await;
    }

    // The runtime is healthy and the file reads back whole.
    let (res, buf) = file.read_exact_at(Vec::with_capacity(data.len()), 0).await;
    res.unwrap();
    assert!(buf[..] == data[..]);
    assert!(fs::read(&path).await.unwrap() == *data);
    assert_eq!(runtime::spawn(async { 7 }).await.unwrap(), 7);
}

fn reads_dropped_mid_flight(mut builder: Builder) {
    let path = TempPath::new("dropped");
    let data = Arc::new(pattern(4 << 20, 9));
    std::fs::write(&path, &*data).unwrap();
    let rt = builder.worker_threads(2).build().unwrap();
    rt.block_on(drop_mid_flight(path.0.clone(), data.clone()));
    let task = rt.spawn(drop_mid_flight(path.0.clone(), data.clone()));
    rt.block_on(task).unwrap();
    drop(rt);
    assert_eq!(fds_open_on(&path.0), 0, "dropped ops let the file go");
}

#[test]
fn a_read_dropped_mid_flight_leaves_the_runtime_healthy_current_thread() {
    reads_dropped_mid_flight(Builder::new_current_thread());
}

#[test]
fn a_read_dropped_mid_flight_leaves_the_runtime_healthy_multi_thread() {
    reads_dropped_mid_flight(Builder::new_multi_thread());
}

fn opens_dropped_mid_flight(mut builder: Builder) {
    let path = TempPath::new("dropped-open");
    std::fs::write(&path, "x").unwrap();
    let rt = builder.worker_threads(2).build().unwrap();
    rt.block_on(async {
        for round in 0..200 {
            let mut open = Box::pin(File::open(&path));
            match poll_once(&mut open).await {
                Poll::Ready(file) => drop(file.unwrap()),
                Poll::Pending => {
                    if round % 2 == 1 {
                        // Completes (the kernel opens the file) while
                        // nobody polls it.
                        runtime::time::sleep(Duration::from_millis(1)).await;
                    }
                    drop(open);
                }
            }
        }
        // The drops' cancels and completions are reaped.
        runtime::time::sleep(Duration::from_millis(20)).await;
    });
    drop(rt);
    assert_eq!(
        fds_open_on(&path.0),
        0,
        "an open whose future was dropped leaked its descriptor"
    );
}

#[test]
fn dropped_opens_do_not_leak_descriptors_current_thread() {
    opens_dropped_mid_flight(Builder::new_current_thread());
}

#[test]
fn dropped_opens_do_not_leak_descriptors_multi_thread() {
    opens_dropped_mid_flight(Builder::new_multi_thread());
}

#[test]
fn file_ops_outlive_a_dropped_file() {
    // The read holds the descriptor: dropping the `File` (or closing it)
    // while a read is in flight neither breaks the read nor leaks the fd.
    let path = TempPath::new("outlive");
    let data = pattern(1 << 20, 10);
    std::fs::write(&path, &data).unwrap();
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let file = File::open(&path).await.unwrap();
        let mut read = Box::pin(file.read_at(Vec::with_capacity(data.len()), 0));
        // The read may be in flight or, from the page cache, finished
        // already (inside its submission on a ring, on the pool thread on
        // the epoll driver): dropping it must be fine either way.
        let _ = poll_once(&mut read).await;
        drop(read);
        file.close().await.unwrap();
        runtime::time::sleep(Duration::from_millis(20)).await;
    });
    drop(rt);
    assert_eq!(fds_open_on(&path.0), 0);
}

// ----- outside a runtime -----

#[test]
fn outside_a_runtime_it_is_an_error_not_a_panic() {
    let path = TempPath::new("outside");
    std::fs::write(&path, "x").unwrap();
    let mut cx = Context::from_waker(Waker::noop());

    let read = pin!(fs::read(&path));
    let Poll::Ready(res) = read.poll(&mut cx) else {
        panic!("fs::read outside a runtime should fail at once");
    };
    let err = res.unwrap_err();
    assert!(
        err.to_string().contains("outside of a runtime"),
        "unclear message: {err}"
    );

    let write = pin!(fs::write(&path, "y"));
    let Poll::Ready(res) = write.poll(&mut cx) else {
        panic!("fs::write outside a runtime should fail at once");
    };
    assert!(res
        .unwrap_err()
        .to_string()
        .contains("outside of a runtime"));

    // The buffer comes back with the error.
    let file = File::from_std(std::fs::File::open(&path).unwrap());
    {
        let read = pin!(file.read_at(b"kept".to_vec(), 0));
        let Poll::Ready((res, buf)) = read.poll(&mut cx) else {
            panic!("read_at outside a runtime should fail at once");
        };
        assert!(res
            .unwrap_err()
            .to_string()
            .contains("outside of a runtime"));
        assert_eq!(buf, b"kept");
    }

    // Closing still closes (synchronously).
    let close = pin!(file.close());
    assert!(matches!(close.poll(&mut cx), Poll::Ready(Ok(()))));
    assert_eq!(fds_open_on(&path.0), 0);
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_reaped_while_parking_wakes_its_task_multi_thread() {
    // The task busies its worker, then submits to that worker's ring and
    // waits: the worker reaps the completion inside its park, which queues
    // the task on that same worker; the worker must not go back to sleep.
    runtime::spawn(async {
        for _ in 0..5 {
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(50) {
                std::hint::spin_loop();
            }
            let metadata = fs::metadata("/").await.unwrap();
            assert!(metadata.is_dir());
        }
    })
    .await
    .unwrap();
}

/// Defect found by stress tests: the kernel reads offset `u64::MAX` (-1)
/// as "the file's cursor", so `read_at(buf, u64::MAX)` read and
/// `write_at(.., u64::MAX)` wrote at the cursor. Every offset past
/// `i64::MAX` is `InvalidInput` now, on both drivers, the buffer handed
/// back and the file untouched.
#[test]
fn offsets_the_kernel_would_read_as_the_cursor_are_invalid_input() {
    for driver in [runtime::IoDriver::IoUring, runtime::IoDriver::Epoll] {
        let rt = Builder::new_current_thread()
            .io_driver(driver)
            .build()
            .unwrap();
        rt.block_on(async {
            let path = TempPath::new("offset-past-i64");
            std::fs::write(&path.0, b"0123456789").unwrap();
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path.0)
                .await
                .unwrap();
            for pos in [u64::MAX, i64::MAX as u64 + 1] {
                let (res, buf) = file.read_at(Vec::with_capacity(4), pos).await;
                let err = res.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidInput, "{driver:?}: {err}");
                assert!(err.to_string().contains("i64::MAX"), "{err}");
                assert_eq!(buf.capacity(), 4, "the buffer comes back");

                let (res, buf) = file.write_at(b"XY".to_vec(), pos).await;
                assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
                assert_eq!(buf, b"XY");

                let (res, _) = file.read_exact_at(vec![0; 2], pos).await;
                assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
                let (res, _) = file.write_all_at(b"XY".to_vec(), pos).await;
                assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
            }
            // Nothing was read from or written at the cursor.
            assert_eq!(std::fs::read(&path.0).unwrap(), b"0123456789");
            // A large offset below the limit is the kernel's to judge: far
            // past the end, a read finds nothing.
            let (res, _) = file.read_at(Vec::with_capacity(4), 1 << 40).await;
            assert_eq!(res.unwrap(), 0);
        });
    }
}
