//! `runtime::signal`: `ctrl_c`, and `unix::signal` listeners.
//!
//! Every scenario sends signals to its own process, so each runs in a child
//! process (this test binary, re-run with only that test and
//! `SIGNAL_CHILD` naming it): a signal that goes wrong kills the child, not
//! the suite. The parent checks that the child ran the scenario and passed.
//! The child has a watchdog thread, the parent a deadline, so a lost
//! wake-up fails instead of hanging.
//!
//! Signals are raised only after the listener exists (the `Signal` is made,
//! or the `ctrl_c` future polled once), never after a sleep.

use futures_channel::oneshot;
use runtime::signal::unix::{signal, Signal, SignalKind};
use runtime::{Builder, Runtime};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::Poll;
use std::time::{Duration, Instant};

const CHILD: &str = "SIGNAL_CHILD";
const WATCHDOG: Duration = Duration::from_secs(20);

/// In the child (when `SIGNAL_CHILD` is `name`): runs `body` under a
/// watchdog. In the parent: runs the test `name` in a child and asserts it
/// passed.
fn scenario(name: &str, body: fn()) {
    if let Ok(which) = std::env::var(CHILD) {
        assert_eq!(
            which, name,
            "the child runs only the test it was started for"
        );
        std::thread::spawn(|| {
            std::thread::sleep(WATCHDOG);
            eprintln!("child: watchdog: the scenario did not finish in {WATCHDOG:?}");
            std::process::exit(3);
        });
        body();
        println!("child: scenario {name} passed");
        return;
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let output = match rx.recv_timeout(WATCHDOG + Duration::from_secs(10)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) has no memory-safety preconditions; `pid` is
            // our child, not yet waited for (its waiter has not returned).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let output = rx.recv().unwrap().unwrap();
            panic!("the child hung: {}", show(&output));
        }
    };
    assert!(
        output.status.success(),
        "the child failed: {}",
        show(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("child: scenario {name} passed")),
        "the child did not run the scenario: {}",
        show(&output)
    );
}

fn show(output: &std::process::Output) -> String {
    format!(
        "{}\n--- stdout:\n{}\n--- stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Sends `signum` to this process.
fn raise(signum: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(libc::getpid(), signum) };
    assert_eq!(rc, 0, "kill: {}", io::Error::last_os_error());
}

/// Polls `fut` once, with the current task's context.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Awaits `fut`, failing instead of hanging if it never completes.
async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match runtime::time::timeout(WATCHDOG, fut).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not complete"),
    }
}

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

#[test]
fn ctrl_c_on_current_thread() {
    scenario("ctrl_c_on_current_thread", || {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut interrupted = pin!(runtime::signal::ctrl_c());
            assert!(poll_once(&mut interrupted).await.is_pending());
            raise(libc::SIGINT);
            within("ctrl_c", interrupted).await.unwrap();
        });
    });
}

#[test]
fn ctrl_c_on_multi_thread_wakes_every_waiter() {
    scenario("ctrl_c_on_multi_thread_wakes_every_waiter", || {
        let rt = multi_thread();
        rt.block_on(async {
            let mut tasks = Vec::new();
            let mut registered = Vec::new();
            for _ in 0..2 {
                let (tx, rx) = oneshot::channel();
                registered.push(rx);
                tasks.push(runtime::spawn(async move {
                    let mut interrupted = pin!(runtime::signal::ctrl_c());
                    assert!(poll_once(&mut interrupted).await.is_pending());
                    tx.send(()).unwrap();
                    interrupted.await
                }));
            }
            let mut here = pin!(runtime::signal::ctrl_c());
            assert!(poll_once(&mut here).await.is_pending());
            for rx in registered {
                within("a waiter's registration", rx).await.unwrap();
            }
            raise(libc::SIGINT);
            within("ctrl_c in block_on", here).await.unwrap();
            for task in tasks {
                within("ctrl_c in a task", task).await.unwrap().unwrap();
            }
        });
    });
}

/// Blocks the calling worker until `n` callers are here (or fails after the
/// watchdog), so the `n` tasks are known to be on `n` different workers.
fn rendezvous(arrived: &AtomicUsize, n: usize) {
    arrived.fetch_add(1, SeqCst);
    let deadline = Instant::now() + WATCHDOG;
    while arrived.load(SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "the tasks never ran at the same time"
        );
        std::thread::yield_now();
    }
}

