//! Home Assistant MQTT discovery (docs/homeassistant.md): retained config messages under
//! `<discovery_prefix>/<component>/<node_id>/<object_id>/config` that make every camera a
//! Home Assistant device with, per zone, a people-count `sensor` and one `binary_sensor`
//! per rule the zone runs (gathering, weaving, loitering), and per camera an `image` of the
//! latest alert snapshot, a connectivity `binary_sensor` and a status `sensor`.
//!
//! The entities read the topics wardwatch already publishes (the retained `…/state`,
//! `…/health` and `…/snapshot`) through value templates, so discovery adds no traffic
//! per frame. Availability follows the site status topic, whose last will is `offline`.
//!
//! Plain data in, (topic, payload) out: the runtime decides when to queue them.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::publish::text::Language;
use crate::types::RuleKind;

/// What discovery needs to know about the site, built by config.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoverySite {
    /// Home Assistant's discovery prefix (`homeassistant` by default).
    pub discovery_prefix: String,
    /// wardwatch's own topic prefix (`[mqtt] topic_prefix`).
    pub topic_prefix: String,
    pub site: String,
    pub site_name: String,
    pub language: Language,
    /// The web console's address, linked from each device page (`None`: console off).
    pub console_url: Option<String>,
    pub cameras: Vec<DiscoveryCamera>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryCamera {
    pub id: String,
    pub name: String,
    pub zones: Vec<DiscoveryZone>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryZone {
    pub id: String,
    pub name: String,
    /// The rules this zone runs.
    pub rules: Vec<RuleKind>,
}

/// One retained discovery message. An empty payload removes the entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// One entity's discovery config (the keys of Home Assistant's MQTT platform schemas;
/// unset ones are left out).
#[derive(Debug, Serialize)]
struct EntityConfig {
    name: String,
    unique_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    json_attributes_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    json_attributes_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_of_measurement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_category: Option<&'static str>,
    icon: &'static str,
    availability_topic: String,
    payload_available: &'static str,
    payload_not_available: &'static str,
    qos: u8,
    device: Device,
    origin: Origin,
}

#[derive(Debug, Clone, Serialize)]
struct Device {
    identifiers: Vec<String>,
    name: String,
    manufacturer: &'static str,
    model: &'static str,
    sw_version: &'static str,
    suggested_area: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Origin {
    name: &'static str,
    sw_version: &'static str,
}

/// The human names of the entities, in the site's language.
struct Words {
    people: &'static str,
    people_unit: &'static str,
    gathering: &'static str,
    weaving: &'static str,
    loitering: &'static str,
    snapshot: &'static str,
    connectivity: &'static str,
    status: &'static str,
}

fn words(lang: Language) -> Words {
    match lang {
        Language::Vi => Words {
            people: "Số người",
            people_unit: "người",
            gathering: "Tụ tập",
            weaving: "Lạng lách",
            loitering: "Lảng vảng",
            snapshot: "Ảnh cảnh báo",
            connectivity: "Kết nối",
            status: "Tình trạng",
        },
        Language::En => Words {
            people: "People",
            people_unit: "people",
            gathering: "Gathering",
            weaving: "Weaving",
            loitering: "Loitering",
            snapshot: "Alert snapshot",
            connectivity: "Connectivity",
            status: "Camera status",
        },
    }
}

/// A topic level for discovery: Home Assistant allows `[A-Za-z0-9_-]` in node and object
/// ids; wardwatch ids may also hold `.`.
fn level(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The active alerts of one rule in one zone, as a Jinja expression over the state document.
fn active(zone: &str, rule: RuleKind) -> String {
    format!(
        "value_json.active | selectattr('zone', 'equalto', '{zone}') | selectattr('rule', 'equalto', '{}') | list",
        rule.as_str()
    )
}

/// Every discovery message of the site, in a stable order. Two entities that would share
/// a topic (ids that differ only in `.` against `_`) are reported in the error list and
/// the later one is left out.
pub fn messages(site: &DiscoverySite) -> (Vec<Message>, Vec<String>) {
    let w = words(site.language);
    let node = level(&format!("wardwatch_{}", site.site));
    let base = format!("{}/{}", site.topic_prefix, site.site);
    let availability_topic = format!("{base}/status");
    let origin = Origin {
        name: "wardwatch",
        sw_version: env!("CARGO_PKG_VERSION"),
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |component: &str, object: String, cfg: EntityConfig| {
        let topic = format!(
            "{}/{component}/{node}/{}/config",
            site.discovery_prefix,
            level(&object)
        );
        if !seen.insert(topic.clone()) {
            errors.push(format!(
                "Home Assistant discovery: {} maps to the same topic {topic} as another entity; rename one of the ids",
                cfg.unique_id
            ));
            return;
        }
        let payload = serde_json::to_vec(&cfg).expect("discovery config serialises");
        out.push(Message { topic, payload });
    };
    for cam in &site.cameras {
        let device = Device {
            identifiers: vec![format!("wardwatch_{}_{}", site.site, cam.id)],
            name: cam.name.clone(),
            manufacturer: "wardwatch",
            model: "wardwatch camera analytics",
            sw_version: env!("CARGO_PKG_VERSION"),
            suggested_area: site.site_name.clone(),
            configuration_url: site.console_url.clone(),
        };
        let cam_base = format!("{base}/{}", cam.id);
        let uid = |what: &str| format!("wardwatch_{}_{}_{what}", site.site, cam.id);
        let entity = |name: String, unique_id: String| EntityConfig {
            name,
            unique_id,
            state_topic: None,
            value_template: None,
            json_attributes_topic: None,
            json_attributes_template: None,
            image_topic: None,
            content_type: None,
            device_class: None,
            state_class: None,
            unit_of_measurement: None,
            options: None,
            entity_category: None,
            icon: "mdi:cctv",
            availability_topic: availability_topic.clone(),
            payload_available: crate::publish::mqtt::STATUS_ONLINE,
            payload_not_available: crate::publish::mqtt::STATUS_OFFLINE,
            qos: 1,
            device: device.clone(),
            origin: origin.clone(),
        };
        for z in &cam.zones {
            let state_topic = format!("{cam_base}/state");
            let zid = &z.id;
            push(
                "sensor",
                format!("{}_{zid}_people", cam.id),
                EntityConfig {
                    state_topic: Some(state_topic.clone()),
                    value_template: Some(format!(
                        "{{{{ value_json.zones['{zid}'].people if '{zid}' in value_json.zones else 0 }}}}"
                    )),
                    state_class: Some("measurement"),
                    unit_of_measurement: Some(w.people_unit.to_string()),
                    icon: "mdi:account-multiple",
                    ..entity(
                        format!("{} – {}", w.people, z.name),
                        uid(&format!("{zid}_people")),
                    )
                },
            );
            for &rule in &z.rules {
                let (label, icon) = match rule {
                    RuleKind::Gathering => (w.gathering, "mdi:account-group"),
                    RuleKind::Weaving => (w.weaving, "mdi:motorbike"),
                    RuleKind::Loitering => (w.loitering, "mdi:account-clock"),
                };
                let what = format!("{zid}_{}", rule.as_str());
                push(
                    "binary_sensor",
                    format!("{}_{what}", cam.id),
                    EntityConfig {
                        state_topic: Some(state_topic.clone()),
                        value_template: Some(format!(
                            "{{{{ 'ON' if ({}) | length > 0 else 'OFF' }}}}",
                            active(zid, rule)
                        )),
                        json_attributes_topic: Some(state_topic.clone()),
                        json_attributes_template: Some(format!(
                            "{{{{ (({}) | first | default({{}}, true)) | tojson }}}}",
                            active(zid, rule)
                        )),
                        device_class: Some("problem"),
                        icon,
                        ..entity(format!("{label} – {}", z.name), uid(&what))
                    },
                );
            }
        }
        push(
            "image",
            format!("{}_snapshot", cam.id),
            EntityConfig {
                image_topic: Some(format!("{cam_base}/snapshot")),
                content_type: Some("image/jpeg"),
                icon: "mdi:cctv",
                ..entity(w.snapshot.to_string(), uid("snapshot"))
            },
        );
        let health_topic = format!("{cam_base}/health");
        push(
            "binary_sensor",
            format!("{}_connectivity", cam.id),
            EntityConfig {
                state_topic: Some(health_topic.clone()),
                value_template: Some(
                    "{{ 'OFF' if value_json.status == 'offline' else 'ON' }}".into(),
                ),
                json_attributes_topic: Some(health_topic.clone()),
                json_attributes_template: Some(
                    "{{ {'reason': value_json.reason, 'title': value_json.title, 'since': value_json.time_local} | tojson }}"
                        .into(),
                ),
                device_class: Some("connectivity"),
                entity_category: Some("diagnostic"),
                icon: "mdi:lan-connect",
                ..entity(w.connectivity.to_string(), uid("connectivity"))
            },
        );
        push(
            "sensor",
            format!("{}_status", cam.id),
            EntityConfig {
                state_topic: Some(health_topic),
                value_template: Some("{{ value_json.status }}".into()),
                device_class: Some("enum"),
                options: Some(vec!["online", "degraded", "offline"]),
                entity_category: Some("diagnostic"),
                icon: "mdi:cctv",
                ..entity(w.status.to_string(), uid("status"))
            },
        );
    }
    (out, errors)
}

/// The topics of `old` that `new` no longer has: publishing an empty retained payload
/// there removes those entities from Home Assistant.
pub fn removed(old: &[String], new: &[Message]) -> Vec<String> {
    let keep: BTreeSet<&str> = new.iter().map(|m| m.topic.as_str()).collect();
    old.iter()
        .filter(|t| !keep.contains(t.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> DiscoverySite {
        DiscoverySite {
            discovery_prefix: "homeassistant".into(),
            topic_prefix: "wardwatch".into(),
            site: "p7".into(),
            site_name: "Phường 7".into(),
            language: Language::Vi,
            console_url: None,
            cameras: vec![DiscoveryCamera {
                id: "gate.1".into(),
                name: "Cổng chợ".into(),
                zones: vec![DiscoveryZone {
                    id: "road".into(),
                    name: "Đường Lê Lợi".into(),
                    rules: vec![RuleKind::Gathering, RuleKind::Weaving],
                }],
            }],
        }
    }

    #[test]
    fn one_camera_one_zone() {
        let (msgs, errors) = messages(&site());
        assert!(errors.is_empty(), "{errors:?}");
        let topics: Vec<&str> = msgs.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/sensor/wardwatch_p7/gate_1_road_people/config",
                "homeassistant/binary_sensor/wardwatch_p7/gate_1_road_gathering/config",
                "homeassistant/binary_sensor/wardwatch_p7/gate_1_road_weaving/config",
                "homeassistant/image/wardwatch_p7/gate_1_snapshot/config",
                "homeassistant/binary_sensor/wardwatch_p7/gate_1_connectivity/config",
                "homeassistant/sensor/wardwatch_p7/gate_1_status/config",
            ]
        );
        let v: serde_json::Value = serde_json::from_slice(&msgs[1].payload).unwrap();
        assert_eq!(v["name"], "Tụ tập – Đường Lê Lợi");
        assert_eq!(v["unique_id"], "wardwatch_p7_gate.1_road_gathering");
        assert_eq!(v["state_topic"], "wardwatch/p7/gate.1/state");
        assert_eq!(v["availability_topic"], "wardwatch/p7/status");
        assert_eq!(v["device"]["identifiers"][0], "wardwatch_p7_gate.1");
        assert_eq!(v["device"]["name"], "Cổng chợ");
        assert!(v.get("image_topic").is_none());
        let img: serde_json::Value = serde_json::from_slice(&msgs[3].payload).unwrap();
        assert_eq!(img["image_topic"], "wardwatch/p7/gate.1/snapshot");
    }

    #[test]
    fn colliding_ids_are_reported_not_published_twice() {
        let mut s = site();
        let mut twin = s.cameras[0].clone();
        twin.id = "gate_1".into();
        s.cameras.push(twin);
        let (msgs, errors) = messages(&s);
        assert_eq!(msgs.len(), 6);
        assert_eq!(errors.len(), 6, "{errors:?}");
        assert!(errors[0].contains("wardwatch_p7_gate_1_road_people"));
    }

    #[test]
    fn removed_topics() {
        let (msgs, _) = messages(&site());
        let old: Vec<String> = msgs.iter().map(|m| m.topic.clone()).collect();
        let mut s = site();
        s.cameras[0].zones[0].rules = vec![RuleKind::Gathering];
        let (new, _) = messages(&s);
        assert_eq!(
            removed(&old, &new),
            ["homeassistant/binary_sensor/wardwatch_p7/gate_1_road_weaving/config"]
        );
    }
}
