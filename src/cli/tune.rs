//! Tuning aids of `wardwatch replay` (docs/tuning.md): `--annotate FILE` writes the
//! analysed frames with what the analytics saw drawn on them; `--explain` prints, per zone
//! and second of media time, each candidate and the condition that stops it (or how far
//! it is). Both read the analytics' [`Explanation`]; neither changes what it decides.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use opencv::core::{Mat, Size};
use opencv::prelude::*;
use opencv::videoio::{self, VideoWriter};

use super::AppError;
use crate::analytics::explain::{Explanation, Verdict, ZoneView};
use crate::publish::annotate::Overlay;
use crate::types::{Detection, Track, secs};

/// The annotated clip: analysed frames → overlay → an MPEG-4 (mp4v) video.
pub struct Annotator {
    path: PathBuf,
    writer: VideoWriter,
    overlay: Overlay,
    start: Timestamp,
    size: (u32, u32),
    pub frames: u64,
    /// Time spent drawing and encoding.
    busy: std::time::Duration,
}

impl Drop for Annotator {
    fn drop(&mut self) {
        use opencv::videoio::VideoWriterTrait;
        let t = std::time::Instant::now();
        let _ = self.writer.release();
        self.busy += t.elapsed();
        tracing::info!(
            path = %self.path.display(),
            frames = self.frames,
            ms_per_frame = (self.busy.as_secs_f64() * 1e3 / self.frames.max(1) as f64 * 100.0).round() / 100.0,
            "annotated video written"
        );
    }
}

impl Annotator {
    /// Opens the writer now, so that a path it cannot write fails before the replay runs.
    pub fn open(
        path: &Path,
        size: (u32, u32),
        fps: f64,
        start: Timestamp,
        overlay: Overlay,
    ) -> Result<Self, AppError> {
        let fail = |why: String| {
            AppError::Failed(format!(
                "--annotate {}: cannot write the annotated video: {why}",
                path.display()
            ))
        };
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            let what = if parent.exists() {
                "is not a directory"
            } else {
                "does not exist"
            };
            return Err(fail(format!("the directory {} {what}", parent.display())));
        }
        let Some(name) = path.to_str() else {
            return Err(fail("the path is not UTF-8; choose another name".into()));
        };
        let opened = VideoWriter::fourcc('m', 'p', '4', 'v').and_then(|fourcc| {
            VideoWriter::new_with_backend(
                name,
                videoio::CAP_FFMPEG,
                fourcc,
                fps,
                Size::new(size.0 as i32, size.1 as i32),
                true,
            )
        });
        let writer = match opened {
            Ok(w) if w.is_opened().unwrap_or(false) => w,
            Ok(_) => {
                return Err(fail(format!(
                    "OpenCV's FFmpeg writer did not open it (mp4v, {}x{} at {fps} fps). Check that {} is writable and that the name ends in .mp4",
                    size.0,
                    size.1,
                    parent.display()
                )));
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            overlay,
            start,
            size,
            frames: 0,
            busy: std::time::Duration::ZERO,
        })
    }

    pub fn write(
        &mut self,
        image: &Mat,
        dets: &[Detection],
        tracks: &[Track],
        ex: &Explanation,
    ) -> Result<(), AppError> {
        use opencv::videoio::VideoWriterTrait;
        let fail = |e: opencv::Error| {
            AppError::Failed(format!(
                "--annotate {}: frame {} not written ({e})",
                self.path.display(),
                self.frames + 1
            ))
        };
        if (image.cols() as u32, image.rows() as u32) != self.size {
            return Err(AppError::Failed(format!(
                "--annotate {}: the video changed size from {}x{} to {}x{} mid-stream; an annotated video has one size",
                self.path.display(),
                self.size.0,
                self.size.1,
                image.cols(),
                image.rows()
            )));
        }
        let t = std::time::Instant::now();
        let media_s = secs(ex.ts, self.start);
        let canvas = self
            .overlay
            .draw(image, dets, tracks, ex, media_s)
            .map_err(fail)?;
        self.writer.write(canvas).map_err(fail)?;
        self.frames += 1;
        self.busy += t.elapsed();
        Ok(())
    }
}

/// `--explain`: one line per zone and rule for the first analysed frame of each second of
/// media time, on stderr (through the logger with `--log-format json`).
pub struct Explainer {
    start: Timestamp,
    last_second: Option<i64>,
}

impl Explainer {
    pub fn new(start: Timestamp) -> Self {
        Self {
            start,
            last_second: None,
        }
    }

    pub fn frame(&mut self, ex: &Explanation) {
        let t = secs(ex.ts, self.start).floor() as i64;
        if self.last_second == Some(t) {
            return;
        }
        self.last_second = Some(t);
        for z in &ex.zones {
            for (rule, text) in zone_lines(z) {
                let line = format!("explain t={t}s {} {rule}: {text}", z.id);
                if crate::runtime::json_log() {
                    tracing::info!(target: "explain", t, zone = %z.id, rule, "{line}");
                } else {
                    super::progress::eprint_line(&line);
                }
            }
        }
    }
}

fn ids(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

fn incident_text(verdict: &Verdict, incident: Option<(u64, f64)>) -> String {
    match (verdict, incident) {
        (Verdict::Alert, Some((n, since))) => format!(" (incident {n}, {since:.1} s)"),
        (_, Some((n, _))) => format!("; incident {n} still open until clear_after"),
        _ => String::new(),
    }
}

/// The explain lines of one zone: (rule, text).
pub fn zone_lines(z: &ZoneView) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let closed = || {
        format!(
            "outside the schedule ({}), {} people inside",
            z.schedule.join(" "),
            z.people
        )
    };
    if let Some(g) = &z.gathering {
        let text = if !z.open {
            closed()
        } else {
            let mut parts: Vec<String> = g
                .groups
                .iter()
                .map(|grp| {
                    let hidden = if grp.occluded > 0 {
                        format!(", {} hidden", grp.occluded)
                    } else {
                        String::new()
                    };
                    format!(
                        "group #{} (tracks {}; {} people{hidden}): {}{}",
                        grp.key,
                        ids(&grp.track_ids),
                        grp.people,
                        grp.verdict,
                        incident_text(&grp.verdict, grp.incident)
                    )
                })
                .collect();
            parts.extend(g.small_groups.iter().map(|s| {
                format!(
                    "linked tracks {}: too few ({} < {} people)",
                    ids(s),
                    s.len(),
                    g.min_people
                )
            }));
            if parts.is_empty() {
                if z.people == 0 {
                    "nobody inside".to_string()
                } else {
                    format!(
                        "{} people inside, no group: too few (nobody within link distance of another)",
                        z.people
                    )
                }
            } else {
                parts.join(" | ")
            }
        };
        out.push(("gathering", text));
    }
    if let Some(w) = &z.weaving {
        let text = if !z.open {
            closed()
        } else if w.vehicles.is_empty() {
            "no vehicle inside".to_string()
        } else {
            w.vehicles
                .iter()
                .map(|v| {
                    let speed = v
                        .speed
                        .map(|s| format!("{s:.2}"))
                        .unwrap_or_else(|| "?".into());
                    format!(
                        "vehicle #{} ({} reversals, speed {speed}): {}{}",
                        v.track_id,
                        v.reversals,
                        v.verdict,
                        incident_text(&v.verdict, v.incident)
                    )
                })
                .collect::<Vec<_>>()
                .join(" | ")
        };
        out.push(("weaving", text));
    }
    out
}
