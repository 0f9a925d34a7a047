//! Frame → model input tensor, into reused buffers (no per-frame allocation once warm).

use opencv::core::{CV_8UC3, Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

use super::letterbox::{InputMap, LETTERBOX_FILL, Resize};

/// When the night profile applies to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NightMode {
    /// Never.
    Off,
    /// Always (a camera that is only ever watched at night, or an IR-only camera).
    On,
    /// Per frame: on grey frames (infrared) and on dark ones.
    #[default]
    Auto,
}

/// The night profile: how frames are told apart, and what changes for them.
#[derive(Debug, Clone, PartialEq)]
pub struct NightSettings {
    pub mode: NightMode,
    /// Equalise the luma histogram of night frames before inference.
    pub equalize: bool,
    /// Auto: a frame whose mean colourfulness (max − min of B, G, R, 0–255) is at most this
    /// is grey (an infrared picture).
    pub max_chroma: f32,
    /// Auto: a frame whose mean luma (0–255) is at most this is dark.
    pub max_luma: f32,
    /// Per-label score thresholds for night frames (label name → threshold); labels not
    /// listed keep their day threshold.
    pub score_thresholds: Vec<(String, f32)>,
}

impl Default for NightSettings {
    fn default() -> Self {
        Self {
            mode: NightMode::Auto,
            equalize: true,
            max_chroma: 6.0,
            max_luma: 70.0,
            score_thresholds: DEFAULT_NIGHT_THRESHOLDS
                .iter()
                .map(|(n, t)| (n.to_string(), *t))
                .collect(),
        }
    }
}

/// Night thresholds by COCO label name (docs/night.md has the measurements behind them).
/// Names a model does not have are skipped; names given in the config must exist.
pub const DEFAULT_NIGHT_THRESHOLDS: [(&str, f32); 4] = [
    ("motorcycle", 0.2),
    ("car", 0.25),
    ("bus", 0.25),
    ("truck", 0.25),
];

/// The lowest bit of every preprocessing id is 1; bit 1 says the input was made with the
/// night profile.
const NIGHT_BIT: u64 = 2;

/// Mean luma ((B + 2G + R) / 4) and mean colourfulness (max − min channel) of a BGR
/// image, on a subsample of about 4 000 pixels.
fn frame_stats(bgr: &[u8]) -> (f32, f32) {
    let n = bgr.len() / 3;
    if n == 0 {
        return (0.0, 0.0);
    }
    let step = (n / 4096).max(1);
    let (mut luma, mut chroma, mut k) = (0u64, 0u64, 0u64);
    let mut i = 0;
    while i < n {
        let p = &bgr[i * 3..i * 3 + 3];
        let (b, g, r) = (p[0] as u32, p[1] as u32, p[2] as u32);
        luma += ((b + 2 * g + r) / 4) as u64;
        chroma += (b.max(g).max(r) - b.min(g).min(r)) as u64;
        k += 1;
        i += step;
    }
    (luma as f32 / k as f32, chroma as f32 / k as f32)
}

