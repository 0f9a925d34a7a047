//! Beyond one box: two appliances of different sites on one broker, as a ward with many
//! camera spots runs them. Their client ids and last wills must not collide: both stay
//! connected, each one's `status` is its own, and a crash of one (SIGKILL: the broker
//! publishes its last will) leaves the other online.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::app::App;
use support::broker::{Broker, retained_within};

fn config(dir: &Path, site: &str, port: u16) -> std::path::PathBuf {
    let p = dir.join(format!("{site}.toml"));
    std::fs::write(
        &p,
        format!(
            r#"[site]
name = "{site}"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
keep_alive = "5s"
outbox_dir = "outbox-{site}"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps-{site}"
[[camera]]
id = "gate"
url = "{vtest}"
detect_fps = 2
  [[camera.zone]]
  id = "all"
  polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
  rules = ["gathering"]
"#,
            repo = support::repo().display(),
            vtest = support::vtest().display()
        ),
    )
    .unwrap();
    p
}

fn status(port: u16, site: &str) -> String {
    String::from_utf8_lossy(&retained_within(
        port,
        &format!("wardwatch/{site}/status"),
        3,
    ))
    .trim()
    .to_string()
}

fn wait_status(port: u16, site: &str, want: &str, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let s = status(port, site);
        if s == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{site} status is {s:?}, not {want:?}, after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_sites_on_one_broker_keep_their_own_sessions_and_last_wills() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let mut north = App::spawn(&config(dir.path(), "ward-north", broker.port), &[]);
    let mut south = App::spawn(&config(dir.path(), "ward-south", broker.port), &[]);
    wait_status(broker.port, "ward-north", "online", Duration::from_secs(30));
    wait_status(broker.port, "ward-south", "online", Duration::from_secs(30));
    // Both sessions stay up side by side: no client takes the other's id over.
    std::thread::sleep(Duration::from_secs(6));
    let log = broker.log();
    assert!(
        !log.contains("already connected") && !log.contains("session taken over"),
        "a client id collided:\n{log}"
    );
    for id in ["wardwatch-ward-north", "wardwatch-ward-south"] {
        assert_eq!(
            log.matches(&format!("as {id} ")).count(),
            1,
            "{id} connected exactly once:\n{log}"
        );
    }

    // North crashes: the broker publishes north's last will, south stays online.
    north.kill9();
    let will = wait_status(
        broker.port,
        "ward-north",
        "offline",
        Duration::from_secs(20),
    );
    assert_eq!(status(broker.port, "ward-south"), "online");

    let stop = south.stop();
    wait_status(broker.port, "ward-south", "offline", Duration::from_secs(5));
    println!(
        "two sites: both online side by side; north's last will after {:.1} s (keep-alive 5 s); south SIGTERM exit in {:.2} s",
        will.as_secs_f64(),
        stop.as_secs_f64()
    );
}
