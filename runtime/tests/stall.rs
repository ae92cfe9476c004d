//! Stall detection and task dumps: a poll stuck past `long_poll_warning`
//! is reported while it is stuck and again when it returns; `dump` works
//! from any thread while a worker is stuck.
//!
//! The report tests run the runtime in a child process (this test binary,
//! re-run with `STALL_CHILD` set) and read its stderr as it comes, with
//! timestamps.

use runtime::{Builder, TaskState};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD: &str = "STALL_CHILD";

/// In the child: a runtime with (or without) a 100 ms limit, and a named
/// task that sleeps 1.2 s inside its poll.
fn child_scenario(with_limit: bool) {
    let mut builder = Builder::new_multi_thread();
    builder.worker_threads(2);
    if with_limit {
        builder.long_poll_warning(Duration::from_millis(100));
    }
    let rt = builder.build().unwrap();
    rt.block_on(async {
        let task = runtime::task::Builder::new()
            .name("sleepy-poll")
            .spawn(async {
                eprintln!("child: the poll starts");
                std::thread::sleep(Duration::from_millis(1200));
                eprintln!("child: the poll returns");
            });
        task.await.unwrap();
    });
    drop(rt);
    eprintln!(
        "child: backtrace signal handled: {}",
        backtrace_signal_is_handled()
    );
    eprintln!("child: done");
}

/// The signal the stall detector asks a stuck thread for its stack with
/// (documented at `Builder::long_poll_warning`).
fn backtrace_signal() -> libc::c_int {
    libc::SIGRTMIN() + 6
}

/// Whether any handler is installed for [`backtrace_signal`].
fn backtrace_signal_is_handled() -> bool {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new
    // action only reads the current one.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(backtrace_signal(), std::ptr::null(), &mut old),
            0
        );
        old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN
    }
}

/// Where the stuck task of [`child_backtrace_scenario`] spends its poll: a
/// name to find in the live report's backtrace.
#[inline(never)]
fn stuck_in_a_distinctive_function(reported: &dyn Fn() -> bool) {
    eprintln!("child: the poll starts");
    // Stuck until the live report is made, so that the stack is taken
    // while the poll holds the worker however slow the machine (bounded:
    // a broken detector fails the parent's assertions instead of hanging).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reported() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("child: the poll returns");
}

/// In the child: a runtime with a 100 ms limit and a task stuck in
/// [`stuck_in_a_distinctive_function`] until the live report is made.
/// multi_thread: the default sink (stderr); current_thread: a hook that
/// prints what `Display` gives and whether each report has a backtrace.
fn child_backtrace_scenario(current_thread: bool) {
    let mut builder = if current_thread {
        Builder::new_current_thread()
    } else {
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    };
    builder.long_poll_warning(Duration::from_millis(100));
    let hooked = Arc::new(AtomicBool::new(false));
    if current_thread {
        let hooked = hooked.clone();
        builder.on_long_poll(move |report| {
            eprintln!("{report}");
            eprintln!(
                "child: finished {}, backtrace {}",
                report.is_finished(),
                report.backtrace().is_some()
            );
            if !report.is_finished() {
                hooked.store(true, Ordering::SeqCst);
            }
        });
    }
    let rt = builder.build().unwrap();
    let handle = rt.handle();
    rt.block_on(async move {
        runtime::task::Builder::new()
            .name("stuck-in-a-function")
            .spawn(async move {
                stuck_in_a_distinctive_function(&|| {
                    hooked.load(Ordering::SeqCst) || handle.metrics().live_stall_reports() > 0
                })
            })
            .await
            .unwrap();
    });
    drop(rt);
    eprintln!("child: done");
}

/// Runs `test` of this binary in a child with `STALL_CHILD=mode`; returns
/// its stderr lines, each with the time since the child said the poll
/// started.
fn run_child(test: &str, mode: &str) -> Vec<(Duration, String)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut start = None;
    let mut lines = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let now = Instant::now();
        if line.contains("child: the poll starts") {
            start = Some(now);
        }
        let since = start.map_or(Duration::ZERO, |start| now - start);
        lines.push((since, line));
    }
    assert!(child.wait().unwrap().success(), "child failed: {lines:#?}");
    assert!(
        start.is_some(),
        "the child never started its poll: {lines:#?}"
    );
    lines
}