/// Resize a BGR 8-bit frame as `map` says (stretch, or letterbox into a grey-padded
/// canvas) and write it as planar CHW float, in BGR or RGB order, normalised per channel
/// (model order) as `(x − mean) / std`, into `out` (length `3·w·h`).
#[allow(clippy::too_many_arguments)]
pub fn to_tensor(
    frame: &Mat,
    resized: &mut Mat,
    out: &mut [f32],
    w: usize,
    h: usize,
    map: &InputMap,
    rgb: bool,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<(), String> {
    resize_into(frame, resized, w, h, map)?;
    write_tensor(resized, out, w, h, map, rgb, mean, std)
}

fn resize_into(
    frame: &Mat,
    resized: &mut Mat,
    w: usize,
    h: usize,
    map: &InputMap,
) -> Result<(), String> {
    if frame.empty() {
        return Err("empty frame".into());
    }
    if frame.typ() != CV_8UC3 {
        return Err(format!(
            "unsupported pixel format (OpenCV type {}), expected 8-bit BGR",
            frame.typ()
        ));
    }
    let (rw, rh) = (map.resized_w as usize, map.resized_h as usize);
    if rw == 0 || rh == 0 || rw > w || rh > h {
        return Err(format!(
            "resize target {rw}x{rh} does not fit the {w}x{h} input"
        ));
    }
    imgproc::resize(
        frame,
        resized,
        Size::new(rw as i32, rh as i32),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .map_err(|e| format!("resize failed: {e}"))?;
    Ok(())
}

/// The planar, normalised tensor of an already resized BGR image.
#[allow(clippy::too_many_arguments)]
fn write_tensor(
    resized: &Mat,
    out: &mut [f32],
    w: usize,
    h: usize,
    map: &InputMap,
    rgb: bool,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<(), String> {
    let (rw, rh) = (map.resized_w as usize, map.resized_h as usize);
    let src = resized
        .data_bytes()
        .map_err(|e| format!("resized frame not contiguous: {e}"))?;
    let plane = w * h;
    if src.len() != rw * rh * 3 || out.len() != plane * 3 {
        return Err(format!(
            "buffer size mismatch ({} bytes for {rw}x{rh})",
            src.len()
        ));
    }
    let inv = [1.0 / std[0], 1.0 / std[1], 1.0 / std[2]];
    // Source (BGR) channel feeding model channel c.
    let from = if rgb { [2usize, 1, 0] } else { [0usize, 1, 2] };
    let (c0, rest) = out.split_at_mut(plane);
    let (c1, c2) = rest.split_at_mut(plane);
    let (px, py) = (map.pad_x.round() as usize, map.pad_y.round() as usize);
    if rw != w || rh != h {
        let fill = LETTERBOX_FILL as f32;
        c0.fill((fill - mean[0]) * inv[0]);
        c1.fill((fill - mean[1]) * inv[1]);
        c2.fill((fill - mean[2]) * inv[2]);
    }
    for y in 0..rh {
        let row = &src[y * rw * 3..(y + 1) * rw * 3];
        let base = (y + py) * w + px;
        let (d0, d1, d2) = (
            &mut c0[base..base + rw],
            &mut c1[base..base + rw],
            &mut c2[base..base + rw],
        );
        for (x, p) in row.chunks_exact(3).enumerate() {
            d0[x] = (p[from[0]] as f32 - mean[0]) * inv[0];
            d1[x] = (p[from[1]] as f32 - mean[1]) * inv[1];
            d2[x] = (p[from[2]] as f32 - mean[2]) * inv[2];
        }
    }
    Ok(())
}

/// A detector's preprocessing, detached from its session so that a camera's capture
/// thread can prepare the next frame's model input while the detector infers the
/// previous one. Buffers are reused: no allocation per frame once warm.
#[derive(Debug, Clone)]
pub struct Preprocessor {
    id: u64,
    w: usize,
    h: usize,
    resize: Resize,
    rgb: bool,
    mean: [f32; 3],
    std: [f32; 3],
    resized: Mat,
    map: Option<((u32, u32), InputMap)>,
    night: NightSettings,
    /// Whether the last input was made with the night profile.
    last_night: bool,
    /// Equalisation buffers, reused.
    grey: Mat,
    ycc: Mat,
    planes: opencv::core::Vector<Mat>,
}

impl Preprocessor {
    pub fn new(w: usize, h: usize, s: &super::DetectorSettings) -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (w, h, s.resize == Resize::Letterbox, s.rgb).hash(&mut hasher);
        for x in s.mean.iter().chain(s.std.iter()) {
            x.to_bits().hash(&mut hasher);
        }
        let night = s.night.clone();
        (night.mode as u8, night.equalize).hash(&mut hasher);
        for x in [night.max_chroma, night.max_luma] {
            x.to_bits().hash(&mut hasher);
        }
        Self {
            id: (hasher.finish() & !NIGHT_BIT) | 1,
            w,
            h,
            resize: s.resize,
            rgb: s.rgb,
            mean: s.mean,
            std: s.std,
            resized: Mat::default(),
            map: None,
            night,
            last_night: false,
            grey: Mat::default(),
            ycc: Mat::default(),
            planes: opencv::core::Vector::new(),
        }
    }

    /// Identifies the preprocessing (input size, resize, channel order, normalisation,
    /// night profile): an input made by a preprocessor with the same id is valid for the
    /// detector. See [`Self::input_id`] for the id an input carries.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The id of the last input made: [`Self::id`], marked when the night profile applied.
    pub fn input_id(&self) -> u64 {
        if self.last_night {
            self.id | NIGHT_BIT
        } else {
            self.id
        }
    }

    /// Whether an input with this id was made by this preprocessing (day or night).
    pub fn accepts(&self, input_id: u64) -> bool {
        input_id & !NIGHT_BIT == self.id
    }

    /// Whether an input id says the night profile applied.
    pub fn is_night(input_id: u64) -> bool {
        input_id & NIGHT_BIT != 0
    }

    /// Whether the last input made was a night one.
    pub fn last_night(&self) -> bool {
        self.last_night
    }

    /// Decide the profile for the resized image and, at night, equalise it in place.
    fn apply_night(&mut self) -> Result<bool, String> {
        if self.night.mode == NightMode::Off {
            return Ok(false);
        }
        // One pass over the picture serves both the decision and the choice of equalisation.
        let bytes = self
            .resized
            .data_bytes()
            .map_err(|e| format!("resized frame not contiguous: {e}"))?;
        let (luma, chroma) = frame_stats(bytes);
        let night = self.night.mode == NightMode::On
            || chroma <= self.night.max_chroma
            || luma <= self.night.max_luma;
        if night && self.night.equalize {
            let err = |e: opencv::Error| format!("night equalisation failed: {e}");
            if chroma <= self.night.max_chroma {
                // Grey picture: equalise the grey channel, write it back to all three.
                imgproc::cvt_color_def(&self.resized, &mut self.grey, imgproc::COLOR_BGR2GRAY)
                    .map_err(err)?;
                imgproc::equalize_hist(&self.grey, &mut self.ycc).map_err(err)?;
                imgproc::cvt_color_def(&self.ycc, &mut self.resized, imgproc::COLOR_GRAY2BGR)
                    .map_err(err)?;
            } else {
                // Colour picture: equalise the luma only.
                imgproc::cvt_color_def(&self.resized, &mut self.ycc, imgproc::COLOR_BGR2YCrCb)
                    .map_err(err)?;
                opencv::core::split(&self.ycc, &mut self.planes).map_err(err)?;
                let y = self.planes.get(0).map_err(err)?;
                imgproc::equalize_hist(&y, &mut self.grey).map_err(err)?;
                self.planes.set(0, self.grey.clone()).map_err(err)?;
                opencv::core::merge(&self.planes, &mut self.ycc).map_err(err)?;
                imgproc::cvt_color_def(&self.ycc, &mut self.resized, imgproc::COLOR_YCrCb2BGR)
                    .map_err(err)?;
            }
        }
        Ok(night)
    }

    /// Values in one model input (`3·w·h`).
    pub fn input_len(&self) -> usize {
        3 * self.w * self.h
    }

    /// The geometry for a `fw × fh` frame (cached for the last size).
    pub fn map_for(&mut self, fw: u32, fh: u32) -> InputMap {
        match self.map {
            Some((size, m)) if size == (fw, fh) => m,
            _ => {
                let m = InputMap::new(self.resize, fw, fh, self.w as u32, self.h as u32);
                self.map = Some(((fw, fh), m));
                m
            }
        }
    }

    /// Write `frame`'s model input into `out`, which must hold [`Self::input_len`] values.
    pub fn run_into(&mut self, frame: &Mat, out: &mut [f32]) -> Result<InputMap, String> {
        let map = self.map_for(frame.cols().max(0) as u32, frame.rows().max(0) as u32);
        self.last_night = false;
        resize_into(frame, &mut self.resized, self.w, self.h, &map)?;
        self.last_night = self.apply_night()?;
        write_tensor(
            &self.resized,
            out,
            self.w,
            self.h,
            &map,
            self.rgb,
            self.mean,
            self.std,
        )?;
        Ok(map)
    }

    /// Write `frame`'s model input into `out`, sized on first use.
    pub fn run(&mut self, frame: &Mat, out: &mut Vec<f32>) -> Result<InputMap, String> {
        out.resize(self.input_len(), 0.0);
        self.run_into(frame, out)
    }
}
