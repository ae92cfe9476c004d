//! Glue to other crates' I/O and runtime traits, each behind a cargo
//! feature (all off by default).
//!
//! * [`hyper`] (feature `hyper`): [`HyperIo`](hyper::HyperIo),
//!   [`HyperExecutor`](hyper::HyperExecutor) and
//!   [`HyperTimer`](hyper::HyperTimer), enough for hyper 1.x and
//!   everything built on it (hyper-util's server builders, axum) to serve
//!   and call HTTP/1 and HTTP/2 on this runtime. No tokio runtime is
//!   involved: hyper 1.x only asks for its own `rt` traits.
//! * `tokio_io` (feature `tokio-io`): tokio's `io::AsyncRead` and
//!   `io::AsyncWrite` on [`TcpStream`](crate::net::TcpStream),
//!   [`UnixStream`](crate::net::UnixStream), their owned halves,
//!   [`Stdin`](crate::io::Stdin)
//!   and a child's pipes ([`ChildStdin`](crate::process::ChildStdin),
//!   [`ChildStdout`](crate::process::ChildStdout),
//!   [`ChildStderr`](crate::process::ChildStderr)), so crates written against tokio's I/O
//!   traits (tokio-util's codecs, h2, tokio-rustls...) work on them. Those
//!   traits exist in tokio with every feature off, and that is how the
//!   feature depends on tokio: no tokio reactor, timer or scheduler is
//!   compiled in, let alone started. The impls are on the runtime's own
//!   types, so there is nothing to import or wrap.
//!
//! (The `bytes` feature lives with the buffer traits: [`IoBuf`] for
//! `bytes::Bytes` and `bytes::BytesMut`, [`IoBufMut`] for `BytesMut`.)
//!
//! # Reads into memory nobody initialized
//!
//! hyper and tokio hand a reader a buffer that may be uninitialized (a
//! `ReadBufCursor`, a `tokio::io::ReadBuf`), so that a reader that writes
//! before it reads need not pay for zeroing it. A futures-io reader takes a
//! `&mut [u8]`, which must be initialized, so adapting one means zeroing
//! first. The runtime's streams do not need that: the kernel receives
//! straight into the caller's memory, initialized or not. So
//! both adapters read the runtime's streams and read halves through a
//! crate-internal `poll_read_uninit`, and zero only for other types (what
//! the buffer does not know to be initialized yet, once: both buffer types
//! remember).
//!
//! # Vectored writes
//!
//! A vectored write on the runtime's sockets is one `sendmsg(2)` over every
//! slice (not only the first, futures-io's default). The adapters say they
//! write vectored, and hyper then queues body chunks behind the headers
//! instead of copying them into one buffer. For reads, generic code
//! recognises the runtime's streams by `TypeId` (folded away at compile
//! time, see `native.rs`); other types keep their own `poll_read` (zeroing
//! first) and `poll_write_vectored`.
//!
//! [`IoBuf`]: crate::io::IoBuf
//! [`IoBufMut`]: crate::io::IoBufMut

#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "tokio-io")]
mod tokio_io;

pub(crate) mod native;
