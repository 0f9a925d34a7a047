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
use crate::runtime::load::{Trial, TrialResult, bench_chain, rss_kb, run_trial};
use crate::runtime::prepare::FramePrep;
use crate::runtime::publisher::PublishMsg;
use crate::runtime::spawn_capture;
use crate::runtime::worker::{WorkerCmd, WorkerOptions, percentiles};

pub struct BenchArgs {
    pub config: PathBuf,
    pub video: Option<PathBuf>,
    /// Frames of the full pipeline to time (the clip loops if shorter).
    pub frames: usize,
    /// Bare-inference iterations.
    pub iterations: usize,
    pub json: bool,
    /// `Some`: the multi-camera load test instead of the single-camera pipeline.
    pub cameras: Option<CamerasArg>,
    /// Gating modes for the load test.
    pub gating: Vec<bool>,
    /// Seconds each load trial measures (after a 3 s warm-up).
    pub seconds: f64,
    /// Repeats of the load search (the spread is reported).
    pub repeats: usize,
    /// Largest camera count the load search tries.
    pub max_cameras: usize,
    /// Write a PNG plot of cameras against frame age.
    pub plot: Option<PathBuf>,
}

/// `--cameras N` (one trial) or `--cameras max` (search the largest N that keeps up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CamerasArg {
    Exactly(usize),
    Max,
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

/// One pass of the full chain over the clip, every frame analysed.
struct Pass {
    stages: crate::runtime::worker::StageSamples,
    seconds: f64,
    /// Grab + retrieve per due frame, ms (capture thread).
    read_ms: f64,
    /// Preparation per due frame on the capture thread, ms (0 when sequential).
    prepare_ms: f64,
}

fn full_pass(
    detector: Detector,
    cfg: &Config,
    camera: &crate::config::CameraConfig,
    video: &std::path::Path,
    frames: usize,
    pipelined: bool,
) -> Result<(Detector, Pass), AppError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let start = clock.now();
    let source = FileSource::open(video, start, None)?;
    let mut chain = bench_chain(
        detector,
        cfg,
        clock.clone(),
        WorkerOptions {
            exit_when_idle: true,
            max_frames: Some(frames as u64),
            batch: 1,
            ..WorkerOptions::default()
        },
        true,
    )
    .map_err(AppError::Failed)?;
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
        gate: None,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let looping = LoopingFile {
        path: video.to_path_buf(),
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
        Some(Box::new(FramePrep::new(
            pipelined.then(|| chain.preprocessor.clone()),
            None,
        ))),
    )
    .map_err(|e| AppError::Failed(format!("cannot start the capture thread: {e}")))?;
    let detector = chain
        .join_worker()
        .ok_or_else(|| AppError::Failed("the detector worker failed".into()))?;
    let seconds = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let _ = slot.take(&mut crate::media::source::Frame::default()); // unblock the capture
    let _ = cap.join();
    let stats: Arc<Mutex<_>> = chain.stats.clone();
    chain.finish();
    let st = stats.lock().unwrap_or_else(|p| p.into_inner());
    let due = slot.counters.due.load(Ordering::Relaxed).max(1) as f64;
    let per = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e3 / due;
    Ok((
        detector,
        Pass {
            stages: st.stages.clone(),
            seconds,
            read_ms: per(&slot.counters.decode_us),
            prepare_ms: per(&slot.counters.prepare_us),
        },
    ))
}

fn bare_inference(detector: &mut Detector, iterations: usize) -> Result<(Vec<f64>, f64), AppError> {
    let mut bare = Vec::with_capacity(iterations);
    let t0 = Instant::now();
    for _ in 0..iterations {
        bare.push(detector.infer_only()?.as_secs_f64() * 1e3);
    }
    let fps = bare.len() as f64 / t0.elapsed().as_secs_f64();
    Ok((bare, fps))
}

fn video_of(args: &BenchArgs, camera: &crate::config::CameraConfig) -> Result<PathBuf, AppError> {
    match &args.video {
        Some(v) => Ok(v.clone()),
        None if !camera.url.contains("://") && !camera.url.starts_with("/dev/") => {
            Ok(PathBuf::from(&camera.url))
        }
        None => Err(AppError::Usage(format!(
            "camera {:?} is a stream; pass a VIDEO file to benchmark with",
            camera.id
        ))),
    }
}

