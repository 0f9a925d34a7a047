//! One camera's analytics: detections → tracker → zone membership → rules → debouncer →
//! a [`FrameReport`]. Plain data in and out; no I/O, no clocks, no images.

use jiff::Timestamp;

use crate::analytics::debounce::Debouncer;
use crate::analytics::explain::{
    Explanation, GatheringView, GroupView, VehicleView, Verdict, WeavingView, ZoneView,
};
use crate::analytics::filter::ObjectFilter;
use crate::analytics::gathering::{GatheringParams, GatheringRule};
use crate::analytics::ground::Homography;
use crate::analytics::loitering::{LoiteringParams, LoiteringRule};
use crate::analytics::rules::Observation;
use crate::analytics::rules::{GroundMap, Rule};
use crate::analytics::schedule::Schedule;
use crate::analytics::weaving::{WeavingParams, WeavingRule};
use crate::analytics::zone::Polygon;
use crate::track::{Tracker, TrackerConfig};
use crate::types::{
    Detections, FrameReport, IncidentEvent, Measures, RuleKind, SpeedUnit, Track, ZoneCount, secs,
};

/// One zone: where, when, and which rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneSettings {
    pub id: String,
    pub polygon: Polygon,
    pub schedule: Schedule,
    /// The schedule as written, for logs and drawings.
    pub schedule_text: Vec<String>,
    pub gathering: Option<GatheringParams>,
    pub weaving: Option<WeavingParams>,
    pub loitering: Option<LoiteringParams>,
    /// Which of the camera's confirmed tracks count in this zone (the default: all).
    pub filter: ObjectFilter,
}

/// Everything one camera's analytics needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsSettings {
    pub camera_id: String,
    /// Ground-plane calibration: rule distances and speeds are in metres when present.
    pub calibration: Option<Homography>,
    pub tracker: TrackerConfig,
    /// Detections it drops never reach the tracker (camera-wide object filters and masks).
    pub filter: ObjectFilter,
    pub zones: Vec<ZoneSettings>,
}

struct ZoneRuntime {
    settings: ZoneSettings,
    rules: Vec<(Box<dyn Rule>, Debouncer)>,
    /// Confirmed tracks whose foot point is inside the zone (reused buffer).
    inside: Vec<Track>,
    /// Confirmed people inside after the last step.
    people: usize,
}

impl ZoneRuntime {
    fn new(z: ZoneSettings) -> Self {
        let mut rules: Vec<(Box<dyn Rule>, Debouncer)> = Vec::new();
        if let Some(p) = z.gathering {
            let d = Debouncer::new(&z.id, crate::types::RuleKind::Gathering, p.debounce());
            rules.push((Box::new(GatheringRule::new(p)), d));
        }
        if let Some(p) = z.weaving {
            rules.push((Box::new(WeavingRule::new(p)), p.debouncer(&z.id)));
        }
        if let Some(p) = z.loitering {
            let d = Debouncer::new(&z.id, crate::types::RuleKind::Loitering, p.debounce());
            rules.push((Box::new(LoiteringRule::new(p)), d));
        }
        Self {
            settings: z,
            rules,
            inside: Vec::new(),
            people: 0,
        }
    }
}

pub struct CameraAnalytics {
    camera_id: String,
    calibration: Option<Homography>,
    filter: ObjectFilter,
    tracker: Tracker,
    zones: Vec<ZoneRuntime>,
    /// Rule tracks of one class inside one zone (reused buffer).
    of_class: Vec<Track>,
    /// The detections the camera's filter kept (reused buffer).
    kept: Vec<crate::types::Detection>,
    /// What the last step saw, when explaining (tuning aids); `None`: not recorded.
    explain: Option<Explanation>,
}

impl CameraAnalytics {
    pub fn new(s: AnalyticsSettings) -> Self {
        Self {
            camera_id: s.camera_id,
            calibration: s.calibration,
            filter: s.filter,
            tracker: Tracker::new(s.tracker),
            zones: s.zones.into_iter().map(ZoneRuntime::new).collect(),
            of_class: Vec::new(),
            kept: Vec::new(),
            explain: None,
        }
    }

    /// Record an [`Explanation`] of every step from now on (`replay --annotate` and
    /// `--explain`); off by default, and free while off.
    pub fn set_explain(&mut self, on: bool) {
        self.explain = on.then(Explanation::default);
        for z in self.zones.iter_mut() {
            for (rule, _) in z.rules.iter_mut() {
                rule.set_explain(on);
            }
        }
    }

