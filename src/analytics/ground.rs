//! Ground-plane calibration: four image points with their real-world positions (metres)
//! give a homography (OpenCV `getPerspectiveTransform`) that maps foot points to metres,
//! so rules can measure distances and speeds in metres instead of body heights.

/// Maps normalised image coordinates (0..1 of the frame) to metres on the ground.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography {
    m: [f64; 9],
}

impl Homography {
    /// From four normalised image points and their ground positions in metres.
    pub fn from_points(image: &[[f64; 2]; 4], world: &[[f64; 2]; 4]) -> Result<Homography, String> {
        use opencv::core::Point2f;
        use opencv::prelude::*;
        // No three image points may be collinear, or the mapping is degenerate.
        for i in 0..4 {
            let [a, b, c] = [image[i], image[(i + 1) % 4], image[(i + 2) % 4]];
            let cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
            if cross.abs() < 1e-6 {
                return Err(format!(
                    "image points {}, {} and {} lie on one line: pick four points spread over the ground, no three in a line",
                    i + 1,
                    (i + 1) % 4 + 1,
                    (i + 2) % 4 + 1
                ));
            }
        }
        let p = |v: [f64; 2]| Point2f::new(v[0] as f32, v[1] as f32);
        let src = [p(image[0]), p(image[1]), p(image[2]), p(image[3])];
        let dst = [p(world[0]), p(world[1]), p(world[2]), p(world[3])];
        let mat = opencv::imgproc::get_perspective_transform_slice_def(src, dst)
            .map_err(|e| format!("OpenCV could not compute the homography ({e})"))?;
        let mut m = [0f64; 9];
        for (i, v) in m.iter_mut().enumerate() {
            *v = *mat
                .at_2d::<f64>((i / 3) as i32, (i % 3) as i32)
                .map_err(|e| e.to_string())?;
        }
        if m.iter().any(|v| !v.is_finite()) {
            return Err("the points give no usable homography: check that image and world points are listed in the same order".into());
        }
        Ok(Homography { m })
    }

    /// Normalised image point → metres.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.m;
        let w = m[6] * x + m[7] * y + m[8];
        if w.abs() < 1e-12 {
            return (f64::NAN, f64::NAN);
        }
        (
            (m[0] * x + m[1] * y + m[2]) / w,
            (m[3] * x + m[4] * y + m[5]) / w,
        )
    }

    /// Pixel → metres for a `w × h` frame.
    pub fn apply_px(&self, p: (f32, f32), w: u32, h: u32) -> (f32, f32) {
        let (x, y) = self.apply(p.0 as f64 / w.max(1) as f64, p.1 as f64 / h.max(1) as f64);
        (x as f32, y as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_four_points_and_between() {
        // A 20 m × 10 m rectangle seen in perspective.
        let image = [[0.1, 0.9], [0.9, 0.9], [0.7, 0.4], [0.3, 0.4]];
        let world = [[0.0, 0.0], [10.0, 0.0], [10.0, 20.0], [0.0, 20.0]];
        let h = Homography::from_points(&image, &world).unwrap();
        for (i, w) in image.iter().zip(world) {
            let (x, y) = h.apply(i[0], i[1]);
            assert!(
                (x - w[0]).abs() < 1e-3 && (y - w[1]).abs() < 1e-3,
                "{i:?} → ({x}, {y}) not {w:?}"
            );
        }
        // The image centre-line maps to x = 5 m.
        let (x, _) = h.apply(0.5, 0.6);
        assert!((x - 5.0).abs() < 1e-3);
        let (px, _) = h.apply_px((384.0, 460.8), 768, 576);
        assert!((px - 5.0).abs() < 1e-2);
    }

    #[test]
    fn collinear_points_are_refused() {
        let image = [[0.1, 0.1], [0.5, 0.5], [0.9, 0.9], [0.1, 0.9]];
        let world = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        let e = Homography::from_points(&image, &world).unwrap_err();
        assert_eq!(
            e,
            "image points 1, 2 and 3 lie on one line: pick four points spread over the ground, no three in a line"
        );
    }
}
