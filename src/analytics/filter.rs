//! Object filters, as integrators know them from Frigate: box area limits, a minimum score
//! and masks, per class (people, vehicles).
//!
//! Two places use them (built by the config stage, see docs/config.md#filters):
//! - **the camera's filter** runs between the detector and the tracker: a detection it drops
//!   is never tracked, for every zone of the camera (a person painted on a poster, a parked
//!   van's reflection, the flag pole the model takes for a person);
//! - **a zone's filter** decides which of the camera's confirmed tracks count in that zone:
//!   a track it rejects is still tracked, and still counts in the camera's other zones.
//!
//! A box is judged by its area as a share of the frame (so the limits survive a change of
//! stream resolution, like the normalised zone polygons), its score, and its foot point
//! (bottom-centre, the point zone membership uses) against the masks.

use crate::analytics::zone::Polygon;
use crate::types::{BBox, ObjectClass};

/// The limits for one class. The default lets everything through.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassLimits {
    /// Smallest box area, as a share of the frame area (0: no limit).
    pub min_area: f64,
    /// Largest box area, as a share of the frame area (1: no limit).
    pub max_area: f64,
    /// Lowest score (0: no limit).
    pub min_score: f32,
    /// Polygons (normalised to the frame) where a foot point drops the box.
    pub masks: Vec<Polygon>,
}

impl Default for ClassLimits {
    fn default() -> Self {
        Self {
            min_area: 0.0,
            max_area: 1.0,
            min_score: 0.0,
            masks: Vec::new(),
        }
    }
}

impl ClassLimits {
    fn is_open(&self) -> bool {
        *self == Self::default()
    }
}

/// Why a box was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    Small,
    Large,
    Score,
    Masked,
}

/// Limits per class. The default lets everything through.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectFilter {
    pub person: ClassLimits,
    pub vehicle: ClassLimits,
}

impl ObjectFilter {
    /// Lets everything through (no limit set for either class).
    pub fn is_open(&self) -> bool {
        self.person.is_open() && self.vehicle.is_open()
    }

    pub fn limits(&self, class: ObjectClass) -> &ClassLimits {
        match class {
            ObjectClass::Person => &self.person,
            ObjectClass::Vehicle => &self.vehicle,
        }
    }

    /// Why a box of `class` with `score` is dropped on a `frame_w`×`frame_h` frame, or
    /// `None` when it is kept. A box with a non-finite score or coordinate is left to the
    /// tracker (which ignores it).
    pub fn judge(
        &self,
        class: ObjectClass,
        score: f32,
        bbox: &BBox,
        frame_w: u32,
        frame_h: u32,
    ) -> Option<Dropped> {
        let l = self.limits(class);
        if score < l.min_score {
            return Some(Dropped::Score);
        }
        if frame_w > 0 && frame_h > 0 {
            let share = bbox.area() as f64 / (frame_w as f64 * frame_h as f64);
            if share < l.min_area {
                return Some(Dropped::Small);
            }
            if share > l.max_area {
                return Some(Dropped::Large);
            }
        }
        let foot = bbox.bottom_center();
        if l.masks
            .iter()
            .any(|m| m.contains_px(foot, frame_w, frame_h))
        {
            return Some(Dropped::Masked);
        }
        None
    }

    pub fn keeps(
        &self,
        class: ObjectClass,
        score: f32,
        bbox: &BBox,
        frame_w: u32,
        frame_h: u32,
    ) -> bool {
        self.judge(class, score, bbox, frame_w, frame_h).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u32 = 1000;
    const H: u32 = 500;

    /// A box of `w`×`h` px standing with its foot point at (`x`, `y`).
    fn standing(x: f32, y: f32, w: f32, h: f32) -> BBox {
        BBox {
            x1: x - w / 2.0,
            y1: y - h,
            x2: x + w / 2.0,
            y2: y,
        }
    }

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon {
        Polygon::new(vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]).unwrap()
    }

    #[test]
    fn the_default_keeps_everything_and_says_so() {
        let f = ObjectFilter::default();
        assert!(f.is_open());
        for class in [ObjectClass::Person, ObjectClass::Vehicle] {
            assert!(f.keeps(class, 0.01, &standing(500.0, 499.0, 1000.0, 499.0), W, H));
            assert!(f.keeps(class, 0.01, &standing(500.0, 250.0, 1.0, 1.0), W, H));
        }
    }

