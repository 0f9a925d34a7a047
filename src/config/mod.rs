//! Typed, validated configuration (TOML).
//!
//! Parsing happens in two steps: serde reads the file into raw structs (unknown fields and
//! wrong types are refused with the line), then `validate` checks every value and collects
//! **all** problems at once, each as `FILE:LINE: field.path: what is wrong (value) and what
//! is allowed`. Every field is documented in docs/config.md.
//!
//! Relative paths in the file (model, evidence, outbox, file cameras) are relative to the
//! directory that holds the config file, so a config works from any working directory.

pub mod edit;
mod filters;
mod stages;
pub use stages::Role;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::analytics::debounce::DebounceParams;
use crate::analytics::gathering::{self, GatheringParams};
use crate::analytics::loitering::{self, LoiteringParams};
use crate::analytics::schedule::Schedule;
use crate::analytics::weaving::{self, WeavingParams};
use crate::analytics::zone::Polygon;
use crate::detect::NightMode;
use crate::detect::{
    ClassMap, DecodeParams, DetectorSettings, ExecutionProvider, Fallback, Family, Resize,
};
use crate::track::TrackerConfig;
use crate::types::ObjectClass;

// ---------------------------------------------------------------- validated types

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from.
    pub file: PathBuf,
    pub site: SiteConfig,
    pub mqtt: MqttConfig,
    pub detector: DetectorSettings,
    pub tracker: TrackerConfig,
    pub evidence: EvidenceConfig,
    pub runtime: RuntimeConfig,
    pub console: ConsoleConfig,
    pub homeassistant: HomeAssistantConfig,
    pub cameras: Vec<CameraConfig>,
}

/// `[homeassistant]`: MQTT discovery for Home Assistant (off by default).
#[derive(Debug, Clone, PartialEq)]
pub struct HomeAssistantConfig {
    pub enabled: bool,
    /// Home Assistant's discovery prefix (its MQTT integration's setting).
    pub discovery_prefix: String,
}

/// `[console]`: the web console and `/metrics` (off by default).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleConfig {
    pub enabled: bool,
    pub bind: std::net::SocketAddr,
    /// Every request but the page itself needs it (`Authorization: Bearer` or `?token=`).
    pub token: String,
    /// Base of the evidence URLs put into events, e.g. `http://10.0.0.5:8080`.
    pub public_url: String,
    /// Seconds between preview frames per camera.
    pub preview_every_s: f64,
}

/// `[runtime]`: how `wardwatch run` watches its cameras.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    /// Seconds between the per-camera stats lines in the log (0: never).
    pub stats_every_s: f64,
    /// A camera whose stream has given no frame for this long is reported offline
    /// (`stream hung`), even while OpenCV is still waiting inside a read.
    pub watchdog_s: f64,
    /// Open and read timeout for network streams, seconds.
    pub stream_timeout_s: f64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            stats_every_s: 60.0,
            watchdog_s: 5.0,
            stream_timeout_s: 10.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// ASCII id: MQTT topic level, client id.
    pub id: String,
    /// What the officer reads (any Unicode; the id where none is given).
    pub name: String,
    /// The language of titles, console lines and snapshot headers.
    pub language: crate::publish::text::Language,
    pub timezone: jiff::tz::TimeZone,
    pub timezone_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    pub url: String,
    pub client_id: String,
    pub topic_prefix: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub keep_alive_s: u64,
    pub outbox_dir: PathBuf,
    pub outbox_max_bytes: u64,
}

/// `[evidence]`: the evidence store's settings.
pub type EvidenceConfig = crate::publish::evidence::EvidenceSettings;

#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    pub id: String,
    /// Display name (the id where none is given).
    pub name: String,
    /// (zone id, zone name) of the zones that have a name.
    pub zone_names: Vec<(String, String)>,
    pub url: String,
    pub detect_fps: f64,
    pub enabled: bool,
    /// Ask FFmpeg for hardware decoding (software where there is none).
    pub hw_decode: bool,
    /// Ground-plane calibration: rule distances and speeds are in metres when present.
    pub calibration: Option<crate::analytics::ground::Homography>,
    /// Motion gating (`[motion]`, `[camera.motion]`).
    pub motion: crate::media::motion::MotionSettings,
    /// Object filters before tracking (`[filters]`, `[camera.filters]`).
    pub filter: crate::analytics::filter::ObjectFilter,
    pub zones: Vec<ZoneConfig>,
}

/// `[[camera.zone]]`: the analytics stage's zone settings.
pub type ZoneConfig = crate::analytics::ZoneSettings;

