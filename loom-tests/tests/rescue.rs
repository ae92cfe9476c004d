//! The stuck-worker rescue's hand-off with the ring's owner
//! (`runtime/src/scheduler/multi_thread/rescue.md`): a free worker holding
//! a peer's ring lock reaps the peer's completions
//! (`Driver::reap_for_stuck_owner`), among them the eventfd read's that an
//! `unpark` from a third thread caused, while the owner goes on submitting,
//! polling and parking.
//!
//! Real: the bookkeeping the hand-off rests on, `driver/wake.rs` through
//! `runtime::__loom::{RingMailbox, RingWake}` — the command queue and its
//! `has_commands` flag, the coalescing `unparked` flag, the owner token,
//! the eventfd read's `armed` / `pending` state, the rescue mark, and
//! `park`'s decision whether it may sleep. Stand-ins: a test kernel for
//! io_uring and the eventfd (the eventfd's counter, whether the read is in
//! the kernel, the CQ; one loom `Mutex`, and a `Condvar` that a ring waiting
//! in `io_uring_enter` waits on), a try-lockable lock for `OwnedRing::driver`
//! (`RingLock`: loom's own `try_lock` reports false deadlocks), and the
//! driver's sequences, transcribed step for step (each `World` method names
//! the one it stands for):
//!
//! ```text
//! park:          lock; owner_enters; drain_commands; may_sleep?;
//!                enter (submit the SQ, wait for a CQE if it may sleep); reap;
//!                park_returned; drain_commands; flush the SQ if not empty
//! poll:          try_lock; owner_enters; drain_commands; flush; reap if CQEs
//! submit_local:  try_lock: drain_commands, push the SQE | taken: send
//! rescue:        try_lock; CQ empty: done; rescuer_enters; reap; rescue_done
//! dispatch WAKE: read_completed; if so, arming and queue the read (SQ)
//! send:          mailbox.send; unpark if it says so
//! unpark:        mailbox.unpark; write the eventfd if it says so
//! ```
//!
//! Checked, for every interleaving:
//!
//! * no lost wake-up: the owner parks with no timeout until it has seen
//!   everything meant for it (tasks queued by the remote waker, the cancel
//!   a rescuer sends, its op's completion), so if it sleeps through an
//!   unpark or a queued command, loom reports a deadlock;
//! * every completion is dispatched exactly once (the owner and the
//!   rescuer race for op 0's in the second and third models);
//! * only the owner enters the ring (the test kernel asserts that no rescue
//!   is under way when it is entered; invariant 2);
//! * at the end no command is left queued and exactly one eventfd read is
//!   armed — in the kernel, queued in the SQ, or completed and not yet
//!   reaped — so a later unpark still wakes the owner.
//!
//! Models (owner = the model's main thread, which creates the ring):
//!
//! * `a_wake_up_reaped_by_the_rescuer_is_not_lost`: the owner, in a long
//!   poll, starts op 0 on its own ring (straight in, or through the command
//!   queue if a rescuer holds the lock), polls, then runs and parks; the
//!   rescuer looks twice; a remote waker queues two tasks for the owner,
//!   unparking after each.
//! * `a_command_from_the_rescuer_reaches_the_parked_owner`: op 0's
//!   completion waits in the CQ; the rescuer reaps it and then, as the task
//!   it woke, drops the future of op 1, whose cancel goes to the owner's
//!   command queue and must wake the owner.
//! * `a_rescuer_and_a_remote_waker_unpark_the_owner_together`: the second
//!   model plus a remote waker that queues a task and unparks. Two unparks
//!   overlap, so one can find `unparked` raised and skip its write: the
//!   coalescing path.
//!
//! loom and SeqCst: loom treats SeqCst accesses as AcqRel (its README). The
//! coalescing path rests on SeqCst store→load pairs (`World::seq_cst`), so
//! the third model puts a SeqCst fence (which loom does model) between the
//! store and the load on each side; without the fences loom reports a
//! deadlock that SeqCst rules out (the owner's `has_commands` load misses a
//! command whose sender found `unparked` raised). The first two models need
//! no fences: the orderings they depend on come from locks. So the third
//! model would not catch a weakened ordering on those two words.
//!
//! Not covered: the owner token changing hands (a ring built on one thread
//! and driven by another: `send`'s store→load pair sits inside `send`, out
//! of the model's reach for a fence); shutdown; a full SQ, the backlog and
//! CQ overflow; the judging in `rescue.rs`; the timer wheel's rescue
//! (`time/driver.rs`, a mutex); io_uring itself (COOP_TASKRUN task work).
//!
//! Seeded bugs (each put into `runtime/src/driver/wake.rs` by hand, run,
//! and reverted; `LOOM_MAX_PREEMPTIONS=2`):
//!
//! 1. The eventfd read's dispatch does not set `pending`
//!    (`read_completed` without `self.pending = true`): the first model
//!    fails with `deadlock; threads = [(Id(0), Blocked(..)), (Id(1),
//!    Terminated), (Id(2), Terminated)]`. The owner's poll reaps op 0 and
//!    finds no task yet; the waker queues a task and unparks (its write
//!    completes the armed read), queues the second and unparks again
//!    (coalesced); the rescuer reaps the read's completion and queues the
//!    re-armed read; the owner parks, sees nothing pending and an empty CQ,
//!    submits the read (the eventfd's counter is 0) and sleeps for good with
//!    two tasks queued. The second model passes (its rescuer reaps no
//!    wake-up), and so does the third (when its rescuer reaps the waker's
//!    wake-up, the cancel it sends next writes the eventfd again).
//! 2. The rescuer records itself as the ring's owner (`enter` calling
//!    `mailbox.record_owner()` for `Driving::Rescuer` too): the second and
//!    third models fail with a deadlock (owner blocked, the others
//!    terminated). The rescuer's cancel skips the eventfd write (it is the
//!    recorded owner); the owner parks, records itself again, and its
//!    `has_commands` load misses the cancel. That interleaving needs both
//!    SeqCst loads (the rescuer's of `owner`, the owner's of
//!    `has_commands`) to miss the other thread's SeqCst store, which SeqCst
//!    forbids and loom allows: on real hardware this seeded bug would not
//!    lose the wake-up, because the owner records itself at every `park`
//!    under the ring lock before it drains. What the rule buys is that the
//!    recorded owner never changes while a ring is rescued, so the hand-off
//!    does not depend on that pairing (rescue.md, invariant 3). The first
//!    model passes (its rescuer sends nothing).
//! 3. The read is not re-armed when a rescuer reaps it (`read_completed`
//!    returning `!closing && !self.rescuing`, "a rescuer submits
//!    nothing"): the first and third models fail with "the eventfd read is
//!    not armed" (the owner had seen everything by then; the next unpark
//!    would have been lost); the second passes (no wake-up to reap).
//! 4. `read_completed` does not lower `unparked`: the first and third models
//!    fail with a deadlock: the owner reaps the first unpark's read itself
//!    and sleeps again; the next unpark (the waker's second; in the third
//!    model, the other thread's) finds `unparked` still raised and writes
//!    nothing. The second passes (one unpark only).
//!
//! Run:
//!   RUSTFLAGS="--cfg loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test -p loom-tests --release --target-dir target-loom --test rescue
//!
//! Time (release, 2-core machine, once built): well under a second at 2
//! preemptions (649, 105 and 1,252 iterations), about 2 s at 3, 17 s at 4;
//! unbounded, the second model takes half a second and the first does not
//! finish in ten minutes.

