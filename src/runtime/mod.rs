//! The runtime: threads, channels and control. `replay`, `run` and `bench` drive the
//! same chain:
//!
//! ```text
//! capture thread per camera ──(FrameSlot: latest frame wins, or every frame for files)──┐
//!                                                                                        ▼
//!                      detector worker (owns the detector and every camera's analytics)
//!                                                                                        │
//!            bounded channel (reports with incidents, health changes) ◀──────────────────┘
//!                                                                                        ▼
//!                      publish worker (evidence, documents, outbox, console) → MQTT task
//! ```
//!
//! [`control`] runs `wardwatch run`: signals, config reloads camera by camera, the
//! watchdog for hung streams and the periodic stats line.

pub mod announce;
pub mod control;
pub mod load;
pub mod metrics;
pub mod prepare;
pub mod publisher;
pub mod worker;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::Clock;
use crate::detect::Detector;
use crate::media::capture::{Capture, CaptureEnd, Doorbell, Prepare};
use crate::media::source::Source;
use crate::publish::Publisher;
use crate::publish::mqtt::{MqttSettings, MqttSink};
use crate::publish::outbox::{Outbox, OutboxError};
use publisher::{PublishMsg, PublishSummary, PublishWorker};
use worker::{FrameTap, WorkerCmd, WorkerOptions, WorkerStats};

/// Whether log records are JSON (`--log-format json`); set once by the command.
pub static JSON_LOG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

pub fn json_log() -> bool {
    JSON_LOG.get().copied().unwrap_or(false)
}

/// A line for the operator on stderr: as it is with `--log-format text`, as a log record
/// with `--log-format json` (so every stderr line stays one JSON object).
pub fn note(line: &str) {
    if json_log() {
        tracing::info!("{line}");
    } else {
        eprintln!("{line}");
    }
}

/// A plain summary on stderr beside a structured record that says the same: printed with
/// `--log-format text` only (with `json` the record is enough).
pub fn plain(line: &str) {
    if !json_log() {
        eprintln!("{line}");
    }
}

/// Depth of the channel into the publish worker. Reports only travel when they carry
/// incidents, so this is hours of alerts; a full channel blocks the detector worker
/// rather than losing an event.
pub const PUBLISH_QUEUE: usize = 1024;

/// MQTT delivery for one process: a small tokio runtime driving the sink.
pub struct Delivery {
    pub rt: tokio::runtime::Runtime,
    sink: MqttSink,
    pub publisher: Publisher,
    outbox_dir: PathBuf,
}

/// What delivery needs, built by the command from the config.
pub struct DeliverySettings {
    pub mqtt: MqttSettings,
    pub outbox_dir: PathBuf,
    pub outbox_max_bytes: u64,
    pub topic_prefix: String,
    pub site: String,
}

