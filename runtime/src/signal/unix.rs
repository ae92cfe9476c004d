//! Unix signals: [`signal`] makes a [`Signal`] listener for one
//! [`SignalKind`], whose [`recv`](Signal::recv) completes once per arrival
//! (arrivals close together may coalesce into one).
//!
//! How deliveries travel from the handler to the listeners, and why none
//! is lost between two `recv` calls, is told in [`crate::signal`].

use super::registry::{self, Listener, NSIG};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A kind of signal, by its number: what [`signal`] listens for.
///
/// The constructors name the usual ones; [`from_raw`](SignalKind::from_raw)
/// takes any number, and [`signal`] checks it.
///
/// # Examples
///
/// ```
/// use runtime::signal::unix::SignalKind;
///
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGHUP), SignalKind::hangup());
/// assert_eq!(format!("{:?}", SignalKind::interrupt()), "SignalKind(SIGINT)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// The signal with this number. Any number is accepted here; [`signal`]
    /// refuses the ones that cannot be listened for.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::signal::unix::SignalKind;
    ///
    /// let first_realtime = SignalKind::from_raw(libc::SIGRTMIN());
    /// assert_eq!(first_realtime.as_raw_value(), libc::SIGRTMIN());
    /// ```
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::signal::unix::SignalKind;
    ///
    /// assert_eq!(SignalKind::user_defined1().as_raw_value(), libc::SIGUSR1);
    /// ```
    pub const fn as_raw_value(&self) -> i32 {
        self.0
    }

    /// `SIGALRM`: a timer set with `alarm(2)` or `setitimer(2)` expired.
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::alarm().as_raw_value(), libc::SIGALRM);
    /// ```
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process exited, stopped or continued.
    ///
    /// Listening for it changes nothing for child processes: the listener
    /// never reaps (calls `wait`) any child, so whoever spawned one still
    /// collects its status (`runtime::process` by its pidfd, `std::process`
    /// by its pid).
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::child().as_raw_value(), libc::SIGCHLD);
    /// ```
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the controlling terminal hung up; daemons often take it as
    /// "reload the configuration".
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: an interrupt from the keyboard (Ctrl-C). See also
    /// [`ctrl_c`](crate::signal::ctrl_c).
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor set up for it (`O_ASYNC`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::io().as_raw_value(), libc::SIGIO);
    /// ```
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader. (Rust programs
    /// ignore it by default and get `EPIPE` errors instead.)
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::pipe().as_raw_value(), libc::SIGPIPE);
    /// ```
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: a quit request from the keyboard (Ctrl-\\).
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::quit().as_raw_value(), libc::SIGQUIT);
    /// ```
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: a polite request to terminate (what `kill` and service
    /// managers send first).
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`: for the application to define.
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::user_defined1().as_raw_value(), libc::SIGUSR1);
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`: for the application to define.
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::user_defined2().as_raw_value(), libc::SIGUSR2);
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal's window changed size.
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::window_change().as_raw_value(), libc::SIGWINCH);
    /// ```
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    /// The conventional name (`"SIGTERM"`) of a standard signal; `None` for
    /// real-time signals and numbers that are no signal.
    fn name(self) -> Option<&'static str> {
        let name = match self.0 {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGTRAP => "SIGTRAP",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGSTKFLT => "SIGSTKFLT",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGCONT => "SIGCONT",
            libc::SIGSTOP => "SIGSTOP",
            libc::SIGTSTP => "SIGTSTP",
            libc::SIGTTIN => "SIGTTIN",
            libc::SIGTTOU => "SIGTTOU",
            libc::SIGURG => "SIGURG",
            libc::SIGXCPU => "SIGXCPU",
            libc::SIGXFSZ => "SIGXFSZ",
            libc::SIGVTALRM => "SIGVTALRM",
            libc::SIGPROF => "SIGPROF",
            libc::SIGWINCH => "SIGWINCH",
            libc::SIGIO => "SIGIO",
            libc::SIGPWR => "SIGPWR",
            libc::SIGSYS => "SIGSYS",
            _ => return None,
        };
        Some(name)
    }

    /// Refuses what cannot or must not be listened for, with a message that
    /// names the signal.
    fn check(self) -> io::Result<()> {
        let signum = self.0;
        let refuse = |why: String| Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        let max = libc::SIGRTMAX();
        if signum < 1 || signum > max || signum as usize >= NSIG {
            return refuse(format!(
                "signal number {signum} is out of range: signals are 1..={max}"
            ));
        }
        match signum {
            libc::SIGKILL | libc::SIGSTOP => {
                return refuse(format!(
                    "cannot listen for {} (signal {signum}): it can be neither caught nor \
                     ignored",
                    self.name().unwrap_or("this signal"),
                ))
            }
            // The kernel raises these in the thread that faulted, and
            // returning from a handler re-runs the faulting instruction: a
            // handler that only records them would loop for ever.
            libc::SIGSEGV | libc::SIGILL | libc::SIGFPE | libc::SIGBUS => {
                return refuse(format!(
                    "cannot listen for {} (signal {signum}): it reports a fault of the \
                     thread that raised it, which only a synchronous handler can deal with",
                    self.name().unwrap_or("this signal"),
                ))
            }
            _ => {}
        }
        let rtmin = libc::SIGRTMIN();
        if signum > libc::SIGSYS && signum < rtmin {
            return refuse(format!(
                "signal number {signum} is reserved by the C library for its threads \
                 (real-time signals for applications are {rtmin}..={max})"
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "SignalKind({name})"),
            None => write!(f, "SignalKind({})", self.0),
        }
    }
}