pub fn bench(args: &BenchArgs) -> Result<(), AppError> {
    check_range("--frames", args.frames as f64, 1.0, 1_000_000.0)?;
    check_range("--iterations", args.iterations as f64, 1.0, 1_000_000.0)?;
    let cfg = Config::load(&args.config)?;
    let camera = pick_camera(&cfg, None, &args.config)?;
    let video = video_of(args, camera)?;
    if let Some(n) = args.cameras {
        return bench_cameras(args, &cfg, camera, &video, n);
    }
    let src_fps = FileSource::open(&video, SystemClock.now(), None)?.fps();
    let detector = Detector::load(cfg.detector.clone())?;
    let (provider, runtime_version) = (detector.provider(), detector.runtime_version().to_string());

    // Sequential first (preprocessing on the detector thread), then pipelined
    // (preprocessing on the capture thread), then bare inference: same run, same box.
    let (detector, seq) = full_pass(detector, &cfg, camera, &video, args.frames, false)?;
    let (mut detector, pip) = full_pass(detector, &cfg, camera, &video, args.frames, true)?;
    let (bare, bare_fps) = bare_inference(&mut detector, args.iterations)?;
    let mut decode = Vec::new();
    for hw in [false, true] {
        let c = crate::media::source::decode_cost(&video, 300, hw)?;
        decode.push(crate::publish::document::DecodeTimes {
            width: c.width,
            height: c.height,
            hw_requested: hw,
            acceleration: c.acceleration,
            grab_ms: round3(c.grab_ms),
            retrieve_ms: round3(c.retrieve_ms),
        });
    }

    let s = &pip.stages;
    let n = s.frame.len();
    let e2e_fps = n as f64 / pip.seconds;
    let seq_fps = seq.stages.frame.len() as f64 / seq.seconds;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    // Work left on the detector thread besides inference.
    let outside_inference = mean(&s.preprocess) + mean(&s.decode) + mean(&s.analytics);
    // A live camera is decoded at its own frame rate but analysed at detect_fps; the
    // preparation runs on the capture thread but is CPU all the same.
    let per_camera_ms =
        pip.read_ms * src_fps + (mean(&s.frame) + pip.prepare_ms) * camera.detect_fps;
    let cameras = (1000.0 / per_camera_ms).floor().max(0.0);
    let stages: Vec<(&str, (f64, f64))> = vec![
        ("read+decode frame", (pip.read_ms, pip.read_ms)),
        (
            "prepare on capture thread",
            (pip.prepare_ms, pip.prepare_ms),
        ),
        ("preprocess", percentiles(&mut s.preprocess.clone())),
        ("inference", percentiles(&mut s.inference.clone())),
        ("decode+NMS", percentiles(&mut s.decode.clone())),
        ("track+rules", percentiles(&mut s.analytics.clone())),
        ("whole frame", percentiles(&mut s.frame.clone())),
        ("bare inference", percentiles(&mut bare.clone())),
    ];
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
            frames: n,
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
            sequential_fps: round3(seq_fps),
            bare_inference_fps: round3(bare_fps),
            end_to_end_over_bare: round3(e2e_fps / bare_fps),
            sequential_over_bare: round3(seq_fps / bare_fps),
            outside_inference_ms: round3(outside_inference),
            outside_inference_pct_of_inference: round3(
                100.0 * outside_inference / mean(&inf).max(1e-9),
            ),
            detect_fps: camera.detect_fps,
            per_camera_ms_per_s: round3(per_camera_ms),
            cameras,
            decode,
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
            "video {} ({src_fps} fps), {n} frames through the full pipeline (twice), {} bare inferences",
            video.display(),
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
            "end-to-end (pipelined): {e2e_fps:.1} frames/s; sequential: {seq_fps:.1} frames/s; bare inference: {bare_fps:.1} frames/s; ratios {:.3} and {:.3}",
            e2e_fps / bare_fps,
            seq_fps / bare_fps
        );
        println!(
            "left on the detector thread besides inference (preprocess + decode + track/rules): {outside_inference:.2} ms = {:.1} % of inference",
            100.0 * outside_inference / mean(&inf).max(1e-9)
        );
        println!(
            "one camera at {src_fps} fps decoded, analysed at detect_fps {}: {per_camera_ms:.0} ms of CPU per second → about {cameras} camera(s) by arithmetic; `--cameras max` measures it",
            camera.detect_fps
        );
        for d in &decode {
            println!(
                "decode {}×{} ({}): {:.2} ms per frame not due (grab only), +{:.2} ms to convert a due frame",
                d.width,
                d.height,
                match (d.hw_requested, d.acceleration) {
                    (false, _) => "software".to_string(),
                    (true, 0) => "hardware asked for, none available: software".to_string(),
                    (true, a) => format!("hardware, OpenCV acceleration {a}"),
                },
                d.grab_ms,
                d.retrieve_ms
            );
        }
    }
    Ok(())
}

