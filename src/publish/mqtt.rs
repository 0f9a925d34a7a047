//! MQTT sink: delivers the on-disk [`Outbox`] to the broker, in order, with
//! stop-and-wait QoS 1 publishing.
//!
//! Design:
//!
//! * A *poller* task owns the rumqttc `EventLoop` and does nothing but poll it
//!   (so its futures are never cancelled mid-write), forwarding every event to
//!   the controller. It creates a **fresh client + event loop for every
//!   connection attempt**, so requests queued on a dead connection can never
//!   leak into the next one, and it backs off 1 s, 2 s, … 30 s between failed
//!   attempts (reset after each successful CONNACK).
//! * A *controller* task publishes the oldest outbox entry (QoS 1), waits for
//!   the matching PUBACK (matched by packet id, recorded from
//!   `Outgoing::Publish`), deletes the entry and moves on. On disconnect the
//!   unacknowledged head entry stays in the outbox and is re-sent after the
//!   reconnect (consumers de-duplicate), so nothing is lost and order is kept.
//! * On every connect a retained `online` is published to the status topic; the
//!   last will is a retained `offline`; [`MqttSink::shutdown`] publishes a
//!   retained `offline` and disconnects cleanly.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, LastWill, MqttOptions, Outgoing,
    Packet, QoS, Transport,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::outbox::{Entry, MAX_PAYLOAD_BYTES, Outbox, OutboxError};

/// First reconnect delay; doubles on every failed attempt.
const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Upper bound for the reconnect delay while nothing waits in the outbox, or while the
/// broker refuses us (login, TLS): a mistake to fix, not worth hammering the broker.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Upper bound while messages wait and the broker is merely unreachable: a broker that
/// comes back gets its queue within a couple of seconds, not after a 30 s sleep.
const BACKOFF_MAX_PENDING: Duration = Duration::from_secs(2);
/// Packet size limit configured on the client (payload limit + topic/header).
const MAX_PACKET_BYTES: usize = MAX_PAYLOAD_BYTES + 128 * 1024;
/// How often in a row the broker may drop the connection while one entry is
/// in flight (on an otherwise working link) before that entry is moved to
/// `bad/` so it cannot block the queue forever (e.g. broker size limit).
const POISON_STRIKES: u32 = 5;
/// How long `shutdown` waits for the broker to acknowledge "offline".
const SHUTDOWN_ACK_WAIT: Duration = Duration::from_secs(2);
/// Hard limit for the whole shutdown.
const SHUTDOWN_TOTAL: Duration = Duration::from_secs(10);
/// Delay before retrying after a local (disk) error.
const LOCAL_RETRY: Duration = Duration::from_secs(1);

pub const STATUS_ONLINE: &str = "online";
pub const STATUS_OFFLINE: &str = "offline";

/// Connection settings for the MQTT sink.
#[derive(Clone)]
pub struct MqttSettings {
    /// `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (8883).
    pub url: String,
    /// MQTT client id (empty: the broker assigns one).
    pub client_id: String,
    pub username: Option<String>,
    /// Never logged (`Debug` redacts it).
    pub password: Option<String>,
    /// Keep-alive interval in seconds; `0` means the default of 30 s.
    pub keep_alive_s: u64,
    /// For `mqtts://`: PEM file with the CA certificate(s) to trust for the
    /// broker. When set, these CAs are trusted *instead of* the system roots
    /// (typical for a private broker CA). When unset, the system roots are used.
    pub ca_file: Option<PathBuf>,
    /// Retained status topic: last will "offline", "online" on every connect,
    /// "offline" on clean shutdown. Empty string disables status messages.
    pub status_topic: String,
}

impl fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSettings")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("keep_alive_s", &self.keep_alive_s)
            .field("ca_file", &self.ca_file)
            .field("status_topic", &self.status_topic)
            .finish()
    }
}

