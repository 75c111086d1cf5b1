//! The login credential: what the TLS layer and the commands use, whichever backend holds the
//! key — a PIV card over PC/SC, a PKCS#11 token (the vendor's middleware, OpenSC, SoftHSM), or
//! on Windows a certificate in the user's store with a smart-card key behind CNG.
//!
//! The PIN state is a type here too: a [`CardSession`] can read certificates and PIN tries but
//! cannot sign; only [`CardSession::login`] — which sends the PIN the caller gives it, once —
//! turns it into a [`LoginKey`], the one thing that signs. [`LoginKey::relock`] goes back.
//! Nothing above this module knows which backend signs.

use std::fmt;

use serde::Serialize;

use super::padding::HashAlg;
use super::piv::PivError;
use crate::secret::{Pin, PinFormatError};

/// Which backend reaches the card. `Auto` tries them in [`Backend::auto_order`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PIV over PC/SC first, then (Windows) the certificate store, then PKCS#11 modules.
    #[default]
    Auto,
    /// A PIV card, read with our own driver over PC/SC.
    Piv,
    /// A PKCS#11 module: Buypass Access / Net iD (`iidp11`), OpenSC, or one named with
    /// `--pkcs11-module`.
    Pkcs11,
    /// The Windows certificate store, with the key on the card behind CNG (Windows only).
    Windows,
}

impl Backend {
    /// The order `auto` tries: PIV first (no middleware needed, PIN tries known), then on
    /// Windows the certificate store (how Buypass Access shows the card there), then PKCS#11.
    pub fn auto_order() -> &'static [Backend] {
        if cfg!(windows) {
            &[Backend::Piv, Backend::Windows, Backend::Pkcs11]
        } else {
            &[Backend::Piv, Backend::Pkcs11]
        }
    }

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Piv => "piv",
            Backend::Pkcs11 => "pkcs11",
            Backend::Windows => "windows",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The key behind a certificate, as far as signing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum KeyKind {
    /// RSA with a modulus of this many bits.
    Rsa {
        /// Modulus size.
        bits: usize,
    },
    /// ECDSA on P-256.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
}

impl KeyKind {
    /// The key of a certificate, or why no backend signs with it.
    pub fn of_certificate(der: &[u8]) -> Result<KeyKind, String> {
        use x509_parser::prelude::FromDer;
        use x509_parser::public_key::PublicKey;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
            .map_err(|e| format!("not a certificate: {e}"))?;
        let spki = cert.public_key();
        match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Ok(KeyKind::Rsa {
                bits: rsa.key_size(),
            }),
            Ok(PublicKey::EC(_)) => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|oid| oid.to_id_string());
                match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => Ok(KeyKind::EcP256),
                    Some("1.3.132.0.34") => Ok(KeyKind::EcP384),
                    other => Err(format!(
                        "EC curve {} (P-256 or P-384 can log in)",
                        other.unwrap_or("unnamed")
                    )),
                }
            }
            _ => Err(format!(
                "key algorithm {}",
                spki.algorithm.algorithm.to_id_string()
            )),
        }
    }

    /// Whether this is an RSA key.
    pub fn is_rsa(self) -> bool {
        matches!(self, KeyKind::Rsa { .. })
    }
}

/// The private-key operations a key offers. The TLS layer picks its schemes from these:
/// raw RSA or RSA-PSS gives TLS 1.3; only PKCS#1 v1.5 gives TLS 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Mechanisms {
    /// Raw RSA (`x^d mod n`): the host builds the PSS or PKCS#1 block.
    pub raw_rsa: bool,
    /// RSA-PSS over a hash the host computed.
    pub rsa_pss: bool,
    /// RSA PKCS#1 v1.5 over a `DigestInfo` the host built.
    pub rsa_pkcs1: bool,
    /// ECDSA over a hash the host computed.
    pub ecdsa: bool,
}

