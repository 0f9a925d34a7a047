//! Media: where frames come from.
//!
//! - [`source`]: OpenCV `VideoCapture` over files (deterministic replay), RTSP/HTTP
//!   streams, V4L2 devices and looping file cameras; the [`Sampler`](source::Sampler)
//!   that picks the frames due for detection;
//! - [`capture`]: the capture loop (one thread per camera, run by the runtime): grab,
//!   stamp, sample, latest frame wins, drop counting, reconnect with backoff and jitter;
//! - [`health`]: online / offline / degraded from every decoded frame, with hysteresis;
//! - [`motion`]: motion gating (a small grey copy, compared with the one at the last
//!   inference, in or near the zones);
//! - [`mot`]: recorded detections and tracks in MOTChallenge text format;
//! - [`ffmpeg_log`]: FFmpeg's own messages through the logger (target `ffmpeg`).

pub mod capture;
pub mod ffmpeg_log;
pub mod health;
pub mod mot;
pub mod motion;
pub mod source;

pub use capture::{Capture, CaptureSettings, Delivery, FrameSlot, Taken};
pub use source::{FileSource, Frame, LiveSource, Sampler, Source, SourceError, redact};