impl MqttSettings {
    /// Parses `mqtt://host[:port]` / `mqtts://host[:port]` into
    /// `(host, port, tls)`. IPv6 literals are written `[::1]:1883`.
    pub fn parse_url(url: &str) -> Result<(String, u16, bool), String> {
        let err = |what: &str| format!("mqtt.url {url:?}: {what}");
        let (rest, tls, default_port) = if let Some(r) = url.strip_prefix("mqtt://") {
            (r, false, 1883)
        } else if let Some(r) = url.strip_prefix("mqtts://") {
            (r, true, 8883)
        } else {
            return Err(err("scheme must be mqtt:// or mqtts://"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(err(
                "must be just scheme://host[:port], without a path or query",
            ));
        }
        if authority.contains('@') {
            return Err(err(
                "credentials must not be embedded in the URL; use the mqtt username/password settings",
            ));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| err("unterminated IPv6 address (missing ']')"))?;
            if addr.is_empty() {
                return Err(err("missing host"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| err("unexpected text after IPv6 address"))?,
                ),
            };
            (format!("[{addr}]"), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(err("missing host"));
        }
        if host.contains(char::is_whitespace) {
            return Err(err("host must not contain whitespace"));
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(err(&format!("invalid port {p:?} (expected 1-65535)"))),
            },
        };
        Ok((host, port, tls))
    }

    /// Checks everything that can be checked without a broker: URL syntax,
    /// credentials combination, status topic, CA file readable, TLS support.
    /// Call at config-load time to fail fast; `MqttSink::spawn` itself never
    /// fails (it logs the problem and keeps retrying, keeping messages queued).
    pub fn validate(&self) -> Result<(), String> {
        let (_, _, tls) = Self::parse_url(&self.url)?;
        if self.password.is_some() && self.username.is_none() {
            return Err("mqtt.password is set but mqtt.username is not (MQTT 3.1.1 needs a username to send a password)".into());
        }
        if !self.status_topic.is_empty() && !rumqttc::valid_topic(&self.status_topic) {
            return Err(format!(
                "mqtt.status_topic {:?}: not a valid topic (no '+' or '#')",
                self.status_topic
            ));
        }
        if tls {
            if !tls_available() {
                return Err(format!(
                    "mqtt.url {:?}: this build has no TLS support (rumqttc feature \"use-rustls\")",
                    self.url
                ));
            }
            if let Some(ca) = &self.ca_file {
                read_ca_file(ca)?;
            }
        } else if self.ca_file.is_some() {
            tracing::warn!(url = %self.url, "mqtt.ca_file is ignored for a plain mqtt:// URL");
        }
        Ok(())
    }

    fn broker_label(&self) -> String {
        // The URL never contains credentials (rejected by parse_url).
        self.url.clone()
    }

    fn mqtt_options(&self) -> Result<MqttOptions, String> {
        let (host, port, tls) = Self::parse_url(&self.url)?;
        let mut opts = MqttOptions::new(self.client_id.clone(), host, port);
        let keep_alive = if self.keep_alive_s == 0 {
            30
        } else {
            self.keep_alive_s
        };
        opts.set_keep_alive(Duration::from_secs(keep_alive));
        opts.set_clean_session(true);
        opts.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
        if !self.status_topic.is_empty() {
            opts.set_last_will(LastWill::new(
                self.status_topic.clone(),
                STATUS_OFFLINE,
                QoS::AtLeastOnce,
                true,
            ));
        }
        match (&self.username, &self.password) {
            (Some(u), p) => {
                opts.set_credentials(u.clone(), p.clone().unwrap_or_default());
            }
            (None, Some(_)) => {
                return Err("mqtt.password is set but mqtt.username is not".into());
            }
            (None, None) => {}
        }
        if tls {
            opts.set_transport(tls_transport(self.ca_file.as_deref())?);
        }
        Ok(opts)
    }
}

/// Fallbacks for a rumqttc built without TLS. When rumqttc has TLS (the
/// default `use-rustls` feature), its inherent `Transport::tls*` functions
/// take precedence over these trait functions, so this file compiles either
/// way; a fallback result of `Transport::Tcp` means "no TLS in this build".
#[allow(dead_code)]
trait NoTlsFallback {
    fn tls_with_default_config() -> Transport {
        Transport::Tcp
    }
    fn tls(
        _ca: Vec<u8>,
        _client_auth: Option<(Vec<u8>, Vec<u8>)>,
        _alpn: Option<Vec<Vec<u8>>>,
    ) -> Transport {
        Transport::Tcp
    }
}
impl NoTlsFallback for Transport {}

/// Whether this build can connect to `mqtts://` brokers.
pub fn tls_available() -> bool {
    !matches!(Transport::tls(Vec::new(), None, None), Transport::Tcp)
}

fn read_ca_file(path: &Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("mqtt.ca_file {}: cannot read: {e}", path.display()))?;
    check_pem_certificates(&pem).map_err(|e| format!("mqtt.ca_file {}: {e}", path.display()))?;
    Ok(pem)
}

