//! ByteTrack-style multi-object tracker with a time-based constant-velocity Kalman filter.
//!
//! # Motion model
//!
//! Each track carries a constant-velocity Kalman filter on `(cx, cy, w, h)` plus their
//! velocities, in pixels and pixels per second. The time step is taken from the frame
//! timestamps, so irregular frame intervals and dropped frames are handled; a step that is
//! zero or negative (duplicate or backwards timestamp) is treated as `dt = 0`.
//!
//! The filter is run as four independent 2-state `(position, velocity)` filters. This is not
//! an approximation: in SORT/ByteTrack every matrix (transition, process noise, measurement
//! noise, initial covariance) is block-diagonal per coordinate, so the 8x8 covariance never
//! couples different coordinates and the 8x8 filter factorises exactly into four 2x2 ones.
//!
//! Noise follows ByteTrack (`std_weight_position = 1/20`, `std_weight_velocity = 1/160`), all
//! scaled by the current box height, with ByteTrack's per-frame process noise converted to
//! per-second rates at a nominal 30 fps (position random walk plus white-noise acceleration),
//! so at 30 fps the filter behaves like ByteTrack's and at other rates it stays consistent.
//! While a track is lost its size velocities are zeroed (ByteTrack zeroes the height
//! velocity) so a coasting box keeps its size.
//!
//! # Association (per frame)
//!
//! 1. Predict every track to the frame time.
//! 2. Split detections: `score >= high_score` (vehicles: `min(high_score, vehicle_high_score)`)
//!    are *high*, `low_score <= score < high_score`
//!    are *low*, the rest (and any detection with a non-finite score or coordinate) is ignored.
//! 3. Stage 1: high detections against all tracks (confirmed, unconfirmed, lost) by IoU of the
//!    predicted box, IoU `>= match_iou_first`.
//! 4. Stage 2: low detections against the confirmed tracks that were matched in the previous
//!    update (tracked, not lost) and are still unmatched, IoU `>= match_iou_second`
//!    (tentative vehicle tracks take part too).
//! 5. Recovery (vehicles): a vehicle track matched in the previous update that neither stage
//!    matched is tried at its *previous* box (a zig-zagging bike that reversed).
//! 6. Motion stage (classes with a `*_max_speed`): the tracks still unmatched against the
//!    detections still unused, by centre distance within a gate that grows with the class's
//!    speed limit and the time since the track's last observation (see `motion_weight`):
//!    at 5 fps a fast motorbike no longer overlaps itself between frames.
//! 7. Unmatched detections with `score >= new_track_score` (vehicles: `vehicle_high_score`,
//!    not beside a tracked vehicle when below `new_track_score`) and a non-zero, finite area
//!    start new tracks.
//! 8. Unmatched tracks predicted outside the frame (when the frame size is known) are
//!    removed; unmatched unconfirmed tracks are removed at once (vehicles: after
//!    [`TENTATIVE_VEHICLE_GAP_S`]); unmatched confirmed tracks coast on the prediction and
//!    are removed once more than `lost_buffer_s` seconds of tracker time have passed since
//!    their last match.
//!
//! On a track's second match, and on its first match after coasting, the velocity is set
//! from the two observations when the object clearly moved (OC-SORT's observation-centric
//! idea). Vehicle tracks are confirmed only when their mean matched score reaches
//! `vehicle_confirm_score` (a track-level confidence: night motorbikes score 0.2–0.4 frame
//! by frame).
//!
//! Each stage is an optimal assignment (Kuhn–Munkres, maximising total IoU). Pairs below the
//! stage threshold, pairs that do not overlap at all, and pairs of different
//! [`ObjectClass`] are given weight 0 *before* the assignment (so the optimum is taken over
//! admissible pairs only) and rejected after it. Isolated one-to-one candidate pairs (the
//! usual case for well separated objects) are matched directly without running the solver.
//!
//! # Reported tracks
//!
//! [`Tracker::update`] returns every live track in ascending id order. `bbox` is the filtered
//! (posterior) box when the track was matched in this update (the detection box itself on the
//! frame that creates the track) and the predicted box while it coasts; `velocity` is the
//! filtered centre velocity in px/s; `score` and `label` are those of the last matched
//! detection. A track is `confirmed` once it has been matched `min_hits` times, the detection
//! that created it counting as the first (so `min_hits <= 1` confirms at birth).
//!
//! Ids start at 1 and are never reused, not even after [`Tracker::reset`].
//!
//! Tracker time (for the lost buffer) is the sum of the non-negative frame-to-frame steps, so
//! a clock that jumps backwards neither freezes nor extends the lost buffer.
//!
//! # Cost
//!
//! All per-frame buffers live in the [`Tracker`] and are reused: a steady-state update with
//! well separated objects does not allocate. When Kuhn–Munkres does run, `pathfinding`
//! allocates a few small vectors inside the call. About 12 µs per update for 50 tracks and 50
//! detections in release builds (24 µs when every box overlaps its neighbours).

use crate::types::{BBox, Detection, ObjectClass, Track};
use jiff::Timestamp;
mod assign;
mod kalman;

use assign::{Scratch, associate};
use kalman::Kalman;

/// Tuning of [`Tracker`]. See the module documentation for how each value is used.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerConfig {
    /// Detections with `score >= high_score` take part in the first association stage.
    pub high_score: f32,
    /// Detections with `low_score <= score < high_score` are used only in the second stage.
    pub low_score: f32,
    /// Unmatched high detections with `score >= new_track_score` start new tracks.
    pub new_track_score: f32,
    /// Minimum IoU for a first-stage match (ByteTrack's cost `1 - IoU <= 0.8`).
    pub match_iou_first: f32,
    /// Minimum IoU for a second-stage (low-score) match.
    pub match_iou_second: f32,
    /// Number of matches (creation included) after which a track is confirmed.
    pub min_hits: u32,
    /// Seconds a lost confirmed track is kept, coasting on its prediction, before removal.
    pub lost_buffer_s: f64,
    /// Motion stage for vehicles: the fastest a vehicle may move, in box sizes (√(w·h)) per
    /// second, for an unmatched vehicle track to claim an unmatched detection that does not
    /// overlap it. 0 turns the stage off for vehicles.
    pub vehicle_max_speed: f32,
    /// The same for people. 0 turns the stage off for people.
    pub person_max_speed: f32,
    /// Vehicles' `high_score` and `new_track_score`, when lower: a vehicle detection with at
    /// least this score takes part in the first stage (so it can revive a lost track) and,
    /// unmatched, starts a tentative track, confirmed on its mean score (below). A motorbike
    /// at night scores 0.2–0.4 frame by frame. A tentative track is not started from a box
    /// below `new_track_score` next to a vehicle already tracked (a part or a duplicate of
    /// it). Set it to `high_score` or above to treat vehicles like people.
    pub vehicle_high_score: f32,
    /// A vehicle track is confirmed only when, after `min_hits` matches, the mean score of
    /// its matched detections is at least this.
    pub vehicle_confirm_score: f32,
}

