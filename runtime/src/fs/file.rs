//! [`File`] and [`OpenOptions`].

use super::ops::{Close, Fsync, Statx};
use super::Metadata;
use super::OpenOptions;
use crate::driver::Slice;
use crate::driver::{self, run, BufResult, IoBuf, IoBufMut, Read, Write};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;

/// An open file, read and written through io_uring at explicit offsets.
///
/// Reads and writes take their buffer by value and give it back with the
/// result (a [`BufResult`]): the kernel uses the buffer after the call has
/// returned, so it must own it. There is no file position: every transfer
/// names its offset, as with `pread(2)`/`pwrite(2)`, so one `File` can serve
/// many concurrent operations (`&self`), from many tasks if shared in an
/// `Arc`.
///
/// The descriptor is closed by [`close`](File::close), which reports the
/// kernel's verdict, or else when the `File` is dropped (synchronously,
/// errors ignored, as `std::fs::File` does). An operation still in flight
/// (its future was dropped, the kernel not yet done) keeps the descriptor
/// open until it completes.
///
/// I/O needs a runtime with the io_uring driver: outside one, every
/// operation fails with an error (never a panic).
///
/// # Examples
///
/// ```
/// use runtime::fs::File;
///
/// # runtime::Runtime::new()?.block_on(async {
/// let path = std::env::temp_dir().join(format!("runtime-doc-file-{}", std::process::id()));
///
/// let file = File::create(&path).await?;
/// let (res, _buf) = file.write_all_at(b"hello, world".to_vec(), 0).await;
/// res?;
/// file.close().await?;
///
/// let file = File::open(&path).await?;
/// let (res, buf) = file.read_at(Vec::with_capacity(5), 7).await;
/// assert_eq!(res?, 5);
/// assert_eq!(buf, b"world");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    /// Shared with every op in flight on the file, so the descriptor
    /// outlives them all.
    fd: Arc<OwnedFd>,
}

