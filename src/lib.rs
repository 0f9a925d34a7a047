//! wardwatch: edge video analytics for ward CCTV.
//!
//! Data flows one way: `source` → `detect` → `track` → `rules` (zones, schedules) →
//! `debounce` → `dispatch` (evidence, events) → `sink` (MQTT through a durable outbox).
//! Every stage is plain data in, plain data out, and takes time from the frame.

pub mod app;
pub mod config;
pub mod debounce;
pub mod detect;
pub mod dispatch;
pub mod event;
pub mod evidence;
pub mod ground;
pub mod health;
pub mod mot;
pub mod pipeline;
pub mod rules;
pub mod scenegen;
pub mod schedule;
pub mod sink;
pub mod source;
pub mod track;
pub mod types;
pub mod zone;
