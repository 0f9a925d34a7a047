//! Execution providers: `cpu` (default), `cuda`, `tensorrt`, `openvino`.
//!
//! With `load-dynamic` the provider must be compiled into the ONNX Runtime library that was
//! loaded (PyPI `onnxruntime-gpu` for CUDA/TensorRT, `onnxruntime-openvino` for Intel, a
//! Jetson build). If it is missing, `fallback = "cpu"` runs on the CPU with a warning and
//! `fallback = "fail"` refuses to start with a message saying which library lacks it.

use std::path::PathBuf;

use ort::ep::{self, ExecutionProvider as _, ExecutionProviderDispatch};

use super::DetectError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionProvider {
    #[default]
    Cpu,
    Cuda,
    TensorRt,
    OpenVino,
}

impl ExecutionProvider {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cpu" => Some(Self::Cpu),
            "cuda" => Some(Self::Cuda),
            "tensorrt" => Some(Self::TensorRt),
            "openvino" => Some(Self::OpenVino),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::TensorRt => "tensorrt",
            Self::OpenVino => "openvino",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Run on the CPU with a warning.
    #[default]
    Cpu,
    /// Refuse to start.
    Fail,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderSettings {
    pub provider: ExecutionProvider,
    pub fallback: Fallback,
    pub device_id: i32,
    /// TensorRT: engine cache directory (building engines takes minutes; cache them).
    pub trt_cache_dir: Option<PathBuf>,
    pub trt_fp16: bool,
    /// OpenVINO device: "CPU", "GPU", "NPU", "AUTO".
    pub openvino_device: String,
}

/// The providers to register, and the name of the one that will run.
pub(super) fn dispatch(
    s: &ProviderSettings,
) -> Result<(Vec<ExecutionProviderDispatch>, &'static str), DetectError> {
    let (available, ort_name) = match s.provider {
        ExecutionProvider::Cpu => return Ok((Vec::new(), "cpu")),
        ExecutionProvider::Cuda => (ep::CUDA::is_available(), "CUDAExecutionProvider"),
        ExecutionProvider::TensorRt => (ep::TensorRT::is_available(), "TensorrtExecutionProvider"),
        ExecutionProvider::OpenVino => (ep::OpenVINO::is_available(), "OpenVINOExecutionProvider"),
    };
    let available = available.unwrap_or(false);
    if !available {
        let msg = format!(
            "execution provider {:?} ({ort_name}) is not in the loaded ONNX Runtime library; install a build that has it (PyPI onnxruntime-gpu for cuda/tensorrt, onnxruntime-openvino for openvino, or the Jetson build) and point model.runtime_library at its libonnxruntime.so",
            s.provider.name()
        );
        return match s.fallback {
            Fallback::Fail => Err(DetectError::Provider(format!(
                "{msg} (or set model.fallback = \"cpu\")"
            ))),
            Fallback::Cpu => {
                tracing::warn!("{msg}; falling back to the CPU as model.fallback = \"cpu\" says");
                Ok((Vec::new(), "cpu"))
            }
        };
    }
    let d = match s.provider {
        ExecutionProvider::Cuda => ep::CUDA::default().with_device_id(s.device_id).build(),
        ExecutionProvider::TensorRt => {
            let mut t = ep::TensorRT::default()
                .with_device_id(s.device_id)
                .with_fp16(s.trt_fp16);
            if let Some(dir) = &s.trt_cache_dir {
                t = t
                    .with_engine_cache(true)
                    .with_engine_cache_path(dir.display().to_string());
            }
            t.build()
        }
        ExecutionProvider::OpenVino => {
            let dev = if s.openvino_device.is_empty() {
                "CPU"
            } else {
                s.openvino_device.as_str()
            };
            ep::OpenVINO::default().with_device_type(dev).build()
        }
        ExecutionProvider::Cpu => unreachable!("handled above"),
    };
    let d = match s.fallback {
        Fallback::Fail => d.error_on_failure(),
        Fallback::Cpu => d,
    };
    Ok((vec![d], s.provider.name()))
}
