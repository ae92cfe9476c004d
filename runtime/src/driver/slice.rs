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

    /// The initialized bytes of `buf` (what a write sends).
    pub(crate) fn init(buf: B) -> Slice<B> {
        let end = buf.bytes_init();
        Slice::new(buf, 0, end)
    }

    /// Drops the first `n` bytes from the range (they were transferred).
    ///
    /// # Panics
    ///
    /// If `n` is longer than the range, or would move its start past the
    /// initialized bytes (a bug in the caller).
    pub(crate) fn advance(&mut self, n: usize) {
        assert!(
            n <= self.end - self.begin && self.begin + n <= self.buf.bytes_init(),
            "advanced past the end of a slice"
        );
        self.begin += n;
    }

    /// Whether the range is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.begin == self.end
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
        // The caller guarantees the slice's first `pos <= end - begin` bytes
        // are initialized, and `buf`'s bytes before `begin` are (the
        // invariant): so are `buf`'s first `begin + pos <= bytes_total()`.
        // SAFETY: as above.
        unsafe { self.buf.set_init(self.begin + pos) };
    }
}

#[cfg(test)]
mod tests {
    use super::Slice;
    use crate::driver::{IoBuf, IoBufMut};

    #[test]
    fn a_slice_is_the_range_of_its_buffer() {
        let mut buf = Vec::with_capacity(16);
        buf.extend_from_slice(b"abcdef");
        let base = buf.as_ptr();
        let slice = Slice::new(buf, 4, 12);
        assert_eq!(slice.stable_ptr(), base.wrapping_add(4));
        assert_eq!(slice.bytes_total(), 8);
        // "ef" is initialized.
        assert_eq!(slice.bytes_init(), 2);
        assert_eq!(slice.into_inner(), b"abcdef");

        // Ending before the initialized part ends.
        let slice = Slice::new(b"abcdef".to_vec().into_boxed_slice(), 1, 3);
        assert_eq!(slice.bytes_init(), 2);
        assert_eq!(slice.bytes_total(), 2);
    }

    #[test]
    fn set_init_marks_the_buffer_up_to_the_slice() {
        let mut buf = Vec::with_capacity(10);
        buf.extend_from_slice(b"abc");
        let mut slice = Slice::new(buf, 3, 10);
        let ptr = slice.stable_mut_ptr();
        // SAFETY: the slice owns 7 writable bytes at `ptr`; we write 4.
        unsafe { ptr.copy_from_nonoverlapping(b"defg".as_ptr(), 4) };
        // SAFETY: the slice's first 4 bytes were just written.
        unsafe { slice.set_init(4) };
        assert_eq!(slice.bytes_init(), 4);
        assert_eq!(slice.into_inner(), b"abcdefg");
    }

    #[test]
    #[should_panic(expected = "out of a buffer")]
    fn a_slice_may_not_start_past_the_initialized_bytes() {
        let _ = Slice::new(Vec::<u8>::with_capacity(8), 2, 8);
    }
}
