//! Runs the `spawn_join` example: results and panics through the join, a
//! child that ends before the join, and round-robin turns in exact order.

mod common;

const SPAWN_JOIN: &str = env!("CARGO_BIN_EXE_spawn_join");

#[test]
fn prints_results_panics_and_round_robin_turns() {
    let out = common::run(SPAWN_JOIN, &[]);
    assert!(out.status.success(), "{out:?}");

    let mut expected = vec![
        r#"join: the child returned "Hello, world""#.to_owned(),
        "panic: the parent's join gave an error (is_panic: true)".to_owned(),
        r#"panic: re-raised, the parent is Failed with the child's message "the child gave up""#
            .to_owned(),
        "early: the child is Finished before the join".to_owned(),
        "early: the join still gives 42".to_owned(),
        "round robin: 3 tasks, 3 steps each, yielding after every step".to_owned(),
    ];
    // Each task takes one step per turn: 0 0, 1 0, 2 0, 0 1, ...
    for step in 0..3 {
        for task in 0..3 {
            expected.push(format!("task {task} step {step}"));
        }
    }
    assert_eq!(out.stdout_lines(), expected, "{out:?}");

    // The child's panic is reported once, by the panic hook, and goes no
    // further: the process exits 0.
    assert_eq!(out.stderr.matches("panic hook: ").count(), 1, "{out:?}");
    assert!(out.stderr.contains("the child gave up"), "{out:?}");
}
