//! Table-driven scenarios: scripted person tracks (40×100 px boxes in a 768×576 frame,
//! 5 fps) → zone filter → gathering rule → debouncer with a schedule, each with its exact
//! expected event sequence.
//!
//! Times are offsets in seconds from the scenario's start (local time in Asia/Ho_Chi_Minh).
//! With default parameters a group standing still from t = 0 becomes "stationary" at 1.0 s
//! (the speed needs 1 s of history), so it starts at 61.0 s; a group last seen (active) at
//! T ends at T + 30 s.

mod support;

use std::collections::BTreeMap;
use std::f32::consts::PI;

use jiff::{SignedDuration, Timestamp, civil::DateTime, tz::TimeZone};
use wardwatch::{
    analytics::debounce::Debouncer,
    analytics::gathering::{GatheringParams, GatheringRule, people_in_zone},
    analytics::schedule::Schedule,
    analytics::zone::Polygon,
    types::{BBox, IncidentEvent, ObjectClass, Phase, RuleKind, Track},
};

const W: u32 = 768;
const H: u32 = 576;
const FPS: f64 = 5.0;
const SITE_TZ: &str = "Asia/Ho_Chi_Minh";

// ---------------------------------------------------------------------------------------
// Scripted people

/// A person following straight segments between keyframes `(t, x, y)` (foot point, px);
/// present for `t` in `[first key, last key)`, except while absent.
#[derive(Clone, Debug)]
struct Actor {
    id: u64,
    keys: Vec<(f64, f32, f32)>,
    absent: Vec<(f64, f64)>,
    /// Detected only on odd frames.
    flicker: bool,
}