/// Check that `pem` holds at least one certificate and that every `CERTIFICATE` block
/// decodes (base64) to a DER SEQUENCE of the length it declares. Returns how many.
pub fn check_pem_certificates(pem: &[u8]) -> Result<usize, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = std::str::from_utf8(pem).map_err(|_| "not a PEM text file".to_string())?;
    let mut n = 0;
    let mut rest = text;
    while let Some(i) = rest.find(BEGIN) {
        let body = &rest[i + BEGIN.len()..];
        let j = body
            .find(END)
            .ok_or_else(|| format!("certificate {} has no {END} line", n + 1))?;
        let der = base64_decode(&body[..j])
            .ok_or_else(|| format!("certificate {} is not valid base64", n + 1))?;
        if !der_sequence_fits(&der) {
            return Err(format!(
                "certificate {} is not a DER certificate (corrupt or truncated)",
                n + 1
            ));
        }
        n += 1;
        rest = &body[j + END.len()..];
    }
    if n == 0 {
        return Err(format!(
            "no PEM certificate found (expected {BEGIN}); give the CA certificate that signed the broker's"
        ));
    }
    Ok(n)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => continue,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A DER SEQUENCE (tag 0x30) whose declared length is exactly the rest of the bytes.
fn der_sequence_fits(der: &[u8]) -> bool {
    if der.len() < 2 || der[0] != 0x30 {
        return false;
    }
    let (len, head) = match der[1] {
        l if l < 0x80 => (l as usize, 2),
        l => {
            let k = (l & 0x7f) as usize;
            if k == 0 || k > 4 || der.len() < 2 + k {
                return false;
            }
            let len = der[2..2 + k]
                .iter()
                .fold(0usize, |a, b| (a << 8) | *b as usize);
            (len, 2 + k)
        }
    };
    head + len == der.len()
}

fn tls_transport(ca_file: Option<&Path>) -> Result<Transport, String> {
    let transport = match ca_file {
        Some(path) => Transport::tls(read_ca_file(path)?, None, None),
        // rumqttc panics if the platform certificates cannot be loaded.
        None => std::panic::catch_unwind(Transport::tls_with_default_config).map_err(|_| {
            "cannot load the system CA certificates; set mqtt.ca_file to the broker's CA"
                .to_string()
        })?,
    };
    if matches!(transport, Transport::Tcp) {
        return Err(
            "mqtts:// requested but this build has no TLS support (rumqttc feature \"use-rustls\")"
                .into(),
        );
    }
    Ok(transport)
}

/// Why a connection failed, as far as the reconnect policy and the log care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The broker answered and said no (login, client id): a mistake to fix.
    Refused,
    /// TLS verification failed (wrong CA, wrong host): a mistake to fix.
    Tls,
    /// Anything else: down, unreachable, connection lost, or our own settings.
    Other,
}

