//! The whole path for real: vtest.avi → OpenCV → NanoDet in ONNX Runtime → tracker →
//! gathering rule with a curfew schedule → debouncer → evidence JPEG → outbox → a real
//! mosquitto on a free loopback port → a real subscriber (mosquitto_sub).

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::broker::Broker;

/// config/demo.toml pointed at a test broker and a temp dir.
fn demo_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let demo = std::fs::read_to_string(support::repo().join("config/demo.toml")).unwrap();
    let text = demo
        .replace("mqtt://127.0.0.1:1883", &format!("mqtt://127.0.0.1:{port}"))
        .replace(
            "outbox_dir = \"../var/outbox\"",
            &format!("outbox_dir = \"{}\"", dir.join("outbox").display()),
        )
        .replace(
            "dir = \"../var/snapshots\"",
            &format!("dir = \"{}\"", dir.join("snapshots").display()),
        )
        .replace(
            "\"../models/",
            &format!("\"{}/models/", support::repo().display()),
        )
        .replace(
            "\"../data/",
            &format!("\"{}/data/", support::repo().display()),
        );
    let p = dir.join("demo.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Start `mosquitto_sub` on the events topics and return once it provably receives
/// (a probe message published until it shows up), so no event can be missed.
#[allow(clippy::zombie_processes)] // returned to the caller, which kills and waits
fn subscriber(port: u16, out: &Path) -> std::process::Child {
    let mut child = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            "wardwatch/replay/demo/+/events",
        ])
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub runs (apt package mosquitto-clients)");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let _ = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "wardwatch/replay/demo/probe/events",
                "-m",
                "probe",
            ])
            .status();
        if std::fs::read_to_string(out)
            .unwrap_or_default()
            .contains("probe")
        {
            return child;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mosquitto_sub did not subscribe within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Event lines received so far (probe lines left out).
fn received_lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l != "probe")
        .map(String::from)
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The snapshot's header band against the same two lines drawn by wardwatch's painter
/// (the reference) and against them with the diacritics folded away ("Tu tap 2 nguoi"):
/// OCR-free, the JPEG must agree with the reference nearly everywhere and disagree with
/// the folded text where the marks are.
fn header_is_drawn_with_diacritics(jpeg: &str, place: &str, title: &str) {
    use opencv::core::{Mat, Rect};
    use opencv::prelude::*;
    use opencv::{imgcodecs, imgproc};
    use wardwatch::publish::evidence::{DEFAULT_FONT, TextPainter, draw_header, header_height};
    use wardwatch::publish::text::fold_ascii;

    let snap = imgcodecs::imread(jpeg, imgcodecs::IMREAD_GRAYSCALE).unwrap();
    let (w, h) = (snap.cols(), header_height(snap.cols()));
    let band = Mat::roi(&snap, Rect::new(0, 0, w, h))
        .unwrap()
        .try_clone()
        .unwrap();
    let mut painter = TextPainter::new(Some(Path::new(DEFAULT_FONT)));
    assert!(
        painter.has_font(),
        "{DEFAULT_FONT} must load (scripts/setup.sh installs fonts-dejavu-core)"
    );
    let render = |painter: &mut TextPainter, lines: [&str; 2]| {
        let mut img = Mat::new_rows_cols_with_default(
            h,
            w,
            opencv::core::CV_8UC3,
            opencv::core::Scalar::all(0.0),
        )
        .unwrap();
        draw_header(&mut img, painter, lines).unwrap();
        let mut gray = Mat::default();
        imgproc::cvt_color_def(&img, &mut gray, imgproc::COLOR_BGR2GRAY).unwrap();
        gray
    };
    // Pixels where two grey images differ by more than JPEG ringing does.
    let strong = |a: &Mat, b: &Mat| -> usize {
        let (a, b) = (a.data_bytes().unwrap(), b.data_bytes().unwrap());
        a.iter()
            .zip(b)
            .filter(|(x, y)| (**x as i32 - **y as i32).abs() > 100)
            .count()
    };
    let reference = render(&mut painter, [place, title]);
    let (fp, ft) = (fold_ascii(place), fold_ascii(title));
    let folded = render(&mut painter, [&fp, &ft]);
    let ink = reference
        .data_bytes()
        .unwrap()
        .iter()
        .filter(|v| **v > 128)
        .count();
    let (off_ref, off_fold) = (strong(&band, &reference), strong(&band, &folded));
    println!(
        "snapshot header {w}x{h}: {ink} ink pixels; differs strongly from the reference in {off_ref}, from the folded text in {off_fold}"
    );
    assert!(ink > 500, "the reference header has text: {ink} ink pixels");
    assert!(
        off_ref * 20 < ink,
        "the snapshot header is the reference text: {off_ref} of {ink} ink pixels differ"
    );
    assert!(
        off_fold > 4 * off_ref + 50,
        "the diacritics are drawn: the folded text differs in {off_fold} pixels, the reference in {off_ref}"
    );
}

