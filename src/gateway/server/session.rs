//! A logged-in session: its streams to the office PCs the user may reach, each decision
//! recorded before it is answered.

use super::*;
use crate::gateway::audit::PostureOutcome;
use crate::gateway::recheck::{PostureAnswer, PostureJudge};
use crate::posture::report::Report;
use crate::tunnel::protocol::{Ending, GatewayEndReason, PostureNotice};

/// What a logged-in connection holds while its session runs.
pub(super) struct Places {
    tls: ServerTls,
    /// The session slot, given back when the session ends.
    permit: tokio::sync::OwnedSemaphorePermit,
    /// The place among the running sessions (and the user's), given back on drop.
    _live: crate::gateway::live::Registered,
    handle: SessionHandle,
    session_id: String,
    user: String,
    /// The user's directory groups, for `ldap_group` grants.
    groups: Vec<String>,
}

/// A login refused as "busy" after it succeeded (no session slot, or the user's sessions at
/// their bound), naming the user.
fn busy_record(
    user: &str,
    personal_id: &Option<String>,
    peer: SocketAddr,
    detail: &str,
) -> AuditEvent {
    AuditEvent::LoginRefused {
        reason: RefusalReason::ServerBusy,
        user: Some(user.to_string()),
        personal_id: personal_id.clone(),
        source: peer,
        detail: Some(detail.into()),
    }
}

/// The `accepted` answer: the session, the person's name, the machines they may reach and
/// what each session may share with the home computer (its group's `redirect_*`).
fn accepted_answer(
    config: &crate::gateway::config::Config,
    accepted: &auth::Accepted,
    session_id: &str,
    idle_timeout_secs: u64,
    posture_recheck_secs: u64,
) -> GatewayMessage {
    GatewayMessage::Accepted(Accepted {
        session_id: session_id.to_string(),
        display_name: accepted
            .display_name
            .clone()
            .unwrap_or_else(|| accepted.user.clone()),
        targets: accepted
            .targets
            .iter()
            .map(|t| TargetInfo {
                id: t.id.clone(),
                name: t.name.clone(),
                redirect: config.redirect_for(&t.id),
            })
            .collect(),
        idle_timeout_secs,
        posture_warnings: accepted
            .posture_warnings
            .iter()
            .map(PostureNotice::from)
            .collect(),
        posture_recheck_secs,
    })
}

impl Gateway {
    /// After a login: the places it needs, the login recorded and answered, then its streams
    /// until the session ends, and the end recorded.
    pub(super) async fn open_session(
        self: &Arc<Self>,
        logged_in: LoggedIn,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) {
        if let Some(places) = self.take_places(logged_in, peer).await {
            self.relay(places, peer, shutdown).await;
        }
    }

    /// A session slot, then a place among the user's sessions (each refused as "busy" when
    /// none is free), then the `login-accepted` record, then the `accepted` answer.
    async fn take_places(&self, logged_in: LoggedIn, peer: SocketAddr) -> Option<Places> {
        let limits = self.config.limits;
        let max_frame = limits.max_frame_bytes as usize;
        let LoggedIn {
            mut tls,
            accepted,
            personal_id,
            certificate,
        } = logged_in;

        // A session slot, only now that the login succeeded.
        let Ok(permit) = Arc::clone(&self.sessions).try_acquire_owned() else {
            tracing::info!(%peer, "session limit reached; login answered busy");
            let refusal = busy_record(&accepted.user, &personal_id, peer, "session limit reached");
            let answer = login::rejection(RejectCode::ServerBusy, busy_message());
            self.refuse(&mut tls, refusal, answer).await;
            return None;
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
            let refusal = busy_record(
                &user,
                &personal_id,
                peer,
                "sessions per user at their bound",
            );
            let words = (
                format!("Du har allerede {max_per_user} økter åpne mot gatewayen."),
                "Avslutt en av dem (eller vent et minutt om en forbindelse nettopp ble brutt), og koble til igjen.",
            );
            let answer = Rejected {
                open_sessions: u32::try_from(max_per_user).ok(),
                ..login::rejection(RejectCode::ServerBusy, (&words.0, words.1))
            };
            self.refuse(&mut tls, refusal, answer).await;
            return None;
        };
        let warned = (!accepted.posture_warnings.is_empty()).then(|| AuditEvent::PostureFailed {
            user: user.clone(),
            source: peer,
            session_id: Some(session_id.clone()),
            outcome: PostureOutcome::LoginWarned,
            failed: login::failed_for_audit(&accepted.posture_warnings),
        });
        let record = AuditEvent::LoginAccepted {
            user: user.clone(),
            personal_id: personal_id.clone().unwrap_or_default(),
            source: peer,
            session_id: session_id.clone(),
            targets: accepted.targets.iter().map(|t| t.id.clone()).collect(),
        };
        let recorded = match warned {
            Some(warned) => self.audit_async(warned).await,
            None => Ok(()),
        };
        if let Err(e) = recorded.and(self.audit_async(record).await) {
            tracing::error!(%peer, "a login could not be recorded, so it is refused: {e}");
            let _ =
                answer_refusal(&mut tls, RejectCode::Unavailable, unavailable(), max_frame).await;
            return None;
        }
        let answer = accepted_answer(
            &self.config,
            &accepted,
            &session_id,
            limits.idle_timeout_secs,
            self.config
                .posture
                .recheck_interval()
                .map_or(0, |every| every.as_secs()),
        );
        if protocol::write_message(&mut tls, &answer, max_frame)
            .await
            .is_err()
        {
            return None;
        }
        Some(Places {
            tls,
            permit,
            _live,
            handle,
            session_id,
            user,
            groups: accepted.groups,
        })
    }

