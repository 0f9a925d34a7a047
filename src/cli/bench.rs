//! `wardwatch bench`: the full chain (capture thread → detector worker → analytics) over a
//! clip and bare inference in the same run: per-stage p50/p95, throughput, and how many
//! cameras this box carries at the configured detection rate.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::Timestamp;
use opencv::core::Mat;

use super::{AppError, check_range, pick_camera};
use crate::analytics::CameraAnalytics;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::detect::Detector;
use crate::media::capture::{Capture, Delivery as FrameDelivery, FrameSlot};
use crate::media::source::{FileSource, Source, SourceError};
use crate::publish::dispatch::Dispatcher;
use crate::runtime::publisher::{Console, PublishMsg, PublishWorker};
use crate::runtime::worker::{WorkerCmd, WorkerOptions, percentiles};
use crate::runtime::{Chain, spawn_capture};

pub struct BenchArgs {
    pub config: PathBuf,
    pub video: Option<PathBuf>,
    /// Frames of the full pipeline to time (the clip loops if shorter).
    pub frames: usize,
    /// Bare-inference iterations.
    pub iterations: usize,
    pub json: bool,
}

/// A file that starts over at its end, with time running on.
struct LoopingFile {
    path: PathBuf,
    inner: FileSource,
    offset_s: f64,
    start: Timestamp,
}

