//! `[posture]`: what the gateway requires of the home computer, rule by rule, and how often a
//! running session must show it still holds.
//!
//! ```toml
//! [posture]
//! recheck_minutes = 60          # 0: never during a session
//!
//! [[posture.rule]]
//! check = "firewall"
//! action = "deny"
//!
//! [[posture.rule]]
//! check = "supported-os"
//! action = "deny"
//! os = [
//!   { family = "windows", min_version = "10.0.19045", end_of_support = "2025-10-14" },
//!   { family = "macos", min_version = "13" },
//! ]
//! ```

use super::{deserialize, entries, ranged, Bound, Errors};
use crate::posture::policy::{Action, Policy, Rule, RuleAction, SupportedOs};
use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

/// `[posture]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureSettings {
    /// The rules; none means every computer is admitted (`check-config` says so).
    pub policy: Policy,
    /// How often a session must send a fresh report, in seconds; 0: never.
    pub recheck_secs: u64,
}

impl PostureSettings {
    /// How often a session must send a fresh report; `None` when there is nothing to judge
    /// (no rules) or re-checks are off.
    pub fn recheck_interval(&self) -> Option<std::time::Duration> {
        (!self.policy.rules.is_empty() && self.recheck_secs > 0)
            .then(|| std::time::Duration::from_secs(self.recheck_secs))
    }
}

impl Default for PostureSettings {
    fn default() -> Self {
        PostureSettings {
            policy: Policy::default(),
            recheck_secs: RECHECK.default as u64 * 60,
        }
    }
}

pub(super) const RECHECK: Bound = super::bound("posture.recheck_minutes", 0, 24 * 60, 60);
const DEFINITIONS_AGE: Bound = super::bound("posture.rule.max_definitions_age_days", 0, 365, 7);
const PENDING_DAYS: Bound = super::bound("posture.rule.max_pending_days", 0, 365, 14);
const LOCK_MINUTES: Bound = super::bound("posture.rule.max_timeout_minutes", 1, 240, 15);

