//! `hjemmekontor card`: what is on the card and whether it can be used, without spending a
//! PIN try (unless asked to check the PIN, which sends it exactly once).

use std::process::ExitCode;

use serde::Serialize;

use crate::card::apdu::{hex, hex_spaced};
use crate::card::identify::{identify, Application, IdentifyError};
use crate::card::pcsc::{self, PcscTransport};
use crate::card::piv::{PinStatus, Piv, PivError, Slot, Unverified};
use crate::card::TransportError;
use crate::cert::{self, AuthPolicy, Inspection};
use time::OffsetDateTime;

use super::card_words::{
    blocked, explain_piv, explain_transport, no_login_certificate, unknown_application,
};
use super::cert_inspect::{render, to_json};
use super::cert_words;
use super::failure::{exit, Failure};
use super::output::print_json;
use super::prompt::{read_pin, SecretSource};

/// Arguments of `hjemmekontor card`.
#[derive(Debug, clap::Args)]
pub struct CardArgs {
    /// Reader to use (see `hjemmekontor readers`). Default: the first reader with a card.
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also check the PIN once, to validate card and reader together. A wrong PIN costs a
    /// try, as on any login; it is never retried.
    #[arg(long)]
    pub check_pin: bool,
    /// With --check-pin: read the PIN from standard input instead of prompting.
    #[arg(long, requires = "check_pin")]
    pub pin_stdin: bool,
    /// With --check-pin: read the PIN from this inherited file descriptor.
    #[arg(long, value_name = "FD", requires = "check_pin")]
    pub pin_fd: Option<u32>,
    /// Test environment: judge TEST certificates by their policy as if they were production.
    /// For test setups only, never for real users.
    #[arg(long)]
    pub test_environment: bool,
    /// Warn when the login certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 60)]
    pub warn_days: u32,
}

/// The card as reported to people and scripts.
#[derive(Debug, Serialize)]
pub struct CardReport {
    /// Reader name.
    pub reader: String,
    /// ATR, hex with spaces.
    pub atr: String,
    /// Application found (`piv`).
    pub application: &'static str,
    /// PIV card GUID from the CHUID, hex.
    pub card_id: Option<String>,
    /// PIN state.
    pub pin: PinReport,
    /// Certificates found, in slot order.
    pub certificates: Vec<CertificateReport>,
    /// Slot whose certificate logs in (`9A`), when there is one.
    pub login_certificate: Option<Slot>,
    /// Result of `--check-pin`, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_check: Option<PinCheck>,
    /// Why the card cannot be used, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Failure>,
}

/// PIN state without spending a try.
#[derive(Debug, Serialize)]
pub struct PinReport {
    /// Tries left before the PIN blocks (`None` when already verified or blocked).
    pub tries_left: Option<u8>,
    /// Whether the PIN is blocked.
    pub blocked: bool,
    /// Whether the PIN is verified in the card right now (by this or another program).
    pub verified: bool,
}

/// Outcome of `--check-pin`.
#[derive(Debug, Serialize)]
pub struct PinCheck {
    /// Whether the card accepted the PIN.
    pub accepted: bool,
    /// Tries left after a wrong PIN.
    pub tries_left: Option<u8>,
}

/// One certificate on the card, with the certificate core's verdict.
#[derive(Debug, Serialize)]
pub struct CertificateReport {
    /// Key slot.
    pub slot: Slot,
    /// Slot purpose in words.
    pub purpose: &'static str,
    /// The same document `cert inspect --json` prints, or why the certificate is unreadable.
    #[serde(flatten)]
    pub details: serde_json::Value,
    /// The inspection, for text output.
    #[serde(skip)]
    pub inspection: Option<Inspection>,
}

/// Runs the command.
pub fn run(args: &CardArgs) -> ExitCode {
    match collect(args) {
        Ok(report) => show(&report, args.json),
        Err(failure) => failure.report(args.json),
    }
}

/// Picks the reader: the named one, else the first with a card.
fn choose_reader(ctx: &::pcsc::Context, wanted: Option<&str>) -> Result<String, Failure> {
    let readers = pcsc::list_readers(ctx).map_err(|e| explain_transport(&e))?;
    if readers.is_empty() {
        return Err(explain_transport(&TransportError::NoReader));
    }
    if let Some(name) = wanted {
        return readers
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.name.clone())
            .ok_or_else(|| explain_transport(&TransportError::UnknownReader(name.into())));
    }
    readers
        .iter()
        .find(|r| r.card_present)
        .map(|r| r.name.clone())
        .ok_or_else(|| match readers.as_slice() {
            [only] => explain_transport(&TransportError::NoCard(only.name.clone())),
            many => {
                let names: Vec<&str> = many.iter().map(|r| r.name.as_str()).collect();
                Failure::new(
                    "no-card",
                    exit::NO_CARD,
                    format!(
                        "Det er ikke noe kort i noen av kortleserne («{}»).",
                        names.join("», «")
                    ),
                )
                .fix("Sett inn smartkortet (brikken inn og opp) og prøv igjen.")
            }
        })
}

