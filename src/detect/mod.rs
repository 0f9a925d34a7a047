//! Detection stage: frame (BGR `Mat`) → `Vec<Detection>`.
//!
//! One ONNX Runtime session, a reused input tensor, a decoder per model family and
//! class-wise NMS. Model problems (missing file, corrupt file, shapes that do not fit
//! the declared family) are refused at load with a message that names the file and
//! says what to do; they never surface as garbage boxes.

pub mod letterbox;
pub mod nanodet;
pub mod nms;
pub mod preprocess;
pub mod provider;
pub mod yolo;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ndarray::Array4;
use opencv::core::Mat;
use ort::session::{Session, builder::GraphOptimizationLevel};
use ort::value::TensorRef;

use crate::types::{Detection, ObjectClass};

pub use letterbox::{InputMap, Resize};
pub use preprocess::{NightMode, NightSettings, Preprocessor};
pub use provider::{ExecutionProvider, Fallback, ProviderSettings};

/// COCO-80 class names, index = label.
pub const COCO_CLASSES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// Which model labels wardwatch keeps, and as what.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMap {
    entries: Vec<(u16, ObjectClass)>,
    /// Score threshold per entry (same order); empty: `DecodeParams::score_threshold` for all.
    min_scores: Vec<f32>,
}

impl ClassMap {
    pub fn new(entries: Vec<(u16, ObjectClass)>) -> Self {
        Self {
            entries,
            min_scores: Vec::new(),
        }
    }
    /// The same labels with one score threshold per entry.
    pub fn with_min_scores(mut self, min_scores: Vec<f32>) -> Self {
        if min_scores.len() == self.entries.len() {
            self.min_scores = min_scores;
        }
        self
    }
    /// The score threshold of entry `i`, `default` when none was set.
    pub fn min_score(&self, i: usize, default: f32) -> f32 {
        self.min_scores.get(i).copied().unwrap_or(default)
    }
    /// COCO: person → Person; bicycle, car, motorcycle, bus, truck → Vehicle.
    pub fn coco_default() -> Self {
        Self::new(vec![
            (0, ObjectClass::Person),
            (1, ObjectClass::Vehicle),
            (2, ObjectClass::Vehicle),
            (3, ObjectClass::Vehicle),
            (5, ObjectClass::Vehicle),
            (7, ObjectClass::Vehicle),
        ])
    }
    /// Map a model's own class names: `person` → person; `bicycle`, `car`, `motorcycle`
    /// (`motorbike`), `bus`, `truck` → vehicle; everything else is ignored.
    pub fn from_names(names: &[String]) -> Self {
        let entries = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let class = match n.trim().to_ascii_lowercase().as_str() {
                    "person" | "pedestrian" | "people" => ObjectClass::Person,
                    "bicycle" | "car" | "motorcycle" | "motorbike" | "bus" | "truck" => {
                        ObjectClass::Vehicle
                    }
                    _ => return None,
                };
                Some((i as u16, class))
            })
            .collect();
        Self::new(entries)
    }
    pub fn entries(&self) -> &[(u16, ObjectClass)] {
        &self.entries
    }
    pub fn class_of(&self, label: u16) -> Option<ObjectClass> {
        self.entries
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, c)| *c)
    }
}

/// Thresholds applied after inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeParams {
    /// Minimum class score (default 0.35).
    pub score_threshold: f32,
    /// Class-wise NMS IoU (default 0.45).
    pub nms_iou: f32,
    /// At most this many detections per frame survive NMS (default 100).
    pub max_detections: usize,
    /// One NMS across all vehicle labels (a motorbike is not also a bicycle); `false`: per
    /// label.
    pub joint_vehicle_nms: bool,
}

impl Default for DecodeParams {
    fn default() -> Self {
        Self {
            score_threshold: 0.35,
            nms_iou: 0.45,
            max_detections: 100,
            joint_vehicle_nms: true,
        }
    }
}

/// Supported model families (output layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// NanoDet GFL head: per-stride class scores and box distributions (the shipped model).
    Nanodet,
    /// Ultralytics YOLOv8 / YOLO11 export: one output `[1, 4+nc, N]`.
    Yolov8,
    /// YOLOX export: one output `[1, N, 5+nc]`, grid-relative unless `yolox_decoded`.
    Yolox,
}

impl Family {
    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "nanodet" => Some(Family::Nanodet),
            "yolov8" | "yolo11" => Some(Family::Yolov8),
            "yolox" => Some(Family::Yolox),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Family::Nanodet => "nanodet",
            Family::Yolov8 => "yolov8",
            Family::Yolox => "yolox",
        }
    }
}

