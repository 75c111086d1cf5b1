//! The PIV driver as a login credential: slots become certificates, `Piv<Unverified>` the
//! locked session and `Piv<Verified>` the key. The card does raw RSA or ECDSA over a hash;
//! the host pads.

use super::apdu::hex;
use super::credential::{
    CardCertificate, CardSession, CredentialInfo, KeyError, KeyKind, LoginKey, Mechanisms,
    PinEntry, PinState, Presence, SignOp,
};
use super::piv::{
    KeyAlgorithm, PinStatus, Piv, PivError, Slot, Unverified, Verified, PIN_MAX, PIN_MIN,
};
use crate::secret::Pin;

/// A PIV card, opened and selected, PIN not verified.
pub struct PivSession {
    piv: Piv<Unverified>,
    info: CredentialInfo,
}

impl PivSession {
    /// Wraps a selected PIV card; reads the CHUID for the card's identity (no PIN).
    pub fn new(mut piv: Piv<Unverified>, reader: Option<String>) -> Result<Self, KeyError> {
        let card_id = piv.read_chuid()?.and_then(|c| c.guid).map(|g| hex(&g));
        let info = CredentialInfo {
            backend: super::credential::Backend::Piv,
            reader,
            atr: Some(super::apdu::hex_spaced(&piv.atr())),
            application: "piv".into(),
            card_id,
            token: None,
        };
        Ok(PivSession { piv, info })
    }

    fn wrap(piv: Piv<Unverified>, info: CredentialInfo) -> Self {
        PivSession { piv, info }
    }

    fn slot_of(certificate: &CardCertificate) -> Option<Slot> {
        Slot::ALL
            .into_iter()
            .find(|s| slot_id(*s) == certificate.id)
    }
}

/// The id a slot's certificate carries (`9A`, …).
pub fn slot_id(slot: Slot) -> String {
    format!("{:02X}", slot.key_reference())
}

/// The key kind and PIV algorithm of a certificate's key, if a PIV card signs with it.
fn key_of(certificate: &[u8]) -> Result<(KeyKind, KeyAlgorithm), KeyError> {
    let kind = KeyKind::of_certificate(certificate).map_err(KeyError::Unsupported)?;
    let algorithm = match kind {
        KeyKind::Rsa { bits: 2048 } => KeyAlgorithm::Rsa2048,
        KeyKind::EcP256 => KeyAlgorithm::EccP256,
        KeyKind::EcP384 => KeyAlgorithm::EccP384,
        KeyKind::Rsa { bits } => {
            return Err(KeyError::Unsupported(format!(
                "RSA {bits} (a PIV card signs with RSA 2048)"
            )))
        }
    };
    Ok((kind, algorithm))
}

/// A PIV card does raw RSA (the host pads) or ECDSA over a hash.
fn piv_mechanisms(kind: KeyKind) -> Mechanisms {
    Mechanisms {
        raw_rsa: kind.is_rsa(),
        ecdsa: !kind.is_rsa(),
        ..Mechanisms::default()
    }
}

impl CardSession for PivSession {
    fn info(&self) -> &CredentialInfo {
        &self.info
    }

    fn certificates(&mut self) -> Result<Vec<CardCertificate>, KeyError> {
        let mut out = Vec::new();
        for slot in Slot::ALL {
            if let Some(der) = self.piv.read_certificate(slot)? {
                out.push(CardCertificate {
                    id: slot_id(slot),
                    label: slot.label().to_string(),
                    der,
                    has_key: true,
                });
            }
        }
        Ok(out)
    }

    fn conventional_login(&self, certificates: &[CardCertificate]) -> Option<usize> {
        let wanted = slot_id(Slot::Authentication);
        certificates.iter().position(|c| c.id == wanted)
    }

    fn mechanisms(&mut self, certificate: &CardCertificate) -> Result<Mechanisms, KeyError> {
        let (kind, _) = key_of(&certificate.der)?;
        Ok(piv_mechanisms(kind))
    }