impl Failure {
    fn of(e: &ConnectionError) -> Failure {
        if matches!(e, ConnectionError::ConnectionRefused(_)) {
            return Failure::Refused;
        }
        let m = e.to_string().to_lowercase();
        if m.contains("certificate") || m.contains("tls") || m.contains("handshake") {
            Failure::Tls
        } else {
            Failure::Other
        }
    }

    /// Refusals are retried slowly whether or not messages wait.
    fn is_mistake(self) -> bool {
        self != Failure::Other
    }
}

/// The error with what to fix, and its kind.
fn describe_error(e: &ConnectionError) -> (String, Failure) {
    let kind = Failure::of(e);
    let text = match e {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => format!("{e} (check mqtt username/password and the broker ACL)"),
        ConnectionError::ConnectionRefused(ConnectReturnCode::BadClientId) => {
            format!("{e} (check mqtt client_id)")
        }
        _ if kind == Failure::Tls => format!(
            "{e} (check mqtt.ca_file: it must hold the CA that signed the broker's certificate, and the host in mqtt.url must be named in that certificate)"
        ),
        _ => e.to_string(),
    };
    (text, kind)
}

/// Messages from the poller to the controller.
enum PollerMsg {
    /// CONNACK received on a fresh connection; requests go through `client`.
    Up {
        epoch: u64,
        client: AsyncClient,
    },
    Event {
        epoch: u64,
        event: Event,
    },
    /// Connection attempt failed or an established connection broke.
    Down {
        error: String,
        kind: Failure,
    },
}

/// Owns the event loop; never cancelled mid-poll except by `abort`.
async fn run_poller(
    settings: MqttSettings,
    tx: mpsc::UnboundedSender<PollerMsg>,
    pending: tokio::sync::watch::Receiver<usize>,
) {
    let mut backoff = BACKOFF_INITIAL;
    let mut epoch = 0u64;
    let mut refused = false;
    let mut jitter = (std::process::id() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    // The next delay: doubled, capped (low while messages wait, unless we are refused),
    // with ±20 % jitter so that many appliances do not reconnect in step.
    let mut next_delay = |backoff: &mut Duration, refused: bool| {
        let cap = if *pending.borrow() > 0 && !refused {
            BACKOFF_MAX_PENDING
        } else {
            BACKOFF_MAX
        };
        let d = (*backoff).min(cap);
        *backoff = (*backoff * 2).min(BACKOFF_MAX);
        jitter ^= jitter << 13;
        jitter ^= jitter >> 7;
        jitter ^= jitter << 17;
        let f = 0.8 + 0.4 * ((jitter >> 11) as f64 / (1u64 << 53) as f64);
        d.mul_f64(f)
    };
    loop {
        epoch += 1;
        let opts = match settings.mqtt_options() {
            Ok(o) => o,
            Err(error) => {
                let kind = Failure::Other;
                if tx.send(PollerMsg::Down { error, kind }).is_err() {
                    return;
                }
                tokio::time::sleep(next_delay(&mut backoff, true)).await;
                continue;
            }
        };
        let (client, mut eventloop) = AsyncClient::new(opts, 16);
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = BACKOFF_INITIAL;
                refused = false;
                if tx.send(PollerMsg::Up { epoch, client }).is_err() {
                    return;
                }
                loop {
                    match eventloop.poll().await {
                        Ok(event) => {
                            if tx.send(PollerMsg::Event { epoch, event }).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let (error, kind) = describe_error(&e);
                            if tx.send(PollerMsg::Down { error, kind }).is_err() {
                                return;
                            }
                            break;
                        }
                    }
                }
            }
            Ok(other) => {
                let error = format!("unexpected first event {other:?}");
                let kind = Failure::Other;
                if tx.send(PollerMsg::Down { error, kind }).is_err() {
                    return;
                }
            }
            Err(e) => {
                let (error, kind) = describe_error(&e);
                refused = kind.is_mistake();
                if tx.send(PollerMsg::Down { error, kind }).is_err() {
                    return;
                }
            }
        }
        drop(eventloop);
        tokio::time::sleep(next_delay(&mut backoff, refused)).await;
    }
}

