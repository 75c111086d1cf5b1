//! Why the gateway refused a client certificate during the handshake, in the words of the
//! audit log.
//!
//! rustls ends a refused handshake with an error; the gateway needs a reason it can write. Two
//! kinds of refusal reach it: webpki's (rustls' own `CertificateError` variants, kept as they
//! are so the client gets the matching TLS alert) and ours from the certificate rules
//! (`CertificateError::Other` holding a [`TlsRefusalError`]). [`refusal_of`] reads either back
//! from the `std::io::Error` tokio-rustls returns.

use std::fmt;

use rustls::pki_types::UnixTime;
use rustls::{CertRevocationListError, CertificateError, OtherError};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cert::Reason;

/// A TLS-level certificate refusal. The kebab-case names are the audit log's
/// `RefusalReason` names for the same refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsRefusal {
    /// The client sent no certificate.
    NoCertificate,
    /// The certificate does not chain to a trust anchor (unknown issuer, bad signature on the
    /// path, an unusable or not-yet/no-longer valid CA, an unreadable certificate).
    Untrusted,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotYetValid,
    /// A CRL lists the certificate.
    Revoked,
    /// Revocation cannot be checked: the covering CRL is past its nextUpdate, no configured
    /// CRL covers the issuer, or the CRL itself is unusable.
    CrlExpired,
    /// The level is below the required one (a TEST certificate outside a test environment too).
    LevelTooLow,
    /// The certificate is not for personal client authentication: key usage without
    /// digitalSignature, extended key usage without clientAuth, a CA certificate, or no
    /// personal identifier.
    WrongUsage,
}

impl TlsRefusal {
    /// Every refusal, for tests and documentation.
    pub const ALL: [TlsRefusal; 8] = [
        TlsRefusal::NoCertificate,
        TlsRefusal::Untrusted,
        TlsRefusal::Expired,
        TlsRefusal::NotYetValid,
        TlsRefusal::Revoked,
        TlsRefusal::CrlExpired,
        TlsRefusal::LevelTooLow,
        TlsRefusal::WrongUsage,
    ];

    /// The name the audit log writes.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsRefusal::NoCertificate => "no-certificate",
            TlsRefusal::Untrusted => "untrusted",
            TlsRefusal::Expired => "expired",
            TlsRefusal::NotYetValid => "not-yet-valid",
            TlsRefusal::Revoked => "revoked",
            TlsRefusal::CrlExpired => "crl-expired",
            TlsRefusal::LevelTooLow => "level-too-low",
            TlsRefusal::WrongUsage => "wrong-usage",
        }
    }
}

impl fmt::Display for TlsRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal with what caused it, for the audit record's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client certificate refused ({refusal}): {detail}")]
pub struct TlsRefusalError {
    /// The reason, as the audit log names it.
    pub refusal: TlsRefusal,
    /// What exactly was wrong, for people.
    pub detail: String,
}

impl TlsRefusalError {
    /// A refusal with its detail.
    pub fn new(refusal: TlsRefusal, detail: impl Into<String>) -> Self {
        TlsRefusalError {
            refusal,
            detail: detail.into(),
        }
    }

