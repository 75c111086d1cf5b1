//! The card drivers over a card whose every answer comes from the input (`drive_card`):
//! identification (PIV, then Buypass BEID), the PIV objects (CHUID, the four certificates),
//! the PIN state, VERIFY and a signature; the Buypass PIN tries. Below them, the exchange
//! layer's `61xx` / `6Cxx` handling and its bounds on answers.
#![no_main]

use hjemmekontor_fuzz::{drive_card, ScriptedCard};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    drive_card(ScriptedCard::new(data));
});
