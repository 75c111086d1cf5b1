//! The audit chain in PostgreSQL, for several gateways: one table, one chain. Each batch of
//! records is appended in one transaction that first takes a transaction-level advisory lock
//! ([`CHAIN_LOCK`]), then reads the chain's last record and seals the new ones after it, so
//! two gateways never fork the chain; `seq` is the primary key besides, so even a writer that
//! skipped the lock could not. A record is answered only after its transaction committed,
//! as with the file. The table and the gateway's rights (read and append, nothing else) are
//! in `installer/gateway/postgres/schema.sql`.
//!
//! Each row keeps the record's exact JSON line, so `audit verify` and `audit query` read the
//! table through the same code as the file (`read_lines`).
//!
//! The writer is a thread with its own single-threaded runtime, like the file's writer
//! thread: the gateway's tasks hand it records through the same channel and get the same
//! answers.

use std::io::{self, BufRead, Read};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

use super::log::{AuditError, Counters, DatabaseFailure, Job, Message};
use super::record::{AuditRecord, GENESIS};
use crate::gateway::config::PostgresSettings;
use crate::secret::Password;

/// The advisory lock that orders appends to the chain ("hkaudit1").
pub const CHAIN_LOCK: i64 = 0x686b_6175_6469_7431;
/// Longest wait for a connection, and for one batch or probe.
pub const DATABASE_WAIT: Duration = Duration::from_secs(5);
/// Most records written in one transaction.
const MAX_BATCH: usize = 1024;
/// Rows fetched at a time when the chain is read back.
const READ_PAGE: i64 = 5000;

/// Starts the writer thread and waits until it has a connection and has read the chain's
/// end. Returns its channel, the thread, and the database's description for messages.
/// Blocks; the connection is made on the writer's own thread, so this may be called from
/// anywhere, an async task included.
pub(super) fn start_writer(
    settings: &PostgresSettings,
    counters: Arc<Counters>,
) -> Result<(mpsc::Sender<Message>, JoinHandle<()>, String), AuditError> {
    let place = settings.conninfo.clone();
    let config = connection_config(settings)?;
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let thread_place = place.clone();
    let handle = std::thread::Builder::new()
        .name("audit-writer-pg".into())
        .spawn(move || {
            let writer = match Writer::connect(config, thread_place, counters) {
                Ok(writer) => {
                    let _ = ready_tx.send(Ok(()));
                    writer
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            writer.run(&rx);
        })
        .map_err(|e| unreachable_db(&place, e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((tx, handle, place)),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => Err(AuditError::Closed),
    }
}

/// The connection string with the password from its file, if any (also the shared lockout's).
pub(crate) fn connection_config(
    settings: &PostgresSettings,
) -> Result<tokio_postgres::Config, AuditError> {
    let place = &settings.conninfo;
    let mut config: tokio_postgres::Config = settings
        .conninfo
        .parse()
        .map_err(|e: tokio_postgres::Error| unreachable_db(place, e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DATABASE_WAIT);
    }
    config.application_name("hjemmekontor-gateway");
    if let Some(file) = &settings.password_file {
        let text = std::fs::read_to_string(file).map_err(|e| AuditError::Database {
            place: place.clone(),
            what: DatabaseFailure::Login,
            detail: format!("the password file {} cannot be read: {e}", file.display()),
        })?;
        let password = Password::from_input(text);
        config.password(password.expose());
    }
    Ok(config)
}

pub(crate) async fn connect(
    config: &tokio_postgres::Config,
    place: &str,
) -> Result<Client, AuditError> {
    let connecting = tokio::time::timeout(DATABASE_WAIT, config.connect(NoTls)).await;
    let (client, connection) = match connecting {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Err(unreachable_db(place, e.to_string())),
        Err(_) => {
            return Err(unreachable_db(
                place,
                format!("no answer within {} s", DATABASE_WAIT.as_secs()),
            ))
        }
    };
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("a database connection ended: {e}");
        }
    });
    Ok(client)
}

fn unreachable_db(place: &str, detail: String) -> AuditError {
    AuditError::Database {
        place: place.to_string(),
        what: DatabaseFailure::Unreachable,
        detail,
    }
}