#[test]
fn replay_vtest_publishes_gathering_events_to_mosquitto() {
    support::require_runtime();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config(dir.path(), broker.port);

    // A real subscriber, started before the replay.
    let sub_out = dir.path().join("sub.txt");
    let mut sub = subscriber(broker.port, &sub_out);

    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "replay",
            "--json",
            "--start",
            "2026-11-26T23:00:00+07:00",
            "--config",
        ])
        .arg(&cfg)
        .arg(support::vtest())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay failed: {stderr}");
    let printed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("--json prints one JSON event per line"))
        .collect();
    assert!(
        printed.len() >= 2,
        "expected gathering events from vtest.avi, got {printed:?}\n{stderr}"
    );

    // Every printed event arrives at the subscriber.
    let deadline = Instant::now() + Duration::from_secs(20);
    let received: Vec<serde_json::Value> = loop {
        let lines: Vec<serde_json::Value> = received_lines(&sub_out)
            .iter()
            .map(|l| serde_json::from_str(l).expect("events are JSON"))
            .collect();
        if lines.len() >= printed.len() || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = sub.kill();
    let _ = sub.wait();
    let key = |e: &serde_json::Value| {
        (
            e["id"].as_str().unwrap().to_string(),
            e["seq"].as_u64().unwrap(),
        )
    };
    let mut got: Vec<_> = received.iter().map(key).collect();
    got.dedup(); // QoS 1 may repeat after a reconnect; consumers de-duplicate on (id, seq)
    let want: Vec<_> = printed.iter().map(key).collect();
    assert_eq!(
        got, want,
        "MQTT subscriber must receive every event, in order"
    );

    // Field-level checks.
    let mut starts = 0;
    for e in &received {
        support::validate_against_schema(e);
        assert_eq!(e["schema"], "wardwatch.event/1");
        assert_eq!(e["rule"], "gathering");
        assert_eq!(e["site"], "demo");
        assert_eq!(e["camera"], "campus-road");
        assert_eq!(e["zone"], "road");
        // The names the officer reads, from config/demo.toml.
        assert_eq!(e["site_name"], "Phường 7 (thử nghiệm)");
        assert_eq!(e["camera_name"], "Camera đường nội bộ");
        assert_eq!(e["zone_name"], "Đường trước nhà A");
        let local = e["time_local"].as_str().unwrap();
        assert!(
            local.starts_with("2026-11-26T23:0") && local.ends_with("+07:00"),
            "{local}"
        );
        assert!(
            e["time_utc"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-26T16:0")
        );
        assert!(e["time_utc"].as_str().unwrap().ends_with('Z'));
        let people = e["people"].as_u64().unwrap();
        assert!(e["peak_people"].as_u64().unwrap() >= people);
        assert_eq!(e["track_ids"].as_array().unwrap().len() as u64, people);
        assert!(e["duration_s"].as_f64().unwrap() >= 0.0);
        match e["phase"].as_str().unwrap() {
            "start" => {
                starts += 1;
                assert_eq!(e["seq"], 0);
                assert!(people >= 2, "demo min_people is 2: {e}");
                assert!(
                    e["duration_s"].as_f64().unwrap() >= 5.0,
                    "min_duration is 5 s: {e}"
                );
                let snap = &e["snapshot"];
                let path = snap["path"]
                    .as_str()
                    .expect("start events carry a snapshot");
                let bytes = std::fs::read(path).expect("snapshot file exists");
                assert_eq!(&bytes[..2], &[0xFF, 0xD8], "snapshot is a JPEG");
                assert_eq!(
                    snap["sha256"].as_str().unwrap(),
                    hex(&Sha256::digest(&bytes))
                );
                assert_eq!(snap["bytes"].as_u64().unwrap(), bytes.len() as u64);
                // The title in Vietnamese (the default language), and drawn so in the
                // snapshot's header, diacritics and all.
                let since = &e["started_local"].as_str().unwrap()[11..16];
                let secs = e["duration_s"].as_f64().unwrap().floor() as u64;
                let dur = if secs < 60 {
                    format!("{secs} giây")
                } else {
                    format!("{} phút", secs / 60)
                };
                let title =
                    format!("Tụ tập {people} người tại Đường trước nhà A từ {since} ({dur})");
                assert_eq!(e["title"], title.as_str());
                if starts == 1 {
                    let place = format!(
                        "Camera đường nội bộ · Đường trước nhà A · {} +07",
                        local[..19].replace('T', " ")
                    );
                    header_is_drawn_with_diacritics(path, &place, &title);
                }
            }
            "update" => assert!(e["reason"].is_string()),
            "end" => assert!(
                ["cleared", "end_of_stream"].contains(&e["reason"].as_str().unwrap()),
                "end reason: {e}"
            ),
            p => panic!("unknown phase {p}"),
        }
    }
    assert!(starts >= 1);
    // Every incident that starts also ends (the replay ends open incidents at end of stream).
    for s in received.iter().filter(|e| e["phase"] == "start") {
        assert!(
            received
                .iter()
                .any(|e| e["id"] == s["id"] && e["phase"] == "end"),
            "incident {} never ended",
            s["id"]
        );
    }

    // Retained topics: the latest snapshot (a JPEG) and the site status.
    let mut snap = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-C",
            "1",
            "-W",
            "10",
            "-t",
            "wardwatch/replay/demo/campus-road/snapshot",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut jpeg = Vec::new();
    snap.stdout.take().unwrap().read_to_end(&mut jpeg).unwrap();
    snap.wait().unwrap();
    assert!(
        jpeg.len() > 1000 && jpeg[..2] == [0xFF, 0xD8],
        "retained snapshot is a JPEG ({} bytes)",
        jpeg.len()
    );

    let state = support::broker::retained(broker.port, "wardwatch/replay/demo/campus-road/state");
    let state: serde_json::Value = serde_json::from_slice(&state).expect("retained state is JSON");
    assert_eq!(state["camera"], "campus-road");
    assert_eq!(
        state["active"].as_array().unwrap().len(),
        0,
        "nothing active after the replay ended: {state}"
    );

    // A replay never touches the site status (that is the appliance's, through its last
    // will): a tuning replay must not flap the duty desk's camera-box status.
    for topic in ["wardwatch/demo/status", "wardwatch/replay/demo/status"] {
        let status = support::broker::retained_within(broker.port, topic, 2);
        assert!(status.is_empty(), "replay published {topic}: {status:?}");
    }

    // The outbox is empty once the broker acknowledged everything.
    let left = std::fs::read_dir(dir.path().join("outbox-replay"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "msg"))
        .count();
    assert_eq!(left, 0);
}

#[test]
fn replay_with_broker_down_keeps_events_in_the_outbox_then_delivers_them() {
    support::require_runtime();
    let port = support::broker::free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config(dir.path(), port);
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "replay",
            "--json",
            "--flush-timeout",
            "1",
            "--start",
            "2026-11-26T23:00:00+07:00",
            "--config",
        ])
        .arg(&cfg)
        .arg(support::vtest())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Undelivered events are kept, and the replay says so with exit status 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let printed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(printed >= 2);
    assert!(
        stderr.contains("not yet acknowledged by the broker")
            && stderr.contains("were not acknowledged by the broker"),
        "{stderr}"
    );
    let queued = |d: &Path| {
        std::fs::read_dir(d.join("outbox-replay"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "msg"))
            .count()
    };
    assert!(queued(dir.path()) >= printed, "events wait in the outbox");

    // The broker comes back; a later run (here: replay of a 0-frame-analysed clip is not
    // needed — any run opens the outbox) delivers what is queued first.
    let broker = Broker::start_on(port);
    let sub_out = dir.path().join("sub.txt");
    let mut sub = subscriber(port, &sub_out);
    let out2 = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "replay",
            "--json",
            "--start",
            "2026-11-26T12:00:00+07:00",
            "--config",
        ])
        .arg(&cfg)
        .arg(support::vtest())
        .output()
        .unwrap();
    assert!(out2.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out2.stdout).lines().count(),
        0,
        "12:00 is outside the 22:00-05:00 curfew: no new events"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = received_lines(&sub_out).len();
        if n >= printed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} of {printed} queued events delivered after the broker returned"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = sub.kill();
    let _ = sub.wait();
    assert_eq!(queued(dir.path()), 0);
    drop(broker);
}