impl TrackerConfig {
    /// The score from which a detection of `class` is "high" (first stage, track births).
    pub fn high_score_for(&self, class: ObjectClass) -> f32 {
        match class {
            ObjectClass::Vehicle => self.high_score.min(self.vehicle_high_score),
            ObjectClass::Person => self.high_score,
        }
    }

    /// The motion stage's speed limit for `class`, in box sizes per second.
    pub fn max_speed(&self, class: ObjectClass) -> f32 {
        match class {
            ObjectClass::Vehicle => self.vehicle_max_speed,
            ObjectClass::Person => self.person_max_speed,
        }
    }
}

/// The motion stage's gate always allows this many box sizes of error, on top of the speed.
pub const MOTION_SLACK: f32 = 0.5;
/// Elapsed time beyond this (s) does not widen the motion gate further: a track lost for
/// longer is found near its prediction or not at all.
pub const MOTION_MAX_ELAPSED_S: f64 = 0.6;
/// A tentative (unconfirmed) vehicle track is kept through a detection dropout this long (s):
/// one missed frame at 5 fps, two at 10 fps. Tentative people die at their first miss
/// (ByteTrack).
pub const TENTATIVE_VEHICLE_GAP_S: f64 = 0.3;
/// A low-score detection starts a tentative track only at least this many box sizes (of each
/// live track of its class) away from every live track of its class.
pub const LOW_BIRTH_CLEARANCE: f32 = 1.5;
/// The motion stage's gate, in box sizes around the prediction, for a track that is already
/// coasting.
pub const LOST_GATE_SIZES: f32 = 1.5;
/// A detection whose size (√area) differs from the track's last observation by more than
/// this factor is not the same object for the motion stage.
pub const MOTION_SIZE_RATIO: f32 = 1.6;
/// A displacement of at least this many box sizes between two observations sets the velocity
/// from the observations (second match, or a match after coasting); smaller displacements are
/// left to the filter, where detector jitter would dominate the difference.
pub const VELOCITY_INIT_MIN_SIZES: f32 = 0.3;

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            high_score: 0.5,
            low_score: 0.1,
            new_track_score: 0.5,
            match_iou_first: 0.2,
            match_iou_second: 0.5,
            min_hits: 3,
            lost_buffer_s: 2.0,
            vehicle_max_speed: 8.0,
            person_max_speed: 0.0,
            vehicle_high_score: 0.2,
            vehicle_confirm_score: 0.25,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tracker
// ---------------------------------------------------------------------------------------------

/// Per-track state that is not part of the public [`Track`].
#[derive(Debug, Clone)]
struct TrackState {
    kf: Kalman,
    hits: u32,
    /// Tracker time (s) of the last match.
    last_match: f64,
    /// Matched in the previous update (ByteTrack's "tracked" as opposed to "lost").
    was_tracked: bool,
    /// The detection box of the last match (the observation, not the filtered box).
    last_obs: BBox,
    /// Sum of the matched detections' scores (track-level confidence = sum / hits).
    score_sum: f32,
}

/// One association stage: assign `cands` detections to the `pool` tracks at `boxes` by IoU
/// and apply the matches.
#[allow(clippy::too_many_arguments)]
fn match_stage(
    cfg: &TrackerConfig,
    tracks: &mut [Track],
    state: &mut [TrackState],
    boxes: &[BBox],
    pool: &[usize],
    detections: &[Detection],
    cands: &[usize],
    min_iou: f32,
    (ts, clock): (Timestamp, f64),
    assoc: &mut Scratch,
    pairs: &mut Vec<(usize, usize)>,
    det_used: &mut [bool],
) {
    pairs.clear();
    associate(
        boxes, tracks, pool, detections, cands, min_iou, assoc, pairs,
    );
    for &(ti, di) in pairs.iter() {
        apply_match(
            cfg,
            &mut tracks[ti],
            &mut state[ti],
            &detections[di],
            ts,
            clock,
        );
        det_used[di] = true;
    }
}

/// Reusable per-frame buffers.
#[derive(Debug, Clone, Default)]
struct Buffers {
    predicted: Vec<BBox>,
    /// Each track's box from the previous update (before prediction).
    previous: Vec<BBox>,
    /// Unused high and low detections, for the recovery stage.
    rest: Vec<usize>,
    high: Vec<usize>,
    low: Vec<usize>,
    pool: Vec<usize>,
    pairs: Vec<(usize, usize)>,
    det_used: Vec<bool>,
    assoc: Scratch,
}

/// ByteTrack-style tracker. See the module documentation.
#[derive(Debug, Clone)]
pub struct Tracker {
    cfg: TrackerConfig,
    /// Public view, index-aligned with `state`, ascending id order.
    tracks: Vec<Track>,
    state: Vec<TrackState>,
    next_id: u64,
    last_ts: Option<Timestamp>,
    /// Tracker time in seconds: sum of the non-negative steps between updates.
    clock: f64,
    buf: Buffers,
    /// The frame size, when known: a coasting track predicted outside it has left.
    frame: Option<(f32, f32)>,
}

/// The high and low detections no stage has used yet, into `out`.
fn unused(out: &mut Vec<usize>, high: &[usize], low: &[usize], used: &[bool]) {
    out.clear();
    out.extend(high.iter().chain(low).copied().filter(|&d| !used[d]));
}

