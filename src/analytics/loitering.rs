//! Loitering after curfew: one person lingering in a zone (at a gate, beside parked
//! motorbikes at 02:00). The per-person sibling of [`gathering`](crate::analytics::gathering).
//!
//! Per frame, [`LoiteringRule::observe`] takes the confirmed person tracks whose foot point
//! is inside the zone and reports one [`Observation`] per track, keyed by the track id:
//!
//! 1. **Samples.** Each matched frame adds the track's foot point (pixels, or metres on the
//!    ground plane when calibrated) and its box height. Coasting frames add nothing; the
//!    person still counts as present while the tracker coasts (see the tracker's
//!    `lost_buffer`). Only the last `window_s` are kept.
//! 2. **Lingering.** The person's *radius* is the largest distance of a sample from the
//!    samples' mean. Relative mode divides it by the mean box height (body heights);
//!    calibrated mode keeps metres.
//! 3. **Active** when the samples cover at least 80 % of `window_s` and the radius is at most
//!    `max_radius`. Someone walking through moves several body heights in a window and is
//!    never active; someone pacing at a gate stays within about one.
//!
//! The debouncer then needs `min_duration_s` of activity before the incident starts, so the
//! time a person must linger before an alert is about `window_s × 0.8 + min_duration_s`.
//! A track lost for longer than the tracker's `lost_buffer` comes back as a new track and
//! starts over.
//!
//! A zone with both `gathering` and `loitering` reports a group once as a gathering *and*
//! each of its lingering members: enable `loitering` where one person matters (gates,
//! parking), `gathering` where groups do.
//!
//! **Measures**: `dwell_s` (time since the track was first seen in the zone), `radius`
//! (body heights, or metres calibrated), `radius_unit`, `height_px`, `window_s`.

use std::collections::{BTreeMap, VecDeque};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::analytics::debounce::DebounceParams;
use crate::analytics::rules::{GroundMap, Observation, Rule, round3};
use crate::types::{LoiteringMeasures, Measures, ObjectClass, RuleKind, Track, secs};

/// Share of `window_s` the samples must cover before a person can be lingering.
pub const MIN_COVER: f64 = 0.8;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoiteringParams {
    /// The person's movement is judged over this much history, s.
    pub window_s: f64,
    /// Largest distance from the mean foot point: body heights, or metres when calibrated.
    pub max_radius: f32,
    pub min_duration_s: f64,
    pub grace_s: f64,
    pub update_every_s: f64,
    pub clear_after_s: f64,
    pub cooldown_s: f64,
}

impl Default for LoiteringParams {
    fn default() -> Self {
        LoiteringParams {
            window_s: 10.0,
            max_radius: 1.0,
            min_duration_s: 120.0,
            grace_s: 5.0,
            update_every_s: 60.0,
            clear_after_s: 30.0,
            cooldown_s: 120.0,
        }
    }
}

impl LoiteringParams {
    pub fn debounce(&self) -> DebounceParams {
        DebounceParams {
            min_duration_s: self.min_duration_s,
            grace_s: self.grace_s,
            update_every_s: self.update_every_s,
            clear_after_s: self.clear_after_s,
            cooldown_s: self.cooldown_s,
        }
    }
}

/// Longest `window_s` (10 min).
pub const WINDOW_MAX_S: f64 = 600.0;
/// Largest `max_radius` (body heights, or metres).
pub const RADIUS_MAX: f64 = 100.0;

#[derive(Debug, Clone)]
struct Person {
    entered: Timestamp,
    /// (time, position in rule units, box height px).
    samples: VecDeque<(Timestamp, (f64, f64), f64)>,
    seen: bool,
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct LoiteringRule {
    p: LoiteringParams,
    people: BTreeMap<u64, Person>,
}

impl LoiteringRule {
    pub fn new(p: LoiteringParams) -> Self {
        Self {
            p,
            people: BTreeMap::new(),
        }
    }
}

impl Rule for LoiteringRule {
    fn kind(&self) -> RuleKind {
        RuleKind::Loitering
    }
    fn class(&self) -> ObjectClass {
        ObjectClass::Person
    }

