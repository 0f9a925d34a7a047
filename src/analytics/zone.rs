//! Watched zones: simple polygons in normalised frame coordinates.
//!
//! A zone is given in the config as points normalised to the frame (`[0, 1]` on both axes,
//! x right, y down), so it survives a change of stream resolution. Membership of an object is
//! decided by its foot point (bottom-centre of the box), see [`Polygon::contains_px`].

use serde::{Deserialize, Serialize};

/// Tolerance for "on the boundary" and for collinearity, in normalised units.
const EPS: f64 = 1e-12;

/// A validated simple polygon (at least 3 points, inside `[0, 1]²`, not self-intersecting,
/// non-zero area). Either winding order is accepted.
///
/// Deserialises from a list of `[x, y]` pairs and validates while doing so, so a config
/// field of this type reports the same messages as [`Polygon::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<[f64; 2]>", into = "Vec<[f64; 2]>")]
pub struct Polygon {
    points: Vec<[f64; 2]>,
    /// Bounding box (min x, min y, max x, max y) for a quick reject.
    bounds: [f64; 4],
}

impl Polygon {
    /// Validates and builds a polygon. Point numbers in messages are 1-based.
    ///
    /// Messages: `needs at least 3 points, got 2`,
    /// `point 3 is [1.2, 0.5]: coordinates must be within [0, 1]`,
    /// `point 3 repeats point 2`,
    /// `self-intersecting: edge 1-2 crosses edge 3-4`,
    /// `zero area: all points lie on one line`.
    pub fn new(points: Vec<[f64; 2]>) -> Result<Polygon, String> {
        let n = points.len();
        if n < 3 {
            return Err(format!("needs at least 3 points, got {n}"));
        }
        for (i, p) in points.iter().enumerate() {
            if !p.iter().all(|c| c.is_finite() && (0.0..=1.0).contains(c)) {
                return Err(format!(
                    "point {} is [{}, {}]: coordinates must be within [0, 1]",
                    i + 1,
                    p[0],
                    p[1]
                ));
            }
        }
        for i in 0..n {
            let j = (i + 1) % n;
            if points[i] == points[j] {
                return Err(format!("point {} repeats point {}", j + 1, i + 1));
            }
        }
        let p0 = points[0];
        if let Some(p1) = points.iter().find(|p| **p != p0)
            && points.iter().all(|q| orient(p0, *p1, *q).abs() <= EPS)
        {
            return Err("zero area: all points lie on one line".to_string());
        }
        let edge = |i: usize| (points[i], points[(i + 1) % n]);
        let name = |i: usize| format!("{}-{}", i + 1, (i + 1) % n + 1);
        for i in 0..n {
            // Adjacent edges share a vertex; they only intersect elsewhere when the second
            // folds back along the first.
            let (a, b) = edge(i);
            let c = points[(i + 2) % n];
            if orient(a, b, c).abs() <= EPS && dot(sub(b, a), sub(c, b)) < 0.0 {
                return Err(format!(
                    "self-intersecting: edge {} overlaps edge {}",
                    name(i),
                    name((i + 1) % n)
                ));
            }
            for j in (i + 2)..n {
                if i == 0 && j == n - 1 {
                    continue; // adjacent through the closing edge
                }
                let (c, d) = edge(j);
                if segments_intersect(a, b, c, d) {
                    return Err(format!(
                        "self-intersecting: edge {} crosses edge {}",
                        name(i),
                        name(j)
                    ));
                }
            }
        }
        if signed_area(&points).abs() <= EPS {
            return Err("zero area".to_string());
        }
        let mut bounds = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for p in &points {
            bounds[0] = bounds[0].min(p[0]);
            bounds[1] = bounds[1].min(p[1]);
            bounds[2] = bounds[2].max(p[0]);
            bounds[3] = bounds[3].max(p[1]);
        }
        Ok(Polygon { points, bounds })
    }

