//! Motion gating: skip inference when nothing moves in or near the zones.
//!
//! In the spirit of Frigate's motion detector, on a small greyscale copy of the frame:
//!
//! 1. **Shrink** ([`Shrinker`], on the capture thread, while the detector is busy): area
//!    resize to `width` pixels wide, greyscale, 5×5 Gaussian blur. The area resize and the
//!    blur average away sensor noise (σ 7 grey levels at night becomes well under 1).
//! 2. **Compare** ([`MotionGate`], in the detector worker): count the pixels of the
//!    watched area whose grey level differs from the **reference** by more than
//!    `threshold`. The reference is the copy taken at this camera's last inference, not
//!    the previous frame, so that slow, steady movement adds up until it counts.
//! 3. The watched area is every zone grown by `margin` (vehicles are tracked before they
//!    enter), minus the camera's `mask` polygons (trees, clocks burnt into the picture).
//!
//! The gate is pure Rust over byte slices; only the shrink uses OpenCV.

use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

/// A camera's motion gating settings (built by the config stage).
#[derive(Debug, Clone, PartialEq)]
pub struct MotionSettings {
    /// Skip inference on frames without motion (else every due frame is inferred).
    pub enabled: bool,
    /// Width of the greyscale copy, pixels (height keeps the aspect ratio).
    pub width: u32,
    /// Grey-level difference (0–255) from the reference that counts as change.
    pub threshold: u8,
    /// Changed pixels, as a share of the whole motion image, that count as motion.
    pub min_area: f64,
    /// How far around each zone motion counts, as a share of the frame width.
    pub margin: f64,
    /// Run inference at least this often (seconds of frame time), motion or not.
    pub max_skip_s: f64,
    /// Polygons (normalised to the frame) where motion is ignored.
    pub mask: Vec<Vec<[f64; 2]>>,
}

impl Default for MotionSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            width: 160,
            threshold: 20,
            min_area: 0.0005,
            margin: 0.1,
            max_skip_s: 1.0,
            mask: Vec::new(),
        }
    }
}

/// The small, blurred greyscale copy of a frame (reused buffers).
#[derive(Default)]
pub struct Shrinker {
    small: Mat,
    grey: Mat,
}

impl Shrinker {
    /// Shrink the BGR `frame` to `width` pixels wide into `out` (8-bit grey, blurred).
    pub fn run(&mut self, frame: &Mat, width: u32, out: &mut Mat) -> opencv::Result<()> {
        let (fw, fh) = (frame.cols().max(1), frame.rows().max(1));
        let w = (width as i32).clamp(8, fw.max(8));
        let h = ((fh as f64 * w as f64 / fw as f64).round() as i32).max(1);
        imgproc::resize(
            frame,
            &mut self.small,
            Size::new(w, h),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )?;
        if self.small.channels() == 3 {
            imgproc::cvt_color_def(&self.small, &mut self.grey, imgproc::COLOR_BGR2GRAY)?;
        } else {
            self.small.copy_to(&mut self.grey)?;
        }
        imgproc::gaussian_blur_def(&self.grey, out, Size::new(5, 5), 0.0)
    }
}

/// What the gate measured on one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionMeasure {
    /// Watched pixels that changed.
    pub changed: u32,
    /// Watched pixels.
    pub watched: u32,
    /// Enough changed to count as motion (or no reference yet).
    pub moving: bool,
}

/// One camera's gate: the watched-area mask and the reference copy.
pub struct MotionGate {
    settings: MotionSettings,
    /// Zones (normalised polygons) the motion must be in or near; empty: whole frame.
    zones: Vec<Vec<[f64; 2]>>,
    size: (usize, usize),
    watched: Vec<bool>,
    watched_count: u32,
    reference: Vec<u8>,
}

impl MotionGate {
    pub fn new(settings: MotionSettings, zones: Vec<Vec<[f64; 2]>>) -> Self {
        Self {
            settings,
            zones,
            size: (0, 0),
            watched: Vec::new(),
            watched_count: 0,
            reference: Vec::new(),
        }
    }

    pub fn settings(&self) -> &MotionSettings {
        &self.settings
    }

    /// Compare a shrunk frame (`w × h` grey bytes, rows contiguous) with the reference.
    /// With no reference yet (first frame, or the size changed), it is motion.
    pub fn measure(&mut self, grey: &[u8], w: usize, h: usize) -> MotionMeasure {
        if w * h != grey.len() || w == 0 || h == 0 {
            return MotionMeasure {
                changed: 0,
                watched: 0,
                moving: true,
            };
        }
        if self.size != (w, h) {
            self.build_mask(w, h);
            self.reference.clear();
        }
        if self.reference.len() != grey.len() {
            return MotionMeasure {
                changed: 0,
                watched: self.watched_count,
                moving: true,
            };
        }
        let thr = self.settings.threshold;
        let changed = grey
            .iter()
            .zip(&self.reference)
            .zip(&self.watched)
            .filter(|((a, b), m)| **m && a.abs_diff(**b) > thr)
            .count() as u32;
        let need = ((self.settings.min_area * (w * h) as f64).ceil() as u32).max(1);
        MotionMeasure {
            changed,
            watched: self.watched_count,
            moving: changed >= need,
        }
    }

    /// Take `grey` as the reference (call when the frame was inferred).
    pub fn set_reference(&mut self, grey: &[u8], w: usize, h: usize) {
        if w * h != grey.len() {
            return;
        }
        if self.size != (w, h) {
            self.build_mask(w, h);
        }
        self.reference.clear();
        self.reference.extend_from_slice(grey);
    }

