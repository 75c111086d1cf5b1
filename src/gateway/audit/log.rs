//! The log file: opening it where the last run left it, and appending records that are on
//! disk before the caller hears back.
//!
//! One writer thread owns the file. Callers (threads or tokio tasks) hand it an event and a
//! reply channel; it takes every event waiting, writes their lines in one `write`, calls
//! `sync_data` once, and only then answers each caller (group commit). Under load many
//! records share one disk flush; alone, a record costs one.
//!
//! What it guards against, because each was seen on a gateway facing the internet:
//!
//! - **two writers**: `<log>.lock` is held locked for the lifetime of an [`AuditLog`], and
//!   before each batch the file must still be exactly as long as this writer left it;
//! - **a log deleted, renamed or replaced while open**: before each batch the file at the
//!   path must still be the open one, or no record is taken ([`AuditError::FileChanged`]);
//! - **a log gone at restart**: `<log>.head` keeps the last `seq` and hash (replaced
//!   atomically, at most once a second and at close), and a log that ends before it is
//!   refused ([`AuditError::ChainLost`]) instead of silently starting a new chain;
//! - **a full disk**: a failed write or flush is cut off again (the file goes back to the
//!   end of the last acknowledged record), that batch fails, and writing is tried again on a
//!   later batch, at most once a second, so freeing space lets logins resume.
//!
//! Which calls block: [`AuditLog::open`] and [`AuditLog::open_waiting`] (file I/O, and the
//! wait for the lock), [`AuditLog::append`] (until the record is on disk), and dropping the
//! log (it waits for the writer to finish what it was given). [`AuditLog::append_async`],
//! [`AuditLog::stats`] and [`AuditLog::path`] never block: handing a job to the writer is a
//! send on an unbounded channel.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::record::{AuditEvent, AuditRecord, RecordError, GENESIS, MAX_LINE_LEN};
use super::verify::Problem;

/// Most records written with one flush; bounds the memory of one batch.
const MAX_BATCH: usize = 1024;

/// How long the gateway waits at start for an older gateway, still draining its sessions,
/// to let go of the log.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// How often the lock is tried while waiting for it.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// Longest head file read; a real one is about 100 bytes.
const MAX_HEAD_LEN: u64 = 4096;

/// How the file at the log's path differs from the file the writer has open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileChange {
    /// Nothing (that can be read) is at the path: the file was deleted or renamed.
    #[error("is gone from its path (deleted or renamed)")]
    Missing,
    /// Another file is at the path.
    #[error("was replaced by another file")]
    Replaced,
    /// The same file, but not as long as this writer left it: another process wrote to it
    /// or cut it. Unlike the two above this does not heal; only a restart reads it anew.
    #[error(
        "was written or cut by someone else ({found} bytes where this gateway wrote {expected})"
    )]
    Resized {
        /// The length this writer left.
        expected: u64,
        /// The length found.
        found: u64,
    },
}

/// Why the log could not be opened or a record not written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, created or read.
    #[error("could not open the audit log {}: {source}", path.display())]
    Open {
        /// The log file (or its lock or head file).
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Another process holds the log's lock: a gateway is already running on this file.
    #[error(
        "another gateway is running on the audit log {} (it holds {}); stop it, or wait until \
         it has stopped",
        path.display(),
        lock.display()
    )]
    Locked {
        /// The log file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The file ends in a line without a newline: a write was cut short, by a crash or a full
    /// disk. No record in it was ever acknowledged, but we do not guess: the admin decides.
    #[error(
        "the audit log {} ends in a torn line starting at byte {offset}",
        path.display()
    )]
    TornTail {
        /// The log file.
        path: PathBuf,
        /// Where the torn line starts; the file up to here is whole lines.
        offset: u64,
    },
    /// The last line is not a sound record, so the chain cannot be continued from it.
    #[error("the last line of the audit log {} is not a sound record: {problem}", path.display())]
    BadTail {
        /// The log file.
        path: PathBuf,
        /// What is wrong with it.
        problem: Problem,
    },
    /// The head file shows the chain reached further than the log does: the log was removed,
    /// replaced or cut short while the gateway was stopped (or was moved away on purpose).
    #[error(
        "the audit log {} ends at record {found}, but record {head_seq} (hash {head_hash}) was \
         written to it before, as {} shows: the file was removed, replaced or cut short. Put \
         it back; if it was moved away on purpose, keep it, check it with `audit verify`, and \
         delete {} to start a new chain",
        path.display(),
        head.display(),
        head.display()
    )]
    ChainLost {
        /// The log file.
        path: PathBuf,
        /// The head file.
        head: PathBuf,
        /// The last record the head file knows of.
        head_seq: u64,
        /// Its hash.
        head_hash: String,
        /// The last record in the log (0: none).
        found: u64,
    },
    /// The file at the log's path is no longer the file being written. No record is taken
    /// until it is back (a renamed file renamed back); a resized one needs a restart.
    #[error(
        "the audit log {} {change}; no record is taken until the file is put back, or until \
         the gateway is restarted after `audit verify` has checked the file",
        path.display()
    )]
    FileChanged {
        /// The log file.
        path: PathBuf,
        /// What changed.
        change: FileChange,
    },
    /// Writing or flushing the log failed; this record is not recorded. The file was cut
    /// back to its last acknowledged record.
    #[error("could not write the audit log {}: {source}", path.display())]
    Write {
        /// The log file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: Arc<io::Error>,
    },
    /// A write or flush failed less than a second ago, so the log refuses records until it
    /// tries again.
    #[error(
        "the audit log {} refuses records after a write failure, and tries again shortly: \
         {source}",
        path.display()
    )]
    Stopped {
        /// The log file.
        path: PathBuf,
        /// The failure that stopped it.
        #[source]
        source: Arc<io::Error>,
    },
    /// The event could not become a record (it would not fit in a line).
    #[error("could not form the audit record: {0}")]
    Record(#[from] RecordError),
    /// The writer thread is gone (the log was closed, or the thread died).
    #[error("the audit log writer is no longer running")]
    Closed,
    /// The shared audit store (PostgreSQL) cannot be reached or refused the records; they are
    /// not recorded.
    #[error("the audit database {place} {what}: {detail}")]
    Database {
        /// Which database (the connection string, which holds no password).
        place: String,
        /// What failed.
        what: DatabaseFailure,
        /// What the database or the network said.
        detail: String,
    },
}

