//! Camera health: `online`, `offline` (with a reason) and `degraded` (dark, frozen, low
//! frame rate), decided from frame times and cheap frame statistics. Time comes from the
//! caller, so the monitor is tested with scripted timestamps.
//!
//! **Fed by capture, with every decoded frame.** [`HealthMonitor::decoded`] counts every
//! frame the stream delivers (analysed or not), so `low_fps` compares the decoded rate
//! with the stream's nominal rate, never the detection rate. [`HealthMonitor::frame`]
//! adds the picture statistics (dark, frozen) of the frames that were converted.
//!
//! **Hysteresis, so that it never flaps.** A condition must hold for `hold_s` before the
//! camera goes `degraded`, and every condition must have been clear for `recover_s`
//! before it is `online` again. For the frame rate the thresholds differ too: below
//! `min_fps_ratio` × nominal is bad, at least `recover_fps_ratio` × nominal is good, and
//! in between nothing changes. When the stream reports no usable nominal rate, the rate
//! measured over the first full window after connecting is taken as nominal.

use std::collections::VecDeque;

use jiff::Timestamp;

use crate::types::secs;
pub use crate::types::{CameraStatus as Status, HealthChange};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthParams {
    /// Mean luma (0–255) below which a frame counts as dark (default 12).
    pub dark_luma: f32,
    /// Mean absolute difference (0–255) to the previous frame below which it counts as
    /// frozen (default 0.3; sensor noise alone is well above it on real cameras).
    pub frozen_diff: f32,
    /// How long a condition must hold before `degraded` (default 10 s). Also the window
    /// over which the frame rate is measured.
    pub hold_s: f64,
    /// How long every condition must have been clear before `recovered` (default 10 s).
    pub recover_s: f64,
    /// Measured fps below this fraction of nominal is `low_fps` (default 0.5).
    pub min_fps_ratio: f64,
    /// Measured fps at least this fraction of nominal counts as a good rate (default 0.75).
    pub recover_fps_ratio: f64,
}

impl Default for HealthParams {
    fn default() -> Self {
        Self {
            dark_luma: 12.0,
            frozen_diff: 0.3,
            hold_s: 10.0,
            recover_s: 10.0,
            min_fps_ratio: 0.5,
            recover_fps_ratio: 0.75,
        }
    }
}

/// One condition with its hysteresis: continuously bad since, continuously good since.
#[derive(Debug, Clone, Copy, Default)]
struct Condition {
    bad_since: Option<Timestamp>,
    good_since: Option<Timestamp>,
}

impl Condition {
    /// `Some(true)` bad, `Some(false)` good, `None` undecided (keeps both timers).
    fn observe(&mut self, at: Timestamp, bad: Option<bool>) {
        match bad {
            Some(true) => {
                self.bad_since = self.bad_since.or(Some(at));
                self.good_since = None;
            }
            Some(false) => {
                self.good_since = self.good_since.or(Some(at));
                self.bad_since = None;
            }
            None => {}
        }
    }
    fn bad_for(&self, at: Timestamp) -> f64 {
        self.bad_since.map_or(0.0, |s| secs(at, s))
    }
    /// Clear for `d` seconds, or never seen bad at all.
    fn clear_for(&self, at: Timestamp, d: f64) -> bool {
        self.bad_since.is_none() && self.good_since.is_none_or(|s| secs(at, s) >= d)
    }
}

pub struct HealthMonitor {
    p: HealthParams,
    nominal_fps: Option<f64>,
    /// The stream reported no rate: learn it from the first full window.
    learn_nominal: bool,
    status: Option<Status>,
    reason: String,
    frozen: Condition,
    dark: Condition,
    low_fps: Condition,
    /// Decoded frame times in the last `hold_s`, for the measured rate.
    recent: VecDeque<Timestamp>,
    connected_at: Option<Timestamp>,
}

impl HealthMonitor {
    pub fn new(p: HealthParams) -> Self {
        Self {
            p,
            nominal_fps: None,
            learn_nominal: false,
            status: None,
            reason: String::new(),
            frozen: Condition::default(),
            dark: Condition::default(),
            low_fps: Condition::default(),
            recent: VecDeque::new(),
            connected_at: None,
        }
    }

    pub fn status(&self) -> Option<Status> {
        self.status
    }