#[test]
fn a_stuck_poll_is_reported_while_stuck_and_again_with_the_total() {
    if let Ok(mode) = std::env::var(CHILD) {
        return child_scenario(mode == "on");
    }
    let lines = run_child(
        "a_stuck_poll_is_reported_while_stuck_and_again_with_the_total",
        "on",
    );
    let at = |pattern: &str| {
        lines
            .iter()
            .position(|(_, line)| line.contains(pattern))
            .unwrap_or_else(|| panic!("no line with {pattern:?} in {lines:#?}"))
    };
    let live = at("is still running");
    let returned = at("child: the poll returns");
    let total = at("in total");
    let (live_at, live_line) = &lines[live];
    println!("live report after {live_at:?}: {live_line}");
    println!("total: {}", lines[total].1);
    // The live report names the task, arrives before the poll returns, and
    // within about the limit (generously: the machine may be loaded).
    assert!(live < returned, "{lines:#?}");
    assert!(*live_at < Duration::from_millis(600), "{lines:#?}");
    assert!(live_line.contains("\"sleepy-poll\""), "{live_line}");
    assert!(live_line.contains("tests/stall.rs:"), "{live_line}");
    assert!(live_line.contains("worker"), "{live_line}");
    // One more after it returns, with the total and its unit.
    let total_line = &lines[total].1;
    assert!(total > returned, "{lines:#?}");
    assert!(total_line.contains("\"sleepy-poll\""), "{total_line}");
    assert!(
        total_line.contains("1.2") && total_line.contains('s'),
        "{total_line}"
    );
    // Exactly one live report for the one stuck poll.
    let live_reports = lines
        .iter()
        .filter(|(_, l)| l.contains("still running"))
        .count();
    assert_eq!(live_reports, 1, "{lines:#?}");
}

/// The live report carries the stuck thread's stack, which names the
/// function the poll is stuck in; the summary line stays one line.
/// Returns the child's stderr lines.
fn the_live_report_shows_the_stuck_stack(test: &str) -> Vec<String> {
    let text: Vec<String> = run_child(test, "trace")
        .into_iter()
        .map(|(_, line)| line)
        .collect();
    let live = text
        .iter()
        .position(|line| line.contains("is still running"))
        .unwrap_or_else(|| panic!("no live report: {text:#?}"));
    assert!(
        text[live].starts_with("runtime: a poll of task")
            && text[live].contains("\"stuck-in-a-function\""),
        "{text:#?}"
    );
    // The stack follows the summary, indented, under a line naming the
    // task again (another line may come between: the default sink writes
    // the summary before it names the frames).
    let stack: Vec<&str> = text[live + 1..]
        .iter()
        .filter(|line| line.starts_with("    "))
        .map(String::as_str)
        .collect();
    println!("{}\n{}", text[live], stack.join("\n"));
    assert!(
        stack
            .first()
            .is_some_and(|line| line.contains("the stack of task") && line.contains("worker")),
        "{text:#?}"
    );
    assert!(
        stack[1..]
            .iter()
            .any(|frame| frame.contains("stuck_in_a_distinctive_function")),
        "{text:#?}"
    );
    // Numbered from the innermost frame; the runtime's own frames below
    // the task's poll are left out.
    assert!(stack[1].trim_start().starts_with("0: "), "{stack:#?}");
    assert!(
        !stack
            .iter()
            .any(|frame| frame.contains("runtime::task::harness")),
        "{stack:#?}"
    );
    assert!(
        text.iter().any(|line| line.contains("in total")),
        "{text:#?}"
    );
    text
}

