//! The gateway's audit log as `audit verify` and `audit query` read it: every line a sealed
//! record (bounded in length), the hash chain between them, and each record and each broken
//! line put in words as the commands print them.
#![no_main]

use hjemmekontor::gateway::audit::cli::{describe, human_line};
use hjemmekontor::gateway::audit::{query, verify, Filter, VerifyError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(VerifyError::Broken { problem, .. }) = verify(data) {
        let _ = describe(&problem);
    }
    for filter in [
        Filter::default(),
        Filter {
            user: Some("ola".into()),
            ..Filter::default()
        },
    ] {
        for record in query(data, filter) {
            match record {
                Ok(record) => {
                    let _ = human_line(&record);
                }
                Err(VerifyError::Broken { problem, .. }) => {
                    let _ = describe(&problem);
                }
                Err(_) => {}
            }
        }
    }
});
