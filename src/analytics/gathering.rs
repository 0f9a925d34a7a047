//! Gathering after curfew (DESIGN §2): groups of people standing together in a zone.
//!
//! Per frame, [`GatheringRule::observe`] takes the confirmed person tracks whose foot point is
//! inside the zone (see [`people_in_zone`]) and reports one [`Observation`] per candidate group:
//!
//! 1. **Links.** Two people are linked when their foot points are closer than
//!    `link_distance` × the mean box height of the two (relative mode), or closer than
//!    `link_distance` metres on the ground plane when a ground mapping is given.
//! 2. **Groups.** Connected components of the links. Components of at least `min_people`
//!    can found a candidate; smaller ones (at least 2 people) can only continue one.
//! 3. **Continuity.** A component continues the candidate it overlaps best: Jaccard of the
//!    track-id sets ≥ [`MATCH_JACCARD`], or at least half of the candidate's previous
//!    members still present. Pairs are assigned greedily, best Jaccard first (then larger
//!    overlap, then the older candidate). A candidate that finds no component is kept, under
//!    its key, for `clear_after_s + grace_s` so that a group hidden for a while (a bus
//!    passing in front) comes back as the same candidate.
//! 4. **Stationary.** The group's speed is the displacement of the centroid of the members
//!    present at both ends of a ~[`SPEED_WINDOW_S`] window, divided by the time between them
//!    (and by the members' mean box height in relative mode). Using only members present at
//!    both ends keeps joins and leaves from looking like motion. With less than
//!    [`MIN_SPEED_SPAN_S`] of history the speed is unknown and the group is not (yet)
//!    stationary.
//! 5. **Active** = at least `min_people` members and a known speed below `max_speed`.
//!
//! When two candidates merge into one component, the older one (or the better overlap)
//! carries on and the other is no longer seen; its incident, if any, clears normally.

use std::collections::{BTreeMap, VecDeque};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::analytics::debounce::DebounceParams;
use crate::analytics::hold::HoldTimer;
pub use crate::analytics::rules::GroundMap;
use crate::analytics::rules::{Observation, Rule, RuleNotes, convex_hull, round3};
use crate::analytics::zone::Polygon;
use crate::types::{
    BBox, GatheringMeasures, Measures, ObjectClass, RuleKind, SpeedUnit, Track, secs,
};

/// Speed is measured over about this much of the group's history.
pub const SPEED_WINDOW_S: f64 = 2.0;
/// Less history than this: speed unknown, group not stationary.
pub const MIN_SPEED_SPAN_S: f64 = 1.0;
/// Minimum Jaccard overlap of track ids for a component to continue a candidate.
pub const MATCH_JACCARD: f64 = 0.3;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatheringParams {
    /// Smallest group that counts.
    pub min_people: usize,
    /// Link threshold: × mean box height of the pair (relative), or metres when calibrated.
    pub link_distance: f32,
    /// Group centroid speed limit: body-heights/s (relative) or m/s (calibrated).
    pub max_speed: f32,
    pub min_duration_s: f64,
    pub grace_s: f64,
    pub update_every_s: f64,
    pub clear_after_s: f64,
    pub cooldown_s: f64,
}

impl Default for GatheringParams {
    fn default() -> Self {
        GatheringParams {
            min_people: 3,
            link_distance: 1.0,
            max_speed: 0.3,
            min_duration_s: 60.0,
            grace_s: 5.0,
            update_every_s: 60.0,
            clear_after_s: 30.0,
            cooldown_s: 120.0,
        }
    }
}

impl GatheringParams {
    /// The timing part, for the zone's [`Debouncer`](crate::analytics::debounce::Debouncer).
    pub fn debounce(&self) -> DebounceParams {
        DebounceParams {
            min_duration_s: self.min_duration_s,
            grace_s: self.grace_s,
            update_every_s: self.update_every_s,
            clear_after_s: self.clear_after_s,
            cooldown_s: self.cooldown_s,
        }
    }

