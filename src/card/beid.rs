//! Buypass smartcards (the «BEID» application on a MULTOS chip): recognise the card and read
//! how many PIN tries are left, without ever spending one.
//!
//! Buypass has not published the card's command set. This module uses only what is known
//! about the card in public, and says for each fact how sure we are (see `docs/cards.md`):
//!
//! | fact | confidence |
//! |---|---|
//! | T=0 only; `61xx` answered with GET RESPONSE `00 C0 00 00 xx`; reset at session end | confirmed |
//! | SELECT MF `00 A4 00 00 02 3F 00` → `90 00` | confirmed |
//! | VERIFY `A0 20 00 82 08` + PIN in ASCII, padded with `FF` to 8 bytes | confirmed |
//! | PIN of 4 digits, blocked after 3 wrong tries in a row; PUK of 8 digits | confirmed |
//! | VERIFY without data (`A0 20 00 82`) asks the PIN state without spending a try | **unconfirmed** (ISO 7816-4) |
//! | `63Cx` = x tries left, `69 83` = blocked | **unconfirmed** (ISO 7816-4) |
//! | certificate files, key references, the signing command, algorithms | **not public** |
//!
//! So this driver does not verify the PIN or sign: the signing command is not public, and the
//! way in is Buypass's own middleware («Buypass Access», a licensed SecMaker Net iD, whose
//! PKCS#11 module is `iidp11`). What it does is tell a Buypass card from other cards, so we
//! can say which middleware to install, and read the PIN tries left when the card answers
//! the ISO status query. An answer it does not know is reported as unknown, never guessed.
//!
//! The ATR only hints ([`looks_like_buypass_atr`]): the same historical bytes appear on
//! unrelated MULTOS bank cards, so a card is a Buypass card only when [`Beid::probe`] says so.

use super::apdu::{Command, Response, Status, StatusWord};
use super::transport::{exchange, CardTransport, ExchangeError};

/// ATR of a 2024 Buypass card (T=0, MULTOS historical bytes).
pub const ATR_2024: [u8; 20] = [
    0x3B, 0x9F, 0x96, 0x40, 0x0A, 0x80, 0x31, 0xE0, 0x6B, 0x04, 0x52, 0x05, 0x02, 0x4F, 0x55, 0x55,
    0x55, 0x55, 0x55, 0x55,
];

/// Most PIN tries a Buypass card has (confirmed: blocked after 3 wrong in a row).
pub const PIN_TRIES: u8 = 3;
/// Buypass PINs are 4 digits (confirmed).
pub const PIN_DIGITS: usize = 4;
/// VERIFY on a Buypass card uses class `A0` (confirmed).
pub const CLA_VERIFY: u8 = 0xA0;
/// The PIN's reference data (P2 of VERIFY, confirmed).
pub const PIN_REFERENCE: u8 = 0x82;
/// The master file (confirmed to be selectable).
pub const MF: [u8; 2] = [0x3F, 0x00];

/// The name of Buypass's middleware, for messages.
pub const MIDDLEWARE: &str = "Buypass Access";
/// The PKCS#11 module of that middleware, per platform (name of the Buypass build inferred
/// from SecMaker Net iD, which Buypass Access is a licensed build of).
pub const PKCS11_MODULE: &str = if cfg!(windows) {
    "iidp11.dll"
} else if cfg!(target_os = "macos") {
    "libiidp11.dylib"
} else {
    "libiidp11.so"
};

/// The PIN state as the card told it, without a try spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinTries {
    /// `90 00`: the PIN is verified in this card session.
    Verified,
    /// `63 Cx` (x = 1–3): not verified, this many tries left.
    Left(u8),
    /// `69 83` or `63 C0`: blocked; the PUK unblocks it.
    Blocked,
    /// Any other answer: we do not know, and do not guess.
    Unknown(StatusWord),
}

impl PinTries {
    /// Reads the answer to the status query. `None` when the answer is not one a BEID card
    /// gives to it, which is what tells a Buypass card from others in [`Beid::probe`].
    fn from_status(sw: StatusWord) -> Option<PinTries> {
        match sw.meaning() {
            Status::Ok => Some(PinTries::Verified),
            Status::Blocked | Status::TriesLeft(0) => Some(PinTries::Blocked),
            Status::TriesLeft(n) if n <= PIN_TRIES => Some(PinTries::Left(n)),
            _ => None,
        }
    }
}

/// Why a card is not taken for a Buypass card, or talking to it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeidError {
    /// Talking to the card failed.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The card has no master file we can select: not a Buypass card.
    #[error("not a Buypass card: SELECT MF answered {0}")]
    NoMasterFile(StatusWord),
    /// The card does not answer the PIN status query as a Buypass card would.
    #[error("not a Buypass card: the PIN status query answered {0}")]
    NoBeidPin(StatusWord),
}

