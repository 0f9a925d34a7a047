//! `wardwatch replay`: a file through the same chain as the live appliance (capture
//! thread → detector worker → publish worker), with every frame delivered, so the same
//! file and config give the same events, run after run. `--detections` replays recorded
//! detections through analytics and publishing only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::{AppError, check_range, export_file, parse_size, pick_camera, write_err};
use crate::analytics::CameraAnalytics;
use crate::analytics::debounce::END_OF_STREAM;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Role};
use crate::detect::Detector;
use crate::media::capture::{Capture, CaptureEnd, Delivery as FrameDelivery, FrameSlot};
use crate::media::mot::{MotRow, write_row};
use crate::media::source::{FileSource, Sampler};
use crate::publish::dispatch::Dispatcher;
use crate::publish::evidence::EvidenceStore;
use crate::runtime::publisher::{PublishMsg, PublishWorker, Stdout};
use crate::runtime::worker::{FrameTap, Tapped, WorkerCmd, WorkerOptions};
use crate::runtime::{Chain, Delivery, spawn_capture};
use crate::types::{Detection, Detections, FrameMeta, FrameReport, ObjectClass};

pub struct ReplayArgs {
    pub config: PathBuf,
    pub start: Option<String>,
    pub camera: Option<String>,
    pub fps: Option<f64>,
    pub mqtt: bool,
    pub flush_timeout_s: f64,
    pub json: bool,
    /// The video (exactly one of `video` and `detections`).
    pub video: Option<PathBuf>,
    /// A MOT-format detection file to replay instead of a video.
    pub detections: Option<PathBuf>,
    /// Frame size for `--detections` when the file has no wardwatch header.
    pub frame_size: Option<(u32, u32)>,
    pub export_mot: Option<PathBuf>,
    pub export_detections: Option<PathBuf>,
    /// Motion gating on or off, whatever the config says (`None`: as configured).
    pub gating: Option<bool>,
    /// Write the analysed frames, annotated, to this video (video replays).
    pub annotate: Option<PathBuf>,
    /// Print why each candidate does or does not alert, per zone and second.
    pub explain: bool,
    /// Seconds between plain progress lines (stderr not a terminal); 0: no progress.
    pub progress_every_s: f64,
}

/// A replay's counts: frames read, analysed, unreadable, events, total inference ms
/// (video replays), analysed frames whose inference motion gating skipped.
type Counts = (u64, u64, u64, u64, Option<f64>, u64);

/// First line of wardwatch's detection exports; lets `--detections` recover the frame
/// rate and size. Other MOT files need `--fps` and `--frame-size`.
pub const DET_HEADER: &str = "# wardwatch detections:";

/// Replay exports, written from the detector worker's tap.
#[derive(Default)]
struct Exports {
    mot: Option<std::io::BufWriter<std::fs::File>>,
    dets: Option<std::io::BufWriter<std::fs::File>>,
    error: Option<AppError>,
}

struct ExportTap(Arc<Mutex<Exports>>, Option<PathBuf>, Option<PathBuf>);

/// What the replay does with each analysed frame: exports and tuning aids.
struct ReplayTap {
    exports: ExportTap,
    annotate: Option<super::tune::Annotator>,
    explain: Option<super::tune::Explainer>,
}

impl FrameTap for ReplayTap {
    fn frame(&mut self, seen: &Tapped<'_>) {
        self.exports.frame(seen.dets, seen.report);
        let Some(ex) = seen.explanation else { return };
        if let Some(e) = self.explain.as_mut() {
            e.frame(ex);
        }
        if let (Some(a), Some(image)) = (self.annotate.as_mut(), seen.image)
            && let Err(err) = a.write(image, &seen.dets.items, &seen.report.tracks, ex)
        {
            let mut x = self.exports.0.lock().unwrap_or_else(|p| p.into_inner());
            x.error.get_or_insert(err);
            self.annotate = None;
        }
    }
}

impl ExportTap {
    fn frame(&mut self, dets: &Detections, report: &FrameReport) {
        let mut ex = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if ex.error.is_some() {
            return;
        }
        let frame = dets.meta.index + 1;
        let mut err = None;
        if let Some(w) = ex.dets.as_mut() {
            for d in &dets.items {
                let row = MotRow {
                    frame,
                    id: -1,
                    bbox: d.bbox,
                    score: d.score,
                    class: Some(d.class),
                };
                if let Err(e) = write_row(w, &row) {
                    err = Some(write_err(&self.2, e));
                    break;
                }
            }
        }
        if let Some(w) = ex.mot.as_mut() {
            for t in report.tracks.iter().filter(|t| t.confirmed && t.matched) {
                let row = MotRow {
                    frame,
                    id: t.id as i64,
                    bbox: t.bbox,
                    score: t.score,
                    // The class tag, so that a parked van is not taken for a person.
                    class: Some(t.class),
                };
                if let Err(e) = write_row(w, &row) {
                    err = Some(write_err(&self.1, e));
                    break;
                }
            }
        }
        if err.is_some() {
            ex.error = err;
        }
    }
}

