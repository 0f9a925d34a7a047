//! Frame → model input tensor, into reused buffers (no per-frame allocation once warm).

use opencv::core::{CV_8UC3, Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

use super::letterbox::{InputMap, LETTERBOX_FILL, Resize};

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
}

impl Preprocessor {
    pub fn new(w: usize, h: usize, s: &super::DetectorSettings) -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (w, h, s.resize == Resize::Letterbox, s.rgb).hash(&mut hasher);
        for x in s.mean.iter().chain(s.std.iter()) {
            x.to_bits().hash(&mut hasher);
        }
        Self {
            id: hasher.finish() | 1,
            w,
            h,
            resize: s.resize,
            rgb: s.rgb,
            mean: s.mean,
            std: s.std,
            resized: Mat::default(),
            map: None,
        }
    }

    /// Identifies the preprocessing (input size, resize, channel order, normalisation):
    /// an input made by a preprocessor with the same id is valid for the detector.
    pub fn id(&self) -> u64 {
        self.id
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
        to_tensor(
            frame,
            &mut self.resized,
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