/// What the audit database did not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseFailure {
    /// No connection (network, server down, no answer in time).
    #[error("cannot be reached")]
    Unreachable,
    /// The gateway's database user was not let in (password, `pg_hba.conf`).
    #[error("does not let the gateway in")]
    Login,
    /// The chain could not be read (no table, no right to read it).
    #[error("cannot be read")]
    Read,
    /// The records were not taken (no right to append, a broken chain, a full disk).
    #[error("refused the records")]
    Append,
}

/// Counts since the log was opened, for benchmarks and health reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStats {
    /// Records written and flushed.
    pub records: u64,
    /// Calls to `sync_data`; `records / syncs` is the group-commit gain.
    pub syncs: u64,
}

pub(super) type Outcome = Result<AuditRecord, AuditError>;

pub(super) enum Reply {
    Blocking(mpsc::SyncSender<Outcome>),
    Async(tokio::sync::oneshot::Sender<Outcome>),
}

impl Reply {
    pub(super) fn send(self, outcome: Outcome) {
        // A caller that stopped waiting (a dropped future) still has its record written;
        // there is just nobody to tell.
        match self {
            Reply::Blocking(tx) => {
                let _ = tx.send(outcome);
            }
            Reply::Async(tx) => {
                let _ = tx.send(outcome);
            }
        }
    }
}

/// What the writer is sent: a record, or the question whether it could write one now.
pub(super) enum Message {
    Record(Job),
    Probe(tokio::sync::oneshot::Sender<Result<(), String>>),
}

pub(super) struct Job {
    pub(super) event: AuditEvent,
    pub(super) time: OffsetDateTime,
    pub(super) reply: Reply,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) records: AtomicU64,
    pub(super) syncs: AtomicU64,
}

/// The writer's pace; tests shorten or lengthen it instead of waiting.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// Least time between a failed write and the next try.
    retry_after: Duration,
    /// Least time between two head updates while records are written.
    head_every: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            retry_after: Duration::from_secs(1),
            head_every: Duration::from_secs(1),
        }
    }
}

/// The gateway's audit log: append-only, hash-chained, durable before it answers.
///
/// Share it by reference or `Arc`; `append` and `append_async` may be called from any
/// number of threads and tasks at once. Dropping it lets the writer finish what it was
/// given, waits for it, and then lets go of the lock.
pub struct AuditLog {
    path: PathBuf,
    tx: Option<mpsc::Sender<Message>>,
    writer: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    /// The file store's lock, held until the log is dropped (after the writer has finished).
    _lock: Option<File>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("stats", &self.stats())
            .finish()
    }
}

impl AuditLog {
    /// Opens the store `settings` names: the file (waiting up to `wait` for its lock), or the
    /// PostgreSQL table shared with other gateways. Blocks.
    pub fn open_store(
        settings: &crate::gateway::config::AuditSettings,
        wait: Duration,
    ) -> Result<AuditLog, AuditError> {
        use crate::gateway::config::AuditStore;
        match &settings.store {
            AuditStore::File(path) => AuditLog::open_waiting(path, wait),
            AuditStore::Postgres(pg) => {
                let counters = Arc::new(Counters::default());
                let (tx, writer, place) = super::postgres::start_writer(pg, Arc::clone(&counters))?;
                Ok(AuditLog {
                    path: PathBuf::from(place),
                    tx: Some(tx),
                    writer: Some(writer),
                    counters,
                    _lock: None,
                })
            }
        }
    }

