//! What the web console shows, kept up to date by the publish worker: every camera's
//! latest frame (as JPEG) with its tracks and people per zone, its zones and health, the
//! active alerts, recent events and which alerts the desk acknowledged. Changes are
//! pushed to every open page as server-sent events.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use opencv::core::{Mat, Vector};
use opencv::imgcodecs;
use opencv::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::publish::document::{Event, HealthDoc};
use crate::types::{ObjectClass, Phase, Track, ZoneCount};

/// Recent events kept for a page that opens later.
pub const RECENT: usize = 100;

/// One zone as the console draws and edits it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneView {
    pub id: String,
    pub name: String,
    /// Normalised to the frame, [0, 1].
    pub points: Vec<[f64; 2]>,
    pub rules: Vec<String>,
}

/// One camera's identity and zones (from the config, set on start and reload).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraView {
    pub id: String,
    pub name: String,
    pub zones: Vec<ZoneView>,
}

#[derive(Debug, Clone, Serialize)]
struct TrackView {
    id: u64,
    class: &'static str,
    /// x1, y1, x2, y2 in pixels of the frame.
    bbox: [f32; 4],
}

#[derive(Default)]
struct Live {
    /// Shared with every response that serves it (no copy per request).
    jpeg: Option<Bytes>,
    size: (i32, i32),
    time_utc: String,
    tracks: Vec<TrackView>,
    counts: BTreeMap<String, usize>,
    /// +1 per preview (the page reloads the image when it changes).
    frame_seq: u64,
    health: Option<HealthDoc>,
}

struct State {
    site: String,
    site_name: String,
    language: &'static str,
    cameras: BTreeMap<String, (CameraView, Live)>,
    active: BTreeMap<String, Event>,
    recent: VecDeque<Event>,
    acked: BTreeSet<String>,
}

/// A change for the open pages: an SSE event name and its JSON data.
#[derive(Debug, Clone)]
pub struct Push {
    pub kind: &'static str,
    pub data: String,
}

pub struct Hub {
    state: Mutex<State>,
    tx: broadcast::Sender<Push>,
    encoder: Mutex<(Vector<u8>, Vector<i32>)>,
}

