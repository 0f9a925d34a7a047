//! Frame sources: OpenCV `VideoCapture` over files, RTSP/HTTP streams and V4L2 devices.
//!
//! A source stamps each frame with a timestamp: for files, the media timestamp plus a
//! start instant (so a replay can pretend it is 23:00); for live streams, the wall clock
//! at capture. Frames are read into a caller-owned, reused `Mat`.

use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use crate::clock::Clock;
use crate::types::FrameMeta;
use opencv::core::Mat;
use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("video {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("video {path}: read failed at frame {frame}: {reason}")]
    Read {
        path: String,
        frame: u64,
        reason: String,
    },
}

/// One decoded frame. `image` is reused between reads.
pub struct Frame {
    pub meta: FrameMeta,
    pub image: Mat,
    /// Work the capture thread did on it for the detector (buffers reused).
    pub prepared: Prepared,
}

/// What the capture thread prepares for the detector while it infers the previous frame.
#[derive(Default)]
pub struct Prepared {
    /// The model input (see `detect::Preprocessor`), valid when `input_id` is non-zero.
    pub input: Vec<f32>,
    /// Which preprocessing made `input`; 0: not prepared.
    pub input_id: u64,
    /// The small blurred greyscale copy for motion gating; empty when not made.
    pub grey: Mat,
}

/// What a source can do; the capture loop drives it. `grab` decodes the next frame and
/// stamps it, `retrieve` converts the grabbed frame to BGR only when it is due, so frames
/// that are not analysed cost no conversion.
pub trait Source: Send {
    /// (Re)open. Returns the nominal frame rate, if the source reports a usable one.
    fn open(&mut self) -> Result<Option<f64>, SourceError>;
    fn is_open(&self) -> bool;
    /// Decode the next frame and return its time; `Ok(None)`: the stream ended or
    /// stalled (the source is closed; reopen to continue).
    fn grab(&mut self) -> Result<Option<(u64, Timestamp)>, SourceError>;
    /// Convert the last grabbed frame into `image` (reused).
    fn retrieve(&mut self, image: &mut Mat) -> Result<(), SourceError>;
    /// The source for messages, with credentials hidden.
    fn describe(&self) -> String;
    /// Whether a failure should be retried (live cameras) or ends the capture (replays).
    fn reconnects(&self) -> bool;
    /// Frames decoded in the current open, when the source knows them in advance.
    fn frame_count(&self) -> Option<u64> {
        None
    }
}

/// A video file replayed as fast as it decodes, deterministically.
pub struct FileSource {
    cap: VideoCapture,
    path: PathBuf,
    fps: f64,
    frame_count: Option<u64>,
    start: Timestamp,
    next_index: u64,
    size: (u32, u32),
}

