//! Compile-time behavior of `#[runtime::main]` and `#[runtime::test]`:
//! misuse gives a clear error at the offending token, and the documented
//! forms compile.
//!
//! The expected compiler output lives next to each case (`tests/ui/*.stderr`);
//! after a deliberate change, regenerate it with
//! `TRYBUILD=overwrite cargo test -p runtime --test macros_ui` and review the
//! diff. The output depends on the rustc version.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}