#![cfg(loom)]

use loom::sync::{Condvar, Mutex, MutexGuard};
use loom::thread;
use loom_tests::model;
use runtime::__loom::{RingMailbox, RingWake};
use std::collections::VecDeque;
use std::mem;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Ops the models start (numbered from 0).
const OPS: usize = 2;

/// An entry of the model ring's submission queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sqe {
    /// The eventfd read (`user_data` `WAKE`).
    WakeRead,
    /// An op; the test kernel completes it as soon as it sees it.
    Op(usize),
}

/// An entry of the completion queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cqe {
    /// The eventfd read completed: someone unparked the ring.
    Wake,
    Op(usize),
}

/// `handle::Command`, with op numbers for op references.
#[derive(Debug)]
enum Command {
    Submit(usize),
    /// The op's number is not needed: the models cancel one op at most.
    Cancel(#[allow(dead_code)] usize),
}

/// What io_uring and the eventfd do, as far as the protocol can tell.
#[derive(Debug, Default)]
struct KernelState {
    /// The eventfd's counter.
    eventfd: u64,
    /// Whether the eventfd read is in the kernel, waiting for a write.
    read_armed: bool,
    /// Completions nobody has reaped yet.
    cq: VecDeque<Cqe>,
}

/// The test kernel. A ring's thread that waits in `io_uring_enter` waits
/// on `completion` until the CQ holds something; nothing else ends the wait
/// (the models park without a timeout), so a lost wake-up leaves it waiting
/// for good, which loom reports as a deadlock.
struct Kernel {
    state: Mutex<KernelState>,
    completion: Condvar,
}

impl Kernel {
    /// `write(eventfd, 1)`, as `DriverHandle::unpark` does: completes the
    /// armed read, if there is one, and wakes a waiting ring.
    fn write_eventfd(&self) {
        let mut kernel = self.state.lock().unwrap();
        kernel.eventfd += 1;
        if kernel.read_armed {
            kernel.read_armed = false;
            kernel.eventfd = 0;
            kernel.cq.push_back(Cqe::Wake);
            self.completion.notify_all();
        }
    }

