//! `wardwatch run`, the appliance, for real: one camera that cannot be reached and one that
//! plays vtest.avi in real time. The unreachable camera is reported `offline` over MQTT,
//! the other keeps running and raises its gathering; SIGTERM stops everything cleanly.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::broker::Broker;

#[test]
fn unreachable_camera_goes_offline_while_the_other_keeps_alerting() {
    support::require_runtime();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let dead_port = support::broker::free_port(); // nothing listens there
    let cfg = dir.path().join("ward.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[site]
name = "ward7"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps"

[[camera]]
id = "gate"
url = "rtsp://127.0.0.1:{dead_port}/stream1"

[[camera]]
id = "road"
url = "{repo}/data/vtest.avi"
  [[camera.zone]]
  id = "road"
  polygon = [[0.0, 0.25], [0.80, 0.17], [1.0, 0.17], [1.0, 0.80], [0.0, 0.55]]
  rules = ["gathering"]
  schedule = "always"
  [camera.zone.gathering]
  min_people = 2
  min_duration = "5s"
  clear_after = "5s"
"#,
            port = broker.port,
            repo = support::repo().display()
        ),
    )
    .unwrap();
    support::vtest();

    let sub_out = dir.path().join("sub.txt");
    let mut sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-q",
            "1",
            "-v",
            "-t",
            "wardwatch/ward7/+/events",
        ])
        .stdout(std::fs::File::create(&sub_out).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let mut app = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut offline, mut online, mut gathering) = (false, false, false);
    while Instant::now() < deadline && !(offline && online && gathering) {
        std::thread::sleep(Duration::from_millis(250));
        let text = std::fs::read_to_string(&sub_out).unwrap_or_default();
        for line in text.lines() {
            let (topic, payload) = line.split_once(' ').unwrap();
            let v: serde_json::Value = serde_json::from_str(payload).unwrap();
            support::validate_against_schema(&v);
            match (
                topic,
                v["rule"].as_str(),
                v["status"].as_str(),
                v["phase"].as_str(),
            ) {
                ("wardwatch/ward7/gate/events", Some("camera"), Some("offline"), _) => {
                    assert_eq!(v["schema"], "wardwatch.camera/1");
                    assert!(!v["reason"].as_str().unwrap().is_empty());
                    offline = true;
                }
                ("wardwatch/ward7/road/events", Some("camera"), Some("online"), _) => online = true,
                ("wardwatch/ward7/road/events", Some("gathering"), _, Some("start")) => {
                    gathering = true
                }
                _ => {}
            }
        }
    }
    // Stop the appliance like systemd would.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(app.id().to_string())
        .status();
    let status = app.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(app.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let _ = sub.kill();
    let _ = sub.wait();
    assert!(
        offline,
        "the unreachable camera was reported offline\n{stderr}"
    );
    assert!(online, "the file camera came online\n{stderr}");
    assert!(
        gathering,
        "the file camera kept running and raised a gathering\n{stderr}"
    );
    assert!(
        status.success(),
        "clean exit on SIGTERM: {status:?}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let st = support::broker::retained(broker.port, "wardwatch/ward7/status");
    assert_eq!(String::from_utf8_lossy(&st).trim(), "offline");
    let health = support::broker::retained(broker.port, "wardwatch/ward7/gate/health");
    let h: serde_json::Value = serde_json::from_slice(&health).expect("retained health");
    assert_eq!(h["status"], "offline");
}

#[test]
fn config_reload_refuses_a_bad_file_and_applies_a_good_one() {
    support::require_runtime();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ward.toml");
    let config = |camera: &str, polygon: &str| {
        format!(
            r#"[site]
name = "ward8"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps"
[[camera]]
id = "{camera}"
url = "{repo}/data/vtest.avi"
  [[camera.zone]]
  id = "road"
  polygon = {polygon}
  rules = ["gathering"]
"#,
            port = broker.port,
            repo = support::repo().display()
        )
    };
    let square = "[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]";
    std::fs::write(&cfg, config("road-a", square)).unwrap();
    support::vtest();
    let sub_out = dir.path().join("sub.txt");
    let mut sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-q",
            "1",
            "-v",
            "-t",
            "wardwatch/ward8/+/health",
        ])
        .stdout(std::fs::File::create(&sub_out).unwrap())
        .spawn()
        .unwrap();
    let err_out = dir.path().join("stderr.txt");
    let mut app = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_out).unwrap())
        .spawn()
        .unwrap();
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !f() {
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    };
    let sub_has = |s: &str| {
        std::fs::read_to_string(&sub_out)
            .unwrap_or_default()
            .contains(s)
    };
    let err_has = |s: &str| {
        std::fs::read_to_string(&err_out)
            .unwrap_or_default()
            .contains(s)
    };
    let mut result = wait_for("road-a online", &|| {
        sub_has("wardwatch/ward8/road-a/health")
    });
    if result.is_ok() {
        // A self-intersecting polygon: refused, the running config stays.
        std::fs::write(
            &cfg,
            config("road-b", "[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]"),
        )
        .unwrap();
        result = wait_for("the refusal", &|| err_has("config reload refused"));
    }
    if result.is_ok() {
        assert!(
            err_has("camera[0].zone[0].polygon: self-intersecting"),
            "the refusal names the field"
        );
        assert!(!sub_has("road-b"), "the bad config was not applied");
        std::fs::write(&cfg, config("road-b", square)).unwrap();
        let _ = Command::new("kill")
            .arg("-HUP")
            .arg(app.id().to_string())
            .status();
        result = wait_for("road-b online after the reload", &|| {
            sub_has("wardwatch/ward8/road-b/health")
        });
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(app.id().to_string())
        .status();
    let status = app.wait().unwrap();
    let _ = sub.kill();
    let _ = sub.wait();
    let stderr = std::fs::read_to_string(&err_out).unwrap_or_default();
    result.unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    assert!(stderr.contains("config reloaded: 1 camera(s)"), "{stderr}");
    assert!(status.success(), "{stderr}");
}

