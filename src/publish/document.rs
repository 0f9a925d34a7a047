//! The published event document (`wardwatch.event/1`) and its one-line summary.
//!
//! The debouncer produces `IncidentEvent`s (plain analytics data); `EventBuilder` adds
//! what the duty desk needs: site, camera, stable id, local and UTC times, the evidence
//! snapshot. The JSON contract is documented in docs/events.md and
//! schemas/event.schema.json.

use serde::{Deserialize, Serialize};

use crate::types::{CameraStatus, HealthChange, IncidentEvent, Phase, ZoneCount};

pub const SCHEMA: &str = "wardwatch.event/1";
pub const STATE_SCHEMA: &str = "wardwatch.state/1";
pub const CAMERA_SCHEMA: &str = "wardwatch.camera/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Path of the JPEG on the appliance.
    pub path: String,
    /// Hex sha256 of the JPEG bytes.
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub schema: String,
    /// Stable per incident: the same for its start, updates and end.
    pub id: String,
    /// 0 for start, then +1 per event of the incident. Consumers de-duplicate on (id, seq).
    pub seq: u32,
    pub phase: Phase,
    pub rule: String,
    pub site: String,
    pub camera: String,
    pub zone: String,
    /// When this event was decided (frame time), UTC and site-local RFC 3339.
    pub time_utc: String,
    pub time_local: String,
    /// When the condition began to hold.
    pub started_utc: String,
    pub started_local: String,
    pub duration_s: f64,
    pub people: usize,
    pub peak_people: usize,
    pub track_ids: Vec<u64>,
    /// Rule measurements (spread, speed, …), see docs/events.md.
    pub measures: serde_json::Map<String, serde_json::Value>,
    /// On `end`: why (`cleared`, `schedule_closed`, `end_of_stream`, `shutdown`).
    /// On `update`: `count_changed`, `periodic` or `racing`.
    pub reason: Option<String>,
    pub snapshot: Option<Snapshot>,
}

fn fmt_local(ts: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

fn fmt_utc(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Builds published events for one camera.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    pub site: String,
    pub camera: String,
    pub tz: jiff::tz::TimeZone,
}

impl EventBuilder {
    /// Stable incident id: camera, zone, rule and the UTC start time (to the ms) plus the
    /// debouncer's incident number, so ids never collide across restarts or replays of
    /// different footage, and a replay of the same footage gives the same ids.
    pub fn incident_id(&self, inc: &IncidentEvent) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.camera,
            inc.zone,
            inc.rule.as_str(),
            inc.started_at.strftime("%Y%m%dT%H%M%S%.3fZ"),
            inc.incident
        )
    }

    pub fn build(&self, inc: &IncidentEvent, snapshot: Option<Snapshot>) -> Event {
        let reason = match inc.phase {
            Phase::End => inc.reason.clone(),
            Phase::Update => inc.update_reason.clone(),
            Phase::Start => None,
        };
        Event {
            schema: SCHEMA.into(),
            id: self.incident_id(inc),
            seq: inc.seq,
            phase: inc.phase,
            rule: inc.rule.as_str().into(),
            site: self.site.clone(),
            camera: self.camera.clone(),
            zone: inc.zone.clone(),
            time_utc: fmt_utc(inc.at),
            time_local: fmt_local(inc.at, &self.tz),
            started_utc: fmt_utc(inc.started_at),
            started_local: fmt_local(inc.started_at, &self.tz),
            duration_s: (inc.at.duration_since(inc.started_at).as_secs_f64() * 10.0).round() / 10.0,
            people: inc.people,
            peak_people: inc.peak_people,
            track_ids: inc.track_ids.clone(),
            measures: inc.measures.clone(),
            reason,
            snapshot,
        }
    }
}

