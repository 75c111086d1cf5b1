//! A certificate file (one DER certificate or PEM with any number): its facts, level and
//! verdict (`inspect_der`), with the chain checked against the file's own certificates as
//! trust anchors, as `cert inspect --roots` and the gateway do with what they are given; the
//! inspection as `--json` writes it.
#![no_main]

use hjemmekontor::cert::{self, AuthPolicy, ChainConfig};
use hjemmekontor_fuzz::now;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ders) = cert::certificates_from_bytes(data) else {
        return;
    };
    let policy = AuthPolicy::default();
    let chain = ChainConfig {
        anchors: ders.clone(),
        intermediates: ders.clone(),
        crls: Vec::new(),
    };
    for der in &ders {
        let _ = cert::inspect_der(der, &policy, now(), None);
        if let Ok(inspection) = cert::inspect_der(der, &policy, now(), Some(&chain)) {
            serde_json::to_vec(&inspection).expect("an inspection is JSON");
        }
    }
});
