//! Home Assistant MQTT discovery against a real Home Assistant (2024.3.3 from PyPI in
//! `.venv-ha`, installed by `make setup`; harness in tools/homeassistant/ha_check.py).
//!
//! `wardwatch run` plays vtest.avi on one camera (a gathering fires) beside a camera that
//! cannot be reached, against a real mosquitto. Once the gathering has started, a headless
//! Home Assistant with a fresh config dir is started on free ports, onboarded and connected
//! to the same broker, and the entities it made out of the retained discovery configs are
//! read back through its API:
//!
//! - all 11 entities exist under the ids Home Assistant derives from the Vietnamese names,
//!   on two devices named after the cameras;
//! - gathering `on` with the incident's title as attribute, weaving `off`, people ≥ 1;
//!   the unreachable camera's connectivity `off` / status `offline`, the other `on` /
//!   `online`; the image entity has a state and its picture downloads as a JPEG;
//! - Home Assistant logs no MQTT, template or discovery warning or error;
//! - SIGTERM to wardwatch: every entity becomes `unavailable`;
//! - wardwatch restarted with discovery off: every entity and device is gone.
//!
//! Home Assistant is always stopped at the end, also when an assertion fails (`Ha`'s Drop).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::app::App;
use support::broker::{Broker, free_port};