/// `run --log-format json`: every stderr line is one JSON object, through start-up (the
/// console address), a refused reload, an applied reload and the stop.
#[test]
fn run_with_json_logs_prints_only_json_on_stderr() {
    support::require_runtime();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ward.toml");
    let config = |polygon: &str| {
        format!(
            r#"[site]
id = "ward9"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps"
[console]
enabled = true
bind = "127.0.0.1:{web}"
token = "0123456789abcdef0123"
[[camera]]
id = "road"
url = "{repo}/data/vtest.avi"
  [[camera.zone]]
  id = "road"
  polygon = {polygon}
  rules = ["gathering"]
"#,
            port = broker.port,
            web = support::broker::free_port(),
            repo = support::repo().display()
        )
    };
    std::fs::write(
        &cfg,
        config("[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]"),
    )
    .unwrap();
    support::vtest();
    let err_out = dir.path().join("stderr.txt");
    let mut app = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["run", "--log-format", "json", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_out).unwrap())
        .spawn()
        .unwrap();
    let err = || std::fs::read_to_string(&err_out).unwrap_or_default();
    let wait_for = |what: &str, needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !err().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                err()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for("the camera online", "camera online");
    std::fs::write(
        &cfg,
        config("[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]"),
    )
    .unwrap();
    wait_for("the refusal", "config reload refused");
    std::fs::write(
        &cfg,
        config("[[0.0, 0.2], [1.0, 0.2], [1.0, 1.0], [0.0, 1.0]]"),
    )
    .unwrap();
    wait_for("the reload", "config reloaded");
    support::app::signal(app.id(), "TERM");
    let st = app.wait().unwrap();
    assert!(st.success(), "{st}");
    let text = err();
    let mut targets = std::collections::BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {line}\n{text}"));
        targets.insert(v["target"].as_str().unwrap_or("").to_string());
    }
    assert!(text.contains("web console listening"), "{text}");
    eprintln!(
        "{} JSON lines on stderr, targets {targets:?}",
        text.lines().count()
    );
}
