//! Task identifiers.

use std::fmt;

/// Identifies a task; unique among all tasks of the process, never reused.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// let a = rt.spawn(async {});
/// let b = rt.spawn(async {});
/// assert_ne!(a.id(), b.id());
/// println!("spawned {} and {}", a.id(), b.id());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u64);

impl TaskId {
    /// The next unused id. A plain std atomic even under loom: ids are not
    /// part of any modelled protocol, and a static cannot hold loom types.
    pub(crate) fn next() -> TaskId {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Relaxed: only uniqueness matters, which the RMW guarantees.
        TaskId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id of a number `as_u64` gave (ids start at 1: 0 is never one).
    pub(crate) fn from_u64(id: u64) -> TaskId {
        TaskId(id)
    }

    /// The id as a number, as `Display` prints it.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
