//! Sessions until the flow ends: connect and log in, reconnect while the card stays in (a
//! lost network, a restarting or busy gateway), ask the PIN again only when the card forgot
//! it, and stop on what reconnecting cannot mend.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::failure::{exit, Failure};
use crate::client::card_watch::{watch_card, watch_failure};
use crate::client::posture::PostureFeed;
use crate::client::session::{self, Credentials, GatewayTarget, SessionError, Tunnel};
use crate::tunnel::protocol::{ClientEndReason, RejectCode};
use crate::tunnel::tls::CardSigner;

use super::card::CardInUse;
use super::tunnel::{run_tunnel, Ended};
use super::words::{choose_target, list_targets, session_failure};
use super::{ConnectPlan, FlowEvent, FlowUi, Outcome};

/// Times a busy gateway is tried again before the first login.
const BUSY_TRIES: u32 = 5;

/// Everything a run of sessions shares.
pub(super) struct Run<'a> {
    pub(super) plan: &'a ConnectPlan,
    pub(super) gateway: &'a GatewayTarget,
    pub(super) card: &'a CardInUse,
    pub(super) credentials: &'a Credentials,
    pub(super) ui: &'a Arc<dyn FlowUi>,
    /// Cancelled when the person stops.
    pub(super) stop: &'a CancellationToken,
    /// Told once, after the first login.
    pub(super) first_login: FlowEvent,
}

/// What to do after a failed login or connection.
enum Next {
    /// Try again after this wait.
    Retry(Duration),
    /// Give up with this.
    Stop(Failure),
}