impl FileSource {
    /// Open `path`. `fps_override` replaces the container's frame rate when given.
    pub fn open(
        path: &Path,
        start: Timestamp,
        fps_override: Option<f64>,
    ) -> Result<Self, SourceError> {
        let p = path.display().to_string();
        let open_err = |reason: String| SourceError::Open {
            path: p.clone(),
            reason,
        };
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(open_err(
                    "no such file (for the demo clip run `make setup`)".into(),
                ));
            }
            Err(e) => return Err(open_err(format!("cannot read ({e})"))),
            Ok(m) if m.is_dir() => {
                return Err(open_err("is a directory, expected a video file".into()));
            }
            Ok(_) => {}
        }
        let cap = VideoCapture::from_file(&p, videoio::CAP_FFMPEG)
            .ok()
            .filter(|c| c.is_opened().unwrap_or(false))
            .or_else(|| {
                VideoCapture::from_file(&p, videoio::CAP_ANY)
                    .ok()
                    .filter(|c| c.is_opened().unwrap_or(false))
            })
            .ok_or_else(|| {
                open_err(
                    "OpenCV cannot decode it (not a video, truncated, or an unsupported codec)"
                        .into(),
                )
            });
        super::ffmpeg_log::after_open();
        let cap = cap?;
        let fps_prop = cap.get(videoio::CAP_PROP_FPS).unwrap_or(0.0);
        let fps = match fps_override {
            Some(f) => f,
            None if fps_prop.is_finite() && fps_prop > 0.5 && fps_prop < 1000.0 => fps_prop,
            None => {
                return Err(open_err(format!(
                    "the container reports no usable frame rate ({fps_prop}); pass --fps"
                )));
            }
        };
        let n = cap.get(videoio::CAP_PROP_FRAME_COUNT).unwrap_or(0.0);
        let w = cap.get(videoio::CAP_PROP_FRAME_WIDTH).unwrap_or(0.0) as u32;
        let h = cap.get(videoio::CAP_PROP_FRAME_HEIGHT).unwrap_or(0.0) as u32;
        Ok(Self {
            cap,
            path: path.to_path_buf(),
            fps,
            frame_count: (n >= 1.0).then_some(n as u64),
            start,
            next_index: 0,
            size: (w, h),
        })
    }

    pub fn fps(&self) -> f64 {
        self.fps
    }
    pub fn frame_count(&self) -> Option<u64> {
        self.frame_count
    }
    pub fn frame_size(&self) -> (u32, u32) {
        self.size
    }
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the next frame into `frame`. Returns `Ok(false)` at the end of the file.
    /// Frame times are `start + index / fps`: container timestamps of some AVI files
    /// are unreliable, and a constant rate keeps replays deterministic.
    pub fn read(&mut self, frame: &mut Frame) -> Result<bool, SourceError> {
        let ok = self
            .cap
            .read(&mut frame.image)
            .map_err(|e| SourceError::Read {
                path: self.path.display().to_string(),
                frame: self.next_index,
                reason: e.to_string(),
            })?;
        if !ok || frame.image.empty() {
            return Ok(false);
        }
        frame.meta.index = self.next_index;
        frame.meta.ts = self.time_of(self.next_index);
        frame.meta.size = (frame.image.cols() as u32, frame.image.rows() as u32);
        self.next_index += 1;
        Ok(true)
    }

    fn read_err(&self, e: opencv::Error) -> SourceError {
        SourceError::Read {
            path: self.path.display().to_string(),
            frame: self.next_index,
            reason: e.to_string(),
        }
    }

    /// Number of frames read so far.
    pub fn frames_read(&self) -> u64 {
        self.next_index
    }

    pub fn time_of(&self, index: u64) -> Timestamp {
        let nanos = (index as f64 / self.fps * 1e9).round() as i64;
        self.start
            .checked_add(SignedDuration::from_nanos(nanos))
            .unwrap_or(self.start)
    }
}

impl Source for FileSource {
    fn open(&mut self) -> Result<Option<f64>, SourceError> {
        Ok(Some(self.fps))
    }
    fn is_open(&self) -> bool {
        true
    }
    fn grab(&mut self) -> Result<Option<(u64, Timestamp)>, SourceError> {
        let ok = self.cap.grab().map_err(|e| self.read_err(e))?;
        if !ok {
            return Ok(None);
        }
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some((index, self.time_of(index))))
    }
    fn retrieve(&mut self, image: &mut Mat) -> Result<(), SourceError> {
        let ok = self.cap.retrieve(image, 0).map_err(|e| self.read_err(e))?;
        if !ok || image.empty() {
            return Err(self.read_err(opencv::Error::new(0, "empty frame")));
        }
        Ok(())
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    fn reconnects(&self) -> bool {
        false
    }
    fn frame_count(&self) -> Option<u64> {
        self.frame_count
    }
}

/// Decides which frames get analysed, from their timestamps: at most `detect_fps`
/// per second, deterministic for a given frame sequence.
#[derive(Debug, Clone)]
pub struct Sampler {
    interval: SignedDuration,
    next_due: Option<Timestamp>,
}

impl Sampler {
    /// `detect_fps <= 0` (or non-finite) means every frame.
    pub fn new(detect_fps: f64) -> Self {
        let interval = if detect_fps.is_finite() && detect_fps > 0.0 {
            SignedDuration::from_secs_f64(1.0 / detect_fps)
        } else {
            SignedDuration::ZERO
        };
        Self {
            interval,
            next_due: None,
        }
    }

