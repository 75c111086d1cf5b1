//! Buypass cards in-process: the BEID probe and the PIN tries against the virtual Buypass
//! card, through the same transport seam and `exchange` as a real card; a MULTOS card with
//! the very same ATR but without BEID is not taken for a Buypass card; and the support trace
//! of a PIN entry holds no PIN.

mod support;

use std::sync::{Arc, Mutex};

use hjemmekontor::card::apdu::{Command, StatusWord};
use hjemmekontor::card::beid::{looks_like_buypass_atr, Beid, PinTries, ATR_2024};
use hjemmekontor::card::emulated::{InProcessTransport, SimulatedCard};
use hjemmekontor::card::identify::{identify, Application, IdentifyError};
use hjemmekontor::card::trace::{TraceSink, TracedTransport};
use hjemmekontor::card::transport::{exchange, CardTransport};
use hjemmekontor::secret::Pin;
use hjemmekontor::vcard::{PivConfig, VirtualBeid, VirtualPiv};
use zeroize::Zeroizing;

type Card = InProcessTransport<VirtualBeid>;

fn buypass_card(pin: &str) -> Card {
    InProcessTransport::new(VirtualBeid::new(&Pin::from_input(pin.into()).unwrap()).unwrap())
}

fn buypass(card: &Card) -> Beid {
    match identify(Box::new(card.clone())) {
        Ok(Application::Buypass(beid)) => beid,
        other => panic!("not identified as Buypass: {other:?}"),
    }
}

/// VERIFY as Buypass cards take it: 4 ASCII digits padded with FF to 8 bytes, class A0.
fn verify(card: &mut dyn CardTransport, pin: &str) -> StatusWord {
    let mut block = Zeroizing::new(vec![0xFF; 8]);
    block[..pin.len()].copy_from_slice(pin.as_bytes());
    let cmd = Command::new(0xA0, 0x20, 0x00, 0x82).with_secret_data(block);
    let mut tx = card.transaction().unwrap();
    exchange(&mut *tx, &cmd, false).unwrap().sw
}

#[test]
fn the_virtual_buypass_card_is_identified_and_its_tries_read_without_spending_one() {
    let card = buypass_card("6290");
    let mut beid = buypass(&card);
    assert_eq!(beid.tries_at_probe(), PinTries::Left(3));
    for _ in 0..5 {
        assert_eq!(beid.pin_tries().unwrap(), PinTries::Left(3));
    }
    assert_eq!(card.with_card(|c| c.pin_tries_left()), 3);
    assert!(looks_like_buypass_atr(&beid.atr()));
    // The transport can be handed on, to whatever logs in with the card.
    let mut transport = beid.into_transport();
    assert_eq!(verify(transport.as_mut(), "6290"), StatusWord::OK);
    assert!(card.with_card(|c| c.is_pin_verified()));
}

#[test]
fn wrong_pins_count_down_to_blocked_and_the_probe_still_knows_the_card() {
    let mut card = buypass_card("6290");
    assert_eq!(verify(&mut card, "1111"), StatusWord(0x63C2));
    assert_eq!(buypass(&card).tries_at_probe(), PinTries::Left(2));
    assert_eq!(verify(&mut card, "1111"), StatusWord(0x63C1));
    assert_eq!(verify(&mut card, "1111"), StatusWord::AUTH_BLOCKED);
    // Blocked: even the right PIN is refused, and the probe says blocked.
    assert_eq!(verify(&mut card, "6290"), StatusWord::AUTH_BLOCKED);
    let mut beid = buypass(&card);
    assert_eq!(beid.tries_at_probe(), PinTries::Blocked);
    assert_eq!(beid.pin_tries().unwrap(), PinTries::Blocked);
}

#[test]
fn a_verified_pin_shows_until_the_card_is_pulled_and_the_counter_survives() {
    let mut card = buypass_card("6290");
    assert_eq!(verify(&mut card, "1111"), StatusWord(0x63C2));
    assert_eq!(verify(&mut card, "6290"), StatusWord::OK);
    assert_eq!(buypass(&card).tries_at_probe(), PinTries::Verified);
    assert_eq!(verify(&mut card, "1111"), StatusWord(0x63C2));
    card.set_inserted(false);
    card.set_inserted(true);
    // The transport reports the reset once; then the card is fresh, its counter kept.
    assert!(card.transaction().is_err());
    assert_eq!(buypass(&card).tries_at_probe(), PinTries::Left(2));
}

/// A MULTOS bank card: the Buypass ATR, a master file, but no BEID application (class A0
/// refused), as an EMV card answers.
struct MultosBankCard;

impl SimulatedCard for MultosBankCard {
    fn atr(&self) -> Vec<u8> {
        ATR_2024.to_vec()
    }
    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        match command {
            [0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00] => vec![0x90, 0x00],
            [0x00, 0xA4, ..] => vec![0x6A, 0x82],
            [0x00, ..] => vec![0x6D, 0x00],
            _ => vec![0x6E, 0x00],
        }
    }
    fn reset(&mut self) {}
}

#[test]
fn a_multos_card_with_the_buypass_atr_but_no_beid_is_not_buypass() {
    let card = InProcessTransport::new(MultosBankCard);
    match identify(Box::new(card)) {
        Err(IdentifyError::Unknown { buypass_like }) => assert!(buypass_like),
        other => panic!("a bank card was identified: {other:?}"),
    }
}

#[test]
fn a_piv_card_is_still_found_first() {
    let id = support::certs::rsa_identity("Test Person RSA");
    let card = InProcessTransport::new(VirtualPiv::new(PivConfig::new(id.slot_key())).unwrap());
    let found = identify(Box::new(card)).unwrap();
    assert_eq!(found.name(), "piv");
}

#[test]
fn the_trace_of_a_pin_entry_holds_no_pin() {
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out = Shared::default();
    let card = buypass_card("6290");
    let sink = TraceSink::to_writer(Box::new(out.clone()));
    let mut traced = TracedTransport::new(Box::new(card.clone()), sink);
    assert_eq!(verify(&mut traced, "6290"), StatusWord::OK);
    assert_eq!(verify(&mut traced, "4711"), StatusWord(0x63C2));
    let mut beid = match identify(Box::new(traced)) {
        Ok(Application::Buypass(beid)) => beid,
        other => panic!("{other:?}"),
    };
    assert_eq!(beid.pin_tries().unwrap(), PinTries::Left(2));
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    for secret in [
        "6290",
        "36 32 39 30",
        "36323930",
        "4711",
        "34 37 31 31",
        "34373131",
    ] {
        assert!(!text.contains(secret), "{secret} in the trace:\n{text}");
    }
    assert_eq!(
        text.matches("> A0 20 00 82 REDACTED (8 bytes)").count(),
        2,
        "{text}"
    );
    assert!(text.contains("> A0 20 00 82  < 63 C2"), "{text}");
}
