//! # runtime
//!
//! A multi-core, work-stealing async runtime for Linux.
//!
//! Per-core workers run local queues of tasks, steal from one another when
//! idle, and sleep when there is nothing to do. Tasks are single
//! allocations; their [`JoinHandle`]s carry results, panics (as
//! [`JoinError`]) and cancellation back to whoever awaits them.
//!
//! ## Quick start
//!
//! ```
//! use runtime::task::JoinSet;
//!
//! let rt = runtime::Runtime::new()?;
//! rt.block_on(async {
//!     // Spawn, and await the output.
//!     let answer = runtime::spawn(async { 40 + 2 }).await.unwrap();
//!     assert_eq!(answer, 42);
//!
//!     // A panic in a task reaches the awaiting side as an error.
//!     let err = runtime::spawn(async { panic!("boom") }).await.unwrap_err();
//!     assert!(err.is_panic());
//!
//!     // A group of tasks, joined as they finish.
//!     let mut set = JoinSet::new();
//!     for i in 0..3 {
//!         set.spawn(async move { i });
//!     }
//!     let mut seen = set.join_all().await;
//!     seen.sort();
//!     assert_eq!(seen, [0, 1, 2]);
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Where things are
//!
//! * [`Runtime`], [`Builder`], [`Handle`]: starting and driving a runtime.
//! * [`task`]: [`spawn`], [`spawn_blocking`], [`JoinHandle`], [`JoinSet`],
//!   cancellation and [`TaskState`].
//! * [`metrics`]: counters per runtime and per worker.

#![warn(missing_docs)]

mod blocking;
pub(crate) mod loom;
pub mod metrics;
mod runtime;
pub(crate) mod scheduler;
mod spawn;
pub mod task;

pub use crate::runtime::{
    Builder, EnterGuard, Handle, IoDriver, Runtime, TryCurrentError, UnhandledPanic,
};
pub use crate::task::{
    spawn, spawn_blocking, yield_now, CancelHandle, JoinError, JoinHandle, JoinSet, TaskId,
    TaskState,
};
