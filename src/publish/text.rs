//! Human texts: the `title` of every published document, the console lines' readable
//! part and the snapshot header, in the site's `language` (Vietnamese by default).
//!
//! Ids stay ASCII (they are MQTT topic levels and file names); the names an officer reads
//! (`site.name`, `camera.name`, `zone.name`) may be any Unicode and are used here.

use unicode_normalization::UnicodeNormalization;

use crate::publish::document::{Event, HealthDoc};
use crate::types::{CameraStatus, Measures, Phase};

/// The language of the human texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Vi,
    En,
}

impl Language {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vi" => Some(Language::Vi),
            "en" => Some(Language::En),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Vi => "vi",
            Language::En => "en",
        }
    }
}

/// The names an officer reads for one camera, beside its ids.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Names {
    pub language: Language,
    pub site: String,
    pub camera: String,
    /// (zone id, zone name) for the zones that have a name.
    pub zones: Vec<(String, String)>,
}

impl Names {
    pub fn zone(&self, id: &str) -> Option<&str> {
        self.zones
            .iter()
            .find(|(z, _)| z == id)
            .map(|(_, n)| n.as_str())
    }
}

/// `45 giây`, `6 phút`, `1 giờ 5 phút` (vi); `45 s`, `6 min`, `1 h 5 min` (en). Whole
/// minutes from one minute on (rounded down: "6 minutes" has passed).
pub fn duration(lang: Language, secs: f64) -> String {
    let s = secs.max(0.0).floor() as u64;
    let (sec, min, hour) = match lang {
        Language::Vi => ("giây", "phút", "giờ"),
        Language::En => ("s", "min", "h"),
    };
    if s < 60 {
        format!("{s} {sec}")
    } else if s < 3600 {
        format!("{} {min}", s / 60)
    } else if (s % 3600) / 60 == 0 {
        format!("{} {hour}", s / 3600)
    } else {
        format!("{} {hour} {} {min}", s / 3600, (s % 3600) / 60)
    }
}

/// Where an incident is, as the officer reads it: the zone's name; without one, the
/// camera's name and the zone id; without either, `camera/zone`.
pub fn place(
    lang: Language,
    camera: &str,
    camera_name: &str,
    zone: &str,
    zone_name: &str,
) -> String {
    if zone_name != zone {
        zone_name.to_string()
    } else if camera_name != camera {
        match lang {
            Language::Vi => format!("{camera_name}, vùng {zone}"),
            Language::En => format!("{camera_name}, zone {zone}"),
        }
    } else {
        format!("{camera}/{zone}")
    }
}

/// The title of an event, e.g. `Tụ tập 4 người tại Cổng chợ từ 23:05 (6 phút)`.
pub fn event_title(lang: Language, ev: &Event) -> String {
    let at = place(lang, &ev.camera, &ev.camera_name, &ev.zone, &ev.zone_name);
    let since = ev.started_local.get(11..16).unwrap_or("");
    let dur = duration(lang, ev.duration_s);
    let end = ev.phase == Phase::End;
    match (ev.rule.as_str(), &ev.measures, lang) {
        ("weaving", m, lang) => {
            let (reversals, racing, vehicles) = match m {
                Measures::Weaving(w) => (
                    w.reversals.max(w.max_reversals),
                    w.racing,
                    w.weaving_vehicles,
                ),
                _ => (0, false, 0),
            };
            match (lang, end, racing) {
                (Language::Vi, true, _) => {
                    format!("Kết thúc lạng lách tại {at} (từ {since}, {dur})")
                }
                (Language::Vi, false, true) => {
                    format!("Đua xe: {vehicles} xe lạng lách tại {at} từ {since} ({dur})")
                }
                (Language::Vi, false, false) => {
                    format!("Xe lạng lách tại {at} từ {since} ({dur}, {reversals} lần đổi hướng)")
                }
                (Language::En, true, _) => {
                    format!("Weaving at {at} ended (since {since}, {dur})")
                }
                (Language::En, false, true) => format!(
                    "Street racing: {vehicles} vehicles weaving at {at} since {since} ({dur})"
                ),
                (Language::En, false, false) => {
                    format!("Vehicle weaving at {at} since {since} ({dur}, {reversals} reversals)")
                }
            }
        }
        ("loitering", _, Language::Vi) if end => {
            format!("Kết thúc lảng vảng tại {at} (từ {since}, {dur})")
        }
        ("loitering", _, Language::Vi) => format!("Người lảng vảng tại {at} từ {since} ({dur})"),
        ("loitering", _, Language::En) if end => {
            format!("Loitering at {at} ended (since {since}, {dur})")
        }
        ("loitering", _, Language::En) => {
            format!("Person loitering at {at} since {since} ({dur})")
        }
        (_, _, Language::Vi) if end => format!(
            "Kết thúc tụ tập tại {at} (từ {since}, {dur}, đông nhất {} người)",
            ev.peak_people
        ),
        (_, _, Language::Vi) => {
            format!("Tụ tập {} người tại {at} từ {since} ({dur})", ev.people)
        }
        (_, _, Language::En) if end => format!(
            "Gathering at {at} ended (since {since}, {dur}, at most {} people)",
            ev.peak_people
        ),
        (_, _, Language::En) => format!(
            "Gathering of {} {} at {at} since {since} ({dur})",
            ev.people,
            if ev.people == 1 { "person" } else { "people" }
        ),
    }
}

