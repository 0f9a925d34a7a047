//! Object filters end to end: data/vtest.avi through the real decoder, detector and
//! tracker with config/demo.toml, as the demo replays it "at 23:00", three times: as it
//! ships (two gatherings: a pair at the fire-assembly-point sign from 23:00:04, a pair by
//! the parked van from 23:00:16), with a camera mask over the sign, and with a zone mask
//! by the van.

mod support;

use std::path::Path;
use std::process::Command;

/// Where the first pair stands (normalised frame coordinates).
const SIGN: [[f64; 2]; 4] = [[0.30, 0.36], [0.58, 0.36], [0.58, 0.50], [0.30, 0.50]];
/// Where the second pair stands, by the van.
const VAN: [[f64; 2]; 4] = [[0.74, 0.20], [1.0, 0.20], [1.0, 0.40], [0.74, 0.40]];
const FRAME: (f64, f64) = (768.0, 576.0);

fn toml_polygon(p: &[[f64; 2]]) -> String {
    let pts: Vec<String> = p.iter().map(|q| format!("[{}, {}]", q[0], q[1])).collect();
    format!("[{}]", pts.join(", "))
}

fn inside(p: &[[f64; 2]; 4], x: f64, y: f64) -> bool {
    // The masks here are axis-aligned rectangles.
    x >= p[0][0] && x <= p[2][0] && y >= p[0][1] && y <= p[2][1]
}

/// config/demo.toml with absolute paths into `dir` and the repository; `camera_filters`
/// goes into `[camera.filters]`, `zone_filters` into the road zone's `[camera.zone.filters]`.
fn config(dir: &Path, camera_filters: &str, zone_filters: &str) -> std::path::PathBuf {
    let repo = support::repo();
    let mut text = std::fs::read_to_string(repo.join("config/demo.toml"))
        .unwrap()
        .replace(
            "outbox_dir = \"../var/outbox\"",
            &format!("outbox_dir = {:?}", dir.join("outbox")),
        )
        .replace(
            "dir = \"../var/snapshots\"",
            &format!("dir = {:?}", dir.join("snapshots")),
        )
        .replace("\"../models/", &format!("\"{}/models/", repo.display()))
        .replace("\"../data/", &format!("\"{}/data/", repo.display()));
    if !camera_filters.is_empty() {
        text = text.replacen(
            "  [[camera.zone]]",
            &format!("  [camera.filters]\n  {camera_filters}\n\n  [[camera.zone]]"),
            1,
        );
    }
    if !zone_filters.is_empty() {
        // The demo's zone ends with its [camera.zone.gathering] table.
        text.push_str(&format!("\n  [camera.zone.filters]\n  {zone_filters}\n"));
    }
    let p = dir.join("demo.toml");
    std::fs::write(&p, text).unwrap();
    p
}

struct Run {
    /// (started_local, track ids) of each gathering `start`.
    starts: Vec<(String, Vec<u64>)>,
    /// Foot points (normalised) of every exported confirmed, matched track row.
    feet: Vec<(f64, f64)>,
}

fn replay(name: &str, camera_filters: &str, zone_filters: &str) -> Run {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), camera_filters, zone_filters);
    let mot = dir.path().join("tracks.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "replay",
            "--no-mqtt",
            "--json",
            "--start",
            "2026-11-26T23:00:00+07:00",
            "--config",
        ])
        .arg(&cfg)
        .arg("--export-mot")
        .arg(&mot)
        .arg(support::vtest())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name}: replay failed:\n{stderr}");
    let mut starts = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("one JSON event per line");
        assert_eq!(
            e["rule"], "gathering",
            "{name}: only the gathering rule is on"
        );
        if e["phase"] == "start" {
            let ids = e["track_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            starts.push((e["started_local"].as_str().unwrap().to_string(), ids));
        }
    }
    let feet = std::fs::read_to_string(&mot)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
            ((f[2] + f[4] / 2.0) / FRAME.0, (f[3] + f[5]) / FRAME.1)
        })
        .collect();
    eprintln!("{name}: gathering starts {starts:?}");
    Run { starts, feet }
}

fn before_10s(started_local: &str) -> bool {
    started_local < "2026-11-26T23:00:10"
}

fn rows_in(run: &Run, area: &[[f64; 2]; 4]) -> usize {
    run.feet
        .iter()
        .filter(|(x, y)| inside(area, *x, *y))
        .count()
}

#[test]
fn masks_remove_the_gatherings_that_fire_without_them_and_only_those() {
    let plain = replay("as shipped", "", "");
    let camera_masked = replay(
        "camera mask over the sign",
        &format!("masks = [{}]", toml_polygon(&SIGN)),
        "",
    );
    let zone_masked = replay(
        "zone mask by the van",
        "",
        &format!("masks = [{}]", toml_polygon(&VAN)),
    );

    // As shipped: both pairs fire, the sign's first.
    assert_eq!(plain.starts.len(), 2, "{:?}", plain.starts);
    assert!(before_10s(&plain.starts[0].0), "{:?}", plain.starts);
    assert!(!before_10s(&plain.starts[1].0), "{:?}", plain.starts);
    let (sign_rows, van_rows) = (rows_in(&plain, &SIGN), rows_in(&plain, &VAN));
    assert!(
        sign_rows >= 50 && van_rows >= 50,
        "people stand at both places for seconds: {sign_rows} and {van_rows} track rows"
    );

    // A camera mask over the sign: that gathering is gone, the van's still fires, and the
    // masked detections were never tracked.
    assert_eq!(
        camera_masked.starts.len(),
        1,
        "only the van's pair: {:?}",
        camera_masked.starts
    );
    assert!(
        !before_10s(&camera_masked.starts[0].0),
        "{:?}",
        camera_masked.starts
    );
    let masked_rows = rows_in(&camera_masked, &SIGN);
    eprintln!(
        "track rows at the sign: {sign_rows} as shipped, {masked_rows} with the camera mask; by the van: {van_rows}"
    );
    assert!(
        masked_rows * 10 <= sign_rows,
        "masked detections do not become tracks: {masked_rows} track rows at the sign against {sign_rows} without the mask"
    );

    // A zone mask by the van: that gathering is gone, the sign's still fires, and the people
    // by the van are still tracked (a zone filter only decides who counts in the zone).
    assert_eq!(
        zone_masked.starts.len(),
        1,
        "only the sign's pair: {:?}",
        zone_masked.starts
    );
    assert!(
        before_10s(&zone_masked.starts[0].0),
        "{:?}",
        zone_masked.starts
    );
    assert_eq!(zone_masked.starts[0], plain.starts[0], "the same incident");
    assert_eq!(rows_in(&zone_masked, &VAN), van_rows);
    assert!(
        zone_masked.feet == plain.feet,
        "a zone filter leaves tracking as it was: the track export is the same"
    );
}