    /// `!ring.completion().is_empty()`: a memory read of the CQ's tail.
    fn completions_waiting(&self) -> bool {
        !self.state.lock().unwrap().cq.is_empty()
    }

    /// `io_uring_enter`: takes the SQ; with `wait`, returns once the CQ
    /// holds a completion. Only the ring's owner enters (rescue.md,
    /// invariant 2).
    fn enter(&self, ring: &mut Ring, wait: bool) {
        assert!(!ring.wake.rescuing(), "a rescuer entered the owner's ring");
        let mut kernel = self.state.lock().unwrap();
        for sqe in ring.sq.drain(..) {
            match sqe {
                Sqe::WakeRead => {
                    assert!(!kernel.read_armed, "two eventfd reads armed at once");
                    if kernel.eventfd > 0 {
                        kernel.eventfd = 0;
                        kernel.cq.push_back(Cqe::Wake);
                    } else {
                        kernel.read_armed = true;
                    }
                }
                Sqe::Op(op) => kernel.cq.push_back(Cqe::Op(op)),
            }
        }
        if wait {
            while kernel.cq.is_empty() {
                kernel = self.completion.wait(kernel).unwrap();
            }
        }
    }

    /// Copies the CQEs out of the ring, freeing their slots.
    fn take_completions(&self) -> Vec<Cqe> {
        self.state.lock().unwrap().cq.drain(..).collect()
    }
}

/// The `Driver`'s fields the protocol reads, behind the ring's lock.
struct Ring {
    /// The real `WakeState`.
    wake: RingWake,
    /// The SQ and the backlog in one (the model's SQ never fills).
    sq: Vec<Sqe>,
}

/// `OwnedRing::driver`, the ring's lock: the owner locks it in `park` (and
/// holds it while it sleeps) and `try_lock`s it to submit; a rescuer
/// `try_lock`s it. Not loom's `Mutex::try_lock`, which can report a false
/// deadlock (tokio-rs/loom#376: a thread about to `try_lock` is counted as
/// blocked once another thread takes the lock, and stays so while it is
/// held, here for the owner's whole sleep): a flag under a mutex, with a
/// condvar to wait for it, and the ring in a mutex only the flag's holder
/// takes (uncontended; it hands the ring over with loom's happens-before).
struct RingLock {
    held: Mutex<bool>,
    released: Condvar,
    ring: Mutex<Ring>,
}

impl RingLock {
    fn new(ring: Ring) -> RingLock {
        RingLock {
            held: Mutex::new(false),
            released: Condvar::new(),
            ring: Mutex::new(ring),
        }
    }