impl Run<'_> {
    /// Sessions until one ends the flow.
    pub(super) async fn sessions(
        &self,
        signer: &mut CardSigner,
        mut posture: PostureFeed,
    ) -> Result<Outcome, Failure> {
        let (removed_tx, mut removed_rx) = mpsc::unbounded_channel();
        let watcher = watch_card(self.card.presence.clone(), removed_tx);
        let mut backoff = Duration::from_secs(1);
        let mut logged_in_once = false;
        let mut busy_tries = 0u32;
        let result = loop {
            self.ui.event(&FlowEvent::Connecting {
                gateway: self.gateway.address.clone(),
            });
            let report = posture.next().await;
            let tunnel = match session::open(self.gateway, signer, self.credentials, &report).await
            {
                Ok(t) => t,
                Err(SessionError::Card(e)) if e.needs_pin() => {
                    // The card was reset: its verified PIN is gone. Ask once, never by
                    // ourselves.
                    match tokio::task::block_in_place(|| self.card.renew(signer, &**self.ui)) {
                        Ok(()) => continue,
                        Err(f) => break Err(f),
                    }
                }
                Err(e) => {
                    let next = self.after_failure(&e, logged_in_once, &mut busy_tries, backoff);
                    let wait = match next {
                        Next::Retry(wait) => wait,
                        Next::Stop(f) => break Err(f),
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        Some(watch) = removed_rx.recv() => break Err(watch_failure(&watch)),
                        () = self.stop.cancelled() => break Ok(Outcome::Closed),
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            backoff = Duration::from_secs(1);
            busy_tries = 0;
            if !logged_in_once {
                logged_in_once = true;
                self.ui.event(&self.first_login);
            }
            match self.one_session(tunnel, &posture, &mut removed_rx).await {
                Some(done) => break done,
                None => self.ui.event(&FlowEvent::Reconnecting),
            }
        };
        watcher.store(true, Ordering::SeqCst);
        result
    }

    /// Whether a failed login or connection is tried again, and after how long. A busy
    /// gateway is waited for a few times even before the first login (the card and the PIN
    /// are fine, and no PIN is sent again); other failures are retried only once logged in.
    fn after_failure(
        &self,
        e: &SessionError,
        logged_in_once: bool,
        busy_tries: &mut u32,
        backoff: Duration,
    ) -> Next {
        let failure = session_failure(e);
        let busy_wait = busy_wait(e);
        let no_reconnect = self.plan.no_reconnect;
        let retry = match busy_wait {
            Some(_) => {
                *busy_tries += 1;
                !no_reconnect && (logged_in_once || *busy_tries <= BUSY_TRIES)
            }
            None => {
                logged_in_once
                    && !no_reconnect
                    && matches!(
                        e,
                        SessionError::Unreachable { .. }
                            | SessionError::Dropped { .. }
                            | SessionError::Timeout { .. }
                            | SessionError::Tls(_)
                            | SessionError::Protocol(_)
                    )
            }
        };
        if !retry {
            return Next::Stop(failure);
        }
        let wait = busy_wait.map_or(backoff, |w| w.max(backoff));
        self.ui.event(&FlowEvent::Retrying {
            message: failure.message,
            wait,
        });
        Next::Retry(wait)
    }

    /// One logged-in session: the target, the tunnel, until it ends. `None`: reconnect.
    async fn one_session(
        &self,
        tunnel: Tunnel,
        posture: &PostureFeed,
        removed: &mut mpsc::UnboundedReceiver<crate::client::card_watch::CardWatch>,
    ) -> Option<Result<Outcome, Failure>> {
        let target = match choose_target(&tunnel.accepted.targets, self.plan.target.as_deref()) {
            Ok(t) => t.clone(),
            Err(f) if f.kind == "unknown-target" => {
                // The gateway decides, not the client: ask it (it refuses and records the
                // attempt), and show its answer.
                let wanted = self.plan.target.clone().unwrap_or_default();
                let refusal = ask_gateway_for(&tunnel, &wanted).await;
                session::close(&tunnel, ClientEndReason::ClientClosed).await;
                return Some(Err(refusal.unwrap_or(f)));
            }
            Err(f) => {
                session::close(&tunnel, ClientEndReason::ClientClosed).await;
                return Some(Err(f));
            }
        };
        self.ui.event(&FlowEvent::LoggedIn {
            display_name: tunnel.accepted.display_name.clone(),
            tls: tunnel.tls.clone(),
        });
        if !tunnel.accepted.posture_warnings.is_empty() {
            self.ui.event(&FlowEvent::PostureWarnings {
                notices: tunnel.accepted.posture_warnings.clone(),
            });
        }
        let ended = run_tunnel(
            (self.plan, self.ui, self.stop),
            tunnel,
            &target,
            posture.source(),
            removed,
        )
        .await;
        match ended {
            Ok(Ended::UserQuit) => Some(Ok(Outcome::Closed)),
            Ok(Ended::Card(watch)) => Some(Err(watch_failure(&watch))),
            Ok(Ended::ConnectionLost) if self.plan.no_reconnect => Some(Err(Failure::new(
                "connection-lost",
                exit::OTHER,
                crate::i18n::catalogue::CONNECTION_LOST.text(),
            ))),
            Ok(Ended::ConnectionLost) => None,
            Ok(Ended::ByGateway(ending)) => {
                let said = crate::client::gateway_words::ending(&ending);
                let (kind, code, message) = if ending.failed_rules.is_empty() {
                    ("session-ended", exit::OTHER, said)
                } else {
                    let rules = crate::client::posture::notices_text(&ending.failed_rules);
                    ("posture-refused", exit::POSTURE, format!("{said}\n{rules}"))
                };
                Some(Err(Failure::new(kind, code, message)))
            }
            Err(f) => Some(Err(f)),
        }
    }
}

/// The wait before trying a busy gateway again: what it asked for (before TLS, or as its
/// login answer), or a short one when it closed the connection without a word.
fn busy_wait(e: &SessionError) -> Option<Duration> {
    match e {
        SessionError::Busy { retry_after_secs } => Some(Duration::from_secs(
            u64::from(*retry_after_secs).clamp(1, 60),
        )),
        SessionError::Rejected(r) if r.code == RejectCode::ServerBusy => {
            Some(Duration::from_secs(2))
        }
        // Closed before a word: a gateway restarting, or too busy even to say so.
        SessionError::Dropped { .. } => Some(Duration::from_secs(2)),
        _ => None,
    }
}

/// Opens one stream to a target the gateway did not list, so the gateway makes (and audits)
/// the decision; returns its refusal in words.
async fn ask_gateway_for(tunnel: &Tunnel, target: &str) -> Option<Failure> {
    use crate::tunnel::protocol::{
        read_gateway_message, write_message, ClientMessage, GatewayMessage, Open,
        DEFAULT_MAX_FRAME_LEN,
    };
    let answer = tokio::time::timeout(Duration::from_secs(20), async {
        let mut stream = tunnel.mux.open_stream().await.ok()?;
        let open = ClientMessage::Open(Open {
            target: target.to_string(),
        });
        write_message(&mut stream, &open, DEFAULT_MAX_FRAME_LEN)
            .await
            .ok()?;
        read_gateway_message(&mut stream, DEFAULT_MAX_FRAME_LEN)
            .await
            .ok()
    })
    .await
    .ok()
    .flatten()?;
    match answer {
        GatewayMessage::Refused(r) => Some(
            Failure::new(
                "target-refused",
                exit::CARD_UNUSABLE,
                crate::client::gateway_words::refusal(r.code, &r.message),
            )
            .fix(
                crate::i18n::catalogue::TARGETS_YOU_CAN_REACH
                    .with(&[("targets", &list_targets(&tunnel.accepted.targets))]),
            ),
        ),
        _ => None,
    }
}
