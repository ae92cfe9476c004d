//! The `bytes` crate's buffers as owned I/O buffers (feature `bytes`):
//! [`IoBuf`] for `Bytes` and `BytesMut`, [`IoBufMut`] for `BytesMut`.
//!
//! Both keep their bytes in a heap allocation (or, for `Bytes`, possibly
//! `'static` memory) that stays put when the handle moves, which is what
//! the traits ask. A `Bytes` is immutable, so it can only be sent; a
//! `BytesMut` can be received into, up to its capacity, and its length
//! grows over what was received (as a `Vec`'s does).

use crate::driver::{IoBuf, IoBufMut};
use bytes::{Bytes, BytesMut};

// SAFETY: a `Bytes` points into memory it keeps alive (a shared heap
// allocation, or `'static` data) and never moves when the handle moves;
// without `&mut self` neither its pointer nor its length changes; every
// byte of it is initialized.
unsafe impl IoBuf for Bytes {
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

// SAFETY: a `BytesMut` points into a heap allocation it owns (uniquely,
// for the bytes from its pointer to its capacity) that does not move when
// the handle moves; `as_ptr` is valid for `capacity()` bytes, of which the
// first `len()` are initialized; without `&mut self` nothing changes.
unsafe impl IoBuf for BytesMut {
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

// SAFETY: see `IoBuf for BytesMut`: the region from `as_mut_ptr` to the
// capacity is this handle's alone (another `BytesMut` split off the same
// allocation owns a disjoint region), so it is valid for writes; `set_init`
// only grows the length, to at most the capacity.
unsafe impl IoBufMut for BytesMut {
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