/// What an outgoing QoS 1 publish was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Online,
    Offline,
    Entry(u64),
}

struct AbortOnDrop(JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Outage {
    since: Instant,
    last_error: String,
}

struct Controller {
    settings: MqttSettings,
    outbox: Outbox,
    connected: Arc<AtomicBool>,
    rx: mpsc::UnboundedReceiver<PollerMsg>,
    poller: AbortOnDrop,

    /// Client and epoch of the current connection (None while down).
    client: Option<(u64, AsyncClient)>,
    /// Publishes handed to the client, not yet seen as `Outgoing::Publish`.
    /// Exact FIFO because each connection has its own fresh client.
    unsent: VecDeque<Tag>,
    /// Packet id -> what it was for, awaiting PUBACK.
    awaiting_ack: HashMap<u16, Tag>,
    /// Outbox entry currently in flight (stop-and-wait).
    head: Option<u64>,
    /// Set once the head entry was actually written to the socket.
    head_written: bool,
    /// Some ack/pong arrived on this connection (the link works).
    link_proven: bool,
    offline_acked: bool,
    strikes: Option<(u64, u32)>,
    outage: Option<Outage>,
    retry_at: Option<tokio::time::Instant>,
    stopping: bool,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OutboxError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("outbox task failed: {e}")),
    }
}

