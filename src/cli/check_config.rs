//! `wardwatch check-config FILE`: validate a config and print every problem.

use std::path::Path;

use super::AppError;
use crate::config::Config;

pub fn check_config(file: &Path) -> Result<(), AppError> {
    let cfg = Config::load(file)?;
    let zones: usize = cfg.cameras.iter().map(|c| c.zones.len()).sum();
    println!(
        "{}: ok (site {}, {} camera(s), {} zone(s), time zone {})",
        file.display(),
        cfg.site.name,
        cfg.cameras.len(),
        zones,
        cfg.site.timezone_name
    );
    Ok(())
}
