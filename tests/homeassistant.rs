//! Home Assistant MQTT discovery, for real: `wardwatch run` against a real mosquitto with
//! one camera playing vtest.avi (a gathering fires) and one that cannot be reached.
//!
//! - every retained discovery config matches Home Assistant's documented schema for its
//!   platform (tests/fixtures/ha-discovery.schema.json, written from HA's MQTT platform
//!   schemas; unknown keys refused, since HA would drop them silently);
//! - the value and attribute templates, rendered as HA renders them (Jinja2 sandbox,
//!   tests/support/ha_render.py) on the documents wardwatch really published, give the
//!   right states: gathering ON during the incident and OFF before it, people = the
//!   state's count, weaving OFF, the unreachable camera's connectivity OFF, the other ON;
//! - people counts reach the state topic without events (the count sensor is current);
//! - availability follows the site status (`online`, then `offline` after SIGTERM);
//! - a reload that drops a rule removes that entity (empty retained config); a restart
//!   with `[homeassistant]` off removes every entity the earlier run announced.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::app::App;
use support::broker::{Broker, Subscriber, retained_within};
use support::ha::config;

const PREFIX: &str = "homeassistant";

fn topic(component: &str, object: &str) -> String {
    format!("{PREFIX}/{component}/wardwatch_p7/{object}/config")
}

/// Every config topic the first run must announce: (component, object id).
fn expected() -> Vec<(&'static str, &'static str)> {
    vec![
        ("sensor", "gate_door_people"),
        ("binary_sensor", "gate_door_loitering"),
        ("image", "gate_snapshot"),
        ("binary_sensor", "gate_connectivity"),
        ("sensor", "gate_status"),
        ("sensor", "road_road_people"),
        ("binary_sensor", "road_road_gathering"),
        ("binary_sensor", "road_road_weaving"),
        ("image", "road_snapshot"),
        ("binary_sensor", "road_connectivity"),
        ("sensor", "road_status"),
    ]
}

