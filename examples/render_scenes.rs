//! Render the scenario videos (day and night) with their ground truth, e.g. to look at them
//! or to replay them: `cargo run --release --example render_scenes -- /tmp/scenes`.

use std::path::PathBuf;

#[path = "../tests/support/scenegen.rs"]
#[allow(dead_code)]
mod scenegen;

use scenegen::Lighting;

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "scenes".into()));
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("error: {}: cannot create ({e})", out.display());
        std::process::exit(1);
    }
    for (lighting, tag) in [(Lighting::Day, "day"), (Lighting::Night, "night")] {
        let scenes = [
            (
                "four_people_standing",
                scenegen::four_people_standing(lighting),
            ),
            ("walk_past_group", scenegen::walk_past_group(lighting)),
            ("weaving_motorbike", scenegen::weaving_motorbike(lighting)),
            ("straight_rider", scenegen::straight_rider(lighting)),
            ("motorbike_traffic", scenegen::motorbike_traffic(lighting)),
        ];
        for (name, scene) in scenes {
            let video = out.join(format!("{name}_{tag}.avi"));
            let gt = out.join(format!("{name}_{tag}.gt.txt"));
            match scenegen::render(&scene, &video, &gt) {
                Ok(rows) => println!("{} ({} ground-truth rows)", video.display(), rows.len()),
                Err(e) => {
                    eprintln!("error: {}: {e}", video.display());
                    std::process::exit(1);
                }
            }
        }
    }
}
