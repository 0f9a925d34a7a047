//! Config validation: every problem reported at once, each with file, line, field, value
//! and what is allowed. Checked against the exact text.

mod support;

use std::path::Path;
use std::process::Command;

use wardwatch::config::Config;

/// A valid config; tests replace one line at a time. Paths are relative to the repo's
/// config/ directory, as for the shipped configs.
fn base() -> String {
    r#"[site]
name = "ward-7"
timezone = "Asia/Ho_Chi_Minh"

[model]
path = "../models/nanodet-g-416.onnx"

[[camera]]
id = "cam-01"
url = "rtsp://10.0.0.5/stream1"

  [[camera.zone]]
  id = "park-gate"
  polygon = [[0.10, 0.55], [0.60, 0.50], [0.70, 0.95], [0.05, 0.95]]
  rules = ["gathering"]
  schedule = "22:00-05:00"
"#
    .to_string()
}

fn errors(text: &str) -> String {
    let path = support::repo().join("config/test.toml");
    match Config::from_str(text, &path) {
        Ok(_) => panic!("config was accepted:\n{text}"),
        Err(e) => e
            .to_string()
            .replace(&format!("{}", path.display()), "test.toml"),
    }
}

#[test]
fn base_config_is_valid_and_has_documented_defaults() {
    let cfg = Config::from_str(&base(), &support::repo().join("config/test.toml")).expect("valid");
    let z = &cfg.cameras[0].zones[0];
    let g = z.gathering.expect("gathering enabled");
    assert_eq!(g.min_people, 3);
    assert_eq!(g.link_distance, 1.0);
    assert_eq!(g.max_speed, 0.3);
    assert_eq!(
        (
            g.min_duration_s,
            g.grace_s,
            g.update_every_s,
            g.clear_after_s,
            g.cooldown_s
        ),
        (60.0, 5.0, 60.0, 30.0, 120.0)
    );
    assert_eq!(cfg.cameras[0].detect_fps, 5.0);
    assert_eq!(cfg.mqtt.url, "mqtt://127.0.0.1:1883");
    assert_eq!(cfg.mqtt.topic_prefix, "wardwatch");
    assert_eq!(cfg.detector.decode.score_threshold, 0.35);
    assert!(!cfg.detector.intra_spinning, "spinning is off by default");
    assert!(cfg.evidence.dir.ends_with("var/snapshots"));
    assert!(!cfg.evidence.dir.to_string_lossy().contains(".."));
}

#[test]
fn every_problem_is_reported_with_line_field_and_value() {
    let text = base()
        .replace(
            "timezone = \"Asia/Ho_Chi_Minh\"",
            "timezone = \"Asia/Hanoi_X\"",
        )
        .replace(
            "[[camera]]\nid = \"cam-01\"",
            "[[camera]]\nid = \"cam 01\"\ndetect_fps = 0",
        )
        .replace("schedule = \"22:00-05:00\"", "schedule = \"25:00-05:00\"")
        .replace(
            "rules = [\"gathering\"]",
            "rules = [\"gathering\", \"speeding\"]",
        );
    assert_eq!(
        errors(&text),
        [
            "test.toml:3: site.timezone: unknown time zone \"Asia/Hanoi_X\": use an IANA name such as \"Asia/Ho_Chi_Minh\"",
            "test.toml:9: camera[0].id: \"cam 01\" is not a valid id: use 1-64 letters, digits, '-', '_' or '.' (it becomes part of MQTT topics)",
            "test.toml:10: camera[0].detect_fps: 0 is out of range: use a value in (0, 60] frames per second (default 5)",
            "test.toml:16: camera[0].zone[0].rules: unknown rule \"speeding\": use \"gathering\", \"weaving\" or \"loitering\"",
            "test.toml:17: camera[0].zone[0].schedule: window \"25:00-05:00\": hour 25 out of range 0-23",
        ]
        .join("\n")
    );
}

#[test]
fn bad_schedule_names_the_window() {
    let text = base().replace("schedule = \"22:00-05:00\"", "schedule = \"25:00-05:00\"");
    let e = errors(&text);
    assert!(
        e.starts_with("test.toml:16: camera[0].zone[0].schedule: window \"25:00-05:00\": "),
        "{e}"
    );
    assert!(e.ends_with("hour 25 out of range 0-23"), "{e}");
}