/// Everything the detector needs, already validated by the config stage.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSettings {
    pub model_path: PathBuf,
    pub family: Family,
    /// Path of libonnxruntime.so; `None` → `ORT_DYLIB_PATH`.
    pub runtime_library: Option<PathBuf>,
    pub intra_threads: usize,
    /// ORT intra-op spinning: faster alone, steals CPU from decoding on small boxes.
    pub intra_spinning: bool,
    pub provider: ProviderSettings,
    pub decode: DecodeParams,
    /// `None`: from the model's `names` metadata if present, else COCO-80 by index.
    pub classes: Option<ClassMap>,
    pub resize: Resize,
    /// Model wants RGB (else BGR, OpenCV's order).
    pub rgb: bool,
    /// Per-channel mean and std, in the model's channel order.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Input (width, height) for models with a dynamic input size.
    pub input_size: Option<(usize, usize)>,
    /// YOLOX exported with decoding inside the graph (boxes already in input pixels).
    pub yolox_decoded: bool,
    /// Most frames (of different cameras) per inference; needs a model with a dynamic
    /// batch dimension. 1: one frame at a time.
    pub batch: usize,
    /// Per-label score thresholds (label name → threshold) on day frames; labels not listed
    /// use `decode.score_threshold`.
    pub score_thresholds: Vec<(String, f32)>,
    /// The night profile (per-frame equalisation and night thresholds).
    pub night: NightSettings,
}

impl DetectorSettings {
    /// The day score threshold a detection of `class` must reach, as the detector would
    /// apply it, for detections that carry only their class (recorded detections): the
    /// lowest threshold over the labels kept as `class` (`score_thresholds`, else
    /// `decode.score_threshold`). `None`: no label is kept as `class` (a class filter).
    pub fn class_min_score(&self, class: ObjectClass) -> Option<f32> {
        let map = self.classes.clone().unwrap_or_else(ClassMap::coco_default);
        map.entries()
            .iter()
            .filter(|(_, c)| *c == class)
            .map(|(label, _)| {
                let name = Detector::label_name(*label);
                self.score_thresholds
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(self.decode.score_threshold, |(_, t)| *t)
            })
            .reduce(f32::min)
    }

    /// The shipped NanoDet-g 416 with its documented normalisation.
    pub fn nanodet(model_path: impl Into<PathBuf>) -> Self {
        Self::for_family(Family::Nanodet, model_path)
    }

