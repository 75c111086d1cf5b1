//! The signature test of `doctor --sign-test`: the unlocked key signs a random challenge the
//! way a TLS handshake would have it sign (the same scheme choice and host padding, through
//! [`CardSigningKey`]), and the signature is verified against the certificate's public key
//! with webpki. It proves the key on the card belongs to the certificate and that the backend
//! signs, without a gateway.
//!
//! The PIN is the caller's business: it unlocks the key once and is never retried.

use std::time::{Duration, Instant};

use rustls::sign::SigningKey as _;
use rustls::SignatureScheme;
use serde_json::json;

use super::CheckResult;
use crate::card::credential::LoginKey;
use crate::cli::Failure;
use crate::i18n::catalogue::doctor as m;
use crate::tunnel::tls::{card_error_of, CardSigner, CardSigningKey, SignerError};

/// What comes first in the signed message, so a signature made here can never pass for one
/// made in a TLS handshake (whose messages start with 64 spaces).
pub const CHALLENGE_PREFIX: &[u8] = b"hjemmekontor doctor sign-test\0";

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The scheme (`RSA_PSS_SHA256`, `ECDSA_NISTP256_SHA256`, ...).
    pub scheme: String,
    /// How long the card took.
    pub took: Duration,
}

/// How the signature test went.
#[derive(Debug, Clone, PartialEq)]
pub enum SignOutcome {
    /// The card signed and the signature verified.
    Verified(Signed),
    /// The PIN or the card refused (the words of the other commands).
    Refused(Failure),
    /// The card signed, but the signature does not verify with the certificate's key.
    Mismatch(String),
    /// The test was not done, and why (in words).
    NotRun(String),
}

/// Why [`sign_challenge`] did not get a signature.
#[derive(Debug, Clone, PartialEq)]
pub enum SignError {
    /// The signer refused or failed (put into words by the caller).
    Signer(SignerError),
    /// The signature does not verify.
    Mismatch(String),
}

/// Signs a fresh random challenge with `key` (unlocked) and verifies it against
/// `certificate`. Hands the key back when it can (to be locked again by the caller).
pub fn sign_challenge(
    key: Box<dyn LoginKey>,
    certificate: &[u8],
    bound: Duration,
) -> (Result<Signed, SignError>, Option<Box<dyn LoginKey>>) {
    let signer = match CardSigner::spawn_with_timeout(key, certificate.to_vec(), bound) {
        Ok(s) => s,
        Err((key, e)) => return (Err(SignError::Signer(e)), Some(key)),
    };
    let outcome = sign_with(&signer, certificate);
    (outcome, signer.into_key().ok())
}

fn sign_with(signer: &CardSigner, certificate: &[u8]) -> Result<Signed, SignError> {
    let key = CardSigningKey::new(signer.clone());
    let offered = key.schemes();
    let Some(scheme_signer) = key.choose_scheme(offered) else {
        return Err(SignError::Signer(SignerError::UnsupportedKey(
            "no signature scheme TLS 1.3 accepts".into(),
        )));
    };
    let scheme = scheme_signer.scheme();
    let mut message = CHALLENGE_PREFIX.to_vec();
    message.extend_from_slice(&challenge().map_err(SignError::Signer)?);
    let began = Instant::now();
    let signature = scheme_signer
        .sign(&message)
        .map_err(|e| SignError::Signer(card_error_of(&e).unwrap_or(SignerError::Stopped)))?;
    let took = began.elapsed();
    verify_signature(certificate, scheme, &message, &signature).map_err(SignError::Mismatch)?;
    Ok(Signed {
        scheme: format!("{scheme:?}"),
        took,
    })
}

fn challenge() -> Result<[u8; 32], SignerError> {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; 32];
    rand_core::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| SignerError::Random(e.to_string()))?;
    Ok(bytes)
}

/// Verifies `signature` over `message` with the public key of `certificate` (DER).
pub fn verify_signature(
    certificate: &[u8],
    scheme: SignatureScheme,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    use webpki::ring as alg;
    let algorithm = match scheme {
        SignatureScheme::RSA_PSS_SHA256 => alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        SignatureScheme::RSA_PSS_SHA384 => alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        SignatureScheme::RSA_PSS_SHA512 => alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        SignatureScheme::RSA_PKCS1_SHA256 => alg::RSA_PKCS1_2048_8192_SHA256,
        SignatureScheme::RSA_PKCS1_SHA384 => alg::RSA_PKCS1_2048_8192_SHA384,
        SignatureScheme::RSA_PKCS1_SHA512 => alg::RSA_PKCS1_2048_8192_SHA512,
        SignatureScheme::ECDSA_NISTP256_SHA256 => alg::ECDSA_P256_SHA256,
        SignatureScheme::ECDSA_NISTP384_SHA384 => alg::ECDSA_P384_SHA384,
        other => return Err(format!("no verifier for {other:?}")),
    };
    let der = rustls::pki_types::CertificateDer::from(certificate);
    let cert = webpki::EndEntityCert::try_from(&der).map_err(|e| e.to_string())?;
    cert.verify_signature(algorithm, message, signature)
        .map_err(|e| format!("{e:?}"))
}

