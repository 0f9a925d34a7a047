//! Observations → lifecycle events (`start` / `update` / `end`), one [`Debouncer`] per
//! zone and rule.
//!
//! Semantics (DESIGN §2, "Debounce"), with the choices made here:
//! - **Hold with grace.** Per candidate key, the condition "holds since" the first active
//!   frame; a false stretch ends the hold only when the next active frame comes `grace_s`
//!   or more after the last active one (a gap shorter than grace is bridged). See
//!   [`HoldTimer`].
//! - **Start** on an active frame once the hold has lasted `min_duration_s`, unless the
//!   zone's schedule is closed or the rule is in cooldown. `started_at` is the start of the
//!   hold, not the time the event was emitted. A candidate blocked by cooldown starts at
//!   the first active frame after the cooldown (if it still holds); it does not re-wait.
//! - **Update, count changed**: on an active frame whose `people` differs from the last
//!   published count *and* has been the same on every active frame for at least
//!   `max(grace_s, 2 s)` (5 s by default). A count flickering 4,3,4,3 never settles and
//!   publishes nothing; a member missing for 3 s publishes nothing either (consistent with
//!   grace); a real join is published about 5 s after it happens.
//! - **Update, periodic**: on an active frame `update_every_s` after the last published
//!   event of the incident (start or update). `update_every_s <= 0` disables it.
//! - **Update, racing** (opt-in, see [`Debouncer::with_update_on_racing`]): on an active
//!   frame whose measures say `racing` while the incident's last published event did not;
//!   the update reason is `racing`.
//!   Checked before the other update reasons. A flag dropping back to false publishes
//!   nothing by itself, so a flickering flag publishes at most once per published event.
//! - **End, cleared**: on the first frame at which the condition has been false for
//!   `clear_after_s` (measured from the last active frame). A candidate missing from the
//!   observations counts as false. `at` is the time of that frame.
//! - **End, schedule_closed**: on the first frame stepped with `schedule_active == false`;
//!   all candidate state is dropped too, so nothing carries over to the next night.
//! - **Cooldown**: after any incident of this debouncer ends (any reason), no incident
//!   starts for `cooldown_s`.
//! - Events of an incident carry the data of its latest active observation; an `end`
//!   carries the data of the last active observation (the group as last seen).
//!   `peak_people` is the maximum `people` over the incident's events so far.
//! - Within one step, events come out as ends, then updates, then starts, each in key order.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::analytics::hold::HoldTimer;
use crate::analytics::rules::{Observation, RACING};
pub use crate::types::{IncidentEvent, Phase};
use crate::types::{Measures, RuleKind, secs};

/// Shortest time a new head-count must be stable before an `update` is published.
pub const MIN_COUNT_STABLE_S: f64 = 2.0;
pub use crate::analytics::hold::MAX_FRAME_GAP_S;

pub const END_CLEARED: &str = "cleared";
pub const END_SCHEDULE_CLOSED: &str = "schedule_closed";
pub const END_SHUTDOWN: &str = "shutdown";
pub const END_OF_STREAM: &str = "end_of_stream";
pub const END_CONFIG_RELOAD: &str = "config_reload";
pub const UPDATE_COUNT_CHANGED: &str = "count_changed";
pub const UPDATE_PERIODIC: &str = "periodic";

/// One candidate as the debouncer sees it (see [`Debouncer::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CandidateStatus {
    /// How long the condition has held (0 when not holding).
    pub held_s: f64,
    /// The open incident: its number and when its hold began.
    pub incident: Option<(u64, Timestamp)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DebounceParams {
    pub min_duration_s: f64,
    pub grace_s: f64,
    pub update_every_s: f64,
    pub clear_after_s: f64,
    pub cooldown_s: f64,
}

impl Default for DebounceParams {
    fn default() -> Self {
        DebounceParams {
            min_duration_s: 60.0,
            grace_s: 5.0,
            update_every_s: 60.0,
            clear_after_s: 30.0,
            cooldown_s: 120.0,
        }
    }
}

/// Snapshot of an observation, kept for the events.
#[derive(Debug, Clone)]
struct Snapshot {
    people: usize,
    track_ids: Vec<u64>,
    hull: Vec<(f32, f32)>,
    measures: Measures,
}