    fn lock(&self) -> RingGuard<'_> {
        let mut held = self.held.lock().unwrap();
        while *held {
            held = self.released.wait(held).unwrap();
        }
        *held = true;
        drop(held);
        self.guard()
    }

    fn try_lock(&self) -> Option<RingGuard<'_>> {
        let mut held = self.held.lock().unwrap();
        if *held {
            return None;
        }
        *held = true;
        drop(held);
        Some(self.guard())
    }

    fn guard(&self) -> RingGuard<'_> {
        RingGuard {
            lock: self,
            ring: Some(self.ring.lock().unwrap()),
        }
    }
}

struct RingGuard<'a> {
    lock: &'a RingLock,
    ring: Option<MutexGuard<'a, Ring>>,
}

impl Deref for RingGuard<'_> {
    type Target = Ring;

    fn deref(&self) -> &Ring {
        self.ring.as_ref().unwrap()
    }
}

impl DerefMut for RingGuard<'_> {
    fn deref_mut(&mut self) -> &mut Ring {
        self.ring.as_mut().unwrap()
    }
}

impl Drop for RingGuard<'_> {
    fn drop(&mut self) {
        drop(self.ring.take());
        if std::thread::panicking() {
            // loom reported a failure (a deadlock, say) and the thread
            // unwinds: a loom operation now would panic again, and abort.
            return;
        }
        *self.lock.held.lock().unwrap() = false;
        self.lock.released.notify_all();
    }
}

/// One ring and its surroundings.
struct World {
    kernel: Kernel,
    ring: RingLock,
    /// The real `Mailbox`, as `DriverHandle` shares it.
    mailbox: RingMailbox<Command>,
    /// The owner's run queue, where the remote waker queues tasks.
    run_queue: Mutex<usize>,
    // Counters (std atomics: they order nothing the models check, and add
    // no scheduling points).
    /// Per op, how often its completion was dispatched.
    dispatched: [AtomicUsize; OPS],
    /// Cancels the owner took out of its command queue.
    cancels_drained: AtomicUsize,
    /// Whether to put a SeqCst fence where the protocol pairs a SeqCst
    /// store with a SeqCst load of another word (see [`World::seq_cst`]).
    seq_cst_fences: bool,
}

impl World {
    /// A ring owned by the calling model thread, its eventfd read in the
    /// kernel (as after `Driver::new` and a first `park`), and `cq` waiting
    /// in the CQ: completions that arrived while the owner was stuck.
    fn new(cq: &[Cqe], seq_cst_fences: bool) -> World {
        let mut wake = RingWake::new();
        wake.arming();
        World {
            kernel: Kernel {
                state: Mutex::new(KernelState {
                    eventfd: 0,
                    read_armed: true,
                    cq: cq.iter().copied().collect(),
                }),
                completion: Condvar::new(),
            },
            ring: RingLock::new(Ring {
                wake,
                sq: Vec::new(),
            }),
            mailbox: RingMailbox::new(),
            run_queue: Mutex::new(0),
            dispatched: Default::default(),
            cancels_drained: AtomicUsize::new(0),
            seq_cst_fences,
        }
    }

    /// What SeqCst accesses guarantee and loom does not model. The
    /// coalescing of unparks rests on two store→load pairs: a sender
    /// stores `has_commands` and then swaps `unparked` (in `unpark`); the
    /// owner stores `unparked = false` (dispatching the eventfd read's
    /// completion) and then loads `has_commands` (in `drain_commands`). If
    /// the swap finds `unparked` still raised (no eventfd write), SeqCst
    /// makes the owner's later load see the command. loom treats SeqCst
    /// accesses as AcqRel (its README, "Unsupported features") and lets
    /// both miss; it does model SeqCst fences, and a fence between the
    /// store and the load on each side restores the guarantee. Only the
    /// model with two threads that unpark the owner needs this.
    fn seq_cst(&self) {
        if self.seq_cst_fences {
            loom::sync::atomic::fence(Ordering::SeqCst);
        }
    }

