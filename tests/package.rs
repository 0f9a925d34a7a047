//! Packaging (docs/packaging.md): the .deb built by cargo-deb from the binary this test run
//! built installs with dpkg, lays its files out with the right owners and modes, passes
//! `wardwatch check-config /etc/wardwatch/wardwatch.toml` (the model loaded through the
//! packaged ONNX Runtime, as the service user too), keeps an edited config on reinstall,
//! and leaves nothing behind after `dpkg --purge`. `make install` is checked in a staged
//! tree (DESTDIR) and in a private prefix where check-config runs on what it installed.
//!
//! The .deb test changes the system for its duration: it needs root (it runs as root here
//! and in CI) and fails, rather than skipping, without it. It purges a leftover install of
//! an earlier run first and purges again on the way out, also when an assertion fails.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const PKG: &str = "wardwatch";
const ORT_LIB: &str = "libonnxruntime.so.1.32.0";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs and requires exit 0; returns stdout.
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn require_root() {
    let uid = ok(Command::new("id").arg("-u"));
    assert_eq!(
        uid.trim(),
        "0",
        "tests/package.rs installs and purges the wardwatch .deb with dpkg and needs root: run it as root (as CI does), e.g. `sudo -E cargo test --release --test package`"
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.gid())
}

fn id_of(db: &str, name: &str) -> Option<u32> {
    let out = run(Command::new("getent").args([db, name]));
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    line.split(':').nth(2).and_then(|s| s.parse().ok())
}

fn installed() -> bool {
    let out = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", PKG]));
    String::from_utf8_lossy(&out.stdout).contains("installed")
}

fn purge() {
    ok(Command::new("dpkg").args(["--purge", PKG]));
}

/// Purges on the way out, so a failed assertion does not leave the package installed.
struct PurgeOnDrop;
impl Drop for PurgeOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", PKG]).output();
    }
}

/// Every path the package may leave on the system.
const PATHS: &[&str] = &[
    "/usr/bin/wardwatch",
    "/usr/lib/wardwatch",
    "/usr/share/wardwatch",
    "/usr/share/doc/wardwatch",
    "/lib/systemd/system/wardwatch.service",
    "/etc/wardwatch",
    "/var/lib/wardwatch",
    "/var/cache/wardwatch",
    "/etc/systemd/system/multi-user.target.wants/wardwatch.service",
];

/// The GNU build id of an ELF file (`readelf -n`), which `strip` keeps.
fn build_id(p: &Path) -> String {
    let notes = ok(Command::new("readelf").arg("-n").arg(p));
    notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .unwrap_or_else(|| panic!("{} has no build id:\n{notes}", p.display()))
        .to_string()
}

fn build_deb(out_dir: &Path) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wardwatch"));
    let cargo = env!("CARGO");
    let v = run(Command::new(cargo).args(["deb", "--version"]));
    assert!(
        v.status.success(),
        "cargo-deb is not installed (`cargo deb --version` failed: {}): run `make setup` (scripts/setup.sh installs the pinned cargo-deb from crates.io)",
        String::from_utf8_lossy(&v.stderr).trim()
    );
    let t = Instant::now();
    // --no-build: package the binary this test run built (target/release/wardwatch under
    // `cargo test --release`); cargo-deb resolves target/release to the real target dir.
    // --dbgsym, as `make deb`: the binary is stripped, its line tables go to a .ddeb.
    ok(Command::new(cargo)
        .current_dir(repo())
        .args(["deb", "--no-build", "--dbgsym", "--output"])
        .arg(out_dir));
    let with_ext = |ext: &str| -> Vec<PathBuf> {
        std::fs::read_dir(out_dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect()
    };
    let (debs, ddebs) = (with_ext("deb"), with_ext("ddeb"));
    assert_eq!(debs.len(), 1, "one .deb in {}: {debs:?}", out_dir.display());
    assert_eq!(
        ddebs.len(),
        1,
        "one -dbgsym .ddeb in {}: {ddebs:?}",
        out_dir.display()
    );
    let deb = debs.into_iter().next().unwrap();
    println!(
        "built {} ({:.1} MB) from {} in {:.1} s",
        deb.display(),
        std::fs::metadata(&deb).unwrap().len() as f64 / 1e6,
        bin.display(),
        t.elapsed().as_secs_f64()
    );
    deb
}

