//! What a capture thread does to a due frame before handing it over, so that the
//! detector worker finds it ready: the model input (the detector's own preprocessing,
//! detached) and, for motion gating, the small grey copy. This overlaps decode and
//! preprocessing with the inference of the previous frame.

use opencv::core::Mat;
use opencv::prelude::*;

use crate::detect::Preprocessor;
use crate::media::capture::Prepare;
use crate::media::motion::Shrinker;
use crate::media::source::Frame;

pub struct FramePrep {
    /// `None`: the worker preprocesses (the sequential path, for comparison).
    pre: Option<Preprocessor>,
    /// Width of the motion copy; `None`: no motion gating for this camera.
    motion_width: Option<u32>,
    shrink: Shrinker,
    /// Where the time per frame goes (`/metrics`).
    metrics: Option<std::sync::Arc<crate::runtime::metrics::Metrics>>,
}

impl FramePrep {
    pub fn new(pre: Option<Preprocessor>, motion_width: Option<u32>) -> Self {
        Self {
            pre,
            motion_width,
            shrink: Shrinker::default(),
            metrics: None,
        }
    }

    pub fn with_metrics(
        mut self,
        m: Option<std::sync::Arc<crate::runtime::metrics::Metrics>>,
    ) -> Self {
        self.metrics = m;
        self
    }
}

impl Prepare for FramePrep {
    fn prepare(&mut self, f: &mut Frame) {
        let t0 = std::time::Instant::now();
        self.prepare_inner(f);
        if let Some(m) = &self.metrics {
            m.stages.prepare.observe(t0.elapsed());
        }
    }
}

impl FramePrep {
    fn prepare_inner(&mut self, f: &mut Frame) {
        f.prepared.input_id = 0;
        if let Some(p) = self.pre.as_mut() {
            // A frame the preprocessing refuses is left to the worker, which reports it.
            if p.run(&f.image, &mut f.prepared.input).is_ok() {
                f.prepared.input_id = p.input_id();
            }
        }
        match self.motion_width {
            Some(w) => {
                if self.shrink.run(&f.image, w, &mut f.prepared.grey).is_err() {
                    f.prepared.grey = Mat::default();
                }
            }
            None => {
                if !f.prepared.grey.empty() {
                    f.prepared.grey = Mat::default();
                }
            }
        }
    }
}
