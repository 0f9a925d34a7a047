//! The published event document (`wardwatch.event/1`) and its one-line summary.
//!
//! The debouncer produces `IncidentEvent`s (plain analytics data); `EventBuilder` adds
//! what the duty desk needs: site, camera, stable id, local and UTC times, the evidence
//! snapshot. The JSON contract is documented in docs/events.md and
//! schemas/event.schema.json.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::publish::text::{self, Names};
use crate::types::{CameraStatus, HealthChange, IncidentEvent, Measures, Phase, ZoneCount};

pub const SCHEMA: &str = "wardwatch.event/1";
pub const STATE_SCHEMA: &str = "wardwatch.state/1";
pub const CAMERA_SCHEMA: &str = "wardwatch.camera/1";
pub const BENCH_SCHEMA: &str = "wardwatch.bench/1";
pub const LOAD_BENCH_SCHEMA: &str = "wardwatch.bench-cameras/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Path of the JPEG on the appliance.
    pub path: String,
    /// Where the duty desk fetches it: the web console's evidence URL
    /// (`<public_url>/evidence/<camera>/<file>.jpg`, send the console token as
    /// `Authorization: Bearer`); null when the console is off. Valid until the evidence
    /// store prunes the file (`[evidence]` max_files, max_bytes, max_age).
    pub url: Option<String>,
    /// Hex sha256 of the JPEG bytes.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    #[schemars(range(min = 1))]
    pub bytes: u64,
}

/// The JSON Schemas of the published documents, generated from these types:
/// `(file name under schemas/, schema)`. `tests/schemas.rs` keeps the committed files
/// equal to them.
/// The schemas describe what wardwatch *writes* (the serialize contract): a field that is
/// always written is required, `null` where it may be empty.
pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    fn of<T: JsonSchema>() -> schemars::Schema {
        schemars::generate::SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator()
            .into_root_schema_for::<T>()
    }
    vec![
        ("event.schema.json", of::<Event>()),
        ("camera.schema.json", of::<HealthDoc>()),
        ("state.schema.json", of::<StateDoc>()),
        ("bench.schema.json", of::<BenchDoc>()),
        ("bench-cameras.schema.json", of::<LoadBenchDoc>()),
    ]
}

const NAME: &str = r"^[A-Za-z0-9._-]{1,64}$";
const UTC: &str = "Z$";

/// One lifecycle event (start, update, end) of an incident, published QoS 1 on
/// wardwatch/<site>/<camera>/events. Consumers de-duplicate on (id, seq).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "wardwatch event",
    extend("$id" = "https://github.com/wardwatch/wardwatch/schemas/event.schema.json"),
    extend("allOf" = [
        {"if": {"properties": {"phase": {"const": "start"}}},
         "then": {"properties": {"seq": {"const": 0}, "reason": {"type": "null"}}}},
        {"if": {"properties": {"phase": {"const": "end"}}},
         "then": {"properties": {"reason": {"type": "string"}}}}
    ])
)]
pub struct Event {
    #[schemars(extend("const" = SCHEMA))]
    pub schema: String,
    /// Stable per incident, the same for its start, updates and end:
    /// <camera>:<zone>:<rule>:<start UTC>:<n>.
    #[schemars(length(min = 1))]
    pub id: String,
    /// 0 for start, then +1 per event of the incident. Consumers de-duplicate on (id, seq).
    pub seq: u32,
    pub phase: Phase,
    #[schemars(extend("enum" = ["gathering", "weaving", "loitering"]))]
    pub rule: String,
    #[schemars(regex(pattern = NAME))]
    pub site: String,
    #[schemars(regex(pattern = NAME))]
    pub camera: String,
    #[schemars(regex(pattern = NAME))]
    pub zone: String,
    /// The names an officer reads (any Unicode; the id where none is configured).
    #[schemars(length(min = 1))]
    pub site_name: String,
    #[schemars(length(min = 1))]
    pub camera_name: String,
    #[schemars(length(min = 1))]
    pub zone_name: String,
    /// One readable sentence in the site's `language`, e.g.
    /// "Tụ tập 4 người tại Cổng chợ từ 23:05 (6 phút)".
    #[schemars(length(min = 1))]
    pub title: String,
    /// When this event was decided (frame time), UTC RFC 3339.
    #[schemars(extend("format" = "date-time"), regex(pattern = UTC))]
    pub time_utc: String,
    /// The same in the site's time zone.
    #[schemars(extend("format" = "date-time"))]
    pub time_local: String,
    /// When the condition began to hold, UTC.
    #[schemars(extend("format" = "date-time"), regex(pattern = UTC))]
    pub started_utc: String,
    #[schemars(extend("format" = "date-time"))]
    pub started_local: String,
    #[schemars(range(min = 0.0))]
    pub duration_s: f64,
    pub people: usize,
    pub peak_people: usize,
    /// Tracker ids of the members (gathering) or the vehicle (weaving).
    pub track_ids: Vec<u64>,
    /// Rule measurements, typed per rule; see docs/events.md.
    pub measures: Measures,
    /// end: cleared | schedule_closed | end_of_stream | shutdown | config_reload;
    /// update: count_changed | periodic | racing; start: null.
    pub reason: Option<String>,
    /// The annotated JPEG, when one was saved (start and update).
    pub snapshot: Option<Snapshot>,
}

