//! [`LongPoll`]: one report of a poll that held a worker too long.

use crate::task::TaskId;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// A poll that held a worker longer than
/// [`Builder::long_poll_warning`](crate::Builder::long_poll_warning): given
/// to the hook of [`Builder::on_long_poll`](crate::Builder::on_long_poll),
/// or printed to stderr (its `Display`, one line) when no hook is set.
///
/// Each such poll is reported while it still holds the worker
/// ([`is_finished`](LongPoll::is_finished) `false`, within about the limit
/// of its start), and once more when it returns, with the total.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let reports = Arc::new(Mutex::new(Vec::new()));
/// let seen = reports.clone();
/// let rt = runtime::Builder::new_multi_thread()
///     .worker_threads(1)
///     .long_poll_warning(Duration::from_millis(20))
///     .on_long_poll(move |report| seen.lock().unwrap().push(report.to_string()))
///     .build()?;
/// rt.block_on(async {
///     let stuck = runtime::task::Builder::new().name("stuck").spawn(async {
///         std::thread::sleep(Duration::from_millis(200)); // blocks its worker
///     });
///     stuck.await.unwrap();
/// });
/// // The report with the total is made after the poll returns, which may be
/// // after `stuck.await` saw the task end: stop the workers first.
/// drop(rt);
/// let reports = reports.lock().unwrap();
/// assert!(reports.iter().any(|r| r.contains("\"stuck\"") && r.contains("still")));
/// assert!(reports.iter().any(|r| r.contains("\"stuck\"") && r.contains("in total")));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LongPoll {
    pub(crate) task: TaskId,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) spawned_at: Option<&'static Location<'static>>,
    pub(crate) worker: usize,
    pub(crate) held: Duration,
    pub(crate) finished: bool,
}

impl LongPoll {
    /// The task whose poll it is.
    pub fn task_id(&self) -> TaskId {
        self.task
    }

    /// The task's name, if it was given one.
    pub fn task_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned (`None` only if a live report could not
    /// find the task any more: it ended as the report was made).
    pub fn spawned_at(&self) -> Option<&'static Location<'static>> {
        self.spawned_at
    }

    /// The worker it holds (0 for current_thread).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// How long the poll has held the worker so far (live report), or in
    /// total (the report when it returned).
    pub fn held(&self) -> Duration {
        self.held
    }

    /// `false` while the poll still holds the worker, `true` once it
    /// returned.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

impl fmt::Display for LongPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "runtime: a poll of task {}", self.task)?;
        if let Some(name) = &self.name {
            write!(f, " \"{name}\"")?;
        }
        if let Some(location) = self.spawned_at {
            write!(f, " (spawned at {location})")?;
        }
        if self.finished {
            write!(
                f,
                " held worker {} for {:.2?} in total",
                self.worker, self.held
            )?;
        } else {
            write!(
                f,
                " has held worker {} for {:.2?} and is still running",
                self.worker, self.held
            )?;
        }
        f.write_str("; move blocking work to `spawn_blocking`")
    }
}
