//! A TEST Buypass card (BEID on MULTOS) as a pure state machine, with exactly the commands
//! `crate::card::beid` relies on, so the recognition of Buypass cards and the middleware
//! advice can be tested through the real PC/SC stack.
//!
//! It models a T=0 card: an answer with data is announced with `61xx` and fetched with GET
//! RESPONSE `00 C0 00 00 xx`. What it answers, and how sure we are that a real Buypass card
//! answers the same (see `docs/cards.md`):
//!
//! | command | answer | confidence |
//! |---|---|---|
//! | SELECT MF `00 A4 00 00 02 3F 00` | `90 00` | confirmed |
//! | VERIFY `A0 20 00 82 08` + 4 ASCII digits + `FF FF FF FF` | `90 00`; wrong: `63 Cx`, then `69 83` | format and 3 tries confirmed, status words ISO 7816-4 |
//! | VERIFY `A0 20 00 82` without data | `90 00` verified, `63 Cx`, `69 83` | ISO 7816-4, unconfirmed |
//! | SELECT MF with P2 `04` (return FCP) | `61 xx`, then the FCP by GET RESPONSE | modelled (ISO 7816-4) |
//! | SELECT by name (the PIV AID or any other), other files | `6A 82` | modelled |
//! | other instructions / classes | `6D 00` / `6E 00` | ISO 7816-4 |
//!
//! The retry counter survives a reset; the verified state does not. Certificates, keys and
//! signing are not modelled: they are not public.

use zeroize::Zeroizing;

use super::piv::constant_time_eq;
use crate::card::apdu::{Command, StatusWord};
use crate::card::beid::{ATR_2024, CLA_VERIFY, MF, PIN_DIGITS, PIN_REFERENCE, PIN_TRIES};
use crate::card::emulated::SimulatedCard;
use crate::secret::Pin;

const INS_SELECT: u8 = 0xA4;
const INS_VERIFY: u8 = 0x20;
const INS_GET_RESPONSE: u8 = 0xC0;

/// The master file's control parameters (ISO 7816-4 FCP): a DF, file id 3F00, operational.
const MF_FCP: [u8; 12] = [
    0x62, 0x0A, 0x82, 0x01, 0x38, 0x83, 0x02, 0x3F, 0x00, 0x8A, 0x01, 0x05,
];

/// Why a TEST Buypass card cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeidConfigError {
    /// Buypass PINs are 4 digits.
    #[error("the PIN must be {PIN_DIGITS} digits, got {0}")]
    PinLength(usize),
}

/// A TEST Buypass card.
pub struct VirtualBeid {
    pin: Zeroizing<Vec<u8>>,
    tries: u8,
    verified: bool,
    pending: Vec<u8>,
    apdus: u64,
}

impl VirtualBeid {
    /// A card with this PIN (4 digits) and all 3 tries left.
    pub fn new(pin: &Pin) -> Result<Self, BeidConfigError> {
        if pin.len() != PIN_DIGITS {
            return Err(BeidConfigError::PinLength(pin.len()));
        }
        let mut block = Zeroizing::new(vec![0xFF; 8]);
        block[..PIN_DIGITS].copy_from_slice(pin.expose());
        Ok(VirtualBeid {
            pin: block,
            tries: PIN_TRIES,
            verified: false,
            pending: Vec::new(),
            apdus: 0,
        })
    }

    /// PIN tries left (0 = blocked).
    pub fn pin_tries_left(&self) -> u8 {
        self.tries
    }

    /// Whether the PIN is verified in this card session.
    pub fn is_pin_verified(&self) -> bool {
        self.verified
    }

    /// Command APDUs processed since the card was made.
    pub fn apdu_count(&self) -> u64 {
        self.apdus
    }

    fn handle(&mut self, cmd: &Command) -> (Vec<u8>, StatusWord) {
        let none = |sw| (Vec::new(), sw);
        match (cmd.cla, cmd.ins) {
            (0x00, INS_GET_RESPONSE) => self.get_response(cmd),
            (0x00, INS_SELECT) => {
                self.pending.clear();
                select(cmd)
            }
            (CLA_VERIFY, INS_VERIFY) => {
                self.pending.clear();
                none(self.verify(cmd))
            }
            (0x00 | CLA_VERIFY, _) => {
                self.pending.clear();
                none(StatusWord::INS_NOT_SUPPORTED)
            }
            _ => {
                self.pending.clear();
                none(StatusWord::CLA_NOT_SUPPORTED)
            }
        }
    }