// ---------------------------------------------------------------- errors

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigIssue {
    pub line: Option<usize>,
    /// Field path such as `camera[0].zone[1].polygon`; empty for syntax errors.
    pub field: String,
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: PathBuf,
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file.display())?;
            if let Some(l) = issue.line {
                write!(f, ":{l}")?;
            }
            if issue.field.is_empty() {
                write!(f, ": {}", issue.message)?;
            } else {
                write!(f, ": {}: {}", issue.field, issue.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------- raw (serde) types

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: RawSite,
    #[serde(default)]
    mqtt: RawMqtt,
    #[serde(default)]
    model: RawModel,
    #[serde(default)]
    tracker: RawTracker,
    #[serde(default)]
    evidence: RawEvidence,
    #[serde(default)]
    runtime: RawRuntime,
    #[serde(default)]
    console: RawConsole,
    #[serde(default)]
    homeassistant: RawHomeAssistant,
    /// Site-wide defaults for the gathering rule; zones override field by field.
    #[serde(default)]
    gathering: RawGathering,
    /// Site-wide defaults for the weaving rule; zones override field by field.
    #[serde(default)]
    weaving: RawWeaving,
    /// Site-wide defaults for the loitering rule; zones override field by field.
    #[serde(default)]
    loitering: RawLoitering,
    /// Site-wide defaults for motion gating; cameras override field by field.
    #[serde(default)]
    motion: RawMotion,
    /// Site-wide object filters; cameras override field by field.
    #[serde(default)]
    filters: filters::RawFilters,
    #[serde(default, rename = "camera")]
    cameras: Vec<RawCamera>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    id: Option<String>,
    name: Option<String>,
    language: Option<String>,
    #[serde(default = "default_tz")]
    timezone: String,
}

impl RawSite {
    /// The id as given, or (the older form) `name` alone used as the id.
    fn id(&self) -> &str {
        self.id
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or_default()
    }
}

fn default_tz() -> String {
    "Asia/Ho_Chi_Minh".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMqtt {
    url: Option<String>,
    client_id: Option<String>,
    topic_prefix: Option<String>,
    username: Option<String>,
    username_env: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    ca_file: Option<String>,
    keep_alive: Option<Seconds>,
    outbox_dir: Option<String>,
    outbox_max_mb: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    path: Option<String>,
    family: Option<String>,
    runtime_library: Option<String>,
    execution_provider: Option<String>,
    fallback: Option<String>,
    device_id: Option<i64>,
    tensorrt_cache_dir: Option<String>,
    tensorrt_fp16: Option<bool>,
    openvino_device: Option<String>,
    threads: Option<i64>,
    intra_op_spinning: Option<bool>,
    score_threshold: Option<f64>,
    nms_iou: Option<f64>,
    max_detections: Option<i64>,
    batch: Option<i64>,
    input_size: Option<Vec<i64>>,
    resize: Option<String>,
    channel_order: Option<String>,
    mean: Option<Vec<f64>>,
    std: Option<Vec<f64>>,
    yolox_decoded: Option<bool>,
    person_classes: Option<Vec<i64>>,
    vehicle_classes: Option<Vec<i64>>,
    score_thresholds: Option<std::collections::BTreeMap<String, f64>>,
    vehicle_nms: Option<String>,
    #[serde(default)]
    night: RawNight,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNight {
    mode: Option<String>,
    equalize: Option<bool>,
    max_chroma: Option<f64>,
    max_luma: Option<f64>,
    score_thresholds: Option<std::collections::BTreeMap<String, f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTracker {
    high_score: Option<f64>,
    low_score: Option<f64>,
    new_track_score: Option<f64>,
    match_iou: Option<f64>,
    match_iou_low: Option<f64>,
    min_hits: Option<i64>,
    lost_buffer: Option<Seconds>,
    vehicle_max_speed: Option<f64>,
    person_max_speed: Option<f64>,
    vehicle_high_score: Option<f64>,
    vehicle_confirm_score: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    enabled: Option<bool>,
    bind: Option<String>,
    token: Option<String>,
    token_env: Option<String>,
    token_file: Option<String>,
    public_url: Option<String>,
    preview_every: Option<Seconds>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHomeAssistant {
    enabled: Option<bool>,
    discovery_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    stats_every: Option<Seconds>,
    watchdog: Option<Seconds>,
    stream_timeout: Option<Seconds>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    dir: Option<String>,
    jpeg_quality: Option<i64>,
    max_files: Option<i64>,
    max_mb: Option<f64>,
    max_age: Option<Seconds>,
    font: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGathering {
    min_people: Option<i64>,
    link_distance: Option<f64>,
    max_speed: Option<f64>,
    min_duration: Option<Seconds>,
    grace: Option<Seconds>,
    update_every: Option<Seconds>,
    clear_after: Option<Seconds>,
    cooldown: Option<Seconds>,
}

/// The timing fields of a rule's table, in the order of [`Validator::timing`].
macro_rules! raw_timing {
    ($($t:ty),*) => {$(
        impl $t {
            fn timing(&self) -> [Option<Seconds>; 5] {
                [self.min_duration, self.grace, self.update_every, self.clear_after, self.cooldown]
            }
        }
    )*};
}
raw_timing!(RawGathering, RawWeaving, RawLoitering);

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoitering {
    window: Option<Seconds>,
    max_radius: Option<f64>,
    min_duration: Option<Seconds>,
    grace: Option<Seconds>,
    update_every: Option<Seconds>,
    clear_after: Option<Seconds>,
    cooldown: Option<Seconds>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeaving {
    window: Option<Seconds>,
    min_speed: Option<f64>,
    min_swing: Option<f64>,
    min_reversals: Option<i64>,
    racing_min_vehicles: Option<i64>,
    min_duration: Option<Seconds>,
    grace: Option<Seconds>,
    update_every: Option<Seconds>,
    clear_after: Option<Seconds>,
    cooldown: Option<Seconds>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMotion {
    enabled: Option<bool>,
    width: Option<i64>,
    threshold: Option<i64>,
    min_area: Option<f64>,
    margin: Option<f64>,
    max_skip: Option<Seconds>,
    mask: Option<Vec<Vec<Vec<f64>>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    /// Four image points, normalised to the frame.
    image: Vec<Vec<f64>>,
    /// The same four points on the ground, in metres.
    world: Vec<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCamera {
    id: String,
    name: Option<String>,
    url: String,
    #[serde(default = "default_detect_fps")]
    detect_fps: f64,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default = "yes")]
    hw_decode: bool,
    calibration: Option<RawCalibration>,
    #[serde(default)]
    motion: RawMotion,
    #[serde(default)]
    filters: filters::RawFilters,
    #[serde(default, rename = "zone")]
    zones: Vec<RawZone>,
}

fn default_detect_fps() -> f64 {
    5.0
}
fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    id: String,
    name: Option<String>,
    polygon: Vec<Vec<f64>>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    schedule: ScheduleSpec,
    timezone: Option<String>,
    #[serde(default)]
    gathering: RawGathering,
    #[serde(default)]
    weaving: RawWeaving,
    #[serde(default)]
    loitering: RawLoitering,
    filters: Option<filters::RawFilters>,
}

/// `schedule = "22:00-05:00"` or `schedule = ["fri,sat 21:00-06:00", "mon-thu 22:00-05:00"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ScheduleSpec {
    One(String),
    Many(Vec<String>),
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        ScheduleSpec::One("always".into())
    }
}

/// A duration in seconds: a number (`90`) or a string with units (`"90s"`, `"2m"`, `"1h 30m"`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seconds(f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "seconds as a number, or a duration string like \"90s\", \"2m\", \"1h 30m\" or \"30d\"",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                v.trim()
                    .parse::<jiff::SignedDuration>()
                    .map(|d| d.as_secs_f64())
                    .ok()
                    .or_else(|| duration_with_days(v))
                    .map(Seconds)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// `"30d"`, `"1w 2d"`, `"1d 12h"`, `"2 days"`: the units jiff's duration syntax leaves out
/// (days and weeks, taken as 24 h and 7 × 24 h), with h, m and s beside them.
fn duration_with_days(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = rest[num_end..].trim_start();
        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = rest[unit_end..].trim_start_matches([' ', ',']);
        let scale = match unit {
            "w" | "week" | "weeks" => 7.0 * 86400.0,
            "d" | "day" | "days" => 86400.0,
            "h" | "hour" | "hours" => 3600.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            _ => return None,
        };
        total += n * scale;
    }
    Some(total)
}

// ---------------------------------------------------------------- loading

impl Config {
    /// Read, parse and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            issues: vec![ConfigIssue {
                line: None,
                field: String::new(),
                message: match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file; pass the path of a wardwatch TOML config (see config/demo.toml)".into(),
                    _ => format!("cannot read ({e})"),
                },
            }],
        })?;
        Self::from_str(&text, path)
    }

    /// Parse and validate config text; `path` is used for messages and to resolve relative paths.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let fail = |issues| ConfigError {
            file: path.to_path_buf(),
            issues,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let mut message = e.message().trim().to_string();
            if let Some(l) = line
                && let Some(src) = text.lines().nth(l - 1)
            {
                message = format!("{message} (at `{}`)", src.trim());
            }
            fail(vec![ConfigIssue {
                line,
                field: String::new(),
                message,
            }])
        })?;
        let doc = toml_edit::ImDocument::parse(text).ok();
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let mut v = Validator {
            text,
            doc: doc.as_ref(),
            issues: Vec::new(),
        };
        let cfg = v.config(raw, &base, path);
        if v.issues.is_empty() {
            Ok(cfg.expect("config built when there are no issues"))
        } else {
            Err(fail(v.issues))
        }
    }

    pub fn camera(&self, id: &str) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| c.id == id)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    // Absolute, so snapshot paths in events mean the same to every reader.
    normalize(&std::path::absolute(&joined).unwrap_or(joined))
}

/// Lexically drop `.` and fold `dir/..` (no file system access), so messages and event
/// snapshot paths read `var/snapshots/…` rather than `config/../var/snapshots/…`.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// Names used in MQTT topics and file names.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// The id to suggest for a name, or `fallback` when nothing ASCII is left of it.
fn suggest_or(name: &str, fallback: &str) -> String {
    let id = crate::publish::text::suggest_id(name);
    if valid_name(&id) { id } else { fallback.into() }
}

const NAME_RULE: &str =
    "use 1-64 letters, digits, '-', '_' or '.' (it becomes part of MQTT topics)";

#[derive(Debug, Clone)]
enum Seg {
    Key(&'static str),
    Idx(usize),
}

struct Validator<'a> {
    text: &'a str,
    doc: Option<&'a toml_edit::ImDocument<&'a str>>,
    issues: Vec<ConfigIssue>,
}

