//! One logged-in session's tunnel: the local listener the remote-desktop program connects
//! to, the posture re-checks, and what ends it (the person, the card, the network, the
//! gateway).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::failure::{exit, Failure};
use crate::client::card_watch::CardWatch;
use crate::client::posture::{self, ReportSource};
use crate::client::session::{self, Tunnel};
use crate::tunnel::forward::{forward_listener, ForwardEvent, ForwardOptions};
use crate::tunnel::protocol::{ClientEndReason, Ending, GatewayEndReason, TargetInfo};

use super::{ConnectPlan, FlowEvent, FlowUi};

/// How a run of the tunnel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ended {
    UserQuit,
    Card(CardWatch),
    ConnectionLost,
    /// The gateway ended the session (idle, lifetime, revoked, posture) and said why.
    ByGateway(Ending),
}

impl Ended {
    /// The reason's name, for the front end and scripts.
    fn name(&self) -> &'static str {
        match self {
            Ended::UserQuit => "client-closed",
            Ended::Card(CardWatch::Removed) => "card-removed",
            Ended::Card(CardWatch::Lost(_)) => "card-watch-lost",
            Ended::ConnectionLost => "connection-lost",
            Ended::ByGateway(e) => e.reason.as_str(),
        }
    }
}

/// Serves the tunnel until the person quits, the card leaves, the connection is lost, or the
/// gateway ends the session (a failed posture re-check among its reasons).
pub(super) async fn run_tunnel(
    (plan, ui, stop): (&ConnectPlan, &Arc<dyn FlowUi>, &CancellationToken),
    mut tunnel: Tunnel,
    target: &TargetInfo,
    rechecks: Arc<dyn ReportSource>,
    removed: &mut mpsc::UnboundedReceiver<CardWatch>,
) -> Result<Ended, Failure> {
    let listen = plan.listen;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        use crate::i18n::catalogue as m;
        Failure::new(
            "listen",
            exit::USAGE,
            m::LISTEN.with(&[("listen", &listen), ("error", &e)]),
        )
        .fix(m::LISTEN_FIX.text())
    })?;
    let shown = listener.local_addr().unwrap_or(listen);
    ui.event(&FlowEvent::TunnelUp {
        listen: shown,
        target: target.clone(),
        session_id: tunnel.accepted.session_id.clone(),
        display_name: tunnel.accepted.display_name.clone(),
    });
    if plan.launch {
        launch_rdp(shown, target, ui);
    }
    let shutdown = CancellationToken::new();
    let forward = tokio::spawn(forward_listener(
        listener,
        tunnel.mux.clone(),
        target.id.clone(),
        ForwardOptions::default(),
        shutdown.clone(),
        {
            let ui = Arc::clone(ui);
            move |event| match event {
                ForwardEvent::Refused { code, message, .. } => {
                    ui.event(&FlowEvent::StreamRefused {
                        message: crate::client::gateway_words::refusal(code, &message),
                    })
                }
                ForwardEvent::Failed { reason, .. } => {
                    ui.event(&FlowEvent::StreamFailed { reason })
                }
                _ => {}
            }
        },
    ));
    let recheck_every = Duration::from_secs(tunnel.accepted.posture_recheck_secs);
    let recheck = async {
        if recheck_every.is_zero() {
            return std::future::pending().await;
        }
        posture::keep_reporting(tunnel.mux.clone(), recheck_every, rechecks, |warnings| {
            ui.event(&FlowEvent::PostureWarnings {
                notices: warnings.to_vec(),
            })
        })
        .await
    };
    let ended = tokio::select! {
        ending = recheck => Ended::ByGateway(ending),
        () = stop.cancelled() => {
            session::close(&tunnel, ClientEndReason::ClientClosed).await;
            Ended::UserQuit
        }
        // A closed channel (the watch thread ended) is not a pulled card: the branch is
        // then left out, and only a real report ends the tunnel.
        Some(watch) = removed.recv() => {
            // Within a second: the end frame gets a short bound, then the connection goes.
            let reason = match watch {
                CardWatch::Removed => ClientEndReason::CardRemoved,
                CardWatch::Lost(_) => ClientEndReason::ClientClosed,
            };
            session::close(&tunnel, reason).await;
            Ended::Card(watch)
        }
        _ = &mut tunnel.driver => Ended::ConnectionLost,
    };
    let ended = match ended {
        // A restarting gateway is a lost connection: reconnect. Its other reasons stop.
        Ended::ConnectionLost => match session::ending(&mut tunnel).await {
            Some(e) if e.reason != GatewayEndReason::GatewayShutdown => Ended::ByGateway(e),
            _ => Ended::ConnectionLost,
        },
        other => other,
    };
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), forward).await;
    ui.event(&FlowEvent::TunnelClosed {
        reason: ended.name().to_string(),
    });
    Ok(ended)
}

/// Starts the remote-desktop program with the sharing the gateway allows for `target`, and
/// tells the front end when it ends. One at a time: after a reconnect the running one
/// reconnects by itself.
pub fn launch_rdp(addr: SocketAddr, target: &TargetInfo, ui: &Arc<dyn FlowUi>) {
    use crate::client::launch;
    use std::sync::atomic::{AtomicBool, Ordering};
    static RUNNING: AtomicBool = AtomicBool::new(false);
    if RUNNING.swap(true, Ordering::SeqCst) {
        return;
    }
    let told = Arc::clone(ui);
    let on_exit = move |exited: launch::Exited| {
        RUNNING.store(false, Ordering::SeqCst);
        told.event(&FlowEvent::RdpExited {
            code: exited.code,
            sentence: exited.sentence(),
        });
    };
    match launch::launch(addr, target.redirect, on_exit) {
        Ok(started) => ui.event(&FlowEvent::RdpStarted {
            program: started.program,
        }),
        Err(e) => {
            RUNNING.store(false, Ordering::SeqCst);
            ui.event(&FlowEvent::RdpNotStarted {
                error: e.message(),
                fix: e.fix(launch::connect_address(addr)),
            });
        }
    }
}