/// Render templates as Home Assistant does; one result per (template, payload).
fn render(reqs: &[(&str, &str)]) -> Vec<Result<String, String>> {
    let body: Vec<serde_json::Value> = reqs
        .iter()
        .map(|(t, p)| serde_json::json!({"template": t, "payload": p}))
        .collect();
    let py = support::repo().join(".venv/bin/python");
    assert!(
        py.is_file(),
        "{} is missing: run `make setup` (it installs jinja2 into .venv)",
        py.display()
    );
    let mut child = Command::new(&py)
        .arg(support::repo().join("tests/support/ha_render.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ha_render.py failed (jinja2 missing? run `make setup`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter()
        .map(|r| match r.get("ok") {
            Some(s) => Ok(s.as_str().unwrap().to_string()),
            None => Err(r["error"].to_string()),
        })
        .collect()
}

fn one(template: &str, payload: &str) -> String {
    render(&[(template, payload)])
        .remove(0)
        .unwrap_or_else(|e| panic!("template {template:?} on {payload}: {e}"))
}

/// The latest config payload per topic seen by the discovery subscriber.
fn configs(sub: &Subscriber) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for l in sub.lines() {
        let (t, p) = l.split_once(' ').unwrap_or((l.as_str(), ""));
        if t.ends_with("/config") {
            m.insert(t.to_string(), p.to_string());
        }
    }
    m
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn check_platform_schema(v: &jsonschema::Validator, topic: &str, payload: &str) {
    let doc: serde_json::Value = serde_json::from_str(payload)
        .unwrap_or_else(|e| panic!("{topic}: payload is not JSON ({e}): {payload}"));
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{topic}:\n{}\n{doc}", errors.join("\n"));
}

#[test]
fn discovery_configs_match_home_assistants_schema_and_drive_entities() {
    support::require_runtime();
    support::vtest();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let dead_port = support::broker::free_port();
    let cfg = dir.path().join("ward.toml");
    std::fs::write(
        &cfg,
        config(broker.port, dead_port, true, r#"["gathering", "weaving"]"#),
    )
    .unwrap();
    let disc = Subscriber::persistent(
        broker.port,
        "t-ha-disc",
        &format!("{PREFIX}/#"),
        &format!("{PREFIX}/probe"),
    );
    let states = Subscriber::persistent(
        broker.port,
        "t-ha-state",
        "wardwatch/p7/+/state",
        "wardwatch/p7/probe/state",
    );

    let mut app = App::spawn(&cfg, &[]);
    let start = app
        .wait_out(
            &["START", "gathering", "road/road"],
            Duration::from_secs(90),
        )
        .expect("the gathering on vtest starts");
    eprintln!("{start}");

    // 1. Every expected config, retained, valid for its platform.
    let want: Vec<String> = expected().iter().map(|(c, o)| topic(c, o)).collect();
    wait_for("every discovery config", Duration::from_secs(20), || {
        let got = configs(&disc);
        want.iter().all(|t| got.contains_key(t))
    });
    let got = configs(&disc);
    let extra: Vec<&String> = got.keys().filter(|t| !want.contains(t)).collect();
    assert!(extra.is_empty(), "unexpected discovery topics: {extra:?}");
    let schema_path = support::repo().join("tests/fixtures/ha-discovery.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    for (t, payload) in &got {
        let component = t.split('/').nth(1).unwrap();
        let mut one_schema = schema.clone();
        one_schema["$ref"] = serde_json::json!(format!("#/$defs/{component}"));
        let v = jsonschema::validator_for(&one_schema).expect("schema compiles");
        check_platform_schema(&v, t, payload);
        let retained = retained_within(broker.port, t, 5);
        assert_eq!(
            String::from_utf8_lossy(&retained).trim_end(),
            payload.as_str(),
            "{t} is retained"
        );
    }
    // The schema bites: a misspelt key, a made-up device class, an image with two sources.
    let platform = |component: &str| {
        let mut one_schema = schema.clone();
        one_schema["$ref"] = serde_json::json!(format!("#/$defs/{component}"));
        jsonschema::validator_for(&one_schema).unwrap()
    };
    let mut bad: serde_json::Value =
        serde_json::from_str(&got[&topic("binary_sensor", "road_road_gathering")]).unwrap();
    bad["stat_topic"] = bad["state_topic"].clone();
    bad["device_class"] = "gathering".into();
    assert_eq!(platform("binary_sensor").iter_errors(&bad).count(), 2);
    let mut bad: serde_json::Value =
        serde_json::from_str(&got[&topic("image", "road_snapshot")]).unwrap();
    bad["url_topic"] = "x/y".into();
    assert!(!platform("image").is_valid(&bad));
    let cfg_of = |object: &str, component: &str| -> serde_json::Value {
        serde_json::from_str(&got[&topic(component, object)]).unwrap()
    };
    let gathering = cfg_of("road_road_gathering", "binary_sensor");
    assert_eq!(gathering["name"], "Tụ tập – Đường trước nhà A");
    assert_eq!(gathering["device"]["name"], "Camera đường nội bộ");
    assert_eq!(gathering["device"]["suggested_area"], "Phường 7");
    assert_eq!(gathering["availability_topic"], "wardwatch/p7/status");
    let uids: std::collections::BTreeSet<String> = got
        .values()
        .map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap()["unique_id"].to_string())
        .collect();
    assert_eq!(uids.len(), got.len(), "unique_ids are unique");

    // 2. The state topic carried people counts before the first alert, without events.
    let state_docs: Vec<serde_json::Value> = states
        .payloads("wardwatch/p7/probe/state")
        .iter()
        .filter_map(|p| serde_json::from_str(p).ok())
        .collect();
    let first_active = state_docs
        .iter()
        .position(|d| !d["active"].as_array().unwrap().is_empty())
        .expect("a state document with the active gathering");
    let before = &state_docs[..first_active];
    assert!(
        before
            .iter()
            .any(|d| d["zones"]["road"]["people"].as_u64().unwrap_or(0) >= 1),
        "people counts are published before any event: {before:?}"
    );
    let quiet = serde_json::to_string(&state_docs[0]).unwrap();
    let active = serde_json::to_string(&state_docs[first_active]).unwrap();

    // 3. The templates, rendered as Home Assistant renders them, on those documents.
    let t = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap().to_string();
    assert_eq!(one(&t(&gathering, "value_template"), &quiet), "OFF");
    assert_eq!(one(&t(&gathering, "value_template"), &active), "ON");
    let attrs: serde_json::Value =
        serde_json::from_str(&one(&t(&gathering, "json_attributes_template"), &active))
            .expect("json_attributes_template renders a JSON object");
    assert!(
        attrs["title"].as_str().unwrap().starts_with("Tụ tập"),
        "{attrs}"
    );
    assert_eq!(attrs["rule"], "gathering");
    assert_eq!(
        one(&t(&gathering, "json_attributes_template"), &quiet),
        "{}"
    );
    let weaving = cfg_of("road_road_weaving", "binary_sensor");
    assert_eq!(one(&t(&weaving, "value_template"), &active), "OFF");
    let people = cfg_of("road_road_people", "sensor");
    for doc in [&state_docs[0], &state_docs[first_active]] {
        let raw = serde_json::to_string(doc).unwrap();
        assert_eq!(
            one(&t(&people, "value_template"), &raw),
            doc["zones"]["road"]["people"]
                .as_u64()
                .unwrap_or(0)
                .to_string(),
            "{raw}"
        );
    }
    // A zone nobody stands in is absent from `zones`: the sensor reads 0, not an error.
    let door_people = cfg_of("gate_door_people", "sensor");
    assert_eq!(one(&t(&door_people, "value_template"), &quiet), "0");

    // 4. Health: the unreachable camera is OFF / offline, the playing one ON / online.
    let health = |cam: &str| {
        String::from_utf8(retained_within(
            broker.port,
            &format!("wardwatch/p7/{cam}/health"),
            10,
        ))
        .unwrap()
    };
    let (gate_h, road_h) = (health("gate"), health("road"));
    let conn = |cam: &str| cfg_of(&format!("{cam}_connectivity"), "binary_sensor");
    let status = |cam: &str| cfg_of(&format!("{cam}_status"), "sensor");
    assert_eq!(one(&t(&conn("gate"), "value_template"), &gate_h), "OFF");
    assert_eq!(one(&t(&conn("road"), "value_template"), &road_h), "ON");
    assert_eq!(
        one(&t(&status("gate"), "value_template"), &gate_h),
        "offline"
    );
    assert_eq!(
        one(&t(&status("road"), "value_template"), &road_h),
        "online"
    );
    let gate_attrs: serde_json::Value =
        serde_json::from_str(&one(&t(&conn("gate"), "json_attributes_template"), &gate_h)).unwrap();
    assert!(gate_attrs["title"].as_str().unwrap().contains("Cổng chợ"));

    // 5. The image entity's topic holds the alert's JPEG; availability is online.
    let img = cfg_of("road_snapshot", "image");
    let jpeg = retained_within(broker.port, img["image_topic"].as_str().unwrap(), 5);
    assert!(
        jpeg.starts_with(&[0xFF, 0xD8]),
        "the snapshot topic holds a JPEG"
    );
    assert_eq!(
        retained_within(broker.port, "wardwatch/p7/status", 5),
        b"online\n"
    );

    // 6. A reload without the weaving rule removes that entity, keeps the others.
    std::fs::write(
        &cfg,
        config(broker.port, dead_port, true, r#"["gathering"]"#),
    )
    .unwrap();
    app.wait_err(&["config reloaded"], Duration::from_secs(20))
        .expect("the reload is applied");
    let weaving_topic = topic("binary_sensor", "road_road_weaving");
    wait_for(
        "the weaving entity's removal",
        Duration::from_secs(10),
        || retained_within(broker.port, &weaving_topic, 1).is_empty(),
    );
    assert!(
        !retained_within(
            broker.port,
            &topic("binary_sensor", "road_road_gathering"),
            5
        )
        .is_empty(),
        "the gathering entity stays"
    );
    assert!(
        Path::new(&dir.path().join("outbox/ha-discovery.json")).is_file(),
        "the announced topics are recorded"
    );

    // 7. SIGTERM: the site goes offline, so every entity becomes unavailable.
    app.stop();
    assert_eq!(
        retained_within(broker.port, "wardwatch/p7/status", 5),
        b"offline\n"
    );

    // 8. Restart with discovery off: every entity the earlier run announced is removed.
    std::fs::write(
        &cfg,
        config(broker.port, dead_port, false, r#"["gathering"]"#),
    )
    .unwrap();
    let mut app = App::spawn(&cfg, &[]);
    let remaining: Vec<String> = want
        .iter()
        .filter(|t| **t != weaving_topic)
        .cloned()
        .collect();
    wait_for("every entity's removal", Duration::from_secs(30), || {
        remaining
            .iter()
            .all(|t| retained_within(broker.port, t, 1).is_empty())
    });
    app.stop();
}

#[test]
fn a_bad_discovery_prefix_is_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ward.toml");
    std::fs::write(
        &cfg,
        config(1883, 1, true, r#"["gathering"]"#).replace(
            "enabled = true",
            "enabled = true\ndiscovery_prefix = \"home/#\"",
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["check-config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("homeassistant.discovery_prefix") && err.contains("home/#"),
        "{err}"
    );
}