    /// Every problem, each as `field: what is wrong`; empty when valid. The ranges are
    /// [`MIN_PEOPLE`], [`LINK_DISTANCE_MAX`] and [`DURATION_MAX_S`], which the config
    /// checks too: one place for each range.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !MIN_PEOPLE.contains(&(self.min_people as i64)) {
            out.push(format!(
                "min_people: must be {} to {}, got {}",
                MIN_PEOPLE.start(),
                MIN_PEOPLE.end(),
                self.min_people
            ));
        }
        if !(self.link_distance.is_finite()
            && self.link_distance > 0.0
            && self.link_distance as f64 <= LINK_DISTANCE_MAX)
        {
            out.push(format!(
                "link_distance: must be above 0 and at most {LINK_DISTANCE_MAX}, got {}",
                self.link_distance
            ));
        }
        if !(self.max_speed.is_finite()
            && self.max_speed > 0.0
            && self.max_speed as f64 <= MAX_SPEED_MAX)
        {
            out.push(format!(
                "max_speed: must be above 0 and at most {MAX_SPEED_MAX}, got {}",
                self.max_speed
            ));
        }
        for (name, v) in [
            ("min_duration_s", self.min_duration_s),
            ("grace_s", self.grace_s),
            ("update_every_s", self.update_every_s),
            ("clear_after_s", self.clear_after_s),
            ("cooldown_s", self.cooldown_s),
        ] {
            if !(v.is_finite() && (0.0..=DURATION_MAX_S).contains(&v)) {
                out.push(format!(
                    "{name}: must be 0 to {DURATION_MAX_S} seconds, got {v}"
                ));
            }
        }
        out
    }
}

/// Accepted group sizes: a group needs two people; more than 1000 is a typo.
pub const MIN_PEOPLE: std::ops::RangeInclusive<i64> = 2..=1000;
/// Largest link distance (body heights, or metres with calibration).
pub const LINK_DISTANCE_MAX: f64 = 100.0;
/// Largest `max_speed` (body heights, or metres, per second).
pub const MAX_SPEED_MAX: f64 = 100.0;
/// Longest duration setting of a rule (24 h).
pub const DURATION_MAX_S: f64 = 86_400.0;

/// The tracks the rule wants: confirmed people whose foot point (bottom-centre) is inside
/// `zone`, for a frame of `frame_w`×`frame_h` pixels. Coasting tracks (`matched == false`)
/// are kept: they bridge short detection dropouts.
pub fn people_in_zone(tracks: &[Track], zone: &Polygon, frame_w: u32, frame_h: u32) -> Vec<Track> {
    tracks
        .iter()
        .filter(|t| t.class == ObjectClass::Person && t.confirmed)
        .filter(|t| zone.contains_px(t.bbox.bottom_center(), frame_w, frame_h))
        .cloned()
        .collect()
}

struct Member {
    id: u64,
    bbox: BBox,
    foot_px: (f64, f64),
    /// Foot point in the rule's units: pixels, or metres when calibrated.
    pos: (f64, f64),
    height: f64,
    /// The track's last matched detection.
    last_seen: Timestamp,
}

#[derive(Debug, Clone)]
struct Sample {
    ts: Timestamp,
    /// (track id, position in rule units), ascending by id.
    members: Vec<(u64, (f64, f64))>,
}

#[derive(Debug, Clone)]
struct Candidate {
    key: u64,
    /// Track ids at the last match, ascending.
    members: Vec<u64>,
    last_seen: Timestamp,
    history: VecDeque<Sample>,
    hold: HoldTimer,
    /// Members last seen in the group whose tracks are gone from the zone: id → (last
    /// detection time, position in rule units, box height). They still count for up to
    /// `grace_s` after their last detection.
    hidden: BTreeMap<u64, (Timestamp, (f64, f64), f64)>,
    /// Every member present at the last match: id → (last detection time, position, height).
    seen: BTreeMap<u64, (Timestamp, (f64, f64), f64)>,
}

impl Rule for GatheringRule {
    fn kind(&self) -> RuleKind {
        RuleKind::Gathering
    }
    fn class(&self) -> ObjectClass {
        ObjectClass::Person
    }
    fn observe(
        &mut self,
        ts: Timestamp,
        tracks: &[Track],
        ground: Option<GroundMap<'_>>,
    ) -> Vec<Observation> {
        GatheringRule::observe(self, ts, tracks, ground)
    }
    fn reset(&mut self) {
        GatheringRule::reset(self)
    }
    fn set_explain(&mut self, on: bool) {
        self.notes = on.then(RuleNotes::default);
    }
    fn notes(&self) -> Option<&RuleNotes> {
        self.notes.as_ref()
    }
}

