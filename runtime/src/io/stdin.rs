//! Standard input that never blocks a worker.
//!
//! Reading the process's stdin may block for as long as the user takes to
//! type, and stdin may be a terminal, a pipe or a regular file (which no
//! readiness API can wait on). So reads run on the blocking pool, one chunk
//! at a time, and the task waits for the chunk like for any other task.
//!
//! Trade-off: a read already handed to the blocking pool cannot be taken
//! back; if the `Stdin` is dropped meanwhile, the chunk it was reading is
//! lost to the process (as it is with any other runtime's async stdin).

use crate::scheduler::context;
use crate::task::JoinHandle;
use crate::Handle;
use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

/// How much one blocking read asks for.
const CHUNK: usize = 8 * 1024;

/// The process's standard input, read without blocking the runtime.
/// Implements [`futures_io::AsyncRead`], so `futures-util`'s
/// `AsyncReadExt`, `BufReader` and `lines()` work on it.
///
/// # Examples
///
/// ```no_run
/// use futures_util::io::{AsyncBufReadExt, BufReader};
/// use futures_util::StreamExt;
///
/// # async fn example() -> std::io::Result<()> {
/// let mut lines = BufReader::new(runtime::io::stdin()).lines();
/// while let Some(line) = lines.next().await {
///     println!("read: {}", line?);
/// }
/// # Ok(())
/// # }
/// ```
pub struct Stdin {
    handle: Handle,
    state: State,
}

enum State {
    /// `buf[pos..len]` holds bytes read and not yet handed out.
    Idle {
        buf: Vec<u8>,
        pos: usize,
        len: usize,
    },
    /// A chunk is being read on the blocking pool.
    Reading(JoinHandle<(io::Result<usize>, Vec<u8>)>),
}

/// Standard input of the process, for the current runtime.
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn stdin() -> Stdin {
    let Some(inner) = context::current() else {
        panic!(
            "`runtime::io::stdin` called outside of a runtime: call it from a task or \
             inside `Runtime::block_on`"
        );
    };
    Stdin {
        handle: Handle { inner },
        state: State::Idle {
            buf: Vec::new(),
            pos: 0,
            len: 0,
        },
    }
}

impl futures_io::AsyncRead for Stdin {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Idle { buf, pos, len } if *pos < *len => {
                    let n = out.len().min(*len - *pos);
                    out[..n].copy_from_slice(&buf[*pos..*pos + n]);
                    *pos += n;
                    return Poll::Ready(Ok(n));
                }
                State::Idle { buf, .. } => {
                    let mut chunk = std::mem::take(buf);
                    chunk.resize(CHUNK, 0);
                    this.state = State::Reading(this.handle.spawn_blocking(move || {
                        let result = io::stdin().lock().read(&mut chunk);
                        (result, chunk)
                    }));
                }
                State::Reading(reading) => {
                    let done = std::task::ready!(Pin::new(reading).poll(cx));
                    let (result, buf) = match done {
                        Ok(done) => done,
                        Err(err) => (Err(io::Error::other(err)), Vec::new()),
                    };
                    let len = *result.as_ref().unwrap_or(&0);
                    this.state = State::Idle { buf, pos: 0, len };
                    match result {
                        Ok(0) => return Poll::Ready(Ok(0)),
                        Ok(_) => continue,
                        Err(err) => return Poll::Ready(Err(err)),
                    }
                }
            }
        }
    }
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reading = matches!(self.state, State::Reading(_));
        f.debug_struct("Stdin").field("reading", &reading).finish()
    }
}