    /// True when the frame at `ts` should be analysed.
    pub fn take(&mut self, ts: Timestamp) -> bool {
        // Half a millisecond of slack so that 10 fps sampled at 5 fps takes every other frame.
        let slack = SignedDuration::from_micros(500);
        match self.next_due {
            Some(due) if ts + slack < due => false,
            Some(due) => {
                let mut next = due + self.interval;
                if next <= ts {
                    next = ts + self.interval; // fell behind (gap in the stream): re-anchor
                }
                self.next_due = Some(next);
                true
            }
            None => {
                self.next_due = Some(ts + self.interval);
                true
            }
        }
    }
}

/// A live camera (RTSP/HTTP/V4L2) or a file played in real time (looping), for `wardwatch run`.
/// Frames are stamped with the injected clock at grab. On failure the caller reconnects.
pub struct LiveSource {
    url: String,
    cap: Option<VideoCapture>,
    is_file: bool,
    pace: Option<std::time::Duration>,
    next_due: Option<std::time::Instant>,
    index: u64,
    timeout_ms: i32,
    clock: std::sync::Arc<dyn Clock>,
    /// Ask FFmpeg for hardware decoding (falls back to software where there is none).
    hw_decode: bool,
    /// The acceleration OpenCV reports for the open stream (`VIDEO_ACCELERATION_*`; 0: none).
    hw_used: i32,
    /// File cameras: first frame after each (re)open (the bench time-shifts its cameras).
    start_frame: u64,
}

impl LiveSource {
    pub fn new(url: &str) -> Self {
        Self::with_clock(url, std::sync::Arc::new(crate::clock::SystemClock), 10.0)
    }

    /// A source whose frames are stamped by `clock`, with `timeout_s` open and read
    /// timeouts for network streams.
    pub fn with_clock(url: &str, clock: std::sync::Arc<dyn Clock>, timeout_s: f64) -> Self {
        // FFmpeg writes the URL it opens, and at debug level the HTTP request with its query,
        // into its log, which now goes through ours: its secrets are scrubbed there.
        super::ffmpeg_log::register_secrets(url);
        let is_file = !url.contains("://") && !url.starts_with("/dev/");
        Self {
            url: url.to_string(),
            cap: None,
            is_file,
            pace: None,
            next_due: None,
            index: 0,
            timeout_ms: (timeout_s * 1000.0).clamp(100.0, 600_000.0) as i32,
            clock,
            hw_decode: true,
            hw_used: 0,
            start_frame: 0,
        }
    }

    /// Hardware decoding on or off (default on: FFmpeg's `VIDEO_ACCELERATION_ANY`, with
    /// software decoding where no accelerator is available).
    pub fn with_hw_decode(mut self, on: bool) -> Self {
        self.hw_decode = on;
        self
    }

    /// File cameras start at this frame (and loop to frame 0).
    pub fn with_start_frame(mut self, frame: u64) -> Self {
        self.start_frame = frame;
        self
    }

