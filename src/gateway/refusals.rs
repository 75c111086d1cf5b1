//! Refusals that happen before a login is read — a certificate refused, no certificate, the
//! door full, a login message not understood — recorded before they are answered, and
//! coalesced per source so that a flood from one address is a counted record, not a flood of
//! disk flushes.
//!
//! Certificate refusals are recorded inside the TLS handshake: the verifier hands each to
//! [`Refusals`] (as its [`RefusalRecorder`]), which writes it durably (naming the card's holder
//! and identifier when the certificate can be read) and only then lets the alert go. If the
//! record cannot be written, the client gets an `access_denied` alert. The verifier has no
//! notion of a connection, so the server runs each handshake inside [`with_peer`], and the
//! recorder reads the client's address from there.
//!
//! The first refusal of a kind from a source in a window (10 s) is written at once; the rest
//! of that window are counted and written as one `login-refused-repeated` record when it
//! closes ([`Refusals::flush_due`], from a timer, and [`Refusals::drain`] at shutdown).

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use super::audit::{Admission, AuditError, AuditEvent, AuditLog, RefusalCoalescer, RefusalReason};
use super::server::Clock;
use crate::tunnel::tls::{RefusalRecorder, TlsRefusalError, Unrecorded};

tokio::task_local! {
    static PEER: SocketAddr;
}

/// Runs `handshake` with `peer` known to the recorder.
pub fn with_peer<F: Future>(peer: SocketAddr, handshake: F) -> impl Future<Output = F::Output> {
    PEER.scope(peer, handshake)
}

/// Writes pre-login refusals to the audit log, coalesced per source and reason.
pub struct Refusals {
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    coalescer: Mutex<RefusalCoalescer>,
}

impl std::fmt::Debug for Refusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusals")
            .field("audit", &self.audit.path())
            .finish_non_exhaustive()
    }
}

impl Refusals {
    /// Refusals written to `audit` at `clock`'s time, with the default window and bound.
    pub fn new(audit: Arc<AuditLog>, clock: Arc<dyn Clock>) -> Self {
        Refusals {
            audit,
            clock,
            coalescer: Mutex::new(RefusalCoalescer::default()),
        }
    }

    fn coalescer(&self) -> std::sync::MutexGuard<'_, RefusalCoalescer> {
        self.coalescer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this refusal is written now (`true`) or only counted.
    fn first_of_its_window(&self, source: SocketAddr, reason: RefusalReason) -> bool {
        let now = self.clock.now_utc();
        self.coalescer().admit(source.ip(), reason, now) == Admission::Record
    }

    /// Records `event` (a `login-refused` from `source` for `reason`) before the caller
    /// answers, or only counts it if one like it from the same source was written in this
    /// window. `Err` only when it had to be written and could not be.
    pub async fn record(
        &self,
        source: SocketAddr,
        reason: RefusalReason,
        event: AuditEvent,
    ) -> Result<(), AuditError> {
        if !self.first_of_its_window(source, reason) {
            return Ok(());
        }
        self.audit
            .append_async(event, self.clock.now_utc())
            .await
            .map(|_| ())
    }

    /// Writes the counts of windows that have closed; run about once a second.
    pub async fn flush_due(&self) {
        let due = self.coalescer().flush_due(self.clock.now_utc());
        self.write_counts(due).await;
    }

    /// Writes every open window's count; at shutdown.
    pub async fn drain(&self) {
        let all = self.coalescer().drain();
        self.write_counts(all).await;
    }

    async fn write_counts(&self, events: Vec<AuditEvent>) {
        for event in events {
            if let Err(e) = self.audit.append_async(event, self.clock.now_utc()).await {
                tracing::error!("a count of repeated refusals could not be recorded: {e}");
            }
        }
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

impl RefusalRecorder for Refusals {
    fn record(&self, refusal: &TlsRefusalError, end_entity: &[u8]) -> Result<(), Unrecorded> {
        let source = PEER
            .try_with(|p| *p)
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        tracing::info!(%source, reason = refusal.refusal.as_str(), "certificate refused");
        let reason = audit_reason(refusal.refusal.as_str());
        if !self.first_of_its_window(source, reason) {
            return Ok(());
        }
        let event = refusal_event(refusal, Some(end_entity), source);
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
