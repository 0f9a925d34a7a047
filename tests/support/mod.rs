//! Shared test helpers: repository paths, the ONNX Runtime check, a real mosquitto.
#![allow(dead_code)]

pub mod broker;

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