    /// The whole frame.
    pub fn full_frame() -> Polygon {
        Polygon::new(vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
            .expect("the unit square is valid")
    }

    pub fn points(&self) -> &[[f64; 2]] {
        &self.points
    }

    /// Area in normalised units (fraction of the frame).
    pub fn area(&self) -> f64 {
        signed_area(&self.points).abs()
    }

    /// Normalised point inside (even-odd rule); a point on the boundary counts as inside.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let [x0, y0, x1, y1] = self.bounds;
        if !(x >= x0 - EPS && x <= x1 + EPS && y >= y0 - EPS && y <= y1 + EPS) {
            return false; // also rejects NaN
        }
        let n = self.points.len();
        let q = [x, y];
        let mut inside = false;
        for i in 0..n {
            let a = self.points[i];
            let b = self.points[(i + 1) % n];
            if on_segment(a, b, q) {
                return true;
            }
            if (a[1] > y) != (b[1] > y) {
                let xc = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                if x < xc {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// Pixel point (e.g. a box's bottom-centre) inside, for a frame of `frame_w`×`frame_h`.
    pub fn contains_px(&self, p: (f32, f32), frame_w: u32, frame_h: u32) -> bool {
        if frame_w == 0 || frame_h == 0 {
            return false;
        }
        self.contains(p.0 as f64 / frame_w as f64, p.1 as f64 / frame_h as f64)
    }

    /// Vertices in pixels (rounded) for drawing on a `w`×`h` frame.
    pub fn to_pixels(&self, w: u32, h: u32) -> Vec<(i32, i32)> {
        self.points
            .iter()
            .map(|p| {
                (
                    (p[0] * w as f64).round() as i32,
                    (p[1] * h as f64).round() as i32,
                )
            })
            .collect()
    }
}

impl TryFrom<Vec<[f64; 2]>> for Polygon {
    type Error = String;
    fn try_from(points: Vec<[f64; 2]>) -> Result<Self, String> {
        Polygon::new(points)
    }
}

impl From<Polygon> for Vec<[f64; 2]> {
    fn from(p: Polygon) -> Self {
        p.points
    }
}

fn sub(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

fn dot(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

/// Twice the signed area of triangle abc (> 0: counter-clockwise in x-right/y-up terms).
fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn signed_area(points: &[[f64; 2]]) -> f64 {
    let n = points.len();
    (0..n)
        .map(|i| {
            let a = points[i];
            let b = points[(i + 1) % n];
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

/// q lies on the closed segment ab.
fn on_segment(a: [f64; 2], b: [f64; 2], q: [f64; 2]) -> bool {
    orient(a, b, q).abs() <= EPS
        && q[0] >= a[0].min(b[0]) - EPS
        && q[0] <= a[0].max(b[0]) + EPS
        && q[1] >= a[1].min(b[1]) - EPS
        && q[1] <= a[1].max(b[1]) + EPS
}

/// Closed segments ab and cd share at least one point (touching and collinear overlap count).
fn segments_intersect(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let sign = |v: f64| {
        if v > EPS {
            1
        } else if v < -EPS {
            -1
        } else {
            0
        }
    };
    let o1 = sign(orient(a, b, c));
    let o2 = sign(orient(a, b, d));
    let o3 = sign(orient(c, d, a));
    let o4 = sign(orient(c, d, b));
    if o1 * o2 < 0 && o3 * o4 < 0 {
        return true;
    }
    (o1 == 0 && on_segment(a, b, c))
        || (o2 == 0 && on_segment(a, b, d))
        || (o3 == 0 && on_segment(c, d, a))
        || (o4 == 0 && on_segment(c, d, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Polygon {
        Polygon::new(vec![[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]]).unwrap()
    }

    #[test]
    fn too_few_points() {
        assert_eq!(
            Polygon::new(vec![[0.1, 0.1], [0.2, 0.2]]).unwrap_err(),
            "needs at least 3 points, got 2"
        );
        assert_eq!(
            Polygon::new(vec![]).unwrap_err(),
            "needs at least 3 points, got 0"
        );
    }

    #[test]
    fn out_of_range() {
        let e = Polygon::new(vec![[0.1, 0.1], [0.9, 0.1], [1.2, 0.5]]).unwrap_err();
        assert_eq!(
            e,
            "point 3 is [1.2, 0.5]: coordinates must be within [0, 1]"
        );
        let e = Polygon::new(vec![[-0.1, 0.1], [0.9, 0.1], [0.5, 0.5]]).unwrap_err();
        assert_eq!(
            e,
            "point 1 is [-0.1, 0.1]: coordinates must be within [0, 1]"
        );
        let e = Polygon::new(vec![[0.1, 0.1], [f64::NAN, 0.1], [0.5, 0.5]]).unwrap_err();
        assert_eq!(
            e,
            "point 2 is [NaN, 0.1]: coordinates must be within [0, 1]"
        );
        // The edges of the range are fine.
        assert!(Polygon::new(vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]).is_ok());
    }

    #[test]
    fn repeated_point() {
        let e = Polygon::new(vec![[0.1, 0.1], [0.5, 0.1], [0.5, 0.1], [0.1, 0.5]]).unwrap_err();
        assert_eq!(e, "point 3 repeats point 2");
        let e = Polygon::new(vec![[0.1, 0.1], [0.5, 0.1], [0.1, 0.5], [0.1, 0.1]]).unwrap_err();
        assert_eq!(e, "point 1 repeats point 4");
    }

    #[test]
    fn bow_tie_is_self_intersecting() {
        let e = Polygon::new(vec![[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]).unwrap_err();
        assert_eq!(e, "self-intersecting: edge 1-2 crosses edge 3-4");
    }

    #[test]
    fn closing_edge_is_named_n_to_1() {
        let e = Polygon::new(vec![[0.1, 0.1], [0.5, 0.1], [0.1, 0.5], [0.5, 0.5]]).unwrap_err();
        assert_eq!(e, "self-intersecting: edge 2-3 crosses edge 4-1");
    }

    #[test]
    fn collinear_overlap_counts() {
        // Edge 5-6 runs back over part of edge 1-2.
        let e = Polygon::new(vec![
            [0.5, 0.1],
            [0.9, 0.1],
            [0.9, 0.5],
            [0.1, 0.5],
            [0.1, 0.1],
            [0.6, 0.1],
        ])
        .unwrap_err();
        assert_eq!(e, "self-intersecting: edge 1-2 crosses edge 5-6");
        // A vertex touching another edge counts too.
        let e = Polygon::new(vec![
            [0.1, 0.1],
            [0.9, 0.1],
            [0.5, 0.5],
            [0.5, 0.1],
            [0.3, 0.8],
        ])
        .unwrap_err();
        assert_eq!(e, "self-intersecting: edge 1-2 crosses edge 3-4");
        // Collinear adjacent edges going on in the same direction are fine.
        assert!(
            Polygon::new(vec![
                [0.3, 0.1],
                [0.7, 0.1],
                [0.7, 0.5],
                [0.1, 0.5],
                [0.1, 0.1]
            ])
            .is_ok()
        );
    }

    #[test]
    fn fold_back_of_adjacent_edges() {
        let e = Polygon::new(vec![[0.1, 0.1], [0.9, 0.1], [0.5, 0.1], [0.5, 0.5]]).unwrap_err();
        assert_eq!(e, "self-intersecting: edge 1-2 overlaps edge 2-3");
    }

    #[test]
    fn zero_area() {
        let e = Polygon::new(vec![[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]).unwrap_err();
        assert_eq!(e, "zero area: all points lie on one line");
    }

    #[test]
    fn contains_inside_outside_boundary() {
        let p = square();
        assert!(p.contains(0.4, 0.4));
        assert!(!p.contains(0.1, 0.4));
        assert!(!p.contains(0.7, 0.4));
        assert!(!p.contains(0.4, 0.7));
        // Boundary and corners count as inside.
        assert!(p.contains(0.2, 0.4));
        assert!(p.contains(0.6, 0.6));
        assert!(p.contains(0.4, 0.2));
        assert!(!p.contains(f64::NAN, 0.4));
        assert!((p.area() - 0.16).abs() < 1e-12);
    }

    #[test]
    fn contains_concave() {
        // A "U": the notch between the arms is outside.
        let u = Polygon::new(vec![
            [0.1, 0.1],
            [0.3, 0.1],
            [0.3, 0.6],
            [0.7, 0.6],
            [0.7, 0.1],
            [0.9, 0.1],
            [0.9, 0.9],
            [0.1, 0.9],
        ])
        .unwrap();
        assert!(u.contains(0.2, 0.3));
        assert!(u.contains(0.8, 0.3));
        assert!(!u.contains(0.5, 0.3));
        assert!(u.contains(0.5, 0.8));
        // Clockwise order works the same.
        let mut pts = u.points().to_vec();
        pts.reverse();
        let r = Polygon::new(pts).unwrap();
        assert!(!r.contains(0.5, 0.3));
        assert!(r.contains(0.5, 0.8));
    }

    #[test]
    fn pixels() {
        let p = square();
        assert!(p.contains_px((307.2, 300.0), 768, 576));
        assert!(!p.contains_px((100.0, 300.0), 768, 576));
        assert!(!p.contains_px((300.0, 300.0), 0, 576));
        assert_eq!(
            p.to_pixels(768, 576),
            vec![(154, 115), (461, 115), (461, 346), (154, 346)]
        );
    }

    #[test]
    fn serde_validates() {
        let p: Polygon = serde_json::from_str("[[0.1,0.1],[0.9,0.1],[0.5,0.9]]").unwrap();
        assert_eq!(p.points().len(), 3);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            "[[0.1,0.1],[0.9,0.1],[0.5,0.9]]"
        );
        let e = serde_json::from_str::<Polygon>("[[0.1,0.1],[0.9,0.1]]").unwrap_err();
        assert!(
            e.to_string().contains("needs at least 3 points, got 2"),
            "{e}"
        );
    }
}