#[test]
fn the_live_report_names_the_function_a_worker_is_stuck_in() {
    if std::env::var(CHILD).is_ok() {
        return child_backtrace_scenario(false);
    }
    the_live_report_shows_the_stuck_stack(
        "the_live_report_names_the_function_a_worker_is_stuck_in",
    );
}

#[test]
fn the_live_report_names_the_function_block_on_is_stuck_in() {
    if std::env::var(CHILD).is_ok() {
        return child_backtrace_scenario(true);
    }
    let text = the_live_report_shows_the_stuck_stack(
        "the_live_report_names_the_function_block_on_is_stuck_in",
    );
    // Through the hook: the live report has the stack, the one with the
    // total has none.
    assert!(
        text.iter()
            .any(|line| line == "child: finished false, backtrace true"),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|line| line == "child: finished true, backtrace false"),
        "{text:#?}"
    );
}

#[test]
fn no_report_without_the_option() {
    if let Ok(mode) = std::env::var(CHILD) {
        return child_scenario(mode == "on");
    }
    let lines = run_child("no_report_without_the_option", "off");
    assert!(
        !lines.iter().any(|(_, line)| line.starts_with("runtime:")),
        "{lines:#?}"
    );
    // Without the option, no handler for the backtrace signal either.
    assert!(
        lines
            .iter()
            .any(|(_, line)| line == "child: backtrace signal handled: false"),
        "{lines:#?}"
    );
}

static EARLIER_HANDLER_RAN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn earlier_handler(_: libc::c_int) {
    EARLIER_HANDLER_RAN.fetch_add(1, Ordering::SeqCst);
}

/// A handler the program installed for the backtrace signal before the
/// runtime is not replaced: it still runs (chained), and the live report
/// still has its stack.
#[test]
fn an_earlier_handler_of_the_backtrace_signal_keeps_running() {
    if std::env::var(CHILD).is_ok() {
        // SAFETY: a zeroed sigaction with a plain handler (no SA_SIGINFO)
        // is a valid action; the handler only bumps an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = earlier_handler as *const () as usize;
            assert_eq!(
                libc::sigaction(backtrace_signal(), &action, std::ptr::null_mut()),
                0
            );
        }
        child_backtrace_scenario(false);
        eprintln!(
            "child: the earlier handler ran {} time(s)",
            EARLIER_HANDLER_RAN.load(Ordering::SeqCst)
        );
        return;
    }
    let text = the_live_report_shows_the_stuck_stack(
        "an_earlier_handler_of_the_backtrace_signal_keeps_running",
    );
    assert!(
        text.iter()
            .any(|line| line == "child: the earlier handler ran 1 time(s)"),
        "{text:#?}"
    );
}

#[test]
fn metrics_count_long_polls_and_live_reports() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .long_poll_warning(Duration::from_millis(50))
        .on_long_poll(|_| {})
        .build()
        .unwrap();
    rt.block_on(async {
        runtime::spawn(async { std::thread::sleep(Duration::from_millis(300)) })
            .await
            .unwrap();
        for _ in 0..10 {
            runtime::spawn(async {}).await.unwrap();
        }
    });
    // A worker records a poll's time after the poll, which may be after
    // the awaiting side saw the task end: read the counters once the
    // workers have stopped.
    let metrics = rt.metrics();
    drop(rt);
    let worker = metrics.worker(0);
    assert_eq!(worker.long_polls(), 1);
    assert_eq!(metrics.live_stall_reports(), 1);
    let histogram = worker.poll_time_histogram();
    let bucket_of_300ms = runtime::metrics::POLL_TIME_BUCKETS
        .iter()
        .position(|bound| Duration::from_millis(300) < *bound)
        .unwrap();
    assert_eq!(
        histogram[bucket_of_300ms], 1,
        "the 300 ms poll: {histogram:?}"
    );
    assert_eq!(histogram.iter().sum::<u64>(), 11, "{histogram:?}");
    // Without the option nothing is measured.
    let plain = Builder::new_current_thread().build().unwrap();
    plain.block_on(async { runtime::spawn(async {}).await.unwrap() });
    assert_eq!(plain.metrics().worker(0).poll_time_histogram(), [0; 5]);
    assert_eq!(plain.metrics().live_stall_reports(), 0);
}

