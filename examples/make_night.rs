//! A night copy of real footage (grey, dark tone curve, blur, sensor noise: the look of the
//! night scenario videos), for measuring detection and tracking by night on real scenes:
//! `cargo run --release --example make_night -- data/vtest.avi /tmp/vtest-night.avi [SEED]`.

use std::path::PathBuf;

#[path = "../tests/support/scenegen.rs"]
#[allow(dead_code)]
mod scenegen;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        eprintln!("usage: make_night INPUT OUTPUT.avi [SEED]");
        std::process::exit(2);
    };
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    match scenegen::nightify(&PathBuf::from(&input), &PathBuf::from(&output), seed) {
        Ok(n) => println!("{output}: {n} frames"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
