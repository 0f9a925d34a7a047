//! The runtime chain (capture thread → detector worker → publish worker) driven directly,
//! with the real model on real vtest.avi frames, for the orderings a loaded machine
//! produces: a camera that arrives after the worker started, and a worker that stops
//! while a capture waits to hand over a frame. Both used to hang forever.

mod support;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wardwatch::analytics::{AnalyticsSettings, CameraAnalytics};
use wardwatch::clock::{Clock, SystemClock};
use wardwatch::detect::{Detector, DetectorSettings};
use wardwatch::media::capture::{Capture, CaptureEnd, CaptureSettings, Delivery, FrameSlot};
use wardwatch::media::source::FileSource;
use wardwatch::publish::document::{Event, HealthDoc};
use wardwatch::runtime::publisher::{Console, PublishWorker};
use wardwatch::runtime::worker::{WorkerCmd, WorkerOptions};
use wardwatch::runtime::{Chain, spawn_capture};

struct Count(Arc<Mutex<u64>>);

impl Console for Count {
    fn event(&mut self, _ev: &Event) {
        *self.0.lock().unwrap() += 1;
    }
    fn health(&mut self, _doc: &HealthDoc) {}
}

fn chain(opts: WorkerOptions) -> Chain {
    let detector = Detector::load(DetectorSettings::nanodet(
        support::repo().join("models/nanodet-g-416.onnx"),
    ))
    .expect("model loads");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let publish = PublishWorker {
        site: "test".into(),
        tz: jiff::tz::TimeZone::UTC,
        language: Default::default(),
        evidence: None,
        publisher: None,
        console: Box::new(Count(Arc::default())),
        clock: clock.clone(),
        metrics: None,
        hub: None,
    };
    Chain::start(detector, publish, None, clock, opts, false).expect("threads start")
}

fn analytics() -> Box<CameraAnalytics> {
    Box::new(CameraAnalytics::new(AnalyticsSettings {
        camera_id: "cam".into(),
        calibration: None,
        tracker: Default::default(),
        filter: Default::default(),
        zones: Vec::new(),
    }))
}

/// Join `h` within `limit`, or fail the test naming what hung.
fn join_within<T: Send + 'static>(h: std::thread::JoinHandle<T>, limit: Duration, what: &str) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(h.join());
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r.unwrap_or_else(|_| panic!("{what} panicked")),
        Err(_) => panic!("{what} did not return within {limit:?}: the chain hangs"),
    }
}

#[test]
fn a_camera_added_after_the_worker_started_is_served_to_the_end_of_its_file() {
    support::require_runtime();
    let mut chain = chain(WorkerOptions {
        exit_when_idle: true,
        max_frames: None,
        batch: 1,
        ..WorkerOptions::default()
    });
    // The worker is idle with no camera; it must wait for one rather than return.
    std::thread::sleep(Duration::from_millis(300));
    let slot = FrameSlot::new(chain.doorbell.clone());
    let capture = Arc::new(Capture::new(
        CaptureSettings::new("cam", 1.0, Delivery::Every),
        slot.clone(),
    ));
    chain
        .worker_tx
        .send(WorkerCmd::Add {
            camera: "cam".into(),
            slot: slot.clone(),
            analytics: analytics(),
            gate: None,
        })
        .unwrap();
    let source = FileSource::open(&support::vtest(), jiff::Timestamp::UNIX_EPOCH, None).unwrap();
    let frames = source.frame_count().unwrap();
    let h = spawn_capture(
        capture,
        Box::new(source),
        Arc::new(AtomicBool::new(false)),
        None,
        Arc::new(SystemClock),
        None,
    )
    .unwrap();
    let end = join_within(h, Duration::from_secs(120), "the capture thread");
    assert!(
        matches!(end, CaptureEnd::EndOfStream { frames: n } if n + 2 >= frames),
        "{end:?} (file has {frames} frames)"
    );
    let worker = chain.join_worker();
    assert!(worker.is_some(), "the worker returned its detector");
    let due = slot.counters.due.load(std::sync::atomic::Ordering::Relaxed);
    let analysed = chain.stats.lock().unwrap().totals.analysed;
    assert!(due > 10, "frames were sampled: {due}");
    assert_eq!(
        analysed, due,
        "every due frame was analysed (replays drop none)"
    );
    chain.finish();
}

