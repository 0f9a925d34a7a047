//! The one place wall-clock time enters wardwatch. Capture stamps live frames with
//! [`Clock::now`], and the runtime uses it for health and snapshot retention; every stage
//! after capture takes the frame's timestamp as an argument instead. Tests inject a
//! [`FixedClock`] (in the spirit of moonfire-nvr's `base/clock.rs`).

use std::sync::Mutex;

use jiff::Timestamp;

pub trait Clock: Send + Sync {
    /// The current civil time (for frame stamps and documents).
    fn now(&self) -> Timestamp;
    /// A monotonic instant (for timeouts, ages and pacing).
    fn instant(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that says what it is told: for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
    pub fn advance(&self, d: jiff::SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = t.checked_add(d).unwrap_or(*t);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
