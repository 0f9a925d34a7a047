//! Frame → model input tensor, into reused buffers (no per-frame allocation once warm).

use opencv::core::{CV_8UC3, Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

/// Stretch-resize a BGR 8-bit frame to `w × h` (into `resized`, reused) and write it
/// as planar CHW float, normalised per channel as `(x − mean) / std`, into `out`
/// (length `3·w·h`). Returns the frame's (width, height).
pub fn to_tensor(
    frame: &Mat,
    resized: &mut Mat,
    out: &mut [f32],
    w: usize,
    h: usize,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<(u32, u32), String> {
    if frame.empty() {
        return Err("empty frame".into());
    }
    if frame.typ() != CV_8UC3 {
        return Err(format!(
            "unsupported pixel format (OpenCV type {}), expected 8-bit BGR",
            frame.typ()
        ));
    }
    let (fw, fh) = (frame.cols(), frame.rows());
    imgproc::resize(
        frame,
        resized,
        Size::new(w as i32, h as i32),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .map_err(|e| format!("resize failed: {e}"))?;
    let src = resized
        .data_bytes()
        .map_err(|e| format!("resized frame not contiguous: {e}"))?;
    let plane = w * h;
    if src.len() != plane * 3 || out.len() != plane * 3 {
        return Err(format!(
            "buffer size mismatch ({} bytes for {w}x{h})",
            src.len()
        ));
    }
    let inv = [1.0 / std[0], 1.0 / std[1], 1.0 / std[2]];
    let (c0, rest) = out.split_at_mut(plane);
    let (c1, c2) = rest.split_at_mut(plane);
    for (i, px) in src.chunks_exact(3).enumerate() {
        c0[i] = (px[0] as f32 - mean[0]) * inv[0];
        c1[i] = (px[1] as f32 - mean[1]) * inv[1];
        c2[i] = (px[2] as f32 - mean[2]) * inv[2];
    }
    Ok((fw as u32, fh as u32))
}