fn ts_utc(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Hub {
    pub fn new(site: &str, site_name: &str, language: &'static str) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(256);
        Arc::new(Hub {
            state: Mutex::new(State {
                site: site.into(),
                site_name: site_name.into(),
                language,
                cameras: BTreeMap::new(),
                active: BTreeMap::new(),
                recent: VecDeque::new(),
                acked: BTreeSet::new(),
            }),
            tx,
            encoder: Mutex::new((
                Vector::new(),
                Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 75]),
            )),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, kind: &'static str, data: Value) {
        // No open page: nobody to tell.
        let _ = self.tx.send(Push {
            kind,
            data: data.to_string(),
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.tx.subscribe()
    }

    /// New site names (a reload).
    pub fn set_site(&self, site: &str, site_name: &str, language: &'static str) {
        let mut s = self.lock();
        s.site = site.into();
        s.site_name = site_name.into();
        s.language = language;
    }

    /// A camera started or its zones or names changed.
    pub fn set_camera(&self, view: CameraView) {
        let data = serde_json::to_value(&view).unwrap_or(Value::Null);
        {
            let mut s = self.lock();
            match s.cameras.get_mut(&view.id) {
                Some(c) if c.0 == view => return,
                Some(c) => c.0 = view,
                None => {
                    s.cameras.insert(view.id.clone(), (view, Live::default()));
                }
            }
        }
        self.push("camera", data);
    }

    pub fn remove_camera(&self, id: &str) {
        if self.lock().cameras.remove(id).is_some() {
            self.push("removed", json!({ "id": id }));
        }
    }

    /// The camera's latest analysed frame, with what analytics saw on it.
    pub fn preview(
        &self,
        camera: &str,
        ts: jiff::Timestamp,
        image: &Mat,
        tracks: &[Track],
        counts: &[ZoneCount],
    ) {
        if image.empty() {
            return;
        }
        let jpeg = {
            let mut enc = self.encoder.lock().unwrap_or_else(|p| p.into_inner());
            let (buf, params) = &mut *enc;
            buf.clear();
            if let Err(e) = imgcodecs::imencode(".jpg", image, buf, params) {
                tracing::debug!(camera, error = %e, "preview not encoded");
                return;
            }
            Bytes::copy_from_slice(buf.as_slice())
        };
        let tracks: Vec<TrackView> = tracks
            .iter()
            .filter(|t| t.confirmed)
            .map(|t| TrackView {
                id: t.id,
                class: match t.class {
                    ObjectClass::Person => "person",
                    ObjectClass::Vehicle => "vehicle",
                },
                bbox: [t.bbox.x1, t.bbox.y1, t.bbox.x2, t.bbox.y2],
            })
            .collect();
        let data = {
            let mut s = self.lock();
            let Some((_, live)) = s.cameras.get_mut(camera) else {
                return;
            };
            live.jpeg = Some(jpeg);
            live.size = (image.cols(), image.rows());
            live.time_utc = ts_utc(ts);
            live.tracks = tracks;
            live.counts = counts.iter().map(|c| (c.zone.clone(), c.people)).collect();
            live.frame_seq += 1;
            live_json(camera, live)
        };
        self.push("frame", data);
    }

    pub fn frame_jpeg(&self, camera: &str) -> Option<Bytes> {
        self.lock()
            .cameras
            .get(camera)
            .and_then(|c| c.1.jpeg.clone())
    }

    pub fn has_camera(&self, camera: &str) -> bool {
        self.lock().cameras.contains_key(camera)
    }

    pub fn event(&self, ev: &Event) {
        {
            let mut s = self.lock();
            match ev.phase {
                Phase::End => {
                    s.active.remove(&ev.id);
                }
                Phase::Start | Phase::Update => {
                    s.active.insert(ev.id.clone(), ev.clone());
                }
            }
            s.recent.push_front(ev.clone());
            s.recent.truncate(RECENT);
        }
        self.push("event", serde_json::to_value(ev).unwrap_or(Value::Null));
    }

    pub fn health(&self, doc: &HealthDoc) {
        {
            let mut s = self.lock();
            if let Some(c) = s.cameras.get_mut(&doc.camera) {
                c.1.health = Some(doc.clone());
            }
        }
        self.push("health", serde_json::to_value(doc).unwrap_or(Value::Null));
    }

    /// The desk acknowledged an alert (it stops ringing and flashing on every page).
    /// False when no such incident was seen.
    pub fn ack(&self, id: &str) -> bool {
        {
            let mut s = self.lock();
            let known = s.active.contains_key(id) || s.recent.iter().any(|e| e.id == id);
            if !known {
                return false;
            }
            s.acked.insert(id.to_string());
            // Bounded: forget acknowledgements of incidents no longer listed.
            if s.acked.len() > 4 * RECENT {
                let keep: BTreeSet<String> = s
                    .active
                    .keys()
                    .cloned()
                    .chain(s.recent.iter().map(|e| e.id.clone()))
                    .collect();
                s.acked.retain(|a| keep.contains(a));
            }
        }
        self.push("ack", json!({ "id": id }));
        true
    }

    /// Everything a page needs when it opens.
    pub fn snapshot(&self) -> Value {
        let s = self.lock();
        let cameras: Vec<Value> = s
            .cameras
            .values()
            .map(|(view, live)| {
                let mut v = serde_json::to_value(view).unwrap_or(Value::Null);
                if let Some(m) = v.as_object_mut() {
                    m.insert("live".into(), live_json(&view.id, live));
                    m.insert(
                        "health".into(),
                        serde_json::to_value(&live.health).unwrap_or(Value::Null),
                    );
                }
                v
            })
            .collect();
        json!({
            "site": s.site,
            "site_name": s.site_name,
            "language": s.language,
            "cameras": cameras,
            "active": s.active.values().collect::<Vec<_>>(),
            "recent": s.recent.iter().collect::<Vec<_>>(),
            "acked": s.acked.iter().collect::<Vec<_>>(),
        })
    }
}

fn live_json(camera: &str, live: &Live) -> Value {
    json!({
        "camera": camera,
        "width": live.size.0,
        "height": live.size.1,
        "time_utc": live.time_utc,
        "tracks": live.tracks,
        "counts": live.counts,
        "frame_seq": live.frame_seq,
    })
}