#[test]
fn a_capture_waiting_on_a_worker_that_stopped_stops_too() {
    support::require_runtime();
    let mut chain = chain(WorkerOptions {
        exit_when_idle: true,
        max_frames: Some(3),
        batch: 1,
        ..WorkerOptions::default()
    });
    let slot = FrameSlot::new(chain.doorbell.clone());
    let capture = Arc::new(Capture::new(
        CaptureSettings::new("cam", 0.0, Delivery::Every),
        slot.clone(),
    ));
    chain
        .worker_tx
        .send(WorkerCmd::Add {
            camera: "cam".into(),
            slot: slot.clone(),
            analytics: analytics(),
            gate: None,
        })
        .unwrap();
    let source = FileSource::open(&support::vtest(), jiff::Timestamp::UNIX_EPOCH, None).unwrap();
    let h = spawn_capture(
        capture,
        Box::new(source),
        Arc::new(AtomicBool::new(false)),
        None,
        Arc::new(SystemClock),
        None,
    )
    .unwrap();
    assert!(chain.join_worker().is_some(), "worker stops after 3 frames");
    // Nobody takes frames any more and nobody set `stop`: the capture must notice.
    let end = join_within(h, Duration::from_secs(30), "the capture thread");
    assert!(matches!(end, CaptureEnd::Stopped), "{end:?}");
    assert_eq!(chain.stats.lock().unwrap().totals.analysed, 3);
    chain.finish();
}

/// Motion gating in the chain, on a real still clip (the empty street of the scenario
/// videos, 60 identical frames at 10 fps, every frame due): the first frame is inferred,
/// then inference is skipped until `max_skip` (1 s of frame time) is up, so exactly one
/// frame in ten is inferred and every frame is still analysed. A clip where something
/// moves in every frame (vtest.avi) is inferred on every frame it moves.
#[test]
fn motion_gating_skips_a_still_scene_but_infers_every_max_skip() {
    use opencv::prelude::*;
    use wardwatch::media::motion::{MotionGate, MotionSettings};
    use wardwatch::runtime::prepare::FramePrep;
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let still = dir.path().join("still.avi");
    let bg = opencv::imgcodecs::imread(
        support::repo()
            .join("tests/fixtures/background.png")
            .display()
            .to_string()
            .as_str(),
        opencv::imgcodecs::IMREAD_COLOR,
    )
    .unwrap();
    assert!(!bg.empty(), "background fixture loads");
    let mut wr = opencv::videoio::VideoWriter::new(
        still.display().to_string().as_str(),
        opencv::videoio::VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap(),
        10.0,
        bg.size().unwrap(),
        true,
    )
    .unwrap();
    for _ in 0..60 {
        wr.write(&bg).unwrap();
    }
    drop(wr);
    let run = |video: &std::path::Path, frames: u64| {
        let mut chain = chain(WorkerOptions {
            exit_when_idle: true,
            max_frames: Some(frames),
            batch: 1,
            ..WorkerOptions::default()
        });
        let slot = FrameSlot::new(chain.doorbell.clone());
        let capture = Arc::new(Capture::new(
            CaptureSettings::new("cam", 0.0, Delivery::Every),
            slot.clone(),
        ));
        let settings = MotionSettings::default();
        let width = settings.width;
        chain
            .worker_tx
            .send(WorkerCmd::Add {
                camera: "cam".into(),
                slot: slot.clone(),
                analytics: analytics(),
                gate: Some(Box::new(MotionGate::new(settings, Vec::new()))),
            })
            .unwrap();
        let source = FileSource::open(video, jiff::Timestamp::UNIX_EPOCH, None).unwrap();
        let prep = FramePrep::new(Some(chain.preprocessor.clone()), Some(width));
        let h = spawn_capture(
            capture,
            Box::new(source),
            Arc::new(AtomicBool::new(false)),
            None,
            Arc::new(SystemClock),
            Some(Box::new(prep)),
        )
        .unwrap();
        assert!(chain.join_worker().is_some());
        let _ = join_within(h, Duration::from_secs(30), "the capture thread");
        let t = chain.stats.lock().unwrap().totals.clone();
        chain.finish();
        t
    };
    let t = run(&still, 60);
    println!(
        "still clip: {} analysed, {} inferred, {} skipped",
        t.analysed, t.inferred, t.skipped
    );
    assert_eq!(t.analysed, 60, "every frame is analysed");
    assert_eq!(t.inferred + t.skipped, 60);
    assert_eq!(
        t.inferred, 6,
        "frames 0, 10, 20, …: one inference per max_skip of 1 s"
    );
    let t = run(&support::vtest(), 100);
    println!(
        "vtest.avi: {} analysed, {} inferred, {} skipped",
        t.analysed, t.inferred, t.skipped
    );
    assert_eq!(t.analysed, 100);
    assert!(
        t.inferred >= 95,
        "people walk in nearly every frame of vtest.avi: {t:?}"
    );
}