    /// What the last step saw, when explaining.
    pub fn explanation(&self) -> Option<&Explanation> {
        self.explain.as_ref()
    }

    pub fn camera_id(&self) -> &str {
        &self.camera_id
    }

    /// Analyse one frame's detections.
    pub fn step(&mut self, dets: &Detections) -> FrameReport {
        let incidents = self.step_incidents(dets.meta.ts, dets.meta.size, &dets.items);
        FrameReport {
            meta: dets.meta.clone(),
            tracks: self.tracker.tracks().to_vec(),
            zone_counts: self.zone_counts(),
            incidents,
        }
    }

    /// Analyse one frame's detections taken at `ts`; only the incident events.
    pub fn step_incidents(
        &mut self,
        ts: Timestamp,
        frame_size: (u32, u32),
        detections: &[crate::types::Detection],
    ) -> Vec<IncidentEvent> {
        self.tracker.set_frame_size(frame_size);
        let detections = if self.filter.is_open() {
            detections
        } else {
            let (w, h) = frame_size;
            self.kept.clear();
            self.kept.extend(
                detections
                    .iter()
                    .filter(|d| self.filter.keeps(d.class, d.score, &d.bbox, w, h)),
            );
            &self.kept
        };
        let tracks = self.tracker.update(ts, detections);
        let calibration = self.calibration;
        let to_metres = move |p: (f32, f32)| {
            calibration.map_or(p, |h| h.apply_px(p, frame_size.0, frame_size.1))
        };
        let ground: Option<GroundMap<'_>> = calibration.is_some().then_some(&to_metres as _);
        let mut out = Vec::new();
        if let Some(ex) = self.explain.as_mut() {
            ex.ts = ts;
            ex.frame_size = frame_size;
            ex.zones.resize_with(self.zones.len(), ZoneView::default);
        }
        for (zi, zone) in self.zones.iter_mut().enumerate() {
            zone.inside.clear();
            zone.inside.extend(
                tracks
                    .iter()
                    .filter(|t| {
                        t.confirmed
                            && zone.settings.polygon.contains_px(
                                t.bbox.bottom_center(),
                                frame_size.0,
                                frame_size.1,
                            )
                            && (zone.settings.filter.is_open()
                                || zone.settings.filter.keeps(
                                    t.class,
                                    t.score,
                                    &t.bbox,
                                    frame_size.0,
                                    frame_size.1,
                                ))
                    })
                    .cloned(),
            );
            zone.people = zone
                .inside
                .iter()
                .filter(|t| t.class == crate::types::ObjectClass::Person)
                .count();
            let open = zone.settings.schedule.is_active(ts);
            let mut view = self.explain.as_mut().map(|ex| &mut ex.zones[zi]);
            if let Some(v) = view.as_deref_mut() {
                v.clear_frame();
                v.id.clone_from(&zone.settings.id);
                v.polygon.clear();
                v.polygon.extend_from_slice(zone.settings.polygon.points());
                v.schedule.clone_from(&zone.settings.schedule_text);
                v.open = open;
                v.members.extend(zone.inside.iter().map(|t| t.id));
                v.members.sort_unstable();
                v.people = zone.people;
                if zone.settings.gathering.is_none() {
                    v.gathering = None;
                }
                if zone.settings.weaving.is_none() {
                    v.weaving = None;
                }
            }
            for (rule, debouncer) in zone.rules.iter_mut() {
                let obs = if open {
                    self.of_class.clear();
                    let class = rule.class();
                    self.of_class
                        .extend(zone.inside.iter().filter(|t| t.class == class).cloned());
                    rule.observe(ts, &self.of_class, ground)
                } else {
                    Vec::new()
                };
                out.extend(debouncer.step(ts, open, &obs));
                if let Some(v) = view.as_deref_mut() {
                    let calibrated = calibration.is_some();
                    explain_rule(
                        v,
                        &zone.settings,
                        rule.as_ref(),
                        debouncer,
                        &obs,
                        ts,
                        calibrated,
                    );
                }
            }
        }
        out
    }

    /// End every active incident (end of a replay, shutdown, config reload).
    pub fn finish(&mut self, ts: Timestamp, reason: &str) -> Vec<IncidentEvent> {
        let mut out = Vec::new();
        for zone in self.zones.iter_mut() {
            for (_, debouncer) in zone.rules.iter_mut() {
                out.extend(debouncer.finish(ts, reason));
            }
        }
        out
    }

