//! The authentication rules: given a certificate's facts, its level and a time, may it be
//! used to log in? The verdict lists *every* reason it may not, in a fixed order, so a person
//! sees at once all that is wrong with a card; warnings say what will soon be wrong.
//!
//! Rules, in the order their reasons are listed:
//! 1. a CA certificate is not a personal certificate (and is judged no further);
//! 2. it must be valid at the time: not before `not_before`, not after `not_after`;
//! 3. its level must meet the required one (default `person-high`);
//! 4. a key usage extension must include digitalSignature;
//! 5. an extended key usage extension, when present, must include clientAuth
//!    (`anyExtendedKeyUsage` alone is not enough, as in rustls-webpki);
//! 6. it must carry a Norwegian personal identifier, which binds it to the user;
//! 7. with a chain check: the reasons from [`super::chain`] (untrusted, revoked, ...).
//!
//! Warnings: expiry within `expiry_warning_days` (default 60), a test certificate accepted in a
//! test environment, a level rule not confirmed, revocation not checked, unreadable extensions.

use super::chain::{ChainOutcome, ChainProblem};
use super::level::{Classification, Level, LevelRule};
use super::parse::CertFacts;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// What the operator requires of an authentication certificate. Part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthPolicy {
    /// The lowest acceptable level.
    pub required_level: Level,
    /// This is a test environment: test certificates are judged by their policy as if they
    /// were production. Never set this in production.
    pub test_environment: bool,
    /// Warn when the certificate expires within this many days.
    pub expiry_warning_days: u32,
    /// Level rules added to (and tried before) the built-in table.
    pub extra_levels: Vec<LevelRule>,
    /// Issuer name fragments (ignoring case) that mark a test CA, besides the word `TEST`.
    pub test_issuers: Vec<String>,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            required_level: Level::PersonHigh,
            test_environment: false,
            expiry_warning_days: 60,
            extra_levels: Vec::new(),
            test_issuers: Vec::new(),
        }
    }
}

/// Why a certificate cannot be used to log in. Each has the facts needed to say it to a
/// person (see `cli::cert_words`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Reason {
    /// A CA certificate (basicConstraints CA=true), not a person's.
    NotAPersonalCertificate,
    /// Not valid yet.
    NotYetValid {
        /// When it becomes valid.
        #[serde(with = "time::serde::rfc3339")]
        not_before: OffsetDateTime,
    },
    /// Expired.
    Expired {
        /// When it expired.
        #[serde(with = "time::serde::rfc3339")]
        not_after: OffsetDateTime,
    },
    /// The level is not the required one (a test certificate outside a test environment has
    /// level `test`).
    LevelTooLow {
        /// The certificate's level.
        found: Level,
        /// The level required.
        required: Level,
    },
    /// Key usage present without digitalSignature: the key may not sign a login.
    KeyUsageWithoutDigitalSignature {
        /// The key usages it has.
        key_usage: Vec<String>,
    },
    /// Extended key usage present without clientAuth.
    ExtendedKeyUsageWithoutClientAuth {
        /// The extended key usages it has.
        extended_key_usage: Vec<String>,
    },
    /// No Norwegian personal identifier in the subject serialNumber.
    MissingPersonalId,
    /// The chain leads to none of the trust anchors.
    UnknownIssuer,
    /// The CRL lists the certificate as revoked.
    Revoked,
    /// No given CRL covers the certificate's issuer.
    RevocationUnknown,
    /// The CRL that covers it is past its nextUpdate.
    CrlExpired {
        /// The CRL's nextUpdate.
        #[serde(with = "time::serde::rfc3339")]
        next_update: OffsetDateTime,
    },
    /// The CRL is not signed by the issuer, or the issuer may not sign CRLs.
    CrlInvalid {
        /// What the verifier said.
        detail: String,
    },
    /// A CA certificate in the chain is expired or not yet valid.
    IssuerNotValid {
        /// What the verifier said.
        detail: String,
    },
    /// Any other chain failure (bad signature, unsupported algorithm, ...).
    ChainInvalid {
        /// What the verifier said.
        detail: String,
    },
}

