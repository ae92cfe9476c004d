//! Task dumps: [`Dump`], a snapshot of every live task of a runtime.
//!
//! A dump walks the runtime's registry of live tasks (`list.rs`) one shard
//! at a time, copying what each task says about itself under that shard's
//! lock: it never stops the world, and a worker that spawns or completes a
//! task on that shard meanwhile waits at most for one shard's copy. A task
//! stuck in a poll is listed like any other (its state word says Running),
//! so a dump taken from a plain thread shows what a stuck runtime is doing.

use super::{TaskId, TaskState};
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// The time on `CLOCK_MONOTONIC_COARSE`: a vDSO read of a few nanoseconds,
/// at the kernel tick's resolution (1–4 ms), which is plenty for a task's
/// age and cheap enough to take at every spawn.
pub(crate) fn coarse_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is valid on
    // every Linux since 2.6.32. On failure `ts` stays zero.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A snapshot of every live task of a runtime, from
/// [`Handle::dump`](crate::Handle::dump): a task whose future has not
/// ended (a finished task whose output waits in its `JoinHandle` is not
/// listed; neither are `spawn_blocking` closures, which are not tasks).
///
/// # Examples
///
/// ```
/// use runtime::TaskState;
///
/// let rt = runtime::Runtime::new()?;
/// let parked = rt.spawn(std::future::pending::<()>());
/// let dump = rt.handle().dump();
/// let task = dump.tasks().iter().find(|t| t.id() == parked.id()).unwrap();
/// assert_eq!(task.state(), TaskState::Pending);
/// assert!(task.spawned_at().file().ends_with(".rs"));
/// println!("{dump}"); // one line per task, oldest first
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Dump {
    tasks: Vec<TaskInfo>,
}

impl Dump {
    /// Sorts the copies oldest first.
    pub(crate) fn new(mut tasks: Vec<TaskInfo>) -> Dump {
        tasks.sort_by_key(|task| std::cmp::Reverse(task.age));
        Dump { tasks }
    }

    /// The live tasks, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// assert!(rt.handle().dump().tasks().is_empty());
    /// let _task = rt.spawn(std::future::pending::<()>());
    /// assert_eq!(rt.handle().dump().tasks().len(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }
}

impl fmt::Display for Dump {
    /// One line per task, oldest first; "no live tasks" when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tasks.is_empty() {
            return writeln!(f, "no live tasks");
        }
        for task in &self.tasks {
            writeln!(f, "{task}")?;
        }
        Ok(())
    }
}

/// One task in a [`Dump`]: what it was when the dump copied it.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// let task = runtime::task::Builder::new()
///     .name("ticker")
///     .spawn_on(std::future::pending::<()>(), &rt.handle());
/// let dump = rt.handle().dump();
/// let info = &dump.tasks()[0];
/// assert_eq!(info.id(), task.id());
/// assert_eq!(info.name(), Some("ticker"));
/// assert!(info.age() < std::time::Duration::from_secs(60));
/// assert!(info.polls() <= 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TaskInfo {
    pub(crate) id: TaskId,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) state: TaskState,
    pub(crate) spawned_at: &'static Location<'static>,
    pub(crate) age: Duration,
    pub(crate) polls: u64,
}

impl TaskInfo {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The name given with [`task::Builder::name`](crate::task::Builder::name).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `Running` while a worker polls it (a stuck task stays `Running`),
    /// `Pending` while it waits or is queued, `Cancelled` once cancelled
    /// and not being polled.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// Where the task was spawned.
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// How long ago it was spawned (at the kernel tick's resolution).
    pub fn age(&self) -> Duration {
        self.age
    }

    /// How many times it has been polled so far.
    pub fn polls(&self) -> u64 {
        self.polls
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " \"{name}\"")?;
        }
        write!(
            f,
            ": {:?}, spawned at {} {:.2?} ago, {} poll{}",
            self.state,
            self.spawned_at,
            self.age,
            self.polls,
            if self.polls == 1 { "" } else { "s" }
        )
    }
}
