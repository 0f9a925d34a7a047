//! Vehicle weaving (DESIGN §2): a vehicle zig-zagging across its lane; several at once in
//! one zone is flagged as street racing ("đua xe").
//!
//! Per frame, [`WeavingRule::observe`] takes the zone's confirmed vehicle tracks (see
//! [`vehicles_in_zone`]) and reports one [`Observation`] per track, keyed by the track id:
//!
//! 1. **Samples.** Each matched frame adds the track's **bottom-centre** (the ground contact
//!    point: the point zones use, the only point a ground-plane calibration maps correctly,
//!    and one that does not move with a rider's lean or with the box growing as the vehicle
//!    approaches). Coasting frames (`matched == false`) add nothing: they are the tracker's
//!    straight-line predictions, not measurements. Only the last `window_s` are kept.
//! 2. **Direction of travel.** Total-least-squares line (principal axis) of the window's
//!    points, see [`fit_line`], oriented along the motion.
//! 3. **Lateral offsets** of the points from that line, signed.
//! 4. **Reversals** with hysteresis ([`count_reversals`]): the lateral offset has to move at
//!    least `min_swing` back from the last extreme before a reversal counts, so detector
//!    jitter smaller than the swing never counts.
//!    Why this is safe for a single lane change: the offsets from the fitted line are the
//!    true lateral position minus a linear ramp (the fit tilts towards the new lane). A lane
//!    change's lateral speed rises and falls once, so (at a steady speed along the road)
//!    minus a constant it changes sign at most twice: at most three monotone legs, at most
//!    **two reversals**, whatever the swing, speed or window position. With `min_reversals >= 3` one lane change, or one
//!    swerve (out and back: one reversal, two with the ramp), never fires.
//! 5. **Speed** along the travel direction: least-squares slope of the along-track
//!    position over time. Below `min_speed` the vehicle is not weaving (parked vehicles,
//!    jitter, someone pushing a bike).
//! 6. **Active** when `reversals >= min_reversals` and `speed >= min_speed`, with at least
//!    [`MIN_SAMPLES`] samples over [`MIN_SPAN_S`].
//!
//! **Units.** Without calibration, distances are relative to the vehicle's box width (the
//! median over the window): `min_swing` in box widths, `min_speed` in box widths per second.
//! Box width scales with distance from the camera like lateral motion does, so the defaults
//! fit near and far vehicles alike. With a ground mapping (pixels → metres), `min_swing` is
//! in metres and `min_speed` in m/s; pass calibrated values then (e.g. 0.6 m and 2.0 m/s).
//!
//! **Racing.** When at least `racing_min_vehicles` tracks are active in the same frame,
//! each active observation carries `racing = true`; `weaving_vehicles` is the number of
//! active tracks in the zone in that frame.
//!
//! **Measures**: `reversals`, `peak_swing_px` (largest peak-to-peak lateral swing between
//! consecutive extremes in the window), `peak_swing_m` (calibrated), `min_swing_px` or
//! `min_swing_m` (the threshold used), `max_reversals`, `max_swing_px` (`max_swing_m`) over
//! the current weaving spell, `speed` + `speed_unit` (`box_widths_per_s` or `m_per_s`),
//! `heading_deg` (image direction of travel, 0 = right, 90 = down), `box_width_px`,
//! `window_s`, `span_s` (time the samples cover), `racing`, `weaving_vehicles`.
//! `hull` holds the vehicle's recent path (bottom-centres, oldest first, pixels), an open
//! polyline, not a polygon.
//!
//! **Debounce**: one incident per track; see [`WeavingParams::debouncer`].

use std::collections::{BTreeMap, VecDeque};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::analytics::debounce::{DebounceParams, Debouncer};
pub use crate::analytics::rules::RACING;
use crate::analytics::rules::{GroundMap, Observation, Rule, RuleNotes, round3};
use crate::analytics::zone::Polygon;
use crate::types::{Measures, ObjectClass, RuleKind, SpeedUnit, Track, WeavingMeasures, secs};

/// Less history than this (seconds): not evaluated, not active.
pub const MIN_SPAN_S: f64 = 1.0;
/// Fewer samples than this in the window: not evaluated, not active.
pub const MIN_SAMPLES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeavingParams {
    /// Sliding window, seconds.
    pub window_s: f64,
    /// Speed along the direction of travel: box widths/s (relative) or m/s (calibrated).
    pub min_speed: f32,
    /// Smallest lateral swing (peak to peak) that counts: × box width, or metres.
    pub min_swing: f32,
    /// Reversals of lateral motion in the window to count as weaving.
    pub min_reversals: u32,
    /// This many vehicles weaving at once in the zone: racing.
    pub racing_min_vehicles: usize,
    pub min_duration_s: f64,
    pub grace_s: f64,
    pub update_every_s: f64,
    pub clear_after_s: f64,
    pub cooldown_s: f64,
}

impl Default for WeavingParams {
    fn default() -> Self {
        WeavingParams {
            window_s: 3.0,
            min_speed: 0.75,
            min_swing: 0.5,
            min_reversals: 3,
            racing_min_vehicles: 2,
            min_duration_s: 0.0,
            grace_s: 1.0,
            update_every_s: 10.0,
            clear_after_s: 3.0,
            cooldown_s: 0.0,
        }
    }
}

impl WeavingParams {
    /// The timing part, for the zone's [`Debouncer`].
    pub fn debounce(&self) -> DebounceParams {
        DebounceParams {
            min_duration_s: self.min_duration_s,
            grace_s: self.grace_s,
            update_every_s: self.update_every_s,
            clear_after_s: self.clear_after_s,
            cooldown_s: self.cooldown_s,
        }
    }

