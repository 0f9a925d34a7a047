use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wardwatch::cli::{self, LogFormat};

/// wardwatch: curfew-gathering alerts from ward CCTV, published over MQTT.
#[derive(Parser)]
#[command(name = "wardwatch", version, about)]
struct Cli {
    /// Log format on stderr: readable text (colour only on a terminal) or JSON lines.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance: every enabled camera in the config, until SIGINT/SIGTERM.
    Run {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print events and camera health as JSON documents, one per line (as published).
        #[arg(long)]
        json: bool,
    },
    /// Process a video file as fast as possible, deterministically, through the whole pipeline.
    Replay {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Time of the first frame (RFC 3339, e.g. 2026-11-26T23:10:00+07:00). Frame times are
        /// this plus the media time. Default: now.
        #[arg(long, value_name = "RFC3339")]
        start: Option<String>,
        /// Which camera of the config the footage stands for (zones, rules). Default: the first.
        #[arg(long, value_name = "ID")]
        camera: Option<String>,
        /// Frame rate to assume when the file does not give one.
        #[arg(long)]
        fps: Option<f64>,
        /// Do not publish to MQTT (events are still printed and snapshots written).
        #[arg(long)]
        no_mqtt: bool,
        /// Seconds to wait at the end for the broker to acknowledge queued events.
        #[arg(long, default_value_t = 15.0, value_name = "SECONDS")]
        flush_timeout: f64,
        /// Print events as JSON lines instead of readable lines.
        #[arg(long)]
        json: bool,
        /// Write tracker output in MOTChallenge format (frame,id,x,y,w,h,score,class,-1,-1; class 1 person, 3 vehicle).
        #[arg(long, value_name = "FILE")]
        export_mot: Option<PathBuf>,
        /// Write raw detections in MOTChallenge format (id -1, column 8 = class: 1 person, 3 vehicle).
        #[arg(long, value_name = "FILE")]
        export_detections: Option<PathBuf>,
        /// Replay a MOT-format detection file (e.g. from --export-detections) instead of a video.
        #[arg(long, value_name = "FILE")]
        detections: Option<PathBuf>,
        /// Frame size for --detections files without a wardwatch header, e.g. 1920x1080.
        #[arg(long, value_name = "WxH", value_parser = parse_size)]
        frame_size: Option<(u32, u32)>,
        /// Motion gating on or off for this replay, whatever the config says.
        #[arg(long, value_enum, value_name = "on|off")]
        gating: Option<OnOff>,
        /// Write the analysed frames with boxes, tracks, zone membership, group links, hulls,
        /// countdowns and weaving paths drawn on them (MPEG-4, .mp4; video replays only).
        #[arg(long, value_name = "FILE.mp4")]
        annotate: Option<PathBuf>,
        /// Print on stderr, per zone and second of media time, each candidate and why it does
        /// or does not alert (too few, moving, outside the schedule, still waiting...).
        #[arg(long)]
        explain: bool,
        /// Seconds between progress lines when stderr is not a terminal (a terminal gets a
        /// bar); 0: no progress output.
        #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
        progress_every: f64,
        /// The video file (omit with --detections).
        video: Option<PathBuf>,
    },
    /// Benchmark this box: bare inference and the full pipeline, per-stage p50/p95, cameras it can carry.
    Bench {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Frames to push through the full pipeline (the clip loops if shorter).
        #[arg(long, default_value_t = 300)]
        frames: usize,
        /// Bare-inference iterations.
        #[arg(long, default_value_t = 100)]
        iterations: usize,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
        /// Load test instead: N concurrent live-like cameras at the configured detect_fps,
        /// or `max` to find the largest N that keeps up.
        #[arg(long, value_name = "N|max", value_parser = parse_cameras)]
        cameras: Option<cli::bench::CamerasArg>,
        /// Motion gating for the load test: off, on, or both (one search each).
        #[arg(long, value_enum, default_value = "both", value_name = "off|on|both")]
        gating: Gating,
        /// Seconds each load trial measures (after a 3 s warm-up).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Repeat the load search this many times (the spread is reported).
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Largest camera count the load search tries.
        #[arg(long, default_value_t = 64)]
        max_cameras: usize,
        /// Write a PNG plot of cameras against frame age (load test).
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
        /// Video to use (default: the first camera's file).
        video: Option<PathBuf>,
    },
    /// Draw a camera's zones on a real frame from it (or from --source) and save the picture.
    Zones {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Camera id (default: the first camera).
        #[arg(long, value_name = "ID")]
        camera: Option<String>,
        /// Take the frame from this video file instead of the camera's url.
        #[arg(long, value_name = "VIDEO")]
        source: Option<PathBuf>,
        /// Output picture (.jpg or .png).
        #[arg(long, value_name = "FILE", default_value = "zones.jpg")]
        out: PathBuf,
    },
    /// Validate a config file and print every problem; exit status 2 if there are any.
    CheckConfig { file: PathBuf },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Gating {
    Off,
    On,
    Both,
}

fn parse_cameras(s: &str) -> Result<cli::bench::CamerasArg, String> {
    if s == "max" {
        return Ok(cli::bench::CamerasArg::Max);
    }
    match s.parse::<usize>() {
        Ok(n) if (1..=512).contains(&n) => Ok(cli::bench::CamerasArg::Exactly(n)),
        _ => Err(format!(
            "{s:?}: give a number of cameras (1 to 512) or `max`"
        )),
    }
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    cli::parse_size(s).ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT, e.g. 1920x1080"))
}

fn main() -> ExitCode {
    let args = Cli::parse();
    cli::init_logging(args.log_format);
    let result = match args.command {
        Command::Run { config, json } => cli::run::run(&config, json),
        Command::Replay {
            config,
            start,
            camera,
            fps,
            no_mqtt,
            flush_timeout,
            json,
            export_mot,
            export_detections,
            detections,
            frame_size,
            gating,
            annotate,
            explain,
            progress_every,
            video,
        } => cli::replay::replay(&cli::replay::ReplayArgs {
            config,
            start,
            camera,
            fps,
            mqtt: !no_mqtt,
            flush_timeout_s: flush_timeout,
            json,
            video,
            detections,
            frame_size,
            export_mot,
            export_detections,
            gating: gating.map(|g| g == OnOff::On),
            annotate,
            explain,
            progress_every_s: progress_every,
        }),
        Command::Bench {
            config,
            frames,
            iterations,
            json,
            cameras,
            gating,
            seconds,
            repeats,
            max_cameras,
            plot,
            video,
        } => cli::bench::bench(&cli::bench::BenchArgs {
            config,
            video,
            frames,
            iterations,
            json,
            cameras,
            gating: match gating {
                Gating::Off => vec![false],
                Gating::On => vec![true],
                Gating::Both => vec![false, true],
            },
            seconds,
            repeats,
            max_cameras,
            plot,
        }),
        Command::Zones {
            config,
            camera,
            source,
            out,
        } => cli::zones::draw_zones(&config, camera.as_deref(), source.as_deref(), &out),
        Command::CheckConfig { file } => cli::check_config::check_config(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cli::note_error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
