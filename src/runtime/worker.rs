//! The detector worker: one thread owns the detector (no mutex) and every camera's
//! analytics. It serves the cameras' fresh frames round-robin, so a busy camera cannot
//! starve the others, runs detection and analytics on each, and hands reports with
//! incidents (and the frame, for evidence) to the publish worker. The loop takes one
//! frame at a time; batching would take several due slots per turn.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::analytics::{AnalyticsSettings, CameraAnalytics};
use crate::clock::Clock;
use crate::detect::Detector;
use crate::media::capture::{Doorbell, FrameSlot, Taken};
use crate::media::source::Frame;
use crate::runtime::publisher::PublishMsg;
use crate::types::{Detections, FrameMeta, FrameReport, Phase};

/// Sees every analysed frame (replay exports).
pub trait FrameTap: Send {
    fn frame(&mut self, dets: &Detections, report: &FrameReport);
}

/// Commands to the worker.
pub enum WorkerCmd {
    /// Serve a camera's slot with this analytics.
    Add {
        camera: String,
        slot: Arc<FrameSlot>,
        analytics: Box<CameraAnalytics>,
    },
    /// End the camera's incidents with `reason` and stop serving it.
    Remove { camera: String, reason: String },
    /// New analytics settings: unchanged zones carry on, changed ones end with `reason`.
    Reconfigure {
        camera: String,
        settings: AnalyticsSettings,
        reason: String,
    },
    /// Use this detector from now on.
    Detector(Box<Detector>),
    /// End every camera's incidents with `reason` and return.
    Stop { reason: String },
}

/// Per-camera figures since the last [`WorkerStats::take`].
#[derive(Debug, Clone, Default)]
pub struct CameraFigures {
    pub analysed: u64,
    pub bad_frames: u64,
    /// Age of each analysed frame when its analysis finished (grab → report), ms.
    pub ages_ms: Vec<f64>,
}

/// Stage times of every analysed frame, ms (kept when `keep_times`; for the bench).
#[derive(Debug, Clone, Default)]
pub struct StageSamples {
    pub preprocess: Vec<f64>,
    pub inference: Vec<f64>,
    pub decode: Vec<f64>,
    pub analytics: Vec<f64>,
    pub frame: Vec<f64>,
}

#[derive(Default)]
pub struct WorkerStats {
    pub cameras: std::collections::BTreeMap<String, CameraFigures>,
    pub totals: CameraFigures,
    pub stages: StageSamples,
    pub keep_times: bool,
}

impl WorkerStats {
    /// The per-camera figures gathered since the last call (and resets them).
    pub fn take(&mut self) -> std::collections::BTreeMap<String, CameraFigures> {
        std::mem::take(&mut self.cameras)
    }
}

struct Entry {
    camera: String,
    slot: Arc<FrameSlot>,
    analytics: Box<CameraAnalytics>,
    last_ts: Option<Timestamp>,
}

pub struct WorkerOptions {
    /// Return once every camera added so far has closed (replays, bench). The worker
    /// never returns before its first camera arrives: the command may still be on its
    /// way when the thread starts.
    pub exit_when_idle: bool,
    /// Stop after this many analysed frames (bench).
    pub max_frames: Option<u64>,
}

/// Run the worker until `Stop`, or until idle when `exit_when_idle`. Returns the
/// detector (the bench times bare inference with it afterwards). Slots still served when
/// it returns are abandoned, so their captures stop rather than wait for a taker.
#[allow(clippy::too_many_arguments)]
pub fn run(
    detector: Detector,
    doorbell: Arc<Doorbell>,
    cmds: Receiver<WorkerCmd>,
    out: SyncSender<PublishMsg>,
    stats: Arc<Mutex<WorkerStats>>,
    tap: Option<Box<dyn FrameTap>>,
    clock: Arc<dyn Clock>,
    opts: WorkerOptions,
) -> Detector {
    let mut cams: Vec<Entry> = Vec::new();
    let detector = serve(
        detector, &mut cams, doorbell, cmds, out, stats, tap, clock, opts,
    );
    for e in &cams {
        e.slot.abandon();
    }
    detector
}