/// Something to tell the user that does not stop the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Warning {
    /// Expires within the configured number of days.
    ExpiresSoon {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        not_after: OffsetDateTime,
        /// Whole days left.
        days_left: i64,
    },
    /// A test certificate, accepted because this is a test environment.
    TestCertificate,
    /// The level comes from a rule not confirmed (e.g. a Commfides G3 series).
    LevelUnconfirmed {
        /// The policy OID.
        policy: String,
    },
    /// Chain checked without CRLs: revocation unknown.
    RevocationNotChecked,
    /// Extensions that could not be read.
    UnreadableExtensions {
        /// `OID: what was wrong`, one per extension.
        extensions: Vec<String>,
    },
}

/// May this certificate be used to log in, and if not, why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// No reasons against it.
    pub usable: bool,
    /// The level it was judged at.
    pub level: Level,
    /// It comes from a test PKI.
    pub test_certificate: bool,
    /// Every reason it cannot be used, in rule order.
    pub reasons: Vec<Reason>,
    /// What to know even so.
    pub warnings: Vec<Warning>,
}

impl Verdict {
    fn push(&mut self, reason: Reason) {
        self.reasons.push(reason);
        self.usable = false;
    }

    /// Adds what the chain check found. Failures the rules above already reported (the
    /// certificate's own validity, a CA used as a personal certificate) are not repeated.
    pub fn add_chain(&mut self, outcome: &ChainOutcome, facts: &CertFacts, at: OffsetDateTime) {
        if facts.is_ca {
            return;
        }
        if !outcome.revocation_checked && outcome.problem.is_none() {
            self.warnings.push(Warning::RevocationNotChecked);
        }
        let Some(problem) = &outcome.problem else {
            return;
        };
        let reason = match problem {
            ChainProblem::UnknownIssuer => Reason::UnknownIssuer,
            ChainProblem::Revoked => Reason::Revoked,
            ChainProblem::RevocationUnknown => Reason::RevocationUnknown,
            ChainProblem::CrlExpired { next_update } => Reason::CrlExpired {
                next_update: *next_update,
            },
            ChainProblem::CrlInvalid { detail } => Reason::CrlInvalid {
                detail: detail.clone(),
            },
            ChainProblem::NotValidAtTime { detail } => {
                if !within_validity(facts, at) {
                    return; // the certificate itself: already a reason
                }
                Reason::IssuerNotValid {
                    detail: detail.clone(),
                }
            }
            ChainProblem::CaUsedAsEndEntity => return,
            ChainProblem::Invalid { detail } => Reason::ChainInvalid {
                detail: detail.clone(),
            },
        };
        self.push(reason);
    }
}

fn within_validity(facts: &CertFacts, at: OffsetDateTime) -> bool {
    facts.not_before <= at && at <= facts.not_after
}

/// Whole days from `at` to `not_after` (negative once expired).
pub fn days_left(not_after: OffsetDateTime, at: OffsetDateTime) -> i64 {
    (not_after - at).whole_days()
}

