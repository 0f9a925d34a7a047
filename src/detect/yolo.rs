//! Decoders for integrator-supplied YOLO models, over the raw output slice of the
//! session (no copies, no allocation):
//!
//! * **yolov8** — Ultralytics YOLOv8 / YOLO11 ONNX export: one output `[1, 4+nc, N]`,
//!   channel-major: rows `cx, cy, w, h` (model-input pixels), then `nc` class scores
//!   (already sigmoid). No objectness.
//! * **yolox** — official YOLOX ONNX export: one output `[1, N, 5+nc]`, one row per
//!   anchor point: `x, y, w, h, objectness, nc class scores` (scores already sigmoid).
//!   Without `--decode_in_inference` the box is grid-relative (`decoded == false`),
//!   anchors ordered stride 8, 16, 32, row-major (x fastest) within a level:
//!   `cx = (x + gx)·s`, `cy = (y + gy)·s`, `w = eᵂ·s`, `h = eʰ·s`. Score = obj × cls.
//!
//! Both append candidates — best wanted class (among `classes.entries()`, first entry
//! wins a tie) with score ≥ `params.score_threshold` — mapped to frame pixels through
//! an [`InputMap`]. Boxes are not clipped to the frame. NMS is the caller's job.
//! Candidates whose box is not finite are dropped. Sizes that do not fit return `Err`,
//! never panic.

use crate::types::{BBox, Detection};

use super::letterbox::InputMap;
use super::{ClassMap, DecodeParams};

/// Strides of the YOLOX (and Ultralytics P3–P5) heads, in output order.
pub const YOLOX_STRIDES: [usize; 3] = [8, 16, 32];

/// Number of anchor points of a stride-8/16/32 head on an `input_w × input_h` input
/// (each grid is `ceil(size / stride)`, as stride-2 convolutions give): 8400 for 640×640,
/// 3549 for 416×416.
pub fn yolox_anchor_count(input_w: usize, input_h: usize) -> usize {
    YOLOX_STRIDES
        .iter()
        .map(|&s| input_w.div_ceil(s) * input_h.div_ceil(s))
        .sum()
}

/// Check a YOLOv8/YOLO11 output shape `[1, 4+nc, N]`; returns `(nc, N)`.
///
/// An output whose class axis would be longer than its anchor axis is refused as
/// transposed (`[1, N, 4+nc]`, as some third-party exports write it): decoding it as
/// channel-major would give garbage boxes.
pub fn check_yolov8_shape(shape: &[i64]) -> Result<(usize, usize), String> {
    let base = || format!("family yolov8 expects one output [1, 4+classes, N], got {shape:?}");
    match *shape {
        [1, c, n] if c > 4 && n > 0 => {
            if c > n {
                return Err(format!(
                    "{}: it looks transposed ([1, N, 4+classes]); export with Ultralytics (`yolo export format=onnx`), which writes [1, 4+classes, N]",
                    base()
                ));
            }
            Ok(((c - 4) as usize, n as usize))
        }
        _ => Err(base()),
    }
}

/// Check a YOLOX output shape `[1, N, 5+nc]` with `N` = anchor points of a stride
/// 8/16/32 head on `input_w × input_h`; returns `(nc, N)`.
pub fn check_yolox_shape(
    shape: &[i64],
    input_w: usize,
    input_h: usize,
) -> Result<(usize, usize), String> {
    let n = yolox_anchor_count(input_w, input_h);
    match *shape {
        [1, nn, c] if c > 5 && n > 0 && nn == n as i64 => Ok(((c - 5) as usize, n)),
        _ => Err(format!(
            "family yolox expects [1, N, 5+classes] with N = {n} for a {input_w}x{input_h} input, got {shape:?}"
        )),
    }
}

/// `[1, N, 5+nc]` with any N (boxes already decoded: no grid to match).
fn check_yolox_decoded_shape(shape: &[i64]) -> Result<(usize, usize), String> {
    match *shape {
        [1, n, c] if c > 5 && n > 0 => Ok(((c - 5) as usize, n as usize)),
        _ => Err(format!(
            "family yolox expects [1, N, 5+classes], got {shape:?}"
        )),
    }
}

fn check_len(family: &str, out: &[f32], shape: &[i64], a: usize, b: usize) -> Result<(), String> {
    match a.checked_mul(b) {
        Some(need) if need == out.len() => Ok(()),
        _ => Err(format!(
            "{family} output has {} values, but its shape {shape:?} needs {}",
            out.len(),
            a as u128 * b as u128
        )),
    }
}

