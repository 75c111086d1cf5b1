//! Which application a card carries. Cards are identified by probing applications, never by
//! ATR alone: Buypass cards share their MULTOS historical bytes with unrelated bank cards.
//!
//! PIV is probed first (one SELECT by AID); a card without PIV is then probed for Buypass's
//! BEID application ([`Beid::probe`]: SELECT MF and a PIN status query, no PIN sent). A card
//! that is neither is unknown. No probe can spend a PIN try.

use super::beid::{Beid, BeidError};
use super::piv::{Piv, PivError, Unverified};
use super::transport::CardTransport;

pub use super::beid::looks_like_buypass_atr;

/// A card whose application we know, ready for its driver.
#[derive(Debug)]
pub enum Application {
    /// A PIV card (NIST SP 800-73-4).
    Piv(Piv<Unverified>),
    /// A Buypass card (BEID on MULTOS). We recognise it and read its PIN state; logging in
    /// with it goes through Buypass's middleware.
    Buypass(Beid),
}

impl Application {
    /// Short name for output (`piv`, `buypass`).
    pub fn name(&self) -> &'static str {
        match self {
            Application::Piv(_) => "piv",
            Application::Buypass(_) => "buypass",
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
        /// The ATR has the Buypass (MULTOS) pattern, but the card did not answer the BEID
        /// probe: perhaps a Buypass card that answers the unconfirmed PIN status query
        /// differently, perhaps a MULTOS bank card. Its vendor PKCS#11 module is the way in.
        buypass_like: bool,
    },
}

/// Probes the applications we have drivers for, in order: PIV, then Buypass BEID.
pub fn identify(transport: Box<dyn CardTransport>) -> Result<Application, IdentifyError> {
    let atr = transport.atr();
    let transport = match Piv::try_open(transport) {
        Ok(piv) => return Ok(Application::Piv(piv)),
        Err((transport, PivError::NotPiv(_))) => transport,
        Err((_, e)) => return Err(IdentifyError::Card(e)),
    };
    match Beid::probe(transport) {
        Ok(beid) => Ok(Application::Buypass(beid)),
        Err((_, BeidError::Exchange(e))) => Err(IdentifyError::Card(PivError::Exchange(e))),
        Err((_, BeidError::NoMasterFile(_) | BeidError::NoBeidPin(_))) => {
            Err(IdentifyError::Unknown {
                buypass_like: looks_like_buypass_atr(&atr),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::beid::{PinTries, ATR_2024};
    use crate::card::replay::ReplayTransport;

    const SELECT_PIV: &str = "> 00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00\n< 6A 82\n";
    const SELECT_MF: &str = "> 00 A4 00 00 02 3F 00\n";

    fn identify_recording(atr: &[u8], rest: &str) -> Result<Application, IdentifyError> {
        let t = ReplayTransport::parse(atr, &format!("{SELECT_PIV}{rest}")).unwrap();
        identify(Box::new(t))
    }

    #[test]
    fn a_card_without_piv_or_a_master_file_is_unknown() {
        let found = identify_recording(&[0x3B, 0x00], &format!("{SELECT_MF}< 6A 82\n"));
        assert!(matches!(
            found,
            Err(IdentifyError::Unknown {
                buypass_like: false
            })
        ));
    }

    #[test]
    fn a_buypass_card_is_found_by_its_answers() {
        let found = identify_recording(
            &ATR_2024,
            &format!("{SELECT_MF}< 90 00\n> A0 20 00 82\n< 63 C3\n"),
        );
        let Ok(Application::Buypass(beid)) = found else {
            panic!("not found as Buypass: {found:?}");
        };
        assert_eq!(beid.tries_at_probe(), PinTries::Left(3));
        assert_eq!(Application::Buypass(beid).name(), "buypass");
    }

    #[test]
    fn a_multos_bank_card_with_the_buypass_atr_is_not_taken_for_one() {
        // Same ATR, a master file, but class A0 refused: the ATR alone decides nothing.
        let found = identify_recording(
            &ATR_2024,
            &format!("{SELECT_MF}< 90 00\n> A0 20 00 82\n< 6E 00\n"),
        );
        assert!(matches!(
            found,
            Err(IdentifyError::Unknown { buypass_like: true })
        ));
    }

    #[test]
    fn a_transport_failure_during_the_probe_is_a_card_error() {
        // The recording ends: the replay reports a mismatch, as a transport failure.
        let found = identify_recording(&ATR_2024, "");
        assert!(matches!(
            found,
            Err(IdentifyError::Card(PivError::Exchange(_)))
        ));
    }
}
