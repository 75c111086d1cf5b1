//! `hjemmekontor card`: what is on the card and whether it can be used, without spending a
//! PIN try (unless asked to check the PIN, which sends it exactly once).

use std::process::ExitCode;

use serde::Serialize;

use crate::card::choose::Choice;
use crate::card::credential::{
    Backend, CardCertificate, CardSession, CredentialInfo, KeyError, KeyKind, Mechanisms, PinEntry,
    PinState, TlsMode,
};
use crate::card::piv::Slot;
use crate::cert::{AuthPolicy, Inspection};
use crate::i18n::catalogue::{self as connect, card as m};
use crate::i18n::Msg;
use time::OffsetDateTime;

use super::card_open::{judge, open, CardOptions, Judged};
use super::card_words::{blocked, no_login_certificate};
use super::cert_inspect::{render, to_json};
use super::cert_words;
use super::credential_words::explain_key;
use super::failure::{exit, Failure};
use super::output::print_json;
use super::prompt::{read_pin, SecretSource};

/// Arguments of `hjemmekontor card`.
#[derive(Debug, clap::Args)]
pub struct CardArgs {
    /// How to reach the card.
    #[command(flatten)]
    pub card: CardOptions,
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
    /// Backend, reader, ATR, application, card id and token.
    #[serde(flatten)]
    pub card: CredentialInfo,
    /// PIN state.
    pub pin: PinReport,
    /// Certificates found, in the backend's order.
    pub certificates: Vec<CertificateReport>,
    /// Id of the certificate that logs in (PIV: `9A`), when there is one.
    pub login_certificate: Option<String>,
    /// What the login key can sign with, and so which TLS version it logs in with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_key: Option<KeyReport>,
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
    /// Tries left before the PIN blocks, when the card tells.
    pub tries_left: Option<u8>,
    /// Whether the PIN is blocked.
    pub blocked: bool,
    /// Whether the PIN is verified in the card right now (by this or another program).
    pub verified: bool,
    /// What the card tells about the PIN (`tries-left`, `count-low`, `final-try`, …).
    #[serde(serialize_with = "pin_state_name")]
    pub state: PinState,
    /// How the PIN is entered: `{"kind": "keyboard", "min", "max"}`, `pin-pad`, `middleware`,
    /// `not-needed`.
    pub entry: PinEntry,
}

fn pin_state_name<S: serde::Serializer>(state: &PinState, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(state.name())
}

/// The login key's mechanisms and the TLS version they give.
#[derive(Debug, Serialize)]
pub struct KeyReport {
    /// The operations the key offers.
    pub mechanisms: Mechanisms,
    /// `tls13`, `tls12-pkcs1`, or none when nothing TLS accepts.
    pub tls: Option<TlsMode>,
}

/// Outcome of `--check-pin`.
#[derive(Debug, Serialize)]
pub struct PinCheck {
    /// Whether the card accepted the PIN.
    pub accepted: bool,
    /// Tries left after a wrong PIN, when the card tells.
    pub tries_left: Option<u8>,
}

