//! The gateway's network shell: accepts TCP, runs the TLS handshake (card certificate
//! required), reads the login, asks the pure cores (`auth`, `access`) for a decision, writes
//! the audit record **before** answering, and relays the session's streams.
//!
//! Every wait is bounded by the configuration's limits; every login attempt, including a
//! certificate refused during the handshake, is one audit record.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
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
use super::config::Config;
use super::live::LiveSessions;
use super::lockout_file::{self, LockoutFile};
use super::password_pool::{LoginOutcome, PasswordPool};
use super::refusals::{self, Refusals};
use super::relay::{
    serve_session, Authorizer, BoxFuture, RelayLimits, SessionHandle, StreamRefusal,
};
use crate::tunnel::busy;
use crate::tunnel::mux::MuxServer;
use crate::tunnel::protocol::{self, Accepted, GatewayMessage, RejectCode, Rejected, TargetInfo};
use crate::tunnel::tls::{
    refusal_detail_of, verified_client, GatewayClientVerifier, ReloadSummary,
    ReloadableServerConfig, ServerIdentity, TlsError, TlsRefusal, TrustMaterial,
};
use rustls::pki_types::{CertificateDer, UnixTime};

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
    audit: Arc<AuditLog>,
    refusals: Arc<Refusals>,
    lockout: Mutex<Lockout>,
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
        let audit = Arc::new(AuditLog::open_waiting(
            &config.audit.path,
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
    /// `session-ended` record) and returns.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
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
        self.refusals.drain().await;
        Ok(())
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
        let limits = self.config.limits;
        let max_frame = limits.max_frame_bytes as usize;
        // One deadline for the handshake and the login message together.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(limits.login_timeout_secs);
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
        let LoggedIn {
            mut tls,
            accepted,
            personal_id,
            certificate,
        } = logged_in;

        // A session slot, only now that the login succeeded.
        let Ok(permit) = Arc::clone(&self.sessions).try_acquire_owned() else {
            tracing::info!(%peer, "session limit reached; login answered busy");
            let refusal = AuditEvent::LoginRefused {
                reason: RefusalReason::ServerBusy,
                user: Some(accepted.user.clone()),
                personal_id: personal_id.clone(),
                source: peer,
                detail: Some("session limit reached".into()),
            };
            self.refuse(&mut tls, refusal, RejectCode::ServerBusy, busy_message())
                .await;
            return;
        };
        let session_id = new_session_id();
        let user = accepted.user.clone();
        // Ends the session from outside with a reason: the gateway's shutdown below, and
        // whoever else holds a clone (a revoked card).
        let handle = SessionHandle::new();
        let max_per_user = limits.max_sessions_per_user as usize;
        let Some(_live) = self.live.register(
            &session_id,
            &user,
            &certificate,
            handle.clone(),
            max_per_user,
        ) else {
            tracing::info!(%peer, user, "sessions per user at their bound; login answered busy");
            let refusal = AuditEvent::LoginRefused {
                reason: RefusalReason::ServerBusy,
                user: Some(user.clone()),
                personal_id: personal_id.clone(),
                source: peer,
                detail: Some("sessions per user at their bound".into()),
            };
            let words = (
                format!("Du har allerede {max_per_user} økter åpne mot gatewayen."),
                "Avslutt en av dem (eller vent et minutt om en forbindelse nettopp ble brutt), og koble til igjen.",
            );
            self.refuse(
                &mut tls,
                refusal,
                RejectCode::ServerBusy,
                (&words.0, words.1),
            )
            .await;
            return;
        };
        let record = AuditEvent::LoginAccepted {
            user: user.clone(),
            personal_id: personal_id.clone().unwrap_or_default(),
            source: peer,
            session_id: session_id.clone(),
            targets: accepted.targets.iter().map(|t| t.id.clone()).collect(),
        };
        if let Err(e) = self.audit_async(record).await {
            tracing::error!(%peer, "a login could not be recorded, so it is refused: {e}");
            let _ =
                answer_refusal(&mut tls, RejectCode::Unavailable, unavailable(), max_frame).await;
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
        let relay_limits = RelayLimits::from_config(&limits);
        let (server, driver) = MuxServer::new(tls, relay_limits.mux_config());
        tokio::spawn(driver);
        let authorizer: Arc<dyn Authorizer> = Arc::new(SessionAuthorizer {
            gateway: Arc::clone(&self),
            user: user.clone(),
            session_id: session_id.clone(),
            source: peer,
            lookup_timeout: relay_limits.connect_timeout,
            refusals: std::sync::atomic::AtomicU32::new(0),
            handle: handle.clone(),
        });
        let session = serve_session(server, authorizer, relay_limits, handle.clone());
        tokio::pin!(session);
        let stats = tokio::select! {
            stats = &mut session => stats,
            () = shutdown.cancelled() => {
                handle.end(EndReason::GatewayShutdown);
                session.await
            }
        };
        // The session is over: its slot is free before the record is written.
        drop(permit);
        let _ = self
            .audit_async(AuditEvent::SessionEnded {
                session_id,
                user,
                target_streams: u32::try_from(stats.streams_relayed).unwrap_or(u32::MAX),
                bytes_to_target: stats.bytes_to_targets,
                bytes_from_target: stats.bytes_from_targets,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                reason: stats.end,
            })
            .await;
    }
}

/// What a connection has sent when it is let in: nothing read yet, or its ClientHello (read
/// while it waited at a full door).
enum FirstFlight {
    Tcp(TcpStream),
    Hello(Box<StartHandshake<TcpStream>>),
}

impl Gateway {
    /// The door: a place among the connections waiting to log in. When there is none, the
    /// newcomer gets [`HELLO_WAIT`] to show its ClientHello, and with one may take the place
    /// of a silent or stalled connection (`admission`); else it is answered "busy".
    async fn enter(&self, tcp: TcpStream, peer: SocketAddr) -> Option<(Pending, FirstFlight)> {
        if let Ok(pending) = self.admission.admit(peer.ip(), self.clock.instant()) {
            return Some((pending, FirstFlight::Tcp(tcp)));
        }
        // Waiting for a ClientHello holds a task and a socket, so it is bounded like the busy
        // answers; beyond the bound, only a ClientHello already received counts.
        let permit = Arc::clone(&self.turning_away).try_acquire_owned().ok();
        let wait = if permit.is_some() {
            HELLO_WAIT
        } else {
            Duration::ZERO
        };
        let mut acceptor = LazyConfigAcceptor::new(Acceptor::default(), tcp);
        let hello = match tokio::time::timeout(wait, &mut acceptor).await {
            Ok(Ok(hello)) => hello,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "no TLS ClientHello: {e}");
                return None;
            }
            Err(_) => {
                drop(permit);
                if let Some(tcp) = acceptor.take_io() {
                    tracing::info!(%peer, "waiting connections at their bound; answered busy");
                    self.turn_away(tcp, peer);
                }
                return None;
            }
        };
        drop(permit);
        match self
            .admission
            .admit_with_hello(peer.ip(), self.clock.instant())
        {
            Ok(pending) => Some((pending, FirstFlight::Hello(Box::new(hello)))),
            Err(busy) => {
                tracing::info!(%peer, ?busy, "waiting connections at their bound; answered busy");
                self.turn_away(hello.io, peer);
                None
            }
        }
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

/// A connection that has logged in: its TLS stream, the decision, the card's identifier.
struct LoggedIn {
    tls: ServerTls,
    accepted: auth::Accepted,
    personal_id: Option<String>,
    certificate: Vec<u8>,
}

type ServerTls = tokio_rustls::server::TlsStream<TcpStream>;

impl Gateway {
    /// From TCP to a login decision: the TLS handshake (certificate refusals are recorded by
    /// the verifier before the alert), the login message, the password check. Every refusal
    /// is recorded before it is answered; `None` when the connection ends here.
    async fn log_in(
        self: &Arc<Self>,
        first: FirstFlight,
        peer: SocketAddr,
        pending: &Pending,
    ) -> Option<LoggedIn> {
        let max_frame = self.config.limits.max_frame_bytes as usize;
        let hello = match first {
            FirstFlight::Hello(hello) => *hello,
            FirstFlight::Tcp(tcp) => {
                match LazyConfigAcceptor::new(Acceptor::default(), tcp).await {
                    Ok(hello) => hello,
                    Err(e) => {
                        tracing::debug!(%peer, "no TLS ClientHello: {e}");
                        return None;
                    }
                }
            }
        };
        pending.advance(Stage::Hello);
        let mut tls = match hello.into_stream(self.tls.current()).await {
            Ok(tls) => tls,
            Err(e) => {
                self.handshake_failed(&e, peer).await;
                return None;
            }
        };
        pending.advance(Stage::Handshaken);
        let certificate = match verified_client(tls.get_ref().1) {
            Ok(c) => c.certificate,
            Err(e) => {
                tracing::info!(%peer, "no usable client after the handshake: {e}");
                return None;
            }
        };
        let personal_id = crate::cert::parse::read(&certificate)
            .ok()
            .and_then(|f| f.personal_id.map(|p| p.normalized));

        let login = match protocol::read_login(&mut tls, max_frame).await {
            Ok(login) => login,
            Err(e) => {
                let code = e.reject_code()?;
                let (reason, message) = if code == RejectCode::ProtocolVersion {
                    (
                        RefusalReason::ProtocolVersion,
                        "Denne versjonen av hjemmekontor er for gammel eller for ny for gatewayen.",
                    )
                } else {
                    (
                        RefusalReason::BadRequest,
                        "Gatewayen forstod ikke innloggingen.",
                    )
                };
                let refusal = AuditEvent::LoginRefused {
                    reason,
                    user: None,
                    personal_id,
                    source: peer,
                    detail: Some(e.to_string()),
                };
                let answer = (message, "Installer den versjonen IT-ansvarlig anbefaler.");
                let recorded = self.refusals.record(peer, reason, refusal).await;
                self.answer_recorded(&mut tls, recorded, code, answer).await;
                return None;
            }
        };
        pending.advance(Stage::Checking);

        // The TLS layer's copy of the login is wiped. The decision: lockout first, then the
        // password on the bounded pool of password-check threads (argon2 never runs on the
        // async threads), then the rest (`password_pool`).
        protocol::wipe_tls_receive_buffer(&mut tls);
        let cert_id = personal_id.clone().unwrap_or_default();
        let outcome = self
            .passwords
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
        let keeper = Arc::clone(self);
        let _ = tokio::task::spawn_blocking(move || keeper.keep_lockout(false)).await;
        let decision = match outcome {
            LoginOutcome::Decided(decision) => decision,
            LoginOutcome::Busy => {
                tracing::info!(%peer, "every password check is taken; login answered server-busy");
                let record = AuditEvent::LoginRefused {
                    reason: RefusalReason::ServerBusy,
                    user: None,
                    personal_id,
                    source: peer,
                    detail: Some("password checks at their bound".into()),
                };
                let recorded = self
                    .refusals
                    .record(peer, RefusalReason::ServerBusy, record)
                    .await;
                self.answer_recorded(&mut tls, recorded, RejectCode::ServerBusy, busy_message())
                    .await;
                return None;
            }
            LoginOutcome::Failed => return None,
        };
        match decision {
            Ok(accepted) => Some(LoggedIn {
                tls,
                accepted,
                personal_id,
                certificate: certificate.to_vec(),
            }),
            Err(refusal) => {
                let record = AuditEvent::LoginRefused {
                    reason: refusal.reason.into(),
                    user: refusal.audit_user.clone(),
                    personal_id,
                    source: peer,
                    detail: None,
                };
                let code = match refusal.client {
                    auth::ClientRefusal::BadCredentials => RejectCode::BadCredentials,
                    auth::ClientRefusal::LockedOut { .. } => RejectCode::LockedOut,
                    auth::ClientRefusal::PostureRefused { .. } => RejectCode::PostureRefused,
                    auth::ClientRefusal::NoGrants => RejectCode::NoGrants,
                };
                let (message, fix) = (refusal.client.message(), refusal.client.fix());
                let reason = RefusalReason::from(refusal.reason);
                if reason == RefusalReason::LockedOut {
                    // Tries while locked are repeats by nature: the first of a window is
                    // recorded with its user, the rest counted per address.
                    let recorded = self.refusals.record(peer, reason, record).await;
                    self.answer_recorded(&mut tls, recorded, code, (&message, &fix))
                        .await;
                } else {
                    self.refuse(&mut tls, record, code, (&message, &fix)).await;
                }
                None
            }
        }
    }

    /// Records a login refusal, then answers it. Nothing is answered that was not recorded:
    /// if the record cannot be written, the answer is "unavailable" and says nothing more.
    async fn refuse(
        &self,
        tls: &mut ServerTls,
        record: AuditEvent,
        code: RejectCode,
        words: (&str, &str),
    ) {
        let recorded = self.audit_async(record).await;
        self.answer_recorded(tls, recorded, code, words).await;
    }

    /// Answers a refusal whose recording came out as `recorded`.
    async fn answer_recorded(
        &self,
        tls: &mut ServerTls,
        recorded: Result<(), AuditError>,
        code: RejectCode,
        words: (&str, &str),
    ) {
        let max_frame = self.config.limits.max_frame_bytes as usize;
        let (code, words) = match recorded {
            Ok(()) => (code, words),
            Err(e) => {
                tracing::error!("a login refusal could not be recorded: {e}");
                (RejectCode::Unavailable, unavailable())
            }
        };
        let _ = answer_refusal(tls, code, words, max_frame).await;
    }

    /// A handshake that failed. Certificate refusals were recorded by the verifier before the
    /// alert; a missing certificate never reaches the verifier (rustls refuses it itself), so
    /// it is recorded here, right after the alert.
    async fn handshake_failed(&self, e: &std::io::Error, peer: SocketAddr) {
        match refusal_detail_of(e) {
            Some(refusal) if refusal.refusal == TlsRefusal::NoCertificate => {
                tracing::info!(%peer, "no client certificate");
                let record = refusals::refusal_event(&refusal, None, peer);
                let _ = self
                    .refusals
                    .record(peer, RefusalReason::NoCertificate, record)
                    .await;
            }
            Some(_) => {}
            None => tracing::info!(%peer, "TLS handshake failed: {e}"),
        }
    }

    /// Answers a connection the door cannot take: the one-line busy answer, then close. The
    /// client's bytes are read and dropped for a moment, so the close does not become a reset
    /// that swallows the answer; at most [`MAX_TURNING_AWAY`] at once, the rest just closed.
    fn turn_away(&self, tcp: TcpStream, peer: SocketAddr) {
        let record = AuditEvent::LoginRefused {
            reason: RefusalReason::ServerBusy,
            user: None,
            personal_id: None,
            source: peer,
            detail: Some("waiting connections at their bound".into()),
        };
        let refusals = Arc::clone(&self.refusals);
        let Ok(permit) = Arc::clone(&self.turning_away).try_acquire_owned() else {
            // Too many being answered already: the line is sent if the socket takes it at
            // once, and the refusal is counted with the others from this address.
            let _ = tcp.try_write(&busy::greeting(BUSY_RETRY_SECS));
            drop(tcp);
            tokio::spawn(async move {
                let _ = refusals
                    .record(peer, RefusalReason::ServerBusy, record)
                    .await;
            });
            return;
        };
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut tcp = tcp;
            if refusals
                .record(peer, RefusalReason::ServerBusy, record)
                .await
                .is_err()
            {
                return;
            }
            let _ = tcp.write_all(&busy::greeting(BUSY_RETRY_SECS)).await;
            let _ = tcp.shutdown().await;
            // What the client sent (its ClientHello) is read, so that the close is a FIN and
            // not a reset that could swallow the answer; a silent client is given half a
            // second.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                let mut left = 16 * 1024usize;
                while left > 0 {
                    match tcp.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            })
            .await;
            drop(permit);
        });
    }
}