fn fmt_local(ts: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// A display name, or the id where it is empty.
fn or_id(name: &str, id: &str) -> String {
    if name.is_empty() { id } else { name }.to_string()
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
    /// Display names and the language of the titles.
    pub names: Names,
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
        let mut ev = Event {
            schema: SCHEMA.into(),
            id: self.incident_id(inc),
            seq: inc.seq,
            phase: inc.phase,
            rule: inc.rule.as_str().into(),
            site: self.site.clone(),
            camera: self.camera.clone(),
            zone: inc.zone.clone(),
            site_name: or_id(&self.names.site, &self.site),
            camera_name: or_id(&self.names.camera, &self.camera),
            zone_name: self.names.zone(&inc.zone).unwrap_or(&inc.zone).to_string(),
            title: String::new(),
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
        };
        ev.title = text::event_title(self.names.language, &ev);
        ev
    }

    /// The health document of a change of this camera's health.
    pub fn health(&self, c: &HealthChange) -> HealthDoc {
        HealthDoc::new(&self.site, &self.camera, &self.tz, &self.names, c)
    }
}

impl Event {
    /// One line for the console and logs: fixed English keywords and ids first (for grep
    /// and log tools), then the title in the site's language.
    /// `2026-11-26 23:05:00 START  gathering cam-1/gate: Tụ tập 4 người … id=…`
    pub fn summary(&self) -> String {
        let local = self
            .time_local
            .get(..19)
            .unwrap_or(&self.time_local)
            .replace('T', " ");
        let phase = match self.phase {
            Phase::Start => "START ",
            Phase::Update => "UPDATE",
            Phase::End => "END   ",
        };
        let mut s = format!(
            "{local} {phase} {rule} {cam}/{zone}: {title}",
            rule = self.rule,
            cam = self.camera,
            zone = self.zone,
            title = self.title,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveAlert {
    pub id: String,
    pub rule: String,
    pub zone: String,
    pub zone_name: String,
    /// The latest event's title.
    pub title: String,
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
            zone_name: e.zone_name.clone(),
            title: e.title.clone(),
            people: e.people,
            started_local: e.started_local.clone(),
            snapshot: e.snapshot.as_ref().map(|s| s.path.clone()),
        }
    }
}

/// People in one zone, in the state document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneState {
    pub people: usize,
}

