//! Scenario video generator: real object cut-outs composed onto a real background.
//!
//! The demo footage has no night and no weaving motorbike, so tests make their own: BGRA
//! sprites (people cut from `vtest.avi`, a motorcycle from the Middlebury 2014 stereo set,
//! see `tests/fixtures/sprites/README.md`) are alpha-blended onto the empty background
//! (`tests/fixtures/background.png`, the temporal median of `vtest.avi`) along scripted,
//! piecewise-linear foot-point trajectories. [`render`] writes an MJPG `.avi` plus the
//! ground truth (MOTChallenge lines), and the whole pipeline, real detector included, runs
//! on the result.
//!
//! Geometry: a sprite is scaled to the actor's `height_px` (aspect kept) and placed with the
//! middle of its bottom row on the foot point. Actors are drawn far to near (smaller foot
//! `y` first). The ground-truth box is the placed sprite rectangle clipped to the frame; an
//! actor wholly outside the frame has no row. Frame `k` (0-based) shows time `k / fps`;
//! ground-truth frames are 1-based like MOT files.
//!
//! Rendering is deterministic for a given scene (the night noise comes from a xorshift
//! generator seeded with `Scene::seed`) on a given OpenCV build.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use opencv::core::{self, Mat, Size};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc, videoio};
use serde::{Deserialize, Serialize};

use wardwatch::types::{BBox, ObjectClass};

/// One object moving through the scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// PNG with an alpha channel (BGRA), cropped tight to the object.
    pub sprite: PathBuf,
    pub class: ObjectClass,
    /// Rendered height in pixels (the width follows the sprite's aspect ratio).
    pub height_px: f32,
    /// Piecewise-linear foot-point trajectory `(t seconds, x, y)`, `t` non-decreasing. The
    /// actor is visible from the first to the last `t` (inclusive).
    pub path: Vec<(f64, f32, f32)>,
}

/// How the camera sees the scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lighting {
    /// The background's own daylight colours.
    Day,
    /// An IR-like night camera: grey, darker and lower contrast (gamma 1.3, range
    /// compressed to about 15..130), slightly blurred, with sensor noise (sigma 7).
    Night,
}

/// Everything [`render`] needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// Empty background image; its size is the video's frame size.
    pub background: PathBuf,
    pub fps: f64,
    /// Number of frames is `round(duration_s * fps)`.
    pub duration_s: f64,
    pub lighting: Lighting,
    /// Seeds the night noise.
    pub seed: u64,
    pub actors: Vec<Actor>,
}

impl Scene {
    /// Number of frames [`render`] writes.
    pub fn frame_count(&self) -> u64 {
        (self.duration_s * self.fps).round().max(0.0) as u64
    }
}

/// One ground-truth object in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroundTruthRow {
    /// 1-based frame number.
    pub frame: u64,
    /// Index into `Scene::actors` (the MOT id is `actor + 1`).
    pub actor: usize,
    pub class: ObjectClass,
    /// Visible part of the sprite rectangle, in frame pixels.
    pub bbox: BBox,
}

