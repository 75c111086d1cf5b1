//! The lockout counts shared by several gateways, in the PostgreSQL database that holds their
//! audit chain: one row per key (`lockout_counters`, `installer/gateway/postgres/schema.sql`)
//! in the form [`Lockout::share`] gives. A login reads its three keys (username, card,
//! address) before the password check, so a lock taken on any gateway refuses it here; after
//! the check it counts in one transaction that takes [`LOCKOUT_LOCK`], reads the keys again,
//! decides, and writes them back, so two gateways never lose each other's failures. The lock
//! is one for all keys: logins are few and the transaction short, and one lock cannot
//! deadlock.
//!
//! When the database cannot be reached the login is not decided at all: it is refused as
//! "cannot log in now" (the audit chain is in the same database, so nothing could be recorded
//! either).

use tokio::sync::Mutex;
use tokio_postgres::Client;

use super::audit::postgres::{connect, connection_config, DATABASE_WAIT};
use super::config::PostgresSettings;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::lockout::{LockKey, Lockout, SharedCounter};

/// The advisory lock that orders lockout counting between gateways ("hklock01").
pub const LOCKOUT_LOCK: i64 = 0x686b_6c6f_636b_3031;

/// Every so many countings, rows untouched for longer than any count or lock can matter
/// (a window of at most a day, locks of at most a week that are forgotten a week after they
/// end) are removed: keys that failed once and never came back.
const SWEEP_EVERY: u64 = 256;

/// The shared counts could not be read or written; says what, never a password.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the shared lockout counts in {place} could not be {doing}: {detail}")]
pub struct SharedLockoutError {
    place: String,
    doing: &'static str,
    detail: String,
}

/// The counts of one login's keys as the table holds them, in the keys' order.
pub type SharedRows = Vec<Option<SharedCounter>>;

/// The gateway's connection for lockout counting: made when first needed and again when it
/// was lost, one transaction at a time.
pub struct SharedLockout {
    config: tokio_postgres::Config,
    place: String,
    client: Mutex<Option<Client>>,
    counted: AtomicU64,
}

impl std::fmt::Debug for SharedLockout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLockout")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

impl SharedLockout {
    /// The counts in the audit chain's database (reads the password file now).
    pub fn new(settings: &PostgresSettings) -> Result<SharedLockout, SharedLockoutError> {
        let place = settings.conninfo.clone();
        let config = connection_config(settings).map_err(|e| SharedLockoutError {
            place: place.clone(),
            doing: "reached",
            detail: e.to_string(),
        })?;
        Ok(SharedLockout {
            config,
            place,
            client: Mutex::new(None),
            counted: AtomicU64::new(0),
        })
    }

    /// The keys' counts now, without a lock (a login's first look, before its password).
    pub async fn read(&self, keys: &[LockKey]) -> Result<SharedRows, SharedLockoutError> {
        let mut slot = self.client.lock().await;
        let answer = tokio::time::timeout(DATABASE_WAIT, async {
            let client = self.connected(&mut slot).await?;
            self.select(client, keys, false).await
        })
        .await;
        self.settle(&mut slot, answer)
    }

