//! The pure part of the PKCS#11 backend: which mechanisms a key offers for TLS, how a
//! signature request becomes a mechanism and its input, how ECDSA answers become DER, and
//! what a return value means for the person.

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::types::Ulong;

use crate::card::credential::{KeyError, KeyKind, Mechanisms, SignOp};
pub use crate::card::padding::ecdsa_to_der;
use crate::card::padding::{self, HashAlg};

/// The mechanisms, among those a token lists for signing, that TLS can use with a key of
/// `kind`. `pkcs1_only` hides raw RSA and PSS (a test switch: it makes a token that can do
/// PSS look like one that cannot, to exercise TLS 1.2).
pub fn usable(listed: &[MechanismType], kind: KeyKind, pkcs1_only: bool) -> Mechanisms {
    let has = |m: MechanismType| listed.contains(&m);
    let rsa = kind.is_rsa();
    Mechanisms {
        raw_rsa: rsa && !pkcs1_only && has(MechanismType::RSA_X_509),
        rsa_pss: rsa && !pkcs1_only && has(MechanismType::RSA_PKCS_PSS),
        rsa_pkcs1: rsa && has(MechanismType::RSA_PKCS),
        ecdsa: !rsa && has(MechanismType::ECDSA),
    }
}

/// The mechanism for one request, with the bytes to hand to `C_Sign`.
pub fn for_request(op: &SignOp) -> Result<(Mechanism<'static>, Vec<u8>), KeyError> {
    Ok(match op {
        SignOp::RawRsa(block) => (Mechanism::RsaX509, block.clone()),
        SignOp::RsaPss { hash, digest } => {
            let (hash_alg, mgf) = match hash {
                HashAlg::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
                HashAlg::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
                HashAlg::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
            };
            let s_len = Ulong::try_from(hash.output_len())
                .map_err(|e| KeyError::Unsupported(e.to_string()))?;
            let params = PkcsPssParams {
                hash_alg,
                mgf,
                s_len,
            };
            (Mechanism::RsaPkcsPss(params), digest.clone())
        }
        SignOp::RsaPkcs1 { hash, digest } => (
            Mechanism::RsaPkcs,
            padding::digest_info(*hash, digest)
                .map_err(|e| KeyError::Unsupported(e.to_string()))?,
        ),
        SignOp::Ecdsa { digest } => (Mechanism::Ecdsa, digest.clone()),
    })
}

/// What a failed call means. The PIN-related answers of `C_Login` are read by the caller,
/// which knows the token's flags; this maps the rest.
pub fn key_error(function: &str, e: &CkError) -> KeyError {
    match e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceError => KeyError::CardRemoved,
            RvError::UserNotLoggedIn => KeyError::PinStateLost,
            RvError::PinLocked => KeyError::PinBlocked,
            other => KeyError::Pkcs11 {
                function: function.to_string(),
                detail: format!("{other:?}"),
            },
        },
        other => KeyError::Pkcs11 {
            function: function.to_string(),
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_only_tokens_and_the_test_switch_give_tls12() {
        let rsa = KeyKind::Rsa { bits: 2048 };
        let all = [
            MechanismType::RSA_X_509,
            MechanismType::RSA_PKCS_PSS,
            MechanismType::RSA_PKCS,
            MechanismType::ECDSA,
        ];
        let full = usable(&all, rsa, false);
        assert!(full.raw_rsa && full.rsa_pss && full.rsa_pkcs1 && !full.ecdsa);
        let hidden = usable(&all, rsa, true);
        assert_eq!(
            hidden.tls_mode(rsa),
            Some(crate::card::credential::TlsMode::Tls12Pkcs1)
        );
        let ec = usable(&all, KeyKind::EcP256, false);
        assert!(ec.ecdsa && !ec.raw_rsa && !ec.rsa_pkcs1);
        assert_eq!(usable(&[], rsa, false).tls_mode(rsa), None);
    }

    #[test]
    fn ecdsa_answers_become_der_that_p256_reads() {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        use p256::ecdsa::{signature::hazmat::PrehashSigner, Signature, SigningKey};
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        for i in 0..40u8 {
            let digest = HashAlg::Sha256.digest(&[i]);
            let sig: Signature = key.sign_prehash(&digest).unwrap();
            let der = ecdsa_to_der(&sig.to_bytes()).unwrap();
            let parsed = Signature::from_der(&der).unwrap();
            assert_eq!(parsed, sig);
            key.verifying_key()
                .verify_prehash(&digest, &parsed)
                .unwrap();
        }
        assert!(ecdsa_to_der(&[]).is_err());
        assert!(ecdsa_to_der(&[1, 2, 3]).is_err());
        assert_eq!(
            ecdsa_to_der(&[0, 0]).unwrap(),
            vec![0x30, 6, 2, 1, 0, 2, 1, 0]
        );
    }

    #[test]
    fn pkcs1_requests_carry_the_digest_info() {
        let digest = vec![1u8; 32];
        let (m, data) = for_request(&SignOp::RsaPkcs1 {
            hash: HashAlg::Sha256,
            digest: digest.clone(),
        })
        .unwrap();
        assert_eq!(m.mechanism_type(), MechanismType::RSA_PKCS);
        assert_eq!(data.len(), 19 + 32);
        assert!(data.ends_with(&digest));
        let (m, data) = for_request(&SignOp::RsaPss {
            hash: HashAlg::Sha384,
            digest: vec![2; 48],
        })
        .unwrap();
        assert_eq!(m.mechanism_type(), MechanismType::RSA_PKCS_PSS);
        assert_eq!(data, vec![2; 48]);
    }

    #[test]
    fn a_removed_token_and_a_forgotten_login_are_told_apart() {
        use cryptoki::context::Function;
        let e = |rv| CkError::Pkcs11(rv, Function::Sign);
        assert_eq!(
            key_error("C_Sign", &e(RvError::DeviceRemoved)),
            KeyError::CardRemoved
        );
        assert_eq!(
            key_error("C_Sign", &e(RvError::UserNotLoggedIn)),
            KeyError::PinStateLost
        );
        assert!(matches!(
            key_error("C_Sign", &e(RvError::KeyHandleInvalid)),
            KeyError::Pkcs11 { .. }
        ));
    }
}
