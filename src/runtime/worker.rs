//! The detector worker: one thread owns the detector (no mutex) and every camera's
//! analytics. It serves the cameras' fresh frames round-robin, so a busy camera cannot
//! starve the others, runs detection and analytics on each, and hands reports with
//! incidents (and the frame, for evidence) to the publish worker.
//!
//! Per turn it takes the fresh frames of up to `batch` cameras. A camera with motion
//! gating skips inference on a frame where nothing moved in or near its zones (its last
//! detections stand for it, so tracks and timers carry on), but is inferred at least every
//! `max_skip` seconds. The frames left are inferred together in one batched run when the
//! model takes a batch, else one by one. The capture threads have already prepared each
//! frame's model input and motion copy while the previous inference ran.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::analytics::explain::Explanation;
use crate::analytics::{AnalyticsSettings, CameraAnalytics};
use crate::clock::Clock;
use crate::detect::Detector;
use crate::media::capture::{Doorbell, FrameSlot, Taken};
use crate::media::motion::MotionGate;
use crate::media::source::Frame;
use crate::runtime::metrics::Metrics;
use crate::runtime::publisher::PublishMsg;
use crate::types::{Detection, Detections, FrameMeta, FrameReport, Phase, ZoneCount};

/// Sees every analysed frame (replay exports and tuning aids).
pub trait FrameTap: Send {
    fn frame(&mut self, seen: &Tapped<'_>);
}

/// One analysed frame as a [`FrameTap`] sees it.
pub struct Tapped<'a> {
    /// The decoded frame (`None` in replays of recorded detections).
    pub image: Option<&'a opencv::core::Mat>,
    pub dets: &'a Detections,
    pub report: &'a FrameReport,
    /// What the analytics saw, when the camera's analytics explains
    /// ([`CameraAnalytics::set_explain`]).
    pub explanation: Option<&'a Explanation>,
}

/// Commands to the worker.
pub enum WorkerCmd {
    /// Serve a camera's slot with this analytics.
    Add {
        camera: String,
        slot: Arc<FrameSlot>,
        analytics: Box<CameraAnalytics>,
        /// Motion gating; `None`: every due frame is inferred.
        gate: Option<Box<MotionGate>>,
    },
    /// New motion gating for a camera (its zones or motion settings changed).
    Gate {
        camera: String,
        gate: Option<Box<MotionGate>>,
    },
    /// End the camera's incidents with `reason` and stop serving it.
    Remove { camera: String, reason: String },
    /// New analytics settings: unchanged zones carry on, changed ones end with `reason`.
    Reconfigure {
        camera: String,
        settings: Box<AnalyticsSettings>,
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
    /// Analysed frames that went through inference.
    pub inferred: u64,
    /// Analysed frames whose inference motion gating skipped.
    pub skipped: u64,
    pub bad_frames: u64,
    /// Age of each analysed frame when its analysis finished (grab → report), ms.
    pub ages_ms: Vec<f64>,
}

/// Stage times of every analysed frame, ms (kept when `keep_times`; for the bench).
#[derive(Debug, Clone, Default)]
pub struct StageSamples {
    /// Size of the batch each inferred frame was part of.
    pub batch: Vec<f64>,
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
    gate: Option<Box<MotionGate>>,
    /// Frame time of the last inference.
    last_inferred: Option<Timestamp>,
    /// Detections of the last inference (they stand for frames gating skips).
    items: Vec<Detection>,
    /// This camera's frame buffer (swapped with its slot's).
    buf: Frame,
    /// Age of `buf` when taken.
    age: Duration,
    /// This turn: skip inference / inference failed.
    skip: bool,
    failed: bool,
    /// When the last preview frame went to the publish worker.
    last_preview: Option<Instant>,
    /// People per zone as last published on the state topic, and the frame time then.
    sent_counts: Vec<ZoneCount>,
    sent_counts_ts: Option<Timestamp>,
}

impl Entry {
    fn new(
        camera: String,
        slot: Arc<FrameSlot>,
        analytics: Box<CameraAnalytics>,
        gate: Option<Box<MotionGate>>,
    ) -> Self {
        Self {
            camera,
            slot,
            analytics,
            last_ts: None,
            gate,
            last_inferred: None,
            items: Vec::new(),
            buf: Frame::default(),
            age: Duration::ZERO,
            skip: false,
            failed: false,
            last_preview: None,
            sent_counts: Vec::new(),
            sent_counts_ts: None,
        }
    }

    /// Whether the people counts of `report` should go out on the state topic now: they
    /// differ from what was last published and `every` (frame time) has passed since.
    /// A report with incidents publishes the state anyway and only records the counts.
    fn counts_due(&mut self, report: &FrameReport, every: Duration) -> bool {
        if report.zone_counts == self.sent_counts {
            return false;
        }
        let ts = report.meta.ts;
        let due = self
            .sent_counts_ts
            .is_none_or(|t| ts.duration_since(t).as_secs_f64() >= every.as_secs_f64());
        if due || !report.incidents.is_empty() {
            self.sent_counts.clone_from(&report.zone_counts);
            self.sent_counts_ts = Some(ts);
        }
        due && report.incidents.is_empty()
    }

