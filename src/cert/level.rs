//! Certificate levels: which kind of certificate this is, from its issuer and policy OID.
//!
//! The table is data: [`built_in`] holds the known Buypass and Commfides policies, and the
//! configuration can add [`LevelRule`]s (they are tried first, so they can also correct a
//! built-in entry). Test certificates are recognised by their issuer (see the module
//! documentation of [`crate::cert`]) and get level [`Level::Test`] unless the policy says this
//! is a test environment, in which case they are judged by policy OID as if production.
//!
//! | policy OID | level | what |
//! |---|---|---|
//! | `2.16.578.1.26.1.3.1` | person-high | Buypass Person-High, key on a smartcard (SEID 1 and 2) |
//! | `2.16.578.1.26.1.3.6` | person-high-hsm | Buypass Person-High, key in an HSM: not a card |
//! | `2.16.578.1.26.1.3.5` | enterprise | Buypass Business, smartcard |
//! | `2.16.578.1.26.1.3.2` | enterprise | Buypass Business, soft certificate |
//! | `2.16.578.1.29.12.1.1.0`, `.1.1.1` | person-high | Commfides CPN Person High (SEID 1) |
//! | `2.16.578.1.29.12.{110,210,310,410,510}.1.0` | person-high, *unconfirmed* | Commfides Natural Person G3 authentication series (SEID 2) |
//!
//! Commfides does not publish which G3 series keep the key on a smartcard, so those entries
//! are marked unconfirmed: they pass, with a warning, until configuration confirms or
//! corrects them.

use super::parse::CertFacts;
use super::verdict::AuthPolicy;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a certificate, as far as logging in from home is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Person-High ("høyt") with the key on a smartcard: what home office requires.
    PersonHigh,
    /// Person-High with the key in the CA's HSM: strong, but not a card the user holds.
    PersonHighHsm,
    /// An enterprise (virksomhet) certificate: names an organisation, not a person.
    Enterprise,
    /// A certificate from a test PKI.
    Test,
    /// No rule matched its policies.
    Unknown,
}

impl Level {
    /// The stable name used in JSON and configuration, e.g. `person-high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::PersonHigh => "person-high",
            Level::PersonHighHsm => "person-high-hsm",
            Level::Enterprise => "enterprise",
            Level::Test => "test",
            Level::Unknown => "unknown",
        }
    }

    /// Whether a certificate of this level meets `required`: the same level, or a stronger
    /// one of the same family (a smartcard Person-High meets a Person-High-HSM requirement).
    pub fn satisfies(self, required: Level) -> bool {
        self == required || (self == Level::PersonHigh && required == Level::PersonHighHsm)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Level::PersonHigh,
            Level::PersonHighHsm,
            Level::Enterprise,
            Level::Test,
            Level::Unknown,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
        .ok_or_else(|| format!("unknown level `{s}`"))
    }
}

/// One row of the level table: a policy OID (optionally with an issuer condition) and the
/// level it gives. Loadable from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelRule {
    /// The policy OID, dotted. A trailing `.*` matches everything under the arc.
    pub policy: String,
    /// If set, the issuer name must contain this text (ignoring case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_contains: Option<String>,
    /// The level a matching certificate has.
    pub level: Level,
    /// Whether it is known that this level holds (key on a card, etc.). Unconfirmed rules
    /// give a warning.
    #[serde(default = "yes")]
    pub confirmed: bool,
    /// What the rule is about, for people.
    #[serde(default)]
    pub note: String,
}

fn yes() -> bool {
    true
}

impl LevelRule {
    fn new(policy: &str, level: Level, confirmed: bool, note: &str) -> Self {
        LevelRule {
            policy: policy.to_string(),
            issuer_contains: None,
            level,
            confirmed,
            note: note.to_string(),
        }
    }

