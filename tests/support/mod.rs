//! Shared test helpers: repository paths, the ONNX Runtime check, a real mosquitto.
#![allow(dead_code)]

pub mod app;
pub mod broker;
pub mod ha;
pub mod stream;

use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo clip; fails loudly when set-up has not run.
pub fn vtest() -> PathBuf {
    let p = repo().join("data/vtest.avi");
    assert!(
        p.is_file(),
        "{} is missing: run `make setup` (or `make test`, which runs it)",
        p.display()
    );
    p
}

/// ONNX Runtime must be reachable; fails loudly (never skips) when it is not.
pub fn require_runtime() {
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if PathBuf::from(&p).is_file() => {}
        other => panic!(
            "ORT_DYLIB_PATH is {other:?}: these tests run the real ONNX Runtime. Run them with `make test`, or export ORT_DYLIB_PATH=$PWD/.venv/libonnxruntime.so after `make setup`"
        ),
    }
}

/// Validate a published document against the committed JSON Schema for its kind
/// (schemas/event.schema.json or schemas/camera.schema.json); panics with every error.
pub fn validate_against_schema(doc: &serde_json::Value) {
    use std::sync::OnceLock;
    static EVENT: OnceLock<jsonschema::Validator> = OnceLock::new();
    static CAMERA: OnceLock<jsonschema::Validator> = OnceLock::new();
    let load = |name: &str| {
        let text = std::fs::read_to_string(repo().join("schemas").join(name)).unwrap();
        jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("schema compiles")
    };
    let v = if doc["schema"] == "wardwatch.camera/1" {
        CAMERA.get_or_init(|| load("camera.schema.json"))
    } else {
        EVENT.get_or_init(|| load("event.schema.json"))
    };
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "document does not match its schema:\n{}\n{doc}",
        errors.join("\n")
    );
}