impl Controller {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        loop {
            let ready = self.ready_to_send();
            let retry_at = self.retry_at;
            tokio::select! {
                biased;
                r = &mut stop => {
                    if r.is_ok() {
                        self.shutdown().await;
                    }
                    // Err: the MqttSink was dropped without shutdown; just stop.
                    break;
                }
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.on_msg(msg).await,
                    None => {
                        tracing::error!("MQTT sink: connection task ended unexpectedly; delivery stopped");
                        break;
                    }
                },
                _ = self.outbox.notified(), if ready => self.send_head().await,
                _ = tokio::time::sleep_until(retry_at.unwrap_or_else(tokio::time::Instant::now)),
                    if retry_at.is_some() => {
                    self.retry_at = None;
                    self.send_head().await;
                }
            }
        }
        self.connected.store(false, Ordering::SeqCst);
    }

    fn ready_to_send(&self) -> bool {
        self.client.is_some() && self.head.is_none() && !self.stopping
    }

    async fn on_msg(&mut self, msg: PollerMsg) {
        match msg {
            PollerMsg::Up { epoch, client } => {
                self.reset_connection_state();
                self.client = Some((epoch, client));
                self.connected.store(true, Ordering::SeqCst);
                let queued = self.outbox.len();
                match self.outage.take() {
                    Some(o) => tracing::info!(
                        broker = %self.settings.broker_label(),
                        outage_s = o.since.elapsed().as_secs(),
                        queued,
                        "MQTT reconnected; sending queued messages"
                    ),
                    None => {
                        tracing::info!(broker = %self.settings.broker_label(), queued, "MQTT connected")
                    }
                }
                if !self.settings.status_topic.is_empty() {
                    self.publish(
                        Tag::Online,
                        self.settings.status_topic.clone(),
                        true,
                        STATUS_ONLINE.into(),
                    )
                    .await;
                }
                self.send_head().await;
            }
            PollerMsg::Event { epoch, event } => {
                if self.client.as_ref().map(|(e, _)| *e) != Some(epoch) {
                    return; // stale event from an older connection
                }
                self.on_event(event).await;
            }
            PollerMsg::Down { error, kind } => self.on_down(error, kind),
        }
    }

    fn reset_connection_state(&mut self) {
        self.client = None;
        self.unsent.clear();
        self.awaiting_ack.clear();
        self.head = None;
        self.head_written = false;
        self.link_proven = false;
    }

    fn on_down(&mut self, error: String, kind: Failure) {
        let was_connected = self.client.is_some();
        // Poison detection: the broker keeps dropping us right after it got
        // this entry, although the link itself works.
        if let (Some(seq), true, true) = (self.head, self.head_written, self.link_proven) {
            let count = match self.strikes {
                Some((s, n)) if s == seq => n + 1,
                _ => 1,
            };
            self.strikes = Some((seq, count));
            if count >= POISON_STRIKES {
                tracing::error!(
                    seq,
                    strikes = count,
                    "MQTT broker dropped the connection every time this outbox entry was sent (too large for the broker, or rejected); moving it to bad/"
                );
                self.outbox
                    .quarantine(seq, "broker repeatedly disconnected while delivering it");
                self.strikes = None;
            }
        }
        self.reset_connection_state();
        self.connected.store(false, Ordering::SeqCst);
        let queued = self.outbox.len();
        match &mut self.outage {
            None => {
                tracing::warn!(
                    broker = %self.settings.broker_label(),
                    error = %error,
                    queued,
                    "{}; messages are kept in the outbox and retried with backoff (at most 2 s apart while messages wait, 30 s when refused or idle)",
                    match kind {
                        Failure::Refused => "MQTT broker refused the connection",
                        Failure::Tls => "MQTT TLS verification failed",
                        Failure::Other if was_connected => "MQTT connection lost",
                        Failure::Other => "MQTT broker unreachable",
                    },
                );
                self.outage = Some(Outage {
                    since: Instant::now(),
                    last_error: error,
                });
            }
            Some(o) if o.last_error != error => {
                tracing::warn!(broker = %self.settings.broker_label(), error = %error, queued, "MQTT still unavailable (error changed)");
                o.last_error = error;
            }
            Some(_) => {
                tracing::debug!(broker = %self.settings.broker_label(), error = %error, "MQTT reconnect attempt failed");
            }
        }
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) => match self.unsent.pop_front() {
                Some(tag) => {
                    if Some(tag) == self.head.map(Tag::Entry) {
                        self.head_written = true;
                    }
                    self.awaiting_ack.insert(pkid, tag);
                }
                None => tracing::warn!(pkid, "MQTT: unexpected outgoing publish"),
            },
            Event::Incoming(Packet::PubAck(ack)) => {
                self.link_proven = true;
                match self.awaiting_ack.remove(&ack.pkid) {
                    Some(Tag::Entry(seq)) => {
                        let outbox = self.outbox.clone();
                        if let Err(e) = blocking(move || outbox.remove(seq)).await {
                            // Delivered but not deleted: it will be sent again
                            // (a duplicate, which consumers tolerate).
                            tracing::error!(seq, error = %e, "MQTT outbox: cannot delete delivered entry");
                        }
                        if self.strikes.is_some_and(|(s, _)| s == seq) {
                            self.strikes = None;
                        }
                        self.head = None;
                        self.head_written = false;
                        self.send_head().await;
                    }
                    Some(Tag::Online) => tracing::debug!("MQTT status online acknowledged"),
                    Some(Tag::Offline) => self.offline_acked = true,
                    None => tracing::debug!(pkid = ack.pkid, "MQTT: PUBACK for unknown packet id"),
                }
            }
            Event::Incoming(Packet::PingResp) => self.link_proven = true,
            _ => {}
        }
    }

    /// Publishes the oldest outbox entry if connected and nothing is in flight.
    async fn send_head(&mut self) {
        while self.ready_to_send() {
            let outbox = self.outbox.clone();
            let entry: Entry = match blocking(move || outbox.peek_oldest()).await {
                Ok(Some(e)) => e,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "MQTT outbox: cannot read oldest entry; retrying in 1 s");
                    self.retry_at = Some(tokio::time::Instant::now() + LOCAL_RETRY);
                    return;
                }
            };
            if entry.payload.len() + entry.topic.len() + 16 > MAX_PACKET_BYTES {
                self.outbox
                    .quarantine(entry.seq, "payload larger than the MQTT packet size limit");
                continue;
            }
            if !rumqttc::valid_topic(&entry.topic) {
                self.outbox.quarantine(entry.seq, "invalid MQTT topic");
                continue;
            }
            self.head = Some(entry.seq);
            self.head_written = false;
            self.publish(
                Tag::Entry(entry.seq),
                entry.topic,
                entry.retain,
                entry.payload,
            )
            .await;
            return;
        }
    }

    async fn publish(&mut self, tag: Tag, topic: String, retain: bool, payload: Vec<u8>) {
        let Some((_, client)) = &self.client else {
            return;
        };
        match client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
        {
            Ok(()) => self.unsent.push_back(tag),
            Err(e) => {
                // The event loop of this connection is gone; a Down message
                // follows and the entry is re-sent after reconnecting.
                tracing::debug!(error = %e, ?tag, "MQTT publish request not accepted");
                if let Tag::Entry(_) = tag {
                    self.head = None;
                }
            }
        }
    }

    async fn shutdown(&mut self) {
        self.stopping = true;
        let deadline = tokio::time::Instant::now() + SHUTDOWN_ACK_WAIT;
        if self.client.is_some() && !self.settings.status_topic.is_empty() {
            self.offline_acked = false;
            self.publish(
                Tag::Offline,
                self.settings.status_topic.clone(),
                true,
                STATUS_OFFLINE.into(),
            )
            .await;
            while !self.offline_acked && self.client.is_some() {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(msg)) => self.on_msg(msg).await,
                    Ok(None) | Err(_) => break,
                }
            }
            if !self.offline_acked {
                tracing::warn!(
                    "MQTT: broker did not acknowledge the offline status before shutdown"
                );
            }
        }
        if let Some((_, client)) = &self.client
            && client.disconnect().await.is_ok()
        {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
                match msg {
                    PollerMsg::Event {
                        event: Event::Outgoing(Outgoing::Disconnect),
                        ..
                    }
                    | PollerMsg::Down { .. } => break,
                    other => self.on_msg(other).await,
                }
            }
        }
        self.poller.0.abort();
        self.reset_connection_state();
        let left = self.outbox.len();
        tracing::info!(undelivered = left, "MQTT sink stopped");
    }
}

