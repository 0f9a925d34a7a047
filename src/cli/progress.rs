//! Replay progress: an `indicatif` bar with fps and ETA when stderr is a terminal, plain
//! log lines (through `tracing`, so `--log-format json` stays JSON) every `every` of wall
//! time otherwise, and one last line when done.
//!
//! While a bar is drawn, everything else written to stderr (log lines, `--explain`) goes
//! through [`suspend`], so lines and bar do not garble each other.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar on screen, if any (for [`suspend`]).
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Run `f` with the progress bar (if one is drawn) cleared from the screen.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = BAR.lock().ok().and_then(|b| b.clone());
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// One line on stderr, around the bar.
pub fn eprint_line(line: &str) {
    suspend(|| {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{line}");
    });
}

/// The stderr writer of the logger: writes around the bar.
pub struct StderrAroundBar;

impl Write for StderrAroundBar {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        suspend(|| std::io::stderr().write(buf))
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        suspend(|| std::io::stderr().write_all(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn fps_key(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.1} fps", state.per_sec());
}

pub struct Progress {
    bar: Option<ProgressBar>,
    total: Option<u64>,
    /// Plain lines this often; `None`: progress off.
    every: Option<Duration>,
    t0: Instant,
    last_line: Instant,
    pos: u64,
}

impl Progress {
    /// `total`: frames expected (`None`: unknown, no ETA). `every_s`: seconds between plain
    /// lines; 0 turns progress off (no bar, no lines).
    pub fn start(total: Option<u64>, every_s: f64) -> Self {
        let now = Instant::now();
        let every = (every_s > 0.0).then(|| Duration::from_secs_f64(every_s));
        let bar = (every.is_some() && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template(
                            "replay [{bar:30}] {pos}/{len} frames ({percent}%) {fps} ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .with_key("fps", fps_key)
                        .progress_chars("=> "),
                    ),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template("replay {spinner} {pos} frames {fps}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner())
                            .with_key("fps", fps_key),
                    ),
            };
            bar.enable_steady_tick(Duration::from_millis(200));
            if let Ok(mut b) = BAR.lock() {
                *b = Some(bar.clone());
            }
            bar
        });
        Self {
            bar,
            total,
            every,
            t0: now,
            last_line: now,
            pos: 0,
        }
    }

    /// Frames done so far.
    pub fn update(&mut self, pos: u64) {
        self.pos = pos;
        if let Some(b) = &self.bar {
            b.set_position(pos);
            return;
        }
        let Some(every) = self.every else { return };
        let now = Instant::now();
        if now.duration_since(self.last_line) >= every {
            self.last_line = now;
            self.line(false);
        }
    }

    /// Done: the bar goes away; plain output gets a last line.
    pub fn finish(&mut self, pos: u64) {
        self.pos = pos;
        if let Some(b) = self.bar.take() {
            if let Ok(mut g) = BAR.lock() {
                *g = None;
            }
            b.finish_and_clear();
        } else if self.every.is_some() {
            self.line(true);
        }
    }

    fn line(&self, done: bool) {
        let secs = self.t0.elapsed().as_secs_f64().max(1e-9);
        let fps = self.pos as f64 / secs;
        let line = progress_line(self.pos, self.total, fps, done);
        tracing::info!(
            frames = self.pos,
            total = self.total,
            fps = (fps * 10.0).round() / 10.0,
            "{line}"
        );
    }
}

/// `replay: 1200/7950 frames (15%), 45.2 fps, ETA 2m 29s`.
pub fn progress_line(pos: u64, total: Option<u64>, fps: f64, done: bool) -> String {
    let mut s = match total {
        Some(n) if n > 0 => format!(
            "replay: {pos}/{n} frames ({}%), {fps:.1} fps",
            (pos.min(n) * 100) / n
        ),
        _ => format!("replay: {pos} frames, {fps:.1} fps"),
    };
    if done {
        s.push_str(", done");
    } else if let Some(n) = total
        && fps > 0.0
        && n > pos
    {
        s.push_str(&format!(", ETA {}", eta((n - pos) as f64 / fps)));
    }
    s
}

/// `2m 29s`, `1h 02m`, `7s`.
fn eta(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            progress_line(1200, Some(7950), 45.21, false),
            "replay: 1200/7950 frames (15%), 45.2 fps, ETA 2m 29s"
        );
        assert_eq!(
            progress_line(1200, None, 45.21, false),
            "replay: 1200 frames, 45.2 fps"
        );
        assert_eq!(
            progress_line(795, Some(795), 40.0, true),
            "replay: 795/795 frames (100%), 40.0 fps, done"
        );
        assert_eq!(eta(7.4), "7s");
        assert_eq!(eta(3720.0), "1h 02m");
    }
}
