//! Live figures for Prometheus (`GET /metrics` on the console): stage latency
//! histograms, frames per camera, camera up/down, outbox depth, events by rule and the
//! frame-to-publish latency. The threads that do the work update these with atomics or
//! a short lock; the console renders them in the Prometheus text format (0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::media::capture::Capture;
use crate::publish::outbox::Outbox;

/// Bucket bounds, seconds: 1 ms to 10 s.
pub const BUCKETS: [f64; 14] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// A latency histogram (lock-free).
#[derive(Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative), the last one past every bound.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cum = 0u64;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}");
        }
        cum += self.counts[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cum}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {cum}", braces(labels));
    }
}

/// The detector worker's stages, in the order a frame passes them.
#[derive(Default)]
pub struct Stages {
    /// Model input preparation on the capture thread (resize, normalise).
    pub prepare: Histogram,
    pub inference: Histogram,
    /// Decoding the model's output into boxes (incl. NMS).
    pub decode: Histogram,
    /// Tracking, zones, rules and debouncing.
    pub analytics: Histogram,
}

/// Per-camera counters the detector worker keeps.
#[derive(Debug, Default, Clone)]
pub struct CameraCounts {
    pub analysed: u64,
    pub inferred: u64,
    pub skipped: u64,
    pub bad: u64,
    /// Analysed frames per second over the last 2 s.
    pub fps: f64,
    /// Whether the camera is online (its last health change).
    pub up: Option<bool>,
}

#[derive(Default)]
pub struct Metrics {
    pub stages: Stages,
    /// Grab → analysis finished, every analysed frame.
    pub frame_age: Histogram,
    /// Frame grab → its event queued for MQTT (in the outbox), every event.
    pub publish_latency: Histogram,
    cameras: Mutex<BTreeMap<String, CameraCounts>>,
    /// (rule, phase) → events.
    events: Mutex<BTreeMap<(String, String), u64>>,
    captures: Mutex<BTreeMap<String, Arc<Capture>>>,
    outbox: Mutex<Option<Outbox>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Label values escaped as the text format wants.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    pub fn camera<R>(&self, camera: &str, f: impl FnOnce(&mut CameraCounts) -> R) -> R {
        let mut m = lock(&self.cameras);
        if let Some(c) = m.get_mut(camera) {
            return f(c);
        }
        f(m.entry(camera.to_string()).or_default())
    }

    /// A camera's capture (its decoded and dropped frame counters), while it runs.
    pub fn set_capture(&self, camera: &str, capture: Option<Arc<Capture>>) {
        let mut m = lock(&self.captures);
        match capture {
            Some(c) => {
                m.insert(camera.to_string(), c);
            }
            None => {
                m.remove(camera);
                lock(&self.cameras).remove(camera);
            }
        }
    }

    pub fn set_outbox(&self, outbox: Outbox) {
        *lock(&self.outbox) = Some(outbox);
    }

    pub fn event(&self, rule: &str, phase: &str) {
        *lock(&self.events)
            .entry((rule.to_string(), phase.to_string()))
            .or_default() += 1;
    }

