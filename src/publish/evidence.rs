//! Evidence snapshots: the frame that raised or updated an alert, annotated with the
//! zone, every tracked box with its id, the group hull, the camera and the local time,
//! saved as JPEG. Disk use is bounded by file count, total bytes and age.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use opencv::core::{Mat, Point, Rect, Scalar, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
use sha2::{Digest, Sha256};

use crate::publish::document::Snapshot;
use crate::publish::files;
use crate::publish::text::fold_ascii;
use crate::types::{ObjectClass, Track};

/// Where snapshots go and how much of them is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceSettings {
    pub dir: PathBuf,
    pub jpeg_quality: i32,
    pub max_files: usize,
    pub max_bytes: u64,
    pub max_age_s: f64,
    /// TrueType font for the header (Vietnamese needs its diacritics); `None`, or a font
    /// that cannot be loaded, draws the header without diacritics in OpenCV's own font.
    pub font: Option<PathBuf>,
    /// Base of the snapshots' HTTP URLs (`<console public_url>/evidence`) when the web
    /// console serves them; `None`: events carry the path only.
    pub url_base: Option<String>,
}

/// The Debian font (`fonts-dejavu-core`) with every Vietnamese letter.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Polygon vertices (normalised to the frame, [0, 1]) in pixels of a `w`×`h` frame.
pub fn polygon_pixels(points: &[[f64; 2]], w: u32, h: u32) -> Vec<(i32, i32)> {
    points
        .iter()
        .map(|p| {
            (
                (p[0] * w as f64).round() as i32,
                (p[1] * h as f64).round() as i32,
            )
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(
        "evidence dir {dir}: {reason}. Check evidence.dir in the config and that the directory is writable"
    )]
    Dir { dir: String, reason: String },
    #[error("snapshot {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("drawing the snapshot failed: {0}")]
    Draw(String),
}

/// What to draw on a snapshot.
pub struct Annotation<'a> {
    pub camera: &'a str,
    /// The zone polygon, normalised to the frame.
    pub zone: &'a [[f64; 2]],
    pub tracks: &'a [Track],
    /// Track ids of the alert's members (drawn red).
    pub members: &'a [u64],
    /// Group hull or vehicle path, pixels.
    pub outline: &'a [(f32, f32)],
    /// Close the outline (a group hull) or leave it open (a vehicle's path).
    pub closed: bool,
    /// Header, first line: where and when ("Camera 3 · Cổng chợ · 2026-11-26 23:05:00 +07").
    pub place: &'a str,
    /// Header, second line: the event's title ("Tụ tập 4 người tại Cổng chợ từ 23:05 (6 phút)").
    pub title: &'a str,
}

/// Draws text lines with a TrueType font (any Unicode), or without one in OpenCV's
/// Hershey font with the diacritics folded away (`Cổng chợ` → `Cong cho`).
pub struct TextPainter {
    font: Option<opencv::core::Ptr<opencv::freetype::FreeType2>>,
}

impl TextPainter {
    /// Load `font`; a font that is missing or unreadable is reported and the painter
    /// falls back to the Hershey font.
    pub fn new(font: Option<&Path>) -> Self {
        let Some(path) = font else {
            return Self { font: None };
        };
        match Self::load(path) {
            Ok(f) => Self { font: Some(f) },
            Err(e) => {
                tracing::warn!(font = %path.display(), error = %e, "snapshot font not loaded: headers are drawn without diacritics (install fonts-dejavu-core, or set evidence.font to a .ttf with Vietnamese letters)");
                Self { font: None }
            }
        }
    }

    fn load(path: &Path) -> Result<opencv::core::Ptr<opencv::freetype::FreeType2>, String> {
        use opencv::freetype::FreeType2Trait;
        if !path.is_file() {
            return Err("no such file".into());
        }
        let mut ft = opencv::freetype::create_free_type2().map_err(|e| e.to_string())?;
        ft.load_font_data(path, 0).map_err(|e| e.to_string())?;
        Ok(ft)
    }

    /// Whether text keeps its diacritics (a TrueType font is loaded).
    pub fn has_font(&self) -> bool {
        self.font.is_some()
    }

    /// Width of `text` at `height` pixels.
    pub fn width(&mut self, text: &str, height: i32) -> opencv::Result<i32> {
        use opencv::freetype::FreeType2Trait;
        let mut base = 0;
        match &mut self.font {
            Some(ft) => Ok(ft.get_text_size(text, height, -1, &mut base)?.width),
            None => Ok(imgproc::get_text_size(
                &fold_ascii(text),
                imgproc::FONT_HERSHEY_SIMPLEX,
                hershey_scale(height),
                1,
                &mut base,
            )?
            .width),
        }
    }

