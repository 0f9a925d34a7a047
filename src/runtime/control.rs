//! `wardwatch run`: start the chain and every enabled camera, then watch: signals
//! (SIGINT/SIGTERM stop, SIGHUP reloads), config file changes (reloaded camera by
//! camera), hung streams (the watchdog) and the periodic stats line.
//!
//! **Reload camera by camera.** A camera whose settings are equal keeps streaming and
//! its incidents carry on. A camera whose zones, rules or schedules changed keeps its
//! stream; its analytics are reconfigured, and only incidents of the zones that changed
//! end with `config_reload`. A camera whose url or `detect_fps` changed reconnects (its
//! analytics are reconfigured the same way). Removed or disabled cameras end their
//! incidents with `config_reload`. `[mqtt]` changes need a restart.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::analytics::CameraAnalytics;
use crate::analytics::debounce::{END_CONFIG_RELOAD, END_SHUTDOWN};
use crate::clock::Clock;
use crate::config::{CameraConfig, Config, ConfigError, Role};
use crate::detect::{DetectError, Detector};
use crate::media::capture::{Capture, CaptureEnd, Delivery as FrameDelivery, FrameSlot};
use crate::media::source::LiveSource;
use crate::publish::dispatch::Dispatcher;
use crate::publish::evidence::{EvidenceError, EvidenceStore};
use crate::publish::outbox::OutboxError;
use crate::runtime::announce::Announcer;
use crate::runtime::metrics::Metrics;
use crate::runtime::publisher::{PublishMsg, PublishWorker, Stdout};
use crate::runtime::worker::{WorkerCmd, WorkerOptions, percentiles};
use crate::runtime::{Chain, Delivery, spawn_capture};
use crate::web::Hub;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Detect(#[from] DetectError),
    #[error("{0}")]
    Evidence(#[from] EvidenceError),
    #[error("{0}")]
    Outbox(#[from] OutboxError),
    #[error("cannot start a thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error("{0}")]
    Web(#[from] crate::web::WebError),
}

/// One running camera.
struct Running {
    cfg: CameraConfig,
    capture: Arc<Capture>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<CaptureEnd>>,
    /// The watchdog reported this camera offline while its read hung.
    hung_reported: bool,
    /// The capture's decoded and dropped counters at the last stats line.
    seen_decoded: u64,
    seen_dropped: u64,
}

impl Running {
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
    fn join(&mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            // A capture stuck in a read that ignores its timeout is left behind rather
            // than blocking the whole appliance; it exits when the read returns.
            let deadline = Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                tracing::warn!(camera = %self.cfg.id, "capture thread still blocked in a read; leaving it to finish on its own");
            }
        }
    }
}

struct App<'a> {
    cfg: Config,
    chain: &'a Chain,
    clock: Arc<dyn Clock>,
    publisher: crate::publish::Publisher,
    cams: BTreeMap<String, Running>,
    metrics: Arc<Metrics>,
    hub: Option<Arc<Hub>>,
    /// Analysed frames per camera at the last fps update.
    fps_seen: (Instant, BTreeMap<String, u64>),
    /// Home Assistant discovery (announces nothing when `[homeassistant]` is off).
    announcer: Announcer,
}

