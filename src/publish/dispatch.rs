//! A camera's frame reports → published events: evidence snapshot on start/update, the
//! event document, the camera's retained state and latest snapshot, all through the
//! outbox. Runs on the publish worker, off the capture and detection threads.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use opencv::core::Mat;

use crate::publish::document::{ActiveAlert, Event, EventBuilder, Snapshot, StateDoc};
use crate::publish::evidence::{Annotation, EvidenceStore};
use crate::publish::topics::Publisher;
use crate::types::{FrameReport, IncidentEvent, Phase, RuleKind, ZoneCount};

/// A zone as publishing draws it: its id and polygon (normalised to the frame).
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneOutline {
    pub id: String,
    pub points: Vec<[f64; 2]>,
}

pub struct Dispatcher {
    builder: EventBuilder,
    zones: Vec<ZoneOutline>,
    publisher: Option<Publisher>,
    /// Latest snapshot per active incident id (carried on its end event).
    last_snapshot: HashMap<String, Snapshot>,
    /// Active incidents for the retained state topic.
    active: BTreeMap<String, Event>,
}

impl Dispatcher {
    pub fn new(
        builder: EventBuilder,
        zones: Vec<ZoneOutline>,
        publisher: Option<Publisher>,
    ) -> Self {
        Self {
            builder,
            zones,
            publisher,
            last_snapshot: HashMap::new(),
            active: BTreeMap::new(),
        }
    }

    pub fn camera(&self) -> &str {
        &self.builder.camera
    }

    pub fn builder(&self) -> &EventBuilder {
        &self.builder
    }

    /// New names or language (a reload); incident ids depend on neither.
    pub fn set_builder(&mut self, builder: EventBuilder) {
        self.builder = builder;
    }

    /// New zones (a reload changed them); open incidents carry on.
    pub fn set_zones(&mut self, zones: Vec<ZoneOutline>) {
        self.zones = zones;
    }

    /// Turn one frame report's incidents into events. `frame` is the analysed frame (for
    /// evidence; `None` at end of stream or shutdown), `evidence` the shared store, and
    /// `now_unix` the wall-clock time for snapshot retention.
    pub fn dispatch(
        &mut self,
        report: &FrameReport,
        frame: Option<&Mat>,
        evidence: Option<&mut EvidenceStore>,
        now_unix: i64,
    ) -> Vec<Event> {
        let mut evidence = evidence;
        let ts = report.meta.ts;
        let mut events = Vec::with_capacity(report.incidents.len());
        for inc in &report.incidents {
            let mut ev = self.builder.build(inc, None);
            let id = ev.id.clone();
            let mut snapshot = None;
            let mut jpeg = None;
            if matches!(inc.phase, Phase::Start | Phase::Update)
                && let (Some(store), Some(frame)) = (evidence.as_deref_mut(), frame)
            {
                match self.snapshot(store, frame, report, inc, &ev, now_unix) {
                    Ok((snap, bytes)) => {
                        snapshot = Some(snap);
                        jpeg = Some(bytes);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, event = %id, "snapshot not saved; the event goes out without one")
                    }
                }
            }
            if let Some(s) = &snapshot {
                self.last_snapshot.insert(id.clone(), s.clone());
            }
            if inc.phase == Phase::End && snapshot.is_none() {
                snapshot = self.last_snapshot.remove(&id);
            }
            ev.snapshot = snapshot;
            if let Some(p) = &self.publisher {
                if let Err(e) = p.event(&ev) {
                    tracing::error!(error = %e, event = %ev.id, "event could not be queued for MQTT");
                }
                if let Some(bytes) = &jpeg
                    && let Err(e) = p.snapshot(&ev.camera, bytes)
                {
                    tracing::warn!(error = %e, "snapshot could not be queued for MQTT");
                }
            }
            match ev.phase {
                Phase::End => {
                    self.active.remove(&ev.id);
                }
                _ => {
                    self.active.insert(ev.id.clone(), ev.clone());
                }
            }
            events.push(ev);
        }
        if !events.is_empty() {
            self.publish_state(ts, &report.zone_counts);
        }
        events
    }

    fn snapshot(
        &self,
        store: &mut EvidenceStore,
        frame: &Mat,
        report: &FrameReport,
        inc: &IncidentEvent,
        ev: &Event,
        now_unix: i64,
    ) -> Result<(Snapshot, Vec<u8>), crate::publish::evidence::EvidenceError> {
        let local_zoned = report.meta.ts.to_zoned(self.builder.tz.clone());
        let local = local_zoned.strftime("%Y-%m-%d %H:%M:%S %Z").to_string();
        let place = format!("{} · {} · {local}", ev.camera_name, ev.zone_name);
        let zone_points: &[[f64; 2]] = self
            .zones
            .iter()
            .find(|z| z.id == inc.zone)
            .map_or(&[], |z| z.points.as_slice());
        let ann = Annotation {
            camera: &self.builder.camera,
            zone: zone_points,
            tracks: &report.tracks,
            members: &inc.track_ids,
            outline: &inc.hull,
            closed: inc.rule != RuleKind::Weaving,
            place: &place,
            title: &ev.title,
        };
        let name = format!(
            "{}_{}_{}_{}_{}-{}",
            local_zoned.strftime("%Y%m%d-%H%M%S"),
            inc.zone,
            inc.rule.as_str(),
            inc.incident,
            inc.seq,
            if inc.phase == Phase::Start {
                "start"
            } else {
                "update"
            }
        );
        store.save(frame, &ann, &name, now_unix)
    }

    /// Retained per-camera state: active alerts and people per zone.
    pub fn publish_state(&self, ts: Timestamp, zone_counts: &[ZoneCount]) {
        let Some(p) = &self.publisher else { return };
        let state = StateDoc::new(
            &self.builder,
            ts,
            self.active.values().map(ActiveAlert::from).collect(),
            zone_counts,
        );
        if let Err(e) = p.state(&self.builder.camera, &state) {
            tracing::warn!(error = %e, "state could not be queued for MQTT");
        }
    }
}