    /// The refusal the certificate rules' first reason stands for (reasons come in rule order).
    pub fn from_reasons(reasons: &[Reason]) -> Option<Self> {
        let reason = reasons.first()?;
        let (refusal, detail) = match reason {
            Reason::NotAPersonalCertificate => (
                TlsRefusal::WrongUsage,
                "a CA certificate, not a personal one".to_string(),
            ),
            Reason::NotYetValid { not_before } => (
                TlsRefusal::NotYetValid,
                format!("valid from {}", rfc3339(*not_before)),
            ),
            Reason::Expired { not_after } => (
                TlsRefusal::Expired,
                format!("expired {}", rfc3339(*not_after)),
            ),
            Reason::LevelTooLow { found, required } => (
                TlsRefusal::LevelTooLow,
                format!("level {found}, {required} required"),
            ),
            Reason::KeyUsageWithoutDigitalSignature { key_usage } => (
                TlsRefusal::WrongUsage,
                format!(
                    "key usage without digitalSignature: {}",
                    key_usage.join(", ")
                ),
            ),
            Reason::ExtendedKeyUsageWithoutClientAuth { extended_key_usage } => (
                TlsRefusal::WrongUsage,
                format!(
                    "extended key usage without clientAuth: {}",
                    extended_key_usage.join(", ")
                ),
            ),
            Reason::MissingPersonalId => (
                TlsRefusal::WrongUsage,
                "no Norwegian personal identifier in the subject".to_string(),
            ),
            Reason::UnknownIssuer => (TlsRefusal::Untrusted, "unknown issuer".to_string()),
            Reason::Revoked => (TlsRefusal::Revoked, "listed on the CRL".to_string()),
            Reason::RevocationUnknown => (
                TlsRefusal::CrlExpired,
                "no configured CRL covers the issuer".to_string(),
            ),
            Reason::CrlExpired { next_update } => (
                TlsRefusal::CrlExpired,
                format!("the CRL expired {}", rfc3339(*next_update)),
            ),
            Reason::CrlInvalid { detail } => {
                (TlsRefusal::CrlExpired, format!("unusable CRL: {detail}"))
            }
            Reason::IssuerNotValid { detail } => {
                (TlsRefusal::Untrusted, format!("issuer not valid: {detail}"))
            }
            Reason::ChainInvalid { detail } => (TlsRefusal::Untrusted, detail.clone()),
        };
        Some(TlsRefusalError { refusal, detail })
    }

    /// As the rustls error a verifier returns: `CertificateError::Other` holding this.
    pub fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(std::sync::Arc::new(
            self,
        ))))
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn unix(t: UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .map_or_else(|| format!("{} s after 1970", t.as_secs()), rfc3339)
}

