//! The TLS handshake with the gateway, as a session's would be (TLS 1.3, its certificate
//! checked against the configured roots and the name), but offering the policy ALPN so no card
//! is needed (`docs/protocol.md` §1.2). The gateway then sends its published policy, which
//! carries its clock.
//!
//! The computer's clock is injected into rustls as well, so a test can judge the gateway's
//! certificate at any time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError};
use serde_json::json;
use time::OffsetDateTime;

use super::trace::Trace;
use super::{seconds, CheckResult, Clock};
use crate::cli::output::date;
use crate::i18n::catalogue::doctor as m;
use crate::tunnel::protocol::{self, GatewayMessage, PublishedPolicy, DEFAULT_MAX_FRAME_LEN};

/// A gateway certificate this close to its end gets a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The gateway's certificate, as far as people need to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// Its subject.
    pub subject: String,
    /// The DNS names and IP addresses it is valid for.
    pub names: Vec<String>,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl Presented {
    /// Reads a DER certificate; `None` when it cannot be read (rustls accepted it, so this
    /// only loses the detail).
    pub fn read(der: &[u8]) -> Option<Presented> {
        use x509_parser::extensions::GeneralName;
        use x509_parser::prelude::FromDer;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(n) => names.push(n.to_string()),
                    GeneralName::IPAddress(b) => names.extend(ip_of(b)),
                    _ => {}
                }
            }
        }
        Some(Presented {
            subject: cert.subject().to_string(),
            names,
            not_after: cert.validity().not_after.to_datetime(),
        })
    }
}

fn ip_of(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv4Addr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv6Addr::from(b).to_string()),
        _ => None,
    }
}

/// A handshake that succeeded.
#[derive(Debug, Clone)]
pub struct TlsSeen {
    /// `TLSv1_3`.
    pub version: String,
    /// The gateway's certificate.
    pub presented: Option<Presented>,
    /// The policy frame, or why it did not come.
    pub policy: Result<PublishedPolicy, String>,
    /// The computer's clock when the policy frame came.
    pub received_at: OffsetDateTime,
}

/// Why the handshake failed, sorted by what the person can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailure {
    /// No TCP connection.
    #[error("no connection: {0}")]
    Connect(String),
    /// A step had no answer in time.
    #[error("no answer within {} ms ({step})", bound.as_millis())]
    TimedOut {
        /// `connecting`, `the TLS handshake`.
        step: &'static str,
        /// How long we waited.
        bound: Duration,
    },
    /// The certificate is for other names.
    #[error("the certificate is for {presented:?}, not {expected}")]
    WrongName {
        /// The name we connected to.
        expected: String,
        /// The names in the certificate (empty when rustls did not say).
        presented: Vec<String>,
    },
    /// The certificate has expired (by the computer's clock).
    #[error("the certificate has expired")]
    Expired {
        /// Its end, Unix seconds, when known.
        not_after: Option<u64>,
    },
    /// The certificate is not valid yet (by the computer's clock).
    #[error("the certificate is not valid yet")]
    NotYetValid,
    /// The certificate does not chain to the configured roots.
    #[error("the certificate is not issued by the configured CA")]
    UnknownIssuer,
    /// The certificate is revoked.
    #[error("the certificate is revoked")]
    Revoked,
    /// Another certificate problem.
    #[error("the certificate was refused: {0}")]
    Certificate(String),
    /// The gateway does not speak the policy protocol (older than it).
    #[error("the gateway does not publish its policy")]
    NoPolicyProtocol,
    /// Another handshake failure.
    #[error("the handshake failed: {0}")]
    Handshake(String),
}

/// A handshake's outcome.
pub type TlsOutcome = Result<TlsSeen, TlsFailure>;

/// The injected clock as rustls' time.
struct ClockTime(Arc<dyn Clock>);

impl std::fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockTime")
    }
}

impl rustls::time_provider::TimeProvider for ClockTime {
    fn current_time(&self) -> Option<UnixTime> {
        let secs = u64::try_from(self.0.now().unix_timestamp()).ok()?;
        Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
    }
}

fn client_config(
    roots: &[CertificateDer<'static>],
    clock: Arc<dyn Clock>,
) -> Result<rustls::ClientConfig, TlsFailure> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store
            .add(root.clone())
            .map_err(|e| TlsFailure::Handshake(format!("the CA certificate: {e}")))?;
    }
    let provider = crate::tunnel::tls::provider();
    let mut config =
        rustls::ClientConfig::builder_with_details(provider, Arc::new(ClockTime(clock)))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsFailure::Handshake(e.to_string()))?
            .with_root_certificates(store)
            .with_no_client_auth();
    config.alpn_protocols = vec![protocol::POLICY_ALPN.to_vec()];
    Ok(config)
}

