//! [`Child`]: a spawned process, waited for without blocking a worker.

use super::pipe::{self, ChildStderr, ChildStdout};
use super::reaper;
use super::stdin::ChildStdin;
use crate::scheduler::context;
use crate::task::JoinHandle;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::panic::Location;
use std::process::{ExitStatus, Output};

/// A child process started by [`Command::spawn`](super::Command::spawn).
///
/// Its standard streams, when they were set to [`Stdio::piped()`], are in
/// the public fields, to be taken out (`child.stdout.take()`) and used from
/// any task.
///
/// Dropping a `Child` never leaves a zombie: if the process has not been
/// waited for, it is reaped in the background when it exits (see the
/// [module docs](super)). It is not killed unless
/// [`kill_on_drop`](super::Command::kill_on_drop) was set.
///
/// [`Stdio::piped()`]: std::process::Stdio::piped
///
/// # Examples
///
/// ```
/// use runtime::process::Command;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
///     assert!(child.id().is_some());
///     let status = child.wait().await?;
///     assert_eq!(status.code(), Some(3));
///     Ok(())
/// }
/// ```
pub struct Child {
    /// The child's standard input, if it was [piped](std::process::Stdio::piped).
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was [piped](std::process::Stdio::piped).
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was [piped](std::process::Stdio::piped).
    pub stderr: Option<ChildStderr>,
    /// `None` only once handed to the reaper, in `drop`.
    child: Option<std::process::Child>,
    /// Readable once the process has exited; `None` where pidfds are
    /// unavailable, and once the status is known.
    pidfd: Option<OwnedFd>,
    /// Kept once collected: the kernel hands it out only once.
    status: Option<ExitStatus>,
    kill_on_drop: bool,
    /// Without a pidfd: the blocking-pool wait started by an earlier,
    /// dropped `wait` future, picked up by the next.
    blocking_wait: Option<JoinHandle<io::Result<()>>>,
}

impl Child {
    pub(super) fn new(mut child: std::process::Child, kill_on_drop: bool) -> io::Result<Child> {
        let pidfd = pidfd_open(child.id());
        let (stdin, stdout, stderr) = match pipe::wrap_stdio(&mut child) {
            Ok(pipes) => pipes,
            Err(err) => {
                // Only `fcntl` can fail there. The process runs already and
                // nobody will get a handle to it: stop it, and let the
                // reaper collect it without blocking this thread.
                let _ = child.kill();
                reaper::orphan(child, pidfd);
                return Err(err);
            }
        };
        Ok(Child {
            stdin,
            stdout,
            stderr,
            child: Some(child),
            pidfd,
            status: None,
            kill_on_drop,
            blocking_wait: None,
        })
    }

    /// A `Child` that waits the way it does without pidfds, for the tests
    /// of that path on kernels that have them.
    #[cfg(test)]
    pub(crate) fn without_pidfd(child: std::process::Child) -> Child {
        let mut child = Child::new(child, false).unwrap();
        child.pidfd = None;
        child
    }

    fn inner(&mut self) -> &mut std::process::Child {
        self.child
            .as_mut()
            .expect("the child is only taken in drop")
    }

    /// The process id, until the exit status has been collected (then
    /// `None`: the id may already belong to another process).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("true").spawn()?;
    ///     assert!(child.id().is_some());
    ///     child.wait().await?;
    ///     assert_eq!(child.id(), None);
    ///     Ok(())
    /// }
    /// ```
    pub fn id(&self) -> Option<u32> {
        match (&self.status, &self.child) {
            (None, Some(child)) => Some(child.id()),
            _ => None,
        }
    }

