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
        &support::repo().join("models/nanodet-g-416.onnx"),
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
        &support::repo().join("models/nanodet-g-416.onnx"),
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
        &support::repo().join("models/nanodet-g-416.onnx"),
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

/// The README's exit-status table, row by row: 2 only for usage and config mistakes, 1 for
/// every other failure (missing, directory or corrupt model; unreadable video), each with
/// one `error:` line naming the file or value.
#[test]
fn exit_status_table() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let vtest = support::vtest();
    let vtest = vtest.to_str().unwrap();
    let good = config_with_model(
        dir.path(),
        &support::repo().join("models/nanodet-g-416.onnx"),
    );
    let good = good.to_str().unwrap().to_string();
    let sub = |name: &str, model: &Path| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        config_with_model(&d, model).to_str().unwrap().to_string()
    };
    let missing = sub("missing", &dir.path().join("nope.onnx"));
    let model_dir = dir.path().join("models.onnx");
    std::fs::create_dir_all(&model_dir).unwrap();
    let directory = sub("directory", &model_dir);
    let corrupt_file = dir.path().join("corrupt.onnx");
    std::fs::write(&corrupt_file, b"not a model").unwrap();
    let corrupt = sub("corrupt", &corrupt_file);
    let invalid = dir.path().join("invalid.toml");
    std::fs::write(&invalid, "[site]\nname = \"bad name!\"\n").unwrap();
    let invalid = invalid.to_str().unwrap().to_string();
    let rows: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "invalid config",
            vec!["check-config", &invalid],
            2,
            "error:",
        ),
        (
            "missing config",
            vec!["check-config", "/nonexistent.toml"],
            2,
            "error:",
        ),
        ("valid config", vec!["check-config", &good], 0, ""),
        (
            "missing model, check-config",
            vec!["check-config", &missing],
            1,
            "error: model file",
        ),
        (
            "missing model, replay",
            vec!["replay", "--no-mqtt", "--config", &missing, vtest],
            1,
            "error: model file",
        ),
        (
            "model is a directory",
            vec!["replay", "--no-mqtt", "--config", &directory, vtest],
            1,
            "error: model file",
        ),
        (
            "corrupt model",
            vec!["replay", "--no-mqtt", "--config", &corrupt, vtest],
            1,
            "error:",
        ),
        (
            "unreadable video",
            vec!["replay", "--no-mqtt", "--config", &good, "/nonexistent.avi"],
            1,
            "error:",
        ),
        (
            "bad --start",
            vec![
                "replay",
                "--no-mqtt",
                "--start",
                "23:00",
                "--config",
                &good,
                vtest,
            ],
            2,
            "error: --start",
        ),
    ];
    // clap's usage errors end with a help hint after the `error:` line.
    let out = wardwatch(&["replay", "--nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: unexpected argument '--nope'")
    );
    for (what, args, code, start) in rows {
        let out = wardwatch(&args);
        if code == 0 {
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(
            stderr.lines().any(|l| l.starts_with(start)),
            "{what}: a line starting {start:?} in {stderr}"
        );
        if what == "model is a directory" {
            assert!(stderr.contains("is a directory"), "{what}: {stderr}");
        }
        if what.starts_with("missing model") {
            assert!(
                stderr.contains("nope.onnx") && stderr.contains("not found"),
                "{what}: {stderr}"
            );
        }
    }
}