/// One per zone. See the module docs.
#[derive(Debug, Clone)]
pub struct GatheringRule {
    p: GatheringParams,
    candidates: Vec<Candidate>,
    next_key: u64,
    /// Links and small groups of the last frame, when explaining (tuning aids).
    notes: Option<RuleNotes>,
    /// Linked member index pairs of the last frame (reused buffer, only when explaining).
    pairs: Vec<(usize, usize)>,
}

impl GatheringRule {
    pub fn new(p: GatheringParams) -> Self {
        GatheringRule {
            p,
            candidates: Vec::new(),
            next_key: 1,
            notes: None,
            pairs: Vec::new(),
        }
    }

    pub fn params(&self) -> &GatheringParams {
        &self.p
    }

    /// Forgets all candidates (keys are not reused).
    pub fn reset(&mut self) {
        self.candidates.clear();
    }

    /// One analysed frame. `people`: the zone's confirmed person tracks (others are ignored).
    /// `ground`: optional pixels → metres mapping; with it, `link_distance` and `max_speed`
    /// are in metres and m/s. Observations come out in key order.
    pub fn observe(
        &mut self,
        ts: Timestamp,
        people: &[Track],
        ground: Option<GroundMap<'_>>,
    ) -> Vec<Observation> {
        let p = self.p;
        let min_people = p.min_people.max(1);
        let retain_s = p.clear_after_s + p.grace_s;
        self.candidates
            .retain(|c| secs(ts, c.last_seen) <= retain_s);
        let mut members: Vec<Member> = people
            .iter()
            .filter(|t| t.class == ObjectClass::Person && t.confirmed)
            .filter_map(|t| member(t, ground))
            .collect();
        members.sort_by_key(|m| m.id);
        members.dedup_by_key(|m| m.id);

        self.pairs.clear();
        let links = self.notes.is_some().then_some(&mut self.pairs);
        let groups: Vec<Vec<usize>> =
            components(&members, p.link_distance as f64, ground.is_some(), links)
                .into_iter()
                .filter(|g| g.len() >= min_people.min(2))
                .collect();
        let group_ids: Vec<Vec<u64>> = groups
            .iter()
            .map(|g| g.iter().map(|&i| members[i].id).collect())
            .collect();

        // Continuity: greedy assignment of components to candidates.
        let mut pairs = Vec::new();
        for (ci, c) in self.candidates.iter().enumerate() {
            for (gi, ids) in group_ids.iter().enumerate() {
                let overlap = ids
                    .iter()
                    .filter(|id| c.members.binary_search(id).is_ok())
                    .count();
                if overlap == 0 {
                    continue;
                }
                let jaccard = overlap as f64 / (ids.len() + c.members.len() - overlap) as f64;
                if jaccard >= MATCH_JACCARD || 2 * overlap >= c.members.len() {
                    pairs.push((ci, gi, overlap, jaccard));
                }
            }
        }
        pairs.sort_by(|a, b| {
            b.3.total_cmp(&a.3)
                .then(b.2.cmp(&a.2))
                .then(self.candidates[a.0].key.cmp(&self.candidates[b.0].key))
        });
        let mut cand_group: Vec<Option<usize>> = vec![None; self.candidates.len()];
        let mut group_taken = vec![false; groups.len()];
        for (ci, gi, _, _) in pairs {
            if cand_group[ci].is_none() && !group_taken[gi] {
                cand_group[ci] = Some(gi);
                group_taken[gi] = true;
            }
        }
        for (gi, ids) in group_ids.iter().enumerate() {
            if !group_taken[gi] && ids.len() >= min_people {
                self.candidates.push(Candidate {
                    key: self.next_key,
                    members: Vec::new(),
                    last_seen: ts,
                    history: VecDeque::new(),
                    hold: HoldTimer::default(),
                    hidden: BTreeMap::new(),
                    seen: BTreeMap::new(),
                });
                self.next_key += 1;
                cand_group.push(Some(gi));
            }
        }

        if let Some(notes) = self.notes.as_mut() {
            notes.clear();
            notes.links.extend(
                self.pairs
                    .iter()
                    .map(|&(i, j)| (members[i].id, members[j].id)),
            );
            notes.small_groups.extend(
                group_ids
                    .iter()
                    .zip(&group_taken)
                    .filter(|(ids, taken)| !**taken && ids.len() < min_people)
                    .map(|(ids, _)| ids.clone()),
            );
        }

        let mut out = Vec::new();
        for (c, g) in self.candidates.iter_mut().zip(&cand_group) {
            let Some(gi) = *g else {
                c.hold.observe(ts, false, p.grace_s);
                continue;
            };
            let group: Vec<&Member> = groups[gi].iter().map(|&i| &members[i]).collect();
            let occluded = c.remember(ts, &group, &members, p, ground.is_some());
            c.members = group_ids[gi].clone();
            c.last_seen = ts;
            c.history.push_back(Sample {
                ts,
                members: group.iter().map(|m| (m.id, m.pos)).collect(),
            });
            while c
                .history
                .front()
                .is_some_and(|s| secs(ts, s.ts) > 3.0 * SPEED_WINDOW_S)
            {
                c.history.pop_front();
            }
            let mean_h = group.iter().map(|m| m.height).sum::<f64>() / group.len() as f64;
            let speed =
                group_speed(&c.history).map(|v| if ground.is_some() { v } else { v / mean_h });
            let people = group.len() + occluded;
            let active = people >= min_people && speed.is_some_and(|v| v < p.max_speed as f64);
            c.hold.observe(ts, active, p.grace_s);
            out.push(Observation {
                rule: RuleKind::Gathering,
                key: c.key,
                active,
                people,
                track_ids: c.members.clone(),
                hull: hull(&group),
                measures: measures(
                    &group,
                    speed,
                    mean_h,
                    p.link_distance,
                    ground.is_some(),
                    c.hold.held_s(ts),
                    occluded,
                ),
            });
        }
        out.sort_by_key(|o| o.key);
        out
    }
}