/// Which TLS version a key can log in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// TLS 1.3: RSA-PSS (from raw RSA or PSS) or ECDSA.
    Tls13,
    /// TLS 1.2 with RSA PKCS#1 v1.5: the key can do nothing else.
    Tls12Pkcs1,
}

impl Mechanisms {
    /// The TLS version this key logs in with, or `None` when it can do nothing TLS accepts.
    pub fn tls_mode(&self, kind: KeyKind) -> Option<TlsMode> {
        match kind {
            KeyKind::Rsa { .. } if self.raw_rsa || self.rsa_pss => Some(TlsMode::Tls13),
            KeyKind::Rsa { .. } if self.rsa_pkcs1 => Some(TlsMode::Tls12Pkcs1),
            KeyKind::EcP256 | KeyKind::EcP384 if self.ecdsa => Some(TlsMode::Tls13),
            _ => None,
        }
    }
}

/// One signature request: which operation, and its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOp {
    /// Raw RSA over the whole padded block (as long as the modulus).
    RawRsa(Vec<u8>),
    /// RSA-PSS (MGF1 with the same hash, salt as long as the hash) over a hash.
    RsaPss {
        /// The hash function.
        hash: HashAlg,
        /// The hash of the message.
        digest: Vec<u8>,
    },
    /// RSA PKCS#1 v1.5 over a hash (the backend or the host adds the `DigestInfo`).
    RsaPkcs1 {
        /// The hash function.
        hash: HashAlg,
        /// The hash of the message.
        digest: Vec<u8>,
    },
    /// ECDSA over a hash; the answer is DER `ECDSA-Sig-Value`, as TLS carries it.
    Ecdsa {
        /// The hash of the message.
        digest: Vec<u8>,
    },
}

/// What the card says about its PIN, learnt without spending a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    /// Already verified in this session.
    Verified,
    /// Not verified; exactly this many tries left.
    TriesLeft(u8),
    /// Not verified; a wrong PIN was entered since the last right one (count not told).
    CountLow,
    /// Not verified; the next wrong PIN blocks the card.
    FinalTry,
    /// Blocked: only the PUK (or the card issuer) can unblock it.
    Blocked,
    /// The backend cannot tell.
    Unknown,
}

impl PinState {
    /// The state's name in JSON (`tries-left`, `count-low`, …).
    pub fn name(self) -> &'static str {
        match self {
            PinState::Verified => "verified",
            PinState::TriesLeft(_) => "tries-left",
            PinState::CountLow => "count-low",
            PinState::FinalTry => "final-try",
            PinState::Blocked => "blocked",
            PinState::Unknown => "unknown",
        }
    }

    /// Tries left when known exactly (`FinalTry` is one).
    pub fn tries_left(self) -> Option<u8> {
        match self {
            PinState::TriesLeft(n) => Some(n),
            PinState::FinalTry => Some(1),
            PinState::Blocked => Some(0),
            _ => None,
        }
    }
}

/// How the PIN is entered for this credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PinEntry {
    /// Typed on the computer's keyboard, digits within these lengths.
    Keyboard {
        /// Fewest digits.
        min: usize,
        /// Most digits.
        max: usize,
    },
    /// Typed on the reader's own PIN pad ("protected authentication path").
    PinPad,
    /// The middleware shows its own PIN dialog (Windows CNG).
    Middleware,
    /// The key needs no PIN.
    NotNeeded,
}

/// A certificate the credential holds, with the name the backend gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCertificate {
    /// The backend's name for it: a PIV slot (`9A`), a PKCS#11 `CKA_ID` in hex, a store
    /// thumbprint.
    pub id: String,
    /// A human label (PIV slot purpose, PKCS#11 `CKA_LABEL`, store friendly name).
    pub label: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Whether a private key the backend can sign with goes with it.
    pub has_key: bool,
}

impl CardCertificate {
    /// SHA-256 of the DER, lowercase hex: what `--cert` names.
    pub fn sha256(&self) -> String {
        super::apdu::hex(&HashAlg::Sha256.digest(&self.der)).to_lowercase()
    }
}

