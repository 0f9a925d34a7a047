//! Publishing: what the duty desk receives.
//!
//! - [`document`]: the typed event, state and camera-health documents (docs/events.md);
//! - [`evidence`]: annotated JPEG snapshots with bounded disk use;
//! - [`annotate`]: the tuning overlay of `replay --annotate` (what the analytics saw);
//! - [`dispatch`]: a camera's frame reports → events, evidence and retained state;
//! - [`topics`]: the MQTT topic layout and queueing into the outbox;
//! - [`outbox`]: the durable on-disk queue (removed only on PUBACK);
//! - [`mqtt`]: the MQTT client that drains the outbox;
//! - [`console`]: the lines printed on stdout;
//! - [`text`]: the human texts (titles, header) in the site's language;
//! - [`discovery`]: Home Assistant MQTT discovery configs;
//! - [`files`]: private file and directory modes for the outbox and snapshots.
//!
//! Publishing takes plain data ([`FrameReport`](crate::types::FrameReport),
//! [`HealthChange`](crate::types::HealthChange)); it never calls back into analytics.

pub mod annotate;
pub mod console;
pub mod discovery;
pub mod dispatch;
pub mod document;
pub mod evidence;
pub mod files;
pub mod mqtt;
pub mod outbox;
pub mod text;
pub mod topics;

pub use topics::Publisher;
