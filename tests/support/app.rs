//! Test helper: a running `wardwatch run` process with its stdout and stderr lines on
//! channels, so a test can wait for a line, count what it printed, and stop or kill it.
//!
//! ```ignore
//! let app = App::spawn(&cfg, &["--json"]);
//! app.wait_out(&["\"phase\":\"start\""], Duration::from_secs(30));
//! app.stop(); // SIGTERM, must exit 0 within 5 s
//! ```

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct App {
    child: Option<Child>,
    out: Receiver<String>,
    err: Receiver<String>,
    /// Every line printed so far, both streams (for greps over the whole output).
    all: Arc<Mutex<Vec<String>>>,
}

impl App {
    /// `wardwatch run --config cfg extra…` with `WARDWATCH_LOG=info`.
    pub fn spawn(cfg: &Path, extra: &[&str]) -> App {
        Self::spawn_env(cfg, extra, &[])
    }

    pub fn spawn_env(cfg: &Path, extra: &[&str], env: &[(&str, &str)]) -> App {
        super::require_runtime();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wardwatch"));
        cmd.args(["run", "--config"])
            .arg(cfg)
            .args(extra)
            .env("WARDWATCH_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("wardwatch runs");
        let all = Arc::new(Mutex::new(Vec::new()));
        let pipe = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = channel();
            let all = all.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    all.lock().unwrap().push(l.clone());
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let out = pipe(Box::new(child.stdout.take().unwrap()));
        let err = pipe(Box::new(child.stderr.take().unwrap()));
        App {
            child: Some(child),
            out,
            err,
            all,
        }
    }

    /// The next stdout line containing all of `needles`, within `timeout`.
    pub fn wait_out(&self, needles: &[&str], timeout: Duration) -> Option<String> {
        wait_line(&self.out, needles, timeout)
    }

    /// The next stderr (log) line containing all of `needles`, within `timeout`.
    pub fn wait_err(&self, needles: &[&str], timeout: Duration) -> Option<String> {
        wait_line(&self.err, needles, timeout)
    }

    /// Stdout lines that arrived so far and were not consumed by a `wait_out`.
    pub fn drain_out(&self) -> Vec<String> {
        self.out.try_iter().collect()
    }

    /// Everything printed so far on both streams.
    pub fn all_lines(&self) -> Vec<String> {
        self.all.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// SIGTERM; the process must exit 0. Returns how long it took (the tests require
    /// under 5 s).
    pub fn stop(&mut self) -> Duration {
        let t0 = Instant::now();
        signal(self.pid(), "TERM");
        let deadline = t0 + Duration::from_secs(15);
        let child = self.child.as_mut().expect("running");
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                assert!(st.success(), "run exited with {st}");
                self.child = None;
                return t0.elapsed();
            }
            assert!(Instant::now() < deadline, "run did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown at all, as in a power cut.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Wait for the process to exit by itself; its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status();
}

pub fn wait_line(rx: &Receiver<String>, needles: &[&str], timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(l) if needles.iter().all(|n| l.contains(n)) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// A numeric field `name=value` of a log line (tracing's text format).
pub fn field(line: &str, name: &str) -> Option<f64> {
    let i = line.find(&format!("{name}="))? + name.len() + 1;
    let v: String = line[i..]
        .trim_start_matches('"')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    v.parse().ok()
}
