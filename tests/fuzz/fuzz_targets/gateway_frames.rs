//! What a gateway sends the client: the busy line before TLS (`busy::parse`), then frames
//! (`read_gateway_message`) as the client reads and words them: a rejected login, a refused
//! stream, the session's end, posture notices, and the published policy (this computer's
//! clock against the gateway's, a report judged by the gateway's rules).
#![no_main]

use hjemmekontor::client::{gateway_words, posture::notices_text};
use hjemmekontor::doctor::network::clock_check;
use hjemmekontor::posture::policy::evaluate;
use hjemmekontor::posture::report::Report;
use hjemmekontor::tunnel::busy;
use hjemmekontor::tunnel::protocol::{read_gateway_message, GatewayMessage, DEFAULT_MAX_FRAME_LEN};
use hjemmekontor_fuzz::{now, NOW_UNIX};
use libfuzzer_sys::fuzz_target;

fn word(message: &GatewayMessage) {
    match message {
        GatewayMessage::Accepted(a) => {
            let _ = notices_text(&a.posture_warnings);
        }
        GatewayMessage::Rejected(r) => {
            let _ = gateway_words::rejected(r);
        }
        GatewayMessage::Opened(_) => {}
        GatewayMessage::Refused(r) => {
            let _ = gateway_words::refusal(r.code, &r.message);
        }
        GatewayMessage::Ending(e) => {
            let _ = gateway_words::ending(e);
            let _ = notices_text(&e.failed_rules);
        }
        GatewayMessage::PostureChecked(c) => {
            let _ = notices_text(&c.warnings);
        }
        GatewayMessage::Policy(p) => {
            let _ = clock_check(now(), p.gateway_time);
            let report = Report::unknown(NOW_UNIX, "not probed");
            let _ = evaluate(&p.policy, &report, NOW_UNIX);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = busy::parse(data);
    hjemmekontor_fuzz::block_on(async {
        let mut stream = data;
        while let Ok(message) = read_gateway_message(&mut stream, DEFAULT_MAX_FRAME_LEN).await {
            word(&message);
        }
    });
});
