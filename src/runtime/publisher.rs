//! The publish worker: evidence JPEGs, event documents, the outbox and the console, on
//! one thread off the capture and detection threads. It owns the evidence store (no
//! mutex) and one [`Dispatcher`] per camera. The channel into it is bounded but deep; a
//! slow disk delays the worker, never a camera, until the channel fills.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use opencv::core::Mat;

use crate::clock::Clock;
use crate::publish::dispatch::{Dispatcher, ZoneOutline};
use crate::publish::document::{Event, EventBuilder, HealthDoc};
use crate::publish::evidence::EvidenceStore;
use crate::publish::text::{Language, Names};
use crate::publish::topics::Publisher;
use crate::runtime::metrics::Metrics;
use crate::types::{CameraStatus, FrameReport, HealthChange, Phase};
use crate::web::Hub;

/// Messages to the publish worker.
pub enum PublishMsg {
    /// Start publishing for a camera (or replace its dispatcher).
    Camera(Box<Dispatcher>),
    /// A reload changed the camera's zones.
    Zones {
        camera: String,
        zones: Vec<ZoneOutline>,
    },
    /// A reload changed the camera's names or the site's language.
    Builder(Box<EventBuilder>),
    /// A frame report with incidents, and the frame when evidence is needed.
    Report {
        report: FrameReport,
        image: Option<Mat>,
    },
    /// A camera's people counts changed (no incident): its retained state goes out.
    Counts {
        camera: String,
        ts: jiff::Timestamp,
        zone_counts: Vec<crate::types::ZoneCount>,
    },
    /// A camera health change.
    Health {
        camera: String,
        change: HealthChange,
    },
    /// A camera's latest analysed frame for the web console (sent with `try_send`: a
    /// busy publish worker skips previews, never events).
    Preview {
        camera: String,
        ts: jiff::Timestamp,
        image: Mat,
        tracks: Vec<crate::types::Track>,
        zone_counts: Vec<crate::types::ZoneCount>,
    },
}

/// Where events and health lines are shown (stdout for the commands).
pub trait Console: Send {
    fn event(&mut self, ev: &Event);
    fn health(&mut self, doc: &HealthDoc);
}

/// Readable lines, or JSON documents with `json`.
pub struct Stdout {
    pub json: bool,
}

impl Console for Stdout {
    fn event(&mut self, ev: &Event) {
        if self.json {
            match serde_json::to_string(ev) {
                Ok(s) => println!("{s}"),
                Err(e) => tracing::error!(error = %e, "event not printable"),
            }
        } else {
            println!("{}", crate::publish::console::event_line(ev));
        }
    }
    fn health(&mut self, doc: &HealthDoc) {
        if self.json {
            match serde_json::to_string(doc) {
                Ok(s) => println!("{s}"),
                Err(e) => tracing::error!(error = %e, "health document not printable"),
            }
        } else {
            println!("{}", crate::publish::console::health_line(doc));
        }
    }
}

pub struct PublishWorker {
    pub site: String,
    pub tz: jiff::tz::TimeZone,
    /// The language of health titles for a camera without a dispatcher yet.
    pub language: Language,
    pub evidence: Option<EvidenceStore>,
    pub publisher: Option<Publisher>,
    pub console: Box<dyn Console>,
    pub clock: Arc<dyn Clock>,
    /// Events by rule and the frame-to-publish latency (`/metrics`).
    pub metrics: Option<Arc<Metrics>>,
    /// The web console's live view.
    pub hub: Option<Arc<Hub>>,
}

/// What the worker did, when its channel closed.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublishSummary {
    pub events: u64,
    pub health: u64,
}

impl PublishWorker {
    pub fn run(mut self, rx: Receiver<PublishMsg>) -> PublishSummary {
        let mut cams: HashMap<String, Box<Dispatcher>> = HashMap::new();
        let mut summary = PublishSummary::default();
        for msg in rx {
            match msg {
                PublishMsg::Camera(d) => {
                    cams.insert(d.camera().to_string(), d);
                }
                PublishMsg::Zones { camera, zones } => {
                    if let Some(d) = cams.get_mut(&camera) {
                        d.set_zones(zones);
                    }
                }
                PublishMsg::Builder(b) => {
                    if let Some(d) = cams.get_mut(&b.camera) {
                        d.set_builder(*b);
                    }
                }
                PublishMsg::Report { report, image } => {
                    let Some(d) = cams.get_mut(&report.meta.camera) else {
                        tracing::error!(camera = %report.meta.camera, "report for a camera without a dispatcher");
                        continue;
                    };
                    let now = self.clock.now();
                    let events = d.dispatch(
                        &report,
                        image.as_ref(),
                        self.evidence.as_mut(),
                        now.as_second(),
                    );
                    if let Some(m) = &self.metrics
                        && !events.is_empty()
                    {
                        // Frame time → queued: the grab is stamped with the same clock.
                        let age = now.duration_since(report.meta.ts).as_secs_f64().max(0.0);
                        for ev in &events {
                            m.event(&ev.rule, phase_name(ev.phase));
                            m.publish_latency
                                .observe(std::time::Duration::from_secs_f64(age));
                        }
                    }
                    for ev in events {
                        summary.events += 1;
                        self.console.event(&ev);
                        if let Some(h) = &self.hub {
                            h.event(&ev);
                        }
                    }
                }
                PublishMsg::Counts {
                    camera,
                    ts,
                    zone_counts,
                } => {
                    if let Some(d) = cams.get(&camera) {
                        d.publish_state(ts, &zone_counts);
                    }
                }
                PublishMsg::Preview {
                    camera,
                    ts,
                    image,
                    tracks,
                    zone_counts,
                } => {
                    if let Some(h) = &self.hub {
                        h.preview(&camera, ts, &image, &tracks, &zone_counts);
                    }
                }
                PublishMsg::Health { camera, change } => {
                    summary.health += 1;
                    let doc = match cams.get(&camera) {
                        Some(d) => d.builder().health(&change),
                        None => HealthDoc::new(
                            &self.site,
                            &camera,
                            &self.tz,
                            &Names {
                                language: self.language,
                                ..Names::default()
                            },
                            &change,
                        ),
                    };
                    match change.status {
                        CameraStatus::Online => {
                            tracing::info!(camera = %camera, reason = %change.reason, "camera online")
                        }
                        _ => {
                            tracing::warn!(camera = %camera, status = ?change.status, reason = %change.reason, "camera health")
                        }
                    }
                    self.console.health(&doc);
                    if let Some(h) = &self.hub {
                        h.health(&doc);
                    }
                    if let Some(m) = &self.metrics {
                        m.camera(&camera, |c| {
                            c.up = Some(change.status == CameraStatus::Online)
                        });
                    }
                    if let Some(p) = &self.publisher
                        && let Err(e) = p.health(&camera, &doc)
                    {
                        tracing::error!(error = %e, "camera health could not be queued for MQTT");
                    }
                }
            }
        }
        summary
    }
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Start => "start",
        Phase::Update => "update",
        Phase::End => "end",
    }
}
