//! Certificate verdicts in words: every [`Reason`] and [`Warning`] from the certificate core
//! as one sentence in the run's language and, where there is one, what to do. The one place
//! these sentences live, so `cert inspect`, `card` and `connect` say the same thing.

use super::failure::{exit, Failure};
use super::output::date;
use crate::cert::{CertError, CertFacts, Level, Reason, Warning};
use crate::i18n::catalogue::cert as m;
use serde::Serialize;

/// A sentence for a person: what is so, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sentence {
    /// What is so.
    pub message: String,
    /// What to do, when we know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn say(message: impl Into<String>, fix: Option<String>) -> Sentence {
    Sentence {
        message: message.into(),
        fix,
    }
}

/// Who to order a new card from, as the rest of a sentence.
fn order_new(facts: &CertFacts) -> String {
    match facts.provider() {
        Some(p) => m::ORDER_NEW_FROM.with(&[("provider", &p)]),
        None => m::ORDER_NEW.text(),
    }
}

/// The level in words, e.g. "Person-High (nivå høyt), nøkkel på smartkort".
pub fn level_words(level: Level) -> &'static str {
    match level {
        Level::PersonHigh => m::LEVEL_PERSON_HIGH,
        Level::PersonHighHsm => m::LEVEL_PERSON_HIGH_HSM,
        Level::Enterprise => m::LEVEL_ENTERPRISE,
        Level::Test => m::LEVEL_TEST,
        Level::Unknown => m::LEVEL_UNKNOWN,
    }
    .as_str()
}

/// Why a certificate cannot be used, in words.
pub fn reason(reason: &Reason, facts: &CertFacts) -> Sentence {
    let fix = |msg: crate::i18n::Msg| Some(msg.text());
    match reason {
        Reason::NotAPersonalCertificate => say(
            m::NOT_PERSONAL.text(),
            fix(m::USE_AUTHENTICATION_CERTIFICATE),
        ),
        Reason::NotYetValid { not_before } => say(
            m::NOT_YET_VALID.with(&[("date", &date(*not_before))]),
            fix(m::NOT_YET_VALID_FIX),
        ),
        Reason::Expired { not_after } => say(
            m::EXPIRED.with(&[("date", &date(*not_after))]),
            Some(order_new(facts)),
        ),
        Reason::LevelTooLow { found, required } => level_too_low(*found, *required),
        Reason::KeyUsageWithoutDigitalSignature { key_usage } => say(
            m::NO_DIGITAL_SIGNATURE.with(&[("usage", &list_or_none(key_usage))]),
            fix(m::NO_DIGITAL_SIGNATURE_FIX),
        ),
        Reason::ExtendedKeyUsageWithoutClientAuth { extended_key_usage } => say(
            m::NO_CLIENT_AUTH.with(&[("usage", &list_or_none(extended_key_usage))]),
            fix(m::USE_AUTHENTICATION_CERTIFICATE),
        ),
        Reason::MissingPersonalId => say(m::MISSING_PERSONAL_ID.text(), fix(m::USE_HIGH_CARD)),
        Reason::UnknownIssuer => say(m::UNKNOWN_ISSUER.text(), fix(m::UNKNOWN_ISSUER_FIX)),
        Reason::Revoked => say(m::REVOKED.text(), Some(order_new(facts))),
        Reason::RevocationUnknown => {
            say(m::REVOCATION_UNKNOWN.text(), fix(m::REVOCATION_UNKNOWN_FIX))
        }
        Reason::CrlExpired { next_update } => say(
            m::CRL_EXPIRED.with(&[("date", &date(*next_update))]),
            fix(m::CRL_EXPIRED_FIX),
        ),
        Reason::CrlInvalid { detail } => say(
            m::CRL_INVALID.with(&[("detail", detail)]),
            fix(m::CRL_INVALID_FIX),
        ),
        Reason::IssuerNotValid { detail } => say(
            m::ISSUER_NOT_VALID.with(&[("detail", detail)]),
            fix(m::ISSUER_NOT_VALID_FIX),
        ),
        Reason::ChainInvalid { detail } => say(
            m::CHAIN_INVALID.with(&[("detail", detail)]),
            fix(m::CHAIN_INVALID_FIX),
        ),
    }
}

fn level_too_low(found: Level, required: Level) -> Sentence {
    if required != Level::PersonHigh {
        return say(
            m::LEVEL_TOO_LOW.with(&[
                ("found", &found),
                ("words", &level_words(found)),
                ("required", &required),
            ]),
            None,
        );
    }
    match found {
        Level::Test => say(m::TEST_REFUSED.text(), Some(m::TEST_REFUSED_FIX.text())),
        Level::PersonHighHsm => say(m::HSM_NOT_HIGH.text(), Some(m::USE_HIGH_CARD.text())),
        Level::Enterprise => say(m::ENTERPRISE_NOT_HIGH.text(), Some(m::USE_HIGH_CARD.text())),
        _ => say(m::POLICY_NOT_HIGH.text(), Some(m::USE_HIGH_CARD.text())),
    }
}

/// What to know about a usable (or unusable) certificate, in words.
pub fn warning(warning: &Warning, facts: &CertFacts) -> Sentence {
    match warning {
        Warning::ExpiresSoon {
            not_after,
            days_left,
        } => {
            let when = match days_left {
                0 => m::WITHIN_A_DAY.text(),
                1 => m::IN_ONE_DAY.text(),
                n => m::IN_DAYS.with(&[("n", n)]),
            };
            say(
                m::EXPIRES_SOON.with(&[("date", &date(*not_after)), ("when", &when)]),
                Some(m::IN_GOOD_TIME.with(&[("order", &order_new(facts))])),
            )
        }
        Warning::TestCertificate => say(m::TEST_ACCEPTED.text(), None),
        Warning::LevelUnconfirmed { policy } => say(
            m::LEVEL_UNCONFIRMED.with(&[("policy", policy)]),
            Some(m::LEVEL_UNCONFIRMED_FIX.text()),
        ),
        Warning::RevocationNotChecked => say(
            m::REVOCATION_NOT_CHECKED.text(),
            Some(m::REVOCATION_NOT_CHECKED_FIX.text()),
        ),
        Warning::UnreadableExtensions { extensions } => say(
            m::UNREADABLE_EXTENSIONS.with(&[("extensions", &extensions.join("; "))]),
            None,
        ),
    }
}