impl Event {
    /// One readable line for the console and logs.
    pub fn summary(&self) -> String {
        let local = self
            .time_local
            .get(..19)
            .unwrap_or(&self.time_local)
            .replace('T', " ");
        let since = self.started_local.get(11..19).unwrap_or("");
        let phase = match self.phase {
            Phase::Start => "START ",
            Phase::Update => "UPDATE",
            Phase::End => "END   ",
        };
        let what = if self.rule == "weaving" {
            let m = |k: &str| self.measures.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
            let racing = self.measures.get("racing").and_then(|v| v.as_bool()) == Some(true);
            format!(
                "vehicle weaving, {:.0} reversals, peak swing {:.0} px{}",
                m("reversals").max(m("max_reversals")),
                m("peak_swing_px").max(m("max_swing_px")),
                if racing {
                    format!(", RACING with {:.0} vehicles", m("weaving_vehicles"))
                } else {
                    String::new()
                }
            )
        } else {
            format!("{} people (peak {})", self.people, self.peak_people)
        };
        let mut s = format!(
            "{local} {phase} {rule} {cam}/{zone}: {what} since {since} ({dur:.0} s)",
            rule = self.rule,
            cam = self.camera,
            zone = self.zone,
            dur = self.duration_s,
        );
        if let Some(r) = &self.reason {
            s.push_str(&format!(" reason={r}"));
        }
        if !self.track_ids.is_empty() {
            let ids: Vec<String> = self.track_ids.iter().map(|i| i.to_string()).collect();
            s.push_str(&format!(" tracks={}", ids.join(",")));
        }
        if let Some(snap) = &self.snapshot {
            s.push_str(&format!(" snapshot={}", snap.path));
        }
        s.push_str(&format!(" id={}", self.id));
        s
    }
}

/// One active alert in the state document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlert {
    pub id: String,
    pub rule: String,
    pub zone: String,
    pub people: usize,
    pub started_local: String,
    /// Path of the latest snapshot on the appliance.
    pub snapshot: Option<String>,
}

impl From<&Event> for ActiveAlert {
    fn from(e: &Event) -> Self {
        ActiveAlert {
            id: e.id.clone(),
            rule: e.rule.clone(),
            zone: e.zone.clone(),
            people: e.people,
            started_local: e.started_local.clone(),
            snapshot: e.snapshot.as_ref().map(|s| s.path.clone()),
        }
    }
}

/// People in one zone, in the state document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneState {
    pub people: usize,
}

/// The retained per-camera state (`wardwatch.state/1`), see docs/events.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDoc {
    pub schema: String,
    pub site: String,
    pub camera: String,
    pub time_utc: String,
    pub time_local: String,
    pub active: Vec<ActiveAlert>,
    pub zones: std::collections::BTreeMap<String, ZoneState>,
}

impl StateDoc {
    pub fn new(
        b: &EventBuilder,
        ts: jiff::Timestamp,
        active: Vec<ActiveAlert>,
        zones: &[ZoneCount],
    ) -> Self {
        StateDoc {
            schema: STATE_SCHEMA.into(),
            site: b.site.clone(),
            camera: b.camera.clone(),
            time_utc: fmt_utc(ts),
            time_local: fmt_local(ts, &b.tz),
            active,
            zones: zones
                .iter()
                .map(|z| (z.zone.clone(), ZoneState { people: z.people }))
                .collect(),
        }
    }
}

/// A camera health change (`wardwatch.camera/1`), see docs/events.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthDoc {
    pub schema: String,
    /// Always `camera`, so that consumers of the events topic can tell it from alerts.
    pub rule: String,
    pub site: String,
    pub camera: String,
    pub status: CameraStatus,
    pub reason: String,
    pub time_utc: String,
    pub time_local: String,
}

impl HealthDoc {
    pub fn new(site: &str, camera: &str, tz: &jiff::tz::TimeZone, c: &HealthChange) -> Self {
        HealthDoc {
            schema: CAMERA_SCHEMA.into(),
            rule: "camera".into(),
            site: site.into(),
            camera: camera.into(),
            status: c.status,
            reason: c.reason.clone(),
            time_utc: fmt_utc(c.at),
            time_local: fmt_local(c.at, tz),
        }
    }

    /// One readable line for the console: `2026-11-26 23:00:00 CAMERA cam-1 Offline reason`.
    pub fn summary(&self) -> String {
        format!(
            "{} CAMERA {} {:?} {}",
            self.time_local
                .get(..19)
                .unwrap_or(&self.time_local)
                .replace('T', " "),
            self.camera,
            self.status,
            self.reason
        )
    }
}
