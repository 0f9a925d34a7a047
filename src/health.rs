//! Camera health: `online`, `offline` (with a reason) and `degraded` (dark, frozen, low
//! frame rate), decided from frame times and cheap frame statistics. Time comes from the
//! caller, so the monitor is tested with scripted timestamps.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Offline,
    Degraded,
}

/// A change of a camera's health.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthChange {
    pub status: Status,
    /// `connected`, `recovered`, the error text for offline, or `dark` / `frozen` / `low_fps`.
    pub reason: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Copy)]
pub struct HealthParams {
    /// Mean luma (0–255) below which a frame counts as dark (default 12).
    pub dark_luma: f32,
    /// Mean absolute difference (0–255) to the previous frame below which it counts as
    /// frozen (default 0.3; sensor noise alone is well above it on real cameras).
    pub frozen_diff: f32,
    /// How long a condition must hold before `degraded` (default 10 s).
    pub hold_s: f64,
    /// Measured fps below this fraction of nominal is `low_fps` (default 0.5).
    pub min_fps_ratio: f64,
}

impl Default for HealthParams {
    fn default() -> Self {
        Self {
            dark_luma: 12.0,
            frozen_diff: 0.3,
            hold_s: 10.0,
            min_fps_ratio: 0.5,
        }
    }
}

pub struct HealthMonitor {
    p: HealthParams,
    nominal_fps: Option<f64>,
    status: Option<Status>,
    reason: String,
    dark_since: Option<Timestamp>,
    frozen_since: Option<Timestamp>,
    /// Frame times in the last `hold_s`, for the measured rate.
    recent: std::collections::VecDeque<Timestamp>,
    connected_at: Option<Timestamp>,
}

fn secs(a: Timestamp, b: Timestamp) -> f64 {
    a.duration_since(b).as_secs_f64()
}

impl HealthMonitor {
    pub fn new(p: HealthParams) -> Self {
        Self {
            p,
            nominal_fps: None,
            status: None,
            reason: String::new(),
            dark_since: None,
            frozen_since: None,
            recent: Default::default(),
            connected_at: None,
        }
    }

    pub fn status(&self) -> Option<Status> {
        self.status
    }

    fn set(&mut self, status: Status, reason: &str, at: Timestamp) -> Option<HealthChange> {
        if self.status == Some(status) && self.reason == reason {
            return None;
        }
        self.status = Some(status);
        self.reason = reason.to_string();
        Some(HealthChange {
            status,
            reason: reason.to_string(),
            at,
        })
    }

    /// The stream opened. `nominal_fps` is what the source reports (if anything).
    pub fn connected(&mut self, at: Timestamp, nominal_fps: Option<f64>) -> Option<HealthChange> {
        self.nominal_fps = nominal_fps.filter(|f| f.is_finite() && *f > 0.5 && *f < 1000.0);
        self.dark_since = None;
        self.frozen_since = None;
        self.recent.clear();
        self.connected_at = Some(at);
        self.set(Status::Online, "connected", at)
    }

    /// The stream failed to open or stopped.
    pub fn disconnected(&mut self, at: Timestamp, reason: &str) -> Option<HealthChange> {
        self.connected_at = None;
        // One offline event per outage, whatever the retries say.
        if self.status == Some(Status::Offline) {
            return None;
        }
        self.set(Status::Offline, reason, at)
    }