    fn observe(
        &mut self,
        ts: Timestamp,
        tracks: &[Track],
        ground: Option<GroundMap<'_>>,
    ) -> Vec<Observation> {
        let p = self.p;
        for person in self.people.values_mut() {
            person.seen = false;
        }
        let mut out = Vec::new();
        for t in tracks.iter().filter(|t| t.class == ObjectClass::Person) {
            let person = self.people.entry(t.id).or_insert_with(|| Person {
                entered: ts,
                samples: VecDeque::new(),
                seen: true,
            });
            person.seen = true;
            let foot = t.bbox.bottom_center();
            if t.matched {
                let pos = match ground {
                    Some(g) => {
                        let m = g(foot);
                        (m.0 as f64, m.1 as f64)
                    }
                    None => (foot.0 as f64, foot.1 as f64),
                };
                person.samples.push_back((ts, pos, t.bbox.height() as f64));
            }
            while person
                .samples
                .front()
                .is_some_and(|s| secs(ts, s.0) > p.window_s)
            {
                person.samples.pop_front();
            }
            let n = person.samples.len() as f64;
            let (mut radius, mut height, mut span) = (f64::INFINITY, 0.0, 0.0);
            if n > 0.0 {
                let (sx, sy, sh) = person.samples.iter().fold((0.0, 0.0, 0.0), |a, s| {
                    (a.0 + s.1.0, a.1 + s.1.1, a.2 + s.2)
                });
                let (mx, my) = (sx / n, sy / n);
                height = sh / n;
                let r = person
                    .samples
                    .iter()
                    .map(|s| ((s.1.0 - mx).powi(2) + (s.1.1 - my).powi(2)).sqrt())
                    .fold(0.0, f64::max);
                radius = if ground.is_some() {
                    r
                } else if height > 0.0 {
                    r / height
                } else {
                    f64::INFINITY
                };
                span = secs(ts, person.samples[0].0);
            }
            let active = span >= MIN_COVER * p.window_s - 1e-6 && radius <= p.max_radius as f64;
            let b = t.bbox;
            out.push(Observation {
                rule: RuleKind::Loitering,
                key: t.id,
                active,
                people: 1,
                track_ids: vec![t.id],
                hull: vec![(b.x1, b.y1), (b.x1, b.y2), (b.x2, b.y2), (b.x2, b.y1)],
                measures: Measures::Loitering(LoiteringMeasures {
                    dwell_s: round3(secs(ts, person.entered)),
                    radius: radius.is_finite().then(|| round3(radius)),
                    radius_unit: if ground.is_some() {
                        crate::types::RadiusUnit::M
                    } else {
                        crate::types::RadiusUnit::BodyHeights
                    },
                    height_px: round3(height),
                    window_s: p.window_s,
                }),
            });
        }
        // Tracks the tracker dropped, or that left the zone, start over if they come back.
        self.people.retain(|_, person| person.seen);
        out
    }

    fn reset(&mut self) {
        self.people.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BBox;

    fn track(id: u64, x: f32, y: f32, ts: Timestamp) -> Track {
        Track {
            id,
            bbox: BBox::new(x - 20.0, y - 100.0, x + 20.0, y),
            class: ObjectClass::Person,
            label: 0,
            score: 0.9,
            velocity: (0.0, 0.0),
            confirmed: true,
            matched: true,
            first_seen: ts,
            last_seen: ts,
        }
    }

    fn at(s: f64) -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap() + jiff::SignedDuration::from_secs_f64(s)
    }

    #[test]
    fn stander_becomes_active_after_the_window_walker_never() {
        let mut r = LoiteringRule::new(LoiteringParams::default());
        let mut first_active = None;
        for k in 0..100 {
            let t = k as f64 * 0.2;
            let obs = r.observe(
                at(t),
                &[
                    track(1, 300.0 + (k % 3) as f32, 400.0, at(t)),
                    track(2, 10.0 + 60.0 * t as f32, 500.0, at(t)),
                ],
                None,
            );
            assert_eq!(obs.len(), 2);
            assert!(!obs[1].active, "walker active at {t}");
            if obs[0].active && first_active.is_none() {
                first_active = Some(t);
            }
        }
        assert_eq!(first_active, Some(8.0));
    }

    #[test]
    fn a_track_that_leaves_starts_over() {
        let mut r = LoiteringRule::new(LoiteringParams::default());
        for k in 0..50 {
            r.observe(at(k as f64 * 0.2), &[track(1, 300.0, 400.0, at(0.0))], None);
        }
        assert!(r.observe(at(10.0), &[track(1, 300.0, 400.0, at(0.0))], None)[0].active);
        r.observe(at(10.2), &[], None);
        assert!(!r.observe(at(10.4), &[track(1, 300.0, 400.0, at(0.0))], None)[0].active);
    }
}