fn parse_start(s: &str) -> Result<Timestamp, AppError> {
    s.parse::<Timestamp>().map_err(|e| {
        AppError::Usage(format!(
            "--start {s:?}: not an RFC 3339 time with offset, e.g. 2026-11-26T23:10:00+07:00 ({e})"
        ))
    })
}

pub fn replay(args: &ReplayArgs) -> Result<(), AppError> {
    let mut cfg = Config::load(&args.config)?;
    if let Some(on) = args.gating {
        for c in &mut cfg.cameras {
            c.motion.enabled = on;
        }
    }
    let start = match &args.start {
        None => SystemClock.now(),
        Some(s) => parse_start(s)?,
    };
    let camera = pick_camera(&cfg, args.camera.as_deref(), &args.config)?;
    if let Some(f) = args.fps {
        check_range("--fps", f, 0.001, 1000.0)?;
    }
    check_range("--flush-timeout", args.flush_timeout_s, 0.0, 86_400.0)?;
    match (&args.video, &args.detections) {
        (Some(_), Some(_)) => {
            return Err(AppError::Usage(
                "give either a VIDEO or --detections FILE, not both".into(),
            ));
        }
        (None, None) => {
            return Err(AppError::Usage(
                "give a VIDEO to replay, or --detections FILE".into(),
            ));
        }
        _ => {}
    }
    if args.detections.is_some() && args.annotate.is_some() {
        return Err(AppError::Usage(
            "--annotate needs a VIDEO to draw on (with --detections there are no frames); --explain works with both"
                .into(),
        ));
    }
    check_range("--progress-every", args.progress_every_s, 0.0, 86_400.0)?;
    if args.detections.is_some() && args.export_detections.is_some() {
        return Err(AppError::Usage(
            "--export-detections needs a VIDEO (with --detections the detections are the input)"
                .into(),
        ));
    }
    let evidence = EvidenceStore::open(cfg.evidence.clone())?;
    let exports = Arc::new(Mutex::new(Exports {
        mot: args.export_mot.as_deref().map(export_file).transpose()?,
        ..Exports::default()
    }));
    let mut tap = ReplayTap {
        exports: ExportTap(
            exports.clone(),
            args.export_mot.clone(),
            args.export_detections.clone(),
        ),
        annotate: None,
        explain: args.explain.then(|| super::tune::Explainer::new(start)),
    };
    let explain = args.explain || args.annotate.is_some();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let t0 = Instant::now();

    // Load what can fail before anything is published.
    let source = match &args.video {
        Some(video) => {
            let source = FileSource::open(video, start, args.fps)?;
            let detector = Detector::load(cfg.detector.clone())?;
            if let Some(path) = &args.annotate {
                // The analysed frames, at the rate they are analysed.
                let fps = if camera.detect_fps > 0.0 {
                    camera.detect_fps.min(source.fps())
                } else {
                    source.fps()
                };
                // Label names when the model's labels are COCO-80 (the shipped model's).
                let coco = detector.num_classes() == crate::detect::COCO_CLASSES.len()
                    && detector.classes().entries()
                        == crate::detect::ClassMap::coco_default().entries();
                let names = if coco {
                    crate::detect::COCO_CLASSES
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                } else {
                    Vec::new()
                };
                let overlay = crate::publish::annotate::Overlay::new(
                    &camera.id,
                    cfg.site.timezone.clone(),
                    cfg.evidence.font.as_deref(),
                    names,
                );
                tap.annotate = Some(super::tune::Annotator::open(
                    path,
                    source.frame_size(),
                    fps,
                    start,
                    overlay,
                )?);
            }
            Some((video.clone(), source, detector))
        }
        None => None,
    };
    let delivery = if args.mqtt {
        Some(Delivery::start(cfg.delivery(Role::Replay))?)
    } else {
        None
    };
    let publish = PublishWorker {
        site: cfg.site.id.clone(),
        tz: cfg.site.timezone.clone(),
        language: cfg.site.language,
        evidence: Some(evidence),
        publisher: delivery.as_ref().map(|d| d.publisher.clone()),
        console: Box::new(Stdout { json: args.json }),
        clock: clock.clone(),
        metrics: None,
        hub: None,
    };
    let dispatcher = Box::new(Dispatcher::new(
        cfg.event_builder(camera),
        cfg.zone_outlines(camera),
        delivery.as_ref().map(|d| d.publisher.clone()),
    ));

    let (frames, analysed, bad, events, inference_ms, gated) = match source {
        None => {
            let path = args.detections.as_deref().expect("checked above");
            replay_detections(
                &cfg, camera, path, start, args, publish, dispatcher, tap, explain,
            )?
        }
        Some((video, source, detector)) => {
            let (w, h) = source.frame_size();
            tracing::info!(
                video = %video.display(),
                camera = %camera.id,
                fps = source.fps(),
                frames = source.frame_count().unwrap_or(0),
                size = %format!("{w}x{h}"),
                start = %start.to_zoned(cfg.site.timezone.clone()),
                detect_fps = camera.detect_fps,
                mqtt = %if args.mqtt { cfg.mqtt.url.as_str() } else { "off" },
                "replay"
            );
            if let Some(p) = &args.export_detections {
                let mut wr = export_file(p)?;
                writeln!(
                    wr,
                    "{DET_HEADER} fps={} detect_fps={} size={w}x{h} frames={} video={}",
                    source.fps(),
                    camera.detect_fps,
                    source.frame_count().unwrap_or(0),
                    video
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default()
                )
                .map_err(|e| write_err(&args.export_detections, e))?;
                exports.lock().unwrap_or_else(|p| p.into_inner()).dets = Some(wr);
            }
            let expected = source.frame_count();
            let chain = Chain::start(
                detector,
                publish,
                Some(Box::new(tap)),
                clock.clone(),
                WorkerOptions {
                    exit_when_idle: true,
                    max_frames: None,
                    batch: cfg.detector.batch,
                    ..WorkerOptions::default()
                },
                true,
            )
            .map_err(|e| AppError::Failed(format!("cannot start the worker threads: {e}")))?;
            let _ = chain.publish_tx.send(PublishMsg::Camera(dispatcher));
            let slot = FrameSlot::new(chain.doorbell.clone());
            let capture = Arc::new(Capture::new(
                cfg.capture(camera, FrameDelivery::Every),
                slot.clone(),
            ));
            let mut analytics = CameraAnalytics::new(cfg.analytics(camera));
            analytics.set_explain(explain);
            let _ = chain.worker_tx.send(WorkerCmd::Add {
                camera: camera.id.clone(),
                slot: slot.clone(),
                analytics: Box::new(analytics),
                gate: cfg.motion_gate(camera),
            });
            let stop = Arc::new(AtomicBool::new(false));
            let prep = cfg.frame_prep(camera, &chain.preprocessor);
            let handle = spawn_capture(
                capture,
                Box::new(source),
                stop,
                None,
                clock.clone(),
                Some(Box::new(prep)),
            )
            .map_err(|e| AppError::Failed(format!("cannot start the capture thread: {e}")))?;
            let decoded = || {
                slot.counters
                    .decoded
                    .load(std::sync::atomic::Ordering::Relaxed)
            };
            let mut progress = super::progress::Progress::start(expected, args.progress_every_s);
            while !handle.is_finished() {
                progress.update(decoded());
                std::thread::sleep(Duration::from_millis(100));
            }
            progress.finish(decoded());
            match handle.join() {
                Ok(CaptureEnd::Failed(e)) => {
                    tracing::warn!(error = %e, "stopping at an unreadable frame")
                }
                Ok(_) => {}
                Err(_) => return Err(AppError::Failed("the capture thread failed".into())),
            }
            let stats = chain.stats.clone();
            let summary = chain.finish();
            let st = stats.lock().unwrap_or_else(|p| p.into_inner());
            let frames = slot
                .counters
                .decoded
                .load(std::sync::atomic::Ordering::Relaxed);
            if let Some(n) = expected
                && frames + 2 < n
            {
                tracing::warn!(
                    read = frames,
                    expected = n,
                    "the video ended early: truncated or corrupt file"
                );
            }
            let inf: f64 = st.stages.inference.iter().sum();
            (
                frames,
                st.totals.analysed,
                st.totals.bad_frames,
                summary.events,
                Some(inf),
                st.totals.skipped,
            )
        }
    };
    {
        let mut ex = exports.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = ex.error.take() {
            return Err(e);
        }
        if let Some(w) = ex.mot.as_mut() {
            w.flush().map_err(|e| write_err(&args.export_mot, e))?;
        }
        if let Some(w) = ex.dets.as_mut() {
            w.flush()
                .map_err(|e| write_err(&args.export_detections, e))?;
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let mut line = format!(
        "replay: {frames} frames, {analysed} analysed ({} inferred, {gated} without motion), {bad} unreadable, {events} events, {wall:.1} s wall ({:.1} analysed frames/s",
        analysed.saturating_sub(gated),
        analysed as f64 / wall.max(1e-9)
    );
    if let Some(ms) = inference_ms {
        line.push_str(&format!(
            ", inference {:.1} ms/inferred frame",
            ms / (analysed.saturating_sub(gated).max(1) as f64)
        ));
    }
    line.push(')');
    if crate::runtime::json_log() {
        tracing::info!(frames, analysed, events, wall_s = wall, "{line}");
    } else {
        super::progress::eprint_line(&line);
    }
    if let Some(d) = delivery {
        let dir = cfg.outbox_dir(Role::Replay);
        let left = d.finish(Duration::from_secs_f64(args.flush_timeout_s));
        if left > 0 {
            return Err(AppError::Failed(format!(
                "{left} message(s) were not acknowledged by the broker {} within --flush-timeout {} s; they stay in {} for the next replay",
                cfg.mqtt.url,
                args.flush_timeout_s,
                dir.display()
            )));
        }
    }
    Ok(())
}

#[derive(Default)]
struct DetHeader {
    fps: Option<f64>,
    /// The rate the frames were analysed at when the file was recorded.
    detect_fps: Option<f64>,
    size: Option<(u32, u32)>,
    frames: Option<u64>,
}

fn read_detections(path: &Path) -> Result<(Vec<MotRow>, DetHeader), AppError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AppError::Usage(format!(
            "--detections {}: cannot read ({e})",
            path.display()
        ))
    })?;
    let rows = crate::media::mot::parse(&text, &path.display().to_string())
        .map_err(|e| AppError::Usage(e.to_string()))?;
    let mut h = DetHeader::default();
    if let Some(line) = text.lines().next().and_then(|l| l.strip_prefix(DET_HEADER)) {
        for kv in line.split_whitespace() {
            match kv.split_once('=') {
                Some(("fps", v)) => {
                    h.fps = v.parse().ok().filter(|f: &f64| f.is_finite() && *f > 0.0)
                }
                Some(("detect_fps", v)) => {
                    h.detect_fps = v.parse().ok().filter(|f: &f64| f.is_finite() && *f > 0.0)
                }
                Some(("size", v)) => h.size = parse_size(v),
                Some(("frames", v)) => h.frames = v.parse().ok(),
                _ => {}
            }
        }
    }
    Ok((rows, h))
}

