//! The orphan reaper: children whose [`Child`](super::Child) was dropped
//! before their exit status was collected.
//!
//! A child that exits stays a zombie until its parent waits for it. A
//! dropped `Child` first tries to collect the status itself (`waitpid`
//! with `WNOHANG`: a child that already exited is reaped on the spot, also
//! while no runtime runs); only a child still running is handed here.
//!
//! # Design
//!
//! One thread, `runtime-reaper`, shared by the whole process (not by a
//! runtime: a `Child` may be dropped outside any runtime, or after its
//! runtime is gone). It blocks in `epoll_wait` on an epoll set of the
//! orphans' pidfds; a pidfd turns readable when its process exits, and the
//! thread then reaps that child and closes the pidfd. No polling loop, no
//! `SIGCHLD` handler (which would fight with a user's own), and no
//! `waitpid(-1)` (which would steal the exit statuses of children spawned
//! by other code in the process).
//!
//! The thread starts with the first orphan and leaves when the set is
//! empty again, so a process that never drops a running child never has
//! it; the next orphan starts a new one. Both happen under the one lock,
//! so an orphan is never registered with a set nobody waits on.
//!
//! # Without pidfds
//!
//! On a kernel without `pidfd_open` (before 5.3, or behind a seccomp
//! profile that refuses it) an orphan gets a thread of its own that blocks
//! in `waitpid` until the child exits. Costlier (a thread per running
//! orphan), but only on systems that lack the better tool; likewise if the
//! reaper's epoll set or thread cannot be created. If not even a thread can
//! be started, the child is kept in a list that each later orphan retries
//! with `WNOHANG`, the best that can be done without blocking the dropping
//! thread.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Child;
use std::sync::Arc;
use std::thread;

/// Epoll events taken per wait.
const EVENTS_PER_WAIT: usize = 64;

static REAPER: Mutex<Reaper> = Mutex::new(Reaper {
    epoll: None,
    orphans: BTreeMap::new(),
    next_key: 0,
    stragglers: Vec::new(),
});

struct Reaper {
    /// The running thread's epoll set; `None` while no thread runs.
    epoll: Option<Arc<OwnedFd>>,
    /// The orphans in the set, by their key in the events' data.
    orphans: BTreeMap<u64, Orphan>,
    next_key: u64,
    /// Children no thread could be started for (see the module docs).
    stragglers: Vec<Child>,
}

struct Orphan {
    child: Child,
    /// In the set under the orphan's key until reaped.
    pidfd: OwnedFd,
}

/// Takes over `child`, which has not exited yet (or had not a moment ago),
/// and reaps it when it exits. `pidfd` refers to it, if one could be
/// opened.
pub(crate) fn orphan(child: Child, pidfd: Option<OwnedFd>) {
    let mut reaper = REAPER.lock();
    reaper
        .stragglers
        .retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    let child = match pidfd {
        Some(pidfd) => match reaper.watch(Orphan { child, pidfd }) {
            Ok(()) => return,
            Err(orphan) => orphan.child,
        },
        None => child,
    };
    drop(reaper);
    wait_in_thread(child);
}

impl Reaper {
    /// Adds `orphan` to the set, starting the set and its thread if none
    /// runs; gives the orphan back if that cannot be done.
    fn watch(&mut self, orphan: Orphan) -> Result<(), Orphan> {
        let (epoll, fresh) = match &self.epoll {
            Some(epoll) => (epoll.clone(), false),
            None => match new_set() {
                Ok(epoll) => (epoll, true),
                Err(_) => return Err(orphan),
            },
        };
        let key = self.next_key;
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: key,
        };
        // SAFETY: both descriptors are open; `event` is a valid
        // `epoll_event` for the call.
        let ret = unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                orphan.pidfd.as_raw_fd(),
                &mut event,
            )
        };
        if ret < 0 {
            // A fresh set is simply dropped: no thread waits on it yet.
            return Err(orphan);
        }
        if fresh {
            // The thread is started only once the set holds its first
            // orphan, so it never waits on an empty set; it cannot look at
            // the orphans before this lock is released.
            let theirs = epoll.clone();
            let spawned = thread::Builder::new()
                .name("runtime-reaper".into())
                .spawn(move || run(theirs));
            if spawned.is_err() {
                return Err(orphan);
            }
            self.epoll = Some(epoll);
        }
        self.next_key += 1;
        self.orphans.insert(key, orphan);
        Ok(())
    }
}

/// A new, empty epoll set.
fn new_set() -> io::Result<Arc<OwnedFd>> {
    // SAFETY: no pointers; a new descriptor or -1.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `epoll_create1` just returned this descriptor; nobody else
    // owns it.
    Ok(Arc::new(unsafe { OwnedFd::from_raw_fd(raw) }))
}

/// The reaper thread: waits for orphans to exit and reaps them; leaves
/// once none is left.
fn run(epoll: Arc<OwnedFd>) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT];
    loop {
        // SAFETY: `events` has room for `EVENTS_PER_WAIT` entries; the set
        // is open (this thread holds it).
        let n = unsafe {
            libc::epoll_wait(
                epoll.as_raw_fd(),
                events.as_mut_ptr(),
                EVENTS_PER_WAIT as libc::c_int,
                -1,
            )
        };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // Cannot happen with a valid set and buffer; do not spin.
            // Hand the orphans to threads of their own and leave.
            let mut reaper = REAPER.lock();
            let orphans = std::mem::take(&mut reaper.orphans);
            reaper.epoll = None;
            drop(reaper);
            for (_, orphan) in orphans {
                wait_in_thread(orphan.child);
            }
            return;
        }
        let mut reaper = REAPER.lock();
        for event in &events[..n as usize] {
            let key = event.u64;
            let Some(orphan) = reaper.orphans.get_mut(&key) else {
                continue;
            };
            // `Ok(None)` would be a spurious wake-up: keep waiting.
            if !matches!(orphan.child.try_wait(), Ok(None)) {
                let orphan = reaper.orphans.remove(&key);
                if let Some(orphan) = &orphan {
                    deregister(&epoll, orphan.pidfd.as_raw_fd());
                }
            }
        }
        if reaper.orphans.is_empty() {
            // The next orphan starts a new set and thread (under this
            // lock, so none is added to this set after this point).
            reaper.epoll = None;
            return;
        }
    }
}

fn deregister(epoll: &OwnedFd, fd: RawFd) {
    // SAFETY: both descriptors are open; `EPOLL_CTL_DEL` ignores the event
    // pointer (null is allowed since Linux 2.6.9).
    unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd,
            std::ptr::null_mut(),
        )
    };
}

/// Reaps `child` on a thread of its own (no pidfd to wait on).
fn wait_in_thread(child: Child) {
    // A failed spawn drops its closure, and the child with it: so the
    // child waits in a slot the caller can take it back from.
    let slot = Arc::new(Mutex::new(Some(child)));
    let theirs = slot.clone();
    let spawned = thread::Builder::new()
        .name("runtime-reaper".into())
        .spawn(move || {
            let child = theirs.lock().take();
            if let Some(mut child) = child {
                let _ = child.wait();
            }
        });
    if spawned.is_err() {
        if let Some(child) = slot.lock().take() {
            REAPER.lock().stragglers.push(child);
        }
    }
}
