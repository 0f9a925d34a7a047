//! The JSON Schemas in schemas/ are generated from the document types
//! (`wardwatch::publish::document::schemas`). This test fails when a committed file differs
//! from what the types give, and names the file; regenerate with
//! `WARDWATCH_BLESS_SCHEMAS=1 cargo test --release --test schemas` and commit the result
//! with the type change (and the docs/events.md change that goes with it).

mod support;

use wardwatch::publish::document::schemas;

#[test]
fn committed_schemas_equal_the_generated_ones() {
    let bless = std::env::var_os("WARDWATCH_BLESS_SCHEMAS").is_some();
    let dir = support::repo().join("schemas");
    let mut stale = Vec::new();
    for (name, schema) in schemas() {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let path = dir.join(name);
        if bless {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} differ from the schemas generated from the types: run \
         WARDWATCH_BLESS_SCHEMAS=1 cargo test --release --test schemas and commit schemas/"
    );
}

/// Documents built by the code validate against the generated schemas, and the schemas
/// reject what the old hand-written ones rejected.
#[test]
fn the_schemas_accept_real_documents_and_reject_broken_ones() {
    let event = serde_json::json!({
        "schema": "wardwatch.event/1",
        "id": "cam:zone:gathering:20261126T160000Z:1",
        "seq": 0,
        "phase": "start",
        "rule": "gathering",
        "site": "demo",
        "camera": "cam",
        "zone": "zone",
        "site_name": "Phường 7",
        "camera_name": "Camera 3",
        "zone_name": "Cổng chợ",
        "title": "Tụ tập 3 người tại Cổng chợ từ 23:00 (1 phút)",
        "time_utc": "2026-11-26T16:01:00.000Z",
        "time_local": "2026-11-26T23:01:00.000+07:00",
        "started_utc": "2026-11-26T16:00:00.000Z",
        "started_local": "2026-11-26T23:00:00.000+07:00",
        "duration_s": 60.0,
        "people": 3,
        "peak_people": 3,
        "track_ids": [1, 2, 3],
        "measures": {"held_s": 60.0, "link_distance_px": 120.0, "mean_height_px": 120.0,
                     "speed": 0.05, "speed_unit": "body_heights_per_s", "spread_px": 80.0, "occluded": 0},
        "reason": null,
        "snapshot": null
    });
    support::validate_against_schema(&event);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo().join("schemas/event.schema.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let broken = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut e = event.clone();
        f(&mut e);
        e
    };
    for (what, doc) in [
        ("a start with seq 1", broken(&|e| e["seq"] = 1.into())),
        (
            "an end without a reason",
            broken(&|e| e["phase"] = "end".into()),
        ),
        (
            "an unknown rule",
            broken(&|e| e["rule"] = "speeding".into()),
        ),
        (
            "a local time as UTC",
            broken(&|e| e["time_utc"] = "2026-11-26T23:01:00+07:00".into()),
        ),
        (
            "an unknown measure",
            broken(&|e| e["measures"]["mood"] = "calm".into()),
        ),
        (
            "a missing snapshot key",
            broken(&|e| {
                e.as_object_mut().unwrap().remove("snapshot");
            }),
        ),
        ("an extra key", broken(&|e| e["extra"] = 1.into())),
        ("an empty title", broken(&|e| e["title"] = "".into())),
        (
            "a Vietnamese zone id",
            broken(&|e| e["zone"] = "cổng-chợ".into()),
        ),
    ] {
        assert!(!v.is_valid(&doc), "{what} passes the schema: {doc}");
    }
}
