//! Soak: `wardwatch run` with 4 looped file cameras and 1 live MJPEG stream, raising real
//! gathering events through a real broker, for `WARDWATCH_SOAK_SECS` (default 150 s under
//! `make test`; the long soak is `WARDWATCH_SOAK_SECS=1200 cargo test --release --test
//! soak -- --nocapture`). Every 30 s it prints RSS, threads, fds, outbox and snapshot
//! sizes. After a 60 s warm-up, resident memory must stay within 5 % of the warm-up figure;
//! threads and fds within 5 % or 2, whichever is larger; the outbox must not grow
//! (the broker is up) and the snapshot store must stay within its configured bounds.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::app::App;
use support::broker::Broker;
use support::stream::{MjpegServer, rss_kb, threads_and_fds, vtest_jpegs};

const MAX_SNAPSHOTS: usize = 12;

fn camera(id: &str, url: &str) -> String {
    format!(
        r#"[[camera]]
id = "{id}"
url = "{url}"
detect_fps = 2
  [[camera.zone]]
  id = "road"
  polygon = [[0.0, 0.25], [0.80, 0.17], [1.0, 0.17], [1.0, 0.80], [0.0, 0.55]]
  rules = ["gathering"]
  schedule = "always"
  [camera.zone.gathering]
  min_people = 2
  min_duration = "3s"
  clear_after = "3s"
  update_every = "20s"
  cooldown = "3s"
"#
    )
}

/// (files, bytes) under `dir`, recursively.
fn du(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    for e in rd.filter_map(|e| e.ok()) {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            let (f, b) = du(&e.path());
            files += f;
            bytes += b;
        } else {
            files += 1;
            bytes += m.len();
        }
    }
    (files, bytes)
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_s: u64,
    rss_kb: u64,
    threads: usize,
    fds: usize,
    outbox_msgs: usize,
    snapshots: usize,
    snapshot_kb: u64,
}

#[test]
fn five_cameras_for_minutes_keep_memory_threads_fds_and_disk_flat() {
    let secs: u64 = std::env::var("WARDWATCH_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    assert!(
        secs >= 120,
        "WARDWATCH_SOAK_SECS={secs}: a soak shorter than 2 minutes proves nothing"
    );
    let broker = Broker::start();
    let live = MjpegServer::start(vtest_jpegs(), 10.0);
    let dir = tempfile::tempdir().unwrap();
    let vtest = support::vtest();
    let mut cams = String::new();
    for i in 1..=4 {
        cams.push_str(&camera(&format!("file{i}"), &vtest.display().to_string()));
    }
    cams.push_str(&camera("live", &live.url()));
    let cfg = dir.path().join("soak.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[site]
name = "soak"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps"
max_files = {MAX_SNAPSHOTS}
[runtime]
stats_every = "30s"
{cams}"#,
            port = broker.port,
            repo = support::repo().display(),
        ),
    )
    .unwrap();
    let mut app = App::spawn(&cfg, &["--json"]);
    let pid = app.pid();
    let t0 = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    println!("  t_s   rss_kB threads fds outbox_msgs snapshots snapshot_kB events");
    let mut next = 30;
    while next <= secs {
        std::thread::sleep(Duration::from_secs(next).saturating_sub(t0.elapsed()));
        assert!(
            app.wait_exit(Duration::ZERO).is_none(),
            "run exited during the soak: {:#?}",
            app.all_lines()
        );
        let (threads, fds) = threads_and_fds(pid);
        let outbox_msgs = std::fs::read_dir(dir.path().join("outbox"))
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "msg"))
                    .count()
            })
            .unwrap_or(0);
        let (snapshots, snap_bytes) = du(&dir.path().join("snaps"));
        let s = Sample {
            at_s: next,
            rss_kb: rss_kb(pid),
            threads,
            fds,
            outbox_msgs,
            snapshots,
            snapshot_kb: snap_bytes / 1024,
        };
        let events = app
            .all_lines()
            .iter()
            .filter(|l| l.contains("\"schema\":\"wardwatch.event/"))
            .count();
        println!(
            "{:5} {:8} {:7} {:3} {:11} {:9} {:11} {:6}",
            s.at_s, s.rss_kb, s.threads, s.fds, s.outbox_msgs, s.snapshots, s.snapshot_kb, events
        );
        samples.push(s);
        next += 30;
    }
    let stop = app.stop();
    let lines = app.all_lines();
    let events = lines
        .iter()
        .filter(|l| l.contains("\"schema\":\"wardwatch.event/"))
        .count();
    let offline = lines
        .iter()
        .filter(|l| l.contains("CAMERA") && l.contains("Offline"))
        .count();
    println!(
        "{events} events, {offline} offline reports, SIGTERM exit in {:.2} s",
        stop.as_secs_f64()
    );

    let base = *samples
        .iter()
        .find(|s| s.at_s >= 60)
        .expect("a sample after warm-up");
    let tol = |b: usize| (b as f64 * 0.05).max(2.0);
    for s in samples.iter().filter(|s| s.at_s > base.at_s) {
        assert!(
            (s.rss_kb as f64) <= base.rss_kb as f64 * 1.05,
            "RSS grew more than 5 % after warm-up: {base:?} → {s:?}"
        );
        assert!(
            (s.threads as f64) <= base.threads as f64 + tol(base.threads),
            "threads grew: {base:?} → {s:?}"
        );
        assert!(
            (s.fds as f64) <= base.fds as f64 + tol(base.fds),
            "fds grew: {base:?} → {s:?}"
        );
        assert!(
            s.outbox_msgs <= base.outbox_msgs.max(5),
            "the outbox grows although the broker is up: {base:?} → {s:?}"
        );
    }
    for s in &samples {
        // Snapshots are kept per camera directory with the bound applying to the store.
        assert!(
            s.snapshots <= MAX_SNAPSHOTS,
            "more snapshots than [evidence] max_files: {s:?}"
        );
    }
    assert!(events >= 5, "the soak raised real events: {events}");
    assert_eq!(offline, 0, "no camera went offline during the soak");
    assert!(stop < Duration::from_secs(5));
}