#[test]
fn two_listeners_on_two_workers_are_both_woken() {
    scenario("two_listeners_on_two_workers_are_both_woken", || {
        let rt = multi_thread();
        rt.block_on(async {
            let arrived = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            let mut registered = Vec::new();
            for _ in 0..2 {
                let (tx, rx) = oneshot::channel();
                registered.push(rx);
                let arrived = arrived.clone();
                tasks.push(runtime::spawn(async move {
                    rendezvous(&arrived, 2);
                    let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
                    tx.send(std::thread::current().id()).unwrap();
                    usr1.recv().await
                }));
            }
            let mut workers = Vec::new();
            for rx in registered {
                workers.push(within("a listener's registration", rx).await.unwrap());
            }
            assert_ne!(workers[0], workers[1], "both tasks ran on one thread");
            raise(libc::SIGUSR1);
            for task in tasks {
                assert_eq!(within("a listener", task).await.unwrap(), Some(()));
            }
        });
    });
}

/// Whether `signal` has a delivery ready right now.
async fn has_delivery(signal: &mut Signal) -> bool {
    poll_fn(|cx| Poll::Ready(signal.poll_recv(cx).is_ready())).await
}

#[test]
fn three_sigterms_are_three_recvs() {
    scenario("three_sigterms_are_three_recvs", || {
        multi_thread().block_on(async {
            let mut terminate = signal(SignalKind::terminate()).unwrap();
            for _ in 0..3 {
                raise(libc::SIGTERM);
                assert_eq!(within("recv", terminate.recv()).await, Some(()));
            }
            // Three arrivals, three deliveries, and no more.
            assert!(!has_delivery(&mut terminate).await);
        });
    });
}

#[test]
fn an_arrival_while_no_recv_is_pending_goes_to_the_next_recv() {
    scenario(
        "an_arrival_while_no_recv_is_pending_goes_to_the_next_recv",
        || {
            multi_thread().block_on(async {
                let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
                // No recv at all.
                raise(libc::SIGUSR2);
                assert_eq!(within("recv", usr2.recv()).await, Some(()));
                // A recv that was polled and dropped (cancelled) loses nothing.
                {
                    let mut abandoned = pin!(usr2.recv());
                    assert!(poll_once(&mut abandoned).await.is_pending());
                }
                raise(libc::SIGUSR2);
                assert_eq!(within("recv", usr2.recv()).await, Some(()));
            });
        },
    );
}

#[test]
fn dropping_a_listener_leaves_the_others_working() {
    scenario("dropping_a_listener_leaves_the_others_working", || {
        multi_thread().block_on(async {
            let idle = signal(SignalKind::hangup()).unwrap();
            let mut kept = signal(SignalKind::hangup()).unwrap();
            // One dropped while its recv waits in a task.
            let (tx, rx) = oneshot::channel();
            let waiting = runtime::spawn(async move {
                let mut hangup = signal(SignalKind::hangup()).unwrap();
                let mut recv = pin!(hangup.recv());
                assert!(poll_once(&mut recv).await.is_pending());
                tx.send(()).unwrap();
                recv.await
            });
            within("the waiting task's registration", rx).await.unwrap();
            waiting.cancel();
            assert!(within("the cancelled task", waiting)
                .await
                .unwrap_err()
                .is_cancelled());
            drop(idle);
            raise(libc::SIGHUP);
            assert_eq!(within("the kept listener", kept.recv()).await, Some(()));
        });
    });
}

#[test]
fn a_sigchld_listener_sees_a_child_exit_and_reaps_nothing() {
    scenario(
        "a_sigchld_listener_sees_a_child_exit_and_reaps_nothing",
        || {
            multi_thread().block_on(async {
                let mut child_signal = signal(SignalKind::child()).unwrap();
                let mut child = Command::new("true").spawn().unwrap();
                assert_eq!(within("SIGCHLD", child_signal.recv()).await, Some(()));
                // The exit status is still there for the child's owner:
                // the listener did not wait for it.
                let status = child.wait().unwrap();
                assert!(status.success(), "{status}");
            });
        },
    );
}