/// Handle to the delivery task. Dropping it without [`MqttSink::shutdown`]
/// aborts the task (the broker then publishes the last will "offline").
pub struct MqttSink {
    outbox: Outbox,
    connected: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MqttSink {
    /// Spawn the delivery task on the current tokio runtime (panics if called
    /// outside one; from sync code use `runtime.handle().enter()` or
    /// `handle.block_on(async { MqttSink::spawn(..) })`). Never fails: config
    /// problems are logged and retried; use [`MqttSettings::validate`] first.
    pub fn spawn(settings: MqttSettings, outbox: Outbox) -> MqttSink {
        let (tx, rx) = mpsc::unbounded_channel();
        let poller = AbortOnDrop(tokio::spawn(run_poller(
            settings.clone(),
            tx,
            outbox.watch_len(),
        )));
        let connected = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = oneshot::channel();
        let controller = Controller {
            settings,
            outbox: outbox.clone(),
            connected: connected.clone(),
            rx,
            poller,
            client: None,
            unsent: VecDeque::new(),
            awaiting_ack: HashMap::new(),
            head: None,
            head_written: false,
            link_proven: false,
            offline_acked: false,
            strikes: None,
            outage: None,
            retry_at: None,
            stopping: false,
        };
        let task = tokio::spawn(controller.run(stop_rx));
        MqttSink {
            outbox,
            connected,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    /// Wait until the outbox is empty or `timeout` passes; returns number left undelivered.
    pub async fn flush(&self, timeout: Duration) -> usize {
        let mut len = self.outbox.watch_len();
        let _ = tokio::time::timeout(timeout, len.wait_for(|n| *n == 0)).await;
        self.outbox.len()
    }

    /// Publish retained "offline" to the status topic, disconnect cleanly, stop the task.
    /// Undelivered messages stay in the outbox for the next run.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_TOTAL, &mut task)
                .await
                .is_err()
        {
            task.abort();
            let _ = task.await;
        }
        self.connected.store(false, Ordering::SeqCst);
    }

    /// Whether the sink currently has an established broker connection.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_url_defaults_and_errors() {
        let p = MqttSettings::parse_url;
        assert_eq!(p("mqtt://broker").unwrap(), ("broker".into(), 1883, false));
        assert_eq!(p("mqtts://broker").unwrap(), ("broker".into(), 8883, true));
        assert_eq!(
            p("mqtt://10.0.0.5:1884/").unwrap(),
            ("10.0.0.5".into(), 1884, false)
        );
        assert_eq!(
            p("mqtts://[::1]:8884").unwrap(),
            ("[::1]".into(), 8884, true)
        );
        assert_eq!(
            p("mqtt://[fe80::1]").unwrap(),
            ("[fe80::1]".into(), 1883, false)
        );
        assert_eq!(
            p("http://x").unwrap_err(),
            r#"mqtt.url "http://x": scheme must be mqtt:// or mqtts://"#
        );
        assert!(p("mqtt://").unwrap_err().contains("missing host"));
        assert!(p("mqtt://:1883").unwrap_err().contains("missing host"));
        assert!(
            p("mqtt://h:abc")
                .unwrap_err()
                .contains("invalid port \"abc\"")
        );
        assert!(p("mqtt://h:0").unwrap_err().contains("invalid port"));
        assert!(p("mqtt://h:70000").unwrap_err().contains("invalid port"));
        assert!(
            p("mqtt://u:pw@h")
                .unwrap_err()
                .contains("username/password settings")
        );
        assert!(p("mqtt://h/topic").unwrap_err().contains("without a path"));
        assert!(p("tcp://h").is_err());
    }

    fn settings() -> MqttSettings {
        MqttSettings {
            url: "mqtt://localhost".into(),
            client_id: "wardwatch-test".into(),
            username: Some("ward".into()),
            password: Some("s3cret-pw".into()),
            keep_alive_s: 0,
            ca_file: None,
            status_topic: "wardwatch/cam1/status".into(),
        }
    }

    #[test]
    fn debug_redacts_password() {
        let dbg = format!("{:?}", settings());
        assert!(!dbg.contains("s3cret-pw"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn validate_checks_settings() {
        settings().validate().unwrap();
        let mut s = settings();
        s.username = None;
        assert!(s.validate().unwrap_err().contains("username"));
        let mut s = settings();
        s.status_topic = "a/#".into();
        assert!(s.validate().unwrap_err().contains("status_topic"));
        let mut s = settings();
        s.url = "mqtts://localhost".into();
        s.ca_file = Some("/nonexistent/ca.pem".into());
        let err = s.validate().unwrap_err();
        if tls_available() {
            assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        } else {
            assert!(err.contains("no TLS support"), "{err}");
        }
    }

    #[test]
    fn options_built_with_will_and_credentials() {
        let opts = settings().mqtt_options().unwrap();
        assert_eq!(opts.broker_address(), ("localhost".into(), 1883));
        assert_eq!(opts.keep_alive(), Duration::from_secs(30));
        let will = opts.last_will().unwrap();
        assert_eq!(will.topic, "wardwatch/cam1/status");
        assert_eq!(&will.message[..], b"offline");
        assert!(will.retain);
        let login = opts.credentials().unwrap();
        assert_eq!(login.username, "ward");

        let mut s = settings();
        s.url = "mqtts://broker.example".into();
        match s.mqtt_options() {
            Ok(o) => {
                assert!(tls_available());
                assert_eq!(o.broker_address(), ("broker.example".into(), 8883));
                assert!(!matches!(o.transport(), Transport::Tcp));
            }
            Err(e) => {
                assert!(!tls_available());
                assert!(e.contains("no TLS support"), "{e}");
            }
        }
    }
}
