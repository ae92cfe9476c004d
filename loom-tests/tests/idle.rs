//! The multi-thread scheduler's idle protocol never loses a wake-up
//! (scheduler, issue 3).
//!
//! The real `Idle` (`runtime/src/scheduler/multi_thread/idle.rs`, through
//! `runtime::__loom::Idle`) against stand-ins for what loom cannot see into:
//! one `Mutex<VecDeque>` for the queues (injector and stealers alike) and a
//! `loom::sync::Notify` per worker for its parker (like the real parker, a
//! notify before the wait is not lost, and a wait may also end spuriously).
//! The workers follow `worker.rs` step for step:
//!
//! ```text
//! loop {
//!     if shut down: return
//!     task = LIFO slot, else pop()                  // next_task
//!     if none:                                      // steal_work
//!         if !searching: searching = transition_worker_to_searching()
//!         if searching: task = pop()
//!     if task:                                      // run_task
//!         if searching: searching = false
//!             if transition_worker_from_searching(): notify_parked()   (rule 3)
//!         run it; continue
//!     if transition_worker_to_parked(i, searching): // park
//!         if queue not empty: notify_parked()       (rule 4, the rescan)
//!     searching = false
//!     loop { if shut down: return; wait; if transition_worker_from_parked(i): searching = true; break }
//! }
//! notify_parked() = if let Some(w) = worker_to_notify() { unpark w }   (rule 2)
//! ```
//!
//! The spawner (the main thread) pushes a task, then calls `notify_parked()`,
//! as `Shared::schedule_task` does for a task from outside the workers;
//! variants: two workers and one spawn, two spawns in a row, a task that
//! spawns the next one from its worker, three workers, and a worker whose
//! own timer wakes it while the spawner notifies it. The worker that
//! runs the last task shuts the model down like `begin_shutdown` (flag,
//! `unpark_all`, unpark every worker).
//!
//! Invariant: every task runs. A lost wake-up leaves the tasks queued and
//! every worker waiting, which loom reports as a deadlock; the final
//! assertions check the count too.
//!
//! Every step of the protocol is preceded by `Gate::enter` (a relaxed RMW
//! on one shared atomic, no happens-before; see `loom_tests::Gate`), so loom
//! interleaves the workers' and the spawner's steps in every order within
//! the preemption bound, despite the DPOR gap the gate works around.
//!
//! Run:
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --test idle
//! Deeper: LOOM_MAX_PREEMPTIONS=3 (unbounded is out of reach).
//! Time (release, 2-core machine): ≈10 s at 2 preemptions (9 s of it the
//! three-worker model); at 3, 8–30 s per two-worker model and ≈8 minutes
//! (3.7 million iterations) for the three-worker one.

#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex, Notify};
use loom::thread;
use loom_tests::{model, Gate};
use runtime::__loom::Idle;
use std::collections::VecDeque;

/// The task a timer wakes (spawned tasks count up from 0).
const TIMER_TASK: usize = usize::MAX;

struct World {
    idle: Idle,
    workers: usize,
    queue: Mutex<VecDeque<usize>>,
    parkers: Vec<Notify>,
    shutdown: AtomicBool,
    ran: AtomicUsize,
    tasks: usize,
    /// Task `n` spawns task `n + 1` (only task 0 comes from the spawner).
    chain: bool,
    /// Worker 0 has a timer, which fires the first time it parks and wakes
    /// a task into its LIFO slot (task number `TIMER_TASK`).
    timer: bool,
    gate: Gate,
}

impl World {
    fn new(workers: usize, tasks: usize, chain: bool, timer: bool) -> Arc<World> {
        Arc::new(World {
            idle: Idle::new(workers),
            workers,
            queue: Mutex::new(VecDeque::new()),
            parkers: (0..workers).map(|_| Notify::new()).collect(),
            shutdown: AtomicBool::new(false),
            ran: AtomicUsize::new(0),
            tasks,
            chain,
            timer,
            gate: Gate::new(),
        })
    }

    fn step(&self) {
        self.gate.enter();
    }

    fn pop(&self) -> Option<usize> {
        self.step();
        self.queue.lock().unwrap().pop_front()
    }

    /// A spawn from outside the workers: push, then rule 2.
    fn spawn(&self, task: usize) {
        self.step();
        self.queue.lock().unwrap().push_back(task);
        self.notify_parked();
    }

