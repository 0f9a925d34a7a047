//! Durable, ordered on-disk outbox for MQTT messages.
//!
//! Every message is written to the outbox directory *before* any attempt to
//! publish it, and is removed only after the broker acknowledged it (see
//! `super::mqtt`). The outbox survives broker outages and process restarts.
//!
//! Layout of the directory:
//!
//! * `000000000042.msg` — one file per message. The name is the zero-padded
//!   sequence number, so lexical order = numeric order = publish order. The
//!   content is a one-line JSON header
//!   (`{"topic":..,"qos":1,"retain":false,"droppable":false}`), a `\n`, then
//!   the raw payload bytes (which may be binary, e.g. a JPEG).
//! * `*.msg.tmp` — a write in progress. Entries are written to a temp file,
//!   fsynced, and renamed into place, so a crash never leaves a half-written
//!   `.msg`. Leftover temp files (from a crash before `enqueue` returned) are
//!   deleted on open.
//! * `bad/` — entries that could not be parsed are moved here (never deleted)
//!   so an operator can inspect them.
//! * `.lock` — an advisory lock held while an [`Outbox`] is open, so two
//!   processes cannot share (and corrupt the numbering of) one outbox.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::files;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, futures::Notified, watch};

/// Largest payload accepted by [`Outbox::enqueue`] (16 MiB). The MQTT sink
/// configures its client to allow packets of this size plus the topic.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Longest accepted header line; anything longer is treated as corrupt.
const MAX_HEADER_BYTES: u64 = 70 * 1024;

const ENTRY_EXT: &str = "msg";
const TMP_SUFFIX: &str = ".msg.tmp";
const BAD_DIR: &str = "bad";
const LOCK_FILE: &str = ".lock";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(
        "cannot open MQTT outbox directory {}: {source}. Make sure the path (or its parent) \
         exists and is writable by the user running wardwatch, or point the outbox setting \
         at a writable directory",
        dir.display()
    )]
    Open { dir: PathBuf, source: io::Error },

    #[error(
        "MQTT outbox directory {} is already in use (lock {} is held), probably by another \
         running wardwatch process. Stop that process or use a different outbox directory",
        dir.display(),
        dir.join(LOCK_FILE).display()
    )]
    Locked { dir: PathBuf },

    #[error("MQTT outbox: cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error(
        "MQTT outbox: payload of {size} bytes for topic {topic:?} exceeds the limit of {max} bytes"
    )]
    PayloadTooLarge {
        topic: String,
        size: usize,
        max: usize,
    },

    #[error("MQTT outbox: invalid topic {0:?} (must be non-empty, without '+', '#' or NUL)")]
    InvalidTopic(String),
}

/// One undelivered message, as read back from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub droppable: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    topic: String,
    #[serde(default = "default_qos")]
    qos: u8,
    #[serde(default)]
    retain: bool,
    #[serde(default)]
    droppable: bool,
}

fn default_qos() -> u8 {
    1
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    bytes: u64,
    droppable: bool,
}

#[derive(Debug)]
struct State {
    next_seq: u64,
    index: BTreeMap<u64, Meta>,
    total_bytes: u64,
    /// Set while over `max_bytes` with nothing droppable left, so the error
    /// is logged once per episode instead of once per enqueue.
    over_limit_logged: bool,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    /// Wakes the sink task when an entry is enqueued.
    notify: Notify,
    /// Current number of entries (for `flush`-style waiting).
    len_tx: watch::Sender<usize>,
    /// Held (advisory lock) for as long as the outbox is open.
    _lock: File,
}

/// Cheaply clonable, thread-safe handle to an on-disk outbox.
///
/// `enqueue` is synchronous and may be called from any thread (no tokio
/// runtime needed); it does blocking file I/O including an fsync.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> OutboxError + 'a {
    move |source| OutboxError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn entry_name(seq: u64) -> String {
    format!("{seq:012}.{ENTRY_EXT}")
}

/// Parses `000000000042.msg` into 42.
fn parse_entry_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".msg")?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