fn detection_usable(d: &Detection) -> bool {
    let b = &d.bbox;
    d.score.is_finite()
        && b.x1.is_finite()
        && b.y1.is_finite()
        && b.x2.is_finite()
        && b.y2.is_finite()
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Self {
            cfg,
            tracks: Vec::new(),
            state: Vec::new(),
            next_id: 1,
            last_ts: None,
            clock: 0.0,
            buf: Buffers::default(),
            frame: None,
        }
    }

    /// The size of the frames the detections come from. With it, a track that is not
    /// matched while its predicted centre is outside the frame is removed at once: the
    /// object left, and its track must not wait (in the lost buffer) for the next object
    /// entering there.
    pub fn set_frame_size(&mut self, size: (u32, u32)) {
        self.frame = (size.0 > 0 && size.1 > 0).then_some((size.0 as f32, size.1 as f32));
    }

    /// Advance to time `ts` with this frame's detections. Returns all live tracks (confirmed
    /// or not, matched or coasting), in ascending id order.
    pub fn update(&mut self, ts: Timestamp, detections: &[Detection]) -> &[Track] {
        let dt = match self.last_ts {
            Some(prev) => {
                let d = ts.duration_since(prev).as_secs_f64();
                if d > 0.0 { d } else { 0.0 }
            }
            None => 0.0,
        };
        self.last_ts = Some(ts);
        self.clock += dt;
        let clock = self.clock;

        let Self {
            cfg,
            tracks,
            state,
            buf,
            next_id,
            frame,
            ..
        } = self;
        let outside = |b: &BBox| {
            frame.is_some_and(|(w, h)| {
                let (cx, cy) = b.center();
                !(0.0..=w).contains(&cx) || !(0.0..=h).contains(&cy)
            })
        };

        // 1. Predict.
        buf.predicted.clear();
        buf.previous.clear();
        for (t, st) in tracks.iter_mut().zip(state.iter_mut()) {
            buf.previous.push(t.bbox);
            st.was_tracked = t.matched;
            t.matched = false;
            st.kf.predict(dt, !st.was_tracked);
            buf.predicted.push(st.kf.bbox());
        }

        // 2. Split detections.
        buf.high.clear();
        buf.low.clear();
        for (j, d) in detections.iter().enumerate() {
            if !detection_usable(d) {
                continue;
            }
            if d.score >= cfg.high_score_for(d.class) {
                buf.high.push(j);
            } else if d.score >= cfg.low_score {
                buf.low.push(j);
            }
        }
        buf.det_used.clear();
        buf.det_used.resize(detections.len(), false);

        // 3. Stage 1: high detections against every track.
        buf.pool.clear();
        buf.pool.extend(0..tracks.len());
        match_stage(
            cfg,
            tracks,
            state,
            &buf.predicted,
            &buf.pool,
            detections,
            &buf.high,
            cfg.match_iou_first,
            (ts, clock),
            &mut buf.assoc,
            &mut buf.pairs,
            &mut buf.det_used,
        );

        // 4. Stage 2: low detections against confirmed tracks that were tracked last frame
        // (and tentative vehicle tracks, see `vehicle_high_score`).
        buf.pool.clear();
        buf.pool.extend((0..tracks.len()).filter(|&i| {
            !tracks[i].matched
                && state[i].was_tracked
                && (tracks[i].confirmed || tracks[i].class == ObjectClass::Vehicle)
        }));
        match_stage(
            cfg,
            tracks,
            state,
            &buf.predicted,
            &buf.pool,
            detections,
            &buf.low,
            cfg.match_iou_second,
            (ts, clock),
            &mut buf.assoc,
            &mut buf.pairs,
            &mut buf.det_used,
        );

        // 4b. Recovery: a vehicle track matched last update that neither stage matched is tried
        // against the remaining detections (any score above low_score) at its *previous* box.
        // A constant-velocity prediction overshoots when an object reverses sideways (a
        // weaving motorbike); the object is then still close to where it was.
        buf.pool.clear();
        // Vehicles only: people move slowly enough for the prediction, and trying crowded
        // people at their previous boxes would swap ids within groups.
        buf.pool.extend((0..tracks.len()).filter(|&i| {
            !tracks[i].matched && state[i].was_tracked && tracks[i].class == ObjectClass::Vehicle
        }));
        unused(&mut buf.rest, &buf.high, &buf.low, &buf.det_used);
        match_stage(
            cfg,
            tracks,
            state,
            &buf.previous,
            &buf.pool,
            detections,
            &buf.rest,
            cfg.match_iou_first,
            (ts, clock),
            &mut buf.assoc,
            &mut buf.pairs,
            &mut buf.det_used,
        );

        // 4c. Motion stage: tracks still unmatched against the detections still unused, by
        // centre distance gated by the class's speed limit and the time since the track's
        // last observation. IoU cannot link a fast object whose boxes no longer overlap
        // between analysed frames (a motorbike at 5 fps); distance can.
        buf.pool.clear();
        // (A coasting track predicted outside the frame has left: it claims nothing.)
        buf.pool.extend((0..tracks.len()).filter(|&i| {
            !tracks[i].matched
                && cfg.max_speed(tracks[i].class) > 0.0
                && (state[i].was_tracked || !outside(&buf.predicted[i]))
        }));
        if !buf.pool.is_empty() {
            unused(&mut buf.rest, &buf.high, &buf.low, &buf.det_used);
            buf.pairs.clear();
            {
                let (tracks_r, state_r, predicted) = (&*tracks, &*state, &buf.predicted);
                assign::associate_by(
                    &buf.pool,
                    &buf.rest,
                    |ti, di| {
                        motion_weight(
                            cfg,
                            &tracks_r[ti],
                            &state_r[ti],
                            &predicted[ti],
                            clock,
                            &detections[di],
                        )
                    },
                    &mut buf.assoc,
                    &mut buf.pairs,
                );
            }
            for &(ti, di) in buf.pairs.iter() {
                apply_match(
                    cfg,
                    &mut tracks[ti],
                    &mut state[ti],
                    &detections[di],
                    ts,
                    clock,
                );
                buf.det_used[di] = true;
            }
        }

        // 5. Unmatched tracks: coast, or remove (order-preserving compaction).
        let mut w = 0;
        for r in 0..tracks.len() {
            let keep = if tracks[r].matched {
                true
            } else if outside(&buf.predicted[r]) {
                false
            } else if !tracks[r].confirmed {
                // Tentative vehicle tracks survive a dropout of up to TENTATIVE_VEHICLE_GAP_S
                // (a night motorbike is missed in a quarter of its frames); others die at once.
                let keep = tracks[r].class == ObjectClass::Vehicle
                    && clock - state[r].last_match <= TENTATIVE_VEHICLE_GAP_S;
                if keep {
                    tracks[r].bbox = buf.predicted[r];
                    tracks[r].velocity = state[r].kf.velocity();
                }
                keep
            } else {
                // A NaN buffer fails the comparison: removed rather than kept forever.
                let keep = clock - state[r].last_match <= cfg.lost_buffer_s;
                if keep {
                    tracks[r].bbox = buf.predicted[r];
                    tracks[r].velocity = state[r].kf.velocity();
                }
                keep
            };
            if keep {
                tracks.swap(w, r);
                state.swap(w, r);
                w += 1;
            }
        }
        tracks.truncate(w);
        state.truncate(w);

        // 6. New tracks from unmatched confident detections (vehicles: from
        // `vehicle_high_score`, confirmed on their mean score).
        for &di in buf.high.iter().chain(buf.low.iter()) {
            let d = &detections[di];
            let area = d.bbox.area();
            let floor = if d.class == ObjectClass::Vehicle {
                cfg.new_track_score.min(cfg.vehicle_high_score)
            } else {
                cfg.new_track_score
            };
            // A box with zero or overflowing area could never be matched again (IoU 0 or NaN).
            // (`score` is finite here, see `detection_usable`.)
            if buf.det_used[di]
                || d.score < floor
                || floor.is_nan()
                || !(area > 0.0 && area.is_finite())
            {
                continue;
            }
            // A low-score vehicle box next to a vehicle already tracked is a part or a
            // duplicate of it (the rider, the front wheel): it starts nothing. Otherwise its
            // tentative track competes with the real one for the real box in the next frame.
            if d.score < cfg.new_track_score
                && tracks.iter().any(|t| {
                    let (a, b) = (t.bbox.center(), d.bbox.center());
                    t.class == d.class
                        && ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
                            < LOW_BIRTH_CLEARANCE * t.bbox.area().sqrt()
                })
            {
                continue;
            }
            let kf = Kalman::new(&d.bbox);
            let id = *next_id;
            *next_id += 1;
            tracks.push(Track {
                id,
                bbox: d.bbox,
                class: d.class,
                label: d.label,
                score: d.score,
                velocity: (0.0, 0.0),
                confirmed: cfg.min_hits <= 1 && confident(cfg, d.class, d.score, 1),
                matched: true,
                first_seen: ts,
                last_seen: ts,
            });
            state.push(TrackState {
                kf,
                hits: 1,
                last_match: clock,
                was_tracked: true,
                last_obs: d.bbox,
                score_sum: d.score,
            });
        }

        tracks
    }

    /// The live tracks as of the last [`update`](Self::update), in ascending id order.
    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Drop every track and forget the time base. The id counter is kept, so ids are never
    /// reused within the process.
    pub fn reset(&mut self) {
        self.tracks.clear();
        self.state.clear();
        self.last_ts = None;
        self.clock = 0.0;
    }
}

