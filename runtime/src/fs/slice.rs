//! A sub-range of an owned buffer, so a loop can hand "the rest of the
//! buffer" to an operation that takes its buffer whole.

use crate::driver::{IoBuf, IoBufMut};

/// The bytes `begin..end` of `buf`, as a buffer of its own: its first byte
/// is `buf`'s byte `begin`, and a read into it fills `buf` from there.
///
/// Invariant: `begin <= end`, `end <= buf.bytes_total()` and `begin <=
/// buf.bytes_init()` — everything before the slice is initialized, so
/// marking bytes of the slice initialized may mark `buf`'s bytes up to
/// them initialized too.
#[derive(Debug)]
pub(crate) struct Slice<B> {
    buf: B,
    begin: usize,
    end: usize,
}

impl<B: IoBuf> Slice<B> {
    /// The bytes `begin..end` of `buf`.
    ///
    /// # Panics
    ///
    /// If the range breaks the invariant above (a bug in the caller).
    pub(crate) fn new(buf: B, begin: usize, end: usize) -> Slice<B> {
        assert!(
            begin <= end && end <= buf.bytes_total() && begin <= buf.bytes_init(),
            "Slice {begin}..{end} out of a buffer with {} initialized of {} bytes",
            buf.bytes_init(),
            buf.bytes_total(),
        );
        Slice { buf, begin, end }
    }

    /// The whole buffer back.
    pub(crate) fn into_inner(self) -> B {
        self.buf
    }
}

// SAFETY: the slice's pointer is `buf`'s stable pointer moved `begin <=
// bytes_total()` bytes on, so it stays in `buf`'s allocation and is just as
// stable; it is valid for the `end - begin` bytes that remain up to `end <=
// bytes_total()`, of which those below `buf.bytes_init()` are initialized.
// Neither count changes while `buf` does not.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr().wrapping_add(self.begin)
    }

    fn bytes_init(&self) -> usize {
        self.buf.bytes_init().min(self.end) - self.begin
    }

    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: the same address as `stable_ptr`, inside `buf`'s writable range,
// which `buf` (owned by the slice) lets nobody else use. `set_init` only
// grows `buf`'s initialized prefix, hence the slice's.
unsafe impl<B: IoBufMut> IoBufMut for Slice<B> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr().wrapping_add(self.begin)
    }

    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: the caller guarantees the slice's first `pos <= end -
        // begin` bytes are initialized, and `buf`'s bytes before `begin`
        // are (the invariant): so are `buf`'s first `begin + pos <=
        // bytes_total()`.
        unsafe { self.buf.set_init(self.begin + pos) };
    }
}
