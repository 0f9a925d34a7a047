//! MQTT over TLS with username and password, against a real mosquitto whose certificates
//! come from a throwaway CA made by `openssl` in the test. A replay of the demo publishes
//! its events through it; a wrong password and a wrong CA give a clear error and retries
//! with backoff, and the events stay in the outbox. The password never appears in stdout,
//! stderr or any payload.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::broker::Broker;

const USER: &str = "ward-desk";
const SECRET: &str = "Sup3r-s3cret-Hunter2-9f4c";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (apt package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`, readable by the
/// broker (which drops to user `mosquitto`).
fn make_pki(dir: &Path, name: &str) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let subj = format!("/CN=wardwatch test CA {name}");
    openssl(
        &d,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", &subj,
        ],
    );
    openssl(
        &d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
    for f in ["ca.crt", "server.crt", "server.key"] {
        std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    d
}

/// A TLS broker that only lets `USER`/`SECRET` in.
fn tls_broker(dir: &Path) -> (Broker, PathBuf) {
    let pki = make_pki(dir, "good");
    let pw = pki.join("passwd");
    let out = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&pw)
        .args([USER, SECRET])
        .output()
        .expect("mosquitto_passwd runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let conf = format!(
        "cafile {p}/ca.crt\ncertfile {p}/server.crt\nkeyfile {p}/server.key\n\
         allow_anonymous false\npassword_file {pw}\n",
        p = pki.display(),
        pw = pw.display()
    );
    (Broker::start_with(&conf), pki)
}

/// The demo config on this broker over TLS, with the password in a file.
fn config(dir: &Path, port: u16, ca: &Path, password: &str) -> PathBuf {
    let pwfile = dir.join("mqtt.password");
    std::fs::write(&pwfile, format!("{password}\n")).unwrap();
    let demo = std::fs::read_to_string(support::repo().join("config/demo.toml")).unwrap();
    let text = demo
        .replace(
            "url = \"mqtt://127.0.0.1:1883\"",
            &format!(
                "url = \"mqtts://127.0.0.1:{port}\"\nca_file = \"{}\"\nusername = \"{USER}\"\npassword_file = \"{}\"",
                ca.display(),
                pwfile.display()
            ),
        )
        .replace("\"../var/", "\"")
        .replace("\"../models/", &format!("\"{}/models/", support::repo().display()))
        .replace("\"../data/", &format!("\"{}/data/", support::repo().display()));
    let p = dir.join("tls.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn replay(cfg: &Path, flush_timeout: &str) -> Output {
    support::require_runtime();
    Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .args([
            "replay",
            "--json",
            "--flush-timeout",
            flush_timeout,
            "--start",
            "2026-11-26T23:00:00+07:00",
            "--config",
        ])
        .arg(cfg)
        .arg(support::vtest())
        .env("WARDWATCH_LOG", "debug")
        .output()
        .unwrap()
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "the password appears in {what}:\n{text}"
    );
}

/// Subscribe over TLS with the right credentials and return what arrived in `secs`.
fn received(port: u16, ca: &Path, count: usize, secs: u32) -> Vec<String> {
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .arg("--cafile")
        .arg(ca)
        .args(["-u", USER, "-P", SECRET, "-q", "1", "-v"])
        .args(["-t", "wardwatch/replay/#"])
        .args(["-C", &count.to_string(), "-W", &secs.to_string()])
        .output()
        .expect("mosquitto_sub runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn events_go_through_tls_with_a_password_and_the_password_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, pki) = tls_broker(dir.path());
    let ca = pki.join("ca.crt");
    let cfg = config(dir.path(), broker.port, &ca, SECRET);

    let check = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
        .arg("check-config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let out = replay(&cfg, "20");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(out.status.success(), "{stderr}");
    let events: Vec<&str> = stdout.lines().collect();
    assert!(events.len() >= 2, "the demo gives events: {stdout}");
    // The retained state and snapshot topics hold the last documents; the events were
    // delivered (the replay exits 0 only when the broker acknowledged all of them).
    let state = received(broker.port, &ca, 2, 10);
    assert!(
        state.iter().any(|l| l.contains("/state ")),
        "the retained state is readable over TLS: {state:?}"
    );
    assert!(
        std::fs::read_dir(dir.path().join("outbox-replay"))
            .unwrap()
            .filter_map(|e| e.ok())
            .all(|e| e.path().extension().is_none_or(|x| x != "msg")),
        "the outbox is empty"
    );
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &stderr);
    assert_no_secret("retained payloads", &state.join("\n"));
    assert_no_secret(
        "check-config output",
        &String::from_utf8_lossy(&check.stdout),
    );
    assert_no_secret(
        "check-config output",
        &String::from_utf8_lossy(&check.stderr),
    );
    println!("TLS + password: {} events delivered", events.len());
}

#[test]
fn a_wrong_password_is_named_retried_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, pki) = tls_broker(dir.path());
    let wrong = "not-the-password-7b1e";
    let cfg = config(dir.path(), broker.port, &pki.join("ca.crt"), wrong);
    let out = replay(&cfg, "4");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("check mqtt username/password"),
        "the refusal names its cause: {stderr}"
    );
    let attempts = stderr.matches("reconnect attempt failed").count();
    assert!(attempts >= 1, "it retried with backoff: {stderr}");
    assert!(
        stderr.contains("were not acknowledged by the broker"),
        "the replay says the events wait: {stderr}"
    );
    let queued = std::fs::read_dir(dir.path().join("outbox-replay"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "msg"))
        .count();
    assert!(queued >= 2, "events wait in the outbox: {queued}");
    assert!(
        !stderr.contains(wrong),
        "the wrong password appears in stderr"
    );
    assert_no_secret("stderr", &stderr);
    println!("wrong password: {attempts} retries logged in 4 s, {queued} messages kept");
}

#[test]
fn a_wrong_ca_is_named_retried_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _pki) = tls_broker(dir.path());
    let other = make_pki(dir.path(), "other");
    let cfg = config(dir.path(), broker.port, &other.join("ca.crt"), SECRET);
    let out = replay(&cfg, "4");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("check mqtt.ca_file"),
        "the TLS failure names the CA setting: {stderr}"
    );
    assert!(
        stderr.contains("reconnect attempt failed"),
        "it retried with backoff: {stderr}"
    );
    assert_no_secret("stderr", &stderr);
    assert_no_secret("stdout", &String::from_utf8_lossy(&out.stdout));
    let named = stderr
        .lines()
        .find(|l| l.contains("check mqtt.ca_file"))
        .unwrap_or_default();
    println!("wrong CA: {named}");
}

#[test]
fn check_config_parses_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path(), "parse");
    let pem = std::fs::read_to_string(pki.join("ca.crt")).unwrap();
    // Cut inside the base64 body, keeping the END line: a truncated certificate.
    let lines: Vec<&str> = pem.lines().collect();
    let truncated = format!(
        "{}\n{}\n",
        lines[..lines.len() / 2].join("\n"),
        lines[lines.len() - 1]
    );
    std::fs::write(dir.path().join("truncated.crt"), truncated).unwrap();
    std::fs::write(dir.path().join("garbage.crt"), "hello, not a certificate\n").unwrap();
    for (name, ca, expect) in [
        (
            "a private key",
            pki.join("server.key"),
            "no PEM certificate found",
        ),
        (
            "a truncated certificate",
            dir.path().join("truncated.crt"),
            "corrupt or truncated",
        ),
        (
            "a text file",
            dir.path().join("garbage.crt"),
            "no PEM certificate found",
        ),
    ] {
        let cfg = config(dir.path(), 8883, &ca, SECRET);
        let out = Command::new(env!("CARGO_BIN_EXE_wardwatch"))
            .arg("check-config")
            .arg(&cfg)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("mqtt.ca_file") && stderr.contains(expect),
            "{name}: {stderr}"
        );
    }
}
