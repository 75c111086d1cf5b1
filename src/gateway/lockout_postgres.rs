//! The lockout counts shared by several gateways, in the PostgreSQL database that holds their
//! audit chain (`lockout_counters`, `installer/gateway/postgres/schema.sql`). The table is
//! only ever added to, like the chain, so the gateways' role may read and insert and nothing
//! else: a key's counts are its newest row, in the form [`Lockout::share`] gives (an empty
//! state: nothing remembered). A login reads its three keys (username, card, address) before
//! the password check, so a lock taken on any gateway refuses it here; after the check it
//! counts in one transaction that takes [`LOCKOUT_LOCK`], reads the keys again, decides, and
//! adds a row for each key that changed, so two gateways never lose each other's failures. The
//! lock is one for all keys: logins are few and the transaction short, and one lock cannot
//! deadlock. Old rows are the owner's to remove (`docs/cluster.md`).
//!
//! When the database cannot be reached the login is not decided at all: it is refused as
//! "cannot log in now" (the audit chain is in the same database, so nothing could be recorded
//! either).

use std::time::Instant;

use tokio::sync::Mutex;
use tokio_postgres::Client;

use super::audit::postgres::{connect, connection_config, DATABASE_WAIT};
use super::config::PostgresSettings;
use super::lockout::{LockKey, Lockout, SharedCounter};

/// The advisory lock that orders lockout counting between gateways ("hklock01").
pub const LOCKOUT_LOCK: i64 = 0x686b_6c6f_636b_3031;

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

/// What counting did to each key, in the keys' order: `None` unchanged, else its new counts.
pub type Changes = Vec<Option<Option<SharedCounter>>>;

/// The gateway's connection for lockout counting: made when first needed and again when it
/// was lost, one transaction at a time.
pub struct SharedLockout {
    config: tokio_postgres::Config,
    place: String,
    client: Mutex<Option<Client>>,
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
        })
    }

    /// The keys' counts now, without a lock (a login's first look, before its password).
    pub async fn read(&self, keys: &[LockKey]) -> Result<SharedRows, SharedLockoutError> {
        let mut slot = self.client.lock().await;
        let answer = tokio::time::timeout(DATABASE_WAIT, async {
            let client = self.connected(&mut slot).await?;
            self.select(client, keys).await
        })
        .await;
        self.settle(&mut slot, answer)
    }

    /// Counts a login: in one transaction under [`LOCKOUT_LOCK`], `decide` gets the keys'
    /// counts and gives its answer with what changed (a new row for each changed key).
    /// Nothing is decided unless the transaction could start, and an answer is returned only
    /// once its counts are committed.
    pub async fn count<T>(
        &self,
        keys: &[LockKey],
        decide: impl FnOnce(&SharedRows) -> (T, Changes),
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
            let rows = self.select(&tx, keys).await?;
            let (answer, changes) = decide(&rows);
            for (key, change) in keys.iter().zip(&changes) {
                if let Some(after) = change {
                    self.write(&tx, key, after.as_ref()).await?;
                }
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
    ) -> Result<SharedRows, SharedLockoutError> {
        let mut out = Vec::with_capacity(keys.len());
        let query = "SELECT state FROM lockout_counters WHERE scope = $1 AND key = $2 \
                     ORDER BY id DESC LIMIT 1";
        for key in keys {
            let (scope, name) = key.columns();
            let row = client
                .query_opt(query, &[&scope, &name])
                .await
                .map_err(|e| self.failed("read", &e))?;
            let state: Option<String> = row.and_then(|row| row.get(0));
            let counter = match state {
                None => None,
                Some(text) => {
                    // A row this gateway cannot read counts as nothing remembered, as a
                    // damaged lockout file does; a newer row follows at the next failure.
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
        let text = counter
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| SharedLockoutError {
                place: self.place.clone(),
                doing: "written",
                detail: e.to_string(),
            })?;
        let done = tx
            .execute(
                "INSERT INTO lockout_counters (scope, key, state, written) \
                 VALUES ($1, $2, $3, now())",
                &[&scope, &name, &text],
            )
            .await;
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
                let share = |l: &Lockout| -> SharedRows {
                    keys.iter().map(|k| l.share(k, now.0, now.1)).collect()
                };
                let before = share(&lockout);
                let answer = decide(&mut lockout);
                let changes = before
                    .into_iter()
                    .zip(share(&lockout))
                    .map(|(b, a)| (b != a).then_some(a))
                    .collect();
                (answer, changes)
            })
            .await
    }
}