    /// Draw `text` with its baseline at `org`, `height` pixels tall, cut with "…" to
    /// `max_width`.
    pub fn draw(
        &mut self,
        img: &mut Mat,
        text: &str,
        org: Point,
        height: i32,
        color: Scalar,
        max_width: i32,
    ) -> opencv::Result<()> {
        use opencv::freetype::FreeType2Trait;
        let mut text = text.to_string();
        while self.width(&text, height)? > max_width && text.chars().count() > 1 {
            let mut cut: String = text.trim_end_matches('…').to_string();
            cut.pop();
            text = format!("{}…", cut.trim_end());
        }
        match &mut self.font {
            Some(ft) => ft.put_text(img, &text, org, height, color, -1, imgproc::LINE_AA, true),
            None => imgproc::put_text(
                img,
                &fold_ascii(&text).replace('…', "..."),
                org,
                imgproc::FONT_HERSHEY_SIMPLEX,
                hershey_scale(height),
                color,
                1,
                imgproc::LINE_AA,
                false,
            ),
        }
    }
}

/// The Hershey scale whose capitals are about as tall as a `height`-pixel TrueType line.
fn hershey_scale(height: i32) -> f64 {
    height as f64 / 30.0
}

/// The header's text height for a frame `width` pixels wide.
pub fn header_text_height(width: i32) -> i32 {
    (width / 40).clamp(14, 28)
}

/// The header band's height for a frame `width` pixels wide (two lines).
pub fn header_height(width: i32) -> i32 {
    let fh = header_text_height(width);
    2 * fh + fh / 2 + 8
}

/// Draw the two-line header band (black, white text) on top of `img`.
pub fn draw_header(
    img: &mut Mat,
    painter: &mut TextPainter,
    lines: [&str; 2],
) -> opencv::Result<()> {
    let w = img.cols();
    let fh = header_text_height(w);
    imgproc::rectangle(
        img,
        Rect::new(0, 0, w, header_height(w)),
        Scalar::all(0.0),
        imgproc::FILLED,
        imgproc::LINE_8,
        0,
    )?;
    let white = Scalar::new(255.0, 255.0, 255.0, 0.0);
    let amber = Scalar::new(60.0, 200.0, 255.0, 0.0);
    painter.draw(img, lines[0], Point::new(6, 4 + fh), fh, white, w - 12)?;
    painter.draw(
        img,
        lines[1],
        Point::new(6, 4 + 2 * fh + fh / 3),
        fh,
        amber,
        w - 12,
    )
}

pub struct EvidenceStore {
    cfg: EvidenceSettings,
    painter: TextPainter,
    canvas: Mat,
    jpeg: Vector<u8>,
    params: Vector<i32>,
    /// (path, bytes, modified unix seconds), oldest first.
    files: VecDeque<(PathBuf, u64, i64)>,
    total_bytes: u64,
}

