//! FFmpeg's own messages (`[h264 @ 0x…] error while decoding MB …`) through `tracing`,
//! target `ffmpeg`, instead of FFmpeg printing them on stderr (which breaks
//! `--log-format json`).
//!
//! OpenCV's FFmpeg backend links libavutil; this finds that very library among the ones
//! the process has mapped (`/proc/self/maps`), opens it again with `dlopen` (which only
//! takes a reference to the copy already loaded) and installs a log callback with
//! `av_log_set_callback`. The callback formats each message with `av_log_format_line2`
//! (FFmpeg's own `[name @ 0x…]` prefix included) and logs it at the mapped level:
//!
//! | FFmpeg                  | tracing |
//! |-------------------------|---------|
//! | panic, fatal, error     | ERROR   |
//! | warning                 | WARN    |
//! | info                    | INFO    |
//! | verbose, debug          | DEBUG   |
//! | trace                   | TRACE   |
//!
//! The default filter (`ffmpeg=warn`, see `cli::init_logging`) keeps warnings and errors;
//! `WARDWATCH_LOG=info,ffmpeg=debug` shows more. The level check comes before formatting,
//! so FFmpeg's chatter costs a branch when it is filtered out.
//!
//! **OpenCV re-applies its own set-up at every capture open** (OpenCV 4.6,
//! `cap_ffmpeg_impl.hpp`, `InternalFFMpegRegister::initLogger_`): it sets
//! `av_log_set_level(AV_LOG_ERROR)` and, only when `OPENCV_FFMPEG_DEBUG` or
//! `OPENCV_FFMPEG_LOGLEVEL` is set, its own printf callback. The level does not matter
//! here (FFmpeg hands every message to the callback; only its default callback compares the
//! level), and [`after_open`] installs this callback again after each open, so it wins.
//!
//! If no libavutil is mapped at start-up (OpenCV built without FFmpeg, or FFmpeg as a
//! plugin loaded at the first open), the first [`after_open`] looks again; if it still
//! finds none, one warning is logged and FFmpeg keeps its own output.

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Mutex, OnceLock};

use tracing::Level;

/// `void (*)(void *avcl, int level, const char *fmt, va_list vl)`.
///
/// The `va_list` is taken as an opaque pointer and only handed on to
/// `av_log_format_line2`, never read here. That is sound where `va_list` is passed as a
/// pointer at the ABI level, which holds on every target this builds for:
/// - x86_64 System V: `va_list` is `__va_list_tag[1]`, an array, so a `va_list` parameter
///   is a pointer to the caller's tag;
/// - aarch64 (AAPCS64, Linux): `va_list` is a 32-byte struct; composites over 16 bytes are
///   passed as a pointer to a copy the caller made, so the parameter is again one pointer;
/// - aarch64 Apple and x86_64 Windows: `va_list` is `char *`.
///
/// Passing the same pointer on to a function taking `va_list` therefore hands it exactly
/// what it would get from C. The list is consumed once (by the formatter), as C requires.
type LogCallback = unsafe extern "C" fn(*mut c_void, c_int, *const c_char, *mut c_void);
type SetCallback = unsafe extern "C" fn(Option<LogCallback>);
/// `int av_log_format_line2(void *ptr, int level, const char *fmt, va_list vl,
///  char *line, int line_size, int *print_prefix)` (libavutil ≥ 55.5).
type FormatLine2 = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const c_char,
    *mut c_void,
    *mut c_char,
    c_int,
    *mut c_int,
) -> c_int;

struct AvUtil {
    set_callback: SetCallback,
    format_line: FormatLine2,
    /// Keeps the library referenced for the life of the process: the callback is installed
    /// in it.
    _lib: libloading::Library,
}

/// Set once libavutil is found; read by the callback.
static AVUTIL: OnceLock<AvUtil> = OnceLock::new();

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not found yet (looked for at start-up; looked for again after the first open).
    Looking,
    Installed,
    /// Not found after an open: warned once, never looked for again.
    GaveUp,
}

static STATE: Mutex<State> = Mutex::new(State::Looking);

/// Install the callback when libavutil is already mapped (call once, at start-up, after
/// the logger is set up).
pub fn install() {
    let mut st = STATE.lock().unwrap_or_else(|p| p.into_inner());
    if *st == State::Looking && load().is_ok() {
        set();
        *st = State::Installed;
    }
}

