//! Owned halves of a stream: `into_split`, `OwnedReadHalf`,
//! `OwnedWriteHalf`, `ReuniteError` (tokio's names and paths:
//! `net::tcp::*`, `net::unix::*`).
//!
//! A stream is already two independent sides over one shared socket (a
//! [`Reader`](super::stream::Reader) and a
//! [`Writer`](super::writer::Writer), each holding an `Arc` of it), so a
//! half is one side moved out whole: the poll-style state machines are the
//! stream's, not a copy, and no lock is shared between the halves — a task
//! reading never waits for one writing.
//!
//! Dropping the write half shuts the write side down, as in tokio (a plain
//! `shutdown(2)`, which never blocks): every byte a write reported is in
//! the kernel already, so the peer reads them all, then end-of-stream.
//! `forget` drops it without that shutdown. Reuniting checks that both halves hold the same socket
//! (pointer equality of their `Arc`s).
//!
//! The types are written once, by [`owned_halves!`], and expanded in
//! `tcp.rs` and `unix.rs`, so the two families cannot drift apart; their
//! doc examples are generated too, around a snippet that makes a connected
//! pair `(a, b)` of the right type.

/// Defines `OwnedReadHalf`, `OwnedWriteHalf`, `ReuniteError` and
/// `$stream::into_split` in the invoking module.
///
/// * `$stream`: the stream type (an `inner: Stream<$sock>` field, a
///   `from_inner` constructor);
/// * `$sock`: the std socket it wraps; `$addr`: its address type;
/// * `$pair`: doc-test lines (hidden, `#`-prefixed) that bind a connected
///   pair of `$stream`s to `a` and `b` inside an async fn returning
///   `io::Result<()>`.
macro_rules! owned_halves {
    ($stream:ident, $sock:ty, $addr:ty, $pair:literal) => {
        #[doc = concat!(
                    "The read half of a [`", stringify!($stream), "`], from [`into_split`](",
                    stringify!($stream), "::into_split)."
                )]
        ///
        /// Reads with owned buffers ([`read`](OwnedReadHalf::read),
        /// [`peek`](OwnedReadHalf::peek)) or through
        /// [`futures_io::AsyncRead`], while another task writes with the
        /// [`OwnedWriteHalf`]. `Send`; dropping it closes nothing by itself
        /// (the socket closes when both halves are gone).
        ///
        /// # Examples
        ///
        /// ```
        /// #[runtime::main(flavor = "current_thread")]
        /// async fn main() -> std::io::Result<()> {
        #[doc = $pair]
        ///     let (read, write) = a.into_split();
        ///     let reader = runtime::spawn(async move {
        ///         let (n, buf) = read.read(Vec::with_capacity(16)).await;
        ///         n.map(|n| buf[..n].to_vec())
        ///     });
        ///     b.write_all(&b"to the reader"[..]).await.0?;
        ///     assert_eq!(reader.await.unwrap()?, b"to the reader");
        ///     drop(write);
        ///     Ok(())
        /// }
        /// ```
        pub struct OwnedReadHalf {
            inner: $crate::net::stream::Reader<$sock>,
        }

        #[doc = concat!(
                    "The write half of a [`", stringify!($stream), "`], from [`into_split`](",
                    stringify!($stream), "::into_split)."
                )]
        ///
        /// Writes with owned buffers ([`write`](OwnedWriteHalf::write),
        /// [`write_all`](OwnedWriteHalf::write_all)) or through
        /// [`futures_io::AsyncWrite`], while another task reads with the
        /// [`OwnedReadHalf`]. `Send`.
        ///
        /// Dropping it shuts the write side down (`shutdown(Write)`): the
        /// peer reads every byte written, then end-of-stream;
        /// [`forget`](OwnedWriteHalf::forget) drops it without the
        /// shutdown.
        ///
        /// # Examples
        ///
        /// ```
        /// #[runtime::main(flavor = "current_thread")]
        /// async fn main() -> std::io::Result<()> {
        #[doc = $pair]
        ///     let (_read, write) = a.into_split();
        ///     write.write_all(&b"last words"[..]).await.0?;
        ///     drop(write); // shuts the write side down: the peer sees the end
        ///     let mut got = Vec::new();
        ///     loop {
        ///         let (n, buf) = b.read(Vec::with_capacity(64)).await;
        ///         match n? {
        ///             0 => break,
        ///             n => got.extend_from_slice(&buf[..n]),
        ///         }
        ///     }
        ///     assert_eq!(got, b"last words");
        ///     Ok(())
        /// }
        /// ```
        pub struct OwnedWriteHalf {
            inner: $crate::net::writer::Writer<$sock>,
        }

        /// The halves given to a `reunite` were not split from the same
        /// stream; both are handed back (`.0`, `.1`).
        ///
        /// # Examples
        ///
        /// ```
        /// #[runtime::main(flavor = "current_thread")]
        /// async fn main() -> std::io::Result<()> {
        #[doc = $pair]
        ///     let (a_read, _a_write) = a.into_split();
        ///     let (_b_read, b_write) = b.into_split();
        ///     let err = a_read.reunite(b_write).unwrap_err();
        ///     assert_eq!(err.to_string(), "tried to reunite halves that are not from the same socket");
        ///     let (_a_read, _b_write) = (err.0, err.1); // both back
        ///     Ok(())
        /// }
        /// ```
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tried to reunite halves that are not from the same socket")
            }
        }

        impl std::error::Error for ReuniteError {}

        impl $stream {
            /// Splits the stream into a read half and a write half, which
            /// can be moved to different tasks (both are `Send`): one reads
            /// while the other writes, with no lock between them.
            ///
            /// The halves keep the stream's state: bytes its poll-style
            /// reader buffered are read by the read half, a poll-style
            /// write waiting for room goes on in the write half.
            /// [`OwnedReadHalf::reunite`] puts them back together.
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (read, write) = a.into_split();
            ///     let echo = runtime::spawn(async move {
            ///         // Echo what comes in, from another task.
            ///         let (n, buf) = read.read(Vec::with_capacity(64)).await;
            ///         let n = n?;
            ///         write.write_all(buf[..n].to_vec()).await.0
            ///     });
            ///     b.write_all(&b"split"[..]).await.0?;
            ///     echo.await.unwrap()?;
            ///     let (n, buf) = b.read(Vec::with_capacity(64)).await;
            ///     assert_eq!(&buf[..n?], b"split");
            ///     Ok(())
            /// }
            /// ```
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                let (reader, writer) = self.inner.into_split();
                (
                    OwnedReadHalf { inner: reader },
                    OwnedWriteHalf { inner: writer },
                )
            }
        }

        impl OwnedReadHalf {
            /// Puts the stream back together from this half and the write
            /// half split from it; the write side stays open.
            ///
            /// # Errors
            ///
            /// [`ReuniteError`], holding both halves, if `write` is not
            /// this half's partner.
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (read, write) = a.into_split();
            ///     let a = read.reunite(write).expect("the same stream's halves");
            ///     a.write_all(&b"whole again"[..]).await.0?;
            ///     let (n, buf) = b.read(Vec::with_capacity(64)).await;
            ///     assert_eq!(&buf[..n?], b"whole again");
            ///     Ok(())
            /// }
            /// ```
            // The halves come back by value in the error, as in tokio.
            #[allow(clippy::result_large_err)]
            pub fn reunite(self, write: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                reunite(self, write)
            }

            /// Receives into `buf`, from its start, up to its capacity; as
            #[doc = concat!("[`", stringify!($stream), "::read`].")]
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (read, _write) = a.into_split();
            ///     b.write_all(&b"abc"[..]).await.0?;
            ///     let (n, buf) = read.read(Vec::with_capacity(8)).await;
            ///     assert_eq!(&buf[..n?], b"abc");
            ///     Ok(())
            /// }
            /// ```
            pub async fn read<B: $crate::io::IoBufMut + Send>(
                &self,
                buf: B,
            ) -> $crate::io::BufResult<usize, B> {
                $crate::net::stream::read(self.inner.fd(), buf).await
            }

            /// Receives into `buf` without taking the bytes out of the
            /// socket (`MSG_PEEK`); as
            #[doc = concat!("[`", stringify!($stream), "::peek`].")]
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (read, _write) = a.into_split();
            ///     b.write_all(&b"abc"[..]).await.0?;
            ///     let (n, buf) = read.peek(Vec::with_capacity(8)).await;
            ///     assert_eq!(&buf[..n?], b"abc");
            ///     let (n, buf) = read.read(Vec::with_capacity(8)).await;
            ///     assert_eq!(&buf[..n?], b"abc");
            ///     Ok(())
            /// }
            /// ```
            pub async fn peek<B: $crate::io::IoBufMut + Send>(
                &self,
                buf: B,
            ) -> $crate::io::BufResult<usize, B> {
                $crate::net::stream::peek(self.inner.fd(), buf).await
            }

            /// The address of the other end.
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (read, _write) = a.into_split();
            ///     assert_eq!(format!("{:?}", read.peer_addr()?), format!("{:?}", b.local_addr()?));
            ///     Ok(())
            /// }
            /// ```
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.inner.socket().peer_addr()
            }

            /// The address of this end.
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (read, _write) = a.into_split();
            ///     assert_eq!(format!("{:?}", read.local_addr()?), format!("{:?}", b.peer_addr()?));
            ///     Ok(())
            /// }
            /// ```
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.inner.socket().local_addr()
            }
        }

        impl OwnedWriteHalf {
            /// Puts the stream back together from this half and the read
            /// half split from it; see [`OwnedReadHalf::reunite`].
            ///
            /// # Errors
            ///
            /// [`ReuniteError`], holding both halves, if `read` is not this
            /// half's partner.
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (read, write) = a.into_split();
            ///     let _a = write.reunite(read).expect("the same stream's halves");
            ///     Ok(())
            /// }
            /// ```
            #[allow(clippy::result_large_err)]
            pub fn reunite(self, read: OwnedReadHalf) -> Result<$stream, ReuniteError> {
                reunite(read, self)
            }

            /// Drops the half *without* shutting the write side down: the
            /// peer sees the end of the stream only when the read half is
            /// gone too (tokio's `forget`).
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (read, write) = a.into_split();
            ///     write.write_all(&b"still open"[..]).await.0?;
            ///     write.forget();
            ///     let (n, buf) = b.read(Vec::with_capacity(64)).await;
            ///     assert_eq!(&buf[..n?], b"still open");
            ///     // The write side is open until the read half goes too.
            ///     drop(read);
            ///     let (n, _) = b.read(Vec::with_capacity(64)).await;
            ///     assert_eq!(n?, 0);
            ///     Ok(())
            /// }
            /// ```
            pub fn forget(mut self) {
                self.inner.set_shutdown_on_drop(false);
            }

            /// Sends `buf`'s initialized bytes, or a first part of them; as
            #[doc = concat!("[`", stringify!($stream), "::write`].")]
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (_read, write) = a.into_split();
            ///     let (n, _) = write.write(b"abc".to_vec()).await;
            ///     assert!(n? > 0);
            ///     Ok(())
            /// }
            /// ```
            pub async fn write<B: $crate::io::IoBuf + Send>(
                &self,
                buf: B,
            ) -> $crate::io::BufResult<usize, B> {
                $crate::net::stream::write(self.inner.fd(), buf).await
            }

            /// Sends all of `buf`'s initialized bytes; as
            #[doc = concat!("[`", stringify!($stream), "::write_all`].")]
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (_read, write) = a.into_split();
            ///     write.write_all(vec![1u8; 4096]).await.0?;
            ///     let (n, _) = b.read(Vec::with_capacity(8192)).await;
            ///     assert!(n? > 0);
            ///     Ok(())
            /// }
            /// ```
            pub async fn write_all<B: $crate::io::IoBuf + Send>(
                &self,
                buf: B,
            ) -> $crate::io::BufResult<(), B> {
                $crate::net::stream::write_all(self.inner.fd(), buf).await
            }

            /// The address of the other end.
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (_read, write) = a.into_split();
            ///     assert_eq!(format!("{:?}", write.peer_addr()?), format!("{:?}", b.local_addr()?));
            ///     Ok(())
            /// }
            /// ```
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.inner.socket().peer_addr()
            }

            /// The address of this end.
            ///
            /// # Examples
            ///
            /// ```
            /// #[runtime::main(flavor = "current_thread")]
            /// async fn main() -> std::io::Result<()> {
            #[doc = $pair]
            ///     let (_read, write) = a.into_split();
            ///     assert_eq!(format!("{:?}", write.local_addr()?), format!("{:?}", b.peer_addr()?));
            ///     Ok(())
            /// }
            /// ```
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.inner.socket().local_addr()
            }
        }

        #[allow(clippy::result_large_err)]
        fn reunite(read: OwnedReadHalf, write: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
            match $crate::net::stream::Stream::reunite(read.inner, write.inner) {
                Ok(inner) => Ok($stream::from_inner(inner)),
                Err((reader, writer)) => Err(ReuniteError(
                    OwnedReadHalf { inner: reader },
                    OwnedWriteHalf { inner: writer },
                )),
            }
        }

        $crate::net::stream::async_read!(OwnedReadHalf);
        $crate::net::stream::async_write!(OwnedWriteHalf);
        $crate::net::stream::fd_traits!(OwnedReadHalf);
        $crate::net::stream::fd_traits!(OwnedWriteHalf);

        impl std::fmt::Debug for OwnedReadHalf {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("OwnedReadHalf")
                    .field("fd", &std::os::fd::AsRawFd::as_raw_fd(self))
                    .field("reading", &self.inner.describe())
                    .finish()
            }
        }

        impl std::fmt::Debug for OwnedWriteHalf {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("OwnedWriteHalf")
                    .field("fd", &std::os::fd::AsRawFd::as_raw_fd(self))
                    .field("writing", &self.inner.describe())
                    .finish()
            }
        }
    };
}
pub(crate) use owned_halves;
