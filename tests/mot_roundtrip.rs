//! MOTChallenge interchange: `--export-detections`, `--export-mot` and `--detections`
//! round-trip. A replay from recorded detections gives the same tracks and the same events
//! as the replay of the video they came from.

mod support;

use std::path::Path;
use std::process::Command;

fn replay(args: &[&str], dir: &Path) -> (String, String) {
    replay_with(&support::repo().join("config/demo.toml"), args, dir)
}

/// config/demo.toml with `edit` applied, written into `dir` with its paths made absolute.
fn demo_variant(dir: &Path, name: &str, edit: &dyn Fn(String) -> String) -> std::path::PathBuf {
    let repo = support::repo();
    let text = std::fs::read_to_string(repo.join("config/demo.toml"))
        .unwrap()
        .replace("../models/", &format!("{}/models/", repo.display()))
        .replace("../data/", &format!("{}/data/", repo.display()))
        .replace("../var/", &format!("{}/", dir.display()));
    let path = dir.join(name);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn replay_with(cfg: &Path, args: &[&str], dir: &Path) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "replay",
            "--no-mqtt",
            "--json",
            "--start",
            "2026-11-26T23:00:00+07:00",
            "--config",
        ])
        .arg(cfg)
        .args(args)
        .env("WARDWATCH_TEST_DIR", dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "replay {args:?} failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).to_string(), stderr)
}

/// Events without snapshot data (a detections replay has no frames to draw) and with
/// measures rounded to 0.1 px (exported coordinates have 2 decimals).
fn events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("snapshot");
            for (_, m) in o["measures"].as_object_mut().unwrap().iter_mut() {
                if let Some(x) = m.as_f64() {
                    *m = serde_json::json!((x * 10.0).round() / 10.0);
                }
            }
            v
        })
        .collect()
}

#[test]
fn detections_round_trip_reproduces_tracks_and_events() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let dets = dir.path().join("dets.txt");
    let mot_video = dir.path().join("mot_video.txt");
    let mot_dets = dir.path().join("mot_dets.txt");
    let (out1, _) = replay(
        &[
            "--export-detections",
            dets.to_str().unwrap(),
            "--export-mot",
            mot_video.to_str().unwrap(),
            support::vtest().to_str().unwrap(),
        ],
        dir.path(),
    );
    let (out2, _) = replay(
        &[
            "--detections",
            dets.to_str().unwrap(),
            "--export-mot",
            mot_dets.to_str().unwrap(),
        ],
        dir.path(),
    );

    for line in out1.lines().chain(out2.lines()) {
        support::validate_against_schema(&serde_json::from_str(line).unwrap());
    }
    let e1 = events(&out1);
    assert!(e1.len() >= 2, "the demo replay produces events");
    assert_eq!(
        e1,
        events(&out2),
        "same events from the video and from its recorded detections"
    );

    let a = std::fs::read_to_string(&mot_video).unwrap();
    let b = std::fs::read_to_string(&mot_dets).unwrap();
    let (ra, rb) = (
        wardwatch::media::mot::parse(&a, "a").unwrap(),
        wardwatch::media::mot::parse(&b, "b").unwrap(),
    );
    assert_eq!(ra.len(), rb.len(), "same number of tracker rows");
    for (x, y) in ra.iter().zip(&rb) {
        assert_eq!((x.frame, x.id), (y.frame, y.id), "same tracks, same frames");
        let d = [
            x.bbox.x1 - y.bbox.x1,
            x.bbox.y1 - y.bbox.y1,
            x.bbox.x2 - y.bbox.x2,
            x.bbox.y2 - y.bbox.y2,
        ];
        assert!(d.iter().all(|v| v.abs() < 0.1), "{x:?} vs {y:?}");
    }

    // The files are valid MOTChallenge: tracker rows have ids ≥ 1 and their class tag in
    // column 8 (the parked van and car are vehicles, everyone else a person), detection rows
    // have id -1 and a class tag; frames are 1-based.
    let tracks = wardwatch::media::mot::parse(&a, "mot").unwrap();
    assert!(tracks.len() > 1000, "{} tracker rows", tracks.len());
    assert!(
        tracks
            .iter()
            .all(|r| r.id >= 1 && r.frame >= 1 && r.class.is_some())
    );
    assert!(
        tracks
            .iter()
            .any(|r| r.class == Some(wardwatch::types::ObjectClass::Vehicle))
    );
    assert!(
        tracks
            .iter()
            .any(|r| r.class == Some(wardwatch::types::ObjectClass::Person))
    );
    for line in a.lines().take(50) {
        assert!(
            line.ends_with(",1,-1,-1") || line.ends_with(",3,-1,-1"),
            "{line}"
        );
        assert_eq!(line.split(',').count(), 10);
    }
    let d = wardwatch::media::mot::parse(&std::fs::read_to_string(&dets).unwrap(), "dets").unwrap();
    assert!(d.iter().all(|r| r.id == -1 && r.class.is_some()));
    assert_eq!(d.iter().map(|r| r.frame).min(), Some(1));
    // Only analysed frames (5 of every 10 at detect_fps 5) appear.
    let frames: std::collections::BTreeSet<u64> = d.iter().map(|r| r.frame).collect();
    assert!(
        frames.iter().all(|f| (f - 1) % 2 == 0),
        "frames sampled at 5 fps from a 10 fps clip"
    );
}

