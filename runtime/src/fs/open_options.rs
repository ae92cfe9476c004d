//! [`OpenOptions`]: how to open a file, checked before any system call.

use super::cstring;
use super::file::File;
use super::ops::OpenAt;
use crate::driver::run;
use std::io;
use std::path::Path;

/// Options for opening a file, as `std::fs::OpenOptions` has them: what
/// access to ask for, and whether to create or truncate.
///
/// The defaults are all `false` and mode `0o666` (less the umask); at
/// least one of `read`, `write` and `append` must be set.
///
/// # Examples
///
/// ```
/// use runtime::fs::OpenOptions;
///
/// # runtime::Runtime::new()?.block_on(async {
/// let path = std::env::temp_dir().join(format!("runtime-doc-options-{}", std::process::id()));
///
/// let file = OpenOptions::new()
///     .read(true)
///     .write(true)
///     .create_new(true)
///     .mode(0o600)
///     .open(&path)
///     .await?;
/// file.write_all_at(b"secret".to_vec(), 0).await.0?;
/// let (res, buf) = file.read_at(Vec::with_capacity(6), 0).await;
/// assert_eq!(res?, 6);
/// assert_eq!(buf, b"secret");
///
/// // It exists now: `create_new` refuses it.
/// let again = OpenOptions::new().write(true).create_new(true).open(&path).await;
/// assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off, mode `0o666`.
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.write = write;
        self
    }

    /// Open for appending (`O_APPEND`; implies writing): every write goes
    /// to the end of the file, whatever offset it names.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.append = append;
        self
    }

    /// Truncate an existing file to length 0 (`O_TRUNC`); needs `write`.
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist (`O_CREAT`); needs `write` or
    /// `append`.
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists
    /// (`O_CREAT | O_EXCL`, which also refuses a symlink); overrides
    /// `create` and `truncate`; needs `write` or `append`.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.create_new = create_new;
        self
    }

    /// The permission bits of a file this creates (before the umask);
    /// default `0o666`.
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags (`O_DIRECT`, `O_NOFOLLOW`, ...), or-ed in; the
    /// access-mode bits are ignored. `O_CLOEXEC` is always set.
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.custom_flags = flags;
        self
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a combination std refuses too (no access mode;
    /// `truncate`, `create` or `create_new` without `write` or `append`;
    /// `truncate` with `append` unless `create_new`) and for a path with a
    /// NUL byte; otherwise the kernel's (`NotFound`, `AlreadyExists`,
    /// `PermissionDenied`, `IsADirectory`, ...); and an error outside a
    /// runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::fs::OpenOptions;
    ///
    /// # runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("runtime-doc-append-{}", std::process::id()));
    /// std::fs::write(&path, b"one ")?;
    ///
    /// let file = OpenOptions::new().append(true).open(&path).await?;
    /// file.write_all_at(b"two".to_vec(), 0).await.0?;
    /// file.close().await?;
    /// assert_eq!(std::fs::read(&path)?, b"one two");
    ///
    /// // Truncating a file opened for reading only makes no sense.
    /// let err = OpenOptions::new().read(true).truncate(true).open(&path).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let flags =
            self.access_mode()? | self.creation_mode()? | (self.custom_flags & !libc::O_ACCMODE);
        let path = cstring(path.as_ref())?;
        let fd = run(OpenAt::new(path, flags, self.mode)).await?;
        Ok(File::from_fd(fd))
    }

    fn access_mode(&self) -> io::Result<i32> {
        match (self.read, self.write, self.append) {
            (true, false, false) => Ok(libc::O_RDONLY),
            (false, true, false) => Ok(libc::O_WRONLY),
            (true, true, false) => Ok(libc::O_RDWR),
            (false, _, true) => Ok(libc::O_WRONLY | libc::O_APPEND),
            (true, _, true) => Ok(libc::O_RDWR | libc::O_APPEND),
            (false, false, false) => Err(invalid(
                "open options: none of read, write and append is set",
            )),
        }
    }

    fn creation_mode(&self) -> io::Result<i32> {
        match (self.write, self.append) {
            (true, false) => {}
            (false, false) => {
                if self.truncate || self.create || self.create_new {
                    return Err(invalid(
                        "open options: truncate, create and create_new need write or append",
                    ));
                }
            }
            (_, true) => {
                if self.truncate && !self.create_new {
                    return Err(invalid(
                        "open options: truncate and append together make no sense",
                    ));
                }
            }
        }
        Ok(match (self.create, self.truncate, self.create_new) {
            (false, false, false) => 0,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
        })
    }
}

/// An `InvalidInput` error with the errno std uses for it (`EINVAL`) in
/// its message.
fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned())
}