#[allow(clippy::too_many_arguments)]
fn serve(
    mut detector: Detector,
    cams: &mut Vec<Entry>,
    doorbell: Arc<Doorbell>,
    cmds: Receiver<WorkerCmd>,
    out: SyncSender<PublishMsg>,
    stats: Arc<Mutex<WorkerStats>>,
    mut tap: Option<Box<dyn FrameTap>>,
    clock: Arc<dyn Clock>,
    opts: WorkerOptions,
) -> Detector {
    let mut had_camera = false;
    let mut next = 0usize;
    let mut buf = Frame::default();
    let mut dets = Detections::default();
    let mut served_total = 0u64;
    let send = |msg: PublishMsg| {
        // The publish worker only stops after us; a send error means it died.
        if out.send(msg).is_err() {
            tracing::error!("the publish worker is gone; events of this frame are lost");
        }
    };
    let finish = |e: &mut Entry, ts: Timestamp, reason: &str| {
        let incidents = e.analytics.finish(ts, reason);
        if !incidents.is_empty() {
            let report = FrameReport {
                meta: FrameMeta {
                    camera: e.camera.clone(),
                    ts,
                    ..FrameMeta::default()
                },
                tracks: e.analytics.tracks().to_vec(),
                zone_counts: e.analytics.zone_counts(),
                incidents,
            };
            send(PublishMsg::Report {
                report,
                image: None,
            });
        }
    };
    loop {
        // Commands first: they are rare and must not wait behind frames.
        while let Ok(cmd) = cmds.try_recv() {
            match cmd {
                WorkerCmd::Add {
                    camera,
                    slot,
                    analytics,
                } => {
                    had_camera = true;
                    cams.retain(|e| e.camera != camera);
                    cams.push(Entry {
                        camera,
                        slot,
                        analytics,
                        last_ts: None,
                    });
                }
                WorkerCmd::Remove { camera, reason } => {
                    if let Some(i) = cams.iter().position(|e| e.camera == camera) {
                        let mut e = cams.remove(i);
                        finish(&mut e, clock.now(), &reason);
                    }
                }
                WorkerCmd::Reconfigure {
                    camera,
                    settings,
                    reason,
                } => {
                    if let Some(e) = cams.iter_mut().find(|e| e.camera == camera) {
                        let ts = e.last_ts.unwrap_or_else(|| clock.now());
                        let incidents = e.analytics.reconfigure(settings, ts, &reason);
                        if !incidents.is_empty() {
                            send(PublishMsg::Report {
                                report: FrameReport {
                                    meta: FrameMeta {
                                        camera: camera.clone(),
                                        ts,
                                        ..FrameMeta::default()
                                    },
                                    tracks: e.analytics.tracks().to_vec(),
                                    zone_counts: e.analytics.zone_counts(),
                                    incidents,
                                },
                                image: None,
                            });
                        }
                    }
                }
                WorkerCmd::Detector(d) => detector = *d,
                WorkerCmd::Stop { reason } => {
                    let now = clock.now();
                    for e in cams.iter_mut() {
                        finish(e, now, &reason);
                    }
                    return detector;
                }
            }
        }
        let seen = doorbell.count();
        let mut served = false;
        let n = cams.len();
        for k in 0..n {
            let i = (next + k) % n;
            match cams[i].slot.take(&mut buf) {
                Taken::Empty => continue,
                Taken::Closed => {
                    let mut e = cams.remove(i);
                    let ts = e
                        .slot
                        .last_ts()
                        .or(e.last_ts)
                        .unwrap_or_else(|| clock.now());
                    finish(&mut e, ts, crate::analytics::debounce::END_OF_STREAM);
                    served = true;
                    break;
                }
                Taken::Frame { age } => {
                    let e = &mut cams[i];
                    next = i + 1;
                    served = true;
                    let t0 = Instant::now();
                    let found = match detector.detect(&buf.image) {
                        Ok(d) => d,
                        Err(err) => {
                            tracing::warn!(camera = %e.camera, frame = buf.meta.index, error = %err, "frame skipped");
                            let mut st = stats.lock().unwrap_or_else(|p| p.into_inner());
                            st.cameras.entry(e.camera.clone()).or_default().bad_frames += 1;
                            st.totals.bad_frames += 1;
                            break;
                        }
                    };
                    dets.items.clear();
                    dets.items.extend_from_slice(found);
                    let times = detector.last_times();
                    dets.meta.clone_from(&buf.meta);
                    let t1 = Instant::now();
                    let report = e.analytics.step(&dets);
                    let t2 = Instant::now();
                    e.last_ts = Some(buf.meta.ts);
                    if let Some(tap) = tap.as_mut() {
                        tap.frame(&dets, &report);
                    }
                    let age_ms = (age + t2.duration_since(t0)).as_secs_f64() * 1e3;
                    {
                        let mut st = stats.lock().unwrap_or_else(|p| p.into_inner());
                        let f = st.cameras.entry(e.camera.clone()).or_default();
                        f.analysed += 1;
                        push_capped(&mut f.ages_ms, age_ms);
                        st.totals.analysed += 1;
                        if st.keep_times {
                            let ms = |d: Duration| d.as_secs_f64() * 1e3;
                            st.stages.preprocess.push(ms(times.preprocess));
                            st.stages.inference.push(ms(times.inference));
                            st.stages.decode.push(ms(times.decode));
                            st.stages.analytics.push(ms(t2 - t1));
                            st.stages.frame.push(ms(t2 - t0));
                        }
                    }
                    if !report.incidents.is_empty() {
                        let needs_image = report
                            .incidents
                            .iter()
                            .any(|i| matches!(i.phase, Phase::Start | Phase::Update));
                        let image = needs_image.then(|| buf.image.clone());
                        send(PublishMsg::Report { report, image });
                    }
                    served_total += 1;
                    break;
                }
            }
        }
        if opts.max_frames.is_some_and(|m| served_total >= m) {
            return detector;
        }
        if cams.is_empty() && had_camera && opts.exit_when_idle {
            return detector;
        }
        if !served {
            doorbell.wait_past(seen, Duration::from_millis(100));
        }
    }
}

/// Keep at most the last 10 000 samples (the control loop takes them every interval).
fn push_capped(v: &mut Vec<f64>, x: f64) {
    if v.len() >= 10_000 {
        v.drain(..5_000);
    }
    v.push(x);
}

/// p50 and p95 of `v` (sorted in place); (0, 0) when empty.
pub fn percentiles(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}
