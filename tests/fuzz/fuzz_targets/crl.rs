//! A downloaded CRL file judged by `check-crl` (`crl_check::check`): the first part of the
//! input is the configured CAs' certificates (DER or PEM), the second the CRL file, also
//! compared with itself as the file it replaces; and the CRL file as the gateway loads it
//! into the chain check.
#![no_main]

use hjemmekontor::cert::{self, AuthPolicy, ChainConfig};
use hjemmekontor::gateway::crl_check;
use hjemmekontor_fuzz::{now, two_parts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cas, crl_file) = two_parts(data);
    let signers = cert::certificates_from_bytes(cas).unwrap_or_default();
    let _ = crl_check::check(crl_file, &signers, None, now());
    let _ = crl_check::check(crl_file, &signers, Some(crl_file), now());
    if let (Some(ee), Ok(crls)) = (signers.last(), cert::crls_from_bytes(crl_file)) {
        let chain = ChainConfig {
            anchors: signers.clone(),
            intermediates: Vec::new(),
            crls,
        };
        let _ = cert::inspect_der(ee, &AuthPolicy::default(), now(), Some(&chain));
    }
});
