//! The gateway's posture policy, evaluated against a report: each rule passes or fails, and
//! a failed rule either refuses the login (`deny`) or lets it in with a warning (`warn`).
//! Pure: the time is passed in. A fact the client could not know fails the rules that need
//! it, saying why; the operator decides whether that refuses (`deny`) or warns.

use super::report::{Fact, Report};
use serde::{Deserialize, Serialize};

/// What a failed rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The login is refused.
    Deny,
    /// The login goes ahead, and the person is told.
    Warn,
}

/// An operating system the operator supports: a family from a minimum version, until an
/// end-of-support date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportedOs {
    /// `windows`, `macos` or `linux`.
    pub family: String,
    /// The lowest version accepted (dotted numbers), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// After this time (Unix seconds) the family is no longer supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_support: Option<i64>,
}

/// One requirement. On the wire (the published policy) it is an object tagged by `check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum Rule {
    /// At least one firewall filters incoming traffic.
    Firewall,
    /// An antivirus with real-time protection, its definitions at most so many days old.
    Antivirus {
        /// Oldest definitions accepted, in days; `None`: any age.
        max_definitions_age_days: Option<u32>,
    },
    /// No security update has waited longer than this.
    Updates {
        /// Longest wait accepted, in days.
        max_pending_days: u32,
    },
    /// The system volume is encrypted.
    DiskEncryption,
    /// The operating system is on the list.
    SupportedOs {
        /// The families accepted, each with its minimum version and end of support.
        os: Vec<SupportedOs>,
    },
    /// The screen locks by itself within this many seconds.
    ScreenLock {
        /// Longest timeout accepted, in seconds.
        max_timeout_secs: u32,
    },
}

impl Rule {
    /// The rule's name in the configuration and the audit log.
    pub fn id(&self) -> &'static str {
        match self {
            Rule::Firewall => "firewall",
            Rule::Antivirus { .. } => "antivirus",
            Rule::Updates { .. } => "updates",
            Rule::DiskEncryption => "disk-encryption",
            Rule::SupportedOs { .. } => "supported-os",
            Rule::ScreenLock { .. } => "screen-lock",
        }
    }
}

/// A rule with what its failure does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleAction {
    /// The requirement.
    #[serde(flatten)]
    pub rule: Rule,
    /// What its failure does.
    pub action: Action,
}

/// The policy: rules with what their failure does. The gateway publishes it as it is (see
/// `docs/protocol.md`), so `hjemmekontor posture --gateway` judges a computer exactly as the
/// login will.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The rules, in the order they are reported.
    pub rules: Vec<RuleAction>,
}

impl Policy {
    /// A policy of these rules.
    pub fn of(rules: impl IntoIterator<Item = (Rule, Action)>) -> Policy {
        Policy {
            rules: rules
                .into_iter()
                .map(|(rule, action)| RuleAction { rule, action })
                .collect(),
        }
    }
}

/// A rule the report did not meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// [`Rule::id`].
    pub rule: &'static str,
    /// Deny or warn.
    pub action: Action,
    /// The facts the rule looked at, for the audit log (only those).
    pub seen: String,
    /// What is wrong and what to do, in Norwegian (bokmål).
    pub nb: String,
    /// The same in English.
    pub en: String,
}

/// The outcome for one report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Rules failed with `deny`: the login is refused.
    pub denied: Vec<Failed>,
    /// Rules failed with `warn`: the login goes ahead with these shown.
    pub warned: Vec<Failed>,
}

impl Verdict {
    /// Whether the login may go ahead.
    pub fn admitted(&self) -> bool {
        self.denied.is_empty()
    }
}

const DAY: i64 = 86_400;

/// Judges `report` by `policy` at `now` (Unix seconds).
pub fn evaluate(policy: &Policy, report: &Report, now: i64) -> Verdict {
    let mut verdict = Verdict::default();
    for RuleAction { rule, action } in &policy.rules {
        if let Some((seen, nb, en)) = check(rule, report, now) {
            let failed = Failed {
                rule: rule.id(),
                action: *action,
                seen,
                nb,
                en,
            };
            match action {
                Action::Deny => verdict.denied.push(failed),
                Action::Warn => verdict.warned.push(failed),
            }
        }
    }
    verdict
}

/// What a failed rule saw and says (`None`: the rule passed).
type Finding = Option<(String, String, String)>;