/// Call after every OpenCV capture open: OpenCV may have installed its own callback in it.
pub fn after_open() {
    let mut st = STATE.lock().unwrap_or_else(|p| p.into_inner());
    match *st {
        State::Installed => set(),
        State::GaveUp => {}
        State::Looking => match load() {
            Ok(()) => {
                set();
                *st = State::Installed;
            }
            Err(why) => {
                *st = State::GaveUp;
                tracing::warn!(
                    "FFmpeg's own messages cannot go through the log ({why}); they stay on stderr"
                );
            }
        },
    }
}

/// Whether FFmpeg's messages come through the log.
pub fn installed() -> bool {
    *STATE.lock().unwrap_or_else(|p| p.into_inner()) == State::Installed
}

fn set() {
    if let Some(av) = AVUTIL.get() {
        // SAFETY: `on_log` has the callback's C signature (see `LogCallback`) and lives for
        // the whole process. FFmpeg stores the pointer in a global that its threads read
        // without a lock; OpenCV writes the same global the same way at every open, and
        // ours are serialised by STATE's lock.
        unsafe { (av.set_callback)(Some(on_log)) }
    }
}

/// The libavutil mapped into this process, opened again and its two functions resolved.
fn load() -> Result<(), String> {
    if AVUTIL.get().is_some() {
        return Ok(());
    }
    let maps = std::fs::read_to_string("/proc/self/maps")
        .map_err(|e| format!("cannot read /proc/self/maps: {e}"))?;
    let path = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            p.rsplit('/')
                .next()
                .is_some_and(|f| f.starts_with("libavutil.so"))
        })
        .ok_or("no libavutil is loaded: OpenCV's FFmpeg backend is missing")?
        .to_string();
    // SAFETY: the library is already loaded by OpenCV (its initialisers have run); this
    // only adds a reference. The symbols are FFmpeg's public API with the C signatures
    // declared above (stable since libavutil 55).
    let av = unsafe {
        let lib = libloading::Library::new(&path).map_err(|e| format!("{path}: {e}"))?;
        let set_callback = *lib
            .get::<SetCallback>(b"av_log_set_callback\0")
            .map_err(|e| format!("{path}: {e}"))?;
        let format_line = *lib
            .get::<FormatLine2>(b"av_log_format_line2\0")
            .map_err(|e| format!("{path}: {e}"))?;
        AvUtil {
            set_callback,
            format_line,
            _lib: lib,
        }
    };
    let _ = AVUTIL.set(av);
    Ok(())
}

/// FFmpeg's `AV_LOG_*` level as a tracing level; `None` for `AV_LOG_QUIET` and below.
pub fn level_of(av_level: c_int) -> Option<Level> {
    Some(match av_level {
        i32::MIN..=-1 => return None,
        0..=16 => Level::ERROR,  // panic 0, fatal 8, error 16
        17..=24 => Level::WARN,  // warning 24
        25..=32 => Level::INFO,  // info 32
        33..=48 => Level::DEBUG, // verbose 40, debug 48
        _ => Level::TRACE,       // trace 56
    })
}

fn enabled(level: Level) -> bool {
    match level {
        Level::ERROR => tracing::enabled!(target: "ffmpeg", Level::ERROR),
        Level::WARN => tracing::enabled!(target: "ffmpeg", Level::WARN),
        Level::INFO => tracing::enabled!(target: "ffmpeg", Level::INFO),
        Level::DEBUG => tracing::enabled!(target: "ffmpeg", Level::DEBUG),
        _ => tracing::enabled!(target: "ffmpeg", Level::TRACE),
    }
}