    /// A family's conventional preprocessing: NanoDet stretches, BGR, ImageNet-style
    /// normalisation; YOLOv8 letterboxes, RGB, /255; YOLOX letterboxes, BGR, raw 0–255.
    pub fn for_family(family: Family, model_path: impl Into<PathBuf>) -> Self {
        let (resize, rgb, mean, std) = match family {
            Family::Nanodet => (
                Resize::Stretch,
                false,
                [103.53, 116.28, 123.675],
                [57.375, 57.12, 58.395],
            ),
            Family::Yolov8 => (Resize::Letterbox, true, [0.0; 3], [255.0; 3]),
            Family::Yolox => (Resize::Letterbox, false, [0.0; 3], [1.0; 3]),
        };
        Self {
            model_path: model_path.into(),
            family,
            runtime_library: None,
            intra_threads: 2,
            intra_spinning: false,
            provider: ProviderSettings::default(),
            decode: DecodeParams::default(),
            classes: None,
            resize,
            rgb,
            mean,
            std,
            input_size: None,
            yolox_decoded: false,
            batch: 1,
            score_thresholds: Vec::new(),
            night: NightSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(
        "ONNX Runtime library {path}: {reason}. Run `make setup` (it installs it into .venv), or set model.runtime_library / ORT_DYLIB_PATH to a libonnxruntime.so of version 1.17 or newer"
    )]
    Runtime { path: String, reason: String },
    #[error("model file {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("model.execution_provider: {0}")]
    Provider(String),
    #[error("frame: {0}")]
    Frame(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Wall time of each stage of the last `detect` call.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub preprocess: Duration,
    pub inference: Duration,
    pub decode: Duration,
}

/// Where the family's outputs sit in the session's output list.
#[derive(Debug, Clone)]
enum Layout {
    Nanodet {
        levels: Vec<LevelLayout>,
        reg_max: usize,
    },
    /// One output: index and shape.
    Single { output: usize, shape: Vec<i64> },
}

#[derive(Debug, Clone)]
struct LevelLayout {
    stride: u32,
    grid_w: usize,
    grid_h: usize,
    cls_output: usize,
    reg_output: usize,
}

pub struct Detector {
    session: Session,
    settings: DetectorSettings,
    classes: ClassMap,
    /// The same labels with the night profile's thresholds.
    classes_night: ClassMap,
    input_w: usize,
    input_h: usize,
    num_classes: usize,
    layout: Layout,
    input: Array4<f32>,
    prep: Preprocessor,
    /// Batched inputs `[B, 3, H, W]` (grown once to the largest batch used).
    batch_input: Vec<f32>,
    /// Per-frame detections of the last batch.
    batch_out: Vec<Vec<Detection>>,
    detections: Vec<Detection>,
    times: StageTimes,
    runtime_version: String,
    provider_used: &'static str,
    /// The model's batch dimension is dynamic (`-1`): several frames per inference.
    dynamic_batch: bool,
}

static ORT_ENV: OnceLock<Result<(ort::environment::Environment, String, PathBuf), String>> =
    OnceLock::new();

/// Load ONNX Runtime once per process (it is a process-global library).
fn runtime(
    lib: Option<&Path>,
) -> Result<&'static (ort::environment::Environment, String, PathBuf), DetectError> {
    let wanted: PathBuf = match lib {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("ORT_DYLIB_PATH") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => {
                return Err(DetectError::Runtime {
                    path: "(none)".into(),
                    reason: "no library configured and ORT_DYLIB_PATH is not set".into(),
                });
            }
        },
    };
    if !wanted.is_file() {
        return Err(DetectError::Runtime {
            path: wanted.display().to_string(),
            reason: "no such file".into(),
        });
    }
    let res = ORT_ENV.get_or_init(|| {
        let env = ort::init_from(&wanted)
            .map_err(|e| format!("{}: cannot load ({e})", wanted.display()))?
            .with_name("wardwatch")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("{}: cannot create environment ({e})", wanted.display()))?;
        let version = ort_version(&wanted);
        Ok((env, version, wanted.clone()))
    });
    match res {
        Ok(r) => {
            if r.2 != wanted {
                tracing::warn!(
                    loaded = %r.2.display(),
                    requested = %wanted.display(),
                    "ONNX Runtime is already loaded in this process; using the loaded library"
                );
            }
            Ok(r)
        }
        Err(e) => {
            let (path, reason) = e.split_once(": ").unwrap_or((e.as_str(), "cannot load"));
            Err(DetectError::Runtime {
                path: path.to_string(),
                reason: reason.to_string(),
            })
        }
    }
}

