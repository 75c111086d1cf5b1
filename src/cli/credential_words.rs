//! Credential-layer errors (any backend) as sentences with what to do next.

use crate::card::credential::KeyError;
use crate::card::pkcs11::{OpenError, Vendor};

use super::card_words::{blocked, explain_piv, explain_transport, wrong_pin};
use super::failure::{exit, Failure};
use crate::card::TransportError;

/// Explains a credential failure from any backend.
pub fn explain_key(e: &KeyError) -> Failure {
    match e {
        KeyError::Piv(p) => explain_piv(p),
        KeyError::WrongPin { tries_left } => wrong_pin(*tries_left),
        KeyError::PinBlocked => blocked(),
        KeyError::PinFormat(f) => super::prompt::pin_format_failure(f),
        KeyError::PinStateLost => Failure::new(
            "pin-state-lost",
            exit::CARD_UNUSABLE,
            "Kortet husker ikke lenger PIN-koden.",
        )
        .fix("Koble til på nytt; du blir bedt om PIN igjen."),
        KeyError::CardRemoved => explain_transport(&TransportError::CardRemoved),
        KeyError::Pkcs11 { function, detail } => Failure::new(
            "pkcs11-error",
            exit::CARD_UNUSABLE,
            format!("Kortets mellomvare (PKCS#11) meldte en feil i {function}: {detail}."),
        )
        .fix("Ta kortet ut og sett det inn igjen. Skjer det igjen, send IT-støtte sporingen fra «--trace FIL»."),
        KeyError::Store(detail) => Failure::new(
            "certificate-store-error",
            exit::CARD_UNUSABLE,
            format!("Windows sertifikatlager meldte en feil: {detail}."),
        )
        .fix("Sjekk at kortleseren og Buypass Access er installert, eller prøv --backend pkcs11."),
        KeyError::Unsupported(detail) => Failure::new(
            "key-unsupported",
            exit::CARD_UNUSABLE,
            format!("Nøkkelen på kortet kan ikke brukes til innlogging ({detail})."),
        )
        .fix("Kontakt IT-støtte med utskriften fra «hjemmekontor card»."),
    }
}

/// No PKCS#11 module was found in the usual places.
pub fn no_pkcs11_module(tried: &[String]) -> Failure {
    Failure::new(
        "no-pkcs11-module",
        exit::NO_CARD,
        format!(
            "Fant ingen kortmellomvare (PKCS#11-modul). Lette etter: {}.",
            if tried.is_empty() { "ingen kjente steder".to_string() } else { tried.join(", ") }
        ),
    )
    .fix(format!(
        "Installer {} (for Buypass-kort) eller OpenSC, eller oppgi modulen med --pkcs11-module FIL.",
        Vendor::NetId.product()
    ))
}

/// Opening a token failed.
pub fn explain_pkcs11_open(e: &OpenError) -> Failure {
    match e {
        OpenError::Load { module, detail } => Failure::new(
            "pkcs11-module-unusable",
            exit::USAGE,
            format!("Kortmellomvaren {} kan ikke lastes ({detail}).", module.display()),
        )
        .fix("Sjekk at filen er en PKCS#11-modul for denne maskinen (64-bit), eller installer mellomvaren på nytt."),
        OpenError::NoToken { module } => Failure::new(
            "no-pkcs11-token",
            exit::NO_CARD,
            format!("Kortmellomvaren {} ser ikke noe kort.", module.display()),
        )
        .fix("Sett inn smartkortet og prøv igjen. Kjør «hjemmekontor readers» for å se hva maskinen finner."),
        OpenError::Call(k) => explain_key(k),
    }
}

/// A backend this build or this operating system does not have.
#[cfg(not(windows))]
pub fn backend_unavailable(backend: crate::card::credential::Backend) -> Failure {
    Failure::new(
        "backend-unavailable",
        exit::USAGE,
        format!("Kortveien «{backend}» finnes bare på Windows."),
    )
    .fix("Bruk --backend auto, piv eller pkcs11.")
}

/// Several certificates can log in and nobody chose.
pub fn choose_certificate(listing: &str) -> Failure {
    Failure::new(
        "choose-certificate",
        exit::USAGE,
        "Kortet har flere sertifikater som kan brukes til innlogging.",
    )
    .fix(format!("Velg ett med --cert SHA256: {listing}."))
}

/// `--cert` named a certificate the card does not have.
pub fn certificate_not_found(wanted: &str, listing: &str) -> Failure {
    Failure::new(
        "certificate-not-found",
        exit::USAGE,
        format!("Kortet har ikke noe sertifikat med SHA-256 «{wanted}»."),
    )
    .fix(format!("Sertifikatene på kortet: {listing}."))
}

/// The Windows certificate store could not be used.
#[cfg(windows)]
pub fn explain_store_open(e: &crate::card::windows_store::StoreError) -> Failure {
    use crate::card::windows_store::StoreError;
    match e {
        StoreError::Open(detail) => Failure::new(
            "certificate-store-error",
            exit::OTHER,
            format!("Windows sertifikatlager kan ikke åpnes ({detail})."),
        )
        .fix("Start maskinen på nytt. Hjelper ikke det, prøv --backend pkcs11."),
        StoreError::NoCertificate => Failure::new(
            "no-store-certificate",
            exit::NO_CARD,
            "Fant ingen sertifikater med kortnøkkel i Windows sertifikatlager.",
        )
        .fix(
            "Sett inn kortet og vent til Buypass Access har lest det, eller prøv --backend pkcs11.",
        ),
    }
}