fn check_labels(classes: &ClassMap, nc: usize) -> Result<(), String> {
    match classes.entries().iter().find(|(l, _)| *l as usize >= nc) {
        Some((l, _)) => Err(format!(
            "the class map uses label {l} but the model has {nc} classes"
        )),
        None => Ok(()),
    }
}

/// Box in model-input pixels (centre, size) → frame pixels; `None` if not finite.
#[inline]
fn to_frame_box(map: &InputMap, cx: f32, cy: f32, w: f32, h: f32) -> Option<BBox> {
    let (x1, y1) = map.to_frame(cx - 0.5 * w, cy - 0.5 * h);
    let (x2, y2) = map.to_frame(cx + 0.5 * w, cy + 0.5 * h);
    (x1.is_finite() && y1.is_finite() && x2.is_finite() && y2.is_finite())
        .then(|| BBox::new(x1, y1, x2, y2))
}

/// Anchors per block of the yolov8 scan: the block's run of every wanted class row
/// (`BLOCK` contiguous floats each) stays in L1 while the per-anchor maxima are built.
const BLOCK: usize = 256;

/// Decode an Ultralytics YOLOv8/YOLO11 output `[1, 4+nc, N]` (channel-major); see the
/// module docs. Appends to `out_dets`.
///
/// Works through the anchors in blocks: each wanted class row's contiguous run updates
/// the block's per-anchor maximum (a branch-free `maxps` loop); only anchors whose
/// maximum reaches the threshold look up which class it was. No allocation.
/// (Measured faster than a per-anchor loop or a per-row threshold scan; with all 80
/// classes wanted it is bound by reading the scores once.)
pub fn decode_yolov8(
    out: &[f32],
    shape: &[i64],
    params: &DecodeParams,
    classes: &ClassMap,
    map: &InputMap,
    out_dets: &mut Vec<Detection>,
) -> Result<(), String> {
    let (nc, n) = check_yolov8_shape(shape)?;
    check_len("yolov8", out, shape, 4 + nc, n)?;
    check_labels(classes, nc)?;
    let entries = classes.entries();
    // The lowest per-class threshold filters; each class's own is checked after.
    let thr = (0..entries.len())
        .map(|i| classes.min_score(i, params.score_threshold))
        .fold(f32::INFINITY, f32::min);
    let (boxes, scores) = out.split_at(4 * n);
    let mut block_max = [0f32; BLOCK];
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        let block_max = &mut block_max[..len];
        block_max.fill(f32::NEG_INFINITY);
        for &(label, _) in entries {
            let row = &scores[label as usize * n + start..][..len];
            for (m, &s) in block_max.iter_mut().zip(row) {
                // NaN never wins
                *m = if s > *m { s } else { *m };
            }
        }
        for (i, &score) in block_max.iter().enumerate().filter(|(_, s)| **s >= thr) {
            let a = start + i;
            // First wanted class holding the maximum (the first entry wins a tie).
            let Some((k, &(label, class))) = entries
                .iter()
                .enumerate()
                .find(|(_, (l, _))| scores[*l as usize * n + a] == score)
            else {
                continue;
            };
            if score < classes.min_score(k, params.score_threshold) {
                continue;
            }
            if let Some(bbox) = to_frame_box(
                map,
                boxes[a],
                boxes[n + a],
                boxes[2 * n + a],
                boxes[3 * n + a],
            ) {
                out_dets.push(Detection {
                    bbox,
                    score,
                    class,
                    label,
                });
            }
        }
        start += len;
    }
    Ok(())
}