/// Weight of the pair (track, detection) in the motion stage: `1 - distance / gate` (scaled
/// to an integer), 0 when inadmissible.
///
/// A track matched in the previous update: the distance is from the detection's centre to the
/// nearer of the track's predicted centre and its last observed centre (observation-centric:
/// an object that reversed is near where it was, not where the filter expects it), and the
/// gate is `size × (max_speed × elapsed + MOTION_SLACK)`, with `size` = √area of the last
/// observation and `elapsed` the time since it, capped at [`MOTION_MAX_ELAPSED_S`].
///
/// A track coasting for longer than that: only its predicted centre counts, within
/// `size × LOST_GATE_SIZES`. Measuring from where a lost object was last seen would hand its
/// track to the next object arriving there (the next motorbike entering where one left).
fn motion_weight(
    cfg: &TrackerConfig,
    t: &Track,
    st: &TrackState,
    predicted: &BBox,
    clock: f64,
    d: &Detection,
) -> i64 {
    let vmax = cfg.max_speed(t.class);
    if t.class != d.class || vmax.is_nan() || vmax <= 0.0 {
        return 0;
    }
    // Low-score detections only continue tracks that are confirmed and were tracked
    // (ByteTrack's second stage); they never rescue a tentative or lost track.
    if d.score < cfg.high_score_for(d.class)
        && !(st.was_tracked && (t.confirmed || t.class == ObjectClass::Vehicle))
    {
        return 0;
    }
    let size = st.last_obs.area().sqrt();
    let dsize = d.bbox.area().sqrt();
    if !(size > 0.0 && dsize > 0.0 && size.is_finite() && dsize.is_finite()) {
        return 0;
    }
    let ratio = dsize / size;
    if !(1.0 / MOTION_SIZE_RATIO..=MOTION_SIZE_RATIO).contains(&ratio) {
        return 0;
    }
    let dist = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let c = d.bbox.center();
    let recent = clock - st.last_match <= MOTION_MAX_ELAPSED_S;
    let (dc, gate) = if st.was_tracked || recent {
        let elapsed = (clock - st.last_match).clamp(0.0, MOTION_MAX_ELAPSED_S) as f32;
        (
            dist(c, predicted.center()).min(dist(c, st.last_obs.center())),
            size * (vmax * elapsed + MOTION_SLACK),
        )
    } else {
        (dist(c, predicted.center()), size * LOST_GATE_SIZES)
    };
    if dc.is_nan() || dc >= gate {
        return 0;
    }
    (((1.0 - dc / gate) as f64 * 1e6).round() as i64).max(1)
}

fn apply_match(
    cfg: &TrackerConfig,
    t: &mut Track,
    st: &mut TrackState,
    d: &Detection,
    ts: Timestamp,
    clock: f64,
) {
    // Velocity from the observations (OC-SORT's observation-centric re-update, simplified):
    // on a track's second match, and on the first match after coasting, the filter's
    // velocity is either unknown or a stale extrapolation. When the object clearly moved,
    // the difference of the two observations over the time between them is the better
    // estimate.
    let gap = clock - st.last_match;
    let (c0, c1) = (st.last_obs.center(), d.bbox.center());
    let moved = ((c1.0 - c0.0).powi(2) + (c1.1 - c0.1).powi(2)).sqrt();
    let size = st.last_obs.area().sqrt();
    let observed_velocity =
        ((st.hits == 1 || !st.was_tracked) && gap > 0.0 && moved >= VELOCITY_INIT_MIN_SIZES * size)
            .then(|| {
                (
                    ((c1.0 - c0.0) as f64 / gap) as f32,
                    ((c1.1 - c0.1) as f64 / gap) as f32,
                )
            });
    st.kf.update(&d.bbox);
    if let Some(v) = observed_velocity
        && v.0.is_finite()
        && v.1.is_finite()
    {
        st.kf.set_velocity(v);
    }
    st.last_obs = d.bbox;
    st.score_sum += d.score;
    st.hits = st.hits.saturating_add(1);
    st.last_match = clock;
    t.bbox = st.kf.bbox();
    t.velocity = st.kf.velocity();
    t.score = d.score;
    t.label = d.label;
    t.matched = true;
    t.last_seen = ts;
    if st.hits >= cfg.min_hits && confident(cfg, t.class, st.score_sum, st.hits) {
        t.confirmed = true;
    }
}

