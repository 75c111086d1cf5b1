//! The gateway's network shell: accepts TCP, runs the TLS handshake (card certificate
//! required), reads the login, asks the pure cores (`auth`, `access`) for a decision, writes
//! the audit record **before** answering, and relays the session's streams.
//!
//! Every wait is bounded by the configuration's limits; every login attempt, including a
//! certificate refused during the handshake, is one audit record.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::server::Acceptor;
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::{LazyConfigAcceptor, StartHandshake};
use tokio_util::sync::CancellationToken;

use super::access::{self, AccessError};
use super::admission::{Admission, AdmissionLimits, Pending, Stage, HELLO_WAIT};
use super::audit::{AuditError, AuditEvent, AuditLog, EndReason, RefusalReason, TargetRefusal};
use super::auth::{self, Lockout};
use super::config::{AuditStore, Config};
use super::directory::{Directory, DirectoryError};
use super::live::LiveSessions;
use super::lockout_file::{self, LockoutFile};
use super::lockout_postgres::{LockoutBook, SharedLockout, SharedLockoutError};
use super::password_pool::{LoginOutcome, PasswordPool};
use super::proxy_header;
use super::refusals::{self, Refusals};
use super::relay::{
    serve_session, Authorizer, BoxFuture, RelayLimits, SessionHandle, StreamRefusal,
};
use crate::posture;
use crate::tunnel::busy;
use crate::tunnel::mux::MuxServer;
use crate::tunnel::protocol::{self, Accepted, GatewayMessage, RejectCode, Rejected, TargetInfo};
use crate::tunnel::read_ahead::ReadAhead;
use crate::tunnel::tls::{
    refusal_detail_of, verified_client, GatewayClientVerifier, ReloadSummary,
    ReloadableServerConfig, ServerIdentity, TlsError, TlsRefusal, TrustMaterial,
};
use rustls::pki_types::{CertificateDer, UnixTime};

mod door;
mod health;
mod login;
mod session;
mod shards;

pub use shards::Shards;

use door::*;
use login::*;

/// The time, injected so tests can fix it (certificate validity, lockout windows).
pub trait Clock: Send + Sync {
    /// Wall-clock time for audit records.
    fn now_utc(&self) -> OffsetDateTime;
    /// Monotonic time for lockout windows.
    fn instant(&self) -> Instant;
}

