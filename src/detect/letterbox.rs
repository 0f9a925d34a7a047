//! Frame ↔ model-input geometry: how a frame is resized (and padded) into the model's
//! `input_w × input_h` tensor, and how model-input pixels map back to frame pixels.
//!
//! Geometry only; the pixel work (resize, 114-grey fill) is the preprocessor's.
//!
//! * [`Resize::Stretch`]: the frame is resized to exactly the input size (aspect ratio
//!   not kept), as the shipped NanoDet expects.
//! * [`Resize::Letterbox`]: the Ultralytics convention (`LetterBox(auto=False)`):
//!   `r = min(in_w / fw, in_h / fh)`; the frame is resized to
//!   `round(fw·r) × round(fh·r)` (Python's round: half to even) and placed at
//!   `(pad_x, pad_y)` = the floor of half the spare width/height (Ultralytics'
//!   `round(d − 0.1)`), i.e. centred with any odd pixel on the right/bottom; the rest
//!   is filled with grey 114.
//!
//! The scales are the *actual* resize factors per axis (`resized_w / fw`,
//! `resized_h / fh`), so mapping back is exact for the resized image even when the
//! rounding makes them differ slightly from `r`.

/// How a frame is fitted into the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// Resize to the input size, ignoring aspect ratio.
    Stretch,
    /// Keep aspect ratio, centre, pad with grey 114 (Ultralytics / YOLOX convention).
    Letterbox,
}

/// Grey level of the letterbox padding (Ultralytics convention).
pub const LETTERBOX_FILL: u8 = 114;

/// How a frame maps into the model input: scale + padding.
///
/// A frame pixel `(fx, fy)` lands at input pixel `(fx·scale_x + pad_x, fy·scale_y + pad_y)`.
/// The resized frame occupies `[pad_x, pad_x + resized_w) × [pad_y, pad_y + resized_h)`
/// of the input; `pad_x`/`pad_y` are whole pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputMap {
    pub scale_x: f32,
    pub scale_y: f32,
    pub pad_x: f32,
    pub pad_y: f32,
    pub resized_w: u32,
    pub resized_h: u32,
}

impl InputMap {
    /// Geometry for a `frame_w × frame_h` frame into an `input_w × input_h` input.
    /// Zero sizes are treated as 1 (never divides by zero, never panics).
    pub fn new(mode: Resize, frame_w: u32, frame_h: u32, input_w: u32, input_h: u32) -> Self {
        let (fw, fh) = (frame_w.max(1), frame_h.max(1));
        let (iw, ih) = (input_w.max(1), input_h.max(1));
        let (rw, rh) = match mode {
            Resize::Stretch => (iw, ih),
            Resize::Letterbox => {
                let r = (iw as f64 / fw as f64).min(ih as f64 / fh as f64);
                let side =
                    |f: u32, max: u32| ((f as f64 * r).round_ties_even() as u32).clamp(1, max);
                (side(fw, iw), side(fh, ih))
            }
        };
        Self {
            scale_x: (rw as f64 / fw as f64) as f32,
            scale_y: (rh as f64 / fh as f64) as f32,
            pad_x: ((iw - rw) / 2) as f32,
            pad_y: ((ih - rh) / 2) as f32,
            resized_w: rw,
            resized_h: rh,
        }
    }