impl From<i32> for SignalKind {
    fn from(signum: i32) -> SignalKind {
        SignalKind::from_raw(signum)
    }
}

impl From<SignalKind> for i32 {
    fn from(kind: SignalKind) -> i32 {
        kind.as_raw_value()
    }
}

/// Listens for `kind`: the returned [`Signal`] gets one delivery for each
/// arrival of the signal after this call returns (arrivals close together
/// may coalesce into one).
///
/// The first listener of a kind installs a process-wide handler for it,
/// which stays installed for the rest of the process, also after the last
/// listener is dropped (see [`crate::signal`] for why): from then on the
/// signal no longer has its default effect (for `SIGINT` and `SIGTERM`,
/// terminating the process).
///
/// A runtime is not needed: a `Signal` can be made anywhere and awaited in
/// any task of any runtime, either I/O driver, or another executor.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`], with a message naming the signal, for
/// `SIGKILL` and `SIGSTOP` (which cannot be caught), `SIGSEGV`, `SIGILL`,
/// `SIGFPE` and `SIGBUS` (faults, which only a synchronous handler can
/// deal with), numbers outside `1..=SIGRTMAX` (0 and negative ones
/// included), and the real-time signals the C library keeps for itself
/// (32 and 33 with glibc). The error of the operating system if the
/// handler, the self-pipe or the dispatcher thread cannot be set up.
///
/// # Examples
///
/// ```
/// use runtime::signal::unix::{signal, SignalKind};
///
/// # fn main() -> std::io::Result<()> {
/// let rt = runtime::Runtime::new()?;
/// rt.block_on(async {
///     let mut usr1 = signal(SignalKind::user_defined1())?;
///     // The listener exists, so this arrival is kept for the next `recv`.
///     // SAFETY: kill(2) has no memory-safety preconditions.
///     unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
///     assert_eq!(usr1.recv().await, Some(()));
///
///     let err = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
///     assert!(err.to_string().contains("SIGKILL"));
///     Ok(())
/// })
/// # }
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    kind.check()?;
    let (listener, seen) = registry::register(kind.0)?;
    Ok(Signal {
        kind,
        listener,
        seen,
    })
}