    /// The hardware acceleration in use: OpenCV's `VIDEO_ACCELERATION_*` (0 none,
    /// 2 VA-API, 3 Media SDK, 1 D3D11), as reported for the open stream.
    pub fn hw_acceleration(&self) -> i32 {
        self.hw_used
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The frame rate the stream reports, if it reports a usable one.
    pub fn nominal_fps(&self) -> Option<f64> {
        let f = self.cap.as_ref()?.get(videoio::CAP_PROP_FPS).ok()?;
        (f.is_finite() && f > 0.5 && f < 1000.0).then_some(f)
    }

    /// Read the next frame (grab and convert). `Ok(false)` means the stream ended or
    /// stalled: reconnect.
    pub fn read(&mut self, frame: &mut Frame) -> Result<bool, SourceError> {
        match self.grab()? {
            None => Ok(false),
            Some((index, ts)) => {
                self.retrieve(&mut frame.image)?;
                frame.meta.index = index;
                frame.meta.ts = ts;
                frame.meta.size = (frame.image.cols() as u32, frame.image.rows() as u32);
                Ok(true)
            }
        }
    }

    fn read_err(&self, reason: String) -> SourceError {
        SourceError::Read {
            path: redact(&self.url),
            frame: self.index,
            reason: reason.replace(&self.url, &redact(&self.url)),
        }
    }
}

impl Source for LiveSource {
    /// (Re)open the stream. Network streams get open and read timeouts.
    fn open(&mut self) -> Result<Option<f64>, SourceError> {
        self.cap = None;
        // OpenCV's messages may quote the URL: they get the redacted one too.
        let err = |reason: String| SourceError::Open {
            path: redact(&self.url),
            reason: reason.replace(&self.url, &redact(&self.url)),
        };
        let cap = if let Some(dev) = self.url.strip_prefix("/dev/video") {
            let n: i32 = dev
                .parse()
                .map_err(|_| err("expected /dev/videoN".into()))?;
            VideoCapture::new(n, videoio::CAP_V4L2).map_err(|e| err(e.to_string()))?
        } else if self.is_file {
            if !Path::new(&self.url).is_file() {
                return Err(err("no such file".into()));
            }
            let hw = hw_params(self.hw_decode);
            VideoCapture::from_file_with_params(&self.url, videoio::CAP_FFMPEG, &hw)
                .ok()
                .filter(|c| c.is_opened().unwrap_or(false))
                .map(Ok)
                .unwrap_or_else(|| VideoCapture::from_file(&self.url, videoio::CAP_ANY))
                .map_err(|e| err(e.to_string()))?
        } else {
            let mut params = vec![
                videoio::CAP_PROP_OPEN_TIMEOUT_MSEC,
                self.timeout_ms,
                videoio::CAP_PROP_READ_TIMEOUT_MSEC,
                self.timeout_ms,
            ];
            params.extend(hw_params(self.hw_decode).iter());
            let params = opencv::core::Vector::<i32>::from_slice(&params);
            VideoCapture::from_file_with_params(&self.url, videoio::CAP_FFMPEG, &params)
                .map_err(|e| err(e.to_string()))?
        };
        super::ffmpeg_log::after_open();
        if !cap.is_opened().unwrap_or(false) {
            return Err(err(
                "cannot be opened (unreachable, wrong URL or credentials, or unsupported codec)"
                    .into(),
            ));
        }
        let fps = cap.get(videoio::CAP_PROP_FPS).unwrap_or(0.0);
        let usable = fps.is_finite() && fps > 0.5 && fps < 1000.0;
        self.hw_used = cap
            .get(videoio::CAP_PROP_HW_ACCELERATION)
            .map_or(0, |v| v as i32);
        let mut cap = cap;
        if self.is_file && self.start_frame > 0 {
            let n = cap.get(videoio::CAP_PROP_FRAME_COUNT).unwrap_or(0.0);
            if n >= 1.0 {
                let _ = cap.set(videoio::CAP_PROP_POS_FRAMES, (self.start_frame as f64) % n);
            }
        }
        self.pace = (self.is_file && usable).then(|| std::time::Duration::from_secs_f64(1.0 / fps));
        self.next_due = None;
        self.cap = Some(cap);
        Ok(usable.then_some(fps))
    }

    fn is_open(&self) -> bool {
        self.cap.is_some()
    }

    fn grab(&mut self) -> Result<Option<(u64, Timestamp)>, SourceError> {
        if let Some(pace) = self.pace {
            let now = std::time::Instant::now();
            let due = self.next_due.unwrap_or(now);
            if due > now {
                std::thread::sleep(due - now);
            }
            self.next_due = Some(due.max(now) + pace);
        }
        let Some(cap) = self.cap.as_mut() else {
            return Ok(None);
        };
        let mut ok = cap.grab().map_err(|e| e.to_string());
        if self.is_file && matches!(ok, Ok(false)) {
            // A file camera loops: rewind instead of reporting the camera offline.
            let _ = cap.set(videoio::CAP_PROP_POS_FRAMES, 0.0);
            ok = cap.grab().map_err(|e| e.to_string());
        }
        match ok {
            Ok(true) => {
                let ts = self.clock.now();
                let index = self.index;
                self.index += 1;
                Ok(Some((index, ts)))
            }
            Ok(false) => {
                self.cap = None;
                Ok(None)
            }
            Err(e) => {
                self.cap = None;
                Err(self.read_err(e))
            }
        }
    }

