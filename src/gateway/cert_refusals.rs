//! Certificate refusals recorded inside the TLS handshake, before rustls sends its alert:
//! the verifier hands each refusal to [`AuditedRefusals`], which writes it durably (naming
//! the card's holder and identifier when the certificate can be read) and only then lets the
//! alert go. If the record cannot be written, the client gets an internal-error alert.
//!
//! The verifier has no notion of a connection, so the server runs each handshake inside
//! [`with_peer`], and the recorder reads the client's address from there.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use super::audit::{AuditEvent, AuditLog, RefusalReason};
use super::server::Clock;
use crate::tunnel::tls::{RefusalRecorder, TlsRefusalError, Unrecorded};

tokio::task_local! {
    static PEER: SocketAddr;
}

/// Runs `handshake` with `peer` known to the recorder.
pub fn with_peer<F: Future>(peer: SocketAddr, handshake: F) -> impl Future<Output = F::Output> {
    PEER.scope(peer, handshake)
}

/// Writes certificate refusals to the audit log.
pub struct AuditedRefusals {
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AuditedRefusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditedRefusals")
            .field("audit", &self.audit.path())
            .finish_non_exhaustive()
    }
}

impl AuditedRefusals {
    /// A recorder writing to `audit` at `clock`'s time.
    pub fn new(audit: Arc<AuditLog>, clock: Arc<dyn Clock>) -> Self {
        AuditedRefusals { audit, clock }
    }
}

/// The TLS layer's refusal names are the audit log's by construction (a test pins them);
/// this reads one back.
pub fn audit_reason(name: &str) -> RefusalReason {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .unwrap_or(RefusalReason::Untrusted)
}

/// The refusal's record: the holder's name goes into `detail`, the identifier into its field.
pub fn refusal_event(
    refusal: &TlsRefusalError,
    end_entity: Option<&[u8]>,
    source: SocketAddr,
) -> AuditEvent {
    let facts = end_entity.and_then(|der| crate::cert::parse::read(der).ok());
    let holder = facts.as_ref().and_then(|f| f.common_name.clone());
    let personal_id = facts.and_then(|f| f.personal_id.map(|p| p.normalized));
    let detail = match holder {
        Some(name) => format!("{} (kortholder: {name})", refusal.detail),
        None => refusal.detail.clone(),
    };
    AuditEvent::LoginRefused {
        reason: audit_reason(refusal.refusal.as_str()),
        user: None,
        personal_id,
        source,
        detail: Some(detail),
    }
}

impl RefusalRecorder for AuditedRefusals {
    fn record(&self, refusal: &TlsRefusalError, end_entity: &[u8]) -> Result<(), Unrecorded> {
        let source = PEER
            .try_with(|p| *p)
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let event = refusal_event(refusal, Some(end_entity), source);
        tracing::info!(%source, reason = refusal.refusal.as_str(), "certificate refused");
        let write = || self.audit.append(event, self.clock.now_utc());
        // The handshake runs on an async worker; the durable write may take a disk flush, so
        // the worker hands its other tasks on while it waits.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let written = if multi_thread {
            tokio::task::block_in_place(write)
        } else {
            write()
        };
        written.map(|_| ()).map_err(|e| {
            tracing::error!(%source, "a certificate refusal could not be recorded: {e}");
            Unrecorded
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::tls::TlsRefusal;

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
    fn an_unreadable_certificate_still_gives_a_record() {
        let refusal = TlsRefusalError::new(TlsRefusal::Revoked, "revoked by the CRL");
        let source: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        match refusal_event(&refusal, Some(b"not a certificate"), source) {
            AuditEvent::LoginRefused {
                reason,
                personal_id,
                detail,
                ..
            } => {
                assert_eq!(reason, RefusalReason::Revoked);
                assert_eq!(personal_id, None);
                assert_eq!(detail.as_deref(), Some("revoked by the CRL"));
            }
            other => panic!("{other:?}"),
        }
    }
}
