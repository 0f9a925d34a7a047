//! The tuning overlay of `replay --annotate`: one analysed frame with what the analytics
//! saw in it (an [`Explanation`]), the raw detections and the tracks. Drawn with the
//! evidence snapshot's helpers (header band, TrueType text, outlined labels). What each
//! mark means: docs/tuning.md.

use std::path::Path;

use jiff::tz::TimeZone;
use opencv::core::{Mat, Point, Rect, Scalar, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::analytics::explain::{Explanation, Verdict, ZoneView};
use crate::publish::evidence::{
    TextPainter, box_rect, draw_header, label, polygon_pixels, polyline,
};
use crate::types::{Detection, ObjectClass, Track};

/// Colours (BGR).
pub const ZONE: Scalar = Scalar::new(0.0, 220.0, 255.0, 0.0);
pub const CLOSED: Scalar = Scalar::new(150.0, 150.0, 150.0, 0.0);
pub const DETECTION: Scalar = Scalar::new(210.0, 210.0, 210.0, 0.0);
pub const TRACK: Scalar = Scalar::new(80.0, 200.0, 80.0, 0.0);
pub const VEHICLE: Scalar = Scalar::new(220.0, 200.0, 0.0, 0.0);
pub const LINK: Scalar = Scalar::new(255.0, 60.0, 255.0, 0.0);
/// A candidate whose condition fails (too few, moving, not judged yet).
pub const IDLE: Scalar = Scalar::new(255.0, 170.0, 70.0, 0.0);
/// A candidate whose condition holds, counting down to `min_duration`.
pub const WAITING: Scalar = Scalar::new(0.0, 140.0, 255.0, 0.0);
pub const ALERT: Scalar = Scalar::new(40.0, 40.0, 255.0, 0.0);
/// Weaving path and its reversal points.
pub const PATH: Scalar = Scalar::new(255.0, 255.0, 0.0, 0.0);
pub const REVERSAL: Scalar = Scalar::new(255.0, 0.0, 0.0, 0.0);

const TAG_HEIGHT: i32 = 16;

/// Draws annotated frames into its own canvas (reused from frame to frame).
pub struct Overlay {
    painter: TextPainter,
    canvas: Mat,
    camera: String,
    tz: TimeZone,
    /// Label names of the model, by label index; empty: person / vehicle.
    names: Vec<String>,
    /// Track id → colour and width of this frame's highlight (reused buffer).
    marks: Vec<(u64, Scalar, i32)>,
}

impl Overlay {
    pub fn new(camera: &str, tz: TimeZone, font: Option<&Path>, names: Vec<String>) -> Self {
        Self {
            painter: TextPainter::new(font),
            canvas: Mat::default(),
            camera: camera.to_string(),
            tz,
            names,
            marks: Vec::new(),
        }
    }

    /// `frame` with the annotations; the result lives in the overlay until the next call.
    pub fn draw(
        &mut self,
        frame: &Mat,
        dets: &[Detection],
        tracks: &[Track],
        ex: &Explanation,
        media_s: f64,
    ) -> opencv::Result<&Mat> {
        frame.copy_to(&mut self.canvas)?;
        let img = &mut self.canvas;
        let (w, h) = (img.cols() as u32, img.rows() as u32);

        // Highlights: zone members, then group members by how far their group is.
        self.marks.clear();
        for z in &ex.zones {
            for &id in &z.members {
                self.marks.push((id, ZONE, 2));
            }
        }
        for z in &ex.zones {
            if let Some(g) = &z.gathering {
                for grp in &g.groups {
                    let c = verdict_colour(&grp.verdict);
                    for &id in &grp.track_ids {
                        self.marks.push((id, c, 2));
                    }
                }
            }
            if let Some(wv) = &z.weaving {
                for v in &wv.vehicles {
                    self.marks.push((v.track_id, verdict_colour(&v.verdict), 2));
                }
            }
        }

        for z in &ex.zones {
            draw_zone(img, z, w, h)?;
        }
        for d in dets {
            let b = d.bbox;
            imgproc::rectangle(img, box_rect(&b), DETECTION, 1, imgproc::LINE_8, 0)?;
            let name = self
                .names
                .get(d.label as usize)
                .map(String::as_str)
                .unwrap_or(match d.class {
                    ObjectClass::Person => "person",
                    ObjectClass::Vehicle => "vehicle",
                });
            label(
                img,
                &format!("{name} {:.2}", d.score),
                Point::new(b.x1.round() as i32 + 2, b.y1.round() as i32 + 11),
                DETECTION,
                0.35,
            )?;
        }
        for t in tracks.iter().filter(|t| t.confirmed) {
            let (colour, width) = self
                .marks
                .iter()
                .rev()
                .find(|m| m.0 == t.id)
                .map(|m| (m.1, m.2))
                .unwrap_or(if t.class == ObjectClass::Vehicle {
                    (VEHICLE, 1)
                } else {
                    (TRACK, 1)
                });
            let b = t.bbox;
            let r = box_rect(&b);
            imgproc::rectangle(img, r, colour, width, imgproc::LINE_8, 0)?;
            label(
                img,
                &format!("#{}", t.id),
                Point::new(r.x, (r.y - 4).max(12)),
                colour,
                0.45,
            )?;
            let foot = pt(b.bottom_center());
            imgproc::circle(img, foot, 5, Scalar::all(0.0), -1, imgproc::LINE_AA, 0)?;
            imgproc::circle(img, foot, 3, colour, -1, imgproc::LINE_AA, 0)?;
        }

        for z in &ex.zones {
            if let Some(g) = &z.gathering {
                let foot = |id: u64| {
                    tracks
                        .iter()
                        .find(|t| t.id == id)
                        .map(|t| pt(t.bbox.bottom_center()))
                };
                for &(a, b) in &g.links {
                    if let (Some(p), Some(q)) = (foot(a), foot(b)) {
                        imgproc::line(img, p, q, LINK, 2, imgproc::LINE_AA, 0)?;
                    }
                }
                for grp in &g.groups {
                    let c = verdict_colour(&grp.verdict);
                    polyline(img, &grp.hull, true, c, 2)?;
                    let top = top_left(&grp.hull);
                    let text = format!(
                        "#{} {} people · {}",
                        grp.key,
                        grp.people,
                        short(&grp.verdict, grp.incident)
                    );
                    tag(&mut self.painter, img, &text, top, c)?;
                }
            }
            if let Some(wv) = &z.weaving {
                for v in &wv.vehicles {
                    polyline(img, &v.path, false, PATH, 2)?;
                    for &p in &v.reversal_points {
                        let p = pt(p);
                        imgproc::circle(img, p, 7, Scalar::all(255.0), 2, imgproc::LINE_AA, 0)?;
                        imgproc::circle(img, p, 5, REVERSAL, -1, imgproc::LINE_AA, 0)?;
                    }
                    if let Some(&end) = v.path.last() {
                        let text = format!(
                            "#{} {}/{} reversals · {}",
                            v.track_id,
                            v.reversals,
                            wv.min_reversals,
                            short(&v.verdict, v.incident)
                        );
                        let at = pt((end.0 + 8.0, end.1 + 20.0));
                        tag(
                            &mut self.painter,
                            img,
                            &text,
                            at,
                            verdict_colour(&v.verdict),
                        )?;
                    }
                }
            }
        }

        let when = ex
            .ts
            .to_zoned(self.tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string();
        let first = format!("{} · {when} · t {media_s:.1} s", self.camera);
        let second = ex
            .zones
            .iter()
            .map(zone_summary)
            .collect::<Vec<_>>()
            .join("  |  ");
        draw_header(img, &mut self.painter, [&first, &second])?;
        Ok(&self.canvas)
    }
}

fn pt(p: (f32, f32)) -> Point {
    Point::new(p.0.round() as i32, p.1.round() as i32)
}

/// Where a tag above a hull goes: its leftmost x, its top y.
fn top_left(pts: &[(f32, f32)]) -> Point {
    let x = pts.iter().map(|p| p.0).fold(f32::INFINITY, f32::min);
    let y = pts.iter().map(|p| p.1).fold(f32::INFINITY, f32::min);
    if x.is_finite() && y.is_finite() {
        Point::new(
            x.round() as i32,
            (y.round() as i32 - 18).max(TAG_HEIGHT + 2),
        )
    } else {
        Point::new(4, TAG_HEIGHT + 2)
    }
}

/// Text on a black box, baseline at `org`, kept inside the frame.
fn tag(
    painter: &mut TextPainter,
    img: &mut Mat,
    text: &str,
    org: Point,
    colour: Scalar,
) -> opencv::Result<()> {
    let tw = painter.width(text, TAG_HEIGHT)?.min(img.cols() - 4);
    let x = org.x.clamp(2, (img.cols() - tw - 4).max(2));
    let y = org
        .y
        .clamp(TAG_HEIGHT + 2, (img.rows() - 6).max(TAG_HEIGHT + 2));
    imgproc::rectangle(
        img,
        Rect::new(x - 2, y - TAG_HEIGHT - 1, tw + 6, TAG_HEIGHT + 6),
        Scalar::all(0.0),
        imgproc::FILLED,
        imgproc::LINE_8,
        0,
    )?;
    painter.draw(
        img,
        text,
        Point::new(x + 1, y),
        TAG_HEIGHT,
        colour,
        img.cols() - 4,
    )
}

fn draw_zone(img: &mut Mat, z: &ZoneView, w: u32, h: u32) -> opencv::Result<()> {
    let pts: Vector<Point> = polygon_pixels(&z.polygon, w, h)
        .into_iter()
        .map(|(x, y)| Point::new(x, y))
        .collect();
    let colour = if z.open { ZONE } else { CLOSED };
    let first = pts.iter().min_by_key(|p| p.x + p.y).unwrap_or_default();
    imgproc::polylines(
        img,
        &Vector::<Vector<Point>>::from_iter([pts]),
        true,
        colour,
        2,
        imgproc::LINE_AA,
        0,
    )?;
    let state = if z.open {
        format!("{} inside", z.members.len())
    } else {
        format!("closed, open {}", z.schedule.join(" "))
    };
    label(
        img,
        &format!("{} - {state}", z.id),
        Point::new(first.x + 6, first.y + 18),
        colour,
        0.5,
    )
}

/// The colour of a candidate: alert red, counting down orange, otherwise light blue.
pub fn verdict_colour(v: &Verdict) -> Scalar {
    match v {
        Verdict::Alert => ALERT,
        Verdict::Waiting { .. } | Verdict::CoolingDown { .. } => WAITING,
        _ => IDLE,
    }
}

/// The verdict in a few words, for a tag.
fn short(v: &Verdict, incident: Option<(u64, f64)>) -> String {
    match (*v, incident) {
        (Verdict::Alert, Some((_, since))) => format!("ALERT {since:.0} s"),
        (Verdict::Alert, None) => "ALERT".into(),
        (
            Verdict::Waiting {
                held_s,
                min_duration_s,
            },
            _,
        ) => {
            format!("{:.1} s to alert", (min_duration_s - held_s).max(0.0))
        }
        (Verdict::CoolingDown { left_s }, _) => format!("cooling down {left_s:.0} s"),
        (Verdict::TooFew { people, min }, _) => format!("too few {people}/{min}"),
        (Verdict::SpeedUnknown, _) => "speed not measured yet".into(),
        (Verdict::Moving { speed, max, .. }, _) => format!("moving {speed:.2} > {max}"),
        (Verdict::NotEnoughHistory { .. }, _) => "not judged yet".into(),
        (Verdict::TooSlow { speed, min, .. }, _) => format!("too slow {speed:.2} < {min}"),
        (Verdict::TooFewReversals { .. }, _) => "too few reversals".into(),
    }
}

/// One zone in the header: its most advanced candidate, or why there is none.
fn zone_summary(z: &ZoneView) -> String {
    if !z.open {
        return format!("{}: outside the schedule {}", z.id, z.schedule.join(" "));
    }
    let rank = |v: &Verdict| match v {
        Verdict::Alert => 3,
        Verdict::CoolingDown { .. } => 2,
        Verdict::Waiting { .. } => 1,
        _ => 0,
    };
    let best_group = z
        .gathering
        .iter()
        .flat_map(|g| g.groups.iter())
        .max_by_key(|g| (rank(&g.verdict), g.people));
    let best_vehicle = z
        .weaving
        .iter()
        .flat_map(|w| w.vehicles.iter())
        .max_by_key(|v| (rank(&v.verdict), v.reversals));
    let mut parts = Vec::new();
    if let Some(g) = best_group {
        parts.push(format!(
            "group #{} {} people: {}",
            g.key,
            g.people,
            short(&g.verdict, g.incident)
        ));
    } else if z.gathering.is_some() {
        parts.push(format!("{} people, no group", z.people));
    }
    if let Some(v) = best_vehicle {
        parts.push(format!(
            "vehicle #{}: {}",
            v.track_id,
            short(&v.verdict, v.incident)
        ));
    }
    if parts.is_empty() {
        parts.push(format!("{} inside", z.members.len()));
    }
    format!("{}: {}", z.id, parts.join(", "))
}
