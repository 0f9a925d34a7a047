//! Config reload camera by camera, with a real `wardwatch run` on two looped file cameras
//! raising real gathering incidents. Three reloads by a change of the file, each checked on the events
//! and health documents the appliance prints (`--json`, exactly as published):
//!
//! 1. one zone's polygon changes: only that zone's incident ends (`config_reload`); the
//!    other zone of the same camera and the other camera carry on, and no stream
//!    reconnects;
//! 2. one camera's `detect_fps` changes: it reconnects, and its incident carries on;
//! 3. one camera is removed: its incident ends (`config_reload`), the other camera's
//!    incidents carry on.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use support::app::App;

const FULL: &str = "[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]";
const FULL_BUT_A_CORNER: &str = "[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.98]]";

/// Incidents stay open (clear_after 10 min) once two people stood together for 2 s.
fn zone(id: &str, polygon: &str) -> String {
    format!(
        r#"  [[camera.zone]]
  id = "{id}"
  polygon = {polygon}
  rules = ["gathering"]
  schedule = "always"
  [camera.zone.gathering]
  min_people = 2
  min_duration = "2s"
  clear_after = "10m"
  update_every = "1h"
"#
    )
}

fn write_config(path: &Path, a_fps: u32, z2: &str, with_b: bool, b_fps: u32) {
    let vtest = support::vtest();
    let mut text = format!(
        r#"[site]
name = "reload"
[mqtt]
url = "mqtt://127.0.0.1:1"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps"
[[camera]]
id = "a"
url = "{vtest}"
detect_fps = {a_fps}
{z1}{z2}"#,
        repo = support::repo().display(),
        vtest = vtest.display(),
        z1 = zone("z1", FULL),
        z2 = zone("z2", z2),
    );
    if with_b {
        text.push_str(&format!(
            "[[camera]]\nid = \"b\"\nurl = \"{}\"\ndetect_fps = {b_fps}\n{}",
            vtest.display(),
            zone("z", FULL)
        ));
    }
    // Atomically, as a careful integrator (or config management) would: the appliance
    // watches the file and must never see half of it.
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Parsed JSON documents printed on stdout within `d`.
fn docs_for(app: &App, d: Duration) -> Vec<serde_json::Value> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    while t0.elapsed() < d {
        if let Some(l) = app.wait_out(&["\"schema\""], Duration::from_millis(100)) {
            out.push(serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}")));
        }
    }
    out
}

fn ends(docs: &[serde_json::Value]) -> Vec<(String, String, String)> {
    docs.iter()
        .filter(|d| d["phase"] == "end")
        .map(|d| {
            (
                d["camera"].as_str().unwrap().to_string(),
                d["zone"].as_str().unwrap().to_string(),
                d["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn health_of<'a>(docs: &'a [serde_json::Value], camera: &str) -> Vec<&'a serde_json::Value> {
    docs.iter()
        .filter(|d| d["rule"] == "camera" && d["camera"] == camera)
        .collect()
}

/// Wait for the reload the file change triggers (the appliance polls the file's mtime).
fn reload(app: &App, expect: &str) -> String {
    let line = app
        .wait_err(&["config reloaded:"], Duration::from_secs(20))
        .expect("the reload is applied");
    assert!(line.contains(expect), "expected {expect:?} in {line:?}");
    line
}

#[test]
fn reloads_end_only_what_changed_and_keep_the_other_streams() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ward.toml");
    write_config(&cfg, 5, FULL, true, 5);
    // No broker on port 1: events wait in the outbox; the test reads stdout.
    let mut app = App::spawn(&cfg, &["--json"]);

    // Wait until all three zones have an open incident.
    let want: BTreeSet<(&str, &str)> = [("a", "z1"), ("a", "z2"), ("b", "z")].into();
    let mut open = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while open.len() < want.len() {
        assert!(
            Instant::now() < deadline,
            "only {open:?} started within 120 s"
        );
        for d in docs_for(&app, Duration::from_millis(500)) {
            assert_ne!(
                d["phase"], "end",
                "an incident ended before any reload: {d}"
            );
            if d["phase"] == "start" {
                let (c, z) = (d["camera"].as_str().unwrap(), d["zone"].as_str().unwrap());
                if let Some(k) = want.iter().find(|k| **k == (c, z)) {
                    open.insert(*k);
                }
            }
        }
    }

    // 1. Zone z2 of camera a changes shape.
    write_config(&cfg, 5, FULL_BUT_A_CORNER, true, 5);
    let line = reload(
        &app,
        "1 unchanged, 1 with new zones or rules, 0 reconnected",
    );
    let after = docs_for(&app, Duration::from_secs(5));
    // A zone can hold several open incidents (one per group): all of z2's end, nothing else.
    let e = ends(&after);
    assert!(
        !e.is_empty()
            && e.iter()
                .all(|x| *x == ("a".into(), "z2".into(), "config_reload".into())),
        "only the changed zone's incidents end: {after:#?}"
    );
    assert!(
        health_of(&after, "a").is_empty() && health_of(&after, "b").is_empty(),
        "no stream went offline or reconnected: {after:#?}"
    );
    println!("zone change: {line}; events after: {}", after.len());

    // 2. Camera b is analysed at another rate: it reconnects, its incident carries on.
    write_config(&cfg, 5, FULL_BUT_A_CORNER, true, 4);
    let line = reload(
        &app,
        "1 unchanged, 0 with new zones or rules, 1 reconnected",
    );
    let after = docs_for(&app, Duration::from_secs(5));
    assert!(
        ends(&after).is_empty(),
        "no incident ends when only the stream is reopened: {after:#?}"
    );
    assert!(
        health_of(&after, "a").is_empty(),
        "camera a untouched: {after:#?}"
    );
    println!("detect_fps change: {line}; events after: {}", after.len());

    // 3. Camera b is removed: its incident ends; camera a's carry on.
    write_config(&cfg, 5, FULL_BUT_A_CORNER, false, 4);
    let line = reload(
        &app,
        "1 unchanged, 0 with new zones or rules, 0 reconnected, 0 added, 1 removed",
    );
    let after = docs_for(&app, Duration::from_secs(5));
    let e = ends(&after);
    assert!(
        !e.is_empty()
            && e.iter()
                .all(|x| *x == ("b".into(), "z".into(), "config_reload".into())),
        "only the removed camera's incidents end: {after:#?}"
    );
    println!("camera removed: {line}");

    // Shutdown ends what is still open, with reason shutdown.
    let stop = app.stop();
    let rest: Vec<serde_json::Value> = app
        .drain_out()
        .iter()
        .filter(|l| l.contains("\"schema\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut shut: Vec<_> = ends(&rest);
    shut.sort();
    assert!(
        shut.contains(&("a".into(), "z1".into(), "shutdown".into())),
        "camera a's untouched incident was still open at shutdown: {rest:#?}"
    );
    assert!(stop < Duration::from_secs(5));
}
