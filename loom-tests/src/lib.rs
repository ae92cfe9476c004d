//! loom models of the runtime's concurrency core live in `tests/`; they
//! only build with `RUSTFLAGS="--cfg loom"`.
