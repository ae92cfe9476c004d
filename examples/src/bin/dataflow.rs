//! Dataflow: tasks that `set` and `get` named values in any order, where a
//! `get` waits until some task sets the name.
//!
//! A port of a toy Python event loop whose coroutines resolve references
//! written in any order. There the loop itself parks a coroutine that asks
//! for an unknown name and resumes it once the name is set; here the tasks
//! are ordinary runtime tasks and the parking lives in a small [`Store`]:
//! a `get` of an unknown name leaves the task's waker with the store, and
//! `set` wakes it.
//!
//! What it adds over the article: a program whose tasks all wait for names
//! that nobody will set no longer hangs (or, as in the Python loop, stops
//! silently with coroutines still parked). The store counts the handles
//! that could still set a name and the gets that are waiting; when every
//! live handle is waiting, no `set` can come, so each waiting `get` fails
//! with an error that lists the missing names.
//!
//! ```text
//! cargo run -p examples --bin dataflow               # the article's two computations
//! cargo run -p examples --bin dataflow -- --deadlock # two tasks that need each other's value
//! ```
//!
//! The normal run prints `Done some math` and `Done some more math, ended
//! with: 7`, in either order: the tasks run on the multi-thread runtime, and
//! the `set` that wakes `do_some_more_math` comes just before
//! `do_some_math` prints. With `--deadlock` it prints the error on stderr
//! and exits with status 1.

use runtime::task::JoinSet;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// The shared namespace: the values set so far, and the gets waiting for
/// the rest. Tasks reach it through a [`Vars`] handle each.
#[derive(Default)]
struct Store {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    values: HashMap<String, i64>,
    /// Waiting gets by name (sorted, so an error lists the names in order),
    /// each with its id and its task's waker.
    waiting: BTreeMap<String, Vec<(u64, Waker)>>,
    /// How many gets `waiting` holds in all.
    blocked: usize,
    /// Live `Vars` handles: everyone who could still call `set`.
    live: usize,
    /// Gets failed by deadlock detection whose future has not seen it yet.
    failed: HashMap<u64, Deadlock>,
    next_id: u64,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the
        // state would still be consistent, so carry on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// The heart of deadlock detection. Each handle has at most one get in
    /// flight (`get` borrows it mutably), so when the blocked gets are as
    /// many as the live handles, every one that could `set` is waiting
    /// and none ever will. Fails every waiting get; returns the wakers to
    /// wake once the lock is released.
    fn fail_if_deadlocked(&mut self) -> Vec<Waker> {
        if self.live == 0 || self.blocked < self.live {
            return Vec::new();
        }
        let error = Deadlock {
            missing: self.waiting.keys().cloned().collect(),
        };
        let mut wakers = Vec::new();
        for (id, waker) in std::mem::take(&mut self.waiting).into_values().flatten() {
            self.failed.insert(id, error.clone());
            wakers.push(waker);
        }
        self.blocked = 0;
        wakers
    }
}

/// A task's handle on the store. Not `Clone`: the store counts the handles
/// to know how many tasks could still set a name, and dropping one (the
/// task ended, panicked or was cancelled) may leave the rest deadlocked.
struct Vars {
    store: Arc<Store>,
}

impl Vars {
    fn new(store: &Arc<Store>) -> Vars {
        store.lock().live += 1;
        Vars {
            store: store.clone(),
        }
    }

    /// Sets `name` and wakes every task waiting for it.
    fn set(&self, name: &str, value: i64) {
        let woken = {
            let mut state = self.store.lock();
            state.values.insert(name.to_owned(), value);
            let woken = state.waiting.remove(name).unwrap_or_default();
            // Counted as running from now on, before they are even polled:
            // otherwise a deadlock could be declared in between.
            state.blocked -= woken.len();
            woken
        };
        for (_, waker) in woken {
            waker.wake();
        }
    }

    /// The value of `name`, once some task has set it; an error if every
    /// task ends up waiting for a name nobody sets.
    fn get<'a>(&'a mut self, name: &'a str) -> Get<'a> {
        Get {
            store: &self.store,
            name,
            id: None,
        }
    }
}

impl Drop for Vars {
    fn drop(&mut self) {
        let woken = {
            let mut state = self.store.lock();
            state.live -= 1;
            state.fail_if_deadlocked()
        };
        for waker in woken {
            waker.wake();
        }
    }
}

/// The future of [`Vars::get`].
struct Get<'a> {
    store: &'a Store,
    name: &'a str,
    /// Set while this get is registered as waiting (or was failed).
    id: Option<u64>,
}

