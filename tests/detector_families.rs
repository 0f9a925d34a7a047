//! YOLOv8/YOLO11 and YOLOX decoders through the real ONNX Runtime, on tiny generated
//! ONNX graphs whose outputs are known constants (tools/make_test_models.py). Decoding
//! must give exactly the planted boxes; a model that does not fit its family is refused.

mod support;

use opencv::core::{CV_8UC3, Mat, Scalar};
use wardwatch::detect::{Detector, DetectorSettings, Family, NightMode, Resize};
use wardwatch::types::ObjectClass;

fn fixture(name: &str) -> std::path::PathBuf {
    support::repo().join("tests/fixtures/models").join(name)
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

fn frame(w: i32, h: i32) -> Mat {
    Mat::new_rows_cols_with_default(h, w, CV_8UC3, Scalar::all(50.0)).unwrap()
}

/// Boxes of case 0 (all three classes, threshold 0.35), mapped input px → frame px.
fn expected_boxes(family: &str, map: impl Fn(f64, f64) -> (f64, f64)) -> Vec<(u16, [f64; 4], f64)> {
    let e = expected();
    let case = &e[family]["cases"][0];
    assert_eq!(case["classes"], serde_json::json!([0, 1, 2]));
    let mut v: Vec<(u16, [f64; 4], f64)> = case["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let (x1, y1) = map(b["x1"].as_f64().unwrap(), b["y1"].as_f64().unwrap());
            let (x2, y2) = map(b["x2"].as_f64().unwrap(), b["y2"].as_f64().unwrap());
            (
                b["label"].as_u64().unwrap() as u16,
                [x1, y1, x2, y2],
                b["score"].as_f64().unwrap(),
            )
        })
        .collect();
    v.sort_by(|a, b| b.2.total_cmp(&a.2));
    v
}

fn check(det: &mut Detector, img: &Mat, want: &[(u16, [f64; 4], f64)]) {
    let got = det.detect(img).unwrap().to_vec();
    assert_eq!(got.len(), want.len(), "got {got:?}\nwant {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.label, w.0);
        let b = [
            g.bbox.x1 as f64,
            g.bbox.y1 as f64,
            g.bbox.x2 as f64,
            g.bbox.y2 as f64,
        ];
        for i in 0..4 {
            assert!((b[i] - w.1[i]).abs() < 1e-3, "box {b:?} vs {:?}", w.1);
        }
        assert!((g.score as f64 - w.2).abs() < 1e-4);
        let class = if g.label == 0 {
            ObjectClass::Person
        } else {
            ObjectClass::Vehicle
        };
        assert_eq!(g.class, class);
    }
}

#[test]
fn yolov8_decodes_planted_boxes_and_reads_metadata() {
    support::require_runtime();
    let mut s = DetectorSettings::for_family(Family::Yolov8, fixture("tiny_yolov8.onnx"));
    // The test frame is flat grey: the night profile would apply its lower vehicle
    // thresholds, and this test is about the decoder at the plain threshold.
    s.night.mode = NightMode::Off;
    let mut det = Detector::load(s).unwrap();
    assert_eq!(det.input_size(), (64, 64));
    assert_eq!(det.num_classes(), 3);
    // Class names from the ONNX metadata: person, bicycle, car.
    assert_eq!(
        det.classes().entries(),
        &[
            (0, ObjectClass::Person),
            (1, ObjectClass::Vehicle),
            (2, ObjectClass::Vehicle)
        ]
    );
    check(
        &mut det,
        &frame(64, 64),
        &expected_boxes("yolov8", |x, y| (x, y)),
    );
    // Letterbox: 128×96 → scale 0.5 into 64×48, padded 8 px top and bottom.
    check(
        &mut det,
        &frame(128, 96),
        &expected_boxes("yolov8", |x, y| (x / 0.5, (y - 8.0) / 0.5)),
    );
}

#[test]
fn yolox_decodes_planted_boxes() {
    support::require_runtime();
    let mut s = DetectorSettings::for_family(Family::Yolox, fixture("tiny_yolox.onnx"));
    s.night.mode = NightMode::Off; // flat grey test frame, see the yolov8 test
    s.classes = Some(wardwatch::detect::ClassMap::new(vec![
        (0, ObjectClass::Person),
        (1, ObjectClass::Vehicle),
        (2, ObjectClass::Vehicle),
    ]));
    let mut det = Detector::load(s.clone()).unwrap();
    check(
        &mut det,
        &frame(64, 64),
        &expected_boxes("yolox", |x, y| (x, y)),
    );
    s.resize = Resize::Stretch;
    let mut det = Detector::load(s).unwrap();
    check(
        &mut det,
        &frame(128, 96),
        &expected_boxes("yolox", |x, y| (x * 2.0, y * 1.5)),
    );
}

#[test]
fn model_that_does_not_fit_its_family_is_refused() {
    support::require_runtime();
    let path = fixture("tiny_wrong_shape.onnx");
    for family in [Family::Yolov8, Family::Yolox, Family::Nanodet] {
        let err = Detector::load(DetectorSettings::for_family(family, &path))
            .err()
            .expect("refused");
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("model file {}: ", path.display())),
            "{msg}"
        );
        assert!(
            msg.contains("[1, 7]") || msg.contains("[[1, 7]]"),
            "names the shape: {msg}"
        );
    }
    // The shipped NanoDet declared as yolov8 is refused too, never decoded as garbage.
    let nanodet = support::repo().join("models/nanodet-g-416.onnx");
    let err = Detector::load(DetectorSettings::for_family(Family::Yolov8, &nanodet))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("has 6 outputs"), "{err}");
}