    fn get_response(&mut self, cmd: &Command) -> (Vec<u8>, StatusWord) {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return (Vec::new(), StatusWord::WRONG_P1P2);
        }
        if self.pending.is_empty() {
            return (Vec::new(), StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        let want = cmd.le.unwrap_or(256).min(self.pending.len());
        let rest = self.pending.split_off(want);
        let data = std::mem::replace(&mut self.pending, rest);
        (data, StatusWord::OK)
    }

    fn verify(&mut self, cmd: &Command) -> StatusWord {
        if cmd.p1 != 0x00 {
            return StatusWord::WRONG_P1P2;
        }
        if cmd.p2 != PIN_REFERENCE {
            return StatusWord::REFERENCED_DATA_NOT_FOUND;
        }
        if self.tries == 0 {
            return StatusWord::AUTH_BLOCKED;
        }
        let data = cmd.data();
        if data.is_empty() {
            return if self.verified {
                StatusWord::OK
            } else {
                tries_status(self.tries)
            };
        }
        if data.len() != 8 {
            return StatusWord::WRONG_LENGTH;
        }
        if constant_time_eq(&self.pin, data) {
            self.tries = PIN_TRIES;
            self.verified = true;
            return StatusWord::OK;
        }
        self.tries -= 1;
        self.verified = false;
        if self.tries == 0 {
            StatusWord::AUTH_BLOCKED
        } else {
            tries_status(self.tries)
        }
    }
}

fn tries_status(tries: u8) -> StatusWord {
    StatusWord::from_bytes(0x63, 0xC0 | tries)
}

/// SELECT: only the master file exists; P2 `04` asks for its FCP (data, hence `61xx`).
fn select(cmd: &Command) -> (Vec<u8>, StatusWord) {
    match cmd.p1 {
        0x00 if cmd.data().is_empty() || cmd.data() == MF => match cmd.p2 {
            0x00 | 0x0C => (Vec::new(), StatusWord::OK),
            0x04 => (MF_FCP.to_vec(), StatusWord::OK),
            _ => (Vec::new(), StatusWord::WRONG_P1P2),
        },
        0x00 | 0x04 => (Vec::new(), StatusWord::NOT_FOUND),
        _ => (Vec::new(), StatusWord::WRONG_P1P2),
    }
}

impl SimulatedCard for VirtualBeid {
    fn atr(&self) -> Vec<u8> {
        ATR_2024.to_vec()
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        self.apdus = self.apdus.saturating_add(1);
        let Ok(cmd) = Command::parse(command) else {
            self.pending.clear();
            return StatusWord::WRONG_LENGTH.0.to_be_bytes().to_vec();
        };
        let (mut data, sw) = self.handle(&cmd);
        if cmd.ins != INS_GET_RESPONSE && !data.is_empty() {
            // T=0: data waits for GET RESPONSE.
            let announce = StatusWord::from_bytes(0x61, data.len().min(256) as u8);
            self.pending = data;
            return announce.0.to_be_bytes().to_vec();
        }
        let sw = match self.pending.len() {
            0 => sw,
            n => StatusWord::from_bytes(0x61, n.min(256) as u8),
        };
        data.extend_from_slice(&sw.0.to_be_bytes());
        data
    }

    fn reset(&mut self) {
        self.verified = false;
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> VirtualBeid {
        VirtualBeid::new(&Pin::from_input("6290".into()).unwrap()).unwrap()
    }

    fn send(card: &mut VirtualBeid, hex: &str) -> String {
        let bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        crate::card::apdu::hex_spaced(&card.process(&bytes))
    }

    #[test]
    fn answers_the_confirmed_commands() {
        let mut c = card();
        assert_eq!(send(&mut c, "00 A4 00 00 02 3F 00"), "90 00");
        assert_eq!(send(&mut c, "A0 20 00 82"), "63 C3");
        assert_eq!(
            send(&mut c, "A0 20 00 82 08 36 32 39 30 FF FF FF FF"),
            "90 00"
        );
        assert_eq!(send(&mut c, "A0 20 00 82"), "90 00");
        c.reset();
        assert_eq!(send(&mut c, "A0 20 00 82"), "63 C3");
    }

    #[test]
    fn three_wrong_pins_block_and_a_reset_keeps_the_count() {
        let mut c = card();
        assert_eq!(
            send(&mut c, "A0 20 00 82 08 31 31 31 31 FF FF FF FF"),
            "63 C2"
        );
        c.reset();
        assert_eq!(send(&mut c, "A0 20 00 82"), "63 C2");
        assert_eq!(
            send(&mut c, "A0 20 00 82 08 31 31 31 31 FF FF FF FF"),
            "63 C1"
        );
        assert_eq!(
            send(&mut c, "A0 20 00 82 08 31 31 31 31 FF FF FF FF"),
            "69 83"
        );
        assert_eq!(
            send(&mut c, "A0 20 00 82 08 36 32 39 30 FF FF FF FF"),
            "69 83"
        );
        assert_eq!(send(&mut c, "A0 20 00 82"), "69 83");
        assert_eq!(c.pin_tries_left(), 0);
    }

    #[test]
    fn the_fcp_comes_by_get_response_in_t0_style() {
        let mut c = card();
        assert_eq!(send(&mut c, "00 A4 00 04 02 3F 00"), "61 0C");
        assert_eq!(send(&mut c, "00 C0 00 00 05"), "62 0A 82 01 38 61 07");
        assert_eq!(send(&mut c, "00 C0 00 00 07"), "83 02 3F 00 8A 01 05 90 00");
        assert_eq!(send(&mut c, "00 C0 00 00 01"), "69 85");
    }

    #[test]
    fn everything_else_is_refused_as_iso_says() {
        let mut c = card();
        assert_eq!(
            send(&mut c, "00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00"),
            "6A 82"
        );
        assert_eq!(send(&mut c, "00 A4 00 00 02 2F 00"), "6A 82");
        assert_eq!(send(&mut c, "00 20 00 80"), "6D 00");
        assert_eq!(send(&mut c, "00 CB 3F FF 03 5C 01 7E 00"), "6D 00");
        assert_eq!(send(&mut c, "80 CA 9F 7F 00"), "6E 00");
        assert_eq!(send(&mut c, "A0 20 00 81"), "6A 88");
        assert_eq!(send(&mut c, "A0 20 00 82 04 36 32 39 30"), "67 00");
        assert_eq!(c.pin_tries_left(), 3);
        assert!(VirtualBeid::new(&Pin::from_input("123456".into()).unwrap()).is_err());
    }
}
