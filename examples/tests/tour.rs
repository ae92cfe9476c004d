//! Runs the `tour` (the README's demo) and checks each part reported.

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_tour");

#[test]
fn every_part_of_the_tour_reports_success() {
    let output = common::run(BIN, &[]);
    assert!(output.status.success(), "{output:?}");
    let stdout = &output.stdout;
    for expected in [
        "spawn/join: 10! = 3628800",
        "cancel: state is now Cancelled",
        "was cancelled\"",
        "panicked with message \"something went wrong\"\" (is_panic = true)",
        "join set: squares [1, 4, 9, 16]",
        "blocking: slept 20 ms on the blocking pool",
        "timeout: a 60 s sleep under a 10 ms limit gives Err(",
        "timeout: a quick future gives Ok(\"in time\")",
        "got back \"hello, echo\"",
        "files: wrote 19 bytes, read \"quick\" at offset 4",
        "state: a completed task reports Finished",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("failed:"), "{stdout}");
}
