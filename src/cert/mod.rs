//! Certificate policy: what a personal certificate says about its holder, and whether it may
//! be used to log in from home.
//!
//! Everything here is a pure function of bytes, a policy and a time passed in by the caller:
//! no files, no clock, no network. The command line (`hjemmekontor cert inspect`), the card
//! commands and the gateway all call [`inspect_der`] (or the pieces it is built from).
//!
//! - [`parse`] reads the facts from a certificate (subject, personal identifier, issuer,
//!   policies, key usage, validity ...);
//! - [`qc`] decodes the qcStatements extension, which x509-parser leaves unparsed;
//! - [`level`] turns issuer and policy OID into a [`Level`] from a table of known Buypass and
//!   Commfides policies, extendable in configuration;
//! - [`verdict`] applies the authentication rules and gives *every* reason a certificate
//!   cannot be used, not just the first;
//! - [`chain`] validates the chain to configured trust anchors with CRLs, using rustls-webpki.
//!   Our level and usage rules come on top of webpki's checks, never instead of them.
//!
//! # Test certificates
//!
//! Test PKIs (Buypass Test4, Commfides test, our own TEST PKI) issue certificates with the
//! *production* policy OIDs; only the issuer tells them apart. So a certificate is marked as a
//! test certificate when its issuer's common name has the word `TEST` (any case, also with
//! digits after it, as in "Buypass Class 3 Test4 CA G2 HT Person"), when the issuer matches
//! one of the configured test issuers, or when its policy lies under a known test arc
//! (Buypass `2.16.578.1.26.1.0`, Commfides `2.16.578.1.29.912`).
//!
//! - By default (`test_environment = false`) a test certificate has level [`Level::Test`] and
//!   is refused: a test card must never open a production tunnel.
//! - With `test_environment = true` it is judged by its policy OID *as if it were production*
//!   (a TEST Person-High certificate gets effective level `person-high`), and the verdict carries
//!   a [`Warning::TestCertificate`] so every output says it is a test certificate.

pub mod chain;
pub mod level;
pub mod parse;
pub mod qc;
pub mod verdict;

pub use chain::{ChainConfig, ChainOutcome, ChainProblem};
pub use level::{Classification, Level, LevelRule};
pub use parse::{CertFacts, PersonalId};
pub use qc::QcStatements;
pub use verdict::{AuthPolicy, Reason, Verdict, Warning};

use serde::Serialize;
use time::OffsetDateTime;

/// Why a certificate (or a trust anchor or CRL that goes with it) could not be read at all.
/// A certificate that reads fine but cannot be used is not an error: it gets a [`Verdict`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The input holds no certificate (empty file, or PEM without a CERTIFICATE block).
    #[error("no certificate found in the input")]
    Empty,
    /// PEM armour that could not be decoded (bad base64, missing end line ...).
    #[error("PEM could not be decoded: {detail}")]
    BadPem {
        /// What the PEM reader said.
        detail: String,
    },
    /// Bytes that are not an X.509 certificate.
    #[error("not an X.509 certificate: {detail}")]
    NotACertificate {
        /// What the parser said.
        detail: String,
    },
    /// A configured trust anchor that cannot be used.
    #[error("trust anchor number {index} cannot be used: {detail}")]
    BadTrustAnchor {
        /// Position in the configured list, from 1.
        index: usize,
        /// What the verifier said.
        detail: String,
    },
    /// A configured CRL that cannot be read.
    #[error("CRL number {index} cannot be read: {detail}")]
    BadCrl {
        /// Position in the configured list, from 1.
        index: usize,
        /// What the CRL reader said.
        detail: String,
    },
}

/// Everything we know about one certificate at one time: its facts, its level and the verdict
/// for authentication. This is what `cert inspect`, the card commands and `connect` show.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// What the certificate says.
    pub facts: CertFacts,
    /// Which level it has and which table rule decided it.
    pub classification: Classification,
    /// Whether it may be used to log in, and why not.
    pub verdict: Verdict,
    /// The chain check, when trust anchors were given.
    pub chain: Option<ChainOutcome>,
    /// The time the verdict is for.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Reads, classifies and judges one DER certificate at time `at`; with `chain`, also
