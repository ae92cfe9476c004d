//! Runs the `stall` example: the stuck poll is reported while stuck, with
//! the stuck thread's stack, and again with its total; SIGUSR1 (which the
//! program sends itself) prints a dump that shows the stuck task Running.

mod common;

const STALL: &str = env!("CARGO_BIN_EXE_stall");

#[test]
fn reports_the_stuck_task_with_its_stack_and_dumps_on_sigusr1() {
    let out = common::run(STALL, &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.stdout_lines(),
        ["the mutex was released; the stuck task finished"],
        "{out:?}"
    );
    let err = &out.stderr;
    let lines: Vec<&str> = err.lines().collect();
    let at = |pattern: &str| {
        lines
            .iter()
            .position(|line| line.contains(pattern))
            .unwrap_or_else(|| panic!("no line with {pattern:?}: {out:?}"))
    };
    let pid = out.pid.to_string();
    assert!(
        lines[at("prints a task dump")].contains(&format!("kill -USR1 {pid}")),
        "{out:?}"
    );

    // The live report: one summary line naming the task, then its stack,
    // indented, which shows the function the task is stuck in.
    let live = at("is still running");
    assert!(lines[live].contains("\"blocked-on-mutex\""), "{out:?}");
    assert!(lines[live].contains("src/bin/stall.rs:"), "{out:?}");
    let stack_start = at("    the stack of task");
    assert!(stack_start > live, "{out:?}");
    let stack: Vec<&str> = lines[stack_start + 1..]
        .iter()
        .take_while(|line| line.starts_with("    "))
        .copied()
        .collect();
    assert!(
        stack
            .iter()
            .any(|frame| frame.contains("stall::add_one_under_the_lock")),
        "{out:?}"
    );

    // The dump comes on SIGUSR1, after the program said it sends one.
    let sent = at("(sending myself SIGUSR1)");
    let dump = at("--- task dump (on SIGUSR1");
    let end = at("--- end of dump");
    let total = at("in total");
    assert!(live < sent && sent < dump && dump < end, "{out:?}");
    assert!(dump < total, "{out:?}");
    let dump_text = &lines[dump..end];
    let line_of = |name: &str| {
        dump_text
            .iter()
            .find(|line| line.contains(name))
            .unwrap_or_else(|| panic!("{name} not in the dump: {dump_text:#?}"))
    };
    assert!(
        line_of("\"blocked-on-mutex\"").contains("Running"),
        "{dump_text:#?}"
    );
    assert!(line_of("\"idler\"").contains("Pending"), "{dump_text:#?}");
}
