//! "The condition has held since", with grace: the timer under both the rules
//! (stationarity, weaving windows) and the debouncer.

use jiff::Timestamp;

use crate::types::secs;

/// Two active frames further apart than this with nothing in between are not one hold,
/// even with `grace_s == 0` (the frames stopped coming, e.g. the camera was down).
pub const MAX_FRAME_GAP_S: f64 = 2.0;

/// "The condition has held since", with grace: a gap shorter than `grace_s` between two
/// active frames does not reset it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HoldTimer {
    since: Option<Timestamp>,
    last_true: Option<Timestamp>,
    false_seen: bool,
}

impl HoldTimer {
    pub fn observe(&mut self, ts: Timestamp, active: bool, grace_s: f64) {
        if active {
            let bridged = match (self.since, self.last_true) {
                (Some(_), Some(last)) => {
                    let gap = secs(ts, last);
                    gap < grace_s || (!self.false_seen && gap <= MAX_FRAME_GAP_S)
                }
                _ => false,
            };
            if !bridged {
                self.since = Some(ts);
            }
            self.last_true = Some(ts);
            self.false_seen = false;
        } else {
            self.false_seen = true;
            if let Some(last) = self.last_true
                && secs(ts, last) >= grace_s
            {
                self.since = None;
            }
        }
    }

    /// Start of the current hold; `None` when not holding (and not within grace).
    pub fn since(&self) -> Option<Timestamp> {
        self.since
    }

    /// Last frame at which the condition held.
    pub fn last_true(&self) -> Option<Timestamp> {
        self.last_true
    }

    /// Seconds held at `ts` (0 when not holding).
    pub fn held_s(&self, ts: Timestamp) -> f64 {
        self.since.map_or(0.0, |s| secs(ts, s).max(0.0))
    }
}