/// One certificate on the card, with the certificate core's verdict.
#[derive(Debug, Serialize)]
pub struct CertificateReport {
    /// The backend's name for it: PIV slot (`9A`), PKCS#11 `CKA_ID` (hex).
    pub id: String,
    /// Its purpose (PIV slot) or label (PKCS#11).
    pub purpose: String,
    /// SHA-256 of the certificate (what `--cert` takes).
    pub sha256: String,
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

fn collect(args: &CardArgs) -> Result<CardReport, Failure> {
    let remembered = args.card.remembered()?;
    let mut opened = open(&args.card, &remembered)?;
    let session = opened.session.as_mut();
    let policy = AuthPolicy {
        test_environment: args.test_environment,
        expiry_warning_days: args.warn_days,
        ..AuthPolicy::default()
    };
    let judged = judge(
        session,
        &policy,
        OffsetDateTime::now_utc(),
        args.card.cert.as_deref(),
    )?;
    let state = session.pin_state().map_err(|e| explain_key(&e))?;
    let info = session.info().clone();
    let mut report = report_of(&info, state, session.pin_entry(), &judged);
    let login = match judged.login() {
        Ok((certificate, inspection)) => (certificate.clone(), inspection.cloned()),
        Err(problem) => {
            report.problem = Some(problem);
            return Ok(report);
        }
    };
    report.login_certificate = Some(login.0.id.clone());
    let kind = KeyKind::of_certificate(&login.0.der);
    if let (Ok(kind), Ok(mechanisms)) = (kind, session.mechanisms(&login.0)) {
        report.login_key = Some(KeyReport {
            tls: mechanisms.tls_mode(kind),
            mechanisms,
        });
    }
    if state == PinState::Blocked {
        report.problem = Some(blocked());
        return Ok(report);
    }
    match &login.1 {
        // The pre-check: a certificate that cannot log in never costs a PIN try.
        Some(inspection) if !inspection.verdict.usable => {
            report.problem = Some(certificate_refused(inspection));
            return Ok(report);
        }
        None => {
            report.problem = Some(no_login_certificate());
            return Ok(report);
        }
        Some(_) => {}
    }
    if args.check_pin {
        check_pin(args, opened.session, &login.0, &mut report)?;
    }
    Ok(report)
}

/// Sends the PIN once and records what the card said; the session is locked again after.
fn check_pin(
    args: &CardArgs,
    session: Box<dyn CardSession>,
    login: &CardCertificate,
    report: &mut CardReport,
) -> Result<(), Failure> {
    let pin = match session.pin_entry() {
        PinEntry::Keyboard { .. } => {
            let source = SecretSource::from_flags(args.pin_fd, args.pin_stdin);
            Some(read_pin(source, "PIN: ")?)
        }
        PinEntry::PinPad => {
            eprintln!("{}", connect::PIN_ON_PIN_PAD.text());
            None
        }
        PinEntry::Middleware | PinEntry::NotNeeded => None,
    };
    match session.login(login, pin.as_ref()) {
        Ok(key) => {
            drop(key.relock());
            report.pin_check = Some(PinCheck {
                accepted: true,
                tries_left: None,
            });
            report.pin.tries_left = None;
            report.pin.verified = true;
        }
        Err((_, e)) => {
            let tries_left = match &e {
                KeyError::WrongPin { tries_left } => *tries_left,
                KeyError::Piv(crate::card::piv::PivError::WrongPin { tries_left }) => {
                    Some(*tries_left)
                }
                KeyError::PinBlocked | KeyError::Piv(crate::card::piv::PivError::PinBlocked) => {
                    report.pin.blocked = true;
                    Some(0)
                }
                _ => None,
            };
            if tries_left.is_some() {
                report.pin_check = Some(PinCheck {
                    accepted: false,
                    tries_left,
                });
                report.pin.tries_left = tries_left;
            }
            report.problem = Some(explain_key(&e));
        }
    }
    Ok(())
}

fn report_of(
    info: &CredentialInfo,
    state: PinState,
    entry: PinEntry,
    judged: &Judged,
) -> CardReport {
    let login = match judged.choice {
        Choice::One(i) => Some(judged.certificates[i].id.clone()),
        _ => None,
    };
    CardReport {
        card: info.clone(),
        pin: PinReport {
            tries_left: state.tries_left(),
            blocked: state == PinState::Blocked,
            verified: state == PinState::Verified,
            state,
            entry,
        },
        certificates: judged
            .certificates
            .iter()
            .zip(&judged.inspections)
            .map(|(c, i)| certificate_report(info.backend, c, i))
            .collect(),
        login_certificate: login,
        login_key: None,
        pin_check: None,
        problem: None,
    }
}

fn certificate_report(
    backend: Backend,
    certificate: &CardCertificate,
    inspection: &Result<Inspection, String>,
) -> CertificateReport {
    let purpose = match backend {
        Backend::Piv => piv_purpose(&certificate.id).to_string(),
        _ if certificate.label.is_empty() => m::CERTIFICATE.text(),
        _ => certificate.label.clone(),
    };
    let (details, inspection) = match inspection {
        Ok(i) => (to_json(i, None), Some(i.clone())),
        Err(problem) => (serde_json::json!({ "unreadable": problem }), None),
    };
    CertificateReport {
        id: certificate.id.clone(),
        purpose,
        sha256: certificate.sha256(),
        details,
        inspection,
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
        m::CERTIFICATE_REFUSED.with(&[("reasons", &message)]),
    );
    let fixes: Vec<&str> = sentences.iter().filter_map(|s| s.fix.as_deref()).collect();
    if !fixes.is_empty() {
        failure = failure.fix(fixes.join(" "));
    }
    failure
}

/// A PIV slot's purpose in words, from its id (`9A`).
fn piv_purpose(id: &str) -> &'static str {
    let slot = Slot::ALL
        .into_iter()
        .find(|s| crate::card::piv_credential::slot_id(*s) == id);
    match slot {
        Some(Slot::Authentication) => m::SLOT_LOGIN,
        Some(Slot::Signature) => m::SLOT_SIGNATURE,
        Some(Slot::KeyManagement) => m::SLOT_KEY_MANAGEMENT,
        Some(Slot::CardAuthentication) => m::SLOT_CARD_AUTHENTICATION,
        None => m::SLOT_UNKNOWN,
    }
    .as_str()
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
    show_card(report);
    println!("{}", m::CERTIFICATES.text());
    if report.certificates.is_empty() {
        println!(
            "  {}",
            crate::i18n::catalogue::common::NONE_IN_PARENS.text()
        );
    }
    for c in &report.certificates {
        let login = if report.login_certificate.as_ref() == Some(&c.id) {
            m::LOGS_IN.as_str()
        } else {
            ""
        };
        println!("  {} ({}){login}", c.purpose, c.id);
        println!("    SHA-256: {}", c.sha256);
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
                "    {}",
                m::UNREADABLE.with(&[(
                    "problem",
                    &c.details["unreadable"]
                        .as_str()
                        .unwrap_or(m::UNKNOWN_ERROR.as_str())
                )])
            ),
        }
    }
    if let Some(problem) = &report.problem {
        eprintln!();
        eprintln!("{problem}");
    }
    code
}