    /// Opens the log at `path` as [`AuditLog::open_waiting`] does, without waiting for the
    /// lock: another process holding it is [`AuditError::Locked`] at once.
    pub fn open(path: impl AsRef<Path>) -> Result<AuditLog, AuditError> {
        AuditLog::open_waiting(path, Duration::ZERO)
    }

    /// Opens the log at `path` (created with mode 0600 if missing) and continues its chain
    /// from the last record. Blocks.
    ///
    /// First it takes the lock `<path>.lock`, waiting up to `wait` for another process to
    /// let go of it (an older gateway draining its sessions), else [`AuditError::Locked`].
    /// Refuses a file whose last line is torn or not a sound record, and a file that ends
    /// before the record `<path>.head` names ([`AuditError::ChainLost`]): run `audit verify`
    /// and let a person decide. Only the last line is read; checking the whole chain is
    /// `audit verify`'s job.
    pub fn open_waiting(path: impl AsRef<Path>, wait: Duration) -> Result<AuditLog, AuditError> {
        AuditLog::open_with(path.as_ref(), wait, Tuning::default(), |file| file)
    }

    fn open_with<S: Sink>(
        path: &Path,
        wait: Duration,
        tuning: Tuning,
        sink: impl FnOnce(File) -> S,
    ) -> Result<AuditLog, AuditError> {
        let path = path.to_path_buf();
        let lock = lock(&path, wait)?;
        let head_path = sibling(&path, ".head");
        let head = read_head(&head_path)?;
        let chain_lost = |found| AuditError::ChainLost {
            path: path.clone(),
            head: head_path.clone(),
            head_seq: head.as_ref().map_or(0, |h| h.seq),
            head_hash: head.as_ref().map_or_else(String::new, |h| h.hash.clone()),
            found,
        };
        let open_err = |source| AuditError::Open {
            path: path.clone(),
            source,
        };
        // With a head file, a missing log is a lost chain, not a new one to create.
        let mut file = match open_append(&path, head.is_none()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && head.is_some() => {
                return Err(chain_lost(0))
            }
            other => other.map_err(open_err)?,
        };
        let tail = read_tail(&mut file, &path)?;
        let last = tail.next_seq - 1;
        if let Some(h) = &head {
            if h.seq > last || (h.seq == last && h.hash != tail.prev) {
                return Err(chain_lost(last));
            }
        }
        let id = file_id(&file.metadata().map_err(open_err)?);
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            file: sink(file),
            path: path.clone(),
            id,
            good_len: tail.len,
            next_seq: tail.next_seq,
            prev: tail.prev,
            failure: None,
            foreign: None,
            displaced: None,
            head_path,
            head_seq: head.map_or(0, |h| h.seq),
            head_written: None,
            tuning,
            counters: Arc::clone(&counters),
        };
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(&rx))
            .map_err(open_err)?;
        Ok(AuditLog {
            path,
            tx: Some(tx),
            writer: Some(handle),
            counters,
            _lock: Some(lock),
        })
    }

    /// The log file; for the PostgreSQL store, the database's connection string.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records and flushes written since the log was opened.
    pub fn stats(&self) -> AuditStats {
        AuditStats {
            records: self.counters.records.load(Ordering::Relaxed),
            syncs: self.counters.syncs.load(Ordering::Relaxed),
        }
    }

    /// Whether a record would be taken now, for the readiness port: the writer answers within
    /// `wait`, and the file at the path is the one it writes, with no write failure it has
    /// not yet tried again. A problem is said in a sentence.
    pub async fn health(&self, wait: Duration) -> Result<(), String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|t| t.send(Message::Probe(tx)).is_ok());
        if !sent {
            return Err(AuditError::Closed.to_string());
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(state)) => state,
            Ok(Err(_)) => Err(AuditError::Closed.to_string()),
            Err(_) => Err(format!(
                "the audit log writer did not answer within {} s",
                wait.as_secs()
            )),
        }
    }

    /// Appends `event` at time `now` and returns the record once it is on disk. Blocks the
    /// calling thread; from async code use [`AuditLog::append_async`].
    pub fn append(
        &self,
        event: AuditEvent,
        now: OffsetDateTime,
    ) -> Result<AuditRecord, AuditError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(event, now, Reply::Blocking(tx))?;
        rx.recv().map_err(|_| AuditError::Closed)?
    }

    /// Appends `event` at time `now` and resolves once it is on disk, without blocking the
    /// runtime. If the future is dropped early the record is still written.
    pub async fn append_async(
        &self,
        event: AuditEvent,
        now: OffsetDateTime,
    ) -> Result<AuditRecord, AuditError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(event, now, Reply::Async(tx))?;
        rx.await.map_err(|_| AuditError::Closed)?
    }

    fn submit(
        &self,
        event: AuditEvent,
        time: OffsetDateTime,
        reply: Reply,
    ) -> Result<(), AuditError> {
        let tx = self.tx.as_ref().ok_or(AuditError::Closed)?;
        tx.send(Message::Record(Job { event, time, reply }))
            .map_err(|_| AuditError::Closed)
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        // Closing the channel ends the writer's loop after the jobs already sent.
        self.tx = None;
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

/// `<path><suffix>`: the lock and head files live next to the log.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes `<path>.lock`, trying until `wait` has passed. The lock file stays when the log
/// closes: removing it could let a third process lock a new file while a second holds the
/// old one.
fn lock(path: &Path, wait: Duration) -> Result<File, AuditError> {
    let lock_path = sibling(path, ".lock");
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(&lock_path)
        .map_err(|source| AuditError::Open {
            path: lock_path.clone(),
            source,
        })?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(source)) => {
                return Err(AuditError::Open {
                    path: lock_path,
                    source,
                })
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(AuditError::Locked {
                path: path.to_path_buf(),
                lock: lock_path,
            });
        }
        std::thread::sleep(LOCK_POLL.min(deadline - now));
    }
}

