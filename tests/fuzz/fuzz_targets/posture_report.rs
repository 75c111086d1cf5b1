//! The posture report a client claims (the body of its `posture` frame): decoded, bounded
//! (`within_bounds`) as the gateway does before keeping anything of it, then judged by the
//! gateway's rules with the strictest and the loosest settings its configuration allows, and
//! with the extremes a published policy could carry.
#![no_main]

use hjemmekontor::posture::policy::{evaluate, SupportedOs};
use hjemmekontor::posture::report::Report;
use hjemmekontor_fuzz::{every_rule, NOW_UNIX};
use libfuzzer_sys::fuzz_target;

fn linux(end_of_support: i64) -> SupportedOs {
    SupportedOs {
        family: "linux".into(),
        min_version: Some("12".into()),
        end_of_support: Some(end_of_support),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(report) = serde_json::from_slice::<Report>(data) else {
        return;
    };
    if !report.within_bounds() {
        return;
    }
    for (days, secs, end) in [
        (0, 60, i64::MIN),
        (7, 900, NOW_UNIX),
        (365, 240 * 60, i64::MAX),
        (u32::MAX, u32::MAX, i64::MAX),
    ] {
        let _ = evaluate(&every_rule(days, secs, linux(end)), &report, NOW_UNIX);
    }
});