/// The signature test, judged.
pub fn sign_check(outcome: &SignOutcome) -> CheckResult {
    match outcome {
        SignOutcome::Verified(s) => CheckResult::ok(
            "sign-test",
            m::SIGNED.with(&[("scheme", &s.scheme), ("ms", &s.took.as_millis())]),
        )
        .details(json!({ "scheme": s.scheme, "took_ms": s.took.as_millis() as u64 })),
        SignOutcome::Refused(f) => CheckResult::from_failure("sign-test", f),
        SignOutcome::Mismatch(why) => CheckResult::fail(
            "sign-test",
            m::SIGNATURE_MISMATCH.text(),
            m::SIGNATURE_MISMATCH_FIX.text(),
        )
        .details(json!({ "why": why })),
        SignOutcome::NotRun(why) => CheckResult::warning(
            "sign-test",
            m::SIGN_NOT_RUN.with(&[("why", why)]),
            m::SIGN_NOT_RUN_FIX.text(),
        ),
    }
}

#[cfg(all(test, feature = "vcard"))]
mod tests {
    use super::*;
    use crate::card::emulated::InProcessTransport;
    use crate::card::piv::{Piv, Slot};
    use crate::card::piv_credential::PivKey;
    use crate::doctor::Status;
    use crate::secret::Pin;
    use crate::vcard::{PivConfig, SlotKey, VirtualPiv};

    /// A self-signed P-256 certificate and its key (PEM).
    fn certificate() -> (Vec<u8>, String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.der().to_vec(), cert.pem(), key.serialize_pem())
    }

    /// The unlocked key of a virtual card holding `cert_pem` and `key_pem`, as the login
    /// certificate `der` presents it.
    fn unlocked(cert_pem: &str, key_pem: &str, der: &[u8]) -> Box<dyn LoginKey> {
        let slot = SlotKey::from_pem(cert_pem, key_pem).unwrap();
        let card = VirtualPiv::new(PivConfig::new(slot)).unwrap();
        let piv = Piv::open(Box::new(InProcessTransport::new(card)))
            .unwrap()
            .verify_pin(&Pin::from_input("123456".into()).unwrap())
            .unwrap();
        Box::new(
            PivKey::new(piv, Slot::Authentication, der)
                .map_err(|(_, e)| e)
                .unwrap(),
        )
    }

    #[test]
    fn the_card_signs_a_challenge_that_verifies_and_the_key_comes_back() {
        let (der, pem, key) = certificate();
        let (signed, back) =
            sign_challenge(unlocked(&pem, &key, &der), &der, Duration::from_secs(10));
        let signed = signed.unwrap();
        assert_eq!(signed.scheme, "ECDSA_NISTP256_SHA256");
        assert!(back.is_some());
        let result = sign_check(&SignOutcome::Verified(signed));
        assert_eq!(result.status, Status::Ok);
        assert!(result
            .summary
            .contains("signaturen stemmer med sertifikatet"));
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_a_mismatch() {
        let (der, _, _) = certificate();
        let (other_der, other_pem, other_key) = certificate();
        // The card holds the other key; the certificate it is judged by is `der`.
        let key = unlocked(&other_pem, &other_key, &other_der);
        let (signed, _) = sign_challenge(key, &der, Duration::from_secs(10));
        let Err(SignError::Mismatch(why)) = signed else {
            panic!("{signed:?}");
        };
        let result = sign_check(&SignOutcome::Mismatch(why));
        assert_eq!(result.status, Status::Fail);
        assert!(result.summary.contains("hører ikke til sertifikatet"));
    }

    #[test]
    fn a_signature_over_another_message_does_not_verify() {
        let (der, pem, key) = certificate();
        let signer = CardSigner::spawn(unlocked(&pem, &key, &der), der.clone())
            .map_err(|(_, e)| e)
            .unwrap();
        let op = crate::card::credential::SignOp::Ecdsa {
            digest: crate::card::padding::HashAlg::Sha256.digest(b"one message"),
        };
        let signature = signer.sign(op).unwrap();
        let scheme = SignatureScheme::ECDSA_NISTP256_SHA256;
        assert!(verify_signature(&der, scheme, b"one message", &signature).is_ok());
        assert!(verify_signature(&der, scheme, b"another message", &signature).is_err());
        assert!(
            verify_signature(&der, SignatureScheme::ED25519, b"one message", &signature).is_err()
        );
    }

    #[test]
    fn not_run_is_a_warning() {
        let r = sign_check(&SignOutcome::NotRun("kortet mangler.".into()));
        assert_eq!(r.status, Status::Warning);
        assert_eq!(r.summary, "Signaturtesten ble ikke gjort: kortet mangler.");
    }
}