    /// Waits for the process to exit and returns its status. Once it has
    /// been collected, it is returned again at once.
    ///
    /// Drops [`stdin`](Child::stdin) first (as tokio does), so that a child
    /// reading its input until end of file can finish: waiting while
    /// holding its input open would deadlock.
    ///
    /// The wait never blocks a worker and never polls: it waits for the
    /// process's pidfd to turn readable, through the ring or the reactor.
    /// (Where pidfds are unavailable it waits on the blocking pool instead:
    /// see the [module docs](super).)
    ///
    /// Cancel-safe: dropping the future loses nothing; a later `wait` (or
    /// [`try_wait`](Child::try_wait)) gets the status.
    ///
    /// # Errors
    ///
    /// An error outside a runtime or after the runtime shut down (while the
    /// process still runs); the kernel's, from `waitpid` (`ECHILD` if other
    /// code in the process reaped the child).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("sleep").arg("0.1").spawn()?;
    ///     let status = child.wait().await?;
    ///     assert!(status.success());
    ///     // Asked again, the same answer.
    ///     assert_eq!(child.wait().await?, status);
    ///     Ok(())
    /// }
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            match &self.pidfd {
                Some(pidfd) => crate::io::readable(pidfd.as_fd()).await?,
                None => self.wait_blocking().await?,
            }
        }
    }

    /// Without a pidfd: blocks a pool thread in `waitid(WNOWAIT)` (which
    /// does not reap) until the process exits; `try_wait` reaps it then.
    async fn wait_blocking(&mut self) -> io::Result<()> {
        let handle = match &mut self.blocking_wait {
            Some(handle) => handle,
            None => {
                let Some(runtime) = context::current() else {
                    return Err(io::Error::other(
                        "`Child::wait` outside of a runtime: call it from a task or inside \
                         `Runtime::block_on`",
                    ));
                };
                let pid = self.inner().id();
                // Detachable: a child that outlives the runtime must not
                // hold its shutdown.
                let handle = runtime
                    .blocking()
                    .spawn_detachable(move || wait_exited(pid), Location::caller());
                self.blocking_wait.insert(handle)
            }
        };
        let done = handle.await;
        self.blocking_wait = None;
        match done {
            Ok(result) => result,
            Err(err) => Err(io::Error::other(err)),
        }
    }

    /// The exit status if the process has exited (collecting it), `None` if
    /// it still runs. Never blocks.
    ///
    /// # Errors
    ///
    /// The kernel's, from `waitpid` (`ECHILD` if other code in the process
    /// reaped the child).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("sleep").arg("10").spawn()?;
    ///     assert_eq!(child.try_wait()?, None);
    ///     child.kill().await?;
    ///     assert!(child.try_wait()?.is_some());
    ///     Ok(())
    /// }
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = self.inner().try_wait()?;
        if let Some(status) = status {
            self.status = Some(status);
            // Nothing more to wait for; the descriptor can go.
            self.pidfd = None;
        }
        Ok(status)
    }

    /// Sends `SIGKILL` to the process and waits for it to exit.
    ///
    /// # Errors
    ///
    /// As [`start_kill`](Child::start_kill) and [`wait`](Child::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("sleep").arg("60").spawn()?;
    ///     child.kill().await?;
    ///     assert_eq!(child.wait().await?.signal(), Some(libc::SIGKILL));
    ///     Ok(())
    /// }
    /// ```
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Sends `SIGKILL` to the process and returns without waiting: the
    /// status is collected by a later [`wait`](Child::wait) or
    /// [`try_wait`](Child::try_wait) (or by the reaper if the `Child` is
    /// dropped).
    ///
    /// The signal goes through the pidfd (`pidfd_send_signal`), so it
    /// cannot reach another process that took over a recycled id.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the exit status has been collected already (the
    /// process is gone, its id may be someone else's), as tokio does; the
    /// kernel's otherwise. A process that has exited but not been waited
    /// for yet is no error.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("sleep").arg("60").spawn()?;
    ///     child.start_kill()?;
    ///     assert!(!child.wait().await?.success());
    ///     let err = child.start_kill().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    ///     Ok(())
    /// }
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid argument: can't kill an exited process",
            ));
        }
        let ret = match &self.pidfd {
            // SAFETY: the pidfd is open; a null `siginfo` means "as kill()".
            Some(pidfd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            },
            None => {
                let pid = self.inner().id() as libc::pid_t;
                // SAFETY: no pointers. The child is not reaped yet (no
                // status), so `pid` is still ours.
                libc::c_long::from(unsafe { libc::kill(pid, libc::SIGKILL) })
            }
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            // Exited, not reaped yet: it is as dead as the caller wants.
            if err.raw_os_error() != Some(libc::ESRCH) {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Waits for the process to exit while reading all of its stdout and
    /// stderr (those that were piped and are still in the `Child`), and
    /// returns the three. Drops stdin first, as [`wait`](Child::wait).
    ///
    /// Both pipes are read concurrently with the wait, so a child that
    /// fills one of them cannot deadlock.
    ///
    /// # Errors
    ///
    /// As [`wait`](Child::wait), and any read error.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    /// use std::process::Stdio;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let child = Command::new("sh")
    ///         .args(["-c", "echo out; echo err >&2"])
    ///         .stdout(Stdio::piped())
    ///         .stderr(Stdio::piped())
    ///         .spawn()?;
    ///     let output = child.wait_with_output().await?;
    ///     assert!(output.status.success());
    ///     assert_eq!(output.stdout, b"out\n");
    ///     assert_eq!(output.stderr, b"err\n");
    ///     Ok(())
    /// }
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let stdout = pipe::read_to_end(self.stdout.take().map(Into::into));
        let stderr = pipe::read_to_end(self.stderr.take().map(Into::into));
        let (status, stdout, stderr) =
            futures_util::future::try_join3(self.wait(), stdout, stderr).await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        if self.kill_on_drop {
            let _ = self.start_kill();
        }
        // Exited already (also while no runtime ran): reaped right here.
        // An error means there is nothing left to reap.
        if !matches!(self.try_wait(), Ok(None)) {
            return;
        }
        if let Some(child) = self.child.take() {
            reaper::orphan(child, self.pidfd.take());
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.child.as_ref().map(|child| child.id()))
            .field("status", &self.status)
            .field("kill_on_drop", &self.kill_on_drop)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

/// A pidfd for `pid`, or `None` where the kernel (or a seccomp profile)
/// refuses them: the callers then fall back to other ways of waiting.
///
/// Opened right after the spawn. The process cannot have been reaped in
/// between (only its parent, this process, reaps it, and our `Child` has
/// not yet), so `pid` cannot name another process yet.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: no pointers; a new descriptor (close-on-exec, as every
    // pidfd) or -1.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if ret < 0 {
        return None;
    }
    // SAFETY: `pidfd_open` just returned this descriptor; nobody else owns
    // it.
    Some(unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) })
}

/// Blocks until process `pid` has exited, without reaping it.
fn wait_exited(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: `siginfo_t` is plain data, valid when zeroed.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable `siginfo_t` for the call.
        let ret = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if ret == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