fn refused(place: &str, what: DatabaseFailure, e: &tokio_postgres::Error) -> AuditError {
    // The server's own words (permission denied, no such table) say most.
    let detail = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_string());
    AuditError::Database {
        place: place.to_string(),
        what,
        detail,
    }
}

/// The chain's last record: its `seq` and hash; `(0, GENESIS)` for an empty table.
async fn tail(
    client: &impl tokio_postgres::GenericClient,
) -> Result<(u64, String), tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map_or_else(
        || (0, GENESIS.to_string()),
        |r| (u64::try_from(r.get::<_, i64>(0)).unwrap_or(0), r.get(1)),
    ))
}

struct Writer {
    runtime: Runtime,
    config: tokio_postgres::Config,
    /// `None` after the connection was found broken, until it is made again.
    client: Option<Client>,
    place: String,
    counters: Arc<Counters>,
}

impl Writer {
    /// The writer, connected, once the chain's end could be read.
    fn connect(
        config: tokio_postgres::Config,
        place: String,
        counters: Arc<Counters>,
    ) -> Result<Writer, AuditError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unreachable_db(&place, e.to_string()))?;
        let client = runtime.block_on(connect(&config, &place))?;
        runtime
            .block_on(tail(&client))
            .map_err(|e| refused(&place, DatabaseFailure::Read, &e))?;
        Ok(Writer {
            runtime,
            config,
            client: Some(client),
            place,
            counters,
        })
    }

    fn run(mut self, rx: &mpsc::Receiver<Message>) {
        let mut batch = Vec::with_capacity(64);
        let mut probes = Vec::new();
        while let Ok(first) = rx.recv() {
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
            }
            for reply in probes.drain(..) {
                let _ = reply.send(self.probe().map_err(|e| e.to_string()));
            }
        }
    }

    /// Makes the connection again if it was lost.
    fn reconnect(&mut self) -> Result<(), AuditError> {
        // Lets the connection task see a close that came while nothing was asked.
        self.runtime.block_on(tokio::task::yield_now());
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            let client = self.runtime.block_on(connect(&self.config, &self.place))?;
            tracing::info!("the audit database is reached again");
            self.client = Some(client);
        }
        Ok(())
    }

    /// Whether a record would be taken now: the database answers and the table reads.
    fn probe(&mut self) -> Result<(), AuditError> {
        self.reconnect()?;
        let client = self.client.as_mut().ok_or(AuditError::Closed)?;
        let read = self
            .runtime
            .block_on(async { tokio::time::timeout(DATABASE_WAIT, tail(client)).await });
        match read {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.lost(&e, DatabaseFailure::Read)),
            Err(_) => Err(self.silent()),
        }
    }

    /// Appends every job of `batch` in one transaction, then answers each.
    fn commit(&mut self, batch: &mut Vec<Job>) {
        let jobs: Vec<Job> = std::mem::take(batch);
        let outcome = match self.reconnect() {
            Err(e) => Err(e),
            Ok(()) => self.append(&jobs),
        };
        match outcome {
            Ok(sealed) => {
                let written = sealed.iter().filter(|r| r.is_ok()).count() as u64;
                self.counters.records.fetch_add(written, Ordering::Relaxed);
                self.counters.syncs.fetch_add(1, Ordering::Relaxed);
                for (job, result) in jobs.into_iter().zip(sealed) {
                    job.reply.send(result.map_err(AuditError::from));
                }
            }
            Err(e) => {
                tracing::error!("audit records refused: {e}");
                for job in jobs {
                    job.reply.send(Err(clone_error(&e)));
                }
            }
        }
    }

    /// The transaction: lock the chain, read its end, seal and insert each record after it.
    /// A record that cannot be formed is answered with its error and takes no place.
    fn append(
        &mut self,
        jobs: &[Job],
    ) -> Result<Vec<Result<AuditRecord, super::record::RecordError>>, AuditError> {
        let client = self.client.as_mut().ok_or(AuditError::Closed)?;
        let work = async {
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])
                .await?;
            let (last, mut prev) = tail(&tx).await?;
            let insert = tx
                .prepare(
                    "INSERT INTO audit_records (seq, time, hash, prev, line) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .await?;
            let mut seq = last + 1;
            let mut sealed = Vec::with_capacity(jobs.len());
            for job in jobs {
                let formed = AuditRecord::seal(seq, job.time, job.event.clone().bounded(), &prev)
                    .and_then(|rec| rec.to_line().map(|line| (rec, line)));
                let (rec, line) = match formed {
                    Ok(pair) => pair,
                    Err(e) => {
                        sealed.push(Err(e));
                        continue;
                    }
                };
                let number = i64::try_from(seq).unwrap_or(i64::MAX);
                let time: OffsetDateTime = rec.time;
                tx.execute(
                    &insert,
                    &[&number, &time, &rec.hash, &rec.prev, &line.trim_end()],
                )
                .await?;
                prev.clone_from(&rec.hash);
                seq += 1;
                sealed.push(Ok(rec));
            }
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(sealed)
        };
        match self
            .runtime
            .block_on(async { tokio::time::timeout(DATABASE_WAIT, work).await })
        {
            Ok(Ok(sealed)) => Ok(sealed),
            Ok(Err(e)) => Err(self.lost(&e, DatabaseFailure::Append)),
            Err(_) => Err(self.silent()),
        }
    }

    /// The error for a failed statement; a broken connection is made again next time.
    fn lost(&mut self, e: &tokio_postgres::Error, what: DatabaseFailure) -> AuditError {
        if e.is_closed() || e.as_db_error().is_none() {
            self.client = None;
        }
        refused(&self.place, what, e)
    }

    /// The error for a database that did not answer in time; the connection is dropped, since
    /// its state (a transaction half done) is not known.
    fn silent(&mut self) -> AuditError {
        self.client = None;
        unreachable_db(
            &self.place,
            format!("no answer within {} s", DATABASE_WAIT.as_secs()),
        )
    }
}

