//! `runtime::io::stdin`: the test binary runs itself as a child whose
//! stdin the parent feeds, so the child reads a real pipe.

use std::io::Write;
use std::process::{Command, Stdio};

const CHILD: &str = "RUNTIME_STDIN_TEST_CHILD";

/// The child's side: echoes every line it reads, numbered, while a second
/// task shows the worker is never blocked by the read.
fn child_main() {
    use futures_util::io::{AsyncBufReadExt, BufReader};
    use futures_util::StreamExt;

    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        // Keeps the one worker busy with timers while stdin is read.
        let ticker = runtime::spawn(async {
            loop {
                runtime::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        });
        let mut lines = BufReader::new(runtime::io::stdin()).lines();
        let mut count = 0;
        while let Some(line) = lines.next().await {
            count += 1;
            println!("{count}: {}", line.unwrap());
        }
        println!("eof after {count} lines");
        ticker.cancel();
    });
}

#[test]
fn reads_lines_from_a_pipe_until_eof() {
    if std::env::var_os(CHILD).is_some() {
        return child_main();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reads_lines_from_a_pipe_until_eof",
            "--nocapture",
            "--quiet",
        ])
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..1000 {
            writeln!(input, "line {i}").unwrap();
        }
        // Dropping the pipe is the end of input.
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let echoed: Vec<&str> = stdout.lines().filter(|l| l.contains(": line ")).collect();
    assert_eq!(echoed.len(), 1000);
    assert_eq!(echoed[0], "1: line 0");
    assert_eq!(echoed[999], "1000: line 999");
    assert!(stdout.contains("eof after 1000 lines"), "{stdout}");
}

#[test]
#[should_panic(expected = "`runtime::io::stdin` called outside of a runtime")]
fn stdin_outside_a_runtime_panics_clearly() {
    if std::env::var_os(CHILD).is_some() {
        panic!("`runtime::io::stdin` called outside of a runtime (child: skipped)");
    }
    drop(runtime::io::stdin());
}
