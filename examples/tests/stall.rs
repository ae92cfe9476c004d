//! Runs the `stall` example: the stuck poll is reported while stuck and
//! again with its total, and the dump shows the stuck task Running.

mod common;

const STALL: &str = env!("CARGO_BIN_EXE_stall");

#[test]
fn reports_the_stuck_task_and_dumps_every_task() {
    let out = common::run(STALL, &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.stdout_lines(),
        ["the mutex was released; the stuck task finished"],
        "{out:?}"
    );
    let err = &out.stderr;
    let live = err
        .find("is still running")
        .unwrap_or_else(|| panic!("no live report: {out:?}"));
    let dump = err.find("--- task dump").expect("a dump");
    let total = err.find("in total").expect("a report with the total");
    assert!(live < total && dump < total, "{out:?}");
    assert!(err[..live].contains("\"blocked-on-mutex\""), "{out:?}");
    assert!(err.contains("src/bin/stall.rs:"), "{out:?}");
    let dump_text = &err[dump..err.find("--- end of dump").expect("end of dump")];
    let line_of = |name: &str| {
        dump_text
            .lines()
            .find(|line| line.contains(name))
            .unwrap_or_else(|| panic!("{name} not in the dump: {dump_text}"))
    };
    assert!(
        line_of("\"blocked-on-mutex\"").contains("Running"),
        "{dump_text}"
    );
    assert!(line_of("\"idler\"").contains("Pending"), "{dump_text}");
}
