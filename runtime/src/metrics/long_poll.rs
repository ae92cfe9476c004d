//! [`LongPoll`]: one report of a poll that held a worker too long.

use crate::scheduler::stall::Frames;
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
    pub(crate) backtrace: Option<Arc<Frames>>,
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

    /// The stuck thread's stack, taken while the poll held the worker:
    /// one line per frame, innermost first, `N: function at file:line`
    /// (the place only where the binary has debug info; an inlined call is
    /// a line of its own with the same `N`), down to where the runtime
    /// polls the task. Only in a live report, and only where it could be
    /// had: `None` in the report made when the poll returned, for a poll
    /// that returned before its thread was interrupted, on the
    /// current_thread flavor when the thread in `block_on` blocks the
    /// signal, or where the platform's unwinder does not work. How it is
    /// taken (a real-time signal to that thread) is described at
    /// [`Builder::long_poll_warning`](crate::Builder::long_poll_warning).
    ///
    /// The report's `Display` prints these lines after its summary line,
    /// indented by four spaces, under a line that names the task and worker
    /// again. The frames are named on the first call (or `Display`), not
    /// when the report is made: a hook that never asks pays nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// #[inline(never)]
    /// fn wait_for_the_disk() {
    ///     std::thread::sleep(Duration::from_millis(300)); // blocks its worker
    /// }
    ///
    /// let stacks = Arc::new(Mutex::new(Vec::new()));
    /// let seen = stacks.clone();
    /// let rt = runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .long_poll_warning(Duration::from_millis(50))
    ///     .on_long_poll(move |report| {
    ///         if let Some(stack) = report.backtrace() {
    ///             seen.lock().unwrap().push(stack.to_owned());
    ///         }
    ///     })
    ///     .build()?;
    /// rt.block_on(async { runtime::spawn(async { wait_for_the_disk() }).await.unwrap() });
    /// drop(rt);
    /// // One live report, whose stack (where the platform allows) shows the
    /// // poll inside `wait_for_the_disk`.
    /// for stack in stacks.lock().unwrap().iter() {
    ///     assert!(stack.contains("wait_for_the_disk"), "{stack}");
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn backtrace(&self) -> Option<&str> {
        self.backtrace.as_deref().map(Frames::text)
    }

    /// The summary line alone.
    pub(crate) fn summary(&self) -> Summary<'_> {
        Summary(self)
    }

    /// The lines `Display` prints after the summary, if there is a
    /// backtrace: a line naming the task again (the default sink writes
    /// them apart from the summary, and another thread's line may come
    /// between), then the frames; indented, without a final newline.
    pub(crate) fn frames(&self) -> Option<String> {
        let stack = self.backtrace()?;
        let mut text = format!(
            "    the stack of task {} on worker {}, innermost first:",
            self.task, self.worker
        );
        for line in stack.lines() {
            text.push_str("\n    ");
            text.push_str(line);
        }
        Some(text)
    }
}

impl fmt::Display for LongPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.summary())?;
        if let Some(frames) = self.frames() {
            write!(f, "\n{frames}")?;
        }
        Ok(())
    }
}

/// [`LongPoll`]'s first line.
pub(crate) struct Summary<'a>(&'a LongPoll);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        write!(f, "runtime: a poll of task {}", report.task)?;
        if let Some(name) = &report.name {
            write!(f, " \"{name}\"")?;
        }
        if let Some(location) = report.spawned_at {
            write!(f, " (spawned at {location})")?;
        }
        if report.finished {
            write!(
                f,
                " held worker {} for {:.2?} in total",
                report.worker, report.held
            )?;
        } else {
            write!(
                f,
                " has held worker {} for {:.2?} and is still running",
                report.worker, report.held
            )?;
        }
        f.write_str("; move blocking work to `spawn_blocking`")
    }
}