    /// Whether motion gating lets this frame skip inference.
    fn gate_skips(&mut self) -> bool {
        use opencv::prelude::*;
        let Some(g) = self.gate.as_mut() else {
            return false;
        };
        let ts = self.buf.meta.ts;
        let overdue = self.last_inferred.is_none_or(|t| {
            ts.duration_since(t).as_secs_f64() >= g.settings().max_skip_s || ts < t
        });
        let grey = &self.buf.prepared.grey;
        let Ok(bytes) = grey.data_bytes() else {
            return false;
        };
        if grey.empty() {
            return false;
        }
        let m = g.measure(bytes, grey.cols() as usize, grey.rows() as usize);
        !(m.moving || overdue)
    }

    /// The frame was inferred: its motion copy becomes the reference.
    fn inferred(&mut self) {
        use opencv::prelude::*;
        self.last_inferred = Some(self.buf.meta.ts);
        if let Some(g) = self.gate.as_mut() {
            let grey = &self.buf.prepared.grey;
            match grey.data_bytes() {
                Ok(b) if !grey.empty() => {
                    g.set_reference(b, grey.cols() as usize, grey.rows() as usize)
                }
                _ => g.reset(),
            }
        }
    }
}

pub struct WorkerOptions {
    /// Return once every camera added so far has closed (replays, bench). The worker
    /// never returns before its first camera arrives: the command may still be on its
    /// way when the thread starts.
    pub exit_when_idle: bool,
    /// Stop after this many analysed frames (bench).
    pub max_frames: Option<u64>,
    /// Most frames (of different cameras) inferred in one run; 1: no batching.
    pub batch: usize,
    /// Live figures for `/metrics`.
    pub metrics: Option<Arc<Metrics>>,
    /// Send each camera's analysed frame to the publish worker this often (the web
    /// console's preview); `None`: never.
    pub preview_every: Option<Duration>,
    /// Publish a camera's state document when its people counts change, at most this
    /// often in frame time (`run`: 1 s); `None`: only with events (replays, bench).
    pub state_every: Option<Duration>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            exit_when_idle: false,
            max_frames: None,
            batch: 1,
            metrics: None,
            preview_every: None,
            state_every: None,
        }
    }
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
    let mut dets = Detections::default();
    let mut served_total = 0u64;
    let mut due: Vec<usize> = Vec::new();
    let mut infer: Vec<usize> = Vec::new();
    let batch = opts.batch.max(1);
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
                    gate,
                } => {
                    had_camera = true;
                    cams.retain(|e| e.camera != camera);
                    cams.push(Entry::new(camera, slot, analytics, gate));
                }
                WorkerCmd::Gate { camera, gate } => {
                    if let Some(e) = cams.iter_mut().find(|e| e.camera == camera) {
                        e.gate = gate;
                        e.last_inferred = None;
                    }
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
                        let incidents = e.analytics.reconfigure(*settings, ts, &reason);
                        // Zones changed: infer the next frame rather than trust old boxes.
                        e.last_inferred = None;
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
                WorkerCmd::Detector(d) => {
                    detector = *d;
                    for e in cams.iter_mut() {
                        e.last_inferred = None;
                    }
                }
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
        due.clear();
        let mut closed = None;
        for k in 0..n {
            let i = (next + k) % n;
            let e = &mut cams[i];
            match e.slot.take(&mut e.buf) {
                Taken::Empty => continue,
                // Finish a closed camera in a turn of its own.
                Taken::Closed if due.is_empty() => {
                    closed = Some(i);
                    break;
                }
                Taken::Closed => continue,
                Taken::Frame { age } => {
                    e.age = age;
                    due.push(i);
                    if due.len() >= batch {
                        break;
                    }
                }
            }
        }
        if let Some(i) = closed {
            let mut e = cams.remove(i);
            let ts = e
                .slot
                .last_ts()
                .or(e.last_ts)
                .unwrap_or_else(|| clock.now());
            finish(&mut e, ts, crate::analytics::debounce::END_OF_STREAM);
            served = true;
        } else if let Some(&last) = due.last() {
            served = true;
            next = last + 1;
            let t0 = Instant::now();
            infer.clear();
            for &i in &due {
                let e = &mut cams[i];
                e.failed = false;
                e.skip = e.gate_skips();
                if !e.skip {
                    infer.push(i);
                }
            }
            let batched = infer.len() >= 2
                && detector.batches()
                && infer.iter().all(|&i| {
                    let p = &cams[i].buf.prepared;
                    p.input_id != 0 && !p.input.is_empty()
                });
            let mut batch_ok = false;
            if batched {
                let frames: Vec<(&opencv::core::Mat, &[f32], u64)> = infer
                    .iter()
                    .map(|&i| {
                        let b = &cams[i].buf;
                        (&b.image, b.prepared.input.as_slice(), b.prepared.input_id)
                    })
                    .collect();
                let res = detector.detect_batch(&frames);
                drop(frames);
                match res {
                    Ok(found) => {
                        for (k, &i) in infer.iter().enumerate() {
                            cams[i].items.clear();
                            cams[i].items.extend_from_slice(&found[k]);
                        }
                        batch_ok = true;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "batched inference failed; running the frames one by one");
                    }
                }
            }
            if !batch_ok {
                for &i in &infer {
                    let e = &mut cams[i];
                    let p = &e.buf.prepared;
                    match detector.detect_prepared(&e.buf.image, &p.input, p.input_id) {
                        Ok(found) => {
                            e.items.clear();
                            e.items.extend_from_slice(found);
                        }
                        Err(err) => {
                            tracing::warn!(camera = %e.camera, frame = e.buf.meta.index, error = %err, "frame skipped");
                            e.failed = true;
                        }
                    }
                }
            }
            let times = detector.last_times();
            let t1 = Instant::now();
            let inferred_n = infer.iter().filter(|&&i| !cams[i].failed).count().max(1);
            for &i in &due {
                let e = &mut cams[i];
                if e.failed {
                    let mut st = stats.lock().unwrap_or_else(|p| p.into_inner());
                    st.cameras.entry(e.camera.clone()).or_default().bad_frames += 1;
                    st.totals.bad_frames += 1;
                    if let Some(m) = &opts.metrics {
                        m.camera(&e.camera, |c| c.bad += 1);
                    }
                    continue;
                }
                if !e.skip {
                    e.inferred();
                }
                let ta = Instant::now();
                dets.items.clear();
                dets.items.extend_from_slice(&e.items);
                dets.meta.clone_from(&e.buf.meta);
                let report = e.analytics.step(&dets);
                let tb = Instant::now();
                e.last_ts = Some(e.buf.meta.ts);
                if let Some(tap) = tap.as_mut() {
                    tap.frame(&Tapped {
                        image: Some(&e.buf.image),
                        dets: &dets,
                        report: &report,
                        explanation: e.analytics.explanation(),
                    });
                }
                let age = e.age + tb.duration_since(t0);
                let age_ms = age.as_secs_f64() * 1e3;
                if let Some(m) = &opts.metrics {
                    m.frame_age.observe(age);
                    m.stages.analytics.observe(tb - ta);
                    if !e.skip {
                        let k = inferred_n as u32;
                        m.stages.inference.observe(times.inference / k);
                        m.stages.decode.observe(times.decode / k);
                    }
                    m.camera(&e.camera, |c| {
                        c.analysed += 1;
                        if e.skip {
                            c.skipped += 1;
                        } else {
                            c.inferred += 1;
                        }
                    });
                }
                if let Some(every) = opts.preview_every
                    && e.last_preview.is_none_or(|t| tb.duration_since(t) >= every)
                {
                    e.last_preview = Some(tb);
                    // Never wait for the publish worker: a busy one skips a preview.
                    let _ = out.try_send(PublishMsg::Preview {
                        camera: e.camera.clone(),
                        ts: e.buf.meta.ts,
                        image: e.buf.image.clone(),
                        tracks: report.tracks.clone(),
                        zone_counts: report.zone_counts.clone(),
                    });
                }
                {
                    let mut st = stats.lock().unwrap_or_else(|p| p.into_inner());
                    let f = st.cameras.entry(e.camera.clone()).or_default();
                    f.analysed += 1;
                    if e.skip {
                        f.skipped += 1;
                    } else {
                        f.inferred += 1;
                    }
                    push_capped(&mut f.ages_ms, age_ms);
                    st.totals.analysed += 1;
                    if e.skip {
                        st.totals.skipped += 1;
                    } else {
                        st.totals.inferred += 1;
                    }
                    if st.keep_times && !e.skip {
                        let ms = |d: Duration| d.as_secs_f64() * 1e3;
                        let k = inferred_n as f64;
                        st.stages.batch.push(k);
                        st.stages.preprocess.push(ms(times.preprocess) / k);
                        st.stages.inference.push(ms(times.inference) / k);
                        st.stages.decode.push(ms(times.decode) / k);
                        st.stages.analytics.push(ms(tb - ta));
                        st.stages.frame.push(ms(t1 - t0) / k + ms(tb - ta));
                    }
                }
                if let Some(every) = opts.state_every
                    && e.counts_due(&report, every)
                {
                    send(PublishMsg::Counts {
                        camera: e.camera.clone(),
                        ts: report.meta.ts,
                        zone_counts: report.zone_counts.clone(),
                    });
                }
                if !report.incidents.is_empty() {
                    let needs_image = report
                        .incidents
                        .iter()
                        .any(|i| matches!(i.phase, Phase::Start | Phase::Update));
                    let image = needs_image.then(|| e.buf.image.clone());
                    send(PublishMsg::Report { report, image });
                }
                served_total += 1;
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