/// A card opened through PC/SC with its application selected.
pub struct OpenedCard {
    /// Reader name.
    pub reader: String,
    /// ATR, hex with spaces.
    pub atr: String,
    /// The application found.
    pub application: Application,
}

/// Finds the reader (named, or the first with a card), connects, and identifies the card's
/// application; every failure comes back as a sentence with a fix.
pub fn open_card(reader: Option<&str>) -> Result<OpenedCard, Failure> {
    let ctx = pcsc::establish().map_err(|e| explain_transport(&e))?;
    let reader = choose_reader(&ctx, reader)?;
    let transport = PcscTransport::connect(&ctx, &reader).map_err(|e| explain_transport(&e))?;
    let atr = hex_spaced(&crate::card::CardTransport::atr(&transport));
    let application = match identify(Box::new(transport)) {
        Ok(app) => app,
        Err(IdentifyError::Card(e)) => return Err(explain_piv(&e)),
        Err(IdentifyError::Unknown { buypass_like }) => {
            return Err(unknown_application(buypass_like.then_some(
                "Kortet ligner et Buypass-kort; Buypass-kortets egen applikasjon støttes ikke direkte ennå. Bruk Buypass sin mellomvare (PKCS#11).",
            )))
        }
    };
    Ok(OpenedCard {
        reader,
        atr,
        application,
    })
}

fn collect(args: &CardArgs) -> Result<CardReport, Failure> {
    let OpenedCard {
        reader,
        atr,
        application: app,
    } = open_card(args.reader.as_deref())?;
    let application = app.name();
    let mut piv = match app {
        Application::Piv(piv) => piv,
        Application::Buypass(_) => return Err(super::card_words::buypass_needs_middleware()),
    };
    let card_id = piv
        .read_chuid()
        .map_err(|e| explain_piv(&e))?
        .and_then(|c| c.guid)
        .map(|g| hex(&g));
    let status = piv.pin_status().map_err(|e| explain_piv(&e))?;
    let policy = AuthPolicy {
        test_environment: args.test_environment,
        expiry_warning_days: args.warn_days,
        ..AuthPolicy::default()
    };
    let certificates = inspect_certificates(&mut piv, &policy, OffsetDateTime::now_utc())?;
    let login = certificates
        .iter()
        .find(|c| c.slot == Slot::Authentication && c.inspection.is_some());
    let login_certificate = login.map(|c| c.slot);
    let login_refusal = login
        .and_then(|c| c.inspection.as_ref())
        .filter(|i| !i.verdict.usable)
        .map(certificate_refused);
    let mut report = CardReport {
        reader,
        atr,
        application,
        card_id,
        pin: pin_report(status),
        certificates,
        login_certificate,
        pin_check: None,
        problem: None,
    };
    if status == PinStatus::Blocked {
        report.problem = Some(blocked());
        return Ok(report);
    }
    if let Some(refusal) = login_refusal {
        // The pre-check: a certificate that cannot log in never costs a PIN try.
        report.problem = Some(refusal);
        return Ok(report);
    }
    if login_certificate.is_none() {
        report.problem = Some(no_login_certificate());
    }
    if args.check_pin {
        let source = SecretSource::from_flags(args.pin_fd, args.pin_stdin);
        let pin = read_pin(source, "PIN: ")?;
        match piv.verify_pin(&pin) {
            Ok(_verified) => {
                report.pin_check = Some(PinCheck {
                    accepted: true,
                    tries_left: None,
                });
                report.pin = PinReport {
                    tries_left: None,
                    blocked: false,
                    verified: true,
                };
            }
            Err((_, e)) => {
                let failure = explain_piv(&e);
                if let PivError::WrongPin { tries_left } = e {
                    report.pin_check = Some(PinCheck {
                        accepted: false,
                        tries_left: Some(tries_left),
                    });
                    report.pin.tries_left = Some(tries_left);
                } else if e == PivError::PinBlocked {
                    report.pin = pin_report(PinStatus::Blocked);
                    report.pin_check = Some(PinCheck {
                        accepted: false,
                        tries_left: Some(0),
                    });
                }
                report.problem = Some(failure);
            }
        }
    }
    Ok(report)
}

