//! Test helper: a real `mosquitto` broker on a free loopback port.
//!
//! ```ignore
//! let mut b = Broker::start();           // running on 127.0.0.1:b.port
//! b.stop();                              // outage (SIGTERM; persistence saved)
//! b.restart();                           // same port again
//! let b2 = Broker::start_on(free_port()); // a specific port
//! ```
//!
//! The broker runs with `persistence true` in a private temp dir, so persistent
//! subscriber sessions (clean_session = false) and their queued QoS 1 messages
//! survive `stop()`/`restart()`. Its log (`Broker::log()`) is printed if the
//! broker fails to come up.
#![allow(dead_code)]

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Broker {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    extra_conf: String,
}

/// Picks a currently free loopback port (the OS assigns one; we release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot bind an ephemeral loopback port")
        .port()
}

impl Broker {
    /// Starts mosquitto on a free loopback port.
    pub fn start() -> Broker {
        Self::start_with("")
    }

    /// Like `start`, with extra lines at the end of the config (there is one listener, so
    /// listener options such as TLS certificates apply to it; a later
    /// `allow_anonymous false` overrides the default `true`).
    pub fn start_with(extra_conf: &str) -> Broker {
        let mut last_log = String::new();
        for _ in 0..5 {
            let mut b = Self::stopped_with(extra_conf);
            match b.try_start() {
                Ok(()) => return b,
                // Most likely the port got taken between picking and binding.
                Err(log) => last_log = log,
            }
        }
        panic!("mosquitto did not start after 5 attempts; last log:\n{last_log}");
    }

    /// Starts mosquitto on the given loopback port (e.g. one a test already
    /// pointed a client at while the broker was "down"). Retries briefly if
    /// the port is still in TIME_WAIT/being released.
    pub fn start_on(port: u16) -> Broker {
        let mut b = Self::stopped_with("");
        b.port = port;
        b.restart();
        b
    }

    /// A broker that is configured (port reserved) but not running yet; use
    /// `restart()` to start it. For "broker down at start" scenarios.
    pub fn stopped() -> Broker {
        Self::stopped_with("")
    }

    pub fn stopped_with(extra_conf: &str) -> Broker {
        let dir = tempfile::tempdir().expect("create broker temp dir");
        // mosquitto drops privileges to user `mosquitto` when run as root:
        // make the dir traversable and the persistence dir writable for it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(0o777)).unwrap();
        Broker {
            port: free_port(),
            child: None,
            dir,
            extra_conf: extra_conf.to_string(),
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Directory for test files the broker must be able to read (certs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        // In the world-writable data dir: the broker may run as `mosquitto`.
        self.dir.path().join("data").join("mosquitto.log")
    }

    /// Broker log (log file plus anything it wrote to stdout/stderr).
    pub fn log(&self) -> String {
        let file = fs::read_to_string(self.log_path()).unwrap_or_default();
        let out = fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default();
        format!("{file}{out}")
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn try_start(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "broker already running");
        let conf = self.dir.path().join("mosquitto.conf");
        fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {data}/\nlog_dest file {log}\n\
                 log_type all\nconnection_messages true\n{extra}\n",
                port = self.port,
                extra = self.extra_conf,
                data = self.dir.path().join("data").display(),
                log = self.log_path().display(),
            ),
        )
        .unwrap();
        // stdout/stderr (startup errors before the log file is open).
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stdout.log"))
            .unwrap();
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot run `mosquitto` (apt-get install mosquitto)");
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "mosquitto exited early ({status}):\n{}",
                    self.log()
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "mosquitto not accepting on port {} after {START_TIMEOUT:?}:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Graceful stop (SIGTERM): clients see their connection drop; the
    /// broker saves its persistence file first. Waits until the port is closed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Hard kill (SIGKILL): nothing is saved.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the broker on the same port; stops it first if running.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.try_start() {
                Ok(()) => return,
                // The old socket may linger briefly; retry until the deadline.
                Err(log) if Instant::now() > deadline => {
                    panic!("mosquitto could not restart on port {}:\n{log}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The retained message on `topic` (waits up to 10 s), via a real `mosquitto_sub`.
pub fn retained(port: u16, topic: &str) -> Vec<u8> {
    retained_within(port, topic, 10)
}

/// The retained message on `topic`, waiting at most `secs` (empty when there is none).
pub fn retained_within(port: u16, topic: &str, secs: u32) -> Vec<u8> {
    Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-C",
            "1",
            "-W",
            &secs.to_string(),
            "-t",
            topic,
        ])
        .output()
        .expect("mosquitto_sub runs")
        .stdout
}

/// A persistent `mosquitto_sub` (clean_session false, QoS 1): it reconnects by itself
/// when the broker restarts, and the broker keeps what arrived meanwhile for it. Lines
/// are `topic payload` (`-v`).
pub struct Subscriber {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Subscriber {
    /// Subscribe to `filter` and return once a probe published to `probe_topic` (which
    /// must match `filter`) has arrived, so nothing published afterwards can be missed.
    pub fn persistent(port: u16, client_id: &str, filter: &str, probe_topic: &str) -> Subscriber {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub.txt");
        let child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-c", "-i", client_id, "-q", "1", "-v", "-t", filter])
            .stdout(fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub runs (apt package mosquitto-clients)");
        let s = Subscriber {
            child,
            out,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !s.lines().iter().any(|l| l.starts_with(probe_topic)) {
            let _ = Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["-q", "1", "-t", probe_topic, "-m", "probe"])
                .status();
            assert!(
                Instant::now() < deadline,
                "mosquitto_sub did not subscribe within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// Every `topic payload` line received so far (probes included).
    pub fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Payloads received on topics other than `probe_topic`.
    pub fn payloads(&self, probe_topic: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| !l.starts_with(probe_topic))
            .filter_map(|l| l.split_once(' ').map(|(_, p)| p.to_string()))
            .collect()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
