//! The web console and `/metrics`, served by `wardwatch run` when `[console]` is
//! enabled (see docs/console.md).
//!
//! Every route but the page itself needs the console token, as `Authorization: Bearer
//! <token>` or `?token=<token>` (for `<img>` and `EventSource`, which cannot send
//! headers). The page keeps the token it was opened with in the browser's session
//! storage. Routes:
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the console page (no data in it) |
//! | `GET /api/state` | cameras, zones, health, latest tracks, active alerts, recent events |
//! | `GET /api/events` | the same changes as they happen (server-sent events) |
//! | `GET /api/frame/<camera>` | the camera's latest analysed frame, JPEG |
//! | `GET /evidence/<camera>/<file>.jpg` | an incident snapshot (the `snapshot.url` of events) |
//! | `POST /api/ack` | `{"id": "<incident>"}`: the desk acknowledged the alert |
//! | `PUT /api/zones/<camera>` | `{"zones": [{"id", "points"}], "add": [{"id", "name", "rules", "schedule", "points"}], "remove": ["id"]}` (each list optional): new polygons, new zones, removed zones, validated, saved to the config file, reloaded for that camera |
//! | `GET /metrics` | Prometheus text format |

pub mod hub;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::runtime::metrics::Metrics;
pub use hub::{CameraView, Hub, ZoneView};

const PAGE: &str = include_str!("page.html");

/// A new polygon for one zone, from the zone editor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneEdit {
    pub id: String,
    /// Normalised to the frame, [0, 1].
    pub points: Vec<[f64; 2]>,
}

/// A zone drawn in the editor, to be added to the camera.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewZone {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub rules: Vec<String>,
    pub schedule: String,
    pub points: Vec<[f64; 2]>,
}

/// One save of the zone editor: new polygons of existing zones, zones to add, ids of
/// zones to remove.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneChanges {
    #[serde(default)]
    pub zones: Vec<ZoneEdit>,
    #[serde(default)]
    pub add: Vec<NewZone>,
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    id: String,
}

/// Saves a camera's new zone polygons (validated) to the config: `Ok(what was done)` or
/// `Err(why not, naming the field)`. Built by the runtime, which knows the config file.
pub type SaveZones = Arc<dyn Fn(&str, &ZoneChanges) -> Result<String, String> + Send + Sync>;

pub struct WebSettings {
    pub bind: SocketAddr,
    pub token: String,
    pub evidence_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "console.bind: cannot listen on {bind} ({source}); pick a free port in [console] bind, or stop the program using it"
)]
pub struct WebError {
    bind: SocketAddr,
    source: std::io::Error,
}

struct App {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    token: String,
    evidence_dir: PathBuf,
    save: SaveZones,
}

/// Bind the console's address now (so a busy port fails the start with a clear error),
/// and serve on `rt` until it shuts down.
pub fn start(
    rt: &tokio::runtime::Runtime,
    s: WebSettings,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    save: SaveZones,
) -> Result<SocketAddr, WebError> {
    let err = |source| WebError {
        bind: s.bind,
        source,
    };
    let std_listener = std::net::TcpListener::bind(s.bind).map_err(err)?;
    std_listener.set_nonblocking(true).map_err(err)?;
    let addr = std_listener.local_addr().map_err(err)?;
    let listener = {
        let _g = rt.enter();
        tokio::net::TcpListener::from_std(std_listener).map_err(err)?
    };
    let app = Arc::new(App {
        hub,
        metrics,
        token: s.token,
        evidence_dir: s.evidence_dir,
        save,
    });
    let api = Router::new()
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/frame/{camera}", get(frame))
        .route("/api/ack", post(ack))
        .route("/api/zones/{camera}", put(zones))
        .route("/evidence/{camera}/{file}", get(evidence))
        .route("/metrics", get(metrics_text))
        .route_layer(middleware::from_fn_with_state(app.clone(), auth));
    let router = Router::new()
        .route("/", get(page))
        .merge(api)
        .with_state(app);
    rt.spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "web console stopped");
        }
    });
    Ok(addr)
}

/// Equal in time whatever the first differing byte (the token is a password).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn token_of(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_string());
    }
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

async fn auth(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let ok = token_of(req.headers(), req.uri().query())
        .is_some_and(|t| same(t.as_bytes(), app.token.as_bytes()));
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"error": "missing or wrong console token: send Authorization: Bearer <token> or ?token=<token> ([console] token in the config)"})),
        )
            .into_response();
    }
    next.run(req).await
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
        .into_response()
}

async fn state(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(app.hub.snapshot())
}

async fn events(
    State(app): State<Arc<App>>,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    use tokio::sync::broadcast::error::RecvError;
    let rx = app.hub.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(p) => Some((Ok(SseEvent::default().event(p.kind).data(p.data)), rx)),
            // The page fell behind: it fetches the whole state again.
            Err(RecvError::Lagged(_)) => {
                Some((Ok(SseEvent::default().event("resync").data("{}")), rx))
            }
            Err(RecvError::Closed) => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn jpeg(bytes: impl Into<Bytes>) -> Response {
    let mut r = Response::new(Body::from(bytes.into()));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": what }))).into_response()
}

async fn frame(State(app): State<Arc<App>>, UrlPath(camera): UrlPath<String>) -> Response {
    match app.hub.frame_jpeg(&camera) {
        Some(j) => jpeg(j),
        None if app.hub.has_camera(&camera) => not_found(format!(
            "camera {camera:?} has no analysed frame yet (is it online?)"
        )),
        None => not_found(format!("no camera {camera:?}")),
    }
}

/// One path segment the evidence store writes (`[A-Za-z0-9._-]`, no `..`).
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

async fn evidence(
    State(app): State<Arc<App>>,
    UrlPath((camera, file)): UrlPath<(String, String)>,
) -> Response {
    if !(safe_segment(&camera) && safe_segment(&file) && file.ends_with(".jpg")) {
        return not_found(format!("no snapshot {camera}/{file}"));
    }
    match tokio::fs::read(app.evidence_dir.join(&camera).join(&file)).await {
        Ok(b) => jpeg(b),
        Err(_) => not_found(format!(
            "no snapshot {camera}/{file}: it was never saved or the evidence store pruned it ([evidence] max_files, max_bytes, max_age)"
        )),
    }
}

async fn ack(State(app): State<Arc<App>>, Json(body): Json<AckBody>) -> Response {
    if app.hub.ack(&body.id) {
        Json(json!({"ok": true})).into_response()
    } else {
        not_found(format!("no incident {:?}", body.id))
    }
}

async fn zones(
    State(app): State<Arc<App>>,
    UrlPath(camera): UrlPath<String>,
    Json(body): Json<ZoneChanges>,
) -> Response {
    let save = app.save.clone();
    let res = tokio::task::spawn_blocking(move || save(&camera, &body)).await;
    match res {
        Ok(Ok(msg)) => Json(json!({"ok": true, "message": msg})).into_response(),
        Ok(Err(msg)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"ok": false, "error": msg})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"ok": false, "error": format!("saving failed: {e}")})),
        )
            .into_response(),
    }
}

async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
