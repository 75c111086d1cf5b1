//! `hjemmekontor cert inspect FILE`: what a certificate is, and whether it may be used to log
//! in from home, with every reason it may not.
//!
//! Exit code 0 when the certificate is usable, 4 when it is not (so scripts need not parse
//! the output), 2 for wrong arguments and 5 for files that cannot be read.

use super::cert_words::{self, level_words, Sentence};
use super::failure::{exit, Failure};
use super::output::{date, print_json};
use crate::cert::{self, AuthPolicy, ChainConfig, Inspection, Level, Reason, Warning};
use crate::i18n::catalogue::{cert as m, common};
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Arguments of `cert inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// Certificate file, PEM or DER. If a PEM file holds more certificates, the first is
    /// inspected and the others serve as intermediates for the chain check.
    #[arg(
        value_name = "FILE",
        required_unless_present = "card",
        conflicts_with = "card"
    )]
    pub file: Option<PathBuf>,

    /// Inspect the card's login certificate (PIV: PIV Authentication, 9A; PKCS#11 and the
    /// Windows store: the one the verdicts choose) instead of a file. Spends no PIN try.
    #[arg(long)]
    pub card: bool,

    /// With --card: how to reach the card.
    #[command(flatten)]
    pub card_options: super::card_open::CardOptions,

    /// Judge at this time instead of now, e.g. 2024-01-01T00:00:00Z.
    #[arg(long, value_name = "RFC3339-TIME", value_parser = parse_time)]
    pub at: Option<OffsetDateTime>,

    /// Trust anchors (PEM or DER) to validate the chain to. Put FILE before this option.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub roots: Vec<PathBuf>,

    /// Intermediate CA certificates for the chain (PEM or DER).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub intermediates: Vec<PathBuf>,

    /// Certificate revocation lists (PEM or DER) to check revocation with. Needs --roots.
    #[arg(long, value_name = "FILE", num_args = 1.., requires = "roots")]
    pub crl: Vec<PathBuf>,

    /// Test environment: judge TEST certificates by their policy as if they were production.
    /// For test setups only, never for real users.
    #[arg(long)]
    pub test_environment: bool,

    /// Warn when the certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 60)]
    pub warn_days: u32,

    /// Print JSON (English keys) instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time like 2024-01-01T00:00:00Z ({e})"))
}

/// Runs `cert inspect`.
pub fn run(args: &InspectArgs) -> ExitCode {
    match inspect(args) {
        Ok((inspection, file)) => {
            if args.json {
                print_json(&to_json(&inspection, file.as_deref()));
            } else {
                print!("{}", render(&inspection));
            }
            if inspection.verdict.usable {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(exit::CARD_UNUSABLE)
            }
        }
        Err(failure) => failure.report(args.json),
    }
}

fn inspect(args: &InspectArgs) -> Result<(Inspection, Option<String>), Failure> {
    let (shown, mut ders) = if args.card {
        (m::THE_CARD.text(), vec![card_login_certificate(args)?])
    } else {
        let Some(path) = args.file.as_deref() else {
            return Err(Failure::new("usage", exit::USAGE, m::FILE_OR_CARD.text()));
        };
        let shown = path.display().to_string();
        let ders = cert::certificates_from_bytes(&read(path)?)
            .map_err(|e| cert_words::cert_error(&e, &shown))?;
        (shown, ders)
    };
    let der = ders.remove(0);

    let chain = if args.roots.is_empty() {
        if !args.intermediates.is_empty() {
            return Err(Failure::new(
                "usage",
                exit::USAGE,
                m::INTERMEDIATES_NEED_ROOTS.text(),
            ));
        }
        None
    } else {
        let mut config = ChainConfig {
            intermediates: ders,
            ..ChainConfig::default()
        };
        for p in &args.roots {
            config.anchors.extend(certs_in(p)?);
        }
        for p in &args.intermediates {
            config.intermediates.extend(certs_in(p)?);
        }
        for p in &args.crl {
            let shown = p.display().to_string();
            config.crls.extend(
                cert::crls_from_bytes(&read(p)?).map_err(|e| cert_words::cert_error(&e, &shown))?,
            );
        }
        Some(config)
    };
    let policy = AuthPolicy {
        test_environment: args.test_environment,
        expiry_warning_days: args.warn_days,
        ..AuthPolicy::default()
    };
    let at = args.at.unwrap_or_else(OffsetDateTime::now_utc);
    let inspection = cert::inspect_der(&der, &policy, at, chain.as_ref())
        .map_err(|e| cert_words::cert_error(&e, &shown))?;
    Ok((inspection, (!args.card).then_some(shown)))
}

/// The login certificate from the card, chosen as `connect` would choose it.
fn card_login_certificate(args: &InspectArgs) -> Result<Vec<u8>, Failure> {
    let options = &args.card_options;
    let mut opened = super::card_open::open(options, &options.remembered()?)?;
    let policy = AuthPolicy {
        test_environment: args.test_environment,
        ..AuthPolicy::default()
    };
    let at = args.at.unwrap_or_else(OffsetDateTime::now_utc);
    let judged = super::card_open::judge(
        opened.session.as_mut(),
        &policy,
        at,
        options.cert.as_deref(),
    )?;
    Ok(judged.login()?.0.der.clone())
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::new(
            "file-unreadable",
            exit::IO,
            common::FILE_UNREADABLE.with(&[("path", &path.display()), ("error", &e)]),
        )
        .fix(common::FILE_UNREADABLE_FIX.text())
    })
}

fn certs_in(path: &Path) -> Result<Vec<Vec<u8>>, Failure> {
    let shown = path.display().to_string();
    cert::certificates_from_bytes(&read(path)?).map_err(|e| cert_words::cert_error(&e, &shown))
}

/// A reason or warning with its words, for JSON.
#[derive(Serialize)]
struct Said<'a, T: Serialize> {
    #[serde(flatten)]
    item: &'a T,
    #[serde(flatten)]
    words: Sentence,
}

#[derive(Serialize)]
struct ChainJson<'a> {
    checked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    anchor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_checked: Option<bool>,
}

#[derive(Serialize)]
struct InspectionJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    level: Level,
    usable: bool,
    test_certificate: bool,
    reasons: Vec<Said<'a, Reason>>,
    warnings: Vec<Said<'a, Warning>>,
    personal_id: Option<&'a str>,
    subject: &'a str,
    issuer: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
    days_left: i64,
    #[serde(with = "time::serde::rfc3339")]
    judged_at: OffsetDateTime,
    classification: &'a cert::Classification,
    chain: ChainJson<'a>,
    certificate: &'a cert::CertFacts,
}

/// The JSON document `cert inspect --json` prints for one inspection; other commands that
/// show certificates (e.g. `card`) embed the same shape.
pub fn to_json(i: &Inspection, file: Option<&str>) -> serde_json::Value {
    let f = &i.facts;
    let doc = InspectionJson {
        file,
        level: i.verdict.level,
        usable: i.verdict.usable,
        test_certificate: i.verdict.test_certificate,
        reasons: i
            .verdict
            .reasons
            .iter()
            .map(|r| Said {
                item: r,
                words: cert_words::reason(r, f),
            })
            .collect(),
        warnings: i
            .verdict
            .warnings
            .iter()
            .map(|w| Said {
                item: w,
                words: cert_words::warning(w, f),
            })
            .collect(),
        personal_id: f.personal_id.as_ref().map(|p| p.normalized.as_str()),
        subject: &f.subject,
        issuer: &f.issuer,
        not_before: f.not_before,
        not_after: f.not_after,
        days_left: cert::verdict::days_left(f.not_after, i.at),
        judged_at: i.at,
        classification: &i.classification,
        chain: match &i.chain {
            None => ChainJson {
                checked: false,
                trusted: None,
                anchor: None,
                revocation_checked: None,
            },
            Some(c) => ChainJson {
                checked: true,
                trusted: Some(c.trusted),
                anchor: c.anchor.as_deref(),
                revocation_checked: Some(c.revocation_checked),
            },
        },
        certificate: f,
    };
    serde_json::to_value(&doc).unwrap_or(serde_json::Value::Null)
}

/// The text `cert inspect` prints for one inspection, in the run's language.
pub fn render(i: &Inspection) -> String {
    let f = &i.facts;
    let v = &i.verdict;
    let mut out = String::new();
    let without_name = m::WITHOUT_NAME.text();
    let name = f.common_name.as_deref().unwrap_or(&without_name);
    let _ = writeln!(out, "{}", m::CERTIFICATE_FOR.with(&[("name", &name)]));
    let row = |out: &mut String, label: crate::i18n::Msg, value: &str| {
        let _ = writeln!(out, "  {:<22}{value}", label.as_str());
    };
    let personal_id = match &f.personal_id {
        Some(id) => {
            let provider = id.provider.map(|p| format!(" ({p})")).unwrap_or_default();
            format!("{}{provider}", id.normalized)
        }
        None => common::NONE.text(),
    };
    row(&mut out, m::LABEL_PERSONAL_ID, &personal_id);
    row(&mut out, m::LABEL_SUBJECT, &f.subject);
    let issuer = f.issuer_common_name.as_deref().unwrap_or(&f.issuer);
    row(&mut out, m::LABEL_ISSUER, issuer);
    let mut level = format!("{} – {}", v.level, level_words(v.level));
    if let Some(policy) = &i.classification.policy {
        let _ = write!(level, " (policy {policy})");
    }
    if v.test_certificate {
        let _ = write!(level, "; {}", m::LEVEL_TEST.as_str());
    }
    row(&mut out, m::LABEL_LEVEL, &level);
    let validity = format!(
        "{} – {} ({})",
        date(f.not_before),
        date(f.not_after),
        validity_status(i)
    );
    row(&mut out, m::LABEL_VALID, &validity);
    row(&mut out, m::LABEL_KEY, &f.public_key);
    let usage = |list: &Option<Vec<String>>| {
        list.as_ref()
            .map_or(m::NO_RESTRICTION.text(), |k| k.join(", "))
    };
    row(&mut out, m::LABEL_KEY_USAGE, &usage(&f.key_usage));
    row(
        &mut out,
        m::LABEL_EXTENDED_KEY_USAGE,
        &usage(&f.extended_key_usage),
    );
    let policies = if f.policies.is_empty() {
        common::NONE_IN_PARENS.text()
    } else {
        f.policies.join(", ")
    };
    row(&mut out, m::LABEL_POLICIES, &policies);
    if let Some(qc) = &f.qc_statements {
        row(&mut out, m::LABEL_QC_STATEMENTS, &qc_words(qc));
    }
    row(&mut out, m::LABEL_CHAIN, &chain_words(i));
    let judged_at =
        i.at.replace_nanosecond(0)
            .unwrap_or(i.at)
            .format(&Rfc3339)
            .unwrap_or_else(|_| date(i.at));
    row(&mut out, m::LABEL_JUDGED_AT, &judged_at);
    out.push('\n');
    verdict_words(&mut out, i);
    out
}

/// How the validity period stands at the time judged: not yet, days left, or expired.
fn validity_status(i: &Inspection) -> String {
    let f = &i.facts;
    let days = cert::verdict::days_left(f.not_after, i.at);
    if i.at < f.not_before {
        m::NOT_YET_VALID_STATUS.text()
    } else if i.at > f.not_after {
        match -days {
            0 => m::EXPIRED_TODAY.text(),
            1 => m::EXPIRED_A_DAY_AGO.text(),
            n => m::EXPIRED_DAYS_AGO.with(&[("n", &n)]),
        }
    } else {
        match days {
            1 => m::ONE_DAY_LEFT.text(),
            n => m::DAYS_LEFT.with(&[("n", &n)]),
        }
    }
}

/// The chain check in words.
fn chain_words(i: &Inspection) -> String {
    match &i.chain {
        None => m::CHAIN_NOT_CHECKED.text(),
        Some(c) if c.trusted => {
            let a_root = m::A_ROOT.text();
            let anchor = c.anchor.as_deref().unwrap_or(&a_root);
            if c.revocation_checked {
                m::CHAIN_NOT_REVOKED.with(&[("anchor", &anchor)])
            } else {
                m::CHAIN_REVOCATION_UNCHECKED.with(&[("anchor", &anchor)])
            }
        }
        Some(_) => m::CHAIN_NOT_VALID.text(),
    }
}

/// Whether it can log in, every reason it cannot, and what to know.
fn verdict_words(out: &mut String, i: &Inspection) {
    let (f, v) = (&i.facts, &i.verdict);
    if v.usable {
        let _ = writeln!(out, "{}", m::USABLE.as_str());
    } else {
        let _ = writeln!(out, "{}", m::NOT_USABLE.as_str());
        for r in &v.reasons {
            bullet(out, &cert_words::reason(r, f));
        }
    }
    if !v.warnings.is_empty() {
        let _ = writeln!(out, "{}", m::NOTE.as_str());
        for w in &v.warnings {
            bullet(out, &cert_words::warning(w, f));
        }
    }
}

fn bullet(out: &mut String, s: &Sentence) {
    let _ = writeln!(out, "  - {}", s.message);
    if let Some(fix) = &s.fix {
        let _ = writeln!(out, "    {}", common::DO_THIS.with(&[("fix", fix)]));
    }
}

fn qc_words(qc: &cert::QcStatements) -> String {
    let mut parts = Vec::new();
    if qc.compliance {
        parts.push(m::QC_COMPLIANCE.text());
    }
    if qc.sscd {
        parts.push(m::QC_SSCD.text());
    }
    if !qc.types.is_empty() {
        parts.push(format!("type {}", qc.types.join(", ")));
    }
    if let Some(s) = &qc.semantics {
        let what = s
            .identifier_name
            .or(s.identifier.as_deref())
            .unwrap_or(m::QC_NO_SEMANTICS.as_str());
        let mut text = format!("pkixQCSyntax-v{} ({what}", s.syntax_version);
        for ra in &s.name_registration_authorities {
            let _ = write!(text, "; {ra}");
        }
        text.push(')');
        parts.push(text);
    }
    for p in &qc.pds {
        parts.push(format!("PDS {} [{}]", p.url, p.language));
    }
    for o in &qc.other {
        parts.push(o.clone());
    }
    if parts.is_empty() {
        common::NONE_IN_PARENS.text()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::testutil::Builder;
    use time::macros::datetime;

    fn inspection(at: OffsetDateTime) -> Inspection {
        let c = Builder::person()
            .validity(
                datetime!(2024-01-01 00:00 UTC),
                datetime!(2025-05-25 21:59 UTC),
            )
            .build();
        cert::inspect_der(&c.der, &AuthPolicy::default(), at, None).unwrap()
    }

    #[test]
    fn human_output_for_an_expired_card() {
        let text = render(&inspection(datetime!(2025-06-01 00:00 UTC)));
        assert!(text.starts_with("Sertifikat for KARI NORDMANN\n"), "{text}");
        assert!(
            text.contains("UN:NO-9578-4050-100000001 (Buypass)"),
            "{text}"
        );
        assert!(text.contains("Kan IKKE brukes til innlogging:\n  - Sertifikatet ditt utløp 25.05.2025.\n    Gjør dette: Bestill nytt kort fra Buypass.\n"), "{text}");
        assert!(text.contains("utløpt for 6 dager siden"), "{text}");
    }

    #[test]
    fn human_output_in_english() {
        use crate::i18n::{with_lang, Lang};
        let text = with_lang(Lang::En, || {
            render(&inspection(datetime!(2025-06-01 00:00 UTC)))
        });
        assert!(
            text.starts_with("Certificate for KARI NORDMANN\n"),
            "{text}"
        );
        assert!(
            text.contains("  Personal identifier:  UN:NO-9578"),
            "{text}"
        );
        assert!(text.contains("Can NOT be used to log in:\n  - Your certificate expired on 2025-05-25.\n    Do this: Order a new card from Buypass.\n"), "{text}");
        assert!(text.contains("expired 6 days ago"), "{text}");
    }

    #[test]
    fn json_has_the_promised_keys() {
        let json = to_json(&inspection(datetime!(2024-06-01 00:00 UTC)), Some("x.pem"));
        assert_eq!(json["level"], "person-high");
        assert_eq!(json["usable"], true);
        assert_eq!(json["reasons"], serde_json::json!([]));
        assert_eq!(json["personal_id"], "UN:NO-9578-4050-100000001");
        assert_eq!(json["not_after"], "2025-05-25T21:59:00Z");
        assert_eq!(json["chain"]["checked"], false);

        let json = to_json(&inspection(datetime!(2025-06-01 00:00 UTC)), None);
        assert_eq!(json["usable"], false);
        assert_eq!(json["reasons"][0]["code"], "expired");
        assert_eq!(json["reasons"][0]["not_after"], "2025-05-25T21:59:00Z");
        assert_eq!(
            json["reasons"][0]["message"],
            "Sertifikatet ditt utløp 25.05.2025."
        );
        assert!(json.get("file").is_none());
    }

    #[test]
    fn times_parse_as_rfc3339() {
        assert_eq!(
            parse_time("2024-01-01T00:00:00Z").unwrap(),
            datetime!(2024-01-01 00:00 UTC)
        );
        assert!(parse_time("2024-01-01").is_err());
    }
}