/// ONNX Runtime's version, from the build info or else the library's file name
/// (`libonnxruntime.so.1.32.0`).
fn ort_version(lib: &Path) -> String {
    let info = ort::info();
    if let Some(v) = info
        .split("rel-")
        .nth(1)
        .and_then(|s| s.split([',', ' ']).next())
    {
        return v.to_string();
    }
    std::fs::canonicalize(lib)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .and_then(|n| n.split_once(".so.").map(|(_, v)| v.to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// Ultralytics writes `names` as a Python dict literal: `{0: 'person', 1: 'bicycle'}`.
fn parse_names(s: &str) -> Option<Vec<String>> {
    let body = s.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut out: Vec<(usize, String)> = Vec::new();
    for part in body.split(',') {
        let (k, v) = part.split_once(':')?;
        let k: usize = k.trim().parse().ok()?;
        let v = v.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
        out.push((k, v));
    }
    out.sort_by_key(|(k, _)| *k);
    out.iter()
        .enumerate()
        .all(|(i, (k, _))| i == *k)
        .then(|| out.into_iter().map(|(_, v)| v).collect())
}

/// Ultralytics `imgsz`: `[640, 640]` (height, width).
fn parse_imgsz(s: &str) -> Option<(usize, usize)> {
    let body = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    let v: Vec<usize> = body
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    match v.as_slice() {
        [h, w] => Some((*w, *h)),
        [n] => Some((*n, *n)),
        _ => None,
    }
}

impl Detector {
    /// Load and validate a model. Runs one warm-up inference on a blank tensor to learn
    /// the output shapes (converted models often declare them symbolically) and checks
    /// they fit the declared family.
    pub fn load(settings: DetectorSettings) -> Result<Self, DetectError> {
        let path = settings.model_path.clone();
        let pstr = path.display().to_string();
        let family = settings.family.name();
        let model_err = |reason: String| DetectError::Model {
            path: pstr.clone(),
            reason,
        };
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let renamed = path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("nanodet-m-416"));
                return Err(model_err(if renamed {
                    "not found. The shipped model was renamed to models/nanodet-g-416.onnx (it is NanoDet-g, not NanoDet-m; the dynamic copies to nanodet-g-416-dynamic.onnx and nanodet-g-dynamic-size.onnx): update model.path".into()
                } else {
                    "not found. Check model.path in the config (relative paths are relative to the working directory), or run `make setup`".into()
                }));
            }
            Err(e) => return Err(model_err(format!("cannot read ({e})"))),
            Ok(m) if m.is_dir() => {
                return Err(model_err(
                    "is a directory, not a model file: point model.path at the .onnx file".into(),
                ));
            }
            Ok(m) if m.len() == 0 => {
                return Err(model_err(
                    "is empty. Restore it with `git checkout models/` or rebuild it with models/convert.sh".into(),
                ));
            }
            Ok(_) => {}
        }
        let (env, version, _) = runtime(settings.runtime_library.as_deref())?;
        let (eps, provider_used) = provider::dispatch(&settings.provider)?;
        let session = Session::builder(env)
            .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::All).map_err(Into::into))
            .and_then(|b| b.with_intra_threads(settings.intra_threads.max(1)).map_err(Into::into))
            .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
            .and_then(|b| b.with_intra_op_spinning(settings.intra_spinning).map_err(Into::into))
            // Memory-pattern planning holds ~15 MB more for no measured speed-up on this
            // model (docs/capacity.md).
            .and_then(|b| b.with_memory_pattern(false).map_err(Into::into))
            .and_then(|b| b.with_execution_providers(eps).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(&path))
            .map_err(|e| {
                model_err(format!(
                    "ONNX Runtime cannot load it ({}). The file is probably truncated or not an ONNX model: restore it with `git checkout models/` or rebuild it with models/convert.sh",
                    first_line(&e.to_string())
                ))
            })?;

        // Input: one float tensor [1, 3, H, W]; a dynamic H/W comes from config or metadata.
        if session.inputs().len() != 1 {
            return Err(model_err(format!(
                "has {} inputs; family {family} expects exactly one image input [1,3,H,W]",
                session.inputs().len()
            )));
        }
        let meta = session.metadata().ok();
        let meta_names = meta
            .as_ref()
            .and_then(|m| m.custom("names"))
            .and_then(|n| parse_names(&n));
        let meta_imgsz = meta
            .as_ref()
            .and_then(|m| m.custom("imgsz"))
            .and_then(|n| parse_imgsz(&n));
        drop(meta);
        let in_shape: Vec<i64> = session.inputs()[0]
            .dtype()
            .tensor_shape()
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let (input_w, input_h) = match in_shape.as_slice() {
            [1 | -1, 3, h, w] if *h > 0 && *w > 0 => (*w as usize, *h as usize),
            [1 | -1, 3, _, _] => settings.input_size.or(meta_imgsz).ok_or_else(|| {
                model_err(format!(
                    "input shape {in_shape:?} has a dynamic size and the model has no `imgsz` metadata: set model.input_size = [width, height]"
                ))
            })?,
            other => {
                return Err(model_err(format!(
                    "input shape {other:?} does not fit family {family}, which expects [1,3,H,W]"
                )));
            }
        };
        let classes = match (&settings.classes, &meta_names) {
            (Some(c), _) => c.clone(),
            (None, Some(names)) => ClassMap::from_names(names),
            (None, None) => ClassMap::coco_default(),
        };
        if classes.entries().is_empty() {
            return Err(model_err(format!(
                "none of its classes {meta_names:?} is a person or vehicle; set model.person_classes / model.vehicle_classes"
            )));
        }
        if let Some(size) = settings.input_size
            && let [_, _, h, w] = in_shape.as_slice()
            && *h > 0
            && *w > 0
            && size != (*w as usize, *h as usize)
        {
            return Err(model_err(format!(
                "has a fixed input of {w}x{h}, so model.input_size = [{}, {}] cannot apply: use the dynamic-size copy (`make setup` builds models/nanodet-g-416-dynamic.onnx) or remove model.input_size",
                size.0, size.1
            )));
        }
        let label_name = |label: u16| -> String {
            match &meta_names {
                Some(n) => n.get(label as usize).cloned().unwrap_or_default(),
                None => Detector::label_name(label).to_string(),
            }
        };
        let default_night = NightSettings::default().score_thresholds;
        let thresholds = |table: &[(String, f32)], field: &str, base: &dyn Fn(usize) -> f32| {
            let names: Vec<String> = classes
                .entries()
                .iter()
                .map(|(l, _)| label_name(*l))
                .collect();
            // The built-in night table may name labels a custom model lacks; a table the
            // user wrote may not.
            let strict = {
                let (mut a, mut b) = (table.to_vec(), default_night.clone());
                a.sort_by(|x, y| x.0.cmp(&y.0));
                b.sort_by(|x, y| x.0.cmp(&y.0));
                a != b
            };
            if let Some((bad, _)) = table
                .iter()
                .find(|(n, _)| strict && !names.iter().any(|m| m.eq_ignore_ascii_case(n)))
            {
                return Err(model_err(format!(
                    "{field} names {bad:?}, which is not one of the labels wardwatch keeps from this model ({}): use one of those names",
                    names.join(", ")
                )));
            }
            Ok((0..names.len())
                .map(|i| {
                    table
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(&names[i]))
                        .map_or_else(|| base(i), |(_, t)| *t)
                })
                .collect::<Vec<f32>>())
        };
        let global = settings.decode.score_threshold;
        let day = thresholds(
            &settings.score_thresholds,
            "model.score_thresholds",
            &|_| global,
        )?;
        let night = thresholds(
            &settings.night.score_thresholds,
            "model.night.score_thresholds",
            &|i| day[i],
        )?;
        let classes_night = classes.clone().with_min_scores(night);
        let classes = classes.with_min_scores(day);

        let settings_prep = settings.clone();
        let mut det = Detector {
            session,
            settings,
            classes,
            classes_night,
            input_w,
            input_h,
            num_classes: 0,
            layout: Layout::Single {
                output: 0,
                shape: Vec::new(),
            },
            input: Array4::zeros((1, 3, input_h, input_w)),
            prep: Preprocessor::new(input_w, input_h, &settings_prep),
            batch_input: Vec::new(),
            batch_out: Vec::new(),
            detections: Vec::with_capacity(256),
            times: StageTimes::default(),
            runtime_version: version.clone(),
            provider_used,
            dynamic_batch: in_shape.first() == Some(&-1),
        };
        det.learn_layout().map_err(model_err)?;
        Ok(det)
    }

    /// Run once on zeros and check the outputs against the family.
    fn learn_layout(&mut self) -> Result<(), String> {
        let shapes: Vec<Vec<i64>> = {
            let outputs = run_session(
                &mut self.session,
                [1, 3, self.input_h, self.input_w],
                self.input.as_slice().expect("input tensor is contiguous"),
            )
            .map_err(|e| match e {
                DetectError::Inference(m) => format!("warm-up inference failed ({m})"),
                other => other.to_string(),
            })?;
            outputs.values().map(|v| v.shape().to_vec()).collect()
        };
        let family = self.settings.family;
        let nc = match family {
            Family::Nanodet => {
                let (levels, nc, reg_max) = nanodet_layout(&shapes, self.input_w, self.input_h)?;
                self.layout = Layout::Nanodet { levels, reg_max };
                nc
            }
            Family::Yolov8 | Family::Yolox => {
                if shapes.len() != 1 {
                    return Err(format!(
                        "has {} outputs {shapes:?}; family {} expects exactly one",
                        shapes.len(),
                        family.name()
                    ));
                }
                let (nc, _) = if family == Family::Yolov8 {
                    yolo::check_yolov8_shape(&shapes[0])?
                } else if self.settings.yolox_decoded {
                    match shapes[0].as_slice() {
                        [1, n, c] if *n > 0 && *c > 5 => ((*c - 5) as usize, *n as usize),
                        s => {
                            return Err(format!(
                                "family yolox (decoded) expects [1, N, 5+classes], got {s:?}"
                            ));
                        }
                    }
                } else {
                    yolo::check_yolox_shape(&shapes[0], self.input_w, self.input_h)?
                };
                self.layout = Layout::Single {
                    output: 0,
                    shape: shapes[0].clone(),
                };
                nc
            }
        };
        if let Some(&(max_label, _)) = self.classes.entries().iter().max_by_key(|(l, _)| *l)
            && max_label as usize >= nc
        {
            return Err(format!(
                "has {nc} classes but the class map uses label {max_label}"
            ));
        }
        self.num_classes = nc;
        Ok(())
    }

    fn prepare(&mut self, frame: &Mat) -> Result<InputMap, DetectError> {
        let out = self
            .input
            .as_slice_mut()
            .expect("input tensor is contiguous");
        self.prep.run_into(frame, out).map_err(DetectError::Frame)
    }

    /// A copy of this detector's preprocessing, for a capture thread to run on the next
    /// frame while this one infers (see [`Detector::detect_prepared`]).
    pub fn preprocessor(&self) -> Preprocessor {
        self.prep.clone()
    }

    /// Detect objects in a BGR 8-bit frame. Boxes are in frame pixels.
    pub fn detect(&mut self, frame: &Mat) -> Result<&[Detection], DetectError> {
        self.detect_prepared(frame, &[], 0)
    }

    /// Like [`Detector::detect`], with the model input already made by this detector's
    /// [`Preprocessor`] (id `input_id`) on another thread. An input made for another
    /// model (a detector swapped since) or of the wrong length is ignored and the frame
    /// is preprocessed here.
    pub fn detect_prepared(
        &mut self,
        frame: &Mat,
        input: &[f32],
        input_id: u64,
    ) -> Result<&[Detection], DetectError> {
        use opencv::prelude::MatTraitConst;
        let t0 = Instant::now();
        let shape = [1, 3, self.input_h, self.input_w];
        let ready = self.prep.accepts(input_id) && input.len() == 3 * self.input_w * self.input_h;
        let map = if ready {
            if frame.empty() {
                return Err(DetectError::Frame("empty frame".into()));
            }
            self.prep
                .map_for(frame.cols().max(0) as u32, frame.rows().max(0) as u32)
        } else {
            self.prepare(frame)?
        };
        let data: &[f32] = if ready {
            input
        } else {
            self.input.as_slice().expect("input tensor is contiguous")
        };
        let night = if ready {
            Preprocessor::is_night(input_id)
        } else {
            self.prep.last_night()
        };
        let t1 = Instant::now();
        let outputs = run_session(&mut self.session, shape, data)?;
        let t2 = Instant::now();
        let (raw, n) = output_slices(&outputs)?;
        decode_outputs(
            &self.layout,
            &raw[..n],
            self.num_classes,
            &self.settings,
            if night {
                &self.classes_night
            } else {
                &self.classes
            },
            (self.input_w, self.input_h),
            &map,
            &mut self.detections,
        )
        .map_err(DetectError::Inference)?;
        drop(outputs);
        let t3 = Instant::now();
        self.times = StageTimes {
            preprocess: t1 - t0,
            inference: t2 - t1,
            decode: t3 - t2,
        };
        Ok(&self.detections)
    }

    /// Whether the model takes several frames per inference (a dynamic batch dimension;
    /// see models/README.md for the dynamic-batch copy of the shipped model).
    pub fn batches(&self) -> bool {
        self.dynamic_batch
    }

    /// Detect in several frames with one inference. Every input must come from this
    /// detector's [`Preprocessor`] (the runtime only batches frames whose input the
    /// capture thread prepared). Returns one detection list per frame, in order. A model
    /// without a dynamic batch runs them one by one.
    pub fn detect_batch(
        &mut self,
        frames: &[(&Mat, &[f32], u64)],
    ) -> Result<&[Vec<Detection>], DetectError> {
        use opencv::prelude::MatTraitConst;
        let b = frames.len();
        self.batch_out
            .resize_with(b.max(self.batch_out.len()), Vec::new);
        if b <= 1 || !self.dynamic_batch {
            let mut times = StageTimes::default();
            for (i, (img, input, id)) in frames.iter().enumerate() {
                self.detect_prepared(img, input, *id)?;
                self.batch_out[i].clear();
                self.batch_out[i].extend_from_slice(&self.detections);
                let t = self.times;
                times.preprocess += t.preprocess;
                times.inference += t.inference;
                times.decode += t.decode;
            }
            self.times = times;
            return Ok(&self.batch_out[..b]);
        }
        let t0 = Instant::now();
        let len = 3 * self.input_w * self.input_h;
        self.batch_input.resize(b * len, 0.0);
        let mut maps = Vec::with_capacity(b);
        for (i, (img, input, id)) in frames.iter().enumerate() {
            if !self.prep.accepts(*id) || input.len() != len || img.empty() {
                return Err(DetectError::Frame(format!(
                    "frame {i} of a batch has no input prepared for this model"
                )));
            }
            self.batch_input[i * len..(i + 1) * len].copy_from_slice(input);
            maps.push(
                self.prep
                    .map_for(img.cols().max(0) as u32, img.rows().max(0) as u32),
            );
        }
        let t1 = Instant::now();
        let outputs = run_session(
            &mut self.session,
            [b, 3, self.input_h, self.input_w],
            &self.batch_input,
        )?;
        let t2 = Instant::now();
        let (whole, n) = output_slices(&outputs)?;
        if let Some(i) = (0..n).find(|&i| whole[i].len() % b != 0) {
            return Err(DetectError::Inference(format!(
                "output {i} has {} values, not a multiple of the batch {b}",
                whole[i].len()
            )));
        }
        for (k, map) in maps.iter().enumerate() {
            let mut raw: [&[f32]; 8] = [&[]; 8];
            for i in 0..n {
                let per = whole[i].len() / b;
                raw[i] = &whole[i][k * per..(k + 1) * per];
            }
            decode_outputs(
                &self.layout,
                &raw[..n],
                self.num_classes,
                &self.settings,
                if Preprocessor::is_night(frames[k].2) {
                    &self.classes_night
                } else {
                    &self.classes
                },
                (self.input_w, self.input_h),
                map,
                &mut self.detections,
            )
            .map_err(DetectError::Inference)?;
            self.batch_out[k].clear();
            self.batch_out[k].extend_from_slice(&self.detections);
        }
        drop(outputs);
        let t3 = Instant::now();
        self.times = StageTimes {
            preprocess: t1 - t0,
            inference: t2 - t1,
            decode: t3 - t2,
        };
        Ok(&self.batch_out[..b])
    }

    /// Preprocess and infer `frame`, returning copies of the raw outputs (benchmarks and
    /// tools; the hot path decodes straight from the session's buffers).
    pub fn capture_raw(&mut self, frame: &Mat) -> Result<RawOutputs, DetectError> {
        let map = self.prepare(frame)?;
        let outputs = run_session(
            &mut self.session,
            [1, 3, self.input_h, self.input_w],
            self.input.as_slice().expect("input tensor is contiguous"),
        )?;
        let mut data = Vec::new();
        for i in 0..outputs.len() {
            data.push(
                outputs[i]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| DetectError::Inference(e.to_string()))?
                    .1
                    .to_vec(),
            );
        }
        Ok(RawOutputs { data, map })
    }

    /// Decode + NMS from captured raw outputs (benchmarks).
    pub fn decode_raw(&mut self, raw: &RawOutputs) -> Result<&[Detection], DetectError> {
        let slices: Vec<&[f32]> = raw.data.iter().map(|v| v.as_slice()).collect();
        decode_outputs(
            &self.layout,
            &slices,
            self.num_classes,
            &self.settings,
            if self.prep.last_night() {
                &self.classes_night
            } else {
                &self.classes
            },
            (self.input_w, self.input_h),
            &raw.map,
            &mut self.detections,
        )
        .map_err(DetectError::Inference)?;
        Ok(&self.detections)
    }

    /// Run inference only on the tensor prepared by the last `detect`/`preprocess` (benchmarks).
    pub fn infer_only(&mut self) -> Result<Duration, DetectError> {
        let t = Instant::now();
        let _ = run_session(
            &mut self.session,
            [1, 3, self.input_h, self.input_w],
            self.input.as_slice().expect("input tensor is contiguous"),
        )?;
        Ok(t.elapsed())
    }

    /// Preprocess only (benchmarks).
    pub fn preprocess(&mut self, frame: &Mat) -> Result<(), DetectError> {
        self.prepare(frame).map(|_| ())
    }

    pub fn last_times(&self) -> StageTimes {
        self.times
    }
    pub fn input_size(&self) -> (usize, usize) {
        (self.input_w, self.input_h)
    }
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
    pub fn classes(&self) -> &ClassMap {
        &self.classes
    }
    pub fn runtime_version(&self) -> &str {
        &self.runtime_version
    }
    /// The execution provider the session runs on (after any fallback).
    pub fn provider(&self) -> &'static str {
        self.provider_used
    }
    pub fn settings(&self) -> &DetectorSettings {
        &self.settings
    }
    /// Human-readable COCO class name for a label.
    pub fn label_name(label: u16) -> &'static str {
        COCO_CLASSES
            .get(label as usize)
            .copied()
            .unwrap_or("object")
    }
}

