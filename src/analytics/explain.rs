//! What one camera's analytics saw in one frame, as plain data, for the tuning aids:
//! `replay --annotate` draws it, `replay --explain` prints it. Filled only after
//! [`CameraAnalytics::set_explain`](crate::analytics::CameraAnalytics::set_explain); the
//! analytics costs nothing more otherwise. No drawing, no text output here beyond the
//! short English phrases of [`Verdict`].

use std::fmt;

use jiff::Timestamp;

use crate::types::SpeedUnit;

/// One analysed frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Explanation {
    pub ts: Timestamp,
    pub frame_size: (u32, u32),
    /// One per zone, in config order.
    pub zones: Vec<ZoneView>,
}

/// One zone in one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZoneView {
    pub id: String,
    /// The polygon, normalised to the frame.
    pub polygon: Vec<[f64; 2]>,
    /// The schedule as written (`["22:00-05:00"]`).
    pub schedule: Vec<String>,
    /// The schedule is open at this frame.
    pub open: bool,
    /// Confirmed tracks (any class) whose foot point is inside, ascending ids.
    pub members: Vec<u64>,
    /// Confirmed people inside.
    pub people: usize,
    pub gathering: Option<GatheringView>,
    pub weaving: Option<WeavingView>,
}

/// The gathering rule of a zone in one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatheringView {
    pub min_people: usize,
    pub max_speed: f64,
    pub speed_unit: SpeedUnit,
    pub min_duration_s: f64,
    /// Every pair of people within link distance (track ids).
    pub links: Vec<(u64, u64)>,
    /// The candidate groups.
    pub groups: Vec<GroupView>,
    /// Linked groups too small to be a candidate (track ids).
    pub small_groups: Vec<Vec<u64>>,
}

/// One candidate group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    /// The rule's candidate key (stable while it is the same group).
    pub key: u64,
    /// Visible members.
    pub track_ids: Vec<u64>,
    /// Members counted, hidden ones included.
    pub people: usize,
    pub occluded: usize,
    /// Convex hull of the members' boxes, pixels.
    pub hull: Vec<(f32, f32)>,
    pub speed: Option<f64>,
    /// How long the condition has held (the debouncer's hold, which `min_duration` counts).
    pub held_s: f64,
    pub verdict: Verdict,
    /// The open incident of this group: its number and seconds since its hold began.
    pub incident: Option<(u64, f64)>,
}

/// The weaving rule of a zone in one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeavingView {
    pub min_reversals: u32,
    pub min_speed: f64,
    pub speed_unit: SpeedUnit,
    pub min_duration_s: f64,
    pub vehicles: Vec<VehicleView>,
}

/// One candidate vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleView {
    pub track_id: u64,
    /// Recent bottom-centres, oldest first, pixels.
    pub path: Vec<(f32, f32)>,
    /// Points of `path` where the lateral motion reversed.
    pub reversal_points: Vec<(f32, f32)>,
    pub reversals: u32,
    pub speed: Option<f64>,
    pub held_s: f64,
    pub verdict: Verdict,
    pub incident: Option<(u64, f64)>,
}

/// Why a candidate does or does not raise an alert in this frame: the first condition that
/// fails, or how far it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Fewer people than `min_people`.
    TooFew { people: usize, min: usize },
    /// Speed not measurable yet (under a second of the group's history).
    SpeedUnknown,
    /// The group moves faster than `max_speed`.
    Moving {
        speed: f64,
        max: f64,
        unit: SpeedUnit,
    },
    /// Weaving: too few samples or too short a span to judge.
    NotEnoughHistory { samples: usize, span_s: f64 },
    /// Weaving: slower than `min_speed`.
    TooSlow {
        speed: f64,
        min: f64,
        unit: SpeedUnit,
    },
    /// Weaving: fewer reversals than `min_reversals`.
    TooFewReversals { reversals: u32, min: u32 },
    /// The condition holds; `min_duration` is not reached yet.
    Waiting { held_s: f64, min_duration_s: f64 },
    /// The condition has held for `min_duration`, but the zone's rule cools down after an
    /// incident.
    CoolingDown { left_s: f64 },
    /// The condition holds and an incident is open.
    Alert,
}

