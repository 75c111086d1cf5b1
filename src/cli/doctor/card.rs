//! The card half of `doctor`, as a shell: asks the smart-card stack and the card (through
//! `card_open`, as `card` and `connect` do), hands what it read to the checks in
//! `doctor::card`, and runs the signature test. Nothing here sends a PIN except the signature
//! test, which asks for it once and never again.

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use time::OffsetDateTime;

use crate::card::credential::{
    Backend, CardCertificate, CardSession, KeyKind, LoginKey, PinEntry, PinState,
};
use crate::card::pcsc;
use crate::cert::{self, AuthPolicy, ChainConfig};
use crate::client::settings::ClientSettings;
use crate::doctor::card::{
    application_check, card_check, certificate_check, pin_check, readers_check, service_check,
};
use crate::doctor::sign::{sign_challenge, sign_check, SignError, SignOutcome};
use crate::doctor::trace::Trace;
use crate::doctor::{CheckResult, Status};

use super::super::card_open::{judge, open, CardOptions};
use super::super::credential_words::explain_key;
use super::super::failure::{exit, Failure};
use super::super::prompt::{read_pin, SecretSource};
use crate::client::flow::signer_failure;
use crate::i18n::catalogue::{self, doctor as m};

/// A card whose login certificate can log in and whose PIN is not blocked: what the signature
/// test needs.
pub(super) struct Ready {
    session: Box<dyn CardSession>,
    certificate: CardCertificate,
}

/// The card checks' results as they come, shared with the thread that waits for them, so a
/// card that stops answering halfway still leaves the checks that were done.
#[derive(Clone, Default)]
pub(super) struct Shared(Arc<Mutex<Vec<CheckResult>>>);

impl Shared {
    fn push(&self, result: CheckResult) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(result);
    }

    /// The results so far.
    pub fn take(&self) -> Vec<CheckResult> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The ids of the card checks, in their order (to name the one that did not finish).
pub(super) const CARD_CHECKS: [&str; 6] = [
    "smartcard-service",
    "readers",
    "card",
    "card-application",
    "certificate",
    "pin",
];

/// What the card checks need besides the card options.
pub(super) struct CardPlan {
    /// How to reach the card.
    pub options: CardOptions,
    /// The remembered settings (backend, PKCS#11 module).
    pub remembered: ClientSettings,
    /// How certificates are judged.
    pub policy: AuthPolicy,
    /// Roots to check the login certificate's chain against, when given.
    pub chain: Option<ChainConfig>,
}

/// Runs the card checks into `results`, each step recorded in `trace`; stops at the first
/// that leaves nothing to look at. Returns the card when it is ready to sign.
pub(super) fn card_phase(
    plan: &CardPlan,
    now: OffsetDateTime,
    trace: &Trace,
    results: &Shared,
) -> Option<Ready> {
    let began = Instant::now();
    let ctx = pcsc::establish();
    trace.record(
        "smartcard-service",
        "establish a PC/SC context",
        began,
        said(&ctx),
    );
    results.push(service_check(ctx.as_ref().map(|_| ())));
    let ctx = ctx.ok()?;
    let began = Instant::now();
    let listed = pcsc::list_readers(&ctx);
    trace.record(
        "readers",
        "list readers",
        began,
        match &listed {
            Ok(r) => format!("{} reader(s)", r.len()),
            Err(e) => e.to_string(),
        },
    );
    results.push(readers_check(listed.as_deref()));
    let readers = listed.ok().filter(|r| !r.is_empty())?;
    drop(ctx);
    let backend = plan.options.backend.or(plan.remembered.backend);
    // For PKCS#11, `--reader` names a slot, not a PC/SC reader.
    let wanted = match backend {
        Some(Backend::Pkcs11) => None,
        _ => plan.options.reader.as_deref(),
    };
    let card = card_check(&readers, wanted);
    let present = card.status != Status::Fail;
    results.push(card);
    if !present {
        return None;
    }
    open_and_judge(plan, now, trace, results)
}

fn said<T, E: std::fmt::Display>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    }
}

/// Opens the card as `card` does, then judges its login certificate and reads its PIN state.
fn open_and_judge(
    plan: &CardPlan,
    now: OffsetDateTime,
    trace: &Trace,
    results: &Shared,
) -> Option<Ready> {
    let began = Instant::now();
    let opened = open(&plan.options, &plan.remembered);
    let what = format!(
        "open the card (backend {})",
        plan.options
            .backend
            .or(plan.remembered.backend)
            .unwrap_or_default()
    );
    trace.record(
        "card-application",
        &what,
        began,
        match &opened {
            Ok(o) => format!("opened with {}", o.backend),
            Err(f) => f.kind.to_string(),
        },
    );
    results.push(application_check(opened.as_ref().map(|o| o.session.info())));
    let mut session = opened.ok()?.session;
    let began = Instant::now();
    let judged = judge(
        session.as_mut(),
        &plan.policy,
        now,
        plan.options.cert.as_deref(),
    );
    trace.record(
        "certificate",
        "read and judge the certificates",
        began,
        match &judged {
            Ok(j) => format!("{} certificate(s)", j.certificates.len()),
            Err(f) => f.kind.to_string(),
        },
    );
    let certificate = match judged
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|j| j.login().map(|(c, _)| c.clone()))
    {
        Ok(c) => c,
        Err(f) => {
            results.push(certificate_check(Err(&f)));
            return None;
        }
    };
    let checked = check_login(plan, now, session.as_mut(), &certificate);
    let usable = checked.status != Status::Fail;
    results.push(checked);
    let began = Instant::now();
    let state = session.pin_state().map_err(|e| explain_key(&e));
    trace.record(
        "pin",
        "read the PIN state (no try spent)",
        began,
        match &state {
            Ok(s) => s.name().to_string(),
            Err(f) => f.kind.to_string(),
        },
    );
    results.push(pin_check(state.as_ref().copied(), session.pin_entry()));
    let blocked = matches!(state, Ok(PinState::Blocked) | Err(_));
    (usable && !blocked).then_some(Ready {
        session,
        certificate,
    })
}