/// The rate to analyse recorded detections at. Only the frames the recording analysed
/// have rows, so analysing faster than it did sees empty frames in between, and every
/// track dies: such a replay analyses at the recorded rate and says so. Slower is fine
/// (a subset of the analysed frames). The recorded rate is the header's `detect_fps`, or,
/// for other MOT files, the frame rate over the usual gap between frames with rows.
fn detections_rate(
    configured: f64,
    fps: f64,
    header: &DetHeader,
    frames: &std::collections::BTreeMap<u64, Vec<MotRow>>,
    path: &Path,
) -> f64 {
    let recorded = header.detect_fps.or_else(|| {
        let keys: Vec<u64> = frames.keys().copied().collect();
        let mut gaps: Vec<u64> = keys.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_unstable();
        gaps.get(gaps.len() / 2).map(|g| fps / *g as f64)
    });
    match recorded {
        Some(r) if configured > r * 1.01 => {
            tracing::warn!(
                detections = %path.display(),
                recorded_fps = r,
                camera_detect_fps = configured,
                "the detections were recorded at {r:.2} frames/s, slower than camera.detect_fps = {configured}: analysing at {r:.2} frames/s (the frames in between have no detections, and would end every track)"
            );
            r.min(fps)
        }
        Some(r) if header.detect_fps.is_some() && configured < r * 0.99 => {
            tracing::info!(
                recorded_fps = r,
                camera_detect_fps = configured,
                "analysing a subset of the recorded frames (camera.detect_fps is lower than the recording's rate)"
            );
            configured
        }
        _ => configured,
    }
}

