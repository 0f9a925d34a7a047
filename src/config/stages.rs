//! Config builds each stage's settings: the stages never see the config types.

use std::path::PathBuf;

use super::{CameraConfig, Config};
use crate::analytics::AnalyticsSettings;
use crate::detect::Preprocessor;
use crate::media::capture::{CaptureSettings, Delivery};
use crate::media::motion::MotionGate;
use crate::publish::discovery::{DiscoveryCamera, DiscoverySite, DiscoveryZone};
use crate::publish::dispatch::ZoneOutline;
use crate::publish::document::EventBuilder;
use crate::publish::mqtt::MqttSettings;
use crate::publish::topics::Publisher;
use crate::runtime::DeliverySettings;
use crate::runtime::prepare::FramePrep;
use crate::types::RuleKind;

/// Who is publishing: the appliance, or a replay beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `wardwatch run`: the configured client id, the site status topic and last will,
    /// the configured outbox and topic prefix.
    Appliance,
    /// `wardwatch replay`: its own client id (`<client_id>-replay-<pid>`), never the site
    /// status, its own outbox (`<outbox>-replay`) and topics under `<prefix>/replay`, so
    /// that a tuning replay can neither knock the appliance off the broker nor pass for
    /// a real alert.
    Replay,
}

impl Config {
    pub fn analytics(&self, cam: &CameraConfig) -> AnalyticsSettings {
        AnalyticsSettings {
            camera_id: cam.id.clone(),
            calibration: cam.calibration,
            tracker: self.tracker.clone(),
            filter: cam.filter.clone(),
            zones: cam.zones.clone(),
        }
    }

    pub fn zone_outlines(&self, cam: &CameraConfig) -> Vec<ZoneOutline> {
        cam.zones
            .iter()
            .map(|z| ZoneOutline {
                id: z.id.clone(),
                points: z.polygon.points().to_vec(),
            })
            .collect()
    }

    /// The camera as the web console shows and edits it.
    pub fn camera_view(&self, cam: &CameraConfig) -> crate::web::CameraView {
        crate::web::CameraView {
            id: cam.id.clone(),
            name: cam.name.clone(),
            zones: cam
                .zones
                .iter()
                .map(|z| crate::web::ZoneView {
                    id: z.id.clone(),
                    name: zone_name(cam, &z.id),
                    points: z.polygon.points().to_vec(),
                    rules: zone_rules(z)
                        .iter()
                        .map(|r| r.as_str().to_string())
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn event_builder(&self, cam: &CameraConfig) -> EventBuilder {
        EventBuilder {
            site: self.site.id.clone(),
            camera: cam.id.clone(),
            tz: self.site.timezone.clone(),
            names: crate::publish::text::Names {
                language: self.site.language,
                site: self.site.name.clone(),
                camera: cam.name.clone(),
                zones: cam.zone_names.clone(),
            },
        }
    }

    /// The camera's motion gate for the detector worker; `None` when gating is off.
    pub fn motion_gate(&self, cam: &CameraConfig) -> Option<Box<MotionGate>> {
        cam.motion.enabled.then(|| {
            Box::new(MotionGate::new(
                cam.motion.clone(),
                cam.zones
                    .iter()
                    .map(|z| z.polygon.points().to_vec())
                    .collect(),
            ))
        })
    }

    /// What the camera's capture thread prepares for the detector: the model input,
    /// and the motion copy when gating is on.
    pub fn frame_prep(&self, cam: &CameraConfig, pre: &Preprocessor) -> FramePrep {
        FramePrep::new(
            Some(pre.clone()),
            cam.motion.enabled.then_some(cam.motion.width),
        )
    }

    /// Home Assistant discovery for the enabled cameras; `None` when `[homeassistant]` is
    /// off. Only the appliance announces entities (a replay never does).
    pub fn discovery(&self) -> Option<DiscoverySite> {
        if !self.homeassistant.enabled {
            return None;
        }
        let cameras = self
            .cameras
            .iter()
            .filter(|c| c.enabled)
            .map(|cam| DiscoveryCamera {
                id: cam.id.clone(),
                name: cam.name.clone(),
                zones: cam
                    .zones
                    .iter()
                    .map(|z| DiscoveryZone {
                        id: z.id.clone(),
                        name: zone_name(cam, &z.id),
                        rules: zone_rules(z),
                    })
                    .collect(),
            })
            .collect();
        Some(DiscoverySite {
            discovery_prefix: self.homeassistant.discovery_prefix.clone(),
            topic_prefix: self.mqtt.topic_prefix.clone(),
            site: self.site.id.clone(),
            site_name: self.site.name.clone(),
            language: self.site.language,
            console_url: self
                .console
                .enabled
                .then(|| self.console.public_url.clone()),
            cameras,
        })
    }

    pub fn capture(&self, cam: &CameraConfig, delivery: Delivery) -> CaptureSettings {
        CaptureSettings::new(&cam.id, cam.detect_fps, delivery)
    }

    pub fn topic_prefix(&self, role: Role) -> String {
        match role {
            Role::Appliance => self.mqtt.topic_prefix.clone(),
            Role::Replay => format!("{}/replay", self.mqtt.topic_prefix),
        }
    }

    pub fn outbox_dir(&self, role: Role) -> PathBuf {
        match role {
            Role::Appliance => self.mqtt.outbox_dir.clone(),
            Role::Replay => {
                let mut name = self
                    .mqtt
                    .outbox_dir
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_else(|| "outbox".into());
                name.push("-replay");
                self.mqtt.outbox_dir.with_file_name(name)
            }
        }
    }

    pub fn delivery(&self, role: Role) -> DeliverySettings {
        let m = &self.mqtt;
        let (client_id, status_topic) = match role {
            Role::Appliance => (
                m.client_id.clone(),
                Publisher::status_topic(&m.topic_prefix, &self.site.id),
            ),
            Role::Replay => (
                format!("{}-replay-{}", m.client_id, std::process::id()),
                String::new(),
            ),
        };
        DeliverySettings {
            mqtt: MqttSettings {
                url: m.url.clone(),
                client_id,
                username: m.username.clone(),
                password: m.password.clone(),
                keep_alive_s: m.keep_alive_s,
                ca_file: m.ca_file.clone(),
                status_topic,
            },
            outbox_dir: self.outbox_dir(role),
            outbox_max_bytes: m.outbox_max_bytes,
            topic_prefix: self.topic_prefix(role),
            site: self.site.id.clone(),
        }
    }
}

/// The zone's name as the officer reads it (its id where none is given).
fn zone_name(cam: &CameraConfig, id: &str) -> String {
    cam.zone_names
        .iter()
        .find(|(z, _)| z == id)
        .map_or_else(|| id.to_string(), |(_, n)| n.clone())
}

/// The rules a zone runs, in a fixed order.
fn zone_rules(z: &super::ZoneConfig) -> Vec<RuleKind> {
    [
        (z.gathering.is_some(), RuleKind::Gathering),
        (z.weaving.is_some(), RuleKind::Weaving),
        (z.loitering.is_some(), RuleKind::Loitering),
    ]
    .into_iter()
    .filter_map(|(on, r)| on.then_some(r))
    .collect()
}