fn valid_topic(topic: &str) -> bool {
    !topic.is_empty() && topic.len() <= u16::MAX as usize && !topic.contains(['+', '#', '\0'])
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads and validates the header line of an entry file. Returns the header
/// and the number of bytes it occupies (including the `\n`).
fn read_header(reader: &mut impl BufRead) -> Result<(Header, usize), String> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_HEADER_BYTES)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("read error: {e}"))?;
    if line.last() != Some(&b'\n') {
        return Err(if n == 0 {
            "empty file".to_string()
        } else {
            "no header line terminated by \\n".to_string()
        });
    }
    let header: Header =
        serde_json::from_slice(&line[..n - 1]).map_err(|e| format!("bad header JSON: {e}"))?;
    if !valid_topic(&header.topic) {
        return Err(format!("invalid topic {:?}", header.topic));
    }
    if header.qos > 2 {
        return Err(format!("invalid qos {}", header.qos));
    }
    Ok((header, n))
}

impl Outbox {
    /// Opens (creating if needed) the outbox directory, removes leftover temp
    /// files, moves unparsable entries to `bad/`, and resumes numbering after
    /// the highest existing entry. Undelivered entries from a previous run are
    /// picked up and will be delivered first.
    ///
    /// `max_bytes` bounds the total size of the entries; when exceeded, the
    /// oldest *droppable* entries are deleted. Events (non-droppable) are never
    /// deleted. `0` means unlimited.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Outbox, OutboxError> {
        let open_err = |source| OutboxError::Open {
            dir: dir.to_path_buf(),
            source,
        };
        files::create_dir(dir, files::OUTBOX_DIR).map_err(open_err)?;
        let lock = files::open_file(&dir.join(LOCK_FILE), files::OUTBOX_FILE).map_err(open_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(OutboxError::Locked {
                    dir: dir.to_path_buf(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(open_err(e)),
        }

        let mut index = BTreeMap::new();
        let mut total_bytes = 0u64;
        let mut max_seq = 0u64;
        let mut bad = Vec::new();
        for dirent in fs::read_dir(dir).map_err(open_err)? {
            let dirent = dirent.map_err(open_err)?;
            let path = dirent.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                tracing::warn!(path = %path.display(), "ignoring non-UTF-8 file name in MQTT outbox");
                continue;
            };
            if name == LOCK_FILE || name == BAD_DIR {
                continue;
            }
            if name.ends_with(TMP_SUFFIX) {
                tracing::warn!(path = %path.display(), "removing incomplete MQTT outbox write left by a crash");
                fs::remove_file(&path).map_err(open_err)?;
                continue;
            }
            if !name.ends_with(".msg") {
                tracing::debug!(path = %path.display(), "ignoring unknown file in MQTT outbox");
                continue;
            }
            let Some(seq) = parse_entry_name(&name) else {
                bad.push((path, "file name is not a sequence number".to_string()));
                continue;
            };
            max_seq = max_seq.max(seq);
            let parsed = File::open(&path).and_then(|f| {
                let bytes = f.metadata()?.len();
                let mut reader = BufReader::new(f);
                Ok((read_header(&mut reader), bytes))
            });
            match parsed {
                Ok((Ok((header, _)), bytes)) => {
                    index.insert(
                        seq,
                        Meta {
                            bytes,
                            droppable: header.droppable,
                        },
                    );
                    total_bytes += bytes;
                }
                Ok((Err(why), _)) => bad.push((path, why)),
                Err(e) => return Err(open_err(e)),
            }
        }
        // Entries moved to bad/ earlier also count for numbering, so a
        // quarantined file name is never reused.
        if let Ok(rd) = fs::read_dir(dir.join(BAD_DIR)) {
            for dirent in rd.flatten() {
                if let Some(seq) = dirent.file_name().to_str().and_then(parse_entry_name) {
                    max_seq = max_seq.max(seq);
                }
            }
        }

        let (len_tx, _) = watch::channel(index.len());
        let outbox = Outbox {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                max_bytes,
                state: Mutex::new(State {
                    next_seq: max_seq + 1,
                    index,
                    total_bytes,
                    over_limit_logged: false,
                }),
                notify: Notify::new(),
                len_tx,
                _lock: lock,
            }),
        };
        for (path, why) in bad {
            outbox.move_to_bad(&path, &why);
        }
        let n = outbox.len();
        if n > 0 {
            tracing::debug!(dir = %dir.display(), entries = n, "MQTT outbox has undelivered messages from a previous run");
        }
        Ok(outbox)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The outbox directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Durably stores a message (QoS 1) and wakes the sink. Returns its
    /// sequence number. Blocking (file write + fsync); callable from any
    /// thread. `droppable` marks state/snapshot updates that may be discarded
    /// (oldest first) when the outbox exceeds `max_bytes`; events must use
    /// `droppable = false`.
    pub fn enqueue(
        &self,
        topic: &str,
        payload: &[u8],
        retain: bool,
        droppable: bool,
    ) -> Result<u64, OutboxError> {
        if !valid_topic(topic) {
            return Err(OutboxError::InvalidTopic(topic.to_string()));
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(OutboxError::PayloadTooLarge {
                topic: topic.to_string(),
                size: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let header = Header {
            topic: topic.to_string(),
            qos: 1,
            retain,
            droppable,
        };
        let mut buf = serde_json::to_vec(&header).expect("header serializes");
        buf.push(b'\n');
        buf.extend_from_slice(payload);

        // The lock is held across the write so that sequence order equals
        // the order in which entries become visible to the sink.
        let mut st = self.state();
        let seq = st.next_seq;
        let name = entry_name(seq);
        let path = self.inner.dir.join(&name);
        let tmp = self.inner.dir.join(format!("{name}.tmp"));
        let write = || -> io::Result<()> {
            let mut f = files::create_file(&tmp, files::OUTBOX_FILE)?;
            f.write_all(&buf)?;
            f.sync_data()?;
            drop(f);
            fs::rename(&tmp, &path)?;
            sync_dir(&self.inner.dir)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(OutboxError::Io {
                op: "write",
                path,
                source: e,
            });
        }
        st.next_seq += 1;
        let bytes = buf.len() as u64;
        st.index.insert(seq, Meta { bytes, droppable });
        st.total_bytes += bytes;
        self.enforce_limit(&mut st);
        self.inner.len_tx.send_replace(st.index.len());
        drop(st);
        self.inner.notify.notify_one();
        Ok(seq)
    }

    fn enforce_limit(&self, st: &mut State) {
        let max = self.inner.max_bytes;
        if max == 0 || st.total_bytes <= max {
            st.over_limit_logged = false;
            return;
        }
        let droppable: Vec<u64> = st
            .index
            .iter()
            .filter(|(_, m)| m.droppable)
            .map(|(s, _)| *s)
            .collect();
        for seq in droppable {
            if st.total_bytes <= max {
                break;
            }
            let path = self.inner.dir.join(entry_name(seq));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "MQTT outbox: cannot delete droppable entry");
                    continue;
                }
            }
            if let Some(m) = st.index.remove(&seq) {
                st.total_bytes -= m.bytes;
            }
            tracing::debug!(
                seq,
                "MQTT outbox over max_bytes: dropped oldest droppable entry"
            );
        }
        if st.total_bytes > max {
            if !st.over_limit_logged {
                st.over_limit_logged = true;
                tracing::error!(
                    dir = %self.inner.dir.display(),
                    bytes = st.total_bytes,
                    max_bytes = max,
                    entries = st.index.len(),
                    "MQTT outbox exceeds max_bytes with only undeliverable events left; keeping them (events are never dropped). Check the broker connection and free disk space"
                );
            }
        } else {
            st.over_limit_logged = false;
        }
    }

