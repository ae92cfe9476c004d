//! Looper: timed waits as tasks whose state can be watched, one of them
//! killed and one followed by a callback, with no busy-waiting.
//!
//! A port of a toy Python loop that models tasks as futures with a status
//! (pending, in progress, finished, failed), a result and a kill flag. Its
//! waits of 5, 10 and 3 seconds finish in order 3, 5, 10 and report how
//! late they were; a wrapper adds a child wait on the fly and calls a
//! function when the child is done.
//!
//! What it adds over the article:
//!
//! * No busy-waiting. The article's loop spins through every task until its
//!   time is up, burning a core for the whole ten seconds. Here each wait is
//!   a timer and the process sleeps between them; it prints the CPU time it
//!   used at the end to show it.
//! * Status comes from the runtime: `CancelHandle::state` reports a task's
//!   [`TaskState`], where the article's loop had to copy dicts around and
//!   search for them. The monitor here wakes only when a task ends.
//! * Killing works: `cancel()` drops the task's future (and its timer) and
//!   the task shows `Cancelled`. (The article marks tasks to kill, but its
//!   cull step assigns the kept list to the wrong attribute.)
//! * The wrapper awaits its child's handle instead of polling its status,
//!   and a panic in the child fails the wrapper too.
//!
//! ```text
//! cargo run -p examples --bin looper                      # 1 unit = 1 ms
//! cargo run -p examples --bin looper -- --unit-ms 1000    # the article's seconds
//! ```

use runtime::task::{CancelHandle, JoinSet, TaskId, TaskState};
use runtime::time::{sleep_until, Duration, Instant};
use std::future::Future;
use std::panic::resume_unwind;
use std::process::ExitCode;

/// What a finished wait reports.
struct Report {
    units: u32,
    /// How much later than its deadline the wait ended: about a millisecond,
    /// as timers have 1 ms resolution and round up so as never to fire early.
    overrun: Duration,
}

/// Waits until `units` after `start` and reports how late it woke. The
/// article's `wait(seconds)`, minus the spinning.
async fn wait(units: u32, start: Instant, unit: Duration) -> Report {
    let deadline = start + unit * units;
    sleep_until(deadline).await;
    let overrun = deadline.elapsed();
    println!("finished: wait {units} (overrun {})", ms(overrun));
    Report { units, overrun }
}

/// Runs `child` as a task of its own and calls `then` with its output once
/// it is done: the article's `wait_wrapper`.
async fn after<F>(child: F, then: impl FnOnce(&F::Output)) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match runtime::spawn(child).await {
        Ok(output) => {
            then(&output);
            output
        }
        // The child panicked: fail this task with the same panic.
        Err(err) => match err.try_into_panic() {
            Ok(payload) => resume_unwind(payload),
            Err(err) => panic!("the child was cancelled: {err}"),
        },
    }
}

/// The tasks under watch, with their labels.
struct Monitor {
    tasks: Vec<(&'static str, CancelHandle)>,
}

impl Monitor {
    fn print(&self, when: &str) {
        let states: Vec<String> = self
            .tasks
            .iter()
            .map(|(label, task)| format!("{label} {:?}", task.state()))
            .collect();
        println!("states {when}: {}", states.join(", "));
    }

    fn label(&self, id: TaskId) -> &'static str {
        let task = self.tasks.iter().find(|(_, task)| task.id() == id);
        task.map_or("an unknown task", |(label, _)| label)
    }
}

#[runtime::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let unit = match parse_unit(std::env::args().skip(1)) {
        Ok(unit) => unit,
        Err(message) => {
            eprintln!("looper: {message}\nusage: looper [--unit-ms N]  (one unit, default 1 ms)");
            return ExitCode::from(2);
        }
    };

    // Every deadline counts from the same start, so the waits end in order
    // of length however late each task happens to be first polled.
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut monitor = Monitor {
        tasks: vec![
            // The article's three waits, in its order; the first one
            // wrapped so that a closure runs once its wait is over.
            (
                "wait 5",
                tasks.spawn(after(wait(5, start, unit), |report| {
                    let late = ms(report.overrun);
                    println!(
                        "after wait {}: it was worth the wait ({late} late)",
                        report.units
                    );
                })),
            ),
            ("wait 10", tasks.spawn(wait(10, start, unit))),
            ("wait 3", tasks.spawn(wait(3, start, unit))),
        ],
    };
    // Not in the article: a long wait, to be killed half-way.
    let victim = tasks.spawn(wait(20, start, unit));
    monitor.tasks.push(("wait 20", victim.clone()));
    monitor.print("at start");

    // `join_next` hands back tasks as they end, so the monitor sleeps until
    // there is news. A task shows `Pending` while it waits for its timer; it
    // would show `Running` while being polled, which on this one-thread
    // runtime never happens while the monitor looks.
    while let Some(joined) = tasks.join_next().await {
        let label = match joined {
            Ok(report) => format!("wait {}", report.units),
            Err(err) if err.is_cancelled() => {
                let label = monitor.label(err.id());
                println!("joined: {label} was cancelled");
                label.to_owned()
            }
            Err(err) => resume_unwind(err.into_panic()),
        };
        monitor.print(&format!("after {label}"));

        // Once the first wait is over, kill the long one mid-wait.
        if victim.state() == TaskState::Pending {
            victim.cancel();
            println!("killed: wait 20, now {:?}", victim.state());
        }
    }

    match cpu_time() {
        Ok((user, system)) => println!(
            "cpu time: {} (user {}, system {}) over {} of wall time",
            ms(user + system),
            ms(user),
            ms(system),
            ms(start.elapsed())
        ),
        Err(err) => eprintln!("looper: cannot read the CPU time: {err}"),
    }
    ExitCode::SUCCESS
}

/// `--unit-ms N` sets the length of a unit; without it a unit is 1 ms.
fn parse_unit(mut args: impl Iterator<Item = String>) -> Result<Duration, String> {
    let mut unit = Duration::from_millis(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--unit-ms" => {
                let value = args.next().ok_or("--unit-ms needs a value")?;
                match value.parse::<u64>() {
                    Ok(n @ 1..=3_600_000) => unit = Duration::from_millis(n),
                    _ => return Err(format!("--unit-ms takes 1 to 3600000, not {value:?}")),
                }
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(unit)
}

/// The user and system CPU time this process has used so far.
fn cpu_time() -> std::io::Result<(Duration, Duration)> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `usage` is valid for writes of a whole `rusage`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: getrusage succeeded, so it filled in `usage`.
    let usage = unsafe { usage.assume_init() };
    let duration =
        |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    Ok((duration(usage.ru_utime), duration(usage.ru_stime)))
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}