    /// The zone's debouncer for this rule: one incident per track (the observation key),
    /// and an `update` with reason `racing` when an incident's vehicle starts racing.
    /// Note that `cooldown_s` is per zone in the debouncer: any incident ending blocks
    /// every new one in the zone, so keep it 0 unless that is what you want.
    pub fn debouncer(&self, zone: &str) -> Debouncer {
        Debouncer::new(zone, RuleKind::Weaving, self.debounce()).with_update_on_racing()
    }

    /// Every problem, each as `field: what is wrong`; empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(self.window_s.is_finite() && (WINDOW_MIN_S..=DURATION_MAX_S).contains(&self.window_s))
        {
            out.push(format!(
                "window_s: must be {WINDOW_MIN_S} to {DURATION_MAX_S} seconds, got {}",
                self.window_s
            ));
        }
        for (name, v, max) in [
            ("min_speed", self.min_speed, MIN_SPEED_MAX),
            ("min_swing", self.min_swing, MIN_SWING_MAX),
        ] {
            if !(v.is_finite() && v > 0.0 && v as f64 <= max) {
                out.push(format!(
                    "{name}: must be above 0 and at most {max}, got {v}"
                ));
            }
        }
        if !MIN_REVERSALS.contains(&(self.min_reversals as i64)) {
            out.push(format!(
                "min_reversals: must be {} to {}, got {}",
                MIN_REVERSALS.start(),
                MIN_REVERSALS.end(),
                self.min_reversals
            ));
        }
        if !RACING_MIN_VEHICLES.contains(&(self.racing_min_vehicles as i64)) {
            out.push(format!(
                "racing_min_vehicles: must be {} to {}, got {}",
                RACING_MIN_VEHICLES.start(),
                RACING_MIN_VEHICLES.end(),
                self.racing_min_vehicles
            ));
        }
        for (name, v) in [
            ("min_duration_s", self.min_duration_s),
            ("grace_s", self.grace_s),
            ("update_every_s", self.update_every_s),
            ("clear_after_s", self.clear_after_s),
            ("cooldown_s", self.cooldown_s),
        ] {
            if !(v.is_finite() && (0.0..=DURATION_MAX_S).contains(&v)) {
                out.push(format!(
                    "{name}: must be 0 to {DURATION_MAX_S} seconds, got {v}"
                ));
            }
        }
        out
    }
}

/// Largest `min_speed` (box widths, or metres, per second).
pub const MIN_SPEED_MAX: f64 = 1000.0;
/// Largest `min_swing` (box widths, or metres).
pub const MIN_SWING_MAX: f64 = 100.0;
/// Shortest analysis window: two spans of [`MIN_SPAN_S`].
pub const WINDOW_MIN_S: f64 = 2.0 * MIN_SPAN_S;
/// Accepted reversal counts: one would count a single swerve.
pub const MIN_REVERSALS: std::ops::RangeInclusive<i64> = 2..=50;
/// Vehicles weaving at once that make it racing.
pub const RACING_MIN_VEHICLES: std::ops::RangeInclusive<i64> = 2..=100;
pub use crate::analytics::gathering::DURATION_MAX_S;

/// The tracks the rule wants: confirmed vehicles whose bottom-centre is inside `zone`, for a
/// frame of `frame_w`×`frame_h` pixels. Coasting tracks are kept (they add no samples).
pub fn vehicles_in_zone(
    tracks: &[Track],
    zone: &Polygon,
    frame_w: u32,
    frame_h: u32,
) -> Vec<Track> {
    tracks
        .iter()
        .filter(|t| t.class == ObjectClass::Vehicle && t.confirmed)
        .filter(|t| zone.contains_px(t.bbox.bottom_center(), frame_w, frame_h))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------
// Geometry

/// A line through `centroid` along the unit vector `dir`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub centroid: (f64, f64),
    pub dir: (f64, f64),
}

impl Line {
    /// Signed distance of `p` from the line, positive along the normal `(-dir.y, dir.x)`:
    /// on screen (x right, y down) that is to the right of the direction `dir`.
    pub fn offset(&self, p: (f64, f64)) -> f64 {
        let (dx, dy) = (p.0 - self.centroid.0, p.1 - self.centroid.1);
        -dx * self.dir.1 + dy * self.dir.0
    }
    /// Position of `p` along the line, from the centroid.
    pub fn along(&self, p: (f64, f64)) -> f64 {
        (p.0 - self.centroid.0) * self.dir.0 + (p.1 - self.centroid.1) * self.dir.1
    }
}

/// Total-least-squares (orthogonal) line fit: the principal axis of the points' scatter.
/// Unlike a y-on-x regression it does not care how the road lies in the image.
/// `None` for fewer than 2 finite points or when all points coincide. The direction's sign
/// is arbitrary (x ≥ 0, or y > 0 when vertical).
pub fn fit_line(points: &[(f64, f64)]) -> Option<Line> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let cx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let cy = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for p in &pts {
        let (dx, dy) = (p.0 - cx, p.1 - cy);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    let scale = sxx + syy;
    if scale <= 1e-12 * (1.0 + cx.abs() + cy.abs()).powi(2) {
        return None;
    }
    let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (s, c) = theta.sin_cos();
    Some(Line {
        centroid: (cx, cy),
        dir: (c, s),
    })
}

/// Result of [`count_reversals`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZigZag {
    /// Confirmed reversals of lateral motion.
    pub reversals: u32,
    /// Indices of the confirmed extremes, oldest first: the start of the first leg, then one
    /// per reversal; followed by the running extreme of the current (unconfirmed) leg, if a
    /// direction has been established. Consecutive entries bound the legs.
    pub extremes: Vec<usize>,
    /// Largest peak-to-peak swing between consecutive extremes (0 with no leg).
    pub peak_swing: f64,
}

