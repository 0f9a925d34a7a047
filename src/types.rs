//! The plain data that travels between the stages, in the order of the flow:
//!
//! ```text
//! media::Frame { meta, image } → Detections { meta, items } → FrameReport { meta, tracks,
//! zone_counts, incidents } → publish documents
//! ```
//!
//! Every stage depends on this module and on nothing downstream of it. Coordinates are
//! pixels of the source frame (x right, y down). Times are `jiff::Timestamp`s taken from
//! the frame (stamped once, at capture), never from the wall clock inside a stage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Axis-aligned box in pixels, corners (x1, y1) top-left and (x2, y2) bottom-right.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }
    /// Box from top-left corner and size (MOTChallenge style).
    pub fn from_xywh(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self::new(x, y, x + w, y + h)
    }
    /// Box from centre and size.
    pub fn from_cxcywh(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }
    /// The foot point: where a person or vehicle touches the ground.
    pub fn bottom_center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, self.y2)
    }
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// What wardwatch cares about. COCO classes map onto these (see `detect::classes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ObjectClass {
    Person,
    Vehicle,
}

/// One detector output after NMS.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub bbox: BBox,
    /// Confidence in [0, 1].
    pub score: f32,
    pub class: ObjectClass,
    /// Class index of the model's own label set (COCO-80 for the shipped model).
    pub label: u16,
}

/// A tracked object as the tracker reports it after an update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Stable per camera, never reused within a process run. Starts at 1.
    pub id: u64,
    pub bbox: BBox,
    pub class: ObjectClass,
    pub label: u16,
    pub score: f32,
    /// Velocity of the box centre in pixels per second (Kalman estimate).
    pub velocity: (f32, f32),
    /// True once the track has been matched `min_hits` times.
    pub confirmed: bool,
    /// Matched in the update that produced this list (false while coasting on prediction).
    pub matched: bool,
    /// Time of the first detection of this track.
    pub first_seen: jiff::Timestamp,
    /// Time of the last matched detection.
    pub last_seen: jiff::Timestamp,
}

/// Identity and time of one frame, stamped once at capture and carried unchanged by
/// every stage after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameMeta {
    /// Camera id from the config.
    pub camera: String,
    /// 0-based index of the frame in its source since it was opened (every decoded frame
    /// counts, analysed or not).
    pub index: u64,
    /// When the frame was grabbed: wall clock for live streams, `start` + media time for
    /// files.
    pub ts: jiff::Timestamp,
    /// Frame size in pixels (width, height).
    pub size: (u32, u32),
}

impl Default for FrameMeta {
    fn default() -> Self {
        Self {
            camera: String::new(),
            index: 0,
            ts: jiff::Timestamp::UNIX_EPOCH,
            size: (0, 0),
        }
    }
}

/// The detector's output for one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detections {
    pub meta: FrameMeta,
    pub items: Vec<Detection>,
}

/// Which rule produced an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Gathering,
    Weaving,
    Loitering,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Gathering => "gathering",
            RuleKind::Weaving => "weaving",
            RuleKind::Loitering => "loitering",
        }
    }
}

impl std::fmt::Display for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule's measurements, typed per rule and copied into events as one flat JSON
/// object (docs/events.md lists the keys of each rule). Numbers are rounded to 3
/// decimals by the rules. Fields are declared in key order, so the JSON keeps the order
/// it always had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Measures {
    Gathering(GatheringMeasures),
    Weaving(WeavingMeasures),
    Loitering(LoiteringMeasures),
    /// No measurement (an end without a last observation): `{}`.
    #[schemars(with = "EmptyObject")]
    Empty {},
}

impl Default for Measures {
    fn default() -> Self {
        Measures::Empty {}
    }
}

/// `{}` in the schema: no keys at all.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EmptyObject {}

/// The unit of a `speed` measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpeedUnit {
    /// Calibrated cameras: metres per second on the ground.
    MPerS,
    /// Gathering without calibration: body heights per second.
    #[default]
    BodyHeightsPerS,
    /// Weaving without calibration: box widths per second.
    BoxWidthsPerS,
}

/// What the gathering rule measured on the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatheringMeasures {
    /// How long the group has stood together, s.
    pub held_s: f64,
    /// The link distance in metres (calibrated cameras).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_distance_m: Option<f64>,
    /// The link distance in pixels at the group's mean body height (uncalibrated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_distance_px: Option<f64>,
    pub mean_height_px: f64,
    /// Members counted in `people` while hidden: their tracks were lost less than `grace_s`
    /// ago (behind a sign, or each other). `track_ids` lists only the visible members.
    /// Absent from documents written before it existed.
    #[serde(default)]
    pub occluded: usize,
    /// Mean member speed; `null` until it can be measured.
    pub speed: Option<f64>,
    pub speed_unit: SpeedUnit,
    /// Largest distance between two members' feet, metres (calibrated cameras).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_m: Option<f64>,
    /// Largest distance between two members' feet, pixels.
    pub spread_px: f64,
}