/// A certificate (or trust anchor, or CRL) that could not be read, as a [`Failure`].
/// `what` names where it came from, e.g. a file name or "kortet".
pub fn cert_error(err: &CertError, what: &str) -> Failure {
    match err {
        CertError::Empty => Failure::new(
            "no-certificate",
            exit::USAGE,
            m::NO_CERTIFICATE.with(&[("what", &what)]),
        )
        .fix(m::NO_CERTIFICATE_FIX.text()),
        CertError::BadPem { detail } => Failure::new(
            "bad-certificate",
            exit::USAGE,
            m::BAD_PEM.with(&[("what", &what), ("detail", detail)]),
        )
        .fix(m::BAD_PEM_FIX.text()),
        CertError::NotACertificate { detail } => Failure::new(
            "bad-certificate",
            exit::CARD_UNUSABLE,
            m::NOT_X509.with(&[("what", &what), ("detail", detail)]),
        ),
        CertError::BadTrustAnchor { index, detail } => Failure::new(
            "bad-trust-anchor",
            exit::USAGE,
            m::BAD_TRUST_ANCHOR.with(&[("index", index), ("detail", detail)]),
        )
        .fix(m::BAD_TRUST_ANCHOR_FIX.text()),
        CertError::BadCrl { index, detail } => Failure::new(
            "bad-crl",
            exit::USAGE,
            m::BAD_CRL.with(&[("index", index), ("detail", detail)]),
        )
        .fix(m::BAD_CRL_FIX.text()),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        m::EMPTY.text()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::testutil::Builder;
    use time::macros::datetime;

    fn facts() -> CertFacts {
        crate::cert::parse::read(&Builder::person().build().der).unwrap()
    }

    #[test]
    fn expired_says_date_and_provider() {
        let s = reason(
            &Reason::Expired {
                not_after: datetime!(2025-05-25 21:59 UTC),
            },
            &facts(),
        );
        assert_eq!(s.message, "Sertifikatet ditt utløp 25.05.2025.");
        assert_eq!(s.fix.as_deref(), Some("Bestill nytt kort fra Buypass."));
    }

    #[test]
    fn every_reason_has_words() {
        let t = datetime!(2025-01-01 00:00 UTC);
        let all = [
            Reason::NotAPersonalCertificate,
            Reason::NotYetValid { not_before: t },
            Reason::Expired { not_after: t },
            Reason::LevelTooLow {
                found: Level::Unknown,
                required: Level::PersonHigh,
            },
            Reason::KeyUsageWithoutDigitalSignature {
                key_usage: vec!["nonRepudiation".into()],
            },
            Reason::ExtendedKeyUsageWithoutClientAuth {
                extended_key_usage: vec![],
            },
            Reason::MissingPersonalId,
            Reason::UnknownIssuer,
            Reason::Revoked,
            Reason::RevocationUnknown,
            Reason::CrlExpired { next_update: t },
            Reason::CrlInvalid { detail: "x".into() },
            Reason::IssuerNotValid { detail: "x".into() },
            Reason::ChainInvalid { detail: "x".into() },
        ];
        let f = facts();
        for r in &all {
            let s = reason(r, &f);
            assert!(s.message.ends_with('.'), "{r:?}: {}", s.message);
        }
        let ku = reason(&all[4], &f);
        assert!(ku
            .message
            .starts_with("Sertifikatet kan ikke brukes til innlogging (mangler digitalSignature"));
    }

    #[test]
    fn levels_in_words() {
        for found in [
            Level::Test,
            Level::PersonHighHsm,
            Level::Enterprise,
            Level::Unknown,
        ] {
            let s = level_too_low(found, Level::PersonHigh);
            assert!(
                s.message.contains("testsertifikat")
                    || s.message
                        .starts_with("Sertifikatet er ikke på nivå høyt (Person-High)"),
                "{}",
                s.message
            );
        }
    }

    #[test]
    fn reasons_are_worded_in_english_too() {
        use crate::i18n::{with_lang, Lang};
        let s = with_lang(Lang::En, || {
            reason(
                &Reason::Expired {
                    not_after: datetime!(2025-05-25 21:59 UTC),
                },
                &facts(),
            )
        });
        assert_eq!(s.message, "Your certificate expired on 2025-05-25.");
        assert_eq!(s.fix.as_deref(), Some("Order a new card from Buypass."));
        let w = with_lang(Lang::En, || {
            warning(
                &Warning::ExpiresSoon {
                    not_after: datetime!(2025-05-25 21:59 UTC),
                    days_left: 1,
                },
                &facts(),
            )
        });
        assert_eq!(
            w.message,
            "Your certificate expires on 2025-05-25 (in 1 day)."
        );
    }

    #[test]
    fn expiry_warning_counts_days() {
        let w = Warning::ExpiresSoon {
            not_after: datetime!(2025-05-25 21:59 UTC),
            days_left: 12,
        };
        assert_eq!(
            warning(&w, &facts()).message,
            "Sertifikatet ditt utløper 25.05.2025 (om 12 dager)."
        );
    }
}
