//! Runs `stdin_fib` with input fed through its stdin.

mod common;

use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_stdin_fib");

#[test]
fn prints_exact_results_and_survives_bad_lines() {
    let input = "0\n10\n186\nforty\n187\n\n93\n";
    let output = common::run_with_input(BIN, &[], &[(Duration::ZERO, input)]);
    assert!(output.status.success(), "{output:?}");
    let results: Vec<&str> = output
        .stdout_lines()
        .into_iter()
        .filter(|line| !line.starts_with("heartbeat"))
        .collect();
    assert_eq!(
        results,
        [
            "fib(0) = 0",
            "fib(10) = 55",
            "fib(186) = 332825110087067562321196029789634457848",
            "error: not a number: \"forty\" (expected a whole number 0..=186)",
            "error: too large: 187 (fib(n) fits in 128 bits only up to n = 186)",
            "fib(93) = 12200160415121876738",
            "end of input",
        ]
    );
}

#[test]
fn the_heartbeat_keeps_beating_while_input_is_awaited() {
    let input = [(Duration::ZERO, "5\n"), (Duration::from_millis(400), "6\n")];
    let output = common::run_with_input(BIN, &["--heartbeat-ms", "20"], &input);
    assert!(output.status.success(), "{output:?}");
    let lines = output.stdout_lines();
    let first = lines.iter().position(|l| *l == "fib(5) = 5").unwrap();
    let second = lines.iter().position(|l| *l == "fib(6) = 8").unwrap();
    let beats_between = lines[first..second]
        .iter()
        .filter(|l| l.starts_with("heartbeat"))
        .count();
    assert!(beats_between >= 3, "the loop looked blocked: {lines:?}");
}

#[test]
fn bad_arguments_are_refused() {
    let output = common::run(BIN, &["--heartbeat-ms", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output
        .stderr
        .contains("--heartbeat-ms takes a positive number"));
}