/// Connections being answered "busy" at once; beyond it the answer is best effort.
const MAX_TURNING_AWAY: usize = 1024;
/// The wait a busy answer suggests.
const BUSY_RETRY_SECS: u32 = 5;

fn busy_message() -> (&'static str, &'static str) {
    (
        "Tjenesten er opptatt, prøv igjen om litt.",
        "Vent et minutt og koble til igjen. Meld fra til IT-ansvarlig om det varer.",
    )
}

fn unavailable() -> (&'static str, &'static str) {
    (
        "Gatewayen kan ikke ta imot innlogginger nå.",
        "Prøv igjen senere. Kortet og PIN-koden er ikke problemet; meld fra til IT-ansvarlig om det varer.",
    )
}

/// Sends a login refusal (after it was recorded) and closes the TLS stream.
async fn answer_refusal(
    tls: &mut ServerTls,
    code: RejectCode,
    (message, fix): (&str, &str),
    max_frame: usize,
) -> Result<(), protocol::FrameError> {
    let answer = GatewayMessage::Rejected(Rejected {
        code,
        message: message.into(),
        remediation: Some(fix.into()),
    });
    protocol::write_message(tls, &answer, max_frame).await?;
    let _ = tokio::io::AsyncWriteExt::shutdown(tls).await;
    Ok(())
}