impl App<'_> {
    fn start_camera(
        &mut self,
        cam: &CameraConfig,
        slot: Option<Arc<FrameSlot>>,
    ) -> Result<(), RunError> {
        let new_slot = slot.is_none();
        let slot = slot.unwrap_or_else(|| FrameSlot::new(self.chain.doorbell.clone()));
        if new_slot {
            let _ = self
                .chain
                .publish_tx
                .send(PublishMsg::Camera(Box::new(Dispatcher::new(
                    self.cfg.event_builder(cam),
                    self.cfg.zone_outlines(cam),
                    Some(self.publisher.clone()),
                ))));
            // A first state document (nobody counted, no alert), so that dashboards and
            // Home Assistant show 0 and off rather than unknown for a camera that has not
            // delivered a frame yet (or never does: offline).
            let _ = self.chain.publish_tx.send(PublishMsg::Counts {
                camera: cam.id.clone(),
                ts: self.clock.now(),
                zone_counts: Vec::new(),
            });
            let _ = self.chain.worker_tx.send(WorkerCmd::Add {
                camera: cam.id.clone(),
                slot: slot.clone(),
                analytics: Box::new(CameraAnalytics::new(self.cfg.analytics(cam))),
                gate: self.cfg.motion_gate(cam),
            });
        }
        if let Some(h) = &self.hub {
            h.set_camera(self.cfg.camera_view(cam));
        }
        let capture = Arc::new(Capture::new(
            self.cfg.capture(cam, FrameDelivery::Latest),
            slot,
        ));
        self.metrics.set_capture(&cam.id, Some(capture.clone()));
        let source = LiveSource::with_clock(
            &cam.url,
            self.clock.clone(),
            self.cfg.runtime.stream_timeout_s,
        )
        .with_hw_decode(cam.hw_decode);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = spawn_capture(
            capture.clone(),
            Box::new(source),
            stop.clone(),
            Some(self.chain.publish_tx.clone()),
            self.clock.clone(),
            Some(Box::new(
                self.cfg
                    .frame_prep(cam, &self.chain.preprocessor)
                    .with_metrics(Some(self.metrics.clone())),
            )),
        )?;
        self.cams.insert(
            cam.id.clone(),
            Running {
                cfg: cam.clone(),
                capture,
                stop,
                thread: Some(thread),
                hung_reported: false,
                seen_decoded: 0,
                seen_dropped: 0,
            },
        );
        Ok(())
    }

    /// Apply a new, valid config camera by camera.
    fn reload(&mut self, new: Config) -> Result<(), RunError> {
        if new.mqtt != self.cfg.mqtt {
            tracing::warn!("[mqtt] changed: the new broker settings take effect after a restart");
        }
        if new.detector != self.cfg.detector {
            match Detector::load(new.detector.clone()) {
                Ok(d) => {
                    let _ = self.chain.worker_tx.send(WorkerCmd::Detector(Box::new(d)));
                }
                Err(e) => {
                    tracing::error!(error = %e, "new [model] refused; keeping the running model")
                }
            }
        }
        let old = std::mem::replace(&mut self.cfg, new);
        self.announcer.reload(self.cfg.discovery().as_ref());
        let wanted: Vec<CameraConfig> = self
            .cfg
            .cameras
            .iter()
            .filter(|c| c.enabled)
            .cloned()
            .collect();
        let (mut kept, mut changed, mut restarted, mut added, mut removed) = (0, 0, 0, 0, 0);
        let ids: Vec<String> = self.cams.keys().cloned().collect();
        for id in ids {
            if !wanted.iter().any(|c| c.id == id) {
                if let Some(mut r) = self.cams.remove(&id) {
                    r.join();
                }
                self.metrics.set_capture(&id, None);
                if let Some(h) = &self.hub {
                    h.remove_camera(&id);
                }
                let _ = self.chain.worker_tx.send(WorkerCmd::Remove {
                    camera: id,
                    reason: END_CONFIG_RELOAD.into(),
                });
                removed += 1;
            }
        }
        if let Some(h) = &self.hub {
            h.set_site(
                &self.cfg.site.id,
                &self.cfg.site.name,
                self.cfg.site.language.as_str(),
            );
            for cam in &wanted {
                h.set_camera(self.cfg.camera_view(cam));
            }
        }
        for cam in &wanted {
            let Some(r) = self.cams.get_mut(&cam.id) else {
                self.start_camera(cam, None)?;
                added += 1;
                continue;
            };
            let analytics_same = r.cfg.zones == cam.zones
                && r.cfg.filter == cam.filter
                && r.cfg.calibration == cam.calibration
                && old.tracker == self.cfg.tracker
                && old.site.timezone == self.cfg.site.timezone;
            // The capture makes the motion copy only when gating is on, at its width.
            let source_same = r.cfg.url == cam.url
                && r.cfg.detect_fps == cam.detect_fps
                && r.cfg.hw_decode == cam.hw_decode
                && r.cfg.motion.enabled == cam.motion.enabled
                && r.cfg.motion.width == cam.motion.width;
            if r.cfg.motion != cam.motion || r.cfg.zones != cam.zones {
                let _ = self.chain.worker_tx.send(WorkerCmd::Gate {
                    camera: cam.id.clone(),
                    gate: self.cfg.motion_gate(cam),
                });
            }
            // Names and language: the titles change, open incidents carry on.
            if r.cfg.name != cam.name
                || r.cfg.zone_names != cam.zone_names
                || old.site.name != self.cfg.site.name
                || old.site.language != self.cfg.site.language
            {
                let _ = self
                    .chain
                    .publish_tx
                    .send(PublishMsg::Builder(Box::new(self.cfg.event_builder(cam))));
            }
            if !analytics_same || old.site.id != self.cfg.site.id {
                let _ = self.chain.worker_tx.send(WorkerCmd::Reconfigure {
                    camera: cam.id.clone(),
                    settings: Box::new(self.cfg.analytics(cam)),
                    reason: END_CONFIG_RELOAD.into(),
                });
                let _ = self.chain.publish_tx.send(PublishMsg::Zones {
                    camera: cam.id.clone(),
                    zones: self.cfg.zone_outlines(cam),
                });
            }
            if !source_same {
                let slot = r.capture.slot.clone();
                r.join();
                self.start_camera(cam, Some(slot))?;
                restarted += 1;
            } else if !analytics_same {
                r.cfg = cam.clone();
                changed += 1;
            } else {
                r.cfg = cam.clone();
                kept += 1;
            }
        }
        tracing::info!(
            kept,
            analytics_changed = changed,
            reconnected = restarted,
            added,
            removed,
            "config reloaded"
        );
        crate::runtime::plain(&format!(
            "config reloaded: {} camera(s): {kept} unchanged, {changed} with new zones or rules, {restarted} reconnected, {added} added, {removed} removed",
            self.cams.len()
        ));
        Ok(())
    }

    /// Report cameras whose `open`/`grab` has hung past the watchdog as offline.
    fn watchdog(&mut self) {
        let limit = Duration::from_secs_f64(self.cfg.runtime.watchdog_s);
        for (id, r) in self.cams.iter_mut() {
            let blocked = Capture::blocked_for(&r.capture.busy_since_us, r.capture.epoch);
            match blocked {
                Some(d) if d >= limit && !r.hung_reported => {
                    r.hung_reported = true;
                    let reason = format!(
                        "no frame for {:.0} s: the stream hangs (no data from {})",
                        d.as_secs_f64(),
                        crate::media::source::redact(&r.cfg.url)
                    );
                    let change = r
                        .capture
                        .health
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .disconnected(self.clock.now(), &reason);
                    if let Some(change) = change {
                        let _ = self.chain.publish_tx.send(PublishMsg::Health {
                            camera: id.clone(),
                            change,
                        });
                    }
                }
                Some(_) => {}
                None => r.hung_reported = false,
            }
        }
    }

    /// Analysed fps per camera since the last call, into the metrics.
    fn update_fps(&mut self) {
        let (at, seen) = &mut self.fps_seen;
        let secs = at.elapsed().as_secs_f64();
        if secs < 2.0 {
            return;
        }
        *at = Instant::now();
        for id in self.cams.keys() {
            let now = self.metrics.camera(id, |c| c.analysed);
            let before = seen.insert(id.clone(), now).unwrap_or(now);
            let fps = now.saturating_sub(before) as f64 / secs;
            self.metrics.camera(id, |c| c.fps = fps);
        }
        seen.retain(|id, _| self.cams.contains_key(id));
    }

    fn stats_line(&mut self, since: Instant) {
        let figures = self
            .chain
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let secs = since.elapsed().as_secs_f64().max(1e-3);
        for (id, r) in self.cams.iter_mut() {
            // The counters only grow (`/metrics` reads them too): the line shows the change.
            let c = &r.capture.slot.counters;
            let (d, x) = (
                c.decoded.load(Ordering::Relaxed),
                c.dropped.load(Ordering::Relaxed),
            );
            let decoded = d.saturating_sub(r.seen_decoded);
            let dropped = x.saturating_sub(r.seen_dropped);
            (r.seen_decoded, r.seen_dropped) = (d, x);
            let mut f = figures.get(id).cloned().unwrap_or_default();
            let (p50, p95) = percentiles(&mut f.ages_ms);
            tracing::info!(
                camera = %id,
                decoded_fps = format!("{:.1}", decoded as f64 / secs),
                analysed_fps = format!("{:.1}", f.analysed as f64 / secs),
                inferred_fps = format!("{:.1}", f.inferred as f64 / secs),
                dropped,
                age_p50_ms = format!("{p50:.0}"),
                age_p95_ms = format!("{p95:.0}"),
                "camera stats"
            );
        }
    }
}