impl From<&Observation> for Snapshot {
    fn from(o: &Observation) -> Self {
        Snapshot {
            people: o.people,
            track_ids: o.track_ids.clone(),
            hull: o.hull.clone(),
            measures: o.measures.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Incident {
    id: u64,
    next_seq: u32,
    started_at: Timestamp,
    peak: usize,
    published_people: usize,
    last_emit: Timestamp,
    /// A head-count different from the published one, and since when it has been seen.
    pending: Option<(usize, Timestamp)>,
    /// Measures of the last published start/update.
    published_measures: Measures,
}

#[derive(Debug, Clone, Default)]
struct Candidate {
    hold: HoldTimer,
    last_active: Option<Snapshot>,
    incident: Option<Incident>,
}

#[derive(Debug, Clone)]
pub struct Debouncer {
    zone: String,
    rule: RuleKind,
    p: DebounceParams,
    candidates: BTreeMap<u64, Candidate>,
    next_incident: u64,
    last_end: Option<Timestamp>,
    /// A rise of `racing` publishes an update (see [`Debouncer::with_update_on_racing`]).
    update_on_racing: bool,
}

impl Debouncer {
    pub fn new(zone: &str, rule: RuleKind, p: DebounceParams) -> Self {
        Debouncer {
            zone: zone.to_string(),
            rule,
            p,
            candidates: BTreeMap::new(),
            next_incident: 1,
            last_end: None,
            update_on_racing: false,
        }
    }

    /// Numbers incidents from `first` (default 1). Incident numbers restart with the process;
    /// to keep `incident` unique across restarts, seed it (e.g. from a persisted counter or
    /// the start time in milliseconds).
    pub fn with_first_incident(mut self, first: u64) -> Self {
        self.next_incident = first;
        self
    }

    /// Publishes an `update` with update reason `racing` when the measures' `racing`
    /// becomes true in an open incident (it was not in the last published event). Off by
    /// default; the weaving rule turns it on.
    pub fn with_update_on_racing(mut self) -> Self {
        self.update_on_racing = true;
        self
    }

    /// The number the next incident will get.
    pub fn next_incident(&self) -> u64 {
        self.next_incident
    }

    pub fn params(&self) -> &DebounceParams {
        &self.p
    }

    /// Feeds one analysed frame. Call it for every frame, also while the schedule is closed
    /// (that is how open incidents learn that it closed).
    pub fn step(
        &mut self,
        ts: Timestamp,
        schedule_active: bool,
        obs: &[Observation],
    ) -> Vec<IncidentEvent> {
        if !schedule_active {
            return self.finish(ts, END_SCHEDULE_CLOSED);
        }
        let p = self.p;
        let by_key: BTreeMap<u64, &Observation> = obs.iter().map(|o| (o.key, o)).collect();
        for (&key, o) in &by_key {
            if o.active {
                self.candidates.entry(key).or_default();
            }
        }

        // Pass 1: hold timers, snapshots, and incidents that cleared.
        let mut ends = Vec::new();
        for (&key, cand) in self.candidates.iter_mut() {
            let active = by_key.get(&key).filter(|o| o.active).copied();
            cand.hold.observe(ts, active.is_some(), p.grace_s);
            if let Some(o) = active {
                cand.last_active = Some(Snapshot::from(o));
            }
            let cleared = cand
                .hold
                .last_true()
                .is_none_or(|last| secs(ts, last) >= p.clear_after_s);
            if active.is_none()
                && cleared
                && let Some(mut inc) = cand.incident.take()
            {
                ends.push(event(
                    self.rule,
                    &self.zone,
                    &mut inc,
                    Phase::End,
                    ts,
                    cand.last_active.as_ref(),
                    Some(END_CLEARED),
                    None,
                ));
            }
        }
        if !ends.is_empty() {
            self.last_end = Some(ts);
        }
        // Forget candidates that neither hold nor have an incident.
        self.candidates
            .retain(|_, c| c.incident.is_some() || c.hold.since().is_some());

        // Pass 2: updates of open incidents, starts of new ones.
        let cooled = self
            .last_end
            .is_none_or(|end| secs(ts, end) >= p.cooldown_s);
        let mut updates = Vec::new();
        let mut starts = Vec::new();
        for (&key, cand) in self.candidates.iter_mut() {
            let Some(o) = by_key.get(&key).filter(|o| o.active) else {
                continue;
            };
            match cand.incident.as_mut() {
                Some(inc) => {
                    if let Some(r) = update_reason(inc, o, ts, &p, self.update_on_racing) {
                        updates.push(event(
                            self.rule,
                            &self.zone,
                            inc,
                            Phase::Update,
                            ts,
                            cand.last_active.as_ref(),
                            None,
                            Some(r),
                        ));
                    }
                }
                None => {
                    let since = cand.hold.since().expect("an active frame sets since");
                    if cooled && secs(ts, since) >= p.min_duration_s {
                        let mut inc = Incident {
                            id: self.next_incident,
                            next_seq: 0,
                            started_at: since,
                            peak: 0,
                            published_people: 0,
                            last_emit: ts,
                            pending: None,
                            published_measures: Measures::Empty {},
                        };
                        self.next_incident += 1;
                        starts.push(event(
                            self.rule,
                            &self.zone,
                            &mut inc,
                            Phase::Start,
                            ts,
                            cand.last_active.as_ref(),
                            None,
                            None,
                        ));
                        cand.incident = Some(inc);
                    }
                }
            }
        }
        ends.extend(updates);
        ends.extend(starts);
        ends
    }

    /// Ends every open incident now with `reason` (e.g. `"shutdown"` at the end of a replay
    /// or on config reload) and forgets all candidates. Starts the cooldown if anything ended.
    pub fn finish(&mut self, ts: Timestamp, reason: &str) -> Vec<IncidentEvent> {
        let mut out = Vec::new();
        for cand in self.candidates.values_mut() {
            if let Some(mut inc) = cand.incident.take() {
                out.push(event(
                    self.rule,
                    &self.zone,
                    &mut inc,
                    Phase::End,
                    ts,
                    cand.last_active.as_ref(),
                    Some(reason),
                    None,
                ));
            }
        }
        if !out.is_empty() {
            self.last_end = Some(ts);
        }
        self.candidates.clear();
        out
    }

    /// Where candidate `key` stands after the last `step` at `ts` (tuning aids): how long
    /// its condition has held, and its open incident (number, start of its hold).
    pub fn status(&self, key: u64, ts: Timestamp) -> CandidateStatus {
        match self.candidates.get(&key) {
            None => CandidateStatus::default(),
            Some(c) => CandidateStatus {
                held_s: c.hold.held_s(ts),
                incident: c.incident.as_ref().map(|i| (i.id, i.started_at)),
            },
        }
    }

    /// Seconds of cooldown left at `ts` (0 when no incident ended lately).
    pub fn cooldown_left_s(&self, ts: Timestamp) -> f64 {
        self.last_end
            .map_or(0.0, |end| (self.p.cooldown_s - secs(ts, end)).max(0.0))
    }

    /// Open incidents.
    pub fn active_count(&self) -> usize {
        self.candidates
            .values()
            .filter(|c| c.incident.is_some())
            .count()
    }
}

/// Whether the active observation `o` publishes an update, and why.
fn update_reason(
    inc: &mut Incident,
    o: &Observation,
    ts: Timestamp,
    p: &DebounceParams,
    on_racing: bool,
) -> Option<&'static str> {
    if on_racing && o.measures.racing() && !inc.published_measures.racing() {
        return Some(RACING);
    }
    let people = o.people;
    if people == inc.published_people {
        inc.pending = None;
    } else {
        match inc.pending {
            Some((n, _)) if n == people => {}
            _ => inc.pending = Some((people, ts)),
        }
        let stable_s = p.grace_s.max(MIN_COUNT_STABLE_S);
        if inc
            .pending
            .is_some_and(|(_, since)| secs(ts, since) >= stable_s)
        {
            return Some(UPDATE_COUNT_CHANGED);
        }
    }
    if p.update_every_s > 0.0 && secs(ts, inc.last_emit) >= p.update_every_s {
        return Some(UPDATE_PERIODIC);
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn event(
    rule: RuleKind,
    zone: &str,
    inc: &mut Incident,
    phase: Phase,
    ts: Timestamp,
    snap: Option<&Snapshot>,
    reason: Option<&str>,
    update_reason: Option<&str>,
) -> IncidentEvent {
    let (people, track_ids, hull, measures) = match snap {
        Some(s) => (
            s.people,
            s.track_ids.clone(),
            s.hull.clone(),
            s.measures.clone(),
        ),
        None => (0, Vec::new(), Vec::new(), Measures::Empty {}),
    };
    inc.peak = inc.peak.max(people);
    if phase != Phase::End {
        inc.published_people = people;
        inc.pending = None;
        inc.last_emit = ts;
        inc.published_measures = measures.clone();
    }
    let seq = inc.next_seq;
    inc.next_seq += 1;
    IncidentEvent {
        rule,
        zone: zone.to_string(),
        incident: inc.id,
        seq,
        phase,
        started_at: inc.started_at,
        at: ts,
        people,
        peak_people: inc.peak,
        track_ids,
        hull,
        racing: measures.racing(),
        measures,
        reason: reason.map(str::to_string),
        update_reason: update_reason.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn at(s: f64) -> Timestamp {
        let t0: Timestamp = "2026-11-26T16:00:00Z".parse().unwrap();
        t0 + SignedDuration::from_millis((s * 1000.0).round() as i64)
    }

    fn ob(key: u64, active: bool, people: usize) -> Observation {
        Observation {
            rule: RuleKind::Gathering,
            key,
            active,
            people,
            track_ids: (1..=people as u64).collect(),
            hull: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)],
            measures: Measures::Empty {},
        }
    }

    /// Steps at 5 fps over [from, to); `f(t)` gives the observations.
    fn run(
        d: &mut Debouncer,
        from: f64,
        to: f64,
        f: impl Fn(f64) -> Vec<Observation>,
    ) -> Vec<(Phase, f64, usize, Option<String>)> {
        let mut out = Vec::new();
        let mut k = (from * 5.0).round() as i64;
        while (k as f64) / 5.0 < to - 1e-9 {
            let t = k as f64 / 5.0;
            for e in d.step(at(t), true, &f(t)) {
                let why = e.reason.clone().or(e.update_reason.clone());
                out.push((e.phase, t, e.people, why));
            }
            k += 1;
        }
        out
    }

    fn deb() -> Debouncer {
        Debouncer::new("gate", RuleKind::Gathering, DebounceParams::default())
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn start_after_min_duration_then_clear() {
        let mut d = deb();
        let ev = run(&mut d, 0.0, 200.0, |t| {
            if t < 90.0 {
                vec![ob(7, true, 4)]
            } else {
                vec![]
            }
        });
        assert_eq!(
            ev,
            vec![
                (Phase::Start, 60.0, 4, None),
                (Phase::End, 119.8, 4, s("cleared")),
            ]
        );
        assert_eq!(d.active_count(), 0);
    }

    #[test]
    fn event_fields() {
        let mut d = deb().with_first_incident(41);
        let mut all = Vec::new();
        for k in 0..1000 {
            let t = k as f64 / 5.0;
            let o = if (5.0..150.0).contains(&t) {
                vec![ob(3, true, 4)]
            } else {
                vec![ob(3, false, 2)]
            };
            all.extend(d.step(at(t), true, &o));
        }
        assert_eq!(all.len(), 3);
        let (st, up, end) = (&all[0], &all[1], &all[2]);
        assert_eq!((st.incident, st.seq, st.phase), (41, 0, Phase::Start));
        assert_eq!((up.incident, up.seq, up.phase), (41, 1, Phase::Update));
        assert_eq!((end.incident, end.seq, end.phase), (41, 2, Phase::End));
        assert_eq!(st.started_at, at(5.0));
        assert_eq!(st.at, at(65.0));
        assert_eq!(up.at, at(125.0), "periodic, 60 s after start");
        assert_eq!(up.update_reason.as_deref(), Some("periodic"));
        assert_eq!(end.at, at(179.8));
        assert_eq!(end.duration_s(), 174.8);
        assert_eq!(end.people, 4, "the group as last seen active");
        assert_eq!(d.next_incident(), 42);
        let j = serde_json::to_value(st).unwrap();
        assert_eq!(j["phase"], "start");
        assert_eq!(j["rule"], "gathering");
        assert_eq!(j["zone"], "gate");
        assert_eq!(j["started_at"], "2026-11-26T16:00:05Z");
        assert_eq!(
            j["hull"],
            serde_json::json!([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
        );
        let back: IncidentEvent = serde_json::from_value(j).unwrap();
        assert_eq!(&back, st);
    }

    #[test]
    fn short_gaps_are_bridged_long_ones_reset() {
        let mut d = deb();
        // Gap of 3 s at 30 s: start still at 60.
        let ev = run(&mut d, 0.0, 70.0, |t| {
            vec![ob(1, !(30.0..33.0).contains(&t), 3)]
        });
        assert_eq!(ev, vec![(Phase::Start, 60.0, 3, None)]);
        let mut d = deb();
        // Gap of 6 s at 30 s: the hold restarts at 36.
        let ev = run(&mut d, 0.0, 100.0, |t| {
            vec![ob(1, !(30.0..36.0).contains(&t), 3)]
        });
        assert_eq!(ev, vec![(Phase::Start, 96.0, 3, None)]);
    }

    #[test]
    fn missing_key_counts_as_false() {
        let mut d = deb();
        let ev = run(&mut d, 0.0, 100.0, |t| {
            if (30.0..36.0).contains(&t) {
                vec![]
            } else {
                vec![ob(1, true, 3)]
            }
        });
        assert_eq!(ev, vec![(Phase::Start, 96.0, 3, None)]);
    }

    #[test]
    fn hold_timer_frame_gaps() {
        let mut h = HoldTimer::default();
        h.observe(at(0.0), true, 0.0);
        h.observe(at(0.2), true, 0.0);
        assert_eq!(
            h.since(),
            Some(at(0.0)),
            "consecutive frames continue even with grace 0"
        );
        h.observe(at(10.0), true, 5.0);
        assert_eq!(h.since(), Some(at(10.0)), "no frames for 9.8 s: a new hold");
        h.observe(at(10.2), false, 5.0);
        assert_eq!(h.since(), Some(at(10.0)));
        h.observe(at(15.0), false, 5.0);
        assert_eq!(h.since(), None);
        assert_eq!(h.last_true(), Some(at(10.0)));
        assert_eq!(h.held_s(at(20.0)), 0.0);
    }

    #[test]
    fn count_changes_are_debounced() {
        let mut d = deb();
        // Flicker 4,3,4,3 from 70 s to 100 s: nothing; then 6 from 100 s: one update at 105.
        let ev = run(&mut d, 0.0, 130.0, |t| {
            let n = if t < 70.0 {
                4
            } else if t < 100.0 {
                if ((t * 5.0).round() as i64) % 2 == 0 {
                    4
                } else {
                    3
                }
            } else {
                6
            };
            vec![ob(1, true, n)]
        });
        assert_eq!(
            ev,
            vec![
                (Phase::Start, 60.0, 4, None),
                (Phase::Update, 105.0, 6, s("count_changed")),
            ]
        );
    }

    #[test]
    fn count_change_then_periodic_from_last_event() {
        let mut d = deb();
        let ev = run(&mut d, 0.0, 200.0, |t| {
            vec![ob(1, true, if t < 80.0 { 3 } else { 5 })]
        });
        assert_eq!(
            ev,
            vec![
                (Phase::Start, 60.0, 3, None),
                (Phase::Update, 85.0, 5, s("count_changed")),
                (Phase::Update, 145.0, 5, s("periodic")),
            ]
        );
    }

    #[test]
    fn peak_people_is_max_over_events() {
        let mut d = deb();
        let mut all = Vec::new();
        for k in 0..900 {
            let t = k as f64 / 5.0;
            let n = if t < 70.0 {
                3
            } else if t < 100.0 {
                6
            } else {
                4
            };
            let o = if t < 150.0 {
                vec![ob(1, true, n)]
            } else {
                vec![]
            };
            all.extend(d.step(at(t), true, &o));
        }
        let got: Vec<(Phase, usize, usize)> = all
            .iter()
            .map(|e| (e.phase, e.people, e.peak_people))
            .collect();
        assert_eq!(
            got,
            vec![
                (Phase::Start, 3, 3),
                (Phase::Update, 6, 6),
                (Phase::Update, 4, 6),
                (Phase::End, 4, 6),
            ]
        );
    }

    #[test]
    fn cooldown_blocks_then_starts_at_first_active_frame_after_it() {
        let mut d = deb();
        // Incident 1: 0-90 s, ends at 119.8. A new group (key 2) holds from 130 s;
        // it has held 60 s at 190 s but cooldown runs to 239.8.
        let ev = run(&mut d, 0.0, 290.0, |t| {
            let mut v = Vec::new();
            if t < 90.0 {
                v.push(ob(1, true, 3));
            }
            if t >= 130.0 {
                v.push(ob(2, true, 5));
            }
            v
        });
        assert_eq!(
            ev,
            vec![
                (Phase::Start, 60.0, 3, None),
                (Phase::End, 119.8, 3, s("cleared")),
                (Phase::Start, 239.8, 5, None),
            ]
        );
    }

    #[test]
    fn schedule_closing_ends_and_resets() {
        let mut d = deb();
        let mut ev = Vec::new();
        for k in 0..1200 {
            let t = k as f64 / 5.0;
            let open = !(100.0..110.0).contains(&t);
            for e in d.step(at(t), open, &[ob(1, true, 3)]) {
                ev.push((e.phase, t, e.reason.clone(), e.started_at));
            }
        }
        assert_eq!(
            ev,
            vec![
                (Phase::Start, 60.0, None, at(0.0)),
                (Phase::End, 100.0, s("schedule_closed"), at(0.0)),
                // Reopened at 110: a fresh hold, and the cooldown from 100 s runs to 220 s.
                (Phase::Start, 220.0, None, at(110.0)),
            ]
        );
    }

    fn flagged(key: u64, active: bool, racing: bool) -> Observation {
        let mut o = ob(key, active, 1);
        o.measures = Measures::Weaving(crate::types::WeavingMeasures {
            racing,
            ..Default::default()
        });
        o
    }

    fn fast() -> DebounceParams {
        DebounceParams {
            min_duration_s: 0.0,
            grace_s: 1.0,
            update_every_s: 10.0,
            clear_after_s: 3.0,
            cooldown_s: 0.0,
        }
    }

    #[test]
    fn flag_rise_publishes_one_update() {
        let mut d = Debouncer::new("road", RuleKind::Weaving, fast()).with_update_on_racing();
        // Racing from 2 s, flickering off 2.4-2.8 s: one update; the periodic one at 12 s
        // carries racing = false (off from 11 s), so the rise at 13 s publishes again.
        let ev = run(&mut d, 0.0, 15.0, |t| {
            let racing = (2.0..2.4).contains(&t) || (2.8..11.0).contains(&t) || t >= 13.0;
            vec![flagged(1, true, racing)]
        });
        assert_eq!(
            ev,
            vec![
                (Phase::Start, 0.0, 1, None),
                (Phase::Update, 2.0, 1, s("racing")),
                (Phase::Update, 12.0, 1, s("periodic")),
                (Phase::Update, 13.0, 1, s("racing")),
            ]
        );
        // Started while racing: nothing more to publish.
        let mut d = Debouncer::new("road", RuleKind::Weaving, fast()).with_update_on_racing();
        let ev = run(&mut d, 0.0, 5.0, |_| vec![flagged(1, true, true)]);
        assert_eq!(ev, vec![(Phase::Start, 0.0, 1, None)]);
    }

    #[test]
    fn flags_are_opt_in_and_per_incident() {
        // Without with_update_on_racing the flag is just data.
        let mut d = Debouncer::new("road", RuleKind::Weaving, fast());
        let ev = run(&mut d, 0.0, 5.0, |t| vec![flagged(1, true, t >= 2.0)]);
        assert_eq!(ev, vec![(Phase::Start, 0.0, 1, None)]);
        // Two concurrent incidents (one per key), each with its own published state.
        let mut d = Debouncer::new("road", RuleKind::Weaving, fast()).with_update_on_racing();
        let mut all = Vec::new();
        for k in 0..25 {
            let t = k as f64 / 5.0;
            let mut o = vec![flagged(1, true, t >= 2.0)];
            if t >= 2.0 {
                o.push(flagged(2, true, true));
            }
            for e in d.step(at(t), true, &o) {
                all.push((e.incident, e.phase, t, e.update_reason.clone()));
            }
        }
        assert_eq!(
            all,
            vec![
                (1, Phase::Start, 0.0, None),
                (1, Phase::Update, 2.0, s("racing")),
                (2, Phase::Start, 2.0, None),
            ]
        );
        assert_eq!(d.active_count(), 2);
    }

    #[test]
    fn finish_ends_everything() {
        let mut d = deb();
        run(&mut d, 0.0, 70.0, |_| {
            vec![ob(1, true, 3), ob(2, true, 4), ob(3, false, 2)]
        });
        assert_eq!(d.active_count(), 2);
        let ev = d.finish(at(70.0), "shutdown");
        assert_eq!(ev.len(), 2);
        assert!(
            ev.iter()
                .all(|e| e.phase == Phase::End && e.reason.as_deref() == Some("shutdown"))
        );
        assert_eq!(
            ev.iter().map(|e| e.incident).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(d.active_count(), 0);
        assert!(d.finish(at(71.0), "shutdown").is_empty());
    }
}
