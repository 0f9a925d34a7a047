//! `[filters]`, `[camera.filters]` and `[camera.zone.filters]`: object filters per class
//! (docs/config.md#filters).
//!
//! The camera's filter is `[camera.filters]` over `[filters]`, field by field, each class
//! table (`person`, `vehicle`) over its table's own fields; it runs before the tracker. A
//! zone's filter stands alone and only narrows what the camera kept. Masks belong to a
//! camera or a zone, never to the site.

use serde::Deserialize;

use super::{Seg, Validator};
use crate::analytics::filter::{ClassLimits, ObjectFilter};
use crate::analytics::zone::Polygon;

/// The limits one table sets (for every class, or for one).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    min_area: Option<f64>,
    max_area: Option<f64>,
    min_score: Option<f64>,
    masks: Option<Vec<Vec<Vec<f64>>>>,
}

/// A filters table: limits for every class, and per-class tables over them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFilters {
    min_area: Option<f64>,
    max_area: Option<f64>,
    min_score: Option<f64>,
    masks: Option<Vec<Vec<Vec<f64>>>>,
    person: Option<RawLimits>,
    vehicle: Option<RawLimits>,
}

/// A checked value and where it was written (for messages about pairs of values).
type Placed<T> = Option<(T, Vec<Seg>)>;

/// One table's values, each checked at its own path.
#[derive(Debug, Default, Clone)]
struct Checked {
    min_area: Placed<f64>,
    max_area: Placed<f64>,
    min_score: Placed<f64>,
    masks: Vec<Polygon>,
}

impl Checked {
    /// `self` over `below`, field by field; masks add up.
    fn over(&self, below: &Checked) -> Checked {
        Checked {
            min_area: self.min_area.clone().or_else(|| below.min_area.clone()),
            max_area: self.max_area.clone().or_else(|| below.max_area.clone()),
            min_score: self.min_score.clone().or_else(|| below.min_score.clone()),
            masks: self.masks.iter().chain(&below.masks).cloned().collect(),
        }
    }
}

/// A filters table checked: its own fields, and each class table.
#[derive(Debug, Default, Clone)]
pub(super) struct CheckedFilters {
    all: Checked,
    person: Checked,
    vehicle: Checked,
}

impl CheckedFilters {
    /// Each class: its table over the table's fields.
    fn classes(&self) -> [(&'static str, Checked); 2] {
        [
            ("person", self.person.over(&self.all)),
            ("vehicle", self.vehicle.over(&self.all)),
        ]
    }
}

fn at(path: &[Seg], f: &'static str) -> Vec<Seg> {
    let mut v = path.to_vec();
    v.push(Seg::Key(f));
    v
}

impl Validator<'_> {
    /// Check every value of a filters table at `path`. `masks_allowed`: false for the
    /// site-wide `[filters]`.
    pub(super) fn filters_table(
        &mut self,
        path: &[Seg],
        raw: &RawFilters,
        masks_allowed: bool,
    ) -> CheckedFilters {
        let all = RawLimits {
            min_area: raw.min_area,
            max_area: raw.max_area,
            min_score: raw.min_score,
            masks: raw.masks.clone(),
        };
        let mut class = |key: &'static str, r: &Option<RawLimits>| {
            r.as_ref()
                .map(|r| self.limits(&at(path, key), r, masks_allowed))
                .unwrap_or_default()
        };
        CheckedFilters {
            person: class("person", &raw.person),
            vehicle: class("vehicle", &raw.vehicle),
            all: self.limits(path, &all, masks_allowed),
        }
    }

    fn limits(&mut self, path: &[Seg], r: &RawLimits, masks_allowed: bool) -> Checked {
        let mut share = |f: &'static str, v: Option<f64>, what: &str| -> Placed<f64> {
            let x = v?;
            let p = at(path, f);
            if !(x.is_finite() && x > 0.0 && x <= 1.0) {
                self.issue(
                    &p,
                    format!(
                        "{x} is out of range: use {what} in (0, 1], or leave it out for no limit"
                    ),
                );
                return None;
            }
            Some((x, p))
        };
        let area = "a share of the frame area (0.01: a box covering 1 % of the picture)";
        let min_area = share("min_area", r.min_area, area);
        let max_area = share("max_area", r.max_area, area);
        let min_score = share("min_score", r.min_score, "a detector score");
        let masks = match &r.masks {
            Some(_) if !masks_allowed => {
                self.issue(
                    &at(path, "masks"),
                    "masks belong to a camera or a zone: put them in [camera.filters] (the whole camera) or [camera.zone.filters] (that zone)",
                );
                Vec::new()
            }
            Some(list) => self.mask_polygons(&at(path, "masks"), list),
            None => Vec::new(),
        };
        Checked {
            min_area,
            max_area,
            min_score,
            masks,
        }
    }

    /// The filter of a camera or zone: `own` over `site` (checked already), per class.
    pub(super) fn object_filter(
        &mut self,
        own: &CheckedFilters,
        site: &CheckedFilters,
    ) -> ObjectFilter {
        let mut out = ObjectFilter::default();
        let site = site.classes();
        for ((name, mine), (_, theirs)) in own.classes().into_iter().zip(site) {
            let c = mine.over(&theirs);
            if let (Some((lo, lo_at)), Some((hi, _))) = (&c.min_area, &c.max_area)
                && lo >= hi
            {
                let n = self.issues.len();
                self.issue(
                    lo_at,
                    format!(
                        "{lo} is not below max_area {hi} for {}: nothing could pass; lower min_area or raise max_area",
                        if name == "person" { "people" } else { "vehicles" }
                    ),
                );
                // Site values that clash are one problem, however many cameras take them.
                if self.issues[..n].contains(&self.issues[n]) {
                    self.issues.pop();
                }
            }
            let limits = ClassLimits {
                min_area: c.min_area.map_or(0.0, |v| v.0),
                max_area: c.max_area.map_or(1.0, |v| v.0),
                min_score: c.min_score.map_or(0.0, |v| v.0 as f32),
                masks: c.masks,
            };
            match name {
                "person" => out.person = limits,
                _ => out.vehicle = limits,
            }
        }
        out
    }
}