/// How to learn that the card is gone while a tunnel is up.
#[derive(Clone)]
pub enum Presence {
    /// Watch this PC/SC reader for the card leaving it.
    Reader(String),
    /// Ask the backend a few times a second; `false` means the card is gone.
    Poll(std::sync::Arc<dyn Fn() -> bool + Send + Sync>),
    /// The backend cannot tell (the tunnel then ends only when a signature fails).
    Unknown,
}

impl fmt::Debug for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Presence::Reader(r) => f.debug_tuple("Reader").field(r).finish(),
            Presence::Poll(_) => f.write_str("Poll"),
            Presence::Unknown => f.write_str("Unknown"),
        }
    }
}

/// Why a credential could not be read, unlocked or used. Each variant is something the
/// person or the administrator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The PIV driver failed (it carries its own details).
    #[error(transparent)]
    Piv(#[from] PivError),
    /// A wrong PIN; tries left when the backend tells.
    #[error("wrong PIN")]
    WrongPin {
        /// Tries left, when known.
        tries_left: Option<u8>,
    },
    /// The PIN is blocked.
    #[error("the PIN is blocked")]
    PinBlocked,
    /// The PIN has a form the card cannot take (nothing was sent).
    #[error("the PIN has a form the card cannot take: {0}")]
    PinFormat(#[from] PinFormatError),
    /// The card no longer holds the verified PIN; the person must enter it again.
    #[error("the card no longer holds the verified PIN")]
    PinStateLost,
    /// The card or token was taken out.
    #[error("the card was removed")]
    CardRemoved,
    /// The PKCS#11 module failed.
    #[error("PKCS#11 {function} failed: {detail}")]
    Pkcs11 {
        /// The function that failed (`C_Sign`, …).
        function: String,
        /// The module's return value or the loader's message.
        detail: String,
    },
    /// The Windows certificate store or CNG failed.
    #[error("the Windows certificate store: {0}")]
    Store(String),
    /// The key cannot sign anything TLS accepts, or this request.
    #[error("the key cannot be used: {0}")]
    Unsupported(String),
}

impl KeyError {
    /// True when the card is gone (pulled, or the token left its slot).
    pub fn is_card_removed(&self) -> bool {
        match self {
            KeyError::CardRemoved => true,
            KeyError::Piv(p) => p.is_card_removed(),
            _ => false,
        }
    }

    /// True when the card forgot the verified PIN.
    pub fn is_pin_state_lost(&self) -> bool {
        matches!(
            self,
            KeyError::PinStateLost | KeyError::Piv(PivError::PinStateLost)
        )
    }
}

/// What a credential is, for people and scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialInfo {
    /// The backend that reached it.
    pub backend: Backend,
    /// The PC/SC reader, when known.
    pub reader: Option<String>,
    /// The ATR, hex with spaces, when read over PC/SC.
    pub atr: Option<String>,
    /// The application on the card (`piv`), or the token model for PKCS#11.
    pub application: String,
    /// A card identity: the PIV GUID, the token serial number.
    pub card_id: Option<String>,
    /// PKCS#11: the module, the slot and the token label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenInfo>,
}

/// A PKCS#11 token, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// The module's path.
    pub module: String,
    /// The slot's description (often the reader's name).
    pub slot: String,
    /// The token's label.
    pub label: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Other tokens the module sees (`slot: label`); `--reader` picks one of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<String>,
}

