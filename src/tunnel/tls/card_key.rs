//! The card as a rustls signing key: rustls hands over the bytes to sign, the host hashes (and
//! for raw-RSA cards pads), the card does the private-key operation.
//!
//! - RSA: RSA-PSS with SHA-256/384/512 (TLS 1.3 allows nothing else for RSA). A card that does
//!   raw RSA gets the EMSA-PSS block built on the host with a random salt as long as the hash;
//!   a token that does PSS itself gets the hash. In PKCS#1-only mode (a key that can do nothing
//!   but PKCS#1 v1.5, TLS 1.2) the key offers RSA-PKCS1 with SHA-256/384/512 instead, and
//!   nothing else.
//! - P-256: ECDSA with SHA-256; P-384: ECDSA with SHA-384. The card signs the hash and answers
//!   DER, which is what TLS carries.
//!
//! A card failure reaches rustls as `rustls::Error::Other` holding the [`SignerError`], so the
//! client can get it back from the handshake error with [`card_error_of`].

use std::sync::{Arc, Mutex};

use rustls::pki_types::SubjectPublicKeyInfoDer;
use rustls::sign::{Signer, SigningKey};
use rustls::{OtherError, SignatureAlgorithm, SignatureScheme};

use super::card_signer::{CardSigner, SignerError};
use crate::card::credential::{KeyKind, SignOp};
use crate::card::padding::{self, HashAlg};

/// Where the PSS salt's random bytes come from; injected so tests can fix them.
pub trait SaltSource: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), SignerError>;
}

/// The operating system's generator: the default salt source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsSalt;

impl SaltSource for OsSalt {
    fn fill(&self, buf: &mut [u8]) -> Result<(), SignerError> {
        use rand_core::RngCore as _;
        rand_core::OsRng
            .try_fill_bytes(buf)
            .map_err(|e| SignerError::Random(e.to_string()))
    }
}

/// The card's key for rustls. Cheap to clone; every clone signs through the same card thread.
#[derive(Clone)]
pub struct CardSigningKey {
    signer: CardSigner,
    pkcs1_only: bool,
    salt: Arc<dyn SaltSource>,
    last_scheme: Arc<Mutex<Option<SignatureScheme>>>,
}

impl std::fmt::Debug for CardSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigningKey")
            .field("signer", &self.signer)
            .field("pkcs1_only", &self.pkcs1_only)
            .finish_non_exhaustive()
    }
}

impl CardSigningKey {
    /// The key of the card behind `signer`: RSA-PSS or ECDSA, salts from the OS.
    pub fn new(signer: CardSigner) -> Self {
        CardSigningKey {
            signer,
            pkcs1_only: false,
            salt: Arc::new(OsSalt),
            last_scheme: Arc::new(Mutex::new(None)),
        }
    }

    /// Takes PSS salts from `salt` instead of the OS.
    pub fn with_salt_source(mut self, salt: Arc<dyn SaltSource>) -> Self {
        self.salt = salt;
        self
    }

    /// Offers only RSA-PKCS1 (for TLS 1.2 with a card that can do nothing else). Only
    /// [`super::client_config`] sets this, together with TLS 1.2.
    pub(crate) fn pkcs1_only(mut self) -> Self {
        self.pkcs1_only = true;
        self
    }

    /// The card's signer (its counter, its certificate, and the card to hand back).
    pub fn signer(&self) -> &CardSigner {
        &self.signer
    }

    /// The scheme last chosen for a handshake signature, for the client's log.
    pub fn last_scheme(&self) -> Option<SignatureScheme> {
        *self.last_scheme.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The schemes this key signs with, best first.
    pub fn schemes(&self) -> &'static [SignatureScheme] {
        let m = self.signer.mechanisms();
        match (self.signer.kind(), self.pkcs1_only) {
            (KeyKind::Rsa { .. }, false) if m.raw_rsa || m.rsa_pss => &[
                SignatureScheme::RSA_PSS_SHA256,
                SignatureScheme::RSA_PSS_SHA384,
                SignatureScheme::RSA_PSS_SHA512,
            ],
            (KeyKind::Rsa { .. }, true) if m.raw_rsa || m.rsa_pkcs1 => &[
                SignatureScheme::RSA_PKCS1_SHA256,
                SignatureScheme::RSA_PKCS1_SHA384,
                SignatureScheme::RSA_PKCS1_SHA512,
            ],
            (KeyKind::EcP256, _) if m.ecdsa => &[SignatureScheme::ECDSA_NISTP256_SHA256],
            (KeyKind::EcP384, _) if m.ecdsa => &[SignatureScheme::ECDSA_NISTP384_SHA384],
            _ => &[],
        }
    }
}

