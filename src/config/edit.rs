//! Edits of the config file made by the web console's zone editor: new polygons replace
//! the zones' `polygon` arrays in place, new zones are appended to the camera's
//! `[[camera.zone]]` list, removed zones are taken out (comments and layout of everything
//! else stay); the result is validated like any config, and only then written
//! (atomically, with the file's permissions). `wardwatch run` sees the new file and
//! reloads the camera like after a hand edit.

use std::path::Path;

use super::Config;

/// A zone drawn in the editor, with what the config needs of a new zone.
#[derive(Debug, Clone, PartialEq)]
pub struct NewZone {
    pub id: String,
    pub name: Option<String>,
    pub rules: Vec<String>,
    pub schedule: String,
    pub points: Vec<[f64; 2]>,
}

/// What one save of the zone editor changes on one camera.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZoneChanges {
    /// New polygons of existing zones: (zone id, points).
    pub polygons: Vec<(String, Vec<[f64; 2]>)>,
    pub add: Vec<NewZone>,
    /// Ids of zones to take out.
    pub remove: Vec<String>,
}

/// Apply `changes` to `camera`'s zones, validate and save. `Ok`: what was saved.
pub fn save_zones(path: &Path, camera: &str, changes: &ZoneChanges) -> Result<String, String> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read ({e})"))?;
    let new = edit_zones(&text, camera, changes).map_err(|e| format!("{file}: {e}"))?;
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
    let mut what = Vec::new();
    if !changes.polygons.is_empty() {
        let ids: Vec<&str> = changes.polygons.iter().map(|(id, _)| id.as_str()).collect();
        what.push(format!("{} zone(s) ({})", ids.len(), ids.join(", ")));
    }
    if !changes.add.is_empty() {
        let ids: Vec<&str> = changes.add.iter().map(|z| z.id.as_str()).collect();
        what.push(format!("added {}", ids.join(", ")));
    }
    if !changes.remove.is_empty() {
        what.push(format!("removed {}", changes.remove.join(", ")));
    }
    Ok(format!(
        "saved {} of camera {camera} to {file}; the camera reloads now",
        what.join(", ")
    ))
}

/// A `polygon` value, four decimals (a tenth of a pixel on a 1080p frame).
fn polygon(points: &[[f64; 2]]) -> toml_edit::Item {
    let mut arr = toml_edit::Array::new();
    for p in points {
        let mut pt = toml_edit::Array::new();
        pt.push((p[0] * 1e4).round() / 1e4);
        pt.push((p[1] * 1e4).round() / 1e4);
        arr.push(pt);
    }
    toml_edit::value(arr)
}

