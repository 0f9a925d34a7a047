//! Table-driven weaving scenarios: scripted vehicle tracks (768×576 frame, motorbike boxes
//! 50×40 px, 5 or 10 fps, deterministic ±3 px detector jitter) → zone filter →
//! `WeavingRule` → the weaving `Debouncer`, each with its exact expected event sequence.
//!
//! Times are offsets in seconds from the scenario's start. With default parameters
//! (window 3 s, min_swing 0.5 × box width = 25 px, min_speed 0.75 box widths/s = 37.5 px/s,
//! 3 reversals, clear_after 3 s) an incident starts on the frame on which the window first
//! holds three confirmed reversals, and ends 3 s after the last frame that still did.

mod support;

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use wardwatch::{
    analytics::debounce::Debouncer,
    analytics::weaving::{
        WeavingParams, WeavingRule, analyse, count_reversals, fit_line, vehicles_in_zone,
    },
    analytics::zone::Polygon,
    types::{BBox, IncidentEvent, ObjectClass, Phase, RuleKind, Track},
};

const W: u32 = 768;
const H: u32 = 576;

// ---------------------------------------------------------------------------------------
// Scripted vehicles

/// A vehicle whose bottom-centre follows straight segments between keyframes
/// `(t, x, y)`; present for `t` in `[first key, last key)`.
#[derive(Clone, Debug)]
struct Vehicle {
    id: u64,
    keys: Vec<(f64, f32, f32)>,
    size: (f32, f32),
    /// Detector jitter amplitude (px) on the box position; 0 for none.
    jitter: f32,
    /// Tracker coasting (matched = false, box on the straight prediction) in these spans.
    coast: Vec<(f64, f64)>,
}

impl Vehicle {
    fn new(id: u64, keys: Vec<(f64, f32, f32)>) -> Vehicle {
        Vehicle {
            id,
            keys,
            size: (50.0, 40.0),
            jitter: 3.0,
            coast: vec![],
        }
    }

    /// Travels along a road through `origin` at `heading_deg` (image angle, 0 = right,
    /// 90 = down) at `speed` px/s from `from` to `to`, with a lateral offset (px, along the
    /// heading turned by +90°) piecewise linear through the `lateral` keys `(t, offset)`,
    /// held constant before the first and after the last.
    fn on_road(
        id: u64,
        origin: (f32, f32),
        heading_deg: f32,
        speed: f32,
        (from, to): (f64, f64),
        lateral: &[(f64, f32)],
    ) -> Vehicle {
        let (s, c) = heading_deg.to_radians().sin_cos();
        let mut times: Vec<f64> = vec![from, to];
        times.extend(lateral.iter().map(|k| k.0).filter(|&t| t > from && t < to));
        times.sort_by(f64::total_cmp);
        times.dedup();
        let lat = |t: f64| -> f32 {
            let (Some(first), Some(last)) = (lateral.first(), lateral.last()) else {
                return 0.0;
            };
            if t <= first.0 {
                return first.1;
            }
            if t >= last.0 {
                return last.1;
            }
            let w = lateral
                .windows(2)
                .find(|w| t >= w[0].0 && t <= w[1].0)
                .unwrap();
            if w[1].0 > w[0].0 {
                let f = ((t - w[0].0) / (w[1].0 - w[0].0)) as f32;
                w[0].1 + (w[1].1 - w[0].1) * f
            } else {
                w[1].1
            }
        };
        let keys = times
            .into_iter()
            .map(|t| {
                let a = speed * (t - from) as f32;
                let l = lat(t);
                (t, origin.0 + a * c - l * s, origin.1 + a * s + l * c)
            })
            .collect();
        Vehicle::new(id, keys)
    }

    fn size(mut self, w: f32, h: f32) -> Vehicle {
        self.size = (w, h);
        self
    }
    fn jitter(mut self, j: f32) -> Vehicle {
        self.jitter = j;
        self
    }
    fn coast(mut self, from: f64, to: f64) -> Vehicle {
        self.coast.push((from, to));
        self
    }

    fn pos(&self, t: f64) -> Option<(f32, f32)> {
        let (first, last) = (self.keys[0].0, self.keys[self.keys.len() - 1].0);
        if t < first - 1e-9 || t >= last - 1e-9 {
            return None;
        }
        let seg = self.keys.windows(2).find(|w| t < w[1].0 - 1e-9)?;
        let (t0, x0, y0) = seg[0];
        let (t1, x1, y1) = seg[1];
        let f = if t1 > t0 {
            ((t - t0) / (t1 - t0)) as f32
        } else {
            0.0
        };
        Some((x0 + (x1 - x0) * f, y0 + (y1 - y0) * f))
    }

