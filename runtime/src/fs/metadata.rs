//! [`Metadata`]: what `statx(2)` says about a file.

use std::fmt;
use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

/// Information about a file: its size, type, permissions and times, as
/// returned by [`File::metadata`](super::File::metadata) and
/// [`fs::metadata`](super::metadata).
///
/// It is read with one `statx(2)` through io_uring; `std::fs::Metadata`
/// cannot be built from that, so this is its counterpart with the same
/// method names.
///
/// # Examples
///
/// ```
/// # runtime::Runtime::new()?.block_on(async {
/// let path = std::env::temp_dir().join(format!("runtime-doc-metadata-{}", std::process::id()));
/// runtime::fs::write(&path, b"twelve bytes").await?;
///
/// let metadata = runtime::fs::metadata(&path).await?;
/// assert_eq!(metadata.len(), 12);
/// assert!(metadata.is_file());
/// assert!(!metadata.is_dir());
/// assert!(metadata.modified()? <= std::time::SystemTime::now());
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Metadata {
    /// Which fields the kernel filled (`STATX_*` bits).
    mask: u32,
    mode: u32,
    size: u64,
    nlink: u32,
    uid: u32,
    gid: u32,
    ino: u64,
    dev: u64,
    blocks: u64,
    blksize: u32,
    atime: Timestamp,
    mtime: Timestamp,
    ctime: Timestamp,
    btime: Timestamp,
}

/// A statx timestamp: seconds (negative before 1970) and nanoseconds.
#[derive(Clone, Copy, Debug)]
struct Timestamp {
    sec: i64,
    nsec: u32,
}

impl Timestamp {
    fn new(ts: libc::statx_timestamp) -> Timestamp {
        Timestamp {
            sec: ts.tv_sec,
            nsec: ts.tv_nsec,
        }
    }

    fn to_system_time(self) -> io::Result<SystemTime> {
        let nanos = Duration::from_nanos(u64::from(self.nsec));
        let time = if self.sec >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(self.sec.unsigned_abs()))
        } else {
            SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(self.sec.unsigned_abs()))
        };
        time.and_then(|time| time.checked_add(nanos))
            .ok_or_else(|| io::Error::other("file timestamp out of the range of SystemTime"))
    }
}

impl Metadata {
    pub(crate) fn from_statx(st: libc::statx) -> Metadata {
        Metadata {
            mask: st.stx_mask,
            mode: u32::from(st.stx_mode),
            size: st.stx_size,
            nlink: st.stx_nlink,
            uid: st.stx_uid,
            gid: st.stx_gid,
            ino: st.stx_ino,
            dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
            blocks: st.stx_blocks,
            blksize: st.stx_blksize,
            atime: Timestamp::new(st.stx_atime),
            mtime: Timestamp::new(st.stx_mtime),
            ctime: Timestamp::new(st.stx_ctime),
            btime: Timestamp::new(st.stx_btime),
        }
    }

    /// The size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether the file is empty (its size is 0).
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// Whether this is a symbolic link (only from an open `O_PATH |
    /// O_NOFOLLOW` descriptor; [`fs::metadata`](super::metadata) follows
    /// links).
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }

    /// The permissions, as `std`'s type: `mode()` (from
    /// [`PermissionsExt`]) gives the bits, `readonly()` whether no write
    /// bit is set.
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode)
    }

    /// The whole `st_mode`: file type bits and permission bits.
    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// The last modification time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system did not report it.
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_MTIME, self.mtime, "modification")
    }

    /// The last access time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system did not report it.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_ATIME, self.atime, "access")
    }

    /// The creation (birth) time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system does not record it.
    pub fn created(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_BTIME, self.btime, "creation")
    }

    /// The last status change time (`st_ctime`).
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system did not report it.
    pub fn status_changed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_CTIME, self.ctime, "status change")
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The device the file is on.
    pub fn dev(&self) -> u64 {
        self.dev
    }

    /// The number of hard links.
    pub fn nlink(&self) -> u64 {
        u64::from(self.nlink)
    }

    /// The owner's user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The owner's group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The number of 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// The preferred I/O block size.
    pub fn blksize(&self) -> u64 {
        u64::from(self.blksize)
    }

    fn time(&self, bit: u32, ts: Timestamp, what: &str) -> io::Result<SystemTime> {
        if self.mask & bit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the file system does not report the {what} time"),
            ));
        }
        ts.to_system_time()
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("len", &self.size)
            .field("mode", &format_args!("{:#o}", self.mode))
            .field("ino", &self.ino)
            .field("dev", &self.dev)
            .field("nlink", &self.nlink)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("modified", &self.modified().ok())
            .finish_non_exhaustive()
    }
}
