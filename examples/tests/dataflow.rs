//! Runs the `dataflow` example: the article's computations finish, and a
//! program whose tasks wait on each other fails with the missing names
//! instead of hanging.

mod common;

const DATAFLOW: &str = env!("CARGO_BIN_EXE_dataflow");

#[test]
fn computes_seven_and_exits_zero() {
    let out = common::run(DATAFLOW, &[]);
    assert!(out.status.success(), "{out:?}");
    // The two tasks run on the multi-thread runtime: either may print first.
    let mut lines = out.stdout_lines();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["Done some math", "Done some more math, ended with: 7"],
        "{out:?}"
    );
    assert_eq!(out.stderr, "", "{out:?}");
}

#[test]
fn deadlock_names_the_missing_values_and_exits_one() {
    let out = common::run(DATAFLOW, &["--deadlock"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(out.stderr.contains("deadlock"), "{out:?}");
    assert!(out.stderr.contains("missing: chicken, egg"), "{out:?}");
}

#[test]
fn rejects_an_unknown_argument() {
    let out = common::run(DATAFLOW, &["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("usage"), "{out:?}");
}
