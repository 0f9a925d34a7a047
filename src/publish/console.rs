//! Console lines: what `run` and `replay` print on stdout, one line per event.

use crate::publish::document::{Event, HealthDoc};

/// `2026-11-26 23:00:09 START  gathering campus-road/road: 2 people (peak 2) since …`
pub fn event_line(ev: &Event) -> String {
    ev.summary()
}

/// `2026-11-26 23:00:00 CAMERA cam-1 Offline connection refused`
pub fn health_line(doc: &HealthDoc) -> String {
    doc.summary()
}