impl Delivery {
    pub fn start(s: DeliverySettings) -> Result<Delivery, OutboxError> {
        let outbox = Outbox::open(&s.outbox_dir, s.outbox_max_bytes)?;
        let pending = outbox.len();
        if pending > 0 {
            tracing::info!(pending, dir = %s.outbox_dir.display(), "outbox holds undelivered messages from an earlier run; delivering them first");
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wardwatch-mqtt")
            // Outbox file I/O runs on the blocking pool, one call at a time (the MQTT
            // controller awaits each). One helper thread that stays: the thread count is
            // then fixed after start-up instead of helpers coming and going (a 20 min soak
            // saw 12-15 threads with tokio's default of spawning fresh ones).
            .max_blocking_threads(1)
            .thread_keep_alive(Duration::from_secs(24 * 3600))
            .enable_all()
            .build()
            .map_err(|e| OutboxError::Io {
                op: "start the async runtime for",
                path: s.outbox_dir.clone(),
                source: e,
            })?;
        let sink = {
            let _guard = rt.enter();
            MqttSink::spawn(s.mqtt, outbox.clone())
        };
        let publisher = Publisher::new(outbox, &s.topic_prefix, &s.site);
        Ok(Delivery {
            rt,
            sink,
            publisher,
            outbox_dir: s.outbox_dir,
        })
    }

    /// Whether the broker connection is up right now.
    pub fn connected(&self) -> bool {
        self.sink.connected()
    }

    /// Wait for the broker to take everything queued, then disconnect. Returns how many
    /// messages stay in the outbox.
    pub fn finish(self, timeout: Duration) -> usize {
        let left = self.rt.block_on(self.sink.flush(timeout));
        if left > 0 {
            let line = format!(
                "warning: {left} message(s) not yet acknowledged by the broker; they stay in {} and are delivered by the next run",
                self.outbox_dir.display()
            );
            if json_log() {
                tracing::warn!("{line}");
            } else {
                eprintln!("{line}");
            }
        }
        self.rt.block_on(self.sink.shutdown());
        left
    }
}

/// The detector worker and publish worker of one process, with the channels into them.
pub struct Chain {
    pub doorbell: Arc<Doorbell>,
    pub worker_tx: std::sync::mpsc::Sender<WorkerCmd>,
    pub publish_tx: SyncSender<PublishMsg>,
    pub stats: Arc<Mutex<WorkerStats>>,
    /// The detector's preprocessing, for the capture threads to run (see [`prepare`]).
    pub preprocessor: crate::detect::Preprocessor,
    worker: Option<JoinHandle<Detector>>,
    publish: Option<JoinHandle<PublishSummary>>,
}

impl Chain {
    /// Start the detector worker (owning `detector`) and the publish worker.
    pub fn start(
        detector: Detector,
        publish: PublishWorker,
        tap: Option<Box<dyn FrameTap>>,
        clock: Arc<dyn Clock>,
        opts: WorkerOptions,
        keep_times: bool,
    ) -> std::io::Result<Chain> {
        let doorbell = Arc::new(Doorbell::default());
        let preprocessor = detector.preprocessor();
        let (publish_tx, publish_rx): (SyncSender<PublishMsg>, Receiver<PublishMsg>) =
            sync_channel(PUBLISH_QUEUE);
        let (worker_tx, worker_rx) = std::sync::mpsc::channel();
        let stats = Arc::new(Mutex::new(WorkerStats {
            keep_times,
            ..WorkerStats::default()
        }));
        let publish = std::thread::Builder::new()
            .name("publish".into())
            .spawn(move || publish.run(publish_rx))?;
        let worker = {
            let (doorbell, out, stats) = (doorbell.clone(), publish_tx.clone(), stats.clone());
            std::thread::Builder::new()
                .name("detect".into())
                .spawn(move || {
                    worker::run(detector, doorbell, worker_rx, out, stats, tap, clock, opts)
                })?
        };
        Ok(Chain {
            doorbell,
            worker_tx,
            publish_tx,
            stats,
            preprocessor,
            worker: Some(worker),
            publish: Some(publish),
        })
    }

    /// Wait for the detector worker to return (after `Stop`, or idle in replays).
    pub fn join_worker(&mut self) -> Option<Detector> {
        self.worker.take().and_then(|h| h.join().ok())
    }

    /// Close the publish channel and wait until everything queued is published.
    pub fn finish(mut self) -> PublishSummary {
        let _ = self.join_worker();
        let Chain {
            publish_tx,
            publish,
            worker_tx,
            ..
        } = self;
        drop(worker_tx);
        drop(publish_tx);
        publish.and_then(|h| h.join().ok()).unwrap_or_default()
    }
}

/// Start a capture thread for `source`. Health changes go to the publish worker when
/// `health_to` is given (live cameras; replays do not report health).
pub fn spawn_capture(
    capture: Arc<Capture>,
    mut source: Box<dyn Source>,
    stop: Arc<AtomicBool>,
    health_to: Option<SyncSender<PublishMsg>>,
    clock: Arc<dyn Clock>,
    mut prepare: Option<Box<dyn Prepare>>,
) -> std::io::Result<JoinHandle<CaptureEnd>> {
    let name = format!("cam-{}", capture.settings.camera);
    std::thread::Builder::new().name(name).spawn(move || {
        let camera = capture.settings.camera.clone();
        let now = || clock.now();
        let mut on_health = |change| {
            if let Some(tx) = &health_to {
                let _ = tx.send(PublishMsg::Health {
                    camera: camera.clone(),
                    change,
                });
            }
        };
        capture.run(
            source.as_mut(),
            &stop,
            &now,
            &mut on_health,
            prepare.as_deref_mut().map(|p| p as &mut dyn Prepare),
        )
    })
}

/// Start a publish worker on its own thread (the detections replay, which has no
/// detector worker).
pub fn spawn_publisher(
    publish: PublishWorker,
) -> std::io::Result<(SyncSender<PublishMsg>, JoinHandle<PublishSummary>)> {
    let (tx, rx) = sync_channel(PUBLISH_QUEUE);
    let h = std::thread::Builder::new()
        .name("publish".into())
        .spawn(move || publish.run(rx))?;
    Ok((tx, h))
}