impl Actor {
    fn stand(id: u64, x: f32, y: f32, from: f64, to: f64) -> Actor {
        Actor {
            id,
            keys: vec![(from, x, y), (to, x, y)],
            absent: vec![],
            flicker: false,
        }
    }
    /// Walk on to `(x, y)`, arriving at `t`.
    fn to(mut self, t: f64, x: f32, y: f32) -> Actor {
        self.keys.push((t, x, y));
        self
    }
    fn absent(mut self, from: f64, to: f64) -> Actor {
        self.absent.push((from, to));
        self
    }
    fn flicker(mut self) -> Actor {
        self.flicker = true;
        self
    }
    fn at(&self, t: f64, frame: i64) -> Option<(f32, f32)> {
        let (first, last) = (self.keys[0].0, self.keys[self.keys.len() - 1].0);
        if t < first - 1e-9 || t >= last - 1e-9 {
            return None;
        }
        if self
            .absent
            .iter()
            .any(|&(a, b)| t >= a - 1e-9 && t < b - 1e-9)
        {
            return None;
        }
        if self.flicker && frame % 2 == 0 {
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
}

/// `n` people standing on a circle of radius 35 px around `(cx, cy)` (all pairwise
/// closer than one body height), ids from `first`, present `[from, to)`.
fn group(first: u64, n: usize, (cx, cy): (f32, f32), from: f64, to: f64) -> Vec<Actor> {
    (0..n)
        .map(|i| {
            let (x, y) = circle(i, n, cx, cy, 35.0);
            Actor::stand(first + i as u64, x, y, from, to)
        })
        .collect()
}

/// Like [`group`], but at `to` everyone walks straight away from the centre at 80 px/s
/// for 10 s instead of vanishing.
fn group_dispersing(first: u64, n: usize, c: (f32, f32), from: f64, to: f64) -> Vec<Actor> {
    (0..n)
        .map(|i| {
            let (x, y) = circle(i, n, c.0, c.1, 35.0);
            let (dx, dy) = ((x - c.0) / 35.0, (y - c.1) / 35.0);
            Actor::stand(first + i as u64, x, y, from, to).to(
                to + 10.0,
                x + 800.0 * dx,
                y + 800.0 * dy,
            )
        })
        .collect()
}

fn circle(i: usize, n: usize, cx: f32, cy: f32, r: f32) -> (f32, f32) {
    let a = 2.0 * PI * i as f32 / n as f32 + PI / 4.0;
    (cx + r * a.cos(), cy + r * a.sin())
}

/// Three people side by side walking from `x0` to `x1` at `y`, `speed` px/s, from `t0`.
fn trio_walking(first: u64, x0: f32, x1: f32, y: f32, speed: f32, t0: f64) -> Vec<Actor> {
    let t1 = t0 + ((x1 - x0).abs() / speed) as f64;
    [(0.0, 0.0), (45.0, 0.0), (20.0, 40.0)]
        .iter()
        .enumerate()
        .map(|(i, &(dx, dy))| {
            Actor::stand(first + i as u64, x0 + dx, y + dy, t0, t0).to(t1, x1 + dx, y + dy)
        })
        .collect()
}

/// Deterministic ±1.5 px detector jitter.
fn jitter(id: u64, frame: i64) -> (f32, f32) {
    let a = ((id as i64 * 7 + frame * 13).rem_euclid(11)) as f32;
    let b = ((id as i64 * 5 + frame * 17).rem_euclid(13)) as f32;
    (a * 0.3 - 1.5, b * 0.25 - 1.5)
}

fn track(id: u64, (x, y): (f32, f32), ts: Timestamp) -> Track {
    Track {
        id,
        bbox: BBox::new(x - 20.0, y - 100.0, x + 20.0, y),
        class: ObjectClass::Person,
        label: 0,
        score: 0.8,
        velocity: (0.0, 0.0),
        confirmed: true,
        matched: true,
        first_seen: ts,
        last_seen: ts,
    }
}

// ---------------------------------------------------------------------------------------
// Scenario runner

/// Pixels → ground-plane metres.
type GroundFn = fn((f32, f32)) -> (f32, f32);

struct Scenario {
    /// Local start time in the site's zone.
    start: &'static str,
    schedule: Vec<&'static str>,
    params: GatheringParams,
    zone: Vec<[f64; 2]>,
    /// Pixels → metres.
    ground: Option<GroundFn>,
    actors: Vec<Actor>,
    duration_s: f64,
}

fn scenario(actors: Vec<Actor>, duration_s: f64) -> Scenario {
    Scenario {
        start: "2026-11-26T23:10:00", // a Thursday, inside curfew
        schedule: vec!["22:00-05:00"],
        params: GatheringParams::default(),
        zone: vec![[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]],
        ground: None,
        actors,
        duration_s,
    }
}

impl Scenario {
    fn at(mut self, start: &'static str) -> Self {
        self.start = start;
        self
    }
    fn schedule(mut self, w: &[&'static str]) -> Self {
        self.schedule = w.to_vec();
        self
    }
    fn zone(mut self, z: &[[f64; 2]]) -> Self {
        self.zone = z.to_vec();
        self
    }
    fn params(mut self, p: GatheringParams) -> Self {
        self.params = p;
        self
    }
    fn ground(mut self, g: GroundFn) -> Self {
        self.ground = Some(g);
        self
    }
    fn t0(&self) -> Timestamp {
        let dt: DateTime = self.start.parse().unwrap();
        dt.to_zoned(TimeZone::get(SITE_TZ).unwrap())
            .unwrap()
            .timestamp()
    }

    /// Every event, ending with `finish(.., "shutdown")` at the end of the script.
    fn run(&self) -> Vec<IncidentEvent> {
        let tz = TimeZone::get(SITE_TZ).unwrap();
        let windows: Vec<String> = self.schedule.iter().map(|s| s.to_string()).collect();
        let schedule = Schedule::parse(&windows, tz).unwrap();
        let zone = Polygon::new(self.zone.clone()).unwrap();
        let mut rule = GatheringRule::new(self.params);
        let mut debouncer =
            Debouncer::new("park-gate", RuleKind::Gathering, self.params.debounce());
        let t0 = self.t0();
        let frames = (self.duration_s * FPS).round() as i64;
        let mut events = Vec::new();
        let mut ts = t0;
        for k in 0..frames {
            let t = k as f64 / FPS;
            ts = t0 + SignedDuration::from_millis(k * (1000.0 / FPS) as i64);
            let tracks: Vec<Track> = self
                .actors
                .iter()
                .filter_map(|a| {
                    let (x, y) = a.at(t, k)?;
                    let (jx, jy) = jitter(a.id, k);
                    Some(track(a.id, (x + jx, y + jy), ts))
                })
                .collect();
            let people = people_in_zone(&tracks, &zone, W, H);
            let ground = self
                .ground
                .as_ref()
                .map(|g| g as &dyn Fn((f32, f32)) -> (f32, f32));
            let obs = rule.observe(ts, &people, ground);
            events.extend(debouncer.step(ts, schedule.is_active(ts), &obs));
        }
        events.extend(debouncer.finish(ts, "shutdown"));
        assert_eq!(debouncer.active_count(), 0);
        check_invariants(&events);
        events
    }

    /// Runs and compares with `(phase, t_offset_s, people, reason)`; `reason` is the end
    /// reason or the update reason ("" for a start).
    fn expect(&self, name: &str, expected: &[(&str, f64, usize, &str)]) -> Vec<IncidentEvent> {
        let events = self.run();
        let t0 = self.t0();
        let got: Vec<(String, f64, usize, String)> = events
            .iter()
            .map(|e| {
                let phase = serde_json::to_value(e.phase)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string();
                let t = (e.at.duration_since(t0).as_secs_f64() * 10.0).round() / 10.0;
                let why = e
                    .reason
                    .clone()
                    .or(e.update_reason.clone())
                    .unwrap_or_default();
                (phase, t, e.people, why)
            })
            .collect();
        let want: Vec<(String, f64, usize, String)> = expected
            .iter()
            .map(|&(p, t, n, r)| (p.to_string(), t, n, r.to_string()))
            .collect();
        assert_eq!(got, want, "scenario: {name}");
        events
    }
}

/// Per incident: seq 0, 1, 2...; exactly one start, first; at most one end, last;
/// started_at ≤ at; incidents numbered in order of their starts.
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
        assert_eq!(e.zone, "park-gate");
        assert_eq!(e.rule, RuleKind::Gathering);
        assert!(e.started_at <= e.at);
        assert!(e.peak_people >= e.people);
        assert_eq!(e.track_ids.len(), e.people);
        assert_eq!(e.reason.is_some(), e.phase == Phase::End);
        assert_eq!(e.update_reason.is_some(), e.phase == Phase::Update);
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
            if i > 0 {
                assert_ne!(e.phase, Phase::Start, "incident {id}: second start");
            }
            if e.phase == Phase::End {
                assert_eq!(i, evs.len() - 1, "incident {id}: event after end");
            }
        }
    }
}