#[test]
fn self_intersecting_polygon() {
    let text = base().replace(
        "[[0.10, 0.55], [0.60, 0.50], [0.70, 0.95], [0.05, 0.95]]",
        "[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]",
    );
    let e = errors(&text);
    assert!(
        e.starts_with("test.toml:14: camera[0].zone[0].polygon: self-intersecting"),
        "{e}"
    );
}

#[test]
fn polygon_outside_the_frame() {
    let text = base().replace("[0.70, 0.95]", "[1.2, 0.5]");
    assert_eq!(
        errors(&text),
        "test.toml:14: camera[0].zone[0].polygon: point 3 is [1.2, 0.5]: coordinates must be within [0, 1]"
    );
}

#[test]
fn unknown_field_is_refused_with_its_line() {
    let text = base()
        .replace("threads", "x")
        .replace("[model]\n", "[model]\nthreadz = 2\n");
    let e = errors(&text);
    assert!(
        e.starts_with("test.toml:6: unknown field `threadz`, expected one of "),
        "{e}"
    );
    assert!(e.ends_with("(at `threadz = 2`)"), "{e}");
}

#[test]
fn wrong_type_is_refused_with_its_line() {
    let text = base().replace("id = \"cam-01\"", "id = \"cam-01\"\ndetect_fps = \"fast\"");
    let e = errors(&text);
    assert!(
        e.starts_with("test.toml:10: invalid type: string \"fast\", expected f64"),
        "{e}"
    );
}

#[test]
fn durations_accept_numbers_and_units() {
    let text = base()
        + "\n  [camera.zone.gathering]\n  min_duration = \"2m\"\n  grace = 7\n  cooldown = \"1h 30m\"\n";
    let cfg = Config::from_str(&text, Path::new("config/test.toml")).expect("valid");
    let g = cfg.cameras[0].zones[0].gathering.unwrap();
    assert_eq!(
        (g.min_duration_s, g.grace_s, g.cooldown_s),
        (120.0, 7.0, 5400.0)
    );
    // Days and weeks, which retention is naturally given in.
    for (given, secs) in [
        ("30d", 30.0 * 86400.0),
        ("1w 2d", 9.0 * 86400.0),
        ("1d 12h", 1.5 * 86400.0),
        ("2 days", 2.0 * 86400.0),
    ] {
        let text = base() + &format!("\n[evidence]\nmax_age = \"{given}\"\n");
        let cfg = Config::from_str(&text, Path::new("config/test.toml")).expect("valid");
        assert_eq!(cfg.evidence.max_age_s, secs, "{given}");
    }
}

#[test]
fn bad_duration_string() {
    let text = base() + "\n  [camera.zone.gathering]\n  min_duration = \"soon\"\n";
    let e = errors(&text);
    assert!(
        e.starts_with("test.toml:19: invalid value: string \"soon\", expected seconds as a number, or a duration string like \"90s\", \"2m\", \"1h 30m\" or \"30d\""),
        "{e}"
    );
}

#[test]
fn site_defaults_merge_under_zone_values() {
    let text = base().replace(
        "[model]",
        "[gathering]\nmin_people = 4\nclear_after = \"45s\"\n\n[model]",
    ) + "\n  [camera.zone.gathering]\n  min_people = 5\n";
    let cfg = Config::from_str(&text, Path::new("config/test.toml")).expect("valid");
    let g = cfg.cameras[0].zones[0].gathering.unwrap();
    assert_eq!((g.min_people, g.clear_after_s), (5, 45.0));
}

#[test]
fn out_of_range_rule_values() {
    let text = base() + "\n  [camera.zone.gathering]\n  min_people = 1\n  max_speed = -0.2\n";
    assert_eq!(
        errors(&text),
        [
            "test.toml:19: camera[0].zone[0].gathering.min_people: 1 is out of range: use 2 to 1000 people (default 3)",
            "test.toml:20: camera[0].zone[0].gathering.max_speed: -0.2 is out of range: use a value in (0, 100] (body heights per second; default 0.3)",
        ]
        .join("\n")
    );
}

/// A missing model is not a config mistake (the file may come later, e.g. from
/// models/convert.sh): the config validates, and the commands that need the model fail
/// with exit 1 (tests/cli_errors.rs). Only the bad URL is reported here.
#[test]
fn missing_model_and_bad_mqtt_url() {
    let text = base()
        .replace(
            "path = \"../models/nanodet-g-416.onnx\"",
            "path = \"../models/nope.onnx\"",
        )
        .replace("[model]", "[mqtt]\nurl = \"http://broker:1883\"\n\n[model]");
    let e = errors(&text);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 1, "{e}");
    assert!(lines[0].starts_with("test.toml:6: mqtt.url: "), "{e}");
    assert!(lines[0].contains("http://broker:1883"), "{e}");
}