fn config(port: u16, dead_port: u16, ha: bool) -> String {
    support::ha::config(port, dead_port, ha, r#"["gathering", "weaving"]"#)
}

const GATHERING: &str = "binary_sensor.camera_duong_noi_bo_tu_tap_duong_truoc_nha_a";
const WEAVING: &str = "binary_sensor.camera_duong_noi_bo_lang_lach_duong_truoc_nha_a";
const PEOPLE: &str = "sensor.camera_duong_noi_bo_so_nguoi_duong_truoc_nha_a";
const ROAD_IMAGE: &str = "image.camera_duong_noi_bo_anh_canh_bao";
const ROAD_CONN: &str = "binary_sensor.camera_duong_noi_bo_ket_noi";
const ROAD_STATUS: &str = "sensor.camera_duong_noi_bo_tinh_trang";
const DOOR_LOITERING: &str = "binary_sensor.cong_cho_lang_vang_door";
const DOOR_PEOPLE: &str = "sensor.cong_cho_so_nguoi_door";
const GATE_IMAGE: &str = "image.cong_cho_anh_canh_bao";
const GATE_CONN: &str = "binary_sensor.cong_cho_ket_noi";
const GATE_STATUS: &str = "sensor.cong_cho_tinh_trang";

const ALL: [&str; 11] = [
    GATHERING,
    WEAVING,
    PEOPLE,
    ROAD_IMAGE,
    ROAD_CONN,
    ROAD_STATUS,
    DOOR_LOITERING,
    DOOR_PEOPLE,
    GATE_IMAGE,
    GATE_CONN,
    GATE_STATUS,
];

/// A Home Assistant run by tools/homeassistant/ha_check.py in a fresh temp config dir on a
/// free port. Dropping it stops Home Assistant (SIGTERM, then SIGKILL after 30 s).
struct Ha {
    python: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    broker_port: u16,
}

impl Ha {
    fn new(broker_port: u16) -> Ha {
        let python = support::repo().join(".venv-ha/bin/python");
        let ok = python.is_file()
            && Command::new(&python)
                .args([
                    "-c",
                    "import homeassistant.const as c; assert c.__version__ == '2024.3.3'",
                ])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "{} has no Home Assistant 2024.3.3: run `make setup` (it installs \
             tools/homeassistant/requirements.txt into .venv-ha)",
            python.display()
        );
        Ha {
            python,
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            broker_port,
        }
    }

    /// Runs ha_check.py with `args` (starting Home Assistant unless `--no-start` is among
    /// them); its JSON. Panics with its output when it fails or a wait is not met.
    fn check(&self, args: &[String]) -> Value {
        let t0 = Instant::now();
        let out = Command::new(&self.python)
            .arg(support::repo().join("tools/homeassistant/ha_check.py"))
            .arg("--config-dir")
            .arg(self.dir.path())
            .args(["--ha-port", &self.port.to_string()])
            .args(["--broker-port", &self.broker_port.to_string()])
            .args(args)
            .output()
            .expect("ha_check.py runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprint!("{stderr}");
        eprintln!("ha_check.py {args:?}: {:.1} s", t0.elapsed().as_secs_f64());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ha_check.py {args:?} failed ({}):\n{stderr}\n{stdout}\nHome Assistant's log: {}",
            out.status,
            self.dir.path().join("home-assistant.log").display()
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("ha_check.py JSON ({e}): {stdout}"))
    }

    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("hass.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// Whether `pid` still runs (a zombie counts as gone).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().to_string()))
        .is_some_and(|r| !r.starts_with('Z'))
}

impl Drop for Ha {
    fn drop(&mut self) {
        let Some(pid) = self.pid() else { return };
        if !running(pid) {
            return;
        }
        support::app::signal(pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        while running(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if running(pid) {
            eprintln!("Home Assistant (pid {pid}) ignored SIGTERM for 30 s: SIGKILL");
            support::app::signal(pid, "KILL");
        }
    }
}

fn waits(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(e, s)| ["--wait-state".to_string(), format!("{e}={s}")])
        .collect()
}

fn entities(v: &Value) -> BTreeMap<String, Value> {
    v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["entity_id"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

/// Home Assistant logged nothing about MQTT, templates or discovery at WARNING or above,
/// nor an INFO hint of mqtt.mixins (such as a device without a name) other than the
/// routine "Removing component: <entity>" of a removal.
fn assert_clean_log(v: &Value, when: &str) {
    let log: Vec<&Value> = v["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["level"] != "INFO"
                || !r["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("] Removing component: ")
        })
        .collect();
    assert!(
        log.is_empty(),
        "Home Assistant logged MQTT problems {when}:\n{}",
        log.iter()
            .map(|r| r["text"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_real_home_assistant_shows_the_cameras_and_drops_them() {
    support::require_runtime();
    support::vtest();
    let t0 = Instant::now();
    let broker = Broker::start();
    let ha = Ha::new(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let dead_port = free_port();
    let cfg = dir.path().join("ward.toml");
    std::fs::write(&cfg, config(broker.port, dead_port, true)).unwrap();

    let mut app = App::spawn(&cfg, &[]);
    let start = app
        .wait_out(
            &["START", "gathering", "road/road"],
            Duration::from_secs(90),
        )
        .expect("the gathering on vtest starts");
    eprintln!("{start}  (+{:.1} s)", t0.elapsed().as_secs_f64());

    // 1. Home Assistant, started now, builds every entity from the retained configs.
    let mut args = waits(&[
        (GATHERING, "on"),
        (WEAVING, "off"),
        (DOOR_LOITERING, "off"),
        (ROAD_CONN, "on"),
        (ROAD_STATUS, "online"),
        (GATE_CONN, "off"),
        (GATE_STATUS, "offline"),
        (DOOR_PEOPLE, "0"),
    ]);
    args.extend(["--timeout".into(), "180".into()]);
    let v = ha.check(&args);
    assert_eq!(v["ha_version"], "2024.3.3");
    assert_eq!(v["mqtt_entry_state"], serde_json::json!(["loaded"]));
    let ents = entities(&v);
    let ids: BTreeSet<&str> = ents.keys().map(String::as_str).collect();
    assert_eq!(ids, ALL.into_iter().collect(), "the mqtt entities");
    let gathering = &ents[GATHERING];
    let title = gathering["attributes"]["title"]
        .as_str()
        .unwrap_or_default();
    assert!(title.starts_with("Tụ tập"), "{gathering}");
    assert_eq!(gathering["attributes"]["rule"], "gathering", "{gathering}");
    assert_eq!(gathering["device"], "Camera đường nội bộ");
    let people: f64 = ents[PEOPLE]["state"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("people is a number: {}", ents[PEOPLE]));
    assert!(people >= 1.0, "{}", ents[PEOPLE]);
    // The image entity's state is when it got the retained alert snapshot; its picture is
    // that JPEG, served by Home Assistant.
    let image = &ents[ROAD_IMAGE];
    let stamp = image["state"].as_str().unwrap_or_default();
    assert!(
        stamp.len() >= 19 && stamp.as_bytes()[4] == b'-' && stamp.as_bytes()[10] == b'T',
        "the image entity has a timestamp state: {image}"
    );
    let fetch = &image["image_fetch"];
    assert_eq!(fetch["status"], 200, "{image}");
    assert_eq!(fetch["content_type"], "image/jpeg", "{image}");
    assert_eq!(fetch["starts_with_ffd8"], true, "{image}");
    assert!(fetch["bytes"].as_u64().unwrap() > 1000, "{image}");
    for e in ALL {
        let device = if e.contains("cong_cho") {
            "Cổng chợ"
        } else {
            "Camera đường nội bộ"
        };
        assert_eq!(ents[e]["device"], device, "{e}");
    }
    let devices: BTreeSet<&str> = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        devices,
        BTreeSet::from(["Cổng chợ", "Camera đường nội bộ"]),
        "{}",
        v["devices"]
    );
    for d in v["devices"].as_array().unwrap() {
        assert_eq!(d["manufacturer"], "wardwatch", "{d}");
    }
    assert_clean_log(&v, "while building the entities");
    eprintln!(
        "Home Assistant shows all 11 entities (+{:.1} s)",
        t0.elapsed().as_secs_f64()
    );

    // 2. SIGTERM: the site's status goes offline, every entity unavailable.
    app.stop();
    let gone: Vec<(&str, &str)> = ALL.iter().map(|e| (*e, "unavailable")).collect();
    let mut args = waits(&gone);
    args.extend(["--no-start".into(), "--timeout".into(), "60".into()]);
    let v = ha.check(&args);
    assert_eq!(entities(&v).len(), ALL.len());
    assert_clean_log(&v, "after wardwatch stopped");

    // 3. Restarted with discovery off: every entity it announced before is removed.
    std::fs::write(&cfg, config(broker.port, dead_port, false)).unwrap();
    let mut app = App::spawn(&cfg, &[]);
    let mut args: Vec<String> = ALL
        .iter()
        .flat_map(|e| ["--wait-absent".to_string(), e.to_string()])
        .collect();
    args.extend(["--no-start".into(), "--timeout".into(), "60".into()]);
    let v = ha.check(&args);
    assert!(
        entities(&v).is_empty(),
        "entities left: {:?}",
        entities(&v).keys()
    );
    assert!(
        v["devices"].as_array().unwrap().is_empty(),
        "devices left: {}",
        v["devices"]
    );
    assert_clean_log(&v, "after the entities were removed");
    app.stop();
    drop(ha);
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
}
