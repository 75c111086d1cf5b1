//! The qcStatements extension's value (x509-parser leaves it undecoded), and the personal
//! identifier in a subject's serialNumber (`UN:NO-9578-4050-…`).
#![no_main]

use hjemmekontor::cert::{qc, PersonalId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qc::decode(data);
    let _ = PersonalId::parse(&String::from_utf8_lossy(data));
});