/// The login certificate judged at `now`, with its chain when roots were given, and the TLS
/// version its key logs in with (a key TLS cannot use fails the check).
fn check_login(
    plan: &CardPlan,
    now: OffsetDateTime,
    session: &mut dyn CardSession,
    certificate: &CardCertificate,
) -> CheckResult {
    let inspection =
        cert::inspect_der(&certificate.der, &plan.policy, now, plan.chain.as_ref()).ok();
    let mut checked = certificate_check(Ok((certificate, inspection.as_ref())));
    let tls = tls_mode(session, certificate);
    if checked.status != Status::Fail && tls.is_none() {
        checked = CheckResult::fail(
            "certificate",
            m::KEY_CANNOT_SIGN_TLS.text(),
            m::KEY_CANNOT_SIGN_TLS_FIX.text(),
        )
        .details(checked.details);
    }
    if let serde_json::Value::Object(d) = &mut checked.details {
        d.insert("tls".into(), json!(tls));
    }
    checked
}

/// The TLS version the login key gives, as `card` shows it.
fn tls_mode(
    session: &mut dyn CardSession,
    certificate: &CardCertificate,
) -> Option<crate::card::credential::TlsMode> {
    let kind = KeyKind::of_certificate(&certificate.der).ok()?;
    session.mechanisms(certificate).ok()?.tls_mode(kind)
}

/// `--sign-test`: the PIN once, a signature over a random challenge, verified against the
/// certificate; the card is locked again after. Nothing is retried.
pub(super) fn sign_test(
    ready: Option<Ready>,
    source: SecretSource,
    bound: Duration,
    trace: &Trace,
) -> CheckResult {
    let Some(Ready {
        session,
        certificate,
    }) = ready
    else {
        return sign_check(&SignOutcome::NotRun(m::CARD_UNUSABLE.text()));
    };
    let key = match unlock(session, &certificate, source, bound, trace) {
        Ok(key) => key,
        Err(refused) => return sign_check(&SignOutcome::Refused(refused)),
    };
    let der = certificate.der;
    let began = Instant::now();
    let (signed, key) = sign_challenge(key, &der, bound);
    if let Some(key) = key {
        drop(key.relock());
    }
    let outcome = match signed {
        Ok(s) => SignOutcome::Verified(s),
        Err(SignError::Signer(e)) => SignOutcome::Refused(signer_failure(&e)),
        Err(SignError::Mismatch(why)) => SignOutcome::Mismatch(why),
    };
    trace.record(
        "sign-test",
        "sign a random challenge and verify it",
        began,
        match &outcome {
            SignOutcome::Verified(s) => format!("verified ({})", s.scheme),
            SignOutcome::Refused(f) => f.kind.to_string(),
            SignOutcome::Mismatch(why) => format!("does not verify: {why}"),
            SignOutcome::NotRun(_) => String::new(),
        },
    );
    sign_check(&outcome)
}

/// Asks the PIN the way the card takes it and sends it once, on a thread of its own so a
/// card that never answers cannot hang the command; the PIN is dropped (and wiped) as soon as
/// the card has answered.
fn unlock(
    session: Box<dyn CardSession>,
    certificate: &CardCertificate,
    source: SecretSource,
    bound: Duration,
    trace: &Trace,
) -> Result<Box<dyn LoginKey>, Failure> {
    let pin = match session.pin_entry() {
        PinEntry::Keyboard { .. } => Some(read_pin(source, m::SIGN_TEST_PIN.as_str())?),
        PinEntry::PinPad => {
            eprintln!("{}", catalogue::PIN_ON_PIN_PAD.text());
            None
        }
        PinEntry::Middleware | PinEntry::NotNeeded => None,
    };
    let (tx, rx) = mpsc::channel();
    let certificate = certificate.clone();
    let began = Instant::now();
    std::thread::Builder::new()
        .name("doctor-pin".into())
        .spawn(move || {
            let unlocked = session.login(&certificate, pin.as_ref());
            drop(pin);
            let _ = tx.send(unlocked.map_err(|(_, e)| e));
        })
        .map_err(|e| {
            Failure::new(
                "thread",
                exit::OTHER,
                catalogue::RUNTIME.with(&[("error", &e)]),
            )
        })?;
    let what = "verify the PIN (once)";
    match rx.recv_timeout(bound) {
        Ok(Ok(key)) => {
            trace.record("sign-test", what, began, "accepted");
            Ok(key)
        }
        Ok(Err(e)) => {
            let f = explain_key(&e);
            trace.record("sign-test", what, began, f.kind);
            Err(f)
        }
        Err(_) => {
            trace.record("sign-test", what, began, "no answer in time");
            Err(card_silent(bound))
        }
    }
}

fn card_silent(bound: Duration) -> Failure {
    Failure::new(
        "card-silent",
        exit::NO_CARD,
        m::CARD_SILENT.with(&[("bound", &bound.as_secs())]),
    )
    .fix(m::CARD_SILENT_FIX.text())
}
