//! Card-layer errors as sentences a user understands, each with what to do next.
//! One place, so `readers`, `card` and `connect` say the same thing the same way.

use crate::card::piv::PivError;
use crate::card::{ExchangeError, TransportError};

use super::failure::{exit, Failure};

/// Explains a transport failure.
pub fn explain_transport(e: &TransportError) -> Failure {
    match e {
        TransportError::NoService => Failure::new(
            "no-smartcard-service",
            exit::NO_CARD,
            "Smartkorttjenesten kjører ikke, så kortleseren kan ikke brukes.",
        )
        .fix(if cfg!(windows) {
            "Start tjenesten «Smart Card» (SCardSvr) i Tjenester, eller start maskinen på nytt."
        } else {
            "Start tjenesten: «sudo systemctl start pcscd» (installer pakken pcscd om den mangler)."
        }),
        TransportError::NoReader => Failure::new(
            "no-reader",
            exit::NO_CARD,
            "Fant ingen kortleser.",
        )
        .fix("Koble kortleseren til maskinen og prøv igjen. Kjør «hjemmekontor readers» for å se hva maskinen finner."),
        TransportError::UnknownReader(name) => Failure::new(
            "unknown-reader",
            exit::NO_CARD,
            format!("Fant ingen kortleser som heter «{name}»."),
        )
        .fix("Kjør «hjemmekontor readers» og bruk et av navnene derfra."),
        TransportError::NoCard(reader) => Failure::new(
            "no-card",
            exit::NO_CARD,
            format!("Det er ikke noe kort i kortleseren «{reader}»."),
        )
        .fix("Sett inn smartkortet (brikken inn og opp) og prøv igjen."),
        TransportError::CardRemoved => Failure::new(
            "card-removed",
            exit::NO_CARD,
            "Kortet ble tatt ut mens det var i bruk.",
        )
        .fix("Sett inn kortet igjen og prøv på nytt."),
        TransportError::CardReset => Failure::new(
            "card-reset",
            exit::NO_CARD,
            "Kortet ble nullstilt av et annet program.",
        )
        .fix("Prøv igjen. Skjer det ofte, lukk andre programmer som bruker kortet."),
        TransportError::Busy => Failure::new(
            "card-busy",
            exit::NO_CARD,
            "Et annet program bruker kortet alene.",
        )
        .fix("Lukk andre programmer som bruker kortet (for eksempel signeringsprogrammer) og prøv igjen."),
        TransportError::Unresponsive => Failure::new(
            "card-mute",
            exit::NO_CARD,
            "Kortet svarer ikke.",
        )
        .fix("Ta kortet ut og sett det inn igjen med brikken inn og opp. Svarer det fortsatt ikke, kan kortet være skadet."),
        TransportError::ReplayMismatch(what) => Failure::new(
            "replay-mismatch",
            exit::OTHER,
            format!("Opptaket av kortsamtalen stemmer ikke: {what}."),
        ),
        TransportError::Other(what) => Failure::new(
            "smartcard-error",
            exit::OTHER,
            format!("Smartkorttjenesten meldte en feil: {what}."),
        )
        .fix(if cfg!(windows) {
            "Prøv igjen. Hjelper ikke det, start tjenesten «Smart Card» (SCardSvr) eller maskinen på nytt."
        } else {
            "Prøv igjen. Hjelper ikke det, start tjenesten pcscd (eller maskinen) på nytt."
        }),
    }
}

