//! Topics and the typed documents queued on them, through the durable outbox.

use crate::publish::document::{Event, HealthDoc, StateDoc};
use crate::publish::outbox::{Outbox, OutboxError};

/// Topic layout (docs/events.md):
/// `<prefix>/<site>/<camera>/events`, `…/state`, `…/snapshot`, `<prefix>/<site>/status`.
#[derive(Clone)]
pub struct Publisher {
    outbox: Outbox,
    prefix: String,
    site: String,
}

impl Publisher {
    pub fn new(outbox: Outbox, prefix: &str, site: &str) -> Self {
        Self {
            outbox,
            prefix: prefix.to_string(),
            site: site.to_string(),
        }
    }

    pub fn events_topic(&self, camera: &str) -> String {
        format!("{}/{}/{}/events", self.prefix, self.site, camera)
    }
    pub fn state_topic(&self, camera: &str) -> String {
        format!("{}/{}/{}/state", self.prefix, self.site, camera)
    }
    pub fn snapshot_topic(&self, camera: &str) -> String {
        format!("{}/{}/{}/snapshot", self.prefix, self.site, camera)
    }
    pub fn status_topic(prefix: &str, site: &str) -> String {
        format!("{prefix}/{site}/status")
    }

    /// Queue an event (QoS 1, not retained, never dropped).
    pub fn event(&self, ev: &Event) -> Result<(), OutboxError> {
        let payload = serde_json::to_vec(ev).expect("events serialise");
        self.outbox
            .enqueue(&self.events_topic(&ev.camera), &payload, false, false)
            .map(|_| ())
    }

    /// Queue the camera's retained state document (droppable: a newer one supersedes it).
    pub fn state(&self, camera: &str, state: &StateDoc) -> Result<(), OutboxError> {
        let payload = serde_json::to_vec(state).expect("state serialises");
        self.outbox
            .enqueue(&self.state_topic(camera), &payload, true, true)
            .map(|_| ())
    }

    pub fn health_topic(&self, camera: &str) -> String {
        format!("{}/{}/{}/health", self.prefix, self.site, camera)
    }

    /// Queue a camera health change: on the events topic (never dropped) and retained on
    /// `…/health` (droppable: a newer one supersedes it).
    pub fn health(&self, camera: &str, doc: &HealthDoc) -> Result<(), OutboxError> {
        let payload = serde_json::to_vec(doc).expect("health serialises");
        self.outbox
            .enqueue(&self.events_topic(camera), &payload, false, false)?;
        self.outbox
            .enqueue(&self.health_topic(camera), &payload, true, true)
            .map(|_| ())
    }

    /// Queue the latest alert snapshot, retained (droppable).
    pub fn snapshot(&self, camera: &str, jpeg: &[u8]) -> Result<(), OutboxError> {
        self.outbox
            .enqueue(&self.snapshot_topic(camera), jpeg, true, true)
            .map(|_| ())
    }

    /// Queue a retained message that must not be dropped (Home Assistant discovery
    /// configs; an empty payload removes the entity).
    pub fn retained(&self, topic: &str, payload: &[u8]) -> Result<(), OutboxError> {
        self.outbox.enqueue(topic, payload, true, false).map(|_| ())
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}