fn unknown<T>(fact: &Fact<T>, what_nb: &str, what_en: &str) -> Finding {
    match fact {
        Fact::Unknown { reason } => Some((
            format!("unknown: {reason}"),
            format!("Hjemmekontor kunne ikke se {what_nb} ({reason}). Kontakt IT-ansvarlig."),
            format!(
                "hjemmekontor could not tell {what_en} ({reason}). Contact your IT administrator."
            ),
        )),
        Fact::Known { .. } => None,
    }
}

fn check(rule: &Rule, report: &Report, now: i64) -> Finding {
    match rule {
        Rule::Firewall => {
            let Some(firewalls) = report.firewall.value() else {
                return unknown(&report.firewall, "om brannmuren er på", "whether the firewall is on");
            };
            if firewalls.iter().any(|f| f.enabled) {
                return None;
            }
            Some((
                format!("firewalls: {}", list(firewalls.iter().map(|f| format!("{} off", f.name)))),
                "Brannmuren er ikke slått på. Slå den på (Windows: Innstillinger › Personvern og sikkerhet › Windows-sikkerhet › Brannmur; Mac: Systeminnstillinger › Nettverk › Brannmur; Linux: for eksempel «sudo ufw enable») og koble til igjen.".into(),
                "The firewall is not on. Turn it on (Windows: Settings › Privacy & security › Windows Security › Firewall; Mac: System Settings › Network › Firewall; Linux: e.g. `sudo ufw enable`) and connect again.".into(),
            ))
        }
        Rule::Antivirus {
            max_definitions_age_days,
        } => {
            let Some(products) = report.antivirus.value() else {
                return unknown(&report.antivirus, "antivirusprogrammet", "the antivirus");
            };
            let fresh = |at: Option<i64>| match (max_definitions_age_days, at) {
                (None, _) => true,
                (Some(days), Some(at)) => now - at <= i64::from(*days) * DAY,
                (Some(_), None) => false,
            };
            if products.iter().any(|p| p.real_time && fresh(p.definitions_at)) {
                return None;
            }
            let seen = list(products.iter().map(|p| {
                let age = p
                    .definitions_at
                    .map_or("definitions of unknown age".into(), |at| {
                        format!("definitions {} days old", (now - at) / DAY)
                    });
                format!("{} real-time {}, {age}", p.name, if p.real_time { "on" } else { "off" })
            }));
            let (nb_age, en_age) = match max_definitions_age_days {
                Some(days) => (
                    format!(" og virusdefinisjoner som er høyst {days} dager gamle"),
                    format!(" and definitions at most {days} days old"),
                ),
                None => (String::new(), String::new()),
            };
            Some((
                format!("antivirus: {seen}"),
                format!("Maskinen må ha et antivirusprogram med sanntidsbeskyttelse på{nb_age}. Installer eller oppdater det og slå på sanntidsbeskyttelsen, og koble til igjen."),
                format!("The computer needs an antivirus with real-time protection on{en_age}. Install or update it, turn real-time protection on, and connect again."),
            ))
        }
        Rule::Updates { max_pending_days } => {
            let Some(updates) = report.updates.value() else {
                return unknown(&report.updates, "om maskinen er oppdatert", "whether the computer is up to date");
            };
            let waited = updates.pending_since.map(|since| (now - since) / DAY);
            let too_long = updates.pending_security > 0
                && waited.is_none_or(|days| days > i64::from(*max_pending_days));
            if !too_long {
                return None;
            }
            Some((
                format!(
                    "updates: {} security updates pending{}",
                    updates.pending_security,
                    waited.map_or(String::new(), |d| format!(" for {d} days"))
                ),
                format!("Maskinen har sikkerhetsoppdateringer som har ventet i mer enn {max_pending_days} dager. Installer oppdateringene (og start maskinen på nytt om den ber om det), og koble til igjen."),
                format!("The computer has security updates waiting for more than {max_pending_days} days. Install them (and restart if asked), then connect again."),
            ))
        }
        Rule::DiskEncryption => match report.disk_encryption.value() {
            None => unknown(&report.disk_encryption, "om disken er kryptert", "whether the disk is encrypted"),
            Some(true) => None,
            Some(false) => Some((
                "disk encryption: off".into(),
                "Systemdisken er ikke kryptert. Slå på BitLocker (Windows), FileVault (Mac) eller diskkryptering (Linux), eller kontakt IT-ansvarlig.".into(),
                "The system disk is not encrypted. Turn on BitLocker (Windows), FileVault (Mac) or disk encryption (Linux), or contact your IT administrator.".into(),
            )),
        },
        Rule::SupportedOs { os: list_ } => {
            let Some(os) = report.os.value() else {
                return unknown(&report.os, "hvilket operativsystem maskinen har", "the operating system");
            };
            let supported = list_.iter().any(|s| {
                s.family == os.family
                    && s.min_version.as_deref().is_none_or(|min| version_at_least(&os.version, min))
                    && s.end_of_support.is_none_or(|end| now < end)
            });
            if supported {
                return None;
            }
            Some((
                format!("os: {} {} ({})", os.family, os.version, os.name),
                format!("{} {} er ikke blant operativsystemene tjenesten støtter nå. Oppgrader maskinen, eller kontakt IT-ansvarlig.", os.name, os.version),
                format!("{} {} is not among the operating systems the service supports now. Upgrade the computer, or contact your IT administrator.", os.name, os.version),
            ))
        }
        Rule::ScreenLock { max_timeout_secs } => {
            let Some(lock) = report.screen_lock.value() else {
                return unknown(&report.screen_lock, "om skjermen låses", "whether the screen locks");
            };
            if lock.enabled && lock.timeout_secs.is_some_and(|t| t <= *max_timeout_secs) {
                return None;
            }
            Some((
                format!(
                    "screen lock: {}{}",
                    if lock.enabled { "on" } else { "off" },
                    lock.timeout_secs.map_or(String::new(), |t| format!(", after {t} s"))
                ),
                format!("Skjermen må låses av seg selv etter høyst {} minutter uten bruk. Endre det i innstillingene for skjerm og lås, og koble til igjen.", max_timeout_secs / 60),
                format!("The screen must lock by itself after at most {} minutes without use. Change it in the display and lock settings, and connect again.", max_timeout_secs / 60),
            ))
        }
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join("; ")
    }
}

