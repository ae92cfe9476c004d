//! `spawn`, the task builder, and the spawn sequence every scheduler runs.

use super::list::OwnedTasks;
use super::{new_task, Notified, Schedule, Task};
use crate::scheduler::context;
use crate::task::JoinHandle;
use std::future::Future;
use std::panic::Location;

/// Spawns `future` on the current runtime and returns a handle to its output.
///
/// The task starts running in the background right away; awaiting the
/// handle is optional (dropping it detaches the task).
///
/// # Panics
/// Outside a runtime (a task, `block_on`, or a thread after
/// [`Handle::enter`](crate::Handle::enter)). Use [`Handle::spawn`](crate::Handle::spawn) there.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let handles: Vec<_> = (0..4).map(|i| runtime::spawn(async move { i * 10 })).collect();
///     let mut total = 0;
///     for handle in handles {
///         total += handle.await.unwrap();
///     }
///     assert_eq!(total, 60);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_inner(future, None, Location::caller())
}

#[track_caller]
fn spawn_inner<F>(
    future: F,
    name: Option<std::sync::Arc<str>>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match context::current() {
        Some(handle) => handle.spawn(future, name, location),
        None => panic!(
            "`runtime::spawn` called outside of a runtime: call it from inside \
             `Runtime::block_on` or a task, or use `Handle::spawn`"
        ),
    }
}

/// Spawns a future that need not be `Send` on the current thread, which
/// alone will run it, and returns a handle to its output.
///
/// The task is never stolen: on a worker it runs on that worker's thread
/// (taking turns with the worker's other tasks, however busy the worker
/// and however idle its peers); inside [`Runtime::block_on`](crate::Runtime::block_on)
/// it runs on the calling thread between polls of the root future. In all
/// else — its [`JoinHandle`] (`Send` only if the output is), cancellation,
/// panics, [`TaskState`](crate::TaskState), dumps, metrics — it is a task
/// like any other. When the runtime shuts down, local futures are dropped
/// on their own thread. A local task spawned in a `block_on` that returns
/// before the task ends waits for that thread's next `block_on` on the
/// same runtime (or is dropped when the runtime shuts down from that
/// thread, or when the thread exits).
///
/// # Panics
/// On a thread that runs no tasks of a runtime: outside a task and outside
/// `block_on` (a plain thread, a `spawn_blocking` closure, a thread that
/// only called [`Handle::enter`](crate::Handle::enter)).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let rt = runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// let total = rt.block_on(async {
///     // `Rc` is not `Send`: `runtime::spawn` would not take this future.
///     let counter = Rc::new(RefCell::new(0));
///     let mut handles = Vec::new();
///     for i in 1..=4 {
///         let counter = counter.clone();
///         handles.push(runtime::task::spawn_local(async move {
///             runtime::task::yield_now().await;
///             *counter.borrow_mut() += i;
///         }));
///     }
///     for handle in handles {
///         handle.await.unwrap();
///     }
///     let total = *counter.borrow();
///     total
/// });
/// assert_eq!(total, 10);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    crate::scheduler::local::spawn(future, None, Location::caller())
}

/// Spawns tasks with options, such as a name shown by diagnostics.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let handle = runtime::task::Builder::new()
///         .name("conn-handler")
///         .spawn(async { "served" });
///     assert_eq!(handle.await.unwrap(), "served");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<std::sync::Arc<str>>,
}

impl Builder {
    /// A builder with no options set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task; the name appears in `long_poll_warning` reports.
    pub fn name(mut self, name: &str) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns the task on the current runtime, as [`spawn`].
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_inner(future, self.name, Location::caller())
    }

    /// Spawns a local task on the current thread, as [`spawn_local`].
    ///
    /// # Panics
    /// Where [`spawn_local`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let shared = std::rc::Rc::new(5);
    ///     let handle = runtime::task::Builder::new()
    ///         .name("local-worker")
    ///         .spawn_local(async move { *shared * 2 });
    ///     assert_eq!(handle.await.unwrap(), 10);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        crate::scheduler::local::spawn(future, self.name, Location::caller())
    }

    /// Spawns the task on the runtime of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &crate::Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        handle.inner.spawn(future, self.name, Location::caller())
    }
}

/// The one spawn sequence, shared by both flavors and the loom models:
/// allocate the task, bind it to the runtime's registry `owned`, then hand
/// its first poll to `schedule`. If the registry is closed (the runtime has
/// shut down) the task is shut down at once instead: it never runs, nothing
/// is queued, and its handle reports `Cancelled`.
///
/// Binding comes first so that a shutdown racing this spawn finds the task
/// in the registry (and cancels it) or refuses the bind; there is no moment
/// where a queued task is unknown to shutdown.
pub(crate) fn spawn_bound<F, S>(
    owned: &OwnedTasks<S>,
    scheduler: S,
    future: F,
    name: Option<std::sync::Arc<str>>,
    location: &'static Location<'static>,
    schedule: impl FnOnce(Notified<S>),
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let (task, notified, join) = new_task(future, scheduler, name, location);
    bind_and_schedule(owned, task, notified, schedule);
    join
}

/// The second half of [`spawn_bound`], for a task made some other way (a
/// local task, `scheduler::local`).
pub(crate) fn bind_and_schedule<S: Schedule>(
    owned: &OwnedTasks<S>,
    task: Task<S>,
    notified: Notified<S>,
    schedule: impl FnOnce(Notified<S>),
) {
    match owned.bind(task) {
        Ok(()) => schedule(notified),
        Err(task) => {
            drop(notified);
            task.shutdown();
        }
    }
}
