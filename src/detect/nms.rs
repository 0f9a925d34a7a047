//! Class-wise non-maximum suppression, optionally one NMS across all vehicle labels.

use crate::types::Detection;

/// Greedy class-wise NMS, in place: keeps the highest-scoring box of every cluster
/// whose pairwise IoU exceeds `iou`, per model label, or with `joint_vehicles` per label for
/// people and across all labels for vehicles (the small model often reports one motorbike as
/// both a motorcycle and a bicycle). At most `max_det` survive. `dets` is reordered (by
/// score, descending) and truncated.
pub fn nms_in_place(dets: &mut Vec<Detection>, iou: f32, max_det: usize, joint_vehicles: bool) {
    use crate::types::ObjectClass;
    dets.sort_unstable_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep = 0;
    for i in 0..dets.len() {
        let cand = dets[i];
        let suppressed = dets[..keep].iter().any(|k| {
            let same = k.label == cand.label
                || (joint_vehicles
                    && k.class == ObjectClass::Vehicle
                    && cand.class == ObjectClass::Vehicle);
            same && k.bbox.iou(&cand.bbox) > iou
        });
        if !suppressed {
            dets[keep] = cand;
            keep += 1;
            if keep == max_det {
                break;
            }
        }
    }
    dets.truncate(keep);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BBox, ObjectClass};

    fn det(x: f32, score: f32, label: u16) -> Detection {
        Detection {
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
            score,
            class: ObjectClass::Person,
            label,
        }
    }

    #[test]
    fn suppresses_overlaps_of_same_label_only() {
        let mut d = vec![
            det(0.0, 0.5, 0),
            det(1.0, 0.9, 0),
            det(1.0, 0.8, 2),
            det(50.0, 0.4, 0),
        ];
        nms_in_place(&mut d, 0.45, 100, false);
        let got: Vec<(f32, u16)> = d.iter().map(|d| (d.score, d.label)).collect();
        assert_eq!(got, vec![(0.9, 0), (0.8, 2), (0.4, 0)]);
    }

    #[test]
    fn caps_at_max_det() {
        let mut d: Vec<Detection> = (0..10).map(|i| det(i as f32 * 20.0, 0.5, 0)).collect();
        nms_in_place(&mut d, 0.45, 3, true);
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn joint_vehicle_nms_merges_bicycle_and_motorcycle_not_people() {
        let v = |x: f32, score: f32, label: u16, class: ObjectClass| Detection {
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
            score,
            class,
            label,
        };
        let dets = vec![
            v(0.0, 0.6, 3, ObjectClass::Vehicle),  // motorcycle
            v(1.0, 0.4, 1, ObjectClass::Vehicle),  // bicycle on the same bike
            v(0.5, 0.5, 0, ObjectClass::Person),   // its rider
            v(40.0, 0.3, 1, ObjectClass::Vehicle), // another bicycle
        ];
        let mut d = dets.clone();
        nms_in_place(&mut d, 0.45, 100, true);
        let got: Vec<(f32, u16)> = d.iter().map(|d| (d.score, d.label)).collect();
        assert_eq!(got, vec![(0.6, 3), (0.5, 0), (0.3, 1)]);
        let mut d = dets;
        nms_in_place(&mut d, 0.45, 100, false);
        assert_eq!(d.len(), 4);
    }
}