/// Render `scene` to `video` (MJPG in AVI, readable by OpenCV's FFmpeg backend) and write
/// its ground truth to `gt` as MOT lines `frame,actor+1,x,y,w,h,1,class,-1,-1` (class `1`
/// person, `3` vehicle). Deterministic for a given scene, seed included.
pub fn render(scene: &Scene, video: &Path, gt: &Path) -> Result<Vec<GroundTruthRow>, String> {
    validate(scene)?;
    let background = imgcodecs::imread(path_str(&scene.background)?, imgcodecs::IMREAD_COLOR)
        .map_err(|e| format!("background {}: {e}", scene.background.display()))?;
    if background.empty() {
        return Err(format!(
            "background {}: cannot read it as an image",
            scene.background.display()
        ));
    }
    let (fw, fh) = (background.cols(), background.rows());
    let sprites = scene
        .actors
        .iter()
        .enumerate()
        .map(|(i, a)| Sprite::load(&a.sprite, a.height_px).map_err(|e| format!("actor {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;

    let mut writer = open_writer(video, scene.fps, Size::new(fw, fh))?;
    let mut frame = Mat::default();
    let mut night = Night::new(scene.seed);
    let mut rows = Vec::new();
    let mut order: Vec<(usize, i32, i32)> = Vec::with_capacity(scene.actors.len());
    let werr = |e: opencv::Error| format!("video {}: {e}", video.display());

    for k in 0..scene.frame_count() {
        let t = k as f64 / scene.fps;
        background.copy_to(&mut frame).map_err(werr)?;
        order.clear();
        for (i, (actor, sprite)) in scene.actors.iter().zip(&sprites).enumerate() {
            if let Some((x, y)) = position(&actor.path, t) {
                let left = (x - sprite.w as f32 / 2.0).round() as i32;
                let top = y.round() as i32 - sprite.h;
                order.push((i, left, top));
            }
        }
        // far (small foot y) first, so nearer actors cover farther ones
        order.sort_by_key(|&(i, _, top)| (top + sprites[i].h, i));
        for &(i, left, top) in &order {
            let s = &sprites[i];
            let (x1, y1) = (left.max(0), top.max(0));
            let (x2, y2) = ((left + s.w).min(fw), (top + s.h).min(fh));
            if x2 <= x1 || y2 <= y1 {
                continue;
            }
            s.blend_into(&mut frame, left, top).map_err(werr)?;
            rows.push(GroundTruthRow {
                frame: k + 1,
                actor: i,
                class: scene.actors[i].class,
                bbox: BBox::new(x1 as f32, y1 as f32, x2 as f32, y2 as f32),
            });
        }
        match scene.lighting {
            Lighting::Day => writer.write(&frame).map_err(werr)?,
            Lighting::Night => {
                night.apply(&frame).map_err(werr)?;
                writer.write(&night.out).map_err(werr)?;
            }
        }
    }
    writer.release().map_err(werr)?;
    // Sorted by frame, then by actor, like a MOT ground-truth file.
    rows.sort_by_key(|r| (r.frame, r.actor));
    write_gt(gt, &rows)?;
    Ok(rows)
}

fn validate(scene: &Scene) -> Result<(), String> {
    if !(scene.fps.is_finite() && scene.fps > 0.0) {
        return Err(format!("scene fps {} must be positive", scene.fps));
    }
    if !(scene.duration_s.is_finite() && scene.duration_s > 0.0) {
        return Err(format!(
            "scene duration {} s must be positive",
            scene.duration_s
        ));
    }
    for (i, a) in scene.actors.iter().enumerate() {
        if !(a.height_px.is_finite() && a.height_px >= 1.0) {
            return Err(format!(
                "actor {i}: height_px {} must be at least 1",
                a.height_px
            ));
        }
        if a.path.is_empty() {
            return Err(format!("actor {i}: empty path"));
        }
        if a.path
            .iter()
            .any(|p| !(p.0.is_finite() && p.1.is_finite() && p.2.is_finite()))
        {
            return Err(format!("actor {i}: path has a non-finite value"));
        }
        for w in a.path.windows(2) {
            if w[1].0 < w[0].0 {
                return Err(format!(
                    "actor {i}: path times must not decrease ({} after {})",
                    w[1].0, w[0].0
                ));
            }
        }
    }
    Ok(())
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("{}: path is not UTF-8", p.display()))
}

/// Foot point at time `t`, `None` outside the path's time span.
fn position(path: &[(f64, f32, f32)], t: f64) -> Option<(f32, f32)> {
    const EPS: f64 = 1e-9;
    let first = path.first()?;
    let last = path.last()?;
    if t < first.0 - EPS || t > last.0 + EPS {
        return None;
    }
    let j = path.partition_point(|p| p.0 <= t);
    if j == 0 {
        return Some((first.1, first.2));
    }
    if j == path.len() {
        return Some((last.1, last.2));
    }
    let (a, b) = (path[j - 1], path[j]);
    let u = if b.0 > a.0 {
        ((t - a.0) / (b.0 - a.0)) as f32
    } else {
        1.0
    };
    Some((a.1 + (b.1 - a.1) * u, a.2 + (b.2 - a.2) * u))
}

/// A sprite scaled to its rendered size, as packed BGRA bytes.
struct Sprite {
    w: i32,
    h: i32,
    bgra: Vec<u8>,
}

impl Sprite {
    fn load(path: &Path, height_px: f32) -> Result<Self, String> {
        let p = path_str(path)?;
        let img = imgcodecs::imread(p, imgcodecs::IMREAD_UNCHANGED)
            .map_err(|e| format!("sprite {}: {e}", path.display()))?;
        if img.empty() {
            return Err(format!(
                "sprite {}: cannot read it as an image",
                path.display()
            ));
        }
        if img.typ() != core::CV_8UC4 {
            return Err(format!(
                "sprite {}: expected 8-bit BGRA (PNG with alpha), got {} channel(s)",
                path.display(),
                img.channels()
            ));
        }
        let h = (height_px.round() as i32).max(1);
        let w = ((img.cols() as f32 * h as f32 / img.rows() as f32).round() as i32).max(1);
        let interp = if h < img.rows() {
            imgproc::INTER_AREA
        } else {
            imgproc::INTER_LINEAR
        };
        let mut scaled = Mat::default();
        imgproc::resize(&img, &mut scaled, Size::new(w, h), 0.0, 0.0, interp)
            .map_err(|e| format!("sprite {}: {e}", path.display()))?;
        let bgra = scaled
            .data_bytes()
            .map_err(|e| format!("sprite {}: {e}", path.display()))?
            .to_vec();
        Ok(Self { w, h, bgra })
    }

    /// Alpha-blend onto a BGR frame with the sprite's top-left at (left, top); clipped.
    fn blend_into(&self, frame: &mut Mat, left: i32, top: i32) -> opencv::Result<()> {
        let (fw, fh) = (frame.cols(), frame.rows());
        let x1 = left.max(0);
        let x2 = (left + self.w).min(fw);
        let y1 = top.max(0);
        let y2 = (top + self.h).min(fh);
        if x2 <= x1 || y2 <= y1 {
            return Ok(());
        }
        let step = frame.mat_step().first().copied().unwrap_or(fw as usize * 3);
        let data = frame.data_bytes_mut()?;
        for y in y1..y2 {
            let srow = ((y - top) * self.w) as usize * 4;
            let drow = y as usize * step;
            for x in x1..x2 {
                let s = srow + (x - left) as usize * 4;
                let a = self.bgra[s + 3] as u32;
                if a == 0 {
                    continue;
                }
                let d = drow + x as usize * 3;
                for c in 0..3 {
                    let v = self.bgra[s + c] as u32 * a + data[d + c] as u32 * (255 - a) + 127;
                    data[d + c] = (v / 255) as u8;
                }
            }
        }
        Ok(())
    }
}

/// xorshift64* seeded through splitmix64, so every seed (0 included) works.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const NIGHT_GAMMA: f64 = 1.3;
const NIGHT_BLACK: f64 = 15.0;
const NIGHT_WHITE: f64 = 130.0;
const NIGHT_NOISE_SIGMA: f64 = 7.0;

/// The night look, with its buffers reused from frame to frame.
struct Night {
    rng: XorShift,
    lut: [u8; 256],
    grey: Mat,
    blurred: Mat,
    out: Mat,
}

impl Night {
    fn new(seed: u64) -> Self {
        let mut lut = [0u8; 256];
        for (i, v) in lut.iter_mut().enumerate() {
            let g = (i as f64 / 255.0).powf(NIGHT_GAMMA);
            *v = (NIGHT_BLACK + (NIGHT_WHITE - NIGHT_BLACK) * g).round() as u8;
        }
        Self {
            rng: XorShift::new(seed),
            lut,
            grey: Mat::default(),
            blurred: Mat::default(),
            out: Mat::default(),
        }
    }

    /// Grey, blur (sigma 0.8), tone curve, noise; result in `self.out` (BGR, grey).
    fn apply(&mut self, frame: &Mat) -> opencv::Result<()> {
        imgproc::cvt_color(frame, &mut self.grey, imgproc::COLOR_BGR2GRAY, 0)?;
        imgproc::gaussian_blur(
            &self.grey,
            &mut self.blurred,
            Size::new(3, 3),
            0.8,
            0.8,
            core::BORDER_REPLICATE,
        )?;
        // Noise: sum of four 16-bit uniforms (Irwin-Hall, close to Gaussian), integer only.
        // Var of one U(0, 65535) is 65536^2/12, so the sum has sd 65536/sqrt(3).
        let scale = NIGHT_NOISE_SIGMA * 3f64.sqrt() / 65536.0;
        let data = self.blurred.data_bytes_mut()?;
        for px in data.iter_mut() {
            let r = self.rng.next_u64();
            let s = (r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48);
            let n = (s as f64 - 2.0 * 65535.0) * scale;
            let v = self.lut[*px as usize] as f64 + n;
            *px = v.round().clamp(0.0, 255.0) as u8;
        }
        imgproc::cvt_color(&self.blurred, &mut self.out, imgproc::COLOR_GRAY2BGR, 0)
    }
}

/// A night copy of real footage: every frame of `input` through the same night look as the
/// scenes (grey, tone curve, blur, sensor noise seeded by `seed`), written as MJPG to
/// `output` at the input's frame rate. Returns the number of frames.
pub fn nightify(input: &Path, output: &Path, seed: u64) -> Result<u64, String> {
    let p = path_str(input)?;
    let mut cap = videoio::VideoCapture::from_file(p, videoio::CAP_FFMPEG)
        .map_err(|e| format!("video {p}: {e}"))?;
    if !cap.is_opened().unwrap_or(false) {
        return Err(format!("video {p}: OpenCV cannot open it"));
    }
    let fps = cap.get(videoio::CAP_PROP_FPS).unwrap_or(0.0);
    let fps = if fps > 0.0 { fps } else { 10.0 };
    let mut frame = Mat::default();
    let mut night = Night::new(seed);
    let mut writer: Option<videoio::VideoWriter> = None;
    let mut n = 0;
    while cap
        .read(&mut frame)
        .map_err(|e| format!("video {p}: {e}"))?
    {
        if frame.empty() {
            break;
        }
        night.apply(&frame).map_err(|e| format!("video {p}: {e}"))?;
        if writer.is_none() {
            writer = Some(open_writer(
                output,
                fps,
                frame.size().map_err(|e| e.to_string())?,
            )?);
        }
        if let Some(w) = writer.as_mut() {
            w.write(&night.out)
                .map_err(|e| format!("video {}: {e}", output.display()))?;
        }
        n += 1;
    }
    Ok(n)
}

fn open_writer(video: &Path, fps: f64, size: Size) -> Result<videoio::VideoWriter, String> {
    let p = path_str(video)?;
    let fourcc =
        videoio::VideoWriter::fourcc('M', 'J', 'P', 'G').map_err(|e| format!("video {p}: {e}"))?;
    // OpenCV's own MJPEG muxer first (always built in, quality settable), then FFmpeg.
    for backend in [
        videoio::CAP_OPENCV_MJPEG,
        videoio::CAP_FFMPEG,
        videoio::CAP_ANY,
    ] {
        if let Ok(mut w) =
            videoio::VideoWriter::new_with_backend(p, backend, fourcc, fps, size, true)
            && w.is_opened().unwrap_or(false)
        {
            let _ = w.set(videoio::VIDEOWRITER_PROP_QUALITY, 90.0);
            return Ok(w);
        }
    }
    Err(format!(
        "video {p}: OpenCV cannot open an MJPG writer there (missing folder? not writable?)"
    ))
}

fn write_gt(gt: &Path, rows: &[GroundTruthRow]) -> Result<(), String> {
    let mut text = Vec::with_capacity(rows.len() * 40);
    for r in rows {
        let class = match r.class {
            ObjectClass::Person => 1,
            ObjectClass::Vehicle => 3,
        };
        writeln!(
            text,
            "{},{},{:.2},{:.2},{:.2},{:.2},1,{},-1,-1",
            r.frame,
            r.actor + 1,
            r.bbox.x1,
            r.bbox.y1,
            r.bbox.width(),
            r.bbox.height(),
            class
        )
        .map_err(|e| e.to_string())?;
    }
    fs::write(gt, text).map_err(|e| format!("ground truth {}: {e}", gt.display()))
}

// ---------------------------------------------------------------------------------------
// Ready-made scenes on the 768x576 campus-road background.

/// `tests/fixtures` of this crate (background and sprites).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn sprite(name: &str) -> PathBuf {
    fixtures_dir().join("sprites").join(format!("{name}.png"))
}

/// Height in pixels of a 1.75 m person whose feet are at row `y` of the background,
/// fitted on the people of `vtest.avi` (about 75 px on the road at y = 250).
pub fn person_height_at(y: f32) -> f32 {
    0.2275 * y + 19.5
}

const FPS: f64 = 10.0;

fn scene(lighting: Lighting, seed: u64, duration_s: f64, actors: Vec<Actor>) -> Scene {
    Scene {
        background: fixtures_dir().join("background.png"),
        fps: FPS,
        duration_s,
        lighting,
        seed,
        actors,
    }
}

/// A walker through `(x, y, arrive_t)`-style legs: starts at `start` at `t0` and walks to
/// each next point at `speed` px/s, or stays put until the given time.
fn walk(t0: f64, start: (f32, f32), legs: &[Leg]) -> Vec<(f64, f32, f32)> {
    let mut t = t0;
    let (mut x, mut y) = start;
    let mut path = vec![(t, x, y)];
    for leg in legs {
        match *leg {
            Leg::To(nx, ny, speed) => {
                let d = ((nx - x).powi(2) + (ny - y).powi(2)).sqrt() as f64;
                t += d / speed;
                x = nx;
                y = ny;
            }
            Leg::Until(t1) => t = t1.max(t),
        }
        path.push((t, x, y));
    }
    path
}

enum Leg {
    /// Walk to (x, y) at this many px/s.
    To(f32, f32, f64),
    /// Stand still until this time.
    Until(f64),
}

fn person(name: &str, path: Vec<(f64, f32, f32)>) -> Actor {
    let mean_y = path.iter().map(|p| p.2).sum::<f32>() / path.len() as f32;
    Actor {
        sprite: sprite(name),
        class: ObjectClass::Person,
        height_px: person_height_at(mean_y).round(),
        path,
    }
}

/// Four people walk in (two from each side along the road), stand together on the road
/// for about 27 s in a loose staggered row (foot points about 47 px, 0.6 body heights, from
/// their neighbours, so every link is under one body height of ~77 px while the boxes
/// overlap only a little, as in a real group), shifting their weight now and then,
/// and walk off again. 46 s at 10 fps; the group is complete from t = 9.0 s to 36 s.
pub fn four_people_standing(lighting: Lighting) -> Scene {
    // Standing spots (foot points): back row A, C; front row B, D, staggered so that
    // everyone stays mostly visible.
    let spots: [(f32, f32); 4] = [
        (210.0, 247.0),
        (255.0, 262.0),
        (300.0, 246.0),
        (345.0, 261.0),
    ];
    let stand = |i: usize, leave_at: f64| -> Vec<Leg> {
        let (x, y) = spots[i];
        let shifts = [(2.0, 1.0), (-2.0, 0.0), (1.0, -1.0)];
        let mut legs = Vec::new();
        for (k, (dx, dy)) in shifts.iter().enumerate() {
            legs.push(Leg::Until(12.0 + 7.0 * k as f64 + i as f64));
            legs.push(Leg::To(x + dx, y + dy, 20.0));
        }
        legs.push(Leg::Until(leave_at - 0.5));
        legs.push(Leg::To(x, y, 20.0));
        legs.push(Leg::Until(leave_at));
        legs
    };
    let go = |i: usize, speed: f64, leave_at: f64, exit: (f32, f32)| {
        let mut legs = vec![Leg::To(spots[i].0, spots[i].1, speed)];
        legs.extend(stand(i, leave_at));
        legs.push(Leg::To(exit.0, exit.1, speed));
        legs
    };
    scene(
        lighting,
        1,
        46.0,
        vec![
            person(
                "person_redjacket",
                walk(1.0, (-20.0, 232.0), &go(0, 60.0, 36.0, (-30.0, 236.0))),
            ),
            person(
                "person_bald",
                walk(3.0, (-20.0, 256.0), &go(1, 60.0, 36.5, (-30.0, 252.0))),
            ),
            person(
                "person_lightblue",
                walk(0.5, (790.0, 262.0), &go(2, 70.0, 36.0, (800.0, 262.0))),
            ),
            person(
                "person_darkjeans",
                walk(2.0, (790.0, 285.0), &go(3, 70.0, 37.0, (800.0, 286.0))),
            ),
        ],
    )
}

/// Three people walk side by side (abreast, one behind the other in depth, staggered by
/// about a body width) along the road from the left edge to the right edge at 58 px/s
/// (about 1.4 m/s), never stopping. 16 s at 10 fps.
pub fn walk_past_group(lighting: Lighting) -> Scene {
    let (x0, y0, x1, y1) = (-40.0f32, 205.0f32, 808.0f32, 250.0f32);
    let speed = 58.0;
    let t1 = 0.5 + ((x1 - x0).hypot(y1 - y0) as f64) / speed;
    let mk = |name: &str, dx: f32, dy: f32| {
        person(name, vec![(0.5, x0 + dx, y0 + dy), (t1, x1 + dx, y1 + dy)])
    };
    scene(
        lighting,
        2,
        16.0,
        vec![
            mk("person_redjacket", 0.0, 0.0),
            mk("person_blackcoat", 30.0, 18.0),
            mk("person_navyred", -28.0, 36.0),
        ],
    )
}

/// Motorbike line along the middle of the road, from off the left edge, past the lamp
/// post into the wide paved area, off the right edge.
const BIKE_LINE: [(f32, f32); 5] = [
    (-70.0, 214.0),
    (160.0, 226.0),
    (330.0, 250.0),
    (520.0, 290.0),
    (838.0, 345.0),
];
/// Seconds from entering to leaving; the bike starts at t = 1 s.
const BIKE_CROSSING_S: f64 = 6.0;
/// Rendered height: the sprite is 200x125, so the bike is 88 px wide, about 1.9 m at the
/// scale of the people on this stretch of road.
const BIKE_HEIGHT: f32 = 55.0;
/// Weave period (s) and full amplitude (px, either side of the line; 0.59 bike widths).
const WEAVE_PERIOD_S: f64 = 1.4;
const WEAVE_AMP: f32 = 52.0;

/// Point and unit normal of the bike line at arc length `s` (px).
fn bike_line_at(s: f32) -> ((f32, f32), (f32, f32)) {
    let mut rest = s.max(0.0);
    for w in BIKE_LINE.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = (b.0 - a.0).hypot(b.1 - a.1);
        let (ux, uy) = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        if rest <= len || b == BIKE_LINE[BIKE_LINE.len() - 1] {
            return ((a.0 + ux * rest, a.1 + uy * rest), (-uy, ux));
        }
        rest -= len;
    }
    unreachable!()
}