    /// A frame arrived with its mean luma and mean absolute difference to the previous frame.
    pub fn frame(
        &mut self,
        at: Timestamp,
        mean_luma: f32,
        diff: Option<f32>,
    ) -> Option<HealthChange> {
        self.recent.push_back(at);
        while let Some(&f) = self.recent.front() {
            if secs(at, f) > self.p.hold_s {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        let dark = mean_luma < self.p.dark_luma;
        self.dark_since = if dark {
            self.dark_since.or(Some(at))
        } else {
            None
        };
        let frozen = diff.is_some_and(|d| d < self.p.frozen_diff);
        self.frozen_since = if frozen {
            self.frozen_since.or(Some(at))
        } else {
            None
        };
        let held = |since: Option<Timestamp>| since.is_some_and(|s| secs(at, s) >= self.p.hold_s);
        let low_fps = match (self.nominal_fps, self.connected_at) {
            (Some(nominal), Some(c)) if secs(at, c) >= self.p.hold_s => {
                let measured = (self.recent.len().saturating_sub(1)) as f64 / self.p.hold_s;
                measured < nominal * self.p.min_fps_ratio
            }
            _ => false,
        };
        let reason = if held(self.frozen_since) {
            Some("frozen")
        } else if held(self.dark_since) {
            Some("dark")
        } else if low_fps {
            Some("low_fps")
        } else {
            None
        };
        match reason {
            Some(r) => self.set(Status::Degraded, r, at),
            None if self.status == Some(Status::Degraded) => {
                self.set(Status::Online, "recovered", at)
            }
            None => None,
        }
    }
}

/// Cheap frame statistics on a small grey thumbnail, with reused buffers.
pub struct FrameStats {
    small: opencv::core::Mat,
    grey: opencv::core::Mat,
    prev: opencv::core::Mat,
    diff: opencv::core::Mat,
}

impl Default for FrameStats {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameStats {
    pub fn new() -> Self {
        use opencv::core::Mat;
        Self {
            small: Mat::default(),
            grey: Mat::default(),
            prev: Mat::default(),
            diff: Mat::default(),
        }
    }

    /// (mean luma, mean absolute difference to the previous frame if any).
    pub fn measure(&mut self, frame: &opencv::core::Mat) -> opencv::Result<(f32, Option<f32>)> {
        use opencv::core::{Size, absdiff, mean, no_array};
        use opencv::imgproc;
        use opencv::prelude::*;
        imgproc::resize(
            frame,
            &mut self.small,
            Size::new(64, 48),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )?;
        imgproc::cvt_color_def(&self.small, &mut self.grey, imgproc::COLOR_BGR2GRAY)?;
        let luma = mean(&self.grey, &no_array())?[0] as f32;
        let diff = if self.prev.empty() {
            None
        } else {
            absdiff(&self.grey, &self.prev, &mut self.diff)?;
            Some(mean(&self.diff, &no_array())?[0] as f32)
        };
        self.grey.copy_to(&mut self.prev)?;
        Ok((luma, diff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn t(s: f64) -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap() + SignedDuration::from_secs_f64(s)
    }

    fn statuses(v: &[Option<HealthChange>]) -> Vec<(Status, String)> {
        v.iter()
            .flatten()
            .map(|c| (c.status, c.reason.clone()))
            .collect()
    }

    #[test]
    fn offline_once_per_outage_then_online() {
        let mut m = HealthMonitor::new(HealthParams::default());
        let ev = vec![
            m.disconnected(t(0.0), "connection refused"),
            m.disconnected(t(1.0), "connection refused"),
            m.disconnected(t(3.0), "timeout"),
            m.connected(t(7.0), Some(25.0)),
        ];
        assert_eq!(
            statuses(&ev),
            vec![
                (Status::Offline, "connection refused".into()),
                (Status::Online, "connected".into())
            ]
        );
    }

    #[test]
    fn dark_for_ten_seconds_is_degraded_then_recovers() {
        let mut m = HealthMonitor::new(HealthParams::default());
        let mut ev = vec![m.connected(t(0.0), Some(5.0))];
        for i in 0..100 {
            // Dark from 2 s to 14 s: 12 s, more than the 10 s hold.
            let luma = if (10..70).contains(&i) { 5.0 } else { 90.0 };
            ev.push(m.frame(t(i as f64 * 0.2), luma, Some(3.0)));
        }
        assert_eq!(
            statuses(&ev),
            vec![
                (Status::Online, "connected".into()),
                (Status::Degraded, "dark".into()),
                (Status::Online, "recovered".into())
            ]
        );
    }

    #[test]
    fn short_darkness_is_not_degraded() {
        let mut m = HealthMonitor::new(HealthParams::default());
        let mut ev = vec![m.connected(t(0.0), Some(5.0))];
        for i in 0..100 {
            let luma = if (10..50).contains(&i) { 5.0 } else { 90.0 };
            ev.push(m.frame(t(i as f64 * 0.2), luma, Some(3.0)));
        }
        assert_eq!(statuses(&ev), vec![(Status::Online, "connected".into())]);
    }

    #[test]
    fn frozen_picture_is_degraded() {
        let mut m = HealthMonitor::new(HealthParams::default());
        let mut ev = vec![m.connected(t(0.0), Some(5.0))];
        for i in 0..80 {
            ev.push(m.frame(t(i as f64 * 0.2), 90.0, Some(0.0)));
        }
        assert_eq!(
            statuses(&ev).last().unwrap(),
            &(Status::Degraded, "frozen".into())
        );
    }

    #[test]
    fn low_frame_rate_is_degraded() {
        let mut m = HealthMonitor::new(HealthParams::default());
        let mut ev = vec![m.connected(t(0.0), Some(25.0))];
        for i in 0..40 {
            ev.push(m.frame(t(i as f64 * 0.5), 90.0, Some(3.0))); // 2 fps of a 25 fps camera
        }
        assert_eq!(
            statuses(&ev).last().unwrap(),
            &(Status::Degraded, "low_fps".into())
        );
    }
}