    /// Number of undelivered entries.
    pub fn len(&self) -> usize {
        self.state().index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total size in bytes of the undelivered entries.
    pub fn bytes(&self) -> u64 {
        self.state().total_bytes
    }

    /// Reads the oldest undelivered entry. Entries that turn out to be
    /// unreadable/corrupt are moved to `bad/` and skipped. Blocking I/O.
    pub fn peek_oldest(&self) -> Result<Option<Entry>, OutboxError> {
        loop {
            let Some(seq) = self.state().index.keys().next().copied() else {
                return Ok(None);
            };
            let path = self.inner.dir.join(entry_name(seq));
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Deleted behind our back (or dropped concurrently).
                    self.forget(seq);
                    continue;
                }
                Err(e) => return Err(io_err("open", &path)(e)),
            };
            let mut reader = BufReader::new(file);
            let header = match read_header(&mut reader) {
                Ok((h, _)) => h,
                Err(why) => {
                    self.move_to_bad(&path, &why);
                    continue;
                }
            };
            let mut payload = Vec::new();
            reader
                .read_to_end(&mut payload)
                .map_err(io_err("read", &path))?;
            return Ok(Some(Entry {
                seq,
                topic: header.topic,
                payload,
                retain: header.retain,
                droppable: header.droppable,
            }));
        }
    }

    /// Deletes a delivered entry. Removing an entry that no longer exists is
    /// not an error. Blocking I/O.
    pub fn remove(&self, seq: u64) -> Result<(), OutboxError> {
        let path = self.inner.dir.join(entry_name(seq));
        let mut st = self.state();
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("delete", &path)(e)),
        }
        if let Some(m) = st.index.remove(&seq) {
            st.total_bytes -= m.bytes;
        }
        if st.total_bytes <= self.inner.max_bytes {
            st.over_limit_logged = false;
        }
        self.inner.len_tx.send_replace(st.index.len());
        Ok(())
    }

    /// Moves an entry to `bad/` (e.g. one the broker keeps rejecting) so it no
    /// longer blocks the queue. Blocking I/O.
    pub fn quarantine(&self, seq: u64, reason: &str) {
        let path = self.inner.dir.join(entry_name(seq));
        self.move_to_bad(&path, reason);
        self.forget(seq);
    }

    fn forget(&self, seq: u64) {
        let mut st = self.state();
        if let Some(m) = st.index.remove(&seq) {
            st.total_bytes -= m.bytes;
        }
        self.inner.len_tx.send_replace(st.index.len());
    }

    fn move_to_bad(&self, path: &Path, why: &str) {
        let bad_dir = self.inner.dir.join(BAD_DIR);
        let file_name = path.file_name().unwrap_or_default();
        let target = bad_dir.join(file_name);
        let result =
            files::create_dir(&bad_dir, files::OUTBOX_DIR).and_then(|()| fs::rename(path, &target));
        match result {
            Ok(()) => tracing::error!(
                reason = why,
                moved_to = %target.display(),
                "MQTT outbox: corrupt/undeliverable entry moved aside"
            ),
            Err(e) => tracing::error!(
                reason = why,
                path = %path.display(),
                error = %e,
                "MQTT outbox: corrupt/undeliverable entry could not be moved to bad/; skipping it for now"
            ),
        }
        if let Some(seq) = file_name.to_str().and_then(parse_entry_name) {
            self.forget(seq);
        }
    }

    /// Resolves after the next `enqueue` (or immediately if one happened since
    /// the last wake-up that nobody awaited). Intended for a single consumer,
    /// the sink task.
    pub fn notified(&self) -> Notified<'_> {
        self.inner.notify.notified()
    }

    /// Watch channel carrying the current number of entries.
    pub fn watch_len(&self) -> watch::Receiver<usize> {
        self.inner.len_tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|d| d.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn roundtrip_in_order_with_binary_payload() {
        let tmp = tempfile::tempdir().unwrap();
        let ob = Outbox::open(tmp.path(), 0).unwrap();
        assert!(ob.is_empty());
        let jpeg = [0xFFu8, 0xD8, 0x00, b'\n', 0xFF, 0xD9];
        let s1 = ob.enqueue("ward/a/event", &jpeg, false, false).unwrap();
        let s2 = ob.enqueue("ward/a/state", b"x", true, true).unwrap();
        assert_eq!((s1, s2), (1, 2));
        assert_eq!(ob.len(), 2);
        assert!(names(tmp.path()).contains(&"000000000001.msg".to_string()));

        let e = ob.peek_oldest().unwrap().unwrap();
        assert_eq!(
            e,
            Entry {
                seq: 1,
                topic: "ward/a/event".into(),
                payload: jpeg.to_vec(),
                retain: false,
                droppable: false
            }
        );
        ob.remove(1).unwrap();
        ob.remove(1).unwrap(); // idempotent
        let e = ob.peek_oldest().unwrap().unwrap();
        assert_eq!((e.seq, e.retain, e.droppable), (2, true, true));
        ob.remove(2).unwrap();
        assert!(ob.peek_oldest().unwrap().is_none());
        assert_eq!(ob.bytes(), 0);
    }

    #[test]
    fn reopen_resumes_numbering_and_entries() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let ob = Outbox::open(tmp.path(), 0).unwrap();
            for i in 0..3 {
                ob.enqueue("t", format!("{i}").as_bytes(), false, false)
                    .unwrap();
            }
            ob.remove(1).unwrap();
        }
        fs::write(tmp.path().join("000000000009.msg.tmp"), b"partial").unwrap();
        let ob = Outbox::open(tmp.path(), 0).unwrap();
        assert_eq!(ob.len(), 2);
        assert!(!tmp.path().join("000000000009.msg.tmp").exists());
        assert_eq!(ob.enqueue("t", b"3", false, false).unwrap(), 4);
        assert_eq!(ob.peek_oldest().unwrap().unwrap().payload, b"1");
    }

    #[test]
    fn second_open_of_same_dir_is_refused_until_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let ob = Outbox::open(tmp.path(), 0).unwrap();
        let err = Outbox::open(tmp.path(), 0).unwrap_err();
        assert!(matches!(err, OutboxError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("already in use"));
        drop(ob);
        Outbox::open(tmp.path(), 0).unwrap();
    }

    #[test]
    fn open_error_names_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plainfile");
        fs::write(&file, b"").unwrap();
        let err = Outbox::open(&file.join("sub"), 0).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("plainfile/sub") && msg.contains("writable"),
            "{msg}"
        );
    }

    #[test]
    fn corrupt_entries_are_moved_to_bad() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let ob = Outbox::open(tmp.path(), 0).unwrap();
            for i in 0..4 {
                ob.enqueue("t", format!("{i}").as_bytes(), false, false)
                    .unwrap();
            }
        }
        fs::write(
            tmp.path().join("000000000002.msg"),
            b"garbage without newline",
        )
        .unwrap();
        fs::write(tmp.path().join("0000000000xx.msg"), b"{}\n").unwrap();
        let ob = Outbox::open(tmp.path(), 0).unwrap();
        assert_eq!(ob.len(), 3);
        // Corrupted after open: detected by peek.
        fs::write(tmp.path().join("000000000001.msg"), b"{\"qos\":1}\nx").unwrap();
        let e = ob.peek_oldest().unwrap().unwrap();
        assert_eq!(e.seq, 3);
        assert_eq!(ob.len(), 2);
        let bad = names(&tmp.path().join("bad"));
        assert_eq!(
            bad,
            vec!["000000000001.msg", "000000000002.msg", "0000000000xx.msg"]
        );
        // Numbering never reuses a quarantined name.
        drop(ob);
        let ob = Outbox::open(tmp.path(), 0).unwrap();
        assert_eq!(ob.enqueue("t", b"5", false, false).unwrap(), 5);
    }

    #[test]
    fn max_bytes_drops_oldest_droppable_never_events() {
        let tmp = tempfile::tempdir().unwrap();
        let ob = Outbox::open(tmp.path(), 500).unwrap();
        let big = vec![7u8; 100];
        ob.enqueue("ev", &big, false, false).unwrap(); // 1 event
        ob.enqueue("st", &big, true, true).unwrap(); // 2 droppable
        ob.enqueue("st", &big, true, true).unwrap(); // 3 droppable
        ob.enqueue("ev", &big, false, false).unwrap(); // 4 event -> over, drops 2
        let seqs: Vec<u64> = ob.state().index.keys().copied().collect();
        assert_eq!(seqs, vec![1, 3, 4]);
        assert!(ob.bytes() <= 500);
        for _ in 0..3 {
            ob.enqueue("ev", &big, false, false).unwrap();
        }
        // Droppable 3 gone, all events kept even though over the limit.
        let seqs: Vec<u64> = ob.state().index.keys().copied().collect();
        assert_eq!(seqs, vec![1, 4, 5, 6, 7]);
        assert!(ob.bytes() > 500);
        assert_eq!(names(tmp.path()).len(), 6); // 5 entries + .lock
    }

    #[test]
    fn rejects_bad_topic_and_huge_payload() {
        let tmp = tempfile::tempdir().unwrap();
        let ob = Outbox::open(tmp.path(), 0).unwrap();
        assert!(matches!(
            ob.enqueue("a/+/b", b"", false, false),
            Err(OutboxError::InvalidTopic(_))
        ));
        assert!(matches!(
            ob.enqueue("", b"", false, false),
            Err(OutboxError::InvalidTopic(_))
        ));
        let huge = vec![0u8; MAX_PAYLOAD_BYTES + 1];
        assert!(matches!(
            ob.enqueue("t", &huge, false, false),
            Err(OutboxError::PayloadTooLarge { .. })
        ));
        assert!(ob.is_empty());
    }

    #[test]
    fn concurrent_enqueue_from_threads_keeps_unique_ordered_seqs() {
        let tmp = tempfile::tempdir().unwrap();
        let ob = Outbox::open(tmp.path(), 0).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let ob = ob.clone();
                std::thread::spawn(move || {
                    let mut seqs = Vec::new();
                    for i in 0..10 {
                        seqs.push(
                            ob.enqueue("t", format!("{t}-{i}").as_bytes(), false, false)
                                .unwrap(),
                        );
                    }
                    seqs
                })
            })
            .collect();
        for h in handles {
            let seqs = h.join().unwrap();
            assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        }
        assert_eq!(ob.len(), 40);
        assert_eq!(*ob.watch_len().borrow(), 40);
    }
}