/// Map NanoDet's six outputs to (stride, cls, reg) levels by their shapes.
fn nanodet_layout(
    shapes: &[Vec<i64>],
    input_w: usize,
    input_h: usize,
) -> Result<(Vec<LevelLayout>, usize, usize), String> {
    let mut levels = Vec::new();
    let mut num_classes = None;
    let mut reg_width = None;
    for stride in [8u32, 16, 32] {
        let gw = input_w.div_ceil(stride as usize);
        let gh = input_h.div_ceil(stride as usize);
        let n = (gw * gh) as i64;
        let with_n: Vec<(usize, i64)> = shapes
            .iter()
            .enumerate()
            .filter(|(_, s)| s.len() == 3 && s[0] == 1 && s[1] == n)
            .map(|(i, s)| (i, s[2]))
            .collect();
        if with_n.len() != 2 {
            return Err(format!(
                "outputs {shapes:?} do not fit family nanodet: expected a [1,{n},classes] score and a [1,{n},4*(reg_max+1)] box output for stride {stride} of a {input_w}x{input_h} input"
            ));
        }
        // NanoDet's box output is 4 × (reg_max + 1) wide, reg_max being 7 or 10 (32 or 44).
        // If exactly one output has such a width it is the box output; otherwise the wider
        // one holds the classes (80 for COCO).
        let is_reg = |w: i64| w == 32 || w == 44;
        let (cls, reg) = if is_reg(with_n[0].1) != is_reg(with_n[1].1) {
            if is_reg(with_n[0].1) {
                (with_n[1], with_n[0])
            } else {
                (with_n[0], with_n[1])
            }
        } else if with_n[0].1 > with_n[1].1 {
            (with_n[0], with_n[1])
        } else {
            (with_n[1], with_n[0])
        };
        if reg.1 % 4 != 0 || reg.1 < 8 {
            return Err(format!(
                "output {} has shape [1,{n},{}]: not a box distribution (4 sides × bins)",
                reg.0, reg.1
            ));
        }
        if *num_classes.get_or_insert(cls.1) != cls.1 || *reg_width.get_or_insert(reg.1) != reg.1 {
            return Err(format!(
                "outputs {shapes:?} disagree between strides on classes or bins"
            ));
        }
        levels.push(LevelLayout {
            stride,
            grid_w: gw,
            grid_h: gh,
            cls_output: cls.0,
            reg_output: reg.0,
        });
    }
    Ok((
        levels,
        num_classes.unwrap_or(0) as usize,
        (reg_width.unwrap_or(4) / 4 - 1) as usize,
    ))
}

