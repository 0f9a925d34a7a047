//! The shipped model through the real ONNX Runtime on real vtest.avi frames, compared
//! with an independent Python/onnxruntime decode (tools/reference_decode.py, output
//! stored in tests/fixtures/vtest_reference.json).

mod support;

use std::path::PathBuf;

use wardwatch::detect::{DetectError, Detector, DetectorSettings};
use wardwatch::media::source::{FileSource, Frame};

fn model() -> PathBuf {
    support::repo().join("models/nanodet-g-416.onnx")
}

#[derive(serde::Deserialize)]
struct RefDet {
    label: u16,
    score: f32,
    #[serde(rename = "box")]
    bbox: [f64; 4],
}

#[test]
fn boxes_match_reference_decode_within_one_pixel() {
    support::require_runtime();
    let text = std::fs::read_to_string(support::repo().join("tests/fixtures/vtest_reference.json"))
        .unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let frames = reference["frames"].as_object().unwrap();
    let mut det = Detector::load(DetectorSettings::nanodet(model())).expect("model loads");
    assert_eq!(det.input_size(), (416, 416));
    assert_eq!(det.num_classes(), 80);

    let mut src = FileSource::open(&support::vtest(), jiff::Timestamp::UNIX_EPOCH, None).unwrap();
    let mut frame = Frame::default();
    let mut compared = 0;
    while src.read(&mut frame).unwrap() {
        let Some(expected) = frames.get(&frame.meta.index.to_string()) else {
            continue;
        };
        let expected: Vec<RefDet> = serde_json::from_value(expected.clone()).unwrap();
        let got = det.detect(&frame.image).unwrap().to_vec();
        assert_eq!(
            got.len(),
            expected.len(),
            "frame {}: {} boxes, reference has {}",
            frame.meta.index,
            got.len(),
            expected.len()
        );
        for e in &expected {
            // Pair by label and nearest box.
            let best = got
                .iter()
                .filter(|g| g.label == e.label)
                .map(|g| {
                    let d = [
                        g.bbox.x1 as f64 - e.bbox[0],
                        g.bbox.y1 as f64 - e.bbox[1],
                        g.bbox.x2 as f64 - e.bbox[2],
                        g.bbox.y2 as f64 - e.bbox[3],
                    ];
                    (d.iter().fold(0f64, |m, v| m.max(v.abs())), g)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap_or_else(|| {
                    panic!("frame {}: no box of label {}", frame.meta.index, e.label)
                });
            assert!(
                best.0 <= 1.0,
                "frame {}: label {} box {:?} differs by {:.3} px from reference {:?}",
                frame.meta.index,
                e.label,
                best.1.bbox,
                best.0,
                e.bbox
            );
            assert!(
                (best.1.score - e.score).abs() < 0.01,
                "score {} vs {}",
                best.1.score,
                e.score
            );
        }
        compared += 1;
    }
    assert_eq!(compared, frames.len(), "every reference frame was compared");
}

#[test]
fn missing_model_is_a_clear_error() {
    support::require_runtime();
    let err = Detector::load(DetectorSettings::nanodet("/nonexistent/nanodet.onnx"))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "model file /nonexistent/nanodet.onnx: not found. Check model.path in the config (relative paths are relative to the working directory), or run `make setup`"
    );
}

#[test]
fn truncated_model_is_refused_at_load() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.onnx");
    let bytes = std::fs::read(model()).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    let err = Detector::load(DetectorSettings::nanodet(&path))
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(matches!(err, DetectError::Model { .. }), "{msg}");
    assert!(
        msg.starts_with(&format!(
            "model file {}: ONNX Runtime cannot load it (",
            path.display()
        )),
        "{msg}"
    );
    assert!(msg.ends_with("The file is probably truncated or not an ONNX model: restore it with `git checkout models/` or rebuild it with models/convert.sh"), "{msg}");
}

#[test]
fn empty_model_is_refused() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.onnx");
    std::fs::write(&path, b"").unwrap();
    let err = Detector::load(DetectorSettings::nanodet(&path))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "model file {}: is empty. Restore it with `git checkout models/` or rebuild it with models/convert.sh",
            path.display()
        )
    );
}

#[test]
fn missing_runtime_library_is_a_clear_error() {
    let mut s = DetectorSettings::nanodet(model());
    s.runtime_library = Some("/nonexistent/libonnxruntime.so".into());
    let err = Detector::load(s).err().unwrap();
    assert_eq!(
        err.to_string(),
        "ONNX Runtime library /nonexistent/libonnxruntime.so: no such file. Run `make setup` (it installs it into .venv), or set model.runtime_library / ORT_DYLIB_PATH to a libonnxruntime.so of version 1.17 or newer"
    );
}