/// Counts the reversals of a lateral-offset sequence with hysteresis `min_swing`:
/// a direction is established once the offset has moved `min_swing` from the lowest (or
/// highest) value so far, and a reversal counts only once the offset has come back at least
/// `min_swing` from the extreme of the current leg. Movement smaller than `min_swing`
/// (jitter) never counts, and every counted leg spans at least `min_swing`.
pub fn count_reversals(offsets: &[f64], min_swing: f64) -> ZigZag {
    let swing = if min_swing > 0.0 {
        min_swing
    } else {
        f64::MIN_POSITIVE
    };
    let mut z = ZigZag::default();
    let Some(first) = offsets.iter().position(|v| v.is_finite()) else {
        return z;
    };
    // 0: undecided, 1: rising, -1: falling.
    let mut dir = 0i8;
    let (mut lo, mut hi) = (first, first);
    let mut ext = first;
    for (i, &v) in offsets.iter().enumerate().skip(first + 1) {
        if !v.is_finite() {
            continue;
        }
        match dir {
            0 => {
                if v < offsets[lo] {
                    lo = i;
                }
                if v > offsets[hi] {
                    hi = i;
                }
                if offsets[hi] - offsets[lo] >= swing {
                    // The extreme reached last is where the first leg is heading.
                    if hi == i {
                        dir = 1;
                        z.extremes.push(lo);
                    } else {
                        dir = -1;
                        z.extremes.push(hi);
                    }
                    ext = i;
                }
            }
            d => {
                let further = if d > 0 {
                    v > offsets[ext]
                } else {
                    v < offsets[ext]
                };
                if further {
                    ext = i;
                } else if (v - offsets[ext]).abs() >= swing {
                    z.extremes.push(ext);
                    z.reversals += 1;
                    dir = -d;
                    ext = i;
                }
            }
        }
    }
    if dir != 0 {
        z.extremes.push(ext);
    }
    z.peak_swing = swing_between(offsets, &z.extremes);
    z
}

/// Largest |offsets[a] - offsets[b]| over consecutive extremes.
fn swing_between(offsets: &[f64], extremes: &[usize]) -> f64 {
    extremes
        .windows(2)
        .map(|w| (offsets[w[1]] - offsets[w[0]]).abs())
        .fold(0.0, f64::max)
}

/// Least-squares slope of `ys` over `xs`; `None` when the xs do not spread.
fn ls_slope(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return None;
    }
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
    }
    (sxx > 1e-12).then(|| sxy / sxx)
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// What one window of samples says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analysis {
    /// Enough history to judge.
    pub evaluated: bool,
    pub reversals: u32,
    /// Largest swing in rule units (pixels or metres).
    pub peak_swing: f64,
    /// Indices (into the window's samples) of the extremes behind `reversals`.
    pub extremes: Vec<usize>,
    /// Speed along the direction of travel, rule units per second (px/s or m/s).
    pub speed: Option<f64>,
    /// Direction of travel in rule units (unit vector), when known.
    pub dir: Option<(f64, f64)>,
    /// Swing threshold used, rule units.
    pub min_swing: f64,
}

/// The measurement on one window: `pts` (rule units) at `times` (seconds, ascending),
/// with a swing threshold `min_swing` in the same units. See the module docs, steps 2-5.
pub fn analyse(pts: &[(f64, f64)], times: &[f64], min_swing: f64) -> Analysis {
    let mut a = Analysis {
        min_swing,
        ..Default::default()
    };
    if pts.len() < MIN_SAMPLES || pts.len() != times.len() {
        return a;
    }
    if times[times.len() - 1] - times[0] < MIN_SPAN_S - 1e-9 {
        return a;
    }
    a.evaluated = true;
    let Some(mut line) = fit_line(pts) else {
        a.speed = Some(0.0); // every point the same: not moving at all
        return a;
    };
    let along: Vec<f64> = pts.iter().map(|&p| line.along(p)).collect();
    let mut speed = ls_slope(times, &along).unwrap_or(0.0);
    if speed < 0.0 {
        line.dir = (-line.dir.0, -line.dir.1);
        speed = -speed;
    }
    a.speed = Some(speed);
    a.dir = Some(line.dir);
    let offsets: Vec<f64> = pts.iter().map(|&p| line.offset(p)).collect();
    let z = count_reversals(&offsets, min_swing);
    a.reversals = z.reversals;
    a.peak_swing = z.peak_swing;
    a.extremes = z.extremes;
    a
}

// ---------------------------------------------------------------------------------------
// The rule

#[derive(Debug, Clone)]
struct Sample {
    ts: Timestamp,
    /// Bottom-centre in rule units: pixels, or metres when calibrated.
    pos: (f64, f64),
    foot_px: (f64, f64),
    width_px: f64,
}

#[derive(Debug, Clone)]
struct TrackState {
    history: VecDeque<Sample>,
    /// Last frame the track was passed in (matched or coasting).
    last_seen: Timestamp,
    /// Last frame the track was active, and the maxima since its weaving spell began.
    last_active: Option<Timestamp>,
    max_reversals: u32,
    max_swing: f64,
    max_swing_px: f64,
}

impl Rule for WeavingRule {
    fn kind(&self) -> RuleKind {
        RuleKind::Weaving
    }
    fn class(&self) -> ObjectClass {
        ObjectClass::Vehicle
    }
    fn observe(
        &mut self,
        ts: Timestamp,
        tracks: &[Track],
        ground: Option<GroundMap<'_>>,
    ) -> Vec<Observation> {
        WeavingRule::observe(self, ts, tracks, ground)
    }
    fn reset(&mut self) {
        WeavingRule::reset(self)
    }
    fn set_explain(&mut self, on: bool) {
        self.notes = on.then(RuleNotes::default);
    }
    fn notes(&self) -> Option<&RuleNotes> {
        self.notes.as_ref()
    }
}

