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

use crate::rules::{Measures, Observation, RuleKind};

/// Shortest time a new head-count must be stable before an `update` is published.
pub const MIN_COUNT_STABLE_S: f64 = 2.0;
/// Two active frames further apart than this with nothing in between are not one hold,
/// even with `grace_s == 0` (the frames stopped coming, e.g. the camera was down).
pub const MAX_FRAME_GAP_S: f64 = 2.0;

pub const END_CLEARED: &str = "cleared";
pub const END_SCHEDULE_CLOSED: &str = "schedule_closed";
pub const END_SHUTDOWN: &str = "shutdown";
pub const UPDATE_COUNT_CHANGED: &str = "count_changed";
pub const UPDATE_PERIODIC: &str = "periodic";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Start,
    Update,
    End,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub rule: RuleKind,
    pub zone: String,
    /// Assigned by the debouncer, increasing per zone+rule (see [`Debouncer::with_first_incident`]).
    pub incident: u64,
    /// 0 for start, +1 per event of the incident.
    pub seq: u32,
    pub phase: Phase,
    /// When the condition began to hold (not when `start` was emitted).
    pub started_at: Timestamp,
    /// Time of the frame that produced this event.
    pub at: Timestamp,
    pub people: usize,
    pub peak_people: usize,
    pub track_ids: Vec<u64>,
    pub hull: Vec<(f32, f32)>,
    pub measures: Measures,
    /// On `end`: `cleared`, `schedule_closed`, `shutdown` (or what `finish` was given).
    pub reason: Option<String>,
    /// On `update`: `count_changed` or `periodic`.
    pub update_reason: Option<String>,
}

impl IncidentEvent {
    /// Seconds from `started_at` to `at`.
    pub fn duration_s(&self) -> f64 {
        secs(self.at, self.started_at)
    }
}

/// "The condition has held since", with grace: a gap shorter than `grace_s` between two
/// active frames does not reset it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HoldTimer {
    since: Option<Timestamp>,
    last_true: Option<Timestamp>,
    false_seen: bool,
}

impl HoldTimer {
    pub fn observe(&mut self, ts: Timestamp, active: bool, grace_s: f64) {
        if active {
            let bridged = match (self.since, self.last_true) {
                (Some(_), Some(last)) => {
                    let gap = secs(ts, last);
                    gap < grace_s || (!self.false_seen && gap <= MAX_FRAME_GAP_S)
                }
                _ => false,
            };
            if !bridged {
                self.since = Some(ts);
            }
            self.last_true = Some(ts);
            self.false_seen = false;
        } else {
            self.false_seen = true;
            if let Some(last) = self.last_true {
                if secs(ts, last) >= grace_s {
                    self.since = None;
                }
            }
        }
    }

    /// Start of the current hold; `None` when not holding (and not within grace).
    pub fn since(&self) -> Option<Timestamp> {
        self.since
    }

    /// Last frame at which the condition held.
    pub fn last_true(&self) -> Option<Timestamp> {
        self.last_true
    }

    /// Seconds held at `ts` (0 when not holding).
    pub fn held_s(&self, ts: Timestamp) -> f64 {
        self.since.map_or(0.0, |s| secs(ts, s).max(0.0))
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
        }
    }

    /// Numbers incidents from `first` (default 1). Incident numbers restart with the process;
    /// to keep `incident` unique across restarts, seed it (e.g. from a persisted counter or
    /// the start time in milliseconds).
    pub fn with_first_incident(mut self, first: u64) -> Self {
        self.next_incident = first;
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
            if o.active || self.candidates.contains_key(&key) {
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
            if active.is_none() && cleared {
                if let Some(mut inc) = cand.incident.take() {
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
                    if let Some(r) = update_reason(inc, o.people, ts, &p) {
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

    /// Open incidents.
    pub fn active_count(&self) -> usize {
        self.candidates
            .values()
            .filter(|c| c.incident.is_some())
            .count()
    }
}

/// Whether an active frame with `people` publishes an update, and why.
fn update_reason(
    inc: &mut Incident,
    people: usize,
    ts: Timestamp,
    p: &DebounceParams,
) -> Option<&'static str> {
    if people == inc.published_people {
        inc.pending = None;
    } else {
        match inc.pending {
            Some((n, _)) if n == people => {}
            _ => inc.pending = Some((people, ts)),
        }
        let stable_s = p.grace_s.max(MIN_COUNT_STABLE_S);
        if inc.pending.is_some_and(|(_, since)| secs(ts, since) >= stable_s) {
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
        Some(s) => (s.people, s.track_ids.clone(), s.hull.clone(), s.measures.clone()),
        None => (0, Vec::new(), Vec::new(), Measures::new()),
    };
    inc.peak = inc.peak.max(people);
    if phase != Phase::End {
        inc.published_people = people;
        inc.pending = None;
        inc.last_emit = ts;
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
        measures,
        reason: reason.map(str::to_string),
        update_reason: update_reason.map(str::to_string),
    }
}

/// `a - b` in seconds.
pub(crate) fn secs(a: Timestamp, b: Timestamp) -> f64 {
    a.duration_since(b).as_secs_f64()
}
