//! Runs the `looper` example: waits of 5, 10 and 3 units end in order 3, 5,
//! 10; one task is killed; the wrapper's closure runs after its child; and
//! the whole run takes little CPU time.

mod common;

const LOOPER: &str = env!("CARGO_BIN_EXE_looper");

/// Index of the first line that starts with `prefix`.
fn position(lines: &[&str], prefix: &str) -> usize {
    lines
        .iter()
        .position(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?} in {lines:#?}"))
}

#[test]
fn waits_end_in_order_one_is_killed_and_nothing_spins() {
    // 20 ms units: far enough apart for a busy machine to keep the order.
    let out = common::run(LOOPER, &["--unit-ms", "20"]);
    assert!(out.status.success(), "{out:?}");
    let lines = out.stdout_lines();

    let finished: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("finished: wait "))
        .map(|rest| rest.split(' ').next().unwrap_or(rest))
        .collect();
    assert_eq!(finished, ["3", "5", "10"], "{out:?}");
    for line in lines.iter().filter(|line| line.starts_with("finished: ")) {
        assert!(
            line.contains("(overrun ") && line.ends_with(" ms)"),
            "{line}"
        );
    }

    // The monitor's view: all pending at the start, one cancelled, the
    // rest finished at the end.
    assert_eq!(
        lines[0],
        "states at start: wait 5 Pending, wait 10 Pending, wait 3 Pending, wait 20 Pending"
    );
    let killed = position(&lines, "killed: wait 20, now Cancelled");
    assert!(killed > position(&lines, "finished: wait 3 "), "{out:?}");
    assert!(position(&lines, "joined: wait 20 was cancelled") > killed);
    let last_states = lines.iter().rev().find(|line| line.starts_with("states "));
    assert_eq!(
        last_states.copied(),
        Some(
            "states after wait 10: wait 5 Finished, wait 10 Finished, wait 3 Finished, \
             wait 20 Cancelled"
        ),
        "{out:?}"
    );

    // The wrapper's closure runs after its child's wait.
    let child = position(&lines, "finished: wait 5 ");
    let wrapper = position(&lines, "after wait 5: it was worth the wait");
    assert!(wrapper > child, "{out:?}");

    // CPU time: a sanity bound, not a benchmark. A busy-waiting loop would
    // spend about the whole 200 ms of wall time.
    let cpu = lines[position(&lines, "cpu time: ")];
    let cpu_ms: f64 = cpu
        .strip_prefix("cpu time: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the CPU time in {cpu:?}"));
    assert!(cpu_ms < 1000.0, "{cpu}");
    assert_eq!(out.stderr, "", "{out:?}");
}

#[test]
fn runs_with_the_default_unit() {
    let out = common::run(LOOPER, &[]);
    assert!(out.status.success(), "{out:?}");
    let lines = out.stdout_lines();
    for prefix in [
        "finished: wait 3 ",
        "finished: wait 5 ",
        "finished: wait 10 ",
    ] {
        position(&lines, prefix);
    }
    position(&lines, "cpu time: ");
}

#[test]
fn rejects_a_bad_unit() {
    for args in [
        &["--unit-ms", "0"][..],
        &["--unit-ms"],
        &["--unit-ms", "x"],
        &["-v"],
    ] {
        let out = common::run(LOOPER, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.contains("usage: looper"), "{args:?}: {out:?}");
    }
}