/// Opens for appending; a new file (only if `create`) gets mode 0600 and its directory entry
/// is flushed, so the file itself survives a crash right after the first record.
fn open_append(path: &Path, create: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    if !create {
        return options.open(path);
    }
    match options.clone().create_new(true).open(path) {
        Ok(file) => {
            sync_parent_dir(path)?;
            Ok(file)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => options.open(path),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Which file this is: device and inode. Other systems have no stable equivalent in std, so
/// there a replaced file is noticed by its length alone ([`FileChange::Resized`]).
#[cfg(unix)]
fn file_id(meta: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_meta: &Metadata) -> Option<(u64, u64)> {
    None
}

/// The last record as far as the head file knows; it may lag the log, never lead it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// Reads the head file; `None` when there is none (a new log, or one from before head files).
fn read_head(path: &Path) -> Result<Option<Head>, AuditError> {
    let open_err = |source| AuditError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(open_err(e)),
    };
    let mut text = Vec::new();
    file.take(MAX_HEAD_LEN)
        .read_to_end(&mut text)
        .map_err(open_err)?;
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| open_err(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Replaces the head file atomically: a new file, flushed, renamed over the old one.
fn write_head(path: &Path, head: &Head) -> io::Result<()> {
    let fresh = sibling(path, ".new");
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&fresh)?;
    file.write_all(&serde_json::to_vec(head).map_err(io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&fresh, path)?;
    sync_parent_dir(path)
}

/// Where the log's chain stands at its end.
struct Tail {
    next_seq: u64,
    prev: String,
    len: u64,
}

/// Reads the last line and returns the next `seq`, the `prev` to chain to, and the length.
fn read_tail(file: &mut File, path: &Path) -> Result<Tail, AuditError> {
    let open_err = |source| AuditError::Open {
        path: path.to_path_buf(),
        source,
    };
    let bad = |problem| AuditError::BadTail {
        path: path.to_path_buf(),
        problem,
    };
    let len = file.metadata().map_err(open_err)?.len();
    if len == 0 {
        return Ok(Tail {
            next_seq: 1,
            prev: GENESIS.to_string(),
            len,
        });
    }
    // The last line plus the newline before it fit in this window, if the line is sound.
    let window = len.min(MAX_LINE_LEN as u64 + 1);
    let base = len - window;
    let mut tail = Vec::with_capacity(window as usize);
    file.seek(SeekFrom::Start(base)).map_err(open_err)?;
    Read::by_ref(file)
        .take(window)
        .read_to_end(&mut tail)
        .map_err(open_err)?;
    if tail.len() as u64 != window {
        return Err(open_err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while it was read",
        )));
    }
    let body = match tail.split_last() {
        Some((b'\n', body)) => body,
        _ => {
            return match tail.iter().rposition(|&b| b == b'\n') {
                Some(i) => Err(AuditError::TornTail {
                    path: path.to_path_buf(),
                    offset: base + i as u64 + 1,
                }),
                None if base == 0 => Err(AuditError::TornTail {
                    path: path.to_path_buf(),
                    offset: 0,
                }),
                None => Err(bad(Problem::TooLong { max: MAX_LINE_LEN })),
            };
        }
    };
    let line = match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => &body[i + 1..],
        None if base == 0 => body,
        None => return Err(bad(Problem::TooLong { max: MAX_LINE_LEN })),
    };
    let text = std::str::from_utf8(line).map_err(|_| bad(Problem::NotUtf8))?;
    let rec = AuditRecord::from_line(text).map_err(|e| bad(e.into()))?;
    let next_seq = rec.seq.checked_add(1).ok_or_else(|| {
        bad(Problem::Unparsable {
            detail: "seq is at its largest value".into(),
        })
    })?;
    Ok(Tail {
        next_seq,
        prev: rec.hash,
        len,
    })
}

/// What the writer does to its file. A trait so tests can make writes fail as a full disk
/// does; the gateway's is a [`File`] opened for appending.
trait Sink: Send + 'static {
    /// Appends `bytes` and flushes them to disk.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Cuts the file to `len` bytes and flushes that.
    fn cut(&mut self, len: u64) -> io::Result<()>;
}

