//! Scenarios through the **real tracker**: scripted *detections* (not tracks) → `Tracker` →
//! zones → rules → debouncers, all inside `CameraAnalytics`, at the detection rates a camera
//! is analysed at (5 and 10 fps).
//!
//! - fast weaving motorbikes (1–6 box widths per second, a lateral swing of about one box
//!   width with a period of 1–1.5 s) keep one track per pass and raise weaving exactly once;
//! - straight riders and single lane changes at the same speeds raise nothing;
//! - a standing group of four whose members are hidden in turn reads four people;
//! - one person lingering after curfew raises `loitering` once; people walking through
//!   never do.
//!
//! Detections carry deterministic jitter (±3 px on each edge), like a detector's.

use jiff::{SignedDuration, Timestamp, civil::DateTime, tz::TimeZone};
use wardwatch::{
    analytics::gathering::GatheringParams,
    analytics::loitering::LoiteringParams,
    analytics::schedule::Schedule,
    analytics::weaving::WeavingParams,
    analytics::zone::Polygon,
    analytics::{AnalyticsSettings, CameraAnalytics, ZoneSettings},
    track::TrackerConfig,
    types::{BBox, Detection, IncidentEvent, ObjectClass, Phase, RuleKind},
};

const W: u32 = 1280;
const H: u32 = 720;
const SITE_TZ: &str = "Asia/Ho_Chi_Minh";
/// Motorbike box (px): a CCTV-scale motorbike with rider, seen from the side.
const BIKE: (f32, f32) = (50.0, 40.0);
const PERSON: (f32, f32) = (40.0, 100.0);