impl EvidenceStore {
    /// Open (and create) the evidence directory and index what is already there.
    pub fn open(cfg: EvidenceSettings) -> Result<Self, EvidenceError> {
        let dir_err = |reason: String| EvidenceError::Dir {
            dir: cfg.dir.display().to_string(),
            reason,
        };
        files::create_dir(&cfg.dir, files::SNAPSHOT_DIR)
            .map_err(|e| dir_err(format!("cannot create ({e})")))?;
        let mut files = Vec::new();
        index_dir(&cfg.dir, &mut files).map_err(|e| dir_err(format!("cannot list ({e})")))?;
        files.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
        let total_bytes = files.iter().map(|f| f.1).sum();
        let params = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, cfg.jpeg_quality]);
        let painter = TextPainter::new(cfg.font.as_deref());
        Ok(Self {
            cfg,
            painter,
            canvas: Mat::default(),
            jpeg: Vector::new(),
            params,
            files: files.into(),
            total_bytes,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// Annotate `frame` and write it as `<dir>/<camera>/<name>.jpg`. Returns the snapshot
    /// reference and the JPEG bytes (for the retained MQTT snapshot topic).
    pub fn save(
        &mut self,
        frame: &Mat,
        ann: &Annotation<'_>,
        name: &str,
        now_unix: i64,
    ) -> Result<(Snapshot, Vec<u8>), EvidenceError> {
        frame
            .copy_to(&mut self.canvas)
            .map_err(|e| EvidenceError::Draw(e.to_string()))?;
        draw(&mut self.canvas, &mut self.painter, ann)
            .map_err(|e| EvidenceError::Draw(e.to_string()))?;
        self.jpeg.clear();
        imgcodecs::imencode(".jpg", &self.canvas, &mut self.jpeg, &self.params)
            .map_err(|e| EvidenceError::Draw(format!("JPEG encoding failed: {e}")))?;
        let bytes = self.jpeg.as_slice().to_vec();
        let dir = self.cfg.dir.join(sanitize(ann.camera));
        let path = dir.join(format!("{}.jpg", sanitize(name)));
        let werr = |reason: String| EvidenceError::Write {
            path: path.display().to_string(),
            reason,
        };
        files::create_dir(&dir, files::SNAPSHOT_DIR)
            .map_err(|e| werr(format!("cannot create directory ({e})")))?;
        let tmp = path.with_extension("jpg.tmp");
        files::create_file(&tmp, files::SNAPSHOT_FILE)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
            .map_err(|e| werr(format!("cannot write ({e}); is the disk full?")))?;
        std::fs::rename(&tmp, &path).map_err(|e| werr(format!("cannot rename ({e})")))?;
        let sha = Sha256::digest(&bytes);
        let url = self
            .cfg
            .url_base
            .as_ref()
            .map(|b| format!("{b}/{}/{}.jpg", sanitize(ann.camera), sanitize(name)));
        let snapshot = Snapshot {
            url,
            path: path.display().to_string(),
            sha256: hex(&sha),
            bytes: bytes.len() as u64,
        };
        self.files.push_back((path, bytes.len() as u64, now_unix));
        self.total_bytes += bytes.len() as u64;
        self.prune(now_unix);
        Ok((snapshot, bytes))
    }

    /// Delete the oldest snapshots beyond the count, byte and age limits.
    pub fn prune(&mut self, now_unix: i64) {
        while let Some((path, bytes, mtime)) = self.files.front().cloned() {
            let too_many = self.files.len() > self.cfg.max_files;
            let too_big = self.total_bytes > self.cfg.max_bytes;
            let too_old = (now_unix - mtime) as f64 > self.cfg.max_age_s;
            if !(too_many || too_big || too_old) {
                break;
            }
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete old snapshot");
            }
            self.files.pop_front();
            self.total_bytes = self.total_bytes.saturating_sub(bytes);
        }
    }

    pub fn file_count(&self) -> usize {
        self.files.len()
    }
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }
}

fn index_dir(dir: &Path, out: &mut Vec<(PathBuf, u64, i64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            index_dir(&entry.path(), out)?;
        } else if entry.path().extension().is_some_and(|e| e == "jpg") {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            out.push((entry.path(), meta.len(), mtime));
        }
    }
    Ok(())
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Draw zone, boxes, ids, outline and the header on `img` (BGR).
pub fn draw(img: &mut Mat, painter: &mut TextPainter, ann: &Annotation<'_>) -> opencv::Result<()> {
    let (w, h) = (img.cols(), img.rows());
    let yellow = Scalar::new(0.0, 220.0, 255.0, 0.0);
    let red = Scalar::new(40.0, 40.0, 255.0, 0.0);
    let green = Scalar::new(80.0, 200.0, 80.0, 0.0);
    let cyan = Scalar::new(220.0, 200.0, 0.0, 0.0);

    let zone: Vector<Point> = polygon_pixels(ann.zone, w as u32, h as u32)
        .into_iter()
        .map(|(x, y)| Point::new(x, y))
        .collect();
    let zones: Vector<Vector<Point>> = Vector::from_iter([zone]);
    imgproc::polylines(img, &zones, true, yellow, 2, imgproc::LINE_AA, 0)?;

    for t in ann.tracks.iter().filter(|t| t.confirmed) {
        let member = ann.members.contains(&t.id);
        let color = if member {
            red
        } else if t.class == ObjectClass::Vehicle {
            cyan
        } else {
            green
        };
        let r = box_rect(&t.bbox);
        imgproc::rectangle(
            img,
            r,
            color,
            if member { 2 } else { 1 },
            imgproc::LINE_8,
            0,
        )?;
        label(
            img,
            &format!("#{}", t.id),
            Point::new(r.x, (r.y - 4).max(12)),
            color,
            0.45,
        )?;
    }

    polyline(img, ann.outline, ann.closed, red, 2)?;

    draw_header(img, painter, [ann.place, ann.title])
}