fn bike_scene(lighting: Lighting, seed: u64, weave: bool) -> Scene {
    let total: f32 = BIKE_LINE
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
        .sum();
    let steps = (BIKE_CROSSING_S * FPS).round() as usize;
    let path = (0..=steps)
        .map(|k| {
            let u = k as f64 / steps as f64;
            let s = u * BIKE_CROSSING_S;
            let ((x, y), (nx, ny)) = bike_line_at(total * u as f32);
            // The road is narrow at the left: the swing grows from 18 px (x <= 120) to
            // full (x >= 400), where the paved area is wide.
            let env = 18.0 + (WEAVE_AMP - 18.0) * ((x - 120.0) / 280.0).clamp(0.0, 1.0);
            let lat = if weave {
                env * (2.0 * std::f64::consts::PI * s / WEAVE_PERIOD_S).sin() as f32
            } else {
                0.0
            };
            (1.0 + s, x + nx * lat, y + ny * lat)
        })
        .collect();
    scene(
        lighting,
        seed,
        8.0,
        vec![Actor {
            sprite: sprite("motorbike"),
            class: ObjectClass::Vehicle,
            height_px: BIKE_HEIGHT,
            path,
        }],
    )
}

/// One motorbike pass along the bike line shifted down by `shift` px, starting at `t0`,
/// crossing in `crossing_s`, rendered `height` px tall, zig-zagging (period `period_s`) or
/// not, left to right or (`reverse`) right to left.
fn bike_pass(
    t0: f64,
    crossing_s: f64,
    shift: f32,
    height: f32,
    period_s: Option<f64>,
    reverse: bool,
) -> Actor {
    let total: f32 = BIKE_LINE
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
        .sum();
    let steps = (crossing_s * FPS).round() as usize;
    let amp = WEAVE_AMP * height / BIKE_HEIGHT;
    let path = (0..=steps)
        .map(|k| {
            let u = k as f64 / steps as f64;
            let s = u * crossing_s;
            let along = if reverse { 1.0 - u } else { u };
            let ((x, y), (nx, ny)) = bike_line_at(total * along as f32);
            let env = 18.0 + (amp - 18.0) * ((x - 120.0) / 280.0).clamp(0.0, 1.0);
            let lat = period_s.map_or(0.0, |p| {
                env * (2.0 * std::f64::consts::PI * s / p).sin() as f32
            });
            (t0 + s, x + nx * lat, y + shift + ny * lat)
        })
        .collect();
    Actor {
        sprite: sprite("motorbike"),
        class: ObjectClass::Vehicle,
        height_px: height,
        path,
    }
}