    fn pin_state(&mut self) -> Result<PinState, KeyError> {
        Ok(match self.piv.pin_status()? {
            PinStatus::Verified => PinState::Verified,
            PinStatus::TriesLeft(n) => PinState::TriesLeft(n),
            PinStatus::Blocked => PinState::Blocked,
        })
    }

    fn pin_entry(&self) -> PinEntry {
        PinEntry::Keyboard {
            min: PIN_MIN,
            max: PIN_MAX,
        }
    }

    fn login(
        self: Box<Self>,
        certificate: &CardCertificate,
        pin: Option<&Pin>,
    ) -> Result<Box<dyn LoginKey>, (Box<dyn CardSession>, KeyError)> {
        let Some(slot) = Self::slot_of(certificate) else {
            let e = KeyError::Unsupported(format!("no PIV slot {}", certificate.id));
            return Err((self, e));
        };
        if let Err(e) = key_of(&certificate.der) {
            return Err((self, e));
        }
        let Some(pin) = pin else {
            return Err((self, KeyError::Piv(PivError::PinRequired)));
        };
        let PivSession { piv, info } = *self;
        match piv.verify_pin(pin) {
            Ok(piv) => match PivKey::new(piv, slot, &certificate.der) {
                Ok(mut key) => {
                    key.info = info;
                    Ok(Box::new(key))
                }
                Err((piv, e)) => Err((Box::new(PivSession::wrap(piv.relock(), info)), e)),
            },
            Err((piv, e)) => Err((Box::new(PivSession::wrap(piv, info)), e.into())),
        }
    }

    fn presence(&self, _certificate: &CardCertificate) -> Presence {
        match &self.info.reader {
            Some(r) => Presence::Reader(r.clone()),
            None => Presence::Unknown,
        }
    }
}

/// A PIV card with the PIN verified, signing with one slot.
pub struct PivKey {
    piv: Piv<Verified>,
    slot: Slot,
    kind: KeyKind,
    algorithm: KeyAlgorithm,
    info: CredentialInfo,
}

impl PivKey {
    /// The key in `slot` of a verified card, whose certificate is `certificate` (it decides
    /// the algorithm). On error the card comes back, still verified.
    pub fn new(
        piv: Piv<Verified>,
        slot: Slot,
        certificate: &[u8],
    ) -> Result<Self, (Piv<Verified>, KeyError)> {
        match key_of(certificate) {
            Ok((kind, algorithm)) => {
                let info = CredentialInfo {
                    backend: super::credential::Backend::Piv,
                    reader: None,
                    atr: Some(super::apdu::hex_spaced(&piv.atr())),
                    application: "piv".into(),
                    card_id: None,
                    token: None,
                };
                Ok(PivKey {
                    piv,
                    slot,
                    kind,
                    algorithm,
                    info,
                })
            }
            Err(e) => Err((piv, e)),
        }
    }
}

impl LoginKey for PivKey {
    fn kind(&self) -> KeyKind {
        self.kind
    }

    fn mechanisms(&self) -> Mechanisms {
        piv_mechanisms(self.kind)
    }

    fn sign(&mut self, op: &SignOp) -> Result<Vec<u8>, KeyError> {
        let input = match op {
            SignOp::RawRsa(block) if self.kind.is_rsa() => block,
            SignOp::Ecdsa { digest } if !self.kind.is_rsa() => digest,
            other => {
                return Err(KeyError::Unsupported(format!(
                    "a PIV card does raw RSA or ECDSA, not {other:?}"
                )))
            }
        };
        Ok(self.piv.sign(self.slot, self.algorithm, input)?)
    }

    fn pin_state_lost(&self) -> bool {
        self.piv.pin_state_lost()
    }

    fn relock(self: Box<Self>) -> Box<dyn CardSession> {
        Box::new(PivSession {
            piv: self.piv.relock(),
            info: self.info,
        })
    }
}