/// A box in pixels, at least 1×1.
pub fn box_rect(b: &crate::types::BBox) -> Rect {
    Rect::new(
        b.x1.round() as i32,
        b.y1.round() as i32,
        b.width().round().max(1.0) as i32,
        b.height().round().max(1.0) as i32,
    )
}

/// A line through pixel points (closed: a polygon); nothing for fewer than two.
pub fn polyline(
    img: &mut Mat,
    pts: &[(f32, f32)],
    closed: bool,
    colour: Scalar,
    width: i32,
) -> opencv::Result<()> {
    if pts.len() < 2 {
        return Ok(());
    }
    let v: Vector<Point> = pts
        .iter()
        .map(|&(x, y)| Point::new(x.round() as i32, y.round() as i32))
        .collect();
    imgproc::polylines(
        img,
        &Vector::<Vector<Point>>::from_iter([v]),
        closed,
        colour,
        width,
        imgproc::LINE_AA,
        0,
    )
}

/// Text in `color` with a black outline, readable on any background.
pub fn label(
    img: &mut Mat,
    text: &str,
    org: Point,
    color: Scalar,
    scale: f64,
) -> opencv::Result<()> {
    imgproc::put_text(
        img,
        text,
        org,
        imgproc::FONT_HERSHEY_SIMPLEX,
        scale,
        Scalar::new(0.0, 0.0, 0.0, 0.0),
        3,
        imgproc::LINE_AA,
        false,
    )?;
    imgproc::put_text(
        img,
        text,
        org,
        imgproc::FONT_HERSHEY_SIMPLEX,
        scale,
        color,
        1,
        imgproc::LINE_AA,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::{CV_8UC3, Mat, Scalar};

    fn store(dir: &Path, max_files: usize, max_bytes: u64, max_age_s: f64) -> EvidenceStore {
        EvidenceStore::open(EvidenceSettings {
            dir: dir.to_path_buf(),
            jpeg_quality: 80,
            max_files,
            max_bytes,
            max_age_s,
            font: Some(DEFAULT_FONT.into()),
            url_base: None,
        })
        .unwrap()
    }

    fn save(s: &mut EvidenceStore, name: &str, now: i64) -> Snapshot {
        let frame = Mat::new_rows_cols_with_default(120, 160, CV_8UC3, Scalar::all(90.0)).unwrap();
        let zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]];
        let ann = Annotation {
            camera: "cam-1",
            zone: &zone,
            tracks: &[],
            members: &[],
            outline: &[(10.0, 10.0), (50.0, 60.0), (90.0, 20.0)],
            closed: true,
            place: "Camera cổng · Cổng chợ · 2026-11-26 23:00:00 +07",
            title: "Tụ tập 3 người tại Cổng chợ từ 22:58 (2 phút)",
        };
        s.save(&frame, &ann, name, now).unwrap().0
    }

    #[test]
    fn snapshot_is_a_jpeg_with_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), 10, 10_000_000, 1e9);
        let snap = save(&mut s, "a", 1000);
        let bytes = std::fs::read(&snap.path).unwrap();
        assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
        assert_eq!(snap.sha256, hex(&Sha256::digest(&bytes)));
        assert_eq!(snap.bytes, bytes.len() as u64);
        assert!(snap.path.ends_with("cam-1/a.jpg"));
    }

    #[test]
    fn disk_use_is_bounded_by_count_bytes_and_age() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), 3, 10_000_000, 1e9);
        let paths: Vec<String> = (0..5)
            .map(|i| save(&mut s, &format!("n{i}"), 1000 + i).path)
            .collect();
        assert_eq!(s.file_count(), 3);
        assert!(
            !Path::new(&paths[0]).exists() && !Path::new(&paths[1]).exists(),
            "oldest deleted first"
        );
        assert!(paths[2..].iter().all(|p| Path::new(p).exists()));

        let one = s.total_bytes() / 3;
        let mut s = store(dir.path(), 100, one * 2 + one / 2, 1e9);
        assert_eq!(s.file_count(), 3, "reopening indexes what is on disk");
        save(&mut s, "b", 2000);
        assert!(
            s.total_bytes() <= one * 2 + one / 2 + 1000,
            "bytes bounded: {}",
            s.total_bytes()
        );

        let mut s = store(dir.path(), 100, 10_000_000, 60.0);
        save(&mut s, "c", jiff::Timestamp::now().as_second() + 3600);
        assert_eq!(s.file_count(), 1, "everything older than max_age is gone");
    }
}