#[test]
fn duplicate_ids() {
    let text = base()
        + r#"
  [[camera.zone]]
  id = "park-gate"
  polygon = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
  rules = ["gathering"]
"#;
    assert_eq!(
        errors(&text),
        "test.toml:19: camera[0].zone[1].id: \"park-gate\" is used by another zone of this camera; zone ids must be unique per camera"
    );
}

#[test]
fn check_config_cli_prints_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = base()
        .replace(
            "../models/nanodet-g-416.onnx",
            &support::repo()
                .join("models/nanodet-g-416.onnx")
                .display()
                .to_string(),
        )
        .replace(
            "timezone = \"Asia/Ho_Chi_Minh\"",
            "timezone = \"Mars/Olympus\"",
        )
        .replace(
            "[[camera]]\nid = \"cam-01\"",
            "[[camera]]\nid = \"cam-01\"\ndetect_fps = 100",
        );
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["check-config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: {p}:3: site.timezone: unknown time zone \"Mars/Olympus\": use an IANA name such as \"Asia/Ho_Chi_Minh\"\n{p}:10: camera[0].detect_fps: 100 is out of range: use a value in (0, 60] frames per second (default 5)",
            p = path.display()
        )
    );
    assert!(!stderr.contains("panicked"));

    let ok = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["check-config"])
        .arg(support::repo().join("config/demo.toml"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn missing_config_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["check-config", "/nonexistent/ward.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: /nonexistent/ward.toml: no such file; pass the path of a wardwatch TOML config (see config/demo.toml)"
    );
}

#[test]
fn calibration_gives_metric_defaults_and_is_validated() {
    let cal = "\n[camera.calibration]\nimage = [[0.1, 0.9], [0.9, 0.9], [0.7, 0.4], [0.3, 0.4]]\nworld = [[0, 0], [10, 0], [10, 20], [0, 20]]\n";
    let text = base().replace(
        "url = \"rtsp://10.0.0.5/stream1\"\n",
        &format!("url = \"rtsp://10.0.0.5/stream1\"\n{cal}"),
    );
    let cfg = Config::from_str(&text, Path::new("config/test.toml")).expect("valid");
    assert!(cfg.cameras[0].calibration.is_some());
    let g = cfg.cameras[0].zones[0].gathering.unwrap();
    assert_eq!(
        (g.link_distance, g.max_speed),
        (1.5, 0.5),
        "metres and m/s with a calibration"
    );

    let bad = text.replace("[0.7, 0.4], [0.3, 0.4]]", "[0.5, 0.9], [0.3, 0.4]]");
    assert_eq!(
        errors(&bad),
        "test.toml:12: camera[0].calibration: image points 1, 2 and 3 lie on one line: pick four points spread over the ground, no three in a line"
    );
    let short = text.replace(
        "world = [[0, 0], [10, 0], [10, 20], [0, 20]]",
        "world = [[0, 0], [10, 0]]",
    );
    assert_eq!(
        errors(&short),
        "test.toml:12: camera[0].calibration: needs image = four [x, y] points (0..1 of the frame) and world = the same four points on the ground in metres"
    );
}

#[test]
fn motion_gating_defaults_overrides_and_errors() {
    let cfg = Config::from_str(&base(), &support::repo().join("config/test.toml")).expect("valid");
    let m = &cfg.cameras[0].motion;
    assert!(m.enabled);
    assert_eq!(
        (m.width, m.threshold, m.min_area, m.margin, m.max_skip_s),
        (160, 20, 0.0005, 0.1, 1.0)
    );
    assert!(cfg.cameras[0].hw_decode);
    assert_eq!(cfg.detector.batch, 1);
    // Site-wide defaults, overridden per camera field by field.
    let text = base()
        .replace("[model]", "[motion]\nthreshold = 30\nmax_skip = \"2s\"\n\n[model]\nbatch = 4")
        .replace(
            "url = \"rtsp://10.0.0.5/stream1\"",
            "url = \"rtsp://10.0.0.5/stream1\"\nhw_decode = false\n  [camera.motion]\n  threshold = 12\n  mask = [[[0.0, 0.0], [0.2, 0.0], [0.2, 0.2]]]",
        );
    let cfg = Config::from_str(&text, &support::repo().join("config/test.toml")).expect("valid");
    let m = &cfg.cameras[0].motion;
    assert_eq!((m.threshold, m.max_skip_s, m.mask.len()), (12, 2.0, 1));
    assert!(!cfg.cameras[0].hw_decode);
    assert_eq!(cfg.detector.batch, 4);
    let text = base().replace("[model]", "[model]\nbatch = 0").replace(
        "url = \"rtsp://10.0.0.5/stream1\"",
        "url = \"rtsp://10.0.0.5/stream1\"\n  [camera.motion]\n  threshold = 300\n  max_skip = \"-1s\"\n  mask = [[[0.0, 0.0], [0.2, 0.0]]]",
    );
    let e = errors(&text);
    for want in [
        "model.batch: 0 is out of range: use 1 to 16 frames per inference (default 1)",
        "camera[0].motion.threshold: 300 is out of range: use 1 to 254 (default 20)",
        "camera[0].motion.mask[0]: mask 1: needs at least 3 points, got 2",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    assert!(e.contains("camera[0].motion.max_skip"), "{e}");
    let e = errors(&base().replace(
        "[model]",
        "[motion]\nmask = [[[0.0, 0.0], [0.2, 0.0], [0.2, 0.2]]]\n\n[model]",
    ));
    assert!(
        e.contains("motion.mask: masks belong to a camera: put them in [camera.motion]"),
        "{e}"
    );
}

#[test]
fn night_profile_thresholds_nms_tracker_and_loitering_settings() {
    use wardwatch::detect::NightMode;
    let cfg = Config::from_str(&base(), &support::repo().join("config/test.toml")).expect("valid");
    let d = &cfg.detector;
    assert!(d.decode.joint_vehicle_nms);
    assert_eq!(d.night.mode, NightMode::Auto);
    assert!(d.night.equalize);
    assert_eq!((d.night.max_chroma, d.night.max_luma), (6.0, 70.0));
    assert_eq!(
        d.night.score_thresholds,
        vec![
            ("motorcycle".to_string(), 0.2),
            ("car".to_string(), 0.25),
            ("bus".to_string(), 0.25),
            ("truck".to_string(), 0.25)
        ]
    );
    assert!(d.score_thresholds.is_empty());
    let t = &cfg.tracker;
    assert_eq!(
        (
            t.vehicle_max_speed,
            t.person_max_speed,
            t.vehicle_high_score,
            t.vehicle_confirm_score
        ),
        (8.0, 0.0, 0.2, 0.25)
    );
    let text = base()
        .replace(
            "[model]",
            "[tracker]\nvehicle_high_score = 0.5\nperson_max_speed = 2\n\n[model]\nvehicle_nms = \"per_label\"\nscore_thresholds = { motorcycle = 0.3 }",
        )
        .replace(
            "[[camera]]",
            "[model.night]\nmode = \"on\"\nscore_thresholds = {}\n\n[[camera]]",
        );
    let cfg = Config::from_str(&text, &support::repo().join("config/test.toml")).expect("valid");
    assert!(!cfg.detector.decode.joint_vehicle_nms);
    assert_eq!(cfg.detector.night.mode, NightMode::On);
    assert!(cfg.detector.night.score_thresholds.is_empty());
    assert_eq!(
        cfg.detector.score_thresholds,
        vec![("motorcycle".to_string(), 0.3)]
    );
    assert_eq!(cfg.tracker.vehicle_high_score, 0.5);
    assert_eq!(cfg.tracker.person_max_speed, 2.0);
    let e = errors(
        &base()
            .replace(
                "[model]",
                "[tracker]\nvehicle_max_speed = -1\nvehicle_confirm_score = 0\n\n[loitering]\nmax_radius = 0\nwindow = \"0.5s\"\n\n[model]\nvehicle_nms = \"both\"\nscore_thresholds = { motorcycle = 1.5 }",
            )
            .replace(
                "[[camera]]",
                "[model.night]\nmode = \"dusk\"\nmax_luma = 300\n\n[[camera]]",
            ),
    );
    for want in [
        "tracker.vehicle_max_speed: -1 is out of range: use 0 (off) to 50 box sizes per second (default 8)",
        "tracker.vehicle_confirm_score: 0 is out of range",
        "loitering.max_radius: 0 is out of range",
        "loitering.window: 0.5 s is out of range: use 1 s to 600 s (default 10 s)",
        "model.vehicle_nms: \"both\" is not a choice",
        "model.score_thresholds.motorcycle: 1.5 is out of range: use a score in (0, 1)",
        "model.night.mode: \"dusk\" is not a choice",
        "model.night.max_luma: 300 is out of range: use 0 to 255 (default 70)",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    // A loitering zone with its overrides.
    let text = base().replace("rules = [\"gathering\"]", "rules = [\"gathering\", \"loitering\"]\n  loitering = { min_duration = \"3m\", max_radius = 0.5 }");
    let cfg = Config::from_str(&text, &support::repo().join("config/test.toml")).expect("valid");
    let l = cfg.cameras[0].zones[0].loitering.expect("loitering on");
    assert_eq!(
        (l.min_duration_s, l.max_radius, l.window_s),
        (180.0, 0.5, 10.0)
    );
}

#[test]
fn names_are_unicode_ids_stay_ascii_and_a_vietnamese_id_gets_the_id_to_use() {
    // Names in Vietnamese beside ASCII ids, and the language of the texts.
    let text = base()
        .replace(
            "[site]\nname = \"ward-7\"",
            "[site]\nid = \"phuong-7\"\nname = \"Phường 7\"\nlanguage = \"en\"",
        )
        .replace(
            "id = \"cam-01\"",
            "id = \"cam-01\"\nname = \"Camera 3 – Cổng chợ\"",
        )
        .replace(
            "id = \"park-gate\"",
            "id = \"park-gate\"\n  name = \"Cổng chợ\"",
        );
    let cfg = Config::from_str(&text, Path::new("config/test.toml")).expect("valid");
    assert_eq!(
        (cfg.site.id.as_str(), cfg.site.name.as_str()),
        ("phuong-7", "Phường 7")
    );
    assert_eq!(cfg.site.language, wardwatch::publish::text::Language::En);
    assert_eq!(cfg.cameras[0].name, "Camera 3 – Cổng chợ");
    assert_eq!(
        cfg.cameras[0].zone_names,
        vec![("park-gate".to_string(), "Cổng chợ".to_string())]
    );
    // The older form: `name` alone is the id; the names default to the ids, Vietnamese
    // is the default language.
    let cfg = Config::from_str(&base(), Path::new("config/test.toml")).expect("valid");
    assert_eq!(
        (cfg.site.id.as_str(), cfg.site.name.as_str()),
        ("ward-7", "ward-7")
    );
    assert_eq!(cfg.site.language, wardwatch::publish::text::Language::Vi);
    assert_eq!(cfg.cameras[0].name, "cam-01");

    let text = base()
        .replace(
            "[site]\nname = \"ward-7\"",
            "[site]\nname = \"Phường 7\"\nlanguage = \"fr\"",
        )
        .replace("id = \"cam-01\"", "id = \"cổng-chợ\"\nname = \"\"")
        .replace("id = \"park-gate\"", "id = \"Cổng công viên\"");
    assert_eq!(
        errors(&text),
        [
            "test.toml:1: site.id: is missing, and name \"Phường 7\" cannot serve as the id: add id = \"phuong-7\" (ASCII, for MQTT topics) and keep name = \"Phường 7\" for the officer",
            "test.toml:3: site.language: \"fr\" is not a language wardwatch speaks: use \"vi\" (the default) or \"en\"",
            "test.toml:10: camera[0].id: \"cổng-chợ\" is not a valid id: use 1-64 letters, digits, '-', '_' or '.' (it becomes part of MQTT topics); for Vietnamese text write id = \"cong-cho\" and name = \"cổng-chợ\"",
            "test.toml:15: camera[0].zone[0].id: \"Cổng công viên\" is not a valid id: use 1-64 letters, digits, '-', '_' or '.' (it becomes part of MQTT topics); for Vietnamese text write id = \"cong-cong-vien\" and name = \"Cổng công viên\"",
            "test.toml:11: camera[0].name: \"\" is not a usable name: use 1 to 100 characters without control characters or line breaks (any language; leave it out to show the id)",
        ]
        .join("\n")
    );
}

#[test]
fn object_filters_merge_site_camera_and_class_and_report_every_problem() {
    use wardwatch::analytics::filter::ObjectFilter;
    let path = support::repo().join("config/test.toml");
    let cfg = Config::from_str(&base(), &path).expect("valid");
    assert!(
        cfg.cameras[0].filter.is_open(),
        "nothing filtered by default"
    );
    assert!(
        cfg.cameras[0].zones[0].filter.is_open(),
        "no zone filter by default"
    );

    // Site defaults under camera values, class tables over their table, masks adding up.
    let text = base()
        .replace(
            "[model]",
            "[filters]\nmin_score = 0.4\nmax_area = 0.5\n[filters.vehicle]\nmin_area = 0.002\nmin_score = 0.3\n\n[model]",
        )
        .replace(
            "url = \"rtsp://10.0.0.5/stream1\"",
            "url = \"rtsp://10.0.0.5/stream1\"\n  [camera.filters]\n  min_score = 0.5\n  masks = [[[0.0, 0.0], [0.3, 0.0], [0.3, 0.2]]]\n  [camera.filters.person]\n  min_area = 0.001\n  masks = [[[0.5, 0.0], [1.0, 0.0], [1.0, 0.2]]]",
        )
        + "    [camera.zone.filters.person]\n    min_area = 0.004\n";
    let cfg = Config::from_str(&text, &path).expect("valid");
    let f: &ObjectFilter = &cfg.cameras[0].filter;
    assert_eq!(
        (f.person.min_area, f.person.max_area, f.person.min_score),
        (0.001, 0.5, 0.5),
        "person: own class table, site max_area, camera min_score over the site's"
    );
    assert_eq!(
        (f.vehicle.min_area, f.vehicle.max_area, f.vehicle.min_score),
        (0.002, 0.5, 0.5),
        "vehicle: site class table, but the camera's min_score beats the site's class value"
    );
    assert_eq!((f.person.masks.len(), f.vehicle.masks.len()), (2, 1));
    let z = &cfg.cameras[0].zones[0].filter;
    assert!(!z.is_open(), "zone filter");
    assert_eq!(z.person.min_area, 0.004);
    assert_eq!(
        (
            z.person.min_score,
            z.vehicle.min_area,
            z.vehicle.masks.len()
        ),
        (0.0, 0.0, 0),
        "a zone takes nothing from the camera or the site: it narrows what the camera kept"
    );

    // Every problem at once, with line, field and value.
    let text = base()
        .replace(
            "[model]",
            "[filters]\nmasks = [[[0.0, 0.0], [0.3, 0.0], [0.3, 0.2]]]\n\n[model]",
        )
        .replace(
            "url = \"rtsp://10.0.0.5/stream1\"",
            "url = \"rtsp://10.0.0.5/stream1\"\n  [camera.filters]\n  min_area = 0\n  [camera.filters.person]\n  min_area = 0.2\n  max_area = 0.1",
        )
        + "    [camera.zone.filters]\n    min_score = 1.5\n    masks = [[[0.1, 0.1], [0.2, 0.2]], [[0.1, 0.1], [0.5, 0.1], [0.1, 0.5], [0.5, 0.5]]]\n";
    assert_eq!(
        errors(&text),
        [
            "test.toml:6: filters.masks: masks belong to a camera or a zone: put them in [camera.filters] (the whole camera) or [camera.zone.filters] (that zone)",
            "test.toml:26: camera[0].zone[0].filters.min_score: 1.5 is out of range: use a detector score in (0, 1], or leave it out for no limit",
            "test.toml:27: camera[0].zone[0].filters.masks[0]: mask 1: needs at least 3 points, got 2",
            "test.toml:27: camera[0].zone[0].filters.masks[1]: mask 2: self-intersecting: edge 2-3 crosses edge 4-1",
            "test.toml:15: camera[0].filters.min_area: 0 is out of range: use a share of the frame area (0.01: a box covering 1 % of the picture) in (0, 1], or leave it out for no limit",
            "test.toml:17: camera[0].filters.person.min_area: 0.2 is not below max_area 0.1 for people: nothing could pass; lower min_area or raise max_area",
        ]
        .join("\n")
    );
    // A misspelt field is refused by the reader with its line.
    let e = errors(&(base() + "    [camera.zone.filters.vehicle]\n    mask = []\n"));
    assert!(
        e.contains("test.toml:18: unknown field `mask`, expected one of `min_area`, `max_area`, `min_score`, `masks`"),
        "{e}"
    );
}
