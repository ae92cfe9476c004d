//! Buffer traits for completion-based I/O.
//!
//! With io_uring the kernel reads from or writes into a buffer *after* the
//! call that started the operation has returned, possibly after the future
//! that started it has been dropped. So an operation takes its buffer by
//! value, keeps it (inside the in-flight operation object, see `op.rs`) until
//! the kernel has posted the completion, and hands it back with the result as
//! a [`BufResult`].
//!
//! The traits say where the bytes are. They are `unsafe` to implement because
//! the driver gives the kernel a raw pointer and a length taken from them and
//! relies on the contract below for memory safety; nothing else checks it.

use std::io;

/// The result of an operation that took a buffer by value: the outcome and
/// the buffer, returned whether the operation succeeded or not.
pub type BufResult<T, B> = (io::Result<T>, B);

/// A buffer the kernel may read from while an operation owns it.
///
/// # Safety
///
/// An implementation promises that, for as long as the value is not mutated
/// through `&mut self` and not dropped:
///
/// * [`stable_ptr`](IoBuf::stable_ptr) points to an allocation that is valid
///   for reads of [`bytes_total`](IoBuf::bytes_total) bytes, of which the
///   first [`bytes_init`](IoBuf::bytes_init) are initialized;
/// * the pointer does not change and the memory does not move when the value
///   itself is moved (a heap allocation owned by the value, or `'static`
///   memory, satisfies this; an inline array does not);
/// * `bytes_init() <= bytes_total()`, and both values stay the same.
///
/// The driver moves the value into the in-flight operation, builds the
/// submission from these three methods, and does not touch the value again
/// until the kernel has posted the completion.
// The message: a borrowed slice handed to an owned-buffer method is most
// often a call meant for `AsyncWriteExt::write_all` (shadowed by the
// inherent one), and rustc's own hint (`&b"..."[..]`) leads to a second
// error at the `?`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an owned buffer (`runtime::io::IoBuf`)",
    label = "an owned buffer (`Vec<u8>`, `Box<[u8]>`, `String`, `&'static [u8]`, `Bytes`) is needed here",
    note = "the owned-buffer `write`/`write_all` take the buffer and give it back: `let (result, buf) = stream.write_all(data.to_vec()).await;`",
    note = "to write a borrowed slice, call futures-io's method through its trait: `futures_util::AsyncWriteExt::write_all(&mut stream, data).await?` (the inherent `write_all` shadows it)"
)]
pub unsafe trait IoBuf: Unpin + 'static {
    /// Pointer to the first byte; stable across moves of `self`.
    fn stable_ptr(&self) -> *const u8;

    /// Number of initialized bytes, starting at `stable_ptr()`: what a write
    /// sends.
    fn bytes_init(&self) -> usize;

    /// Total capacity in bytes, starting at `stable_ptr()`: what a read may
    /// fill.
    fn bytes_total(&self) -> usize;
}

/// A buffer the kernel may write into while an operation owns it.
///
/// # Safety
///
/// Everything [`IoBuf`] requires, and in addition:
///
/// * [`stable_mut_ptr`](IoBufMut::stable_mut_ptr) returns the same address as
///   `stable_ptr()`, valid for writes of `bytes_total()` bytes, with no other
///   reference to that memory in use while an operation owns the buffer;
/// * [`set_init`](IoBufMut::set_init) only ever grows `bytes_init()` (to at
///   most `bytes_total()`), so bytes already initialized stay readable.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an owned buffer to read into (`runtime::io::IoBufMut`)",
    label = "an owned, writable buffer (`Vec<u8>`, `Box<[u8]>`, `BytesMut`) is needed here",
    note = "the owned-buffer `read` takes the buffer and gives it back: `let (n, buf) = stream.read(Vec::with_capacity(4096)).await;`",
    note = "to read into a borrowed slice, call futures-io's method through its trait: `futures_util::AsyncReadExt::read(&mut stream, &mut slice).await?` (the inherent `read` shadows it)"
)]
pub unsafe trait IoBufMut: IoBuf {
    /// Mutable pointer to the first byte; stable across moves of `self`.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Records that the first `pos` bytes are initialized (a read filled
    /// them). Does nothing if `pos <= bytes_init()`.
    ///
    /// # Safety
    ///
    /// The caller guarantees that the first `pos` bytes, `pos <=
    /// bytes_total()`, are initialized.
    unsafe fn set_init(&mut self, pos: usize);
}

// SAFETY: a Vec's elements live in a heap allocation that moves neither when
// the Vec is moved nor while it is not mutated; `as_ptr` is valid for
// `capacity()` bytes (dangling but valid for zero bytes when the capacity is
// 0), of which the first `len()` are initialized.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: see `IoBuf for Vec<u8>`; `as_mut_ptr` is the same address, valid
// for writes of the whole capacity, and `set_init` only grows the length.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller guarantees the first `pos <= capacity()`
            // bytes are initialized.
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: a boxed slice is one heap allocation that does not move with the
// box; every byte of it is initialized.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: see `IoBuf for Box<[u8]>`; the box owns its bytes exclusively, and
// as every byte is already initialized there is nothing for `set_init` to do.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, _pos: usize) {}
}

// SAFETY: `'static` memory never moves or goes away, and a shared slice is
// fully initialized.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `&'static [u8]`: a string's bytes are initialized.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: a String is a `Vec<u8>` underneath (see there). Only `IoBuf`: a
// read could leave invalid UTF-8 behind.
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}
