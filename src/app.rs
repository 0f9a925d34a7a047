//! The commands: `run`, `replay`, `check-config`. Wires the stages together.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use opencv::prelude::*;

use crate::config::{CameraConfig, Config, ConfigError};
use crate::detect::{DetectError, Detector};
use crate::dispatch::Dispatcher;
use crate::event::{Event, EventBuilder};
use crate::evidence::{EvidenceError, EvidenceStore};
use crate::pipeline::CameraPipeline;
use crate::sink::Publisher;
use crate::sink::mqtt::{MqttSettings, MqttSink};
use crate::sink::outbox::{Outbox, OutboxError};
use crate::source::{FileSource, Frame, LiveSource, Sampler, SourceError};
use crate::types::{Detection, ObjectClass};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Detect(#[from] DetectError),
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("{0}")]
    Evidence(#[from] EvidenceError),
    #[error("{0}")]
    Outbox(#[from] OutboxError),
    #[error("{0}")]
    Usage(String),
}

impl AppError {
    /// 2 for invalid config or usage, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Config(_) | AppError::Usage(_) => 2,
            _ => 1,
        }
    }
}

pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("WARDWATCH_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,ort=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub fn check_config(file: &Path) -> Result<(), AppError> {
    let cfg = Config::load(file)?;
    let zones: usize = cfg.cameras.iter().map(|c| c.zones.len()).sum();
    println!(
        "{}: ok (site {}, {} camera(s), {} zone(s), time zone {})",
        file.display(),
        cfg.site.name,
        cfg.cameras.len(),
        zones,
        cfg.site.timezone_name
    );
    Ok(())
}

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
}

/// MQTT delivery for one process: a small tokio runtime driving the sink.
struct Delivery {
    rt: tokio::runtime::Runtime,
    sink: MqttSink,
    publisher: Publisher,
    outbox_dir: PathBuf,
}

impl Delivery {
    fn start(cfg: &Config) -> Result<Delivery, AppError> {
        let outbox = Outbox::open(&cfg.mqtt.outbox_dir, cfg.mqtt.outbox_max_bytes)?;
        let pending = outbox.len();
        if pending > 0 {
            tracing::info!(pending, dir = %cfg.mqtt.outbox_dir.display(), "outbox holds undelivered messages from an earlier run; delivering them first");
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wardwatch-mqtt")
            .enable_all()
            .build()
            .map_err(|e| AppError::Usage(format!("cannot start the async runtime: {e}")))?;
        let settings = MqttSettings {
            url: cfg.mqtt.url.clone(),
            client_id: cfg.mqtt.client_id.clone(),
            username: cfg.mqtt.username.clone(),
            password: cfg.mqtt.password.clone(),
            keep_alive_s: cfg.mqtt.keep_alive_s,
            ca_file: cfg.mqtt.ca_file.clone(),
            status_topic: Publisher::status_topic(&cfg.mqtt.topic_prefix, &cfg.site.name),
        };
        let sink = {
            let _guard = rt.enter();
            MqttSink::spawn(settings, outbox.clone())
        };
        let publisher = Publisher::new(outbox, &cfg.mqtt.topic_prefix, &cfg.site.name);
        Ok(Delivery {
            rt,
            sink,
            publisher,
            outbox_dir: cfg.mqtt.outbox_dir.clone(),
        })
    }

    /// Wait for the broker to take everything queued, then disconnect.
    fn finish(self, timeout: Duration) {
        let left = self.rt.block_on(self.sink.flush(timeout));
        if left > 0 {
            eprintln!(
                "warning: {left} message(s) not yet acknowledged by the broker; they stay in {} and are delivered by the next run",
                self.outbox_dir.display()
            );
        }
        self.rt.block_on(self.sink.shutdown());
    }
}

fn print_event(ev: &Event, json: bool) {
    if json {
        println!("{}", serde_json::to_string(ev).expect("events serialise"));
    } else {
        println!("{}", ev.summary());
    }
}

/// First line of wardwatch's detection exports; lets `--detections` recover the frame
/// rate and size. Other MOT files need `--fps` and `--frame-size`.
const DET_HEADER: &str = "# wardwatch detections:";

fn export_file(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, AppError> {
    std::fs::File::create(path)
        .map(std::io::BufWriter::new)
        .map_err(|e| AppError::Usage(format!("{}: cannot create ({e})", path.display())))
}

fn write_err(path: &Option<PathBuf>, e: std::io::Error) -> AppError {
    let p = path
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    AppError::Usage(format!("{p}: write failed ({e})"))
}

/// Everything a replay does per analysed frame, whatever the frames come from.
struct ReplayRun<'a> {
    pipeline: CameraPipeline,
    dispatcher: Dispatcher,
    stats: RunStats,
    json: bool,
    mot: Option<std::io::BufWriter<std::fs::File>>,
    dets_out: Option<std::io::BufWriter<std::fs::File>>,
    args: &'a ReplayArgs,
}

impl<'a> ReplayRun<'a> {
    fn new(
        cfg: &Config,
        camera: &CameraConfig,
        builder: EventBuilder,
        evidence: Arc<Mutex<EvidenceStore>>,
        delivery: Option<&Delivery>,
        args: &'a ReplayArgs,
        export_detections: bool,
    ) -> Result<Self, AppError> {
        let dets_out = match (&args.export_detections, export_detections) {
            (Some(p), true) => Some(export_file(p)?),
            _ => None,
        };
        Ok(ReplayRun {
            pipeline: CameraPipeline::new(camera, cfg.tracker.clone()),
            dispatcher: Dispatcher::new(
                builder,
                Some(evidence),
                delivery.map(|d| d.publisher.clone()),
            ),
            stats: RunStats::default(),
            json: args.json,
            mot: args.export_mot.as_deref().map(export_file).transpose()?,
            dets_out,
            args,
        })
    }

