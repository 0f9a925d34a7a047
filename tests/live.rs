//! `wardwatch run` against live streams on loopback (MJPEG over HTTP, decoded by OpenCV's
//! FFmpeg backend like an IP camera's stream), under real faults: a server killed and
//! restarted, a server that accepts and never sends, more cameras than the box can
//! analyse, and a stream slowed to a third of its rate.

mod support;

use std::time::{Duration, Instant};

use support::app::{App, field};
use support::broker::Broker;
use support::stream::{
    HungServer, MjpegServer, fd_targets, rss_kb, thread_names, threads_and_fds, vtest_jpegs,
};

/// The live tests measure rates and ages: run them one at a time, not beside each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A `wardwatch run` on a fresh config: site `live`, the broker on `port`, `[runtime]`
/// lines and `[[camera]]` tables as given. The temp dir lives as long as the process.
struct Appliance {
    app: App,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Appliance {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

impl Appliance {
    fn start(port: u16, runtime: &str, cameras: &str) -> Appliance {
        Self::start_with_model(port, "", runtime, cameras)
    }

    /// `model`: extra `[model]` lines (e.g. `threads = 1`).
    fn start_with_model(port: u16, model: &str, runtime: &str, cameras: &str) -> Appliance {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("ward.toml");
        std::fs::write(
            &cfg,
            format!(
                r#"[site]
name = "live"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
{model}
[evidence]
dir = "snaps"
[runtime]
{runtime}
{cameras}
"#,
                repo = support::repo().display()
            ),
        )
        .unwrap();
        Appliance {
            app: App::spawn(&cfg, &[]),
            _dir: dir,
        }
    }

    fn stop(mut self) -> Duration {
        self.app.stop()
    }
}

fn camera(id: &str, url: &str, detect_fps: f64) -> String {
    format!("[[camera]]\nid = \"{id}\"\nurl = \"{url}\"\ndetect_fps = {detect_fps}\n")
}

#[test]
fn a_killed_stream_goes_offline_and_comes_back_five_times_without_leaks() {
    let _serial = serial();
    let broker = Broker::start();
    let mut cam = MjpegServer::start(vtest_jpegs(), 10.0);
    let app = Appliance::start(
        broker.port,
        "stats_every = \"1s\"\nwatchdog = \"5s\"\nstream_timeout = \"5s\"",
        &camera("gate", &cam.url(), 5.0),
    );
    app.wait_out(&["CAMERA gate Online"], Duration::from_secs(30))
        .expect("the live camera comes online");
    let first = (0..20)
        .find_map(|_| {
            let l = app.wait_err(&["camera stats", "camera=gate"], Duration::from_secs(3));
            println!("{l:?}");
            l.filter(|l| field(l, "analysed_fps").is_some_and(|f| f >= 3.0))
        })
        .expect("frames are analysed at detect_fps");
    println!("{first}");
    // One warm-up cycle first: the first reconnect starts threads that then stay for good
    // (the async runtime's pool), which is not a leak.
    cam.kill();
    app.wait_out(&["CAMERA gate Offline"], Duration::from_secs(15))
        .expect("offline after the warm-up kill");
    cam.restart();
    app.wait_out(&["CAMERA gate Online"], Duration::from_secs(40))
        .expect("online after the warm-up restart");
    // Let the warm-up's reconnect settle before counting.
    std::thread::sleep(Duration::from_secs(4));
    let before = threads_and_fds(app.pid());
    let names_before = thread_names(app.pid());
    for round in 1..=5 {
        cam.kill();
        let t0 = Instant::now();
        let line = app
            .wait_out(&["CAMERA gate Offline"], Duration::from_secs(15))
            .unwrap_or_else(|| panic!("round {round}: no offline after the server died"));
        let offline_after = t0.elapsed();
        // The retained health document follows through the outbox.
        let deadline = Instant::now() + Duration::from_secs(10);
        let health = loop {
            let h = support::broker::retained(broker.port, "wardwatch/live/gate/health");
            let h: serde_json::Value = serde_json::from_slice(&h).unwrap();
            if h["status"] == "offline" || Instant::now() > deadline {
                break h;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(health["status"], "offline", "round {round}: {health}");
        support::validate_against_schema(&health);
        cam.restart();
        let t1 = Instant::now();
        app.wait_out(&["CAMERA gate Online"], Duration::from_secs(40))
            .unwrap_or_else(|| panic!("round {round}: not back online"));
        let online_after = t1.elapsed();
        // Analysis resumes: a stats line with frames analysed after the return.
        let stats = (0..10)
            .find_map(|_| {
                app.wait_err(&["camera stats", "camera=gate"], Duration::from_secs(3))
                    .filter(|l| field(l, "analysed_fps").is_some_and(|f| f > 0.0))
            })
            .unwrap_or_else(|| panic!("round {round}: analysis did not resume"));
        println!(
            "round {round}: offline {:.2} s after the kill ({line}), online {:.2} s after the restart, {stats}",
            offline_after.as_secs_f64(),
            online_after.as_secs_f64()
        );
    }
    // Give a thread that is ending (the old capture) up to 15 s to be gone.
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = threads_and_fds(app.pid());
        if now == before || Instant::now() > deadline {
            break now;
        }
    };
    println!("threads, fds before: {before:?}, after 5 cycles: {after:?}");
    assert_eq!(
        before,
        after,
        "threads and fds are equal before and after 5 cycles; threads before {names_before:?}, after {:?}; fds after {:?}",
        thread_names(app.pid()),
        fd_targets(app.pid())
    );
    let stopped = app.stop();
    println!("SIGTERM → exit in {:.2} s", stopped.as_secs_f64());
    assert!(stopped < Duration::from_secs(5));
    let status = support::broker::retained(broker.port, "wardwatch/live/status");
    assert_eq!(String::from_utf8_lossy(&status).trim(), "offline");
}

#[test]
fn a_hung_stream_goes_offline_within_10_s_while_another_camera_alerts() {
    let _serial = serial();
    let broker = Broker::start();
    let hung = HungServer::start();
    let good = MjpegServer::start(vtest_jpegs(), 10.0);
    let zone = r#"  [[camera.zone]]
  id = "road"
  polygon = [[0.0, 0.25], [0.80, 0.17], [1.0, 0.17], [1.0, 0.80], [0.0, 0.55]]
  rules = ["gathering"]
  schedule = "always"
  [camera.zone.gathering]
  min_people = 2
  min_duration = "5s"
  clear_after = "5s"
"#;
    let t0 = Instant::now();
    let app = Appliance::start(
        broker.port,
        "stats_every = \"5s\"",
        &format!(
            "{}{}{zone}",
            camera("hung", &hung.url(), 5.0),
            camera("road", &good.url(), 5.0)
        ),
    );
    let offline = app
        .wait_out(&["CAMERA hung Offline"], Duration::from_secs(20))
        .expect("the hung camera is reported offline");
    let after = t0.elapsed();
    println!(
        "hung camera offline {:.2} s after start: {offline}",
        after.as_secs_f64()
    );
    assert!(after < Duration::from_secs(10), "offline took {after:?}");
    let start = app
        .wait_out(
            &["START", "gathering", "road/road"],
            Duration::from_secs(90),
        )
        .expect("the working camera keeps raising its gathering");
    println!("{start}");
    app.stop();
}

#[test]
fn overload_keeps_the_analysed_frame_fresh_and_memory_flat() {
    let _serial = serial();
    // Five 10 fps cameras analysed at 10 fps: 50 inferences a second. The detector gets one
    // thread (25-30 ms a frame here, so 33-40 frames/s), the other core decodes: demand is
    // 1.25-1.5 times what the box does, whether the box is quiet or busy. Latest frame
    // wins: frames are dropped, never queued.
    let broker = Broker::start();
    let servers: Vec<MjpegServer> = (0..5)
        .map(|_| MjpegServer::start(vtest_jpegs(), 10.0))
        .collect();
    let cams: String = servers
        .iter()
        .enumerate()
        .map(|(i, s)| camera(&format!("cam{i}"), &s.url(), 10.0))
        .collect();
    let app =
        Appliance::start_with_model(broker.port, "threads = 1", "stats_every = \"5s\"", &cams);
    let mut online = std::collections::BTreeSet::new();
    while online.len() < 5 {
        let l = app
            .wait_out(&["CAMERA", "Online"], Duration::from_secs(30))
            .unwrap_or_else(|| panic!("every camera comes online; online: {online:?}"));
        online.insert(l.split_whitespace().nth(3).unwrap_or("").to_string());
    }
    std::thread::sleep(Duration::from_secs(10)); // warm-up
    let rss0 = rss_kb(app.pid());
    let (mut ages, mut dropped, mut analysed) = (Vec::new(), 0.0, 0.0);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(40) {
        if let Some(l) = app.wait_err(&["camera stats"], Duration::from_secs(10)) {
            ages.push(field(&l, "age_p95_ms").unwrap_or(f64::NAN));
            dropped += field(&l, "dropped").unwrap_or(0.0);
            analysed += field(&l, "analysed_fps").unwrap_or(0.0);
        }
    }
    let rss1 = rss_kb(app.pid());
    let worst = ages.iter().cloned().fold(0.0, f64::max);
    println!(
        "overload: {} stats lines, analysed {:.1} frames/s per camera on average, {dropped} frames dropped, age p95 per camera per 5 s: {ages:?} (worst {worst:.0} ms); RSS {rss0} kB → {rss1} kB",
        ages.len(),
        analysed / ages.len().max(1) as f64
    );
    assert!(ages.len() >= 20, "stats lines came: {}", ages.len());
    assert!(
        dropped > 0.0,
        "demand exceeds the box, so frames are dropped"
    );
    // Freshness, not speed: a queue at 1.25-1.5 times the box's rate would age frames by
    // seconds within the 40 s. A single 5 s window may spike on this shared machine (one
    // reached 212 ms in CI while a build ran), so the typical window is held to two
    // detection periods and every window to well under what a backlog would reach.
    let mut sorted: Vec<f64> = ages.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!(
        ages.iter().all(|a| a.is_finite() && *a < 1000.0),
        "no window's age p95 reaches a second (a backlog would): {ages:?}"
    );
    assert!(
        median < 200.0,
        "the median window's age p95 stays under two detection periods (200 ms): {median} of {ages:?}"
    );
    assert!(
        (rss1 as f64) < rss0 as f64 * 1.10,
        "memory flat: {rss0} → {rss1} kB"
    );
    app.stop();
}

#[test]
fn health_never_flaps_at_25_fps_and_a_slowed_stream_degrades_once() {
    let _serial = serial();
    let broker = Broker::start();
    let cam = MjpegServer::start(vtest_jpegs(), 25.0);
    let app = Appliance::start(
        broker.port,
        "stats_every = \"10s\"",
        &camera("cam", &cam.url(), 5.0),
    );
    app.wait_out(&["CAMERA cam Online"], Duration::from_secs(30))
        .expect("online");
    // Two minutes at 25 fps, analysed at 5 fps: no degraded event at all.
    let flap = app.wait_out(&["CAMERA cam"], Duration::from_secs(120));
    assert_eq!(
        flap, None,
        "no health change in 2 minutes of a normal stream"
    );
    // A third of the rate: exactly one degraded, then exactly one recovery.
    cam.set_fps(25.0 / 3.0);
    let degraded = app
        .wait_out(&["CAMERA cam"], Duration::from_secs(40))
        .expect("the slowed stream is reported");
    assert!(degraded.contains("Degraded low_fps"), "{degraded}");
    assert_eq!(
        app.wait_out(&["CAMERA cam"], Duration::from_secs(15)),
        None,
        "one event only"
    );
    cam.set_fps(25.0);
    let recovered = app
        .wait_out(&["CAMERA cam"], Duration::from_secs(40))
        .expect("recovery is reported");
    assert!(recovered.contains("Online recovered"), "{recovered}");
    assert_eq!(
        app.wait_out(&["CAMERA cam"], Duration::from_secs(15)),
        None,
        "one recovery only"
    );
    println!("{degraded}\n{recovered}");
    app.stop();
}