impl SigningKey for CardSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = self
            .schemes()
            .iter()
            .copied()
            .find(|s| offered.contains(s))?;
        *self.last_scheme.lock().unwrap_or_else(|p| p.into_inner()) = Some(scheme);
        Some(Box::new(CardSchemeSigner {
            key: self.clone(),
            scheme,
        }))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(self.signer.spki()))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.signer.kind() {
            KeyKind::Rsa { .. } => SignatureAlgorithm::RSA,
            KeyKind::EcP256 | KeyKind::EcP384 => SignatureAlgorithm::ECDSA,
        }
    }
}

/// One signature with one scheme, as rustls asks for it.
struct CardSchemeSigner {
    key: CardSigningKey,
    scheme: SignatureScheme,
}

impl std::fmt::Debug for CardSchemeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSchemeSigner")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// How a scheme is made from the card's primitive.
enum Encoding {
    Pss(HashAlg),
    Pkcs1(HashAlg),
    Ecdsa(HashAlg),
}

fn encoding(scheme: SignatureScheme) -> Option<Encoding> {
    Some(match scheme {
        SignatureScheme::RSA_PSS_SHA256 => Encoding::Pss(HashAlg::Sha256),
        SignatureScheme::RSA_PSS_SHA384 => Encoding::Pss(HashAlg::Sha384),
        SignatureScheme::RSA_PSS_SHA512 => Encoding::Pss(HashAlg::Sha512),
        SignatureScheme::RSA_PKCS1_SHA256 => Encoding::Pkcs1(HashAlg::Sha256),
        SignatureScheme::RSA_PKCS1_SHA384 => Encoding::Pkcs1(HashAlg::Sha384),
        SignatureScheme::RSA_PKCS1_SHA512 => Encoding::Pkcs1(HashAlg::Sha512),
        SignatureScheme::ECDSA_NISTP256_SHA256 => Encoding::Ecdsa(HashAlg::Sha256),
        SignatureScheme::ECDSA_NISTP384_SHA384 => Encoding::Ecdsa(HashAlg::Sha384),
        _ => return None,
    })
}

impl CardSchemeSigner {
    /// What the key is asked to do: the host pads for a raw-RSA card, a token that pads
    /// itself gets the hash.
    fn sign_op(&self, message: &[u8]) -> Result<SignOp, SignerError> {
        let encoding = encoding(self.scheme).ok_or_else(|| {
            SignerError::UnsupportedKey(format!("no encoding for {:?}", self.scheme))
        })?;
        let signer = &self.key.signer;
        let raw = signer.mechanisms().raw_rsa;
        let bits = match signer.kind() {
            KeyKind::Rsa { bits } => bits,
            _ => 0,
        };
        Ok(match encoding {
            Encoding::Pss(hash) if raw => {
                let mut salt = vec![0u8; hash.output_len()];
                self.key.salt.fill(&mut salt)?;
                SignOp::RawRsa(padding::pss(hash, &hash.digest(message), &salt, bits)?)
            }
            Encoding::Pss(hash) => SignOp::RsaPss {
                hash,
                digest: hash.digest(message),
            },
            Encoding::Pkcs1(hash) if raw => {
                SignOp::RawRsa(padding::pkcs1v15(hash, &hash.digest(message), bits)?)
            }
            Encoding::Pkcs1(hash) => SignOp::RsaPkcs1 {
                hash,
                digest: hash.digest(message),
            },
            Encoding::Ecdsa(hash) => SignOp::Ecdsa {
                digest: hash.digest(message),
            },
        })
    }
}

impl Signer for CardSchemeSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        tracing::debug!(scheme = ?self.scheme, "the card signs the TLS handshake");
        self.sign_op(message)
            .and_then(|op| self.key.signer.sign(op))
            .map_err(|e| {
                tracing::warn!(error = %e, "the card did not sign the TLS handshake");
                rustls::Error::Other(OtherError(Arc::new(e)))
            })
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// The card's error behind a failed handshake on the client (the `std::io::Error` from
/// tokio-rustls, or the `rustls::Error`), so the client can ask for the PIN again after
/// [`SignerError::PinStateLost`] or say the card is gone.
pub fn card_error_of(err: &(dyn std::error::Error + 'static)) -> Option<SignerError> {
    match super::rustls_error_in(err)? {
        rustls::Error::Other(OtherError(inner)) => inner.downcast_ref::<SignerError>().cloned(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_scheme_has_an_encoding() {
        for scheme in [
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PSS_SHA384,
            SignatureScheme::RSA_PSS_SHA512,
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::RSA_PKCS1_SHA384,
            SignatureScheme::RSA_PKCS1_SHA512,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
        ] {
            assert!(encoding(scheme).is_some(), "{scheme:?}");
        }
        assert!(encoding(SignatureScheme::ED25519).is_none());
    }

    #[test]
    fn card_errors_come_back_out_of_io_errors() {
        let tls = rustls::Error::Other(OtherError(Arc::new(SignerError::PinStateLost)));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        assert_eq!(card_error_of(&io), Some(SignerError::PinStateLost));
        let other =
            std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(card_error_of(&other), None);
    }
}