/// The long-running appliance. Returns after SIGINT/SIGTERM, once every open incident
/// ended with `shutdown` and the outbox had 5 s to drain.
pub fn run(config: &Path, clock: Arc<dyn Clock>, json: bool) -> Result<(), RunError> {
    let cfg = Config::load(config)?;
    let detector = Detector::load(cfg.detector.clone())?;
    let evidence = EvidenceStore::open(cfg.evidence.clone())?;
    let delivery = Delivery::start(cfg.delivery(Role::Appliance))?;
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        delivery.rt.spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            stop.store(true, Ordering::SeqCst);
        });
    }
    #[cfg(unix)]
    {
        let reload = reload.clone();
        delivery.rt.spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut hup) = signal(SignalKind::hangup()) {
                while hup.recv().await.is_some() {
                    reload.store(true, Ordering::SeqCst);
                }
            }
        });
    }
    let metrics = Metrics::new();
    metrics.set_outbox(delivery.publisher.outbox().clone());
    let hub = if cfg.console.enabled {
        let hub = Hub::new(&cfg.site.id, &cfg.site.name, cfg.site.language.as_str());
        let path = config.to_path_buf();
        let save: crate::web::SaveZones = Arc::new(move |camera, body| {
            use crate::config::edit::{NewZone, ZoneChanges};
            let changes = ZoneChanges {
                polygons: body
                    .zones
                    .iter()
                    .map(|z| (z.id.clone(), z.points.clone()))
                    .collect(),
                add: body
                    .add
                    .iter()
                    .map(|z| NewZone {
                        id: z.id.clone(),
                        name: z.name.clone(),
                        rules: z.rules.clone(),
                        schedule: z.schedule.clone(),
                        points: z.points.clone(),
                    })
                    .collect(),
                remove: body.remove.clone(),
            };
            let res = crate::config::edit::save_zones(&path, camera, &changes);
            match &res {
                Ok(m) => tracing::info!(camera, "zone editor: {m}"),
                Err(e) => tracing::warn!(camera, "zone editor: {e}"),
            }
            res
        });
        let addr = crate::web::start(
            &delivery.rt,
            crate::web::WebSettings {
                bind: cfg.console.bind,
                token: cfg.console.token.clone(),
                evidence_dir: cfg.evidence.dir.clone(),
            },
            hub.clone(),
            metrics.clone(),
            save,
        )?;
        tracing::info!(%addr, "web console listening");
        crate::runtime::plain(&format!(
            "web console: http://{addr}/?token=<[console] token>"
        ));
        Some(hub)
    } else {
        None
    };
    let publish = PublishWorker {
        site: cfg.site.id.clone(),
        tz: cfg.site.timezone.clone(),
        language: cfg.site.language,
        evidence: Some(evidence),
        publisher: Some(delivery.publisher.clone()),
        console: Box::new(Stdout { json }),
        clock: clock.clone(),
        metrics: Some(metrics.clone()),
        hub: hub.clone(),
    };
    let mut chain = Chain::start(
        detector,
        publish,
        None,
        clock.clone(),
        WorkerOptions {
            exit_when_idle: false,
            max_frames: None,
            batch: cfg.detector.batch,
            metrics: Some(metrics.clone()),
            preview_every: hub
                .is_some()
                .then(|| Duration::from_secs_f64(cfg.console.preview_every_s)),
            state_every: Some(Duration::from_secs(1)),
        },
        false,
    )?;
    let mut app = App {
        cfg: cfg.clone(),
        chain: &chain,
        clock: clock.clone(),
        publisher: delivery.publisher.clone(),
        cams: BTreeMap::new(),
        metrics: metrics.clone(),
        hub: hub.clone(),
        fps_seen: (Instant::now(), BTreeMap::new()),
        announcer: Announcer::new(
            delivery.publisher.clone(),
            cfg.mqtt.outbox_dir.clone(),
            cfg.discovery().as_ref(),
        ),
    };
    for cam in cfg.cameras.iter().filter(|c| c.enabled) {
        app.start_camera(cam, None)?;
    }
    tracing::info!(cameras = app.cams.len(), broker = %cfg.mqtt.url, config = %config.display(), "running");
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen_mtime = mtime(config);
    let mut stats_since = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        app.watchdog();
        app.update_fps();
        app.announcer.tick(delivery.connected());
        let every = app.cfg.runtime.stats_every_s;
        if every > 0.0 && stats_since.elapsed().as_secs_f64() >= every {
            app.stats_line(stats_since);
            stats_since = Instant::now();
        }
        let m = mtime(config);
        let changed = m.is_some() && m != seen_mtime;
        if !(reload.swap(false, Ordering::SeqCst) || changed) {
            continue;
        }
        seen_mtime = m;
        match Config::load(config) {
            Ok(c) => app.reload(c)?,
            Err(e) => {
                tracing::error!("config reload refused, the running config stays:\n{e}");
                crate::runtime::plain(&format!(
                    "config reload refused, the running config stays:\n{e}"
                ));
            }
        }
    }
    for r in app.cams.values_mut() {
        r.stop();
    }
    for r in app.cams.values_mut() {
        r.join();
    }
    drop(app);
    let _ = chain.worker_tx.send(WorkerCmd::Stop {
        reason: END_SHUTDOWN.into(),
    });
    let _ = chain.join_worker();
    chain.finish();
    // Give the broker a moment for what is queued, but only when it is there: SIGTERM must
    // end the appliance within 5 s, and the outbox keeps the rest for the next start.
    let flush = if delivery.connected() {
        Duration::from_millis(1500)
    } else {
        Duration::ZERO
    };
    delivery.finish(flush);
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