/// The refusal behind a failed server handshake: `err` is the `std::io::Error` from
/// tokio-rustls' accept, or the `rustls::Error` itself. `None` when the handshake failed for
/// another reason (the client left, spoke nonsense, offered nothing we share …).
pub fn refusal_of(err: &(dyn std::error::Error + 'static)) -> Option<TlsRefusal> {
    refusal_detail_of(err).map(|r| r.refusal)
}

/// [`refusal_of`] with the detail for the audit record.
pub fn refusal_detail_of(err: &(dyn std::error::Error + 'static)) -> Option<TlsRefusalError> {
    from_rustls(super::rustls_error_in(err)?)
}

fn from_rustls(err: &rustls::Error) -> Option<TlsRefusalError> {
    use TlsRefusal as R;
    let refusal = |r, d: &str| Some(TlsRefusalError::new(r, d));
    match err {
        rustls::Error::NoCertificatesPresented => refusal(R::NoCertificate, "no certificate"),
        rustls::Error::InvalidCertRevocationList(e) => Some(TlsRefusalError::new(
            R::CrlExpired,
            format!("unusable CRL: {}", crl_words(e)),
        )),
        rustls::Error::InvalidCertificate(e) => Some(from_certificate_error(e)),
        _ => None,
    }
}

fn crl_words(e: &CertRevocationListError) -> String {
    format!("{e:?}")
}

fn from_certificate_error(e: &CertificateError) -> TlsRefusalError {
    use CertificateError as C;
    use TlsRefusal as R;
    let (refusal, detail) = match e {
        C::Other(OtherError(inner)) => {
            if let Some(ours) = inner.downcast_ref::<TlsRefusalError>() {
                return ours.clone();
            }
            (R::Untrusted, inner.to_string())
        }
        C::Expired => (R::Expired, "expired".to_string()),
        C::ExpiredContext { not_after, .. } => {
            (R::Expired, format!("expired {}", unix(*not_after)))
        }
        C::NotValidYet => (R::NotYetValid, "not valid yet".to_string()),
        C::NotValidYetContext { not_before, .. } => {
            (R::NotYetValid, format!("valid from {}", unix(*not_before)))
        }
        C::Revoked => (R::Revoked, "listed on the CRL".to_string()),
        C::UnknownIssuer => (R::Untrusted, "unknown issuer".to_string()),
        C::UnknownRevocationStatus => (
            R::CrlExpired,
            "no configured CRL covers the issuer".to_string(),
        ),
        C::ExpiredRevocationList => (R::CrlExpired, "the CRL has expired".to_string()),
        C::ExpiredRevocationListContext { next_update, .. } => (
            R::CrlExpired,
            format!("the CRL expired {}", unix(*next_update)),
        ),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            (R::WrongUsage, "not for client authentication".to_string())
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            (R::WrongUsage, "not valid for this name".to_string())
        }
        other => (R::Untrusted, format!("{other:?}")),
    };
    TlsRefusalError { refusal, detail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::audit::record::RefusalReason;
    use std::sync::Arc;

    #[test]
    fn names_are_the_audit_log_names() {
        for r in TlsRefusal::ALL {
            let audit: RefusalReason =
                serde_json::from_value(serde_json::Value::String(r.as_str().into())).unwrap();
            assert_eq!(audit.as_str(), r.as_str());
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::Value::String(r.to_string())
            );
        }
    }

    #[test]
    fn webpki_and_our_own_refusals_read_back() {
        let io = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let cases = [
            (
                rustls::Error::NoCertificatesPresented,
                TlsRefusal::NoCertificate,
            ),
            (C::UnknownIssuer.into(), TlsRefusal::Untrusted),
            (C::BadSignature.into(), TlsRefusal::Untrusted),
            (C::Expired.into(), TlsRefusal::Expired),
            (C::NotValidYet.into(), TlsRefusal::NotYetValid),
            (C::Revoked.into(), TlsRefusal::Revoked),
            (C::UnknownRevocationStatus.into(), TlsRefusal::CrlExpired),
            (C::ExpiredRevocationList.into(), TlsRefusal::CrlExpired),
            (C::InvalidPurpose.into(), TlsRefusal::WrongUsage),
            (
                CertRevocationListError::BadSignature.into(),
                TlsRefusal::CrlExpired,
            ),
            (
                TlsRefusalError::new(TlsRefusal::LevelTooLow, "x").into_rustls(),
                TlsRefusal::LevelTooLow,
            ),
            (
                C::Other(OtherError(Arc::new(std::io::Error::other("?")))).into(),
                TlsRefusal::Untrusted,
            ),
        ];
        for (err, want) in cases {
            assert_eq!(refusal_of(&err), Some(want), "{err:?}");
            assert_eq!(refusal_of(&io(err.clone())), Some(want), "{err:?}");
        }
        assert_eq!(refusal_of(&io(rustls::Error::DecryptError)), None);
        assert_eq!(refusal_of(&std::io::Error::other("reset")), None);
        let ours = TlsRefusalError::new(TlsRefusal::WrongUsage, "key usage");
        assert_eq!(
            refusal_detail_of(&io(ours.clone().into_rustls())),
            Some(ours)
        );
    }

    use CertificateError as C;

    #[test]
    fn rule_reasons_map_first_reason_first() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let r = TlsRefusalError::from_reasons(&[
            Reason::Expired { not_after: at },
            Reason::LevelTooLow {
                found: crate::cert::Level::Test,
                required: crate::cert::Level::PersonHigh,
            },
        ])
        .unwrap();
        assert_eq!(r.refusal, TlsRefusal::Expired);
        assert!(r.detail.contains("1970-01-01"), "{}", r.detail);
        assert_eq!(TlsRefusalError::from_reasons(&[]), None);
        assert_eq!(
            TlsRefusalError::from_reasons(&[Reason::MissingPersonalId])
                .unwrap()
                .refusal,
            TlsRefusal::WrongUsage
        );
    }
}
