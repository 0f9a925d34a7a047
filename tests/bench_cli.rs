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
        "bare_inference_fps",
        "end_to_end_over_bare",
        "cameras",
        "per_camera_ms_per_s",
    ] {
        assert!(v[key].as_f64().unwrap() > 0.0, "{key}");
    }
    assert_eq!(v["execution_provider"], "cpu");
}
