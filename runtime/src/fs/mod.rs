//! Files, read and written without blocking a worker.
//!
//! On the io_uring driver, opening, reading, writing, syncing, inspecting
//! and closing a file are each one io_uring operation: no worker thread
//! blocks on the disk and no blocking-pool thread is needed; the kernel
//! does the work and the task is woken when it is done. On the epoll driver
//! (`IoDriver::Epoll`, or `Auto` where io_uring cannot be set up) the same
//! calls run as plain system calls on the blocking pool, as tokio does for
//! all file I/O: the same types and results, a pool thread per call in
//! flight (up to `max_blocking_threads`).
//!
//! * [`File`]: an open file, with positional [`read_at`](File::read_at) /
//!   [`write_at`](File::write_at) (and their looping `read_exact_at` /
//!   `write_all_at`), `sync_all`, `sync_data`, `metadata` and an explicit
//!   `close`.
//! * [`OpenOptions`]: how to open it, as in `std`.
//! * [`read()`], [`write()`], [`metadata()`]: a whole file in one call.
//!
//! Buffers are passed by value and handed back with the result (see
//! [`BufResult`](crate::io::BufResult)): the kernel writes into or reads from
//! them after the call has started, so it has to own them until it is done —
//! even if the future is dropped half-way, in which case the operation is
//! cancelled and the buffer freed once the kernel lets go of it.
//!
//! These functions need a runtime (either driver); outside one they fail
//! with an error (they never panic).
//!
//! # Examples
//!
//! ```
//! use runtime::fs::{self, File};
//!
//! #[runtime::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let path = std::env::temp_dir().join(format!("runtime-doc-fs-{}", std::process::id()));
//!
//!     fs::write(&path, "some bytes").await?;
//!     assert_eq!(fs::read(&path).await?, b"some bytes");
//!
//!     let file = File::open(&path).await?;
//!     let (res, buf) = file.read_exact_at(vec![0; 5], 5).await;
//!     res?;
//!     assert_eq!(buf, b"bytes");
//!     file.close().await?;
//!     # std::fs::remove_file(&path)?;
//!     Ok(())
//! }
//! ```

mod file;
mod metadata;
mod open_options;
mod ops;

pub use self::file::File;
pub use self::metadata::Metadata;
pub use self::open_options::OpenOptions;

use self::ops::Statx;
use crate::driver::run;
use crate::driver::Slice;
use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Reads a whole file into a `Vec`, like `std::fs::read`.
///
/// The file's size, if it reports one, sizes the buffer up front; the
/// reading goes on until a read returns 0, so files that grow, or report
/// no size (`/proc`), are read whole too.
///
/// # Errors
///
/// Those of opening and reading the file (`NotFound`, `PermissionDenied`,
/// `IsADirectory` ...); and an error outside a runtime.
///
/// # Examples
///
/// ```
/// # runtime::Runtime::new()?.block_on(async {
/// let path = std::env::temp_dir().join(format!("runtime-doc-read-{}", std::process::id()));
/// std::fs::write(&path, b"contents")?;
///
/// let bytes = runtime::fs::read(&path).await?;
/// assert_eq!(bytes, b"contents");
///
/// let err = runtime::fs::read("/no/such/file").await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    /// Growth when the buffer is full and the file goes on.
    const MIN_GROWTH: usize = 8 * 1024;
    /// A small read that tells, when the buffer is exactly full, whether
    /// the file has ended.
    const PROBE: usize = 32;

    let file = File::open(path).await?;
    let hint = match file.metadata().await {
        Ok(metadata) => usize::try_from(metadata.len()).unwrap_or(usize::MAX),
        Err(_) => 0,
    };
    let mut buf = Vec::new();
    buf.try_reserve_exact(hint).map_err(out_of_memory)?;
    let mut pos = 0u64;
    loop {
        if buf.len() == buf.capacity() {
            let (res, probe) = file.read_at(Vec::with_capacity(PROBE), pos).await;
            match res {
                Ok(0) => break,
                Ok(n) => {
                    buf.try_reserve(buf.len().max(MIN_GROWTH))
                        .map_err(out_of_memory)?;
                    buf.extend_from_slice(&probe[..n]);
                    pos += n as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
            continue;
        }
        let (len, capacity) = (buf.len(), buf.capacity());
        let (res, slice) = file.read_at(Slice::new(buf, len, capacity), pos).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => break,
            Ok(n) => pos += n as u64,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    // Closing a file that was only read reports nothing worth waiting for:
    // the drop closes it.
    drop(file);
    Ok(buf)
}

/// Writes `contents` as the whole of a file, creating it if it does not
/// exist and truncating it if it does, like `std::fs::write`; closes it and
/// reports the close's error too.
///
/// The bytes are copied into a buffer the kernel owns while it writes.
///
/// # Errors
///
/// Those of creating, writing and closing the file; and an error outside a
/// runtime.
///
/// # Examples
///
/// ```
/// # runtime::Runtime::new()?.block_on(async {
/// let path = std::env::temp_dir().join(format!("runtime-doc-write-{}", std::process::id()));
///
/// runtime::fs::write(&path, b"first").await?;
/// runtime::fs::write(&path, String::from("second")).await?;
/// assert_eq!(std::fs::read(&path)?, b"second");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let buf = contents.as_ref().to_vec();
    let file = File::create(path).await?;
    file.write_all_at(buf, 0).await.0?;
    file.close().await
}

/// The [`Metadata`] of what `path` names, following symlinks
/// (`statx(2)`), like `std::fs::metadata`.
///
/// # Errors
///
/// The kernel's (`NotFound`, `PermissionDenied`, ...), `InvalidInput` for a
/// path with a NUL byte; and an error outside a runtime.
///
/// # Examples
///
/// ```
/// # runtime::Runtime::new()?.block_on(async {
/// let metadata = runtime::fs::metadata(std::env::temp_dir()).await?;
/// assert!(metadata.is_dir());
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = cstring(path.as_ref())?;
    run(Statx::<OwnedFd>::path(path)).await
}

/// `path` as the kernel takes it; `InvalidInput` (as std says it) if it
/// holds a NUL byte.
fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "file name contained an unexpected NUL byte",
        )
    })
}

fn out_of_memory(err: std::collections::TryReserveError) -> io::Error {
    io::Error::new(io::ErrorKind::OutOfMemory, err)
}
