//! The card drivers over a card whose every answer comes from the input: identification
//! (PIV, then Buypass BEID), the PIV objects (CHUID, the four certificates), the PIN state,
//! VERIFY and a signature; the Buypass PIN tries. Below them, the exchange layer's
//! `61xx` / `6Cxx` handling and its bound on answers.
#![no_main]

use hjemmekontor::card::identify::{identify, Application};
use hjemmekontor::card::piv::{KeyAlgorithm, Slot};
use hjemmekontor::secret::Pin;
use hjemmekontor_fuzz::ScriptedCard;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match identify(Box::new(ScriptedCard::new(data))) {
        Ok(Application::Piv(mut piv)) => {
            let _ = piv.read_chuid();
            for slot in Slot::ALL {
                let _ = piv.read_certificate(slot);
            }
            let _ = piv.pin_status();
            let pin = Pin::from_input("123456".into()).expect("a well-formed PIN");
            if let Ok(mut verified) = piv.verify_pin(&pin) {
                let _ = verified.sign(Slot::Authentication, KeyAlgorithm::EccP256, &[7; 32]);
                let _ = verified.sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &[7; 256]);
            }
        }
        Ok(Application::Buypass(mut beid)) => {
            let _ = beid.pin_tries();
        }
        Err(_) => {}
    }
});