/// The config text with the changes applied (not validated: the caller validates the
/// whole result, so a bad id, rule or schedule is refused with the usual message).
pub fn edit_zones(text: &str, camera: &str, changes: &ZoneChanges) -> Result<String, String> {
    let zones = &changes.polygons;
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
    if cam.get("zone").is_none() && !changes.add.is_empty() {
        cam.insert(
            "zone",
            toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()),
        );
    }
    let Some(list) = cam.get_mut("zone").and_then(|z| z.as_array_of_tables_mut()) else {
        return Err(format!(
            "camera {camera:?} has no [[camera.zone]] tables (zones written inline are edited by hand)"
        ));
    };
    let index_of = |list: &toml_edit::ArrayOfTables, id: &str| {
        list.iter()
            .position(|t| t.get("id").and_then(|v| v.as_str()) == Some(id))
    };
    for id in &changes.remove {
        let i =
            index_of(list, id).ok_or_else(|| format!("camera {camera:?} has no zone {id:?}"))?;
        list.remove(i);
    }
    for (id, points) in zones {
        let z = list
            .iter_mut()
            .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id.as_str()))
            .ok_or_else(|| format!("camera {camera:?} has no zone {id:?}"))?;
        z["polygon"] = polygon(points);
    }
    for z in &changes.add {
        if index_of(list, &z.id).is_some() {
            return Err(format!(
                "camera {camera:?} already has a zone {:?}: pick another id",
                z.id
            ));
        }
        let mut t = toml_edit::Table::new();
        t["id"] = toml_edit::value(z.id.as_str());
        if let Some(n) = z.name.as_deref().filter(|n| !n.trim().is_empty()) {
            t["name"] = toml_edit::value(n.trim());
        }
        t["polygon"] = polygon(&z.points);
        t["rules"] = toml_edit::value(
            z.rules
                .iter()
                .map(String::as_str)
                .collect::<toml_edit::Array>(),
        );
        t["schedule"] = toml_edit::value(z.schedule.as_str());
        list.push(t);
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
        let out = edit_zones(
            TEXT,
            "a",
            &ZoneChanges {
                polygons: vec![(
                    "road".into(),
                    vec![[0.1, 0.2], [0.9, 0.2], [0.5, 0.87654321]],
                )],
                ..ZoneChanges::default()
            },
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
        let e = edit_zones(TEXT, "c", &ZoneChanges::default()).unwrap_err();
        assert!(e.contains("\"c\""), "{e}");
        let polygons = vec![("gate".into(), vec![])];
        let e = edit_zones(
            TEXT,
            "a",
            &ZoneChanges {
                polygons,
                ..ZoneChanges::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("no zone \"gate\""), "{e}");
        let remove = vec!["gate".into()];
        let e = edit_zones(
            TEXT,
            "a",
            &ZoneChanges {
                remove,
                ..ZoneChanges::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("no zone \"gate\""), "{e}");
    }

    fn new_zone(id: &str) -> NewZone {
        NewZone {
            id: id.into(),
            name: Some("Chợ đêm".into()),
            rules: vec!["gathering".into(), "loitering".into()],
            schedule: "22:00-05:00".into(),
            points: vec![[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]],
        }
    }

    #[test]
    fn a_new_zone_lands_under_its_own_camera_and_a_removed_one_goes() {
        let add = vec![new_zone("market")];
        let out = edit_zones(
            TEXT,
            "a",
            &ZoneChanges {
                add,
                ..ZoneChanges::default()
            },
        )
        .unwrap();
        let doc: toml::Value = toml::from_str(&out).unwrap();
        let zones_a = doc["camera"][0]["zone"].as_array().unwrap();
        assert_eq!(zones_a.len(), 2, "{out}");
        assert_eq!(zones_a[1]["id"].as_str(), Some("market"));
        assert_eq!(zones_a[1]["name"].as_str(), Some("Chợ đêm"));
        assert_eq!(zones_a[1]["rules"].as_array().unwrap().len(), 2);
        assert_eq!(zones_a[1]["schedule"].as_str(), Some("22:00-05:00"));
        assert_eq!(
            doc["camera"][1]["zone"].as_array().unwrap().len(),
            1,
            "camera b unchanged"
        );
        assert!(out.contains("# the road"));
        // Same id twice: refused with the id named.
        let add = vec![new_zone("road")];
        let e = edit_zones(
            TEXT,
            "a",
            &ZoneChanges {
                add,
                ..ZoneChanges::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("already has a zone \"road\""), "{e}");
        // Removing takes the zone table (and only it) out.
        let remove = vec!["market".into()];
        let back = edit_zones(
            &out,
            "a",
            &ZoneChanges {
                remove,
                ..ZoneChanges::default()
            },
        )
        .unwrap();
        let doc: toml::Value = toml::from_str(&back).unwrap();
        assert_eq!(doc["camera"][0]["zone"].as_array().unwrap().len(), 1);
        assert_eq!(doc["camera"][0]["zone"][0]["id"].as_str(), Some("road"));
    }

    #[test]
    fn a_camera_without_zones_gets_its_first() {
        let text = "[site]\nid = \"s\"\n[[camera]]\nid = \"a\"\nurl = \"x.avi\"\n[[camera]]\nid = \"b\"\nurl = \"y.avi\"\n";
        let add = vec![new_zone("market")];
        let out = edit_zones(
            text,
            "a",
            &ZoneChanges {
                add,
                ..ZoneChanges::default()
            },
        )
        .unwrap();
        let doc: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(
            doc["camera"][0]["zone"][0]["id"].as_str(),
            Some("market"),
            "{out}"
        );
        assert!(doc["camera"][1].get("zone").is_none(), "{out}");
    }
}