/// The passes of [`motorbike_traffic`]: (crossing time s, shift px, height px, zig-zag
/// period s or straight, right to left).
const TRAFFIC_PASSES: [(f64, f32, f32, Option<f64>, bool); 10] = [
    (6.0, 0.0, 55.0, Some(1.4), false),
    (5.0, 40.0, 62.0, None, true),
    (4.0, -20.0, 48.0, Some(1.0), false),
    (8.0, 25.0, 58.0, None, false),
    (5.0, 60.0, 62.0, Some(1.6), true),
    (6.0, -10.0, 45.0, None, false),
    (4.5, 10.0, 55.0, Some(1.2), true),
    (7.0, 50.0, 60.0, None, true),
    (5.5, -25.0, 50.0, Some(1.3), false),
    (4.0, 30.0, 57.0, None, false),
];

/// When each pass of [`motorbike_traffic`] is on the road: (from s, to s, zig-zagging).
pub fn traffic_windows() -> Vec<(f64, f64, bool)> {
    let mut t = 0.5;
    TRAFFIC_PASSES
        .iter()
        .map(|&(crossing, _, _, period, _)| {
            let w = (t, t + crossing, period.is_some());
            t += crossing * 0.9;
            w
        })
        .collect()
}

/// Ten motorbike passes one after another (a night-detection test set with enough
/// vehicle boxes to measure recall): five zig-zagging (periods 1.0 to 1.6 s), five straight,
/// shifted across the road, 45 to 62 px tall, crossing in 4 to 8 s, some right to left,
/// each starting when the one before is 90 % across. 62 s at 10 fps.
pub fn motorbike_traffic(lighting: Lighting) -> Scene {
    let actors = TRAFFIC_PASSES
        .iter()
        .zip(traffic_windows())
        .map(
            |(&(crossing, shift, height, period, reverse), (t0, _, _))| {
                bike_pass(t0, crossing, shift, height, period, reverse)
            },
        )
        .collect();
    scene(lighting, 11, 62.0, actors)
}