    fn matches(&self, policy: &str, issuer: &str) -> bool {
        let policy_ok = match self.policy.strip_suffix(".*") {
            Some(arc) => under_arc(policy, arc),
            None => self.policy == policy,
        };
        policy_ok
            && self
                .issuer_contains
                .as_ref()
                .is_none_or(|needle| contains_ignoring_case(issuer, needle))
    }
}

/// The built-in level table: known Buypass and Commfides person and enterprise policies.
pub fn built_in() -> Vec<LevelRule> {
    use Level::*;
    let mut rules = vec![
        LevelRule::new(
            "2.16.578.1.26.1.3.1",
            PersonHigh,
            true,
            "Buypass Person-High, key on a smartcard",
        ),
        LevelRule::new(
            "2.16.578.1.26.1.3.6",
            PersonHighHsm,
            true,
            "Buypass Person-High, key in an HSM (not a smartcard)",
        ),
        LevelRule::new(
            "2.16.578.1.26.1.3.5",
            Enterprise,
            true,
            "Buypass Business, smartcard",
        ),
        LevelRule::new(
            "2.16.578.1.26.1.3.2",
            Enterprise,
            true,
            "Buypass Business, soft certificate",
        ),
        LevelRule::new(
            "2.16.578.1.29.12.1.1.0",
            PersonHigh,
            true,
            "Commfides CPN Person High (SEID 1)",
        ),
        LevelRule::new(
            "2.16.578.1.29.12.1.1.1",
            PersonHigh,
            true,
            "Commfides CPN Person High (SEID 1)",
        ),
    ];
    for series in 1..=5 {
        rules.push(LevelRule::new(
            &format!("2.16.578.1.29.12.{series}10.1.0"),
            PersonHigh,
            false,
            "Commfides Natural Person G3 authentication (SEID 2); whether this series is on a smartcard is not public",
        ));
    }
    rules
}

/// Policy arcs that only test PKIs use, and the production arc they mirror. The mirroring is
/// inferred from the published OIDs (Commfides `29.912` ↔ `29.12`, Buypass `26.1.0.x` ↔
/// `26.1.x`), not confirmed by the CAs.
const TEST_ARCS: [(&str, &str); 2] = [
    ("2.16.578.1.26.1.0", "2.16.578.1.26.1"),
    ("2.16.578.1.29.912", "2.16.578.1.29.12"),
];

/// The outcome of looking a certificate up in the level table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The level to judge by: [`Level::Test`] for a test certificate outside a test
    /// environment, otherwise the level its policy gives.
    pub level: Level,
    /// The level its policy OID gives as if it were production (before the test rule).
    pub policy_level: Level,
    /// It comes from a test PKI.
    pub test_certificate: bool,
    /// Why it counts as a test certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_because: Option<String>,
    /// The policy OID (as written in the certificate) that decided the level.
    pub policy: Option<String>,
    /// The table rule that matched.
    pub rule: Option<LevelRule>,
}

/// Looks the certificate up: configured rules first, then the built-in ones; the first of the
/// certificate's policies (in its order) that any rule matches decides.
pub fn classify(facts: &CertFacts, policy: &AuthPolicy) -> Classification {
    let issuer = facts.issuer.as_str();
    let test_because = test_marker(facts, policy);
    let table: Vec<LevelRule> = policy
        .extra_levels
        .iter()
        .cloned()
        .chain(built_in())
        .collect();

    let mut found: Option<(String, LevelRule)> = None;
    'policies: for oid in &facts.policies {
        let mut candidates = vec![oid.clone()];
        if test_because.is_some() {
            if let Some(mirrored) = production_mirror(oid) {
                candidates.push(mirrored);
            }
        }
        for candidate in &candidates {
            if let Some(rule) = table.iter().find(|r| r.matches(candidate, issuer)) {
                found = Some((oid.clone(), rule.clone()));
                break 'policies;
            }
        }
    }
    let policy_level = found.as_ref().map_or(Level::Unknown, |(_, r)| r.level);
    let test_certificate = test_because.is_some();
    let level = if test_certificate && !policy.test_environment {
        Level::Test
    } else {
        policy_level
    };
    let (policy_oid, rule) = match found {
        Some((oid, rule)) => (Some(oid), Some(rule)),
        None => (None, None),
    };
    Classification {
        level,
        policy_level,
        test_certificate,
        test_because,
        policy: policy_oid,
        rule,
    }
}