/// One per zone. See the module docs.
#[derive(Debug, Clone)]
pub struct WeavingRule {
    p: WeavingParams,
    tracks: BTreeMap<u64, TrackState>,
    /// Where each track's lateral motion reversed, when explaining (tuning aids).
    notes: Option<RuleNotes>,
}

impl WeavingRule {
    pub fn new(p: WeavingParams) -> Self {
        WeavingRule {
            p,
            tracks: BTreeMap::new(),
            notes: None,
        }
    }

    pub fn params(&self) -> &WeavingParams {
        &self.p
    }

    /// Forgets all track histories.
    pub fn reset(&mut self) {
        self.tracks.clear();
    }

    /// One analysed frame. `vehicles`: the zone's confirmed vehicle tracks (others are
    /// ignored). `ground`: optional pixels → metres mapping; with it `min_swing` and
    /// `min_speed` are in metres and m/s. Returns one observation per vehicle track, key =
    /// track id, in key order; `active` while the track is weaving.
    pub fn observe(
        &mut self,
        ts: Timestamp,
        vehicles: &[Track],
        ground: Option<GroundMap<'_>>,
    ) -> Vec<Observation> {
        let p = self.p;
        let calibrated = ground.is_some();
        self.tracks
            .retain(|_, s| secs(ts, s.last_seen) <= p.window_s);
        let mut seen: Vec<&Track> = vehicles
            .iter()
            .filter(|t| t.class == ObjectClass::Vehicle && t.confirmed)
            .collect();
        seen.sort_by_key(|t| t.id);
        seen.dedup_by_key(|t| t.id);

        let mut out = Vec::with_capacity(seen.len());
        if let Some(n) = self.notes.as_mut() {
            n.clear();
        }
        for t in seen {
            let st = self.tracks.entry(t.id).or_insert_with(|| TrackState {
                history: VecDeque::new(),
                last_seen: ts,
                last_active: None,
                max_reversals: 0,
                max_swing: 0.0,
                max_swing_px: 0.0,
            });
            st.last_seen = ts;
            // Samples stay in time order: the same frame twice keeps the newer, a frame
            // older than the last sample is not added.
            if t.matched
                && let Some(s) = sample(t, ts, ground)
                && st.history.back().is_none_or(|b| b.ts <= ts)
            {
                if st.history.back().is_some_and(|b| b.ts == ts) {
                    st.history.pop_back();
                }
                st.history.push_back(s);
            }
            while st
                .history
                .front()
                .is_some_and(|s| secs(ts, s.ts) > p.window_s + 1e-9)
            {
                st.history.pop_front();
            }
            let notes = self.notes.as_mut().map(|n| &mut n.reversals);
            out.push(evaluate(t.id, st, ts, &p, calibrated, notes));
        }

        let weaving: usize = out.iter().filter(|o| o.active).count();
        let racing = weaving >= p.racing_min_vehicles.max(1);
        out.into_iter()
            .map(|mut o| {
                if let Measures::Weaving(m) = &mut o.measures {
                    m.racing = o.active && racing;
                    m.weaving_vehicles = weaving as u32;
                }
                o
            })
            .collect()
    }
}

fn sample(t: &Track, ts: Timestamp, ground: Option<GroundMap<'_>>) -> Option<Sample> {
    let b = t.bbox;
    if ![b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.is_finite()) {
        return None;
    }
    let foot = b.bottom_center();
    let pos = match ground {
        Some(g) => {
            let q = g(foot);
            (q.0 as f64, q.1 as f64)
        }
        None => (foot.0 as f64, foot.1 as f64),
    };
    if !(pos.0.is_finite() && pos.1.is_finite()) {
        return None;
    }
    Some(Sample {
        ts,
        pos,
        foot_px: (foot.0 as f64, foot.1 as f64),
        width_px: (b.width() as f64).max(1.0),
    })
}