/// A card that answered the probe as a Buypass BEID card does. Only [`Beid::probe`] makes
/// one, so holding a `Beid` is the proof that the probe succeeded. It offers no PIN
/// operation: nothing here can spend a try.
pub struct Beid {
    transport: Box<dyn CardTransport>,
    tries_at_probe: PinTries,
}

impl std::fmt::Debug for Beid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Beid")
            .field("transport", &self.transport.describe())
            .field("tries_at_probe", &self.tries_at_probe)
            .finish()
    }
}

impl Beid {
    /// Finds out whether the card is a Buypass BEID card, with two commands in one
    /// transaction:
    ///
    /// 1. SELECT MF `00 A4 00 00 02 3F 00` must answer `90 00` (confirmed on Buypass cards;
    ///    harmless on any card: it selects the root of the file system).
    /// 2. The PIN status query `A0 20 00 82` (VERIFY with no data, so no PIN is sent) must
    ///    answer `90 00`, `63 C0`–`63 C3` or `69 83`.
    ///
    /// Step 2 is ISO 7816-4's way of asking the PIN state, and it is *not confirmed* on a
    /// Buypass card: if a real card answers it otherwise, the probe says «not Buypass» (safe,
    /// the user then sees the ATR hint and the middleware advice), and a support trace will
    /// show what the card said. Its class `A0` and reference `82` are the confirmed ones of
    /// Buypass's VERIFY; other cards (PIV, EMV bank cards, MULTOS cards without BEID) are
    /// expected to refuse that class or reference (`6E00`, `6D00`, `6A88` …), and any answer
    /// outside the list above counts as «not Buypass». The ATR is not looked at.
    ///
    /// On failure the transport comes back with the reason, so another driver can try.
    pub fn probe(
        mut transport: Box<dyn CardTransport>,
    ) -> Result<Beid, (Box<dyn CardTransport>, BeidError)> {
        match query_tries(transport.as_mut()) {
            Ok(tries) => Ok(Beid {
                transport,
                tries_at_probe: tries,
            }),
            Err(e) => Err((transport, e)),
        }
    }

    /// The PIN state the card told during the probe.
    pub fn tries_at_probe(&self) -> PinTries {
        self.tries_at_probe
    }

    /// Asks the card again how many PIN tries are left (SELECT MF and the status query;
    /// no try is spent). An answer the probe would not accept is [`PinTries::Unknown`].
    pub fn pin_tries(&mut self) -> Result<PinTries, BeidError> {
        match query_tries(self.transport.as_mut()) {
            Ok(tries) => Ok(tries),
            Err(BeidError::NoBeidPin(sw)) => Ok(PinTries::Unknown(sw)),
            Err(e) => Err(e),
        }
    }

    /// Where the card sits, for messages.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// The card's ATR.
    pub fn atr(&self) -> Vec<u8> {
        self.transport.atr()
    }

    /// Gives the transport back (to hand the card to another backend).
    pub fn into_transport(self) -> Box<dyn CardTransport> {
        self.transport
    }
}

/// SELECT MF, then the status query, in one transaction.
fn query_tries(transport: &mut dyn CardTransport) -> Result<PinTries, BeidError> {
    let mut tx = transport.transaction().map_err(ExchangeError::from)?;
    let select = Command::new(0x00, 0xA4, 0x00, 0x00).with_data(MF.to_vec());
    let resp: Response = exchange(tx.as_mut(), &select, false)?;
    if !resp.is_ok() {
        return Err(BeidError::NoMasterFile(resp.sw));
    }
    let status = Command::new(CLA_VERIFY, 0x20, 0x00, PIN_REFERENCE);
    let resp = exchange(tx.as_mut(), &status, false)?;
    PinTries::from_status(resp.sw).ok_or(BeidError::NoBeidPin(resp.sw))
}