/// Acceptance check of the rules issue: vtest.avi replayed "at 23:30" with the production
/// defaults and both rules gives no weaving event, and no gathering either (the clip is 80 s
/// and nobody stands in a group of 3 for 60 s; the snapshots of the lowered-threshold demo
/// show the short real gatherings).
#[test]
fn vtest_at_2330_with_default_thresholds_raises_no_false_alarm() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(support::repo().join("config/vtest-defaults.toml"))
        .unwrap()
        .replace(
            "\"../var/outbox\"",
            &format!("{:?}", dir.path().join("outbox")),
        )
        .replace(
            "\"../var/snapshots\"",
            &format!("{:?}", dir.path().join("snaps")),
        )
        .replace(
            "\"../data/",
            &format!("\"{}/data/", support::repo().display()),
        );
    let text = format!(
        "[model]\npath = {:?}\n\n{text}",
        support::repo().join("models/nanodet-g-416.onnx")
    );
    let cfg = dir.path().join("vtest.toml");
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "replay",
            "--no-mqtt",
            "--json",
            "--start",
            "2026-11-26T23:30:00+07:00",
            "--config",
        ])
        .arg(&cfg)
        .arg(support::vtest())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !events.contains("\"weaving\""),
        "no weaving on a campus walkway: {events}"
    );
    assert_eq!(
        events.lines().count(),
        0,
        "no gathering with production defaults: {events}"
    );
}