    /// Rule 2 (also used by rules 3 and 4).
    fn notify_parked(&self) {
        self.step();
        if let Some(index) = self.idle.worker_to_notify() {
            self.parkers[index].notify();
        }
    }

    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn run(&self, task: usize) {
        if task != TIMER_TASK && task + 1 < self.tasks && self.chain {
            // The task spawns the next one from its worker: a push to a
            // stealable queue, then rule 2 (`schedule_local` when the LIFO
            // slot is taken).
            self.spawn(task + 1);
        }
        let ran = self.ran.fetch_add(1, Ordering::SeqCst) + 1;
        if ran == self.tasks {
            // begin_shutdown: the flag, the idle bookkeeping, every parker.
            self.shutdown.store(true, Ordering::SeqCst);
            self.idle.unpark_all();
            for parker in &self.parkers {
                parker.notify();
            }
        }
    }

    fn worker(&self, index: usize) {
        let mut searching = false;
        let mut timer_armed = self.timer && index == 0;
        // Only this worker takes from its LIFO slot.
        let mut lifo = None;
        loop {
            if self.is_shutdown() {
                return;
            }
            let mut task = lifo.take().or_else(|| self.pop());
            if task.is_none() {
                if !searching {
                    self.step();
                    searching = self.idle.transition_worker_to_searching();
                }
                if searching {
                    task = self.pop();
                }
            }
            if let Some(task) = task {
                if searching {
                    searching = false;
                    self.step();
                    if self.idle.transition_worker_from_searching() {
                        self.notify_parked();
                    }
                }
                self.run(task);
                continue;
            }
            self.step();
            let was_searching = std::mem::take(&mut searching);
            if self.idle.transition_worker_to_parked(index, was_searching) {
                // The rescan.
                self.step();
                if !self.queue.lock().unwrap().is_empty() {
                    self.notify_parked();
                }
            }
            loop {
                if self.is_shutdown() {
                    return;
                }
                // park_timeout, then process the timers: an armed timer
                // ends the wait and wakes its task into the LIFO slot.
                let fired = if std::mem::take(&mut timer_armed) {
                    lifo = Some(TIMER_TASK);
                    true
                } else {
                    self.parkers[index].wait();
                    false
                };
                self.step();
                if self.idle.transition_worker_from_parked(index) {
                    searching = true;
                    break;
                }
                if fired {
                    self.step();
                    if !self.idle.unpark_worker_by_id(index) {
                        searching = true;
                    }
                    break;
                }
            }
        }
    }
}

fn spawn_workers(world: &Arc<World>) -> Vec<thread::JoinHandle<()>> {
    (0..world.workers)
        .map(|index| {
            let world = world.clone();
            thread::spawn(move || world.worker(index))
        })
        .collect()
}

fn finish(world: &World, workers: Vec<thread::JoinHandle<()>>) {
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(
        world.ran.load(Ordering::SeqCst),
        world.tasks,
        "a task never ran"
    );
    assert!(world.queue.lock().unwrap().is_empty());
}

/// Two workers, one spawn from the main thread.
#[test]
fn one_spawn_two_workers() {
    model(|| {
        let world = World::new(2, 1, false, false);
        let workers = spawn_workers(&world);
        world.spawn(0);
        finish(&world, workers);
    });
}

/// Two workers, two spawns in a row from the main thread: the second push
/// may find one worker searching (no wake) and the other parked, and rule 3
/// must then wake the parked one or the searcher must take both.
#[test]
fn two_spawns_two_workers() {
    model(|| {
        let world = World::new(2, 2, false, false);
        let workers = spawn_workers(&world);
        world.spawn(0);
        world.spawn(1);
        finish(&world, workers);
    });
}

/// Three workers, one spawn: rule 1 admits ceil(3/2) = 2 searchers (its
/// check and increment are separate steps, so the bound is soft; see
/// `scheduler/multi_thread/idle.md`), and no wake-up is lost either way.
#[test]
fn one_spawn_three_workers() {
    model(|| {
        let world = World::new(3, 1, false, false);
        let workers = spawn_workers(&world);
        world.spawn(0);
        finish(&world, workers);
    });
}

/// Two workers; the spawned task spawns a second one from its worker while
/// the other worker is searching or parking.
#[test]
fn spawn_from_a_task_two_workers() {
    model(|| {
        let world = World::new(2, 2, true, false);
        let workers = spawn_workers(&world);
        world.spawn(0);
        finish(&world, workers);
    });
}

/// Two workers, one spawn; worker 0's timer fires when it parks and wakes a
/// task into its LIFO slot, so it leaves the sleepers by itself
/// (`unpark_worker_by_id`) while the spawner may be notifying it.
#[test]
fn timer_wake_racing_spawn_two_workers() {
    model(|| {
        // The spawned task and the timer's task.
        let world = World::new(2, 2, false, true);
        let workers = spawn_workers(&world);
        world.spawn(0);
        finish(&world, workers);
    });
}
