//! `wardwatch run --config FILE`: the appliance (see [`crate::runtime::control`]).

use std::path::Path;
use std::sync::Arc;

use super::AppError;
use crate::clock::SystemClock;
use crate::runtime::control::{self, RunError};

pub fn run(config: &Path, json: bool) -> Result<(), AppError> {
    control::run(config, Arc::new(SystemClock), json).map_err(|e| match e {
        RunError::Config(e) => AppError::Config(e),
        RunError::Detect(e) => AppError::Detect(e),
        RunError::Evidence(e) => AppError::Evidence(e),
        RunError::Outbox(e) => AppError::Outbox(e),
        RunError::Thread(e) => AppError::Failed(format!("cannot start a thread: {e}")),
        RunError::Web(e) => AppError::Failed(e.to_string()),
    })
}
