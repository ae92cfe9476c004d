//! loom models of the runtime's concurrency core live in `tests/`; they
//! only build with `RUSTFLAGS="--cfg loom"`:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p loom-tests --release
//! ```
//!
//! Add `-C debug-assertions` to `RUSTFLAGS` to check the runtime's
//! `debug_assert!`s too (the state transitions assert their preconditions);
//! `LOOM_MAX_PREEMPTIONS=3` explores deeper (each file's docs say what it
//! models and how long it takes). A run that fails prints the panic of the
//! failing iteration; `LOOM_LOG=trace LOOM_LOCATION=1` adds loom's trace of
//! every iteration (run the one failing test alone: it is long).
//!
//! Without `cfg(loom)` this crate is empty and its tests compile to nothing.
//! With it, this library holds what the models share: [`model`] (loom's
//! checker plus a check that no task panicked behind the harness's
//! `catch_unwind`), drop counters and counting wakers.

#[cfg(loom)]
mod support;

#[cfg(loom)]
pub use support::*;