/// The posture policy hook: every report passes until the posture work decides otherwise.
fn posture_policy() -> Result<(), String> {
    Ok(())
}

fn new_session_id() -> String {
    let mut bytes = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    crate::card::apdu::hex(&bytes).to_ascii_lowercase()
}

/// One session's access decisions: only the user's grants, every refusal audited before
/// the client hears of it, and every connected stream audited before `opened` goes out.
struct SessionAuthorizer {
    gateway: Arc<Gateway>,
    user: String,
    session_id: String,
    source: SocketAddr,
    /// Bound on looking up a machine configured by name.
    lookup_timeout: Duration,
    /// Targets refused so far; past [`MAX_TARGET_REFUSALS`] the session ends.
    refusals: std::sync::atomic::AtomicU32,
    /// Ends the session.
    handle: SessionHandle,
}

/// Targets a session may be refused before it is ended as probing: our client asks for one
/// target, and for one more only when the person named a wrong one.
const MAX_TARGET_REFUSALS: u32 = 8;

impl SessionAuthorizer {
    async fn decide(&self, target: &str) -> Result<SocketAddr, StreamRefusal> {
        let address = match access::authorize(&self.gateway.config, &self.user, target) {
            Ok(machine) => machine.address.clone(),
            Err(e) => {
                let reason = match e {
                    AccessError::NotGranted => TargetRefusal::NotGranted,
                    AccessError::UnknownTarget => TargetRefusal::UnknownTarget,
                };
                let refused = 1 + self
                    .refusals
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if refused > MAX_TARGET_REFUSALS {
                    // Probing: the session ends, and its end record says why; no record per
                    // further guess.
                    tracing::info!(source = %self.source, "too many targets refused; session ended");
                    self.handle.end(EndReason::TooManyRefusals);
                    return Err(StreamRefusal::not_granted());
                }
                // Durable before the refusal goes out; if it cannot be written, the answer is
                // the same refusal.
                let _ = self
                    .gateway
                    .audit_async(AuditEvent::TargetRefused {
                        user: self.user.clone(),
                        session_id: self.session_id.clone(),
                        target: target.to_string(),
                        source: self.source,
                        reason,
                    })
                    .await;
                return Err(StreamRefusal::not_granted());
            }
        };
        resolve(&address, self.lookup_timeout)
            .await
            .ok_or_else(|| StreamRefusal {
                code: protocol::RefuseCode::TargetUnreachable,
                message: "Kontor-PC-ens adresse kan ikke slås opp. Kontakt IT-ansvarlig.".into(),
            })
    }