    /// The nominal rate in use (reported by the stream, or learned).
    pub fn nominal_fps(&self) -> Option<f64> {
        self.nominal_fps
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
        self.learn_nominal = self.nominal_fps.is_none();
        self.frozen = Condition::default();
        self.dark = Condition::default();
        self.low_fps = Condition::default();
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

    /// A converted frame with its mean luma and mean absolute difference to the previous
    /// converted frame. Counts as a decoded frame too: do not also call [`Self::decoded`].
    pub fn frame(
        &mut self,
        at: Timestamp,
        mean_luma: f32,
        diff: Option<f32>,
    ) -> Option<HealthChange> {
        self.dark.observe(at, Some(mean_luma < self.p.dark_luma));
        self.frozen
            .observe(at, diff.map(|d| d < self.p.frozen_diff));
        self.decoded(at)
    }

    /// A frame was decoded (grabbed) at `at`, whether or not it is analysed.
    pub fn decoded(&mut self, at: Timestamp) -> Option<HealthChange> {
        self.recent.push_back(at);
        while let Some(&f) = self.recent.front() {
            if secs(at, f) > self.p.hold_s {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        self.evaluate(at)
    }

    /// Frames per second decoded over the last `hold_s`, once connected that long.
    pub fn measured_fps(&self, at: Timestamp) -> Option<f64> {
        let c = self.connected_at?;
        (secs(at, c) >= self.p.hold_s)
            .then(|| self.recent.len().saturating_sub(1) as f64 / self.p.hold_s)
    }

    fn evaluate(&mut self, at: Timestamp) -> Option<HealthChange> {
        if self.status == Some(Status::Offline) || self.connected_at.is_none() {
            return None;
        }
        if let Some(measured) = self.measured_fps(at) {
            if self.learn_nominal {
                self.learn_nominal = false;
                self.nominal_fps = (measured > 0.5).then_some(measured);
            }
            let fps_bad = self.nominal_fps.and_then(|n| {
                if measured < n * self.p.min_fps_ratio {
                    Some(true)
                } else if measured >= n * self.p.recover_fps_ratio {
                    Some(false)
                } else {
                    None
                }
            });
            self.low_fps.observe(at, fps_bad);
        }
        let hold = self.p.hold_s;
        let bad = [
            ("frozen", self.frozen),
            ("dark", self.dark),
            ("low_fps", self.low_fps),
        ]
        .into_iter()
        .find(|(_, c)| c.bad_for(at) >= hold)
        .map(|(r, _)| r);
        match bad {
            Some(r) => self.set(Status::Degraded, r, at),
            None if self.status == Some(Status::Degraded) => {
                let rec = self.p.recover_s;
                let clear = [self.frozen, self.dark, self.low_fps]
                    .iter()
                    .all(|c| c.clear_for(at, rec));
                if clear {
                    self.set(Status::Online, "recovered", at)
                } else {
                    None
                }
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
        for i in 0..150 {
            // Dark from 2 s to 14 s: 12 s, more than the 10 s hold; recovered 10 s later.
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
        for i in 0..60 {
            ev.push(m.frame(t(i as f64 * 0.5), 90.0, Some(3.0))); // 2 fps of a 25 fps camera
        }
        assert_eq!(
            statuses(&ev).last().unwrap(),
            &(Status::Degraded, "low_fps".into())
        );
    }

    #[test]
    fn recovery_waits_for_the_recover_time() {
        let mut m = HealthMonitor::new(HealthParams::default());
        m.connected(t(0.0), Some(5.0));
        let mut changes = Vec::new();
        for i in 0..200 {
            let at = i as f64 * 0.2;
            // Dark 0–12 s, light 12–16 s, dark 16–20 s, then light.
            let dark = at < 12.0 || (16.0..20.0).contains(&at);
            if let Some(c) = m.frame(t(at), if dark { 5.0 } else { 90.0 }, Some(3.0)) {
                changes.push((
                    c.status,
                    c.reason,
                    (secs(c.at, t(0.0)) * 10.0).round() / 10.0,
                ));
            }
        }
        assert_eq!(
            changes,
            vec![
                (Status::Degraded, "dark".into(), 10.0),
                (Status::Online, "recovered".into(), 30.0)
            ]
        );
    }

    #[test]
    fn every_decoded_frame_counts_so_a_sampled_camera_never_flaps() {
        // 25 fps stream; only every 5th frame is converted and measured (detect_fps 5).
        let mut m = HealthMonitor::new(HealthParams::default());
        let mut ev = vec![m.connected(t(0.0), Some(25.0))];
        for i in 0..(25 * 120) {
            let at = t(i as f64 / 25.0);
            ev.push(if i % 5 == 0 {
                m.frame(at, 90.0, Some(3.0))
            } else {
                m.decoded(at)
            });
        }
        assert_eq!(statuses(&ev), vec![(Status::Online, "connected".into())]);
    }

    #[test]
    fn a_rate_between_the_thresholds_changes_nothing() {
        let mut m = HealthMonitor::new(HealthParams::default());
        let mut ev = vec![m.connected(t(0.0), Some(10.0))];
        let mut at = 0.0;
        // 10 fps for 20 s, then 3 fps for 30 s (degraded once), then 6 fps (between 5
        // and 7.5: stays degraded), then 10 fps again (recovered once).
        for (fps, dur) in [(10.0, 20.0), (3.0, 30.0), (6.0, 30.0), (10.0, 40.0)] {
            let end = at + dur;
            while at < end {
                ev.push(m.decoded(t(at)));
                at += 1.0 / fps;
            }
        }
        assert_eq!(
            statuses(&ev),
            vec![
                (Status::Online, "connected".into()),
                (Status::Degraded, "low_fps".into()),
                (Status::Online, "recovered".into())
            ]
        );
    }

    #[test]
    fn without_a_reported_rate_the_first_window_is_nominal() {
        let mut m = HealthMonitor::new(HealthParams::default());
        let mut ev = vec![m.connected(t(0.0), None)];
        let mut at = 0.0;
        for (fps, dur) in [(12.0, 30.0), (4.0, 30.0), (12.0, 30.0)] {
            let end = at + dur;
            while at < end {
                ev.push(m.decoded(t(at)));
                at += 1.0 / fps;
            }
        }
        assert!((m.nominal_fps().unwrap() - 12.0).abs() < 0.5);
        assert_eq!(
            statuses(&ev),
            vec![
                (Status::Online, "connected".into()),
                (Status::Degraded, "low_fps".into()),
                (Status::Online, "recovered".into())
            ]
        );
    }
}
