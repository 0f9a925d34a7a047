//! Home Assistant discovery for `wardwatch run`: when to queue the configs that
//! [`crate::publish::discovery`] builds.
//!
//! - On every connect to the broker (the first one included) every config is queued
//!   again, so a broker that lost its retained messages (restarted without persistence)
//!   gets them back. Home Assistant ignores a config equal to the one it has.
//! - On a reload, only new or changed configs are queued, and entities whose camera,
//!   zone or rule is gone get an empty retained payload, which removes them.
//! - The topics announced are recorded in `<outbox_dir>/ha-discovery.json`, so entities
//!   removed from the config while wardwatch was stopped (or `[homeassistant]` turned
//!   off) are removed at the next start.

use std::path::PathBuf;

use crate::publish::Publisher;
use crate::publish::discovery::{self, DiscoverySite, Message};

/// The record of announced topics, in the outbox directory.
pub const RECORD_FILE: &str = "ha-discovery.json";

pub struct Announcer {
    publisher: Publisher,
    record: PathBuf,
    current: Vec<Message>,
    was_connected: bool,
}

impl Announcer {
    /// Start with the config's discovery (`None`: off). Entities announced by an earlier
    /// run that this config no longer has are queued for removal at once.
    pub fn new(publisher: Publisher, outbox_dir: PathBuf, site: Option<&DiscoverySite>) -> Self {
        let record = outbox_dir.join(RECORD_FILE);
        let old: Vec<String> = match std::fs::read(&record) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %record.display(), error = %e, "Home Assistant discovery record unreadable; entities removed while stopped stay in Home Assistant");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        let mut a = Announcer {
            publisher,
            record,
            current: Vec::new(),
            was_connected: false,
        };
        a.current = a.build(site);
        a.remove(&discovery::removed(&old, &a.current));
        a.save();
        if let Some(s) = site {
            tracing::info!(
                entities = a.current.len(),
                prefix = %s.discovery_prefix,
                "Home Assistant discovery on"
            );
        }
        a
    }

    fn build(&self, site: Option<&DiscoverySite>) -> Vec<Message> {
        let Some(site) = site else {
            return Vec::new();
        };
        let (msgs, errors) = discovery::messages(site);
        for e in errors {
            tracing::warn!("{e}");
        }
        msgs
    }

    /// Called by the control loop with the broker connection's state: on every connect,
    /// queue every config again.
    pub fn tick(&mut self, connected: bool) {
        if connected && !self.was_connected {
            for m in &self.current {
                self.queue(&m.topic, &m.payload);
            }
            if !self.current.is_empty() {
                tracing::debug!(
                    entities = self.current.len(),
                    "Home Assistant discovery queued"
                );
            }
        }
        self.was_connected = connected;
    }

    /// A reload: queue what is new or changed, remove what is gone.
    pub fn reload(&mut self, site: Option<&DiscoverySite>) {
        let new = self.build(site);
        let old_topics: Vec<String> = self.current.iter().map(|m| m.topic.clone()).collect();
        self.remove(&discovery::removed(&old_topics, &new));
        let (mut added, mut changed) = (0, 0);
        for m in &new {
            match self.current.iter().find(|o| o.topic == m.topic) {
                Some(o) if o.payload == m.payload => {}
                Some(_) => {
                    changed += 1;
                    self.queue(&m.topic, &m.payload);
                }
                None => {
                    added += 1;
                    self.queue(&m.topic, &m.payload);
                }
            }
        }
        if added + changed > 0 {
            tracing::info!(added, changed, "Home Assistant discovery updated");
        }
        self.current = new;
        self.save();
    }

    fn remove(&self, topics: &[String]) {
        for t in topics {
            self.queue(t, b"");
        }
        if !topics.is_empty() {
            tracing::info!(
                removed = topics.len(),
                "Home Assistant entities removed (their camera, zone or rule is gone)"
            );
        }
    }

    fn queue(&self, topic: &str, payload: &[u8]) {
        if let Err(e) = self.publisher.retained(topic, payload) {
            tracing::error!(error = %e, topic, "Home Assistant discovery could not be queued");
        }
    }

    /// Record the announced topics (atomically: a temp file renamed into place).
    fn save(&self) {
        let topics: Vec<&str> = self.current.iter().map(|m| m.topic.as_str()).collect();
        let tmp = self.record.with_extension("json.tmp");
        let res = serde_json::to_vec(&topics)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &self.record));
        if let Err(e) = res {
            tracing::warn!(path = %self.record.display(), error = %e, "Home Assistant discovery record not written");
        }
    }
}