/// Whether an ATR has the historical bytes seen on Buypass smartcards
/// (`80 31 E0 6B 04 xx 05 02 xx 55 55 55 55 55 55`, see `docs/cards.md`). Only a hint for
/// messages: unrelated MULTOS cards share the pattern, so it never identifies a card.
pub fn looks_like_buypass_atr(atr: &[u8]) -> bool {
    const HEAD: [u8; 4] = [0x80, 0x31, 0xE0, 0x6B];
    const TAIL: [u8; 6] = [0x55; 6];
    atr.windows(15)
        .any(|w| w[..4] == HEAD && w[4] == 0x04 && w[6] == 0x05 && w[7] == 0x02 && w[9..15] == TAIL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::replay::ReplayTransport;
    use crate::card::TransportError;

    const SELECT_MF: &str = "> 00 A4 00 00 02 3F 00\n< 90 00\n";

    fn card(status_answer: &str) -> ReplayTransport {
        let rec = format!("{SELECT_MF}> A0 20 00 82\n< {status_answer}\n");
        ReplayTransport::parse(&ATR_2024, &rec).unwrap()
    }

    fn probe(t: ReplayTransport) -> Result<Beid, BeidError> {
        Beid::probe(Box::new(t)).map_err(|(_, e)| e)
    }

    #[test]
    fn the_probe_recognises_each_pin_state() {
        for (answer, tries) in [
            ("63 C3", PinTries::Left(3)),
            ("63 C1", PinTries::Left(1)),
            ("90 00", PinTries::Verified),
            ("69 83", PinTries::Blocked),
            ("63 C0", PinTries::Blocked),
        ] {
            let beid = probe(card(answer)).unwrap();
            assert_eq!(beid.tries_at_probe(), tries, "{answer}");
            assert_eq!(beid.atr(), ATR_2024);
        }
    }

    #[test]
    fn other_answers_are_not_buypass() {
        for (answer, sw) in [("6E 00", 0x6E00), ("6D 00", 0x6D00), ("63 C9", 0x63C9)] {
            assert_eq!(
                probe(card(answer)).unwrap_err(),
                BeidError::NoBeidPin(StatusWord(sw))
            );
        }
        let no_mf = ReplayTransport::parse(&ATR_2024, "> 00 A4 00 00 02 3F 00\n< 6A 82\n");
        assert_eq!(
            probe(no_mf.unwrap()).unwrap_err(),
            BeidError::NoMasterFile(StatusWord::NOT_FOUND)
        );
    }

    #[test]
    fn a_failed_probe_gives_the_transport_back_untouched() {
        let t = ReplayTransport::parse(
            &[0x3B, 0x01],
            "> 00 A4 00 00 02 3F 00\n< 6A 82\n> 00 B0 00 00 01\n< 00 90 00\n",
        )
        .unwrap();
        let (mut back, _) = Beid::probe(Box::new(t)).unwrap_err();
        assert_eq!(back.atr(), [0x3B, 0x01]);
        let mut tx = back.transaction().unwrap();
        assert_eq!(tx.transmit(&[0, 0xB0, 0, 0, 1]).unwrap(), [0, 0x90, 0]);
    }

    #[test]
    fn tries_are_asked_again_and_an_odd_answer_is_unknown() {
        let rec = format!(
            "{SELECT_MF}> A0 20 00 82\n< 63 C3\n{SELECT_MF}> A0 20 00 82\n< 63 C2\n\
             {SELECT_MF}> A0 20 00 82\n< 67 00\n"
        );
        let t = ReplayTransport::parse(&ATR_2024, &rec).unwrap();
        let mut beid = probe(t).unwrap();
        assert_eq!(beid.pin_tries().unwrap(), PinTries::Left(2));
        assert_eq!(
            beid.pin_tries().unwrap(),
            PinTries::Unknown(StatusWord::WRONG_LENGTH)
        );
        assert!(matches!(
            beid.pin_tries(),
            Err(BeidError::Exchange(ExchangeError::Transport(
                TransportError::ReplayMismatch(_)
            )))
        ));
    }

    #[test]
    fn a_t0_answer_with_data_is_collected_with_get_response() {
        // A T=0 card answering SELECT MF with a file control template would say 61xx.
        let rec = "> 00 A4 00 00 02 3F 00\n< 61 04\n> 00 C0 00 00 04\n< 62 02 83 00 90 00\n\
                   > A0 20 00 82\n< 63 C3\n";
        let t = ReplayTransport::parse(&ATR_2024, rec).unwrap();
        assert_eq!(probe(t).unwrap().tries_at_probe(), PinTries::Left(3));
    }

    #[test]
    fn buypass_atrs_are_recognised_as_a_hint_only() {
        let older = [
            0x3B, 0x6F, 0x00, 0x00, 0x80, 0x31, 0xE0, 0x6B, 0x04, 0x20, 0x05, 0x02, 0x58, 0x55,
            0x55, 0x55, 0x55, 0x55, 0x55,
        ];
        let v21 = [
            0x3B, 0x9F, 0x96, 0x40, 0x0A, 0x80, 0x31, 0xE0, 0x6B, 0x04, 0x21, 0x05, 0x02, 0x61,
            0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
        ];
        assert!(looks_like_buypass_atr(&ATR_2024));
        assert!(looks_like_buypass_atr(&older));
        assert!(looks_like_buypass_atr(&v21));
        assert!(!looks_like_buypass_atr(&[0x3B, 0x88, 0x80, 0x01, 0x00]));
        assert!(!looks_like_buypass_atr(&ATR_2024[..19]));
    }
}