fn cat(parts: Vec<Vec<Actor>>) -> Vec<Actor> {
    parts.into_iter().flatten().collect()
}

/// 1 px = 1.7 cm: a 100 px person is 1.7 m tall.
fn scale_ground(p: (f32, f32)) -> (f32, f32) {
    (p.0 * 0.017, p.1 * 0.017)
}

fn calibrated() -> GatheringParams {
    GatheringParams {
        link_distance: 1.7, // = 1.0 × 100 px
        max_speed: 0.51,    // = 0.3 × 100 px/s
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// The table

#[test]
fn group_of_four_forms_stays_90s_dissolves() {
    // They walk apart at 90 s; links break after 0.4 s, so last active 90.4 → end 120.4.
    scenario(group_dispersing(1, 4, (380.0, 400.0), 0.0, 90.0), 150.0).expect(
        "group of 4, 90 s",
        &[("start", 61.0, 4, ""), ("end", 120.4, 4, "cleared")],
    );
}

#[test]
fn start_event_fields() {
    let s = scenario(group(1, 4, (380.0, 400.0), 0.0, 90.0), 150.0);
    let ev = s.run();
    let start = &ev[0];
    assert_eq!(start.incident, 1);
    assert_eq!(start.started_at, s.t0() + SignedDuration::from_secs(1));
    assert_eq!(start.track_ids, vec![1, 2, 3, 4]);
    assert_eq!(start.peak_people, 4);
    assert!(start.hull.len() >= 4);
    let m = &start.measures.to_json();
    assert!(m["speed"].as_f64().unwrap() < 0.05);
    assert_eq!(m["speed_unit"], "body_heights_per_s");
    assert_eq!(m["link_distance_px"], serde_json::json!(100.0));
    assert!((m["spread_px"].as_f64().unwrap() - 70.0).abs() < 5.0);
    assert_eq!(m["held_s"], serde_json::json!(60.0));
    assert!((ev[1].duration_s() - 118.8).abs() < 1e-9);
}

#[test]
fn three_people_walking_past() {
    // 0.8 body-heights/s: normal walking.
    scenario(trio_walking(1, 20.0, 700.0, 400.0, 80.0, 5.0), 60.0).expect("walk past", &[]);
    // A slow stroll, 0.4 body-heights/s, still moving.
    scenario(trio_walking(1, 700.0, 20.0, 300.0, 40.0, 5.0), 60.0).expect("stroll past", &[]);
    // Walking slowly back and forth across the frame for 3 minutes.
    let mut pacing = trio_walking(1, 40.0, 680.0, 300.0, 40.0, 0.0);
    for a in &mut pacing {
        let (x0, y) = (a.keys[0].1, a.keys[0].2);
        let x1 = a.keys[a.keys.len() - 1].1;
        for leg in 1..12 {
            let x = if leg % 2 == 1 { x0 } else { x1 };
            *a = a.clone().to(16.0 * (leg + 1) as f64, x, y);
        }
    }
    scenario(pacing, 200.0).expect("pacing", &[]);
}

#[test]
fn member_drops_out_for_3s() {
    // A group of 3: while one is missing only 2 remain (not a group), bridged by grace.
    let mut actors = group(1, 3, (380.0, 400.0), 0.0, 120.0);
    actors[2] = actors[2].clone().absent(30.0, 33.0).absent(70.0, 73.0);
    scenario(actors, 200.0).expect(
        "member of 3 drops out",
        &[("start", 61.0, 3, ""), ("end", 149.8, 3, "cleared")],
    );
    // A group of 4: the count dips to 3 for 3 s, too short to publish.
    let mut actors = group(1, 4, (380.0, 400.0), 0.0, 120.0);
    actors[3] = actors[3].clone().absent(70.0, 73.0);
    scenario(actors, 200.0).expect(
        "member of 4 drops out",
        &[("start", 61.0, 4, ""), ("end", 149.8, 4, "cleared")],
    );
}

#[test]
fn group_grows_from_3_to_6() {
    // Three more walk in side by side (75 px/s) from the right, link at 83.4 s, stop at 84 s.
    let mut actors = group(1, 3, (300.0, 400.0), 0.0, 140.0);
    for (i, (x, y)) in [(380.0, 380.0), (380.0, 425.0), (415.0, 402.0)]
        .into_iter()
        .enumerate()
    {
        actors.push(
            Actor::stand(4 + i as u64, x + 300.0, y, 80.0, 80.0)
                .to(84.0, x, y)
                .to(140.0, x, y),
        );
    }
    let ev = scenario(actors, 200.0).expect(
        "grows 3→6",
        &[
            ("start", 61.0, 3, ""),
            ("update", 88.4, 6, "count_changed"),
            ("end", 169.8, 6, "cleared"),
        ],
    );
    assert_eq!(ev[1].track_ids, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(ev[2].peak_people, 6);
}

#[test]
fn schedule_closes_mid_event() {
    // Curfew ends at 05:00 = 150 s after 04:57:30.
    let ev = scenario(group(1, 4, (380.0, 400.0), 0.0, 400.0), 400.0)
        .at("2026-11-27T04:57:30")
        .expect(
            "schedule closes",
            &[
                ("start", 61.0, 4, ""),
                ("update", 121.0, 4, "periodic"),
                ("end", 150.0, 4, "schedule_closed"),
            ],
        );
    assert_eq!(
        ev[2]
            .at
            .to_zoned(TimeZone::get(SITE_TZ).unwrap())
            .time()
            .to_string(),
        "05:00:00"
    );
}

#[test]
fn window_crossing_midnight() {
    // 23:58–00:03, Thursday night, with a Thursday-only window.
    scenario(group(1, 3, (380.0, 400.0), 0.0, 300.0), 360.0)
        .at("2026-11-26T23:58:00")
        .schedule(&["thu 22:00-05:00"])
        .expect(
            "across midnight",
            &[
                ("start", 61.0, 3, ""),
                ("update", 121.0, 3, "periodic"),
                ("update", 181.0, 3, "periodic"),
                ("update", 241.0, 3, "periodic"),
                ("end", 329.8, 3, "cleared"),
            ],
        );
}

#[test]
fn before_curfew_nothing() {
    scenario(group(1, 4, (380.0, 400.0), 0.0, 90.0), 150.0)
        .at("2026-11-26T21:00:00")
        .expect("21:00", &[]);
    // A window for other days only.
    scenario(group(1, 4, (380.0, 400.0), 0.0, 90.0), 150.0)
        .schedule(&["fri,sat 21:00-06:00"])
        .expect("thursday, fri/sat window", &[]);
}

#[test]
fn group_already_there_when_curfew_begins() {
    // From 21:59:00; the schedule opens at 22:00:00 (60 s); the hold starts then.
    let ev = scenario(group(1, 4, (380.0, 400.0), 0.0, 150.0), 200.0)
        .at("2026-11-26T21:59:00")
        .expect(
            "curfew begins",
            &[("start", 120.0, 4, ""), ("end", 179.8, 4, "cleared")],
        );
    assert_eq!(
        ev[0].started_at.duration_since(ev[0].at),
        SignedDuration::from_secs(-60)
    );
}

#[test]
fn two_separate_groups_two_incidents() {
    let actors = cat(vec![
        group(1, 4, (200.0, 400.0), 0.0, 90.0),
        group(11, 3, (560.0, 300.0), 0.0, 90.0),
    ]);
    let ev = scenario(actors, 150.0).expect(
        "two groups",
        &[
            ("start", 61.0, 4, ""),
            ("start", 61.0, 3, ""),
            ("end", 119.8, 4, "cleared"),
            ("end", 119.8, 3, "cleared"),
        ],
    );
    let ids: Vec<u64> = ev.iter().map(|e| e.incident).collect();
    assert_eq!(ids, vec![1, 2, 1, 2]);
    assert_eq!(ev[1].track_ids, vec![11, 12, 13]);
}

#[test]
fn cooldown() {
    let first = || group(1, 3, (380.0, 400.0), 0.0, 90.0);
    // Reforms at 130 s, would have held 60 s at 191 s, but the cooldown runs to 239.8 s
    // and they leave at 210 s.
    scenario(
        cat(vec![first(), group(11, 3, (380.0, 400.0), 130.0, 210.0)]),
        300.0,
    )
    .expect(
        "reforms within cooldown",
        &[("start", 61.0, 3, ""), ("end", 119.8, 3, "cleared")],
    );
    // Reforms within the cooldown and stays: starts as soon as the cooldown is over.
    let ev = scenario(
        cat(vec![first(), group(11, 3, (380.0, 400.0), 130.0, 300.0)]),
        290.0,
    )
    .expect(
        "reforms within cooldown, stays",
        &[
            ("start", 61.0, 3, ""),
            ("end", 119.8, 3, "cleared"),
            ("start", 239.8, 3, ""),
            ("end", 289.8, 3, "shutdown"),
        ],
    );
    assert_eq!(ev[2].incident, 2);
    // Reforms after the cooldown: a second incident, 61 s after it reforms.
    scenario(
        cat(vec![first(), group(11, 3, (380.0, 400.0), 260.0, 350.0)]),
        400.0,
    )
    .expect(
        "reforms after cooldown",
        &[
            ("start", 61.0, 3, ""),
            ("end", 119.8, 3, "cleared"),
            ("start", 321.0, 3, ""),
            ("end", 379.8, 3, "cleared"),
        ],
    );
}

#[test]
fn two_people_are_not_a_group() {
    scenario(group(1, 2, (380.0, 400.0), 0.0, 150.0), 200.0).expect("two people", &[]);
    // Unless the zone asks for 2.
    scenario(group(1, 2, (380.0, 400.0), 0.0, 90.0), 150.0)
        .params(GatheringParams {
            min_people: 2,
            ..Default::default()
        })
        .expect(
            "two people, min 2",
            &[("start", 61.0, 2, ""), ("end", 119.8, 2, "cleared")],
        );
}

#[test]
fn people_just_outside_the_zone() {
    // Zone: left half (x ≤ 384 px). Foot points at x ≥ 390, boxes overlapping the zone.
    let half = [[0.02, 0.02], [0.5, 0.02], [0.5, 0.98], [0.02, 0.98]];
    scenario(group(1, 4, (428.0, 400.0), 0.0, 120.0), 200.0)
        .zone(&half)
        .expect("outside", &[]);
    // The same group 100 px to the left is inside.
    scenario(group(1, 4, (328.0, 400.0), 0.0, 90.0), 150.0)
        .zone(&half)
        .expect(
            "inside",
            &[("start", 61.0, 4, ""), ("end", 119.8, 4, "cleared")],
        );
}

#[test]
fn periodic_updates_on_a_long_gathering() {
    scenario(group(1, 5, (380.0, 400.0), 0.0, 250.0), 300.0).expect(
        "long gathering",
        &[
            ("start", 61.0, 5, ""),
            ("update", 121.0, 5, "periodic"),
            ("update", 181.0, 5, "periodic"),
            ("update", 241.0, 5, "periodic"),
            ("end", 279.8, 5, "cleared"),
        ],
    );
}

#[test]
fn people_spread_apart_are_not_linked() {
    // 150 px apart = 1.5 body heights.
    let actors = (0..4)
        .map(|i| Actor::stand(i + 1, 150.0 + 150.0 * i as f32, 400.0, 0.0, 150.0))
        .collect();
    scenario(actors, 200.0).expect("spread apart", &[]);
}

#[test]
fn short_gathering_nothing() {
    scenario(group(1, 4, (380.0, 400.0), 0.0, 40.0), 120.0).expect("40 s", &[]);
}

#[test]
fn flickering_count_does_not_spam_updates() {
    // The 4th person is detected only on odd frames: 4,3,4,3... for 150 s.
    let mut actors = group(1, 4, (380.0, 400.0), 0.0, 150.0);
    actors[3] = actors[3].clone().flicker();
    scenario(actors, 200.0).expect(
        "flicker",
        &[
            ("start", 61.0, 4, ""),
            ("update", 121.0, 4, "periodic"),
            ("end", 179.8, 4, "cleared"),
        ],
    );
}

#[test]
fn passer_by_brushing_the_group_is_no_update() {
    // Walks past 60 px below the group at 80 px/s: linked for about 2 s.
    let actors = cat(vec![
        group(1, 3, (380.0, 300.0), 0.0, 120.0),
        vec![Actor::stand(9, 40.0, 395.0, 70.0, 70.0).to(79.0, 760.0, 395.0)],
    ]);
    scenario(actors, 200.0).expect(
        "passer-by",
        &[("start", 61.0, 3, ""), ("end", 149.8, 3, "cleared")],
    );
}

#[test]
fn calibrated_ground_plane_behaves_the_same_in_metres() {
    let ev = scenario(group_dispersing(1, 4, (380.0, 400.0), 0.0, 90.0), 150.0)
        .params(calibrated())
        .ground(scale_ground)
        .expect(
            "calibrated group of 4",
            &[("start", 61.0, 4, ""), ("end", 120.4, 4, "cleared")],
        );
    let m = &ev[0].measures.to_json();
    assert_eq!(m["speed_unit"], "m_per_s");
    assert_eq!(m["link_distance_m"], serde_json::json!(1.7));
    assert!((m["spread_m"].as_f64().unwrap() - 1.19).abs() < 0.1);
    scenario(trio_walking(1, 20.0, 700.0, 400.0, 80.0, 5.0), 60.0)
        .params(calibrated())
        .ground(scale_ground)
        .expect("calibrated walk past", &[]);
    let apart = (0..4)
        .map(|i| Actor::stand(i + 1, 150.0 + 150.0 * i as f32, 400.0, 0.0, 150.0))
        .collect();
    scenario(apart, 200.0)
        .params(calibrated())
        .ground(scale_ground)
        .expect("calibrated spread apart", &[]);
    // With calibration the link is fixed in metres: the same 100 px apart is linked
    // at 2.0 m but not at 1.5 m, whatever the box size.
    let row = |d: f32| {
        (0..3)
            .map(move |i| Actor::stand(i + 1, 200.0 + d * i as f32, 400.0, 0.0, 90.0))
            .collect()
    };
    scenario(row(100.0), 150.0)
        .params(GatheringParams {
            link_distance: 2.0,
            ..calibrated()
        })
        .ground(scale_ground)
        .expect(
            "100 px = 1.7 m < 2.0 m",
            &[("start", 61.0, 3, ""), ("end", 119.8, 3, "cleared")],
        );
    scenario(row(100.0), 150.0)
        .params(GatheringParams {
            link_distance: 1.5,
            ..calibrated()
        })
        .ground(scale_ground)
        .expect("100 px = 1.7 m > 1.5 m", &[]);
}
