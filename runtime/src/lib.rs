//! # runtime
//!
//! A multi-core, work-stealing async runtime for Linux.
//!
//! Per-core workers run local queues of tasks, steal from one another when
//! idle, and sleep when there is nothing to do. Tasks are single
//! allocations; their [`JoinHandle`]s carry results, panics (as
//! [`JoinError`]) and cancellation back to whoever awaits them.
//!
//! ## I/O drivers
//!
//! I/O goes through io_uring: each worker owns a ring and sleeps in it, and
//! files, sockets and readiness are completion-based operations that own
//! their buffers (so they stay sound when a future is dropped mid-flight).
//! Where io_uring cannot be set up (an old kernel, `kernel.io_uring_disabled`,
//! a seccomp profile) the default [`IoDriver::Auto`] falls back to an epoll
//! driver with the same types: sockets and pipes by readiness, on one
//! reactor thread per runtime, and file calls on the blocking pool.
//! [`Handle::io_driver`] says which one runs; `RUNTIME_IO_DRIVER=epoll`
//! forces the fallback (see [`Builder::io_driver`]).
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
//! ## Entry points
//!
//! [`#[runtime::main]`](macro@main) turns `async fn main` into a `main` that
//! builds a runtime and blocks on the body; [`#[runtime::test]`](macro@test)
//! does the same for tests, with a runtime per test.
//!
//! ```
//! #[runtime::main]
//! async fn main() -> Result<(), std::io::Error> {
//!     let answer = runtime::spawn(async { 40 + 2 }).await.unwrap();
//!     assert_eq!(answer, 42);
//!     Ok(())
//! }
//! ```
//!
//! Options choose the flavor and the number of workers:
//!
//! ```
//! #[runtime::main(flavor = "multi_thread", worker_threads = 2)]
//! async fn main() {
//!     assert_eq!(runtime::Handle::current().metrics().num_workers(), 2);
//!     let task = runtime::spawn(async { "hello" });
//!     assert_eq!(task.await.unwrap(), "hello");
//! }
//! ```
//!
//! A test gets a `current_thread` runtime of its own unless told otherwise:
//!
//! ```no_run
//! #[runtime::test]
//! async fn spawns() {
//!     assert_eq!(runtime::spawn(async { 1 + 1 }).await.unwrap(), 2);
//! }
//!
//! #[runtime::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn on_two_workers() -> Result<(), std::io::Error> {
//!     assert_eq!(runtime::Handle::current().metrics().num_workers(), 2);
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! ## Where things are
//!
//! * [`Runtime`], [`Builder`], [`Handle`]: starting and driving a runtime.
//! * [`main`](macro@main) and [`test`](macro@test): attribute macros for
//!   entry points.
//! * [`task`]: [`spawn`], [`spawn_blocking`], [`JoinHandle`], [`JoinSet`],
//!   cancellation and [`TaskState`].
//! * [`time`]: `sleep`, `timeout`, `interval`, and a clock tests can pause.
//! * [`fs`]: files: `File`, `OpenOptions`, `read`, `write`.
//! * [`net`]: TCP, UDP and Unix sockets.
//! * [`process`]: child processes, waited for without blocking a worker.
//! * [`io`]: buffer traits for owned-buffer I/O, standard input, readiness
//!   of any descriptor.
//! * [`signal`]: `ctrl_c` and listeners of Unix signals.
//! * [`metrics`]: counters per runtime and per worker.
//! * `compat` (features `hyper`, `tokio-io`): hyper 1.x and axum on the
//!   runtime, tokio's I/O traits on its streams; the `bytes` feature makes
//!   `bytes::Bytes` and `BytesMut` owned buffers ([`io::IoBuf`]).

#![warn(missing_docs)]

#[cfg(any(feature = "hyper", feature = "tokio-io"))]
pub mod compat;
mod driver;
pub mod fs;
pub mod io;
pub(crate) mod loom;
pub mod metrics;
pub mod net;
pub mod process;
mod runtime;
pub(crate) mod scheduler;
pub mod signal;
pub mod task;
pub mod time;

// Entry points for the loom models in `loom-tests/`; only under `cfg(loom)`.
#[cfg(loom)]
#[doc(hidden)]
pub use crate::loom::api as __loom;

pub use crate::driver::IoDriver;
pub use crate::runtime::{Builder, EnterGuard, Handle, Runtime, TryCurrentError, UnhandledPanic};
pub use crate::task::{
    spawn, spawn_blocking, yield_now, CancelHandle, JoinError, JoinHandle, JoinSet, TaskId,
    TaskState,
};

// The macros' documentation lives in `runtime-macros` and is shown here.
#[doc(inline)]
pub use runtime_macros::{main, test};
