//! Command and response APDUs: what the card sends back (`Response::parse`, the status word's
//! meaning) and what the virtual card reads (`Command::parse`), each encoded again.
#![no_main]

use hjemmekontor::card::apdu::LengthForm;
use hjemmekontor::card::{Command, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = Response::parse(data) {
        let _ = response.sw.meaning();
        let _ = response.to_string();
        assert_eq!(response.to_bytes(), data);
    }
    if let Ok(command) = Command::parse(data) {
        let _ = command.to_string();
        for form in [LengthForm::Short, LengthForm::Extended] {
            if let Ok(bytes) = command.to_bytes(form) {
                let again = Command::parse(&bytes).expect("an encoded command parses");
                assert_eq!(again.data(), command.data());
            }
        }
    }
});