impl Validator<'_> {
    fn field_name(path: &[Seg]) -> String {
        let mut s = String::new();
        for seg in path {
            match seg {
                Seg::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                Seg::Idx(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }

    /// Line of the deepest part of `path` present in the document.
    fn line(&self, path: &[Seg]) -> Option<usize> {
        enum Node<'d> {
            Table(&'d toml_edit::Table),
            Item(&'d toml_edit::Item),
        }
        let doc = self.doc?;
        let mut node = Node::Table(doc.as_table());
        let mut best = None;
        for seg in path {
            let next = match (seg, &node) {
                (Seg::Key(k), Node::Table(t)) => {
                    best = t
                        .key(k)
                        .and_then(|key| key.span().map(|r| r.start))
                        .or(best);
                    t.get(k).map(Node::Item)
                }
                (Seg::Key(k), Node::Item(toml_edit::Item::Table(t))) => {
                    best = t
                        .key(k)
                        .and_then(|key| key.span().map(|r| r.start))
                        .or(best);
                    t.get(k).map(Node::Item)
                }
                (
                    Seg::Key(k),
                    Node::Item(toml_edit::Item::Value(toml_edit::Value::InlineTable(t))),
                ) => {
                    best = t
                        .key(k)
                        .and_then(|key| key.span().map(|r| r.start))
                        .or(best);
                    None
                }
                (Seg::Idx(i), Node::Item(toml_edit::Item::ArrayOfTables(a))) => {
                    a.get(*i).map(|t| {
                        best = t.span().map(|r| r.start).or(best);
                        Node::Table(t)
                    })
                }
                (Seg::Idx(i), Node::Item(toml_edit::Item::Value(toml_edit::Value::Array(a)))) => {
                    best = a.get(*i).and_then(|v| v.span().map(|r| r.start)).or(best);
                    None
                }
                _ => None,
            };
            match next {
                Some(n) => {
                    if let Node::Item(it) = &n {
                        best = it.span().map(|r| r.start).or(best);
                    }
                    node = n;
                }
                None => break,
            }
        }
        best.map(|s| line_of(self.text, s))
    }

    fn issue(&mut self, path: &[Seg], message: impl Into<String>) {
        let line = self.line(path);
        self.issues.push(ConfigIssue {
            line,
            field: Self::field_name(path),
            message: message.into(),
        });
    }

    /// Mask polygons written at `path` (`[[[x, y], …], …]`, the zone convention): the
    /// valid ones, and an issue for each other naming its index.
    fn mask_polygons(&mut self, path: &[Seg], list: &[Vec<Vec<f64>>]) -> Vec<Polygon> {
        let mut out = Vec::new();
        for (mi, poly) in list.iter().enumerate() {
            let pts: Option<Vec<[f64; 2]>> = poly
                .iter()
                .map(|q| (q.len() == 2).then(|| [q[0], q[1]]))
                .collect();
            match pts
                .ok_or_else(|| {
                    "each point is [x, y] in 0..1 of the frame, like a zone polygon".to_string()
                })
                .and_then(Polygon::new)
            {
                Ok(m) => out.push(m),
                Err(e) => {
                    let mut p = path.to_vec();
                    p.push(Seg::Idx(mi));
                    self.issue(&p, format!("mask {}: {e}", mi + 1));
                }
            }
        }
        out
    }

    fn config(&mut self, raw: RawConfig, base: &Path, file: &Path) -> Option<Config> {
        let site = self.site(&raw.site);
        let mqtt = self.mqtt(&raw.mqtt, base, raw.site.id());
        let detector = self.model(&raw.model, base);
        let tracker = self.tracker(&raw.tracker);
        let evidence = self.evidence(&raw.evidence, base);
        let runtime = self.runtime(&raw.runtime);
        let console = self.console(&raw.console, base);
        let homeassistant = self.homeassistant(&raw.homeassistant);
        if raw.motion.mask.is_some() {
            self.issue(
                &[Seg::Key("motion"), Seg::Key("mask")],
                "masks belong to a camera: put them in [camera.motion]",
            );
        }
        if raw.cameras.is_empty() {
            self.motion(usize::MAX, &raw.motion, &RawMotion::default());
        }
        let site_filters = self.filters_table(&[Seg::Key("filters")], &raw.filters, false);
        self.gathering(
            &[Seg::Key("gathering")],
            &RawGathering::default(),
            &raw.gathering,
            false,
        );
        self.weaving(
            &[Seg::Key("weaving")],
            &RawWeaving::default(),
            &raw.weaving,
            false,
        );
        self.loitering(
            &[Seg::Key("loitering")],
            &RawLoitering::default(),
            &raw.loitering,
            false,
        );
        let mut cameras = Vec::new();
        let mut ids = HashSet::new();
        if raw.cameras.is_empty() {
            self.issue(
                &[Seg::Key("camera")],
                "no cameras: add at least one [[camera]] with an id and a url",
            );
        }
        for (ci, cam) in raw.cameras.iter().enumerate() {
            let p = [Seg::Key("camera"), Seg::Idx(ci)];
            if !valid_name(&cam.id) {
                self.check_id(&[p[0].clone(), p[1].clone(), Seg::Key("id")], &cam.id, "id");
            } else if !ids.insert(cam.id.clone()) {
                self.issue(
                    &[p[0].clone(), p[1].clone(), Seg::Key("id")],
                    format!(
                        "{:?} is used by another camera; camera ids must be unique",
                        cam.id
                    ),
                );
            }
            if cam.url.trim().is_empty() {
                self.issue(
                    &[p[0].clone(), p[1].clone(), Seg::Key("url")],
                    "is empty: give rtsp://…, http://…, a /dev/video device or a video file path",
                );
            }
            if !(cam.detect_fps.is_finite() && cam.detect_fps > 0.0 && cam.detect_fps <= 60.0) {
                self.issue(
                    &[p[0].clone(), p[1].clone(), Seg::Key("detect_fps")],
                    format!(
                        "{} is out of range: use a value in (0, 60] frames per second (default 5)",
                        cam.detect_fps
                    ),
                );
            }
            let tz_site = site.as_ref().map(|s| s.timezone.clone());
            let calibration = cam
                .calibration
                .as_ref()
                .and_then(|c| self.calibration(ci, c));
            let zones = self.zones(
                ci,
                cam,
                tz_site,
                &raw.gathering,
                &raw.weaving,
                &raw.loitering,
                cam.calibration.is_some(),
            );
            let motion = self.motion(ci, &raw.motion, &cam.motion);
            let own = self.filters_table(
                &[Seg::Key("camera"), Seg::Idx(ci), Seg::Key("filters")],
                &cam.filters,
                true,
            );
            let filter = self.object_filter(&own, &site_filters);
            let url = if cam.url.contains("://") || cam.url.starts_with("/dev/") {
                cam.url.clone()
            } else {
                resolve(base, &cam.url).display().to_string()
            };
            let name = self.display_name(
                &[p[0].clone(), p[1].clone(), Seg::Key("name")],
                cam.name.as_deref(),
                &cam.id,
            );
            let mut zone_names = Vec::new();
            for (zi, z) in cam.zones.iter().enumerate() {
                if z.name.is_some() {
                    let path = [
                        p[0].clone(),
                        p[1].clone(),
                        Seg::Key("zone"),
                        Seg::Idx(zi),
                        Seg::Key("name"),
                    ];
                    let n = self.display_name(&path, z.name.as_deref(), &z.id);
                    zone_names.push((z.id.clone(), n));
                }
            }
            cameras.push(CameraConfig {
                id: cam.id.clone(),
                name,
                zone_names,
                url,
                detect_fps: cam.detect_fps,
                enabled: cam.enabled,
                hw_decode: cam.hw_decode,
                calibration,
                motion,
                filter,
                zones,
            });
        }
        let console: ConsoleConfig = console?;
        let mut evidence: EvidenceConfig = evidence?;
        if console.enabled {
            evidence.url_base = Some(format!("{}/evidence", console.public_url));
        }
        Some(Config {
            file: file.to_path_buf(),
            site: site?,
            mqtt: mqtt?,
            detector: detector?,
            tracker: tracker?,
            evidence,
            runtime: runtime?,
            console,
            homeassistant: homeassistant?,
            cameras,
        })
    }

    fn homeassistant(&mut self, h: &RawHomeAssistant) -> Option<HomeAssistantConfig> {
        let prefix = h
            .discovery_prefix
            .clone()
            .unwrap_or_else(|| "homeassistant".into());
        if prefix.is_empty()
            || prefix.contains(['+', '#'])
            || prefix.starts_with('/')
            || prefix.ends_with('/')
        {
            self.issue(
                &[Seg::Key("homeassistant"), Seg::Key("discovery_prefix")],
                format!("{prefix:?} is not a valid topic prefix: no '+', '#', or leading/trailing '/' (Home Assistant's default is \"homeassistant\")"),
            );
            return None;
        }
        Some(HomeAssistantConfig {
            enabled: h.enabled.unwrap_or(false),
            discovery_prefix: prefix,
        })
    }

    fn console(&mut self, c: &RawConsole, base: &Path) -> Option<ConsoleConfig> {
        let before = self.issues.len();
        let k = |f: &'static str| [Seg::Key("console"), Seg::Key(f)];
        let enabled = c.enabled.unwrap_or(false);
        let bind_text = c.bind.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = match bind_text.parse::<std::net::SocketAddr>() {
            Ok(b) => b,
            Err(_) => {
                self.issue(
                    &k("bind"),
                    format!("{bind_text:?} is not an address:port: use e.g. \"127.0.0.1:8080\" (this box only) or \"0.0.0.0:8080\" (the LAN; the token still guards it)"),
                );
                "127.0.0.1:8080".parse().expect("literal address")
            }
        };
        let mut token = c.token.clone();
        if let Some(var) = &c.token_env {
            match std::env::var(var) {
                Ok(t) => token = Some(t),
                Err(_) => self.issue(
                    &k("token_env"),
                    format!("environment variable {var:?} is not set"),
                ),
            }
        }
        if let Some(f) = &c.token_file {
            match std::fs::read_to_string(resolve(base, f)) {
                Ok(t) => token = Some(t.trim_end_matches(['\n', '\r']).to_string()),
                Err(e) => self.issue(&k("token_file"), format!("{f:?} cannot be read ({e})")),
            }
        }
        let token = token.unwrap_or_default();
        if enabled && token.chars().count() < 16 {
            self.issue(
                &k("token"),
                if token.is_empty() {
                    "is missing: the console needs a token of at least 16 characters (token, token_env or token_file), e.g. from `openssl rand -hex 16`".to_string()
                } else {
                    format!("is {} characters: use at least 16 (e.g. `openssl rand -hex 16`)", token.chars().count())
                },
            );
        }
        let public_url = c
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            self.issue(
                &k("public_url"),
                format!("{public_url:?} is not an http(s) URL: give the address the duty desk reaches this box at, e.g. \"http://10.0.0.5:8080\""),
            );
        }
        let preview_every_s = c.preview_every.map_or(1.0, |s| s.0);
        if !(preview_every_s.is_finite() && (0.2..=60.0).contains(&preview_every_s)) {
            self.issue(
                &k("preview_every"),
                format!("{preview_every_s} s is out of range: use 0.2 to 60 s (default 1 s)"),
            );
        }
        (self.issues.len() == before).then_some(ConsoleConfig {
            enabled,
            bind,
            token,
            public_url,
            preview_every_s,
        })
    }

    fn runtime(&mut self, r: &RawRuntime) -> Option<RuntimeConfig> {
        let d = RuntimeConfig::default();
        let before = self.issues.len();
        let mut get = |v: &Option<Seconds>, field: &'static str, def: f64, min: f64, max: f64| {
            let x = v.as_ref().map_or(def, |s| s.0);
            if !(x.is_finite() && x >= min && x <= max) {
                self.issue(
                    &[Seg::Key("runtime"), Seg::Key(field)],
                    format!("{x} s is out of range: use {min} to {max} s (default {def} s)"),
                );
            }
            x
        };
        let rc = RuntimeConfig {
            stats_every_s: get(&r.stats_every, "stats_every", d.stats_every_s, 0.0, 86400.0),
            watchdog_s: get(&r.watchdog, "watchdog", d.watchdog_s, 1.0, 600.0),
            stream_timeout_s: get(
                &r.stream_timeout,
                "stream_timeout",
                d.stream_timeout_s,
                1.0,
                600.0,
            ),
        };
        (self.issues.len() == before).then_some(rc)
    }

    fn site(&mut self, s: &RawSite) -> Option<SiteConfig> {
        let before = self.issues.len();
        let k = |f: &'static str| [Seg::Key("site"), Seg::Key(f)];
        let id = s.id().to_string();
        match (&s.id, &s.name) {
            (None, None) => self.issue(
                &k("id"),
                "is missing: give the site an ASCII id (it becomes part of MQTT topics), e.g. id = \"phuong-7\", and optionally a name = \"Phường 7\"",
            ),
            (Some(_), _) => self.check_id(&k("id"), &id, "id"),
            // The older form: `name` alone is the id; a Vietnamese name needs an id beside it.
            (None, Some(n)) if !valid_name(n) => self.issue(
                &k("id"),
                format!(
                    "is missing, and name {n:?} cannot serve as the id: add id = {:?} (ASCII, for MQTT topics) and keep name = {n:?} for the officer",
                    suggest_or(n, "site")
                ),
            ),
            (None, Some(_)) => {}
        }
        let name = self.display_name(&k("name"), s.name.as_deref(), &id);
        let language = match s.language.as_deref() {
            None => crate::publish::text::Language::default(),
            Some(l) => crate::publish::text::Language::parse(l).unwrap_or_else(|| {
                self.issue(
                    &k("language"),
                    format!("{l:?} is not a language wardwatch speaks: use \"vi\" (the default) or \"en\""),
                );
                crate::publish::text::Language::default()
            }),
        };
        let tz = self.timezone(&k("timezone"), &s.timezone);
        let ok = self.issues.len() == before;
        Some(SiteConfig {
            id,
            name,
            language,
            timezone: tz?,
            timezone_name: s.timezone.clone(),
        })
        .filter(|_| ok)
    }

    /// An ASCII id; a Vietnamese one is answered with the id to use and `name` for the text.
    fn check_id(&mut self, path: &[Seg], id: &str, what: &str) {
        if valid_name(id) {
            return;
        }
        let hint = if id.is_ascii() {
            String::new()
        } else {
            format!(
                "; for Vietnamese text write {what} = {:?} and name = {id:?}",
                suggest_or(id, "id")
            )
        };
        self.issue(
            path,
            format!("{id:?} is not a valid {what}: {NAME_RULE}{hint}"),
        );
    }

    /// A display name: any Unicode, 1-100 characters, no control characters; the id
    /// where none is given.
    fn display_name(&mut self, path: &[Seg], name: Option<&str>, id: &str) -> String {
        let Some(n) = name else {
            return id.to_string();
        };
        let t = n.trim();
        if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
            self.issue(
                path,
                format!("{n:?} is not a usable name: use 1 to 100 characters without control characters or line breaks (any language; leave it out to show the id)"),
            );
        }
        t.to_string()
    }

    fn timezone(&mut self, path: &[Seg], name: &str) -> Option<jiff::tz::TimeZone> {
        match jiff::tz::TimeZone::get(name) {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.issue(
                    path,
                    format!(
                        "unknown time zone {name:?}: use an IANA name such as \"Asia/Ho_Chi_Minh\""
                    ),
                );
                None
            }
        }
    }

    fn mqtt(&mut self, m: &RawMqtt, base: &Path, site: &str) -> Option<MqttConfig> {
        let k = |f: &'static str| [Seg::Key("mqtt"), Seg::Key(f)];
        let mut ok = true;
        let url = m
            .url
            .clone()
            .unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
        if let Err(e) = crate::publish::mqtt::MqttSettings::parse_url(&url) {
            self.issue(&k("url"), e);
            ok = false;
        }
        let topic_prefix = m.topic_prefix.clone().unwrap_or_else(|| "wardwatch".into());
        if topic_prefix.is_empty()
            || topic_prefix.contains(['+', '#'])
            || topic_prefix.starts_with('/')
            || topic_prefix.ends_with('/')
        {
            self.issue(&k("topic_prefix"), format!("{topic_prefix:?} is not a valid topic prefix: no '+', '#', or leading/trailing '/'"));
            ok = false;
        }
        let mut username = m.username.clone();
        if let Some(var) = &m.username_env {
            match std::env::var(var) {
                Ok(u) => username = Some(u),
                Err(_) => {
                    self.issue(
                        &k("username_env"),
                        format!("environment variable {var:?} is not set"),
                    );
                    ok = false;
                }
            }
        }
        let mut password = None;
        if let Some(var) = &m.password_env {
            match std::env::var(var) {
                Ok(p) => password = Some(p),
                Err(_) => {
                    self.issue(
                        &k("password_env"),
                        format!("environment variable {var:?} is not set"),
                    );
                    ok = false;
                }
            }
        }
        if let Some(f) = &m.password_file {
            match std::fs::read_to_string(resolve(base, f)) {
                Ok(p) => password = Some(p.trim_end_matches(['\n', '\r']).to_string()),
                Err(e) => {
                    self.issue(&k("password_file"), format!("{f:?} cannot be read ({e})"));
                    ok = false;
                }
            }
        }
        let ca_file = m.ca_file.as_deref().map(|f| resolve(base, f));
        if let Some(ca) = &ca_file {
            let problem = match std::fs::read(ca) {
                Err(e) => Some(format!(
                    "{:?} cannot be read ({e})",
                    ca.display().to_string()
                )),
                Ok(pem) => crate::publish::mqtt::check_pem_certificates(&pem)
                    .err()
                    .map(|e| format!("{:?}: {e}", ca.display().to_string())),
            };
            if let Some(p) = problem {
                self.issue(&k("ca_file"), p);
                ok = false;
            }
        }
        let keep_alive_s = m.keep_alive.map(|s| s.0).unwrap_or(30.0);
        if !(5.0..=3600.0).contains(&keep_alive_s) {
            self.issue(
                &k("keep_alive"),
                format!("{keep_alive_s} s is out of range: use 5 s to 1 h (default 30 s)"),
            );
            ok = false;
        }
        let mb = m.outbox_max_mb.unwrap_or(256.0);
        if !(mb.is_finite() && (1.0..=1_000_000.0).contains(&mb)) {
            self.issue(
                &k("outbox_max_mb"),
                format!("{mb} is out of range: use 1 to 1000000 (MB, default 256)"),
            );
            ok = false;
        }
        let cfg = MqttConfig {
            url,
            client_id: m
                .client_id
                .clone()
                .unwrap_or_else(|| format!("wardwatch-{site}")),
            topic_prefix,
            username,
            password,
            ca_file,
            keep_alive_s: keep_alive_s as u64,
            outbox_dir: resolve(base, m.outbox_dir.as_deref().unwrap_or("../var/outbox")),
            outbox_max_bytes: (mb * 1e6) as u64,
        };
        ok.then_some(cfg)
    }

    fn model(&mut self, m: &RawModel, base: &Path) -> Option<DetectorSettings> {
        let k = |f: &'static str| [Seg::Key("model"), Seg::Key(f)];
        let before = self.issues.len();
        let path = resolve(
            base,
            m.path.as_deref().unwrap_or("../models/nanodet-g-416.onnx"),
        );
        // Whether the file is there is checked when the model is loaded (exit 1, like
        // any other missing file), not here: the config itself is fine.
        let family_name = m.family.as_deref().unwrap_or("nanodet");
        let family = Family::parse(family_name).unwrap_or_else(|| {
            self.issue(&k("family"), format!("{family_name:?} is not supported: use \"nanodet\", \"yolov8\", \"yolo11\" or \"yolox\""));
            Family::Nanodet
        });
        let mut s = DetectorSettings::for_family(family, path);
        let ep_name = m.execution_provider.as_deref().unwrap_or("cpu");
        s.provider.provider = ExecutionProvider::parse(ep_name).unwrap_or_else(|| {
            self.issue(&k("execution_provider"), format!("{ep_name:?} is not supported: use \"cpu\", \"cuda\", \"tensorrt\" or \"openvino\""));
            ExecutionProvider::Cpu
        });
        s.provider.fallback = match m.fallback.as_deref().unwrap_or("cpu") {
            "cpu" => Fallback::Cpu,
            "fail" => Fallback::Fail,
            other => {
                self.issue(&k("fallback"), format!("{other:?} is not allowed: use \"cpu\" (run on the CPU with a warning) or \"fail\""));
                Fallback::Cpu
            }
        };
        s.provider.device_id = m.device_id.unwrap_or(0).clamp(0, 64) as i32;
        s.provider.trt_cache_dir = m.tensorrt_cache_dir.as_deref().map(|d| resolve(base, d));
        s.provider.trt_fp16 = m.tensorrt_fp16.unwrap_or(false);
        s.provider.openvino_device = m.openvino_device.clone().unwrap_or_else(|| "CPU".into());
        let threads = m.threads.unwrap_or(2);
        if !(1..=64).contains(&threads) {
            self.issue(
                &k("threads"),
                format!("{threads} is out of range: use 1 to 64 (default 2)"),
            );
        }
        let score = m.score_threshold.unwrap_or(0.35);
        if !(score > 0.0 && score < 1.0) {
            self.issue(
                &k("score_threshold"),
                format!("{score} is out of range: use a value in (0, 1) (default 0.35)"),
            );
        }
        let iou = m.nms_iou.unwrap_or(0.45);
        if !(iou > 0.0 && iou <= 1.0) {
            self.issue(
                &k("nms_iou"),
                format!("{iou} is out of range: use a value in (0, 1] (default 0.45)"),
            );
        }
        let max_det = m.max_detections.unwrap_or(100);
        if !(1..=1000).contains(&max_det) {
            self.issue(
                &k("max_detections"),
                format!("{max_det} is out of range: use 1 to 1000 (default 100)"),
            );
        }
        let batch = m.batch.unwrap_or(1);
        if !(1..=16).contains(&batch) {
            self.issue(
                &k("batch"),
                format!("{batch} is out of range: use 1 to 16 frames per inference (default 1)"),
            );
        }
        s.batch = batch.clamp(1, 16) as usize;
        let runtime_library = m.runtime_library.as_deref().map(|p| resolve(base, p));
        if let Some(lib) = &runtime_library
            && !lib.is_file()
        {
            self.issue(
                &k("runtime_library"),
                format!("{:?} not found: point it at libonnxruntime.so, or remove it to use ORT_DYLIB_PATH", lib.display().to_string()),
            );
        }
        if let Some(v) = &m.input_size {
            match v.as_slice() {
                [w, h] if (16..=8192).contains(w) && (16..=8192).contains(h) => {
                    s.input_size = Some((*w as usize, *h as usize))
                }
                _ => self.issue(
                    &k("input_size"),
                    format!("{v:?} is not [width, height] with 16..8192 pixels each"),
                ),
            }
        }
        match m.resize.as_deref() {
            None => {}
            Some("stretch") => s.resize = Resize::Stretch,
            Some("letterbox") => s.resize = Resize::Letterbox,
            Some(o) => self.issue(
                &k("resize"),
                format!("{o:?} is not allowed: use \"stretch\" or \"letterbox\""),
            ),
        }
        match m.channel_order.as_deref() {
            None => {}
            Some("bgr") => s.rgb = false,
            Some("rgb") => s.rgb = true,
            Some(o) => self.issue(
                &k("channel_order"),
                format!("{o:?} is not allowed: use \"bgr\" or \"rgb\""),
            ),
        }
        for (field, val, target) in [("mean", &m.mean, &mut s.mean), ("std", &m.std, &mut s.std)] {
            if let Some(v) = val {
                if v.len() == 3
                    && v.iter().all(|x| x.is_finite())
                    && (field == "mean" || v.iter().all(|x| *x > 0.0))
                {
                    *target = [v[0] as f32, v[1] as f32, v[2] as f32];
                } else {
                    self.issue(&k(field), format!("{v:?} is not three numbers (per channel, in the model's channel order{})", if field == "std" { ", all > 0" } else { "" }));
                }
            }
        }
        s.yolox_decoded = m.yolox_decoded.unwrap_or(false);
        if m.person_classes.is_some() || m.vehicle_classes.is_some() {
            let mut entries = Vec::new();
            for (field, list, class) in [
                ("person_classes", &m.person_classes, ObjectClass::Person),
                ("vehicle_classes", &m.vehicle_classes, ObjectClass::Vehicle),
            ] {
                for &l in list.iter().flatten() {
                    if (0..=u16::MAX as i64).contains(&l) {
                        entries.push((l as u16, class));
                    } else {
                        self.issue(&k(field), format!("{l} is not a class index (0..65535)"));
                    }
                }
            }
            s.classes = Some(ClassMap::new(entries));
        }
        s.runtime_library = runtime_library;
        s.intra_threads = threads.clamp(1, 64) as usize;
        s.intra_spinning = m.intra_op_spinning.unwrap_or(false);
        let joint = match m.vehicle_nms.as_deref() {
            None | Some("joint") => true,
            Some("per_label") => false,
            Some(other) => {
                self.issue(
                    &k("vehicle_nms"),
                    format!("{other:?} is not a choice: use \"joint\" (one NMS across vehicle labels, the default) or \"per_label\""),
                );
                true
            }
        };
        s.decode = DecodeParams {
            score_threshold: score as f32,
            nms_iou: iou as f32,
            max_detections: max_det.clamp(1, 1000) as usize,
            joint_vehicle_nms: joint,
        };
        let mut table = |path: Vec<Seg>, t: &std::collections::BTreeMap<String, f64>| {
            let mut out = Vec::new();
            for (name, v) in t {
                if !(*v > 0.0 && *v < 1.0) {
                    // Paths name static keys; a bad entry of a table the user named is rare
                    // enough to leak its name for the message.
                    let mut p = path.clone();
                    p.push(Seg::Key(Box::leak(name.clone().into_boxed_str())));
                    self.issue(&p, format!("{v} is out of range: use a score in (0, 1)"));
                }
                out.push((name.clone(), *v as f32));
            }
            out
        };
        if let Some(t) = &m.score_thresholds {
            s.score_thresholds = table(k("score_thresholds").to_vec(), t);
        }
        let nk = |f: &'static str| [Seg::Key("model"), Seg::Key("night"), Seg::Key(f)];
        if let Some(t) = &m.night.score_thresholds {
            s.night.score_thresholds = table(nk("score_thresholds").to_vec(), t);
        }
        s.night.mode = match m.night.mode.as_deref() {
            None | Some("auto") => NightMode::Auto,
            Some("on") => NightMode::On,
            Some("off") => NightMode::Off,
            Some(other) => {
                self.issue(
                    &nk("mode"),
                    format!("{other:?} is not a choice: use \"auto\" (per frame: grey or dark frames, the default), \"on\" or \"off\""),
                );
                NightMode::Auto
            }
        };
        s.night.equalize = m.night.equalize.unwrap_or(true);
        for (field, v, slot, default) in [
            (
                "max_chroma",
                m.night.max_chroma,
                &mut s.night.max_chroma,
                6.0,
            ),
            ("max_luma", m.night.max_luma, &mut s.night.max_luma, 70.0),
        ] {
            let x = v.unwrap_or(default);
            if !(0.0..=255.0).contains(&x) {
                self.issue(
                    &nk(field),
                    format!("{x} is out of range: use 0 to 255 (default {default})"),
                );
            }
            *slot = x as f32;
        }
        (self.issues.len() == before).then_some(s)
    }

    fn unit(&mut self, path: &[Seg], v: Option<f64>, default: f64, name_default: &str) -> f64 {
        let x = v.unwrap_or(default);
        if !(x.is_finite() && x > 0.0 && x <= 1.0) {
            self.issue(
                path,
                format!("{x} is out of range: use a value in (0, 1] (default {name_default})"),
            );
        }
        x
    }

    fn tracker(&mut self, t: &RawTracker) -> Option<TrackerConfig> {
        let k = |f: &'static str| [Seg::Key("tracker"), Seg::Key(f)];
        let before = self.issues.len();
        let d = TrackerConfig::default();
        let high = self.unit(
            &k("high_score"),
            t.high_score,
            d.high_score as f64,
            &d.high_score.to_string(),
        );
        let low = self.unit(
            &k("low_score"),
            t.low_score,
            d.low_score as f64,
            &d.low_score.to_string(),
        );
        let new_track = self.unit(
            &k("new_track_score"),
            t.new_track_score,
            d.new_track_score as f64,
            &d.new_track_score.to_string(),
        );
        if low > high {
            self.issue(
                &k("low_score"),
                format!("{low} is above high_score {high}: low_score must not exceed high_score"),
            );
        }
        let match_iou = self.unit(
            &k("match_iou"),
            t.match_iou,
            d.match_iou_first as f64,
            &d.match_iou_first.to_string(),
        );
        let match_iou_low = self.unit(
            &k("match_iou_low"),
            t.match_iou_low,
            d.match_iou_second as f64,
            &d.match_iou_second.to_string(),
        );
        let min_hits = t.min_hits.unwrap_or(d.min_hits as i64);
        if !(1..=100).contains(&min_hits) {
            self.issue(
                &k("min_hits"),
                format!(
                    "{min_hits} is out of range: use 1 to 100 (default {})",
                    d.min_hits
                ),
            );
        }
        let lost = t.lost_buffer.map(|s| s.0).unwrap_or(d.lost_buffer_s);
        if !(lost.is_finite() && (0.0..=600.0).contains(&lost)) {
            self.issue(
                &k("lost_buffer"),
                format!(
                    "{lost} s is out of range: use 0 to 600 s (default {} s)",
                    d.lost_buffer_s
                ),
            );
        }
        let mut speed = |field: &'static str, v: Option<f64>, default: f32| {
            let x = v.unwrap_or(default as f64);
            if !(x.is_finite() && (0.0..=50.0).contains(&x)) {
                self.issue(
                    &k(field),
                    format!(
                        "{x} is out of range: use 0 (off) to 50 box sizes per second (default {default})"
                    ),
                );
            }
            x as f32
        };
        let vehicle_max_speed = speed(
            "vehicle_max_speed",
            t.vehicle_max_speed,
            d.vehicle_max_speed,
        );
        let person_max_speed = speed("person_max_speed", t.person_max_speed, d.person_max_speed);
        let vehicle_high = self.unit(
            &k("vehicle_high_score"),
            t.vehicle_high_score,
            d.vehicle_high_score as f64,
            &d.vehicle_high_score.to_string(),
        );
        let vehicle_confirm = self.unit(
            &k("vehicle_confirm_score"),
            t.vehicle_confirm_score,
            d.vehicle_confirm_score as f64,
            &d.vehicle_confirm_score.to_string(),
        );
        (self.issues.len() == before).then_some(TrackerConfig {
            vehicle_high_score: vehicle_high as f32,
            vehicle_confirm_score: vehicle_confirm as f32,
            vehicle_max_speed,
            person_max_speed,
            high_score: high as f32,
            low_score: low as f32,
            new_track_score: new_track as f32,
            match_iou_first: match_iou as f32,
            match_iou_second: match_iou_low as f32,
            min_hits: min_hits as u32,
            lost_buffer_s: lost,
        })
    }

    fn evidence(&mut self, e: &RawEvidence, base: &Path) -> Option<EvidenceConfig> {
        let k = |f: &'static str| [Seg::Key("evidence"), Seg::Key(f)];
        let before = self.issues.len();
        let q = e.jpeg_quality.unwrap_or(85);
        if !(10..=100).contains(&q) {
            self.issue(
                &k("jpeg_quality"),
                format!("{q} is out of range: use 10 to 100 (default 85)"),
            );
        }
        let max_files = e.max_files.unwrap_or(2000);
        if !(1..=10_000_000).contains(&max_files) {
            self.issue(
                &k("max_files"),
                format!("{max_files} is out of range: use 1 to 10000000 (default 2000)"),
            );
        }
        let mb = e.max_mb.unwrap_or(1024.0);
        if !(mb.is_finite() && (1.0..=100_000_000.0).contains(&mb)) {
            self.issue(
                &k("max_mb"),
                format!("{mb} is out of range: use 1 to 100000000 (MB, default 1024)"),
            );
        }
        let age = e.max_age.map(|s| s.0).unwrap_or(30.0 * 86400.0);
        if !(age.is_finite() && age >= 60.0) {
            self.issue(
                &k("max_age"),
                format!("{age} s is out of range: use at least 60 s (default 30 days)"),
            );
        }
        (self.issues.len() == before).then(|| EvidenceConfig {
            dir: resolve(base, e.dir.as_deref().unwrap_or("../var/snapshots")),
            jpeg_quality: q as i32,
            max_files: max_files as usize,
            max_bytes: (mb * 1e6) as u64,
            max_age_s: age,
            font: match e.font.as_deref() {
                None => Some(crate::publish::evidence::DEFAULT_FONT.into()),
                Some("") => None,
                Some(f) => Some(resolve(base, f)),
            },
            url_base: None,
        })
    }

    /// Merge zone over site defaults over built-in defaults, then check ranges.
    /// The five timing fields every rule has: zone value, else site value, else the rule's
    /// default, each checked to be 0 s to 24 h. Returned as the rule's debouncer settings.
    fn timing(
        &mut self,
        path: &[Seg],
        zone: [Option<Seconds>; 5],
        site: [Option<Seconds>; 5],
        d: DebounceParams,
    ) -> DebounceParams {
        let names = [
            "min_duration",
            "grace",
            "update_every",
            "clear_after",
            "cooldown",
        ];
        let defaults = [
            d.min_duration_s,
            d.grace_s,
            d.update_every_s,
            d.clear_after_s,
            d.cooldown_s,
        ];
        let mut v = [0.0; 5];
        for i in 0..5 {
            let (def, x) = (
                defaults[i],
                zone[i].or(site[i]).map(|s| s.0).unwrap_or(defaults[i]),
            );
            if !(x.is_finite() && (0.0..=gathering::DURATION_MAX_S).contains(&x)) {
                let mut p = path.to_vec();
                p.push(Seg::Key(names[i]));
                self.issue(
                    &p,
                    format!("{x} s is out of range: use 0 s to 24 h (default {def} s)"),
                );
            }
            v[i] = x;
        }
        DebounceParams {
            min_duration_s: v[0],
            grace_s: v[1],
            update_every_s: v[2],
            clear_after_s: v[3],
            cooldown_s: v[4],
        }
    }

    fn loitering(
        &mut self,
        path: &[Seg],
        site: &RawLoitering,
        zone: &RawLoitering,
        calibrated: bool,
    ) -> Option<LoiteringParams> {
        let mut d = LoiteringParams::default();
        if calibrated {
            // Metric default: within 1.5 m of where the person stands.
            d.max_radius = 1.5;
        }
        let before = self.issues.len();
        let p = |f: &'static str| {
            let mut v = path.to_vec();
            v.push(Seg::Key(f));
            v
        };
        let radius = zone
            .max_radius
            .or(site.max_radius)
            .unwrap_or(d.max_radius as f64);
        if !(radius.is_finite() && radius > 0.0 && radius <= loitering::RADIUS_MAX) {
            self.issue(
                &p("max_radius"),
                format!(
                    "{radius} is out of range: use a value in (0, {}] (body heights, or metres with calibration; default {})",
                    loitering::RADIUS_MAX,
                    d.max_radius
                ),
            );
        }
        let window = zone
            .window
            .or(site.window)
            .map(|s| s.0)
            .unwrap_or(d.window_s);
        if !(window.is_finite() && (1.0..=loitering::WINDOW_MAX_S).contains(&window)) {
            self.issue(
                &p("window"),
                format!(
                    "{window} s is out of range: use 1 s to {} s (default {} s)",
                    loitering::WINDOW_MAX_S,
                    d.window_s
                ),
            );
        }
        let t = self.timing(path, zone.timing(), site.timing(), d.debounce());
        let params = LoiteringParams {
            window_s: window,
            max_radius: radius as f32,
            min_duration_s: t.min_duration_s,
            grace_s: t.grace_s,
            update_every_s: t.update_every_s,
            clear_after_s: t.clear_after_s,
            cooldown_s: t.cooldown_s,
        };
        (self.issues.len() == before).then_some(params)
    }

    fn gathering(
        &mut self,
        path: &[Seg],
        site: &RawGathering,
        zone: &RawGathering,
        calibrated: bool,
    ) -> Option<GatheringParams> {
        let mut d = GatheringParams::default();
        if calibrated {
            // Metric defaults: 1.5 m between people, the group centroid slower than 0.5 m/s.
            d.link_distance = 1.5;
            d.max_speed = 0.5;
        }
        let before = self.issues.len();
        let p = |f: &'static str| {
            let mut v = path.to_vec();
            v.push(Seg::Key(f));
            v
        };
        let min_people = zone
            .min_people
            .or(site.min_people)
            .unwrap_or(d.min_people as i64);
        if !gathering::MIN_PEOPLE.contains(&min_people) {
            self.issue(
                &p("min_people"),
                format!(
                    "{min_people} is out of range: use {} to {} people (default {})",
                    gathering::MIN_PEOPLE.start(),
                    gathering::MIN_PEOPLE.end(),
                    d.min_people
                ),
            );
        }
        let link = zone
            .link_distance
            .or(site.link_distance)
            .unwrap_or(d.link_distance as f64);
        if !(link.is_finite() && link > 0.0 && link <= gathering::LINK_DISTANCE_MAX) {
            self.issue(&p("link_distance"), format!("{link} is out of range: use a value in (0, {}] (body heights, or metres with calibration; default {})", gathering::LINK_DISTANCE_MAX, d.link_distance));
        }
        let speed = zone
            .max_speed
            .or(site.max_speed)
            .unwrap_or(d.max_speed as f64);
        if !(speed.is_finite() && speed > 0.0 && speed <= gathering::MAX_SPEED_MAX) {
            self.issue(&p("max_speed"), format!("{speed} is out of range: use a value in (0, {}] (body heights per second; default {})", gathering::MAX_SPEED_MAX, d.max_speed));
        }
        let t = self.timing(path, zone.timing(), site.timing(), d.debounce());
        let params = GatheringParams {
            min_people: min_people.clamp(0, *gathering::MIN_PEOPLE.end()) as usize,
            link_distance: link as f32,
            max_speed: speed as f32,
            min_duration_s: t.min_duration_s,
            grace_s: t.grace_s,
            update_every_s: t.update_every_s,
            clear_after_s: t.clear_after_s,
            cooldown_s: t.cooldown_s,
        };
        (self.issues.len() == before).then_some(params)
    }

    /// Merge zone over site defaults over built-in defaults, then check ranges.
    fn weaving(
        &mut self,
        path: &[Seg],
        site: &RawWeaving,
        zone: &RawWeaving,
        calibrated: bool,
    ) -> Option<WeavingParams> {
        let mut d = WeavingParams::default();
        if calibrated {
            // Metric defaults: swings of 0.6 m, faster than 2 m/s.
            d.min_swing = 0.6;
            d.min_speed = 2.0;
        }
        let before = self.issues.len();
        let p = |f: &'static str| {
            let mut v = path.to_vec();
            v.push(Seg::Key(f));
            v
        };
        let min_speed = zone
            .min_speed
            .or(site.min_speed)
            .unwrap_or(d.min_speed as f64);
        if !(min_speed.is_finite() && min_speed > 0.0 && min_speed <= weaving::MIN_SPEED_MAX) {
            self.issue(&p("min_speed"), format!("{min_speed} is out of range: use a value in (0, {}] (box widths per second, or m/s with calibration; default {})", weaving::MIN_SPEED_MAX, d.min_speed));
        }
        let min_swing = zone
            .min_swing
            .or(site.min_swing)
            .unwrap_or(d.min_swing as f64);
        if !(min_swing.is_finite() && min_swing > 0.0 && min_swing <= weaving::MIN_SWING_MAX) {
            self.issue(&p("min_swing"), format!("{min_swing} is out of range: use a value in (0, {}] (box widths, or metres with calibration; default {})", weaving::MIN_SWING_MAX, d.min_swing));
        }
        let reversals = zone
            .min_reversals
            .or(site.min_reversals)
            .unwrap_or(d.min_reversals as i64);
        if !weaving::MIN_REVERSALS.contains(&reversals) {
            self.issue(&p("min_reversals"), format!("{reversals} is out of range: use {} to {} (default {}); 1 would count a single swerve", weaving::MIN_REVERSALS.start(), weaving::MIN_REVERSALS.end(), d.min_reversals));
        }
        let racing = zone
            .racing_min_vehicles
            .or(site.racing_min_vehicles)
            .unwrap_or(d.racing_min_vehicles as i64);
        if !weaving::RACING_MIN_VEHICLES.contains(&racing) {
            self.issue(
                &p("racing_min_vehicles"),
                format!(
                    "{racing} is out of range: use {} to {} (default {})",
                    weaving::RACING_MIN_VEHICLES.start(),
                    weaving::RACING_MIN_VEHICLES.end(),
                    d.racing_min_vehicles
                ),
            );
        }
        let window = zone
            .window
            .or(site.window)
            .map(|s| s.0)
            .unwrap_or(d.window_s);
        if !(window.is_finite()
            && (weaving::WINDOW_MIN_S..=weaving::DURATION_MAX_S).contains(&window))
        {
            self.issue(
                &p("window"),
                format!(
                    "{window} s is out of range: use {} s to 24 h (default {} s)",
                    weaving::WINDOW_MIN_S,
                    d.window_s
                ),
            );
        }
        let t = self.timing(path, zone.timing(), site.timing(), d.debounce());
        let params = WeavingParams {
            window_s: window,
            min_speed: min_speed as f32,
            min_swing: min_swing as f32,
            min_reversals: reversals.clamp(0, *weaving::MIN_REVERSALS.end()) as u32,
            racing_min_vehicles: racing.clamp(0, *weaving::RACING_MIN_VEHICLES.end()) as usize,
            min_duration_s: t.min_duration_s,
            grace_s: t.grace_s,
            update_every_s: t.update_every_s,
            clear_after_s: t.clear_after_s,
            cooldown_s: t.cooldown_s,
        };
        (self.issues.len() == before).then_some(params)
    }

    /// `[camera.motion]` over `[motion]` over the defaults. `ci == usize::MAX`: check the
    /// site-wide table alone.
    fn motion(
        &mut self,
        ci: usize,
        site: &RawMotion,
        cam: &RawMotion,
    ) -> crate::media::motion::MotionSettings {
        let d = crate::media::motion::MotionSettings::default();
        let field = |f: &'static str, from_cam: bool| -> Vec<Seg> {
            if from_cam && ci != usize::MAX {
                vec![
                    Seg::Key("camera"),
                    Seg::Idx(ci),
                    Seg::Key("motion"),
                    Seg::Key(f),
                ]
            } else {
                vec![Seg::Key("motion"), Seg::Key(f)]
            }
        };
        let mut num = |f: &'static str,
                       c: Option<f64>,
                       s: Option<f64>,
                       def: f64,
                       min: f64,
                       max: f64,
                       unit: &str|
         -> f64 {
            let (x, from_cam) = match (c, s) {
                (Some(x), _) => (x, true),
                (None, Some(x)) => (x, false),
                (None, None) => (def, false),
            };
            if !(x.is_finite() && x >= min && x <= max) {
                self.issue(
                    &field(f, from_cam),
                    format!(
                        "{x}{unit} is out of range: use {min} to {max}{unit} (default {def}{unit})"
                    ),
                );
                return def;
            }
            x
        };
        let width = num(
            "width",
            cam.width.map(|v| v as f64),
            site.width.map(|v| v as f64),
            d.width as f64,
            32.0,
            640.0,
            " px",
        );
        let threshold = num(
            "threshold",
            cam.threshold.map(|v| v as f64),
            site.threshold.map(|v| v as f64),
            d.threshold as f64,
            1.0,
            254.0,
            "",
        );
        let min_area = num(
            "min_area",
            cam.min_area,
            site.min_area,
            d.min_area,
            0.0,
            0.5,
            "",
        );
        let margin = num("margin", cam.margin, site.margin, d.margin, 0.0, 1.0, "");
        let max_skip_s = num(
            "max_skip",
            cam.max_skip.as_ref().map(|s| s.0),
            site.max_skip.as_ref().map(|s| s.0),
            d.max_skip_s,
            0.0,
            60.0,
            " s",
        );
        let mask = self
            .mask_polygons(
                &field("mask", true),
                cam.mask.as_deref().unwrap_or_default(),
            )
            .iter()
            .map(|p| p.points().to_vec())
            .collect();
        crate::media::motion::MotionSettings {
            enabled: cam.enabled.or(site.enabled).unwrap_or(d.enabled),
            width: width as u32,
            threshold: threshold as u8,
            min_area,
            margin,
            max_skip_s,
            mask,
        }
    }

    fn calibration(
        &mut self,
        ci: usize,
        c: &RawCalibration,
    ) -> Option<crate::analytics::ground::Homography> {
        let path = [Seg::Key("camera"), Seg::Idx(ci), Seg::Key("calibration")];
        let four = |v: &Vec<Vec<f64>>| -> Option<[[f64; 2]; 4]> {
            (v.len() == 4
                && v.iter()
                    .all(|p| p.len() == 2 && p.iter().all(|x| x.is_finite())))
            .then(|| std::array::from_fn(|i| [v[i][0], v[i][1]]))
        };
        let (Some(image), Some(world)) = (four(&c.image), four(&c.world)) else {
            self.issue(&path, "needs image = four [x, y] points (0..1 of the frame) and world = the same four points on the ground in metres");
            return None;
        };
        if image.iter().flatten().any(|v| !(0.0..=1.0).contains(v)) {
            self.issue(
                &path,
                format!("image points {image:?} must be within [0, 1] of the frame"),
            );
            return None;
        }
        match crate::analytics::ground::Homography::from_points(&image, &world) {
            Ok(h) => Some(h),
            Err(e) => {
                self.issue(&path, e);
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn zones(
        &mut self,
        ci: usize,
        cam: &RawCamera,
        site_tz: Option<jiff::tz::TimeZone>,
        site_g: &RawGathering,
        site_w: &RawWeaving,
        site_l: &RawLoitering,
        calibrated: bool,
    ) -> Vec<ZoneConfig> {
        let mut out = Vec::new();
        let mut ids = HashSet::new();
        for (zi, z) in cam.zones.iter().enumerate() {
            let zp = |f: &'static str| {
                [
                    Seg::Key("camera"),
                    Seg::Idx(ci),
                    Seg::Key("zone"),
                    Seg::Idx(zi),
                    Seg::Key(f),
                ]
            };
            let before = self.issues.len();
            if !valid_name(&z.id) {
                self.check_id(&zp("id"), &z.id, "id");
            } else if !ids.insert(z.id.clone()) {
                self.issue(&zp("id"), format!("{:?} is used by another zone of this camera; zone ids must be unique per camera", z.id));
            }
            let mut pts = Vec::new();
            let mut shape_ok = true;
            for (pi, p) in z.polygon.iter().enumerate() {
                if p.len() != 2 {
                    let mut path = zp("polygon").to_vec();
                    path.push(Seg::Idx(pi));
                    self.issue(
                        &path,
                        format!(
                            "point {} has {} numbers: each point is [x, y] in 0..1 of the frame",
                            pi + 1,
                            p.len()
                        ),
                    );
                    shape_ok = false;
                } else {
                    pts.push([p[0], p[1]]);
                }
            }
            let polygon = if shape_ok {
                match Polygon::new(pts) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        self.issue(&zp("polygon"), e);
                        None
                    }
                }
            } else {
                None
            };
            for r in &z.rules {
                if !["gathering", "weaving", "loitering"].contains(&r.as_str()) {
                    self.issue(
                        &zp("rules"),
                        format!(
                            "unknown rule {r:?}: use \"gathering\", \"weaving\" or \"loitering\""
                        ),
                    );
                }
            }
            if z.rules.is_empty() {
                self.issue(
                    &zp("rules"),
                    "is empty: list the rules for this zone, e.g. rules = [\"gathering\"]",
                );
            }
            let tz = match &z.timezone {
                Some(name) => self.timezone(&zp("timezone"), name),
                None => site_tz.clone(),
            };
            let schedule_text = match &z.schedule {
                ScheduleSpec::One(s) => vec![s.clone()],
                ScheduleSpec::Many(v) => v.clone(),
            };
            // Parsed even when the time zone is wrong, so that its errors come with the rest.
            let parsed = Schedule::parse(
                &schedule_text,
                tz.clone().unwrap_or(jiff::tz::TimeZone::UTC),
            );
            let schedule = match parsed {
                Ok(s) => tz.map(|_| s),
                Err(e) => {
                    self.issue(&zp("schedule"), e);
                    None
                }
            };
            let gpath = zp("gathering");
            let gathering = if z.rules.iter().any(|r| r == "gathering") {
                self.gathering(&gpath, site_g, &z.gathering, calibrated)
            } else {
                None
            };
            let wpath = zp("weaving");
            let weaving = if z.rules.iter().any(|r| r == "weaving") {
                self.weaving(&wpath, site_w, &z.weaving, calibrated)
            } else {
                None
            };
            let lpath = zp("loitering");
            let loitering = if z.rules.iter().any(|r| r == "loitering") {
                self.loitering(&lpath, site_l, &z.loitering, calibrated)
            } else {
                None
            };
            let filter = z
                .filters
                .as_ref()
                .map(|f| {
                    let own = self.filters_table(&zp("filters"), f, true);
                    self.object_filter(&own, &Default::default())
                })
                .unwrap_or_default();
            if self.issues.len() == before
                && let (Some(polygon), Some(schedule)) = (polygon, schedule)
            {
                out.push(ZoneConfig {
                    id: z.id.clone(),
                    polygon,
                    schedule,
                    schedule_text,
                    gathering,
                    weaving,
                    loitering,
                    filter,
                });
            }
        }
        out
    }
}