impl Sink for File {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.sync_data()
    }

    fn cut(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.sync_data()
    }
}

/// Cuts `file` back to `len`, the end of its last acknowledged record; whether that worked.
fn cut_back<S: Sink>(file: &mut S, len: u64) -> bool {
    match file.cut(len) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "the audit log could not be cut back to its last record");
            false
        }
    }
}

/// A write or flush that failed, and whether the file was cut back since.
struct Failure {
    source: Arc<io::Error>,
    at: Instant,
    clean: bool,
}

/// Why the writer takes no records now.
enum Refusal {
    Stopped(Arc<io::Error>),
    Changed(FileChange),
}

impl Refusal {
    fn error(&self, path: &Path) -> AuditError {
        match self {
            Refusal::Stopped(source) => AuditError::Stopped {
                path: path.to_path_buf(),
                source: Arc::clone(source),
            },
            Refusal::Changed(change) => AuditError::FileChanged {
                path: path.to_path_buf(),
                change: change.clone(),
            },
        }
    }
}

/// The writer thread's state: the file and where the chain stands.
struct Writer<S> {
    file: S,
    path: PathBuf,
    /// Which file was opened ([`file_id`]).
    id: Option<(u64, u64)>,
    /// The file's length at the end of the last acknowledged record.
    good_len: u64,
    next_seq: u64,
    prev: String,
    failure: Option<Failure>,
    /// Someone else wrote to or cut the file: nothing more until a restart.
    foreign: Option<FileChange>,
    /// The file at the path is not ours (last seen), so a change is logged once.
    displaced: Option<FileChange>,
    head_path: PathBuf,
    /// `seq` in the head file.
    head_seq: u64,
    head_written: Option<Instant>,
    tuning: Tuning,
    counters: Arc<Counters>,
}