impl File {
    /// Opens a file for reading, like `std::fs::File::open`.
    ///
    /// # Errors
    ///
    /// The kernel's: `NotFound` if the file does not exist,
    /// `PermissionDenied`, ...; and an error outside a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-open-{}", std::process::id()));
    /// std::fs::write(&path, b"data")?;
    ///
    /// let file = File::open(&path).await?;
    /// assert_eq!(file.metadata().await?.len(), 4);
    ///
    /// let missing = File::open("/this/file/does/not/exist").await;
    /// assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file for writing, creating it if it does not exist and
    /// truncating it if it does, like `std::fs::File::create`.
    ///
    /// # Errors
    ///
    /// The kernel's (`NotFound` for a missing directory,
    /// `PermissionDenied`, `IsADirectory`, ...); and an error outside a
    /// runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-create-{}", std::process::id()));
    /// let file = File::create(&path).await?;
    /// assert_eq!(file.metadata().await?.len(), 0);
    /// file.close().await?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// A new [`OpenOptions`], to open a file in another way.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-options-fn-{}", std::process::id()));
    /// let file = File::options().write(true).create_new(true).open(&path).await?;
    /// file.close().await?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Takes over an open `std` file.
    ///
    /// # Examples
    ///
    /// ```
    /// # runtime::Runtime::new()?.block_on(async {
    /// let std_file = std::fs::File::open("/proc/self/stat")?;
    /// let file = runtime::fs::File::from_std(std_file);
    /// let (res, buf) = file.read_at(Vec::with_capacity(64), 0).await;
    /// assert!(res? > 0);
    /// assert!(!buf.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(file: std::fs::File) -> File {
        File::from_fd(OwnedFd::from(file))
    }

    /// A `File` over a descriptor this process owns (an open's result).
    pub(super) fn from_fd(fd: OwnedFd) -> File {
        File { fd: Arc::new(fd) }
    }

    /// Reads into `buf` from offset `pos` of the file, as `pread(2)` does.
    ///
    /// The bytes land at the start of `buf`, which may receive up to its
    /// capacity ([`IoBuf::bytes_total`]; for a `Vec`, `capacity()`, and its
    /// length becomes at least the number of bytes read). Resolves to the
    /// number of bytes read — 0 at the end of the file (or for a buffer of
    /// capacity 0), possibly fewer than asked — and the buffer.
    ///
    /// Dropping the future cancels the read. On a regular file nothing is
    /// lost (the read is positional: read again). On a pipe, FIFO or
    /// character device, which have no positions, bytes the kernel had
    /// already read into the buffer by then are lost with it, as for
    /// [`TcpStream::read`](crate::net::TcpStream::read).
    ///
    /// # Errors
    ///
    /// The kernel's (`EBADF` if the file is not open for reading, ...);
    /// `InvalidInput` for a `pos` past `i64::MAX` (the kernel would read
    /// `u64::MAX`, i.e. -1, as "the file's current position"); and an error
    /// outside a runtime. The buffer comes back either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-read-at-{}", std::process::id()));
    /// std::fs::write(&path, b"0123456789")?;
    ///
    /// let file = File::open(&path).await?;
    /// let (res, buf) = file.read_at(Vec::with_capacity(4), 3).await;
    /// assert_eq!(res?, 4);
    /// assert_eq!(buf, b"3456");
    ///
    /// // At the end of the file: 0 bytes.
    /// let (res, _buf) = file.read_at(buf, 10).await;
    /// assert_eq!(res?, 0);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn read_at<B: IoBufMut + Send>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        if let Err(err) = check_offset(pos) {
            return (Err(err), buf);
        }
        run(Read::at(self.fd.clone(), buf, pos)).await
    }

    /// Writes `buf`'s initialized bytes ([`IoBuf::bytes_init`]; a `Vec`'s
    /// length) at offset `pos` of the file, as `pwrite(2)` does (on a file
    /// opened with [`append`](OpenOptions::append), Linux writes at the end
    /// whatever `pos` says). Resolves to the number of bytes written —
    /// possibly fewer than offered — and the buffer.
    ///
    /// # Errors
    ///
    /// The kernel's (`EBADF` if the file is not open for writing, `ENOSPC`,
    /// ...); `InvalidInput` for a `pos` past `i64::MAX` (as for
    /// [`read_at`](File::read_at)); and an error outside a runtime. The
    /// buffer comes back either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-write-at-{}", std::process::id()));
    ///
    /// let file = File::create(&path).await?;
    /// let (res, _) = file.write_at("world", 6).await;
    /// assert_eq!(res?, 5);
    /// let (res, _) = file.write_at("hello ", 0).await;
    /// assert_eq!(res?, 6);
    /// file.close().await?;
    /// assert_eq!(std::fs::read(&path)?, b"hello world");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn write_at<B: IoBuf + Send>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        if let Err(err) = check_offset(pos) {
            return (Err(err), buf);
        }
        run(Write::at(self.fd.clone(), buf, pos)).await
    }

    /// Fills `buf` entirely ([`IoBuf::bytes_total`] bytes; a `Vec`'s
    /// capacity) from offset `pos` of the file, reading again after short
    /// reads.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first (the bytes that were there
    /// are in the buffer); otherwise the first error of a read (a read
    /// interrupted by a signal is retried). The buffer comes back either
    /// way.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-read-exact-{}", std::process::id()));
    /// std::fs::write(&path, b"0123456789")?;
    ///
    /// let file = File::open(&path).await?;
    /// let (res, buf) = file.read_exact_at(vec![0; 6], 2).await;
    /// res?;
    /// assert_eq!(buf, b"234567");
    ///
    /// let (res, _) = file.read_exact_at(vec![0; 6], 8).await;
    /// assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn read_exact_at<B: IoBufMut + Send>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut filled = 0;
        let mut buf = buf;
        while filled < total {
            let Some(at) = offset(pos, filled) else {
                return (Err(offset_overflow()), buf);
            };
            let (res, slice) = self.read_at(Slice::new(buf, filled, total), at).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let err = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "failed to fill the whole buffer: the file ended after \
                             {filled} of {total} bytes (read from offset {pos})"
                        ),
                    );
                    return (Err(err), buf);
                }
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return (Err(err), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes all of `buf`'s initialized bytes at offset `pos`, writing
    /// again after short writes.
    ///
    /// # Errors
    ///
    /// `WriteZero` if a write accepted no byte; otherwise the first error
    /// of a write (a write interrupted by a signal is retried). The buffer
    /// comes back either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-write-all-{}", std::process::id()));
    ///
    /// let file = File::create(&path).await?;
    /// let (res, buf) = file.write_all_at(vec![7u8; 100_000], 0).await;
    /// res?;
    /// assert_eq!(buf.len(), 100_000);
    /// assert_eq!(file.metadata().await?.len(), 100_000);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn write_all_at<B: IoBuf + Send>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut written = 0;
        let mut buf = buf;
        while written < total {
            let Some(at) = offset(pos, written) else {
                return (Err(offset_overflow()), buf);
            };
            let (res, slice) = self.write_at(Slice::new(buf, written, total), at).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let err = io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!(
                            "failed to write the whole buffer: a write took no byte after \
                             {written} of {total} bytes (written at offset {pos})"
                        ),
                    );
                    return (Err(err), buf);
                }
                Ok(n) => written += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return (Err(err), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Flushes the file's data and metadata to the device (`fsync(2)`).
    ///
    /// # Errors
    ///
    /// The kernel's (`EIO`, ...); and an error outside a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-sync-all-{}", std::process::id()));
    /// let file = File::create(&path).await?;
    /// file.write_all_at(b"durable".to_vec(), 0).await.0?;
    /// file.sync_all().await?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn sync_all(&self) -> io::Result<()> {
        run(Fsync::new(self.fd.clone(), false)).await
    }

    /// Flushes the file's data to the device, and only the metadata needed
    /// to read it back (`fdatasync(2)`).
    ///
    /// # Errors
    ///
    /// The kernel's (`EIO`, ...); and an error outside a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-sync-data-{}", std::process::id()));
    /// let file = File::create(&path).await?;
    /// file.write_all_at(b"durable".to_vec(), 0).await.0?;
    /// file.sync_data().await?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn sync_data(&self) -> io::Result<()> {
        run(Fsync::new(self.fd.clone(), true)).await
    }

    /// The file's [`Metadata`] (`statx(2)` on the descriptor).
    ///
    /// # Errors
    ///
    /// The kernel's; and an error outside a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-file-meta-{}", std::process::id()));
    /// let file = File::create(&path).await?;
    /// file.write_all_at(b"abc".to_vec(), 0).await.0?;
    /// let metadata = file.metadata().await?;
    /// assert_eq!(metadata.len(), 3);
    /// assert!(metadata.is_file());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        run(Statx::fd(self.fd.clone())).await
    }

    /// Closes the file and reports the kernel's verdict (a failed
    /// write-back on some file systems shows up only here).
    ///
    /// If an operation on the file is still in flight (its future was
    /// dropped before the kernel finished), the descriptor is closed when
    /// that operation completes instead, and this returns `Ok(())`.
    ///
    /// # Errors
    ///
    /// The kernel's. Outside a runtime the descriptor is closed
    /// synchronously and the result of that reported.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::File;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-close-{}", std::process::id()));
    /// let file = File::create(&path).await?;
    /// file.close().await?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn close(self) -> io::Result<()> {
        let Ok(fd) = Arc::try_unwrap(self.fd) else {
            // The ops still in flight hold the other references; the last
            // one closes the descriptor.
            return Ok(());
        };
        match driver::try_submit(Close::new(fd)) {
            Ok(op) => op.await,
            // No ring to close it on: close it here.
            Err((_err, close)) => close.close_now(),
        }
    }
}

/// `pos + done`, the offset of the next transfer of a loop.
fn offset(pos: u64, done: usize) -> Option<u64> {
    u64::try_from(done)
        .ok()
        .and_then(|done| pos.checked_add(done))
}

/// File offsets are `off_t`, signed: past `i64::MAX` the kernel would see
/// a negative offset, and reads `-1` (`u64::MAX`) as "the file's current
/// position" instead of failing. Refused here, the same on both drivers.
fn check_offset(pos: u64) -> io::Result<()> {
    if pos > i64::MAX as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file offset {pos} is past the largest one a file can have (i64::MAX)"),
        ));
    }
    Ok(())
}

fn offset_overflow() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "file offset overflows a u64")
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File::from_std(file)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}
