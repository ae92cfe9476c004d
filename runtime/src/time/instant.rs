//! `Instant`: a point in time that follows the runtime's (possibly paused) clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A measurement of the runtime's clock. Inside a runtime whose clock is
/// paused, [`Instant::now`] stands still (and jumps with `advance`);
/// elsewhere it is `std::time::Instant::now()`.
///
/// # Examples
///
/// ```
/// use runtime::time::Instant;
/// use std::time::Duration;
///
/// let start = Instant::now();
/// let later = start + Duration::from_secs(1);
/// assert_eq!(later - start, Duration::from_secs(1));
/// assert!(later > start);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current time of the current runtime's clock (or the OS clock
    /// outside a runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration, Instant};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let start = Instant::now();
    ///     std::thread::sleep(Duration::from_millis(5));
    ///     assert_eq!(Instant::now(), start); // the paused clock stands still
    ///     time::advance(Duration::from_secs(2)).await;
    ///     assert_eq!(Instant::now(), start + Duration::from_secs(2));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn now() -> Instant {
        match crate::scheduler::context::current() {
            Some(handle) => Instant(handle.time().clock().now()),
            None => Instant(std::time::Instant::now()),
        }
    }

    /// Wraps a std `Instant`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::Instant;
    ///
    /// let std_now = std::time::Instant::now();
    /// let now = Instant::from_std(std_now);
    /// assert_eq!(now.into_std(), std_now);
    /// assert_eq!(Instant::from(std_now), now);
    /// ```
    pub fn from_std(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }

    /// The std `Instant` this wraps.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{Duration, Instant};
    ///
    /// let start = Instant::now();
    /// let later = start + Duration::from_secs(1);
    /// let std_later: std::time::Instant = later.into_std();
    /// assert_eq!(std_later - start.into_std(), Duration::from_secs(1));
    /// ```
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{Duration, Instant};
    ///
    /// let earlier = Instant::now();
    /// let later = earlier + Duration::from_millis(1500);
    /// assert_eq!(later.duration_since(earlier), Duration::from_millis(1500));
    /// assert_eq!(earlier.duration_since(later), Duration::ZERO); // saturates
    /// ```
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time since `self`, by the current runtime's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{self, Duration, Instant};
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let start = Instant::now();
    ///     time::sleep(Duration::from_secs(30)).await; // the idle runtime jumps ahead
    ///     assert_eq!(start.elapsed(), Duration::from_secs(30));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{Duration, Instant};
    ///
    /// let now = Instant::now();
    /// let soon = now.checked_add(Duration::from_secs(1));
    /// assert_eq!(soon, Some(now + Duration::from_secs(1)));
    /// assert_eq!(now.checked_add(Duration::MAX), None);
    /// ```
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` on underflow.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::time::{Duration, Instant};
    ///
    /// let later = Instant::now() + Duration::from_secs(1);
    /// let now = later.checked_sub(Duration::from_secs(1));
    /// assert_eq!(now, Some(later - Duration::from_secs(1)));
    /// assert_eq!(later.checked_sub(Duration::MAX), None);
    /// ```
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.0
    }
}

impl Instant {
    /// `self + duration`, or a point far in the future (30 years from now,
    /// as `sleep(Duration::MAX)` uses, and never before `self`) where that
    /// would overflow: the timers' edge arithmetic saturates instead of
    /// panicking.
    pub(crate) fn saturating_add(self, duration: Duration) -> Instant {
        match self.0.checked_add(duration) {
            Some(instant) => Instant(instant),
            None => Instant(self.0.max(super::sleep::far_future())),
        }
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, duration: Duration) -> Instant {
        Instant(self.0 + duration)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        self.0 += duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, duration: Duration) -> Instant {
        Instant(self.0 - duration)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        self.0 -= duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