    /// Swap in new settings without losing what did not change: zones whose settings are
    /// equal keep their rule state and open incidents; changed or removed zones end their
    /// incidents with `reason` (returned); new zones start fresh. The tracker is kept when
    /// its settings are equal, so track ids carry on. A new camera filter applies from the
    /// next frame; tracks it no longer feeds coast and end as usual.
    pub fn reconfigure(
        &mut self,
        s: AnalyticsSettings,
        ts: Timestamp,
        reason: &str,
    ) -> Vec<IncidentEvent> {
        let mut out = Vec::new();
        let mut old: Vec<ZoneRuntime> = std::mem::take(&mut self.zones);
        let tracker_same = self.tracker.config() == &s.tracker && self.calibration == s.calibration;
        for z in s.zones {
            let kept = old
                .iter()
                .position(|o| o.settings == z && tracker_same)
                .map(|i| old.remove(i));
            self.zones.push(kept.unwrap_or_else(|| ZoneRuntime::new(z)));
        }
        for mut gone in old {
            for (_, debouncer) in gone.rules.iter_mut() {
                out.extend(debouncer.finish(ts, reason));
            }
        }
        if !tracker_same {
            self.tracker = Tracker::new(s.tracker);
            self.calibration = s.calibration;
        }
        self.filter = s.filter;
        self.camera_id = s.camera_id;
        out
    }

    /// Tracks after the last `step`.
    pub fn tracks(&self) -> &[Track] {
        self.tracker.tracks()
    }

    /// Confirmed people inside each zone after the last step.
    pub fn zone_counts(&self) -> Vec<ZoneCount> {
        self.zones
            .iter()
            .map(|z| ZoneCount {
                zone: z.settings.id.clone(),
                people: z.people,
            })
            .collect()
    }

    pub fn active_incidents(&self) -> usize {
        self.zones
            .iter()
            .flat_map(|z| z.rules.iter())
            .map(|(_, d)| d.active_count())
            .sum()
    }
}