/// One motorbike crosses the frame left to right along the road in 6 s (t = 1..7 s of
/// 8 s), zig-zagging with a 1.4 s period: 7 lateral reversals inside the frame; in the
/// wide part of the road (x > 300) the swing between successive reversals is 90 to 104 px
/// perpendicular to the line of travel, more than the bike's 88 px box width (4 times).
pub fn weaving_motorbike(lighting: Lighting) -> Scene {
    bike_scene(lighting, 3, true)
}

/// The same motorbike on the same line at the same speed, riding straight.
pub fn straight_rider(lighting: Lighting) -> Scene {
    bike_scene(lighting, 4, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_interpolates_and_bounds() {
        let p = vec![
            (1.0, 0.0, 0.0),
            (2.0, 10.0, 20.0),
            (2.0, 30.0, 20.0),
            (4.0, 30.0, 0.0),
        ];
        assert_eq!(position(&p, 0.99), None);
        assert_eq!(position(&p, 1.0), Some((0.0, 0.0)));
        assert_eq!(position(&p, 1.5), Some((5.0, 10.0)));
        assert_eq!(position(&p, 3.0), Some((30.0, 10.0)));
        assert_eq!(position(&p, 4.0), Some((30.0, 0.0)));
        assert_eq!(position(&p, 4.01), None);
    }

    #[test]
    fn xorshift_is_deterministic_and_seed_dependent() {
        let a: Vec<u64> = (0..4)
            .scan(XorShift::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(XorShift::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .scan(XorShift::new(0), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(c.iter().all(|&v| v != 0));
    }

    #[test]
    fn group_stands_within_a_body_height() {
        let s = four_people_standing(Lighting::Day);
        for t in [9.5, 20.0, 35.9] {
            let feet: Vec<_> = s
                .actors
                .iter()
                .map(|a| position(&a.path, t).unwrap())
                .collect();
            let body = person_height_at(feet[0].1);
            for (i, a) in feet.iter().enumerate() {
                let near = |b: &(f32, f32)| (a.0 - b.0).hypot(a.1 - b.1);
                assert!(feet.iter().all(|b| near(b) < 2.0 * body), "{t}: {feet:?}");
                let nearest = feet
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, b)| near(b));
                assert!(
                    nearest.fold(f32::MAX, f32::min) < 0.7 * body,
                    "{t}: {feet:?}"
                );
            }
        }
    }

    #[test]
    fn weaving_has_reversals_and_swing() {
        let width = BIKE_HEIGHT * 200.0 / 125.0;
        let weaving = weaving_motorbike(Lighting::Day).actors[0].path.clone();
        let straight = straight_rider(Lighting::Day).actors[0].path.clone();
        assert_eq!(weaving.len(), straight.len());
        for p in [&weaving, &straight] {
            assert!((p.last().unwrap().0 - p[0].0 - BIKE_CROSSING_S).abs() < 1e-9);
        }
        // Signed lateral offset of the weaving bike from the straight one (same time, same
        // point of the line), at the samples where it is inside the frame.
        let lat: Vec<f32> = weaving
            .iter()
            .zip(&straight)
            .filter(|(q, _)| (0.0..768.0).contains(&q.1))
            .map(|(q, r)| {
                let (dx, dy) = (q.1 - r.1, q.2 - r.2);
                dx.hypot(dy).copysign(dy)
            })
            .collect();
        assert!(lat.len() > 40);
        // reversals: sign changes of the lateral velocity (equal neighbours skipped)
        let mut extremes = Vec::new();
        let mut last_dir = 0.0f32;
        for w in lat.windows(2) {
            let d = w[1] - w[0];
            if d != 0.0 {
                if last_dir != 0.0 && d.signum() != last_dir {
                    extremes.push(w[0]);
                }
                last_dir = d.signum();
            }
        }
        let big = extremes
            .windows(2)
            .filter(|e| (e[1] - e[0]).abs() >= width)
            .count();
        assert!(extremes.len() >= 6, "{extremes:?}");
        assert!(big >= 4, "{extremes:?} {width}");
        // the straight rider keeps to the line
        for w in straight.windows(3) {
            let cross =
                (w[1].1 - w[0].1) * (w[2].2 - w[1].2) - (w[1].2 - w[0].2) * (w[2].1 - w[1].1);
            assert!(cross.abs() < 1500.0, "{w:?}");
        }
    }

    #[test]
    fn render_clips_at_edges_and_is_deterministic() {
        let dir = std::env::temp_dir().join(format!("scenegen-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let actors = vec![
            // taller than the frame, corner to corner: always clipped, partly outside
            Actor {
                sprite: sprite("person_bald"),
                class: ObjectClass::Person,
                height_px: 900.0,
                path: vec![(0.0, -300.0, -50.0), (1.0, 1100.0, 900.0)],
            },
            // starts wholly outside (no row), then enters at the right edge
            Actor {
                sprite: sprite("motorbike"),
                class: ObjectClass::Vehicle,
                height_px: 40.0,
                path: vec![(0.2, 900.0, 300.0), (1.0, 760.0, 300.0)],
            },
        ];
        let scene = Scene {
            seed: 99,
            ..scene(Lighting::Night, 0, 1.0, actors)
        };
        let mut outputs = Vec::new();
        for run in 0..2 {
            let (v, g) = (
                dir.join(format!("{run}.avi")),
                dir.join(format!("{run}.txt")),
            );
            let rows = render(&scene, &v, &g).unwrap();
            for r in &rows {
                assert!(r.bbox.x1 >= 0.0 && r.bbox.y1 >= 0.0, "{r:?}");
                assert!(r.bbox.x2 <= 768.0 && r.bbox.y2 <= 576.0, "{r:?}");
                assert!(r.bbox.area() > 0.0 && (1..=10).contains(&r.frame), "{r:?}");
            }
            assert!(rows.iter().any(|r| r.actor == 1) && rows.iter().any(|r| r.actor == 0));
            assert!(
                !rows.iter().any(|r| r.actor == 1 && r.frame <= 3),
                "bike outside early"
            );
            let text = fs::read_to_string(&g).unwrap();
            assert_eq!(text.lines().count(), rows.len());
            for (line, r) in text.lines().zip(&rows) {
                let f: Vec<&str> = line.split(',').collect();
                let class = if r.class == ObjectClass::Person {
                    "1"
                } else {
                    "3"
                };
                assert_eq!(f.len(), 10, "{line}");
                assert_eq!(f[0].parse::<u64>().unwrap(), r.frame, "{line}");
                assert_eq!(f[1].parse::<usize>().unwrap(), r.actor + 1, "{line}");
                assert_eq!((f[6], f[7], f[8], f[9]), ("1", class, "-1", "-1"), "{line}");
            }
            let cap = videoio::VideoCapture::from_file(v.to_str().unwrap(), videoio::CAP_ANY);
            let n = cap.unwrap().get(videoio::CAP_PROP_FRAME_COUNT).unwrap();
            assert_eq!(n as u64, scene.frame_count());
            outputs.push((fs::read(&v).unwrap(), text));
        }
        assert!(
            outputs[0] == outputs[1],
            "same scene, same seed: same bytes"
        );
        let other = Scene {
            seed: 100,
            ..scene.clone()
        };
        render(&other, &dir.join("o.avi"), &dir.join("o.txt")).unwrap();
        assert!(
            fs::read(dir.join("o.avi")).unwrap() != outputs[0].0,
            "seed changes the noise"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn render_reports_bad_input() {
        let dir = std::env::temp_dir();
        let mut s = walk_past_group(Lighting::Day);
        s.actors[0].sprite = PathBuf::from("/nonexistent/sprite.png");
        let e = render(&s, &dir.join("x.avi"), &dir.join("x.txt")).unwrap_err();
        assert!(e.contains("actor 0") && e.contains("sprite"), "{e}");
        let mut s = walk_past_group(Lighting::Day);
        s.actors[1].sprite = fixtures_dir().join("background.png");
        let e = render(&s, &dir.join("x.avi"), &dir.join("x.txt")).unwrap_err();
        assert!(e.contains("BGRA"), "{e}");
        let mut s = walk_past_group(Lighting::Day);
        s.actors[2].path.reverse();
        assert!(
            render(&s, &dir.join("x.avi"), &dir.join("x.txt"))
                .unwrap_err()
                .contains("decrease")
        );
        let s = walk_past_group(Lighting::Day);
        let e = render(&s, Path::new("/nonexistent/dir/x.avi"), &dir.join("x.txt")).unwrap_err();
        assert!(e.contains("video"), "{e}");
    }
}
