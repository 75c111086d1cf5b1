//! `hjemmekontor cert inspect FILE`: what a certificate is, and whether it may be used to log
//! in from home, with every reason it may not.
//!
//! Exit code 0 when the certificate is usable, 4 when it is not (so scripts need not parse
//! the output), 2 for wrong arguments and 5 for files that cannot be read.

use super::cert_words::{self, level_words, Sentence};
use super::failure::{exit, Failure};
use super::output::{norwegian_date, print_json};
use crate::cert::{self, AuthPolicy, ChainConfig, Inspection, Level, Reason, Warning};
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

    /// Inspect the login certificate (PIV Authentication, 9A) on the card in the reader
    /// instead of a file. Spends no PIN try.
    #[arg(long)]
    pub card: bool,

    /// With --card: the reader to use (see `hjemmekontor readers`).
    #[arg(long, value_name = "NAME", requires = "card")]
    pub reader: Option<String>,

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
        (
            "kortet".to_string(),
            vec![card_login_certificate(args.reader.as_deref())?],
        )
    } else {
        let Some(path) = args.file.as_deref() else {
            return Err(Failure::new(
                "usage",
                exit::USAGE,
                "Oppgi en sertifikatfil eller --card.",
            ));
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
                "--intermediates brukes bare sammen med --roots.",
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

/// The login certificate from the card in the reader.
fn card_login_certificate(reader: Option<&str>) -> Result<Vec<u8>, Failure> {
    use crate::card::identify::Application;
    use crate::card::piv::Slot;
    let opened = super::card::open_card(reader)?;
    let mut piv = match opened.application {
        Application::Piv(piv) => piv,
        Application::Buypass(_) => return Err(super::card_words::buypass_needs_middleware()),
    };
    piv.read_certificate(Slot::Authentication)
        .map_err(|e| super::card_words::explain_piv(&e))?
        .ok_or_else(super::card_words::no_login_certificate)
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::new(
            "file-unreadable",
            exit::IO,
            format!("Kunne ikke lese {}: {e}.", path.display()),
        )
        .fix("Kontroller filnavnet og at du har lov til å lese filen.")
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

/// The text `cert inspect` prints for one inspection, in Norwegian.
pub fn render(i: &Inspection) -> String {
    let f = &i.facts;
    let v = &i.verdict;
    let mut out = String::new();
    let name = f.common_name.as_deref().unwrap_or("(uten navn)");
    let _ = writeln!(out, "Sertifikat for {name}");
    let row = |out: &mut String, label: &str, value: &str| {
        let _ = writeln!(out, "  {label:<22}{value}");
    };
    match &f.personal_id {
        Some(id) => {
            let provider = id.provider.map(|p| format!(" ({p})")).unwrap_or_default();
            row(
                &mut out,
                "Personidentifikator:",
                &format!("{}{provider}", id.normalized),
            );
        }
        None => row(&mut out, "Personidentifikator:", "ingen"),
    }
    row(&mut out, "Emne:", &f.subject);
    row(
        &mut out,
        "Utsteder:",
        f.issuer_common_name.as_deref().unwrap_or(&f.issuer),
    );
    let mut level = format!("{} – {}", v.level, level_words(v.level));
    if let Some(policy) = &i.classification.policy {
        let _ = write!(level, " (policy {policy})");
    }
    if v.test_certificate {
        level.push_str("; testsertifikat");
    }
    row(&mut out, "Nivå:", &level);
    let days = cert::verdict::days_left(f.not_after, i.at);
    let status = if i.at < f.not_before {
        "ikke gyldig ennå".to_string()
    } else if i.at > f.not_after {
        match -days {
            0 => "utløpt i dag".to_string(),
            1 => "utløpt for 1 dag siden".to_string(),
            n => format!("utløpt for {n} dager siden"),
        }
    } else {
        match days {
            1 => "1 dag igjen".to_string(),
            n => format!("{n} dager igjen"),
        }
    };
    row(
        &mut out,
        "Gyldig:",
        &format!(
            "{} – {} ({status})",
            norwegian_date(f.not_before),
            norwegian_date(f.not_after)
        ),
    );
    row(&mut out, "Nøkkel:", &f.public_key);
    row(
        &mut out,
        "Nøkkelbruk:",
        &f.key_usage
            .as_ref()
            .map_or("(ingen begrensning)".to_string(), |k| k.join(", ")),
    );
    row(
        &mut out,
        "Utvidet nøkkelbruk:",
        &f.extended_key_usage
            .as_ref()
            .map_or("(ingen begrensning)".to_string(), |k| k.join(", ")),
    );
    row(
        &mut out,
        "Policyer:",
        &if f.policies.is_empty() {
            "(ingen)".to_string()
        } else {
            f.policies.join(", ")
        },
    );
    if let Some(qc) = &f.qc_statements {
        row(&mut out, "QC-erklæringer:", &qc_words(qc));
    }
    let chain = match &i.chain {
        None => "ikke kontrollert (oppgi --roots og --crl)".to_string(),
        Some(c) if c.trusted => {
            let anchor = c.anchor.as_deref().unwrap_or("et rotsertifikat");
            if c.revocation_checked {
                format!("godkjent til «{anchor}», ikke sperret")
            } else {
                format!("godkjent til «{anchor}», sperrestatus ikke kontrollert")
            }
        }
        Some(_) => "ikke godkjent (se under)".to_string(),
    };
    row(&mut out, "Kjede:", &chain);
    row(
        &mut out,
        "Vurdert for:",
        &i.at
            .replace_nanosecond(0)
            .unwrap_or(i.at)
            .format(&Rfc3339)
            .unwrap_or_else(|_| norwegian_date(i.at)),
    );
    out.push('\n');
    if v.usable {
        out.push_str("Kan brukes til innlogging.\n");
    } else {
        out.push_str("Kan IKKE brukes til innlogging:\n");
        for r in &v.reasons {
            bullet(&mut out, &cert_words::reason(r, f));
        }
    }
    if !v.warnings.is_empty() {
        out.push_str("Merk:\n");
        for w in &v.warnings {
            bullet(&mut out, &cert_words::warning(w, f));
        }
    }
    out
}

fn bullet(out: &mut String, s: &Sentence) {
    let _ = writeln!(out, "  - {}", s.message);
    if let Some(fix) = &s.fix {
        let _ = writeln!(out, "    Gjør dette: {fix}");
    }
}

fn qc_words(qc: &cert::QcStatements) -> String {
    let mut parts = Vec::new();
    if qc.compliance {
        parts.push("kvalifisert (QcCompliance)".to_string());
    }
    if qc.sscd {
        parts.push("nøkkel i kvalifisert enhet (QcSSCD)".to_string());
    }
    if !qc.types.is_empty() {
        parts.push(format!("type {}", qc.types.join(", ")));
    }
    if let Some(s) = &qc.semantics {
        let what = s
            .identifier_name
            .or(s.identifier.as_deref())
            .unwrap_or("uten semantikk");
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
        "(ingen)".to_string()
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
