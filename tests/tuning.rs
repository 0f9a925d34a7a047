//! The tuning aids for real: vtest.avi through the real model with `replay --annotate`,
//! `--explain` and progress output (docs/tuning.md). The annotated video is read back
//! with OpenCV and compared with the source frames where the tracks are.

mod support;

#[path = "support/scenegen.rs"]
#[allow(dead_code)]
mod scenegen;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opencv::core::{Mat, Vec3b};
use opencv::prelude::*;
use opencv::videoio;
use wardwatch::media::mot;
use wardwatch::media::source::Sampler;
use wardwatch::publish::annotate;

/// config/demo.toml with its paths pointed at the repository and a temp dir.
fn demo_config(dir: &Path) -> PathBuf {
    let repo = support::repo();
    let text = std::fs::read_to_string(repo.join("config/demo.toml"))
        .unwrap()
        .replace("\"../var/outbox\"", &format!("{:?}", dir.join("outbox")))
        .replace("\"../var/snapshots\"", &format!("{:?}", dir.join("snaps")))
        .replace("\"../models/", &format!("\"{}/models/", repo.display()))
        .replace("\"../data/", &format!("\"{}/data/", repo.display()));
    let p = dir.join("demo.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn wardwatch(args: &[&str]) -> Output {
    support::require_runtime();
    Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// All frames of a video.
fn frames(path: &Path) -> Vec<Mat> {
    let mut cap = videoio::VideoCapture::from_file(s(path), videoio::CAP_ANY).unwrap();
    assert!(cap.is_opened().unwrap(), "{} opens", path.display());
    let mut out = Vec::new();
    loop {
        let mut m = Mat::default();
        if !cap.read(&mut m).unwrap() || m.empty() {
            break;
        }
        out.push(m);
    }
    out
}

fn px(m: &Mat, x: i32, y: i32) -> [i32; 3] {
    let v = m.at_2d::<Vec3b>(y, x).unwrap();
    [v[0] as i32, v[1] as i32, v[2] as i32]
}

fn dist(a: [i32; 3], b: [i32; 3]) -> i32 {
    (0..3).map(|i| (a[i] - b[i]).abs()).sum()
}

#[test]
fn annotate_explain_and_progress_on_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config(dir.path());
    let video = support::vtest();
    let (mp4, mot_file, dets) = (
        dir.path().join("annotated.mp4"),
        dir.path().join("mot.txt"),
        dir.path().join("dets.txt"),
    );
    let out = wardwatch(&[
        "--log-format",
        "json",
        "replay",
        "--no-mqtt",
        "--json",
        "--start",
        "2026-11-26T23:00:00+07:00",
        "--config",
        s(&cfg),
        "--annotate",
        s(&mp4),
        "--explain",
        "--progress-every",
        "1",
        "--export-mot",
        s(&mot_file),
        "--export-detections",
        s(&dets),
        s(&video),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay failed: {stderr}");

    // --annotate and --explain leave stdout pure event JSON.
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line {l:?}: {e}")))
        .collect();
    let starts = events.iter().filter(|e| e["phase"] == "start").count();
    assert_eq!(starts, 2, "the demo raises 2 gatherings: {events:?}");
    assert!(events.iter().all(|e| e["schema"] == "wardwatch.event/1"));

    // With --log-format json every stderr line is JSON: log, progress, explain, summary.
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stderr line {l:?}: {e}")))
        .collect();
    let messages: Vec<&str> = logs
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    let progress: Vec<&&str> = messages
        .iter()
        .filter(|m| m.starts_with("replay: ") && m.contains(" fps"))
        .collect();
    println!(
        "{} progress lines, e.g. {:?}",
        progress.len(),
        progress.first()
    );
    assert!(
        progress
            .iter()
            .any(|m| m.starts_with("replay: 795/795 frames (100%)")),
        "a last progress line at 100%: {progress:?}"
    );
    for m in &progress {
        assert!(m.contains("/795 frames ("), "{m}");
    }
    let explain: Vec<&&str> = messages
        .iter()
        .filter(|m| m.starts_with("explain t="))
        .collect();
    assert!(
        explain.len() >= 79,
        "one explain line per second of the 79.5 s clip: {}",
        explain.len()
    );
    for reason in [
        "still waiting (held ",
        "alert active (incident 1",
        "alert active (incident 2",
        "moving (",
        "cooling down (",
        "no group: too few",
    ] {
        assert!(
            explain.iter().any(|m| m.contains(reason)),
            "some explain line says {reason:?}: {explain:#?}"
        );
    }
    let summary = logs
        .iter()
        .find(|l| l["fields"]["analysed"].is_u64())
        .expect("the summary line, as JSON");
    let analysed = summary["fields"]["analysed"].as_u64().unwrap() as usize;

    // The annotated clip: every analysed frame, at the source size.
    let annotated = frames(&mp4);
    let source = frames(&video);
    assert_eq!(
        annotated.len(),
        analysed,
        "one annotated frame per analysed frame"
    );
    assert_eq!((annotated[0].cols(), annotated[0].rows()), (768, 576));
    let cap = videoio::VideoCapture::from_file(s(&mp4), videoio::CAP_ANY).unwrap();
    assert_eq!(
        cap.get(videoio::CAP_PROP_FRAME_COUNT).unwrap() as usize,
        analysed
    );
    assert_eq!(cap.get(videoio::CAP_PROP_FPS).unwrap().round(), 5.0);

    // Which source frame each annotated frame is: the replay's own sampling.
    let t0: jiff::Timestamp = "2026-11-26T16:00:00Z".parse().unwrap();
    let mut sampler = Sampler::new(5.0);
    let analysed_idx: Vec<usize> = (0..source.len())
        .filter(|&i| sampler.take(t0 + jiff::SignedDuration::from_millis(i as i64 * 100)))
        .collect();
    assert_eq!(analysed_idx.len(), analysed);

    // Where the tracker had a confirmed track, its box is drawn: along the box's top edge
    // the annotated frame has a drawing colour and differs from the source frame, much
    // more than on the grass at the bottom left, where nothing is drawn.
    let tracks = mot::by_frame(&mot::read_file(&mot_file).unwrap());
    let palette = [
        annotate::ZONE,
        annotate::TRACK,
        annotate::VEHICLE,
        annotate::WAITING,
        annotate::ALERT,
        annotate::IDLE,
    ]
    .map(|c| [c[0] as i32, c[1] as i32, c[2] as i32]);
    let (mut edges, mut coloured, mut edge_diff, mut grass_diff, mut grass_n) =
        (0, 0, 0i64, 0i64, 0);
    for (j, &k) in analysed_idx.iter().enumerate().step_by(10) {
        let (a, src) = (&annotated[j], &source[k]);
        for r in tracks.get(&(k as u64 + 1)).into_iter().flatten() {
            let b = r.bbox;
            if b.y1 < 70.0 || b.x1 < 2.0 || b.x2 > 765.0 || b.width() < 12.0 {
                continue; // under the header band, or at the frame's edge
            }
            let y = b.y1.round() as i32;
            for x in (b.x1.round() as i32 + 3)..(b.x2.round() as i32 - 3) {
                // The pixel of the 3-row band nearest a drawing colour (mp4v blurs 1 px).
                let (d, row) = (y - 1..=y + 1)
                    .map(|yy| {
                        let p = px(a, x, yy);
                        (palette.iter().map(|c| dist(p, *c)).min().unwrap(), yy)
                    })
                    .min()
                    .unwrap();
                edges += 1;
                if d < 120 {
                    coloured += 1;
                }
                edge_diff += dist(px(a, x, row), px(src, x, row)) as i64;
            }
        }
        for y in (490..570).step_by(8) {
            for x in (10..150).step_by(8) {
                grass_diff += dist(px(a, x, y), px(src, x, y)) as i64;
                grass_n += 1;
            }
        }
    }
    assert!(edges > 500, "tracks to look at: {edges} edge pixels");
    let (edge_mean, grass_mean) = (
        edge_diff as f64 / edges as f64,
        grass_diff as f64 / grass_n as f64,
    );
    println!(
        "track box edges: {coloured}/{edges} pixels in a drawing colour, mean difference from the source {edge_mean:.1}; grass {grass_mean:.1}"
    );
    assert!(
        coloured * 10 >= edges * 7,
        "track boxes are drawn: only {coloured} of {edges} edge pixels in a drawing colour"
    );
    assert!(
        edge_mean > 4.0 * grass_mean + 40.0,
        "the annotated frames differ from the source at the track boxes ({edge_mean:.1}) far more than on the grass ({grass_mean:.1})"
    );

    // --explain on the recorded detections, in plain text: at noon the zone is closed...
    let noon = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--start",
        "2026-11-26T12:00:00+07:00",
        "--config",
        s(&cfg),
        "--detections",
        s(&dets),
        "--explain",
    ]);
    let err = String::from_utf8_lossy(&noon.stderr);
    assert!(noon.status.success(), "{err}");
    assert!(noon.stdout.is_empty(), "no events at noon");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("explain t="))
        .collect();
    assert!(lines.len() >= 79, "{err}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("road gathering: outside the schedule (22:00-05:00)")),
        "{lines:#?}"
    );
    // ... and at 23:00 the same groups wait, then alert, as in the video replay.
    let night = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--start",
        "2026-11-26T23:00:00+07:00",
        "--config",
        s(&cfg),
        "--detections",
        s(&dets),
        "--explain",
    ]);
    let err = String::from_utf8_lossy(&night.stderr);
    assert!(night.status.success(), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&night.stdout)
            .lines()
            .filter(|l| l.contains("START"))
            .count(),
        2
    );
    for reason in [
        "still waiting (held ",
        "alert active (incident 2",
        "moving (",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("explain t=") && l.contains(reason)),
            "{reason:?} in {err}"
        );
    }
}

