//! Runs an example binary with a time limit and captures what it prints.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Generous: the programs take milliseconds, but the machine may be busy.
const TIME_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Output {
    /// The program's process id (gone by the time the test reads it).
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs `program` with `args`; kills it and fails the test if it is still
/// running after [`TIME_LIMIT`] (a hang is a bug these programs exist to
/// rule out).
pub fn run(program: &str, args: &[&str]) -> Output {
    run_with_input(program, args, &[])
}

/// Like [`run`], writing `input` to the program's stdin: each chunk after
/// its delay, then closing stdin (the end of input).
pub fn run_with_input(program: &str, args: &[&str], input: &[(Duration, &str)]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {program}: {err}"));
    let pid = child.id();
    // Read both pipes on threads of their own, so a chatty child cannot
    // block on a full pipe while we wait for it.
    let stdout = read_on_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_on_thread(child.stderr.take().expect("stderr is piped"));
    let writer = child.stdin.take().map(|mut stdin| {
        let chunks: Vec<(Duration, String)> = input
            .iter()
            .map(|(delay, text)| (*delay, text.to_string()))
            .collect();
        thread::spawn(move || {
            use std::io::Write;
            for (delay, text) in chunks {
                thread::sleep(delay);
                // The program may have exited early; that is for the test to judge.
                if stdin.write_all(text.as_bytes()).is_err() {
                    return;
                }
            }
        })
    });

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    if let Some(writer) = writer {
        writer.join().expect("stdin writer");
    }
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    match status {
        Some(status) => Output {
            pid,
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{program} {args:?} did not finish within {TIME_LIMIT:?}; killed it\n\
             stdout:\n{stdout}\nstderr:\n{stderr}"
        ),
    }
}

fn read_on_thread(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}