/// Unix milliseconds of the clock's wall time.
pub(crate) fn wall_ms(clock: &dyn Clock) -> i64 {
    i64::try_from(clock.now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The lockout: shared in the database when the audit chain is there (several gateways),
/// otherwise this gateway's own, read back from its file.
fn lockout_book(
    config: &Config,
    file: &LockoutFile,
    clock: &dyn Clock,
) -> Result<LockoutBook, ServerError> {
    if let AuditStore::Postgres(settings) = &config.audit.store {
        let shared = SharedLockout::new(settings).map_err(ServerError::SharedLockout)?;
        return Ok(LockoutBook::shared(Lockout::new(config.lockout), shared));
    }
    let lockout = match lockout_file::load(file.path()) {
        Ok(Some(kept)) => Lockout::restore(config.lockout, &kept, clock.instant(), wall_ms(clock)),
        Ok(None) => Lockout::new(config.lockout),
        Err(e) => {
            tracing::warn!("the lockout state cannot be read ({e}); starting without it");
            eprintln!("ADVARSEL: låsetilstanden kan ikke leses ({e}); gatewayen starter uten den.");
            Lockout::new(config.lockout)
        }
    };
    Ok(LockoutBook::alone(lockout))
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// Why the gateway cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The audit log cannot be opened or written: the gateway refuses to run unaudited.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The server certificate, key, trust anchors or CRLs cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The shared lockout counts' database cannot be used (its password file).
    #[error("{0}")]
    SharedLockout(SharedLockoutError),
    /// The directory's CA or service password cannot be read.
    #[error("{0}")]
    Directory(DirectoryError),
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
}

/// A running gateway's shared state.
pub struct Gateway {
    config: Config,
    tls: ReloadableServerConfig,
    audit: Arc<AuditLog>,
    refusals: Arc<Refusals>,
    lockout: LockoutBook,
    /// Where the users come from when not from `[[user]]` entries.
    directory: Option<Directory>,
    lockout_file: LockoutFile,
    admission: Admission,
    passwords: PasswordPool,
    live: LiveSessions,
    turning_away: Arc<Semaphore>,
    sessions: Arc<Semaphore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

fn trust_of(config: &Config) -> Result<TrustMaterial, TlsError> {
    TrustMaterial::read_files(
        &config.trust.anchors,
        &config.trust.intermediates,
        &config.trust.crls,
    )
}

impl Gateway {
    /// Opens the audit log, loads the server identity and trust, and records the start with the
    /// dangerous options in force.
    pub fn new(config: Config, clock: Arc<dyn Clock>) -> Result<Arc<Gateway>, ServerError> {
        // An older gateway may still be draining its sessions on the same log.
        let audit = Arc::new(AuditLog::open_store(
            &config.audit,
            super::audit::LOCK_WAIT,
        )?);
        let identity =
            ServerIdentity::read_files(&config.gateway.server_cert, &config.gateway.server_key)?;
        let refusals = Arc::new(Refusals::new(Arc::clone(&audit), Arc::clone(&clock)));
        let tls = ReloadableServerConfig::recording(
            identity,
            &trust_of(&config)?,
            config.auth_policy(),
            Arc::clone(&refusals) as Arc<dyn crate::tunnel::tls::RefusalRecorder>,
        )?;
        audit.append(
            AuditEvent::GatewayStarted {
                version: env!("CARGO_PKG_VERSION").to_string(),
                dangerous: super::config::dangerous_options(&config),
            },
            clock.now_utc(),
        )?;
        let lockout_file = LockoutFile::new(config.audit.lockout_state.clone());
        let lockout = lockout_book(&config, &lockout_file, &*clock)?;
        let directory = match &config.directory {
            Some(settings) => Some(Directory::new(settings).map_err(ServerError::Directory)?),
            None => None,
        };
        Ok(Arc::new(Gateway {
            lockout,
            directory,
            lockout_file,
            refusals,
            admission: Admission::new(AdmissionLimits {
                total: config.limits.max_pending_logins as usize,
                per_source: config.limits.max_pending_logins_per_address as usize,
            }),
            passwords: PasswordPool::for_config(&config),
            live: LiveSessions::default(),
            turning_away: Arc::new(Semaphore::new(MAX_TURNING_AWAY)),
            sessions: Arc::new(Semaphore::new(config.limits.max_sessions as usize)),
            config,
            tls,
            audit,
            clock,
        }))
    }

    /// Writes the lockout state when a write is due (`force`: now, at shutdown). Runs on a
    /// blocking thread (it syncs the file).
    fn keep_lockout(&self, force: bool) {
        let now = self.clock.instant();
        if self.lockout.is_shared() || (!force && !self.lockout_file.due(now)) {
            return;
        }
        let snapshot = self.lockout.lock().snapshot(now, wall_ms(&*self.clock));
        if let Err(e) = lockout_file::save(self.lockout_file.path(), &snapshot) {
            tracing::warn!("the lockout state could not be written: {e}");
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Re-reads trust anchors and CRLs for new handshakes (SIGHUP, timer), and ends the
    /// running sessions of any card the new lists revoke (each records `revoked` as its end).
    /// Audited. Blocking: run it off the async threads.
    pub fn reload_trust(&self) -> Result<ReloadSummary, ServerError> {
        let trust = trust_of(&self.config)?;
        let summary = self.tls.reload(&trust)?;
        self.audit.append(
            AuditEvent::ConfigReloaded {
                trust_anchors: summary.trust_anchors,
                crls: summary.crls,
            },
            self.clock.now_utc(),
        )?;
        let verifier = GatewayClientVerifier::new(&trust, self.config.auth_policy())?;
        let ended = self.live.end_where(EndReason::Revoked, |certificate| {
            revoked(&verifier, certificate, self.clock.now_utc())
        });
        if ended > 0 {
            tracing::warn!(ended, "sessions of revoked cards ended");
        }
        Ok(summary)
    }

    /// Accepts connections until `shutdown`; then ends live sessions (each gets its
    /// `session-ended` record) and returns. Sessions run on the caller's runtime.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), ServerError> {
        self.serve_on(listener, shutdown, None).await
    }

    /// As [`Gateway::serve`], with the sessions dealt out over `shards` when given (the
    /// gateway binary's way).
    pub async fn serve_on(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
        shards: Option<&Shards>,
    ) -> Result<(), ServerError> {
        let mut connections = JoinSet::new();
        // Counts of coalesced refusals are written as their windows close.
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = flush.tick() => {
                    let refusals = Arc::clone(&self.refusals);
                    tokio::spawn(async move { refusals.flush_due().await });
                }
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let _ = tcp.set_nodelay(true);
                        if let Err(e) = crate::tunnel::keepalive::enable(&tcp) {
                            tracing::warn!(%peer, "TCP keepalive could not be set: {e}");
                        }
                        let gateway = Arc::clone(&self);
                        let shutdown = shutdown.clone();
                        match shards {
                            None => {
                                connections.spawn(async move { gateway.connection(tcp, peer, shutdown).await });
                            }
                            Some(shards) => {
                                start_on_shard(&mut connections, shards, gateway, tcp, peer, shutdown);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        let keeper = Arc::clone(&self);
        let _ = tokio::task::spawn_blocking(move || keeper.keep_lockout(true)).await;
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.shutdown().await;
        }
        self.refusals.drain().await;
        Ok(())
    }

    async fn audit_async(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.audit
            .append_async(event, self.clock.now_utc())
            .await
            .map(|_| ())
    }

    /// One connection: the door, the login within one deadline, then the session.
    async fn connection(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) {
        // One deadline for the handshake and the login message together.
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(self.config.limits.login_timeout_secs);
        let Some((tcp, peer)) = self.client_of(tcp, peer).await else {
            return;
        };
        let Some((pending, first)) = self.enter(tcp, peer).await else {
            return;
        };
        let displaced = pending.displaced();
        let login = refusals::with_peer(peer, self.log_in(first, peer, &pending));
        let logged_in = tokio::select! {
            _ = displaced.cancelled() => {
                tracing::debug!(%peer, "waiting connection displaced by a newer one");
                return;
            }
            _ = shutdown.cancelled() => return,
            done = tokio::time::timeout_at(deadline, login) => match done {
                Err(_) => {
                    tracing::info!(%peer, "no login within the login time; connection closed");
                    return;
                }
                Ok(None) => return,
                Ok(Some(logged_in)) => logged_in,
            },
        };
        drop(pending);
        self.open_session(logged_in, peer, shutdown).await;
    }
}

/// Whether `verifier` (the trust just loaded) finds `certificate` revoked at `now`.
fn revoked(verifier: &GatewayClientVerifier, certificate: &[u8], now: OffsetDateTime) -> bool {
    use rustls::server::danger::ClientCertVerifier;
    let seconds = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let at = UnixTime::since_unix_epoch(Duration::from_secs(seconds));
    let der = CertificateDer::from(certificate);
    match verifier.verify_client_cert(&der, &[], at) {
        Ok(_) => false,
        Err(e) => refusal_detail_of(&e).is_some_and(|r| r.refusal == TlsRefusal::Revoked),
    }
}

fn new_session_id() -> String {
    let mut bytes = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    crate::card::apdu::hex(&bytes).to_ascii_lowercase()
}

/// Starts a connection on the next session runtime. The socket moves there and is registered
/// with that runtime, so its readiness wakes that runtime's worker, not the accepting one.
fn start_on_shard(
    connections: &mut JoinSet<()>,
    shards: &Shards,
    gateway: Arc<Gateway>,
    tcp: TcpStream,
    peer: SocketAddr,
    shutdown: CancellationToken,
) {
    let tcp = match tcp.into_std() {
        Ok(tcp) => tcp,
        Err(e) => return tracing::warn!(%peer, "connection dropped: {e}"),
    };
    let work = async move {
        match TcpStream::from_std(tcp) {
            Ok(tcp) => gateway.connection(tcp, peer, shutdown).await,
            Err(e) => tracing::warn!(%peer, "connection dropped: {e}"),
        }
    };
    connections.spawn_on(work, shards.next());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_random_hex() {
        let a = new_session_id();
        assert_eq!(a.len(), 24);
        assert_ne!(a, new_session_id());
    }
}
