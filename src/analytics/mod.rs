//! Analytics: tracks → zones → rules → debouncer → incident events, per camera.
//!
//! Plain data in ([`Detections`](crate::types::Detections)), plain data out
//! ([`FrameReport`](crate::types::FrameReport)); no images, no clocks, no I/O. Time is the
//! frame's timestamp, so a replay can pretend it is 23:00 and tests never sleep.
//!
//! - [`zone`]: polygons in normalised frame coordinates, foot-point membership;
//! - [`filter`]: object filters (box area, score, masks per class), for the camera before
//!   tracking and for each zone's membership;
//! - [`schedule`]: curfew windows in the site's time zone;
//! - [`ground`]: optional ground-plane calibration (pixels → metres);
//! - [`rules`]: the [`Rule`](rules::Rule) contract, with [`gathering`] and [`weaving`];
//! - [`loitering`]: one person lingering after curfew;
//! - [`hold`]: the "held since, with grace" timer shared by rules and the debouncer;
//! - [`debounce`]: observations → start / update / end;
//! - [`camera`]: one camera's tracker, zones and rules composed; its settings type;
//! - [`explain`]: what the analytics saw in a frame, for the tuning aids (plain data).

pub mod camera;
pub mod debounce;
pub mod explain;
pub mod filter;
pub mod gathering;
pub mod ground;
pub mod hold;
pub mod loitering;
pub mod rules;
pub mod schedule;
pub mod weaving;
pub mod zone;

pub use camera::{AnalyticsSettings, CameraAnalytics, ZoneSettings};