    /// The Prometheus text exposition of everything above.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        let help = |out: &mut String, name: &str, kind: &str, text: &str| {
            let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
        };
        help(
            &mut out,
            "wardwatch_stage_seconds",
            "histogram",
            "Time per frame in each pipeline stage (prepare runs on the capture thread).",
        );
        for (stage, h) in [
            ("prepare", &self.stages.prepare),
            ("inference", &self.stages.inference),
            ("decode", &self.stages.decode),
            ("analytics", &self.stages.analytics),
        ] {
            h.render(
                &mut out,
                "wardwatch_stage_seconds",
                &format!("stage=\"{stage}\""),
            );
        }
        help(
            &mut out,
            "wardwatch_frame_age_seconds",
            "histogram",
            "Age of each analysed frame when its analysis finished (grab to report).",
        );
        self.frame_age
            .render(&mut out, "wardwatch_frame_age_seconds", "");
        help(
            &mut out,
            "wardwatch_publish_latency_seconds",
            "histogram",
            "Frame grab to its event queued for MQTT delivery.",
        );
        self.publish_latency
            .render(&mut out, "wardwatch_publish_latency_seconds", "");

        let cams = lock(&self.cameras).clone();
        let captures = lock(&self.captures).clone();
        let mut ids: Vec<&String> = cams.keys().chain(captures.keys()).collect();
        ids.sort();
        ids.dedup();
        help(
            &mut out,
            "wardwatch_frames_total",
            "counter",
            "Frames per camera: decoded, analysed, inferred, skipped (motion gating), dropped (replaced before analysis), bad.",
        );
        for id in &ids {
            let c = cams.get(*id).cloned().unwrap_or_default();
            let cam = esc(id);
            let mut line = |kind: &str, v: u64| {
                let _ = writeln!(
                    out,
                    "wardwatch_frames_total{{camera=\"{cam}\",kind=\"{kind}\"}} {v}"
                );
            };
            if let Some(cap) = captures.get(*id) {
                let k = &cap.slot.counters;
                line("decoded", k.decoded.load(Ordering::Relaxed));
                line("dropped", k.dropped.load(Ordering::Relaxed));
            }
            line("analysed", c.analysed);
            line("inferred", c.inferred);
            line("skipped", c.skipped);
            line("bad", c.bad);
        }
        help(
            &mut out,
            "wardwatch_camera_fps",
            "gauge",
            "Analysed frames per second over the last 2 s.",
        );
        for id in &ids {
            let c = cams.get(*id).cloned().unwrap_or_default();
            let _ = writeln!(
                out,
                "wardwatch_camera_fps{{camera=\"{}\"}} {:.2}",
                esc(id),
                c.fps
            );
        }
        help(
            &mut out,
            "wardwatch_camera_up",
            "gauge",
            "1 while the camera delivers frames, 0 while it is offline or degraded (none before its first health change).",
        );
        for id in &ids {
            if let Some(up) = cams.get(*id).and_then(|c| c.up) {
                let _ = writeln!(
                    out,
                    "wardwatch_camera_up{{camera=\"{}\"}} {}",
                    esc(id),
                    up as u8
                );
            }
        }
        help(
            &mut out,
            "wardwatch_events_total",
            "counter",
            "Published events by rule and phase.",
        );
        for ((rule, phase), n) in lock(&self.events).iter() {
            let _ = writeln!(
                out,
                "wardwatch_events_total{{rule=\"{}\",phase=\"{}\"}} {n}",
                esc(rule),
                esc(phase)
            );
        }
        if let Some(o) = lock(&self.outbox).as_ref() {
            help(
                &mut out,
                "wardwatch_outbox_messages",
                "gauge",
                "Messages waiting in the outbox for the broker.",
            );
            let _ = writeln!(out, "wardwatch_outbox_messages {}", o.len());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_sum_in_seconds() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(15));
        h.observe(Duration::from_secs(20));
        let mut s = String::new();
        h.render(&mut s, "x", "");
        assert!(s.contains("x_bucket{le=\"0.001\"} 1\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"0.02\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"10\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"+Inf\"} 3\n"), "{s}");
        assert!(s.contains("x_count 3\n"), "{s}");
        assert!(s.contains("x_sum 20.0155\n"), "{s}");
    }

    #[test]
    fn labels_are_escaped() {
        let m = Metrics::default();
        m.camera("a\"b", |c| c.analysed = 3);
        m.event("gathering", "start");
        let s = m.render();
        assert!(
            s.contains("wardwatch_frames_total{camera=\"a\\\"b\",kind=\"analysed\"} 3"),
            "{s}"
        );
        assert!(s.contains("wardwatch_events_total{rule=\"gathering\",phase=\"start\"} 1"));
    }
}
