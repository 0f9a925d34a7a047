//! Test kit: live MJPEG-over-HTTP cameras on loopback, decoded by wardwatch through
//! OpenCV's FFmpeg backend exactly like an IP camera's `http://…/video.mjpg` stream.
//!
//! ```ignore
//! let cam = MjpegServer::start(vtest_jpegs(), 10.0);   // http://127.0.0.1:cam.port/video.mjpg
//! cam.kill();      // server gone: connections reset, port refused
//! cam.restart();   // same port again
//! cam.set_fps(3.0) // slow stream
//! let hung = HungServer::start();                      // accepts, then never sends a byte
//! ```
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// JPEG frames of vtest.avi (every frame of the first `n`), encoded once per process.
pub fn vtest_jpegs() -> Arc<Vec<Vec<u8>>> {
    static FRAMES: OnceLock<Arc<Vec<Vec<u8>>>> = OnceLock::new();
    FRAMES
        .get_or_init(|| {
            use opencv::prelude::*;
            use opencv::{core, imgcodecs, videoio};
            let path = super::vtest();
            let mut cap =
                videoio::VideoCapture::from_file(path.to_str().unwrap(), videoio::CAP_ANY).unwrap();
            let mut m = core::Mat::default();
            let mut out = Vec::new();
            let params = core::Vector::<i32>::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 80]);
            while out.len() < 300 && cap.read(&mut m).unwrap_or(false) {
                let mut buf = core::Vector::<u8>::new();
                imgcodecs::imencode(".jpg", &m, &mut buf, &params).unwrap();
                out.push(buf.to_vec());
            }
            assert!(out.len() >= 100, "could not decode vtest.avi frames");
            Arc::new(out)
        })
        .clone()
}

struct Shared {
    frames: Arc<Vec<Vec<u8>>>,
    fps_bits: AtomicU64,
    alive: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
}

/// A multipart/x-mixed-replace JPEG stream served at a settable rate.
pub struct MjpegServer {
    pub port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MjpegServer {
    pub fn start(frames: Arc<Vec<Vec<u8>>>, fps: f64) -> MjpegServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            frames,
            fps_bits: AtomicU64::new(fps.to_bits()),
            alive: AtomicBool::new(true),
            conns: Mutex::new(Vec::new()),
        });
        let mut s = MjpegServer {
            port,
            shared,
            accept: None,
        };
        s.serve(listener);
        s
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/video.mjpg", self.port)
    }

    pub fn set_fps(&self, fps: f64) {
        self.shared.fps_bits.store(fps.to_bits(), Ordering::SeqCst);
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        self.shared.alive.store(true, Ordering::SeqCst);
        let shared = self.shared.clone();
        self.accept = Some(std::thread::spawn(move || {
            while shared.alive.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        if let Ok(c) = conn.try_clone() {
                            shared.conns.lock().unwrap().push(c);
                        }
                        let shared = shared.clone();
                        std::thread::spawn(move || stream_to(conn, &shared));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }));
    }

    /// The server dies: the listener closes and every connection is reset.
    pub fn kill(&mut self) {
        self.shared.alive.store(false, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for c in self.shared.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Serve again on the same port.
    pub fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("cannot rebind port {}: {e}", self.port),
            }
        };
        self.serve(listener);
    }
}

impl Drop for MjpegServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn stream_to(mut conn: TcpStream, shared: &Shared) {
    // Read the request head (we serve the same stream whatever the path).
    let mut req = [0u8; 2048];
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = conn.read(&mut req);
    let head = "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=wardwatchframe\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut i = 0usize;
    let mut next = Instant::now();
    while shared.alive.load(Ordering::SeqCst) {
        let jpeg = &shared.frames[i % shared.frames.len()];
        let part = format!(
            "--wardwatchframe\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        );
        if conn.write_all(part.as_bytes()).is_err()
            || conn.write_all(jpeg).is_err()
            || conn.write_all(b"\r\n").is_err()
        {
            return;
        }
        i += 1;
        let fps = f64::from_bits(shared.fps_bits.load(Ordering::SeqCst)).max(0.1);
        next += Duration::from_secs_f64(1.0 / fps);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

/// Accepts connections and never answers: a camera whose server hangs.
pub struct HungServer {
    pub port: u16,
    alive: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl HungServer {
    pub fn start() -> HungServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let alive = Arc::new(AtomicBool::new(true));
        let held = Arc::new(Mutex::new(Vec::new()));
        {
            let (alive, held) = (alive.clone(), held.clone());
            std::thread::spawn(move || {
                while alive.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((c, _)) => held.lock().unwrap().push(c),
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            });
        }
        HungServer { port, alive, held }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/video.mjpg", self.port)
    }
}

impl Drop for HungServer {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::SeqCst);
        self.held.lock().unwrap().clear();
    }
}

/// Threads and open fds of a process, from /proc.
pub fn threads_and_fds(pid: u32) -> (usize, usize) {
    let count = |d: String| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
    (
        count(format!("/proc/{pid}/task")),
        count(format!("/proc/{pid}/fd")),
    )
}

/// Resident set size of a process in kB, from /proc.
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Names of a process's threads (sorted), from /proc: what a thread-count change was.
pub fn thread_names(pid: u32) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What a process's fds point at (sorted), from /proc: what an fd-count change was.
pub fn fd_targets(pid: u32) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
