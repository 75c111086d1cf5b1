//! Chain and revocation: does the certificate lead to one of our trust anchors, and does a
//! CRL from its issuer say it is revoked? rustls-webpki does the validation; we only translate
//! its answer into problems a person can act on ([`ChainProblem`]).
//!
//! Choices, each deliberate:
//! - extended key usage is *not* checked here (a permissive validator is passed to webpki):
//!   the rules in [`super::verdict`] report it, with the usages found, and the chain check
//!   still tells whether the certificate is trusted and not revoked;
//! - revocation is checked for the end-entity certificate only (its issuing CA publishes the
//!   CRL people fetch); when CRLs are given, one must cover the certificate, else the status is
//!   unknown; an expired CRL is a problem of its own;
//! - with no CRLs, revocation is not checked and the verdict says so in a warning.

use super::CertError;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, EndEntityCert, ExpirationPolicy,
    ExtendedKeyUsageValidator, KeyPurposeIdIter, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};

/// Trust anchors, intermediates and CRLs, as DER. Built by the shell from files or
/// configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainConfig {
    /// Certificates we trust (roots, or an issuing CA trusted directly).
    pub anchors: Vec<Vec<u8>>,
    /// CA certificates that may sit between the certificate and an anchor.
    pub intermediates: Vec<Vec<u8>>,
    /// Certificate revocation lists.
    pub crls: Vec<Vec<u8>>,
}

/// What the chain check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainOutcome {
    /// A path to a trust anchor was found and nothing was wrong on it.
    pub trusted: bool,
    /// The subject of the anchor the path ends in.
    pub anchor: Option<String>,
    /// CRLs were given (so revocation was part of the check).
    pub revocation_checked: bool,
    /// What was wrong, if anything.
    pub problem: Option<ChainProblem>,
}

/// Why the chain check failed, in terms a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum ChainProblem {
    /// No path to any trust anchor.
    UnknownIssuer,
    /// The certificate is on its issuer's CRL.
    Revoked,
    /// No given CRL covers the certificate.
    RevocationUnknown,
    /// The covering CRL is past its nextUpdate.
    CrlExpired {
        /// The CRL's nextUpdate.
        #[serde(with = "time::serde::rfc3339")]
        next_update: OffsetDateTime,
    },
    /// The CRL's signature does not verify, or its issuer may not sign CRLs.
    CrlInvalid {
        /// What the verifier said.
        detail: String,
    },
    /// A certificate on the path (maybe the certificate itself) is not valid at the time.
    NotValidAtTime {
        /// What the verifier said.
        detail: String,
    },
    /// The certificate is a CA certificate.
    CaUsedAsEndEntity,
    /// Anything else webpki refused.
    Invalid {
        /// What the verifier said.
        detail: String,
    },
}

/// Accepts any extended key usage: the verdict rules check it themselves.
struct AnyEku;

