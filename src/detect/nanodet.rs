//! NanoDet (GFL head) decoding: per-stride class scores (already sigmoid) and
//! distance distributions over `reg_max + 1` bins for each of the four sides.
//!
//! For each cell of a `gw × gh` grid at `stride`:
//! * centre = ((i mod gw) + 0.5, (i div gw) + 0.5) · stride, in model-input pixels;
//! * each side's distance = Σ softmax(bins)_k · k · stride, sides ordered left, top, right, bottom;
//! * box = (cx − l, cy − t, cx + r, cy + b), scaled back to the frame.

use crate::types::Detection;

use super::{ClassMap, DecodeParams};

/// One output level of the head, as raw slices of the session's outputs.
pub struct Level<'a> {
    pub stride: u32,
    pub grid_w: usize,
    pub grid_h: usize,
    /// `[N, num_classes]`, row-major.
    pub cls: &'a [f32],
    /// `[N, 4 · (reg_max + 1)]`, row-major.
    pub reg: &'a [f32],
}

/// Decode all levels into `out` (appended; NMS is the caller's job).
/// `scale` maps model-input pixels to frame pixels (x, y).
pub fn decode(
    levels: &[Level<'_>],
    num_classes: usize,
    reg_max: usize,
    params: &DecodeParams,
    classes: &ClassMap,
    scale: (f32, f32),
    out: &mut Vec<Detection>,
) {
    let bins = reg_max + 1;
    for lv in levels {
        let n = lv.grid_w * lv.grid_h;
        for i in 0..n {
            let scores = &lv.cls[i * num_classes..(i + 1) * num_classes];
            // Best wanted class for this cell.
            let mut best: Option<(usize, f32)> = None;
            for (e, &(label, _)) in classes.entries().iter().enumerate() {
                let s = scores[label as usize];
                if s >= classes.min_score(e, params.score_threshold)
                    && best.is_none_or(|(_, b)| s > b)
                {
                    best = Some((label as usize, s));
                }
            }
            let Some((label, score)) = best else { continue };
            let reg = &lv.reg[i * 4 * bins..(i + 1) * 4 * bins];
            let stride = lv.stride as f32;
            let mut d = [0f32; 4];
            for (side, dist) in d.iter_mut().enumerate() {
                *dist = expected_bin(&reg[side * bins..(side + 1) * bins]) * stride;
            }
            let cx = ((i % lv.grid_w) as f32 + 0.5) * stride;
            let cy = ((i / lv.grid_w) as f32 + 0.5) * stride;
            let bbox = crate::types::BBox::new(
                (cx - d[0]) * scale.0,
                (cy - d[1]) * scale.1,
                (cx + d[2]) * scale.0,
                (cy + d[3]) * scale.1,
            );
            if let Some(class) = classes.class_of(label as u16) {
                out.push(Detection {
                    bbox,
                    score,
                    class,
                    label: label as u16,
                });
            }
        }
    }
}

/// Softmax expectation Σ p_k · k over one side's bins.
fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    let mut acc = 0.0;
    for (k, &l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        acc += e * k as f32;
    }
    if sum > 0.0 && acc.is_finite() {
        acc / sum
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ObjectClass;

    #[test]
    fn expected_bin_of_peaked_distribution() {
        let mut l = [-20f32; 11];
        l[3] = 20.0;
        assert!((expected_bin(&l) - 3.0).abs() < 1e-4);
        let flat = [0f32; 11];
        assert!((expected_bin(&flat) - 5.0).abs() < 1e-5);
    }

    #[test]
    fn decodes_one_cell() {
        // 2×2 grid at stride 8, 3 classes, reg_max 3 (4 bins).
        let mut cls = vec![0f32; 4 * 3];
        cls[3 * 3] = 0.9; // cell 3 (x=1, y=1), class 0
        let mut reg = vec![-30f32; 4 * 16];
        for side in 0..4 {
            reg[3 * 16 + side * 4 + 2] = 30.0; // distance 2 bins = 16 px
        }
        let lv = Level {
            stride: 8,
            grid_w: 2,
            grid_h: 2,
            cls: &cls,
            reg: &reg,
        };
        let params = DecodeParams {
            score_threshold: 0.35,
            nms_iou: 0.45,
            max_detections: 100,
            joint_vehicle_nms: true,
        };
        let classes = ClassMap::new(vec![(0, ObjectClass::Person)]);
        let mut out = Vec::new();
        decode(&[lv], 3, 3, &params, &classes, (2.0, 1.0), &mut out);
        assert_eq!(out.len(), 1);
        let b = out[0].bbox;
        // centre (12, 12) → box (-4, -4, 28, 28), x scaled ×2
        assert_eq!((b.x1, b.y1, b.x2, b.y2), (-8.0, -4.0, 56.0, 28.0));
        assert_eq!(out[0].label, 0);
    }

    #[test]
    fn per_class_thresholds() {
        // One cell, scores 0.3 for class 0 (person) and 0.25 for class 1 (motorcycle).
        let cls = vec![0.3f32, 0.25];
        let reg = vec![0f32; 16];
        let lv = || Level {
            stride: 8,
            grid_w: 1,
            grid_h: 1,
            cls: &cls,
            reg: &reg,
        };
        let params = DecodeParams::default(); // 0.35
        let entries = vec![(0, ObjectClass::Person), (1, ObjectClass::Vehicle)];
        let mut out = Vec::new();
        let classes = ClassMap::new(entries.clone());
        decode(&[lv()], 2, 3, &params, &classes, (1.0, 1.0), &mut out);
        assert!(out.is_empty(), "both under the global 0.35");
        // Night: motorcycle at 0.2 passes; the person (0.3 < 0.35) still does not win the cell.
        let night = ClassMap::new(entries.clone()).with_min_scores(vec![0.35, 0.2]);
        decode(&[lv()], 2, 3, &params, &night, (1.0, 1.0), &mut out);
        assert_eq!((out.len(), out[0].label, out[0].score), (1, 1, 0.25));
        // The best passing class wins the cell.
        out.clear();
        let both = ClassMap::new(entries).with_min_scores(vec![0.3, 0.2]);
        decode(&[lv()], 2, 3, &params, &both, (1.0, 1.0), &mut out);
        assert_eq!((out.len(), out[0].label), (1, 0));
    }
}