#[test]
fn deb_installs_checks_its_config_and_purges_clean() {
    require_root();
    // An earlier run that died mid-way may have left the package installed.
    if installed() {
        println!("purging a leftover wardwatch install first");
        purge();
    }
    for p in PATHS {
        assert!(
            !Path::new(p).exists(),
            "{p} exists but no wardwatch package is installed (a `make install PREFIX=/usr`?): the test would overwrite it and its purge remove it; remove it by hand first"
        );
    }
    assert!(
        id_of("passwd", "wardwatch").is_none(),
        "a user wardwatch exists without the package: remove it (`userdel wardwatch`) so the test can check that the package creates and removes it"
    );

    let tmp = tempfile::tempdir().unwrap();
    let deb = build_deb(tmp.path());

    // The control data: the OpenCV libraries the binary links ($auto), among them
    // libopencv-contrib406 (freetype), and the font the snapshot header needs.
    let field = |f: &str| ok(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(f));
    assert_eq!(field("Package").trim(), PKG);
    let depends = field("Depends");
    for dep in [
        "libopencv-contrib4", // libopencv-contrib406 on Debian 12: the freetype module
        "libopencv-videoio4",
        "libopencv-imgproc4",
        "fonts-dejavu-core",
        "passwd",
        "libc6",
    ] {
        assert!(depends.contains(dep), "Depends lacks {dep}: {depends}");
    }

    let _purge = PurgeOnDrop;
    let t = Instant::now();
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    println!("dpkg -i: {:.1} s", t.elapsed().as_secs_f64());
    assert!(installed());

    let uid = id_of("passwd", "wardwatch").expect("postinst creates the system user wardwatch");
    let gid = id_of("group", "wardwatch").expect("postinst creates the group wardwatch");
    assert!(uid < 1000, "wardwatch is a system user (uid {uid})");
    let passwd = ok(Command::new("getent").args(["passwd", "wardwatch"]));
    assert!(
        passwd
            .trim_end()
            .ends_with(":/var/lib/wardwatch:/usr/sbin/nologin"),
        "home and shell of the system user: {passwd}"
    );

    // Files, owners, modes.
    let root = (0, 0);
    for (path, want_mode, want_owner) in [
        ("/usr/bin/wardwatch", 0o755, root),
        ("/usr/lib/wardwatch/libonnxruntime.so.1.32.0", 0o644, root),
        (
            "/usr/share/wardwatch/models/nanodet-g-416.onnx",
            0o644,
            root,
        ),
        ("/lib/systemd/system/wardwatch.service", 0o644, root),
        ("/usr/share/doc/wardwatch/packaging.md", 0o644, root),
        ("/usr/share/doc/wardwatch/config.md", 0o644, root),
        ("/etc/wardwatch", 0o750, (0, gid)),
        ("/etc/wardwatch/wardwatch.toml", 0o640, (0, gid)),
        ("/var/lib/wardwatch", 0o750, (uid, gid)),
        ("/var/cache/wardwatch", 0o750, (uid, gid)),
    ] {
        let p = Path::new(path);
        assert_eq!(mode(p), want_mode, "mode of {path}: {:o}", mode(p));
        assert_eq!(owner(p), want_owner, "owner of {path}");
    }
    // The binary is the one this run built, the model and ONNX Runtime the project's.
    let same = |a: &Path, b: &Path| {
        std::fs::read(a).unwrap()
            == std::fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()))
    };
    // (stripped: the same GNU build id, and smaller)
    assert_eq!(
        build_id(Path::new("/usr/bin/wardwatch")),
        build_id(Path::new(env!("CARGO_BIN_EXE_wardwatch")))
    );
    let size = |p: &str| std::fs::metadata(p).unwrap().len();
    assert!(size("/usr/bin/wardwatch") < size(env!("CARGO_BIN_EXE_wardwatch")));
    assert!(same(
        Path::new("/usr/share/wardwatch/models/nanodet-g-416.onnx"),
        &repo().join("models/nanodet-g-416.onnx")
    ));
    assert!(same(
        &Path::new("/usr/lib/wardwatch").join(ORT_LIB),
        &std::fs::canonicalize(repo().join(".venv/libonnxruntime.so")).unwrap()
    ));
    assert!(same(
        Path::new("/lib/systemd/system/wardwatch.service"),
        &repo().join("packaging/wardwatch.service")
    ));
    let conffiles = ok(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", PKG]));
    assert!(
        conffiles.contains("/etc/wardwatch/wardwatch.toml"),
        "the config is a conffile: {conffiles:?}"
    );

    // check-config on the packaged config: the model loads through the packaged ONNX
    // Runtime (runtime_library; ORT_DYLIB_PATH removed), as root and as the service user.
    let check = |as_service_user: bool| {
        let mut cmd = if as_service_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "wardwatch", "--", "/usr/bin/wardwatch"]);
            c
        } else {
            Command::new("/usr/bin/wardwatch")
        };
        cmd.args(["check-config", "/etc/wardwatch/wardwatch.toml"])
            .current_dir("/")
            .env_remove("ORT_DYLIB_PATH");
        let t = Instant::now();
        let out = ok(&mut cmd);
        println!(
            "check-config{}: {:.2} s: {}",
            if as_service_user {
                " (as wardwatch)"
            } else {
                ""
            },
            t.elapsed().as_secs_f64(),
            out.trim()
        );
        assert!(
            out.contains("/etc/wardwatch/wardwatch.toml: ok (site site-1, 1 camera(s), 1 zone(s)"),
            "{out}"
        );
    };
    check(false);
    check(true);

    // The unit: systemd accepts it (offline; there need be no running systemd), and its
    // exposure score is printed. It can be enabled, and removal disables it.
    let verify =
        run(Command::new("systemd-analyze")
            .args(["verify", "/lib/systemd/system/wardwatch.service"]));
    let verify_text = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        verify.status.success() && !verify_text.contains("wardwatch.service"),
        "systemd-analyze verify: {}\n{verify_text}",
        verify.status
    );
    let security = ok(Command::new("systemd-analyze").args([
        "security",
        "--offline=yes",
        "/lib/systemd/system/wardwatch.service",
    ]));
    let overall = security
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"));
    println!("{}", overall.trim());
    let score: f64 = overall
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score of {overall:?}"));
    assert!(
        score <= 3.0,
        "the hardening was weakened: exposure {score} (OK is below 4; the packaged unit scores 1.7)"
    );
    ok(Command::new("systemctl").args(["enable", "wardwatch.service"]));
    let wants = Path::new("/etc/systemd/system/multi-user.target.wants/wardwatch.service");
    assert!(wants.exists(), "systemctl enable links {}", wants.display());

    // Reinstall (the upgrade path): an edited config stays and keeps its group and mode.
    let conf = Path::new("/etc/wardwatch/wardwatch.toml");
    let mut text = std::fs::read_to_string(conf).unwrap();
    text.push_str("# edited by tests/package.rs\n");
    std::fs::write(conf, &text).unwrap();
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    assert_eq!(std::fs::read_to_string(conf).unwrap(), text);
    assert_eq!((mode(conf), owner(conf)), (0o640, (0, gid)));

    // Remove: program files and the unit (and its enablement) go, the config stays.
    ok(Command::new("dpkg").args(["--remove", PKG]));
    for p in [
        "/usr/bin/wardwatch",
        "/usr/lib/wardwatch",
        "/usr/share/wardwatch",
        "/lib/systemd/system/wardwatch.service",
    ] {
        assert!(!Path::new(p).exists(), "{p} left after dpkg --remove");
    }
    assert!(!wants.exists(), "dpkg --remove disables the unit");
    assert_eq!(std::fs::read_to_string(conf).unwrap(), text);

    // Purge: the config, the state, the cache and the user go too.
    purge();
    assert!(!installed());
    for p in PATHS {
        assert!(!Path::new(p).exists(), "{p} left after dpkg --purge");
    }
    assert!(
        id_of("passwd", "wardwatch").is_none(),
        "user left after purge"
    );
    assert!(
        id_of("group", "wardwatch").is_none(),
        "group left after purge"
    );
}