    fn step(
        &mut self,
        frame_no: u64,
        ts: Timestamp,
        size: (u32, u32),
        dets: &[Detection],
        image: Option<&opencv::core::Mat>,
    ) -> Result<(), AppError> {
        use crate::mot::{MotRow, write_row};
        if let Some(w) = &mut self.dets_out {
            for d in dets {
                let row = MotRow {
                    frame: frame_no,
                    id: -1,
                    bbox: d.bbox,
                    score: d.score,
                    class: Some(d.class),
                };
                write_row(w, &row).map_err(|e| write_err(&self.args.export_detections, e))?;
            }
        }
        let alerts = self.pipeline.step(ts, size, dets);
        if let Some(w) = &mut self.mot {
            for t in self
                .pipeline
                .tracks()
                .iter()
                .filter(|t| t.confirmed && t.matched)
            {
                let row = MotRow {
                    frame: frame_no,
                    id: t.id as i64,
                    bbox: t.bbox,
                    score: t.score,
                    class: None,
                };
                write_row(w, &row).map_err(|e| write_err(&self.args.export_mot, e))?;
            }
        }
        self.stats.analysed += 1;
        for ev in self.dispatcher.dispatch(ts, alerts, image, &self.pipeline) {
            self.stats.events += 1;
            print_event(&ev, self.json);
        }
        Ok(())
    }

