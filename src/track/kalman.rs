//! The motion model: a constant-velocity Kalman filter per box coordinate, time step
//! from the frame timestamps (see the tracker's module docs for the noise model).

use crate::types::BBox;

// ---------------------------------------------------------------------------------------------
// Kalman filter
// ---------------------------------------------------------------------------------------------

/// ByteTrack's position noise weight (fraction of box height).
const STD_WEIGHT_POSITION: f64 = 1.0 / 20.0;
/// ByteTrack's velocity noise weight (fraction of box height, per frame).
const STD_WEIGHT_VELOCITY: f64 = 1.0 / 160.0;
/// Frame rate at which ByteTrack's per-frame noise values are converted to per-second rates.
const NOMINAL_FPS: f64 = 30.0;
/// Position random-walk rate: `(swp*h)^2` per frame → per second.
const Q_POS: f64 = STD_WEIGHT_POSITION * STD_WEIGHT_POSITION * NOMINAL_FPS;
/// White-noise acceleration density: velocity variance `(swv*h*fps)^2` (px/s)^2 per frame →
/// per second.
const Q_ACC: f64 =
    (STD_WEIGHT_VELOCITY * NOMINAL_FPS) * (STD_WEIGHT_VELOCITY * NOMINAL_FPS) * NOMINAL_FPS;
/// Initial position std: `2 * swp * h` (ByteTrack).
const INIT_POS_STD: f64 = 2.0 * STD_WEIGHT_POSITION;
/// Initial velocity std in px/s: `10 * swv * h` per frame at the nominal rate (ByteTrack).
const INIT_VEL_STD: f64 = 10.0 * STD_WEIGHT_VELOCITY * NOMINAL_FPS;
/// Lower bound for the height used to scale noise, so zero-height boxes keep a valid filter.
const MIN_SCALE: f64 = 1.0;

/// One coordinate: state `(p, v)` and symmetric covariance `[[p00, p01], [p01, p11]]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Axis {
    pub(super) p: f64,
    pub(super) v: f64,
    pub(super) p00: f64,
    pub(super) p01: f64,
    pub(super) p11: f64,
}

impl Axis {
    pub(super) fn new(p: f64, scale: f64) -> Self {
        let sp = INIT_POS_STD * scale;
        let sv = INIT_VEL_STD * scale;
        Self {
            p,
            v: 0.0,
            p00: sp * sp,
            p01: 0.0,
            p11: sv * sv,
        }
    }

    /// `x = F x`, `P = F P Fᵀ + Q` with `F = [[1, dt], [0, 1]]` and the continuous-time
    /// position random walk + white-noise acceleration `Q`, both scaled by `scale²`.
    pub(super) fn predict(&mut self, dt: f64, scale2: f64) {
        let qp = Q_POS * scale2;
        let qa = Q_ACC * scale2;
        let dt2 = dt * dt;
        self.p += self.v * dt;
        self.p00 += 2.0 * dt * self.p01 + dt2 * self.p11 + qp * dt + qa * dt2 * dt / 3.0;
        self.p01 += dt * self.p11 + qa * dt2 / 2.0;
        self.p11 += qa * dt;
    }

    /// Scalar position measurement `z` with variance `r > 0`.
    pub(super) fn update(&mut self, z: f64, r: f64) {
        let s = self.p00 + r;
        let k0 = self.p00 / s;
        let k1 = self.p01 / s;
        let y = z - self.p;
        self.p += k0 * y;
        self.v += k1 * y;
        let (p00, p01) = (self.p00, self.p01);
        self.p00 = (1.0 - k0) * p00;
        self.p01 = (1.0 - k0) * p01;
        self.p11 -= k1 * p01;
    }

    pub(super) fn is_finite(&self) -> bool {
        self.p.is_finite()
            && self.v.is_finite()
            && self.p00.is_finite()
            && self.p01.is_finite()
            && self.p11.is_finite()
    }
}

/// Constant-velocity filter on `(cx, cy, w, h)`, as four independent [`Axis`] filters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kalman {
    pub(super) axes: [Axis; 4],
}

pub(super) fn measurement(b: &BBox) -> [f64; 4] {
    let (cx, cy) = b.center();
    [cx as f64, cy as f64, b.width() as f64, b.height() as f64]
}

impl Kalman {
    pub(super) fn new(b: &BBox) -> Self {
        let z = measurement(b);
        let scale = z[3].max(MIN_SCALE);
        Self {
            axes: z.map(|p| Axis::new(p, scale)),
        }
    }

    pub(super) fn scale2(&self) -> f64 {
        let s = self.axes[3].p.max(MIN_SCALE);
        s * s
    }

    pub(super) fn predict(&mut self, dt: f64, lost: bool) {
        if lost {
            self.axes[2].v = 0.0;
            self.axes[3].v = 0.0;
        }
        let scale2 = self.scale2();
        for a in &mut self.axes {
            a.predict(dt, scale2);
        }
    }

    pub(super) fn update(&mut self, b: &BBox) {
        let z = measurement(b);
        let r = STD_WEIGHT_POSITION * STD_WEIGHT_POSITION * self.scale2();
        for (a, z) in self.axes.iter_mut().zip(z) {
            a.update(z, r);
        }
        if !self.axes.iter().all(Axis::is_finite) {
            // Cannot happen with finite input; restart from the measurement rather than
            // carrying NaN forward.
            *self = Self::new(b);
        }
    }

    pub(super) fn bbox(&self) -> BBox {
        let [cx, cy, w, h] = self.axes.map(|a| a.p);
        BBox::from_cxcywh(cx as f32, cy as f32, w.max(0.0) as f32, h.max(0.0) as f32)
    }

    /// Overwrite the centre velocity (px/s), keeping the covariance.
    pub(super) fn set_velocity(&mut self, v: (f32, f32)) {
        self.axes[0].v = v.0 as f64;
        self.axes[1].v = v.1 as f64;
    }

    pub(super) fn velocity(&self) -> (f32, f32) {
        (self.axes[0].v as f32, self.axes[1].v as f32)
    }
}