#[test]
fn missing_execution_provider_falls_back_or_fails_as_configured() {
    use wardwatch::detect::{ExecutionProvider, Fallback};
    support::require_runtime();
    // PyPI's plain onnxruntime has only the CPU provider.
    let mut s = DetectorSettings::nanodet(model());
    s.provider.provider = ExecutionProvider::Cuda;
    s.provider.fallback = Fallback::Cpu;
    let det = Detector::load(s.clone()).expect("falls back to the CPU");
    assert_eq!(det.provider(), "cpu");

    s.provider.fallback = Fallback::Fail;
    s.provider.provider = ExecutionProvider::OpenVino;
    let err = Detector::load(s).err().expect("refused");
    assert_eq!(
        err.to_string(),
        "model.execution_provider: execution provider \"openvino\" (OpenVINOExecutionProvider) is not in the loaded ONNX Runtime library; install a build that has it (PyPI onnxruntime-gpu for cuda/tensorrt, onnxruntime-openvino for openvino, or the Jetson build) and point model.runtime_library at its libonnxruntime.so (or set model.fallback = \"cpu\")"
    );
}

/// The dynamic-batch copy (`make setup` builds it with models/make_dynamic.py): four
/// vtest frames in one batched run give exactly the boxes the shipped model gives frame by
/// frame, and inputs prepared by the detached preprocessor (as the capture threads do)
/// give the same boxes as the detector preprocessing itself.
#[test]
fn batched_and_prepared_inputs_give_the_same_boxes_as_one_by_one() {
    support::require_runtime();
    let dynamic = support::repo().join("models/nanodet-g-416-dynamic.onnx");
    assert!(
        dynamic.is_file(),
        "{} is missing: run `make setup` (scripts/setup.sh makes it from the shipped model)",
        dynamic.display()
    );
    let mut single = Detector::load(DetectorSettings::nanodet(model())).unwrap();
    assert!(
        !single.batches(),
        "the shipped model has a fixed batch of 1"
    );
    let mut batched = Detector::load(DetectorSettings::nanodet(&dynamic)).unwrap();
    assert!(batched.batches(), "the dynamic copy takes a batch");
    let mut src = FileSource::open(&support::vtest(), jiff::Timestamp::UNIX_EPOCH, None).unwrap();
    let mut frames = Vec::new();
    let mut frame = Frame::default();
    while src.read(&mut frame).unwrap() {
        if [0, 200, 400, 600].contains(&frame.meta.index) {
            frames.push(frame.image.clone());
        }
    }
    assert_eq!(frames.len(), 4);
    let mut pre = batched.preprocessor();
    let mut inputs = vec![Vec::new(); 4];
    for (img, input) in frames.iter().zip(inputs.iter_mut()) {
        pre.run(img, input).unwrap();
    }
    let one_by_one: Vec<Vec<_>> = frames
        .iter()
        .map(|f| single.detect(f).unwrap().to_vec())
        .collect();
    let prepared: Vec<Vec<_>> = frames
        .iter()
        .zip(&inputs)
        .map(|(f, i)| single.detect_prepared(f, i, pre.id()).unwrap().to_vec())
        .collect();
    assert_eq!(
        prepared, one_by_one,
        "prepared on another thread = prepared here"
    );
    let items: Vec<_> = frames
        .iter()
        .zip(&inputs)
        .map(|(f, i)| (f, i.as_slice(), pre.id()))
        .collect();
    let together = batched.detect_batch(&items).unwrap().to_vec();
    assert_eq!(together.len(), 4);
    for (k, (a, b)) in one_by_one.iter().zip(&together).enumerate() {
        assert!(!a.is_empty(), "frame {k} has people");
        assert_eq!(a.len(), b.len(), "frame {k}: same number of boxes");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.label, y.label);
            let d = (x.bbox.x1 - y.bbox.x1).abs()
                + (x.bbox.y1 - y.bbox.y1).abs()
                + (x.bbox.x2 - y.bbox.x2).abs()
                + (x.bbox.y2 - y.bbox.y2).abs();
            assert!(
                d < 0.01 && (x.score - y.score).abs() < 1e-4,
                "frame {k}: {x:?} vs {y:?}"
            );
        }
    }
    // An input made for another preprocessing is not trusted: the frame is preprocessed
    // again, with the same result.
    let again = single
        .detect_prepared(&frames[1], &inputs[1], 12345)
        .unwrap()
        .to_vec();
    assert_eq!(again, one_by_one[1]);
}