/// Track-level confidence: vehicles need a mean matched score of `vehicle_confirm_score`.
fn confident(cfg: &TrackerConfig, class: ObjectClass, score_sum: f32, hits: u32) -> bool {
    class != ObjectClass::Vehicle || score_sum / hits.max(1) as f32 >= cfg.vehicle_confirm_score
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0_NS: i128 = 1_700_000_000_000_000_000;

    fn ts(s: f64) -> Timestamp {
        Timestamp::from_nanosecond(T0_NS + (s * 1e9).round() as i128).unwrap()
    }

    fn det(cx: f32, cy: f32, w: f32, h: f32, score: f32, class: ObjectClass) -> Detection {
        Detection {
            bbox: BBox::from_cxcywh(cx, cy, w, h),
            score,
            class,
            label: match class {
                ObjectClass::Person => 0,
                ObjectClass::Vehicle => 2,
            },
        }
    }

    fn person(cx: f32, cy: f32, score: f32) -> Detection {
        det(cx, cy, 40.0, 100.0, score, ObjectClass::Person)
    }

    /// Id of the track that best overlaps `d` (panics in the test if none overlaps).
    fn id_at(tracks: &[Track], d: &Detection) -> u64 {
        tracks
            .iter()
            .filter(|t| t.class == d.class)
            .max_by(|a, b| a.bbox.iou(&d.bbox).total_cmp(&b.bbox.iou(&d.bbox)))
            .filter(|t| t.bbox.iou(&d.bbox) > 0.3)
            .map(|t| t.id)
            .expect("no track over detection")
    }

    /// Deterministic noise in [-1, 1).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    #[test]
    fn defaults() {
        let c = TrackerConfig::default();
        assert_eq!(c.high_score, 0.5);
        assert_eq!(c.low_score, 0.1);
        assert_eq!(c.new_track_score, 0.5);
        assert_eq!(c.match_iou_first, 0.2);
        assert_eq!(c.match_iou_second, 0.5);
        assert_eq!(c.min_hits, 3);
        assert_eq!(c.lost_buffer_s, 2.0);
        assert_eq!(c.vehicle_max_speed, 8.0);
        assert_eq!(c.person_max_speed, 0.0);
        assert_eq!(c.vehicle_high_score, 0.2);
        assert_eq!(c.vehicle_confirm_score, 0.25);
    }

    #[test]
    fn crossing_objects_keep_ids() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let (mut ida, mut idb) = (0, 0);
        for f in 0..=40 {
            let t = f as f64 * 0.05; // 20 fps, 2 s
            let a = person(100.0 + 200.0 * t as f32, 200.0, 0.9);
            let b = person(500.0 - 200.0 * t as f32, 212.0, 0.85);
            let tracks = tr.update(ts(t), &[b, a]);
            assert_eq!(tracks.len(), 2, "frame {f}");
            let (ia, ib) = (id_at(tracks, &a), id_at(tracks, &b));
            if f == 0 {
                (ida, idb) = (ia, ib);
                assert_ne!(ida, idb);
            } else {
                assert_eq!((ia, ib), (ida, idb), "swap at frame {f}");
            }
        }
        let ta = tr.tracks().iter().find(|t| t.id == ida).unwrap();
        assert!(ta.velocity.0 > 150.0, "{:?}", ta.velocity);
    }

    #[test]
    fn crossing_with_occlusion_keeps_ids() {
        // B is hidden behind A for 0.3 s around the crossing.
        let mut tr = Tracker::new(TrackerConfig::default());
        let (mut ida, mut idb) = (0, 0);
        for f in 0..=40 {
            let t = f as f64 * 0.05;
            let a = person(100.0 + 200.0 * t as f32, 200.0, 0.9);
            let b = person(500.0 - 200.0 * t as f32, 205.0, 0.85);
            let hidden = (0.85..=1.15).contains(&t);
            let dets: &[Detection] = if hidden { &[a] } else { &[a, b] };
            let tracks = tr.update(ts(t), dets);
            if f == 0 {
                (ida, idb) = (id_at(tracks, &a), id_at(tracks, &b));
            } else {
                assert_eq!(id_at(tracks, &a), ida, "frame {f}");
                if !hidden {
                    assert_eq!(id_at(tracks, &b), idb, "frame {f}");
                }
            }
        }
        assert_eq!(tr.tracks().len(), 2);
    }

    #[test]
    fn gap_within_buffer_keeps_id() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let pos = |t: f64| person(100.0 + 80.0 * t as f32, 300.0, 0.9);
        let mut id = 0;
        for f in 0..10 {
            let t = f as f64 * 0.1;
            id = tr.update(ts(t), &[pos(t)])[0].id;
        }
        assert!(tr.tracks()[0].confirmed);
        // Missing from t = 1.0 to t = 1.9 (a 1 s hole between detections).
        for f in 10..20 {
            let t = f as f64 * 0.1;
            let tracks = tr.update(ts(t), &[]);
            assert_eq!(tracks.len(), 1);
            assert!(!tracks[0].matched);
            assert_eq!(tracks[0].id, id);
        }
        let t = 2.0;
        let tracks = tr.update(ts(t), &[pos(t)]);
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].id, id);
        assert!(tracks[0].matched);
        assert!(tracks[0].confirmed);
    }

    #[test]
    fn gap_longer_than_buffer_gets_new_id() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let d = person(300.0, 300.0, 0.9);
        for f in 0..5 {
            tr.update(ts(f as f64 * 0.1), &[d]);
        }
        let id = tr.tracks()[0].id;
        // Last seen at 0.4 s. Still kept at 2.4 s, gone after.
        assert_eq!(tr.update(ts(2.4), &[]).len(), 1);
        assert!(tr.update(ts(2.5), &[]).is_empty());
        let tracks = tr.update(ts(2.6), &[d]);
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].id, id + 1);
        assert!(!tracks[0].confirmed);
        assert_eq!(tracks[0].first_seen, ts(2.6));
    }

    #[test]
    fn gap_measured_in_seconds_not_frames() {
        // A single 3 s frame gap removes a track even though only one frame was missed.
        let mut tr = Tracker::new(TrackerConfig::default());
        let d = person(300.0, 300.0, 0.9);
        for f in 0..5 {
            tr.update(ts(f as f64 * 0.1), &[d]);
        }
        assert!(tr.update(ts(3.5), &[]).is_empty());
    }

    #[test]
    fn confirmation_after_min_hits() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let d = person(300.0, 300.0, 0.9);
        let c: Vec<bool> = (0..4)
            .map(|f| tr.update(ts(f as f64 * 0.1), &[d])[0].confirmed)
            .collect();
        assert_eq!(c, [false, false, true, true]);
        assert_eq!(tr.tracks()[0].id, 1);

        let mut tr = Tracker::new(TrackerConfig {
            min_hits: 1,
            ..Default::default()
        });
        assert!(tr.update(ts(0.0), &[d])[0].confirmed);
    }

    #[test]
    fn unconfirmed_track_dies_on_first_miss() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let d = person(300.0, 300.0, 0.9);
        tr.update(ts(0.0), &[d]);
        tr.update(ts(0.1), &[d]);
        assert!(tr.update(ts(0.2), &[]).is_empty());
        assert_eq!(tr.update(ts(0.3), &[d])[0].id, 2);
    }

    #[test]
    fn low_score_keeps_track_alive_but_never_starts_one() {
        let mut tr = Tracker::new(TrackerConfig {
            new_track_score: 0.6,
            ..TrackerConfig::default()
        });
        // Low (and medium: high but below new_track_score) detections start nothing.
        for f in 0..5 {
            let t = tr.update(
                ts(f as f64 * 0.1),
                &[person(100.0, 100.0, 0.3), person(400.0, 100.0, 0.55)],
            );
            assert!(t.is_empty());
        }
        let mut id = 0;
        for f in 5..10 {
            id = tr.update(ts(f as f64 * 0.1), &[person(300.0, 300.0, 0.9)])[0].id;
        }
        // 3 s of low-score detections: far longer than the lost buffer.
        for f in 10..40 {
            let tracks = tr.update(ts(f as f64 * 0.1), &[person(300.0, 301.0, 0.3)]);
            assert_eq!(tracks.len(), 1);
            assert_eq!(tracks[0].id, id);
            assert!(tracks[0].matched);
            assert_eq!(tracks[0].score, 0.3);
        }
        // Below low_score: ignored entirely.
        assert!(!tr.update(ts(4.0), &[person(300.0, 300.0, 0.05)])[0].matched);
    }

    #[test]
    fn low_score_does_not_revive_lost_track() {
        // Stage 2 only considers tracks matched in the previous update.
        let mut tr = Tracker::new(TrackerConfig::default());
        let d = person(300.0, 300.0, 0.9);
        for f in 0..5 {
            tr.update(ts(f as f64 * 0.1), &[d]);
        }
        assert!(!tr.update(ts(0.5), &[])[0].matched);
        assert!(!tr.update(ts(0.6), &[person(300.0, 300.0, 0.3)])[0].matched);
        assert!(tr.update(ts(0.7), &[d])[0].matched);
    }

    fn bike(cx: f32, cy: f32, score: f32) -> Detection {
        det(cx, cy, 80.0, 50.0, score, ObjectClass::Vehicle)
    }

    #[test]
    fn night_vehicles_start_tracks_confirmed_on_their_mean_score() {
        // A night motorbike at 0.3 (below high_score and new_track_score): a track, confirmed
        // at min_hits because its mean score reaches vehicle_confirm_score.
        let mut tr = Tracker::new(TrackerConfig::default());
        for f in 0..3 {
            let t = tr.update(
                ts(f as f64 * 0.1),
                &[bike(100.0 + 10.0 * f as f32, 300.0, 0.3)],
            );
            assert_eq!(t.len(), 1);
            assert_eq!(t[0].confirmed, f == 2, "frame {f}");
        }
        // It is lost for 0.5 s, then revived by a 0.25 detection where it is predicted.
        for f in 3..8 {
            assert!(!tr.update(ts(f as f64 * 0.1), &[])[0].matched);
        }
        let t = tr.update(ts(0.8), &[bike(180.0, 300.0, 0.25)]);
        assert_eq!((t.len(), t[0].matched), (1, true));
        // A mean below vehicle_confirm_score never confirms; people at 0.3 start nothing.
        let mut tr = Tracker::new(TrackerConfig::default());
        for f in 0..10 {
            let t = tr.update(
                ts(f as f64 * 0.1),
                &[bike(100.0, 300.0, 0.22), person(500.0, 300.0, 0.3)],
            );
            assert!(
                t.iter()
                    .all(|t| !t.confirmed && t.class == ObjectClass::Vehicle)
            );
        }
        // Turned off (vehicle_high_score at high_score): vehicles are treated like people.
        let mut tr = Tracker::new(TrackerConfig {
            vehicle_high_score: 0.5,
            ..TrackerConfig::default()
        });
        for f in 0..5 {
            assert!(
                tr.update(ts(f as f64 * 0.1), &[bike(100.0, 300.0, 0.3)])
                    .is_empty()
            );
        }
    }

    #[test]
    fn a_low_vehicle_box_beside_a_tracked_vehicle_starts_nothing() {
        let mut tr = Tracker::new(TrackerConfig::default());
        for f in 0..10 {
            let x = 100.0 + 15.0 * f as f32;
            // The bike, and a weak partial box of it (its front half) that no stage matches.
            let t = tr.update(
                ts(f as f64 * 0.1),
                &[
                    bike(x, 300.0, 0.6),
                    det(x + 60.0, 290.0, 40.0, 40.0, 0.35, ObjectClass::Vehicle),
                ],
            );
            assert_eq!(t.len(), 1, "frame {f}: {t:?}");
        }
        // The same weak box far from any track starts a tentative one.
        let t = tr.update(
            ts(1.0),
            &[bike(250.0, 300.0, 0.6), bike(600.0, 100.0, 0.35)],
        );
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_lost_vehicle_does_not_inherit_the_next_one_arriving_where_it_left() {
        // Bike A rides right and leaves at x ≈ 700; 1 s later bike B appears there, riding
        // left. A's track coasts on towards the right edge and must not take B.
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut a = 0;
        for f in 0..20 {
            a = tr.update(
                ts(f as f64 * 0.1),
                &[bike(320.0 + 20.0 * f as f32, 300.0, 0.6)],
            )[0]
            .id;
        }
        for f in 20..30 {
            tr.update(ts(f as f64 * 0.1), &[]);
        }
        let mut b = 0;
        for f in 30..36 {
            let t = tr.update(
                ts(f as f64 * 0.1),
                &[bike(700.0 - 20.0 * (f - 30) as f32, 305.0, 0.6)],
            );
            b = t.iter().find(|t| t.matched).unwrap().id;
        }
        assert_ne!(a, b);
    }

    #[test]
    fn a_track_predicted_outside_the_frame_is_dropped_at_once() {
        let mut tr = Tracker::new(TrackerConfig::default());
        tr.set_frame_size((768, 576));
        for f in 0..10 {
            tr.update(
                ts(f as f64 * 0.1),
                &[bike(600.0 + 15.0 * f as f32, 300.0, 0.6)],
            );
        }
        // Last seen at x = 735 moving right at 150 px/s: predicted past 768 at x = 780 (f = 12).
        let mut gone = None;
        for f in 10..20 {
            if tr.update(ts(f as f64 * 0.1), &[]).is_empty() {
                gone = Some(f);
                break;
            }
        }
        assert_eq!(
            gone,
            Some(12),
            "removed once its predicted centre left the frame"
        );
        // Without a frame size it waits for the lost buffer.
        let mut tr = Tracker::new(TrackerConfig::default());
        for f in 0..10 {
            tr.update(
                ts(f as f64 * 0.1),
                &[bike(600.0 + 15.0 * f as f32, 300.0, 0.6)],
            );
        }
        assert_eq!(tr.update(ts(1.5), &[]).len(), 1);
    }

    #[test]
    fn person_and_vehicle_at_same_place_do_not_swap() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let (mut idp, mut idv) = (0, 0);
        for f in 0..40 {
            let t = f as f64 * 0.05;
            let p = det(300.0, 300.0, 80.0, 80.0, 0.8, ObjectClass::Person);
            // Vehicle drives straight through the person's box, same size.
            let v = det(
                150.0 + 150.0 * t as f32,
                300.0,
                80.0,
                80.0,
                0.9,
                ObjectClass::Vehicle,
            );
            let dets = if f % 2 == 0 { [p, v] } else { [v, p] };
            let tracks = tr.update(ts(t), &dets);
            assert_eq!(tracks.len(), 2, "frame {f}");
            for tk in tracks {
                assert!(tk.matched);
            }
            let (ip, iv) = (id_at(tracks, &p), id_at(tracks, &v));
            if f == 0 {
                (idp, idv) = (ip, iv);
            }
            assert_eq!((ip, iv), (idp, idv), "frame {f}");
            let tp = tracks.iter().find(|t| t.id == idp).unwrap();
            assert_eq!(tp.class, ObjectClass::Person);
            assert_eq!(tp.label, 0);
            assert!(tp.velocity.0.abs() < 5.0, "{:?}", tp.velocity);
        }
    }

    #[test]
    fn identical_boxes_of_different_class_never_cross_match() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let p = det(300.0, 300.0, 80.0, 80.0, 0.8, ObjectClass::Person);
        let v = det(300.0, 300.0, 80.0, 80.0, 0.9, ObjectClass::Vehicle);
        for f in 0..5 {
            tr.update(ts(f as f64 * 0.1), &[p]);
        }
        // A vehicle appears exactly on the person, who is not detected: the person track
        // coasts and the vehicle gets its own track.
        let tracks = tr.update(ts(0.5), &[v]);
        assert_eq!(tracks.len(), 2);
        assert!(!tracks[0].matched && tracks[0].class == ObjectClass::Person);
        assert!(tracks[1].matched && tracks[1].class == ObjectClass::Vehicle);
        // Both present with identical boxes, in alternating order: labels never swap.
        for f in 6..30 {
            let dets = if f % 2 == 0 { [p, v] } else { [v, p] };
            let tracks = tr.update(ts(f as f64 * 0.1), &dets);
            assert_eq!(tracks.len(), 2);
            assert_eq!(
                (tracks[0].id, tracks[0].label, tracks[0].score),
                (1, 0, 0.8)
            );
            assert_eq!(
                (tracks[1].id, tracks[1].label, tracks[1].score),
                (2, 2, 0.9)
            );
        }
    }

    #[test]
    fn velocity_estimate_converges() {
        let (vx, vy) = (120.0f32, -60.0f32);
        let mut tr = Tracker::new(TrackerConfig::default());
        for f in 0..=10 {
            let t = f as f64 / 15.0;
            tr.update(
                ts(t),
                &[person(200.0 + vx * t as f32, 400.0 + vy * t as f32, 0.9)],
            );
        }
        let v = tr.tracks()[0].velocity;
        assert!((v.0 - vx).abs() < 0.1 * vx.abs(), "{v:?}");
        assert!((v.1 - vy).abs() < 0.1 * vy.abs(), "{v:?}");
        // And the coasting prediction follows that velocity.
        let b = tr.update(ts(1.0), &[])[0].bbox;
        let (cx, cy) = b.center();
        assert!(
            (cx - (200.0 + vx)).abs() < 5.0 && (cy - (400.0 + vy)).abs() < 5.0,
            "{b:?}"
        );
    }

    #[test]
    fn velocity_with_irregular_frame_intervals() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut t = 0.0;
        let gaps = [
            0.03, 0.1, 0.05, 0.2, 0.04, 0.033, 0.15, 0.07, 0.1, 0.06, 0.12, 0.04,
        ];
        for g in gaps {
            tr.update(ts(t), &[person(100.0 + 90.0 * t as f32, 300.0, 0.9)]);
            t += g;
        }
        let tk = &tr.tracks()[0];
        assert_eq!(tk.id, 1);
        assert!((tk.velocity.0 - 90.0).abs() < 9.0, "{:?}", tk.velocity);
    }

    #[test]
    fn fifty_objects_stable_over_100_frames() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let objs: Vec<(f32, f32, f32, f32)> = (0..50)
            .map(|k| {
                let (gx, gy) = ((k % 10) as f32, (k / 10) as f32);
                (
                    60.0 + 100.0 * gx,
                    80.0 + 140.0 * gy,
                    20.0 * rng.next(),
                    20.0 * rng.next(),
                )
            })
            .collect();
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut ids = vec![0u64; 50];
        let mut dets = Vec::new();
        for f in 0..100 {
            let t = f as f64 / 25.0;
            dets.clear();
            for &(x, y, vx, vy) in &objs {
                dets.push(person(
                    x + vx * t as f32 + 2.0 * rng.next(),
                    y + vy * t as f32 + 2.0 * rng.next(),
                    0.7 + 0.2 * rng.next().abs(),
                ));
            }
            let tracks = tr.update(ts(t), &dets);
            assert_eq!(tracks.len(), 50, "frame {f}");
            assert!(tracks.iter().all(|t| t.matched));
            for (k, d) in dets.iter().enumerate() {
                let id = id_at(tracks, d);
                if f == 0 {
                    ids[k] = id;
                } else {
                    assert_eq!(id, ids[k], "object {k} frame {f}");
                }
            }
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=50).collect::<Vec<u64>>());
        assert!(tr.tracks().iter().all(|t| t.confirmed));
        // Tracks are reported in ascending id order.
        assert!(tr.tracks().windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn dense_overlapping_scene_uses_optimal_assignment() {
        // Boxes overlap their neighbours (IoU ~0.4), so every stage goes through Kuhn–Munkres.
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut rng = Rng(7);
        let mut ids = vec![0u64; 30];
        for f in 0..60 {
            let t = f as f64 / 25.0;
            let dets: Vec<Detection> = (0..30)
                .map(|k| {
                    let (gx, gy) = ((k % 6) as f32, (k / 6) as f32);
                    person(
                        100.0 + 18.0 * gx + rng.next(),
                        100.0 + 45.0 * gy + rng.next(),
                        0.8,
                    )
                })
                .collect();
            let tracks = tr.update(ts(t), &dets);
            assert_eq!(tracks.len(), 30);
            for (k, d) in dets.iter().enumerate() {
                if f == 0 {
                    ids[k] = id_at(tracks, d);
                } else {
                    assert_eq!(id_at(tracks, d), ids[k], "object {k} frame {f}");
                }
            }
        }
    }

    #[test]
    fn ids_are_monotonic_and_survive_reset() {
        let mut tr = Tracker::new(TrackerConfig {
            min_hits: 1,
            ..Default::default()
        });
        let ids: Vec<u64> = tr
            .update(
                ts(0.0),
                &[person(100.0, 100.0, 0.9), person(400.0, 100.0, 0.9)],
            )
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, [1, 2]);
        tr.reset();
        assert!(tr.tracks().is_empty());
        // Earlier time after reset is fine: the time base was forgotten.
        assert_eq!(tr.update(ts(-5.0), &[person(100.0, 100.0, 0.9)])[0].id, 3);
    }

    #[test]
    fn bad_input_never_panics() {
        let nan = f32::NAN;
        let inf = f32::INFINITY;
        let bad = [
            person(100.0, 100.0, nan),
            person(nan, 100.0, 0.9),
            person(inf, 100.0, 0.9),
            det(200.0, 200.0, 0.0, 0.0, 0.9, ObjectClass::Person),
            det(200.0, 200.0, -10.0, -10.0, 0.9, ObjectClass::Vehicle),
            Detection {
                bbox: BBox::new(1e30, 1e30, 3e30, 3e30),
                score: 0.9,
                class: ObjectClass::Person,
                label: 0,
            },
            person(300.0, 300.0, inf),
            person(300.0, 300.0, -1.0),
        ];
        let mut tr = Tracker::new(TrackerConfig::default());
        let good = person(500.0, 500.0, 0.9);
        let times = [0.0, 0.1, 0.1, 0.05, -100.0, 0.2, 1e6, 1e6 + 0.1, 1e6 + 0.2];
        for (i, &t) in times.iter().enumerate() {
            let mut dets = bad.to_vec();
            dets.push(good);
            tr.update(ts(t), &dets);
            tr.update(ts(t), &[]);
            tr.update(ts(t), &dets[..i % dets.len()]);
            for tk in tr.tracks() {
                assert!(
                    tk.bbox.x1.is_finite() && tk.velocity.0.is_finite(),
                    "{tk:?}"
                );
            }
        }
        // Degenerate and non-finite detections never became tracks.
        assert!(
            tr.tracks()
                .iter()
                .all(|t| t.bbox.area() > 0.0 && t.bbox.x1 < 1e6)
        );

        // A nonsensical configuration must not panic either.
        let mut tr = Tracker::new(TrackerConfig {
            high_score: nan,
            low_score: nan,
            new_track_score: nan,
            match_iou_first: nan,
            match_iou_second: -1.0,
            min_hits: 0,
            lost_buffer_s: f64::NAN,
            vehicle_max_speed: f32::NAN,
            person_max_speed: f32::INFINITY,
            vehicle_high_score: f32::NAN,
            vehicle_confirm_score: f32::NAN,
        });
        for f in 0..5 {
            tr.update(ts(f as f64), &bad);
        }
        assert!(tr.tracks().is_empty());
    }

    #[test]
    fn backwards_timestamp_is_zero_dt() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let d = person(300.0, 300.0, 0.9);
        for f in 0..5 {
            tr.update(ts(f as f64 * 0.1), &[d]);
        }
        // Clock jumps back an hour: treated as no time passing, then time runs on from there.
        assert_eq!(tr.update(ts(-3600.0), &[]).len(), 1);
        assert_eq!(tr.update(ts(-3599.0), &[]).len(), 1);
        assert!(tr.update(ts(-3597.0), &[]).is_empty());
    }

    #[test]
    #[ignore = "timing benchmark, run with --ignored --nocapture; tests never assert timings"]
    fn timing_50_tracks_50_detections() {
        fn run(name: &str, spacing: (f32, f32)) {
            let mut rng = Rng(42);
            let mut tr = Tracker::new(TrackerConfig::default());
            let mut dets = Vec::with_capacity(50);
            let n = 20_000;
            let mut frame = |f: usize, tr: &mut Tracker| {
                let t = f as f64 / 25.0;
                dets.clear();
                for k in 0..50 {
                    let (gx, gy) = ((k % 10) as f32, (k / 10) as f32);
                    dets.push(person(
                        100.0 + spacing.0 * gx + 10.0 * t as f32 + rng.next(),
                        100.0 + spacing.1 * gy + rng.next(),
                        0.8,
                    ));
                }
                tr.update(ts(t), &dets).len()
            };
            for f in 0..100 {
                frame(f, &mut tr);
            }
            let start = std::time::Instant::now();
            let mut live = 0;
            for f in 100..100 + n {
                live += frame(f, &mut tr);
            }
            let per = start.elapsed().as_secs_f64() / n as f64;
            assert_eq!(live, 50 * n);
            println!(
                "{name}: {:.1} us per update (50 tracks, 50 detections, incl. building detections)",
                per * 1e6
            );
        }
        run("separated", (100.0, 140.0));
        run("dense/overlapping", (18.0, 45.0));
    }
}
