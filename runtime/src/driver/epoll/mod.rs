//! The epoll driver: I/O for runtimes that cannot use io_uring.
//!
//! `IoDriver::Auto` lands here when io_uring cannot be set up (an old
//! kernel, `kernel.io_uring_disabled`, a container's seccomp profile, a
//! memlock limit); `IoDriver::Epoll` or `RUNTIME_IO_DRIVER=epoll` chooses it
//! outright. The user-facing types are the same: every operation is still
//! an [`OpData`](super::OpData) behind the same [`Op`](super::Op) future,
//! only carried out differently ([`Fallback`](super::Fallback)):
//!
//! * sockets, pipes, readiness: the system call is tried without blocking,
//!   and on `EAGAIN` the task waits for readiness through the runtime's
//!   [`Reactor`] (`reactor.rs`), then tries again;
//! * files (`open`, `pread`, `pwrite`, `fsync`, `statx`, `close`): the call
//!   runs on the blocking pool, as tokio does for all file I/O;
//! * reads and writes of other descriptors: see `rw.rs` (readiness where
//!   one call can be made non-blocking, the pool where it cannot).
//!
//! # Trade-offs
//!
//! * One reactor thread per runtime waits in `epoll_wait`; the workers park
//!   on condvars. A readiness event therefore costs a thread hand-off (the
//!   reactor wakes the task, which is queued on a worker), where io_uring
//!   workers reap their own completions. Simple, and good enough for a
//!   fallback; per-worker epoll instances would remove the hop.
//! * A descriptor is registered with epoll only while a task waits on it
//!   (`reactor.rs`): a socket that is always ready never registers, one
//!   that waits costs two `epoll_ctl` per wait.
//! * Cancellation is trivial: between polls no kernel request is
//!   outstanding. A file op already running on the blocking pool runs to
//!   its end; its result is then completed and dropped there.

mod op;
mod reactor;
mod rw;
pub(crate) mod slot;

#[cfg(test)]
mod test;

pub(crate) use op::EpollOp;
pub(crate) use reactor::Reactor;
pub(crate) use rw::FdKind;