    /// Drop the reference: the next frame counts as motion.
    pub fn reset(&mut self) {
        self.reference.clear();
    }

    fn build_mask(&mut self, w: usize, h: usize) {
        self.size = (w, h);
        self.watched.clear();
        self.watched.resize(w * h, false);
        let margin = self.settings.margin.max(0.0);
        // Work in frame-normalised units, with y scaled so distances are isotropic in
        // frame-width units.
        let aspect = h as f64 / w as f64;
        let mut count = 0u32;
        for y in 0..h {
            for x in 0..w {
                let p = [(x as f64 + 0.5) / w as f64, (y as f64 + 0.5) / h as f64];
                let near = self.zones.is_empty()
                    || self
                        .zones
                        .iter()
                        .any(|z| inside(z, p) || distance_to_outline(z, p, aspect) <= margin);
                let masked = self.settings.mask.iter().any(|m| inside(m, p));
                if near && !masked {
                    self.watched[y * w + x] = true;
                    count += 1;
                }
            }
        }
        self.watched_count = count;
    }
}

/// Even-odd point-in-polygon, normalised coordinates.
fn inside(poly: &[[f64; 2]], p: [f64; 2]) -> bool {
    let mut inside = false;
    let n = poly.len();
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + n - 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = b[0] + (p[1] - b[1]) * (a[0] - b[0]) / (a[1] - b[1]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// Distance from `p` to the polygon's outline, in frame widths (y scaled by `aspect`).
fn distance_to_outline(poly: &[[f64; 2]], p: [f64; 2], aspect: f64) -> f64 {
    let n = poly.len();
    let mut best = f64::INFINITY;
    let s = |q: [f64; 2]| [q[0], q[1] * aspect];
    let p = s(p);
    for i in 0..n {
        let (a, b) = (s(poly[i]), s(poly[(i + 1) % n]));
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (cx, cy) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
        best = best.min((cx * cx + cy * cy).sqrt());
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(zones: Vec<Vec<[f64; 2]>>, mask: Vec<Vec<[f64; 2]>>) -> MotionGate {
        MotionGate::new(
            MotionSettings {
                margin: 0.05,
                mask,
                ..MotionSettings::default()
            },
            zones,
        )
    }

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<[f64; 2]> {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    #[test]
    fn first_frame_is_motion_then_still_then_moving() {
        let (w, h) = (40, 30);
        let mut g = gate(vec![], vec![]);
        let a = vec![100u8; w * h];
        assert!(g.measure(&a, w, h).moving, "no reference yet");
        g.set_reference(&a, w, h);
        let m = g.measure(&a, w, h);
        assert_eq!((m.changed, m.watched, m.moving), (0, 1200, false));
        // Noise below the threshold is not motion.
        let noisy: Vec<u8> = a
            .iter()
            .enumerate()
            .map(|(i, v)| v + (i % 7) as u8)
            .collect();
        assert!(!g.measure(&noisy, w, h).moving);
        // A 3×3 blob 60 levels brighter is (9 px ≥ 0.0005·1200 rounded up to 1).
        let mut b = a.clone();
        for y in 10..13 {
            for x in 10..13 {
                b[y * w + x] = 160;
            }
        }
        let m = g.measure(&b, w, h);
        assert_eq!(m.changed, 9);
        assert!(m.moving);
    }

    #[test]
    fn motion_far_from_zones_or_under_a_mask_does_not_count() {
        let (w, h) = (100, 100);
        // Zone: left quarter; mask: a square inside the zone.
        let mut g = gate(
            vec![square(0.0, 0.0, 0.25, 1.0)],
            vec![square(0.05, 0.05, 0.15, 0.15)],
        );
        let a = vec![50u8; w * h];
        g.set_reference(&a, w, h);
        let blob = |cx: usize, cy: usize| {
            let mut b = a.clone();
            for y in cy - 2..cy + 2 {
                for x in cx - 2..cx + 2 {
                    b[y * w + x] = 200;
                }
            }
            b
        };
        assert!(g.measure(&blob(10, 50), w, h).moving, "inside the zone");
        assert!(g.measure(&blob(28, 50), w, h).moving, "within the margin");
        assert!(!g.measure(&blob(60, 50), w, h).moving, "far from the zone");
        assert!(!g.measure(&blob(10, 10), w, h).moving, "under the mask");
    }

    #[test]
    fn a_new_size_or_a_reset_starts_over() {
        let mut g = gate(vec![], vec![]);
        g.set_reference(&[0u8; 64], 8, 8);
        assert!(!g.measure(&[0u8; 64], 8, 8).moving);
        assert!(g.measure(&[0u8; 128], 16, 8).moving, "new size");
        g.set_reference(&[0u8; 128], 16, 8);
        g.reset();
        assert!(g.measure(&[0u8; 128], 16, 8).moving, "after reset");
        // Wrong length never panics and counts as motion.
        assert!(g.measure(&[0u8; 10], 16, 8).moving);
    }

    #[test]
    fn shrink_keeps_aspect_and_is_grey() {
        let frame = Mat::new_rows_cols_with_default(
            576,
            768,
            opencv::core::CV_8UC3,
            opencv::core::Scalar::all(90.0),
        )
        .unwrap();
        let mut out = Mat::default();
        Shrinker::default().run(&frame, 160, &mut out).unwrap();
        assert_eq!((out.cols(), out.rows(), out.channels()), (160, 120, 1));
        assert_eq!(*out.at_2d::<u8>(60, 80).unwrap(), 90);
    }
}