impl Source for LoopingFile {
    fn open(&mut self) -> Result<Option<f64>, SourceError> {
        self.inner.open()
    }
    fn is_open(&self) -> bool {
        true
    }
    fn grab(&mut self) -> Result<Option<(u64, Timestamp)>, SourceError> {
        if let Some(g) = self.inner.grab()? {
            return Ok(Some(g));
        }
        self.offset_s += self.inner.frames_read() as f64 / self.inner.fps();
        self.inner = FileSource::open(
            &self.path,
            self.start + jiff::SignedDuration::from_secs_f64(self.offset_s),
            None,
        )?;
        self.inner.grab()
    }
    fn retrieve(&mut self, image: &mut Mat) -> Result<(), SourceError> {
        self.inner.retrieve(image)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn reconnects(&self) -> bool {
        false
    }
}

struct Silent;
impl Console for Silent {
    fn event(&mut self, _: &crate::publish::document::Event) {}
    fn health(&mut self, _: &crate::publish::document::HealthDoc) {}
}

pub fn bench(args: &BenchArgs) -> Result<(), AppError> {
    check_range("--frames", args.frames as f64, 1.0, 1_000_000.0)?;
    check_range("--iterations", args.iterations as f64, 1.0, 1_000_000.0)?;
    let cfg = Config::load(&args.config)?;
    let camera = pick_camera(&cfg, None, &args.config)?;
    let video = match &args.video {
        Some(v) => v.clone(),
        None if !camera.url.contains("://") && !camera.url.starts_with("/dev/") => {
            PathBuf::from(&camera.url)
        }
        None => {
            return Err(AppError::Usage(format!(
                "camera {:?} is a stream; pass a VIDEO file to benchmark with",
                camera.id
            )));
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let start = clock.now();
    let source = FileSource::open(&video, start, None)?;
    let src_fps = source.fps();
    let detector = Detector::load(cfg.detector.clone())?;
    let (provider, runtime_version) = (detector.provider(), detector.runtime_version().to_string());

    // Full chain, every frame analysed, each stage timed by the worker.
    let publish = PublishWorker {
        site: cfg.site.name.clone(),
        tz: cfg.site.timezone.clone(),
        evidence: None,
        publisher: None,
        console: Box::new(Silent),
        clock: clock.clone(),
    };
    let mut chain = Chain::start(
        detector,
        publish,
        None,
        clock.clone(),
        WorkerOptions {
            exit_when_idle: true,
            max_frames: Some(args.frames as u64),
        },
        true,
    )
    .map_err(|e| AppError::Failed(format!("cannot start the worker threads: {e}")))?;
    let _ = chain
        .publish_tx
        .send(PublishMsg::Camera(Box::new(Dispatcher::new(
            cfg.event_builder(camera),
            cfg.zone_outlines(camera),
            None,
        ))));
    let slot = FrameSlot::new(chain.doorbell.clone());
    let mut cs = cfg.capture(camera, FrameDelivery::Every);
    cs.detect_fps = 0.0; // every frame
    let capture = Arc::new(Capture::new(cs, slot.clone()));
    let _ = chain.worker_tx.send(WorkerCmd::Add {
        camera: camera.id.clone(),
        slot: slot.clone(),
        analytics: Box::new(CameraAnalytics::new(cfg.analytics(camera))),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let full_t0 = Instant::now();
    let looping = LoopingFile {
        path: video.clone(),
        inner: source,
        offset_s: 0.0,
        start,
    };
    let cap = spawn_capture(
        capture,
        Box::new(looping),
        stop.clone(),
        None,
        clock.clone(),
    )
    .map_err(|e| AppError::Failed(format!("cannot start the capture thread: {e}")))?;
    let mut detector = chain
        .join_worker()
        .ok_or_else(|| AppError::Failed("the detector worker failed".into()))?;
    let full_s = full_t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let _ = slot.take(&mut crate::media::source::Frame::default()); // unblock the capture
    let _ = cap.join();
    let stats: Arc<Mutex<_>> = chain.stats.clone();
    chain.finish();
    let st = stats.lock().unwrap_or_else(|p| p.into_inner());
    let due = slot.counters.due.load(Ordering::Relaxed).max(1);
    let read_ms = slot.counters.decode_us.load(Ordering::Relaxed) as f64 / 1e3 / due as f64;

    // Bare inference on the last prepared tensor.
    let mut bare = Vec::with_capacity(args.iterations);
    let bare_t0 = Instant::now();
    for _ in 0..args.iterations {
        bare.push(detector.infer_only()?.as_secs_f64() * 1e3);
    }
    let bare_s = bare_t0.elapsed().as_secs_f64();

    let s = &st.stages;
    let n = s.frame.len();
    let e2e_fps = n as f64 / full_s;
    let bare_fps = bare.len() as f64 / bare_s;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let outside_inference = mean(&s.preprocess) + mean(&s.decode) + mean(&s.analytics);
    // A live camera is decoded at its own frame rate but analysed at detect_fps.
    let per_camera_ms = read_ms * src_fps + mean(&s.frame) * camera.detect_fps;
    let cameras = (1000.0 / per_camera_ms).floor().max(0.0);
    let stages: Vec<(&str, (f64, f64))> = vec![
        ("read+decode frame", (read_ms, read_ms)),
        ("preprocess", percentiles(&mut s.preprocess.clone())),
        ("inference", percentiles(&mut s.inference.clone())),
        ("decode+NMS", percentiles(&mut s.decode.clone())),
        ("track+rules", percentiles(&mut s.analytics.clone())),
        ("whole frame", percentiles(&mut s.frame.clone())),
        ("bare inference", percentiles(&mut bare.clone())),
    ];
    let total = s.frame.clone();
    let inf = s.inference.clone();
    if args.json {
        use crate::publish::document::{BENCH_SCHEMA, BenchDoc, StageTimes};
        let doc = BenchDoc {
            schema: BENCH_SCHEMA.into(),
            model: cfg.detector.model_path.display().to_string(),
            family: cfg.detector.family.name().to_string(),
            execution_provider: provider.to_string(),
            onnxruntime: runtime_version.to_string(),
            threads: cfg.detector.intra_threads,
            intra_op_spinning: cfg.detector.intra_spinning,
            video: video.display().to_string(),
            video_fps: src_fps,
            frames: total.len(),
            stages: stages
                .iter()
                .map(|(n, (p50, p95))| {
                    (
                        n.to_string(),
                        StageTimes {
                            p50_ms: round3(*p50),
                            p95_ms: round3(*p95),
                        },
                    )
                })
                .collect(),
            end_to_end_fps: round3(e2e_fps),
            bare_inference_fps: round3(bare_fps),
            end_to_end_over_bare: round3(e2e_fps / bare_fps),
            outside_inference_ms: round3(outside_inference),
            outside_inference_pct_of_inference: round3(
                100.0 * outside_inference / mean(&inf).max(1e-9),
            ),
            detect_fps: camera.detect_fps,
            per_camera_ms_per_s: round3(per_camera_ms),
            cameras,
        };
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    } else {
        println!(
            "wardwatch bench: {} ({}), provider {}, ONNX Runtime {}, {} thread(s), spinning {}",
            cfg.detector.model_path.display(),
            cfg.detector.family.name(),
            provider,
            runtime_version,
            cfg.detector.intra_threads,
            if cfg.detector.intra_spinning {
                "on"
            } else {
                "off"
            }
        );
        println!(
            "video {} ({src_fps} fps), {} frames through the full pipeline, {} bare inferences",
            video.display(),
            total.len(),
            bare.len()
        );
        println!();
        println!("| stage | p50 ms | p95 ms |");
        println!("|---|---:|---:|");
        for (n, (p50, p95)) in &stages {
            println!("| {n} | {p50:.2} | {p95:.2} |");
        }
        println!();
        println!(
            "end-to-end: {e2e_fps:.1} frames/s; bare inference: {bare_fps:.1} frames/s; ratio {:.2}",
            e2e_fps / bare_fps
        );
        println!(
            "outside inference (preprocess + decode + track/rules): {outside_inference:.2} ms = {:.1} % of inference",
            100.0 * outside_inference / mean(&inf).max(1e-9)
        );
        println!(
            "one camera at {src_fps} fps decoded, analysed at detect_fps {}: {per_camera_ms:.0} ms of work per second → this box carries about {cameras} camera(s)",
            camera.detect_fps
        );
    }
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
