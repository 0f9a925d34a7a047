//! Files are private whatever the umask: a replay of the demo under `umask 000` with the
//! broker down leaves outbox entries (alerts that would go out under wardwatch's broker
//! login) and snapshots (pictures of people). Outbox: files 0600 in 0700 directories;
//! snapshots: files 0640 in 0750 directories.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every (path, mode) under `dir`, `dir` included.
fn walk(dir: &Path, out: &mut Vec<(std::path::PathBuf, u32, bool)>) {
    out.push((dir.to_path_buf(), mode(dir), true));
    for e in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push((p.clone(), mode(&p), false));
        }
    }
}

#[test]
fn outbox_and_snapshots_are_private_under_umask_000() {
    support::require_runtime();
    let dir = tempfile::tempdir().unwrap();
    let port = support::broker::free_port(); // nothing listens: events stay queued
    let demo = std::fs::read_to_string(support::repo().join("config/demo.toml")).unwrap();
    let text = demo
        .replace("mqtt://127.0.0.1:1883", &format!("mqtt://127.0.0.1:{port}"))
        .replace("\"../var/", "\"var/")
        .replace(
            "\"../models/",
            &format!("\"{}/models/", support::repo().display()),
        );
    let cfg = dir.path().join("demo.toml");
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000 && exec '{}' replay --flush-timeout 0 --start 2026-11-26T23:00:00+07:00 --config '{}' '{}'",
            env!("CARGO_BIN_EXE_wardwatch"),
            cfg.display(),
            support::vtest().display()
        ))
        .output()
        .unwrap();
    // Undelivered (the broker is down): exit 1, the entries stay.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut outbox = Vec::new();
    walk(&dir.path().join("var/outbox-replay"), &mut outbox);
    let mut snaps = Vec::new();
    walk(&dir.path().join("var/snapshots"), &mut snaps);
    assert!(
        outbox.iter().filter(|e| !e.2).count() >= 3,
        "outbox entries were written: {outbox:?}"
    );
    assert!(
        snaps.iter().filter(|e| !e.2).count() >= 1,
        "snapshots were written: {snaps:?}"
    );
    for (p, m, is_dir) in &outbox {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*m, want, "{} is {m:o}, not {want:o}", p.display());
    }
    for (p, m, is_dir) in &snaps {
        let want = if *is_dir { 0o750 } else { 0o640 };
        assert_eq!(*m, want, "{} is {m:o}, not {want:o}", p.display());
    }
    println!(
        "umask 000: {} outbox paths all 0600/0700, {} snapshot paths all 0640/0750",
        outbox.len(),
        snaps.len()
    );
}