    fn track(&self, t: f64, frame: i64, ts: Timestamp) -> Option<Track> {
        let (mut x, mut y) = self.pos(t)?;
        let coasting = self
            .coast
            .iter()
            .any(|&(a, b)| t >= a - 1e-9 && t < b - 1e-9);
        if coasting {
            // The tracker's prediction: straight on from where the coast began.
            let (a, _) = *self.coast.iter().find(|c| t >= c.0 - 1e-9).unwrap();
            let p0 = self.pos(a - 0.2).unwrap();
            let p1 = self.pos(a).unwrap();
            let k = ((t - a) / 0.2) as f32;
            x = p1.0 + (p1.0 - p0.0) * k;
            y = p1.1 + (p1.1 - p0.1) * k;
        } else {
            let (jx, jy) = jitter(self.id, frame);
            x += jx * self.jitter / 3.0;
            y += jy * self.jitter / 3.0;
        }
        let (w, h) = self.size;
        Some(Track {
            id: self.id,
            bbox: BBox::new(x - w / 2.0, y - h, x + w / 2.0, y),
            class: ObjectClass::Vehicle,
            label: 3,
            score: 0.8,
            velocity: (0.0, 0.0),
            confirmed: true,
            matched: !coasting,
            first_seen: ts,
            last_seen: ts,
        })
    }
}

/// Deterministic detector jitter, each component in [-3, 3] px.
fn jitter(id: u64, frame: i64) -> (f32, f32) {
    let h = |salt: u64| {
        let mut x = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            ^ (frame as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)
            ^ salt.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        x = x.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        x ^= x >> 32;
        (x % 6001) as f32 / 1000.0 - 3.0
    };
    (h(1), h(2))
}

/// Lateral keys of a zig-zag: from 0, `extremes` alternating extremes `∓amp/2` (first one
/// `-amp/2`), `leg_s` apart, starting `leg_s / 2` after `t0`, back to 0 `leg_s / 2` after
/// the last. With `amp / 2` above min_swing (the scenarios use amp = 60 px, swing 25 px),
/// every extreme is a reversal, confirmed once the offset is 25 px back from it.
fn zigzag(t0: f64, extremes: usize, leg_s: f64, amp: f32) -> Vec<(f64, f32)> {
    let mut k = vec![(t0, 0.0)];
    for i in 0..extremes {
        let sign = if i % 2 == 0 { -1.0 } else { 1.0 };
        k.push((t0 + leg_s / 2.0 + leg_s * i as f64, sign * amp / 2.0));
    }
    k.push((t0 + leg_s * extremes as f64, 0.0));
    k
}

/// A motorbike along the horizontal road at y = 400, 100 px/s (2 box widths/s) from x = 40.
fn rider(id: u64, from: f64, to: f64, lateral: &[(f64, f32)]) -> Vehicle {
    Vehicle::on_road(id, (40.0, 400.0), 0.0, 100.0, (from, to), lateral)
}

// ---------------------------------------------------------------------------------------
// Scenario runner

type GroundFn = fn((f32, f32)) -> (f32, f32);

struct Scenario {
    params: WeavingParams,
    zone: Vec<[f64; 2]>,
    ground: Option<GroundFn>,
    vehicles: Vec<Vehicle>,
    /// Frame times (s from the start).
    frames: Vec<f64>,
}

fn scenario(vehicles: Vec<Vehicle>, duration_s: f64, fps: f64) -> Scenario {
    let n = (duration_s * fps).round() as i64;
    Scenario {
        params: WeavingParams::default(),
        zone: vec![[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]],
        ground: None,
        vehicles,
        frames: (0..n).map(|k| k as f64 / fps).collect(),
    }
}

/// Expected event: phase, time offset, track id, end/update reason ("" for start), racing.
type Want = (&'static str, f64, u64, &'static str, bool);

fn t0() -> Timestamp {
    "2026-11-26T16:10:00Z".parse().unwrap()
}

