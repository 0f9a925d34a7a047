//! FFmpeg's own messages go through the logger: a really corrupt video (a copy of
//! data/vtest.avi with stretches of its frames overwritten, and cut short) replayed with
//! `--log-format json` leaves only JSON on stderr, FFmpeg's complaints among it under target
//! `ffmpeg`. Without the log callback FFmpeg prints `[msmpeg4 @ 0x…] ignoring overflow at …`
//! straight onto stderr.

mod support;

use std::process::Command;

/// The first 1.6 MB of the clip (about 190 frames), with 2 kB of noise every 50 kB from
/// 300 kB on: the decoder meets broken macroblocks in many frames.
fn corrupt_copy(dir: &std::path::Path) -> std::path::PathBuf {
    let mut data = std::fs::read(support::vtest()).unwrap();
    data.truncate(1_600_000);
    let mut x: u32 = 0x2545_f491; // xorshift: the same noise on every run
    for start in (300_000..1_550_000).step_by(50_000) {
        for b in &mut data[start..start + 2_000] {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
    }
    let p = dir.join("corrupt.avi");
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn a_corrupt_video_replayed_with_json_logs_leaves_only_json_on_stderr() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let video = corrupt_copy(dir.path());
    let repo = support::repo();
    let cfg = dir.path().join("demo.toml");
    let text = std::fs::read_to_string(repo.join("config/demo.toml"))
        .unwrap()
        .replace(
            "outbox_dir = \"../var/outbox\"",
            &format!("outbox_dir = {:?}", dir.path().join("outbox")),
        )
        .replace(
            "dir = \"../var/snapshots\"",
            &format!("dir = {:?}", dir.path().join("snapshots")),
        )
        .replace("\"../models/", &format!("\"{}/models/", repo.display()))
        .replace("\"../data/", &format!("\"{}/data/", repo.display()));
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["--log-format", "json", "replay", "--no-mqtt", "--config"])
        .arg(&cfg)
        .arg(&video)
        .env_remove("WARDWATCH_LOG")
        .env_remove("OPENCV_FFMPEG_DEBUG")
        .env_remove("OPENCV_FFMPEG_LOGLEVEL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a damaged clip is replayed, not refused:\n{stderr}"
    );
    let mut ffmpeg = Vec::new();
    let mut summary = false;
    for line in stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {line:?}"));
        let message = v["fields"]["message"].as_str().unwrap_or_default();
        if v["target"] == "ffmpeg" {
            assert!(
                v["level"] == "ERROR" || v["level"] == "WARN",
                "FFmpeg below warnings is filtered by default: {line}"
            );
            ffmpeg.push(message.to_string());
        }
        summary |= message.starts_with("replay: ") && message.contains("analysed");
    }
    assert!(summary, "the replay summary is a log record too:\n{stderr}");
    assert!(
        !ffmpeg.is_empty(),
        "FFmpeg complained about the damage through the log:\n{stderr}"
    );
    // FFmpeg's own prefix names the decoder: `[msmpeg4 @ 0x55…] ignoring overflow at 3 17`.
    assert!(
        ffmpeg
            .iter()
            .any(|m| m.starts_with('[') && m.contains(" @ 0x") && !m.ends_with('\n')),
        "{ffmpeg:?}"
    );
    eprintln!(
        "{} FFmpeg lines through the log, e.g. {:?}",
        ffmpeg.len(),
        ffmpeg[0]
    );
}