impl Candidate {
    /// Updates the memory of hidden members and returns how many of them still count.
    ///
    /// A member of the last match whose track is gone from the zone (occluded for longer
    /// than the tracker's lost buffer, so the tracker dropped it) is remembered with its last
    /// position. It counts for up to `grace_s` after its last detection, unless someone new to
    /// the group turns up within half a link distance of where it stood (the same person,
    /// re-detected under a new track id). A member that is still tracked but left the group
    /// is not remembered: it walked away.
    fn remember(
        &mut self,
        ts: Timestamp,
        group: &[&Member],
        all: &[Member],
        p: GatheringParams,
        calibrated: bool,
    ) -> usize {
        for (id, last) in std::mem::take(&mut self.seen) {
            if all.binary_search_by_key(&id, |m| m.id).is_err() {
                self.hidden.insert(id, last);
            }
        }
        for m in group {
            self.hidden.remove(&m.id);
        }
        let newcomers: Vec<&&Member> = group
            .iter()
            .filter(|m| self.members.binary_search(&m.id).is_err())
            .collect();
        self.hidden
            .retain(|_, (last, _, _)| secs(ts, *last) <= p.grace_s);
        // Each newcomer stands in for at most one hidden member: the nearest within reach.
        for m in newcomers {
            let nearest = self
                .hidden
                .iter()
                .map(|(&id, &(_, pos, height))| {
                    let reach = if calibrated { 1.0 } else { height };
                    (id, dist(m.pos, pos), 0.5 * p.link_distance as f64 * reach)
                })
                .filter(|&(_, d, reach)| d < reach)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((id, _, _)) = nearest {
                self.hidden.remove(&id);
            }
        }
        for m in group {
            self.seen.insert(m.id, (m.last_seen, m.pos, m.height));
        }
        self.hidden.len()
    }
}