/// A listener for one kind of signal, made by [`signal`].
///
/// Each [`recv`](Signal::recv) completes once for each arrival since the
/// previous one returned; arrivals while no `recv` is pending are kept
/// (coalesced into one delivery), never lost. Every listener gets every
/// arrival: any number of them, for the same kind or different ones, in
/// any tasks on any workers. Dropping one leaves the others working.
///
/// `Signal` is `Send` and `Sync`, and does not need the runtime that made
/// it: it can be moved to another runtime, or awaited by another executor.
///
/// # Examples
///
/// A service that reloads on `SIGHUP` and stops on `SIGTERM`:
///
/// ```no_run
/// use runtime::signal::unix::{signal, SignalKind};
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let mut hangup = signal(SignalKind::hangup())?;
///     let mut terminate = signal(SignalKind::terminate())?;
///     runtime::spawn(async move {
///         while hangup.recv().await.is_some() {
///             println!("reloading the configuration");
///         }
///     });
///     terminate.recv().await;
///     println!("stopping");
///     Ok(())
/// }
/// ```
pub struct Signal {
    kind: SignalKind,
    listener: Arc<Listener>,
    /// The arrival count this listener has delivered up to.
    seen: u64,
}

impl Signal {
    /// Waits for the next arrival of the signal and returns `Some(())`; an
    /// arrival since the previous `recv` returned (or since the listener was
    /// made) completes it at once.
    ///
    /// `None` means signal handling has stopped for good in this process,
    /// which happens only if the process broke the dispatcher's pipe (closed
    /// a descriptor it does not own); in that case a message on stderr says
    /// so. Otherwise it never returns `None`.
    ///
    /// Cancel safe: dropping the future loses no arrival; the next `recv`
    /// delivers it.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::signal::unix::{signal, SignalKind};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// runtime::Runtime::new()?.block_on(async {
    ///     let mut usr2 = signal(SignalKind::user_defined2())?;
    ///     for _ in 0..3 {
    ///         // SAFETY: kill(2) has no memory-safety preconditions.
    ///         unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
    ///         usr2.recv().await;
    ///     }
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next arrival: the poll-style form of
    /// [`recv`](Signal::recv), for hand-written futures and streams.
    /// `Pending` stores the context's waker, which is woken on the next
    /// arrival.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::signal::unix::{signal, SignalKind};
    /// use std::task::Poll;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// runtime::Runtime::new()?.block_on(async {
    ///     let mut winch = signal(SignalKind::window_change())?;
    ///     // Nothing has arrived yet.
    ///     std::future::poll_fn(|cx| {
    ///         assert!(winch.poll_recv(cx).is_pending());
    ///         Poll::Ready(())
    ///     })
    ///     .await;
    ///     // SAFETY: kill(2) has no memory-safety preconditions.
    ///     unsafe { libc::kill(libc::getpid(), libc::SIGWINCH) };
    ///     assert_eq!(std::future::poll_fn(|cx| winch.poll_recv(cx)).await, Some(()));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.take_arrival() {
            return Poll::Ready(Some(()));
        }
        self.listener.set_waker(cx.waker());
        // Second look, after the waker is in place: an arrival counted
        // before the dispatcher could see this waker is seen here instead
        // (see the protocol in `crate::signal`).
        if self.take_arrival() {
            return Poll::Ready(Some(()));
        }
        if self.listener.is_closed() {
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    /// The kind this listener listens for.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::signal::unix::{signal, SignalKind};
    ///
    /// let quit = signal(SignalKind::quit())?;
    /// assert_eq!(quit.kind(), SignalKind::quit());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    /// Consumes the arrivals counted since the last delivery, if any.
    fn take_arrival(&mut self) -> bool {
        let now = registry::generation(self.kind.0);
        if now == self.seen {
            return false;
        }
        self.seen = now;
        true
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        registry::deregister(&self.listener);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