#[test]
fn unlistenable_signals_are_invalid_input_naming_the_signal() {
    scenario(
        "unlistenable_signals_are_invalid_input_naming_the_signal",
        || {
            let refused = |signum: i32, named: &str| {
                let err = signal(SignalKind::from_raw(signum)).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{signum}: {err}");
                assert!(err.to_string().contains(named), "{signum}: {err}");
            };
            // Cannot be caught.
            refused(libc::SIGKILL, "SIGKILL");
            refused(libc::SIGSTOP, "SIGSTOP");
            // Faults of the running thread.
            refused(libc::SIGSEGV, "SIGSEGV");
            refused(libc::SIGILL, "SIGILL");
            refused(libc::SIGFPE, "SIGFPE");
            refused(libc::SIGBUS, "SIGBUS");
            // No signal at all.
            refused(0, "signal number 0 ");
            refused(-1, "signal number -1 ");
            refused(i32::MIN, &format!("signal number {} ", i32::MIN));
            let past = libc::SIGRTMAX() + 1;
            refused(past, &format!("signal number {past} "));
            refused(i32::MAX, &format!("signal number {} ", i32::MAX));
            // Kept by the C library for its threads.
            for reserved in 32..libc::SIGRTMIN() {
                refused(reserved, &format!("signal number {reserved} "));
            }
            // The edges that are allowed.
            signal(SignalKind::from_raw(1)).unwrap();
            signal(SignalKind::from_raw(libc::SIGRTMIN())).unwrap();
            signal(SignalKind::from_raw(libc::SIGRTMAX())).unwrap();
            // ctrl_c's listener is an ordinary one.
            let rt = Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let mut interrupted = pin!(runtime::signal::ctrl_c());
                assert!(poll_once(&mut interrupted).await.is_pending());
            });
        },
    );
}

#[test]
fn a_listener_needs_no_runtime_and_outlives_the_one_it_ran_in() {
    scenario(
        "a_listener_needs_no_runtime_and_outlives_the_one_it_ran_in",
        || {
            // Made on a plain thread, outside any runtime.
            let mut quit = signal(SignalKind::quit()).unwrap();
            raise(libc::SIGQUIT);
            let first = Builder::new_current_thread().build().unwrap();
            first.block_on(async {
                assert_eq!(within("recv", quit.recv()).await, Some(()));
            });
            drop(first);
            let second = multi_thread();
            second.block_on(async move {
                let task = runtime::spawn(async move { quit.recv().await });
                // The task is spawned; the signal may arrive before or
                // after its recv is pending: either way it is delivered.
                raise(libc::SIGQUIT);
                assert_eq!(within("recv in a task", task).await.unwrap(), Some(()));
            });
        },
    );
}

#[test]
fn the_dispatcher_stops_with_the_last_listener_and_the_handler_stays() {
    scenario(
        "the_dispatcher_stops_with_the_last_listener_and_the_handler_stays",
        || {
            // A new thread names itself after it starts: wait for the name.
            let dispatcher = || thread_names().iter().any(|n| n == "runtime-signal");
            let eventually = |want: bool, what: &str| {
                let deadline = Instant::now() + WATCHDOG;
                while dispatcher() != want {
                    assert!(Instant::now() < deadline, "{what}: {:?}", thread_names());
                    std::thread::sleep(Duration::from_millis(5));
                }
            };
            assert!(!dispatcher(), "{:?}", thread_names());
            let a = signal(SignalKind::user_defined1()).unwrap();
            let b = signal(SignalKind::terminate()).unwrap();
            eventually(true, "the dispatcher thread never started");
            drop(a);
            assert!(dispatcher(), "b still listens: {:?}", thread_names());
            drop(b);
            eventually(false, "the dispatcher thread never stopped");
            // The handlers stay: with no listener, these arrivals are
            // counted and dropped instead of terminating the process.
            raise(libc::SIGUSR1);
            raise(libc::SIGTERM);
            // A new listener starts a new dispatcher, and works.
            let mut c = signal(SignalKind::terminate()).unwrap();
            eventually(true, "no new dispatcher thread");
            raise(libc::SIGTERM);
            multi_thread().block_on(async {
                assert_eq!(within("recv", c.recv()).await, Some(()));
            });
        },
    );
}

#[test]
fn signal_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Signal>();
    send_sync::<SignalKind>();
}
