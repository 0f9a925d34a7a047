//! Incident events → published events: evidence snapshot on start/update, the event
//! document, the camera's retained state and latest snapshot, all through the outbox.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use opencv::core::Mat;

use crate::debounce::Phase;
use crate::event::{Event, EventBuilder, Snapshot};
use crate::evidence::{Annotation, EvidenceStore};
use crate::pipeline::{Alert, CameraPipeline};
use crate::sink::Publisher;

pub struct Dispatcher {
    builder: EventBuilder,
    evidence: Option<Arc<Mutex<EvidenceStore>>>,
    publisher: Option<Publisher>,
    /// Latest snapshot per active incident id (carried on its end event).
    last_snapshot: HashMap<String, Snapshot>,
    /// Active incidents for the retained state topic.
    active: BTreeMap<String, Event>,
}

impl Dispatcher {
    pub fn new(
        builder: EventBuilder,
        evidence: Option<Arc<Mutex<EvidenceStore>>>,
        publisher: Option<Publisher>,
    ) -> Self {
        Self {
            builder,
            evidence,
            publisher,
            last_snapshot: HashMap::new(),
            active: BTreeMap::new(),
        }
    }

    /// Turn this frame's alerts into events. `frame` is the analysed frame (for evidence).
    pub fn dispatch(
        &mut self,
        ts: Timestamp,
        alerts: Vec<Alert>,
        frame: Option<&Mat>,
        pipeline: &CameraPipeline,
    ) -> Vec<Event> {
        let mut events = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let inc = &alert.incident;
            let id = self.builder.incident_id(inc);
            let mut snapshot = None;
            let mut jpeg = None;
            if matches!(inc.phase, Phase::Start | Phase::Update)
                && let (Some(store), Some(frame)) = (&self.evidence, frame)
            {
                let zone = pipeline.zone(alert.zone_index);
                let local = ts
                    .to_zoned(self.builder.tz.clone())
                    .strftime("%Y-%m-%d %H:%M:%S %Z")
                    .to_string();
                let weaving = inc.rule == crate::rules::RuleKind::Weaving;
                let racing = inc.measures.get("racing").and_then(|v| v.as_bool()) == Some(true);
                let what = match (weaving, racing) {
                    (false, _) => format!("{} people", inc.people),
                    (true, false) => "vehicle weaving".to_string(),
                    (true, true) => "vehicle weaving, RACING".to_string(),
                };
                let title = format!(
                    "{} {} {what}",
                    inc.rule.as_str().to_uppercase(),
                    match inc.phase {
                        Phase::Start => "START",
                        _ => "UPDATE",
                    },
                );
                let ann = Annotation {
                    camera: &self.builder.camera,
                    zone_id: &zone.id,
                    zone: &zone.polygon,
                    tracks: pipeline.tracks(),
                    members: &inc.track_ids,
                    outline: &inc.hull,
                    closed: !weaving,
                    title: &title,
                    local_time: &local,
                };
                let name = format!(
                    "{}_{}_{}_{}_{}-{}",
                    ts.to_zoned(self.builder.tz.clone())
                        .strftime("%Y%m%d-%H%M%S"),
                    zone.id,
                    inc.rule.as_str(),
                    inc.incident,
                    inc.seq,
                    if inc.phase == Phase::Start {
                        "start"
                    } else {
                        "update"
                    }
                );
                let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
                match store.save(frame, &ann, &name, Timestamp::now().as_second()) {
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
            let ev = self.builder.build(inc, snapshot);
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
            self.publish_state(ts, pipeline);
        }
        events
    }

    /// Retained per-camera state: active alerts and people per zone.
    pub fn publish_state(&self, ts: Timestamp, pipeline: &CameraPipeline) {
        let Some(p) = &self.publisher else { return };
        let zones: serde_json::Map<String, serde_json::Value> = pipeline
            .zone_counts()
            .into_iter()
            .map(|(z, n)| (z, serde_json::json!({ "people": n })))
            .collect();
        let active: Vec<serde_json::Value> = self
            .active
            .values()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "rule": e.rule, "zone": e.zone, "people": e.people,
                    "started_local": e.started_local, "snapshot": e.snapshot.as_ref().map(|s| &s.path),
                })
            })
            .collect();
        let state = serde_json::json!({
            "schema": "wardwatch.state/1",
            "site": self.builder.site,
            "camera": self.builder.camera,
            "time_utc": ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "time_local": ts.to_zoned(self.builder.tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
            "active": active,
            "zones": zones,
        });
        if let Err(e) = p.state(&self.builder.camera, &state) {
            tracing::warn!(error = %e, "state could not be queued for MQTT");
        }
    }
}
