//! Camera credentials never leak. Two cameras whose URLs carry secrets in the userinfo
//! (one password holding `@`) and in the query string (`pwd=`, `token=`): one unreachable,
//! one a live loopback stream. `wardwatch run` at trace level, `check-config` and `zones`
//! run against them; every output channel is grepped for every secret: stdout, stderr, and
//! every MQTT payload the broker saw (a `#` subscriber).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::app::App;
use support::broker::Broker;
use support::stream::{MjpegServer, vtest_jpegs};

const SECRETS: &[&str] = &[
    "S3cr@tpart-Wx",
    "tpart-Wx",
    "QuerySecret99",
    "LivePass77",
    "Tok3nSecret42",
];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s:?} appears in {what}:\n{text}");
    }
}

#[test]
fn camera_secrets_appear_in_no_output_and_no_payload() {
    let broker = Broker::start();
    let live = MjpegServer::start(vtest_jpegs(), 10.0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("secret.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[site]
name = "secret"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps"
[runtime]
stats_every = "2s"
[[camera]]
id = "dead"
url = "http://admin:S3cr@tpart-Wx@127.0.0.1:1/video.mjpg?user=admin&pwd=QuerySecret99"
[[camera]]
id = "live"
url = "http://viewer:LivePass77@127.0.0.1:{live}/video.mjpg?token=Tok3nSecret42"
detect_fps = 2
"#,
            port = broker.port,
            live = live.port,
            repo = support::repo().display()
        ),
    )
    .unwrap();
    let sub_out = dir.path().join("all.txt");
    let mut sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
        .args(["-v", "-t", "#"])
        .stdout(std::fs::File::create(&sub_out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub runs");

    let mut app = App::spawn_env(&cfg, &[], &[("WARDWATCH_LOG", "trace")]);
    // The two come in either order (`wait_out` consumes the lines it passes over).
    let (mut dead_offline, mut live_online) = (false, false);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(dead_offline && live_online) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Some(l) = app.wait_out(&["CAMERA"], left) else {
            break;
        };
        dead_offline |= l.contains("CAMERA dead Offline");
        live_online |= l.contains("CAMERA live Online");
    }
    assert!(dead_offline, "the unreachable camera is reported offline");
    assert!(live_online, "the live camera comes online");
    app.wait_err(&["camera stats", "camera=live"], Duration::from_secs(10))
        .expect("stats lines name the cameras");
    app.stop();
    let lines = app.all_lines();
    let json = {
        let mut j = App::spawn(&cfg, &["--json"]);
        j.wait_out(&["\"camera\":\"dead\""], Duration::from_secs(30))
            .expect("the offline health document");
        j.stop();
        j.all_lines()
    };
    std::thread::sleep(Duration::from_secs(1));
    let _ = sub.kill();
    let _ = sub.wait();

    let check = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .arg("check-config")
        .arg(&cfg)
        .output()
        .unwrap();
    let zones = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["zones", "--camera", "dead", "--out"])
        .arg(dir.path().join("z.jpg"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_ne!(
        zones.status.code(),
        Some(0),
        "the dead camera gives no frame"
    );

    let payloads = std::fs::read_to_string(&sub_out).unwrap_or_default();
    assert!(
        payloads.contains("secret/dead/health"),
        "the health document was published: {payloads}"
    );
    assert!(
        lines.iter().any(|l| l.contains("***")),
        "the URL is shown, masked: {lines:#?}"
    );
    assert_clean("run's stdout and stderr (trace level)", &lines.join("\n"));
    assert_clean("run --json", &json.join("\n"));
    assert_clean("MQTT payloads", &payloads);
    assert_clean(
        "check-config stdout",
        &String::from_utf8_lossy(&check.stdout),
    );
    assert_clean(
        "check-config stderr",
        &String::from_utf8_lossy(&check.stderr),
    );
    assert_clean("zones stderr", &String::from_utf8_lossy(&zones.stderr));
    assert_clean("zones stdout", &String::from_utf8_lossy(&zones.stdout));
    println!(
        "secrets: {} lines of run output, {} bytes of MQTT payloads, check-config and zones: none of {} secrets",
        lines.len() + json.len(),
        payloads.len(),
        SECRETS.len()
    );
}
