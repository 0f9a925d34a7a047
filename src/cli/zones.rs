//! `wardwatch zones`: draw a camera's zones on a real frame from it, so the integrator
//! sees what the polygons cover before anything is deployed.

use std::path::Path;

use opencv::prelude::*;

use super::{AppError, pick_camera};
use crate::analytics::filter::ObjectFilter;
use crate::analytics::zone::Polygon;
use crate::config::Config;
use crate::media::source::{Frame, LiveSource, Source, SourceError, redact};
use crate::publish::evidence;

pub fn draw_zones(
    config: &Path,
    camera: Option<&str>,
    source: Option<&Path>,
    out: &Path,
) -> Result<(), AppError> {
    use opencv::core::{Point, Scalar, Vector};
    use opencv::{imgcodecs, imgproc};
    let cfg = Config::load(config)?;
    let cam = pick_camera(&cfg, camera, config)?;
    let mut frame = Frame::default();
    let url = source
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| cam.url.clone());
    let mut live = LiveSource::new(&url);
    live.open()?;
    // Skip a few frames: some cameras send grey or partial frames first.
    let mut got = false;
    for _ in 0..5 {
        if live.read(&mut frame)? {
            got = true;
        }
    }
    if !got {
        return Err(AppError::Source(SourceError::Read {
            path: redact(&url),
            frame: 0,
            reason: "no frame could be read".into(),
        }));
    }
    let img = &mut frame.image;
    let (w, h) = (img.cols() as u32, img.rows() as u32);
    let colors = [
        Scalar::new(0.0, 220.0, 255.0, 0.0),
        Scalar::new(255.0, 120.0, 0.0, 0.0),
        Scalar::new(80.0, 200.0, 80.0, 0.0),
        Scalar::new(200.0, 80.0, 255.0, 0.0),
    ];
    let masks = object_masks(cam);
    let draw = |img: &mut opencv::core::Mat| -> opencv::Result<()> {
        for (i, z) in cam.zones.iter().enumerate() {
            let color = colors[i % colors.len()];
            let pts: Vector<Point> = z
                .polygon
                .to_pixels(w, h)
                .into_iter()
                .map(|(x, y)| Point::new(x, y))
                .collect();
            let first = pts.get(0)?;
            imgproc::polylines(
                img,
                &Vector::<Vector<Point>>::from_iter([pts]),
                true,
                color,
                2,
                imgproc::LINE_AA,
                0,
            )?;
            let rules: Vec<&str> = [
                z.gathering.is_some().then_some("gathering"),
                z.weaving.is_some().then_some("weaving"),
                z.loitering.is_some().then_some("loitering"),
            ]
            .into_iter()
            .flatten()
            .collect();
            let label = format!(
                "{} [{}] {}",
                z.id,
                rules.join(","),
                z.schedule_text.join(" | ")
            );
            let org = Point::new(
                first.x.clamp(4, w as i32 - 200),
                (first.y - 6).clamp(14, h as i32 - 4),
            );
            evidence::label(img, &label, org, color, 0.5)?;
        }
        // Object masks in red, each named by what it drops (docs/config.md#filters).
        let red = Scalar::new(40.0, 40.0, 230.0, 0.0);
        for (poly, label) in &masks {
            let pts: Vector<Point> = poly
                .to_pixels(w, h)
                .into_iter()
                .map(|(x, y)| Point::new(x, y))
                .collect();
            // The label inside the mask's bottom-left corner, clear of the header.
            let left = pts.iter().map(|p| p.x).min().unwrap_or(0);
            let bottom = pts.iter().map(|p| p.y).max().unwrap_or(0);
            imgproc::polylines(
                img,
                &Vector::<Vector<Point>>::from_iter([pts]),
                true,
                red,
                1,
                imgproc::LINE_AA,
                0,
            )?;
            let org = Point::new(
                (left + 4).clamp(4, (w as i32 - 240).max(4)),
                (bottom - 6).clamp(36, (h as i32 - 4).max(36)),
            );
            evidence::label(img, label, org, red, 0.45)?;
        }
        let header = format!("{} | {} zone(s) | {}x{}", cam.id, cam.zones.len(), w, h);
        evidence::label(img, &header, Point::new(6, 18), Scalar::all(255.0), 0.55)
    };
    draw(img).map_err(|e| AppError::Failed(format!("drawing failed: {e}")))?;
    let ok = imgcodecs::imwrite(out.display().to_string().as_str(), img, &Vector::new())
        .map_err(|e| AppError::Failed(format!("{}: cannot write ({e})", out.display())))?;
    if !ok {
        return Err(AppError::Failed(format!(
            "{}: cannot write (use a .jpg or .png name in a writable directory)",
            out.display()
        )));
    }
    println!(
        "{}: {} zone(s) of camera {} drawn on a {w}x{h} frame from {}, with {} object mask(s)",
        out.display(),
        cam.zones.len(),
        cam.id,
        redact(&url),
        masks.len()
    );
    Ok(())
}

/// The camera's and its zones' object masks, each once, with what it drops.
fn object_masks(cam: &crate::config::CameraConfig) -> Vec<(Polygon, String)> {
    let mut out = Vec::new();
    let mut add = |f: &ObjectFilter, place: &str| {
        for m in &f.person.masks {
            let who = if f.vehicle.masks.contains(m) {
                "all"
            } else {
                "people"
            };
            out.push((m.clone(), format!("{place}mask: {who}")));
        }
        for m in f
            .vehicle
            .masks
            .iter()
            .filter(|m| !f.person.masks.contains(m))
        {
            out.push((m.clone(), format!("{place}mask: vehicles")));
        }
    };
    add(&cam.filter, "");
    for z in &cam.zones {
        add(&z.filter, &format!("{} ", z.id));
    }
    out
}