/// An opened card (or token, or store entry) that has not been unlocked: it reads, it does
/// not sign.
pub trait CardSession: Send {
    /// What and where the credential is.
    fn info(&self) -> &CredentialInfo;
    /// Every certificate it holds, in the backend's order.
    fn certificates(&mut self) -> Result<Vec<CardCertificate>, KeyError>;
    /// The certificate that logs in by the backend's own convention (PIV: slot 9A), if any;
    /// backends without one return `None` and the caller chooses with the verdicts.
    fn conventional_login(&self, certificates: &[CardCertificate]) -> Option<usize> {
        let _ = certificates;
        None
    }
    /// The operations the key of `certificate` offers, read before any login.
    fn mechanisms(&mut self, certificate: &CardCertificate) -> Result<Mechanisms, KeyError>;
    /// The PIN state, without spending a try.
    fn pin_state(&mut self) -> Result<PinState, KeyError>;
    /// How the PIN is entered.
    fn pin_entry(&self) -> PinEntry;
    /// Unlocks the key of `certificate` with `pin` (sent once; `None` for a PIN pad, a
    /// middleware dialog, or no PIN). On failure the session comes back with the reason.
    fn login(
        self: Box<Self>,
        certificate: &CardCertificate,
        pin: Option<&Pin>,
    ) -> Result<Box<dyn LoginKey>, (Box<dyn CardSession>, KeyError)>;
    /// How to learn that the card holding `certificate`'s key left.
    fn presence(&self, certificate: &CardCertificate) -> Presence;
}

/// An unlocked key: the only thing that signs. Lives on the signing thread.
pub trait LoginKey: Send {
    /// The key's kind.
    fn kind(&self) -> KeyKind;
    /// The operations the key offers.
    fn mechanisms(&self) -> Mechanisms;
    /// One signature. Never asks for a PIN and never retries one.
    fn sign(&mut self, op: &SignOp) -> Result<Vec<u8>, KeyError>;
    /// Whether the card forgot the verified PIN since login (then signing fails until the
    /// person enters it again).
    fn pin_state_lost(&self) -> bool;
    /// Back to the locked session (after a reset, or when done).
    fn relock(self: Box<Self>) -> Box<dyn CardSession>;
}

impl fmt::Debug for dyn LoginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginKey")
            .field("kind", &self.kind())
            .field("mechanisms", &self.mechanisms())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for dyn CardSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardSession")
            .field("info", self.info())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_mode_follows_the_mechanisms() {
        let rsa = KeyKind::Rsa { bits: 2048 };
        let raw = Mechanisms {
            raw_rsa: true,
            ..Default::default()
        };
        let pkcs1 = Mechanisms {
            rsa_pkcs1: true,
            ..Default::default()
        };
        let pss_and_pkcs1 = Mechanisms {
            rsa_pss: true,
            rsa_pkcs1: true,
            ..Default::default()
        };
        let ec = Mechanisms {
            ecdsa: true,
            ..Default::default()
        };
        assert_eq!(raw.tls_mode(rsa), Some(TlsMode::Tls13));
        assert_eq!(pss_and_pkcs1.tls_mode(rsa), Some(TlsMode::Tls13));
        assert_eq!(pkcs1.tls_mode(rsa), Some(TlsMode::Tls12Pkcs1));
        assert_eq!(ec.tls_mode(KeyKind::EcP256), Some(TlsMode::Tls13));
        assert_eq!(ec.tls_mode(rsa), None);
        assert_eq!(raw.tls_mode(KeyKind::EcP384), None);
    }

    #[test]
    fn pin_states_tell_tries_only_when_known() {
        assert_eq!(PinState::TriesLeft(2).tries_left(), Some(2));
        assert_eq!(PinState::FinalTry.tries_left(), Some(1));
        assert_eq!(PinState::Blocked.tries_left(), Some(0));
        assert_eq!(PinState::CountLow.tries_left(), None);
        assert_eq!(PinState::Unknown.tries_left(), None);
    }

    #[test]
    fn auto_tries_piv_first() {
        assert_eq!(Backend::auto_order()[0], Backend::Piv);
        assert!(Backend::auto_order().contains(&Backend::Pkcs11));
        assert_eq!(
            Backend::auto_order().contains(&Backend::Windows),
            cfg!(windows)
        );
    }
}