/// The numeric keys of `[posture]`, for the table of bounds.
pub(super) const BOUNDS: [Bound; 4] = [RECHECK, DEFINITIONS_AGE, PENDING_DAYS, LOCK_MINUTES];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPosture {
    #[serde(default)]
    recheck_minutes: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    check: Spanned<String>,
    action: Spanned<String>,
    #[serde(default)]
    max_definitions_age_days: Option<Spanned<i64>>,
    #[serde(default)]
    max_pending_days: Option<Spanned<i64>>,
    #[serde(default)]
    max_timeout_minutes: Option<Spanned<i64>>,
    #[serde(default)]
    os: Option<Spanned<Vec<RawOs>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOs {
    family: Spanned<String>,
    #[serde(default)]
    min_version: Option<Spanned<String>>,
    #[serde(default)]
    end_of_support: Option<Spanned<String>>,
}

/// The rule names, as written in `check`.
const CHECKS: &[&str] = &[
    "firewall",
    "antivirus",
    "updates",
    "disk-encryption",
    "supported-os",
    "screen-lock",
];

const FAMILIES: &[&str] = &["windows", "macos", "linux"];

/// Reads `[posture]`; `None` when it has errors (reported in `errors`).
pub(super) fn parse(
    errors: &mut Errors<'_>,
    value: Spanned<DeValue<'_>>,
) -> Option<PostureSettings> {
    // `rule` is taken out first and read entry by entry, so each rule's mistakes are found.
    let mut value = value;
    let rule_entries = match value.get_mut() {
        DeValue::Table(table) => {
            let key = table
                .iter()
                .find(|(k, _)| k.get_ref() == "rule")
                .map(|(k, _)| k.clone());
            key.and_then(|k| table.remove(&k))
        }
        _ => None,
    };
    let before = errors.list.len();
    let raw = deserialize::<RawPosture>(errors, value)?;
    let recheck_minutes = ranged(errors, &raw.recheck_minutes, RECHECK);
    let mut rules: Vec<RuleAction> = Vec::new();
    for (span, r, _) in entries::<RawRule>(errors, "posture.rule", rule_entries) {
        let Some(r) = r else {
            continue;
        };
        let Some(rule) = rule(errors, &r) else {
            continue;
        };
        if rules.iter().any(|other| other.rule.id() == rule.id()) {
            errors.at(
                span,
                format!(
                    "regelen `{}` står allerede i [posture]; skriv hver regel én gang",
                    rule.id()
                ),
            );
            continue;
        }
        let action = match r.action.get_ref().as_str() {
            "deny" => Action::Deny,
            "warn" => Action::Warn,
            _ => {
                errors.at(r.action.span(), "`action` må være \"deny\" (innloggingen avvises) eller \"warn\" (slippes inn med en advarsel)");
                continue;
            }
        };
        rules.push(RuleAction { rule, action });
    }
    (errors.list.len() == before).then(|| PostureSettings {
        policy: Policy { rules },
        recheck_secs: recheck_minutes as u64 * 60,
    })
}

/// One rule's requirement, with only the keys that rule takes.
fn rule(errors: &mut Errors<'_>, r: &RawRule) -> Option<Rule> {
    let check = r.check.get_ref().as_str();
    let allowed: &[&str] = match check {
        "antivirus" => &["max_definitions_age_days"],
        "updates" => &["max_pending_days"],
        "screen-lock" => &["max_timeout_minutes"],
        "supported-os" => &["os"],
        "firewall" | "disk-encryption" => &[],
        _ => {
            errors.at(
                r.check.span(),
                format!(
                    "ukjent regel `{check}`; gyldige regler: {}",
                    CHECKS.join(", ")
                ),
            );
            return None;
        }
    };
    let given: [(&str, Option<std::ops::Range<usize>>); 4] = [
        (
            "max_definitions_age_days",
            r.max_definitions_age_days.as_ref().map(Spanned::span),
        ),
        (
            "max_pending_days",
            r.max_pending_days.as_ref().map(Spanned::span),
        ),
        (
            "max_timeout_minutes",
            r.max_timeout_minutes.as_ref().map(Spanned::span),
        ),
        ("os", r.os.as_ref().map(Spanned::span)),
    ];
    let mut fine = true;
    for (key, span) in given {
        if let Some(span) = span.filter(|_| !allowed.contains(&key)) {
            errors.at(span, format!("`{key}` hører ikke til regelen `{check}`"));
            fine = false;
        }
    }
    let rule = match check {
        "firewall" => Rule::Firewall,
        "disk-encryption" => Rule::DiskEncryption,
        "antivirus" => Rule::Antivirus {
            max_definitions_age_days: Some(ranged(
                errors,
                &r.max_definitions_age_days,
                DEFINITIONS_AGE,
            ) as u32),
        },
        "updates" => Rule::Updates {
            max_pending_days: ranged(errors, &r.max_pending_days, PENDING_DAYS) as u32,
        },
        "screen-lock" => Rule::ScreenLock {
            max_timeout_secs: ranged(errors, &r.max_timeout_minutes, LOCK_MINUTES) as u32 * 60,
        },
        _ => Rule::SupportedOs {
            os: supported(errors, r)?,
        },
    };
    fine.then_some(rule)
}

/// The `os` list of a `supported-os` rule.
fn supported(errors: &mut Errors<'_>, r: &RawRule) -> Option<Vec<SupportedOs>> {
    let Some(list) = &r.os else {
        errors.at(
            r.check.span(),
            "regelen `supported-os` trenger `os = [{ family = \"windows\", min_version = \"10.0.19045\" }, ...]`",
        );
        return None;
    };
    if list.get_ref().is_empty() {
        errors.at(list.span(), "`os` er tom: da ville ingen maskin slippe inn");
        return None;
    }
    let mut out = Vec::new();
    let mut fine = true;
    for os in list.get_ref() {
        let family = os.family.get_ref();
        if !FAMILIES.contains(&family.as_str()) {
            errors.at(
                os.family.span(),
                format!("`family` må være en av {}", FAMILIES.join(", ")),
            );
            fine = false;
        }
        if let Some(v) = &os.min_version {
            let ok = !v.get_ref().is_empty()
                && v.get_ref()
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                errors.at(v.span(), "`min_version` skrives som tall med punktum, f.eks. \"10.0.19045\" eller \"14\"");
                fine = false;
            }
        }
        let end_of_support = match &os.end_of_support {
            None => None,
            Some(d) => match date(d.get_ref()) {
                Some(t) => Some(t),
                None => {
                    errors.at(
                        d.span(),
                        "`end_of_support` skrives ÅÅÅÅ-MM-DD, f.eks. \"2025-10-14\"",
                    );
                    fine = false;
                    None
                }
            },
        };
        out.push(SupportedOs {
            family: family.clone(),
            min_version: os.min_version.as_ref().map(|v| v.get_ref().clone()),
            end_of_support,
        });
    }
    fine.then_some(out)
}

