//! Scenario videos with ground truth (tests/support/scenegen.rs, test kit): real people and a real motorbike cut
//! from photos, composed on an empty frame of vtest.avi along scripted paths, by day and in a
//! dark, noisy, grey "night" variant. The whole pipeline, real detector included, must give
//! exactly the expected events.

mod support;

use std::path::Path;
use std::process::Command;

#[path = "support/scenegen.rs"]
#[allow(dead_code)]
mod scenegen;

use scenegen::{Lighting, Scene};

/// One full-frame zone with both rules; the gathering hold is 15 s (the scripted group
/// stands together for ~27 s), everything else is the production default. The camera is
/// analysed at 10 fps, as a camera watching for weaving should be (docs/config.md): at 5 fps
/// a motorbike zig-zagging at ~1 reversal/s moves too far between frames to keep its track.
fn config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("scenes.toml");
    std::fs::write(
        &p,
        format!(
            r#"[site]
name = "scenes"
[model]
path = "{repo}/models/nanodet-m-416.onnx"
[evidence]
dir = "snaps"
[[camera]]
id = "scene"
url = "unused.avi"
detect_fps = 10
  [[camera.zone]]
  id = "street"
  polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
  rules = ["gathering", "weaving"]
  schedule = "22:00-05:00"
  [camera.zone.gathering]
  min_duration = "15s"
  clear_after = "5s"
"#,
            repo = support::repo().display()
        ),
    )
    .unwrap();
    p
}

/// Render the scene, replay it "at 23:00", return the printed events.
fn events_of(scene: Scene, name: &str) -> Vec<serde_json::Value> {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join(format!("{name}.avi"));
    let gt = dir.path().join(format!("{name}.gt.txt"));
    let rows = scenegen::render(&scene, &video, &gt).expect("scene renders");
    assert!(!rows.is_empty(), "ground truth written");
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "replay",
            "--no-mqtt",
            "--json",
            "--start",
            "2026-11-26T23:00:00+07:00",
            "--config",
        ])
        .arg(config(dir.path()))
        .arg(&video)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for e in &events {
        support::validate_against_schema(e);
    }
    events
}

fn phases(events: &[serde_json::Value], rule: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["rule"] == rule)
        .map(|e| e["phase"].as_str().unwrap().to_string())
        .collect()
}

fn four_people(lighting: Lighting, name: &str) {
    let events = events_of(scenegen::four_people_standing(lighting), name);
    let starts: Vec<&serde_json::Value> = events.iter().filter(|e| e["phase"] == "start").collect();
    assert_eq!(starts.len(), 1, "exactly one gathering: {events:#?}");
    assert_eq!(starts[0]["rule"], "gathering");
    assert_eq!(
        starts[0]["people"], 4,
        "the right head-count: {:#}",
        starts[0]
    );
    assert!(
        phases(&events, "weaving").is_empty(),
        "no weaving from people: {events:#?}"
    );
    assert_eq!(
        events.last().unwrap()["phase"],
        "end",
        "the gathering ends when the group leaves"
    );
    assert_eq!(events.last().unwrap()["reason"], "cleared");
}

#[test]
fn four_people_standing_together_by_day_fire_one_gathering_of_four() {
    four_people(Lighting::Day, "four_day");
}

#[test]
fn four_people_standing_together_by_night_fire_one_gathering_of_four() {
    four_people(Lighting::Night, "four_night");
}

#[test]
fn a_group_walking_past_fires_nothing_by_day_or_night() {
    for (lighting, name) in [(Lighting::Day, "walk_day"), (Lighting::Night, "walk_night")] {
        let events = events_of(scenegen::walk_past_group(lighting), name);
        assert!(events.is_empty(), "{name}: {events:#?}");
    }
}

#[test]
fn a_weaving_motorbike_by_day_fires_exactly_one_weaving_event() {
    let events = events_of(scenegen::weaving_motorbike(Lighting::Day), "weave_day");
    let w: Vec<&serde_json::Value> = events.iter().filter(|e| e["rule"] == "weaving").collect();
    assert_eq!(
        w.iter().filter(|e| e["phase"] == "start").count(),
        1,
        "{events:#?}"
    );
    assert_eq!(w.last().unwrap()["phase"], "end");
    let ids: std::collections::BTreeSet<&str> =
        w.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "one incident");
    let start = w[0];
    assert!(
        start["measures"]["reversals"].as_f64().unwrap() >= 3.0,
        "{start:#}"
    );
    assert_eq!(start["measures"]["racing"], false);
    assert!(phases(&events, "gathering").is_empty());
}

#[test]
fn a_straight_rider_fires_nothing_by_day_or_night() {
    for (lighting, name) in [
        (Lighting::Day, "straight_day"),
        (Lighting::Night, "straight_night"),
    ] {
        let events = events_of(scenegen::straight_rider(lighting), name);
        assert!(events.is_empty(), "{name}: {events:#?}");
    }
}

#[test]
#[ignore = "known limitation: at night the shipped NanoDet finds the composed motorbike in about 2% of frames at score 0.35 (docs/scenarios.md), so night weaving is not detected"]
fn a_weaving_motorbike_by_night_fires_one_weaving_event() {
    let events = events_of(scenegen::weaving_motorbike(Lighting::Night), "weave_night");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["rule"] == "weaving" && e["phase"] == "start")
            .count(),
        1,
        "{events:#?}"
    );
}