/// Recorded detections → analytics → the publish worker; no capture, no detector.
#[allow(clippy::too_many_arguments)]
fn replay_detections(
    cfg: &Config,
    camera: &crate::config::CameraConfig,
    path: &Path,
    start: Timestamp,
    args: &ReplayArgs,
    publish: PublishWorker,
    dispatcher: Box<Dispatcher>,
    mut tap: ReplayTap,
    explain: bool,
) -> Result<Counts, AppError> {
    let (rows, header) = read_detections(path)?;
    let fps = args.fps.or(header.fps).ok_or_else(|| {
        AppError::Usage(format!(
            "{}: no frame rate: pass --fps (the file has no `{DET_HEADER}` header)",
            path.display()
        ))
    })?;
    let size = args.frame_size.or(header.size).ok_or_else(|| {
        AppError::Usage(format!(
            "{}: no frame size: pass --frame-size WxH (zones are fractions of the frame)",
            path.display()
        ))
    })?;
    // The detector's thresholds and class filter, as far as a class-tagged row allows.
    let min_person = cfg.detector.class_min_score(ObjectClass::Person);
    let min_vehicle = cfg.detector.class_min_score(ObjectClass::Vehicle);
    let recorded = rows.len();
    let rows: Vec<MotRow> = rows
        .into_iter()
        .filter(|r| {
            let min = match r.class.unwrap_or(ObjectClass::Person) {
                ObjectClass::Person => min_person,
                ObjectClass::Vehicle => min_vehicle,
            };
            min.is_some_and(|m| r.score >= m)
        })
        .collect();
    if rows.len() < recorded {
        tracing::info!(
            recorded,
            kept = rows.len(),
            person_min_score = ?min_person,
            vehicle_min_score = ?min_vehicle,
            "recorded detections below the [model] score thresholds, or of classes it does not keep, are left out"
        );
    }
    let frames = crate::media::mot::by_frame(&rows);
    let detect_fps = detections_rate(camera.detect_fps, fps, &header, &frames, path);
    let last = header
        .frames
        .unwrap_or(0)
        .max(frames.keys().next_back().copied().unwrap_or(0));
    tracing::info!(detections = %path.display(), fps, frames = last, size = %format!("{}x{}", size.0, size.1), "replay of recorded detections");
    let (tx, handle) = crate::runtime::spawn_publisher(publish)
        .map_err(|e| AppError::Failed(format!("cannot start the publish thread: {e}")))?;
    let _ = tx.send(PublishMsg::Camera(dispatcher));
    let mut analytics = CameraAnalytics::new(cfg.analytics(camera));
    analytics.set_explain(explain);
    let mut sampler = Sampler::new(detect_fps);
    let mut progress = super::progress::Progress::start(Some(last), args.progress_every_s);
    let time_of =
        |frame: u64| start + jiff::SignedDuration::from_secs_f64((frame - 1) as f64 / fps);
    let mut dets = Detections {
        meta: FrameMeta {
            camera: camera.id.clone(),
            size,
            ..FrameMeta::default()
        },
        items: Vec::new(),
    };
    let mut analysed = 0;
    for frame_no in 1..=last {
        if frame_no % 64 == 0 {
            progress.update(frame_no);
        }
        let ts = time_of(frame_no);
        if !sampler.take(ts) {
            continue;
        }
        dets.meta.index = frame_no - 1;
        dets.meta.ts = ts;
        dets.items.clear();
        if let Some(rs) = frames.get(&frame_no) {
            dets.items.extend(rs.iter().map(|r| {
                let class = r.class.unwrap_or(ObjectClass::Person);
                let label = if class == ObjectClass::Person { 0 } else { 2 };
                Detection {
                    bbox: r.bbox,
                    score: r.score,
                    class,
                    label,
                }
            }));
        }
        let report = analytics.step(&dets);
        analysed += 1;
        tap.frame(&Tapped {
            image: None,
            dets: &dets,
            report: &report,
            explanation: analytics.explanation(),
        });
        if !report.incidents.is_empty() {
            let _ = tx.send(PublishMsg::Report {
                report,
                image: None,
            });
        }
    }
    progress.finish(last);
    let end = time_of(last.max(1));
    let incidents = analytics.finish(end, END_OF_STREAM);
    if !incidents.is_empty() {
        let _ = tx.send(PublishMsg::Report {
            report: FrameReport {
                meta: FrameMeta {
                    ts: end,
                    ..dets.meta.clone()
                },
                tracks: analytics.tracks().to_vec(),
                zone_counts: analytics.zone_counts(),
                incidents,
            },
            image: None,
        });
    }
    drop(tx);
    let summary = handle.join().unwrap_or_default();
    Ok((last, analysed, 0, summary.events, None, 0))
}