    fn finish(&mut self, ts: Timestamp) -> Result<(), AppError> {
        let alerts = self.pipeline.finish(ts, "end_of_stream");
        for ev in self.dispatcher.dispatch(ts, alerts, None, &self.pipeline) {
            self.stats.events += 1;
            print_event(&ev, self.json);
        }
        use std::io::Write;
        if let Some(w) = &mut self.mot {
            w.flush().map_err(|e| write_err(&self.args.export_mot, e))?;
        }
        if let Some(w) = &mut self.dets_out {
            w.flush()
                .map_err(|e| write_err(&self.args.export_detections, e))?;
        }
        Ok(())
    }
}

pub fn replay(args: &ReplayArgs) -> Result<(), AppError> {
    let cfg = Config::load(&args.config)?;
    let start = match &args.start {
        None => Timestamp::now(),
        Some(s) => parse_start(s)?,
    };
    let camera: &CameraConfig = match &args.camera {
        Some(id) => cfg.camera(id).ok_or_else(|| {
            let ids: Vec<&str> = cfg.cameras.iter().map(|c| c.id.as_str()).collect();
            AppError::Usage(format!(
                "--camera {id:?}: no such camera in {} (cameras: {})",
                args.config.display(),
                ids.join(", ")
            ))
        })?,
        None => &cfg.cameras[0],
    };
    if let Some(f) = args.fps
        && !(f.is_finite() && f > 0.0 && f <= 1000.0)
    {
        return Err(AppError::Usage(format!(
            "--fps {f}: use a frame rate in (0, 1000]"
        )));
    }
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
    if args.detections.is_some() && args.export_detections.is_some() {
        return Err(AppError::Usage(
            "--export-detections needs a VIDEO (with --detections the detections are the input)"
                .into(),
        ));
    }
    let evidence = Arc::new(Mutex::new(EvidenceStore::open(cfg.evidence.clone())?));
    let builder = EventBuilder {
        site: cfg.site.name.clone(),
        camera: camera.id.clone(),
        tz: cfg.site.timezone.clone(),
    };
    let mut sampler = Sampler::new(camera.detect_fps);
    let t0 = Instant::now();

    if let Some(path) = &args.detections {
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
        let frames = crate::mot::by_frame(&rows);
        let last = header
            .frames
            .unwrap_or(0)
            .max(frames.keys().next_back().copied().unwrap_or(0));
        let delivery = if args.mqtt {
            Some(Delivery::start(&cfg)?)
        } else {
            None
        };
        let mut run = ReplayRun::new(
            &cfg,
            camera,
            builder,
            evidence,
            delivery.as_ref(),
            args,
            false,
        )?;
        tracing::info!(detections = %path.display(), fps, frames = last, size = %format!("{}x{}", size.0, size.1), "replay of recorded detections");
        let time_of =
            |frame: u64| start + jiff::SignedDuration::from_secs_f64((frame - 1) as f64 / fps);
        let mut dets: Vec<Detection> = Vec::new();
        for frame_no in 1..=last {
            let ts = time_of(frame_no);
            run.stats.frames += 1;
            if !sampler.take(ts) {
                continue;
            }
            dets.clear();
            if let Some(rs) = frames.get(&frame_no) {
                dets.extend(rs.iter().map(|r| {
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
            run.step(frame_no, ts, size, &dets, None)?;
        }
        run.finish(time_of(last.max(1)))?;
        report(&run.stats, t0, None);
        if let Some(d) = delivery {
            d.finish(Duration::from_secs_f64(args.flush_timeout_s.max(0.0)));
        }
        return Ok(());
    }

    let video = args.video.as_deref().expect("checked above");
    let mut source = FileSource::open(video, start, args.fps)?;
    let mut detector = Detector::load(cfg.detector.clone())?;
    let delivery = if args.mqtt {
        Some(Delivery::start(&cfg)?)
    } else {
        None
    };
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
    let mut run = ReplayRun::new(
        &cfg,
        camera,
        builder,
        evidence,
        delivery.as_ref(),
        args,
        true,
    )?;
    if let Some(wr) = &mut run.dets_out {
        use std::io::Write;
        writeln!(
            wr,
            "{DET_HEADER} fps={} size={w}x{h} frames={} video={}",
            source.fps(),
            source.frame_count().unwrap_or(0),
            video
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        )
        .map_err(|e| write_err(&args.export_detections, e))?;
    }
    let mut frame = Frame::default();
    let mut last_ts = start;
    let mut detect_ms = 0.0;
    loop {
        match source.read(&mut frame) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                tracing::warn!(error = %e, "stopping at an unreadable frame");
                break;
            }
        }
        run.stats.frames += 1;
        last_ts = frame.ts;
        if !sampler.take(frame.ts) {
            continue;
        }
        let dets = match detector.detect(&frame.image) {
            Ok(d) => d,
            Err(e) => {
                run.stats.bad_frames += 1;
                tracing::warn!(frame = frame.index, error = %e, "frame skipped");
                continue;
            }
        };
        let size = (frame.image.cols() as u32, frame.image.rows() as u32);
        run.step(frame.index + 1, frame.ts, size, dets, Some(&frame.image))?;
        detect_ms += detector.last_times().inference.as_secs_f64() * 1e3;
    }
    if let Some(n) = source.frame_count()
        && run.stats.frames + 2 < n
    {
        tracing::warn!(
            read = run.stats.frames,
            expected = n,
            "the video ended early: truncated or corrupt file"
        );
    }
    run.finish(last_ts)?;
    report(&run.stats, t0, Some(detect_ms));
    if let Some(d) = delivery {
        d.finish(Duration::from_secs_f64(args.flush_timeout_s.max(0.0)));
    }
    Ok(())
}

fn report(stats: &RunStats, t0: Instant, detect_ms: Option<f64>) {
    let wall = t0.elapsed().as_secs_f64();
    let mut line = format!(
        "replay: {} frames, {} analysed, {} skipped, {} events, {:.1} s wall ({:.1} analysed frames/s",
        stats.frames,
        stats.analysed,
        stats.bad_frames,
        stats.events,
        wall,
        stats.analysed as f64 / wall.max(1e-9)
    );
    if let Some(ms) = detect_ms {
        line.push_str(&format!(
            ", inference {:.1} ms/frame",
            ms / (stats.analysed.max(1) as f64)
        ));
    }
    line.push(')');
    eprintln!("{line}");
}

#[derive(Default)]
struct DetHeader {
    fps: Option<f64>,
    size: Option<(u32, u32)>,
    frames: Option<u64>,
}

fn read_detections(path: &Path) -> Result<(Vec<crate::mot::MotRow>, DetHeader), AppError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AppError::Usage(format!(
            "--detections {}: cannot read ({e})",
            path.display()
        ))
    })?;
    let rows = crate::mot::parse(&text, &path.display().to_string())
        .map_err(|e| AppError::Usage(e.to_string()))?;
    let mut h = DetHeader::default();
    if let Some(line) = text.lines().next().and_then(|l| l.strip_prefix(DET_HEADER)) {
        for kv in line.split_whitespace() {
            match kv.split_once('=') {
                Some(("fps", v)) => h.fps = v.parse().ok().filter(|f: &f64| *f > 0.0),
                Some(("size", v)) => h.size = parse_size(v),
                Some(("frames", v)) => h.frames = v.parse().ok(),
                _ => {}
            }
        }
    }
    Ok((rows, h))
}

