//! From TCP to a login decision: the TLS handshake, the login message, the password check,
//! and every refusal recorded before it is answered.

use super::*;
use crate::gateway::audit::PostureOutcome;
use crate::posture::policy::{self, Failed};
use crate::posture::report::Report;
use crate::tunnel::protocol::{Login, PostureNotice};

/// A connection that has logged in: its TLS stream, the decision, the card's identifier.
pub(super) struct LoggedIn {
    pub(super) tls: ServerTls,
    pub(super) accepted: auth::Accepted,
    pub(super) personal_id: Option<String>,
    pub(super) certificate: Vec<u8>,
}

/// The client's connection as TLS reads it: in large pieces (`tunnel::read_ahead`).
pub(super) type Wire = ReadAhead<TcpStream>;
pub(super) type ServerTls = tokio_rustls::server::TlsStream<Wire>;

impl Gateway {
    /// From TCP to a login decision: the TLS handshake (certificate refusals are recorded by
    /// the verifier before the alert), the login message, the password check. Every refusal
    /// is recorded before it is answered; `None` when the connection ends here.
    pub(super) async fn log_in(
        self: &Arc<Self>,
        first: FirstFlight,
        peer: SocketAddr,
        pending: &Pending,
    ) -> Option<LoggedIn> {
        let (mut tls, certificate) = self.handshake(first, peer, pending).await?;
        let personal_id = crate::cert::parse::read(&certificate)
            .ok()
            .and_then(|f| f.personal_id.map(|p| p.normalized));
        let (report, login) = self.login_message(&mut tls, peer, &personal_id).await?;
        pending.advance(Stage::Checking);
        let accepted = self
            .decide(&mut tls, peer, &personal_id, login, report)
            .await?;
        Some(LoggedIn {
            tls,
            accepted,
            personal_id,
            certificate,
        })
    }

    /// The TLS handshake, from the ClientHello (read now, or at the door) to the verified
    /// client certificate.
    async fn handshake(
        &self,
        first: FirstFlight,
        peer: SocketAddr,
        pending: &Pending,
    ) -> Option<(ServerTls, Vec<u8>)> {
        let hello = match first {
            FirstFlight::Hello(hello) => *hello,
            FirstFlight::Tcp(tcp) => {
                match LazyConfigAcceptor::new(Acceptor::default(), ReadAhead::new(tcp)).await {
                    Ok(hello) => hello,
                    Err(e) => {
                        tracing::debug!(%peer, "no TLS ClientHello: {e}");
                        return None;
                    }
                }
            }
        };
        pending.advance(Stage::Hello);
        if crate::tunnel::tls::asks_for_policy(&hello.client_hello()) {
            self.publish_policy(hello, peer).await;
            return None;
        }
        let tls = match hello.into_stream(self.tls.current()).await {
            Ok(tls) => tls,
            Err(e) => {
                self.handshake_failed(&e, peer).await;
                return None;
            }
        };
        pending.advance(Stage::Handshaken);
        match verified_client(tls.get_ref().1) {
            Ok(c) => Some((tls, c.certificate.to_vec())),
            Err(e) => {
                tracing::info!(%peer, "no usable client after the handshake: {e}");
                None
            }
        }
    }

    /// Answers a connection that asks only for the posture policy: the gateway's certificate,
    /// no card asked for, one `policy` frame, closed. Bounded by the login deadline.
    async fn publish_policy(&self, hello: StartHandshake<Wire>, peer: SocketAddr) {
        let mut tls = match hello.into_stream(self.tls.policy_only()).await {
            Ok(tls) => tls,
            Err(e) => {
                tracing::debug!(%peer, "policy handshake failed: {e}");
                return;
            }
        };
        let published = GatewayMessage::Policy(protocol::PublishedPolicy {
            policy: self.config.posture.policy.clone(),
            recheck_secs: self.config.posture.recheck_secs,
            gateway_time: Some(self.unix_now()),
        });
        let max_frame = self.config.limits.max_frame_bytes as usize;
        if protocol::write_message(&mut tls, &published, max_frame)
            .await
            .is_ok()
        {
            tracing::debug!(%peer, "posture policy published");
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
    }

    /// The posture report and the login message; a login without a report is judged on a
    /// report that knows nothing. One that cannot be read is refused (recorded, coalesced per
    /// address) with words for the person.
    async fn login_message(
        &self,
        tls: &mut ServerTls,
        peer: SocketAddr,
        personal_id: &Option<String>,
    ) -> Option<(Report, Login)> {
        let max_frame = self.config.limits.max_frame_bytes as usize;
        let e = match protocol::read_login(tls, max_frame).await {
            Ok((report, login)) => {
                let report = report.unwrap_or_else(|| {
                    Report::unknown(self.unix_now(), "the client sent no posture report")
                });
                return Some((report, login));
            }
            Err(e) => e,
        };
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
            personal_id: personal_id.clone(),
            source: peer,
            detail: Some(e.to_string()),
        };
        let answer = (message, "Installer den versjonen IT-ansvarlig anbefaler.");
        let recorded = self.refusals.record(peer, reason, refusal).await;
        self.answer_recorded(tls, recorded, rejection(code, answer))
            .await;
        None
    }