/// Applies the rules to a certificate at time `at`.
pub fn judge(
    facts: &CertFacts,
    class: &Classification,
    policy: &AuthPolicy,
    at: OffsetDateTime,
) -> Verdict {
    let mut v = Verdict {
        usable: true,
        level: class.level,
        test_certificate: class.test_certificate,
        reasons: Vec::new(),
        warnings: Vec::new(),
    };
    if facts.is_ca {
        v.push(Reason::NotAPersonalCertificate);
        return v;
    }
    if at < facts.not_before {
        v.push(Reason::NotYetValid {
            not_before: facts.not_before,
        });
    } else if at > facts.not_after {
        v.push(Reason::Expired {
            not_after: facts.not_after,
        });
    } else if facts.not_after - at <= Duration::days(i64::from(policy.expiry_warning_days)) {
        v.warnings.push(Warning::ExpiresSoon {
            not_after: facts.not_after,
            days_left: days_left(facts.not_after, at),
        });
    }
    if !class.level.satisfies(policy.required_level) {
        v.push(Reason::LevelTooLow {
            found: class.level,
            required: policy.required_level,
        });
    }
    if !facts.allows_digital_signature() {
        v.push(Reason::KeyUsageWithoutDigitalSignature {
            key_usage: facts.key_usage.clone().unwrap_or_default(),
        });
    }
    if !facts.allows_client_auth() {
        v.push(Reason::ExtendedKeyUsageWithoutClientAuth {
            extended_key_usage: facts.extended_key_usage.clone().unwrap_or_default(),
        });
    }
    if facts.personal_id.is_none() {
        v.push(Reason::MissingPersonalId);
    }
    if class.test_certificate && policy.test_environment {
        v.warnings.push(Warning::TestCertificate);
    }
    if let (Some(rule), Some(oid)) = (&class.rule, &class.policy) {
        if !rule.confirmed {
            v.warnings.push(Warning::LevelUnconfirmed {
                policy: oid.clone(),
            });
        }
    }
    if !facts.unreadable_extensions.is_empty() {
        v.warnings.push(Warning::UnreadableExtensions {
            extensions: facts.unreadable_extensions.clone(),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::level::classify;
    use crate::cert::parse::read;
    use crate::cert::testutil::Builder;
    use rcgen::{ExtendedKeyUsagePurpose as Eku, KeyUsagePurpose as Ku};
    use time::macros::datetime;

    const NB: OffsetDateTime = datetime!(2024-01-01 00:00 UTC);
    const NA: OffsetDateTime = datetime!(2027-01-01 00:00 UTC);

    fn verdict(b: Builder, policy: &AuthPolicy, at: OffsetDateTime) -> Verdict {
        let facts = read(&b.validity(NB, NA).build().der).unwrap();
        judge(&facts, &classify(&facts, policy), policy, at)
    }

    fn at(t: OffsetDateTime) -> Verdict {
        verdict(Builder::person(), &AuthPolicy::default(), t)
    }

    #[test]
    fn a_good_card_is_usable() {
        let v = at(datetime!(2025-06-01 12:00 UTC));
        assert!(v.usable);
        assert_eq!(v.level, Level::PersonHigh);
        assert_eq!(v.reasons, vec![]);
        assert_eq!(v.warnings, vec![]);
    }

    #[test]
    fn validity_edges_are_inclusive() {
        assert_eq!(
            at(NB - Duration::seconds(1)).reasons,
            vec![Reason::NotYetValid { not_before: NB }]
        );
        assert!(at(NB).usable);
        assert!(at(NA).usable);
        assert_eq!(
            at(NA + Duration::seconds(1)).reasons,
            vec![Reason::Expired { not_after: NA }]
        );
    }

    #[test]
    fn warns_sixty_days_before_expiry() {
        let just_outside = at(NA - Duration::days(60) - Duration::seconds(1));
        assert_eq!(just_outside.warnings, vec![]);
        let sixty = at(NA - Duration::days(60));
        assert!(sixty.usable);
        assert_eq!(
            sixty.warnings,
            vec![Warning::ExpiresSoon {
                not_after: NA,
                days_left: 60
            }]
        );
        let last_hours = at(NA - Duration::hours(5));
        assert_eq!(
            last_hours.warnings,
            vec![Warning::ExpiresSoon {
                not_after: NA,
                days_left: 0
            }]
        );
        let expired = at(NA + Duration::days(1));
        assert_eq!(expired.warnings, vec![]);

        let policy = AuthPolicy {
            expiry_warning_days: 10,
            ..AuthPolicy::default()
        };
        let v = verdict(Builder::person(), &policy, NA - Duration::days(11));
        assert_eq!(v.warnings, vec![]);
        let v = verdict(Builder::person(), &policy, NA - Duration::days(10));
        assert_eq!(v.warnings.len(), 1);
    }

    #[test]
    fn every_reason_is_listed_in_order() {
        let b = Builder::person()
            .policies(&["2.16.578.1.26.1.3.6"])
            .key_usage(vec![Ku::ContentCommitment])
            .eku(vec![Eku::EmailProtection])
            .serial_number(None);
        let v = verdict(b, &AuthPolicy::default(), NA + Duration::days(1));
        assert!(!v.usable);
        assert_eq!(
            v.reasons,
            vec![
                Reason::Expired { not_after: NA },
                Reason::LevelTooLow {
                    found: Level::PersonHighHsm,
                    required: Level::PersonHigh
                },
                Reason::KeyUsageWithoutDigitalSignature {
                    key_usage: vec!["nonRepudiation".into()]
                },
                Reason::ExtendedKeyUsageWithoutClientAuth {
                    extended_key_usage: vec!["emailProtection".into()]
                },
                Reason::MissingPersonalId,
            ]
        );
    }

    #[test]
    fn client_auth_eku_is_fine_any_eku_is_not() {
        let now = datetime!(2025-06-01 00:00 UTC);
        let ok = Builder::person().eku(vec![Eku::ClientAuth, Eku::EmailProtection]);
        assert!(verdict(ok, &AuthPolicy::default(), now).usable);
        let any = Builder::person().eku(vec![Eku::Any]);
        let v = verdict(any, &AuthPolicy::default(), now);
        assert_eq!(
            v.reasons,
            vec![Reason::ExtendedKeyUsageWithoutClientAuth {
                extended_key_usage: vec!["anyExtendedKeyUsage".into()]
            }]
        );
    }

    #[test]
    fn ca_certificates_are_not_personal() {
        let v = verdict(
            Builder::person().ca(),
            &AuthPolicy::default(),
            NA + Duration::days(9),
        );
        assert_eq!(v.reasons, vec![Reason::NotAPersonalCertificate]);
    }

    #[test]
    fn test_certificates() {
        let now = datetime!(2025-06-01 00:00 UTC);
        let b = || Builder::person().issuer_cn("hjemmekontor TEST Class 3 CA G2 HT Person");
        let v = verdict(b(), &AuthPolicy::default(), now);
        assert_eq!(
            v.reasons,
            vec![Reason::LevelTooLow {
                found: Level::Test,
                required: Level::PersonHigh
            }]
        );
        assert!(v.test_certificate);
        let test_env = AuthPolicy {
            test_environment: true,
            ..AuthPolicy::default()
        };
        let v = verdict(b(), &test_env, now);
        assert!(v.usable);
        assert_eq!(v.level, Level::PersonHigh);
        assert_eq!(v.warnings, vec![Warning::TestCertificate]);
    }

    #[test]
    fn unconfirmed_levels_warn() {
        let now = datetime!(2025-06-01 00:00 UTC);
        let b = Builder::person().policies(&["2.16.578.1.29.12.210.1.0"]);
        let v = verdict(b, &AuthPolicy::default(), now);
        assert!(v.usable);
        assert_eq!(
            v.warnings,
            vec![Warning::LevelUnconfirmed {
                policy: "2.16.578.1.29.12.210.1.0".into()
            }]
        );
    }

    #[test]
    fn reasons_serialise_with_codes() {
        let r = Reason::Expired { not_after: NA };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"code": "expired", "not_after": "2027-01-01T00:00:00Z"})
        );
        let r = Reason::LevelTooLow {
            found: Level::Test,
            required: Level::PersonHigh,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"code": "level-too-low", "found": "test", "required": "person-high"})
        );
    }
}
