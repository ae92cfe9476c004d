//! Networking: TCP, UDP and Unix domain stream sockets.
//!
//! On the io_uring driver, every operation that may wait — accept,
//! connect, send, receive, shutdown — is an io_uring request on a ring of
//! the runtime, and the task sleeps until its completion. On the epoll
//! driver (`IoDriver::Epoll`, or `Auto` where io_uring cannot be set up)
//! the same operation is a non-blocking system call, and on `EAGAIN` the
//! task waits for readiness on the runtime's reactor thread, then tries
//! again. Either way creating, binding and configuring a socket are plain
//! system calls, which never block ([`TcpSocket`] exposes them before a
//! socket becomes a listener or a connection).
//!
//! Host names are resolved on the runtime's blocking pool, never on a
//! worker: every address argument is a [`ToSocketAddrs`], which tells a
//! literal address (parsed at once) from a name (looked up with the system
//! resolver on the pool); [`lookup_host`] does just the lookup.
//!
//! I/O takes owned buffers ([`IoBuf`](crate::io::IoBuf) /
//! [`IoBufMut`](crate::io::IoBufMut): `Vec<u8>`, `Box<[u8]>`,
//! `&'static [u8]`, `String`, ...) and hands them back with the result as a
//! [`BufResult<T, B>`](crate::io::BufResult) = `(io::Result<T>, B)`,
//! because the kernel fills or drains the buffer after the call that
//! started the operation has returned. The streams also implement
//! `futures_io::AsyncRead` (at the cost of one copy per byte) and
//! `AsyncWrite`, whose `poll_write` is the one send outside the ring: a
//! call that never waits, from the caller's slice, because a `Pending`
//! write must have written nothing (its wait for room is a ring request;
//! see [`TcpStream`]).
//!
//! A stream splits into owned halves (`into_split`: [`tcp::OwnedReadHalf`]
//! and [`tcp::OwnedWriteHalf`], the same in [`unix`]) that one task reads
//! while another writes, and that `reunite` into the stream again.
//!
//! Dropping an operation's future cancels it in the kernel; its buffer is
//! freed once the kernel is done with it. Sockets are closed when the
//! last of the socket object and its operations in flight is gone.
//! Errors are [`std::io::Error`]s with the kernel's `errno`
//! (`ConnectionRefused`, `AddrInUse`, ...).
//!
//! # Examples
//!
//! An echo server and a client:
//!
//! ```
//! use runtime::net::{TcpListener, TcpStream};
//!
//! #[runtime::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     runtime::spawn(async move {
//!         while let Ok((stream, _)) = listener.accept().await {
//!             runtime::spawn(async move {
//!                 let mut buf = Vec::with_capacity(4096);
//!                 loop {
//!                     buf.clear();
//!                     let (n, b) = stream.read(buf).await;
//!                     match n {
//!                         Ok(0) | Err(_) => return,
//!                         Ok(_) => {}
//!                     }
//!                     let (written, b) = stream.write_all(b).await;
//!                     if written.is_err() {
//!                         return;
//!                     }
//!                     buf = b;
//!                 }
//!             });
//!         }
//!     });
//!
//!     let stream = TcpStream::connect(addr).await?;
//!     stream.write_all("echo?").await.0?;
//!     let (n, buf) = stream.read(Vec::with_capacity(64)).await;
//!     assert_eq!(&buf[..n?], b"echo?");
//!     Ok(())
//! }
//! ```

mod accept;
mod addr;
mod ops;
mod socket;
mod split;
mod stream;
mod sys;
pub mod tcp;
mod udp;
pub mod unix;
mod writer;

pub use addr::{lookup_host, ToSocketAddrs};
pub use socket::TcpSocket;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