    fn retrieve(&mut self, image: &mut Mat) -> Result<(), SourceError> {
        let Some(cap) = self.cap.as_mut() else {
            return Err(self.read_err("not open".into()));
        };
        match cap.retrieve(image, 0) {
            Ok(true) if !image.empty() => Ok(()),
            Ok(_) => Err(self.read_err("the grabbed frame could not be decoded".into())),
            Err(e) => Err(self.read_err(e.to_string())),
        }
    }

    fn describe(&self) -> String {
        redact(&self.url)
    }

    fn reconnects(&self) -> bool {
        true
    }
}

/// OpenCV open parameters for FFmpeg hardware decoding: any accelerator (VA-API, Media
/// SDK, …), with software decoding where none is available; or software only.
fn hw_params(on: bool) -> opencv::core::Vector<i32> {
    let accel = if on {
        videoio::VIDEO_ACCELERATION_ANY
    } else {
        videoio::VIDEO_ACCELERATION_NONE
    };
    opencv::core::Vector::from_slice(&[videoio::CAP_PROP_HW_ACCELERATION, accel])
}

/// Query keys whose values are secrets (compared case-insensitively, also as a suffix:
/// `admin_pwd`, `x-auth-token`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "pw",
    "token",
    "secret",
    "key",
    "auth",
    "sig",
    "signature",
    "credential",
    "credentials",
    "session",
    "apikey",
];

pub(crate) fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_KEYS
        .iter()
        .any(|s| k == *s || k.ends_with(&format!("_{s}")) || k.ends_with(&format!("-{s}")))
}