    /// The session's streams, until the client ends it, a limit or a reason from outside
    /// does, or the gateway stops; then its `session-ended` record.
    async fn relay(
        self: &Arc<Self>,
        places: Places,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) {
        let limits = self.config.limits;
        let Places {
            tls,
            permit,
            _live,
            handle,
            session_id,
            user,
            groups,
        } = places;
        let started = Instant::now();
        let relay_limits = RelayLimits {
            posture_recheck: self.config.posture.recheck_interval(),
            ..RelayLimits::from_config(&limits)
        };
        let (server, driver) = MuxServer::new(tls, relay_limits.mux_config());
        tokio::spawn(driver);
        let authorizer: Arc<dyn Authorizer> = Arc::new(SessionAuthorizer {
            gateway: Arc::clone(self),
            user: user.clone(),
            groups,
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

/// One session's access decisions: only the user's grants, every refusal audited before
/// the client hears of it, and every connected stream audited before `opened` goes out.
pub(super) struct SessionAuthorizer {
    pub(super) gateway: Arc<Gateway>,
    pub(super) user: String,
    /// The user's directory groups at login, for `ldap_group` grants.
    pub(super) groups: Vec<String>,
    pub(super) session_id: String,
    pub(super) source: SocketAddr,
    /// Bound on looking up a machine configured by name.
    pub(super) lookup_timeout: Duration,
    /// Targets refused so far; past [`MAX_TARGET_REFUSALS`] the session ends.
    pub(super) refusals: std::sync::atomic::AtomicU32,
    /// Ends the session.
    pub(super) handle: SessionHandle,
}

/// Targets a session may be refused before it is ended as probing: our client asks for one
/// target, and for one more only when the person named a wrong one.
pub(super) const MAX_TARGET_REFUSALS: u32 = 8;

impl SessionAuthorizer {
    pub(super) async fn decide(&self, target: &str) -> Result<SocketAddr, StreamRefusal> {
        let address = match access::authorize_for(
            &self.gateway.config,
            &access::Principal {
                username: &self.user,
                groups: &self.groups,
            },
            target,
        ) {
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

    pub(super) async fn record_opened(
        &self,
        target: &str,
        address: SocketAddr,
    ) -> Result<(), StreamRefusal> {
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

impl SessionAuthorizer {
    /// A re-check: judged by the login's policy; a failed rule is recorded with the facts it
    /// saw before the answer goes out; a `deny` ends the session.
    async fn recheck(&self, report: Report) -> PostureAnswer {
        let policy = &self.gateway.config.posture.policy;
        let verdict = posture::policy::evaluate(policy, &report, self.gateway.unix_now());
        let denied = !verdict.admitted();
        let mut failed = verdict.denied;
        failed.extend(verdict.warned);
        if !failed.is_empty() {
            let outcome = if denied {
                PostureOutcome::SessionEnded
            } else {
                PostureOutcome::SessionWarned
            };
            let record = AuditEvent::PostureFailed {
                user: self.user.clone(),
                source: self.source,
                session_id: Some(self.session_id.clone()),
                outcome,
                failed: login::failed_for_audit(&failed),
            };
            if let Err(e) = self.gateway.audit_async(record).await {
                tracing::error!("a posture re-check could not be recorded: {e}");
            }
        }
        let notices: Vec<PostureNotice> = failed.iter().map(PostureNotice::from).collect();
        if !denied {
            return PostureAnswer::Passed { warnings: notices };
        }
        tracing::info!(source = %self.source, "posture re-check failed; session ended");
        PostureAnswer::Refused {
            ending: Ending {
                reason: GatewayEndReason::PostureRefused,
                message: "Økten er avsluttet fordi maskinen ikke lenger oppfyller \
                          sikkerhetskravene til tjenesten. Rett opp det som står under, og \
                          logg inn igjen."
                    .into(),
                failed_rules: notices,
                limit_secs: None,
            },
        }
    }
}

impl PostureJudge for SessionAuthorizer {
    fn judge(&self, report: Report) -> BoxFuture<'_, PostureAnswer> {
        Box::pin(self.recheck(report))
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
pub(super) async fn resolve(address: &str, bound: Duration) -> Option<SocketAddr> {
    if let Ok(addr) = address.parse() {
        return Some(addr);
    }
    match tokio::time::timeout(bound, tokio::net::lookup_host(address)).await {
        Ok(Ok(mut found)) => found.next(),
        Ok(Err(_)) | Err(_) => None,
    }
}
