//! The paths the integration tests cannot reach on a kernel with pidfds:
//! waiting and killing without one.

use super::Child;
use crate::Builder;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

fn rt() -> crate::Runtime {
    Builder::new_current_thread().build().unwrap()
}

#[test]
fn waits_without_a_pidfd() {
    let std_child = std::process::Command::new("sh")
        .args(["-c", "sleep 0.1; exit 5"])
        .spawn()
        .unwrap();
    let mut child = Child::without_pidfd(std_child);
    let status = rt().block_on(async {
        crate::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("wait without a pidfd hung")
    });
    assert_eq!(status.unwrap().code(), Some(5));
}

#[test]
fn a_wait_given_up_is_picked_up_again_without_a_pidfd() {
    let std_child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let mut child = Child::without_pidfd(std_child);
    rt().block_on(async {
        // `sleep 60` cannot exit within 50 ms (timers never fire early).
        let early = crate::time::timeout(Duration::from_millis(50), child.wait()).await;
        assert!(early.is_err(), "sleep 60 exited early");
        child.start_kill().unwrap();
        let status = crate::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("the second wait hung");
        assert_eq!(status.unwrap().signal(), Some(libc::SIGKILL));
    });
}

#[test]
fn kills_without_a_pidfd() {
    let std_child = std::process::Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child::without_pidfd(std_child);
    rt().block_on(async {
        crate::time::timeout(Duration::from_secs(20), child.kill())
            .await
            .expect("kill without a pidfd hung")
            .unwrap();
    });
    assert_eq!(
        child.try_wait().unwrap().unwrap().signal(),
        Some(libc::SIGKILL)
    );
    let err = child.start_kill().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn an_orphan_without_a_pidfd_is_reaped() {
    let std_child = std::process::Command::new("sleep")
        .arg("0.1")
        .spawn()
        .unwrap();
    let pid = std_child.id();
    drop(Child::without_pidfd(std_child));
    // Reaped by its own thread once it exits: waitpid then finds no such
    // child (ECHILD) rather than a zombie.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        if stat.is_err() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pid {pid} never reaped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