impl Verdict {
    /// The condition holds in this frame.
    pub fn holds(&self) -> bool {
        matches!(
            self,
            Verdict::Waiting { .. } | Verdict::CoolingDown { .. } | Verdict::Alert
        )
    }

    /// From the debouncer's view of a candidate whose rule condition holds.
    pub fn holding(held_s: f64, min_duration_s: f64, incident: bool, cooldown_left_s: f64) -> Self {
        if incident {
            Verdict::Alert
        } else if held_s < min_duration_s {
            Verdict::Waiting {
                held_s,
                min_duration_s,
            }
        } else {
            Verdict::CoolingDown {
                left_s: cooldown_left_s,
            }
        }
    }
}

pub fn unit_text(u: SpeedUnit) -> &'static str {
    match u {
        SpeedUnit::MPerS => "m/s",
        SpeedUnit::BodyHeightsPerS => "body heights/s",
        SpeedUnit::BoxWidthsPerS => "box widths/s",
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Verdict::TooFew { people, min } => write!(f, "too few ({people} < {min} people)"),
            Verdict::SpeedUnknown => write!(f, "moving? (speed not measured yet, needs 1 s)"),
            Verdict::Moving { speed, max, unit } => {
                write!(f, "moving ({speed:.2} >= {max} {})", unit_text(unit))
            }
            Verdict::NotEnoughHistory { samples, span_s } => write!(
                f,
                "not enough history ({samples} samples over {span_s:.1} s)"
            ),
            Verdict::TooSlow { speed, min, unit } => {
                write!(f, "too slow ({speed:.2} < {min} {})", unit_text(unit))
            }
            Verdict::TooFewReversals { reversals, min } => {
                write!(f, "too few reversals ({reversals} < {min})")
            }
            Verdict::Waiting {
                held_s,
                min_duration_s,
            } => write!(
                f,
                "still waiting (held {held_s:.1} of {min_duration_s} s, {:.1} s to alert)",
                (min_duration_s - held_s).max(0.0)
            ),
            Verdict::CoolingDown { left_s } => {
                write!(
                    f,
                    "cooling down ({left_s:.1} s left after the last incident)"
                )
            }
            Verdict::Alert => write!(f, "alert active"),
        }
    }
}

impl ZoneView {
    /// Empties the per-frame parts, keeping their allocations.
    pub(crate) fn clear_frame(&mut self) {
        self.members.clear();
        self.people = 0;
        self.open = false;
        if let Some(g) = self.gathering.as_mut() {
            g.links.clear();
            g.groups.clear();
            g.small_groups.clear();
        }
        if let Some(w) = self.weaving.as_mut() {
            w.vehicles.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_texts() {
        assert_eq!(
            Verdict::Waiting {
                held_s: 1.8,
                min_duration_s: 5.0
            }
            .to_string(),
            "still waiting (held 1.8 of 5 s, 3.2 s to alert)"
        );
        assert_eq!(
            Verdict::Moving {
                speed: 0.456,
                max: 0.3,
                unit: SpeedUnit::BodyHeightsPerS
            }
            .to_string(),
            "moving (0.46 >= 0.3 body heights/s)"
        );
        assert_eq!(
            Verdict::TooFew { people: 2, min: 3 }.to_string(),
            "too few (2 < 3 people)"
        );
        assert_eq!(Verdict::holding(6.0, 5.0, true, 0.0), Verdict::Alert);
        assert_eq!(
            Verdict::holding(6.0, 5.0, false, 4.0),
            Verdict::CoolingDown { left_s: 4.0 }
        );
        assert!(!Verdict::SpeedUnknown.holds());
    }
}