impl Scenario {
    fn params(mut self, p: WeavingParams) -> Self {
        self.params = p;
        self
    }
    fn zone(mut self, z: &[[f64; 2]]) -> Self {
        self.zone = z.to_vec();
        self
    }
    fn ground(mut self, g: GroundFn) -> Self {
        self.ground = Some(g);
        self
    }
    fn frames(mut self, f: Vec<f64>) -> Self {
        self.frames = f;
        self
    }

    /// Every event, ending with `finish(.., "shutdown")` after the last frame.
    fn run(&self) -> Vec<IncidentEvent> {
        assert!(self.params.problems().is_empty());
        let zone = Polygon::new(self.zone.clone()).unwrap();
        let mut rule = WeavingRule::new(self.params);
        let mut debouncer: Debouncer = self.params.debouncer("main-road");
        let mut events = Vec::new();
        let mut ts = t0();
        for (k, &t) in self.frames.iter().enumerate() {
            ts = t0() + SignedDuration::from_millis((t * 1000.0).round() as i64);
            let tracks: Vec<Track> = self
                .vehicles
                .iter()
                .filter_map(|v| v.track(t, k as i64, ts))
                .collect();
            let vehicles = vehicles_in_zone(&tracks, &zone, W, H);
            let ground = self
                .ground
                .as_ref()
                .map(|g| g as &dyn Fn((f32, f32)) -> (f32, f32));
            let obs = rule.observe(ts, &vehicles, ground);
            for o in &obs {
                assert_eq!((o.people, o.track_ids.clone()), (1, vec![o.key]));
                assert_eq!(o.rule, RuleKind::Weaving);
            }
            events.extend(debouncer.step(ts, true, &obs));
        }
        events.extend(debouncer.finish(ts, "shutdown"));
        assert_eq!(debouncer.active_count(), 0);
        check_invariants(&events);
        events
    }

    fn expect(&self, name: &str, want: &[Want]) -> Vec<IncidentEvent> {
        let events = self.run();
        let got: Vec<(String, f64, u64, String, bool)> = events
            .iter()
            .map(|e| {
                let phase = serde_json::to_value(e.phase)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string();
                let t = (e.at.duration_since(t0()).as_secs_f64() * 100.0).round() / 100.0;
                let why = e
                    .reason
                    .clone()
                    .or(e.update_reason.clone())
                    .unwrap_or_default();
                (
                    phase,
                    t,
                    e.track_ids[0],
                    why,
                    e.measures.to_json()["racing"] == true,
                )
            })
            .collect();
        let want: Vec<(String, f64, u64, String, bool)> = want
            .iter()
            .map(|&(p, t, id, r, racing)| (p.to_string(), t, id, r.to_string(), racing))
            .collect();
        assert_eq!(got, want, "scenario: {name}");
        events
    }
}

