//! The virtual card's keys: a certificate and its private key per PIV slot, loaded from PEM,
//! and the private-key operations a PIV card performs.
//!
//! A real card never lets the key out and does no padding or hashing of its own: RSA is raw
//! (the host builds PKCS#1 v1.5 or PSS blocks), ECDSA signs a hash the host computed. This
//! module does exactly that and nothing more, so host-side padding bugs show up in tests.

use std::path::Path;

use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use x509_parser::prelude::FromDer;

/// Why a key or certificate could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no parseable X.509 certificate.
    #[error("no X.509 certificate found: {0}")]
    BadCertificate(String),
    /// The key file holds no private key we understand.
    #[error("no usable private key found (PKCS#8, PKCS#1 RSA or SEC1 EC PEM expected): {0}")]
    BadKey(String),
    /// A PIV card holds RSA-2048, P-256 or P-384 keys; this is something else.
    #[error("unsupported key: {0} (a PIV card takes RSA-2048, ECC P-256 or ECC P-384)")]
    Unsupported(String),
    /// The certificate certifies a different key than the one given.
    #[error("the certificate's public key does not match the private key")]
    Mismatch,
    /// The input to a private-key operation has the wrong size or value.
    #[error("bad input to the private-key operation: {0}")]
    BadInput(&'static str),
    /// The arithmetic failed (should not happen with a consistent key).
    #[error("private-key operation failed: {0}")]
    Crypto(String),
}

/// The algorithm identifiers are the host driver's (SP 800-78-4 table 6-2).
pub use crate::card::piv::KeyAlgorithm;

/// A private key the card can use. Boxed RSA keeps the enum small.
enum PrivateKey {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// One slot's content: the certificate (DER) and the private key it certifies.
///
/// Loading checks that the two belong together, so a test never chases a signature that
/// fails because the wrong key file was given.
pub struct SlotKey {
    certificate: Vec<u8>,
    key: PrivateKey,
}

impl std::fmt::Debug for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotKey")
            .field("algorithm", &self.algorithm())
            .field("certificate_len", &self.certificate.len())
            .finish_non_exhaustive()
    }
}

impl SlotKey {
    /// Loads a certificate PEM file and a private-key PEM file.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, KeyError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| KeyError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        Self::from_pem(&read(cert)?, &read(key)?)
    }

    /// Builds a slot from PEM text: a `CERTIFICATE`, and a `PRIVATE KEY` (PKCS#8),
    /// `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, KeyError> {
        let certificate = certificate_der_from_pem(cert_pem)?;
        let key = private_key_from_pem(key_pem)?;
        Self::new(certificate, key)
    }

    /// Builds a slot from a DER certificate and PEM private key.
    pub fn from_der_certificate(certificate: Vec<u8>, key_pem: &str) -> Result<Self, KeyError> {
        Self::new(certificate, private_key_from_pem(key_pem)?)
    }

    fn new(certificate: Vec<u8>, key: PrivateKey) -> Result<Self, KeyError> {
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&certificate)
            .map_err(|e| KeyError::BadCertificate(e.to_string()))?;
        let spki = cert.public_key().raw;
        let matches = match &key {
            PrivateKey::Rsa(k) => {
                use rsa::pkcs8::DecodePublicKey;
                RsaPublicKey::from_public_key_der(spki).ok() == Some(k.to_public_key())
            }
            PrivateKey::P256(k) => {
                use p256::pkcs8::DecodePublicKey;
                p256::PublicKey::from_public_key_der(spki).ok()
                    == Some(p256::PublicKey::from(k.verifying_key()))
            }
            PrivateKey::P384(k) => {
                use p384::pkcs8::DecodePublicKey;
                p384::PublicKey::from_public_key_der(spki).ok()
                    == Some(p384::PublicKey::from(k.verifying_key()))
            }
        };
        if !matches {
            return Err(KeyError::Mismatch);
        }
        Ok(SlotKey { certificate, key })
    }

    /// The key's PIV algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.key {
            PrivateKey::Rsa(_) => KeyAlgorithm::Rsa2048,
            PrivateKey::P256(_) => KeyAlgorithm::EccP256,
            PrivateKey::P384(_) => KeyAlgorithm::EccP384,
        }
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// The card's private-key operation for GENERAL AUTHENTICATE.
    ///
    /// RSA: `input` is a whole 256-byte block below the modulus; the answer is the raw
    /// RSA result, 256 bytes. ECDSA: `input` is a hash; shorter ones are left-padded and
    /// longer ones cut to the field size (as the curve's standard truncation does); the
    /// answer is a DER `ECDSA-Sig-Value`.
    pub fn private_operation(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.key {
            PrivateKey::Rsa(k) => raw_rsa(k, input),
            PrivateKey::P256(k) => {
                use p256::ecdsa::signature::hazmat::PrehashSigner;
                let prehash = fit_hash(input, 32)?;
                let sig: p256::ecdsa::Signature = k
                    .sign_prehash(&prehash)
                    .map_err(|e| KeyError::Crypto(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            PrivateKey::P384(k) => {
                use p384::ecdsa::signature::hazmat::PrehashSigner;
                let prehash = fit_hash(input, 48)?;
                let sig: p384::ecdsa::Signature = k
                    .sign_prehash(&prehash)
                    .map_err(|e| KeyError::Crypto(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }
}

/// The first `CERTIFICATE` block of a PEM text, as DER.
pub fn certificate_der_from_pem(pem: &str) -> Result<Vec<u8>, KeyError> {
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| KeyError::BadCertificate(e.to_string()))?;
        if block.label == "CERTIFICATE" {
            return Ok(block.contents);
        }
    }
    Err(KeyError::BadCertificate("no CERTIFICATE block".into()))
}

fn private_key_from_pem(pem: &str) -> Result<PrivateKey, KeyError> {
    let label = pem
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("-----BEGIN ")
                .and_then(|r| r.strip_suffix("-----"))
        })
        .ok_or_else(|| KeyError::BadKey("no PEM block".into()))?;
    let bad = |e: &dyn std::fmt::Display| KeyError::BadKey(e.to_string());
    match label {
        "PRIVATE KEY" => {
            use p256::pkcs8::DecodePrivateKey as _;
            if let Ok(k) = RsaPrivateKey::from_pkcs8_pem_rsa(pem) {
                return rsa_key(k);
            }
            if let Ok(k) = p256::SecretKey::from_pkcs8_pem(pem) {
                return Ok(PrivateKey::P256(k.into()));
            }
            if let Ok(k) = p384::SecretKey::from_pkcs8_pem(pem) {
                return Ok(PrivateKey::P384(k.into()));
            }
            Err(KeyError::Unsupported(
                "a PKCS#8 key that is not RSA, P-256 or P-384".into(),
            ))
        }
        "RSA PRIVATE KEY" => {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa_key(RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| bad(&e))?)
        }
        "EC PRIVATE KEY" => {
            if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
                return Ok(PrivateKey::P256(k.into()));
            }
            if let Ok(k) = p384::SecretKey::from_sec1_pem(pem) {
                return Ok(PrivateKey::P384(k.into()));
            }
            Err(KeyError::Unsupported(
                "an EC key on a curve other than P-256 or P-384".into(),
            ))
        }
        other => Err(KeyError::BadKey(format!("a PEM block labelled {other:?}"))),
    }
}