/// The retained per-camera state (`wardwatch.state/1`) on
/// wardwatch/<site>/<camera>/state: active alerts and people per zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "wardwatch camera state",
    extend("$id" = "https://github.com/wardwatch/wardwatch/schemas/state.schema.json")
)]
pub struct StateDoc {
    #[schemars(extend("const" = STATE_SCHEMA))]
    pub schema: String,
    #[schemars(regex(pattern = NAME))]
    pub site: String,
    #[schemars(regex(pattern = NAME))]
    pub camera: String,
    #[schemars(extend("format" = "date-time"), regex(pattern = UTC))]
    pub time_utc: String,
    #[schemars(extend("format" = "date-time"))]
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

/// A change of a camera's health, on wardwatch/<site>/<camera>/events (QoS 1) and
/// retained on wardwatch/<site>/<camera>/health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "wardwatch camera health",
    extend("$id" = "https://github.com/wardwatch/wardwatch/schemas/camera.schema.json")
)]
pub struct HealthDoc {
    #[schemars(extend("const" = CAMERA_SCHEMA))]
    pub schema: String,
    /// Always `camera`, so that consumers of the events topic can tell it from alerts.
    #[schemars(extend("const" = "camera"))]
    pub rule: String,
    #[schemars(regex(pattern = NAME))]
    pub site: String,
    #[schemars(regex(pattern = NAME))]
    pub camera: String,
    /// The camera's display name (its id where none is configured).
    #[schemars(length(min = 1))]
    pub camera_name: String,
    pub status: CameraStatus,
    /// online: connected | recovered; offline: the error; degraded: dark | frozen | low_fps.
    #[schemars(length(min = 1))]
    pub reason: String,
    /// One readable sentence in the site's `language`.
    #[schemars(length(min = 1))]
    pub title: String,
    #[schemars(extend("format" = "date-time"), regex(pattern = UTC))]
    pub time_utc: String,
    #[schemars(extend("format" = "date-time"))]
    pub time_local: String,
}

/// The figures of `wardwatch bench --json` (`wardwatch.bench/1`); docs/performance.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "wardwatch bench",
    extend("$id" = "https://github.com/wardwatch/wardwatch/schemas/bench.schema.json")
)]
pub struct BenchDoc {
    #[schemars(extend("const" = BENCH_SCHEMA))]
    pub schema: String,
    pub model: String,
    pub family: String,
    pub execution_provider: String,
    pub onnxruntime: String,
    pub threads: usize,
    pub intra_op_spinning: bool,
    pub video: String,
    pub video_fps: f64,
    /// Frames through the full pipeline.
    pub frames: usize,
    /// Per-stage times: read+decode frame, preprocess, inference, decode+NMS,
    /// track+rules, whole frame, bare inference.
    pub stages: std::collections::BTreeMap<String, StageTimes>,
    /// Pipelined: the capture thread prepares the next frame while this one infers.
    pub end_to_end_fps: f64,
    /// Sequential: preprocessing on the detector thread (the way before pipelining).
    pub sequential_fps: f64,
    pub bare_inference_fps: f64,
    pub end_to_end_over_bare: f64,
    pub sequential_over_bare: f64,
    /// Preprocess + decode + track/rules per frame, ms.
    pub outside_inference_ms: f64,
    pub outside_inference_pct_of_inference: f64,
    pub detect_fps: f64,
    /// Milliseconds of work one camera costs per second at `detect_fps`.
    pub per_camera_ms_per_s: f64,
    /// Cameras one box carries at `detect_fps` (one detector, this many per second of work).
    pub cameras: f64,
    /// Decoding the clip alone: software, then with FFmpeg hardware acceleration asked for.
    pub decode: Vec<DecodeTimes>,
}

/// `wardwatch bench --cameras … --json`: the load test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "wardwatch bench --cameras",
    extend("$id" = "https://github.com/wardwatch/wardwatch/schemas/bench-cameras.schema.json")
)]
pub struct LoadBenchDoc {
    #[schemars(extend("const" = LOAD_BENCH_SCHEMA))]
    pub schema: String,
    pub machine: MachineDoc,
    pub model: String,
    pub video: String,
    pub detect_fps: f64,
    /// Bare inference frames/s before and after the trials.
    pub bare_inference_fps: Vec<f64>,
    /// The lower bare inference fps ÷ `detect_fps`.
    pub inference_bound_cameras: f64,
    pub memory: MemoryDoc,
    /// Largest N that kept up, per repeat, sorted.
    pub max_cameras_gating_off: Vec<usize>,
    pub max_cameras_gating_on: Vec<usize>,
    pub searches: Vec<SearchDoc>,
}

/// The machine a load test ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MachineDoc {
    pub cpu: String,
    pub cores: usize,
    /// `/proc/loadavg` (1, 5, 15 min) before and after.
    pub load_before: String,
    pub load_after: String,
    pub execution_provider: String,
    pub onnxruntime: String,
    pub threads: usize,
    pub batch: usize,
}

