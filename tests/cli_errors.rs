//! Bad input at the command line: one clear message, non-zero exit, never a panic.

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn wardwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// A config in `dir` whose model is `model`, evidence/outbox inside `dir`.
fn config_with_model(dir: &Path, model: &Path) -> std::path::PathBuf {
    let text = format!(
        r#"[site]
name = "t"
[mqtt]
outbox_dir = "outbox"
[model]
path = "{}"
[evidence]
dir = "snaps"
[[camera]]
id = "c"
url = "x.avi"
  [[camera.zone]]
  id = "z"
  polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
  rules = ["gathering"]
"#,
        model.display()
    );
    let p = dir.join("ward.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn assert_one_clear_line(out: &Output, code: i32, expected_start: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with(expected_start),
        "last stderr line {last:?} should start with {expected_start:?}"
    );
}

#[test]
fn unreadable_video() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with_model(
        dir.path(),
        &support::repo().join("models/nanodet-m-416.onnx"),
    );
    let fake = dir.path().join("not-a-video.avi");
    std::fs::write(&fake, b"this is not a video").unwrap();
    let out = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--config",
        cfg.to_str().unwrap(),
        fake.to_str().unwrap(),
    ]);
    assert_one_clear_line(
        &out,
        1,
        &format!(
            "error: video {}: OpenCV cannot decode it (not a video, truncated, or an unsupported codec)",
            fake.display()
        ),
    );
    let missing = dir.path().join("missing.avi");
    let out = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--config",
        cfg.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_one_clear_line(
        &out,
        1,
        &format!("error: video {}: no such file", missing.display()),
    );
}

#[test]
fn corrupt_model_file() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken.onnx");
    std::fs::write(&model, vec![7u8; 4096]).unwrap();
    let cfg = config_with_model(dir.path(), &model);
    let out = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--config",
        cfg.to_str().unwrap(),
        support::vtest().to_str().unwrap(),
    ]);
    assert_one_clear_line(
        &out,
        1,
        &format!(
            "error: model file {}: ONNX Runtime cannot load it (",
            model.display()
        ),
    );
}

#[test]
fn bad_start_time() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with_model(
        dir.path(),
        &support::repo().join("models/nanodet-m-416.onnx"),
    );
    let out = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--start",
        "23:00",
        "--config",
        cfg.to_str().unwrap(),
        "x.avi",
    ]);
    assert_one_clear_line(
        &out,
        2,
        "error: --start \"23:00\": not an RFC 3339 time with offset, e.g. 2026-11-26T23:10:00+07:00",
    );
}

#[test]
fn unknown_camera() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with_model(
        dir.path(),
        &support::repo().join("models/nanodet-m-416.onnx"),
    );
    let out = wardwatch(&[
        "replay",
        "--no-mqtt",
        "--camera",
        "cam-9",
        "--config",
        cfg.to_str().unwrap(),
        "x.avi",
    ]);
    assert_one_clear_line(
        &out,
        2,
        &format!(
            "error: --camera \"cam-9\": no such camera in {} (cameras: c)",
            cfg.display()
        ),
    );
}