/// A dump from a plain thread while one of two workers is stuck: every
/// task is there with the right state, location, age and polls.
#[test]
fn a_dump_from_a_plain_thread_while_a_worker_is_stuck() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let stuck_polling = Arc::new(AtomicBool::new(false));
    let parked: Vec<_> = (0..5)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    // Released however the test ends, so a failed assertion cannot leave
    // a worker stuck and the runtime's drop waiting for it.
    struct Release(Arc<AtomicBool>);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let _release_on_exit = Release(release.clone());
    let line = line!() + 3;
    let stuck = {
        let (release, polling) = (release.clone(), stuck_polling.clone());
        runtime::task::Builder::new().name("stuck").spawn_on(
            async move {
                polling.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            },
            &rt.handle(),
        )
    };
    while !stuck_polling.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Let the pending tasks have their first poll.
    std::thread::sleep(Duration::from_millis(50));
    let handle = rt.handle();
    let (dump, took) = std::thread::spawn(move || {
        let start = Instant::now();
        let dump = handle.dump();
        (dump, start.elapsed())
    })
    .join()
    .unwrap();
    println!("dump took {took:?}:\n{dump}");
    assert!(took < Duration::from_millis(100), "took {took:?}");
    assert_eq!(dump.tasks().len(), 6, "{dump}");
    let stuck_info = dump.tasks().iter().find(|t| t.id() == stuck.id()).unwrap();
    assert_eq!(stuck_info.state(), TaskState::Running);
    assert_eq!(stuck_info.name(), Some("stuck"));
    assert_eq!(stuck_info.polls(), 1);
    assert!(stuck_info.spawned_at().file().ends_with("stall.rs"));
    assert_eq!(stuck_info.spawned_at().line(), line);
    for task in &parked {
        let info = dump.tasks().iter().find(|t| t.id() == task.id()).unwrap();
        assert_eq!(info.state(), TaskState::Pending, "{dump}");
        assert_eq!(info.polls(), 1, "{dump}");
        assert!(info.age() >= Duration::from_millis(20), "{dump}");
        assert!(info.age() < Duration::from_secs(60), "{dump}");
    }
    // Oldest first.
    let ages: Vec<_> = dump.tasks().iter().map(|t| t.age()).collect();
    assert!(ages.windows(2).all(|w| w[0] >= w[1]), "{ages:?}");
    assert_eq!(dump.to_string().lines().count(), 6);

    release.store(true, Ordering::SeqCst);
    for task in &parked {
        task.cancel();
    }
    rt.block_on(async {
        stuck.await.unwrap();
        for task in parked {
            assert!(task.await.unwrap_err().is_cancelled());
        }
    });
    let empty = rt.handle().dump();
    assert!(empty.tasks().is_empty(), "{empty}");
    assert_eq!(empty.to_string(), "no live tasks\n");
}

/// current_thread: a dump from another thread while `block_on` runs the
/// tasks (and is stuck in one of them).
#[test]
fn a_dump_of_a_current_thread_runtime_from_another_thread() {
    let rt = Builder::new_current_thread().build().unwrap();
    let handle = rt.handle();
    let (tx, rx) = std::sync::mpsc::channel();
    let dumper = std::thread::spawn(move || {
        rx.recv().unwrap();
        handle.dump()
    });
    rt.block_on(async move {
        let waiting = runtime::spawn(std::future::pending::<()>());
        runtime::task::yield_now().await; // its first poll
        tx.send(()).unwrap();
        // Stuck in the root future's poll while the other thread dumps.
        std::thread::sleep(Duration::from_millis(100));
        let dump = dumper.join().unwrap();
        assert_eq!(dump.tasks().len(), 1, "{dump}");
        assert_eq!(dump.tasks()[0].id(), waiting.id());
        assert_eq!(dump.tasks()[0].state(), TaskState::Pending);
        waiting.cancel();
    });
}
