//! `wardwatch check-config FILE`: validate a config and print every problem.

use std::path::Path;

use super::AppError;
use crate::config::Config;

/// Exit 2 when the config is invalid; 1 when it is valid but a file it names cannot be
/// used (the model: missing, a directory, empty, or not loadable by ONNX Runtime).
pub fn check_config(file: &Path) -> Result<(), AppError> {
    let cfg = Config::load(file)?;
    crate::detect::Detector::load(cfg.detector.clone())?;
    let zones: usize = cfg.cameras.iter().map(|c| c.zones.len()).sum();
    println!(
        "{}: ok (site {}, {} camera(s), {} zone(s), time zone {})",
        file.display(),
        cfg.site.id,
        cfg.cameras.len(),
        zones,
        cfg.site.timezone_name
    );
    Ok(())
}