    #[test]
    fn area_is_a_share_of_the_frame_with_both_ends_kept() {
        // The frame is 500 000 px²: 0.01 is 5 000 px² (50×100).
        let f = ObjectFilter {
            person: ClassLimits {
                min_area: 0.01,
                max_area: 0.04,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!f.is_open());
        let p = ObjectClass::Person;
        assert_eq!(
            f.judge(p, 0.9, &standing(100.0, 400.0, 49.0, 100.0), W, H),
            Some(Dropped::Small)
        );
        assert_eq!(
            f.judge(p, 0.9, &standing(100.0, 400.0, 50.0, 100.0), W, H),
            None
        );
        assert_eq!(
            f.judge(p, 0.9, &standing(100.0, 400.0, 100.0, 200.0), W, H),
            None
        );
        assert_eq!(
            f.judge(p, 0.9, &standing(100.0, 400.0, 101.0, 200.0), W, H),
            Some(Dropped::Large)
        );
        // The same box on a frame four times larger is a quarter of the share.
        let b = standing(100.0, 400.0, 90.0, 200.0); // 0.036 of W×H
        assert_eq!(f.judge(p, 0.9, &b, W, H), None);
        assert_eq!(f.judge(p, 0.9, &b, 2 * W, 2 * H), Some(Dropped::Small));
        // Limits are per class: vehicles are not touched.
        assert!(f.keeps(
            ObjectClass::Vehicle,
            0.9,
            &standing(100.0, 400.0, 5.0, 5.0),
            W,
            H
        ));
    }

    #[test]
    fn min_score_drops_below_and_keeps_at_the_limit() {
        let f = ObjectFilter {
            vehicle: ClassLimits {
                min_score: 0.5,
                ..Default::default()
            },
            ..Default::default()
        };
        let b = standing(300.0, 300.0, 60.0, 40.0);
        let v = ObjectClass::Vehicle;
        assert_eq!(f.judge(v, 0.49, &b, W, H), Some(Dropped::Score));
        assert_eq!(f.judge(v, 0.5, &b, W, H), None);
        assert!(f.keeps(ObjectClass::Person, 0.2, &b, W, H));
    }

    #[test]
    fn a_mask_judges_the_foot_point_not_the_box() {
        // Mask the right half of the bottom quarter.
        let f = ObjectFilter {
            person: ClassLimits {
                masks: vec![square(0.5, 0.75, 1.0, 1.0)],
                ..Default::default()
            },
            ..Default::default()
        };
        let p = ObjectClass::Person;
        // Foot at (0.7, 0.9): inside, though most of the box is above the mask.
        assert_eq!(
            f.judge(p, 0.9, &standing(700.0, 450.0, 40.0, 300.0), W, H),
            Some(Dropped::Masked)
        );
        // The box reaches into the mask but the foot point is at (0.45, 0.9): kept.
        assert_eq!(
            f.judge(p, 0.9, &standing(450.0, 450.0, 200.0, 100.0), W, H),
            None
        );
        // Foot above the mask (y = 0.7): kept.
        assert_eq!(
            f.judge(p, 0.9, &standing(700.0, 350.0, 40.0, 100.0), W, H),
            None
        );
        // On the mask's edge counts as inside, like zone membership.
        assert_eq!(
            f.judge(p, 0.9, &standing(500.0, 400.0, 40.0, 100.0), W, H),
            Some(Dropped::Masked)
        );
    }

    #[test]
    fn a_zero_sized_frame_judges_score_only() {
        let f = ObjectFilter {
            person: ClassLimits {
                min_area: 0.5,
                min_score: 0.3,
                masks: vec![Polygon::full_frame()],
                ..Default::default()
            },
            ..Default::default()
        };
        let b = standing(10.0, 10.0, 5.0, 5.0);
        assert_eq!(f.judge(ObjectClass::Person, 0.9, &b, 0, 0), None);
        assert_eq!(
            f.judge(ObjectClass::Person, 0.1, &b, 0, 0),
            Some(Dropped::Score)
        );
    }
}
