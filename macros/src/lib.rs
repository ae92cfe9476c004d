//! Attribute macros for the `runtime` crate.
//!
//! Not written yet: `#[runtime::main]` and `#[runtime::test]` arrive with the
//! macros issue. This crate exists so the workspace layout is complete.