/// Per incident: one track, seq 0, 1, 2...; exactly one start, first; at most one end,
/// last; started_at ≤ at; incidents numbered in order of their starts; the measures the
/// evidence and the event schema rely on are there and scalar.
fn check_invariants(events: &[IncidentEvent]) {
    // Every event, as published, matches schemas/event.schema.json.
    let builder = wardwatch::publish::document::EventBuilder {
        site: "ward-7".into(),
        camera: "cam-01".into(),
        tz: jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap(),
        names: Default::default(),
    };
    for e in events {
        let published = serde_json::to_value(builder.build(e, None)).unwrap();
        support::validate_against_schema(&published);
    }
    let mut by_incident: BTreeMap<u64, Vec<&IncidentEvent>> = BTreeMap::new();
    let mut start_order = Vec::new();
    for e in events {
        assert_eq!(e.zone, "main-road");
        assert_eq!(e.rule, RuleKind::Weaving);
        assert!(e.started_at <= e.at);
        assert_eq!((e.people, e.peak_people, e.track_ids.len()), (1, 1, 1));
        assert_eq!(e.reason.is_some(), e.phase == Phase::End);
        assert_eq!(e.update_reason.is_some(), e.phase == Phase::Update);
        for k in [
            "reversals",
            "peak_swing_px",
            "speed",
            "speed_unit",
            "window_s",
            "racing",
            "weaving_vehicles",
        ] {
            assert!(e.measures.to_json().get(k).is_some(), "{k} missing");
        }
        assert!(
            e.measures
                .to_json()
                .as_object()
                .unwrap()
                .values()
                .all(|v| !v.is_array() && !v.is_object())
        );
        assert!(e.measures.to_json()["reversals"].as_u64().unwrap() >= 3);
        assert!(e.hull.len() >= 5, "the path for the evidence");
        if e.phase == Phase::Start {
            start_order.push(e.incident);
        }
        by_incident.entry(e.incident).or_default().push(e);
    }
    let mut sorted = start_order.clone();
    sorted.sort();
    assert_eq!(start_order, sorted);
    for (id, evs) in by_incident {
        assert_eq!(evs[0].phase, Phase::Start, "incident {id}");
        for (i, e) in evs.iter().enumerate() {
            assert_eq!(e.seq as usize, i, "incident {id}");
            assert_eq!(e.started_at, evs[0].started_at);
            assert_eq!(e.track_ids, evs[0].track_ids, "one incident per track");
            if i > 0 {
                assert_ne!(e.phase, Phase::Start, "incident {id}: second start");
            }
            if e.phase == Phase::End {
                assert_eq!(i, evs.len() - 1, "incident {id}: event after end");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The table

fn fps_both() -> [f64; 2] {
    [5.0, 10.0]
}

#[test]
fn one_lane_change_does_not_fire() {
    for fps in fps_both() {
        // 2, 1.2, 4 and 3 box widths sideways, abrupt to slow, either side.
        for (lat, dur) in [(100.0, 1.0), (-60.0, 0.6), (-200.0, 1.5), (150.0, 2.5)] {
            let v = rider(1, 0.0, 7.0, &[(2.5, 0.0), (2.5 + dur, lat)]);
            scenario(vec![v], 10.0, fps).expect(
                &format!("lane change {lat} px in {dur} s at {fps} fps"),
                &[],
            );
        }
    }
}

#[test]
fn one_swerve_does_not_fire() {
    for fps in fps_both() {
        for (lat, dur) in [(50.0, 1.2), (-60.0, 0.8), (120.0, 2.0)] {
            let v = rider(
                1,
                0.0,
                7.0,
                &[(2.5, 0.0), (2.5 + dur / 2.0, lat), (2.5 + dur, 0.0)],
            );
            scenario(vec![v], 10.0, fps)
                .expect(&format!("swerve {lat} px in {dur} s at {fps} fps"), &[]);
        }
    }
}

/// Known limitation, kept as a test so that a fix shows up: 50 px (a box width) sideways,
/// 1 s straight on, 50 px more, all within one window. Across the window's least-squares
/// line this staircase looks like a zig-zag around the diagonal (up to five legs), so it
/// fires. Only knowing the road's direction (configured or learned from the traffic in
/// the zone) would tell them apart; a single lane change never fires (see above).
#[test]
fn known_limitation_quick_two_step_lane_change_fires() {
    let v = Vehicle::on_road(
        1,
        (20.0, 400.0),
        0.0,
        150.0,
        (0.0, 5.0),
        &[(1.5, 0.0), (2.0, 50.0), (3.0, 50.0), (3.5, 100.0)],
    );
    scenario(vec![v], 8.0, 10.0).expect(
        "two-step lane change",
        &[
            ("start", 3.4, 1, "", false),
            ("end", 7.6, 1, "cleared", false),
        ],
    );
}

#[test]
fn zigzag_with_4_reversals_fires_once() {
    // Extremes ±30 px at 1.8, 2.4, 3.0, 3.6 s, back on the line at 3.9 s. Each is a
    // reversal once the offset is 25 px back: the third is confirmed at 3.4 s (start), the
    // fourth at 4.0 s. Three reversals stay in the window until its start passes 2.0 s
    // (the point it needs to see the leg into 2.4 s): last active 5.0 s, end 8.0 s.
    let zz = zigzag(1.5, 4, 0.6, 60.0);
    let ev = scenario(vec![rider(7, 0.0, 7.0, &zz)], 10.0, 5.0).expect(
        "zig-zag, 5 fps",
        &[
            ("start", 3.4, 7, "", false),
            ("end", 8.0, 7, "cleared", false),
        ],
    );
    let m = &ev[0].measures.to_json();
    assert_eq!(m["reversals"], 3);
    let swing = m["peak_swing_px"].as_f64().unwrap();
    assert!((swing - 60.0).abs() < 7.0, "{swing}");
    assert!((m["speed"].as_f64().unwrap() - 2.0).abs() < 0.1);
    assert_eq!(m["speed_unit"], "box_widths_per_s");
    assert_eq!(m["min_swing_px"], 25.0);
    assert_eq!(m["weaving_vehicles"], 1);
    assert!(m["heading_deg"].as_f64().unwrap() < 5.0 || m["heading_deg"].as_f64().unwrap() > 355.0);
    assert_eq!(
        ev[0].started_at, ev[0].at,
        "min_duration 0: starts when detected"
    );
    assert!((ev[1].duration_s() - 4.6).abs() < 1e-9);
    assert_eq!(ev[1].measures.to_json()["max_reversals"], 4);
    // The path for the evidence: the last 3 s of bottom-centres, oldest first.
    assert_eq!(ev[0].hull.len(), 16);
    assert!(ev[0].hull[0].0 < ev[0].hull[15].0);

    scenario(vec![rider(7, 0.0, 7.0, &zz)], 10.0, 10.0).expect(
        "zig-zag, 10 fps",
        &[
            ("start", 3.3, 7, "", false),
            ("end", 8.1, 7, "cleared", false),
        ],
    );
}

#[test]
fn long_weave_publishes_periodic_updates() {
    // 1.1 box widths/s, 20 extremes 0.6 s apart: weaving from ~2.5 s to ~13.5 s.
    // Leaves the zone (x > 752.6) after 13.3 s: last active 13.2 s.
    let v = Vehicle::on_road(
        3,
        (20.0, 300.0),
        0.0,
        55.0,
        (0.0, 15.0),
        &zigzag(1.0, 20, 0.6, 60.0),
    );
    let p = WeavingParams {
        update_every_s: 4.0,
        ..Default::default()
    };
    scenario(vec![v], 20.0, 5.0).params(p).expect(
        "long weave",
        &[
            ("start", 3.0, 3, "", false),
            ("update", 7.0, 3, "periodic", false),
            ("update", 11.0, 3, "periodic", false),
            ("end", 16.2, 3, "cleared", false),
        ],
    );
}

#[test]
fn two_weavers_at_once_are_racing() {
    let zz = zigzag(1.5, 6, 0.6, 60.0);
    let a = rider(1, 0.0, 7.0, &zz);
    let b = Vehicle::on_road(2, (40.0, 250.0), 0.0, 100.0, (0.0, 7.0), &zz);
    let ev = scenario(vec![a.clone(), b], 10.0, 5.0).expect(
        "two weavers side by side",
        &[
            ("start", 3.4, 1, "", true),
            ("start", 3.4, 2, "", true),
            ("end", 9.2, 1, "cleared", true),
            ("end", 9.2, 2, "cleared", true),
        ],
    );
    assert_eq!(ev[0].measures.to_json()["weaving_vehicles"], 2);
    assert_ne!(ev[0].incident, ev[1].incident);

    // The second starts 1.2 s later: the first incident gets a `racing` update.
    let zz2 = zigzag(2.7, 6, 0.6, 60.0);
    let b = Vehicle::on_road(2, (40.0, 250.0), 0.0, 100.0, (0.0, 8.0), &zz2);
    scenario(vec![a, b], 12.0, 5.0).expect(
        "two weavers, staggered",
        &[
            ("start", 3.4, 1, "", false),
            ("update", 4.6, 1, "racing", true),
            ("start", 4.6, 2, "", true),
            ("end", 9.2, 1, "cleared", true),
            // Last active at 7.0 s (it leaves the zone), the first one no longer weaving.
            ("end", 10.0, 2, "cleared", false),
        ],
    );
}

#[test]
fn racing_needs_two_weavers_not_just_two_vehicles() {
    let weaver = rider(1, 0.0, 7.0, &zigzag(1.5, 6, 0.6, 60.0));
    let straight = Vehicle::on_road(2, (40.0, 250.0), 0.0, 100.0, (0.0, 7.0), &[]);
    scenario(vec![weaver, straight], 10.0, 5.0).expect(
        "a weaver and a straight rider",
        &[
            ("start", 3.4, 1, "", false),
            ("end", 9.2, 1, "cleared", false),
        ],
    );
}

#[test]
fn fast_straight_rider_nothing() {
    for fps in fps_both() {
        let across = Vehicle::on_road(1, (10.0, 400.0), 0.0, 250.0, (0.0, 3.0), &[]);
        let diagonal = Vehicle::on_road(2, (10.0, 10.0), 35.0, 300.0, (0.0, 2.3), &[]);
        let towards =
            Vehicle::on_road(3, (380.0, 20.0), 92.0, 180.0, (0.0, 3.0), &[]).size(70.0, 60.0);
        scenario(vec![across, diagonal, towards], 5.0, fps).expect("fast straight riders", &[]);
    }
}

#[test]
fn stationary_vehicle_nothing() {
    let still = Vehicle::on_road(1, (300.0, 400.0), 0.0, 0.0, (0.0, 60.0), &[]).jitter(0.0);
    scenario(vec![still], 60.0, 5.0).expect("stationary", &[]);
}

#[test]
fn parked_car_with_jittery_boxes_nothing() {
    for fps in fps_both() {
        let car = Vehicle::on_road(1, (300.0, 450.0), 0.0, 0.0, (0.0, 60.0), &[]).size(120.0, 60.0);
        let bike = Vehicle::on_road(2, (600.0, 300.0), 0.0, 0.0, (0.0, 60.0), &[]);
        scenario(vec![car, bike], 60.0, fps).expect("parked, ±3 px", &[]);
    }
    // Jitter far beyond the swing (±15 px on a 50 px bike): reversals may count, but the
    // speed along the track stays near 0.
    let bike = Vehicle::on_road(2, (600.0, 300.0), 0.0, 0.0, (0.0, 60.0), &[]).jitter(15.0);
    scenario(vec![bike], 60.0, 10.0).expect("parked, ±15 px", &[]);
}

#[test]
fn slow_zigzag_below_min_speed_nothing() {
    // 30 px/s = 0.6 box widths/s: someone pushing a bike around, or jitter-level motion.
    let slow = Vehicle::on_road(
        1,
        (200.0, 400.0),
        0.0,
        30.0,
        (0.0, 8.0),
        &zigzag(1.5, 8, 0.6, 60.0),
    );
    scenario(vec![slow], 10.0, 5.0).expect("slow zig-zag", &[]);
    // The same at 75 px/s (1.5 box widths/s) fires.
    let fast = Vehicle::on_road(
        1,
        (200.0, 400.0),
        0.0,
        75.0,
        (0.0, 8.0),
        &zigzag(1.5, 8, 0.6, 60.0),
    );
    // It leaves the zone after 7.37 s: last active 7.2 s.
    scenario(vec![fast], 12.0, 5.0).expect(
        "same zig-zag, 1.5 bw/s",
        &[
            ("start", 3.4, 1, "", false),
            ("end", 10.2, 1, "cleared", false),
        ],
    );
}

#[test]
fn weaving_along_a_diagonal_road_fires() {
    // Down-right at 35°, and towards the camera (nearly vertical, bigger boxes).
    let diag = Vehicle::on_road(
        1,
        (60.0, 60.0),
        35.0,
        110.0,
        (0.0, 6.0),
        &zigzag(1.0, 6, 0.6, 60.0),
    );
    let ev = scenario(vec![diag.clone()], 9.0, 10.0).expect(
        "diagonal weave",
        &[
            ("start", 2.8, 1, "", false),
            ("end", 8.8, 1, "cleared", false),
        ],
    );
    let heading = ev[0].measures.to_json()["heading_deg"].as_f64().unwrap();
    assert!((heading - 35.0).abs() < 5.0, "{heading}");
    let towards = Vehicle::on_road(
        2,
        (380.0, 60.0),
        95.0,
        120.0,
        (0.0, 4.2),
        &zigzag(0.5, 6, 0.6, 80.0),
    )
    .size(70.0, 60.0);
    scenario(vec![towards], 8.0, 5.0).expect(
        "weave towards the camera",
        &[
            ("start", 2.4, 2, "", false),
            ("end", 7.0, 2, "cleared", false),
        ],
    );
    // A lane change on the diagonal road does not.
    let lc = Vehicle::on_road(
        3,
        (60.0, 60.0),
        35.0,
        110.0,
        (0.0, 6.0),
        &[(2.0, 0.0), (3.0, 90.0)],
    );
    scenario(vec![lc], 9.0, 10.0).expect("diagonal lane change", &[]);
}

#[test]
fn weaver_leaving_the_frame_ends() {
    // 150 px/s, weaving from 1 s on; its foot point leaves the zone (x > 752.6) at 4.75 s:
    // last active 4.6 s.
    let v = Vehicle::on_road(
        4,
        (40.0, 400.0),
        0.0,
        150.0,
        (0.0, 6.0),
        &zigzag(1.0, 12, 0.6, 60.0),
    );
    scenario(vec![v], 12.0, 5.0).expect(
        "weaver leaves",
        &[
            ("start", 3.0, 4, "", false),
            ("end", 7.6, 4, "cleared", false),
        ],
    );
}

#[test]
fn weaver_outside_the_zone_nothing() {
    let right_half = [[0.75, 0.0], [1.0, 0.0], [1.0, 1.0], [0.75, 1.0]];
    scenario(
        vec![rider(1, 0.0, 7.0, &zigzag(1.5, 6, 0.6, 60.0))],
        10.0,
        5.0,
    )
    .zone(&right_half)
    .expect("outside the zone", &[]);
}

#[test]
fn irregular_frame_intervals() {
    // 4-7 fps with uneven steps and a 0.7 s hole in the stream.
    let steps = [0.1, 0.35, 0.2, 0.15, 0.3, 0.25, 0.12, 0.18];
    let mut frames = Vec::new();
    let (mut t, mut k) = (0.0, 0);
    while t < 10.0 {
        frames.push(t);
        t += steps[k % steps.len()];
        k += 1;
        if (6.0..6.7).contains(&t) {
            t = 6.7;
        }
    }
    let zz = zigzag(1.5, 6, 0.6, 60.0);
    scenario(vec![rider(7, 0.0, 7.0, &zz)], 10.0, 5.0)
        .frames(frames)
        .expect(
            "irregular frames",
            &[
                ("start", 3.3, 7, "", false),
                ("end", 8.9, 7, "cleared", false),
            ],
        );
}

#[test]
fn coasting_frames_add_no_samples() {
    // The tracker loses the bike for 0.4 s mid-weave and coasts it straight on: the third
    // reversal is confirmed at the next real detection (3.6 s, not 3.4 s), and the window
    // loses the 3.0 s extreme's successors one frame earlier (last active 6.0, not 6.2 s).
    let v = rider(7, 0.0, 7.0, &zigzag(1.5, 6, 0.6, 60.0)).coast(3.2, 3.6);
    scenario(vec![v], 10.0, 5.0).expect(
        "coasting",
        &[
            ("start", 3.6, 7, "", false),
            ("end", 9.0, 7, "cleared", false),
        ],
    );
}

/// 1 px = 2 cm on the ground.
fn scale_ground(p: (f32, f32)) -> (f32, f32) {
    (p.0 * 0.02, p.1 * 0.02)
}

#[test]
fn calibrated_ground_plane_behaves_the_same_in_metres() {
    let p = WeavingParams {
        min_swing: 0.5, // = 25 px
        min_speed: 1.0, // = 50 px/s
        ..Default::default()
    };
    let ev = scenario(
        vec![rider(7, 0.0, 7.0, &zigzag(1.5, 6, 0.6, 60.0))],
        10.0,
        5.0,
    )
    .params(p)
    .ground(scale_ground)
    .expect(
        "calibrated zig-zag",
        &[
            ("start", 3.4, 7, "", false),
            ("end", 9.2, 7, "cleared", false),
        ],
    );
    let m = &ev[0].measures.to_json();
    assert_eq!(m["speed_unit"], "m_per_s");
    assert!((m["speed"].as_f64().unwrap() - 2.0).abs() < 0.1);
    assert_eq!(m["min_swing_m"], 0.5);
    let (sm, spx) = (
        m["peak_swing_m"].as_f64().unwrap(),
        m["peak_swing_px"].as_f64().unwrap(),
    );
    assert!((sm - spx * 0.02).abs() < 0.01, "{sm} m vs {spx} px");
}

#[test]
fn geometry_helpers_are_public() {
    // The building blocks are usable on their own (e.g. for tuning tools).
    let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0 * i as f64)).collect();
    let l = fit_line(&pts).unwrap();
    assert!((l.dir.1 / l.dir.0 - 2.0).abs() < 1e-9);
    assert_eq!(count_reversals(&[0.0, 10.0, 0.0, 10.0], 5.0).reversals, 2);
    let times: Vec<f64> = (0..10).map(|i| i as f64 * 0.2).collect();
    let a = analyse(&pts, &times, 5.0);
    assert_eq!(a.reversals, 0);
    assert!((a.speed.unwrap() - 5f64.sqrt() * 5.0).abs() < 1e-9);
}
