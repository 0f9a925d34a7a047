//! The capture loop: one per camera, on its own thread (the runtime spawns it).
//!
//! - **Stamp at grab.** Every frame gets its time when it is grabbed (the source's clock
//!   for live streams, `start` + media time for files), before any queueing.
//! - **Only due frames are converted.** The [`Sampler`] decides from the grab time;
//!   frames that are not due are grabbed (decoded) but never converted to BGR.
//! - **Latest frame wins** ([`Delivery::Latest`], live cameras): a due frame replaces one
//!   the detector has not taken yet, and the replaced one is counted as dropped. The
//!   backlog is at most one frame, whatever the detector's speed. Replays use
//!   [`Delivery::Every`]: capture waits for the detector, so no frame is lost and the
//!   result is deterministic.
//! - **Health from every decoded frame**, with hysteresis (see [`health`](super::health)).
//! - **Reconnect** with exponential backoff and jitter; a watchdog (the runtime) reports
//!   a camera whose `grab` hangs beyond the read timeout.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use opencv::core::Mat;
use opencv::prelude::*;

use super::health::{FrameStats, HealthChange, HealthMonitor, HealthParams};
use super::source::{Frame, Sampler, Source, SourceError};
use crate::types::FrameMeta;

/// How due frames reach the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Live: a newer due frame replaces an untaken one (counted as dropped).
    Latest,
    /// Replay: wait until the detector took the previous frame; nothing is dropped.
    Every,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSettings {
    pub camera: String,
    /// Frames analysed per second (by frame time); `<= 0`: every frame.
    pub detect_fps: f64,
    pub delivery: Delivery,
    /// First reconnect delay; doubles (with ±20 % jitter) up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub health: HealthParams,
}

impl CaptureSettings {
    pub fn new(camera: &str, detect_fps: f64, delivery: Delivery) -> Self {
        Self {
            camera: camera.to_string(),
            detect_fps,
            delivery,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            health: HealthParams::default(),
        }
    }
}

/// Counters of one camera's capture, readable from any thread.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    pub decoded: AtomicU64,
    pub due: AtomicU64,
    /// Due frames replaced before the detector took them (latest frame wins).
    pub dropped: AtomicU64,
    pub reconnects: AtomicU64,
    /// Microseconds spent in grab + retrieve of due frames (for the bench).
    pub decode_us: AtomicU64,
    /// Microseconds spent preparing due frames for the detector (model input, motion copy).
    pub prepare_us: AtomicU64,
    /// Microseconds spent grabbing frames that were not due (decoded, never converted).
    pub skip_us: AtomicU64,
}

struct SlotState {
    frame: Frame,
    /// `Instant` the frame was grabbed (for its age at analysis).
    grabbed: Option<Instant>,
    fresh: bool,
    closed: bool,
    /// The detector worker stopped serving this slot: the capture stops too.
    abandoned: bool,
    /// Time of the last grabbed frame when the capture closed (end of stream).
    last_ts: Option<jiff::Timestamp>,
}

/// A one-frame mailbox between a camera's capture and the detector worker. Buffers are
/// swapped, never allocated per frame.
pub struct FrameSlot {
    state: Mutex<SlotState>,
    /// Wakes the capture (in `Every` mode) when the detector took the frame.
    taken: Condvar,
    /// Wakes the detector worker when any camera has a fresh frame.
    doorbell: Arc<Doorbell>,
    pub counters: CaptureCounters,
}

/// One wake-up signal shared by every camera's slot and the detector worker.
#[derive(Default)]
pub struct Doorbell {
    rung: Mutex<u64>,
    cv: Condvar,
}