/// The start of a day (UTC), as Unix seconds: support ends when that day begins.
fn date(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(text, &format).ok()?;
    Some(day.midnight().assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::super::{parse, ConfigError};
    use super::*;
    use crate::gateway::testutil::{base, probe, text};

    fn with(section: &str) -> Result<PostureSettings, Vec<ConfigError>> {
        let text = format!("{}\n{section}", text());
        parse(&text, &base(), &probe).map(|c| c.posture)
    }

    fn messages(section: &str) -> Vec<String> {
        with(section)
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn no_section_admits_every_computer_and_rechecks_hourly() {
        let posture = parse(&text(), &base(), &probe).unwrap().posture;
        assert!(posture.policy.rules.is_empty());
        assert_eq!(posture.recheck_secs, 3_600);
        // Nothing to judge, so nothing to re-check.
        assert_eq!(posture.recheck_interval(), None);
        let one =
            with("[posture]\n[[posture.rule]]\ncheck = \"firewall\"\naction = \"warn\"\n").unwrap();
        assert_eq!(
            one.recheck_interval(),
            Some(std::time::Duration::from_secs(3_600))
        );
        let never = with(
            "[posture]\nrecheck_minutes = 0\n[[posture.rule]]\ncheck = \"firewall\"\naction = \"warn\"\n",
        )
        .unwrap();
        assert_eq!(never.recheck_interval(), None);
    }

    #[test]
    fn every_rule_reads_with_its_own_keys() {
        let posture = with(
            r#"[posture]
recheck_minutes = 30

[[posture.rule]]
check = "firewall"
action = "deny"

[[posture.rule]]
check = "antivirus"
action = "deny"
max_definitions_age_days = 7

[[posture.rule]]
check = "updates"
action = "warn"
max_pending_days = 14

[[posture.rule]]
check = "disk-encryption"
action = "warn"

[[posture.rule]]
check = "supported-os"
action = "deny"
os = [
  { family = "windows", min_version = "10.0.19045", end_of_support = "2025-10-14" },
  { family = "linux" },
]

[[posture.rule]]
check = "screen-lock"
action = "warn"
max_timeout_minutes = 10
"#,
        )
        .unwrap();
        assert_eq!(posture.recheck_secs, 1_800);
        let rules = &posture.policy.rules;
        assert_eq!(rules.len(), 6);
        assert_eq!(
            (rules[0].rule.clone(), rules[0].action),
            (Rule::Firewall, Action::Deny)
        );
        assert_eq!(
            rules[1].rule,
            Rule::Antivirus {
                max_definitions_age_days: Some(7)
            }
        );
        assert_eq!(rules[2].action, Action::Warn);
        let Rule::SupportedOs { os } = &rules[4].rule else {
            panic!("{:?}", rules[4]);
        };
        // Support ends as 14 October 2025 begins, UTC.
        assert_eq!(os[0].end_of_support, Some(1_760_400_000));
        assert_eq!(os[1].min_version, None);
        assert_eq!(
            rules[5].rule,
            Rule::ScreenLock {
                max_timeout_secs: 600
            }
        );
    }

    #[test]
    fn mistakes_are_named_each_with_what_to_write() {
        let errors = messages(
            r#"[posture]
recheck_minutes = -5

[[posture.rule]]
check = "brannmur"
action = "deny"

[[posture.rule]]
check = "firewall"
action = "block"

[[posture.rule]]
check = "disk-encryption"
action = "deny"
max_pending_days = 3

[[posture.rule]]
check = "supported-os"
action = "deny"
os = [{ family = "amiga", min_version = "ten", end_of_support = "oktober 2025" }]

[[posture.rule]]
check = "screen-lock"
action = "warn"
max_timeout_minutes = 0
"#,
        );
        let want = [
            "`posture.recheck_minutes` = -5 er utenfor",
            "ukjent regel `brannmur`",
            "`action` må være \"deny\"",
            "`max_pending_days` hører ikke til regelen `disk-encryption`",
            "`family` må være en av windows, macos, linux",
            "`min_version` skrives som tall",
            "`end_of_support` skrives ÅÅÅÅ-MM-DD",
            "`posture.rule.max_timeout_minutes` = 0 er utenfor",
        ];
        for w in want {
            assert!(errors.iter().any(|e| e.contains(w)), "{w} in {errors:#?}");
        }
    }

    #[test]
    fn a_rule_twice_or_an_empty_os_list_is_refused() {
        let twice = messages(
            "[posture]\n[[posture.rule]]\ncheck = \"firewall\"\naction = \"deny\"\n\
             [[posture.rule]]\ncheck = \"firewall\"\naction = \"warn\"\n",
        );
        assert!(twice[0].contains("står allerede"), "{twice:?}");
        let empty = messages(
            "[posture]\n[[posture.rule]]\ncheck = \"supported-os\"\naction = \"deny\"\nos = []\n",
        );
        assert!(empty[0].contains("ingen maskin"), "{empty:?}");
        let missing =
            messages("[posture]\n[[posture.rule]]\ncheck = \"supported-os\"\naction = \"deny\"\n");
        assert!(missing[0].contains("trenger `os"), "{missing:?}");
        let unknown_key = messages("[posture]\nrecheck = 5\n");
        assert!(
            unknown_key[0].contains("ukjent nøkkel `recheck`"),
            "{unknown_key:?}"
        );
    }
}
