//! The two-camera site of the Home Assistant tests (tests/homeassistant.rs and
//! tests/homeassistant_real.rs): "road" plays vtest.avi with a gathering zone, "gate"
//! cannot be reached and has a loitering zone.

/// The config, with discovery on or off and the road zone's rules (a TOML array).
pub fn config(port: u16, dead_port: u16, ha: bool, road_rules: &str) -> String {
    format!(
        r#"[site]
id = "p7"
name = "Phường 7"
language = "vi"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
outbox_dir = "outbox"
[model]
path = "{repo}/models/nanodet-g-416.onnx"
[evidence]
dir = "snaps"
[homeassistant]
enabled = {ha}

[[camera]]
id = "gate"
name = "Cổng chợ"
url = "rtsp://127.0.0.1:{dead_port}/stream1"
  [[camera.zone]]
  id = "door"
  polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
  rules = ["loitering"]
  schedule = "always"

[[camera]]
id = "road"
name = "Camera đường nội bộ"
url = "{repo}/data/vtest.avi"
  [[camera.zone]]
  id = "road"
  name = "Đường trước nhà A"
  polygon = [[0.0, 0.25], [0.80, 0.17], [1.0, 0.17], [1.0, 0.80], [0.0, 0.55]]
  rules = {road_rules}
  schedule = "always"
  [camera.zone.gathering]
  min_people = 2
  min_duration = "5s"
  clear_after = "5s"
"#,
        repo = super::repo().display()
    )
}