impl ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, _: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// Validates `der` to the configured anchors at time `at`. Errors only for configuration that
/// cannot be read (an anchor or CRL that does not parse); everything about the certificate is
/// an outcome.
pub fn check(
    der: &[u8],
    config: &ChainConfig,
    at: OffsetDateTime,
) -> Result<ChainOutcome, CertError> {
    let anchor_ders: Vec<CertificateDer<'_>> = config
        .anchors
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let anchors = anchor_ders
        .iter()
        .enumerate()
        .map(|(i, d)| {
            webpki::anchor_from_trusted_cert(d).map_err(|e| CertError::BadTrustAnchor {
                index: i + 1,
                detail: format!("{e:?}"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let intermediates: Vec<CertificateDer<'_>> = config
        .intermediates
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let crls = config
        .crls
        .iter()
        .enumerate()
        .map(|(i, d)| {
            BorrowedCertRevocationList::from_der(d)
                .map(CertRevocationList::from)
                .map_err(|e| CertError::BadCrl {
                    index: i + 1,
                    detail: format!("{e:?}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let crl_refs: Vec<&CertRevocationList<'_>> = crls.iter().collect();
    let revocation = RevocationOptionsBuilder::new(&crl_refs).ok().map(|b| {
        b.with_depth(RevocationCheckDepth::EndEntity)
            .with_status_policy(UnknownStatusPolicy::Deny)
            .with_expiration_policy(ExpirationPolicy::Enforce)
            .build()
    });
    let revocation_checked = revocation.is_some();

    let ee_der = CertificateDer::from(der);
    let ee = match EndEntityCert::try_from(&ee_der) {
        Ok(ee) => ee,
        Err(e) => {
            return Ok(ChainOutcome {
                trusted: false,
                anchor: None,
                revocation_checked,
                problem: Some(translate(e)),
            })
        }
    };
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(at.unix_timestamp()).unwrap_or(0),
    ));
    let result = ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        time,
        AnyEku,
        revocation,
        None,
    );
    Ok(match result {
        Ok(path) => ChainOutcome {
            trusted: true,
            anchor: name_of(path.anchor().subject.as_ref()),
            revocation_checked,
            problem: None,
        },
        Err(e) => ChainOutcome {
            trusted: false,
            anchor: None,
            revocation_checked,
            problem: Some(translate(e)),
        },
    })
}

fn translate(e: webpki::Error) -> ChainProblem {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => ChainProblem::UnknownIssuer,
        E::CertRevoked => ChainProblem::Revoked,
        E::UnknownRevocationStatus => ChainProblem::RevocationUnknown,
        E::CrlExpired { next_update, .. } => ChainProblem::CrlExpired {
            next_update: OffsetDateTime::from_unix_timestamp(
                i64::try_from(next_update.as_secs()).unwrap_or(i64::MAX),
            )
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        },
        E::InvalidCrlSignatureForPublicKey
        | E::IssuerNotCrlSigner
        | E::UnsupportedCrlSignatureAlgorithmContext(_)
        | E::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_) => ChainProblem::CrlInvalid {
            detail: format!("{e:?}"),
        },
        E::CertExpired { .. } | E::CertNotValidYet { .. } | E::InvalidCertValidity => {
            ChainProblem::NotValidAtTime {
                detail: format!("{e:?}"),
            }
        }
        E::CaUsedAsEndEntity => ChainProblem::CaUsedAsEndEntity,
        other => ChainProblem::Invalid {
            detail: format!("{other:?}"),
        },
    }
}

/// The anchor's subject (a DER Name's contents, without the SEQUENCE header), as text.
fn name_of(subject_contents: &[u8]) -> Option<String> {
    let mut der = vec![0x30];
    let len = subject_contents.len();
    if len < 0x80 {
        der.push(len as u8);
    } else if len <= 0xFF {
        der.extend([0x81, len as u8]);
    } else if len <= 0xFFFF {
        der.extend([0x82, (len >> 8) as u8, len as u8]);
    } else {
        return None;
    }
    der.extend_from_slice(subject_contents);
    use x509_parser::prelude::FromDer;
    let (_, name) = x509_parser::x509::X509Name::from_der(&der).ok()?;
    let cn = name
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string);
    cn.or_else(|| Some(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::testutil::{Builder, Ca};
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2025-06-01 12:00 UTC);

    fn config(root: &Ca, sub: &Ca, crls: Vec<Vec<u8>>) -> ChainConfig {
        ChainConfig {
            anchors: vec![root.der.clone()],
            intermediates: vec![sub.der.clone()],
            crls,
        }
    }

    #[test]
    fn trusted_not_revoked() {
        let root = Ca::new("Eksempel Root CA");
        let sub = root.sub("Eksempel Class 3 CA G2 HT Person");
        let cert = Builder::person().build_by(&sub);
        let crl = sub.crl(&[], NOW - Duration::days(1), NOW + Duration::days(7));
        let out = check(&cert.der, &config(&root, &sub, vec![crl]), NOW).unwrap();
        assert_eq!(out.problem, None);
        assert!(out.trusted);
        assert!(out.revocation_checked);
        assert_eq!(out.anchor.as_deref(), Some("Eksempel Root CA"));

        let out = check(&cert.der, &config(&root, &sub, vec![]), NOW).unwrap();
        assert!(out.trusted);
        assert!(!out.revocation_checked);
    }

    #[test]
    fn distinct_problems() {
        let root = Ca::new("Eksempel Root CA");
        let sub = root.sub("Eksempel Class 3 CA G2 HT Person");
        let cert = Builder::person().serial(77).build_by(&sub);

        let revoked = sub.crl(&[77], NOW - Duration::days(1), NOW + Duration::days(7));
        let out = check(&cert.der, &config(&root, &sub, vec![revoked]), NOW).unwrap();
        assert_eq!(out.problem, Some(ChainProblem::Revoked));

        let old = sub.crl(&[], NOW - Duration::days(10), NOW - Duration::days(3));
        let out = check(&cert.der, &config(&root, &sub, vec![old]), NOW).unwrap();
        assert!(
            matches!(out.problem, Some(ChainProblem::CrlExpired { next_update }) if next_update == NOW - Duration::days(3)),
            "{out:?}"
        );

        let other_root = Ca::new("Annen Root CA");
        let other_crl = other_root.crl(&[], NOW - Duration::days(1), NOW + Duration::days(7));
        let out = check(&cert.der, &config(&root, &sub, vec![other_crl]), NOW).unwrap();
        assert_eq!(out.problem, Some(ChainProblem::RevocationUnknown));

        let cfg = ChainConfig {
            anchors: vec![other_root.der.clone()],
            intermediates: vec![sub.der.clone()],
            crls: vec![],
        };
        let out = check(&cert.der, &cfg, NOW).unwrap();
        assert_eq!(out.problem, Some(ChainProblem::UnknownIssuer));

        let out = check(&sub.der, &config(&root, &sub, vec![]), NOW).unwrap();
        assert_eq!(out.problem, Some(ChainProblem::CaUsedAsEndEntity));

        let late = NOW + Duration::days(3650);
        let out = check(&cert.der, &config(&root, &sub, vec![]), late).unwrap();
        assert!(matches!(
            out.problem,
            Some(ChainProblem::NotValidAtTime { .. })
        ));
    }

    #[test]
    fn eku_is_left_to_the_rules() {
        let root = Ca::new("Eksempel Root CA");
        let sub = root.sub("Eksempel Class 3 CA G2 HT Person");
        let cert = Builder::person()
            .eku(vec![rcgen::ExtendedKeyUsagePurpose::EmailProtection])
            .build_by(&sub);
        let out = check(&cert.der, &config(&root, &sub, vec![]), NOW).unwrap();
        assert!(out.trusted, "{out:?}");
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let root = Ca::new("Eksempel Root CA");
        let cert = Builder::person().build_by(&root);
        let cfg = ChainConfig {
            anchors: vec![root.der.clone(), vec![0x30, 0x00]],
            ..ChainConfig::default()
        };
        assert!(matches!(
            check(&cert.der, &cfg, NOW),
            Err(CertError::BadTrustAnchor { index: 2, .. })
        ));
        let cfg = ChainConfig {
            anchors: vec![root.der.clone()],
            crls: vec![b"garbage".to_vec()],
            ..ChainConfig::default()
        };
        assert!(matches!(
            check(&cert.der, &cfg, NOW),
            Err(CertError::BadCrl { index: 1, .. })
        ));
        let cfg = ChainConfig {
            anchors: vec![root.der.clone()],
            ..ChainConfig::default()
        };
        let out = check(b"\x30\x03\x02\x01\x01", &cfg, NOW).unwrap();
        assert!(matches!(out.problem, Some(ChainProblem::Invalid { .. })));
    }
}