/// Explains a PIV driver failure.
pub fn explain_piv(e: &PivError) -> Failure {
    match e {
        PivError::Exchange(ExchangeError::Transport(t)) => explain_transport(t),
        PivError::Exchange(other) => Failure::new(
            "card-protocol",
            exit::CARD_UNUSABLE,
            format!("Kortet svarte på en måte vi ikke forstår ({other})."),
        )
        .fix("Ta kortet ut og sett det inn igjen. Skjer det igjen, kontakt IT-støtte og legg ved utskriften fra «hjemmekontor -vv card»."),
        PivError::NotPiv(_) => unknown_application(None),
        PivError::WrongPin { tries_left } => wrong_pin(Some(*tries_left)),
        PivError::PinBlocked => blocked(),
        PivError::PinFormat(f) => super::prompt::pin_format_failure(f),
        PivError::PinStateLost => Failure::new(
            "pin-state-lost",
            exit::CARD_UNUSABLE,
            "Kortet ble nullstilt og husker ikke lenger PIN-koden.",
        )
        .fix("Koble til på nytt; du blir bedt om PIN igjen."),
        PivError::PinRequired => Failure::new(
            "pin-required",
            exit::CARD_UNUSABLE,
            "Kortet krever PIN for dette.",
        ),
        PivError::Malformed { object, problem } => Failure::new(
            "card-data-malformed",
            exit::CARD_UNUSABLE,
            format!("Data på kortet er ødelagt eller ukjent ({object}: {problem})."),
        )
        .fix("Kontakt IT-støtte; kortet må kanskje byttes."),
        PivError::InputLength { .. } | PivError::Refused { .. } => Failure::new(
            "card-refused",
            exit::CARD_UNUSABLE,
            format!("Kortet avviste en kommando ({e})."),
        )
        .fix("Ta kortet ut og sett det inn igjen. Skjer det igjen, kontakt IT-støtte."),
    }
}

/// A wrong PIN, with the tries left when the card tells.
pub fn wrong_pin(tries_left: Option<u8>) -> Failure {
    let message = match tries_left {
        Some(1) => "Feil PIN. Du har 1 forsøk igjen før kortet sperres.".to_string(),
        Some(n) => format!("Feil PIN. Du har {n} forsøk igjen før kortet sperres."),
        None => "Feil PIN. Kortet sperres etter for mange feil forsøk på rad.".to_string(),
    };
    Failure::new("wrong-pin", exit::CARD_UNUSABLE, message)
        .fix("Sjekk PIN-koden nøye før du prøver igjen. Vi prøver aldri PIN på nytt automatisk.")
}

/// The PIN is blocked: the one message every user of a blocked card must understand.
pub fn blocked() -> Failure {
    Failure::new(
        "pin-blocked",
        exit::CARD_UNUSABLE,
        "Kortet er sperret etter for mange feil PIN-forsøk.",
    )
    .fix("Lås opp kortet med PUK-koden fra kortutsteder (for Buypass: på buypass.no, «Lås opp kort»), eller bestill nytt kort.")
}

/// The card answered, but with no application we can use.
pub fn unknown_application(hint: Option<&str>) -> Failure {
    let mut message =
        "Kortet har ingen applikasjon hjemmekontor kjenner (verken PIV eller et støttet Buypass-kort)."
            .to_string();
    if let Some(hint) = hint {
        message.push(' ');
        message.push_str(hint);
    }
    Failure::new("unknown-card-application", exit::CARD_UNUSABLE, message).fix(
        "Sjekk at det er ditt personlige smartkort (nivå høyt) som står i leseren, og ikke for eksempel et bankkort.",
    )
}

/// The card has no certificate in the login slot.
pub fn no_login_certificate() -> Failure {
    Failure::new(
        "no-login-certificate",
        exit::CARD_UNUSABLE,
        "Kortet har ikke noe sertifikat for innlogging (på PIV-kort: PIV Authentication, 9A).",
    )
    .fix("Kontakt kortutstederen eller IT-støtte; kortet er ikke klargjort for innlogging.")
}

/// A Buypass card: recognised, but read through Buypass's own middleware (its signing
/// command is not public), so the fix is to install it and use the PKCS#11 backend.
pub fn buypass_needs_middleware() -> Failure {
    use crate::card::beid::{MIDDLEWARE, PKCS11_MODULE};
    Failure::new(
        "buypass-needs-middleware",
        exit::CARD_UNUSABLE,
        format!(
            "Dette er et Buypass-kort. Det leses gjennom Buypass sin mellomvare ({MIDDLEWARE}, \
             en utgave av Net iD, med PKCS#11-modulen {PKCS11_MODULE}), ikke direkte av hjemmekontor."
        ),
    )
    .fix(format!(
        "Installer {MIDDLEWARE} fra buypass.no og kjør kommandoen på nytt med «--backend pkcs11» \
         (og eventuelt «--pkcs11-module STI» til {PKCS11_MODULE} om den ikke finnes av seg selv)."
    ))
}