/// The title of a camera health change, e.g. `Camera Cổng chợ mất tín hiệu: …`.
pub fn health_title(lang: Language, doc: &HealthDoc) -> String {
    let cam = &doc.camera_name;
    let r = doc.reason.as_str();
    let vi = lang == Language::Vi;
    match doc.status {
        CameraStatus::Online if r == "recovered" && vi => {
            format!("Camera {cam} hoạt động bình thường trở lại")
        }
        CameraStatus::Online if r == "recovered" => format!("Camera {cam} is back to normal"),
        CameraStatus::Online if vi => format!("Camera {cam} đã kết nối"),
        CameraStatus::Online => format!("Camera {cam} online"),
        CameraStatus::Offline if vi => format!("Camera {cam} mất tín hiệu: {r}"),
        CameraStatus::Offline => format!("Camera {cam} offline: {r}"),
        CameraStatus::Degraded if vi => {
            format!("Camera {cam} hoạt động kém: {}", degraded(lang, r))
        }
        CameraStatus::Degraded => format!("Camera {cam} degraded: {}", degraded(lang, r)),
    }
}

/// A degraded reason (`dark`, `frozen`, `low_fps`) in words; others as they are.
fn degraded(lang: Language, reason: &str) -> &str {
    const WORDS: [(&str, &str, &str); 3] = [
        ("dark", "hình quá tối", "picture too dark"),
        ("frozen", "hình bị đứng", "picture frozen"),
        ("low_fps", "tốc độ khung hình thấp", "low frame rate"),
    ];
    WORDS
        .iter()
        .find(|(r, _, _)| *r == reason)
        .map_or(reason, |(_, vi, en)| match lang {
            Language::Vi => vi,
            Language::En => en,
        })
}

/// The text without diacritics (`Cổng chợ` → `Cong cho`): for fonts that lack them and
/// for suggesting ASCII ids.
pub fn fold_ascii(s: &str) -> String {
    s.nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c => c,
        })
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

/// An id for a name: folded to ASCII, lower case, words joined by `-`
/// (`Cổng chợ Phường 7` → `cong-cho-phuong-7`).
pub fn suggest_id(name: &str) -> String {
    let folded = fold_ascii(name).to_lowercase();
    let mut id = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            id.push(c);
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-');
    id.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Language::Vi, 45.4), "45 giây");
        assert_eq!(duration(Language::Vi, 6.0 * 60.0 + 59.0), "6 phút");
        assert_eq!(duration(Language::Vi, 3600.0 + 300.0), "1 giờ 5 phút");
        assert_eq!(duration(Language::Vi, 7200.0), "2 giờ");
        assert_eq!(duration(Language::En, 125.0), "2 min");
        assert_eq!(duration(Language::En, 3660.0), "1 h 1 min");
    }

    #[test]
    fn vietnamese_folds_to_ascii_and_suggests_ids() {
        assert_eq!(fold_ascii("Cổng chợ Phường 7"), "Cong cho Phuong 7");
        assert_eq!(fold_ascii("Đường Lê Lợi"), "Duong Le Loi");
        assert_eq!(fold_ascii("Tụ tập 4 người"), "Tu tap 4 nguoi");
        assert_eq!(suggest_id("Cổng chợ Phường 7"), "cong-cho-phuong-7");
        assert_eq!(suggest_id("cổng-chợ"), "cong-cho");
        assert_eq!(suggest_id("  Ngã tư (Đông)  "), "nga-tu-dong");
    }

    #[test]
    fn health_titles_name_the_camera_and_the_reason() {
        let doc = |status, reason: &str| HealthDoc {
            schema: String::new(),
            rule: "camera".into(),
            site: "s".into(),
            camera: "c".into(),
            camera_name: "Cổng chợ".into(),
            status,
            reason: reason.into(),
            title: String::new(),
            time_utc: String::new(),
            time_local: String::new(),
        };
        let (vi, en) = (Language::Vi, Language::En);
        assert_eq!(
            health_title(vi, &doc(CameraStatus::Degraded, "dark")),
            "Camera Cổng chợ hoạt động kém: hình quá tối"
        );
        assert_eq!(
            health_title(en, &doc(CameraStatus::Degraded, "low_fps")),
            "Camera Cổng chợ degraded: low frame rate"
        );
        assert_eq!(
            health_title(vi, &doc(CameraStatus::Online, "recovered")),
            "Camera Cổng chợ hoạt động bình thường trở lại"
        );
        assert_eq!(
            health_title(en, &doc(CameraStatus::Offline, "refused")),
            "Camera Cổng chợ offline: refused"
        );
    }

    #[test]
    fn place_prefers_the_zone_name_then_the_camera_name() {
        let l = Language::Vi;
        assert_eq!(place(l, "c1", "Camera 3", "gate", "Cổng chợ"), "Cổng chợ");
        assert_eq!(
            place(l, "c1", "Camera 3", "gate", "gate"),
            "Camera 3, vùng gate"
        );
        assert_eq!(place(l, "c1", "c1", "gate", "gate"), "c1/gate");
    }
}