#[test]
fn annotate_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config(dir.path());
    let video = support::vtest();
    let run = |target: &str| {
        wardwatch(&[
            "replay",
            "--no-mqtt",
            "--config",
            s(&cfg),
            "--annotate",
            target,
            s(&video),
        ])
    };
    let missing = dir.path().join("no-such-dir/out.mp4");
    for (target, says) in [
        (
            s(&missing).to_string(),
            format!(
                "{}: cannot write the annotated video: the directory",
                missing.display()
            ),
        ),
        // Nothing can be created in /proc, not even by root.
        (
            "/proc/wardwatch-annotated.mp4".to_string(),
            "did not open it".to_string(),
        ),
        (
            s(&dir.path().join("out.notavideo")).to_string(),
            "the name ends in .mp4".to_string(),
        ),
    ] {
        let out = run(&target);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{target}: {err}");
        assert!(
            err.contains(&format!("error: --annotate {target}")) && err.contains(&says),
            "{target}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
    // Recorded detections have no frames to draw on: a usage error.
    let dets = dir.path().join("d.txt");
    std::fs::write(
        &dets,
        "# wardwatch detections: fps=10 detect_fps=5 size=768x576\n",
    )
    .unwrap();
    let out = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--config",
        s(&cfg),
        "--detections",
        s(&dets),
        "--annotate",
        s(&dir.path().join("a.mp4")),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--annotate needs a VIDEO"), "{err}");
}

/// A composed scene (tests/support/scenegen.rs: a real motorbike photo zig-zagging across
/// real footage, and parked vehicles): the weaving explanation names the reasons, and the
/// annotated video draws the path with its reversals.
#[test]
fn explain_and_annotate_a_weaving_motorbike() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("weaving.avi");
    scenegen::render(
        &scenegen::weaving_motorbike(scenegen::Lighting::Day),
        &video,
        &dir.path().join("weaving.gt.txt"),
    )
    .expect("scene renders");
    let cfg = dir.path().join("scene.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[site]
name = "scenes"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[mqtt]
outbox_dir = "outbox"
[evidence]
dir = "snaps"
[[camera]]
id = "scene"
url = "unused.avi"
detect_fps = 10
  [[camera.zone]]
  id = "street"
  polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
  rules = ["weaving"]
  schedule = "22:00-05:00"
"#,
            repo = support::repo().display()
        ),
    )
    .unwrap();
    let mp4 = dir.path().join("weaving.mp4");
    let out = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--json",
        "--start",
        "2026-11-26T23:00:00+07:00",
        "--config",
        s(&cfg),
        "--explain",
        "--annotate",
        s(&mp4),
        s(&video),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let start = events
        .iter()
        .find(|e| e["phase"] == "start" && e["rule"] == "weaving")
        .expect("the zig-zag raises a weaving alert");
    let bike = start["track_ids"][0].as_u64().unwrap();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("explain t=") && l.contains(" street weaving: "))
        .collect();
    for reason in [
        "not enough history (",
        "too few reversals (",
        "too slow (",
        &format!("vehicle #{bike} ("),
        "alert active (incident 1",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(reason)),
            "{reason:?} in {lines:#?}"
        );
    }
    assert!(
        !err.contains("street gathering:"),
        "only the zone's rules are explained"
    );

    // The frames after the zig-zag began carry the path's reversal marks: pure blue dots
    // in a white ring (no other mark is drawn in that colour).
    let annotated = frames(&mp4);
    assert_eq!(
        annotated.len(),
        80,
        "10 fps analysed, every frame annotated"
    );
    let marks = |m: &Mat| {
        let mut n = 0;
        for y in 60..m.rows() {
            for x in 0..m.cols() {
                let [b, g, r] = px(m, x, y);
                if b > 180 && g < 70 && r < 70 {
                    n += 1;
                }
            }
        }
        n
    };
    let (before, during) = (marks(&annotated[5]), marks(&annotated[52]));
    println!("mark-blue pixels: frame 5 {before}, frame 52 {during}");
    assert!(
        during > before + 60,
        "reversal marks are drawn once the bike zig-zags: {before} mark-blue pixels before, {during} during"
    );
}
