//! The computer's posture report, judged by the gateway's published policy with the same
//! evaluation the login uses (`posture::policy::evaluate`). Without a gateway nothing is
//! judged; the facts the probes could not see are listed, since a rule needing one fails.

use serde_json::json;

use super::CheckResult;
use crate::i18n::catalogue::doctor as m;
use crate::posture::policy::evaluate;
use crate::posture::report::{Fact, Report};
use crate::tunnel::protocol::{PostureNotice, PublishedPolicy};

/// What the report is judged by.
#[derive(Debug, Clone, Copy)]
pub enum Judge<'a> {
    /// No gateway was given or remembered.
    NoGateway,
    /// The gateway's published policy.
    Policy(&'a PublishedPolicy),
    /// A gateway was given, but its policy could not be fetched (why).
    Unavailable(&'a str),
}

/// The facts the probes could not see, by their names in the report, with the reason.
pub fn unknown_facts(report: &Report) -> Vec<(&'static str, String)> {
    fn reason<T>(f: &Fact<T>) -> Option<String> {
        match f {
            Fact::Known { .. } => None,
            Fact::Unknown { reason } => Some(reason.clone()),
        }
    }
    [
        ("os", reason(&report.os)),
        ("firewall", reason(&report.firewall)),
        ("antivirus", reason(&report.antivirus)),
        ("updates", reason(&report.updates)),
        ("disk_encryption", reason(&report.disk_encryption)),
        ("screen_lock", reason(&report.screen_lock)),
    ]
    .into_iter()
    .filter_map(|(name, r)| r.map(|r| (name, r)))
    .collect()
}

/// A fact's name in the run's language, as it stands inside a sentence.
fn fact_words(name: &str) -> String {
    use crate::i18n::catalogue::posture as p;
    match name {
        "os" => p::OPERATING_SYSTEM.text().to_lowercase(),
        "firewall" => p::FIREWALL.text().to_lowercase(),
        "antivirus" => "antivirus".to_string(),
        "updates" => p::UPDATES.text().to_lowercase(),
        "disk_encryption" => p::DISK_ENCRYPTION.text().to_lowercase(),
        "screen_lock" => p::SCREEN_LOCK.text().to_lowercase(),
        _ => m::UNKNOWN_FACT.text(),
    }
}

/// The posture check at `now` (Unix seconds, the computer's clock, as the login is judged up
/// to each side's clock).
pub fn posture_check(report: &Report, judge: Judge<'_>, now: i64) -> CheckResult {
    let unknown = unknown_facts(report);
    let unknown_json: serde_json::Map<String, serde_json::Value> = unknown
        .iter()
        .map(|(n, r)| (n.to_string(), json!(r)))
        .collect();
    let not_seen = if unknown.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = unknown.iter().map(|(n, _)| fact_words(n)).collect();
        m::NOT_SEEN.with(&[("facts", &names.join(", "))])
    };
    let policy = match judge {
        Judge::NoGateway => {
            return CheckResult::ok(
                "posture",
                m::POSTURE_NO_GATEWAY.with(&[("not_seen", &not_seen)]),
            )
            .details(json!({ "judged": false, "unknown": unknown_json }));
        }
        Judge::Unavailable(why) => {
            return CheckResult::warning(
                "posture",
                m::POSTURE_NO_POLICY.with(&[("not_seen", &not_seen)]),
                m::POSTURE_NO_POLICY_FIX.text(),
            )
            .details(json!({ "judged": false, "why": why, "unknown": unknown_json }));
        }
        Judge::Policy(p) => p,
    };
    let verdict = evaluate(&policy.policy, report, now);
    let notices = |list: &[crate::posture::policy::Failed]| -> Vec<PostureNotice> {
        list.iter().map(PostureNotice::from).collect()
    };
    let details = json!({
        "judged": true,
        "admitted": verdict.admitted(),
        "denied": notices(&verdict.denied),
        "warned": notices(&verdict.warned),
        "unknown": unknown_json,
    });
    let said = |list: &[crate::posture::policy::Failed]| {
        list.iter()
            .map(|f| match crate::i18n::current() {
                crate::i18n::Lang::Nb => f.nb.as_str(),
                crate::i18n::Lang::En => f.en.as_str(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let result = if !verdict.admitted() {
        let rules: Vec<&str> = verdict.denied.iter().map(|f| f.rule).collect();
        CheckResult::fail(
            "posture",
            m::POSTURE_REFUSED.with(&[("rules", &rules.join(", "))]),
            said(&verdict.denied),
        )
    } else if !verdict.warned.is_empty() {
        let rules: Vec<&str> = verdict.warned.iter().map(|f| f.rule).collect();
        CheckResult::warning(
            "posture",
            m::POSTURE_WARNED.with(&[("rules", &rules.join(", "))]),
            said(&verdict.warned),
        )
    } else {
        CheckResult::ok("posture", m::POSTURE_ADMITTED.text())
    };
    result.details(details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use crate::posture::policy::{Action, Policy, Rule};
    use crate::posture::report::Firewall;

    fn published(action: Action) -> PublishedPolicy {
        PublishedPolicy {
            policy: Policy::of([(Rule::Firewall, action)]),
            recheck_secs: 0,
            gateway_time: None,
        }
    }

    fn report(firewall_on: bool) -> Report {
        let mut r = Report::unknown(0, "not probed in this test");
        r.firewall = Fact::known(vec![Firewall {
            name: "nftables".into(),
            enabled: firewall_on,
        }]);
        r
    }

    #[test]
    fn deny_fails_warn_warns_and_a_met_policy_is_ok() {
        let denied = posture_check(&report(false), Judge::Policy(&published(Action::Deny)), 0);
        assert_eq!(denied.status, Status::Fail);
        assert!(denied.summary.contains("firewall"), "{}", denied.summary);
        assert!(
            denied.fix.as_deref().unwrap().contains("Brannmur"),
            "{denied:?}"
        );
        assert_eq!(denied.details["admitted"], false);

        let warned = posture_check(&report(false), Judge::Policy(&published(Action::Warn)), 0);
        assert_eq!(warned.status, Status::Warning);

        let met = posture_check(&report(true), Judge::Policy(&published(Action::Deny)), 0);
        assert_eq!(met.status, Status::Ok, "{met:?}");
    }

    #[test]
    fn without_a_gateway_it_is_ok_and_names_what_was_not_seen() {
        let r = posture_check(&report(true), Judge::NoGateway, 0);
        assert_eq!(r.status, Status::Ok);
        assert!(r.summary.contains("ikke vurdert"), "{}", r.summary);
        assert!(r.summary.contains("antivirus"), "{}", r.summary);
        assert!(!r.summary.contains("brannmur"), "{}", r.summary);
        assert_eq!(r.details["unknown"]["antivirus"], "not probed in this test");
    }

    #[test]
    fn an_unreachable_policy_warns() {
        let r = posture_check(&report(true), Judge::Unavailable("timeout"), 0);
        assert_eq!(r.status, Status::Warning);
    }
}
