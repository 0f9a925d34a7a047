//! Load trials for `wardwatch bench --cameras`: N live-like cameras (one clip, looped,
//! paced at its own frame rate, each camera starting at a different point of it) through
//! the production chain (capture threads, frame preparation, motion gating, the one
//! detector worker), and whether the box keeps up at the configured detection rate.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::analytics::CameraAnalytics;
use crate::clock::{Clock, SystemClock};
use crate::config::{CameraConfig, Config};
use crate::detect::Detector;
use crate::media::capture::{Capture, Delivery, FrameSlot};
use crate::media::source::LiveSource;
use crate::publish::dispatch::Dispatcher;
use crate::runtime::publisher::{Console, PublishMsg, PublishWorker};
use crate::runtime::worker::{WorkerCmd, WorkerOptions, WorkerStats, percentiles};
use crate::runtime::{Chain, spawn_capture};

/// One trial's set-up.
#[derive(Debug, Clone)]
pub struct Trial {
    pub cameras: usize,
    pub gating: bool,
    /// Frames of the clip (to spread the cameras' starting points over it).
    pub clip_frames: u64,
    pub warmup: Duration,
    pub measure: Duration,
}

pub use crate::publish::document::TrialDoc as TrialResult;

/// CPU seconds (user + system) per thread kind of this process, from /proc.
fn thread_cpu() -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    // Linux reports in clock ticks; USER_HZ is 100 on every Linux architecture we run on.
    let tick = 100.0;
    for t in dir.flatten() {
        let p = t.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let name = name.trim();
        let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (Some(u), Some(s)) = (f.get(11), f.get(12)) else {
            continue;
        };
        let secs = (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / tick;
        let kind = if name.starts_with("cam-") {
            "capture"
        } else if name == "detect" {
            "detect"
        } else if name == "wardwatch" {
            // ONNX Runtime's pool threads carry the name of the thread that loaded the
            // model (the main thread, which only sleeps during a trial).
            "inference pool"
        } else {
            "other"
        };
        *out.entry(kind.to_string()).or_insert(0.0) += secs;
    }
    out
}

/// The bench's console: events and health are counted by the worker, not printed.
pub struct Silent;
impl Console for Silent {
    fn event(&mut self, _: &crate::publish::document::Event) {}
    fn health(&mut self, _: &crate::publish::document::HealthDoc) {}
}

/// A chain for the bench: no evidence, no MQTT, a silent console.
pub fn bench_chain(
    detector: Detector,
    cfg: &Config,
    clock: Arc<dyn Clock>,
    opts: WorkerOptions,
    keep_times: bool,
) -> Result<Chain, String> {
    let publish = PublishWorker {
        site: cfg.site.id.clone(),
        tz: cfg.site.timezone.clone(),
        language: cfg.site.language,
        evidence: None,
        publisher: None,
        console: Box::new(Silent),
        clock: clock.clone(),
        metrics: None,
        hub: None,
    };
    Chain::start(detector, publish, None, clock, opts, keep_times)
        .map_err(|e| format!("cannot start the worker threads: {e}"))
}

/// Resident memory of this process, kB (0 where /proc is not there).
pub fn rss_kb() -> u64 {
    status_kb("VmRSS:")
}

/// Private (anonymous) resident memory, kB: the RSS without the shared library pages.
pub fn rss_anon_kb() -> u64 {
    status_kb("RssAnon:")
}

fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Run one trial; gives the detector back for the next.
pub fn run_trial(
    detector: Detector,
    cfg: &Config,
    cam: &CameraConfig,
    video: &Path,
    t: &Trial,
) -> Result<(Detector, TrialResult), String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut chain = bench_chain(
        detector,
        cfg,
        clock.clone(),
        WorkerOptions {
            exit_when_idle: false,
            max_frames: None,
            batch: cfg.detector.batch,
            ..WorkerOptions::default()
        },
        false,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut slots = Vec::new();
    let mut threads = Vec::new();
    for k in 0..t.cameras {
        let mut c = cam.clone();
        c.id = format!("{}-{k}", cam.id);
        c.motion.enabled = t.gating;
        let _ = chain
            .publish_tx
            .send(PublishMsg::Camera(Box::new(Dispatcher::new(
                cfg.event_builder(&c),
                cfg.zone_outlines(&c),
                None,
            ))));
        let slot = FrameSlot::new(chain.doorbell.clone());
        let _ = chain.worker_tx.send(WorkerCmd::Add {
            camera: c.id.clone(),
            slot: slot.clone(),
            analytics: Box::new(CameraAnalytics::new(cfg.analytics(&c))),
            gate: cfg.motion_gate(&c),
        });
        let capture = Arc::new(Capture::new(
            cfg.capture(&c, Delivery::Latest),
            slot.clone(),
        ));
        let start = t.clip_frames * k as u64 / t.cameras.max(1) as u64;
        let source = LiveSource::with_clock(&video.display().to_string(), clock.clone(), 10.0)
            .with_start_frame(start)
            .with_hw_decode(c.hw_decode);
        let th = spawn_capture(
            capture,
            Box::new(source),
            stop.clone(),
            None,
            clock.clone(),
            Some(Box::new(cfg.frame_prep(&c, &chain.preprocessor))),
        )
        .map_err(|e| format!("cannot start a capture thread: {e}"))?;
        slots.push(slot);
        threads.push(th);
    }
    std::thread::sleep(t.warmup);
    let counts = |slots: &[Arc<FrameSlot>]| {
        slots.iter().fold((0u64, 0u64), |(d, x), s| {
            (
                d + s.counters.due.load(Ordering::Relaxed),
                x + s.counters.dropped.load(Ordering::Relaxed),
            )
        })
    };
    let take = |stats: &Arc<Mutex<WorkerStats>>| {
        let mut st = stats.lock().unwrap_or_else(|p| p.into_inner());
        st.totals = Default::default();
        st.take()
    };
    let _ = take(&chain.stats);
    let (due0, drop0) = counts(&slots);
    let cpu0 = thread_cpu();
    let t0 = Instant::now();
    std::thread::sleep(t.measure);
    let window = t0.elapsed().as_secs_f64();
    let cpu1 = thread_cpu();
    let (due1, drop1) = counts(&slots);
    let rss = rss_kb();
    let rss_anon = rss_anon_kb();
    let figures = take(&chain.stats);
    stop.store(true, Ordering::SeqCst);
    let _ = chain.worker_tx.send(WorkerCmd::Stop {
        reason: "bench".into(),
    });
    let detector = chain
        .join_worker()
        .ok_or_else(|| "the detector worker failed".to_string())?;
    for th in threads {
        let _ = th.join();
    }
    chain.finish();

    let period_ms = 1000.0 / cam.detect_fps;
    let mut ages: Vec<f64> = figures.values().flat_map(|f| f.ages_ms.clone()).collect();
    let analysed: u64 = figures.values().map(|f| f.analysed).sum();
    let inferred: u64 = figures.values().map(|f| f.inferred).sum();
    let skipped: u64 = figures.values().map(|f| f.skipped).sum();
    let on_time_n = ages.iter().filter(|a| **a <= period_ms).count() as f64;
    let due = due1.saturating_sub(due0);
    let (p50, p95) = percentiles(&mut ages);
    let on_time = if due == 0 {
        0.0
    } else {
        (on_time_n / due as f64).min(1.0)
    };
    Ok((
        detector,
        TrialResult {
            cameras: t.cameras,
            gating: t.gating,
            detect_fps: cam.detect_fps,
            due,
            analysed,
            inferred,
            dropped: drop1.saturating_sub(drop0),
            on_time,
            age_p50_ms: p50,
            age_p95_ms: p95,
            analysed_fps_per_camera: analysed as f64 / window / t.cameras.max(1) as f64,
            skipped_share: if analysed == 0 {
                0.0
            } else {
                skipped as f64 / analysed as f64
            },
            rss_kb: rss,
            rss_anon_kb: rss_anon,
            keeps_up: due > 0 && on_time >= 0.95 && p95 <= period_ms,
            cpu_cores: cpu1
                .iter()
                .map(|(k, v)| {
                    let d = v - cpu0.get(k).copied().unwrap_or(0.0);
                    (k.clone(), (d / window * 100.0).round() / 100.0)
                })
                .collect(),
        },
    ))
}
