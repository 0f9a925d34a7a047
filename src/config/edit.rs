//! Edits of the config file made by the web console's zone editor: the new polygons
//! replace the zones' `polygon` arrays in place (comments and layout of everything else
//! stay), the result is validated like any config, and only then written (atomically,
//! with the file's permissions). `wardwatch run` sees the new file and reloads the
//! camera like after a hand edit.

use std::path::Path;

use super::Config;

/// Replace `camera`'s zone polygons, validate and save. `Ok`: what was saved.
pub fn save_zone_polygons(
    path: &Path,
    camera: &str,
    zones: &[(String, Vec<[f64; 2]>)],
) -> Result<String, String> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read ({e})"))?;
    let new = replace_polygons(&text, camera, zones).map_err(|e| format!("{file}: {e}"))?;
    // Validated as the file it becomes (relative paths resolve from its directory).
    if let Err(e) = Config::from_str(&new, path) {
        return Err(format!("not saved, the running config stays:\n{e}"));
    }
    let tmp = path.with_extension("toml.console-edit");
    let perms = std::fs::metadata(path).map(|m| m.permissions()).ok();
    std::fs::write(&tmp, &new).map_err(|e| {
        format!(
            "{}: cannot write ({e}); the config directory must be writable by wardwatch for the zone editor",
            tmp.display()
        )
    })?;
    if let Some(p) = perms {
        let _ = std::fs::set_permissions(&tmp, p);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{file}: cannot replace ({e})")
    })?;
    let ids: Vec<&str> = zones.iter().map(|(id, _)| id.as_str()).collect();
    Ok(format!(
        "saved {} zone(s) of camera {camera} ({}) to {file}; the camera reloads now",
        zones.len(),
        ids.join(", ")
    ))
}

/// The config text with the polygons replaced (not validated).
pub fn replace_polygons(
    text: &str,
    camera: &str,
    zones: &[(String, Vec<[f64; 2]>)],
) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("cannot be parsed ({e})"))?;
    let cams = doc
        .get_mut("camera")
        .and_then(|c| c.as_array_of_tables_mut())
        .ok_or("has no [[camera]] tables")?;
    let cam = cams
        .iter_mut()
        .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(camera))
        .ok_or_else(|| format!("has no [[camera]] with id = {camera:?}"))?;
    let Some(list) = cam.get_mut("zone").and_then(|z| z.as_array_of_tables_mut()) else {
        return Err(format!(
            "camera {camera:?} has no [[camera.zone]] tables (zones written inline are edited by hand)"
        ));
    };
    for (id, points) in zones {
        let z = list
            .iter_mut()
            .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id.as_str()))
            .ok_or_else(|| format!("camera {camera:?} has no zone {id:?}"))?;
        let mut arr = toml_edit::Array::new();
        for p in points {
            let mut pt = toml_edit::Array::new();
            // Four decimals: a tenth of a pixel on a 1080p frame.
            pt.push((p[0] * 1e4).round() / 1e4);
            pt.push((p[1] * 1e4).round() / 1e4);
            arr.push(pt);
        }
        z["polygon"] = toml_edit::value(arr);
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# site
[site]
id = "s"

[[camera]]
id = "a"
url = "x.avi"
# the road
[[camera.zone]]
id = "road"   # keep me
polygon = [[0, 0], [1, 0], [1, 1]]
rules = ["gathering"]

[[camera]]
id = "b"
url = "y.avi"
[[camera.zone]]
id = "road"
polygon = [[0, 0], [1, 0], [0, 1]]
"#;

    #[test]
    fn only_the_named_camera_and_zone_change_and_comments_stay() {
        let out = replace_polygons(
            TEXT,
            "a",
            &[(
                "road".into(),
                vec![[0.1, 0.2], [0.9, 0.2], [0.5, 0.87654321]],
            )],
        )
        .unwrap();
        assert!(
            out.contains("polygon = [[0.1, 0.2], [0.9, 0.2], [0.5, 0.8765]]"),
            "{out}"
        );
        assert!(out.contains("id = \"road\"   # keep me"));
        assert!(out.contains("# the road"));
        assert!(
            out.contains("polygon = [[0, 0], [1, 0], [0, 1]]"),
            "camera b unchanged: {out}"
        );
    }

    #[test]
    fn unknown_camera_or_zone_is_named() {
        let e = replace_polygons(TEXT, "c", &[]).unwrap_err();
        assert!(e.contains("\"c\""), "{e}");
        let e = replace_polygons(TEXT, "a", &[("gate".into(), vec![])]).unwrap_err();
        assert!(e.contains("no zone \"gate\""), "{e}");
    }
}