    /// Counts a login: in one transaction under [`LOCKOUT_LOCK`], `decide` gets the keys'
    /// counts and gives its answer with the counts to write back (`None`: forget the key).
    /// Nothing is decided unless the transaction could start, and an answer is returned only
    /// once its counts are committed.
    pub async fn count<T>(
        &self,
        keys: &[LockKey],
        decide: impl FnOnce(&SharedRows) -> (T, SharedRows),
    ) -> Result<T, SharedLockoutError> {
        let mut slot = self.client.lock().await;
        let answer = tokio::time::timeout(DATABASE_WAIT, async {
            let client = self.connected(&mut slot).await?;
            let tx = client
                .transaction()
                .await
                .map_err(|e| self.failed("counted", &e))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCKOUT_LOCK])
                .await
                .map_err(|e| self.failed("locked", &e))?;
            let rows = self.select(&tx, keys, true).await?;
            let (answer, after) = decide(&rows);
            for (key, (before, after)) in keys.iter().zip(rows.iter().zip(&after)) {
                if before != after {
                    self.write(&tx, key, after.as_ref()).await?;
                }
            }
            if self
                .counted
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(SWEEP_EVERY)
            {
                tx.execute(
                    "DELETE FROM lockout_counters WHERE updated < now() - interval '15 days'",
                    &[],
                )
                .await
                .map_err(|e| self.failed("swept", &e))?;
            }
            tx.commit().await.map_err(|e| self.failed("written", &e))?;
            Ok(answer)
        })
        .await;
        self.settle(&mut slot, answer)
    }

    async fn connected<'c>(
        &self,
        slot: &'c mut Option<Client>,
    ) -> Result<&'c mut Client, SharedLockoutError> {
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = None;
            let client =
                connect(&self.config, &self.place)
                    .await
                    .map_err(|e| SharedLockoutError {
                        place: self.place.clone(),
                        doing: "reached",
                        detail: e.to_string(),
                    })?;
            *slot = Some(client);
        }
        Ok(slot.as_mut().expect("connected just now"))
    }

    async fn select(
        &self,
        client: &impl tokio_postgres::GenericClient,
        keys: &[LockKey],
        for_update: bool,
    ) -> Result<SharedRows, SharedLockoutError> {
        let mut out = Vec::with_capacity(keys.len());
        let query = if for_update {
            "SELECT state FROM lockout_counters WHERE scope = $1 AND key = $2 FOR UPDATE"
        } else {
            "SELECT state FROM lockout_counters WHERE scope = $1 AND key = $2"
        };
        for key in keys {
            let (scope, name) = key.columns();
            let row = client
                .query_opt(query, &[&scope, &name])
                .await
                .map_err(|e| self.failed("read", &e))?;
            let counter = match row {
                None => None,
                Some(row) => {
                    let text: String = row.get(0);
                    // A row this gateway cannot read counts as nothing remembered, as a
                    // damaged lockout file does; it is written over at the next failure.
                    serde_json::from_str(&text)
                        .inspect_err(|e| {
                            tracing::warn!(scope, "a shared lockout row cannot be read: {e}")
                        })
                        .ok()
                }
            };
            out.push(counter);
        }
        Ok(out)
    }

    async fn write(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        key: &LockKey,
        counter: Option<&SharedCounter>,
    ) -> Result<(), SharedLockoutError> {
        let (scope, name) = key.columns();
        let done = match counter {
            None => {
                tx.execute(
                    "DELETE FROM lockout_counters WHERE scope = $1 AND key = $2",
                    &[&scope, &name],
                )
                .await
            }
            Some(counter) => {
                let text = serde_json::to_string(counter).map_err(|e| SharedLockoutError {
                    place: self.place.clone(),
                    doing: "written",
                    detail: e.to_string(),
                })?;
                tx.execute(
                    "INSERT INTO lockout_counters (scope, key, state, updated) \
                     VALUES ($1, $2, $3, now()) \
                     ON CONFLICT (scope, key) DO UPDATE SET state = $3, updated = now()",
                    &[&scope, &name, &text],
                )
                .await
            }
        };
        done.map(drop).map_err(|e| self.failed("written", &e))
    }

    fn failed(&self, doing: &'static str, e: &tokio_postgres::Error) -> SharedLockoutError {
        // The server's own words (permission denied, no such table) say most.
        let detail = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |db| db.message().to_string());
        SharedLockoutError {
            place: self.place.clone(),
            doing,
            detail,
        }
    }

    /// The operation's result; a connection that failed or timed out is dropped, so the next
    /// login connects again (and the server rolls back what it left open).
    fn settle<T>(
        &self,
        slot: &mut Option<Client>,
        answer: Result<Result<T, SharedLockoutError>, tokio::time::error::Elapsed>,
    ) -> Result<T, SharedLockoutError> {
        let result = answer.unwrap_or_else(|_| {
            Err(SharedLockoutError {
                place: self.place.clone(),
                doing: "reached",
                detail: format!("no answer within {} s", DATABASE_WAIT.as_secs()),
            })
        });
        if result.is_err() {
            *slot = None;
        }
        result
    }
}

/// A gateway's lockout: its counts in memory, and, when several gateways share them, the
/// table that is the truth for every key a login touches.
#[derive(Debug)]
pub struct LockoutBook {
    local: std::sync::Mutex<Lockout>,
    shared: Option<SharedLockout>,
}

impl LockoutBook {
    /// Counts of this gateway alone.
    pub fn alone(lockout: Lockout) -> LockoutBook {
        LockoutBook {
            local: std::sync::Mutex::new(lockout),
            shared: None,
        }
    }

    /// Counts shared with other gateways through `shared`.
    pub fn shared(lockout: Lockout, shared: SharedLockout) -> LockoutBook {
        LockoutBook {
            local: std::sync::Mutex::new(lockout),
            shared: Some(shared),
        }
    }

    /// Whether the counts are shared (then no lockout file is kept).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The counts in memory.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Lockout> {
        self.local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Brings `keys` up to date with the other gateways' counts (nothing to do alone).
    /// `now`: the monotonic time and the wall clock's Unix milliseconds.
    pub async fn refresh(
        &self,
        keys: &[LockKey],
        now: (Instant, i64),
    ) -> Result<(), SharedLockoutError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let rows = shared.read(keys).await?;
        let mut lockout = self.lock();
        for (key, row) in keys.iter().zip(&rows) {
            lockout.adopt(key, row.as_ref(), now.0, now.1);
        }
        Ok(())
    }

    /// Runs `decide` on the counts; shared, on the table's counts of `keys` under the lock,
    /// which are written back before the answer is returned.
    pub async fn count<T>(
        &self,
        keys: &[LockKey],
        now: (Instant, i64),
        decide: impl FnOnce(&mut Lockout) -> T,
    ) -> Result<T, SharedLockoutError> {
        let Some(shared) = &self.shared else {
            return Ok(decide(&mut self.lock()));
        };
        shared
            .count(keys, |rows| {
                let mut lockout = self.lock();
                for (key, row) in keys.iter().zip(rows) {
                    lockout.adopt(key, row.as_ref(), now.0, now.1);
                }
                let answer = decide(&mut lockout);
                let after = keys
                    .iter()
                    .map(|k| lockout.share(k, now.0, now.1))
                    .collect();
                (answer, after)
            })
            .await
    }
}
