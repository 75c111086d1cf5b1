//! The client's side of host posture: the report it sends before the login and again during
//! the session, and what it shows of the gateway's answer.
//!
//! Where the report comes from is a [`ReportSource`]: the real probes of this computer
//! ([`LocalProbes`]), or in tests a scripted one, so a session can be shown failing a
//! re-check without changing the machine.

use crate::posture::probe::{self, LocalHost, DEFAULT_PROBE_BOUND};
use crate::posture::report::Report;
use crate::tunnel::mux::MuxClient;
use crate::tunnel::protocol::{
    self, ClientMessage, Ending, GatewayMessage, PostureNotice, DEFAULT_MAX_FRAME_LEN,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Where posture reports come from.
pub trait ReportSource: Send + Sync {
    /// A fresh report (may take up to the probes' bound; call off the async threads).
    fn report(&self) -> Report;
}

/// The real probes of this computer.
pub struct LocalProbes;

/// Each program a probe runs gets this long; the probe as a whole gets [`DEFAULT_PROBE_BOUND`].
const COMMAND_BOUND: Duration = Duration::from_secs(10);

impl ReportSource for LocalProbes {
    fn report(&self) -> Report {
        let host = Arc::new(LocalHost::new(COMMAND_BOUND, ledger_path()));
        probe::collect(host, probe::this_platform(), DEFAULT_PROBE_BOUND)
    }
}

/// Where the client remembers since when updates have waited (its state directory; the
/// cache directory where a system has no state directory).
fn ledger_path() -> Option<std::path::PathBuf> {
    let dirs = directories::ProjectDirs::from("no", "hjemmekontor", "hjemmekontor")?;
    let dir = dirs.state_dir().unwrap_or(dirs.cache_dir());
    Some(dir.join("pending-updates.json"))
}

/// A fresh report from `source`, taken off the async threads.
pub async fn fresh(source: Arc<dyn ReportSource>) -> Report {
    let taken = tokio::task::spawn_blocking(move || source.report()).await;
    taken.unwrap_or_else(|_| Report::unknown(now(), "the posture probes failed unexpectedly"))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// What the gateway made of a re-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recheck {
    /// Still fine; these warnings are to be shown.
    Passed(Vec<PostureNotice>),
    /// No longer fine: the gateway ends the session and says why.
    Ended(Ending),
}

/// Why a re-check could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    /// The stream could not be opened or written (the connection is going).
    #[error("the re-check could not be sent: {0}")]
    Send(String),
    /// The gateway answered something else, or nothing in time.
    #[error("the gateway did not answer the re-check: {0}")]
    Answer(String),
}

/// How long the gateway may take to judge a re-check.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `report` as a re-check on a stream of its own and reads the gateway's answer.
pub async fn recheck(mux: &MuxClient, report: &Report) -> Result<Recheck, RecheckError> {
    let mut stream = mux
        .open_stream()
        .await
        .map_err(|e| RecheckError::Send(e.to_string()))?;
    let message = ClientMessage::Posture(Box::new(report.clone()));
    protocol::write_message(&mut stream, &message, DEFAULT_MAX_FRAME_LEN)
        .await
        .map_err(|e| RecheckError::Send(e.to_string()))?;
    let _ = stream.shutdown().await;
    let answer = tokio::time::timeout(
        ANSWER_TIMEOUT,
        protocol::read_gateway_message(&mut stream, DEFAULT_MAX_FRAME_LEN),
    )
    .await
    .map_err(|_| RecheckError::Answer("no answer in time".into()))?
    .map_err(|e| RecheckError::Answer(e.to_string()))?;
    match answer {
        GatewayMessage::PostureChecked(checked) => Ok(Recheck::Passed(checked.warnings)),
        GatewayMessage::Ending(ending) => Ok(Recheck::Ended(ending)),
        _ => Err(RecheckError::Answer("an unexpected message".into())),
    }
}

/// How soon a re-check that could not be done is tried again: well within the gateway's grace
/// (`src/gateway/recheck.rs`), so one lost answer does not end the session.
const RETRY_AFTER: Duration = Duration::from_secs(20);

/// Re-checks every `every` for as long as the session lasts; shows warnings through `warn`
/// and resolves with the gateway's notice once a re-check ends the session. A re-check that
/// could not be done is tried again after [`RETRY_AFTER`].
pub async fn keep_reporting(
    mux: MuxClient,
    every: Duration,
    source: Arc<dyn ReportSource>,
    warn: impl Fn(&[PostureNotice]),
) -> Ending {
    let mut wait = every;
    loop {
        tokio::time::sleep(wait).await;
        let report = fresh(Arc::clone(&source)).await;
        match recheck(&mux, &report).await {
            Ok(Recheck::Passed(warnings)) => {
                wait = every;
                if !warnings.is_empty() {
                    warn(&warnings);
                }
            }
            Ok(Recheck::Ended(ending)) => return ending,
            Err(e) => {
                tracing::warn!("{e}; trying again in {} s", RETRY_AFTER.as_secs());
                wait = RETRY_AFTER.min(every);
            }
        }
    }
}