/// The unit of a loitering `radius`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RadiusUnit {
    /// Calibrated cameras: metres on the ground.
    M,
    /// Without calibration: the person's mean box height.
    #[default]
    BodyHeights,
}

/// What the loitering rule measured on one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoiteringMeasures {
    /// Time since the person's track was first seen in the zone, s.
    pub dwell_s: f64,
    /// Largest distance of the person's recent foot points from their mean; `null` before
    /// the first sample.
    pub radius: Option<f64>,
    pub radius_unit: RadiusUnit,
    /// The person's mean box height over the window, pixels.
    pub height_px: f64,
    /// The history the radius is measured over, s.
    pub window_s: f64,
}

/// What the weaving rule measured on one vehicle's path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeavingMeasures {
    pub box_width_px: f64,
    /// Direction of travel on screen, degrees; `null` while the vehicle barely moves.
    pub heading_deg: Option<f64>,
    /// Most reversals seen during the incident.
    pub max_reversals: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_swing_m: Option<f64>,
    pub max_swing_px: f64,
    /// The smallest swing that counts as a reversal, metres (calibrated) …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_swing_m: Option<f64>,
    /// … or pixels (uncalibrated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_swing_px: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_swing_m: Option<f64>,
    /// Largest peak-to-peak lateral swing in the window, pixels.
    pub peak_swing_px: f64,
    /// This vehicle weaves while at least `racing_min_vehicles` weave in the zone.
    pub racing: bool,
    /// Direction reversals of the lateral offset within the window.
    pub reversals: u32,
    /// Time the window covers, s.
    pub span_s: f64,
    pub speed: Option<f64>,
    pub speed_unit: SpeedUnit,
    /// Vehicles weaving in the zone at this frame.
    pub weaving_vehicles: u32,
    pub window_s: f64,
}

impl Measures {
    /// Street racing (weaving measures with `racing`); false for everything else.
    pub fn racing(&self) -> bool {
        matches!(self, Measures::Weaving(w) if w.racing)
    }

    /// The JSON object as published.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Lifecycle phase of an incident event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Start,
    Update,
    End,
}

/// One lifecycle event of an incident, as analytics decides it: everything publishing
/// needs (zone, members, outline, measures), nothing it has to look up again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub rule: RuleKind,
    pub zone: String,
    /// Assigned by the debouncer, increasing per zone+rule.
    pub incident: u64,
    /// 0 for start, +1 per event of the incident.
    pub seq: u32,
    pub phase: Phase,
    /// When the condition began to hold (not when `start` was emitted).
    pub started_at: jiff::Timestamp,
    /// Time of the frame that produced this event.
    pub at: jiff::Timestamp,
    pub people: usize,
    pub peak_people: usize,
    pub track_ids: Vec<u64>,
    /// Group hull (gathering, closed) or vehicle path (weaving, open) in frame pixels.
    pub hull: Vec<(f32, f32)>,
    pub measures: Measures,
    /// Two or more vehicles weaving at once in the zone (street racing). Always false
    /// for gathering.
    pub racing: bool,
    /// On `end`: `cleared`, `schedule_closed`, `shutdown` (or what `finish` was given).
    pub reason: Option<String>,
    /// On `update`: `count_changed`, `periodic`, or the name of a raised flag (`racing`
    /// for weaving).
    pub update_reason: Option<String>,
}

impl IncidentEvent {
    /// Seconds from `started_at` to `at`.
    pub fn duration_s(&self) -> f64 {
        secs(self.at, self.started_at)
    }
}

/// People counted in one zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneCount {
    pub zone: String,
    pub people: usize,
}

/// What analytics made of one frame: the tracks after the update, people per zone, and
/// the incident events this frame decided (often none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameReport {
    pub meta: FrameMeta,
    pub tracks: Vec<Track>,
    pub zone_counts: Vec<ZoneCount>,
    pub incidents: Vec<IncidentEvent>,
}

/// `a - b` in seconds.
pub fn secs(a: jiff::Timestamp, b: jiff::Timestamp) -> f64 {
    a.duration_since(b).as_secs_f64()
}

/// A camera's health as the duty desk sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CameraStatus {
    Online,
    Offline,
    Degraded,
}

/// A change of a camera's health.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthChange {
    pub status: CameraStatus,
    /// `connected`, `recovered`, the error text for offline, or `dark` / `frozen` / `low_fps`.
    pub reason: String,
    pub at: jiff::Timestamp,
}
