//! Plain data shared by every stage: boxes, detections, tracks.
//!
//! Coordinates are pixels of the source frame (x right, y down). Times are
//! `jiff::Timestamp`s taken from the frame, never from the wall clock inside a stage.

use serde::{Deserialize, Serialize};

/// Axis-aligned box in pixels, corners (x1, y1) top-left and (x2, y2) bottom-right.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }
    /// Box from top-left corner and size (MOTChallenge style).
    pub fn from_xywh(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self::new(x, y, x + w, y + h)
    }
    /// Box from centre and size.
    pub fn from_cxcywh(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }
    /// The foot point: where a person or vehicle touches the ground.
    pub fn bottom_center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, self.y2)
    }
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// What wardwatch cares about. COCO classes map onto these (see `detect::classes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ObjectClass {
    Person,
    Vehicle,
}

/// One detector output after NMS.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub bbox: BBox,
    /// Confidence in [0, 1].
    pub score: f32,
    pub class: ObjectClass,
    /// Class index of the model's own label set (COCO-80 for the shipped model).
    pub label: u16,
}

/// A tracked object as the tracker reports it after an update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Stable per camera, never reused within a process run. Starts at 1.
    pub id: u64,
    pub bbox: BBox,
    pub class: ObjectClass,
    pub label: u16,
    pub score: f32,
    /// Velocity of the box centre in pixels per second (Kalman estimate).
    pub velocity: (f32, f32),
    /// True once the track has been matched `min_hits` times.
    pub confirmed: bool,
    /// Matched in the update that produced this list (false while coasting on prediction).
    pub matched: bool,
    /// Time of the first detection of this track.
    pub first_seen: jiff::Timestamp,
    /// Time of the last matched detection.
    pub last_seen: jiff::Timestamp,
}