/// Adds what one rule saw in this frame to its zone's view.
fn explain_rule(
    v: &mut ZoneView,
    settings: &ZoneSettings,
    rule: &dyn Rule,
    debouncer: &Debouncer,
    obs: &[Observation],
    ts: Timestamp,
    calibrated: bool,
) {
    let notes = rule.notes();
    let cooldown = debouncer.cooldown_left_s(ts);
    match (rule.kind(), settings.gathering, settings.weaving) {
        (RuleKind::Gathering, Some(p), _) => {
            let g = v.gathering.get_or_insert_with(GatheringView::default);
            g.min_people = p.min_people;
            g.max_speed = crate::analytics::rules::round3(p.max_speed as f64);
            g.min_duration_s = p.min_duration_s;
            g.speed_unit = if calibrated {
                SpeedUnit::MPerS
            } else {
                SpeedUnit::BodyHeightsPerS
            };
            if let Some(n) = notes {
                g.links.extend_from_slice(&n.links);
                g.small_groups.extend(n.small_groups.iter().cloned());
            }
            for o in obs {
                let Measures::Gathering(m) = &o.measures else {
                    continue;
                };
                let st = debouncer.status(o.key, ts);
                let verdict = if o.people < p.min_people {
                    Verdict::TooFew {
                        people: o.people,
                        min: p.min_people,
                    }
                } else if !o.active {
                    match m.speed {
                        None => Verdict::SpeedUnknown,
                        Some(speed) => Verdict::Moving {
                            speed,
                            max: g.max_speed,
                            unit: g.speed_unit,
                        },
                    }
                } else {
                    Verdict::holding(st.held_s, p.min_duration_s, st.incident.is_some(), cooldown)
                };
                g.groups.push(GroupView {
                    key: o.key,
                    track_ids: o.track_ids.clone(),
                    people: o.people,
                    occluded: m.occluded,
                    hull: o.hull.clone(),
                    speed: m.speed,
                    held_s: st.held_s,
                    verdict,
                    incident: st.incident.map(|(id, since)| (id, secs(ts, since))),
                });
            }
        }
        (RuleKind::Weaving, _, Some(p)) => {
            let w = v.weaving.get_or_insert_with(WeavingView::default);
            w.min_reversals = p.min_reversals;
            w.min_speed = crate::analytics::rules::round3(p.min_speed as f64);
            w.min_duration_s = p.min_duration_s;
            w.speed_unit = if calibrated {
                SpeedUnit::MPerS
            } else {
                SpeedUnit::BoxWidthsPerS
            };
            for o in obs {
                let Measures::Weaving(m) = &o.measures else {
                    continue;
                };
                let st = debouncer.status(o.key, ts);
                let samples = o.hull.len();
                let evaluated = samples >= crate::analytics::weaving::MIN_SAMPLES
                    && m.span_s >= crate::analytics::weaving::MIN_SPAN_S - 1e-3;
                let verdict = if o.active {
                    Verdict::holding(st.held_s, p.min_duration_s, st.incident.is_some(), cooldown)
                } else if !evaluated || m.speed.is_none() {
                    Verdict::NotEnoughHistory {
                        samples,
                        span_s: m.span_s,
                    }
                } else if m.speed.is_some_and(|s| s < w.min_speed) {
                    Verdict::TooSlow {
                        speed: m.speed.unwrap_or(0.0),
                        min: w.min_speed,
                        unit: w.speed_unit,
                    }
                } else {
                    Verdict::TooFewReversals {
                        reversals: m.reversals,
                        min: p.min_reversals,
                    }
                };
                let reversal_points = notes
                    .and_then(|n| n.reversals.iter().find(|(k, _)| *k == o.key))
                    .map(|(_, idx)| idx.iter().filter_map(|&i| o.hull.get(i).copied()).collect())
                    .unwrap_or_default();
                w.vehicles.push(VehicleView {
                    track_id: o.key,
                    path: o.hull.clone(),
                    reversal_points,
                    reversals: m.reversals,
                    speed: m.speed,
                    held_s: st.held_s,
                    verdict,
                    incident: st.incident.map(|(id, since)| (id, secs(ts, since))),
                });
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::filter::ClassLimits;
    use crate::analytics::gathering::GatheringParams;
    use crate::types::{BBox, Detection, ObjectClass};
    use jiff::SignedDuration;

    const W: u32 = 1000;
    const H: u32 = 500;

    /// Two people standing still: one at the left (foot at 0.2, 0.8), one at the right
    /// (foot at 0.7, 0.8), 40×100 px each.
    fn people() -> Vec<Detection> {
        [200.0, 700.0]
            .into_iter()
            .map(|x| Detection {
                bbox: BBox {
                    x1: x - 20.0,
                    y1: 300.0,
                    x2: x + 20.0,
                    y2: 400.0,
                },
                score: 0.9,
                class: ObjectClass::Person,
                label: 0,
            })
            .collect()
    }

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon {
        Polygon::new(vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]).unwrap()
    }

    fn settings(camera: ObjectFilter, zone: Option<ObjectFilter>) -> AnalyticsSettings {
        let tz = jiff::tz::TimeZone::UTC;
        let always = vec!["always".to_string()];
        AnalyticsSettings {
            camera_id: "cam".into(),
            calibration: None,
            tracker: TrackerConfig::default(),
            filter: camera,
            zones: vec![ZoneSettings {
                id: "all".into(),
                polygon: Polygon::full_frame(),
                schedule: Schedule::parse(&always, tz).unwrap(),
                schedule_text: always,
                gathering: None,
                weaving: None,
                loitering: None,
                filter: zone.unwrap_or_default(),
            }],
        }
    }

    /// Ten frames at 5 fps; (confirmed tracks, people counted in the zone) after them.
    fn run(a: &mut CameraAnalytics, from: i64) -> (usize, usize) {
        for i in from..from + 10 {
            let ts = Timestamp::from_millisecond(i * 200).unwrap();
            a.step_incidents(ts, (W, H), &people());
        }
        let confirmed = a.tracks().iter().filter(|t| t.confirmed).count();
        (confirmed, a.zone_counts()[0].people)
    }

    fn left_masked() -> ObjectFilter {
        ObjectFilter {
            person: ClassLimits {
                masks: vec![square(0.0, 0.5, 0.5, 1.0)],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn analytics(explain: bool) -> CameraAnalytics {
        let mut a = CameraAnalytics::new(AnalyticsSettings {
            camera_id: "cam".into(),
            calibration: None,
            tracker: TrackerConfig::default(),
            zones: vec![ZoneSettings {
                id: "z".into(),
                polygon: Polygon::full_frame(),
                schedule: Schedule::always(),
                schedule_text: vec!["always".into()],
                gathering: Some(GatheringParams {
                    min_people: 3,
                    min_duration_s: 2.0,
                    ..GatheringParams::default()
                }),
                weaving: None,
                loitering: None,
                filter: ObjectFilter::default(),
            }],
            filter: ObjectFilter::default(),
        });
        a.set_explain(explain);
        a
    }

    fn person(x: f32, y: f32) -> Detection {
        Detection {
            bbox: BBox::new(x - 20.0, y - 100.0, x + 20.0, y),
            score: 0.9,
            class: ObjectClass::Person,
            label: 0,
        }
    }

    #[test]
    fn the_camera_filter_drops_before_tracking_a_zone_filter_only_from_the_count() {
        let mut open = CameraAnalytics::new(settings(ObjectFilter::default(), None));
        assert_eq!(run(&mut open, 0), (2, 2));

        let mut camera = CameraAnalytics::new(settings(left_masked(), None));
        assert_eq!(
            run(&mut camera, 0),
            (1, 1),
            "the masked person is never tracked"
        );

        let mut zone = CameraAnalytics::new(settings(ObjectFilter::default(), Some(left_masked())));
        assert_eq!(
            run(&mut zone, 0),
            (2, 1),
            "tracked, but not counted in the zone"
        );

        // Too small for the zone (0.01 of the frame is 5 000 px²; they are 4 000 px²):
        let big = ObjectFilter {
            person: ClassLimits {
                min_area: 0.01,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut zone = CameraAnalytics::new(settings(ObjectFilter::default(), Some(big)));
        assert_eq!(run(&mut zone, 0), (2, 0));
    }

    #[test]
    fn a_new_camera_filter_applies_from_the_next_frame_and_keeps_the_tracks() {
        let mut a = CameraAnalytics::new(settings(ObjectFilter::default(), None));
        assert_eq!(run(&mut a, 0), (2, 2));
        let ids: Vec<u64> = a.tracks().iter().map(|t| t.id).collect();
        let ended = a.reconfigure(
            settings(left_masked(), None),
            Timestamp::from_millisecond(2000).unwrap(),
            "config_reload",
        );
        assert!(ended.is_empty());
        // The right person keeps their track id; the left one's track is no longer fed.
        let (_, people) = run(&mut a, 10);
        assert_eq!(people, 1);
        let right = a
            .tracks()
            .iter()
            .find(|t| t.matched && t.bbox.bottom_center().0 > 500.0)
            .expect("the right person is still tracked");
        assert!(ids.contains(&right.id), "same track id across the change");
        assert!(
            a.tracks()
                .iter()
                .all(|t| !(t.matched && t.bbox.bottom_center().0 < 500.0)),
            "nobody on the left is matched any more"
        );
    }

    #[test]
    fn explanation_follows_a_group_from_unknown_speed_to_alert() {
        let t0: Timestamp = "2026-11-26T16:00:00Z".parse().unwrap();
        // Three people standing together, one alone far away.
        let dets = [
            person(100.0, 300.0),
            person(150.0, 300.0),
            person(125.0, 340.0),
            person(600.0, 300.0),
        ];
        let (mut plain, mut explained) = (analytics(false), analytics(true));
        let mut verdicts = Vec::new();
        for k in 0..25 {
            let ts = t0 + SignedDuration::from_millis(200 * k);
            let a = plain.step_incidents(ts, (768, 576), &dets);
            let b = explained.step_incidents(ts, (768, 576), &dets);
            assert_eq!(a, b, "explaining changes nothing the analytics decides");
            assert!(plain.explanation().is_none());
            let ex = explained.explanation().unwrap();
            assert_eq!(ex.ts, ts);
            let z = &ex.zones[0];
            assert_eq!((z.id.as_str(), z.open), ("z", true));
            let g = z.gathering.as_ref().unwrap();
            if let Some(grp) = g.groups.first() {
                assert_eq!(z.members.len(), 4, "the one alone is inside too");
                assert_eq!(grp.track_ids.len(), 3);
                assert_eq!(g.links.len(), 3, "a triangle of links: {:?}", g.links);
                assert_eq!(grp.hull.len(), 6);
                verdicts.push((k, grp.verdict));
            }
        }
        let first = |f: &dyn Fn(&Verdict) -> bool| verdicts.iter().find(|(_, v)| f(v)).map(|v| v.0);
        let unknown = first(&|v| *v == Verdict::SpeedUnknown).expect("speed unknown at first");
        let waiting = first(&|v| matches!(v, Verdict::Waiting { .. })).expect("then waiting");
        let alert = first(&|v| *v == Verdict::Alert).expect("then the alert");
        assert!(unknown < waiting && waiting < alert, "{verdicts:?}");
        // min_duration 2 s at 5 fps: ten frames of waiting.
        assert_eq!(alert - waiting, 10, "{verdicts:?}");
        assert!(verdicts.iter().any(|(_, v)| matches!(
            v,
            Verdict::Waiting { held_s, .. } if (*held_s - 1.0).abs() < 1e-6
        )));
    }
}
