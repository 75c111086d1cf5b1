//! The card checks: the smart-card service, the readers, the card, the backend that will sign,
//! the login certificate, the PIN tries, and the signature test. Each is a function of what
//! the shell read (no PIN is ever involved before the signature test), in the words `readers`
//! and `card` use for the same problems.

use serde_json::json;

use super::CheckResult;
use crate::card::credential::{Backend, CardCertificate, CredentialInfo, PinEntry, PinState};
use crate::card::pcsc::ReaderInfo;
use crate::card::TransportError;
use crate::cert::{verdict::days_left, Inspection, Warning};
use crate::cli::card_words::{blocked, explain_transport, no_login_certificate};
use crate::cli::cert_words;
use crate::cli::output::date;
use crate::cli::Failure;
use crate::i18n::catalogue::doctor as m;

/// A login certificate this close to its end gets a warning.
pub const EXPIRY_WARNING_DAYS: u32 = 30;

/// Whether the smart-card service answered (`pcsc::establish`).
pub fn service_check(established: Result<(), &TransportError>) -> CheckResult {
    match established {
        Ok(()) => CheckResult::ok("smartcard-service", m::SERVICE_RUNS.text()),
        Err(e) => CheckResult::from_failure("smartcard-service", &explain_transport(e)),
    }
}

/// The readers the service sees (`pcsc::list_readers`), with their PIN pads.
pub fn readers_check(listed: Result<&[ReaderInfo], &TransportError>) -> CheckResult {
    let readers = match listed {
        Ok(r) if !r.is_empty() => r,
        Ok(_) => {
            return CheckResult::from_failure(
                "readers",
                &explain_transport(&TransportError::NoReader),
            )
        }
        Err(e) => return CheckResult::from_failure("readers", &explain_transport(e)),
    };
    let named: Vec<String> = readers
        .iter()
        .map(|r| match r.pin_pad {
            Some(true) => m::READER_WITH_PIN_PAD.with(&[("name", &r.name)]),
            _ => m::QUOTED.with(&[("name", &r.name)]),
        })
        .collect();
    let summary = match named.as_slice() {
        [one] => m::ONE_READER.with(&[("reader", one)]),
        many => m::MANY_READERS.with(&[("n", &many.len()), ("readers", &many.join(", "))]),
    };
    CheckResult::ok("readers", summary).details(json!({ "readers": readers }))
}

/// Whether a card sits in the reader (the named one, else any).
pub fn card_check(readers: &[ReaderInfo], wanted: Option<&str>) -> CheckResult {
    let candidates: Vec<&ReaderInfo> = match wanted {
        Some(name) => match readers.iter().find(|r| r.name == name) {
            Some(r) => vec![r],
            None => {
                let e = TransportError::UnknownReader(name.to_string());
                return CheckResult::from_failure("card", &explain_transport(&e));
            }
        },
        None => readers.iter().collect(),
    };
    let Some(reader) = candidates.iter().find(|r| r.card_present) else {
        return CheckResult::from_failure("card", &no_card(&candidates));
    };
    if reader.card_mute {
        return CheckResult::from_failure(
            "card",
            &explain_transport(&TransportError::Unresponsive),
        );
    }
    let atr = reader
        .atr
        .as_deref()
        .map(crate::card::apdu::hex_spaced)
        .unwrap_or_default();
    let details = json!({ "reader": reader.name, "atr": atr, "exclusive": reader.exclusive });
    if reader.exclusive {
        return CheckResult::from_failure("card", &explain_transport(&TransportError::Busy))
            .details(details);
    }
    CheckResult::ok(
        "card",
        m::CARD_IN.with(&[("reader", &reader.name), ("atr", &atr)]),
    )
    .details(details)
}

fn no_card(readers: &[&ReaderInfo]) -> Failure {
    match readers {
        [only] => explain_transport(&TransportError::NoCard(only.name.clone())),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|r| m::QUOTED.with(&[("name", &r.name)]))
                .collect();
            Failure::new(
                "no-card",
                crate::cli::failure::exit::NO_CARD,
                m::NO_CARD_IN_ANY.with(&[("readers", &names.join(", "))]),
            )
            .fix(m::NO_CARD_IN_ANY_FIX.text())
        }
    }
}

/// The application or token on the card and the backend that will sign, as `card_open`
/// found it (or its most telling failure).
pub fn application_check(opened: Result<&CredentialInfo, &Failure>) -> CheckResult {
    let info = match opened {
        Ok(info) => info,
        Err(failure) => return CheckResult::from_failure("card-application", failure),
    };
    let summary = match (&info.backend, &info.token) {
        (Backend::Pkcs11, Some(t)) => m::APP_PKCS11.with(&[
            ("label", &t.label),
            ("manufacturer", &t.manufacturer),
            ("model", &t.model),
            ("module", &t.module),
        ]),
        (Backend::Windows, _) => m::APP_WINDOWS.text(),
        _ => m::APP_PIV.with(&[
            ("application", &info.application.to_uppercase()),
            (
                "in_reader",
                &info
                    .reader
                    .as_deref()
                    .map_or(String::new(), |r| m::IN_READER.with(&[("reader", &r)])),
            ),
        ]),
    };
    CheckResult::ok("card-application", summary).details(json!(info))
}