/// Decode a YOLOX output `[1, N, 5+nc]`; see the module docs. `decoded == false`: raw
/// grid-relative boxes of a stride 8/16/32 head on `input_w × input_h` (N must match);
/// `decoded == true`: boxes already `cx, cy, w, h` in input pixels (any N).
/// Appends to `out_dets`.
#[allow(clippy::too_many_arguments)]
pub fn decode_yolox(
    out: &[f32],
    shape: &[i64],
    input_w: usize,
    input_h: usize,
    decoded: bool,
    params: &DecodeParams,
    classes: &ClassMap,
    map: &InputMap,
    out_dets: &mut Vec<Detection>,
) -> Result<(), String> {
    let (nc, n) = if decoded {
        check_yolox_decoded_shape(shape)?
    } else {
        check_yolox_shape(shape, input_w, input_h)?
    };
    let row_len = 5 + nc;
    check_len("yolox", out, shape, n, row_len)?;
    check_labels(classes, nc)?;
    let entries = classes.entries();
    // The lowest per-class threshold filters; each class's own is checked after.
    let thr = (0..entries.len())
        .map(|i| classes.min_score(i, params.score_threshold))
        .fold(f32::INFINITY, f32::min);

    // Score and class of one row, if it passes.
    let score_of = |row: &[f32]| -> Option<(f32, usize)> {
        let obj = row[4];
        // Class scores are sigmoids (≤ 1), so obj × cls ≤ obj: most rows stop here.
        // (A NaN obj or threshold goes on and fails `score >= thr` below.)
        if obj < thr {
            return None;
        }
        // Best wanted class: strictly greater, so the first entry wins a tie and NaN never wins.
        let (mut cls, mut k) = (f32::NEG_INFINITY, 0);
        for (j, &(l, _)) in entries.iter().enumerate() {
            let v = row[5 + l as usize];
            if v > cls {
                (cls, k) = (v, j);
            }
        }
        let score = obj * cls;
        (score >= classes.min_score(k, params.score_threshold)).then_some((score, k))
    };
    let mut push = |score: f32, k: usize, bbox: Option<BBox>| {
        if let Some(bbox) = bbox {
            let (label, class) = entries[k];
            out_dets.push(Detection {
                bbox,
                score,
                class,
                label,
            });
        }
    };

    let mut rows = out.chunks_exact(row_len);
    if decoded {
        for row in rows {
            if let Some((score, k)) = score_of(row) {
                push(score, k, to_frame_box(map, row[0], row[1], row[2], row[3]));
            }
        }
        return Ok(());
    }
    for &stride in &YOLOX_STRIDES {
        let (gw, gh) = (input_w.div_ceil(stride), input_h.div_ceil(stride));
        let s = stride as f32;
        for gy in 0..gh {
            for gx in 0..gw {
                // N was checked against the grids and the length against N.
                let Some(row) = rows.next() else {
                    return Err("yolox output shorter than its grids".into());
                };
                if let Some((score, k)) = score_of(row) {
                    let cx = (row[0] + gx as f32) * s;
                    let cy = (row[1] + gy as f32) * s;
                    let w = row[2].exp() * s;
                    let h = row[3].exp() * s;
                    push(score, k, to_frame_box(map, cx, cy, w, h));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::letterbox::Resize;
    use crate::types::ObjectClass;

    const EXPECTED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/models/expected.json"
    ));

    fn fixture(name: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(EXPECTED).expect("expected.json parses");
        v[name].clone()
    }
    fn f32s(v: &serde_json::Value) -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }
    fn i64s(v: &serde_json::Value) -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect()
    }
    /// Class map for a list of labels: 0 → Person, others → Vehicle.
    fn class_map(v: &serde_json::Value) -> ClassMap {
        ClassMap::new(
            v.as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let l = l.as_u64().unwrap() as u16;
                    (
                        l,
                        if l == 0 {
                            ObjectClass::Person
                        } else {
                            ObjectClass::Vehicle
                        },
                    )
                })
                .collect(),
        )
    }
    fn params(thr: f32) -> DecodeParams {
        DecodeParams {
            score_threshold: thr,
            ..DecodeParams::default()
        }
    }
    fn sorted(mut d: Vec<Detection>) -> Vec<Detection> {
        d.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.bbox.x1.total_cmp(&b.bbox.x1))
        });
        d
    }

    /// `boxes` (input pixels, from expected.json) mapped by `f`, against `got`, to 1e-3.
    fn assert_boxes(
        got: Vec<Detection>,
        boxes: &serde_json::Value,
        f: impl Fn(f32, f32) -> (f32, f32),
        what: &str,
    ) {
        let got = sorted(got);
        let want = boxes.as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{what}: {got:?}");
        let mut want: Vec<_> = want
            .iter()
            .map(|b| {
                let (x1, y1) = f(
                    b["x1"].as_f64().unwrap() as f32,
                    b["y1"].as_f64().unwrap() as f32,
                );
                let (x2, y2) = f(
                    b["x2"].as_f64().unwrap() as f32,
                    b["y2"].as_f64().unwrap() as f32,
                );
                (
                    x1,
                    y1,
                    x2,
                    y2,
                    b["label"].as_u64().unwrap() as u16,
                    b["score"].as_f64().unwrap() as f32,
                )
            })
            .collect();
        want.sort_by(|a, b| b.5.total_cmp(&a.5).then(a.0.total_cmp(&b.0)));
        for (g, w) in got.iter().zip(&want) {
            let b = g.bbox;
            let ok = [
                (b.x1, w.0),
                (b.y1, w.1),
                (b.x2, w.2),
                (b.y2, w.3),
                (g.score, w.5),
            ]
            .iter()
            .all(|(a, e)| (a - e).abs() < 1e-3);
            assert!(ok && g.label == w.4, "{what}: got {g:?}, want {w:?}");
            let class = if w.4 == 0 {
                ObjectClass::Person
            } else {
                ObjectClass::Vehicle
            };
            assert_eq!(g.class, class, "{what}");
        }
    }

    // Letterboxed 128x96 frame into the 64x64 input: r = 0.5, content 64x48 at (0, 8).
    // Written out by hand so it does not lean on InputMap's own arithmetic.
    fn letterbox_128x96(x: f32, y: f32) -> (f32, f32) {
        (x * 2.0, (y - 8.0) * 2.0)
    }

    fn run_fixture(
        name: &str,
        decode: impl Fn(
            &[f32],
            &[i64],
            &DecodeParams,
            &ClassMap,
            &InputMap,
            &mut Vec<Detection>,
        ) -> Result<(), String>,
    ) {
        let fx = fixture(name);
        let out = f32s(&fx["output"]);
        let shape = i64s(&fx["output_shape"]);
        let cases = fx["cases"].as_array().unwrap();
        assert!(cases.len() >= 2);
        for case in cases {
            let p = params(case["score_threshold"].as_f64().unwrap() as f32);
            let cm = class_map(&case["classes"]);
            let what = format!("{name} classes {}", case["classes"]);
            let mut d = Vec::new();
            let stretch = InputMap::new(Resize::Stretch, 64, 64, 64, 64);
            decode(&out, &shape, &p, &cm, &stretch, &mut d).unwrap();
            assert_boxes(
                d,
                &case["boxes"],
                |x, y| (x, y),
                &format!("{what}, stretch 64x64"),
            );
            let mut d = Vec::new();
            let lb = InputMap::new(Resize::Letterbox, 128, 96, 64, 64);
            decode(&out, &shape, &p, &cm, &lb, &mut d).unwrap();
            assert_boxes(
                d,
                &case["boxes"],
                letterbox_128x96,
                &format!("{what}, letterbox 128x96"),
            );
        }
    }

    #[test]
    fn yolov8_fixture_gives_the_planted_boxes() {
        run_fixture("yolov8", decode_yolov8);
    }

    #[test]
    fn yolox_fixture_gives_the_planted_boxes() {
        run_fixture("yolox", |o, s, p, c, m, d| {
            decode_yolox(o, s, 64, 64, false, p, c, m, d)
        });
    }

    #[test]
    fn yolox_decoded_fixture_gives_the_same_boxes() {
        let fx = fixture("yolox");
        let out = f32s(&fx["output_decoded"]);
        let shape = i64s(&fx["output_shape"]);
        for case in fx["cases"].as_array().unwrap() {
            let p = params(case["score_threshold"].as_f64().unwrap() as f32);
            let mut d = Vec::new();
            let m = InputMap::new(Resize::Letterbox, 128, 96, 64, 64);
            decode_yolox(
                &out,
                &shape,
                64,
                64,
                true,
                &p,
                &class_map(&case["classes"]),
                &m,
                &mut d,
            )
            .unwrap();
            assert_boxes(d, &case["boxes"], letterbox_128x96, "yolox decoded");
        }
    }

    #[test]
    fn decoders_append() {
        let fx = fixture("yolov8");
        let (out, shape) = (f32s(&fx["output"]), i64s(&fx["output_shape"]));
        let cm = ClassMap::new(vec![(0, ObjectClass::Person)]);
        let m = InputMap::new(Resize::Stretch, 64, 64, 64, 64);
        let mut d = Vec::new();
        decode_yolov8(&out, &shape, &params(0.35), &cm, &m, &mut d).unwrap();
        let once = d.len();
        assert!(once > 0);
        decode_yolov8(&out, &shape, &params(0.35), &cm, &m, &mut d).unwrap();
        assert_eq!(d.len(), 2 * once);
    }

    #[test]
    fn shape_errors_read_as_documented() {
        assert_eq!(
            check_yolov8_shape(&[1, 84]).unwrap_err(),
            "family yolov8 expects one output [1, 4+classes, N], got [1, 84]"
        );
        assert_eq!(
            check_yolox_shape(&[1, 3000, 85], 416, 416).unwrap_err(),
            "family yolox expects [1, N, 5+classes] with N = 3549 for a 416x416 input, got [1, 3000, 85]"
        );
        let wrong = i64s(&fixture("wrong_shape")["output_shape"]);
        assert_eq!(wrong, vec![1, 7]);
        assert!(check_yolov8_shape(&wrong).is_err());
        assert!(check_yolox_shape(&wrong, 64, 64).is_err());
        assert!(
            check_yolov8_shape(&[1, 8400, 84])
                .unwrap_err()
                .contains("transposed")
        );
        for bad in [
            &[][..],
            &[1],
            &[2, 84, 8400],
            &[1, 4, 8400],
            &[1, 84, 0],
            &[1, -1, 8400],
            &[1, 84, 8400, 1],
        ] {
            assert!(check_yolov8_shape(bad).is_err(), "{bad:?}");
        }
        for bad in [
            &[1, 8400, 5][..],
            &[1, 8401, 85],
            &[1, 85, 8400],
            &[8400, 85],
        ] {
            assert!(check_yolox_shape(bad, 640, 640).is_err(), "{bad:?}");
        }
        assert!(check_yolox_shape(&[1, 0, 85], 0, 0).is_err());
    }

    #[test]
    fn shapes_accepted() {
        assert_eq!(check_yolov8_shape(&[1, 84, 8400]), Ok((80, 8400)));
        assert_eq!(check_yolov8_shape(&[1, 7, 84]), Ok((3, 84)));
        assert_eq!(check_yolox_shape(&[1, 8400, 85], 640, 640), Ok((80, 8400)));
        assert_eq!(check_yolox_shape(&[1, 3549, 85], 416, 416), Ok((80, 3549)));
        assert_eq!(check_yolox_shape(&[1, 84, 8], 64, 64), Ok((3, 84)));
        // 640x384: 80x48 + 40x24 + 20x12
        assert_eq!(yolox_anchor_count(640, 384), 3840 + 960 + 240);
    }

    #[test]
    fn odd_sizes_are_errors_not_panics() {
        let cm = ClassMap::new(vec![(0, ObjectClass::Person)]);
        let m = InputMap::new(Resize::Stretch, 64, 64, 64, 64);
        let p = params(0.35);
        let mut d = Vec::new();
        // length does not match the shape
        assert!(decode_yolov8(&[0.0; 10], &[1, 7, 12], &p, &cm, &m, &mut d).is_err());
        assert!(decode_yolov8(&[0.0; 7 * 12 + 1], &[1, 7, 12], &p, &cm, &m, &mut d).is_err());
        assert!(decode_yolox(&[0.0; 10], &[1, 84, 8], 64, 64, false, &p, &cm, &m, &mut d).is_err());
        assert!(decode_yolox(&[0.0; 10], &[1, 2, 8], 64, 64, true, &p, &cm, &m, &mut d).is_err());
        // huge dims overflow nothing
        assert!(decode_yolov8(&[0.0; 10], &[1, i64::MAX, i64::MAX], &p, &cm, &m, &mut d).is_err());
        assert!(
            decode_yolox(
                &[0.0; 10],
                &[1, i64::MAX, i64::MAX],
                64,
                64,
                true,
                &p,
                &cm,
                &m,
                &mut d
            )
            .is_err()
        );
        // class map label beyond the model's classes
        let far = ClassMap::new(vec![(0, ObjectClass::Person), (3, ObjectClass::Vehicle)]);
        let e = decode_yolov8(&[0.0; 7 * 12], &[1, 7, 12], &p, &far, &m, &mut d).unwrap_err();
        assert_eq!(e, "the class map uses label 3 but the model has 3 classes");
        assert!(
            decode_yolox(
                &[0.0; 84 * 8],
                &[1, 84, 8],
                64,
                64,
                false,
                &p,
                &far,
                &m,
                &mut d
            )
            .is_err()
        );
        assert!(d.is_empty());
    }

    #[test]
    fn ties_go_to_the_first_entry_and_non_finite_boxes_are_dropped() {
        // yolov8, nc = 2, N = 8: anchor 0 tie (0.5, 0.5); anchor 1 NaN box; anchor 2 NaN score.
        let n = 8;
        let mut out = vec![0f32; 6 * n];
        let set = |out: &mut Vec<f32>, r: usize, a: usize, v: f32| out[r * n + a] = v;
        for a in 0..n {
            set(&mut out, 0, a, 10.0);
            set(&mut out, 1, a, 10.0);
            set(&mut out, 2, a, 4.0);
            set(&mut out, 3, a, 4.0);
        }
        set(&mut out, 4, 0, 0.5);
        set(&mut out, 5, 0, 0.5);
        set(&mut out, 4, 1, 0.9);
        set(&mut out, 0, 1, f32::NAN);
        set(&mut out, 5, 2, f32::NAN);
        let m = InputMap::new(Resize::Stretch, 64, 64, 64, 64);
        for order in [
            [(1u16, ObjectClass::Vehicle), (0, ObjectClass::Person)],
            [(0, ObjectClass::Person), (1, ObjectClass::Vehicle)],
        ] {
            let cm = ClassMap::new(order.to_vec());
            let mut d = Vec::new();
            decode_yolov8(&out, &[1, 6, 8], &params(0.35), &cm, &m, &mut d).unwrap();
            assert_eq!(d.len(), 1, "{d:?}");
            assert_eq!((d[0].label, d[0].class), order[0]);
            assert_eq!(d[0].bbox, BBox::new(8.0, 8.0, 12.0, 12.0));
        }
        // yolox decoded: an exp overflow (w = inf) is dropped too
        let row = |w: f32| [10.0, 10.0, w, 4.0, 0.9, 0.9, 0.1];
        let nan_first_class = [30.0, 30.0, 4.0, 4.0, 0.9, f32::NAN, 0.1];
        let out: Vec<f32> = [row(4.0), row(f32::INFINITY), row(f32::NAN), nan_first_class].concat();
        let cm = ClassMap::new(vec![(0, ObjectClass::Person), (1, ObjectClass::Vehicle)]);
        let mut d = Vec::new();
        decode_yolox(
            &out,
            &[1, 4, 7],
            64,
            64,
            true,
            &params(0.05),
            &cm,
            &m,
            &mut d,
        )
        .unwrap();
        assert_eq!(d.len(), 2, "{d:?}");
        assert!((d[0].score - 0.81).abs() < 1e-6 && d[0].label == 0);
        // a NaN score does not hide the other class
        assert!((d[1].score - 0.09).abs() < 1e-6 && d[1].label == 1);
        // raw yolox: exp(100) overflows → dropped
        let mut out = vec![0f32; 84 * 8];
        out[..8].copy_from_slice(&[0.5, 0.5, 100.0, 0.0, 0.9, 0.9, 0.0, 0.0]);
        let mut d = Vec::new();
        decode_yolox(
            &out,
            &[1, 84, 8],
            64,
            64,
            false,
            &params(0.35),
            &cm,
            &m,
            &mut d,
        )
        .unwrap();
        assert!(d.is_empty());
    }

    /// Small deterministic generator (no rand dependency).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 40) as f32) / (1u64 << 24) as f32
        }
    }

    /// Typical scores: mostly tiny, a few hundred anchors near or over the threshold.
    fn synthetic_yolov8(nc: usize, n: usize, seed: u64) -> Vec<f32> {
        let mut g = Lcg(seed);
        let mut out = vec![0f32; (4 + nc) * n];
        for a in 0..n {
            out[a] = g.next() * 640.0;
            out[n + a] = g.next() * 640.0;
            out[2 * n + a] = 4.0 + g.next() * 200.0;
            out[3 * n + a] = 4.0 + g.next() * 200.0;
        }
        for v in &mut out[4 * n..] {
            let r = g.next();
            *v = if r > 0.997 {
                0.2 + 0.8 * g.next()
            } else {
                r * 0.05
            };
        }
        out
    }

    fn synthetic_yolox(nc: usize, n: usize, seed: u64) -> Vec<f32> {
        let mut g = Lcg(seed);
        let mut out = vec![0f32; (5 + nc) * n];
        for row in out.chunks_exact_mut(5 + nc) {
            row[0] = g.next();
            row[1] = g.next();
            row[2] = g.next() * 3.0 - 1.0;
            row[3] = g.next() * 3.0 - 1.0;
            let r = g.next();
            row[4] = if r > 0.97 {
                0.3 + 0.7 * g.next()
            } else {
                r * 0.05
            };
            for v in &mut row[5..] {
                let r = g.next();
                *v = if r > 0.9 { g.next() } else { r * 0.1 };
            }
        }
        out
    }

    /// Straightforward per-anchor yolov8 decode, to cross-check the row scan.
    fn naive_yolov8(
        out: &[f32],
        nc: usize,
        n: usize,
        thr: f32,
        cm: &ClassMap,
        m: &InputMap,
    ) -> Vec<Detection> {
        let _ = nc;
        let mut d = Vec::new();
        for a in 0..n {
            let mut best: Option<(f32, u16)> = None;
            for &(l, _) in cm.entries() {
                let s = out[(4 + l as usize) * n + a];
                if s >= thr && best.is_none_or(|(b, _)| s > b) {
                    best = Some((s, l));
                }
            }
            if let Some((s, l)) = best {
                let (cx, cy, w, h) = (out[a], out[n + a], out[2 * n + a], out[3 * n + a]);
                let (x1, y1) = m.to_frame(cx - w / 2.0, cy - h / 2.0);
                let (x2, y2) = m.to_frame(cx + w / 2.0, cy + h / 2.0);
                d.push(Detection {
                    bbox: BBox::new(x1, y1, x2, y2),
                    score: s,
                    class: cm.class_of(l).unwrap(),
                    label: l,
                });
            }
        }
        d
    }

    #[test]
    fn yolov8_row_scan_matches_per_anchor_decode() {
        let (nc, n) = (80, 8400);
        let out = synthetic_yolov8(nc, n, 7);
        let m = InputMap::new(Resize::Letterbox, 1920, 1080, 640, 640);
        for cm in [
            ClassMap::coco_default(),
            ClassMap::new((0..80).rev().map(|l| (l, ObjectClass::Vehicle)).collect()),
        ] {
            let mut got = Vec::new();
            decode_yolov8(&out, &[1, 84, 8400], &params(0.35), &cm, &m, &mut got).unwrap();
            let want = naive_yolov8(&out, nc, n, 0.35, &cm, &m);
            assert!(want.len() > 10);
            assert_eq!(sorted(got), sorted(want));
        }
    }

    /// `cargo test --release -- --ignored --nocapture timing`
    #[test]
    #[ignore = "timing benchmark, run with --ignored --nocapture; tests never assert timings"]
    fn timing_8400x80() {
        use std::time::Instant;
        let m = InputMap::new(Resize::Letterbox, 1920, 1080, 640, 640);
        let p = params(0.35);
        let v8 = synthetic_yolov8(80, 8400, 1);
        let yx = synthetic_yolox(80, 8400, 2);
        let mut d = Vec::with_capacity(4096);
        for (name, cm) in [
            ("coco_default (6 classes)", ClassMap::coco_default()),
            (
                "all 80 classes",
                ClassMap::new((0..80).map(|l| (l, ObjectClass::Vehicle)).collect()),
            ),
        ] {
            let mut run = |f: &mut dyn FnMut(&mut Vec<Detection>)| {
                let iters = 2000;
                let mut best = f64::MAX;
                let mut total = 0.0;
                let mut count = 0;
                for _ in 0..iters {
                    d.clear();
                    let t = Instant::now();
                    f(&mut d);
                    let e = t.elapsed().as_secs_f64() * 1e6;
                    best = best.min(e);
                    total += e;
                    count = d.len();
                }
                (best, total / iters as f64, count)
            };
            let (b8, m8, c8) =
                run(&mut |d| decode_yolov8(&v8, &[1, 84, 8400], &p, &cm, &m, d).unwrap());
            let (bx, mx, cx) = run(&mut |d| {
                decode_yolox(&yx, &[1, 8400, 85], 640, 640, false, &p, &cm, &m, d).unwrap()
            });
            println!(
                "{name}: yolov8 best {b8:.1} µs mean {m8:.1} µs ({c8} candidates); yolox best {bx:.1} µs mean {mx:.1} µs ({cx} candidates)"
            );
        }
    }
}