/// Hide credentials in a camera URL before it is shown anywhere (logs, stdout, health
/// documents, errors): the password of the userinfo and the values of secret-looking
/// query parameters become `***`, parsed with a real URL parser (so a password holding
/// `@` or `:` is hidden whole). Strings that are not URLs (file paths) are returned as
/// they are; a URL that does not parse but looks like it holds credentials is cut to its
/// scheme.
pub fn redact(url: &str) -> String {
    if !url.contains("://") {
        return url.to_string();
    }
    let Ok(mut u) = url::Url::parse(url) else {
        let scheme = url.split("://").next().unwrap_or("");
        return if url.contains('@') || url.contains('?') {
            format!("{scheme}://*** (unparsable URL hidden)")
        } else {
            url.to_string()
        };
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_key(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // `***` is percent-encoded by the serializer in the query (`%2A%2A%2A`); show it plain.
    u.to_string().replace("%2A%2A%2A", "***")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_userinfo_and_secret_query_values() {
        for (url, secret) in [
            ("rtsp://admin:hunter2@10.0.0.5/1", "hunter2"),
            ("rtsp://admin:S3cr@tpart@10.0.0.5:554/live", "cretpart"),
            ("rtsp://admin:a:b@10.0.0.5/x", "a:b"),
            (
                "http://10.0.0.5/video.cgi?user=admin&pwd=QuerySecret",
                "QuerySecret",
            ),
            ("http://10.0.0.5/v?password=p1&x=1", "p1"),
            ("http://10.0.0.5/v?passwd=p2", "p2"),
            ("http://10.0.0.5/v?token=tok3n", "tok3n"),
            ("http://10.0.0.5/v?Api_Key=k3y&channel=2", "k3y"),
            ("http://10.0.0.5/v?x-auth-token=aaa", "aaa"),
        ] {
            let r = redact(url);
            assert!(!r.contains(secret), "{url} → {r}");
            assert!(r.contains("***"), "{url} → {r}");
        }
        assert_eq!(
            redact("http://10.0.0.5/v?user=admin&pwd=x&channel=2"),
            "http://10.0.0.5/v?user=admin&pwd=***&channel=2"
        );
        assert_eq!(redact("rtsp://admin:pw@cam/1"), "rtsp://admin:***@cam/1");
        assert_eq!(redact("rtsp://cam.local/1"), "rtsp://cam.local/1");
        assert_eq!(redact("/var/video/a.avi"), "/var/video/a.avi");
    }

    #[test]
    fn sampler_halves_10fps_to_5fps() {
        let mut s = Sampler::new(5.0);
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        let taken: Vec<bool> = (0..10)
            .map(|i| s.take(t0 + SignedDuration::from_millis(i * 100)))
            .collect();
        assert_eq!(
            taken,
            vec![
                true, false, true, false, true, false, true, false, true, false
            ]
        );
    }

    #[test]
    fn sampler_zero_takes_all() {
        let mut s = Sampler::new(0.0);
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        assert!((0..5).all(|i| s.take(t0 + SignedDuration::from_millis(i))));
    }

    #[test]
    fn sampler_7fps_to_5fps_is_even() {
        let mut s = Sampler::new(5.0);
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        let n = (0..70)
            .filter(|&i| s.take(t0 + SignedDuration::from_secs_f64(i as f64 / 7.0)))
            .count();
        assert!(
            (45..=52).contains(&n),
            "took {n} of 70 frames at 7 fps for 5 fps"
        );
    }
}

/// What decoding a file costs on this machine (the bench's decode figures).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DecodeCost {
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    /// `grab()` alone per frame: a frame that is not due (decoded, never converted), ms.
    pub grab_ms: f64,
    /// `retrieve()` per frame on top of the grab: the conversion of a due frame to BGR, ms.
    pub retrieve_ms: f64,
    /// OpenCV's `VIDEO_ACCELERATION_*` in use (0: software).
    pub acceleration: i32,
}

/// Decode up to `frames` frames of `path` twice — grabs only, then grab + retrieve — and
/// time them. `hw`: ask FFmpeg for hardware decoding (falls back to software).
pub fn decode_cost(path: &Path, frames: u64, hw: bool) -> Result<DecodeCost, SourceError> {
    let p = path.display().to_string();
    let err = |reason: String| SourceError::Open {
        path: p.clone(),
        reason,
    };
    let open = || {
        let cap = VideoCapture::from_file_with_params(&p, videoio::CAP_FFMPEG, &hw_params(hw))
            .ok()
            .filter(|c| c.is_opened().unwrap_or(false))
            .ok_or_else(|| err("OpenCV cannot decode it".into()));
        super::ffmpeg_log::after_open();
        cap
    };
    let mut cap = open()?;
    let acceleration = cap
        .get(videoio::CAP_PROP_HW_ACCELERATION)
        .map_or(0, |v| v as i32);
    let (w, h) = (
        cap.get(videoio::CAP_PROP_FRAME_WIDTH).unwrap_or(0.0) as u32,
        cap.get(videoio::CAP_PROP_FRAME_HEIGHT).unwrap_or(0.0) as u32,
    );
    let t = std::time::Instant::now();
    let mut n = 0u64;
    while n < frames && cap.grab().unwrap_or(false) {
        n += 1;
    }
    let grab_s = t.elapsed().as_secs_f64();
    let mut cap = open()?;
    let mut img = Mat::default();
    let t = std::time::Instant::now();
    let mut m = 0u64;
    while m < n && cap.grab().unwrap_or(false) && cap.retrieve(&mut img, 0).unwrap_or(false) {
        m += 1;
    }
    let both_s = t.elapsed().as_secs_f64();
    if n == 0 || m == 0 {
        return Err(err("no frame could be decoded".into()));
    }
    let grab_ms = grab_s * 1e3 / n as f64;
    Ok(DecodeCost {
        width: w,
        height: h,
        frames: n,
        grab_ms,
        retrieve_ms: (both_s * 1e3 / m as f64 - grab_ms).max(0.0),
        acceleration,
    })
}