/// Process memory in a load test, kB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryDoc {
    pub rss_start_kb: u64,
    pub rss_model_loaded_kb: u64,
    /// With one camera (the baseline trial of `--cameras max`).
    pub rss_one_camera_kb: Option<u64>,
    pub rss_one_camera_private_kb: Option<u64>,
    /// Steepest rise per extra camera between trials of this process.
    pub per_extra_camera_max_kb: Option<f64>,
}

/// One search (one gating mode, one repeat) of a load test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchDoc {
    pub gating: bool,
    pub repeat: usize,
    /// Largest N that kept up (0: not even one camera).
    pub max_cameras: usize,
    pub trials: Vec<TrialDoc>,
}

/// What one trial measured (over the measuring window, after the warm-up).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialDoc {
    pub cameras: usize,
    pub gating: bool,
    pub detect_fps: f64,
    /// Frames due for analysis (at `detect_fps`), all cameras.
    pub due: u64,
    /// Due frames analysed.
    pub analysed: u64,
    /// Analysed frames that were inferred (the rest: skipped by motion gating).
    pub inferred: u64,
    /// Due frames replaced before the detector took them.
    pub dropped: u64,
    /// Share of due frames analysed within one detection period of their grab.
    pub on_time: f64,
    /// Age of analysed frames (grab → analysis done), ms.
    pub age_p50_ms: f64,
    pub age_p95_ms: f64,
    /// Analysed frames per second per camera.
    pub analysed_fps_per_camera: f64,
    /// Share of analysed frames whose inference motion gating skipped.
    pub skipped_share: f64,
    /// Process resident memory at the end of the window, kB.
    pub rss_kb: u64,
    /// Of which private (anonymous) memory, kB; the rest is shared library pages.
    pub rss_anon_kb: u64,
    /// `on_time ≥ 0.95` and `age_p95 ≤` one detection period.
    pub keeps_up: bool,
    /// CPU used over the window by each kind of thread, in cores (1.0 = one core busy):
    /// `capture` (all cameras' capture threads: decode and preparation), `detect` (the
    /// detector worker, which also runs one of ONNX Runtime's intra-op threads),
    /// `inference pool` (ONNX Runtime's other intra-op threads), `other` (publish, MQTT).
    pub cpu_cores: std::collections::BTreeMap<String, f64>,
}

/// What decoding one frame of the clip costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecodeTimes {
    pub width: u32,
    pub height: u32,
    /// `hw_decode` asked for.
    pub hw_requested: bool,
    /// OpenCV's `VIDEO_ACCELERATION_*` in use (0: software).
    pub acceleration: i32,
    /// A frame that is not due: decoded, never converted, ms.
    pub grab_ms: f64,
    /// The conversion of a due frame to BGR, on top of the grab, ms.
    pub retrieve_ms: f64,
}

/// p50 and p95 of one stage, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageTimes {
    pub p50_ms: f64,
    pub p95_ms: f64,
}

impl HealthDoc {
    /// `names.camera` is the camera's display name where `names` is that camera's (an
    /// empty one falls back to the id).
    pub fn new(
        site: &str,
        camera: &str,
        tz: &jiff::tz::TimeZone,
        names: &Names,
        c: &HealthChange,
    ) -> Self {
        let camera_name = or_id(&names.camera, camera);
        let mut doc = HealthDoc {
            schema: CAMERA_SCHEMA.into(),
            rule: "camera".into(),
            site: site.into(),
            camera: camera.into(),
            camera_name,
            status: c.status,
            reason: c.reason.clone(),
            title: String::new(),
            time_utc: fmt_utc(c.at),
            time_local: fmt_local(c.at, tz),
        };
        doc.title = text::health_title(names.language, &doc);
        doc
    }

    /// One readable line for the console, keywords first, then the title:
    /// `2026-11-26 23:00:00 CAMERA cam-1 Offline connection refused | Camera … mất tín hiệu …`.
    pub fn summary(&self) -> String {
        format!(
            "{} CAMERA {} {:?} {} | {}",
            self.time_local
                .get(..19)
                .unwrap_or(&self.time_local)
                .replace('T', " "),
            self.camera,
            self.status,
            self.reason,
            self.title
        )
    }
}
