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
    pub video: PathBuf,
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
    let mut source = FileSource::open(&args.video, start, args.fps)?;
    let mut detector = Detector::load(cfg.detector.clone())?;
    let evidence = Arc::new(Mutex::new(EvidenceStore::open(cfg.evidence.clone())?));
    let delivery = if args.mqtt {
        Some(Delivery::start(&cfg)?)
    } else {
        None
    };
    let (w, h) = source.frame_size();
    tracing::info!(
        video = %args.video.display(),
        camera = %camera.id,
        fps = source.fps(),
        frames = source.frame_count().unwrap_or(0),
        size = %format!("{w}x{h}"),
        start = %start.to_zoned(cfg.site.timezone.clone()),
        detect_fps = camera.detect_fps,
        mqtt = %if args.mqtt { cfg.mqtt.url.as_str() } else { "off" },
        "replay"
    );

    let builder = EventBuilder {
        site: cfg.site.name.clone(),
        camera: camera.id.clone(),
        tz: cfg.site.timezone.clone(),
    };
    let mut dispatcher = Dispatcher::new(
        builder,
        Some(evidence),
        delivery.as_ref().map(|d| d.publisher.clone()),
    );
    let mut pipeline = CameraPipeline::new(camera, cfg.tracker.clone());
    let mut sampler = Sampler::new(camera.detect_fps);
    let mut frame = Frame::default();
    let mut stats = RunStats::default();
    let t0 = Instant::now();
    let mut last_ts = start;
    loop {
        match source.read(&mut frame) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                tracing::warn!(error = %e, "stopping at an unreadable frame");
                break;
            }
        }
        stats.frames += 1;
        last_ts = frame.ts;
        if !sampler.take(frame.ts) {
            continue;
        }
        let dets = match detector.detect(&frame.image) {
            Ok(d) => d,
            Err(e) => {
                stats.bad_frames += 1;
                tracing::warn!(frame = frame.index, error = %e, "frame skipped");
                continue;
            }
        };
        let size = (frame.image.cols() as u32, frame.image.rows() as u32);
        let alerts = pipeline.step(frame.ts, size, dets);
        stats.analysed += 1;
        stats.detect_ms += detector.last_times().inference.as_secs_f64() * 1e3;
        for ev in dispatcher.dispatch(frame.ts, alerts, Some(&frame.image), &pipeline) {
            stats.events += 1;
            print_event(&ev, args.json);
        }
    }
    if let Some(n) = source.frame_count()
        && stats.frames + 2 < n
    {
        tracing::warn!(
            read = stats.frames,
            expected = n,
            "the video ended early: truncated or corrupt file"
        );
    }
    let alerts = pipeline.finish(last_ts, "end_of_stream");
    for ev in dispatcher.dispatch(last_ts, alerts, None, &pipeline) {
        stats.events += 1;
        print_event(&ev, args.json);
    }
    let wall = t0.elapsed().as_secs_f64();
    eprintln!(
        "replay: {} frames read, {} analysed, {} skipped, {} events, {:.1} s wall ({:.1} analysed frames/s, inference {:.1} ms/frame)",
        stats.frames,
        stats.analysed,
        stats.bad_frames,
        stats.events,
        wall,
        stats.analysed as f64 / wall.max(1e-9),
        stats.detect_ms / (stats.analysed.max(1) as f64)
    );
    if let Some(d) = delivery {
        d.finish(Duration::from_secs_f64(args.flush_timeout_s.max(0.0)));
    }
    Ok(())
}

#[derive(Default)]
struct RunStats {
    frames: u64,
    analysed: u64,
    bad_frames: u64,
    events: u64,
    detect_ms: f64,
}

fn parse_start(s: &str) -> Result<Timestamp, AppError> {
    s.parse::<Timestamp>().map_err(|e| {
        AppError::Usage(format!(
            "--start {s:?}: not an RFC 3339 time with offset, e.g. 2026-11-26T23:10:00+07:00 ({e})"
        ))
    })
}

/// The long-running appliance: one thread per camera, a shared detector, MQTT delivery.
pub fn run(config: &Path) -> Result<(), AppError> {
    let cfg = Config::load(config)?;
    let detector = Arc::new(Mutex::new(Detector::load(cfg.detector.clone())?));
    let evidence = Arc::new(Mutex::new(EvidenceStore::open(cfg.evidence.clone())?));
    let delivery = Delivery::start(&cfg)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        delivery.rt.spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            stop.store(true, Ordering::SeqCst);
        });
    }
    let mut threads = Vec::new();
    for cam in cfg.cameras.iter().filter(|c| c.enabled) {
        let cam = cam.clone();
        let builder = EventBuilder {
            site: cfg.site.name.clone(),
            camera: cam.id.clone(),
            tz: cfg.site.timezone.clone(),
        };
        let dispatcher = Dispatcher::new(
            builder,
            Some(evidence.clone()),
            Some(delivery.publisher.clone()),
        );
        let pipeline = CameraPipeline::new(&cam, cfg.tracker.clone());
        let detector = detector.clone();
        let stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("cam-{}", cam.id))
            .spawn(move || camera_loop(cam, pipeline, dispatcher, detector, stop))
            .map_err(|e| AppError::Usage(format!("cannot start a camera thread: {e}")))?;
        threads.push(handle);
    }
    tracing::info!(cameras = threads.len(), broker = %cfg.mqtt.url, "running");
    for t in threads {
        let _ = t.join();
    }
    delivery.finish(Duration::from_secs(5));
    Ok(())
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

/// One camera: read, sample, detect, analyse, dispatch; reconnect with backoff on failure.
fn camera_loop(
    cam: CameraConfig,
    mut pipeline: CameraPipeline,
    mut dispatcher: Dispatcher,
    detector: Arc<Mutex<Detector>>,
    stop: Arc<AtomicBool>,
) {
    let mut source = LiveSource::new(&cam.url);
    let mut sampler = Sampler::new(cam.detect_fps);
    let mut frame = Frame::default();
    let mut backoff = Duration::from_secs(1);
    let mut online = false;
    let mut dets_buf = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if !source.is_open() {
            match source.open() {
                Ok(()) => {
                    tracing::info!(camera = %cam.id, "camera online");
                    online = true;
                    backoff = Duration::from_secs(1);
                }
                Err(e) => {
                    if online || backoff == Duration::from_secs(1) {
                        tracing::warn!(camera = %cam.id, error = %e, "camera offline; retrying with backoff");
                    }
                    online = false;
                    sleep_unless_stopped(backoff, &stop);
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        }
        match source.read(&mut frame) {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                tracing::warn!(camera = %cam.id, "stream ended or stalled; reconnecting");
                online = false;
                continue;
            }
        }
        if !sampler.take(frame.ts) {
            continue;
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
    let alerts = pipeline.finish(now, "shutdown");
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
