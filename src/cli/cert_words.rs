//! Certificate verdicts in words: every [`Reason`] and [`Warning`] from the certificate core
//! as one Norwegian sentence and, where there is one, what to do. The one place these
//! sentences live, so `cert inspect`, `card` and `connect` say the same thing.

use super::failure::{exit, Failure};
use super::output::norwegian_date;
use crate::cert::{CertError, CertFacts, Level, Reason, Warning};
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
        Some(p) => format!("Bestill nytt kort fra {p}."),
        None => "Bestill nytt kort fra utstederen av kortet ditt.".to_string(),
    }
}

const USE_HIGH_CARD: &str =
    "Bruk et smartkort med personlig sertifikat på nivå høyt (Person-High), for eksempel Buypass ID på smartkort.";

/// The level in words, e.g. "Person-High, nøkkel på smartkort".
pub fn level_words(level: Level) -> &'static str {
    match level {
        Level::PersonHigh => "Person-High (nivå høyt), nøkkel på smartkort",
        Level::PersonHighHsm => "Person-High, nøkkel hos utstederen (HSM), ikke på smartkort",
        Level::Enterprise => "virksomhetssertifikat",
        Level::Test => "testsertifikat",
        Level::Unknown => "ukjent nivå",
    }
}

/// Why a certificate cannot be used, in words.
pub fn reason(reason: &Reason, facts: &CertFacts) -> Sentence {
    match reason {
        Reason::NotAPersonalCertificate => say(
            "Dette er et CA-sertifikat (et utstedersertifikat), ikke et personlig sertifikat.",
            Some("Bruk autentiseringssertifikatet på kortet ditt.".into()),
        ),
        Reason::NotYetValid { not_before } => say(
            format!(
                "Sertifikatet ditt er ikke gyldig før {}.",
                norwegian_date(*not_before)
            ),
            Some("Vent til da, eller kontroller at klokken på maskinen går riktig.".into()),
        ),
        Reason::Expired { not_after } => say(
            format!("Sertifikatet ditt utløp {}.", norwegian_date(*not_after)),
            Some(order_new(facts)),
        ),
        Reason::LevelTooLow { found, required } => level_too_low(*found, *required),
        Reason::KeyUsageWithoutDigitalSignature { key_usage } => say(
            format!(
                "Sertifikatet kan ikke brukes til innlogging (mangler digitalSignature; nøkkelbruken er {}).",
                list_or_none(key_usage)
            ),
            Some(
                "Dette er trolig signeringssertifikatet på kortet; bruk autentiseringssertifikatet."
                    .into(),
            ),
        ),
        Reason::ExtendedKeyUsageWithoutClientAuth { extended_key_usage } => say(
            format!(
                "Sertifikatet kan ikke brukes til innlogging (utvidet nøkkelbruk {} mangler clientAuth).",
                list_or_none(extended_key_usage)
            ),
            Some("Bruk autentiseringssertifikatet på kortet ditt.".into()),
        ),
        Reason::MissingPersonalId => say(
            "Sertifikatet har ingen norsk personidentifikator (serialNumber UN:NO-9578-…), så det kan ikke knyttes til deg.",
            Some(USE_HIGH_CARD.into()),
        ),
        Reason::UnknownIssuer => say(
            "Sertifikatet er ikke utstedt av en utsteder som er godkjent her.",
            Some(
                "Kontroller at du bruker riktig kort. Administrator: kontroller tillitsankrene (rotsertifikatene)."
                    .into(),
            ),
        ),
        Reason::Revoked => say(
            "Sertifikatet er sperret (tilbakekalt) av utstederen.",
            Some(order_new(facts)),
        ),
        Reason::RevocationUnknown => say(
            "Ingen av sperrelistene dekker dette sertifikatet, så det er ukjent om det er sperret.",
            Some("Administrator: hent sperrelisten (CRL) fra utstederen av sertifikatet.".into()),
        ),
        Reason::CrlExpired { next_update } => say(
            format!(
                "Sperrelisten (CRL) er utdatert: den gjaldt til {}.",
                norwegian_date(*next_update)
            ),
            Some("Administrator: hent en ny sperreliste fra utstederen.".into()),
        ),
        Reason::CrlInvalid { detail } => say(
            format!("Sperrelisten (CRL) er ikke gyldig signert av utstederen ({detail})."),
            Some("Administrator: hent sperrelisten på nytt fra utstederen.".into()),
        ),
        Reason::IssuerNotValid { detail } => say(
            format!("Et utstedersertifikat i kjeden er ikke gyldig nå ({detail})."),
            Some("Administrator: oppdater utstedersertifikatene.".into()),
        ),
        Reason::ChainInvalid { detail } => say(
            format!("Sertifikatkjeden kunne ikke godkjennes ({detail})."),
            Some(
                "Administrator: kontroller rotsertifikatene og de mellomliggende sertifikatene."
                    .into(),
            ),
        ),
    }
}

