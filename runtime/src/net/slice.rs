//! [`Slice`]: a sub-range of an owned buffer, itself an owned buffer, so
//! that the rest of a partially written buffer can be written without
//! copying it.

use crate::driver::IoBuf;

/// `buf[begin..end]` as an [`IoBuf`]; owns `buf` and gives it back with
/// [`Slice::into_inner`].
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
    /// Unless `begin <= end <= buf.bytes_total()`.
    pub(crate) fn new(buf: B, begin: usize, end: usize) -> Slice<B> {
        assert!(
            begin <= end && end <= buf.bytes_total(),
            "slice {begin}..{end} out of a buffer of {} bytes",
            buf.bytes_total()
        );
        Slice { buf, begin, end }
    }

    /// The initialized bytes of `buf`.
    pub(crate) fn init(buf: B) -> Slice<B> {
        let end = buf.bytes_init();
        Slice::new(buf, 0, end)
    }

    /// Drops the first `n` bytes from the range (they were written).
    pub(crate) fn advance(&mut self, n: usize) {
        assert!(
            n <= self.end - self.begin,
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

// SAFETY: the range lies inside `buf`'s allocation (`begin <= end <=
// bytes_total()`, checked at construction and kept by `advance`), which is
// stable under moves and does not change while the slice is not mutated, as
// `buf`'s own `IoBuf` implementation promises; the initialized part is the
// part of the range below `buf.bytes_init()`, so `bytes_init() <=
// bytes_total()`.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr().wrapping_add(self.begin)
    }

    fn bytes_init(&self) -> usize {
        self.buf
            .bytes_init()
            .min(self.end)
            .saturating_sub(self.begin)
    }

    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_is_its_range() {
        let mut buf = Vec::with_capacity(16);
        buf.extend_from_slice(b"hello world");
        let base = buf.as_ptr();
        let mut slice = Slice::init(buf);
        assert_eq!(slice.bytes_init(), 11);
        slice.advance(6);
        assert_eq!(slice.stable_ptr(), base.wrapping_add(6));
        assert_eq!((slice.bytes_init(), slice.bytes_total()), (5, 5));
        slice.advance(5);
        assert!(slice.is_empty());
        assert_eq!(slice.into_inner(), b"hello world");

        // A range past the initialized part has nothing initialized.
        let slice = Slice::new(Vec::<u8>::with_capacity(8), 2, 8);
        assert_eq!((slice.bytes_init(), slice.bytes_total()), (0, 6));
    }

    #[test]
    #[should_panic(expected = "out of a buffer")]
    fn a_range_past_the_buffer_panics() {
        Slice::new(vec![0u8; 4], 2, 5);
    }
}