/// validates it to the configured trust anchors and CRLs.
///
/// Fails only when the certificate (or a configured anchor or CRL) cannot be read at all.
pub fn inspect_der(
    der: &[u8],
    policy: &AuthPolicy,
    at: OffsetDateTime,
    chain: Option<&ChainConfig>,
) -> Result<Inspection, CertError> {
    let facts = parse::read(der)?;
    let classification = level::classify(&facts, policy);
    let mut verdict = verdict::judge(&facts, &classification, policy, at);
    let chain_outcome = match chain {
        Some(config) => {
            let outcome = chain::check(der, config, at)?;
            verdict.add_chain(&outcome, &facts, at);
            Some(outcome)
        }
        None => None,
    };
    Ok(Inspection {
        facts,
        classification,
        verdict,
        chain: chain_outcome,
        at,
    })
}

/// Splits a file's bytes into DER certificates: one DER certificate, or every CERTIFICATE
/// block of a PEM file (in order).
pub fn certificates_from_bytes(bytes: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    if looks_like_der(bytes) {
        return Ok(vec![bytes.to_vec()]);
    }
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(bytes) {
        let cert = item.map_err(|e| CertError::BadPem {
            detail: e.to_string(),
        })?;
        out.push(cert.as_ref().to_vec());
    }
    if out.is_empty() {
        return Err(CertError::Empty);
    }
    Ok(out)
}

/// Splits a file's bytes into DER CRLs: one DER CRL, or every X509 CRL block of a PEM file.
pub fn crls_from_bytes(bytes: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateRevocationListDer;
    if looks_like_der(bytes) {
        return Ok(vec![bytes.to_vec()]);
    }
    let mut out = Vec::new();
    for item in CertificateRevocationListDer::pem_slice_iter(bytes) {
        let crl = item.map_err(|e| CertError::BadPem {
            detail: e.to_string(),
        })?;
        out.push(crl.as_ref().to_vec());
    }
    if out.is_empty() {
        return Err(CertError::Empty);
    }
    Ok(out)
}

/// DER certificates and CRLs start with a SEQUENCE tag; PEM starts with text.
fn looks_like_der(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30)
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_inputs_are_errors_not_panics() {
        assert_eq!(certificates_from_bytes(b""), Err(CertError::Empty));
        assert_eq!(certificates_from_bytes(b"hello"), Err(CertError::Empty));
        let truncated = b"-----BEGIN CERTIFICATE-----\nMIIB\n";
        assert!(certificates_from_bytes(truncated).is_err());
        let bad_b64 = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            certificates_from_bytes(bad_b64),
            Err(CertError::BadPem { .. })
        ));
        for garbage in [
            &b"\x30"[..],
            b"\x30\x82\xff\xff",
            b"\x30\x03\x02\x01\x01",
            &[0x30; 64],
        ] {
            let ders = certificates_from_bytes(garbage).unwrap();
            let r = inspect_der(
                &ders[0],
                &AuthPolicy::default(),
                OffsetDateTime::UNIX_EPOCH,
                None,
            );
            assert!(matches!(r, Err(CertError::NotACertificate { .. })), "{r:?}");
        }
    }

    #[test]
    fn corrupted_certificates_never_panic() {
        let root = testutil::Ca::new("Eksempel Root CA");
        let good = testutil::Builder::person().build_by(&root).der;
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let chain = ChainConfig {
            anchors: vec![root.der.clone()],
            intermediates: vec![],
            crls: vec![root.crl(
                &[1],
                at - time::Duration::days(1),
                at + time::Duration::days(7),
            )],
        };
        let policy = AuthPolicy::default();
        let fine = inspect_der(&good, &policy, at, Some(&chain)).unwrap();
        assert!(fine.verdict.usable, "{:?}", fine.verdict);
        for i in 0..good.len() {
            for v in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
                let mut bad = good.clone();
                if bad[i] == v {
                    continue;
                }
                bad[i] = v;
                if let Ok(insp) = inspect_der(&bad, &policy, at, Some(&chain)) {
                    // Whatever it reads, a changed certificate must not pass the chain.
                    assert!(
                        insp.chain.is_some_and(|c| !c.trusted),
                        "byte {i} = {v:#04x}"
                    );
                    assert!(!insp.verdict.usable);
                }
            }
        }
        for cut in 0..good.len() {
            assert!(inspect_der(&good[..cut], &policy, at, Some(&chain)).is_err());
        }
    }

    #[test]
    fn pem_with_several_certificates_keeps_order() {
        let a = testutil::Builder::person().cn("A").build();
        let b = testutil::Builder::person().cn("B").build();
        let text = format!("{}\n{}", a.pem, b.pem);
        let ders = certificates_from_bytes(text.as_bytes()).unwrap();
        assert_eq!(ders, vec![a.der.clone(), b.der.clone()]);
        assert_eq!(certificates_from_bytes(&a.der).unwrap(), vec![a.der]);
    }
}
