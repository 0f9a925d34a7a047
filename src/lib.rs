//! wardwatch: edge video analytics for ward CCTV.
//!
//! One folder per stage, in the order the data flows:
//!
//! ```text
//! media (capture, sampling, health) → detect (ort) → track → analytics (zones, schedules,
//! rules, debouncer) → publish (documents, evidence, outbox, MQTT)
//! ```
//!
//! `runtime` owns the threads and channels that drive the stages (one capture thread per
//! camera, one detector worker, one publish worker), `cli` has one thin file per command,
//! and `config` builds each stage's settings from the TOML file. No stage imports
//! `config`, `runtime` or `cli`; stages talk in the plain data of [`types`]. Only capture
//! and the runtime read a clock, through [`clock::Clock`]; everything else takes the
//! frame's time as an argument. `web` serves the console and `/metrics` from what the
//! runtime hands it.

pub mod analytics;
pub mod cli;
pub mod clock;
pub mod config;
pub mod detect;
pub mod media;
pub mod publish;
pub mod runtime;
pub mod track;
pub mod types;
pub mod web;
