//! Per-camera analytics chain: detections → tracker → zone membership → rules →
//! debouncer → incident events. Plain data in and out; no I/O, no clocks.

use jiff::Timestamp;

use crate::config::{CameraConfig, ZoneConfig};
use crate::debounce::{Debouncer, IncidentEvent};
use crate::rules::RuleKind;
use crate::rules::gathering::GatheringRule;
use crate::rules::weaving::WeavingRule;
use crate::track::{Tracker, TrackerConfig};
use crate::types::{Detection, ObjectClass, Track};

/// An incident event and the zone it belongs to.
#[derive(Debug, Clone)]
pub struct Alert {
    pub zone_index: usize,
    pub incident: IncidentEvent,
}

struct ZoneRuntime {
    cfg: ZoneConfig,
    gathering: Option<(GatheringRule, Debouncer)>,
    weaving: Option<(WeavingRule, Debouncer)>,
    /// Confirmed persons whose foot point is inside the zone (reused buffer).
    members: Vec<Track>,
    /// Confirmed vehicles whose foot point is inside the zone (reused buffer).
    vehicles: Vec<Track>,
}

pub struct CameraPipeline {
    camera_id: String,
    calibration: Option<crate::ground::Homography>,
    tracker: Tracker,
    zones: Vec<ZoneRuntime>,
    frame_size: (u32, u32),
}

impl CameraPipeline {
    pub fn new(camera: &CameraConfig, tracker: TrackerConfig) -> Self {
        let zones = camera
            .zones
            .iter()
            .map(|z| ZoneRuntime {
                cfg: z.clone(),
                gathering: z.gathering.map(|p| {
                    (
                        GatheringRule::new(p),
                        Debouncer::new(&z.id, RuleKind::Gathering, p.debounce()),
                    )
                }),
                weaving: z.weaving.map(|p| (WeavingRule::new(p), p.debouncer(&z.id))),
                members: Vec::new(),
                vehicles: Vec::new(),
            })
            .collect();
        Self {
            camera_id: camera.id.clone(),
            calibration: camera.calibration,
            tracker: Tracker::new(tracker),
            zones,
            frame_size: (0, 0),
        }
    }

    pub fn camera_id(&self) -> &str {
        &self.camera_id
    }

    /// Analyse one frame's detections taken at `ts`.
    pub fn step(
        &mut self,
        ts: Timestamp,
        frame_size: (u32, u32),
        detections: &[Detection],
    ) -> Vec<Alert> {
        self.frame_size = frame_size;
        let tracks = self.tracker.update(ts, detections);
        let calibration = self.calibration;
        let to_metres = move |p: (f32, f32)| {
            calibration.map_or(p, |h| h.apply_px(p, frame_size.0, frame_size.1))
        };
        let ground: Option<crate::rules::gathering::GroundMap<'_>> =
            calibration.is_some().then_some(&to_metres as _);
        let mut alerts = Vec::new();
        for (zi, zone) in self.zones.iter_mut().enumerate() {
            zone.members.clear();
            zone.vehicles.clear();
            for t in tracks.iter().filter(|t| t.confirmed) {
                if zone
                    .cfg
                    .polygon
                    .contains_px(t.bbox.bottom_center(), frame_size.0, frame_size.1)
                {
                    match t.class {
                        ObjectClass::Person => zone.members.push(t.clone()),
                        ObjectClass::Vehicle => zone.vehicles.push(t.clone()),
                    }
                }
            }
            let open = zone.cfg.schedule.is_active(ts);
            if let Some((rule, debouncer)) = &mut zone.gathering {
                let obs = if open {
                    rule.observe(ts, &zone.members, ground)
                } else {
                    Vec::new()
                };
                for incident in debouncer.step(ts, open, &obs) {
                    alerts.push(Alert {
                        zone_index: zi,
                        incident,
                    });
                }
            }
            if let Some((rule, debouncer)) = &mut zone.weaving {
                let obs = if open {
                    rule.observe(ts, &zone.vehicles, ground)
                } else {
                    Vec::new()
                };
                for incident in debouncer.step(ts, open, &obs) {
                    alerts.push(Alert {
                        zone_index: zi,
                        incident,
                    });
                }
            }
        }
        alerts
    }

    /// End every active incident (end of a replay, shutdown, config reload).
    pub fn finish(&mut self, ts: Timestamp, reason: &str) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for (zi, zone) in self.zones.iter_mut().enumerate() {
            let debouncers = [
                zone.gathering.as_mut().map(|g| &mut g.1),
                zone.weaving.as_mut().map(|w| &mut w.1),
            ];
            for debouncer in debouncers.into_iter().flatten() {
                for incident in debouncer.finish(ts, reason) {
                    alerts.push(Alert {
                        zone_index: zi,
                        incident,
                    });
                }
            }
        }
        alerts
    }

    /// Tracks after the last `step`.
    pub fn tracks(&self) -> &[Track] {
        self.tracker.tracks()
    }

    pub fn zone(&self, index: usize) -> &ZoneConfig {
        &self.zones[index].cfg
    }

    /// Confirmed people inside each zone after the last step: (zone id, count).
    pub fn zone_counts(&self) -> Vec<(String, usize)> {
        self.zones
            .iter()
            .map(|z| (z.cfg.id.clone(), z.members.len()))
            .collect()
    }

    pub fn active_incidents(&self) -> usize {
        self.zones
            .iter()
            .map(|z| {
                z.gathering.as_ref().map_or(0, |(_, d)| d.active_count())
                    + z.weaving.as_ref().map_or(0, |(_, d)| d.active_count())
            })
            .sum()
    }

    pub fn frame_size(&self) -> (u32, u32) {
        self.frame_size
    }
}
