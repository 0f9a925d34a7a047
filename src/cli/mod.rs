//! The commands, one thin file each: they parse arguments, build the stages' settings
//! from the config, and hand over to the runtime.

pub mod bench;
pub mod check_config;
pub mod progress;
pub mod replay;
pub mod run;
pub mod tune;
pub mod zones;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::config::{CameraConfig, Config, ConfigError};
use crate::detect::DetectError;
use crate::media::SourceError;
use crate::publish::evidence::EvidenceError;
use crate::publish::outbox::OutboxError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Detect(#[from] DetectError),
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("{0}")]
    Evidence(#[from] EvidenceError),
    #[error("{0}")]
    Outbox(#[from] OutboxError),
    /// Bad command-line usage (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Anything else that stops the command (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl AppError {
    /// 2 for invalid config or usage, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Config(_) | AppError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Log output format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines; ANSI colour only when stderr is a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// Set up the logger on stderr (around a replay's progress bar), and route FFmpeg's own
/// messages through it (target `ffmpeg`, warnings and errors by default).
pub fn init_logging(format: LogFormat) {
    let _ = crate::runtime::JSON_LOG.set(format == LogFormat::Json);
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("WARDWATCH_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,ort=warn,ffmpeg=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::StderrAroundBar)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // The target tells a log shipper wardwatch's lines from FFmpeg's (`ffmpeg`).
        LogFormat::Json => builder.json().with_target(true).try_init(),
    };
    crate::media::ffmpeg_log::install();
}

pub use crate::runtime::note;

/// The command's failure: `error: …` on stderr, or an error record with
/// `--log-format json`.
pub fn note_error(e: &AppError) {
    if crate::runtime::json_log() {
        tracing::error!("error: {e}");
    } else {
        eprintln!("error: {e}");
    }
}

/// The camera a command is about: `--camera ID`, or the first one.
pub fn pick_camera<'a>(
    cfg: &'a Config,
    id: Option<&str>,
    file: &Path,
) -> Result<&'a CameraConfig, AppError> {
    match id {
        Some(id) => cfg.camera(id).ok_or_else(|| {
            let ids: Vec<&str> = cfg.cameras.iter().map(|c| c.id.as_str()).collect();
            AppError::Usage(format!(
                "--camera {id:?}: no such camera in {} (cameras: {})",
                file.display(),
                ids.join(", ")
            ))
        }),
        None => Ok(&cfg.cameras[0]),
    }
}

/// "768x576" → (768, 576).
pub fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X'])?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// A finite number in `[min, max]`, for numeric flags.
pub fn check_range(flag: &str, v: f64, min: f64, max: f64) -> Result<f64, AppError> {
    if v.is_finite() && v >= min && v <= max {
        Ok(v)
    } else {
        Err(AppError::Usage(format!(
            "{flag} {v}: use a number in [{min}, {max}]"
        )))
    }
}

pub(crate) fn export_file(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, AppError> {
    std::fs::File::create(path)
        .map(std::io::BufWriter::new)
        .map_err(|e| AppError::Failed(format!("{}: cannot create ({e})", path.display())))
}

pub(crate) fn write_err(path: &Option<PathBuf>, e: std::io::Error) -> AppError {
    let p = path
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    AppError::Failed(format!("{p}: write failed ({e})"))
}