fn level_too_low(found: Level, required: Level) -> Sentence {
    if required != Level::PersonHigh {
        return say(
            format!(
                "Sertifikatet har nivå {} ({}), men {} kreves.",
                found,
                level_words(found),
                required
            ),
            None,
        );
    }
    match found {
        Level::Test => say(
            "Dette er et testsertifikat; det godtas bare i et testmiljø.",
            Some("Bruk ditt vanlige kort med sertifikat på nivå høyt (Person-High).".into()),
        ),
        Level::PersonHighHsm => say(
            "Sertifikatet er ikke på nivå høyt (Person-High) med nøkkel på smartkort: nøkkelen ligger hos utstederen, ikke på et kort du har.",
            Some(USE_HIGH_CARD.into()),
        ),
        Level::Enterprise => say(
            "Sertifikatet er ikke på nivå høyt (Person-High): det er et virksomhetssertifikat, ikke et personlig sertifikat.",
            Some(USE_HIGH_CARD.into()),
        ),
        _ => say(
            "Sertifikatet er ikke på nivå høyt (Person-High): sertifikatpolicyen er ikke kjent som Person-High.",
            Some(USE_HIGH_CARD.into()),
        ),
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
                0 => "i løpet av et døgn".to_string(),
                1 => "om 1 dag".to_string(),
                n => format!("om {n} dager"),
            };
            say(
                format!(
                    "Sertifikatet ditt utløper {} ({when}).",
                    norwegian_date(*not_after)
                ),
                Some(format!("{} Gjør det i god tid.", order_new(facts))),
            )
        }
        Warning::TestCertificate => say(
            "Dette er et testsertifikat; det godtas fordi dette er et testmiljø.",
            None,
        ),
        Warning::LevelUnconfirmed { policy } => say(
            format!("Det er ikke bekreftet at sertifikater med policy {policy} har nøkkelen på smartkort."),
            Some("Administrator: bekreft eller rett nivået for denne policyen i konfigurasjonen.".into()),
        ),
        Warning::RevocationNotChecked => say(
            "Sperrestatus er ikke kontrollert: ingen sperreliste (CRL) er oppgitt.",
            Some("Oppgi sperrelisten med --crl.".into()),
        ),
        Warning::UnreadableExtensions { extensions } => say(
            format!(
                "Noen utvidelser i sertifikatet kunne ikke leses: {}.",
                extensions.join("; ")
            ),
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
            format!("Fant ikke noe sertifikat i {what}."),
        )
        .fix("Oppgi en fil med et sertifikat i PEM- eller DER-format."),
        CertError::BadPem { detail } => Failure::new(
            "bad-certificate",
            exit::USAGE,
            format!("PEM-innholdet i {what} kunne ikke leses ({detail})."),
        )
        .fix("Kontroller at filen er hel, med BEGIN- og END-linjene."),
        CertError::NotACertificate { detail } => Failure::new(
            "bad-certificate",
            exit::CARD_UNUSABLE,
            format!("{what} inneholder ikke et gyldig X.509-sertifikat ({detail})."),
        ),
        CertError::BadTrustAnchor { index, detail } => Failure::new(
            "bad-trust-anchor",
            exit::USAGE,
            format!("Rotsertifikat nummer {index} kan ikke brukes ({detail})."),
        )
        .fix("Kontroller filene du oppga med --roots."),
        CertError::BadCrl { index, detail } => Failure::new(
            "bad-crl",
            exit::USAGE,
            format!("Sperreliste nummer {index} kan ikke leses ({detail})."),
        )
        .fix("Kontroller filene du oppga med --crl."),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "tom".to_string()
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