    /// Model-input pixels → frame pixels.
    #[inline]
    pub fn to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        (
            (x - self.pad_x) / self.scale_x,
            (y - self.pad_y) / self.scale_y,
        )
    }

    /// Frame pixels → model-input pixels (inverse of [`InputMap::to_frame`]).
    #[inline]
    pub fn to_input(&self, x: f32, y: f32) -> (f32, f32) {
        (x * self.scale_x + self.pad_x, y * self.scale_y + self.pad_y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f32, f32), b: (f32, f32)) -> bool {
        (a.0 - b.0).abs() < 1e-3 && (a.1 - b.1).abs() < 1e-3
    }

    #[test]
    fn stretch_scales_each_axis() {
        let m = InputMap::new(Resize::Stretch, 1280, 720, 416, 416);
        assert_eq!((m.pad_x, m.pad_y), (0.0, 0.0));
        assert_eq!((m.resized_w, m.resized_h), (416, 416));
        assert!((m.scale_x - 0.325).abs() < 1e-7);
        assert!((m.scale_y - 416.0 / 720.0).abs() < 1e-7);
        assert!(close(m.to_frame(0.0, 0.0), (0.0, 0.0)));
        assert!(close(m.to_frame(416.0, 416.0), (1280.0, 720.0)));
        assert!(close(m.to_frame(208.0, 104.0), (640.0, 180.0)));
    }

    #[test]
    fn letterbox_wide_frame_pads_top_and_bottom() {
        let m = InputMap::new(Resize::Letterbox, 1920, 1080, 640, 640);
        assert_eq!((m.resized_w, m.resized_h), (640, 360));
        assert_eq!((m.pad_x, m.pad_y), (0.0, 140.0));
        assert!((m.scale_x - 1.0 / 3.0).abs() < 1e-7 && (m.scale_y - 1.0 / 3.0).abs() < 1e-7);
        assert!(close(m.to_frame(0.0, 140.0), (0.0, 0.0)));
        assert!(close(m.to_frame(640.0, 500.0), (1920.0, 1080.0)));
        // a point in the padding maps outside the frame
        assert!(m.to_frame(10.0, 10.0).1 < 0.0);
    }

    #[test]
    fn letterbox_tall_frame_pads_left_and_right() {
        let m = InputMap::new(Resize::Letterbox, 480, 640, 640, 640);
        assert_eq!((m.resized_w, m.resized_h), (480, 640));
        assert_eq!((m.pad_x, m.pad_y), (80.0, 0.0));
        assert_eq!((m.scale_x, m.scale_y), (1.0, 1.0));
        assert!(close(m.to_frame(80.0, 0.0), (0.0, 0.0)));
    }

    #[test]
    fn letterbox_fixture_geometry() {
        // The fixture tests' 128x96 frame into a 64x64 input: r = 0.5, 64x48 at (0, 8).
        let m = InputMap::new(Resize::Letterbox, 128, 96, 64, 64);
        assert_eq!(
            (m.resized_w, m.resized_h, m.pad_x, m.pad_y),
            (64, 48, 0.0, 8.0)
        );
        assert_eq!((m.scale_x, m.scale_y), (0.5, 0.5));
        assert!(close(m.to_frame(10.0, 18.0), (20.0, 20.0)));
    }

    #[test]
    fn letterbox_odd_padding_and_rounding_follow_ultralytics() {
        // 1000x700 → 416: r = 0.416, 700·r = 291.2 → 291; spare 125 → top 62 (bottom 63).
        let m = InputMap::new(Resize::Letterbox, 1000, 700, 416, 416);
        assert_eq!((m.resized_w, m.resized_h), (416, 291));
        assert_eq!((m.pad_x, m.pad_y), (0.0, 62.0));
        assert!((m.scale_y - 291.0 / 700.0).abs() < 1e-7);
        // 33x128 → 64: r = 0.5, 33·0.5 = 16.5 → 16 (half to even, as Python's round); spare 48 → 24.
        let m = InputMap::new(Resize::Letterbox, 33, 128, 64, 64);
        assert_eq!(
            (m.resized_w, m.resized_h, m.pad_x, m.pad_y),
            (16, 64, 24.0, 0.0)
        );
        // upscaling a small frame (Ultralytics scaleup=True)
        let m = InputMap::new(Resize::Letterbox, 32, 16, 64, 64);
        assert_eq!(
            (m.resized_w, m.resized_h, m.pad_x, m.pad_y),
            (64, 32, 0.0, 16.0)
        );
        assert_eq!(m.scale_x, 2.0);
    }

    #[test]
    fn round_trips_both_modes() {
        for mode in [Resize::Stretch, Resize::Letterbox] {
            for &(fw, fh, iw, ih) in &[
                (1920, 1080, 640, 640),
                (768, 576, 416, 416),
                (1000, 700, 416, 416),
                (480, 640, 640, 384),
                (33, 128, 64, 64),
            ] {
                let m = InputMap::new(mode, fw, fh, iw, ih);
                // frame corners land on the resized image's corners
                assert!(
                    close(m.to_input(0.0, 0.0), (m.pad_x, m.pad_y)),
                    "{mode:?} {fw}x{fh}"
                );
                let br = m.to_input(fw as f32, fh as f32);
                assert!(
                    close(
                        br,
                        (m.pad_x + m.resized_w as f32, m.pad_y + m.resized_h as f32)
                    ),
                    "{mode:?} {fw}x{fh}"
                );
                assert!(
                    m.pad_x + m.resized_w as f32 <= iw as f32
                        && m.pad_y + m.resized_h as f32 <= ih as f32
                );
                for &(x, y) in &[
                    (0.0, 0.0),
                    (17.5, 3.25),
                    (fw as f32 * 0.7, fh as f32 * 0.4),
                    (fw as f32, fh as f32),
                ] {
                    let (ix, iy) = m.to_input(x, y);
                    let back = m.to_frame(ix, iy);
                    assert!(
                        (back.0 - x).abs() < 1e-3 * fw as f32
                            && (back.1 - y).abs() < 1e-3 * fh as f32,
                        "{mode:?}: {x},{y} → {back:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn degenerate_sizes_do_not_panic() {
        for mode in [Resize::Stretch, Resize::Letterbox] {
            let m = InputMap::new(mode, 0, 0, 0, 0);
            let (x, y) = m.to_frame(1.0, 1.0);
            assert!(x.is_finite() && y.is_finite());
            let m = InputMap::new(mode, 100_000, 1, 64, 64);
            assert!(m.resized_w >= 1 && m.resized_h >= 1 && m.scale_x > 0.0 && m.scale_y > 0.0);
        }
    }
}