#[test]
fn foreign_detection_file_needs_fps_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let dets = dir.path().join("foreign.txt");
    std::fs::write(
        &dets,
        "1,-1,10,20,30,80,0.9,-1,-1,-1\n2,-1,11,20,30,80,0.9,-1,-1,-1\n",
    )
    .unwrap();
    let cfg = support::repo().join("config/demo.toml");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wardwatch"))
            .args(["replay", "--no-mqtt", "--config"])
            .arg(&cfg)
            .args(["--detections", dets.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: {}: no frame rate: pass --fps (the file has no `# wardwatch detections:` header)",
            dets.display()
        )
    );
    let out = run(&["--fps", "10"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: {}: no frame size: pass --frame-size WxH (zones are fractions of the frame)",
            dets.display()
        )
    );
    let out = run(&["--fps", "10", "--frame-size", "768x576"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(&dets, "1,-1,10,abc,30,80,0.9\n").unwrap();
    let out = run(&["--fps", "10", "--frame-size", "768x576"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: {} line 1: field 4 (y) is \"abc\", expected a number",
            dets.display()
        )
    );
}

/// Recorded detections are replayed as the detector gave them: at the rate they were
/// recorded (a faster `detect_fps` would see empty frames in between and end every track;
/// the replay says so and adapts), and through the config's score thresholds.
#[test]
fn detections_replay_adapts_to_the_recorded_rate_and_applies_score_thresholds() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let dets = dir.path().join("dets.txt");
    let (video_out, _) = replay(
        &[
            "--export-detections",
            dets.to_str().unwrap(),
            support::vtest().to_str().unwrap(),
        ],
        dir.path(),
    );
    let header = std::fs::read_to_string(&dets).unwrap();
    let header = header.lines().next().unwrap();
    assert!(header.contains(" detect_fps=5 "), "{header}");
    let want = events(&video_out);
    assert!(want.len() >= 2);

    // The camera now says 10 fps: the replay warns and analyses at the recorded 5 fps.
    let fast = demo_variant(dir.path(), "fast.toml", &|t| {
        t.replacen("detect_fps = 5", "detect_fps = 10", 1)
    });
    let (out, err) = replay_with(&fast, &["--detections", dets.to_str().unwrap()], dir.path());
    println!(
        "{}",
        err.lines()
            .find(|l| l.contains("recorded at"))
            .unwrap_or("")
    );
    assert!(
        err.contains("recorded at 5.00 frames/s, slower than camera.detect_fps = 10"),
        "the rate mismatch is reported: {err}"
    );
    assert_eq!(
        events(&out),
        want,
        "the same events as at the recorded rate"
    );

    // A stricter score threshold leaves the weak detections out, as the detector would:
    // nobody scores 0.95, so no track, no event.
    let strict = demo_variant(dir.path(), "strict.toml", &|t| {
        t.replacen("threads = 2", "threads = 2\nscore_threshold = 0.95", 1)
    });
    let (out, err) = replay_with(
        &strict,
        &["--detections", dets.to_str().unwrap()],
        dir.path(),
    );
    let line = err
        .lines()
        .find(|l| l.contains("are left out"))
        .unwrap_or("");
    println!("{line}");
    assert!(line.contains("kept="), "the filter is reported: {err}");
    let kept: usize = line
        .split("kept=")
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("kept count");
    let recorded = wardwatch::media::mot::parse(&std::fs::read_to_string(&dets).unwrap(), "d")
        .unwrap()
        .len();
    assert!(
        kept * 10 < recorded,
        "few detections reach 0.95: {kept} of {recorded}"
    );
    assert!(
        events(&out).is_empty(),
        "no events from the filtered detections: {out}"
    );
}