/// Secrets of the camera URLs opened so far (passwords, secret query values, the Basic
/// auth token), scrubbed from every FFmpeg line: FFmpeg logs `Opening 'rtsp://user:pw@…'`
/// and, at debug level, whole HTTP requests.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remember the secrets of a camera URL before it is opened (idempotent).
pub fn register_secrets(url: &str) {
    let Ok(u) = url::Url::parse(url) else { return };
    let mut found = Vec::new();
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    if let Some(pw) = u.password() {
        found.push(pw.to_string());
        found.push(decode(pw));
        let user = decode(u.username());
        found.push(base64(format!("{user}:{}", decode(pw)).as_bytes()));
    }
    if let Some(q) = u.query() {
        for part in q.split('&') {
            if let Some((k, v)) = part.split_once('=')
                && crate::media::source::secret_key(&decode(k))
            {
                found.push(v.to_string());
                found.push(decode(v));
            }
        }
    }
    let mut all = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    for f in found {
        // Too short to scrub without mangling ordinary text.
        if f.chars().count() >= 3 && !all.contains(&f) {
            all.push(f);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// The line with every registered secret, and the credentials of any URL in it, hidden.
pub fn scrub(line: &str) -> String {
    let mut out = line.to_string();
    for s in SECRETS.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    // URLs nobody registered (a redirect, say): their userinfo and secret query values.
    if out.contains("://") {
        out = out
            .split_inclusive(|c: char| c.is_whitespace() || c == '\'' || c == '"')
            .map(|tok| {
                let end = tok.len()
                    - tok
                        .chars()
                        .last()
                        .filter(|c| c.is_whitespace() || *c == '\'' || *c == '"')
                        .map_or(0, char::len_utf8);
                let (word, sep) = tok.split_at(end);
                if word.contains("://") {
                    format!("{}{sep}", crate::media::source::redact(word))
                } else {
                    tok.to_string()
                }
            })
            .collect();
    }
    out
}

/// Standard base64 (for the `Authorization: Basic` token FFmpeg may log).
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn emit(level: Level, line: &str) {
    let line = scrub(line);
    let line = line.as_str();
    match level {
        Level::ERROR => tracing::error!(target: "ffmpeg", "{line}"),
        Level::WARN => tracing::warn!(target: "ffmpeg", "{line}"),
        Level::INFO => tracing::info!(target: "ffmpeg", "{line}"),
        Level::DEBUG => tracing::debug!(target: "ffmpeg", "{line}"),
        _ => tracing::trace!(target: "ffmpeg", "{line}"),
    }
}

thread_local! {
    /// FFmpeg's "the next piece starts a line" flag, per thread (FFmpeg keeps one global
    /// behind a mutex; per thread keeps the decoder threads' pieces apart).
    static PRINT_PREFIX: Cell<c_int> = const { Cell::new(1) };
    /// A line FFmpeg is still writing in pieces, and its level.
    static PENDING: RefCell<(String, Option<Level>)> = const { RefCell::new((String::new(), None)) };
}

/// A longer line is cut (FFmpeg's own default callback uses 1024 bytes too).
const LINE_MAX: usize = 1024;

/// At most this many FFmpeg lines per second per thread reach the log: a camera with
/// packet loss makes the decoder complain about every frame, and the journal must not
/// drown in it. What is held back is counted and reported once the second is over.
const LINES_PER_SECOND: u32 = 10;

thread_local! {
    /// (start of the current second, lines logged in it, lines held back in it).
    static RATE: Cell<(Option<std::time::Instant>, u32, u32)> = const { Cell::new((None, 0, 0)) };
}

/// Whether this thread may log another FFmpeg line now; logs how many were held back in
/// the previous second when a new one starts.
fn admit() -> bool {
    let now = std::time::Instant::now();
    let (start, logged, held) = RATE.try_with(Cell::get).unwrap_or((None, 0, 0));
    let (start, logged, held) = match start {
        Some(t) if now.duration_since(t).as_secs_f64() < 1.0 => (t, logged, held),
        _ => {
            if held > 0 {
                tracing::warn!(target: "ffmpeg", held_back = held, "{held} more FFmpeg message(s) in the last second not logged (at most {LINES_PER_SECOND} a second per stream)");
            }
            (now, 0, 0)
        }
    };
    let ok = logged < LINES_PER_SECOND;
    let state = if ok {
        (Some(start), logged + 1, held)
    } else {
        (Some(start), logged, held + 1)
    };
    let _ = RATE.try_with(|r| r.set(state));
    ok
}

unsafe extern "C" fn on_log(avcl: *mut c_void, level: c_int, fmt: *const c_char, vl: *mut c_void) {
    // Never unwind into C.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(lvl) = level_of(level) else { return };
        if fmt.is_null() || !enabled(lvl) {
            return;
        }
        let Some(av) = AVUTIL.get() else { return };
        let mut buf = [0 as c_char; LINE_MAX];
        let mut prefix = PRINT_PREFIX.try_with(Cell::get).unwrap_or(1);
        // SAFETY: the arguments are FFmpeg's, handed on unchanged (see `LogCallback` for
        // the va_list); `buf` is LINE_MAX bytes, and the function writes at most that,
        // NUL included.
        let n = unsafe {
            (av.format_line)(
                avcl,
                level,
                fmt,
                vl,
                buf.as_mut_ptr(),
                LINE_MAX as c_int,
                &mut prefix,
            )
        };
        let _ = PRINT_PREFIX.try_with(|p| p.set(prefix));
        if n < 0 {
            return;
        }
        // SAFETY: av_log_format_line2 NUL-terminates within the buffer.
        let piece = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
        let done = PENDING.try_with(|p| {
            let mut p = p.borrow_mut();
            p.0.push_str(&piece);
            // The most severe level of the pieces makes the line's level.
            p.1 = Some(p.1.map_or(lvl, |l| l.min(lvl)));
            if p.0.ends_with('\n') || p.0.len() >= LINE_MAX {
                let line = std::mem::take(&mut p.0);
                Some((line, p.1.take().unwrap_or(lvl)))
            } else {
                None
            }
        });
        match done {
            Ok(Some((line, l))) => {
                let line = line.trim_end();
                if !line.is_empty() && admit() {
                    emit(l, line);
                }
            }
            Ok(None) => {}
            // This thread is being torn down: log the piece as it is.
            Err(_) => emit(lvl, piece.trim_end()),
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_secrets_are_scrubbed_from_ffmpeg_lines() {
        register_secrets("http://admin:S3cr%40t-Wx@10.0.0.9:8080/v.mjpg?user=admin&pwd=Qs99x");
        let line = scrub(
            "Opening 'http://admin:S3cr%40t-Wx@10.0.0.9:8080/v.mjpg?user=admin&pwd=Qs99x' for reading",
        );
        assert!(!line.contains("S3cr") && !line.contains("Qs99x"), "{line}");
        assert!(line.contains("10.0.0.9:8080"), "the rest stays: {line}");
        let req = scrub("request: GET /v.mjpg?user=admin&pwd=Qs99x HTTP/1.1");
        assert!(!req.contains("Qs99x"), "{req}");
        // Basic auth of admin:S3cr@t-Wx.
        assert_eq!(base64(b"admin:S3cr@t-Wx"), "YWRtaW46UzNjckB0LVd4");
        assert!(!scrub("Authorization: Basic YWRtaW46UzNjckB0LVd4").contains("YWRtaW46"));
        // A URL nobody registered still loses its password.
        let other = scrub("redirect to 'rtsp://u:hunter22@cam/1'");
        assert!(!other.contains("hunter22"), "{other}");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn a_flood_is_cut_to_the_rate_per_thread() {
        // A fresh thread: its own second starts with its first line.
        let admitted = std::thread::spawn(|| (0..100).filter(|_| admit()).count())
            .join()
            .unwrap();
        assert_eq!(admitted, LINES_PER_SECOND as usize);
    }

    #[test]
    fn ffmpeg_levels_map_onto_tracing_levels() {
        // AV_LOG_QUIET, PANIC, FATAL, ERROR, WARNING, INFO, VERBOSE, DEBUG, TRACE.
        let got: Vec<Option<Level>> = [-8, 0, 8, 16, 24, 32, 40, 48, 56]
            .into_iter()
            .map(level_of)
            .collect();
        assert_eq!(
            got,
            vec![
                None,
                Some(Level::ERROR),
                Some(Level::ERROR),
                Some(Level::ERROR),
                Some(Level::WARN),
                Some(Level::INFO),
                Some(Level::DEBUG),
                Some(Level::DEBUG),
                Some(Level::TRACE),
            ]
        );
    }

    #[test]
    fn the_libavutil_opencv_links_is_found_and_installed_at_an_open() {
        // A real open of the demo clip through OpenCV's FFmpeg backend (which also makes
        // this test binary link videoio, and with it libavutil).
        let clip = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/vtest.avi");
        crate::media::FileSource::open(&clip, jiff::Timestamp::UNIX_EPOCH, None)
            .expect("data/vtest.avi opens (run `make setup`)");
        assert!(
            installed(),
            "libavutil is mapped in this process (OpenCV's FFmpeg backend): {:?}",
            load()
        );
        // Again, as at start-up and at every later open: stays installed.
        install();
        after_open();
        assert!(installed());
    }
}
