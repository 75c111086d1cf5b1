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
use crate::cli::output::norwegian_date;
use crate::cli::Failure;

/// A login certificate this close to its end gets a warning.
pub const EXPIRY_WARNING_DAYS: u32 = 30;

/// Whether the smart-card service answered (`pcsc::establish`).
pub fn service_check(established: Result<(), &TransportError>) -> CheckResult {
    match established {
        Ok(()) => CheckResult::ok("smartcard-service", "Smartkorttjenesten kjører."),
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
            Some(true) => format!("«{}» (med PIN-tastatur)", r.name),
            _ => format!("«{}»", r.name),
        })
        .collect();
    let summary = match named.as_slice() {
        [one] => format!("Kortleser: {one}."),
        many => format!("{} kortlesere: {}.", many.len(), many.join(", ")),
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
    CheckResult::ok("card", format!("Kort i «{}» (ATR {atr}).", reader.name)).details(details)
}

fn no_card(readers: &[&ReaderInfo]) -> Failure {
    match readers {
        [only] => explain_transport(&TransportError::NoCard(only.name.clone())),
        many => {
            let names: Vec<&str> = many.iter().map(|r| r.name.as_str()).collect();
            Failure::new(
                "no-card",
                crate::cli::failure::exit::NO_CARD,
                format!(
                    "Det er ikke noe kort i noen av kortleserne («{}»).",
                    names.join("», «")
                ),
            )
            .fix("Sett inn smartkortet (brikken inn og opp) og prøv igjen.")
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
        (Backend::Pkcs11, Some(t)) => format!(
            "Token «{}» ({} {}) gjennom PKCS#11-modulen {}; modulen signerer.",
            t.label, t.manufacturer, t.model, t.module
        ),
        (Backend::Windows, _) => {
            "Kortet nås gjennom Windows sitt sertifikatlager; Windows signerer.".to_string()
        }
        _ => format!(
            "{}-kort{}; hjemmekontor signerer selv med kortet (PIV over PC/SC).",
            info.application.to_uppercase(),
            info.reader
                .as_deref()
                .map_or(String::new(), |r| format!(" i «{r}»"))
        ),
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
    let who = f.common_name.as_deref().unwrap_or("(uten navn)");
    let days = days_left(f.not_after, inspection.at);
    let chain = match &inspection.chain {
        Some(c) => format!(
            "kjeden er godkjent til «{}»",
            c.anchor.as_deref().unwrap_or("rotsertifikatet")
        ),
        None => "kjeden er ikke kontrollert (oppgi --roots)".to_string(),
    };
    let level = cert_words::level_words(inspection.verdict.level);
    let test = if inspection.verdict.test_certificate {
        " (testsertifikat)"
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
    let summary = format!(
        "Sertifikatet for {who}{test}: {level}, kan brukes til innlogging, gyldig til {} ({days} dager igjen); {chain}.",
        norwegian_date(f.not_after)
    );
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
        PinEntry::PinPad => "; tastes på kortleseren",
        PinEntry::Middleware => "; mellomvaren spør selv etter den",
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
            format!("PIN-koden har bare 1 forsøk igjen før kortet sperres{how}."),
            "Vær helt sikker på PIN-koden neste gang. Usikker? Lås den opp eller bytt den med PUK-koden fra kortutstederen først.",
        ),
        PinState::TriesLeft(n) => {
            CheckResult::ok("pin", format!("PIN-koden har {n} forsøk igjen{how}."))
        }
        PinState::CountLow => CheckResult::warning(
            "pin",
            format!("Feil PIN-kode er tastet siden sist; kortet sier ikke hvor mange forsøk som er igjen{how}."),
            "Vær sikker på PIN-koden neste gang; kortet sperres etter for mange feil på rad.",
        ),
        PinState::Verified => CheckResult::ok("pin", format!("PIN-koden er godkjent i kortet nå{how}.")),
        PinState::Unknown => CheckResult::ok(
            "pin",
            format!("PIN-koden er ikke sperret så langt kortet sier; antall forsøk igjen er ukjent{how}."),
        ),
    };
    result.details(details)
}

#[cfg(test)]
mod tests;
