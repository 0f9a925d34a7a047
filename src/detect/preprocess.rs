//! Frame → model input tensor, into reused buffers (no per-frame allocation once warm).

use opencv::core::{CV_8UC3, Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

use super::letterbox::{InputMap, LETTERBOX_FILL};

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
