//! Child processes: [`Command`] to start one, [`Child`] to wait for it or
//! kill it, and its pipes ([`ChildStdin`], [`ChildStdout`],
//! [`ChildStderr`]). The shape is tokio's (`tokio::process`), which is
//! std's made asynchronous.
//!
//! ```
//! use runtime::process::Command;
//!
//! #[runtime::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let output = Command::new("echo").arg("hello").output().await?;
//!     assert!(output.status.success());
//!     assert_eq!(output.stdout, b"hello\n");
//!     Ok(())
//! }
//! ```
//!
//! # Design
//!
//! **Spawning** is std's (`std::process::Command::spawn`): it does the
//! fork/exec dance, reports an `exec` failure through a close-on-exec pipe
//! (a missing program is `NotFound` from [`Command::spawn`], and no zombie
//! is left), and makes every pipe close-on-exec so concurrent spawns do not
//! leak each other's pipe ends. The spawn itself is short (it returns once
//! the child has exec'd), so it runs on the calling thread, as in tokio.
//!
//! **Waiting** never blocks a worker and never polls. Right after the
//! spawn the runtime opens a pidfd for the child (`pidfd_open`, Linux 5.3).
//! A pidfd turns readable when its process exits, so [`Child::wait`] is:
//! try `waitpid(WNOHANG)`; if the child still runs, wait for the pidfd to
//! be readable (an `IORING_OP_POLL_ADD` on the ring, or the reactor on the
//! epoll driver, the same as [`io::readable`](crate::io::readable)); try
//! again. No `SIGCHLD` handler is installed, so a program's own handling
//! of that signal is left alone, and no `waitpid(-1)` steals the statuses
//! of children other code spawned. Signals go through the pidfd too
//! (`pidfd_send_signal`): [`Child::start_kill`] cannot hit another process
//! that took over a recycled pid.
//!
//! **Without pidfds** (an old kernel, a seccomp profile that refuses
//! `pidfd_open`) the runtime still works, at a higher cost: `wait` blocks a
//! thread of the blocking pool in `waitid(WEXITED | WNOWAIT)` (which does
//! not reap) until the child exits, then reaps it; kills use `kill(2)` on
//! the pid (safe while the child is unreaped: its pid cannot be reused
//! before). A wait given up is not wasted: the next `wait` picks up the
//! same pool job.
//!
//! **No zombies.** A [`Child`] dropped before its status was collected
//! (after its `SIGKILL`, with [`Command::kill_on_drop`]) first tries
//! `waitpid(WNOHANG)` itself: a child that has exited is reaped on the spot,
//! whether or not a runtime runs. A child still running goes to the orphan
//! reaper: one process-wide thread, `runtime-reaper`, blocked in
//! `epoll_wait` on the orphans' pidfds, which reaps each when it exits. The
//! thread starts with the first orphan and leaves when none is left; it
//! belongs to no runtime, so it works with none running. (Without pidfds,
//! an orphan gets a thread of its own that blocks in `waitpid`.)
//!
//! **Pipes** are the parent's ends in non-blocking mode, read and written
//! by readiness: try the call, and on `EAGAIN` wait for the pipe to be
//! ready and try again. That is cancel-safe by construction (nothing is in
//! flight but a poll) and lets the futures-io traits use the caller's slice
//! directly, for one extra system call when the pipe is not ready; the
//! pipe types' module notes have the trade-off.
//!
//! Known limits: a process that reaps children it did not spawn (a
//! `waitpid(-1)` elsewhere, or `SIGCHLD` set to `SIG_IGN`) takes their
//! statuses away from us: `wait` then fails with `ECHILD`. The
//! `tokio::io` traits on the pipes (the `tokio-io` feature) are not
//! implemented yet.

mod child;
mod pipe;
mod reaper;
mod stdin;

#[cfg(test)]
mod test;

pub use self::child::Child;
pub use self::pipe::{ChildStderr, ChildStdout};
pub use self::stdin::ChildStdin;

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

/// A process to start: program, arguments, environment, working directory
/// and standard streams, with the builder methods of
/// [`std::process::Command`], then [`spawn`](Command::spawn),
/// [`output`](Command::output) or [`status`](Command::status).
///
/// # Examples
///
/// ```
/// use runtime::process::Command;
/// use std::process::Stdio;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let output = Command::new("sh")
///         .args(["-c", "echo $GREETING from $(pwd)"])
///         .env("GREETING", "hello")
///         .current_dir("/")
///         .stderr(Stdio::null())
///         .output()
///         .await?;
///     assert_eq!(output.stdout, b"hello from /\n");
///     Ok(())
/// }
/// ```
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Which streams were set through this type, so that `output` knows
    /// which defaults to apply (std cannot tell us).
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
}