    async fn record_opened(&self, target: &str, address: SocketAddr) -> Result<(), StreamRefusal> {
        self.gateway
            .audit_async(AuditEvent::StreamOpened {
                session_id: self.session_id.clone(),
                user: self.user.clone(),
                source: self.source,
                target: target.to_string(),
                address,
            })
            .await
            .map_err(|e| {
                tracing::error!(target, "stream-opened could not be recorded: {e}");
                StreamRefusal {
                    code: protocol::RefuseCode::TargetUnreachable,
                    message: "Gatewayen kan ikke skrive i revisjonsloggen nå, så forbindelsen \
                              ble ikke åpnet. Kontakt IT-ansvarlig."
                        .into(),
                }
            })
    }
}

impl Authorizer for SessionAuthorizer {
    fn authorize<'a>(
        &'a self,
        target: &'a str,
    ) -> BoxFuture<'a, Result<SocketAddr, StreamRefusal>> {
        Box::pin(self.decide(target))
    }

    fn connected<'a>(
        &'a self,
        target: &'a str,
        address: SocketAddr,
    ) -> BoxFuture<'a, Result<(), StreamRefusal>> {
        Box::pin(self.record_opened(target, address))
    }
}

/// A machine's address: an IP and port as configured, or a name looked up off the async
/// threads within `bound` (configurations inside Helsenettet use addresses).
async fn resolve(address: &str, bound: Duration) -> Option<SocketAddr> {
    if let Ok(addr) = address.parse() {
        return Some(addr);
    }
    match tokio::time::timeout(bound, tokio::net::lookup_host(address)).await {
        Ok(Ok(mut found)) => found.next(),
        Ok(Err(_)) | Err(_) => None,
    }
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