/// Copies of a model's raw outputs for one frame.
#[derive(Debug, Clone)]
pub struct RawOutputs {
    pub data: Vec<Vec<f32>>,
    pub map: InputMap,
}

#[allow(clippy::too_many_arguments)]
fn decode_outputs(
    layout: &Layout,
    outputs: &[&[f32]],
    num_classes: usize,
    settings: &DetectorSettings,
    classes: &ClassMap,
    input: (usize, usize),
    map: &InputMap,
    dets: &mut Vec<Detection>,
) -> Result<(), String> {
    dets.clear();
    match layout {
        Layout::Nanodet { levels, reg_max } => {
            let lv: [nanodet::Level<'_>; 3] = std::array::from_fn(|i| {
                let l = &levels[i];
                nanodet::Level {
                    stride: l.stride,
                    grid_w: l.grid_w,
                    grid_h: l.grid_h,
                    cls: outputs[l.cls_output],
                    reg: outputs[l.reg_output],
                }
            });
            nanodet::decode(
                &lv,
                num_classes,
                *reg_max,
                &settings.decode,
                classes,
                (1.0, 1.0),
                dets,
            );
            for d in dets.iter_mut() {
                let (x1, y1) = map.to_frame(d.bbox.x1, d.bbox.y1);
                let (x2, y2) = map.to_frame(d.bbox.x2, d.bbox.y2);
                d.bbox = crate::types::BBox::new(x1, y1, x2, y2);
            }
        }
        Layout::Single { output, shape } => match settings.family {
            Family::Yolov8 => yolo::decode_yolov8(
                outputs[*output],
                shape,
                &settings.decode,
                classes,
                map,
                dets,
            )?,
            _ => yolo::decode_yolox(
                outputs[*output],
                shape,
                input.0,
                input.1,
                settings.yolox_decoded,
                &settings.decode,
                classes,
                map,
                dets,
            )?,
        },
    }
    nms::nms_in_place(
        dets,
        settings.decode.nms_iou,
        settings.decode.max_detections,
        settings.decode.joint_vehicle_nms,
    );
    Ok(())
}

/// One inference on the prepared input tensor. Borrows only the session and the input, so
/// the caller can decode the outputs into its other buffers while they live.
fn run_session<'s>(
    session: &'s mut Session,
    shape: [usize; 4],
    data: &[f32],
) -> Result<ort::session::SessionOutputs<'s>, DetectError> {
    let tensor = TensorRef::from_array_view((shape, data))
        .map_err(|e| DetectError::Inference(e.to_string()))?;
    session
        .run(ort::inputs![tensor])
        .map_err(|e| DetectError::Inference(first_line(&e.to_string())))
}

/// The session's float outputs (at most 8, in order) and how many there are.
fn output_slices<'a>(
    outputs: &'a ort::session::SessionOutputs<'_>,
) -> Result<([&'a [f32]; 8], usize), DetectError> {
    let n = outputs.len().min(8);
    let mut raw: [&[f32]; 8] = [&[]; 8];
    for (i, slot) in raw.iter_mut().enumerate().take(n) {
        *slot = outputs[i]
            .try_extract_tensor::<f32>()
            .map_err(|e| DetectError::Inference(e.to_string()))?
            .1;
    }
    Ok((raw, n))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}