/// "768x576" → (768, 576).
pub fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X'])?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

#[derive(Default)]
struct RunStats {
    frames: u64,
    analysed: u64,
    bad_frames: u64,
    events: u64,
}

fn parse_start(s: &str) -> Result<Timestamp, AppError> {
    s.parse::<Timestamp>().map_err(|e| {
        AppError::Usage(format!(
            "--start {s:?}: not an RFC 3339 time with offset, e.g. 2026-11-26T23:10:00+07:00 ({e})"
        ))
    })
}

/// The long-running appliance: one thread per camera, a shared detector, MQTT delivery.
/// The long-running appliance: one thread per camera, a shared detector, MQTT delivery.
/// SIGHUP, or a change of the config file, reloads the config: a valid one restarts the
/// cameras with it (open incidents end with reason `config_reload`); an invalid one is
/// refused with every problem logged, and the running config stays.
pub fn run(config: &Path) -> Result<(), AppError> {
    let mut cfg = Config::load(config)?;
    let mut detector = Arc::new(Mutex::new(Detector::load(cfg.detector.clone())?));
    let evidence = Arc::new(Mutex::new(EvidenceStore::open(cfg.evidence.clone())?));
    let delivery = Delivery::start(&cfg)?;
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        delivery.rt.spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            stop.store(true, Ordering::SeqCst);
        });
    }
    #[cfg(unix)]
    {
        let reload = reload.clone();
        delivery.rt.spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut hup) = signal(SignalKind::hangup()) {
                while hup.recv().await.is_some() {
                    reload.store(true, Ordering::SeqCst);
                }
            }
        });
    }
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen_mtime = mtime(config);
    loop {
        let gen_stop = Arc::new(AtomicBool::new(false));
        let reloading = Arc::new(AtomicBool::new(false));
        let threads = start_cameras(
            &cfg,
            &detector,
            &evidence,
            &delivery.publisher,
            &gen_stop,
            &reloading,
        )?;
        tracing::info!(cameras = threads.len(), broker = %cfg.mqtt.url, config = %config.display(), "running");
        // Wait for shutdown or a reload request (SIGHUP, or the file changed).
        let new_cfg = loop {
            if stop.load(Ordering::SeqCst) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(200));
            let m = mtime(config);
            let changed = m.is_some() && m != seen_mtime;
            if !(reload.swap(false, Ordering::SeqCst) || changed) {
                continue;
            }
            seen_mtime = m;
            match Config::load(config) {
                Ok(c) => break Some(c),
                Err(e) => {
                    tracing::error!("config reload refused, the running config stays:\n{e}");
                    eprintln!("config reload refused, the running config stays:\n{e}");
                }
            }
        };
        reloading.store(new_cfg.is_some(), Ordering::SeqCst);
        gen_stop.store(true, Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        let Some(new_cfg) = new_cfg else { break };
        if new_cfg.mqtt != cfg.mqtt {
            tracing::warn!("[mqtt] changed: the new broker settings take effect after a restart");
        }
        if new_cfg.detector != cfg.detector {
            match Detector::load(new_cfg.detector.clone()) {
                Ok(d) => detector = Arc::new(Mutex::new(d)),
                Err(e) => {
                    tracing::error!(error = %e, "new [model] refused; keeping the running model")
                }
            }
        }
        tracing::info!(cameras = new_cfg.cameras.len(), "config reloaded");
        eprintln!("config reloaded: {} camera(s)", new_cfg.cameras.len());
        cfg = new_cfg;
    }
    delivery.finish(Duration::from_secs(5));
    Ok(())
}