/// Failed rules as the person reads them: each in the run's language, as the operator wrote
/// it (`nb` or `en`); those that refuse first, warnings after, marked as such.
pub fn notices_text(notices: &[PostureNotice]) -> String {
    use crate::i18n::{catalogue::posture::WARNING_MARK, current, Lang};
    let (denied, warned): (Vec<&PostureNotice>, Vec<&PostureNotice>) = notices
        .iter()
        .partition(|n| n.action == crate::posture::policy::Action::Deny);
    let lang = current();
    let line = |n: &PostureNotice, mark: &str| {
        let text = match lang {
            Lang::Nb => &n.nb,
            Lang::En => &n.en,
        };
        format!("  • {mark}{text}")
    };
    denied
        .into_iter()
        .map(|n| line(n, ""))
        .chain(warned.into_iter().map(|n| line(n, WARNING_MARK.as_str())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The reports a connection sends: the first one started before the card and the PIN, so
/// the probes run while the person types; later ones (reconnects, re-checks) taken fresh.
pub struct PostureFeed {
    source: Arc<dyn ReportSource>,
    early: Option<std::thread::JoinHandle<Report>>,
}

impl PostureFeed {
    /// Starts the first report now, in a thread of its own.
    pub fn start(source: Arc<dyn ReportSource>) -> PostureFeed {
        let first = Arc::clone(&source);
        let early = std::thread::Builder::new()
            .name("posture".into())
            .spawn(move || first.report())
            .ok();
        PostureFeed { source, early }
    }

    /// The report for the next login: the early one the first time, a fresh one after.
    pub async fn next(&mut self) -> Report {
        match self.early.take() {
            Some(early) => tokio::task::spawn_blocking(move || early.join())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_else(|| {
                    Report::unknown(now(), "the posture probes failed unexpectedly")
                }),
            None => fresh(Arc::clone(&self.source)).await,
        }
    }

    /// Where re-check reports come from.
    pub fn source(&self) -> Arc<dyn ReportSource> {
        Arc::clone(&self.source)
    }
}

/// Why the gateway's policy could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// No connection to the gateway.
    #[error("the gateway {address} could not be reached: {detail}")]
    Unreachable {
        /// `host:port`.
        address: String,
        /// Why.
        detail: String,
    },
    /// The TLS handshake failed (a gateway certificate we do not trust, or a gateway too old
    /// to publish its policy).
    #[error("the TLS handshake with the gateway failed: {0}")]
    Tls(String),
    /// The gateway said something else, or nothing in time.
    #[error("the gateway did not send its policy: {0}")]
    Answer(String),
}

/// Fetches the gateway's posture policy: TLS to the gateway (its certificate checked against
/// `gateway.roots`), no card, one `policy` frame. Each step bounded by `gateway.step_timeout`.
pub async fn fetch_policy(
    gateway: &crate::client::session::GatewayTarget,
) -> Result<protocol::PublishedPolicy, PolicyError> {
    let bound = gateway.step_timeout;
    let late = |step: &str| PolicyError::Answer(format!("no answer in time ({step})"));
    let tcp = tokio::time::timeout(bound, tokio::net::TcpStream::connect(&gateway.address))
        .await
        .map_err(|_| late("connecting"))?
        .map_err(|e| PolicyError::Unreachable {
            address: gateway.address.clone(),
            detail: e.to_string(),
        })?;
    let mut roots = rustls::RootCertStore::empty();
    for root in &gateway.roots {
        roots
            .add(root.clone())
            .map_err(|e| PolicyError::Tls(e.to_string()))?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(crate::tunnel::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| PolicyError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![protocol::POLICY_ALPN.to_vec()];
    let name = rustls::pki_types::ServerName::try_from(gateway.server_name.clone())
        .map_err(|e| PolicyError::Tls(e.to_string()))?;
    let connect = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp);
    let mut tls = tokio::time::timeout(bound, connect)
        .await
        .map_err(|_| late("the TLS handshake"))?
        .map_err(|e| PolicyError::Tls(e.to_string()))?;
    let read = protocol::read_gateway_message(&mut tls, DEFAULT_MAX_FRAME_LEN);
    match tokio::time::timeout(bound, read).await {
        Err(_) => Err(late("the policy")),
        Ok(Err(e)) => Err(PolicyError::Answer(e.to_string())),
        Ok(Ok(GatewayMessage::Policy(published))) => Ok(published),
        Ok(Ok(_)) => Err(PolicyError::Answer("an unexpected message".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{with_lang, Lang};
    use crate::posture::policy::Action;

    #[test]
    fn notices_are_shown_in_the_run_s_language_refusals_first() {
        let notice = |rule: &str, action, nb: &str, en: &str| PostureNotice {
            rule: rule.into(),
            action,
            nb: nb.into(),
            en: en.into(),
        };
        let notices = [
            notice(
                "disk-encryption",
                Action::Warn,
                "Ikke kryptert.",
                "Not encrypted.",
            ),
            notice(
                "firewall",
                Action::Deny,
                "Brannmuren er av.",
                "The firewall is off.",
            ),
        ];
        assert_eq!(
            with_lang(Lang::Nb, || notices_text(&notices)),
            "  • Brannmuren er av.\n  • Advarsel: Ikke kryptert."
        );
        assert_eq!(
            with_lang(Lang::En, || notices_text(&notices)),
            "  • The firewall is off.\n  • Warning: Not encrypted."
        );
    }
}
