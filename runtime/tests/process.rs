//! `runtime::process`: spawning, waiting, killing, pipes, and no zombies.
//! Every test runs under a watchdog, so a bug fails instead of hanging.
//! The CI reruns this file with `RUNTIME_IO_DRIVER=epoll`.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use runtime::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use runtime::task::JoinSet;
use runtime::time::{sleep, timeout};
use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {LIMIT:?}"),
    }
}

/// State letter and parent of `pid`, from `/proc/<pid>/stat`; `None` once
/// the process is gone (reaped).
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may hold spaces, so split after ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` is (still) a child of this process.
fn is_our_child(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(_, ppid)| ppid == std::process::id())
}

/// Polls (on a plain thread, with a bound) until none of `pids` is a child
/// of ours any more: every one has exited and been reaped. A pid reused by
/// an unrelated process meanwhile has another parent and counts as gone.
fn assert_all_reaped(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<_> = pids
            .iter()
            .filter(|&&pid| is_our_child(pid))
            .map(|&pid| (pid, proc_stat(pid)))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not reaped within 20 s (pid, (state, ppid)): {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_types_are_send() {
    fn send<T: Send>() {}
    send::<Command>();
    send::<Child>();
    send::<ChildStdin>();
    send::<ChildStdout>();
    send::<ChildStderr>();
    // The owned-buffer methods take `&self`: their futures are `Send` only
    // if the pipes are `Sync`.
    fn sync<T: Sync>() {}
    sync::<ChildStdin>();
    sync::<ChildStdout>();
    sync::<ChildStderr>();
}

#[runtime::test]
async fn echo_output() {
    let out = bounded("output", Command::new("echo").arg("hello").output())
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hello\n");
    assert!(out.stderr.is_empty());
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_output_multi_thread() {
    let out = bounded("output", Command::new("echo").arg("hello").output())
        .await
        .unwrap();
    assert_eq!(out.stdout, b"hello\n");
}

#[runtime::test]
async fn exit_codes_and_signals() {
    let status = bounded("exit 3", Command::new("sh").args(["-c", "exit 3"]).status())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(!status.success());

    let status = bounded(
        "kill -9 $$",
        Command::new("sh").args(["-c", "kill -9 $$"]).status(),
    )
    .await
    .unwrap();
    assert_eq!(status.code(), None);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[runtime::test]
async fn a_missing_program_is_not_found() {
    let err = Command::new("/definitely/not/a/program")
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let err = Command::new("no-such-program-in-path-xyz")
        .output()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[runtime::test]
async fn a_directory_is_permission_denied() {
    let err = Command::new("/").spawn().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
}

/// 1 MiB through `cat`, written by one task and read by another at once
/// (more than a pipe holds, so each side waits for the other).
async fn one_mib_through_cat() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let expected = data.clone();

    let writer = runtime::spawn(async move {
        let (result, _data) = stdin.write_all(data).await;
        result
        // `stdin` drops here: cat sees end of file.
    });
    let reader = runtime::spawn(async move {
        let mut all = Vec::new();
        let mut buf = Vec::with_capacity(16 * 1024);
        loop {
            let (n, b) = stdout.read(buf).await;
            let n = n?;
            if n == 0 {
                return Ok::<_, io::Error>(all);
            }
            all.extend_from_slice(&b[..n]);
            buf = b;
        }
    });
    bounded("writer", writer).await.unwrap().unwrap();
    let got = bounded("reader", reader).await.unwrap().unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the bytes differ");
    assert!(bounded("wait", child.wait()).await.unwrap().success());
}

#[runtime::test]
async fn one_mib_through_cat_current_thread() {
    one_mib_through_cat().await;
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mib_through_cat_multi_thread() {
    one_mib_through_cat().await;
}

#[runtime::test]
async fn futures_io_traits_on_the_pipes() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let data = vec![7u8; 200_000];
    let expected = data.clone();
    let writer = runtime::spawn(async move {
        // The traits' methods by path: the owned-buffer methods of the same
        // names come first otherwise.
        AsyncWriteExt::write_all(&mut stdin, &data).await?;
        stdin.close().await?;
        // Closed: later writes fail clearly.
        let err = AsyncWriteExt::write(&mut stdin, b"late").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        let (result, _) = stdin.write_all(&b"late"[..]).await;
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        let err = stdin.into_owned_fd().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        Ok::<_, io::Error>(())
    });
    let mut got = Vec::new();
    bounded("read_to_end", stdout.read_to_end(&mut got))
        .await
        .unwrap();
    bounded("writer", writer).await.unwrap().unwrap();
    assert!(got == expected, "the bytes differ");
    assert!(bounded("wait", child.wait()).await.unwrap().success());
}

#[runtime::test]
async fn stderr_is_read_too() {
    let mut child = Command::new("sh")
        .args(["-c", "echo oops >&2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut text = String::new();
    bounded("read", stderr.read_to_string(&mut text))
        .await
        .unwrap();
    assert_eq!(text, "oops\n");
    bounded("wait", child.wait()).await.unwrap();
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_with_output_reads_both_pipes_while_waiting() {
    // Each stream gets more than a pipe holds: reading one pipe after the
    // other, or only after the exit, would deadlock.
    let child = Command::new("sh")
        .args([
            "-c",
            "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2; exit 4",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = bounded("wait_with_output", child.wait_with_output())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(out.stdout.len(), 300_000);
    assert_eq!(out.stderr.len(), 200_000);
}

#[runtime::test]
async fn writing_to_a_child_that_exited_is_broken_pipe() {
    let mut child = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let stdin = child.stdin.take().unwrap();
    bounded("wait", child.wait()).await.unwrap();
    // Enough to never fit: the first write that meets the closed end fails.
    let (result, _) = bounded("write_all", stdin.write_all(vec![0u8; 1 << 20])).await;
    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
}

#[runtime::test]
async fn kill_ends_a_sleeper() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    bounded("kill", child.kill()).await.unwrap();
    let status = bounded("wait", child.wait()).await.unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_kill_then_wait_multi_thread() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    child.start_kill().unwrap();
    // Killing twice before the status is collected is fine.
    child.start_kill().unwrap();
    let status = bounded("wait", child.wait()).await.unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[runtime::test]
async fn killing_a_collected_child_is_invalid_input() {
    let mut child = Command::new("true").spawn().unwrap();
    assert!(bounded("wait", child.wait()).await.unwrap().success());
    assert_eq!(child.id(), None);
    let err = child.start_kill().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = bounded("kill", child.kill()).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[runtime::test]
async fn killing_an_exited_uncollected_child_is_fine() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id().unwrap();
    // Wait (without collecting) until it is a zombie.
    let deadline = Instant::now() + Duration::from_secs(20);
    while proc_stat(pid).map(|(state, _)| state) != Some('Z') {
        assert!(Instant::now() < deadline, "`true` never exited");
        sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    assert!(bounded("wait", child.wait()).await.unwrap().success());
}

#[runtime::test]
async fn try_wait_before_and_after_exit() {
    // `cat` waiting for input cannot exit before its stdin closes.
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(child.try_wait().unwrap(), None);
    assert!(child.id().is_some());
    let status = bounded("wait", child.wait()).await.unwrap();
    assert!(status.success());
    assert_eq!(child.try_wait().unwrap(), Some(status));
    assert_eq!(bounded("wait again", child.wait()).await.unwrap(), status);
}

#[runtime::test]
async fn a_wait_dropped_midway_can_be_awaited_again() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    // `sleep 60` cannot exit within the 50 ms (timers never fire early).
    let early = timeout(Duration::from_millis(50), child.wait()).await;
    assert!(early.is_err(), "sleep 60 exited early: {early:?}");
    child.start_kill().unwrap();
    let status = bounded("wait", child.wait()).await.unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_short_processes_at_once() {
    let mut set = JoinSet::new();
    for i in 0..200u32 {
        set.spawn(async move {
            if i % 2 == 0 {
                let out = Command::new("echo").arg(i.to_string()).output().await?;
                assert!(out.status.success());
                assert_eq!(out.stdout, format!("{i}\n").into_bytes());
            } else {
                let status = Command::new("true").status().await?;
                assert!(status.success());
            }
            Ok::<_, io::Error>(())
        });
    }
    let results = bounded("200 processes", set.join_all()).await;
    assert_eq!(results.len(), 200);
    for result in results {
        result.unwrap();
    }
}

#[runtime::test]
async fn kill_on_drop_kills_and_the_child_is_reaped() {
    let child = Command::new("sleep")
        .arg("60")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    assert!(is_our_child(pid));
    drop(child);
    // Killed, then reaped in the background: gone well before 60 s.
    runtime::spawn_blocking(move || assert_all_reaped(&[pid]))
        .await
        .unwrap();
}

#[runtime::test]
async fn without_kill_on_drop_the_child_runs_on_and_is_reaped_at_exit() {
    let child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id().unwrap();
    drop(child);
    // Still running: dropping did not kill it.
    let (state, _) = proc_stat(pid).expect("the child vanished");
    assert_ne!(state, 'Z', "dropping the Child killed it");
    // SAFETY: no pointers; `pid` is our unreaped child, so it is still it.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    runtime::spawn_blocking(move || assert_all_reaped(&[pid]))
        .await
        .unwrap();
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_children_leave_no_zombie() {
    let mut pids = Vec::new();
    // Exited before the drop (the runtime idle meanwhile): reaped by the
    // drop itself.
    for _ in 0..5 {
        let child = Command::new("true").spawn().unwrap();
        let pid = child.id().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while proc_stat(pid).map(|(state, _)| state) != Some('Z') {
            assert!(Instant::now() < deadline, "`true` never exited");
            sleep(Duration::from_millis(5)).await;
        }
        pids.push(pid);
        drop(child);
    }
    // Still running at the drop: reaped by the reaper when they exit.
    for _ in 0..5 {
        let child = Command::new("sleep").arg("0.2").spawn().unwrap();
        pids.push(child.id().unwrap());
        drop(child);
    }
    // Dropped with pipes and output nobody reads.
    for _ in 0..5 {
        let child = Command::new("sh")
            .args(["-c", "echo dropped"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        pids.push(child.id().unwrap());
        drop(child);
    }
    runtime::spawn_blocking(move || assert_all_reaped(&pids))
        .await
        .unwrap();
}

#[test]
fn spawn_and_drop_outside_a_runtime() {
    // Spawning needs no runtime, and neither does reaping a dropped child.
    let child = Command::new("sleep").arg("0.1").spawn().unwrap();
    let pid = child.id().unwrap();
    drop(child);
    assert_all_reaped(&[pid]);
}

#[test]
fn waiting_outside_a_runtime_is_an_error() {
    use futures_util::FutureExt;
    let mut child = Command::new("sleep")
        .arg("60")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let err = child
        .wait()
        .now_or_never()
        .expect("a wait outside a runtime must fail at once")
        .unwrap_err();
    assert!(
        err.to_string().contains("outside of a runtime"),
        "unexpected error: {err}"
    );
}

#[runtime::test]
async fn output_does_not_change_later_spawns() {
    let mut cmd = Command::new("true");
    let out = bounded("output", cmd.output()).await.unwrap();
    assert!(out.status.success());
    // `output` piped the streams for itself only.
    let mut child = cmd.spawn().unwrap();
    assert!(child.stdin.is_none() && child.stdout.is_none() && child.stderr.is_none());
    bounded("wait", child.wait()).await.unwrap();
}

#[runtime::test]
async fn output_respects_streams_the_user_set() {
    let out = bounded(
        "output",
        Command::new("sh")
            .args(["-c", "echo out; echo err >&2"])
            .stderr(Stdio::null())
            .output(),
    )
    .await
    .unwrap();
    assert_eq!(out.stdout, b"out\n");
    assert!(out.stderr.is_empty());
}

#[runtime::test]
async fn a_pipe_between_two_children() {
    let mut first = Command::new("echo")
        .arg("through")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe: Stdio = first.stdout.take().unwrap().try_into().unwrap();
    let out = bounded("cat", Command::new("cat").stdin(pipe).output())
        .await
        .unwrap();
    assert_eq!(out.stdout, b"through\n");
    assert!(bounded("wait", first.wait()).await.unwrap().success());
}

#[runtime::test]
async fn env_and_dir() {
    let out = bounded(
        "output",
        Command::new("sh")
            .args(["-c", "echo $A:${B-none}:$(pwd)"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs([("A", "1"), ("B", "2")])
            .env_remove("B")
            .current_dir("/")
            .output(),
    )
    .await
    .unwrap();
    assert_eq!(out.stdout, b"1:none:/\n");
}

/// Threads of this process named `runtime-reaper`.
fn reaper_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == "runtime-reaper")
        .count()
}

#[test]
fn the_reaper_thread_leaves_when_no_orphan_is_left() {
    let child = Command::new("sleep").arg("0.1").spawn().unwrap();
    let pid = child.id().unwrap();
    drop(child);
    assert_all_reaped(&[pid]);
    // Other tests here drop children too, all short-lived: once every
    // orphan is reaped, the thread is gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    while reaper_threads() > 0 {
        assert!(
            Instant::now() < deadline,
            "a reaper thread is still there 20 s after its orphans"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