/// Connects to `addr`, makes the handshake for `server_name`, and reads the policy frame;
/// each of the three waits bounded by `bound`.
pub async fn probe(
    addr: SocketAddr,
    server_name: &str,
    roots: &[CertificateDer<'static>],
    clock: Arc<dyn Clock>,
    bound: Duration,
    trace: &Trace,
) -> TlsOutcome {
    let began = Instant::now();
    let outcome = handshake(addr, server_name, roots, Arc::clone(&clock), bound).await;
    let said = match &outcome {
        Ok(seen) => match &seen.policy {
            Ok(_) => format!("{}, policy received", seen.version),
            Err(e) => format!("{}, no policy: {e}", seen.version),
        },
        Err(e) => e.to_string(),
    };
    trace.record(
        "tls",
        &format!("TLS handshake with {server_name} at {addr}"),
        began,
        said,
    );
    outcome
}

async fn handshake(
    addr: SocketAddr,
    server_name: &str,
    roots: &[CertificateDer<'static>],
    clock: Arc<dyn Clock>,
    bound: Duration,
) -> TlsOutcome {
    let late = |step| TlsFailure::TimedOut { step, bound };
    let config = client_config(roots, Arc::clone(&clock))?;
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| TlsFailure::Handshake(format!("«{server_name}»: {e}")))?;
    let tcp = tokio::time::timeout(bound, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| late("connecting"))?
        .map_err(|e| TlsFailure::Connect(e.to_string()))?;
    let connect = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp);
    let mut tls = tokio::time::timeout(bound, connect)
        .await
        .map_err(|_| late("the TLS handshake"))?
        .map_err(|e| failure_of(&e))?;
    let (_, connection) = tls.get_ref();
    let version = connection
        .protocol_version()
        .map_or_else(|| "TLS".to_string(), |v| format!("{v:?}"));
    let presented = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| Presented::read(leaf));
    let read = protocol::read_gateway_message(&mut tls, DEFAULT_MAX_FRAME_LEN);
    let policy = match tokio::time::timeout(bound, read).await {
        Err(_) => Err(format!("no answer within {} ms", bound.as_millis())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(GatewayMessage::Policy(published))) => Ok(published),
        Ok(Ok(_)) => Err("an unexpected message".into()),
    };
    Ok(TlsSeen {
        version,
        presented,
        policy,
        received_at: clock.now(),
    })
}

/// Sorts a handshake error by what the person can do about it.
fn failure_of(e: &std::io::Error) -> TlsFailure {
    use rustls::Error as E;
    let Some(tls) = crate::tunnel::tls::rustls_error_in(e) else {
        return TlsFailure::Handshake(e.to_string());
    };
    match tls {
        E::InvalidCertificate(c) => match c {
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => TlsFailure::WrongName {
                expected: expected.to_str().into_owned(),
                presented: presented.iter().map(|n| bare_name(n)).collect(),
            },
            CertificateError::NotValidForName => TlsFailure::WrongName {
                expected: String::new(),
                presented: Vec::new(),
            },
            CertificateError::Expired => TlsFailure::Expired { not_after: None },
            CertificateError::ExpiredContext { not_after, .. } => TlsFailure::Expired {
                not_after: Some(not_after.as_secs()),
            },
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotYetValid
            }
            // A bad signature on the chain: a CA of the same name but another key, which is
            // the same mistake as a CA of another name.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsFailure::UnknownIssuer
            }
            CertificateError::Revoked => TlsFailure::Revoked,
            other => TlsFailure::Certificate(format!("{other:?}")),
        },
        E::AlertReceived(AlertDescription::NoApplicationProtocol) => TlsFailure::NoPolicyProtocol,
        other => TlsFailure::Handshake(other.to_string()),
    }
}

/// A presented name as rustls writes it (`DnsName("gw.example")`, `IpAddress(192.0.2.7)`)
/// without the wrapping.
fn bare_name(name: &str) -> String {
    let inner = name
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        });
    inner.unwrap_or(name).to_string()
}