/// Says why a certificate counts as a test certificate, or `None`.
fn test_marker(facts: &CertFacts, policy: &AuthPolicy) -> Option<String> {
    let cn = facts.issuer_common_name.as_deref().unwrap_or("");
    let has_test_word = cn.split(|c: char| !c.is_alphanumeric()).any(is_test_word);
    if has_test_word {
        return Some(format!("issuer `{cn}` is a test CA"));
    }
    if let Some(needle) = policy
        .test_issuers
        .iter()
        .find(|n| contains_ignoring_case(&facts.issuer, n))
    {
        return Some(format!("issuer matches configured test issuer `{needle}`"));
    }
    facts.policies.iter().find_map(|oid| {
        TEST_ARCS
            .iter()
            .find(|(arc, _)| under_arc(oid, arc))
            .map(|(arc, _)| format!("policy {oid} lies under the test arc {arc}"))
    })
}

/// `TEST`, `test`, `Test4`: the word test, possibly followed by digits.
fn is_test_word(word: &str) -> bool {
    word.len() >= 4
        && word.is_char_boundary(4)
        && word[..4].eq_ignore_ascii_case("test")
        && word[4..].bytes().all(|b| b.is_ascii_digit())
}

fn production_mirror(oid: &str) -> Option<String> {
    TEST_ARCS.iter().find_map(|(test, prod)| {
        oid.strip_prefix(test)
            .filter(|rest| rest.starts_with('.'))
            .map(|rest| format!("{prod}{rest}"))
    })
}