fn evaluate(
    id: u64,
    st: &mut TrackState,
    ts: Timestamp,
    p: &WeavingParams,
    calibrated: bool,
    reversals_at: Option<&mut Vec<(u64, Vec<usize>)>>,
) -> Observation {
    let h = &st.history;
    let t_first = h.front().map(|s| s.ts);
    let times: Vec<f64> = h
        .iter()
        .map(|s| secs(s.ts, t_first.unwrap_or(s.ts)))
        .collect();
    let pts: Vec<(f64, f64)> = h.iter().map(|s| s.pos).collect();
    let px: Vec<(f64, f64)> = h.iter().map(|s| s.foot_px).collect();
    let width = median(&mut h.iter().map(|s| s.width_px).collect::<Vec<_>>()).unwrap_or(1.0);
    let min_swing = if calibrated {
        p.min_swing as f64
    } else {
        p.min_swing as f64 * width
    };
    let a = analyse(&pts, &times, min_swing);
    if let Some(r) = reversals_at {
        // The extremes are the first leg's start, one per reversal, then the running one.
        let n = a.reversals as usize;
        r.push((id, a.extremes.iter().skip(1).take(n).copied().collect()));
    }
    // Speed in the rule's unit: box widths/s, or m/s.
    let speed = a.speed.map(|v| if calibrated { v } else { v / width });
    let active = a.evaluated
        && a.reversals >= p.min_reversals
        && speed.is_some_and(|v| v >= p.min_speed as f64);

    // The same swings in pixels: between the same extremes, across the pixel path's line.
    let px_line = if calibrated { fit_line(&px) } else { None };
    let peak_swing_px = match px_line {
        Some(l) => swing_between(
            &px.iter().map(|&q| l.offset(q)).collect::<Vec<_>>(),
            &a.extremes,
        ),
        None => a.peak_swing,
    };
    // Heading in the image: the pixel path's direction, oriented along the motion.
    let heading = a.dir.map(|d| {
        let d = match (calibrated, fit_line(&px)) {
            (true, Some(l)) => {
                let (first, last) = (px[0], px[px.len() - 1]);
                let fwd = (last.0 - first.0) * l.dir.0 + (last.1 - first.1) * l.dir.1;
                if fwd < 0.0 {
                    (-l.dir.0, -l.dir.1)
                } else {
                    l.dir
                }
            }
            _ => d,
        };
        d.1.atan2(d.0).to_degrees().rem_euclid(360.0)
    });

    // Maxima over the current weaving spell (reset after clear_after_s without weaving).
    if st
        .last_active
        .is_some_and(|last| secs(ts, last) >= p.clear_after_s && !active)
    {
        st.last_active = None;
        st.max_reversals = 0;
        st.max_swing = 0.0;
        st.max_swing_px = 0.0;
    }
    if active {
        st.last_active = Some(ts);
        st.max_reversals = st.max_reversals.max(a.reversals);
        st.max_swing = st.max_swing.max(a.peak_swing);
        st.max_swing_px = st.max_swing_px.max(peak_swing_px);
    }

    let r = round3;
    let m = Measures::Weaving(WeavingMeasures {
        box_width_px: r(width),
        heading_deg: heading.map(r),
        max_reversals: st.max_reversals,
        max_swing_m: calibrated.then(|| r(st.max_swing)),
        max_swing_px: r(st.max_swing_px),
        min_swing_m: calibrated.then(|| r(min_swing)),
        min_swing_px: (!calibrated).then(|| r(min_swing)),
        peak_swing_m: calibrated.then(|| r(a.peak_swing)),
        peak_swing_px: r(peak_swing_px),
        racing: false,
        reversals: a.reversals,
        span_s: r(times.last().copied().unwrap_or(0.0)),
        speed: speed.map(r),
        speed_unit: if calibrated {
            SpeedUnit::MPerS
        } else {
            SpeedUnit::BoxWidthsPerS
        },
        weaving_vehicles: 0,
        window_s: r(p.window_s),
    });

    Observation {
        rule: RuleKind::Weaving,
        key: id,
        active,
        people: 1,
        track_ids: vec![id],
        hull: px.iter().map(|q| (q.0 as f32, q.1 as f32)).collect(),
        measures: m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BBox;
    use jiff::SignedDuration;

    fn t0() -> Timestamp {
        "2026-11-26T16:00:00Z".parse().unwrap()
    }

    fn at(s: f64) -> Timestamp {
        t0() + SignedDuration::from_millis((s * 1000.0).round() as i64)
    }

    fn bike(id: u64, x: f32, y: f32) -> Track {
        Track {
            id,
            bbox: BBox::new(x - 25.0, y - 40.0, x + 25.0, y),
            class: ObjectClass::Vehicle,
            label: 3,
            score: 0.9,
            velocity: (0.0, 0.0),
            confirmed: true,
            matched: true,
            first_seen: t0(),
            last_seen: t0(),
        }
    }

    /// A triangle zig-zag of ±`half` px with `leg` s legs, along x at `v` px/s.
    fn zig(t: f64, v: f32, half: f32, leg: f64) -> (f32, f32) {
        let phase = (t / leg).rem_euclid(2.0);
        let tri = if phase < 1.0 { phase } else { 2.0 - phase };
        (
            100.0 + v * t as f32,
            300.0 + half * (2.0 * tri as f32 - 1.0),
        )
    }

    fn smoothstep(x: f64) -> f64 {
        let x = x.clamp(0.0, 1.0);
        x * x * (3.0 - 2.0 * x)
    }

    // ---- line fit

    #[test]
    fn fit_line_recovers_any_direction() {
        for deg in [0.0f64, 20.0, 45.0, 80.0, 90.0, 100.0, 135.0, 170.0] {
            let (s, c) = deg.to_radians().sin_cos();
            let pts: Vec<(f64, f64)> = (0..20)
                .map(|i| {
                    // Pairs ±2 px across the line: the fit must stay on the line.
                    let a = (i / 2) as f64 * 7.0;
                    let l = if i % 2 == 0 { 2.0 } else { -2.0 };
                    (50.0 + a * c - l * s, 60.0 + a * s + l * c)
                })
                .collect();
            let l = fit_line(&pts).unwrap();
            let cross = l.dir.0 * s - l.dir.1 * c;
            assert!(cross.abs() < 1e-9, "{deg}°: dir {:?}", l.dir);
            assert!((l.dir.0.hypot(l.dir.1) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn fit_line_is_orthogonal_not_y_on_x() {
        // A near-vertical road: an ordinary y-on-x regression would be ill-conditioned.
        let pts: Vec<(f64, f64)> = (0..10)
            .map(|i| (200.0 + 0.1 * i as f64, 10.0 * i as f64))
            .collect();
        let l = fit_line(&pts).unwrap();
        assert!((l.dir.1.atan2(l.dir.0).to_degrees() - 89.427).abs() < 1e-3);
        assert!(pts.iter().all(|&p| l.offset(p).abs() < 1e-9));
    }

    #[test]
    fn fit_line_degenerate() {
        assert_eq!(fit_line(&[]), None);
        assert_eq!(fit_line(&[(1.0, 2.0)]), None);
        assert_eq!(fit_line(&[(1.0, 2.0); 5]), None);
        assert_eq!(fit_line(&[(f64::NAN, 2.0), (1.0, 1.0)]), None);
        let l = fit_line(&[(0.0, 0.0), (f64::NAN, 1.0), (4.0, 0.0)]).unwrap();
        assert_eq!(l.centroid, (2.0, 0.0));
    }

    #[test]
    fn offset_sign_and_along() {
        let l = Line {
            centroid: (10.0, 10.0),
            dir: (1.0, 0.0),
        };
        // Moving right, "down" on screen is to the right of the direction: positive.
        assert_eq!(l.offset((15.0, 13.0)), 3.0);
        assert_eq!(l.offset((15.0, 7.0)), -3.0);
        assert_eq!(l.along((15.0, 7.0)), 5.0);
    }

    // ---- reversal counter

    #[test]
    fn reversals_of_a_clean_zigzag() {
        let z = count_reversals(&[0.0, 10.0, 0.0, 10.0, 0.0], 5.0);
        assert_eq!(z.reversals, 3);
        assert_eq!(z.extremes, vec![0, 1, 2, 3, 4]);
        assert_eq!(z.peak_swing, 10.0);
        // Starting downwards.
        let z = count_reversals(&[0.0, -10.0, 0.0, -10.0], 5.0);
        assert_eq!((z.reversals, z.extremes.clone()), (2, vec![0, 1, 2, 3]));
    }

    #[test]
    fn hysteresis_ignores_jitter() {
        let jitter = [0.0, 3.0, -2.0, 4.0, -1.0, 2.0, -3.0, 1.0];
        let z = count_reversals(&jitter, 8.0);
        assert_eq!(z, ZigZag::default(), "no direction, no reversal, no swing");
        // A dip of 4 inside a rising leg is not a reversal; the 10 → 0 return is.
        let z = count_reversals(&[0.0, 10.0, 6.0, 10.0, 0.0], 5.0);
        assert_eq!((z.reversals, z.extremes.clone()), (1, vec![0, 1, 4]));
        // Wiggles on the way do not count either, and the leg's extreme moves on.
        let z = count_reversals(&[0.0, 10.0, 9.0, 12.0, 11.0, 20.0, 0.0], 5.0);
        assert_eq!((z.reversals, z.extremes.clone()), (1, vec![0, 5, 6]));
        assert_eq!(z.peak_swing, 20.0);
    }

    #[test]
    fn hysteresis_threshold_is_inclusive() {
        assert_eq!(count_reversals(&[0.0, 5.0, 0.0, 5.0], 5.0).reversals, 2);
        assert_eq!(count_reversals(&[0.0, 4.9, 0.0, 4.9], 5.0).reversals, 0);
        // The first leg is established at 5 from the lowest point seen so far.
        let z = count_reversals(&[2.0, 0.0, 1.0, 5.0, 1.0], 5.0);
        assert_eq!((z.reversals, z.extremes), (0, vec![1, 3]));
    }

    #[test]
    fn monotone_and_nan() {
        let z = count_reversals(&[0.0, 10.0, 20.0, 30.0], 5.0);
        assert_eq!(
            (z.reversals, z.extremes.clone(), z.peak_swing),
            (0, vec![0, 3], 30.0)
        );
        let z = count_reversals(&[f64::NAN, 0.0, 10.0, f64::NAN, 0.0, 10.0], 5.0);
        assert_eq!((z.reversals, z.extremes), (2, vec![1, 2, 4, 5]));
        assert_eq!(count_reversals(&[], 5.0), ZigZag::default());
    }

    // ---- one window

    #[test]
    fn analyse_straight_motion() {
        let times: Vec<f64> = (0..16).map(|i| i as f64 * 0.2).collect();
        let pts: Vec<(f64, f64)> = times
            .iter()
            .map(|t| (500.0 - 120.0 * t, 300.0 + 50.0 * t))
            .collect();
        let a = analyse(&pts, &times, 25.0);
        assert!(a.evaluated);
        assert_eq!(a.reversals, 0);
        assert!((a.speed.unwrap() - 130.0).abs() < 1e-9);
        let d = a.dir.unwrap();
        assert!(
            (d.0 + 120.0 / 130.0).abs() < 1e-9 && (d.1 - 50.0 / 130.0).abs() < 1e-9,
            "oriented along the motion"
        );
    }

    #[test]
    fn analyse_needs_history() {
        let times = [0.0, 0.2, 0.4, 0.6];
        let pts = [(0.0, 0.0), (10.0, 0.0), (20.0, 0.0), (30.0, 0.0)];
        assert!(!analyse(&pts, &times, 25.0).evaluated, "4 samples");
        let times = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5];
        let pts = [(0.0, 0.0); 6];
        assert!(!analyse(&pts, &times, 25.0).evaluated, "0.5 s");
        let times = [0.0, 0.25, 0.5, 0.75, 1.0];
        let a = analyse(&pts[..5], &times, 25.0);
        assert!(a.evaluated);
        assert_eq!(
            (a.speed, a.reversals, a.dir),
            (Some(0.0), 0, None),
            "standing still"
        );
    }

    /// The guarantee in the module docs: across the least-squares line of any window, one
    /// lane change (lateral speed rising and falling once) shows at most two reversals, and
    /// one swerve at most two. Swept over shapes, sizes, durations, speeds and window
    /// positions, at 5 and 10 fps, with ±2 px jitter.
    #[test]
    fn one_lane_change_or_swerve_shows_at_most_two_reversals() {
        let mut worst = (0, 0);
        let mut windows = 0;
        for fps in [5.0, 10.0] {
            for v in [60.0, 120.0, 300.0, 600.0] {
                for width in [25.0, 50.0, 100.0, 250.0] {
                    for dur in [0.4, 1.0, 2.0, 3.5] {
                        let n = (10.0 * fps) as usize;
                        let w = (3.0 * fps) as usize + 1;
                        let path = |lat: &dyn Fn(f64) -> f64| -> Vec<(f64, f64)> {
                            (0..n)
                                .map(|k| {
                                    let t = k as f64 / fps;
                                    let j = (((k * 7919) % 13) as f64 / 6.0 - 1.0) * 2.0;
                                    (v * t, 300.0 + lat(t) + j)
                                })
                                .collect()
                        };
                        let lc = path(&|t| width * smoothstep((t - 4.0) / dur));
                        let sw = path(&|t| {
                            width
                                * (smoothstep((t - 4.0) / dur) - smoothstep((t - 4.0 - dur) / dur))
                        });
                        let times: Vec<f64> = (0..w).map(|k| k as f64 / fps).collect();
                        for end in w..=n {
                            windows += 1;
                            let a = analyse(&lc[end - w..end], &times, 25.0);
                            let b = analyse(&sw[end - w..end], &times, 25.0);
                            worst.0 = worst.0.max(a.reversals);
                            worst.1 = worst.1.max(b.reversals);
                        }
                    }
                }
            }
        }
        assert!(windows > 5000);
        assert!(worst.0 <= 2 && worst.1 <= 2, "{worst:?}");
    }

    // ---- the rule

    fn run(
        rule: &mut WeavingRule,
        from: f64,
        to: f64,
        fps: f64,
        f: impl Fn(f64) -> Vec<Track>,
    ) -> Vec<Observation> {
        let mut last = Vec::new();
        let mut k = (from * fps).round() as i64;
        while (k as f64) / fps < to - 1e-9 {
            let t = k as f64 / fps;
            last = rule.observe(at(t), &f(t), None);
            k += 1;
        }
        last
    }

    #[test]
    fn zigzag_is_active_with_its_measures() {
        let mut r = WeavingRule::new(WeavingParams::default());
        let o = run(&mut r, 0.0, 4.0, 10.0, |t| {
            let (x, y) = zig(t, 100.0, 30.0, 0.6);
            vec![bike(5, x, y)]
        });
        assert_eq!(o.len(), 1);
        let o = &o[0];
        assert!(o.active);
        assert_eq!((o.key, o.people, o.track_ids.clone()), (5, 1, vec![5]));
        assert_eq!(o.rule, RuleKind::Weaving);
        let m = &o.measures.to_json();
        assert!(m["reversals"].as_u64().unwrap() >= 3);
        assert!((m["peak_swing_px"].as_f64().unwrap() - 60.0).abs() < 1.0);
        assert_eq!(m["min_swing_px"], 25.0);
        assert!((m["speed"].as_f64().unwrap() - 2.0).abs() < 0.05);
        assert_eq!(m["speed_unit"], "box_widths_per_s");
        assert_eq!(m["box_width_px"], 50.0);
        assert_eq!(
            (m["window_s"].as_f64(), m["span_s"].as_f64()),
            (Some(3.0), Some(3.0))
        );
        assert_eq!(
            (m["racing"].as_bool(), m["weaving_vehicles"].as_u64()),
            (Some(false), Some(1))
        );
        assert!(
            m.as_object()
                .unwrap()
                .values()
                .all(|v| !v.is_array() && !v.is_object()),
            "scalars only (event schema)"
        );
        // The path: 31 bottom-centres (3 s at 10 fps), oldest first.
        assert_eq!(o.hull.len(), 31);
        assert_eq!(o.hull[30], {
            let (x, y) = zig(3.9, 100.0, 30.0, 0.6);
            (x, y)
        });
    }

    #[test]
    fn too_slow_is_not_weaving() {
        let mut r = WeavingRule::new(WeavingParams::default());
        // 30 px/s = 0.6 box widths/s.
        let o = run(&mut r, 0.0, 4.0, 10.0, |t| {
            let (x, y) = zig(t, 30.0, 30.0, 0.6);
            vec![bike(5, x, y)]
        });
        assert!(!o[0].active);
        assert!(o[0].measures.to_json()["reversals"].as_u64().unwrap() >= 3);
        assert!((o[0].measures.to_json()["speed"].as_f64().unwrap() - 0.6).abs() < 0.05);
    }

    #[test]
    fn racing_when_two_weave_at_once() {
        let mut r = WeavingRule::new(WeavingParams::default());
        let o = run(&mut r, 0.0, 4.0, 5.0, |t| {
            let (x, y) = zig(t, 100.0, 30.0, 0.6);
            vec![
                bike(9, x, y),
                bike(4, x, y - 150.0),
                bike(6, 600.0 - 100.0 * t as f32, 500.0),
            ]
        });
        let got: Vec<(u64, bool, bool, u64)> = o
            .iter()
            .map(|o| {
                (
                    o.key,
                    o.active,
                    o.measures.to_json()["racing"] == true,
                    o.measures.to_json()["weaving_vehicles"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![(4, true, true, 2), (6, false, false, 2), (9, true, true, 2)]
        );
        // With racing_min_vehicles 3 the same two are not racing.
        let mut r = WeavingRule::new(WeavingParams {
            racing_min_vehicles: 3,
            ..Default::default()
        });
        let o = run(&mut r, 0.0, 4.0, 5.0, |t| {
            let (x, y) = zig(t, 100.0, 30.0, 0.6);
            vec![bike(9, x, y), bike(4, x, y - 150.0)]
        });
        assert!(
            o.iter()
                .all(|o| o.active && o.measures.to_json()["racing"] == false)
        );
    }

    #[test]
    fn ignores_people_unconfirmed_and_duplicates() {
        let mut r = WeavingRule::new(WeavingParams::default());
        let mut p = bike(1, 100.0, 100.0);
        p.class = ObjectClass::Person;
        let mut u = bike(2, 200.0, 100.0);
        u.confirmed = false;
        let o = r.observe(
            at(0.0),
            &[p, u, bike(3, 300.0, 100.0), bike(3, 300.0, 100.0)],
            None,
        );
        assert_eq!(o.iter().map(|o| o.key).collect::<Vec<_>>(), vec![3]);
        assert!(!o[0].active);
        assert_eq!(
            o[0].measures.to_json()["speed"],
            serde_json::Value::Null,
            "not enough history yet"
        );
    }

    #[test]
    fn coasting_adds_no_samples_and_old_tracks_are_forgotten() {
        let mut r = WeavingRule::new(WeavingParams::default());
        run(&mut r, 0.0, 2.0, 5.0, |t| {
            vec![bike(1, 100.0 + 100.0 * t as f32, 300.0)]
        });
        let mut c = bike(1, 999.0, 999.0);
        c.matched = false;
        let o = r.observe(at(2.0), &[c], None);
        assert_eq!(o[0].hull.len(), 10, "no sample from the coasting frame");
        assert_eq!(o[0].hull[9], (280.0, 300.0));
        // The same frame twice keeps one sample (the newer); an older frame adds none.
        let o = r.observe(at(2.0), &[bike(1, 300.0, 300.0)], None);
        assert_eq!((o[0].hull.len(), o[0].hull[10]), (11, (300.0, 300.0)));
        let o = r.observe(at(2.0), &[bike(1, 301.0, 300.0)], None);
        assert_eq!((o[0].hull.len(), o[0].hull[10]), (11, (301.0, 300.0)));
        let o = r.observe(at(1.9), &[bike(1, 290.0, 300.0)], None);
        assert_eq!(o[0].hull.len(), 11);
        // Gone for more than window_s: forgotten, history starts again.
        r.observe(at(2.2), &[], None);
        let o = r.observe(at(5.4), &[bike(1, 500.0, 300.0)], None);
        assert_eq!(o[0].hull.len(), 1);
    }

    #[test]
    fn spell_maxima_reset_after_clear_after() {
        let mut r = WeavingRule::new(WeavingParams::default());
        let zz = |t: f64| {
            let (x, y) = zig(t, 100.0, 30.0, 0.6);
            vec![bike(1, x, y)]
        };
        let o = run(&mut r, 0.0, 4.0, 5.0, zz);
        assert!(o[0].measures.to_json()["max_reversals"].as_u64().unwrap() >= 3);
        // Straight on for 7 s: inactive for > clear_after_s, maxima back to 0.
        let o = run(&mut r, 4.0, 11.0, 5.0, |t| {
            vec![bike(1, 100.0 + 100.0 * t as f32, 300.0)]
        });
        assert!(!o[0].active);
        assert_eq!(o[0].measures.to_json()["max_reversals"], 0);
        assert_eq!(o[0].measures.to_json()["max_swing_px"], 0.0);
    }

    #[test]
    fn calibrated_units() {
        let mut r = WeavingRule::new(WeavingParams {
            min_swing: 0.6,
            min_speed: 1.5,
            ..Default::default()
        });
        let ground = |p: (f32, f32)| (p.0 * 0.02, p.1 * 0.02); // 1 px = 2 cm
        let mut last = Vec::new();
        for k in 0..40 {
            let t = k as f64 / 10.0;
            let (x, y) = zig(t, 100.0, 30.0, 0.6);
            last = r.observe(at(t), &[bike(1, x, y)], Some(&ground));
        }
        let m = &last[0].measures.to_json();
        assert!(last[0].active);
        assert_eq!(m["speed_unit"], "m_per_s");
        assert!((m["speed"].as_f64().unwrap() - 2.0).abs() < 0.05);
        assert!((m["peak_swing_m"].as_f64().unwrap() - 1.2).abs() < 0.02);
        assert!((m["peak_swing_px"].as_f64().unwrap() - 60.0).abs() < 1.0);
        assert_eq!(m["min_swing_m"], 0.6);
        assert!(m.get("min_swing_px").is_none());
        assert!(
            m["heading_deg"].as_f64().unwrap() < 5.0 || m["heading_deg"].as_f64().unwrap() > 355.0
        );
    }

    // ---- params

    #[test]
    fn params_defaults_serde_and_problems() {
        let p: WeavingParams = serde_json::from_str("{}").unwrap();
        assert_eq!(p, WeavingParams::default());
        assert!(p.problems().is_empty());
        assert!(serde_json::from_str::<WeavingParams>(r#"{"min_swnig": 1}"#).is_err());
        let d = p.debounce();
        assert_eq!(
            (
                d.min_duration_s,
                d.grace_s,
                d.update_every_s,
                d.clear_after_s,
                d.cooldown_s
            ),
            (0.0, 1.0, 10.0, 3.0, 0.0)
        );
        let bad = WeavingParams {
            window_s: 1.0,
            min_speed: 0.0,
            min_swing: f32::NAN,
            min_reversals: 0,
            racing_min_vehicles: 1,
            clear_after_s: -1.0,
            ..Default::default()
        };
        assert_eq!(
            bad.problems(),
            vec![
                "window_s: must be 2 to 86400 seconds, got 1",
                "min_speed: must be above 0 and at most 1000, got 0",
                "min_swing: must be above 0 and at most 100, got NaN",
                "min_reversals: must be 2 to 50, got 0",
                "racing_min_vehicles: must be 2 to 100, got 1",
                "clear_after_s: must be 0 to 86400 seconds, got -1",
            ]
        );
    }

    #[test]
    fn zone_filter_uses_the_bottom_centre() {
        let zone = Polygon::new(vec![[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]).unwrap();
        // Box 250..290 high: the bottom (290) is inside the lower half (> 288), the centre not.
        let mut person = bike(3, 100.0, 300.0);
        person.class = ObjectClass::Person;
        let tracks = vec![bike(1, 100.0, 290.0), bike(2, 100.0, 280.0), person];
        let inside = vehicles_in_zone(&tracks, &zone, 768, 576);
        assert_eq!(inside.iter().map(|t| t.id).collect::<Vec<_>>(), vec![1]);
    }
}