/// The login certificate: level, verdict, days left, chain when roots were given.
pub fn certificate_check(
    login: Result<(&CardCertificate, Option<&Inspection>), &Failure>,
) -> CheckResult {
    let inspection = match login {
        Err(failure) => return CheckResult::from_failure("certificate", failure),
        Ok((_, None)) => return CheckResult::from_failure("certificate", &no_login_certificate()),
        Ok((_, Some(inspection))) => inspection,
    };
    let details = public_facts(inspection);
    if !inspection.verdict.usable {
        let refused = crate::cli::card::certificate_refused(inspection);
        return CheckResult::from_failure("certificate", &refused).details(details);
    }
    let f = &inspection.facts;
    let who = f.common_name.clone().unwrap_or_else(|| m::NO_NAME.text());
    let days = days_left(f.not_after, inspection.at);
    let chain = match &inspection.chain {
        Some(c) => m::CHAIN_TRUSTED.with(&[(
            "anchor",
            &c.anchor.clone().unwrap_or_else(|| m::THE_ROOT.text()),
        )]),
        None => m::CHAIN_UNCHECKED.text(),
    };
    let level = cert_words::level_words(inspection.verdict.level);
    let test = if inspection.verdict.test_certificate {
        m::TEST_CERTIFICATE.as_str()
    } else {
        ""
    };
    let notable: Vec<_> = inspection
        .verdict
        .warnings
        .iter()
        .filter(|w| {
            matches!(
                w,
                Warning::ExpiresSoon { .. }
                    | Warning::LevelUnconfirmed { .. }
                    | Warning::UnreadableExtensions { .. }
            )
        })
        .map(|w| cert_words::warning(w, f))
        .collect();
    let summary = m::CERTIFICATE_USABLE.with(&[
        ("who", &who),
        ("test", &test),
        ("level", &level),
        ("until", &date(f.not_after)),
        ("days", &days),
        ("chain", &chain),
    ]);
    if notable.is_empty() {
        return CheckResult::ok("certificate", summary).details(details);
    }
    let said: Vec<&str> = notable.iter().map(|s| s.message.as_str()).collect();
    let fixes: Vec<&str> = notable.iter().filter_map(|s| s.fix.as_deref()).collect();
    CheckResult::warning(
        "certificate",
        format!("{summary} {}", said.join(" ")),
        fixes.join(" "),
    )
    .details(details)
}

/// The certificate's public facts (what anyone it is shown to sees), for the JSON and the
/// support bundle.
pub fn public_facts(inspection: &Inspection) -> serde_json::Value {
    let f = &inspection.facts;
    json!({
        "subject": f.subject,
        "issuer": f.issuer,
        "serial": f.serial,
        "not_before": f.not_before.unix_timestamp(),
        "not_after": f.not_after.unix_timestamp(),
        "days_left": days_left(f.not_after, inspection.at),
        "level": inspection.verdict.level,
        "usable": inspection.verdict.usable,
        "test_certificate": inspection.verdict.test_certificate,
        "public_key": f.public_key,
        "sha256": f.sha256,
        "chain_trusted": inspection.chain.as_ref().map(|c| c.trusted),
    })
}

/// The PIN state read without spending a try, and how the PIN is entered.
pub fn pin_check(state: Result<PinState, &Failure>, entry: PinEntry) -> CheckResult {
    let state = match state {
        Ok(s) => s,
        Err(failure) => return CheckResult::from_failure("pin", failure),
    };
    let how = match entry {
        PinEntry::PinPad => m::PIN_ON_READER.as_str(),
        PinEntry::Middleware => m::PIN_BY_MIDDLEWARE.as_str(),
        PinEntry::Keyboard { .. } | PinEntry::NotNeeded => "",
    };
    let details = json!({
        "state": state.name(),
        "tries_left": state.tries_left(),
        "entry": entry,
    });
    let result = match state {
        PinState::Blocked => CheckResult::from_failure("pin", &blocked()),
        PinState::TriesLeft(1) | PinState::FinalTry => CheckResult::warning(
            "pin",
            m::PIN_LAST_TRY.with(&[("how", &how)]),
            m::PIN_LAST_TRY_FIX.text(),
        ),
        PinState::TriesLeft(n) => {
            CheckResult::ok("pin", m::PIN_TRIES_LEFT.with(&[("n", &n), ("how", &how)]))
        }
        PinState::CountLow => CheckResult::warning(
            "pin",
            m::PIN_TRIED_WRONG.with(&[("how", &how)]),
            m::PIN_TRIED_WRONG_FIX.text(),
        ),
        PinState::Verified => CheckResult::ok("pin", m::PIN_VERIFIED.with(&[("how", &how)])),
        PinState::Unknown => CheckResult::ok("pin", m::PIN_UNKNOWN_TRIES.with(&[("how", &how)])),
    };
    result.details(details)
}

#[cfg(test)]
mod tests;