/// The handshake, judged at `now`.
pub fn tls_check(
    server_name: &str,
    addr: SocketAddr,
    outcome: &TlsOutcome,
    now: OffsetDateTime,
) -> CheckResult {
    let seen = match outcome {
        Ok(seen) => seen,
        Err(failure) => return refused(server_name, addr, failure),
    };
    let mut details =
        json!({ "address": addr.to_string(), "server_name": server_name, "version": seen.version });
    let Some(cert) = &seen.presented else {
        return CheckResult::ok(
            "tls",
            m::TLS_OK.with(&[("name", &server_name), ("addr", &addr)]),
        )
        .details(details);
    };
    let days = (cert.not_after - now).whole_days();
    details["certificate"] = json!({
        "subject": cert.subject,
        "names": cert.names,
        "not_after": cert.not_after.unix_timestamp(),
        "days_left": days,
    });
    let until = date(cert.not_after);
    let result = if days <= EXPIRY_WARNING_DAYS {
        CheckResult::warning(
            "tls",
            m::TLS_EXPIRES_SOON.with(&[("name", &server_name), ("until", &until), ("days", &days)]),
            m::TLS_EXPIRES_SOON_FIX.text(),
        )
    } else {
        CheckResult::ok(
            "tls",
            m::TLS_OK_UNTIL.with(&[("name", &server_name), ("addr", &addr), ("until", &until)]),
        )
    };
    result.details(details)
}

fn refused(server_name: &str, addr: SocketAddr, failure: &TlsFailure) -> CheckResult {
    let details = json!({ "address": addr.to_string(), "server_name": server_name, "failure": failure.to_string() });
    let clock_too = m::TLS_CLOCK_TOO.text();
    let result = match failure {
        TlsFailure::WrongName {
            expected,
            presented,
        } => {
            let expected = if expected.is_empty() {
                server_name
            } else {
                expected
            };
            let names = if presented.is_empty() {
                m::TLS_OTHER_NAMES.text()
            } else {
                presented
                    .iter()
                    .map(|n| m::QUOTED.with(&[("name", n)]))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            CheckResult::fail(
                "tls",
                m::TLS_WRONG_NAME.with(&[
                    ("addr", &addr),
                    ("names", &names),
                    ("expected", &expected),
                ]),
                m::TLS_WRONG_NAME_FIX.with(&[("expected", &expected)]),
            )
        }
        TlsFailure::UnknownIssuer => CheckResult::fail(
            "tls",
            m::TLS_UNKNOWN_ISSUER.with(&[("addr", &addr)]),
            m::TLS_UNKNOWN_ISSUER_FIX.text(),
        ),
        TlsFailure::Expired { not_after } => {
            let when = not_after
                .and_then(|s| OffsetDateTime::from_unix_timestamp(i64::try_from(s).ok()?).ok())
                .map_or(String::new(), |t| format!(" {}", date(t)));
            CheckResult::fail(
                "tls",
                m::TLS_EXPIRED.with(&[("when", &when)]),
                m::TLS_EXPIRED_FIX.with(&[("clock_too", &clock_too)]),
            )
        }
        TlsFailure::NotYetValid => CheckResult::fail(
            "tls",
            m::TLS_NOT_YET.text(),
            m::TLS_NOT_YET_FIX.with(&[("clock_too", &clock_too)]),
        ),
        TlsFailure::Revoked => {
            CheckResult::fail("tls", m::TLS_REVOKED.text(), m::TLS_REVOKED_FIX.text())
        }
        TlsFailure::NoPolicyProtocol => CheckResult::warning(
            "tls",
            m::TLS_OLD_GATEWAY.text(),
            m::TLS_OLD_GATEWAY_FIX.text(),
        ),
        TlsFailure::TimedOut { step, bound } => CheckResult::fail(
            "tls",
            m::TLS_TIMED_OUT.with(&[
                ("addr", &addr),
                ("bound", &seconds(*bound)),
                ("step", &step_words(step)),
            ]),
            m::TLS_TIMED_OUT_FIX.text(),
        ),
        TlsFailure::Connect(e) => CheckResult::fail(
            "tls",
            m::TLS_NO_CONNECTION.with(&[("addr", &addr), ("error", e)]),
            m::TLS_NO_CONNECTION_FIX.text(),
        ),
        TlsFailure::Certificate(e) | TlsFailure::Handshake(e) => CheckResult::fail(
            "tls",
            m::TLS_FAILED.with(&[("addr", &addr), ("error", e)]),
            m::TLS_FAILED_FIX.text(),
        ),
    };
    result.details(details)
}

fn step_words(step: &str) -> &'static str {
    match step {
        "connecting" => m::STEP_CONNECTING.as_str(),
        _ => m::STEP_HANDSHAKE.as_str(),
    }
}

#[cfg(test)]
mod tests;
