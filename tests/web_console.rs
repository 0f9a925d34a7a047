//! The web console for real: `wardwatch run` with `[console]` on, vtest.avi played in real
//! time as the camera, the real broker, and Debian's chromium driven by playwright-core
//! (tests/browser/console.mjs). The officer's page shows the gathering within 1 s of its
//! MQTT event, rings, and is acknowledged; the integrator moves a zone vertex, the save is
//! validated, written to the config and reloaded for that camera, and a broken polygon is
//! refused with the field named. `/metrics` is checked on the same process.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::app::App;
use support::broker::{Broker, free_port};

const TOKEN: &str = "test-console-token-0123456789";

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn http_get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

/// Value of the sample `name` (exact series text, labels included) in a metrics page.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[test]
fn officer_sees_the_alert_within_a_second_and_the_integrator_edits_a_zone() {
    support::require_runtime();
    let repo = support::repo();
    let node_modules = repo.join("tests/browser/node_modules/playwright-core");
    assert!(
        node_modules.is_dir(),
        "playwright-core is not installed in tests/browser: run `make setup` (npm ci --prefix tests/browser)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "Debian's chromium is not installed: run `make setup`"
    );
    support::vtest();
    let broker = Broker::start();
    let web_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ward.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[site]
id = "phuong-7"
name = "Phường 7"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps"
[console]
enabled = true
bind = "127.0.0.1:{web_port}"
token = "{TOKEN}"

[[camera]]
id = "road"
name = "Camera đường nội bộ"
url = "{repo}/data/vtest.avi"
  [[camera.zone]]
  id = "road"
  name = "Đường trước nhà A"
  polygon = [[0.0, 0.25], [0.80, 0.17], [1.0, 0.17], [1.0, 0.80], [0.0, 0.55]]
  rules = ["gathering"]
  schedule = "always"
  [camera.zone.gathering]
  min_people = 2
  min_duration = "5s"
  clear_after = "5s"
"#,
            port = broker.port,
            repo = repo.display()
        ),
    )
    .unwrap();

    // Every event as the duty desk's MQTT client receives it, stamped on arrival.
    let mut sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
        .args(["-q", "1", "-t", "wardwatch/phuong-7/+/events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let received: Arc<Mutex<Vec<(u64, serde_json::Value)>>> = Arc::default();
    {
        let out = sub.stdout.take().unwrap();
        let received = received.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&l) {
                    received.lock().unwrap().push((epoch_ms(), v));
                }
            }
        });
    }
    std::thread::sleep(Duration::from_millis(300));

    let mut app = App::spawn(&cfg, &[]);
    assert!(
        app.wait_err(&["web console"], Duration::from_secs(30))
            .is_some(),
        "the console did not start: {:?}",
        app.all_lines()
    );
    // Nothing without the token.
    assert_eq!(http_get(web_port, "/api/state", None).0, 401);
    assert_eq!(http_get(web_port, "/metrics", Some("wrong")).0, 401);
    assert_eq!(
        http_get(web_port, "/", None).0,
        200,
        "the page itself holds no data"
    );

    let shots = repo.join("target/web-console");
    std::fs::create_dir_all(&shots).unwrap();
    let browser = Command::new("node")
        .arg(repo.join("tests/browser/console.mjs"))
        .env("WW_URL", format!("http://127.0.0.1:{web_port}"))
        .env("WW_TOKEN", TOKEN)
        .env("WW_CAMERA", "road")
        .env("WW_OUT", &shots)
        .stderr(Stdio::inherit())
        .output()
        .expect("node runs");
    let steps: Vec<serde_json::Value> = String::from_utf8_lossy(&browser.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for s in &steps {
        eprintln!("browser: {s}");
    }
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("browser step {name} missing; steps: {steps:?}"))
            .clone()
    };
    assert!(browser.status.success(), "browser run failed: {steps:?}");

    assert_eq!(step("login_prompt")["main_hidden"], true);
    assert!(
        !step("ready")["address"].as_str().unwrap().contains("token"),
        "the token is removed from the address bar"
    );
    assert_eq!(step("live_frame")["badge"], "Hoạt động");

    // The alert: the same incident as the MQTT start event, on the page within 1 s of it.
    let alert = step("alert");
    let id = alert["id"].as_str().unwrap().to_string();
    let start = received
        .lock()
        .unwrap()
        .iter()
        .find(|(_, v)| v["id"] == id.as_str() && v["phase"] == "start")
        .cloned()
        .unwrap_or_else(|| panic!("no MQTT start event for {id}"));
    let shown = alert["shown_ms"].as_u64().unwrap();
    let lag = shown as i64 - start.0 as i64;
    eprintln!(
        "alert {id}: MQTT start received at {}, shown on the page at {shown}: page − MQTT = {lag} ms",
        start.0
    );
    assert!(
        lag < 1000,
        "the page showed the alert {lag} ms after its MQTT event"
    );
    assert!(alert["alarms"].as_u64().unwrap() >= 1, "the alarm rang");
    assert!(
        alert["title"].as_str().unwrap().starts_with("Tụ tập"),
        "{alert}"
    );
    assert_eq!(
        alert["snapshot_loaded"], true,
        "the alert's snapshot loads from /evidence"
    );
    // The event carries the evidence URL, and it serves the JPEG the event hashes.
    let snap = &start.1["snapshot"];
    let url = snap["url"].as_str().expect("snapshot.url in the event");
    let path = url
        .strip_prefix(&format!("http://127.0.0.1:{web_port}"))
        .unwrap_or_else(|| panic!("{url} is not on the console"));
    assert_eq!(http_get(web_port, path, None).0, 401);
    let (code, _) = http_get(web_port, path, Some(TOKEN));
    assert_eq!(code, 200, "{url}");
    assert_eq!(
        http_get(web_port, "/evidence/road/..%2Fward.toml", Some(TOKEN)).0,
        404
    );
    step("acked");

    // The zone edit reached the file, was reloaded for the camera, and the broken one was not.
    let saved = step("zone_saved");
    assert_eq!(saved["ok"], true, "{saved}");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let doc: toml::Value = toml::from_str(&text).unwrap();
    let p0 = &doc["camera"][0]["zone"][0]["polygon"][0];
    let (x, y) = (p0[0].as_float().unwrap(), p0[1].as_float().unwrap());
    assert!(
        (x - 0.05).abs() < 0.02 && (y - 0.35).abs() < 0.02,
        "first vertex moved to ({x}, {y})"
    );
    assert!(
        text.contains("name = \"Đường trước nhà A\""),
        "the rest stays"
    );
    assert!(
        app.wait_err(
            &["config reloaded", "1 with new zones"],
            Duration::from_secs(10)
        )
        .is_some(),
        "the camera was reloaded: {:?}",
        app.all_lines()
    );
    let refused = step("zone_refused");
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("camera[0].zone[0].polygon: needs at least 3 points"),
        "{refused}"
    );
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        text,
        "refused: file unchanged"
    );
    // The integrator added a zone on the live frame: saved under this camera with its name,
    // rules and schedule, and the running appliance reloaded it (the page got it back);
    // then deleted it, and the file is as it was before the addition.
    let added = step("zone_added");
    assert_eq!(added["ok"], true, "{added}");
    let live = step("zone_added_live");
    assert!(
        live["options"].to_string().contains("Chợ đêm (cho-dem)"),
        "{live}"
    );
    let removed = step("zone_removed");
    assert_eq!(removed["ok"], true, "{removed}");
    assert!(
        !step("zone_removed_live")["options"]
            .to_string()
            .contains("cho-dem")
    );
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert!(!after.contains("cho-dem"), "{after}");
    let doc_after: toml::Value = toml::from_str(&after).unwrap();
    assert_eq!(doc_after["camera"][0]["zone"], doc["camera"][0]["zone"]);
    let log = app.all_lines().join("\n");
    assert!(
        log.contains("added cho-dem") && log.contains("removed cho-dem"),
        "the zone editor's saves are logged: {log}"
    );
    assert_eq!(step("done")["page_errors"], serde_json::json!([]));

    // /metrics on the same appliance.
    let (code, m) = http_get(web_port, "/metrics", Some(TOKEN));
    assert_eq!(code, 200);
    eprintln!(
        "{}",
        m.lines()
            .filter(|l| !l.contains("_bucket"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        sample(&m, "wardwatch_camera_up{camera=\"road\"}"),
        Some(1.0)
    );
    let analysed = sample(
        &m,
        "wardwatch_frames_total{camera=\"road\",kind=\"analysed\"}",
    )
    .unwrap();
    let decoded = sample(
        &m,
        "wardwatch_frames_total{camera=\"road\",kind=\"decoded\"}",
    )
    .unwrap();
    assert!(
        analysed > 20.0 && decoded >= analysed,
        "{analysed} {decoded}"
    );
    assert!(sample(&m, "wardwatch_camera_fps{camera=\"road\"}").unwrap() > 0.0);
    assert!(
        sample(
            &m,
            "wardwatch_events_total{rule=\"gathering\",phase=\"start\"}"
        )
        .unwrap()
            >= 1.0
    );
    for stage in ["prepare", "inference", "decode", "analytics"] {
        let n = sample(
            &m,
            &format!("wardwatch_stage_seconds_count{{stage=\"{stage}\"}}"),
        )
        .unwrap();
        assert!(n > 0.0, "stage {stage} observed");
        let inf = sample(
            &m,
            &format!("wardwatch_stage_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}}"),
        )
        .unwrap();
        assert_eq!(inf, n, "the +Inf bucket holds every observation");
    }
    assert!(sample(&m, "wardwatch_publish_latency_seconds_count").unwrap() >= 1.0);
    assert!(sample(&m, "wardwatch_frame_age_seconds_count").unwrap() > 0.0);
    assert!(sample(&m, "wardwatch_outbox_messages").is_some());

    app.stop();
    let _ = sub.kill();
    let _ = sub.wait();
}
