//! The gateway's network shell: accepts TCP, runs the TLS handshake (card certificate
//! required), reads the login, asks the pure cores (`auth`, `access`) for a decision, writes
//! the audit record **before** answering, and relays the session's streams.
//!
//! Every wait is bounded by the configuration's limits; every login attempt, including a
//! certificate refused during the handshake, is one audit record.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::access;
use super::audit::{AuditError, AuditEvent, AuditLog, EndReason, RefusalReason};
use super::auth::{self, Lockout};
use super::config::Config;
use super::lockout_file::{self, LockoutFile};
use super::relay::{serve_session, Authorizer, RelayLimits, StreamRefusal};
use crate::tunnel::mux::MuxServer;
use crate::tunnel::protocol::{
    self, Accepted, ClientEndReason, GatewayMessage, RejectCode, Rejected, TargetInfo,
};
use crate::tunnel::tls::{
    refusal_detail_of, verified_client, ReloadSummary, ReloadableServerConfig, ServerIdentity,
    TlsError, TrustMaterial,
};

/// The time, injected so tests can fix it (certificate validity, lockout windows).
pub trait Clock: Send + Sync {
    /// Wall-clock time for audit records.
    fn now_utc(&self) -> OffsetDateTime;
    /// Monotonic time for lockout windows.
    fn instant(&self) -> Instant;
}