impl Command {
    /// A command that runs `program`: a path, or a name looked up in
    /// `PATH` (at spawn time). Defaults as std's: the parent's environment
    /// and working directory; streams inherited by
    /// [`spawn`](Command::spawn) and [`status`](Command::status), captured
    /// by [`output`](Command::output).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     assert!(Command::new("true").status().await?.success());
    ///     Ok(())
    /// }
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("echo").arg("one arg").output().await?;
    ///     assert_eq!(out.stdout, b"one arg\n");
    ///     Ok(())
    /// }
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("echo").args(["a", "b"]).output().await?;
    ///     assert_eq!(out.stdout, b"a b\n");
    ///     Ok(())
    /// }
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("sh").args(["-c", "echo $X"]).env("X", "42").output().await?;
    ///     assert_eq!(out.stdout, b"42\n");
    ///     Ok(())
    /// }
    /// ```
    pub fn env<K, V>(&mut self, key: K, value: V) -> &mut Command
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.env(key, value);
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("sh")
    ///         .args(["-c", "echo $A$B"])
    ///         .envs([("A", "1"), ("B", "2")])
    ///         .output()
    ///         .await?;
    ///     assert_eq!(out.stdout, b"12\n");
    ///     Ok(())
    /// }
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes a variable from the child's environment.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("sh")
    ///         .args(["-c", "echo ${X-unset}"])
    ///         .env("X", "1")
    ///         .env_remove("X")
    ///         .output()
    ///         .await?;
    ///     assert_eq!(out.stdout, b"unset\n");
    ///     Ok(())
    /// }
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what is set
    /// afterwards). The program is still looked up in the parent's `PATH`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("env").env_clear().env("ONLY", "me").output().await?;
    ///     assert_eq!(out.stdout, b"ONLY=me\n");
    ///     Ok(())
    /// }
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("pwd").current_dir("/").output().await?;
    ///     assert_eq!(out.stdout, b"/\n");
    ///     Ok(())
    /// }
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// What the child's standard input is: [`Stdio::piped()`] for a
    /// [`ChildStdin`] in [`Child::stdin`], [`Stdio::null()`],
    /// [`Stdio::inherit()`] (the default, except for
    /// [`output`](Command::output)), or any descriptor.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    /// use std::process::Stdio;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn()?;
    ///     assert!(child.stdin.is_some());
    ///     child.wait().await?; // drops stdin first: cat sees end of file
    ///     Ok(())
    /// }
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// What the child's standard output is (see [`stdin`](Command::stdin));
    /// piped, it is [`Child::stdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    /// use std::process::Stdio;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     // Discarded, although `output` would capture it by default.
    ///     let out = Command::new("echo").arg("hi").stdout(Stdio::null()).output().await?;
    ///     assert!(out.stdout.is_empty());
    ///     Ok(())
    /// }
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self.stdout_set = true;
        self
    }

    /// What the child's standard error is (see [`stdin`](Command::stdin));
    /// piped, it is [`Child::stderr`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    /// use std::process::Stdio;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let status = Command::new("sh")
    ///         .args(["-c", "echo noise >&2"])
    ///         .stderr(Stdio::null())
    ///         .status()
    ///         .await?;
    ///     assert!(status.success());
    ///     Ok(())
    /// }
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self.stderr_set = true;
        self
    }

    /// Whether a [`Child`] spawned from this command is sent `SIGKILL` when
    /// it is dropped before its exit status was collected (default:
    /// `false`, as std and tokio). Either way the child is reaped in the
    /// background once it exits: no zombie is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let child = Command::new("sleep").arg("60").kill_on_drop(true).spawn()?;
    ///     drop(child); // killed now, reaped in the background
    ///     Ok(())
    /// }
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Whether [`kill_on_drop`](Command::kill_on_drop) is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = runtime::process::Command::new("true");
    /// assert!(!cmd.get_kill_on_drop());
    /// assert!(cmd.kill_on_drop(true).get_kill_on_drop());
    /// ```
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// Sets the program's `argv[0]` (what it sees as its own name),
    /// leaving the program that runs as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("sh").arg0("renamed").args(["-c", "echo $0"]).output().await?;
    ///     assert_eq!(out.stdout, b"renamed\n");
    ///     Ok(())
    /// }
    /// ```
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg0(arg);
        self
    }

    /// Puts the child in process group `pgroup` (0: a new group led by
    /// the child), as `std::os::unix::process::CommandExt::process_group`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let out = Command::new("sh")
    ///         // Field 5 of /proc/PID/stat is the process group.
    ///         .args(["-c", "cut -d' ' -f5 /proc/$$/stat; echo $$"])
    ///         .process_group(0)
    ///         .output()
    ///         .await?;
    ///     let text = String::from_utf8(out.stdout).unwrap();
    ///     let mut lines = text.lines();
    ///     // The shell leads its own group.
    ///     assert_eq!(lines.next(), lines.next());
    ///     Ok(())
    /// }
    /// ```
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        self.std.process_group(pgroup);
        self
    }

    /// The std command underneath, for what this type has no method for.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = runtime::process::Command::new("echo");
    /// cmd.arg("hi");
    /// assert_eq!(cmd.as_std().get_program(), "echo");
    /// assert_eq!(cmd.as_std().get_args().collect::<Vec<_>>(), ["hi"]);
    /// ```
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The std command underneath, mutably: for the Unix extras
    /// (`uid`, `gid`, `pre_exec`, ...) through
    /// `std::os::unix::process::CommandExt`.
    ///
    /// Streams set this way are not seen by [`output`](Command::output),
    /// which pipes stdout and stderr (and nulls stdin) unless they were set
    /// through this type's own [`stdout`](Command::stdout) (...) methods.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut cmd = Command::new("sh");
    ///     cmd.as_std_mut().args(["-c", "exit 4"]);
    ///     assert_eq!(cmd.status().await?.code(), Some(4));
    ///     Ok(())
    /// }
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// The std command underneath (the `kill_on_drop` setting is lost).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = runtime::process::Command::new("true");
    /// let status = cmd.into_std().status()?; // blocking, std's
    /// assert!(status.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> std::process::Command {
        self.std
    }

    /// Starts the process. Works outside a runtime too; waiting for it and
    /// using its pipes need one.
    ///
    /// # Errors
    ///
    /// `NotFound` if the program does not exist (or is not in `PATH`),
    /// `PermissionDenied` if it cannot be executed, the kernel's otherwise
    /// (`EAGAIN` at the process limit, ...). A failed spawn leaves no
    /// process behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let mut child = Command::new("true").spawn()?;
    ///     assert!(child.wait().await?.success());
    ///
    ///     let err = Command::new("no-such-program-anywhere").spawn().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    ///     Ok(())
    /// }
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        let child = self.std.spawn()?;
        Child::new(child, self.kill_on_drop)
    }

    /// Runs the process to its end and collects its output: stdout and
    /// stderr are captured (piped) and stdin is null, unless they were set
    /// on this command, as std does. Both pipes are read while waiting, so
    /// a chatty child cannot deadlock.
    ///
    /// If the future is dropped early, the child is reaped in the
    /// background (and killed first if
    /// [`kill_on_drop`](Command::kill_on_drop) is set).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn) and [`Child::wait_with_output`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let output = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 2"]).output().await?;
    ///     assert_eq!(output.status.code(), Some(2));
    ///     assert_eq!(output.stdout, b"out\n");
    ///     assert_eq!(output.stderr, b"err\n");
    ///     Ok(())
    /// }
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        let defaults = [!self.stdin_set, !self.stdout_set, !self.stderr_set];
        if defaults[0] {
            self.std.stdin(Stdio::null());
        }
        if defaults[1] {
            self.std.stdout(Stdio::piped());
        }
        if defaults[2] {
            self.std.stderr(Stdio::piped());
        }
        let child = self.spawn();
        // Back to what std's `spawn` uses for streams nobody set, so a
        // later `spawn` of this command is not affected.
        if defaults[0] {
            self.std.stdin(Stdio::inherit());
        }
        if defaults[1] {
            self.std.stdout(Stdio::inherit());
        }
        if defaults[2] {
            self.std.stderr(Stdio::inherit());
        }
        child?.wait_with_output().await
    }

    /// Runs the process to its end and returns its exit status. Streams
    /// are inherited unless set; any that were set to piped are closed at
    /// once (as tokio does), so the child sees end of file on its input.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn) and [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::process::Command;
    ///
    /// #[runtime::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let status = Command::new("sh").args(["-c", "exit 3"]).status().await?;
    ///     assert_eq!(status.code(), Some(3));
    ///     Ok(())
    /// }
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop(child.stdin.take());
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().await
    }
}

/// Wraps a std command (`kill_on_drop` off). Streams it already sets are
/// not seen by [`output`](Command::output) (see
/// [`as_std_mut`](Command::as_std_mut)).
///
/// # Examples
///
/// ```
/// use runtime::process::Command;
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let mut std_cmd = std::process::Command::new("echo");
///     std_cmd.arg("converted");
///     let out = Command::from(std_cmd).output().await?;
///     assert_eq!(out.stdout, b"converted\n");
///     Ok(())
/// }
/// ```
impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("std", &self.std)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}