/// `oid` is `arc` or lies under it (arc-aware: `1.2.3` is not under `1.2.30`).
fn under_arc(oid: &str, arc: &str) -> bool {
    oid == arc
        || oid
            .strip_prefix(arc)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::testutil::Builder;

    fn classify_with(issuer: &str, policies: &[&str], policy: &AuthPolicy) -> Classification {
        let c = Builder::person()
            .issuer_cn(issuer)
            .policies(policies)
            .build();
        let facts = crate::cert::parse::read(&c.der).unwrap();
        classify(&facts, policy)
    }

    const PROD: &str = "Buypass Class 3 CA G2 HT Person";

    #[test]
    fn known_policies() {
        let p = AuthPolicy::default();
        let cases: &[(&[&str], Level)] = &[
            (
                &["2.16.578.1.26.1.3.1", "0.4.0.2042.1.2"],
                Level::PersonHigh,
            ),
            (
                &["0.4.0.2042.1.2", "2.16.578.1.26.1.3.1"],
                Level::PersonHigh,
            ),
            (&["2.16.578.1.26.1.3.6"], Level::PersonHighHsm),
            (&["2.16.578.1.26.1.3.5"], Level::Enterprise),
            (&["2.16.578.1.26.1.3.2"], Level::Enterprise),
            (&["2.16.578.1.29.12.1.1.0"], Level::PersonHigh),
            (&["2.16.578.1.29.12.310.1.0"], Level::PersonHigh),
            (&["2.16.578.1.29.12.300.1.0"], Level::Unknown),
            (&["2.16.578.1.26.1.3.10"], Level::Unknown),
            (&["2.5.29.32.0"], Level::Unknown),
            (&[], Level::Unknown),
        ];
        for (policies, level) in cases {
            let c = classify_with(PROD, policies, &p);
            assert_eq!(c.level, *level, "{policies:?}");
            assert!(!c.test_certificate);
        }
        let g3 = classify_with(PROD, &["2.16.578.1.29.12.310.1.0"], &p);
        assert!(!g3.rule.unwrap().confirmed);
    }

    #[test]
    fn test_issuers_give_level_test_unless_test_environment() {
        let prod = AuthPolicy::default();
        let test_env = AuthPolicy {
            test_environment: true,
            ..AuthPolicy::default()
        };
        for issuer in [
            "hjemmekontor TEST Class 3 CA G2 HT Person",
            "Buypass Class 3 Test4 CA G2 HT Person",
            "test ca",
        ] {
            let c = classify_with(issuer, &["2.16.578.1.26.1.3.1"], &prod);
            assert_eq!(c.level, Level::Test, "{issuer}");
            assert_eq!(c.policy_level, Level::PersonHigh);
            assert!(c.test_certificate);
            let c = classify_with(issuer, &["2.16.578.1.26.1.3.1"], &test_env);
            assert_eq!(c.level, Level::PersonHigh, "{issuer}");
            assert!(c.test_certificate);
        }
        // Words merely containing "test" are not test markers.
        for issuer in ["Contest CA", "Testamentary CA", "Attest Person CA"] {
            let c = classify_with(issuer, &["2.16.578.1.26.1.3.1"], &prod);
            assert!(!c.test_certificate, "{issuer}");
        }
    }

    #[test]
    fn test_arcs_mirror_production() {
        let test_env = AuthPolicy {
            test_environment: true,
            ..AuthPolicy::default()
        };
        let c = classify_with("Commfides CA", &["2.16.578.1.29.912.1.1.0"], &test_env);
        assert!(c.test_certificate);
        assert_eq!(c.level, Level::PersonHigh);
        assert_eq!(c.policy.as_deref(), Some("2.16.578.1.29.912.1.1.0"));
        let c = classify_with("Buypass CA", &["2.16.578.1.26.1.0"], &test_env);
        assert!(c.test_certificate);
        assert_eq!(c.level, Level::Unknown);
        let c = classify_with("Buypass CA", &["2.16.578.1.26.1.0"], &AuthPolicy::default());
        assert_eq!(c.level, Level::Test);
    }

    #[test]
    fn configuration_extends_and_overrides() {
        let json = r#"{
            "extra_levels": [
                {"policy": "2.16.578.1.29.12.310.1.0", "level": "unknown", "note": "soft"},
                {"policy": "1.2.3.*", "issuer_contains": "example", "level": "person-high"}
            ],
            "test_issuers": ["Staging CA"]
        }"#;
        let p: AuthPolicy = serde_json::from_str(json).unwrap();
        assert_eq!(
            classify_with(PROD, &["2.16.578.1.29.12.310.1.0"], &p).level,
            Level::Unknown
        );
        assert_eq!(
            classify_with("Example CA", &["1.2.3.4.5"], &p).level,
            Level::PersonHigh
        );
        assert_eq!(
            classify_with("Other CA", &["1.2.3.4.5"], &p).level,
            Level::Unknown
        );
        assert_eq!(
            classify_with("Other CA", &["1.2.30"], &p).level,
            Level::Unknown
        );
        let c = classify_with("My Staging CA 2", &["2.16.578.1.26.1.3.1"], &p);
        assert_eq!(c.level, Level::Test);

        let bad = r#"{"extra_levels": [{"policy": "1.2", "level": "super-high"}]}"#;
        assert!(serde_json::from_str::<AuthPolicy>(bad).is_err());
    }

    #[test]
    fn level_order() {
        assert!(Level::PersonHigh.satisfies(Level::PersonHigh));
        assert!(Level::PersonHigh.satisfies(Level::PersonHighHsm));
        assert!(!Level::PersonHighHsm.satisfies(Level::PersonHigh));
        assert!(!Level::Enterprise.satisfies(Level::PersonHigh));
        assert!(!Level::Test.satisfies(Level::PersonHigh));
        assert_eq!("person-high-hsm".parse::<Level>(), Ok(Level::PersonHighHsm));
        assert!("høyt".parse::<Level>().is_err());
    }
}
