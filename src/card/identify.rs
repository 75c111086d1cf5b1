//! Which application a card carries. Cards are identified by probing applications, never by
//! ATR alone: Buypass cards share their MULTOS historical bytes with unrelated bank cards.

use super::piv::{Piv, PivError, Unverified};
use super::transport::CardTransport;

/// A card whose application we know, ready for its driver.
#[derive(Debug)]
pub enum Application {
    /// A PIV card (NIST SP 800-73-4).
    Piv(Piv<Unverified>),
}

impl Application {
    /// Short name for output (`piv`).
    pub fn name(&self) -> &'static str {
        match self {
            Application::Piv(_) => "piv",
        }
    }
}

/// Why no application was found.
#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    /// Talking to the card failed (removed, reset, mute …).
    #[error(transparent)]
    Card(PivError),
    /// The card answered, but with no application we support.
    #[error("no supported application on the card")]
    Unknown {
        /// The ATR has the Buypass (MULTOS) pattern: likely a Buypass card, whose native
        /// application is not supported yet; its vendor PKCS#11 module is the way in.
        buypass_like: bool,
    },
}

/// Probes the applications we have drivers for, in order.
pub fn identify(transport: Box<dyn CardTransport>) -> Result<Application, IdentifyError> {
    let atr = transport.atr();
    match Piv::open(transport) {
        Ok(piv) => Ok(Application::Piv(piv)),
        Err(PivError::NotPiv(_)) => Err(IdentifyError::Unknown {
            buypass_like: looks_like_buypass_atr(&atr),
        }),
        Err(e) => Err(IdentifyError::Card(e)),
    }
}

/// Whether an ATR has the historical bytes seen on Buypass smartcards
/// (`80 31 E0 6B 04 xx 05 02 xx 55 55 55 55 55 55`, see CARDS.md). Only a hint for messages:
/// unrelated MULTOS cards share the pattern.
pub fn looks_like_buypass_atr(atr: &[u8]) -> bool {
    const HEAD: [u8; 4] = [0x80, 0x31, 0xE0, 0x6B];
    const TAIL: [u8; 6] = [0x55; 6];
    atr.windows(15)
        .any(|w| w[..4] == HEAD && w[4] == 0x04 && w[6] == 0x05 && w[7] == 0x02 && w[9..15] == TAIL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buypass_atrs_are_recognised_as_a_hint() {
        let current = [
            0x3B, 0x9F, 0x96, 0x40, 0x0A, 0x80, 0x31, 0xE0, 0x6B, 0x04, 0x52, 0x05, 0x02, 0x4F,
            0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
        ];
        let older = [
            0x3B, 0x6F, 0x00, 0x00, 0x80, 0x31, 0xE0, 0x6B, 0x04, 0x20, 0x05, 0x02, 0x58, 0x55,
            0x55, 0x55, 0x55, 0x55, 0x55,
        ];
        assert!(looks_like_buypass_atr(&current));
        assert!(looks_like_buypass_atr(&older));
        assert!(!looks_like_buypass_atr(&[0x3B, 0x88, 0x80, 0x01, 0x00]));
    }

    #[test]
    fn a_card_without_piv_is_unknown() {
        let t = crate::card::replay::ReplayTransport::parse(
            &[0x3B, 0x00],
            "> 00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00\n< 6A 82\n",
        )
        .unwrap();
        assert!(matches!(
            identify(Box::new(t)),
            Err(IdentifyError::Unknown {
                buypass_like: false
            })
        ));
    }
}
