//! Runs `readiness` and checks the order of what it prints.

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_readiness");

#[test]
fn waits_on_the_pipe_time_and_a_thrown_error_then_exits() {
    let output = common::run(BIN, &[]);
    assert!(output.status.success(), "{output:?}");
    let lines = output.stdout_lines();
    let at = |text: &str| {
        lines
            .iter()
            .position(|line| line.starts_with(text))
            .unwrap_or_else(|| panic!("no line starting {text:?} in {lines:?}"))
    };
    // The reader waits before the writer writes, and reads what it wrote.
    assert!(at("reader: waiting") < at("writer: writable"));
    assert!(at("writer: writable") < at("reader: readable"));
    assert!(lines.contains(&"reader: readable, read \"hello through the pipe\""));
    // The thrown error reaches the catcher.
    assert!(at("thrower:") < at("catcher: resumed with an error"));
    assert!(lines.contains(&"catcher: resumed with an error: thrown into the catcher"));
    // Sleeping for 20 ms comes before sleeping until the 40 ms instant.
    assert!(at("writer: slept 20 ms") < at("sleeper: woke at the 40 ms instant"));
    // And the program ends because nothing is left to run.
    assert!(lines
        .last()
        .unwrap()
        .starts_with("nothing left to run after"));
}