/// A vtest frame made into an infrared-like night picture: grey, dark, low contrast.
fn night_copy(day: &opencv::core::Mat) -> opencv::core::Mat {
    use opencv::prelude::*;
    use opencv::{core, imgproc};
    let mut grey = core::Mat::default();
    imgproc::cvt_color_def(day, &mut grey, imgproc::COLOR_BGR2GRAY).unwrap();
    let mut dark = core::Mat::default();
    grey.convert_to(&mut dark, -1, 0.45, 15.0).unwrap();
    let mut out = core::Mat::default();
    imgproc::cvt_color_def(&dark, &mut out, imgproc::COLOR_GRAY2BGR).unwrap();
    out
}

#[test]
fn night_profile_switches_per_frame_and_equalises() {
    use opencv::prelude::*;
    use wardwatch::detect::{NightMode, Preprocessor};
    support::require_runtime();
    let mut src = FileSource::open(&support::vtest(), jiff::Timestamp::UNIX_EPOCH, None).unwrap();
    let mut frame = Frame::default();
    assert!(src.read(&mut frame).unwrap());
    let day = frame.image.clone();
    let night = night_copy(&day);
    let det = Detector::load(DetectorSettings::nanodet(model())).unwrap();
    let mut pre = det.preprocessor();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    pre.run(&day, &mut a).unwrap();
    assert_eq!(
        pre.input_id(),
        pre.id(),
        "vtest by day is not a night frame"
    );
    assert!(!Preprocessor::is_night(pre.input_id()));
    pre.run(&night, &mut b).unwrap();
    assert!(
        Preprocessor::is_night(pre.input_id()),
        "a grey, dark frame is a night one"
    );
    assert!(pre.accepts(pre.input_id()));
    // Equalised: the night input spreads over about the day input's range; unequalised it
    // stays squeezed into the dark tone range.
    let spread = |v: &[f32]| {
        let (lo, hi) = v
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        hi - lo
    };
    let mut plain = DetectorSettings::nanodet(model());
    plain.night.equalize = false;
    let plain = Detector::load(plain).unwrap();
    let mut pre_plain = plain.preprocessor();
    let mut c = Vec::new();
    pre_plain.run(&night, &mut c).unwrap();
    assert!(Preprocessor::is_night(pre_plain.input_id()));
    assert!(
        spread(&b) > 1.8 * spread(&c),
        "equalised {} vs plain {}",
        spread(&b),
        spread(&c)
    );
    // mode = "off" never switches, "on" always does.
    for (mode, want) in [(NightMode::Off, false), (NightMode::On, true)] {
        let mut s = DetectorSettings::nanodet(model());
        s.night.mode = mode;
        let d = Detector::load(s).unwrap();
        let mut p = d.preprocessor();
        let mut v = Vec::new();
        for img in [&day, &night] {
            p.run(img, &mut v).unwrap();
            let _ = img.rows();
            assert_eq!(Preprocessor::is_night(p.input_id()), want, "{mode:?}");
        }
    }
    // A detector takes either input of its own preprocessing, and refuses a stranger's.
    let mut det = det;
    let n = det
        .detect_prepared(&night, &b, pre.input_id())
        .unwrap()
        .len();
    let again = det.detect(&night).unwrap().len();
    assert_eq!(n, again, "prepared and self-prepared night inputs agree");
}

#[test]
fn per_label_thresholds_are_checked_against_the_model_labels() {
    support::require_runtime();
    let mut s = DetectorSettings::nanodet(model());
    s.score_thresholds = vec![("motorbike".into(), 0.2)];
    let e = Detector::load(s)
        .err()
        .expect("unknown label refused")
        .to_string();
    assert!(
        e.contains("model.score_thresholds names \"motorbike\", which is not one of the labels wardwatch keeps from this model (person, bicycle, car, motorcycle, bus, truck)"),
        "{e}"
    );
    let mut s = DetectorSettings::nanodet(model());
    s.night.score_thresholds = vec![("Motorcycle".into(), 0.2), ("person".into(), 0.3)];
    Detector::load(s).expect("names match case-insensitively");
    // A fixed-size model refuses another input size.
    let mut s = DetectorSettings::nanodet(model());
    s.input_size = Some((512, 512));
    let e = Detector::load(s).err().expect("fixed input").to_string();
    assert!(
        e.contains("has a fixed input of 416x416, so model.input_size = [512, 512] cannot apply"),
        "{e}"
    );
}