fn start_cameras(
    cfg: &Config,
    detector: &Arc<Mutex<Detector>>,
    evidence: &Arc<Mutex<EvidenceStore>>,
    publisher: &Publisher,
    stop: &Arc<AtomicBool>,
    reloading: &Arc<AtomicBool>,
) -> Result<Vec<std::thread::JoinHandle<()>>, AppError> {
    let mut threads = Vec::new();
    for cam in cfg.cameras.iter().filter(|c| c.enabled) {
        let builder = EventBuilder {
            site: cfg.site.name.clone(),
            camera: cam.id.clone(),
            tz: cfg.site.timezone.clone(),
        };
        let dispatcher = Dispatcher::new(builder, Some(evidence.clone()), Some(publisher.clone()));
        let pipeline = CameraPipeline::new(cam, cfg.tracker.clone());
        let detector = detector.clone();
        let stop = stop.clone();
        let ctx = CameraCtx {
            cam: cam.clone(),
            site: cfg.site.name.clone(),
            tz: cfg.site.timezone.clone(),
            publisher: publisher.clone(),
            reloading: reloading.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("cam-{}", cam.id))
            .spawn(move || camera_loop(ctx, pipeline, dispatcher, detector, stop))
            .map_err(|e| AppError::Usage(format!("cannot start a camera thread: {e}")))?;
        threads.push(handle);
    }
    Ok(threads)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A camera health document (`wardwatch.camera/1`), see docs/events.md.
pub fn health_doc(
    site: &str,
    camera: &str,
    tz: &jiff::tz::TimeZone,
    c: &crate::health::HealthChange,
) -> serde_json::Value {
    serde_json::json!({
        "schema": "wardwatch.camera/1",
        "rule": "camera",
        "site": site,
        "camera": camera,
        "status": c.status,
        "reason": c.reason,
        "time_utc": c.at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "time_local": c.at.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
    })
}

struct CameraCtx {
    cam: CameraConfig,
    site: String,
    tz: jiff::tz::TimeZone,
    publisher: Publisher,
    /// Set when the camera stops for a config reload rather than a shutdown.
    reloading: Arc<AtomicBool>,
}

impl CameraCtx {
    fn health(&self, change: Option<crate::health::HealthChange>) {
        let Some(c) = change else { return };
        let doc = health_doc(&self.site, &self.cam.id, &self.tz, &c);
        println!(
            "{} CAMERA {} {:?} {}",
            c.at.to_zoned(self.tz.clone()).strftime("%Y-%m-%d %H:%M:%S"),
            self.cam.id,
            c.status,
            c.reason
        );
        match c.status {
            crate::health::Status::Online => {
                tracing::info!(camera = %self.cam.id, reason = %c.reason, "camera online")
            }
            _ => {
                tracing::warn!(camera = %self.cam.id, status = ?c.status, reason = %c.reason, "camera health")
            }
        }
        if let Err(e) = self.publisher.health(&self.cam.id, &doc) {
            tracing::error!(error = %e, "camera health could not be queued for MQTT");
        }
    }
}

/// One camera: read, sample, detect, analyse, dispatch; reconnect with backoff on failure.
fn camera_loop(
    ctx: CameraCtx,
    mut pipeline: CameraPipeline,
    mut dispatcher: Dispatcher,
    detector: Arc<Mutex<Detector>>,
    stop: Arc<AtomicBool>,
) {
    use crate::health::{FrameStats, HealthMonitor, HealthParams};
    let cam = &ctx.cam;
    let mut source = LiveSource::new(&cam.url);
    let mut sampler = Sampler::new(cam.detect_fps);
    let mut frame = Frame::default();
    let mut backoff = Duration::from_secs(1);
    let mut health = HealthMonitor::new(HealthParams::default());
    let mut stats = FrameStats::new();
    let mut dets_buf = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if !source.is_open() {
            match source.open() {
                Ok(()) => {
                    ctx.health(health.connected(Timestamp::now(), source.nominal_fps()));
                    backoff = Duration::from_secs(1);
                }
                Err(e) => {
                    ctx.health(health.disconnected(Timestamp::now(), &e.to_string()));
                    sleep_unless_stopped(backoff, &stop);
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        }
        match source.read(&mut frame) {
            Ok(true) => {}
            Ok(false) => {
                ctx.health(health.disconnected(Timestamp::now(), "stream ended or stalled"));
                continue;
            }
            Err(e) => {
                ctx.health(health.disconnected(Timestamp::now(), &e.to_string()));
                continue;
            }
        }
        if !sampler.take(frame.ts) {
            continue;
        }
        if let Ok((luma, diff)) = stats.measure(&frame.image) {
            ctx.health(health.frame(frame.ts, luma, diff));
        }
        {
            let mut det = detector.lock().unwrap_or_else(|p| p.into_inner());
            match det.detect(&frame.image) {
                Ok(d) => {
                    dets_buf.clear();
                    dets_buf.extend_from_slice(d);
                }
                Err(e) => {
                    tracing::warn!(camera = %cam.id, error = %e, "frame skipped");
                    continue;
                }
            }
        }
        let size = (frame.image.cols() as u32, frame.image.rows() as u32);
        let alerts = pipeline.step(frame.ts, size, &dets_buf);
        for ev in dispatcher.dispatch(frame.ts, alerts, Some(&frame.image), &pipeline) {
            println!("{}", ev.summary());
        }
    }
    let now = Timestamp::now();
    let reason = if ctx.reloading.load(Ordering::SeqCst) {
        "config_reload"
    } else {
        "shutdown"
    };
    let alerts = pipeline.finish(now, reason);
    for ev in dispatcher.dispatch(now, alerts, None, &pipeline) {
        println!("{}", ev.summary());
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct BenchArgs {
    pub config: PathBuf,
    pub video: Option<PathBuf>,
    /// Frames of the full pipeline to time (the clip loops if shorter).
    pub frames: usize,
    /// Bare-inference iterations.
    pub iterations: usize,
    pub json: bool,
}

/// p50 and p95 of a set of durations, in ms.
fn percentiles(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

/// `wardwatch bench`: bare inference and the full pipeline in one run, per-stage p50/p95,
/// throughput and how many cameras this box carries at the configured detection rate.
pub fn bench(args: &BenchArgs) -> Result<(), AppError> {
    let cfg = Config::load(&args.config)?;
    let camera = &cfg.cameras[0];
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
    let start = Timestamp::now();
    let mut source = FileSource::open(&video, start, None)?;
    let src_fps = source.fps();
    let mut detector = Detector::load(cfg.detector.clone())?;
    let mut pipeline = CameraPipeline::new(camera, cfg.tracker.clone());
    let mut frame = Frame::default();

    // Full pipeline: every frame of the clip (looping), each stage timed.
    let (mut read, mut pre, mut inf, mut post, mut analytics, mut total) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let full_t0 = Instant::now();
    let mut ts_offset = 0.0;
    let mut last_ts = start;
    while total.len() < args.frames {
        let t0 = Instant::now();
        if !source.read(&mut frame)? {
            // Loop the clip, keeping time monotonic.
            ts_offset += source.frames_read() as f64 / src_fps;
            source = FileSource::open(
                &video,
                start + jiff::SignedDuration::from_secs_f64(ts_offset),
                None,
            )?;
            continue;
        }
        let t1 = Instant::now();
        let dets = detector.detect(&frame.image)?.to_vec();
        let st = detector.last_times();
        let t2 = Instant::now();
        let size = (frame.image.cols() as u32, frame.image.rows() as u32);
        let ts = frame.ts.max(last_ts);
        last_ts = ts;
        std::hint::black_box(pipeline.step(ts, size, &dets));
        let t3 = Instant::now();
        read.push(ms(t1 - t0));
        pre.push(ms(st.preprocess));
        inf.push(ms(st.inference));
        post.push(ms(st.decode));
        analytics.push(ms(t3 - t2));
        total.push(ms(t3 - t0));
    }
    let full_s = full_t0.elapsed().as_secs_f64();

    // Bare inference on the last prepared tensor.
    let mut bare = Vec::with_capacity(args.iterations);
    let bare_t0 = Instant::now();
    for _ in 0..args.iterations {
        bare.push(ms(detector.infer_only()?));
    }
    let bare_s = bare_t0.elapsed().as_secs_f64();

    let e2e_fps = total.len() as f64 / full_s;
    let bare_fps = bare.len() as f64 / bare_s;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    // A live camera is decoded at its own frame rate but analysed at detect_fps.
    let per_camera_ms = mean(&read) * src_fps + (mean(&total) - mean(&read)) * camera.detect_fps;
    let cameras = (1000.0 / per_camera_ms).floor().max(0.0);
    let stages: Vec<(&str, (f64, f64))> = vec![
        ("read+decode frame", percentiles(&mut read.clone())),
        ("preprocess", percentiles(&mut pre.clone())),
        ("inference", percentiles(&mut inf.clone())),
        ("decode+NMS", percentiles(&mut post.clone())),
        ("track+rules", percentiles(&mut analytics.clone())),
        ("whole frame", percentiles(&mut total.clone())),
        ("bare inference", percentiles(&mut bare.clone())),
    ];
    let outside_inference = mean(&pre) + mean(&post) + mean(&analytics);
    if args.json {
        let stage_json: serde_json::Map<String, serde_json::Value> = stages
            .iter()
            .map(|(n, (p50, p95))| {
                (
                    n.to_string(),
                    serde_json::json!({ "p50_ms": round3(*p50), "p95_ms": round3(*p95) }),
                )
            })
            .collect();
        let doc = serde_json::json!({
            "schema": "wardwatch.bench/1",
            "model": cfg.detector.model_path.display().to_string(),
            "family": cfg.detector.family.name(),
            "execution_provider": detector.provider(),
            "onnxruntime": detector.runtime_version(),
            "threads": cfg.detector.intra_threads,
            "intra_op_spinning": cfg.detector.intra_spinning,
            "video": video.display().to_string(),
            "video_fps": src_fps,
            "frames": total.len(),
            "stages": stage_json,
            "end_to_end_fps": round3(e2e_fps),
            "bare_inference_fps": round3(bare_fps),
            "end_to_end_over_bare": round3(e2e_fps / bare_fps),
            "outside_inference_ms": round3(outside_inference),
            "outside_inference_pct_of_inference": round3(100.0 * outside_inference / mean(&inf).max(1e-9)),
            "detect_fps": camera.detect_fps,
            "per_camera_ms_per_s": round3(per_camera_ms),
            "cameras": cameras,
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    } else {
        println!(
            "wardwatch bench: {} ({}), provider {}, ONNX Runtime {}, {} thread(s), spinning {}",
            cfg.detector.model_path.display(),
            cfg.detector.family.name(),
            detector.provider(),
            detector.runtime_version(),
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

/// `wardwatch zones`: draw a camera's zones on a real frame from it, so the integrator
/// sees what the polygons cover before anything is deployed.
pub fn draw_zones(
    config: &Path,
    camera: Option<&str>,
    source: Option<&Path>,
    out: &Path,
) -> Result<(), AppError> {
    use opencv::core::{Point, Scalar, Vector};
    use opencv::{imgcodecs, imgproc};
    let cfg = Config::load(config)?;
    let cam = match camera {
        Some(id) => cfg.camera(id).ok_or_else(|| {
            AppError::Usage(format!(
                "--camera {id:?}: no such camera in {}",
                config.display()
            ))
        })?,
        None => &cfg.cameras[0],
    };
    let mut frame = Frame::default();
    let url = source
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| cam.url.clone());
    let mut live = LiveSource::new(&url);
    live.open()?;
    // Skip a few frames: some cameras send grey or partial frames first.
    let mut got = false;
    for _ in 0..5 {
        if live.read(&mut frame)? {
            got = true;
        }
    }
    if !got {
        return Err(AppError::Source(SourceError::Read {
            path: crate::source::redact(&url),
            frame: 0,
            reason: "no frame could be read".into(),
        }));
    }
    let img = &mut frame.image;
    let (w, h) = (img.cols() as u32, img.rows() as u32);
    let colors = [
        Scalar::new(0.0, 220.0, 255.0, 0.0),
        Scalar::new(255.0, 120.0, 0.0, 0.0),
        Scalar::new(80.0, 200.0, 80.0, 0.0),
        Scalar::new(200.0, 80.0, 255.0, 0.0),
    ];
    let draw = |img: &mut opencv::core::Mat| -> opencv::Result<()> {
        for (i, z) in cam.zones.iter().enumerate() {
            let color = colors[i % colors.len()];
            let pts: Vector<Point> = z
                .polygon
                .to_pixels(w, h)
                .into_iter()
                .map(|(x, y)| Point::new(x, y))
                .collect();
            let first = pts.get(0)?;
            imgproc::polylines(
                img,
                &Vector::<Vector<Point>>::from_iter([pts]),
                true,
                color,
                2,
                imgproc::LINE_AA,
                0,
            )?;
            let rules: Vec<&str> = [
                z.gathering.is_some().then_some("gathering"),
                z.weaving.is_some().then_some("weaving"),
            ]
            .into_iter()
            .flatten()
            .collect();
            let label = format!(
                "{} [{}] {}",
                z.id,
                rules.join(","),
                z.schedule_text.join(" | ")
            );
            let org = Point::new(
                first.x.clamp(4, w as i32 - 200),
                (first.y - 6).clamp(14, h as i32 - 4),
            );
            crate::evidence::label(img, &label, org, color, 0.5)?;
        }
        let header = format!("{} | {} zone(s) | {}x{}", cam.id, cam.zones.len(), w, h);
        crate::evidence::label(img, &header, Point::new(6, 18), Scalar::all(255.0), 0.55)
    };
    draw(img).map_err(|e| AppError::Usage(format!("drawing failed: {e}")))?;
    let ok = imgcodecs::imwrite(out.display().to_string().as_str(), img, &Vector::new())
        .map_err(|e| AppError::Usage(format!("{}: cannot write ({e})", out.display())))?;
    if !ok {
        return Err(AppError::Usage(format!(
            "{}: cannot write (use a .jpg or .png name in a writable directory)",
            out.display()
        )));
    }
    println!(
        "{}: {} zone(s) of camera {} drawn on a {w}x{h} frame from {}",
        out.display(),
        cam.zones.len(),
        cam.id,
        crate::source::redact(&url)
    );
    Ok(())
}