/// Labels of the card's lines, padded to the longest in the run's language.
const LABELS: [Msg; 7] = [
    m::LABEL_BACKEND,
    m::LABEL_READER,
    m::LABEL_MODULE,
    m::LABEL_APPLICATION,
    m::LABEL_CARD_ID,
    m::LABEL_PIN_CHECK,
    m::LABEL_LOGIN,
];

/// The card, its PIN and its login key in words.
fn show_card(report: &CardReport) {
    let width = LABELS
        .iter()
        .map(|l| l.as_str().chars().count() + 1)
        .max()
        .unwrap_or(15);
    let line = |label: &str, value: &dyn std::fmt::Display| {
        println!("{label:<width$}{value}");
    };
    line(m::LABEL_BACKEND.as_str(), &report.card.backend);
    if let Some(reader) = &report.card.reader {
        line(m::LABEL_READER.as_str(), reader);
    }
    if let Some(atr) = &report.card.atr {
        line("ATR:", atr);
    }
    if let Some(token) = &report.card.token {
        line(m::LABEL_MODULE.as_str(), &token.module);
        let shown = format!("{} ({}, {})", token.label, token.manufacturer, token.model);
        line("Token:", &shown);
    } else {
        line(
            m::LABEL_APPLICATION.as_str(),
            &report.card.application.to_uppercase(),
        );
    }
    if let Some(id) = &report.card.card_id {
        line(m::LABEL_CARD_ID.as_str(), id);
    }
    line("PIN:", &pin_words(&report.pin));
    if let Some(check) = &report.pin_check {
        let said = if check.accepted {
            m::PIN_RIGHT
        } else {
            m::PIN_WRONG
        };
        line(m::LABEL_PIN_CHECK.as_str(), &said.as_str());
    }
    if let Some(key) = &report.login_key {
        let tls = match key.tls {
            Some(TlsMode::Tls13) => "TLS 1.3",
            Some(TlsMode::Tls12Pkcs1) => m::TLS12_PKCS1.as_str(),
            None => m::NO_TLS.as_str(),
        };
        line(m::LABEL_LOGIN.as_str(), &tls);
    }
}

fn pin_words(pin: &PinReport) -> String {
    let state = match pin.state {
        PinState::Blocked => m::PIN_STATE_BLOCKED.text(),
        PinState::Verified => m::PIN_STATE_VERIFIED.text(),
        PinState::TriesLeft(1) | PinState::FinalTry => m::PIN_STATE_LAST_TRY.text(),
        PinState::TriesLeft(n) => m::PIN_STATE_TRIES_LEFT.with(&[("n", &n)]),
        PinState::CountLow => m::PIN_STATE_COUNT_LOW.text(),
        PinState::Unknown => m::PIN_STATE_UNKNOWN.text(),
    };
    match pin.entry {
        PinEntry::PinPad => m::PIN_ON_PAD.with(&[("state", &state)]),
        PinEntry::Middleware => m::PIN_BY_MIDDLEWARE.with(&[("state", &state)]),
        PinEntry::NotNeeded => m::PIN_NOT_NEEDED.text(),
        PinEntry::Keyboard { .. } => state,
    }
}