/// Unix milliseconds of the clock's wall time.
fn wall_ms(clock: &dyn Clock) -> i64 {
    i64::try_from(clock.now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
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
    audit: AuditLog,
    lockout: Mutex<Lockout>,
    lockout_file: LockoutFile,
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
        let audit = AuditLog::open(&config.audit.path)?;
        let identity =
            ServerIdentity::read_files(&config.gateway.server_cert, &config.gateway.server_key)?;
        let tls = ReloadableServerConfig::new(identity, &trust_of(&config)?, config.auth_policy())?;
        audit.append(
            AuditEvent::GatewayStarted {
                version: env!("CARGO_PKG_VERSION").to_string(),
                dangerous: super::config::dangerous_options(&config),
            },
            clock.now_utc(),
        )?;
        let lockout_file = LockoutFile::new(lockout_file::path_for(&config.audit.path));
        let lockout = match lockout_file::load(lockout_file.path()) {
            Ok(Some(kept)) => {
                Lockout::restore(config.lockout, &kept, clock.instant(), wall_ms(&*clock))
            }
            Ok(None) => Lockout::new(config.lockout),
            Err(e) => {
                tracing::warn!("the lockout state cannot be read ({e}); starting without it");
                eprintln!(
                    "ADVARSEL: låsetilstanden kan ikke leses ({e}); gatewayen starter uten den."
                );
                Lockout::new(config.lockout)
            }
        };
        Ok(Arc::new(Gateway {
            lockout: Mutex::new(lockout),
            lockout_file,
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
        if !force && !self.lockout_file.due(now) {
            return;
        }
        let snapshot = self
            .lockout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot(now, wall_ms(&*self.clock));
        if let Err(e) = lockout_file::save(self.lockout_file.path(), &snapshot) {
            tracing::warn!("the lockout state could not be written: {e}");
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Re-reads trust anchors and CRLs for new handshakes (SIGHUP, timer); sessions already
    /// running are untouched. Audited.
    pub fn reload_trust(&self) -> Result<ReloadSummary, ServerError> {
        let summary = self.tls.reload(&trust_of(&self.config)?)?;
        self.audit.append(
            AuditEvent::ConfigReloaded {
                trust_anchors: summary.trust_anchors,
                crls: summary.crls,
            },
            self.clock.now_utc(),
        )?;
        Ok(summary)
    }

    /// Accepts connections until `shutdown`; then ends live sessions (each gets its
    /// `session-ended` record) and returns.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), ServerError> {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let _ = tcp.set_nodelay(true);
                        if let Err(e) = crate::tunnel::keepalive::enable(&tcp) {
                            tracing::warn!(%peer, "TCP keepalive could not be set: {e}");
                        }
                        let gateway = Arc::clone(&self);
                        let shutdown = shutdown.clone();
                        connections.spawn(async move { gateway.connection(tcp, peer, shutdown).await });
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
        Ok(())
    }

    fn audit_now(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.audit.append(event, self.clock.now_utc()).map(|_| ())
    }

    async fn audit_async(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.audit
            .append_async(event, self.clock.now_utc())
            .await
            .map(|_| ())
    }

    async fn connection(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) {
        let Ok(permit) = Arc::clone(&self.sessions).try_acquire_owned() else {
            tracing::warn!(%peer, "session limit reached; connection closed");
            return;
        };
        let limits = self.config.limits;
        let login_timeout = Duration::from_secs(limits.login_timeout_secs);
        let max_frame = limits.max_frame_bytes as usize;
        let acceptor = TlsAcceptor::from(self.tls.current());

        let mut tls = match tokio::time::timeout(login_timeout, acceptor.accept(tcp)).await {
            Err(_) => {
                tracing::info!(%peer, "TLS handshake timed out");
                return;
            }
            Ok(Err(e)) => {
                if let Some(refusal) = refusal_detail_of(&e) {
                    let reason = audit_reason(refusal.refusal.as_str());
                    tracing::info!(%peer, reason = refusal.refusal.as_str(), "certificate refused");
                    let _ = self
                        .audit_async(AuditEvent::LoginRefused {
                            reason,
                            user: None,
                            personal_id: None,
                            source: peer,
                            detail: Some(refusal.detail.clone()),
                        })
                        .await;
                } else {
                    tracing::info!(%peer, "TLS handshake failed: {e}");
                }
                return;
            }
            Ok(Ok(tls)) => tls,
        };
        let certificate = match verified_client(tls.get_ref().1) {
            Ok(c) => c.certificate,
            Err(e) => {
                tracing::info!(%peer, "no usable client after the handshake: {e}");
                return;
            }
        };
        let personal_id = crate::cert::parse::read(&certificate)
            .ok()
            .and_then(|f| f.personal_id.map(|p| p.normalized));

        // The login frame, within what is left of the login time.
        let login =
            match tokio::time::timeout(login_timeout, protocol::read_login(&mut tls, max_frame))
                .await
            {
                Err(_) => return,
                Ok(Ok(login)) => login,
                Ok(Err(e)) => {
                    let Some(code) = e.reject_code() else { return };
                    let reason = if code == RejectCode::ProtocolVersion {
                        RefusalReason::ProtocolVersion
                    } else {
                        RefusalReason::BadRequest
                    };
                    if self
                        .audit_async(AuditEvent::LoginRefused {
                            reason,
                            user: None,
                            personal_id: personal_id.clone(),
                            source: peer,
                            detail: Some(e.to_string()),
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let message = if code == RejectCode::ProtocolVersion {
                        "Denne versjonen av hjemmekontor er for gammel eller for ny for gatewayen."
                    } else {
                        "Gatewayen forstod ikke innloggingen."
                    };
                    let _ = protocol::write_message(
                        &mut tls,
                        &GatewayMessage::Rejected(Rejected {
                            code,
                            message: message.into(),
                            remediation: Some(
                                "Installer den versjonen IT-ansvarlig anbefaler.".into(),
                            ),
                        }),
                        max_frame,
                    )
                    .await;
                    return;
                }
            };

        // The TLS layer's copy of the login is wiped. The decision: lockout first, then the
        // password on the bounded pool of password-check threads (argon2 never runs on the
        // async threads), then the rest (`password_pool`).
        use super::password_pool::{self, LoginOutcome};
        protocol::wipe_tls_receive_buffer(&mut tls);
        let cert_id = personal_id.clone().unwrap_or_default();
        let outcome = password_pool::shared(&self.config)
            .check_login(
                &self.config,
                &self.lockout,
                || self.clock.instant(),
                peer.ip(),
                &cert_id,
                login,
                posture_policy,
            )
            .await;
        let keeper = Arc::clone(&self);
        let _ = tokio::task::spawn_blocking(move || keeper.keep_lockout(false)).await;
        let decision = match outcome {
            LoginOutcome::Decided(decision) => decision,
            LoginOutcome::Busy => {
                tracing::warn!(%peer, "every password check is taken; login answered server-busy");
                let busy = GatewayMessage::Rejected(password_pool::busy_answer());
                let _ = protocol::write_message(&mut tls, &busy, max_frame).await;
                return;
            }
            LoginOutcome::Failed => return,
        };
        let accepted = match decision {
            Err(refusal) => {
                let audited = self
                    .audit_async(AuditEvent::LoginRefused {
                        reason: refusal.reason.into(),
                        user: refusal.audit_user.clone(),
                        personal_id: personal_id.clone(),
                        source: peer,
                        detail: None,
                    })
                    .await;
                if audited.is_err() {
                    // Nothing is answered that was not recorded.
                    return;
                }
                let code = match refusal.client {
                    auth::ClientRefusal::BadCredentials => RejectCode::BadCredentials,
                    auth::ClientRefusal::LockedOut { .. } => RejectCode::LockedOut,
                    auth::ClientRefusal::PostureRefused { .. } => RejectCode::PostureRefused,
                    auth::ClientRefusal::NoGrants => RejectCode::NoGrants,
                };
                let _ = protocol::write_message(
                    &mut tls,
                    &GatewayMessage::Rejected(Rejected {
                        code,
                        message: refusal.client.message(),
                        remediation: Some(refusal.client.fix()),
                    }),
                    max_frame,
                )
                .await;
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
                return;
            }
            Ok(accepted) => accepted,
        };

        let session_id = new_session_id();
        let user = accepted.user.clone();
        if self
            .audit_async(AuditEvent::LoginAccepted {
                user: user.clone(),
                personal_id: personal_id.clone().unwrap_or_default(),
                source: peer,
                session_id: session_id.clone(),
                targets: accepted.targets.iter().map(|t| t.id.clone()).collect(),
            })
            .await
            .is_err()
        {
            return;
        }
        let answer = GatewayMessage::Accepted(Accepted {
            session_id: session_id.clone(),
            display_name: accepted
                .display_name
                .clone()
                .unwrap_or_else(|| user.clone()),
            targets: accepted
                .targets
                .iter()
                .map(|t| TargetInfo {
                    id: t.id.clone(),
                    name: t.name.clone(),
                })
                .collect(),
            idle_timeout_secs: limits.idle_timeout_secs,
        });
        if protocol::write_message(&mut tls, &answer, max_frame)
            .await
            .is_err()
        {
            return;
        }

        let started = Instant::now();
        let relay_limits = RelayLimits {
            max_streams_per_session: limits.max_streams_per_session as usize,
            connect_timeout: Duration::from_secs(limits.connect_timeout_secs),
            idle_timeout: Duration::from_secs(limits.idle_timeout_secs),
            max_frame_len: max_frame,
            ..RelayLimits::default()
        };
        let (server, driver) = MuxServer::new(tls, relay_limits.mux_config());
        let closer = server.closer();
        tokio::spawn(driver);
        let authorizer: Arc<dyn Authorizer> = Arc::new(SessionAuthorizer {
            gateway: Arc::clone(&self),
            user: user.clone(),
            session_id: session_id.clone(),
            source: peer,
        });
        let session = serve_session(server, authorizer, relay_limits);
        tokio::pin!(session);
        let (stats, stopped) = tokio::select! {
            stats = &mut session => (stats, false),
            _ = shutdown.cancelled() => {
                closer.close();
                (session.await, true)
            }
        };
        let reason = match (stopped, stats.client_end) {
            (true, _) => EndReason::GatewayShutdown,
            (false, Some(ClientEndReason::CardRemoved)) => EndReason::CardRemoved,
            (false, Some(ClientEndReason::ClientClosed)) => EndReason::ClientClosed,
            (false, None) => EndReason::NetworkLost,
        };
        let _ = self
            .audit_async(AuditEvent::SessionEnded {
                session_id,
                user,
                target_streams: u32::try_from(stats.streams_relayed).unwrap_or(u32::MAX),
                bytes_to_target: stats.bytes_to_targets,
                bytes_from_target: stats.bytes_from_targets,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                reason,
            })
            .await;
        drop(permit);
    }
}

/// The posture policy hook: every report passes until the posture work decides otherwise.
fn posture_policy() -> Result<(), String> {
    Ok(())
}

/// The TLS layer's refusal names are the audit log's by construction (a test in `tls` pins
/// them); this reads one back.
fn audit_reason(name: &str) -> RefusalReason {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .unwrap_or(RefusalReason::Untrusted)
}

fn new_session_id() -> String {
    let mut bytes = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    crate::card::apdu::hex(&bytes).to_ascii_lowercase()
}

/// One session's access decisions: only the user's grants, and every refusal audited before
/// the client hears of it.
struct SessionAuthorizer {
    gateway: Arc<Gateway>,
    user: String,
    session_id: String,
    source: SocketAddr,
}

impl Authorizer for SessionAuthorizer {
    fn authorize(&self, target: &str) -> Result<SocketAddr, StreamRefusal> {
        match access::authorize(&self.gateway.config, &self.user, target) {
            Ok(machine) => resolve(&machine.address).ok_or_else(|| StreamRefusal {
                code: protocol::RefuseCode::TargetUnreachable,
                message: "Kontor-PC-ens adresse kan ikke slås opp. Kontakt IT-ansvarlig.".into(),
            }),
            Err(_) => {
                // Durable before the refusal goes out; if it cannot be written, the answer is
                // the same refusal.
                let _ = self.gateway.audit_now(AuditEvent::TargetRefused {
                    user: self.user.clone(),
                    session_id: self.session_id.clone(),
                    target: target.to_string(),
                    source: self.source,
                });
                Err(StreamRefusal::not_granted())
            }
        }
    }
}

/// A machine's address: an IP and port as configured, or a name looked up (a blocking lookup,
/// bounded by the resolver's own timeouts; configurations inside Helsenettet use addresses).
fn resolve(address: &str) -> Option<SocketAddr> {
    if let Ok(addr) = address.parse() {
        return Some(addr);
    }
    std::net::ToSocketAddrs::to_socket_addrs(address)
        .ok()
        .and_then(|mut a| a.next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_refusal_names_read_back_as_audit_reasons() {
        for name in [
            "no-certificate",
            "untrusted",
            "expired",
            "not-yet-valid",
            "revoked",
            "crl-expired",
            "level-too-low",
            "wrong-usage",
        ] {
            let reason = audit_reason(name);
            assert_eq!(serde_json::to_value(reason).unwrap(), name);
        }
    }

    #[test]
    fn session_ids_are_random_hex() {
        let a = new_session_id();
        assert_eq!(a.len(), 24);
        assert_ne!(a, new_session_id());
    }
}
