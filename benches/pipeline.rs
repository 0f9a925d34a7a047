//! Criterion benchmarks of the hot loop, per stage, on a real vtest.avi frame:
//! preprocess (768×576 BGR → 416² tensor), inference, decode + NMS, a tracker update
//! with 50 objects, and a whole frame without inference.
//!
//! Needs ORT_DYLIB_PATH (run through `make bench`, which sets it).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};

use wardwatch::analytics::CameraAnalytics;
use wardwatch::config::Config;
use wardwatch::detect::{Detector, DetectorSettings};
use wardwatch::media::source::{FileSource, Frame};
use wardwatch::track::{Tracker, TrackerConfig};
use wardwatch::types::{BBox, Detection, ObjectClass};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn frame_200() -> Frame {
    let mut src = FileSource::open(&repo().join("data/vtest.avi"), Timestamp::UNIX_EPOCH, None)
        .expect("data/vtest.avi: run `make setup`");
    let mut f = Frame::default();
    for _ in 0..=200 {
        assert!(src.read(&mut f).unwrap());
    }
    f
}

fn detector() -> Detector {
    assert!(
        std::env::var_os("ORT_DYLIB_PATH").is_some(),
        "set ORT_DYLIB_PATH (use `make bench`)"
    );
    Detector::load(DetectorSettings::nanodet(
        repo().join("models/nanodet-g-416.onnx"),
    ))
    .unwrap()
}

/// 50 people on a 10×5 grid, drifting right by `step` px.
fn fifty(step: f32) -> Vec<Detection> {
    (0..50)
        .map(|i| {
            let x = 20.0 + (i % 10) as f32 * 70.0 + step;
            let y = 100.0 + (i / 10) as f32 * 90.0;
            Detection {
                bbox: BBox::new(x, y, x + 30.0, y + 80.0),
                score: 0.8,
                class: ObjectClass::Person,
                label: 0,
            }
        })
        .collect()
}

fn stages(c: &mut Criterion) {
    let frame = frame_200();
    let mut det = detector();
    let raw = det.capture_raw(&frame.image).unwrap();

    c.bench_function("preprocess 768x576 -> 416x416 tensor", |b| {
        b.iter(|| det.preprocess(black_box(&frame.image)).unwrap())
    });
    det.preprocess(&frame.image).unwrap();
    let mut g = c.benchmark_group("inference");
    g.sample_size(30);
    g.bench_function("nanodet-g-416 inference (ort, 2 threads)", |b| {
        b.iter(|| det.infer_only().unwrap())
    });
    g.finish();
    c.bench_function("decode + NMS (nanodet, 3549 cells)", |b| {
        b.iter(|| black_box(det.decode_raw(black_box(&raw)).unwrap().len()))
    });

    let mut tracker = Tracker::new(TrackerConfig::default());
    let t0 = Timestamp::from_second(1_800_000_000).unwrap();
    let mut i = 0i64;
    c.bench_function("tracker update, 50 objects", |b| {
        b.iter(|| {
            i += 1;
            let ts = t0 + SignedDuration::from_millis(200 * i);
            let dets = fifty((i % 40) as f32);
            black_box(tracker.update(ts, &dets).len())
        })
    });

    let cfg = Config::load(&repo().join("config/demo.toml")).unwrap();
    let mut pipeline = CameraAnalytics::new(cfg.analytics(&cfg.cameras[0]));
    let mut n = 0i64;
    c.bench_function(
        "whole frame without inference (preprocess + decode + track + rules)",
        |b| {
            b.iter(|| {
                n += 1;
                det.preprocess(&frame.image).unwrap();
                let dets = det.decode_raw(&raw).unwrap().to_vec();
                let ts = t0 + SignedDuration::from_millis(200 * n);
                black_box(pipeline.step_incidents(ts, (768, 576), &dets).len())
            })
        },
    );
}

criterion_group!(benches, stages);
criterion_main!(benches);
