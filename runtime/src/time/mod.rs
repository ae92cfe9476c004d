//! Timers.

// Used once the timer driver is integrated.
#[allow(dead_code)]
pub(crate) mod wheel;