/// PKCS#8 decoding for RSA under a distinct name, so the trait imports do not clash.
trait RsaPkcs8 {
    fn from_pkcs8_pem_rsa(pem: &str) -> Result<RsaPrivateKey, rsa::pkcs8::Error>;
}

impl RsaPkcs8 for RsaPrivateKey {
    fn from_pkcs8_pem_rsa(pem: &str) -> Result<RsaPrivateKey, rsa::pkcs8::Error> {
        <RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(pem)
    }
}

fn rsa_key(k: RsaPrivateKey) -> Result<PrivateKey, KeyError> {
    let bits = k.n().bits();
    if bits != 2048 {
        return Err(KeyError::Unsupported(format!("an RSA key of {bits} bits")));
    }
    k.validate().map_err(|e| KeyError::BadKey(e.to_string()))?;
    Ok(PrivateKey::Rsa(Box::new(k)))
}

fn raw_rsa(key: &RsaPrivateKey, input: &[u8]) -> Result<Vec<u8>, KeyError> {
    let size = key.size();
    if input.len() != size {
        return Err(KeyError::BadInput(
            "raw RSA needs a block exactly as long as the modulus",
        ));
    }
    let c = BigUint::from_bytes_be(input);
    if &c >= key.n() {
        return Err(KeyError::BadInput("the block is not below the modulus"));
    }
    let m = rsa::hazmat::rsa_decrypt_and_check(key, Some(&mut rand_core::OsRng), &c)
        .map_err(|e| KeyError::Crypto(e.to_string()))?;
    let bytes = m.to_bytes_be();
    let mut out = vec![0u8; size - bytes.len()];
    out.extend_from_slice(&bytes);
    Ok(out)
}

fn fit_hash(input: &[u8], field: usize) -> Result<Vec<u8>, KeyError> {
    if input.is_empty() {
        return Err(KeyError::BadInput("an empty hash"));
    }
    if input.len() >= field {
        return Ok(input[..field].to_vec());
    }
    let mut out = vec![0u8; field - input.len()];
    out.extend_from_slice(input);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_pem_is_an_error() {
        assert!(matches!(
            certificate_der_from_pem("nothing here"),
            Err(KeyError::BadCertificate(_))
        ));
        assert!(matches!(
            private_key_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(KeyError::Unsupported(_))
        ));
        assert!(matches!(
            private_key_from_pem("-----BEGIN FOO-----\n-----END FOO-----\n"),
            Err(KeyError::BadKey(_))
        ));
    }

    #[test]
    fn hashes_are_fitted_to_the_field() {
        assert_eq!(fit_hash(&[1, 2], 4).unwrap(), [0, 0, 1, 2]);
        assert_eq!(fit_hash(&[1, 2, 3, 4, 5], 4).unwrap(), [1, 2, 3, 4]);
        assert!(fit_hash(&[], 4).is_err());
    }

    #[test]
    fn ecdsa_signs_a_prehash_in_der() {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let slot = SlotKey {
            certificate: Vec::new(),
            key: PrivateKey::P256(sk.clone()),
        };
        let hash = [0x42u8; 32];
        let der = slot.private_operation(&hash).unwrap();
        let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
        sk.verifying_key().verify_prehash(&hash, &sig).unwrap();
        assert_eq!(slot.algorithm().id(), 0x11);
    }
}
