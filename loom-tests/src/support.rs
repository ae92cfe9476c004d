//! Shared pieces of the models.
//!
//! Counters here are *std* atomics on purpose: loom runs its threads as
//! coroutines on one OS thread, so a std atomic always shows the value as of
//! the interleaving being explored, and it adds no scheduling points (which
//! keeps the models small). Everything the runtime synchronizes on is a loom
//! type; leaks are caught by `loom::alloc::Track`, which loom checks at the
//! end of every iteration.

use loom::alloc::Track;
use runtime::{JoinError, JoinHandle};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll, Wake, Waker};

thread_local! {
    /// Panics seen on this OS thread (all of one model's loom threads run on
    /// the thread of the test that runs the model).
    static PANICS: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` under `loom::model` (so `LOOM_MAX_PREEMPTIONS`, `LOOM_LOG`,
/// `LOOM_CHECKPOINT_FILE` … apply as usual) and fails the iteration if any
/// panic happened in it, even one that was caught. The task harness catches
/// panics from a task's future, and with them loom's own reports of a
/// violation inside a task (a racy access to the stage, say); this makes
/// sure none of those go unnoticed.
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            previous(info);
        }));
    });
    loom::model(move || {
        PANICS.with(|p| p.set(0));
        f();
        let panics = PANICS.with(|p| p.get());
        assert_eq!(
            panics, 0,
            "a panic was caught during this iteration (see above)"
        );
    });
}

/// Counts how often the [`Token`]s made from it were dropped.
#[derive(Clone, Debug, Default)]
pub struct DropCount(Arc<AtomicUsize>);

impl DropCount {
    /// A fresh counter at zero.
    pub fn new() -> DropCount {
        DropCount::default()
    }

    /// A value whose drop is counted; loom reports it if it is never dropped.
    #[track_caller]
    pub fn token(&self) -> Token {
        Token {
            count: self.clone(),
            _track: Track::new(()),
        }
    }

    /// Drops so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// See [`DropCount::token`]. Dropping one twice is impossible in safe code,
/// so the count also catches a double drop of whatever holds the token
/// (a task's future or output).
#[derive(Debug)]
pub struct Token {
    count: DropCount,
    _track: Track<()>,
}

impl Drop for Token {
    fn drop(&mut self) {
        self.count.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that counts its wakes. Loom reports it if a clone of it leaks.
#[derive(Debug)]
pub struct CountingWaker {
    wakes: AtomicUsize,
    _track: Track<()>,
}

impl CountingWaker {
    /// The counter and a `Waker` that wakes it.
    #[track_caller]
    pub fn new() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker {
            wakes: AtomicUsize::new(0),
            _track: Track::new(()),
        });
        let waker = Waker::from(counter.clone());
        (counter, waker)
    }

    /// Wakes so far.
    pub fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls a `JoinHandle` once with `waker`.
pub fn poll_handle<T>(handle: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
    Pin::new(handle).poll(&mut Context::from_waker(waker))
}

/// Checks that a task's result is the cancellation error.
#[track_caller]
pub fn assert_cancelled<T: std::fmt::Debug>(result: Result<T, JoinError>) {
    match result {
        Err(err) => assert!(err.is_cancelled(), "expected Cancelled, got {err}"),
        Ok(value) => panic!("expected Cancelled, got Ok({value:?})"),
    }
}

/// Polls a `JoinHandle` that must be ready.
#[track_caller]
pub fn expect_ready<T>(handle: &mut JoinHandle<T>) -> Result<T, JoinError> {
    match poll_handle(handle, Waker::noop()) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("the task should have ended: {handle:?}"),
    }
}

/// A start line for the parties of a race: each calls [`Gate::enter`] as its
/// first step (the main thread: after spawning the others).
///
/// Why: loom 0.7's DPOR keeps only the *last* access to each atomic. When
/// thread A's plain `load` runs first and thread B then does `load` +
/// `compare_exchange` on the same word (every transition of the task state
/// is such a CAS loop), B's own load hides A's load from B's CAS, and the
/// schedule "B's CAS before A's load" is never explored (tokio-rs/loom#392,
/// #166). A model then silently checks far fewer interleavings than it
/// should, e.g. a `JoinHandle` poll that never sees the task complete first.
/// Entering the gate is a relaxed RMW on one shared atomic: the parties'
/// first steps conflict, so loom also runs each party first, and from
/// there explores the interleavings the gap would hide. Relaxed RMWs create
/// no happens-before edge, so the gate hides no missing synchronization.
#[derive(Clone, Debug)]
pub struct Gate(loom::sync::Arc<loom::sync::atomic::AtomicUsize>);

impl Gate {
    /// A gate nobody has entered.
    pub fn new() -> Gate {
        Gate(loom::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(
            0,
        )))
    }

    /// Marks the start of the caller's part of the race.
    pub fn enter(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

/// What the test can see of a [`Scripted`] future.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    polls: Arc<AtomicUsize>,
    in_poll: Arc<AtomicBool>,
    /// Drops of the future.
    pub future_drops: DropCount,
    /// Drops of the output (inside the future until it is returned).
    pub output_drops: DropCount,
}

impl Probe {
    /// Polls so far.
    pub fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }

    /// A future that returns `Ready` on poll number `ready_on` (1-based; never
    /// if `None`), and `Pending` before, waking itself if `self_wake`.
    pub fn future(&self, ready_on: Option<usize>, self_wake: bool) -> Scripted {
        Scripted {
            probe: self.clone(),
            midpoint: loom::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0)),
            ready_on,
            self_wake,
            output: Some(self.output_drops.token()),
            _token: self.future_drops.token(),
        }
    }
}

/// See [`Probe::future`].
#[derive(Debug)]
pub struct Scripted {
    probe: Probe,
    /// A loom atomic touched mid-poll: a point where loom may switch threads
    /// while the future is being polled.
    midpoint: loom::sync::Arc<loom::sync::atomic::AtomicUsize>,
    ready_on: Option<usize>,
    self_wake: bool,
    output: Option<Token>,
    _token: Token,
}

impl Future for Scripted {
    type Output = Token;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Token> {
        let this = &mut *self;
        assert!(
            !this.probe.in_poll.swap(true, Ordering::SeqCst),
            "concurrent polls"
        );
        let n = this.probe.polls.fetch_add(1, Ordering::SeqCst) + 1;
        this.midpoint
            .fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
        let result = if this.ready_on == Some(n) {
            Poll::Ready(this.output.take().expect("polled after Ready"))
        } else {
            if this.self_wake {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        };
        this.probe.in_poll.store(false, Ordering::SeqCst);
        result
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        assert!(
            !self.probe.in_poll.load(Ordering::SeqCst),
            "the future was dropped while being polled"
        );
    }
}