impl Doorbell {
    pub fn ring(&self) {
        let mut n = self.rung.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        self.cv.notify_all();
    }
    /// The current ring count; pass it to [`Doorbell::wait_past`].
    pub fn count(&self) -> u64 {
        *self.rung.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Wait until the bell rang after `seen`, or `timeout`.
    pub fn wait_past(&self, seen: u64, timeout: Duration) {
        let n = self.rung.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .cv
            .wait_timeout_while(n, timeout, |n| *n == seen)
            .unwrap_or_else(|p| p.into_inner());
    }
}

/// What the detector got from a slot.
pub enum Taken {
    /// A frame (now in the caller's buffer) grabbed `age` ago.
    Frame { age: Duration },
    /// Nothing new.
    Empty,
    /// The capture ended (end of file, or stopped) and nothing is left.
    Closed,
}

impl FrameSlot {
    pub fn new(doorbell: Arc<Doorbell>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(SlotState {
                frame: Frame::default(),
                grabbed: None,
                fresh: false,
                closed: false,
                abandoned: false,
                last_ts: None,
            }),
            taken: Condvar::new(),
            doorbell,
            counters: CaptureCounters::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hand a due frame over (swapping buffers with `frame`). In `Every` mode, wait first
    /// until the previous one was taken (or `stop`).
    fn put(&self, frame: &mut Frame, grabbed: Instant, delivery: Delivery, stop: &AtomicBool) {
        let mut st = self.lock();
        if delivery == Delivery::Every {
            while st.fresh && !st.closed && !st.abandoned && !stop.load(Ordering::Relaxed) {
                st = self
                    .taken
                    .wait_timeout(st, Duration::from_millis(100))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
        if st.fresh {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        std::mem::swap(&mut st.frame, frame);
        st.grabbed = Some(grabbed);
        st.fresh = true;
        drop(st);
        self.doorbell.ring();
    }

    /// Take the fresh frame, if any, swapping it into `into`.
    pub fn take(&self, into: &mut Frame) -> Taken {
        let mut st = self.lock();
        if !st.fresh {
            return if st.closed {
                Taken::Closed
            } else {
                Taken::Empty
            };
        }
        std::mem::swap(&mut st.frame, into);
        st.fresh = false;
        let age = st.grabbed.map_or(Duration::ZERO, |g| g.elapsed());
        drop(st);
        self.taken.notify_all();
        Taken::Frame { age }
    }

    /// No more frames will come (the detector finishes the camera once it took the
    /// last). `last_ts`: time of the last grabbed frame, for the end-of-stream events.
    pub fn close(&self, last_ts: Option<jiff::Timestamp>) {
        {
            let mut st = self.lock();
            st.closed = true;
            st.last_ts = last_ts;
        }
        self.taken.notify_all();
        self.doorbell.ring();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The consumer is gone (the detector worker returned): a capture waiting to hand
    /// over a frame, or about to grab the next, stops instead of waiting forever.
    pub fn abandon(&self) {
        self.lock().abandoned = true;
        self.taken.notify_all();
    }

    pub fn is_abandoned(&self) -> bool {
        self.lock().abandoned
    }

    /// Time of the last grabbed frame, once closed.
    pub fn last_ts(&self) -> Option<jiff::Timestamp> {
        self.lock().last_ts
    }
}

/// Work on each due frame on the capture thread, before it is handed to the detector:
/// while the detector infers one frame, the capture prepares the next (the runtime plugs
/// in preprocessing and the motion copy).
pub trait Prepare: Send {
    fn prepare(&mut self, frame: &mut Frame);
}

/// Why a capture loop returned.
#[derive(Debug)]
pub enum CaptureEnd {
    /// Asked to stop.
    Stopped,
    /// A file reached its end (replays).
    EndOfStream { frames: u64 },
    /// A source that does not reconnect failed.
    Failed(SourceError),
}

/// One camera's capture loop. `on_health` receives every health change (from the
/// capture thread); `health` is shared with the runtime's watchdog.
pub struct Capture {
    pub settings: CaptureSettings,
    pub slot: Arc<FrameSlot>,
    pub health: Arc<Mutex<HealthMonitor>>,
    /// Set while the source is inside `open` or `grab`, with the `Instant` it entered
    /// (microseconds since `epoch`), for the watchdog; 0 when not blocked.
    pub busy_since_us: Arc<AtomicU64>,
    pub epoch: Instant,
}

impl Capture {
    pub fn new(settings: CaptureSettings, slot: Arc<FrameSlot>) -> Self {
        let health = Arc::new(Mutex::new(HealthMonitor::new(settings.health)));
        Self {
            settings,
            slot,
            health,
            busy_since_us: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        }
    }

    fn busy(&self, on: bool) {
        let v = if on {
            (self.epoch.elapsed().as_micros() as u64).max(1)
        } else {
            0
        };
        self.busy_since_us.store(v, Ordering::Relaxed);
    }

    fn report(&self, on_health: &mut dyn FnMut(HealthChange), c: Option<HealthChange>) {
        if let Some(c) = c {
            on_health(c);
        }
    }

    /// Run until `stop`, the end of a file, or a failure of a source that does not
    /// reconnect. `now` gives the time for health changes outside frames (offline).
    pub fn run(
        &self,
        source: &mut dyn Source,
        stop: &AtomicBool,
        now: &dyn Fn() -> jiff::Timestamp,
        on_health: &mut dyn FnMut(HealthChange),
        mut prepare: Option<&mut dyn Prepare>,
    ) -> CaptureEnd {
        let s = &self.settings;
        let mut sampler = Sampler::new(s.detect_fps);
        let mut frame = Frame::default();
        let mut stats = FrameStats::new();
        let mut backoff = s.backoff_min;
        let mut jitter = Jitter::new(&s.camera);
        let counters = &self.slot.counters;
        let mut last_ts = None;
        let end = loop {
            if stop.load(Ordering::Relaxed) || self.slot.is_abandoned() {
                break CaptureEnd::Stopped;
            }
            if !source.is_open() {
                self.busy(true);
                let opened = source.open();
                self.busy(false);
                match opened {
                    Ok(nominal) => {
                        let c = self.lock_health().connected(now(), nominal);
                        self.report(on_health, c);
                        backoff = s.backoff_min;
                        sampler = Sampler::new(s.detect_fps);
                    }
                    Err(e) if !source.reconnects() => break CaptureEnd::Failed(e),
                    Err(e) => {
                        let c = self.lock_health().disconnected(now(), &e.to_string());
                        self.report(on_health, c);
                        counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        sleep_unless(jitter.apply(backoff), stop);
                        backoff = (backoff * 2).min(s.backoff_max);
                        continue;
                    }
                }
            }
            let t0 = Instant::now();
            self.busy(true);
            let grabbed = source.grab();
            self.busy(false);
            let (index, ts) = match grabbed {
                Ok(Some(g)) => g,
                Ok(None) if !source.reconnects() => {
                    break CaptureEnd::EndOfStream {
                        frames: counters.decoded.load(Ordering::Relaxed),
                    };
                }
                Err(e) if !source.reconnects() => break CaptureEnd::Failed(e),
                Ok(None) => {
                    let c = self
                        .lock_health()
                        .disconnected(now(), "stream ended or stalled");
                    self.report(on_health, c);
                    continue;
                }
                Err(e) => {
                    let c = self.lock_health().disconnected(now(), &e.to_string());
                    self.report(on_health, c);
                    continue;
                }
            };
            // The frame's age counts from here: a live grab blocks until the frame arrives.
            let grabbed_at = Instant::now();
            counters.decoded.fetch_add(1, Ordering::Relaxed);
            last_ts = Some(ts);
            if !sampler.take(ts) {
                counters
                    .skip_us
                    .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
                let c = self.lock_health().decoded(ts);
                self.report(on_health, c);
                continue;
            }
            if let Err(e) = source.retrieve(&mut frame.image) {
                // A corrupt frame: counted as decoded for the rate, skipped for analysis.
                tracing::debug!(camera = %s.camera, error = %e, "frame skipped");
                let c = self.lock_health().decoded(ts);
                self.report(on_health, c);
                continue;
            }
            counters
                .decode_us
                .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
            counters.due.fetch_add(1, Ordering::Relaxed);
            let c = match stats.measure(&frame.image) {
                Ok((luma, diff)) => self.lock_health().frame(ts, luma, diff),
                Err(_) => self.lock_health().decoded(ts),
            };
            self.report(on_health, c);
            frame.meta = FrameMeta {
                camera: s.camera.clone(),
                index,
                ts,
                size: (frame.image.cols() as u32, frame.image.rows() as u32),
            };
            if let Some(p) = prepare.as_mut() {
                let t = Instant::now();
                p.prepare(&mut frame);
                counters
                    .prepare_us
                    .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            self.slot.put(&mut frame, grabbed_at, s.delivery, stop);
        };
        // A live camera that is stopped (shutdown, reload) leaves its slot open: the
        // runtime decides what happens to its analytics. Ends of files close it.
        if !matches!(end, CaptureEnd::Stopped) || !source.reconnects() {
            self.slot.close(last_ts);
        }
        end
    }

    fn lock_health(&self) -> std::sync::MutexGuard<'_, HealthMonitor> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Seconds the source has been blocked in `open`/`grab`, if it is.
    pub fn blocked_for(busy_since_us: &AtomicU64, epoch: Instant) -> Option<Duration> {
        let v = busy_since_us.load(Ordering::Relaxed);
        (v > 0).then(|| epoch.elapsed().saturating_sub(Duration::from_micros(v)))
    }
}

/// Sleep up to `d`, waking early when `stop` is set.
pub fn sleep_unless(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// ±20 % jitter from a small deterministic generator seeded by the camera id, so that
/// cameras that fail together do not retry in lockstep.
struct Jitter(u64);

impl Jitter {
    fn new(seed: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x1000_0000_01b3);
        }
        Jitter(h | 1)
    }
    fn apply(&mut self, d: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let f = 0.8 + 0.4 * (self.0 % 10_000) as f64 / 10_000.0;
        d.mul_f64(f)
    }
}

impl Default for Frame {
    fn default() -> Self {
        Frame {
            meta: FrameMeta::default(),
            image: Mat::default(),
            prepared: Default::default(),
        }
    }
}