    fn dispatched(&self, op: usize) -> usize {
        self.dispatched[op].load(Ordering::SeqCst)
    }

    /// `DriverHandle::unpark`.
    fn unpark(&self) {
        if self.mailbox.unpark() {
            self.kernel.write_eventfd();
        }
    }

    /// `DriverHandle::send`, from any thread.
    fn send(&self, command: Command) {
        match self.mailbox.send(command) {
            Ok(true) => {
                self.seq_cst();
                self.unpark();
            }
            Ok(false) => {}
            Err(_) => unreachable!("the models never shut the ring down"),
        }
    }

    /// `submit_local` on the owner's thread: straight into the ring if its
    /// lock is free (`Driver::submit`, an op that does not complete
    /// inline), through the command queue if it is taken (by a rescuer).
    fn submit_local(&self, op: usize) {
        match self.ring.try_lock() {
            Some(mut ring) => {
                self.drain_commands(&mut ring);
                ring.sq.push(Sqe::Op(op));
            }
            None => self.send(Command::Submit(op)),
        }
    }

    /// `Driver::drain_commands`.
    fn drain_commands(&self, ring: &mut Ring) {
        self.seq_cst();
        if !self.mailbox.may_have_commands() {
            return;
        }
        for command in self.mailbox.take_commands() {
            match command {
                Command::Submit(op) => ring.sq.push(Sqe::Op(op)),
                // `cancel_ref` would queue an `AsyncCancel`; that the owner
                // got the command is what the models check.
                Command::Cancel(_) => {
                    self.cancels_drained.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }

    /// `Driver::reap` and `dispatch`.
    fn reap(&self, ring: &mut Ring) {
        loop {
            let batch = self.kernel.take_completions();
            if batch.is_empty() {
                return;
            }
            for cqe in batch {
                match cqe {
                    Cqe::Wake => {
                        if ring.wake.read_completed(&self.mailbox, false) {
                            // `arm_wake`: queued; the owner submits it.
                            ring.wake.arming();
                            ring.sq.push(Sqe::WakeRead);
                        }
                    }
                    Cqe::Op(op) => {
                        self.dispatched[op].fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }
    }

    /// `RingPark::park_timeout(None)`: `Driver::park` under the ring's lock.
    fn park(&self) {
        let mut ring = self.ring.lock();
        let ring = &mut *ring;
        ring.wake.owner_enters(&self.mailbox);
        self.drain_commands(ring);
        let may_sleep = ring
            .wake
            .may_sleep(false, || self.kernel.completions_waiting());
        self.kernel.enter(ring, may_sleep);
        self.reap(ring);
        ring.wake.park_returned();
        self.drain_commands(ring);
        if !ring.sq.is_empty() {
            self.kernel.enter(ring, false);
        }
    }

    /// `Park::poll`: `Driver::poll` if the ring's lock is free (if it is
    /// taken, a rescuer is reaping the ring).
    fn poll(&self) {
        let Some(mut ring) = self.ring.try_lock() else {
            return;
        };
        let ring = &mut *ring;
        ring.wake.owner_enters(&self.mailbox);
        self.drain_commands(ring);
        if !ring.sq.is_empty() {
            self.kernel.enter(ring, false);
        }
        if self.kernel.completions_waiting() {
            self.reap(ring);
        }
    }

    /// `rescue.rs`'s `try_lock` and `Driver::reap_for_stuck_owner`.
    fn rescue(&self) {
        let Some(mut ring) = self.ring.try_lock() else {
            return;
        };
        if !self.kernel.completions_waiting() {
            return;
        }
        ring.wake.rescuer_enters(&self.mailbox);
        self.reap(&mut ring);
        ring.wake.rescue_done();
    }

    /// Checks, once every thread is done: every op's completion was
    /// dispatched exactly once, no command was left in the queue, and one
    /// eventfd read is armed (in the kernel, queued for it, or completed
    /// and not reaped yet), so a later unpark still wakes the owner.
    fn check_end(&self, ops: usize) {
        for op in 0..ops {
            assert_eq!(
                self.dispatched(op),
                1,
                "op {op}: dispatched other than once"
            );
        }
        assert!(
            self.mailbox.take_commands().is_empty(),
            "a command was left in the queue"
        );
        let ring = self.ring.lock();
        let kernel = self.kernel.state.lock().unwrap();
        let reads = usize::from(kernel.read_armed)
            + ring.sq.iter().filter(|sqe| **sqe == Sqe::WakeRead).count()
            + kernel.cq.iter().filter(|cqe| **cqe == Cqe::Wake).count();
        assert!(ring.wake.armed(), "the eventfd read is not armed");
        assert_eq!(reads, 1, "eventfd reads armed or completed: {reads}");
    }
}

/// The owner, inside a long poll, starts op 0 on its own ring; a rescuer
/// reaps the ring meanwhile; a remote waker queues two tasks for the
/// owner, unparking it after each. The owner then runs what was queued and
/// parks while nothing is, until it has run both tasks and op 0 completed.
#[test]
fn a_wake_up_reaped_by_the_rescuer_is_not_lost() {
    model(|| {
        let world = Arc::new(World::new(&[], false));
        let rescuer = {
            let world = world.clone();
            thread::spawn(move || {
                world.rescue();
                world.rescue();
            })
        };
        let waker = {
            let world = world.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    *world.run_queue.lock().unwrap() += 1;
                    world.unpark();
                }
            })
        };
        world.submit_local(0);
        world.poll();
        let mut ran = 0;
        loop {
            ran += mem::take(&mut *world.run_queue.lock().unwrap());
            if ran == 2 && world.dispatched(0) == 1 {
                break;
            }
            world.park();
        }
        rescuer.join().unwrap();
        waker.join().unwrap();
        world.check_end(1);
    });
}

/// Op 0's completion arrived while the owner was stuck; a rescuer reaps
/// it, and the task it woke, now running on the rescuer's thread, drops
/// the future of op 1 (in flight on the owner's ring): its cancel goes to
/// the owner's command queue. The owner parks until it has taken the
/// cancel out of the queue and op 0 completed.
#[test]
fn a_command_from_the_rescuer_reaches_the_parked_owner() {
    model(|| {
        let world = Arc::new(World::new(&[Cqe::Op(0)], false));
        let rescuer = {
            let world = world.clone();
            thread::spawn(move || {
                world.rescue();
                world.send(Command::Cancel(1));
            })
        };
        loop {
            if world.cancels_drained.load(Ordering::SeqCst) == 1 && world.dispatched(0) == 1 {
                break;
            }
            world.park();
        }
        rescuer.join().unwrap();
        world.check_end(1);
    });
}

/// The last model's rescuer and a remote waker together: op 0's
/// completion waits in the CQ; the rescuer reaps it and sends the cancel of
/// op 1, while the remote waker queues a task and unparks the owner. Two
/// unparks may overlap, so one may find `unparked` raised and skip its
/// eventfd write: the coalescing path, which rests on SeqCst (see
/// [`World::seq_cst`]).
#[test]
fn a_rescuer_and_a_remote_waker_unpark_the_owner_together() {
    model(|| {
        let world = Arc::new(World::new(&[Cqe::Op(0)], true));
        let rescuer = {
            let world = world.clone();
            thread::spawn(move || {
                world.rescue();
                world.send(Command::Cancel(1));
            })
        };
        let waker = {
            let world = world.clone();
            thread::spawn(move || {
                *world.run_queue.lock().unwrap() += 1;
                world.unpark();
            })
        };
        let mut ran = 0;
        loop {
            ran += mem::take(&mut *world.run_queue.lock().unwrap());
            let cancelled = world.cancels_drained.load(Ordering::SeqCst) == 1;
            if ran == 1 && cancelled && world.dispatched(0) == 1 {
                break;
            }
            world.park();
        }
        rescuer.join().unwrap();
        waker.join().unwrap();
        world.check_end(1);
    });
}
