//! The log file: opening it where the last run left it, and appending records that are on
//! disk before the caller hears back.
//!
//! One writer thread owns the file. Callers (threads or tokio tasks) hand it an event and a
//! reply channel; it takes every event waiting, writes their lines in one `write`, calls
//! `sync_data` once, and only then answers each caller (group commit). Under load many
//! records share one disk flush; alone, a record costs one. If a write or flush fails, the
//! log stops: that and every later append fail, because nobody can know what reached the
//! disk, and the gateway must refuse logins rather than let them go unrecorded.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use time::OffsetDateTime;

use super::record::{AuditEvent, AuditRecord, RecordError, GENESIS, MAX_LINE_LEN};
use super::verify::Problem;

/// Most records written with one flush; bounds the memory of one batch.
const MAX_BATCH: usize = 1024;

/// Why the log could not be opened or a record not written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, created or read.
    #[error("could not open the audit log {}: {source}", path.display())]
    Open {
        /// The log file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
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
    /// Writing or flushing the log failed; this record is not recorded.
    #[error("could not write the audit log: {source}")]
    Write {
        /// What the system said.
        #[source]
        source: Arc<io::Error>,
    },
    /// An earlier write or flush failed, so the log takes no more records until reopened.
    #[error("the audit log stopped after an earlier write failure: {source}")]
    Stopped {
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
}

/// Counts since the log was opened, for benchmarks and health reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStats {
    /// Records written and flushed.
    pub records: u64,
    /// Calls to `sync_data`; `records / syncs` is the group-commit gain.
    pub syncs: u64,
}

type Outcome = Result<AuditRecord, AuditError>;

enum Reply {
    Blocking(mpsc::SyncSender<Outcome>),
    Async(tokio::sync::oneshot::Sender<Outcome>),
}

impl Reply {
    fn send(self, outcome: Outcome) {
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

struct Job {
    event: AuditEvent,
    time: OffsetDateTime,
    reply: Reply,
}

#[derive(Default)]
struct Counters {
    records: AtomicU64,
    syncs: AtomicU64,
}

/// The gateway's audit log: append-only, hash-chained, durable before it answers.
///
/// Share it by reference or `Arc`; `append` and `append_async` may be called from any
/// number of threads and tasks at once. Dropping it lets the writer finish what it was
/// given and waits for it.
pub struct AuditLog {
    path: PathBuf,
    tx: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
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
    /// Opens the log at `path` (created with mode 0600 if missing) and continues its chain
    /// from the last record. Refuses a file whose last line is torn or not a sound record:
    /// run `audit verify` and let a person decide. Only the last line is read; checking the
    /// whole chain is `audit verify`'s job.
    pub fn open(path: impl AsRef<Path>) -> Result<AuditLog, AuditError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| AuditError::Open {
            path: path.clone(),
            source,
        };
        let mut file = open_append(&path).map_err(open_err)?;
        let (next_seq, prev) = read_tail(&mut file, &path)?;
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            file,
            next_seq,
            prev,
            failed: None,
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
        })
    }

    /// The log file.
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
        tx.send(Job { event, time, reply })
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

/// Opens for appending; a new file gets mode 0600 and its directory entry is flushed, so
/// the file itself survives a crash right after the first record.
fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
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

/// Reads the last line and returns the next `seq` and the `prev` to chain to.
fn read_tail(file: &mut File, path: &Path) -> Result<(u64, String), AuditError> {
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
        return Ok((1, GENESIS.to_string()));
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
    let next = rec.seq.checked_add(1).ok_or_else(|| {
        bad(Problem::Unparsable {
            detail: "seq is at its largest value".into(),
        })
    })?;
    Ok((next, rec.hash))
}

/// The writer thread's state: the file and where the chain stands.
struct Writer {
    file: File,
    next_seq: u64,
    prev: String,
    failed: Option<Arc<io::Error>>,
    counters: Arc<Counters>,
}

impl Writer {
    fn run(mut self, rx: &mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(64);
        while let Ok(first) = rx.recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    /// Writes every job of `batch` with one write and one flush, then answers each.
    fn commit(&mut self, batch: &mut Vec<Job>) {
        if let Some(source) = &self.failed {
            for job in batch.drain(..) {
                job.reply.send(Err(AuditError::Stopped {
                    source: Arc::clone(source),
                }));
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
            let flushed = self
                .file
                .write_all(&bytes)
                .and_then(|()| self.file.sync_data());
            match flushed {
                Ok(()) => {
                    self.next_seq = seq;
                    self.prev = prev;
                    self.counters.records.fetch_add(written, Ordering::Relaxed);
                    self.counters.syncs.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let source = Arc::new(e);
                    tracing::error!(error = %source, "audit log write failed; the log is stopped");
                    self.failed = Some(Arc::clone(&source));
                    for (_, outcome) in &mut answers {
                        if outcome.is_ok() {
                            *outcome = Err(AuditError::Write {
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
    fn new_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        drop(AuditLog::open(&path).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
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

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_stops_the_log() {
        // Every write to /dev/full fails with "no space left on device".
        let log = AuditLog::open("/dev/full").unwrap();
        assert!(matches!(
            log.append(ended(1), T),
            Err(AuditError::Write { .. })
        ));
        assert!(matches!(
            log.append(ended(2), T),
            Err(AuditError::Stopped { .. })
        ));
        assert_eq!(log.stats(), AuditStats::default());
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