    /// The decision: the TLS layer's copy of the login is wiped; then lockout first, the
    /// password on the bounded pool of password-check threads (argon2 never runs on the async
    /// threads), then the rest (`password_pool`). A refusal is recorded and answered here.
    async fn decide(
        self: &Arc<Self>,
        tls: &mut ServerTls,
        peer: SocketAddr,
        personal_id: &Option<String>,
        login: Login,
        report: Report,
    ) -> Option<auth::Accepted> {
        protocol::wipe_tls_receive_buffer(tls);
        let cert_id = personal_id.clone().unwrap_or_default();
        let now = self.unix_now();
        let judge = || policy::evaluate(&self.config.posture.policy, &report, now);
        let now = || (self.clock.instant(), wall_ms(&*self.clock));
        let source = peer.ip();
        let outcome = match &self.directory {
            Some(directory) => {
                let config = &self.config;
                crate::gateway::directory::login::check_login(
                    directory,
                    config,
                    &self.lockout,
                    now,
                    source,
                    &cert_id,
                    login,
                    judge,
                )
                .await
            }
            None => {
                self.passwords
                    .check_login(
                        &self.config,
                        &self.lockout,
                        now,
                        source,
                        &cert_id,
                        login,
                        judge,
                    )
                    .await
            }
        };
        let keeper = Arc::clone(self);
        let _ = tokio::task::spawn_blocking(move || keeper.keep_lockout(false)).await;
        let refusal = match outcome {
            LoginOutcome::Decided(Ok(accepted)) => return Some(accepted),
            LoginOutcome::Decided(Err(refusal)) => refusal,
            LoginOutcome::Busy => {
                tracing::info!(%peer, "every password check is taken; login answered server-busy");
                let record = AuditEvent::LoginRefused {
                    reason: RefusalReason::ServerBusy,
                    user: None,
                    personal_id: personal_id.clone(),
                    source: peer,
                    detail: Some("password checks at their bound".into()),
                };
                let recorded = self
                    .refusals
                    .record(peer, RefusalReason::ServerBusy, record)
                    .await;
                let answer = rejection(RejectCode::ServerBusy, busy_message());
                self.answer_recorded(tls, recorded, answer).await;
                return None;
            }
            LoginOutcome::Failed => return None,
            LoginOutcome::Unavailable(detail) => {
                tracing::warn!(%peer, "a login could not be decided: {detail}");
                let record = AuditEvent::LoginRefused {
                    reason: RefusalReason::Unavailable,
                    user: None,
                    personal_id: personal_id.clone(),
                    source: peer,
                    detail: Some(detail),
                };
                let answer = rejection(RejectCode::Unavailable, unavailable());
                self.refuse(tls, record, answer).await;
                return None;
            }
        };
        if let auth::ClientRefusal::PostureRefused { failed } = &refusal.client {
            self.refuse_posture(tls, peer, personal_id, &refusal, failed)
                .await;
            return None;
        }
        let record = AuditEvent::LoginRefused {
            reason: refusal.reason.into(),
            user: refusal.audit_user.clone(),
            personal_id: personal_id.clone(),
            source: peer,
            detail: None,
        };
        let answer = refusal_answer(&refusal.client);
        let reason = RefusalReason::from(refusal.reason);
        if reason == RefusalReason::LockedOut {
            // Tries while locked are repeats by nature: the first of a window is recorded
            // with its user, the rest counted per address.
            let recorded = self.refusals.record(peer, reason, record).await;
            self.answer_recorded(tls, recorded, answer).await;
        } else {
            self.refuse(tls, record, answer).await;
        }
        None
    }

    /// A login the posture policy refused: the failed rules with the facts they saw, then the
    /// refusal, are recorded; the answer names each rule with what to do.
    async fn refuse_posture(
        &self,
        tls: &mut ServerTls,
        peer: SocketAddr,
        personal_id: &Option<String>,
        refusal: &auth::Refusal,
        failed: &[Failed],
    ) {
        let user = refusal.audit_user.clone().unwrap_or_default();
        let findings = AuditEvent::PostureFailed {
            user: user.clone(),
            source: peer,
            session_id: None,
            outcome: PostureOutcome::LoginRefused,
            failed: failed_for_audit(failed),
        };
        let rules: Vec<&str> = failed.iter().map(|f| f.rule).collect();
        let record = AuditEvent::LoginRefused {
            reason: RefusalReason::PostureRefused,
            user: Some(user),
            personal_id: personal_id.clone(),
            source: peer,
            detail: Some(format!("failed: {}", rules.join(", "))),
        };
        let recorded = match self.audit_async(findings).await {
            Ok(()) => self.audit_async(record).await,
            Err(e) => Err(e),
        };
        let max_frame = self.config.limits.max_frame_bytes as usize;
        let answer = match recorded {
            Ok(()) => Rejected {
                failed_rules: failed.iter().map(PostureNotice::from).collect(),
                ..rejection(
                    RejectCode::PostureRefused,
                    (&refusal.client.message(), &refusal.client.fix()),
                )
            },
            Err(e) => {
                tracing::error!("a posture refusal could not be recorded: {e}");
                rejection(RejectCode::Unavailable, unavailable())
            }
        };
        let _ = send_rejected(tls, answer, max_frame).await;
    }

