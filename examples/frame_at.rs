//! One frame of a video as a JPEG (e.g. of a `replay --annotate` clip, for docs):
//! `cargo run --release --example frame_at -- VIDEO INDEX OUT.jpg [QUALITY]` (INDEX 0-based).

use opencv::core::{Mat, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, videoio};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: frame_at VIDEO INDEX OUT.jpg [QUALITY]");
        std::process::exit(2);
    }
    let index: usize = args[1].parse().unwrap_or_else(|_| {
        eprintln!("INDEX {:?}: not a frame number", args[1]);
        std::process::exit(2)
    });
    let quality: i32 = args.get(3).and_then(|q| q.parse().ok()).unwrap_or(80);
    let run = || -> opencv::Result<bool> {
        let mut cap = videoio::VideoCapture::from_file(&args[0], videoio::CAP_ANY)?;
        let mut img = Mat::default();
        for _ in 0..=index {
            if !cap.read(&mut img)? || img.empty() {
                return Ok(false);
            }
        }
        let params = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, quality]);
        imgcodecs::imwrite(&args[2], &img, &params)
    };
    match run() {
        Ok(true) => println!("{}: frame {index} of {}", args[2], args[0]),
        Ok(false) => {
            eprintln!("{}: no frame {index} (or it could not be written)", args[0]);
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