/// The same error for every record of a refused batch.
fn clone_error(e: &AuditError) -> AuditError {
    match e {
        AuditError::Database {
            place,
            what,
            detail,
        } => AuditError::Database {
            place: place.clone(),
            what: *what,
            detail: detail.clone(),
        },
        other => AuditError::Database {
            place: String::new(),
            what: DatabaseFailure::Append,
            detail: other.to_string(),
        },
    }
}

/// The whole chain as JSON lines, in order, fetched a page at a time: what `audit verify`
/// and `audit query` read. Blocks.
pub fn read_lines(settings: &PostgresSettings) -> Result<impl BufRead, AuditError> {
    let place = settings.conninfo.clone();
    let config = connection_config(settings)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| unreachable_db(&place, e.to_string()))?;
    let client = runtime.block_on(connect(&config, &place))?;
    Ok(io::BufReader::new(Pages {
        runtime,
        client,
        place,
        after: 0,
        page: Vec::new(),
        at: 0,
        done: false,
    }))
}

/// Rows read a page at a time, as bytes of lines.
struct Pages {
    runtime: Runtime,
    client: Client,
    place: String,
    /// The last `seq` read.
    after: i64,
    page: Vec<u8>,
    at: usize,
    done: bool,
}

impl Pages {
    fn fetch(&mut self) -> io::Result<()> {
        let rows = self
            .runtime
            .block_on(self.client.query(
                "SELECT seq, line FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&self.after, &READ_PAGE],
            ))
            .map_err(|e| io::Error::other(refused(&self.place, DatabaseFailure::Read, &e)))?;
        self.page.clear();
        self.at = 0;
        self.done = rows.is_empty();
        for row in rows {
            self.after = row.get(0);
            let line: &str = row.get(1);
            self.page.extend_from_slice(line.as_bytes());
            self.page.push(b'\n');
        }
        Ok(())
    }
}

impl Read for Pages {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.page.len() && !self.done {
            self.fetch()?;
        }
        let n = (self.page.len() - self.at).min(out.len());
        out[..n].copy_from_slice(&self.page[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