/// Deterministic jitter in [-1, 1) from (actor, frame, edge).
fn noise(actor: u64, frame: i64, edge: u64) -> f32 {
    let mut x = actor
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((frame as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(edge.wrapping_mul(0x94D0_49BB_1331_11EB))
        | 1;
    for _ in 0..3 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// An object whose foot point (bottom-centre) is `path(t)` while `t` is in `[from, to)`,
/// except in the `hidden` spans.
struct Actor {
    id: u64,
    class: ObjectClass,
    size: (f32, f32),
    score: f32,
    from: f64,
    to: f64,
    hidden: Vec<(f64, f64)>,
    path: Box<dyn Fn(f64) -> (f32, f32)>,
}

impl Actor {
    fn detection(&self, t: f64, frame: i64) -> Option<Detection> {
        if t < self.from - 1e-9 || t >= self.to - 1e-9 {
            return None;
        }
        if self
            .hidden
            .iter()
            .any(|&(a, b)| t >= a - 1e-9 && t < b - 1e-9)
        {
            return None;
        }
        let (x, y) = (self.path)(t);
        let (w, h) = self.size;
        let j = |e| 3.0 * noise(self.id, frame, e);
        Some(Detection {
            bbox: BBox::new(
                x - w / 2.0 + j(0),
                y - h + j(1),
                x + w / 2.0 + j(2),
                y + j(3),
            ),
            score: self.score,
            class: self.class,
            label: match self.class {
                ObjectClass::Person => 0,
                ObjectClass::Vehicle => 3,
            },
        })
    }
}

/// A motorbike riding left to right across the frame at `speed` box widths per second
/// along y = 400, offset sideways by `lateral(t)` px, from `t = 0` until it leaves.
fn rider(id: u64, speed: f32, lateral: impl Fn(f64) -> f32 + 'static) -> Actor {
    let v = speed * BIKE.0;
    let x0 = -BIKE.0;
    let to = ((W as f32 + 2.0 * BIKE.0) / v) as f64;
    Actor {
        id,
        class: ObjectClass::Vehicle,
        size: BIKE,
        score: 0.6,
        from: 0.0,
        to,
        hidden: vec![],
        path: Box::new(move |t| (x0 + v * t as f32, 400.0 + lateral(t))),
    }
}

fn weave(amplitude: f32, period: f64) -> impl Fn(f64) -> f32 {
    move |t| amplitude * (2.0 * std::f64::consts::PI * t / period).sin() as f32
}

/// A lane change of `dist` px, smooth (smoothstep) over `dur` s, centred on `at`.
fn lane_change(dist: f32, at: f64, dur: f64) -> impl Fn(f64) -> f32 {
    move |t| {
        let u = ((t - (at - dur / 2.0)) / dur).clamp(0.0, 1.0) as f32;
        dist * u * u * (3.0 - 2.0 * u)
    }
}

fn standing(id: u64, (x, y): (f32, f32), from: f64, to: f64) -> Actor {
    Actor {
        id,
        class: ObjectClass::Person,
        size: PERSON,
        score: 0.8,
        from,
        to,
        hidden: vec![],
        path: Box::new(move |_| (x, y)),
    }
}

fn walking(id: u64, from: (f32, f32), velocity: (f32, f32), t0: f64, t1: f64) -> Actor {
    Actor {
        id,
        class: ObjectClass::Person,
        size: PERSON,
        score: 0.8,
        from: t0,
        to: t1,
        hidden: vec![],
        path: Box::new(move |t| {
            let dt = (t - t0) as f32;
            (from.0 + velocity.0 * dt, from.1 + velocity.1 * dt)
        }),
    }
}

#[derive(Clone, Copy)]
enum Rules {
    Weaving,
    Gathering(GatheringParams),
    Loitering(LoiteringParams),
}

struct Outcome {
    events: Vec<IncidentEvent>,
    /// Ids of every track that was ever confirmed, per class.
    confirmed_vehicles: Vec<u64>,
    confirmed_people: Vec<u64>,
}

impl Outcome {
    fn starts(&self, rule: RuleKind) -> Vec<&IncidentEvent> {
        self.events
            .iter()
            .filter(|e| e.rule == rule && e.phase == Phase::Start)
            .collect()
    }
}

fn t0() -> Timestamp {
    let dt: DateTime = "2026-11-26T23:10:00".parse().unwrap();
    dt.to_zoned(TimeZone::get(SITE_TZ).unwrap())
        .unwrap()
        .timestamp()
}

fn run(actors: &[Actor], fps: f64, duration_s: f64, rules: Rules) -> Outcome {
    run_with(actors, fps, duration_s, rules, TrackerConfig::default())
}

fn run_with(
    actors: &[Actor],
    fps: f64,
    duration_s: f64,
    rules: Rules,
    tracker: TrackerConfig,
) -> Outcome {
    let tz = TimeZone::get(SITE_TZ).unwrap();
    let windows = vec!["22:00-05:00".to_string()];
    let mut zone = ZoneSettings {
        id: "street".into(),
        polygon: Polygon::full_frame(),
        schedule: Schedule::parse(&windows, tz).unwrap(),
        schedule_text: windows,
        gathering: None,
        weaving: None,
        loitering: None,
        filter: Default::default(),
    };
    match rules {
        Rules::Weaving => zone.weaving = Some(WeavingParams::default()),
        Rules::Gathering(p) => zone.gathering = Some(p),
        Rules::Loitering(p) => zone.loitering = Some(p),
    }
    let mut analytics = CameraAnalytics::new(AnalyticsSettings {
        camera_id: "cam".into(),
        calibration: None,
        tracker,
        filter: Default::default(),
        zones: vec![zone],
    });
    let t0 = t0();
    let frames = (duration_s * fps).round() as i64;
    let mut out = Outcome {
        events: Vec::new(),
        confirmed_vehicles: Vec::new(),
        confirmed_people: Vec::new(),
    };
    let mut ts = t0;
    for k in 0..frames {
        let t = k as f64 / fps;
        ts = t0 + SignedDuration::from_nanos((t * 1e9).round() as i64);
        let dets: Vec<Detection> = actors.iter().filter_map(|a| a.detection(t, k)).collect();
        out.events
            .extend(analytics.step_incidents(ts, (W, H), &dets));
        for tr in analytics.tracks().iter().filter(|t| t.confirmed) {
            let ids = match tr.class {
                ObjectClass::Vehicle => &mut out.confirmed_vehicles,
                ObjectClass::Person => &mut out.confirmed_people,
            };
            if !ids.contains(&tr.id) {
                ids.push(tr.id);
            }
        }
    }
    out.events.extend(analytics.finish(ts, "shutdown"));
    out
}

const SPEEDS: [f32; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];

#[test]
fn fast_weaving_motorbike_one_track_one_alert_per_pass() {
    let mut failures = Vec::new();
    for fps in [5.0, 10.0] {
        for speed in SPEEDS {
            for period in [1.0, 1.25, 1.5] {
                let bike = rider(1, speed, weave(BIKE.0 / 2.0, period));
                let dur = bike.to + 4.0;
                let o = run(&[bike], fps, dur, Rules::Weaving);
                let starts = o.starts(RuleKind::Weaving).len();
                if o.confirmed_vehicles.len() != 1 || starts != 1 {
                    failures.push(format!(
                        "{fps} fps, {speed} box widths/s, period {period} s: {} tracks {:?}, {starts} weaving alerts",
                        o.confirmed_vehicles.len(),
                        o.confirmed_vehicles
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn straight_riders_and_lane_changes_raise_nothing() {
    let mut failures = Vec::new();
    for fps in [5.0, 10.0] {
        for speed in SPEEDS {
            let cross = ((W as f32 + 2.0 * BIKE.0) / (speed * BIKE.0)) as f64;
            let cases: Vec<(&str, Actor)> = vec![
                ("straight", rider(1, speed, |_| 0.0)),
                (
                    "lane change 2 box widths in 1 s",
                    rider(1, speed, lane_change(2.0 * BIKE.0, cross / 2.0, 1.0)),
                ),
                (
                    "lane change 1 box width in 0.6 s",
                    rider(1, speed, lane_change(-BIKE.0, cross / 2.0, 0.6)),
                ),
            ];
            for (name, bike) in cases {
                let dur = bike.to + 4.0;
                let o = run(&[bike], fps, dur, Rules::Weaving);
                let starts = o.starts(RuleKind::Weaving).len();
                if o.confirmed_vehicles.len() != 1 || starts != 0 {
                    failures.push(format!(
                        "{name}, {fps} fps, {speed} box widths/s: {} tracks, {starts} weaving alerts",
                        o.confirmed_vehicles.len()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn two_riders_side_by_side_keep_their_own_tracks() {
    // Street racing: two bikes weaving next to each other, out of phase, 2 box heights apart.
    for fps in [5.0, 10.0] {
        let a = rider(1, 4.0, weave(BIKE.0 / 2.0, 1.2));
        let mut b = rider(2, 4.0, move |t| 100.0 + weave(BIKE.0 / 2.0, 1.2)(t + 0.6));
        b.from = 0.0;
        let dur = a.to + 4.0;
        let o = run(&[a, b], fps, dur, Rules::Weaving);
        assert_eq!(
            o.confirmed_vehicles.len(),
            2,
            "{fps} fps: {:?}",
            o.confirmed_vehicles
        );
        let starts = o.starts(RuleKind::Weaving);
        assert_eq!(starts.len(), 2, "{fps} fps: {starts:#?}");
        assert!(
            o.events.iter().any(|e| e.racing),
            "{fps} fps: two bikes weaving at once is racing"
        );
    }
}

#[test]
fn without_the_motion_stage_fast_bikes_at_5_fps_lose_their_track() {
    // The reason for the tracker's motion stage: with IoU alone (and the recovery stage at
    // the previous box), a bike weaving at 4 box widths/s analysed at 5 fps never overlaps
    // itself between frames and is never confirmed; at 10 fps it is.
    let iou_only = TrackerConfig {
        vehicle_max_speed: 0.0,
        ..TrackerConfig::default()
    };
    let bike = || rider(1, 4.0, weave(BIKE.0 / 2.0, 1.25));
    let dur = bike().to + 4.0;
    let o = run_with(&[bike()], 5.0, dur, Rules::Weaving, iou_only.clone());
    assert_eq!(o.confirmed_vehicles.len(), 0);
    assert!(o.starts(RuleKind::Weaving).is_empty());
    let o = run_with(&[bike()], 10.0, dur, Rules::Weaving, iou_only);
    assert_eq!(o.confirmed_vehicles.len(), 1);
    let o = run(&[bike()], 5.0, dur, Rules::Weaving);
    assert_eq!(o.confirmed_vehicles.len(), 1);
    assert_eq!(o.starts(RuleKind::Weaving).len(), 1);
}

fn quick_gathering() -> GatheringParams {
    GatheringParams {
        min_people: 3,
        min_duration_s: 15.0,
        clear_after_s: 5.0,
        ..GatheringParams::default()
    }
}

/// Four people on a circle of radius 35 px around (640, 500), standing from 0 to 60 s.
fn four_standing() -> Vec<Actor> {
    (0..4)
        .map(|i| {
            let a = std::f32::consts::FRAC_PI_2 * i as f32 + 0.3;
            standing(
                10 + i as u64,
                (640.0 + 35.0 * a.cos(), 500.0 + 35.0 * a.sin()),
                0.0,
                60.0,
            )
        })
        .collect()
}

#[test]
fn standing_group_of_four_reads_four_while_members_are_hidden_in_turn() {
    for fps in [5.0, 10.0] {
        // Each member is hidden for 3.5 s in turn (longer than the tracker's 2 s lost buffer,
        // shorter than the rule's 5 s grace), one after the other, and at 40–43 s two at once.
        let mut people = four_standing();
        for (i, p) in people.iter_mut().enumerate() {
            let from = 20.0 + 5.0 * i as f64;
            p.hidden.push((from, from + 3.5));
        }
        people[0].hidden.push((40.0, 43.0));
        people[2].hidden.push((40.0, 43.0));
        // Periodic updates every second show the count while members are hidden.
        let params = GatheringParams {
            update_every_s: 1.0,
            ..quick_gathering()
        };
        let o = run(&people, fps, 60.0, Rules::Gathering(params));
        let g: Vec<&IncidentEvent> = o
            .events
            .iter()
            .filter(|e| e.rule == RuleKind::Gathering)
            .collect();
        assert_eq!(o.starts(RuleKind::Gathering).len(), 1, "{fps} fps: {g:#?}");
        for e in &g {
            assert_eq!(
                (e.people, e.peak_people),
                (4, 4),
                "{fps} fps: {:?} at {}",
                e.phase,
                e.at
            );
        }
    }
}

#[test]
fn a_member_hidden_for_longer_than_grace_stops_counting_and_counts_again_when_back() {
    for fps in [5.0, 10.0] {
        let mut people = four_standing();
        people[3].hidden.push((20.0, 45.0));
        let params = GatheringParams {
            update_every_s: 1.0,
            ..quick_gathering()
        };
        let o = run(&people, fps, 60.0, Rules::Gathering(params));
        assert_eq!(o.starts(RuleKind::Gathering).len(), 1, "{fps} fps");
        let count_at = |t: f64| {
            let at = t0() + SignedDuration::from_secs_f64(t);
            o.events
                .iter()
                .rev()
                .find(|e| e.at <= at)
                .map(|e| e.people)
                .unwrap()
        };
        // Grace 5 s after the last detection at ~20 s, plus the 5 s a new count must hold
        // before it is published.
        assert_eq!(count_at(24.0), 4, "{fps} fps");
        assert_eq!(count_at(35.0), 3, "{fps} fps");
        // Back at 45 s under a new track id; confirmed and published again by ~51 s.
        assert_eq!(count_at(55.0), 4, "{fps} fps");
        let last = o.events.last().unwrap();
        assert_eq!(last.peak_people, 4);
    }
}

fn quick_loitering() -> LoiteringParams {
    LoiteringParams {
        min_duration_s: 30.0,
        clear_after_s: 10.0,
        ..LoiteringParams::default()
    }
}

#[test]
fn a_lingerer_fires_loitering_once_walkers_never() {
    for fps in [5.0, 10.0] {
        // One person pacing slowly beside the gate (±30 px, 0.1 Hz) for 90 s.
        let lingerer = Actor {
            path: Box::new(|t| (400.0 + 30.0 * (0.6 * t).sin() as f32, 450.0)),
            ..standing(1, (0.0, 0.0), 0.0, 90.0)
        };
        // People walking through at 0.5 to 1.5 body heights per second, one after another,
        // one of them slowly diagonally across the whole zone.
        let walkers = vec![
            walking(2, (0.0, 500.0), (150.0, 0.0), 5.0, 15.0),
            walking(3, (1280.0, 600.0), (-100.0, 0.0), 20.0, 34.0),
            walking(4, (0.0, 300.0), (50.0, 12.0), 10.0, 70.0),
        ];
        let mut all = walkers;
        all.push(lingerer);
        let o = run(&all, fps, 115.0, Rules::Loitering(quick_loitering()));
        let starts = o.starts(RuleKind::Loitering);
        assert_eq!(starts.len(), 1, "{fps} fps: {:#?}", o.events);
        let s = starts[0];
        assert_eq!((s.people, s.track_ids.len()), (1, 1));
        // Window 10 s × 0.8 + min_duration 30 s after the person appeared.
        let after = s.at.duration_since(t0()).as_secs_f64();
        assert!(
            (37.5..39.5).contains(&after),
            "{fps} fps: started {after} s in"
        );
        let j = serde_json::to_value(&s.measures).unwrap();
        assert!(j["dwell_s"].as_f64().unwrap() >= 37.0, "{j}");
        assert_eq!(j["radius_unit"], "body_heights");
        let ends: Vec<_> = o
            .events
            .iter()
            .filter(|e| e.rule == RuleKind::Loitering && e.phase == Phase::End)
            .collect();
        assert_eq!(ends.len(), 1);
        assert_eq!(ends[0].reason.as_deref(), Some("cleared"));
    }
}

#[test]
fn ten_minutes_of_walk_throughs_at_night_never_fire_loitering() {
    // Only walkers, for 10 minutes at 23:10: nothing.
    let walkers: Vec<Actor> = (0..20)
        .map(|i| {
            let t0 = 30.0 * i as f64;
            walking(
                i as u64 + 1,
                (0.0, 300.0 + 10.0 * i as f32),
                (60.0, 0.0),
                t0,
                t0 + 22.0,
            )
        })
        .collect();
    let o = run(&walkers, 5.0, 620.0, Rules::Loitering(quick_loitering()));
    assert!(o.events.is_empty(), "{:#?}", o.events);
}
