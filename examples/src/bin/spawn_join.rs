//! Spawn and join: a child's result and its panic reach the parent through
//! the join, a child may finish before anyone joins it, and tasks that
//! yield take turns.
//!
//! A port of a toy Python loop that grows `spawn` and `join` requests and
//! runs its tasks round-robin. The article leaves three things as
//! exercises, and they are what this program adds:
//!
//! * the child's return value, which the Python `join` drops: awaiting a
//!   `JoinHandle` gives `Ok(value)`;
//! * the exception that crashed the child, which the Python loop prints and
//!   forgets: a panic becomes a `JoinError`, and the parent decides whether
//!   to handle it or re-raise it with `std::panic::resume_unwind`;
//! * the race where the child ends before its parent joins it: the Python
//!   loop only wakes joiners that are already waiting, so a late `join`
//!   waits forever. A `JoinHandle` keeps the output until it is taken.
//!
//! It runs on the `current_thread` runtime, where tasks take turns in a
//! fixed order, so everything it prints on stdout is deterministic. The
//! child's panic is also reported on stderr, by the panic hook; that is
//! expected.
//!
//! ```text
//! cargo run -p examples --bin spawn_join
//! ```

use runtime::task::{yield_now, JoinError};
use std::any::Any;

/// Round-robin: this many tasks, each printing this many steps.
const TASKS: usize = 3;
const STEPS: usize = 3;

#[runtime::main(flavor = "current_thread")]
async fn main() -> Result<(), JoinError> {
    // The panic below is caught by the runtime, but the hook still reports
    // it (with a backtrace if RUST_BACKTRACE is set). One line will do.
    std::panic::set_hook(Box::new(|info| eprintln!("panic hook: {info}")));

    // 1. The child's return value comes back through the join.
    let child = runtime::spawn(async { format!("Hello, {}", "world") });
    let greeting = child.await?;
    println!("join: the child returned {greeting:?}");

    // 2. A child panics. Its parent gets a `JoinError`, and chooses to
    //    re-raise the panic, which then fails the parent in turn.
    let mut parent = runtime::spawn(async {
        let child = runtime::spawn(async {
            panic!("the child gave up");
        });
        if let Err(err) = child.await {
            println!(
                "panic: the parent's join gave an error (is_panic: {})",
                err.is_panic()
            );
            if err.is_panic() {
                std::panic::resume_unwind(err.into_panic());
            }
        }
    });
    // Awaited through `&mut` so the handle can still report the state.
    match (&mut parent).await {
        Err(err) if err.is_panic() => println!(
            "panic: re-raised, the parent is {:?} with the child's message {:?}",
            parent.state(),
            message(&*err.into_panic())
        ),
        other => println!("panic: unexpected outcome {other:?}"),
    }

    // 3. The child finishes before its parent joins it; the join still
    //    gives its value.
    let early = runtime::spawn(async { 6 * 7 });
    while !early.is_finished() {
        yield_now().await;
    }
    println!("early: the child is {:?} before the join", early.state());
    println!("early: the join still gives {}", early.await?);

    // 4. Round-robin. `yield_now` puts a task behind every other runnable
    //    task, so on one thread they take turns: task 0 step 0, task 1
    //    step 0, task 2 step 0, task 0 step 1, ...
    println!("round robin: {TASKS} tasks, {STEPS} steps each, yielding after every step");
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            runtime::spawn(async move {
                for k in 0..STEPS {
                    println!("task {i} step {k}");
                    yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    Ok(())
}

/// The message of a panic payload (`panic!` gives a `&str` or a `String`).
fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "(not a string)"
    }
}