fn pin_report(status: PinStatus) -> PinReport {
    match status {
        PinStatus::Verified => PinReport {
            tries_left: None,
            blocked: false,
            verified: true,
        },
        PinStatus::TriesLeft(n) => PinReport {
            tries_left: Some(n),
            blocked: false,
            verified: false,
        },
        PinStatus::Blocked => PinReport {
            tries_left: Some(0),
            blocked: true,
            verified: false,
        },
    }
}

/// Reads every certificate on the card and judges each at `at`.
pub fn inspect_certificates(
    piv: &mut Piv<Unverified>,
    policy: &AuthPolicy,
    at: OffsetDateTime,
) -> Result<Vec<CertificateReport>, Failure> {
    let mut out = Vec::new();
    for slot in Slot::ALL {
        let der = match piv.read_certificate(slot) {
            Ok(Some(der)) => der,
            Ok(None) => continue,
            Err(e @ PivError::Malformed { .. }) => {
                out.push(unreadable(slot, &e.to_string()));
                continue;
            }
            Err(e) => return Err(explain_piv(&e)),
        };
        match cert::inspect_der(&der, policy, at, None) {
            Ok(inspection) => out.push(CertificateReport {
                slot,
                purpose: purpose(slot),
                details: to_json(&inspection, None),
                inspection: Some(inspection),
            }),
            Err(e) => out.push(unreadable(slot, &e.to_string())),
        }
    }
    Ok(out)
}

fn unreadable(slot: Slot, problem: &str) -> CertificateReport {
    CertificateReport {
        slot,
        purpose: purpose(slot),
        details: serde_json::json!({ "unreadable": problem }),
        inspection: None,
    }
}

/// The login certificate cannot be used: every reason, in words, before any PIN is asked.
pub fn certificate_refused(inspection: &Inspection) -> Failure {
    let sentences: Vec<_> = inspection
        .verdict
        .reasons
        .iter()
        .map(|r| cert_words::reason(r, &inspection.facts))
        .collect();
    let message = sentences
        .iter()
        .map(|s| s.message.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut failure = Failure::new(
        "certificate-refused",
        exit::CARD_UNUSABLE,
        format!("Kortet kan ikke brukes til innlogging. {message}"),
    );
    let fixes: Vec<&str> = sentences.iter().filter_map(|s| s.fix.as_deref()).collect();
    if !fixes.is_empty() {
        failure = failure.fix(fixes.join(" "));
    }
    failure
}

fn purpose(slot: Slot) -> &'static str {
    match slot {
        Slot::Authentication => "innlogging",
        Slot::Signature => "signering",
        Slot::KeyManagement => "kryptering",
        Slot::CardAuthentication => "kortautentisering",
    }
}

fn show(report: &CardReport, json: bool) -> ExitCode {
    let code = report
        .problem
        .as_ref()
        .map(|p| ExitCode::from(p.exit_code))
        .unwrap_or(ExitCode::SUCCESS);
    if json {
        print_json(report);
        return code;
    }
    println!("Kortleser:     {}", report.reader);
    println!("ATR:           {}", report.atr);
    println!("Applikasjon:   {}", report.application.to_uppercase());
    if let Some(id) = &report.card_id {
        println!("Kort-ID:       {id}");
    }
    let pin = if report.pin.blocked {
        "SPERRET".to_string()
    } else if report.pin.verified {
        "godkjent".to_string()
    } else {
        match report.pin.tries_left {
            Some(1) => "1 forsøk igjen".to_string(),
            Some(n) => format!("{n} forsøk igjen"),
            None => "ukjent".to_string(),
        }
    };
    println!("PIN:           {pin}");
    if let Some(check) = &report.pin_check {
        println!(
            "PIN-sjekk:     {}",
            if check.accepted {
                "riktig PIN"
            } else {
                "feil PIN"
            }
        );
    }
    println!("Sertifikater:");
    if report.certificates.is_empty() {
        println!("  (ingen)");
    }
    for c in &report.certificates {
        let login = if report.login_certificate == Some(c.slot) {
            " — brukes til innlogging"
        } else {
            ""
        };
        println!("  {}{login}", c.slot.label());
        match &c.inspection {
            Some(inspection) => {
                for line in render(inspection).lines() {
                    if line.is_empty() {
                        println!();
                    } else {
                        println!("    {line}");
                    }
                }
            }
            None => println!(
                "    Kan ikke leses: {}",
                c.details["unreadable"].as_str().unwrap_or("ukjent feil")
            ),
        }
    }
    if let Some(problem) = &report.problem {
        eprintln!();
        eprintln!("{problem}");
    }
    code
}
