//! `wardwatch bench` runs and reports every stage (numbers are reported, never asserted).

mod support;

use std::process::Command;

#[test]
fn bench_reports_every_stage_as_json() {
    support::require_runtime();
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "bench",
            "--frames",
            "12",
            "--iterations",
            "3",
            "--json",
            "--config",
        ])
        .arg(support::repo().join("config/demo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["schema"], "wardwatch.bench/1");
    assert_eq!(v["frames"], 12);
    for stage in [
        "read+decode frame",
        "prepare on capture thread",
        "preprocess",
        "inference",
        "decode+NMS",
        "track+rules",
        "whole frame",
        "bare inference",
    ] {
        let s = &v["stages"][stage];
        assert!(
            s["p50_ms"].as_f64().unwrap() >= 0.0
                && s["p95_ms"].as_f64().unwrap() >= s["p50_ms"].as_f64().unwrap(),
            "{stage}: {s}"
        );
    }
    for key in [
        "end_to_end_fps",
        "sequential_fps",
        "bare_inference_fps",
        "end_to_end_over_bare",
        "cameras",
        "per_camera_ms_per_s",
    ] {
        assert!(v[key].as_f64().unwrap() > 0.0, "{key}");
    }
    assert_eq!(v["execution_provider"], "cpu");
    let decode = v["decode"].as_array().expect("decode figures");
    assert_eq!(decode.len(), 2, "software and hardware asked for");
    for d in decode {
        assert_eq!(
            (d["width"].as_u64(), d["height"].as_u64()),
            (Some(768), Some(576))
        );
        assert!(d["grab_ms"].as_f64().unwrap() > 0.0, "{d}");
    }
    assert_eq!(decode[1]["hw_requested"], true);
}

/// The load test runs N live-like cameras through the real chain and reports per trial;
/// its figures are reported, never asserted (beyond being there and consistent).
#[test]
fn bench_cameras_reports_each_trial_as_json() {
    support::require_runtime();
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "bench",
            "--cameras",
            "2",
            "--gating",
            "both",
            "--seconds",
            "2",
            "--iterations",
            "5",
            "--json",
            "--config",
        ])
        .arg(support::repo().join("config/demo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["schema"], "wardwatch.bench-cameras/1");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo().join("schemas/bench-cameras.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(v["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(!v["machine"]["cpu"].as_str().unwrap().is_empty());
    assert_eq!(v["machine"]["execution_provider"], "cpu");
    let searches = v["searches"].as_array().unwrap();
    assert_eq!(searches.len(), 2, "gating off and on");
    for (s, gating) in searches.iter().zip([false, true]) {
        assert_eq!(s["gating"], gating);
        let t = &s["trials"][0];
        println!("trial: {t}");
        assert_eq!(t["cameras"], 2);
        let (due, analysed) = (t["due"].as_u64().unwrap(), t["analysed"].as_u64().unwrap());
        assert!(due > 0 && analysed > 0 && analysed <= due + 2, "{t}");
        assert!(t["rss_kb"].as_u64().unwrap() > t["rss_anon_kb"].as_u64().unwrap());
        assert!(t["cpu_cores"]["capture"].as_f64().unwrap() >= 0.0, "{t}");
        assert!(
            t["cpu_cores"]["detect"].as_f64().unwrap() > 0.0,
            "inference ran: {t}"
        );
        if !gating {
            assert_eq!(t["skipped_share"], 0.0);
        }
    }
    // Usage errors are named.
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["bench", "--cameras", "0", "--config"])
        .arg(support::repo().join("config/demo.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("give a number of cameras (1 to 512) or `max`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zones_are_drawn_on_a_real_frame() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("zones.png");
    let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args(["zones", "--config"])
        .arg(support::repo().join("config/example.toml"))
        .arg("--source")
        .arg(support::vtest())
        .arg("--out")
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("2 zone(s) of camera cam-03 drawn on a 768x576 frame")
            && String::from_utf8_lossy(&out.stdout).contains("with 2 object mask(s)")
    );
    let img = opencv::imgcodecs::imread_def(out_path.to_str().unwrap()).unwrap();
    use opencv::prelude::*;
    assert_eq!((img.cols(), img.rows()), (768, 576));
    // The first zone's outline is yellow (BGR 0,220,255): look around the middle of its
    // left edge, from (0.10, 0.55) to (0.05, 0.95).
    let (cx, cy) = ((0.075 * 768.0) as i32, (0.75 * 576.0) as i32);
    let yellow = (-3..=3)
        .flat_map(|dy| (-3..=3).map(move |dx| (dx, dy)))
        .filter(|(dx, dy)| {
            let p = img.at_2d::<opencv::core::Vec3b>(cy + dy, cx + dx).unwrap();
            p[2] > 200 && p[1] > 180 && p[0] < 80
        })
        .count();
    assert!(
        yellow >= 3,
        "zone outline drawn near ({cx}, {cy}): {yellow} yellow pixels"
    );
    // The camera's object mask (sky and rooftops, down to y = 0.15) is outlined in red.
    let (mx, my) = (384, (0.15 * 576.0) as i32);
    let red = (-3..=3)
        .flat_map(|dy| (-3..=3).map(move |dx| (dx, dy)))
        .filter(|(dx, dy)| {
            let p = img.at_2d::<opencv::core::Vec3b>(my + dy, mx + dx).unwrap();
            p[2] > 180 && p[1] < 90 && p[0] < 90
        })
        .count();
    assert!(
        red >= 2,
        "mask outline drawn near ({mx}, {my}): {red} red pixels"
    );
}
