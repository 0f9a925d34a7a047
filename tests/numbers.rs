//! No panic on any number. Every numeric CLI flag and every numeric field of the example
//! config gets non-finite, negative and huge values; each must give exit status 2 and a
//! clear error that names the flag or field, never a panic or a silent acceptance.

mod support;

use std::process::{Command, Output};

fn wardwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(args)
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so") // must fail before loading
        .output()
        .unwrap()
}

fn assert_refused(out: &Output, what: &str, name: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    assert!(
        stderr.contains(name),
        "{what}: the error names {name}: {stderr}"
    );
}

#[test]
fn every_numeric_flag_refuses_non_finite_negative_and_huge_values() {
    let demo = support::repo().join("config/demo.toml");
    let demo = demo.to_str().unwrap();
    let vtest = support::vtest();
    let vtest = vtest.to_str().unwrap();
    let bad = ["inf", "-inf", "nan", "NaN", "-1", "1e99", "1e400"];
    let mut tried = 0;
    for v in bad {
        for flag in ["--fps", "--flush-timeout", "--progress-every"] {
            let arg = format!("{flag}={v}");
            let out = wardwatch(&["replay", "--config", demo, "--no-mqtt", &arg, vtest]);
            assert_refused(&out, &arg, flag);
            tried += 1;
        }
        for flag in ["--frames", "--iterations"] {
            let arg = format!("{flag}={v}");
            let out = wardwatch(&["bench", "--config", demo, &arg]);
            assert_refused(&out, &arg, flag);
            tried += 1;
        }
    }
    for v in ["0", "99999999999999999999"] {
        for flag in ["--frames", "--iterations"] {
            let arg = format!("{flag}={v}");
            let out = wardwatch(&["bench", "--config", demo, &arg]);
            assert_refused(&out, &arg, flag);
            tried += 1;
        }
    }
    let out = wardwatch(&["replay", "--config", demo, "--no-mqtt", "--fps=0", vtest]);
    assert_refused(&out, "--fps=0", "--fps");
    for v in ["0x0", "-1x5", "99999999999x1", "nanxnan", "infx10", "640"] {
        let arg = format!("--frame-size={v}");
        let out = wardwatch(&[
            "replay",
            "--config",
            demo,
            "--no-mqtt",
            "--detections",
            "x.txt",
            &arg,
        ]);
        assert_refused(&out, &arg, "--frame-size");
        tried += 1;
    }
    println!("{tried} bad numeric flags refused with exit 2");
}

#[test]
fn every_numeric_config_field_refuses_non_finite_negative_and_huge_values() {
    let example = std::fs::read_to_string(support::repo().join("config/example.toml"))
        .unwrap()
        .replace(
            "\"../models/",
            &format!("\"{}/models/", support::repo().display()),
        );
    let fields: &[(&[&str], &str)] = &[
        (&["mqtt"], "outbox_max_mb"),
        (&["mqtt"], "keep_alive"),
        (&["model"], "threads"),
        (&["model"], "score_threshold"),
        (&["model"], "nms_iou"),
        (&["model"], "max_detections"),
        (&["tracker"], "high_score"),
        (&["tracker"], "low_score"),
        (&["tracker"], "new_track_score"),
        (&["tracker"], "min_hits"),
        (&["evidence"], "jpeg_quality"),
        (&["evidence"], "max_files"),
        (&["evidence"], "max_mb"),
        (&["gathering"], "min_people"),
        (&["gathering"], "link_distance"),
        (&["gathering"], "max_speed"),
        (&["gathering"], "min_duration"),
        (&["weaving"], "min_speed"),
        (&["weaving"], "min_swing"),
        (&["weaving"], "min_reversals"),
        (&["weaving"], "racing_min_vehicles"),
        (&["weaving"], "window"),
        (&["camera"], "detect_fps"),
        (&["runtime"], "watchdog"),
        (&["filters"], "min_area"),
        (&["filters"], "max_area"),
        (&["filters"], "min_score"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut tried = 0;
    for (path, key) in fields {
        for v in ["nan", "inf", "-inf", "-1", "1e99", "-1e99"] {
            let mut doc: toml_edit::DocumentMut = example.parse().unwrap();
            let table = match path[0] {
                "camera" => doc["camera"]
                    .as_array_of_tables_mut()
                    .unwrap()
                    .get_mut(0)
                    .unwrap(),
                t => {
                    if doc.get(t).is_none() {
                        doc[t] = toml_edit::table();
                    }
                    doc[t].as_table_mut().unwrap()
                }
            };
            let value: toml_edit::Value = v.parse().unwrap();
            table.insert(key, toml_edit::Item::Value(value));
            let cfg = dir.path().join("bad.toml");
            std::fs::write(&cfg, doc.to_string()).unwrap();
            let out = wardwatch(&["check-config", cfg.to_str().unwrap()]);
            assert_refused(&out, &format!("{}.{key} = {v}", path[0]), key);
            tried += 1;
        }
    }
    println!("{tried} bad numeric config values refused with exit 2");
}