/// Whether dotted version `have` is at least `min`, comparing number by number (missing parts
/// count as 0; anything after the numbers of a part is ignored).
pub fn version_at_least(have: &str, min: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split('.')
            .map(|p| {
                p.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    let (have, min) = (parts(have), parts(min));
    let len = have.len().max(min.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    for i in 0..len {
        match at(&have, i).cmp(&at(&min, i)) {
            std::cmp::Ordering::Greater => return true,
            std::cmp::Ordering::Less => return false,
            std::cmp::Ordering::Equal => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::report::{Antivirus, Firewall, OsFacts, ScreenLock, Updates};

    const NOW: i64 = 1_800_000_000;

    fn healthy() -> Report {
        Report {
            version: 1,
            taken_at: NOW,
            os: Fact::known(OsFacts {
                family: "windows".into(),
                name: "Windows 11 Pro".into(),
                version: "10.0.22631".into(),
                build: Some("22631.3296".into()),
                architecture: "x86_64".into(),
            }),
            firewall: Fact::known(vec![Firewall {
                name: "Windows Defender Firewall (Public)".into(),
                enabled: true,
            }]),
            antivirus: Fact::known(vec![Antivirus {
                name: "Microsoft Defender Antivirus".into(),
                real_time: true,
                definitions_at: Some(NOW - DAY),
            }]),
            updates: Fact::known(Updates {
                pending_security: 0,
                pending_since: None,
                last_success: Some(NOW - 2 * DAY),
                reboot_pending: false,
            }),
            disk_encryption: Fact::known(true),
            screen_lock: Fact::known(ScreenLock {
                enabled: true,
                timeout_secs: Some(300),
            }),
        }
    }

    fn every_rule(action: Action) -> Policy {
        Policy::of([
            (Rule::Firewall, action),
            (
                Rule::Antivirus {
                    max_definitions_age_days: Some(7),
                },
                action,
            ),
            (
                Rule::Updates {
                    max_pending_days: 14,
                },
                action,
            ),
            (Rule::DiskEncryption, action),
            (
                Rule::SupportedOs {
                    os: vec![SupportedOs {
                        family: "windows".into(),
                        min_version: Some("10.0.19045".into()),
                        end_of_support: None,
                    }],
                },
                action,
            ),
            (
                Rule::ScreenLock {
                    max_timeout_secs: 900,
                },
                action,
            ),
        ])
    }

    #[test]
    fn a_healthy_computer_passes_every_rule() {
        let verdict = evaluate(&every_rule(Action::Deny), &healthy(), NOW);
        assert_eq!(verdict, Verdict::default());
        assert!(verdict.admitted());
    }

    #[test]
    fn each_failure_is_named_with_what_it_saw_and_what_to_do() {
        type Spoil = fn(&mut Report);
        let cases: [(&str, Spoil, &str); 9] = [
            (
                "firewall",
                |r| {
                    r.firewall = Fact::known(vec![Firewall {
                        name: "nftables".into(),
                        enabled: false,
                    }])
                },
                "nftables off",
            ),
            (
                "firewall",
                |r| r.firewall = Fact::unknown("nft is not installed"),
                "unknown: nft is not installed",
            ),
            (
                "antivirus",
                |r| r.antivirus = Fact::known(vec![]),
                "antivirus: none",
            ),
            (
                "antivirus",
                |r| {
                    r.antivirus = Fact::known(vec![Antivirus {
                        name: "ClamAV".into(),
                        real_time: true,
                        definitions_at: Some(NOW - 30 * DAY),
                    }]);
                },
                "definitions 30 days old",
            ),
            (
                "updates",
                |r| {
                    r.updates = Fact::known(Updates {
                        pending_security: 3,
                        pending_since: Some(NOW - 20 * DAY),
                        last_success: None,
                        reboot_pending: false,
                    });
                },
                "3 security updates pending for 20 days",
            ),
            (
                "disk-encryption",
                |r| r.disk_encryption = Fact::known(false),
                "disk encryption: off",
            ),
            (
                "supported-os",
                |r| {
                    r.os = Fact::known(OsFacts {
                        family: "windows".into(),
                        name: "Windows 10 Pro".into(),
                        version: "10.0.19044".into(),
                        build: None,
                        architecture: "x86_64".into(),
                    });
                },
                "10.0.19044",
            ),
            (
                "supported-os",
                |r| {
                    r.os = Fact::known(OsFacts {
                        family: "linux".into(),
                        name: "Debian GNU/Linux".into(),
                        version: "12".into(),
                        build: None,
                        architecture: "x86_64".into(),
                    });
                },
                "linux 12",
            ),
            (
                "screen-lock",
                |r| {
                    r.screen_lock = Fact::known(ScreenLock {
                        enabled: true,
                        timeout_secs: Some(3_600),
                    })
                },
                "after 3600 s",
            ),
        ];
        for (rule, spoil, seen) in cases {
            let mut report = healthy();
            spoil(&mut report);
            let verdict = evaluate(&every_rule(Action::Deny), &report, NOW);
            assert!(!verdict.admitted(), "{rule}");
            assert_eq!(verdict.denied.len(), 1, "{rule}: {verdict:?}");
            let failed = &verdict.denied[0];
            assert_eq!(failed.rule, rule);
            assert!(failed.seen.contains(seen), "{rule}: {}", failed.seen);
            assert!(!failed.nb.is_empty() && !failed.en.is_empty());
            // The same rule as `warn` lets the login in and says the same.
            let warned = evaluate(&every_rule(Action::Warn), &report, NOW);
            assert!(warned.admitted());
            assert_eq!(warned.warned[0].nb, failed.nb);
        }
    }

    #[test]
    fn an_operating_system_past_its_end_of_support_is_refused() {
        let policy = Policy::of([(
            Rule::SupportedOs {
                os: vec![SupportedOs {
                    family: "windows".into(),
                    min_version: Some("10.0".into()),
                    end_of_support: Some(NOW - DAY),
                }],
            },
            Action::Deny,
        )]);
        assert!(!evaluate(&policy, &healthy(), NOW).admitted());
        assert!(evaluate(&policy, &healthy(), NOW - 2 * DAY).admitted());
    }

    #[test]
    fn the_published_policy_reads_back_as_it_was() {
        let policy = every_rule(Action::Warn);
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(
            json["rules"][0],
            serde_json::json!({"check": "firewall", "action": "warn"})
        );
        assert_eq!(json["rules"][4]["os"][0]["family"], "windows");
        let back: Policy = serde_json::from_value(json).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn versions_compare_number_by_number() {
        for (have, min, at_least) in [
            ("10.0.22631", "10.0.19045", true),
            ("10.0.19044", "10.0.19045", false),
            ("14.4", "14", true),
            ("13.6.1", "14", false),
            ("12", "12.0", true),
            ("6.1.0-18-amd64", "6.1", true),
            ("", "1", false),
        ] {
            assert_eq!(version_at_least(have, min), at_least, "{have} >= {min}");
        }
    }
}