fn member(t: &Track, ground: Option<GroundMap<'_>>) -> Option<Member> {
    let b = t.bbox;
    if ![b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.is_finite()) {
        return None;
    }
    let foot = b.bottom_center();
    let pos = match ground {
        Some(g) => {
            let q = g(foot);
            (q.0 as f64, q.1 as f64)
        }
        None => (foot.0 as f64, foot.1 as f64),
    };
    if !(pos.0.is_finite() && pos.1.is_finite()) {
        return None;
    }
    Some(Member {
        id: t.id,
        bbox: b,
        foot_px: (foot.0 as f64, foot.1 as f64),
        pos,
        height: (b.height() as f64).max(1.0),
        last_seen: t.last_seen,
    })
}

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// Connected components of the link graph, as member indices (ascending within and by
/// first index). `links`, when given, receives every linked pair.
fn components(
    members: &[Member],
    link: f64,
    calibrated: bool,
    mut links: Option<&mut Vec<(usize, usize)>>,
) -> Vec<Vec<usize>> {
    let n = members.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..n {
        for j in (i + 1)..n {
            let (a, b) = (&members[i], &members[j]);
            let limit = if calibrated {
                link
            } else {
                link * (a.height + b.height) / 2.0
            };
            if dist(a.pos, b.pos) < limit {
                if let Some(l) = links.as_mut() {
                    l.push((i, j));
                }
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                if ri != rj {
                    parent[ri.max(rj)] = ri.min(rj);
                }
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index_of_root = vec![usize::MAX; n];
    for i in 0..n {
        let r = root(&mut parent, i);
        if index_of_root[r] == usize::MAX {
            index_of_root[r] = groups.len();
            groups.push(Vec::new());
        }
        groups[index_of_root[r]].push(i);
    }
    groups
}

/// Speed of the centroid of the members present at both ends of the window, in rule
/// units per second; `None` while there is not enough history.
fn group_speed(history: &VecDeque<Sample>) -> Option<f64> {
    let now = history.back()?;
    let age = |s: &Sample| secs(now.ts, s.ts);
    let reference = history
        .iter()
        .find(|s| age(s) <= SPEED_WINDOW_S && age(s) >= MIN_SPEED_SPAN_S)
        .or_else(|| {
            history
                .iter()
                .rev()
                .find(|s| age(s) > SPEED_WINDOW_S && age(s) <= 3.0 * SPEED_WINDOW_S)
        })?;
    let dt = age(reference);
    let (mut a, mut b, mut n) = ((0.0, 0.0), (0.0, 0.0), 0.0);
    for (id, p_now) in &now.members {
        if let Ok(k) = reference.members.binary_search_by_key(id, |m| m.0) {
            let p_then = reference.members[k].1;
            a = (a.0 + p_then.0, a.1 + p_then.1);
            b = (b.0 + p_now.0, b.1 + p_now.1);
            n += 1.0;
        }
    }
    if n == 0.0 || dt <= 0.0 {
        return None;
    }
    Some(dist((a.0 / n, a.1 / n), (b.0 / n, b.1 / n)) / dt)
}

fn hull(group: &[&Member]) -> Vec<(f32, f32)> {
    let corners: Vec<(f32, f32)> = group
        .iter()
        .flat_map(|m| {
            let b = m.bbox;
            [(b.x1, b.y1), (b.x2, b.y1), (b.x2, b.y2), (b.x1, b.y2)]
        })
        .collect();
    convex_hull(&corners)
}

fn measures(
    group: &[&Member],
    speed: Option<f64>,
    mean_h: f64,
    link_distance: f32,
    calibrated: bool,
    held_s: f64,
    occluded: usize,
) -> Measures {
    let spread = |f: &dyn Fn(&Member) -> (f64, f64)| {
        let mut d: f64 = 0.0;
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                d = d.max(dist(f(a), f(b)));
            }
        }
        d
    };
    let r = |v: f64| round3(v);
    Measures::Gathering(GatheringMeasures {
        held_s: r(held_s),
        link_distance_m: calibrated.then(|| r(link_distance as f64)),
        link_distance_px: (!calibrated).then(|| r(link_distance as f64 * mean_h)),
        mean_height_px: r(mean_h),
        occluded,
        speed: speed.map(r),
        speed_unit: if calibrated {
            SpeedUnit::MPerS
        } else {
            SpeedUnit::BodyHeightsPerS
        },
        spread_m: calibrated.then(|| r(spread(&|m: &Member| m.pos))),
        spread_px: r(spread(&|m: &Member| m.foot_px)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn t0() -> Timestamp {
        "2026-11-26T16:00:00Z".parse().unwrap()
    }

    fn at(s: f64) -> Timestamp {
        t0() + SignedDuration::from_millis((s * 1000.0).round() as i64)
    }

    fn person(id: u64, x: f32, y: f32) -> Track {
        Track {
            id,
            bbox: BBox::new(x - 20.0, y - 100.0, x + 20.0, y),
            class: ObjectClass::Person,
            label: 0,
            score: 0.9,
            velocity: (0.0, 0.0),
            confirmed: true,
            matched: true,
            first_seen: t0(),
            last_seen: t0(),
        }
    }

    fn run(
        rule: &mut GatheringRule,
        from: f64,
        to: f64,
        f: impl Fn(f64) -> Vec<Track>,
    ) -> Vec<Observation> {
        let mut last = Vec::new();
        let mut k = (from * 5.0).round() as i64;
        while (k as f64) / 5.0 < to {
            let t = k as f64 / 5.0;
            last = rule.observe(at(t), &f(t), None);
            k += 1;
        }
        last
    }

    #[test]
    fn links_by_relative_distance() {
        let mut r = GatheringRule::new(GatheringParams::default());
        // 90 px apart with 100 px boxes: linked (chain 1-2-3). 110 px: not linked.
        let o = r.observe(
            at(0.0),
            &[
                person(1, 100.0, 300.0),
                person(2, 190.0, 300.0),
                person(3, 280.0, 300.0),
            ],
            None,
        );
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].track_ids, vec![1, 2, 3]);
        assert!(!o[0].active, "speed unknown on the first frame");
        let mut r = GatheringRule::new(GatheringParams::default());
        let o = r.observe(
            at(0.0),
            &[
                person(1, 100.0, 300.0),
                person(2, 210.0, 300.0),
                person(3, 320.0, 300.0),
            ],
            None,
        );
        assert!(o.is_empty());
    }

    #[test]
    fn stationary_group_becomes_active_after_min_span() {
        let mut r = GatheringRule::new(GatheringParams::default());
        let g = |_t: f64| {
            vec![
                person(1, 100.0, 300.0),
                person(2, 150.0, 300.0),
                person(3, 125.0, 340.0),
            ]
        };
        let o = run(&mut r, 0.0, 0.9, g);
        assert!(!o[0].active);
        let o = run(&mut r, 1.0, 1.1, g);
        assert!(o[0].active);
        assert_eq!(o[0].key, 1);
        assert_eq!(o[0].measures.to_json()["speed"], serde_json::json!(0.0));
        assert_eq!(o[0].measures.to_json()["speed_unit"], "body_heights_per_s");
        assert_eq!(
            o[0].measures.to_json()["link_distance_px"],
            serde_json::json!(100.0)
        );
        assert_eq!(
            o[0].measures.to_json()["spread_px"],
            serde_json::json!(50.0)
        );
        // Hull of the three boxes.
        assert_eq!(
            o[0].hull,
            vec![
                (80.0, 200.0),
                (80.0, 300.0),
                (105.0, 340.0),
                (145.0, 340.0),
                (170.0, 300.0),
                (170.0, 200.0)
            ]
        );
    }

    #[test]
    fn walking_group_is_not_active() {
        let mut r = GatheringRule::new(GatheringParams::default());
        // 80 px/s = 0.8 body-heights/s.
        let g = |t: f64| {
            let x = 100.0 + 80.0 * t as f32;
            vec![
                person(1, x, 300.0),
                person(2, x + 50.0, 300.0),
                person(3, x + 25.0, 340.0),
            ]
        };
        for k in 0..50 {
            let o = r.observe(at(k as f64 / 5.0), &g(k as f64 / 5.0), None);
            assert_eq!(o.len(), 1);
            assert!(!o[0].active);
            if k >= 5 {
                let v = o[0].measures.to_json()["speed"].as_f64().unwrap();
                assert!((v - 0.8).abs() < 1e-3, "{v}");
            }
        }
    }

    #[test]
    fn join_does_not_look_like_motion_and_keeps_key() {
        let mut r = GatheringRule::new(GatheringParams::default());
        let base = vec![
            person(1, 100.0, 300.0),
            person(2, 150.0, 300.0),
            person(3, 125.0, 340.0),
        ];
        let b = base.clone();
        run(&mut r, 0.0, 5.0, move |_| b.clone());
        let mut grown = base.clone();
        grown.push(person(4, 200.0, 330.0));
        let o = r.observe(at(5.0), &grown, None);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].key, 1);
        assert!(o[0].active);
        assert_eq!(o[0].people, 4);
    }

    #[test]
    fn split_keeps_key_on_the_larger_part_and_small_parts_continue() {
        let mut r = GatheringRule::new(GatheringParams::default());
        let six: Vec<Track> = (0..6)
            .map(|i| person(i + 1, 100.0 + 45.0 * i as f32, 300.0))
            .collect();
        let s = six.clone();
        run(&mut r, 0.0, 3.0, move |_| s.clone());
        // Members 5 and 6 walk off far away; 1-4 remain: 4/6 overlap, same key.
        let mut now = six[..4].to_vec();
        now.push(person(5, 600.0, 500.0));
        now.push(person(6, 700.0, 500.0));
        let o = r.observe(at(3.0), &now, None);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].key, 1);
        assert_eq!(o[0].track_ids, vec![1, 2, 3, 4]);
        // Down to two members (3 and 4 walk off too): still reported under the same key,
        // but not active.
        let mut two = six[..2].to_vec();
        two.extend([person(3, 600.0, 100.0), person(4, 700.0, 100.0)]);
        let o = r.observe(at(3.2), &two, None);
        assert_eq!(o.len(), 1);
        assert_eq!((o[0].key, o[0].people, o[0].active), (1, 2, false));
    }

    #[test]
    fn members_whose_tracks_vanish_count_for_grace() {
        let mut r = GatheringRule::new(GatheringParams::default());
        let four: Vec<Track> = (0..4)
            .map(|i| person(i + 1, 100.0 + 45.0 * i as f32, 300.0))
            .collect();
        let seen_at = |v: &[Track], t: f64| -> Vec<Track> {
            v.iter()
                .map(|p| Track {
                    last_seen: at(t),
                    ..p.clone()
                })
                .collect()
        };
        let f = four.clone();
        run(&mut r, 0.0, 3.0, move |t| seen_at(&f, t));
        // 3 and 4 are hidden (their tracks dropped): still four people for grace_s = 5 s
        // after their last detection (at 2.8 s).
        let o = r.observe(at(7.6), &seen_at(&four[..2], 7.6), None);
        assert_eq!((o[0].people, o[0].active), (4, true));
        assert_eq!(o[0].track_ids, vec![1, 2]);
        assert_eq!(o[0].measures.to_json()["occluded"], 2);
        let o = r.observe(at(7.9), &seen_at(&four[..2], 7.9), None);
        assert_eq!((o[0].people, o[0].active), (2, false));
        // Someone new standing where 3 stood replaces the memory of 3: not counted twice.
        let mut r = GatheringRule::new(GatheringParams::default());
        let f = four.clone();
        run(&mut r, 0.0, 3.0, move |t| seen_at(&f, t));
        let mut back = four[..3].to_vec();
        back[2].id = 33;
        let o = r.observe(at(4.0), &seen_at(&back, 4.0), None);
        assert_eq!((o[0].people, o[0].track_ids.clone()), (4, vec![1, 2, 33]));
    }

    #[test]
    fn merge_keeps_older_key() {
        let mut r = GatheringRule::new(GatheringParams::default());
        let a: Vec<Track> = (0..3)
            .map(|i| person(i + 1, 100.0 + 40.0 * i as f32, 300.0))
            .collect();
        let b: Vec<Track> = (0..3)
            .map(|i| person(i + 11, 400.0 + 40.0 * i as f32, 300.0))
            .collect();
        let both: Vec<Track> = a.iter().chain(&b).cloned().collect();
        let o = r.observe(at(0.0), &both, None);
        assert_eq!(o.iter().map(|o| o.key).collect::<Vec<_>>(), vec![1, 2]);
        // Group b moves next to group a: one component, Jaccard 0.5 with each; key 1 wins.
        let moved: Vec<Track> = a
            .iter()
            .cloned()
            .chain((0..3).map(|i| person(i + 11, 220.0 + 40.0 * i as f32, 300.0)))
            .collect();
        let o = r.observe(at(0.2), &moved, None);
        assert_eq!(o.len(), 1);
        assert_eq!((o[0].key, o[0].people), (1, 6));
    }

    #[test]
    fn lost_candidate_is_kept_for_clear_after_plus_grace() {
        let mut r = GatheringRule::new(GatheringParams::default());
        let g = vec![
            person(1, 100.0, 300.0),
            person(2, 150.0, 300.0),
            person(3, 125.0, 340.0),
        ];
        r.observe(at(0.0), &g, None);
        assert!(r.observe(at(10.0), &[], None).is_empty());
        assert_eq!(r.observe(at(20.0), &g, None)[0].key, 1);
        r.observe(at(30.0), &[], None);
        assert_eq!(
            r.observe(at(55.2), &g, None)[0].key,
            2,
            "35.2 s later: a new candidate"
        );
    }

    #[test]
    fn ignores_unconfirmed_and_vehicles() {
        let mut r = GatheringRule::new(GatheringParams::default());
        let mut g = vec![
            person(1, 100.0, 300.0),
            person(2, 150.0, 300.0),
            person(3, 125.0, 340.0),
        ];
        g[1].confirmed = false;
        g[2].class = ObjectClass::Vehicle;
        assert!(r.observe(at(0.0), &g, None).is_empty());
    }

    #[test]
    fn calibrated_units() {
        let mut r = GatheringRule::new(GatheringParams {
            link_distance: 1.5,
            max_speed: 0.5,
            ..Default::default()
        });
        let ground = |p: (f32, f32)| (p.0 * 0.02, p.1 * 0.02); // 1 px = 2 cm
        let g = vec![
            person(1, 100.0, 300.0),
            person(2, 160.0, 300.0),
            person(3, 130.0, 340.0),
        ];
        // 60 px = 1.2 m: linked.
        let o = r.observe(at(0.0), &g, Some(&ground));
        assert_eq!(o.len(), 1);
        let o = r.observe(at(1.0), &g, Some(&ground));
        assert!(o[0].active);
        assert_eq!(o[0].measures.to_json()["speed_unit"], "m_per_s");
        assert_eq!(
            o[0].measures.to_json()["link_distance_m"],
            serde_json::json!(1.5)
        );
        assert_eq!(o[0].measures.to_json()["spread_m"], serde_json::json!(1.2));
        // 80 px = 1.6 m: not linked.
        let far = vec![
            person(1, 100.0, 300.0),
            person(2, 180.0, 300.0),
            person(3, 260.0, 300.0),
        ];
        assert!(
            GatheringRule::new(*r.params())
                .observe(at(0.0), &far, Some(&ground))
                .is_empty()
        );
    }

    #[test]
    fn zone_filter() {
        let zone = Polygon::new(vec![[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]).unwrap();
        let tracks = vec![person(1, 380.0, 300.0), person(2, 390.0, 300.0)];
        let inside = people_in_zone(&tracks, &zone, 768, 576);
        assert_eq!(inside.iter().map(|t| t.id).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn params() {
        assert!(GatheringParams::default().problems().is_empty());
        let bad = GatheringParams {
            min_people: 0,
            max_speed: -1.0,
            grace_s: f64::NAN,
            ..Default::default()
        };
        assert_eq!(
            bad.problems(),
            vec![
                "min_people: must be 2 to 1000, got 0",
                "max_speed: must be above 0 and at most 100, got -1",
                "grace_s: must be 0 to 86400 seconds, got NaN",
            ]
        );
        let p: GatheringParams = serde_json::from_str(r#"{"min_people": 4}"#).unwrap();
        assert_eq!(p.min_people, 4);
        assert_eq!(p.cooldown_s, 120.0);
        assert!(serde_json::from_str::<GatheringParams>(r#"{"min_peeple": 4}"#).is_err());
        assert_eq!(p.debounce().clear_after_s, 30.0);
    }
}
