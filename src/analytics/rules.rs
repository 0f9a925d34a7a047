//! Rules turn the tracks of one zone into per-frame [`Observation`]s; the
//! [`Debouncer`](crate::analytics::debounce::Debouncer) turns observations into lifecycle events.
//!
//! Contract for every rule:
//! - one rule instance per zone; call it on every analysed frame, with that frame's timestamp;
//! - each observation describes one *candidate* (a group, a vehicle...) under a `key` that is
//!   stable while the rule considers it the same thing and is never reused by that instance;
//! - `active` says whether the rule's condition holds for the candidate in this frame.
//!   A candidate the rule does not report in a frame counts as not active.
//!   Timing (minimum duration, grace, clear-after, cooldown) is the debouncer's job.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::types::{Measures, RuleKind};
use crate::types::{ObjectClass, Track};

/// The boolean measure that flags street racing; the weaving debouncer publishes an
/// update when it rises, and incidents carry it as [`IncidentEvent::racing`](crate::types::IncidentEvent::racing).
pub const RACING: &str = "racing";

/// Maps a foot point in frame pixels to ground-plane metres (from a calibration).
pub type GroundMap<'a> = &'a dyn Fn((f32, f32)) -> (f32, f32);

/// A rule: the tracks of one zone in, one [`Observation`] per candidate out.
pub trait Rule: Send {
    fn kind(&self) -> RuleKind;
    /// The class of tracks the rule looks at (people for gathering, vehicles for weaving).
    fn class(&self) -> ObjectClass;
    /// One analysed frame: the confirmed tracks of `class()` inside the zone.
    fn observe(
        &mut self,
        ts: Timestamp,
        tracks: &[Track],
        ground: Option<GroundMap<'_>>,
    ) -> Vec<Observation>;
    /// Forget every candidate (the schedule closed).
    fn reset(&mut self);
    /// Record [`RuleNotes`] on every `observe` from now on (tuning aids); off by default,
    /// and free while off.
    fn set_explain(&mut self, _on: bool) {}
    /// What the last `observe` recorded, when explaining.
    fn notes(&self) -> Option<&RuleNotes> {
        None
    }
}

/// What a rule saw in its last `observe` beyond the observations, recorded only when asked
/// ([`Rule::set_explain`]) for `replay --annotate` and `--explain`. Plain data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleNotes {
    /// Gathering: every pair of people within link distance (track ids, smaller first).
    pub links: Vec<(u64, u64)>,
    /// Gathering: linked groups that are no candidate (smaller than `min_people` and not
    /// continuing one), as track ids.
    pub small_groups: Vec<Vec<u64>>,
    /// Weaving: per observation key, the indices into its path (the observation's `hull`)
    /// where the lateral motion reversed.
    pub reversals: Vec<(u64, Vec<usize>)>,
}

impl RuleNotes {
    pub fn clear(&mut self) {
        self.links.clear();
        self.small_groups.clear();
        self.reversals.clear();
    }
}

/// One candidate as a rule sees it in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub rule: RuleKind,
    /// Candidate id: stable across frames while the rule keeps the candidate's identity,
    /// never reused by the same rule instance.
    pub key: u64,
    /// The rule's condition holds in this frame.
    pub active: bool,
    /// Objects in the candidate: people for gathering, vehicles for weaving.
    pub people: usize,
    /// Track ids of the members, ascending.
    pub track_ids: Vec<u64>,
    /// Convex hull of the members' boxes in frame pixels, for drawing evidence.
    pub hull: Vec<(f32, f32)>,
    pub measures: Measures,
}

/// Rounds a measure to 3 decimals for tidy JSON (`0.3`, not `0.30000001192092896`).
pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Convex hull (Andrew's monotone chain) of a point set, counter-clockwise on screen
/// (x right, y down), starting from the leftmost point; no repeated closing point.
pub fn convex_hull(points: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut p: Vec<(f32, f32)> = points
        .iter()
        .copied()
        .filter(|q| q.0.is_finite() && q.1.is_finite())
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| {
        (a.0 as f64 - o.0 as f64) * (b.1 as f64 - o.1 as f64)
            - (a.1 as f64 - o.1 as f64) * (b.0 as f64 - o.0 as f64)
    };
    let mut hull: Vec<(f32, f32)> = Vec::with_capacity(p.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &(f32, f32)>> = if pass == 0 {
            Box::new(p.iter())
        } else {
            Box::new(p.iter().rev())
        };
        for &q in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) >= 0.0
            {
                hull.pop();
            }
            hull.push(q);
        }
        hull.pop(); // the last point of each chain starts the other
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::types::RuleKind;

    #[test]
    fn rule_kind_serde() {
        assert_eq!(
            serde_json::to_string(&RuleKind::Gathering).unwrap(),
            "\"gathering\""
        );
        assert_eq!(RuleKind::Weaving.to_string(), "weaving");
    }

    #[test]
    fn hull_of_two_boxes() {
        let pts = [
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (5.0, 5.0),
            (20.0, 5.0),
            (20.0, 15.0),
            (5.0, 15.0),
        ];
        let h = convex_hull(&pts);
        assert_eq!(
            h,
            vec![
                (0.0, 0.0),
                (0.0, 10.0),
                (5.0, 15.0),
                (20.0, 15.0),
                (20.0, 5.0),
                (10.0, 0.0)
            ]
        );
        assert_eq!(convex_hull(&[(1.0, 1.0), (1.0, 1.0)]), vec![(1.0, 1.0)]);
        // Collinear points collapse to the two ends.
        assert_eq!(
            convex_hull(&[(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]),
            vec![(0.0, 0.0), (2.0, 2.0)]
        );
    }

    #[test]
    fn num_rounds() {
        assert_eq!(serde_json::json!(round3(0.3f32 as f64)).to_string(), "0.3");
        assert_eq!(round3(12.34567), 12.346);
    }
}