    /// Now, as Unix seconds, by the gateway's clock (posture rules count days with it).
    pub(super) fn unix_now(&self) -> i64 {
        self.clock.now_utc().unix_timestamp()
    }

    /// Records a login refusal, then answers it. Nothing is answered that was not recorded:
    /// if the record cannot be written, the answer is "unavailable" and says nothing more.
    pub(super) async fn refuse(&self, tls: &mut ServerTls, record: AuditEvent, answer: Rejected) {
        let recorded = self.audit_async(record).await;
        self.answer_recorded(tls, recorded, answer).await;
    }

    /// Answers a refusal whose recording came out as `recorded`.
    pub(super) async fn answer_recorded(
        &self,
        tls: &mut ServerTls,
        recorded: Result<(), AuditError>,
        answer: Rejected,
    ) {
        let max_frame = self.config.limits.max_frame_bytes as usize;
        let answer = match recorded {
            Ok(()) => answer,
            Err(e) => {
                tracing::error!("a login refusal could not be recorded: {e}");
                rejection(RejectCode::Unavailable, unavailable())
            }
        };
        let _ = send_rejected(tls, answer, max_frame).await;
    }

    /// A handshake that failed. Certificate refusals were recorded by the verifier before the
    /// alert; a missing certificate never reaches the verifier (rustls refuses it itself), so
    /// it is recorded here, right after the alert.
    pub(super) async fn handshake_failed(&self, e: &std::io::Error, peer: SocketAddr) {
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
}

pub(super) fn busy_message() -> (&'static str, &'static str) {
    (
        "Tjenesten er opptatt, prøv igjen om litt.",
        "Vent et minutt og koble til igjen. Meld fra til IT-ansvarlig om det varer.",
    )
}

pub(super) fn unavailable() -> (&'static str, &'static str) {
    (
        "Gatewayen kan ikke ta imot innlogginger nå.",
        "Prøv igjen senere. Kortet og PIN-koden er ikke problemet; meld fra til IT-ansvarlig om det varer.",
    )
}

/// The answer to a login the decision refused: its code, the gateway's own words, and the
/// facts the client words it with (how long a lock lasts).
fn refusal_answer(client: &auth::ClientRefusal) -> Rejected {
    let code = match client {
        auth::ClientRefusal::BadCredentials => RejectCode::BadCredentials,
        auth::ClientRefusal::LockedOut { .. } => RejectCode::LockedOut,
        auth::ClientRefusal::PostureRefused { .. } => RejectCode::PostureRefused,
        auth::ClientRefusal::NoGrants => RejectCode::NoGrants,
    };
    let retry_after_secs = match client {
        auth::ClientRefusal::LockedOut { retry_after_secs } => Some(*retry_after_secs),
        _ => None,
    };
    Rejected {
        retry_after_secs,
        ..rejection(code, (&client.message(), &client.fix()))
    }
}

/// A login refusal with the gateway's own words: the client words the code itself, and shows
/// these only when it does not know the code (`docs/protocol.md`). Facts go on top of it.
pub(super) fn rejection(code: RejectCode, (message, fix): (&str, &str)) -> Rejected {
    Rejected {
        code,
        message: message.into(),
        remediation: Some(fix.into()),
        failed_rules: Vec::new(),
        retry_after_secs: None,
        open_sessions: None,
    }
}

/// Sends a login refusal (after it was recorded) and closes the TLS stream.
pub(super) async fn answer_refusal(
    tls: &mut ServerTls,
    code: RejectCode,
    words: (&str, &str),
    max_frame: usize,
) -> Result<(), protocol::FrameError> {
    send_rejected(tls, rejection(code, words), max_frame).await
}

/// Sends a `rejected` and closes the TLS stream.
async fn send_rejected(
    tls: &mut ServerTls,
    answer: Rejected,
    max_frame: usize,
) -> Result<(), protocol::FrameError> {
    protocol::write_message(tls, &GatewayMessage::Rejected(answer), max_frame).await?;
    let _ = tokio::io::AsyncWriteExt::shutdown(tls).await;
    Ok(())
}

/// Failed rules as the audit log keeps them: `rule (deny|warn): what it saw`.
pub(super) fn failed_for_audit(failed: &[Failed]) -> Vec<String> {
    failed
        .iter()
        .map(|f| {
            let action = match f.action {
                policy::Action::Deny => "deny",
                policy::Action::Warn => "warn",
            };
            format!("{} ({action}): {}", f.rule, f.seen)
        })
        .collect()
}