fn make_install(args: &[&str]) -> String {
    let bin = env!("CARGO_BIN_EXE_wardwatch");
    ok(Command::new("make")
        .current_dir(repo())
        .args(["--no-print-directory", "install"])
        .arg(format!("BIN={bin}"))
        .args(args))
}

#[test]
fn make_install_stages_the_fhs_tree_and_keeps_an_edited_config() {
    let d = tempfile::tempdir().unwrap();
    let dest = d.path();
    let destdir = format!("DESTDIR={}", dest.display());
    let out = make_install(&[&destdir]);
    assert!(out.contains("wrote"), "{out}");
    for (path, want) in [
        ("usr/local/bin/wardwatch", 0o755),
        ("usr/local/lib/wardwatch/libonnxruntime.so.1.32.0", 0o644),
        ("usr/local/share/wardwatch/models/nanodet-g-416.onnx", 0o644),
        ("usr/local/lib/systemd/system/wardwatch.service", 0o644),
        ("usr/local/share/doc/wardwatch/packaging.md", 0o644),
        ("etc/wardwatch", 0o750),
        ("etc/wardwatch/wardwatch.toml", 0o640),
    ] {
        assert_eq!(mode(&dest.join(path)), want, "mode of {path}");
    }
    // Paths inside point at the prefix.
    let unit = std::fs::read_to_string(dest.join("usr/local/lib/systemd/system/wardwatch.service"))
        .unwrap();
    assert!(
        unit.contains(
            "ExecStart=/usr/local/bin/wardwatch run --config /etc/wardwatch/wardwatch.toml"
        ),
        "{unit}"
    );
    let conf_path = dest.join("etc/wardwatch/wardwatch.toml");
    let conf = std::fs::read_to_string(&conf_path).unwrap();
    for want in [
        "path = \"/usr/local/share/wardwatch/models/nanodet-g-416.onnx\"",
        "runtime_library = \"/usr/local/lib/wardwatch/libonnxruntime.so.1.32.0\"",
        "outbox_dir = \"/var/lib/wardwatch/outbox\"",
        "dir = \"/var/lib/wardwatch/snapshots\"",
    ] {
        assert!(
            conf.contains(want),
            "the installed config lacks {want}:\n{conf}"
        );
    }
    // A second install keeps an edited config.
    std::fs::write(&conf_path, format!("{conf}# edited\n")).unwrap();
    let out = make_install(&[&destdir]);
    assert!(out.contains("keeping the existing"), "{out}");
    assert!(
        std::fs::read_to_string(&conf_path)
            .unwrap()
            .ends_with("# edited\n")
    );

    // Installed for real into a private prefix (no DESTDIR), check-config passes on what
    // make install put there, loading the model through the installed ONNX Runtime.
    let p = tempfile::tempdir().unwrap();
    let prefix = p.path().join("usr");
    let etc = p.path().join("etc");
    make_install(&[
        &format!("PREFIX={}", prefix.display()),
        &format!("SYSCONFDIR={}", etc.display()),
        "CREATE_USER=no",
    ]);
    let conf = etc.join("wardwatch/wardwatch.toml");
    let out = ok(Command::new(prefix.join("bin/wardwatch"))
        .arg("check-config")
        .arg(&conf)
        .env_remove("ORT_DYLIB_PATH"));
    assert!(out.contains(": ok (site site-1"), "{out}");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(&format!(
            "runtime_library = \"{}/lib/wardwatch/{ORT_LIB}\"",
            prefix.display()
        )),
        "{text}"
    );
}