impl<S: Sink> Writer<S> {
    fn run(mut self, rx: &mpsc::Receiver<Message>) {
        let mut batch = Vec::with_capacity(64);
        let mut probes = Vec::new();
        loop {
            // While the head file lags, wake up to write it even if no record comes.
            let first = if self.next_seq - 1 > self.head_seq {
                match rx.recv_timeout(self.tuning.head_every) {
                    Ok(message) => message,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.keep_head(true);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(message) => message,
                    Err(_) => break,
                }
            };
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Record(job) => batch.push(job),
                    Message::Probe(reply) => probes.push(reply),
                }
                if batch.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.commit(&mut batch);
                self.keep_head(false);
            }
            // Asked after the records before them, so a probe sees their outcome.
            for reply in probes.drain(..) {
                let state = self.ready().map_err(|r| r.error(&self.path).to_string());
                let _ = reply.send(state);
            }
        }
        self.keep_head(true);
    }

    /// Writes every job of `batch` with one write and one flush, then answers each.
    fn commit(&mut self, batch: &mut Vec<Job>) {
        if let Err(refusal) = self.ready() {
            for job in batch.drain(..) {
                job.reply.send(Err(refusal.error(&self.path)));
            }
            return;
        }
        let mut bytes = Vec::with_capacity(batch.len() * 256);
        let mut answers = Vec::with_capacity(batch.len());
        let mut seq = self.next_seq;
        let mut prev = self.prev.clone();
        let mut written = 0u64;
        for job in batch.drain(..) {
            let sealed = AuditRecord::seal(seq, job.time, job.event.bounded(), &prev)
                .and_then(|rec| rec.to_line().map(|line| (rec, line)));
            match sealed {
                Ok((rec, line)) => {
                    bytes.extend_from_slice(line.as_bytes());
                    seq += 1;
                    prev.clone_from(&rec.hash);
                    written += 1;
                    answers.push((job.reply, Ok(rec)));
                }
                Err(e) => answers.push((job.reply, Err(e.into()))),
            }
        }
        if written > 0 {
            match self.file.append(&bytes) {
                Ok(()) => {
                    self.next_seq = seq;
                    self.prev = prev;
                    self.good_len += bytes.len() as u64;
                    self.failure = None;
                    self.counters.records.fetch_add(written, Ordering::Relaxed);
                    self.counters.syncs.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let source = self.fail(e);
                    for (_, outcome) in &mut answers {
                        if outcome.is_ok() {
                            *outcome = Err(AuditError::Write {
                                path: self.path.clone(),
                                source: Arc::clone(&source),
                            });
                        }
                    }
                }
            }
        }
        for (reply, outcome) in answers {
            reply.send(outcome);
        }
    }

    /// Cuts off what a failed write may have left, so the file ends in whole, acknowledged
    /// records, and notes when to try again.
    fn fail(&mut self, e: io::Error) -> Arc<io::Error> {
        let source = Arc::new(e);
        let clean = cut_back(&mut self.file, self.good_len);
        tracing::error!(
            error = %source,
            clean,
            "audit log write failed; the batch is refused and writing is tried again later"
        );
        self.failure = Some(Failure {
            source: Arc::clone(&source),
            at: Instant::now(),
            clean,
        });
        source
    }

    /// Whether a batch may be written now: no recent failure, and the file at the path is
    /// the one open, as long as this writer left it.
    fn ready(&mut self) -> Result<(), Refusal> {
        if let Some(change) = &self.foreign {
            return Err(Refusal::Changed(change.clone()));
        }
        if let Some(failure) = &mut self.failure {
            if failure.at.elapsed() < self.tuning.retry_after {
                return Err(Refusal::Stopped(Arc::clone(&failure.source)));
            }
            if !failure.clean {
                failure.clean = cut_back(&mut self.file, self.good_len);
                if !failure.clean {
                    failure.at = Instant::now();
                    return Err(Refusal::Stopped(Arc::clone(&failure.source)));
                }
            }
        }
        let found = self.check_path();
        if found != self.displaced {
            match &found {
                Some(change) => {
                    tracing::error!(path = %self.path.display(), "the audit log {change}; no records are taken")
                }
                None => {
                    tracing::warn!(path = %self.path.display(), "the audit log is back at its path; records are taken again")
                }
            }
            self.displaced.clone_from(&found);
        }
        match found {
            None => Ok(()),
            Some(change @ FileChange::Resized { .. }) => {
                self.foreign = Some(change.clone());
                Err(Refusal::Changed(change))
            }
            Some(change) => Err(Refusal::Changed(change)),
        }
    }

    /// How the file at the path differs from the one open, if it does.
    fn check_path(&self) -> Option<FileChange> {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Some(FileChange::Missing);
        };
        if file_id(&meta) != self.id {
            return Some(FileChange::Replaced);
        }
        (meta.len() != self.good_len).then_some(FileChange::Resized {
            expected: self.good_len,
            found: meta.len(),
        })
    }

    /// Writes the head file when records came since it was last written and it is due
    /// (`force`: at close).
    fn keep_head(&mut self, force: bool) {
        let last = self.next_seq - 1;
        let due = self
            .head_written
            .is_none_or(|t| t.elapsed() >= self.tuning.head_every);
        if last <= self.head_seq || !(force || due) {
            return;
        }
        let head = Head {
            seq: last,
            hash: self.prev.clone(),
        };
        match write_head(&self.head_path, &head) {
            Ok(()) => {
                self.head_seq = last;
                self.head_written = Some(Instant::now());
            }
            Err(e) => tracing::warn!(error = %e, "the audit log's head file could not be written"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::audit::record::EndReason;
    use crate::gateway::audit::verify::verify;
    use time::macros::datetime;

    fn ended(i: u64) -> AuditEvent {
        AuditEvent::SessionEnded {
            session_id: format!("s-{i}"),
            user: "ola".into(),
            target_streams: 1,
            bytes_to_target: i,
            bytes_from_target: i * 2,
            duration_ms: 1000,
            reason: EndReason::ClientClosed,
        }
    }

    const T: OffsetDateTime = datetime!(2025-05-25 12:00 UTC);

    #[test]
    fn appends_chain_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        {
            let log = AuditLog::open(&path).unwrap();
            let a = log.append(ended(1), T).unwrap();
            let b = log.append(ended(2), T).unwrap();
            assert_eq!((a.seq, b.seq), (1, 2));
            assert_eq!(a.prev, GENESIS);
            assert_eq!(b.prev, a.hash);
            assert_eq!(
                log.stats(),
                AuditStats {
                    records: 2,
                    syncs: 2
                }
            );
        }
        let log = AuditLog::open(&path).unwrap();
        let c = log.append(ended(3), T).unwrap();
        assert_eq!(c.seq, 3);
        drop(log);
        let report = verify(io::BufReader::new(File::open(&path).unwrap())).unwrap();
        assert_eq!(report.records, 3);
        assert_eq!(report.last_hash, c.hash);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        log.append(ended(1), T).unwrap();
        drop(log);
        for file in [
            path.clone(),
            sibling(&path, ".lock"),
            sibling(&path, ".head"),
        ] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }

    #[test]
    fn torn_or_foreign_tail_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        {
            let log = AuditLog::open(&path).unwrap();
            log.append(ended(1), T).unwrap();
        }
        let whole = std::fs::read(&path).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(b"{\"seq\":2,\"ti");
        std::fs::write(&path, &torn).unwrap();
        match AuditLog::open(&path) {
            Err(AuditError::TornTail { offset, .. }) => assert_eq!(offset, whole.len() as u64),
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, b"not a log").unwrap();
        assert!(matches!(
            AuditLog::open(&path),
            Err(AuditError::TornTail { offset: 0, .. })
        ));
        std::fs::write(&path, b"not a log\n").unwrap();
        assert!(matches!(
            AuditLog::open(&path),
            Err(AuditError::BadTail { .. })
        ));
        std::fs::write(&path, vec![b'x'; 3 * MAX_LINE_LEN]).unwrap();
        assert!(matches!(
            AuditLog::open(&path),
            Err(AuditError::BadTail {
                problem: Problem::TooLong { .. },
                ..
            })
        ));
        let mut long = vec![b'x'; 3 * MAX_LINE_LEN];
        long.push(b'\n');
        std::fs::write(&path, long).unwrap();
        assert!(matches!(
            AuditLog::open(&path),
            Err(AuditError::BadTail {
                problem: Problem::TooLong { .. },
                ..
            })
        ));
    }

    /// Which operations fail, as on a full disk.
    #[derive(Default)]
    struct Faults {
        /// A write puts half its bytes in the file, then fails.
        write: bool,
        /// A write reaches the file, its flush fails.
        sync: bool,
        /// Cutting the file back fails.
        cut: bool,
        /// Appends tried (failed or not).
        appends: usize,
    }

    /// A real file whose writes fail when told to.
    struct Faulty {
        file: File,
        faults: Arc<std::sync::Mutex<Faults>>,
    }

    fn full_disk() -> io::Error {
        io::Error::new(io::ErrorKind::StorageFull, "no space left on device")
    }

    impl Sink for Faulty {
        fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
            let (write, sync) = {
                let mut f = self.faults.lock().unwrap();
                f.appends += 1;
                (f.write, f.sync)
            };
            if write {
                self.file.write_all(&bytes[..bytes.len() / 2])?;
                return Err(full_disk());
            }
            self.file.write_all(bytes)?;
            if sync {
                return Err(full_disk());
            }
            self.file.sync_data()
        }

        fn cut(&mut self, len: u64) -> io::Result<()> {
            if self.faults.lock().unwrap().cut {
                return Err(full_disk());
            }
            self.file.cut(len)
        }
    }

    /// A log over a file whose faults the test sets, retrying after `retry_after`.
    fn faulty(path: &Path, retry_after: Duration) -> (AuditLog, Arc<std::sync::Mutex<Faults>>) {
        let faults = Arc::new(std::sync::Mutex::new(Faults::default()));
        let tuning = Tuning {
            retry_after,
            ..Tuning::default()
        };
        let shared = Arc::clone(&faults);
        let log = AuditLog::open_with(path, Duration::ZERO, tuning, move |file| Faulty {
            file,
            faults: shared,
        })
        .unwrap();
        (log, faults)
    }

    /// A faulty log that retries at once, holding one record; and the file's length then.
    fn faulty_with_one_record() -> (
        tempfile::TempDir,
        PathBuf,
        AuditLog,
        Arc<std::sync::Mutex<Faults>>,
        u64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let (log, faults) = faulty(&path, Duration::ZERO);
        log.append(ended(1), T).unwrap();
        let good = std::fs::metadata(&path).unwrap().len();
        (dir, path, log, faults, good)
    }

    fn records_in(path: &Path) -> u64 {
        verify(io::BufReader::new(File::open(path).unwrap()))
            .unwrap()
            .records
    }

    #[test]
    fn a_failed_write_or_flush_is_cut_back_and_tried_again() {
        let (_dir, path, log, faults, good) = faulty_with_one_record();
        for fault in ["write", "sync"] {
            {
                let mut f = faults.lock().unwrap();
                f.write = fault == "write";
                f.sync = fault == "sync";
            }
            assert!(
                matches!(log.append(ended(2), T), Err(AuditError::Write { .. })),
                "{fault}"
            );
            // Whatever reached the file is gone again: it ends in whole records.
            assert_eq!(std::fs::metadata(&path).unwrap().len(), good, "{fault}");
            assert_eq!(records_in(&path), 1);
        }
        *faults.lock().unwrap() = Faults::default();
        let rec = log.append(ended(2), T).unwrap();
        assert_eq!(rec.seq, 2);
        assert_eq!(log.stats().records, 2);
        drop(log);
        assert_eq!(records_in(&path), 2);
        // Reopening needs no hand work.
        assert_eq!(
            AuditLog::open(&path)
                .unwrap()
                .append(ended(3), T)
                .unwrap()
                .seq,
            3
        );
    }

    #[test]
    fn after_a_failure_nothing_is_tried_until_the_pause_is_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let (log, faults) = faulty(&path, Duration::MAX);
        faults.lock().unwrap().write = true;
        assert!(matches!(
            log.append(ended(1), T),
            Err(AuditError::Write { .. })
        ));
        faults.lock().unwrap().write = false;
        for i in 2..5 {
            assert!(matches!(
                log.append(ended(i), T),
                Err(AuditError::Stopped { .. })
            ));
        }
        // Refusing cost no writes.
        assert_eq!(faults.lock().unwrap().appends, 1);
        assert_eq!(log.stats(), AuditStats::default());
        drop(log);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn a_cut_that_failed_is_done_before_the_next_write() {
        let (_dir, path, log, faults, good) = faulty_with_one_record();
        {
            let mut f = faults.lock().unwrap();
            f.write = true;
            f.cut = true;
        }
        assert!(log.append(ended(2), T).is_err());
        assert!(std::fs::metadata(&path).unwrap().len() > good);
        // Still failing to cut: refused without a write.
        faults.lock().unwrap().write = false;
        assert!(matches!(
            log.append(ended(2), T),
            Err(AuditError::Stopped { .. })
        ));
        assert_eq!(faults.lock().unwrap().appends, 2);
        faults.lock().unwrap().cut = false;
        assert_eq!(log.append(ended(2), T).unwrap().seq, 2);
        drop(log);
        assert_eq!(records_in(&path), 2);
    }

    #[test]
    fn the_head_follows_the_log_and_guards_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let head = sibling(&path, ".head");
        let log = AuditLog::open(&path).unwrap();
        log.append(ended(1), T).unwrap();
        let last = log.append(ended(2), T).unwrap();
        drop(log);
        let kept: Head = serde_json::from_slice(&std::fs::read(&head).unwrap()).unwrap();
        assert_eq!(
            kept,
            Head {
                seq: 2,
                hash: last.hash.clone()
            }
        );
        // Cut short by a record: refused, and says how far the chain went.
        let whole = std::fs::read(&path).unwrap();
        let first_line = whole.iter().position(|&b| b == b'\n').unwrap() + 1;
        std::fs::write(&path, &whole[..first_line]).unwrap();
        match AuditLog::open(&path) {
            Err(AuditError::ChainLost {
                head_seq,
                head_hash,
                found,
                ..
            }) => assert_eq!((head_seq, head_hash, found), (2, last.hash.clone(), 1)),
            other => panic!("{other:?}"),
        }
        // Same length of chain, another last record: refused too.
        let other = AuditRecord::seal(
            2,
            T,
            ended(9),
            &AuditRecord::from_line(std::str::from_utf8(&whole[..first_line]).unwrap())
                .unwrap()
                .hash,
        )
        .unwrap();
        let mut forged = whole[..first_line].to_vec();
        forged.extend_from_slice(other.to_line().unwrap().as_bytes());
        std::fs::write(&path, &forged).unwrap();
        assert!(matches!(
            AuditLog::open(&path),
            Err(AuditError::ChainLost { found: 2, .. })
        ));
        // Put back, it opens; a head that lags the log is fine.
        std::fs::write(&path, &whole).unwrap();
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.append(ended(3), T).unwrap().seq, 3);
        drop(log);
        std::fs::write(&head, b"{\"seq\":1,").unwrap();
        assert!(matches!(
            AuditLog::open(&path),
            Err(AuditError::Open { path: p, .. }) if p == head
        ));
    }

    #[test]
    fn absurd_input_is_cut_to_fit() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path().join("audit.jsonl")).unwrap();
        // `bounded()` cuts every text field, so even absurd input becomes a record.
        let huge = AuditEvent::StreamOpened {
            session_id: "x".repeat(10 * MAX_LINE_LEN),
            user: "u".repeat(10 * MAX_LINE_LEN),
            source: "192.0.2.7:50412".parse().unwrap(),
            target: "y".repeat(10 * MAX_LINE_LEN),
            address: "10.0.0.1:3389".parse().unwrap(),
        };
        let rec = log.append(huge, T).unwrap();
        assert!(rec.to_line().unwrap().len() < MAX_LINE_LEN);
        assert_eq!(log.append(ended(2), T).unwrap().seq, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_appends_from_many_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let mut tasks = Vec::new();
        for i in 0..50u64 {
            let log = Arc::clone(&log);
            tasks.push(tokio::spawn(
                async move { log.append_async(ended(i), T).await },
            ));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().unwrap().seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
        let stats = log.stats();
        assert_eq!(stats.records, 50);
        assert!(stats.syncs <= 50);
        drop(log);
        let report = verify(io::BufReader::new(File::open(&path).unwrap())).unwrap();
        assert_eq!(report.records, 50);
    }
}
