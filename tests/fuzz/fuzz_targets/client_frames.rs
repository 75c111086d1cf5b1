//! What a client sends the gateway, as the gateway reads it off the TLS stream: the login
//! phase (`read_login`: the posture report, then `login`), the report judged by a policy of
//! every rule, then the frames of the streams (`read_client_message`: `open`, `end`, a
//! re-check's report), each under the client's frame bound and the gateway's default and
//! largest one.
#![no_main]

use hjemmekontor::posture::policy::{evaluate, SupportedOs};
use hjemmekontor::tunnel::protocol::{read_client_message, read_login, ClientMessage};
use hjemmekontor_fuzz::{every_rule, frame_limits, NOW_UNIX};
use libfuzzer_sys::fuzz_target;

fn windows() -> SupportedOs {
    SupportedOs {
        family: "windows".into(),
        min_version: Some("10.0.19045".into()),
        end_of_support: Some(NOW_UNIX + 86_400),
    }
}

fuzz_target!(|data: &[u8]| {
    let policy = every_rule(7, 900, windows());
    hjemmekontor_fuzz::block_on(async {
        for max in frame_limits() {
            let mut stream = data;
            if let Ok((Some(report), _login)) = read_login(&mut stream, max).await {
                let _ = evaluate(&policy, &report, NOW_UNIX);
            }
            let mut stream = data;
            while let Ok(message) = read_client_message(&mut stream, max).await {
                if let ClientMessage::Posture(report) = message {
                    let _ = evaluate(&policy, &report, NOW_UNIX);
                }
            }
        }
    });
});