impl Future for Get<'_> {
    type Output = Result<i64, Deadlock>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut state = this.store.lock();
        if let Some(id) = this.id {
            if let Some(error) = state.failed.remove(&id) {
                this.id = None;
                return Poll::Ready(Err(error));
            }
        }
        if let Some(&value) = state.values.get(this.name) {
            // If this get was waiting, the `set` already took it off the list.
            this.id = None;
            return Poll::Ready(Ok(value));
        }
        match this.id {
            // Polled again before the name was set: keep the newest waker.
            Some(id) => {
                let mut waiting = state.waiting.get_mut(this.name).into_iter().flatten();
                if let Some((_, waker)) = waiting.find(|(other, _)| *other == id) {
                    waker.clone_from(cx.waker());
                }
                Poll::Pending
            }
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state
                    .waiting
                    .entry(this.name.to_owned())
                    .or_default()
                    .push((id, cx.waker().clone()));
                state.blocked += 1;
                this.id = Some(id);
                // Perhaps this was the last handle still running. If so, the
                // wakers include this task's own: it sees the error when it
                // is polled again.
                let woken = state.fail_if_deadlocked();
                drop(state);
                for waker in woken {
                    waker.wake();
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Get<'_> {
    /// A get dropped while waiting (its task was cancelled) stops counting.
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let mut state = self.store.lock();
        state.failed.remove(&id);
        if let Some(waiting) = state.waiting.get_mut(self.name) {
            if let Some(at) = waiting.iter().position(|(other, _)| *other == id) {
                waiting.swap_remove(at);
                if waiting.is_empty() {
                    state.waiting.remove(self.name);
                }
                state.blocked -= 1;
            }
        }
    }
}

/// Every task is waiting for a name that no task is left to set.
#[derive(Clone, Debug)]
struct Deadlock {
    missing: Vec<String>,
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deadlock: every task is waiting for a name that no task will set; missing: {}",
            self.missing.join(", ")
        )
    }
}

impl std::error::Error for Deadlock {}

/// Computations run as tasks on one store: the article's `ELoop.process`.
struct Dataflow {
    tasks: JoinSet<Result<(), Deadlock>>,
    /// The builder's own handle. While more computations may be spawned a
    /// `set` may still come, so the first tasks cannot be declared
    /// deadlocked before the last one exists.
    opener: Vars,
}

impl Dataflow {
    fn new() -> Dataflow {
        Dataflow {
            tasks: JoinSet::new(),
            opener: Vars::new(&Arc::new(Store::default())),
        }
    }

    /// Starts `computation` as a task with a handle of its own.
    fn spawn<F, Fut>(&mut self, computation: F)
    where
        F: FnOnce(Vars) -> Fut,
        Fut: Future<Output = Result<(), Deadlock>> + Send + 'static,
    {
        let vars = Vars::new(&self.opener.store);
        self.tasks.spawn(computation(vars));
    }

    /// Waits for every computation; the first error, if any.
    async fn run(self) -> Result<(), Deadlock> {
        let Dataflow { mut tasks, opener } = self;
        // No more computations: from here on only the tasks can set names.
        drop(opener);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                // Returning early drops the set, which cancels the others.
                Ok(result) => result?,
                Err(err) => match err.try_into_panic() {
                    // A computation panicked: carry on panicking here.
                    Ok(payload) => std::panic::resume_unwind(payload),
                    Err(err) => unreachable!("only the set could cancel its tasks: {err}"),
                },
            }
        }
        Ok(())
    }
}

// The article's two computations, with `?` where a get may fail.

async fn do_some_math(mut vars: Vars) -> Result<(), Deadlock> {
    vars.set("one", 1);
    vars.set("two", 2);
    let three = vars.get("three").await?;
    let four = vars.get("four").await?;
    let seven = three + four;
    vars.set("seven", seven);
    println!("Done some math");
    Ok(())
}

async fn do_some_more_math(mut vars: Vars) -> Result<(), Deadlock> {
    let one = vars.get("one").await?;
    let two = vars.get("two").await?;
    let three = one + two;
    let four = three + one;
    vars.set("three", three);
    vars.set("four", four);
    let seven = vars.get("seven").await?;
    println!("Done some more math, ended with: {seven}");
    Ok(())
}

// `--deadlock`: each of these needs the other's value before it sets its own.

async fn chicken(mut vars: Vars) -> Result<(), Deadlock> {
    let egg = vars.get("egg").await?;
    vars.set("chicken", egg + 1);
    Ok(())
}

async fn egg(mut vars: Vars) -> Result<(), Deadlock> {
    let chicken = vars.get("chicken").await?;
    vars.set("egg", chicken + 1);
    Ok(())
}

#[runtime::main]
async fn main() -> ExitCode {
    let mut deadlock = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--deadlock" => deadlock = true,
            _ => {
                eprintln!("dataflow: unknown argument {arg:?}; usage: dataflow [--deadlock]");
                return ExitCode::from(2);
            }
        }
    }

    let mut flow = Dataflow::new();
    if deadlock {
        flow.spawn(chicken);
        flow.spawn(egg);
    } else {
        // Getter first: `do_some_more_math` starts by asking for names that
        // only `do_some_math` sets.
        flow.spawn(do_some_more_math);
        flow.spawn(do_some_math);
    }
    match flow.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dataflow: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[runtime::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_that_ends_without_setting_leaves_the_rest_deadlocked() {
        let mut flow = Dataflow::new();
        for name in ["b", "a", "b"] {
            flow.spawn(move |mut vars| async move { vars.get(name).await.map(drop) });
        }
        flow.spawn(|_vars| async { Ok(()) });
        let err = flow.run().await.unwrap_err();
        assert_eq!(err.missing, ["a", "b"]);
    }

    #[runtime::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_setter_is_not_a_deadlock() {
        let mut flow = Dataflow::new();
        flow.spawn(|mut vars| async move {
            assert_eq!(vars.get("late").await?, 1);
            Ok(())
        });
        flow.spawn(|vars| async move {
            runtime::time::sleep(Duration::from_millis(20)).await;
            vars.set("late", 1);
            Ok(())
        });
        flow.run().await.unwrap();
    }
}