use crate::publish::document::{
    LoadBenchDoc, MachineDoc as Machine, MemoryDoc, SearchDoc as Search,
};

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        })
        .unwrap_or_else(|| "unknown".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn bench_cameras(
    args: &BenchArgs,
    cfg: &Config,
    camera: &crate::config::CameraConfig,
    video: &std::path::Path,
    n: CamerasArg,
) -> Result<(), AppError> {
    check_range("--seconds", args.seconds, 1.0, 3600.0)?;
    check_range("--repeats", args.repeats as f64, 1.0, 100.0)?;
    check_range("--max-cameras", args.max_cameras as f64, 1.0, 512.0)?;
    let load_before = loadavg();
    let rss_start = rss_kb();
    let clip = FileSource::open(video, SystemClock.now(), None)?;
    let clip_frames = clip.frame_count().unwrap_or(1000);
    drop(clip);
    let mut detector = Detector::load(cfg.detector.clone())?;
    let machine_of = |d: &Detector, load_after: String| Machine {
        cpu: cpu_model(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_before: load_before.clone(),
        load_after,
        execution_provider: d.provider().to_string(),
        onnxruntime: d.runtime_version().to_string(),
        threads: cfg.detector.intra_threads,
        batch: cfg.detector.batch,
    };
    // Bare inference on a real frame, before and after the trials.
    let mut frame = crate::media::source::Frame::default();
    FileSource::open(video, SystemClock.now(), None)?.read(&mut frame)?;
    detector.preprocess(&frame.image)?;
    let (_, bare_before) = bare_inference(&mut detector, args.iterations)?;
    let rss_model = rss_kb();
    let trial_of = |cameras: usize, gating: bool| Trial {
        cameras,
        gating,
        clip_frames,
        warmup: std::time::Duration::from_secs(3),
        measure: std::time::Duration::from_secs_f64(args.seconds),
    };
    let mut searches: Vec<Search> = Vec::new();
    let run = |detector: Detector,
               cameras: usize,
               gating: bool|
     -> Result<(Detector, TrialResult), AppError> {
        let (d, r) = run_trial(detector, cfg, camera, video, &trial_of(cameras, gating))
            .map_err(AppError::Failed)?;
        if !args.json {
            super::note(&format!(
                "  {:>3} camera(s), gating {:<3}: age p50 {:>6.1} ms p95 {:>6.1} ms, on time {:>5.1} %, {:.2} analysed fps/camera, {:>4.1} % skipped, RSS {} MB ({} MB private) → {}",
                r.cameras,
                if r.gating { "on" } else { "off" },
                r.age_p50_ms,
                r.age_p95_ms,
                100.0 * r.on_time,
                r.analysed_fps_per_camera,
                100.0 * r.skipped_share,
                r.rss_kb / 1024,
                r.rss_anon_kb / 1024,
                if r.keeps_up {
                    "keeps up"
                } else {
                    "falls behind"
                }
            ));
            super::note(&format!(
                "      CPU (cores): {}",
                r.cpu_cores
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok((d, r))
    };
    // One camera first, gating off: the memory baseline (one camera's RSS).
    let baseline = if n == CamerasArg::Max {
        let (d, r) = run(detector, 1, false)?;
        detector = d;
        Some(r)
    } else {
        None
    };
    for repeat in 0..args.repeats {
        for &gating in &args.gating {
            let mut trials = Vec::new();
            let best = match n {
                CamerasArg::Exactly(k) => {
                    let (d, r) = run(detector, k, gating)?;
                    detector = d;
                    let ok = r.keeps_up;
                    trials.push(r);
                    if ok { k } else { 0 }
                }
                CamerasArg::Max => {
                    // Grow by doubling from a guess, then bisect between the last that
                    // kept up and the first that did not.
                    let ideal = (bare_before / camera.detect_fps).floor().max(1.0) as usize;
                    let mut lo = 0usize;
                    let mut hi: Option<usize> = None;
                    let mut k = if gating {
                        searches
                            .iter()
                            .rfind(|s| !s.gating && s.repeat == repeat)
                            .map_or(ideal, |s| s.max_cameras.max(1))
                    } else {
                        (ideal * 3 / 4).max(1)
                    }
                    .min(args.max_cameras);
                    loop {
                        let (d, r) = run(detector, k, gating)?;
                        detector = d;
                        let ok = r.keeps_up;
                        trials.push(r);
                        if ok {
                            lo = k;
                        } else {
                            hi = Some(k);
                        }
                        let next = match hi {
                            None if k >= args.max_cameras => break,
                            None => (k * 2).min(args.max_cameras),
                            Some(h) if lo == 0 && h > 1 => (h / 2).max(1),
                            Some(h) if h - lo <= 1 => break,
                            Some(_) if lo == 0 => break,
                            Some(h) => (lo + h) / 2,
                        };
                        k = next;
                    }
                    lo
                }
            };
            searches.push(Search {
                gating,
                repeat,
                max_cameras: best,
                trials,
            });
        }
    }
    let (_, bare_after) = bare_inference(&mut detector, args.iterations)?;
    let machine = machine_of(&detector, loadavg());
    let ideal = bare_before.min(bare_after) / camera.detect_fps;
    let all: Vec<&TrialResult> = baseline
        .iter()
        .chain(searches.iter().flat_map(|s| s.trials.iter()))
        .collect();
    let one = all
        .iter()
        .filter(|t| t.cameras == 1)
        .map(|t| t.rss_kb)
        .min();
    let one_anon = all
        .iter()
        .filter(|t| t.cameras == 1)
        .map(|t| t.rss_anon_kb)
        .min();
    // Memory per extra camera: the steepest rise between trials in the order they ran
    // (the allocator keeps what it got, so only rises are informative).
    let mut per_cam: Option<f64> = None;
    for w in all.windows(2) {
        if w[1].cameras > w[0].cameras && w[1].rss_kb > w[0].rss_kb {
            let slope = (w[1].rss_kb - w[0].rss_kb) as f64 / (w[1].cameras - w[0].cameras) as f64;
            per_cam = Some(per_cam.map_or(slope, |p: f64| p.max(slope)));
        }
    }
    if let Some(p) = &args.plot {
        plot(p, &all, 1000.0 / camera.detect_fps).map_err(|e| {
            AppError::Failed(format!(
                "--plot {}: cannot write the picture ({e})",
                p.display()
            ))
        })?;
    }
    let summary = |gating: bool| -> Vec<usize> {
        let mut v: Vec<usize> = searches
            .iter()
            .filter(|s| s.gating == gating)
            .map(|s| s.max_cameras)
            .collect();
        v.sort();
        v
    };
    if args.json {
        let doc = LoadBenchDoc {
            schema: crate::publish::document::LOAD_BENCH_SCHEMA.into(),
            machine,
            model: cfg.detector.model_path.display().to_string(),
            video: video.display().to_string(),
            detect_fps: camera.detect_fps,
            bare_inference_fps: vec![round3(bare_before), round3(bare_after)],
            inference_bound_cameras: round3(ideal),
            memory: MemoryDoc {
                rss_start_kb: rss_start,
                rss_model_loaded_kb: rss_model,
                rss_one_camera_kb: one,
                rss_one_camera_private_kb: one_anon,
                per_extra_camera_max_kb: per_cam.map(round3),
            },
            max_cameras_gating_off: summary(false),
            max_cameras_gating_on: summary(true),
            searches,
        };
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return Ok(());
    }
    println!(
        "wardwatch bench --cameras: {} ({} cores), {} on ONNX Runtime {}, {} thread(s), batch {}",
        machine.cpu,
        machine.cores,
        machine.execution_provider,
        machine.onnxruntime,
        machine.threads,
        machine.batch
    );
    println!(
        "clip {} looped per camera (time-shifted), analysed at detect_fps {}; load average {} before, {} after",
        video.display(),
        camera.detect_fps,
        machine.load_before,
        machine.load_after
    );
    println!(
        "bare inference {bare_before:.1} / {bare_after:.1} frames/s (before / after) → inference-bound ideal {ideal:.1} cameras"
    );
    println!();
    println!(
        "| cameras | gating | age p50 ms | age p95 ms | on time | analysed fps/camera | inference skipped | RSS MB | keeps up |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---|");
    let mut sorted = all.clone();
    sorted.sort_by_key(|t| (t.gating, t.cameras));
    for t in &sorted {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} % | {:.2} | {:.1} % | {} | {} |",
            t.cameras,
            if t.gating { "on" } else { "off" },
            t.age_p50_ms,
            t.age_p95_ms,
            100.0 * t.on_time,
            t.analysed_fps_per_camera,
            100.0 * t.skipped_share,
            t.rss_kb / 1024,
            if t.keeps_up { "yes" } else { "no" }
        );
    }
    println!();
    for gating in [false, true] {
        let v = summary(gating);
        if v.is_empty() {
            continue;
        }
        println!(
            "largest N that keeps up, gating {}: {} (over {} repeat(s): min {}, max {}) = {:.0} % of the inference-bound ideal",
            if gating { "on" } else { "off" },
            v[v.len() / 2],
            v.len(),
            v[0],
            v[v.len() - 1],
            100.0 * v[v.len() / 2] as f64 / ideal.max(1e-9)
        );
    }
    println!(
        "memory (RSS): {} MB after loading the model; {} MB with one camera, of which {} MB private (the rest: shared library pages); at most {} MB per extra camera between trials of this process (a fresh process per N measures it without the allocator's leftovers)",
        rss_model / 1024,
        one.map_or("-".into(), |v| format!("{}", v / 1024)),
        one_anon.map_or("-".into(), |v| format!("{}", v / 1024)),
        per_cam.map_or("-".into(), |v| format!("{:.1}", v / 1024.0))
    );
    Ok(())
}

/// Cameras against frame age p95, one line per gating mode, with the detection period.
fn plot(path: &std::path::Path, trials: &[&TrialResult], period_ms: f64) -> opencv::Result<()> {
    use opencv::core::{Point, Scalar, Vector};
    use opencv::imgproc;
    let (w, h) = (900, 560);
    let (left, right, top, bottom) = (80, 30, 40, 70);
    let mut img = Mat::new_rows_cols_with_default(h, w, opencv::core::CV_8UC3, Scalar::all(255.0))?;
    let max_n = trials.iter().map(|t| t.cameras).max().unwrap_or(1).max(2) as f64;
    let max_age = trials
        .iter()
        .map(|t| t.age_p95_ms)
        .fold(period_ms * 1.5, f64::max)
        .min(period_ms * 10.0);
    let px = |n: f64| left + ((n / max_n) * (w - left - right) as f64) as i32;
    let py = |a: f64| h - bottom - ((a.min(max_age) / max_age) * (h - top - bottom) as f64) as i32;
    let black = Scalar::all(0.0);
    let grey = Scalar::all(170.0);
    let font = imgproc::FONT_HERSHEY_SIMPLEX;
    imgproc::line(
        &mut img,
        Point::new(left, h - bottom),
        Point::new(w - right, h - bottom),
        black,
        1,
        imgproc::LINE_AA,
        0,
    )?;
    imgproc::line(
        &mut img,
        Point::new(left, top),
        Point::new(left, h - bottom),
        black,
        1,
        imgproc::LINE_AA,
        0,
    )?;
    let steps = 5;
    for i in 0..=steps {
        let a = max_age * i as f64 / steps as f64;
        let y = py(a);
        imgproc::line(
            &mut img,
            Point::new(left - 4, y),
            Point::new(w - right, y),
            grey,
            1,
            imgproc::LINE_8,
            0,
        )?;
        imgproc::put_text(
            &mut img,
            &format!("{a:.0}"),
            Point::new(10, y + 5),
            font,
            0.45,
            black,
            1,
            imgproc::LINE_AA,
            false,
        )?;
    }
    let n_step = (max_n / 10.0).ceil().max(1.0) as usize;
    for n in (0..=max_n as usize).step_by(n_step) {
        let x = px(n as f64);
        imgproc::put_text(
            &mut img,
            &n.to_string(),
            Point::new(x - 6, h - bottom + 20),
            font,
            0.45,
            black,
            1,
            imgproc::LINE_AA,
            false,
        )?;
    }
    let yp = py(period_ms);
    imgproc::line(
        &mut img,
        Point::new(left, yp),
        Point::new(w - right, yp),
        Scalar::new(0.0, 0.0, 220.0, 0.0),
        1,
        imgproc::LINE_AA,
        0,
    )?;
    imgproc::put_text(
        &mut img,
        &format!("detection period {period_ms:.0} ms"),
        Point::new(w - right - 230, yp + 18),
        font,
        0.45,
        Scalar::new(0.0, 0.0, 220.0, 0.0),
        1,
        imgproc::LINE_AA,
        false,
    )?;
    imgproc::put_text(
        &mut img,
        "cameras",
        Point::new(w / 2 - 30, h - 20),
        font,
        0.55,
        black,
        1,
        imgproc::LINE_AA,
        false,
    )?;
    imgproc::put_text(
        &mut img,
        "frame age p95 (ms), wardwatch bench --cameras max",
        Point::new(left, 25),
        font,
        0.55,
        black,
        1,
        imgproc::LINE_AA,
        false,
    )?;
    for (gating, colour, label) in [
        (
            false,
            Scalar::new(200.0, 90.0, 20.0, 0.0),
            "motion gating off",
        ),
        (
            true,
            Scalar::new(30.0, 150.0, 30.0, 0.0),
            "motion gating on",
        ),
    ] {
        // Median p95 per camera count over repeats.
        let mut by_n: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
        for t in trials.iter().filter(|t| t.gating == gating) {
            by_n.entry(t.cameras).or_default().push(t.age_p95_ms);
        }
        if by_n.is_empty() {
            continue;
        }
        let pts: Vec<Point> = by_n
            .iter_mut()
            .map(|(n, v)| {
                v.sort_by(|a, b| a.total_cmp(b));
                Point::new(px(*n as f64), py(v[v.len() / 2]))
            })
            .collect();
        let poly: Vector<Point> = pts.iter().copied().collect();
        imgproc::polylines(
            &mut img,
            &Vector::<Vector<Point>>::from_iter([poly]),
            false,
            colour,
            2,
            imgproc::LINE_AA,
            0,
        )?;
        for p in &pts {
            imgproc::circle(&mut img, *p, 4, colour, -1, imgproc::LINE_AA, 0)?;
        }
        let ly = if gating { top + 40 } else { top + 20 };
        imgproc::line(
            &mut img,
            Point::new(w - right - 200, ly),
            Point::new(w - right - 170, ly),
            colour,
            2,
            imgproc::LINE_AA,
            0,
        )?;
        imgproc::put_text(
            &mut img,
            label,
            Point::new(w - right - 160, ly + 5),
            font,
            0.45,
            black,
            1,
            imgproc::LINE_AA,
            false,
        )?;
    }
    let ok = opencv::imgcodecs::imwrite(path.display().to_string().as_str(), &img, &Vector::new())?;
    if !ok {
        return Err(opencv::Error::new(
            opencv::core::StsError,
            "imwrite refused the file",
        ));
    }
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
