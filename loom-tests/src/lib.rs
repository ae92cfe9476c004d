//! loom models of the runtime's concurrency core live in `tests/`; they
//! only build with `RUSTFLAGS="--cfg loom"`:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p loom-tests --release
//! ```
//!
//! Without `cfg(loom)` this crate is empty and its tests compile to nothing.
//! With it, this library holds what the models share: [`model`] (loom's
//! checker plus a check that no task panicked behind the harness's
//! `catch_unwind`), drop counters and counting wakers.

#[cfg(loom)]
mod support;

#[cfg(loom)]
pub use support::*;
