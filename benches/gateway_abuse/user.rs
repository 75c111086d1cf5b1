//! The legitimate user.

use super::*;

/// What one of the user's logins came to: its latency, or the kind of failure.
pub(super) type Outcome = Result<Duration, &'static str>;

pub(super) fn failure_kind(e: &SessionError) -> &'static str {
    match e {
        SessionError::Busy { .. } => "busy",
        SessionError::Rejected(r) => r.code.as_str(),
        SessionError::Timeout { .. } => "timeout",
        SessionError::Dropped { .. } => "dropped",
        SessionError::Tls(_) => "tls",
        SessionError::Unreachable { .. } => "unreachable",
        SessionError::Protocol(_) => "protocol",
        SessionError::Card(_) => "card",
        SessionError::BadAddress(_) => "bad-address",
        SessionError::Unavailable => "unavailable",
    }
}

/// `n` logins through `session::open`, one every `every` after `wait`, each closed cleanly.
/// On a runtime and thread of their own, so the attacker's tasks never delay them.
pub(super) fn legit_logins(
    world: &World,
    gateway: SocketAddr,
    n: usize,
    wait: Duration,
    every: Duration,
) -> Vec<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let target = GatewayTarget::new(&gateway.to_string(), world.roots.clone()).expect("address");
    let credentials = Credentials {
        username: USER.into(),
        password: Password::from_input(USER_PASSWORD.into()),
    };
    runtime.block_on(async {
        tokio::time::sleep(wait).await;
        let mut outcomes = Vec::with_capacity(n);
        for _ in 0..n {
            let next = Instant::now() + every;
            let start = Instant::now();
            let opened = session::open(
                &target,
                &world.user,
                &credentials,
                &hjemmekontor::posture::report::Report::unknown(0, "a test client reports nothing"),
            )
            .await;
            outcomes.push(match opened {
                Ok(tunnel) => {
                    let took = start.elapsed();
                    session::close(&tunnel, ClientEndReason::ClientClosed).await;
                    let _ = tokio::time::timeout(Duration::from_secs(5), tunnel.driver).await;
                    Ok(took)
                }
                Err(e) => Err(failure_kind(&e)),
            });
            tokio::time::sleep_until(next.into()).await;
        }
        outcomes
    })
}
