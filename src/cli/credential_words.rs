//! Credential-layer errors (any backend) as sentences with what to do next.

use crate::card::credential::KeyError;
use crate::card::pkcs11::{OpenError, Vendor};
use crate::i18n::catalogue::{self as connect, card as m};

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
            m::PIN_FORGOTTEN.text(),
        )
        .fix(connect::PIN_STATE_LOST_FIX.text()),
        KeyError::CardRemoved => explain_transport(&TransportError::CardRemoved),
        KeyError::Pkcs11 { function, detail } => Failure::new(
            "pkcs11-error",
            exit::CARD_UNUSABLE,
            m::PKCS11_ERROR.with(&[("function", function), ("detail", detail)]),
        )
        .fix(m::PKCS11_ERROR_FIX.text()),
        KeyError::Store(detail) => Failure::new(
            "certificate-store-error",
            exit::CARD_UNUSABLE,
            m::STORE_ERROR.with(&[("detail", detail)]),
        )
        .fix(m::STORE_ERROR_FIX.text()),
        KeyError::Unsupported(detail) => Failure::new(
            "key-unsupported",
            exit::CARD_UNUSABLE,
            m::KEY_UNSUPPORTED.with(&[("detail", detail)]),
        )
        .fix(m::KEY_UNSUPPORTED_FIX.text()),
    }
}

/// No PKCS#11 module was found in the usual places.
pub fn no_pkcs11_module(tried: &[String]) -> Failure {
    let tried = if tried.is_empty() {
        m::NO_KNOWN_PLACES.text()
    } else {
        tried.join(", ")
    };
    Failure::new(
        "no-pkcs11-module",
        exit::NO_CARD,
        m::NO_PKCS11_MODULE.with(&[("tried", &tried)]),
    )
    .fix(m::NO_PKCS11_MODULE_FIX.with(&[("product", &Vendor::NetId.product())]))
}

/// Opening a token failed.
pub fn explain_pkcs11_open(e: &OpenError) -> Failure {
    match e {
        OpenError::Load { module, detail } => Failure::new(
            "pkcs11-module-unusable",
            exit::USAGE,
            m::PKCS11_UNUSABLE.with(&[("module", &module.display()), ("detail", detail)]),
        )
        .fix(m::PKCS11_UNUSABLE_FIX.text()),
        OpenError::NoToken { module } => Failure::new(
            "no-pkcs11-token",
            exit::NO_CARD,
            m::NO_PKCS11_TOKEN.with(&[("module", &module.display())]),
        )
        .fix(m::NO_PKCS11_TOKEN_FIX.text()),
        OpenError::Call(k) => explain_key(k),
    }
}

/// A backend this build or this operating system does not have.
#[cfg(not(windows))]
pub fn backend_unavailable(backend: crate::card::credential::Backend) -> Failure {
    Failure::new(
        "backend-unavailable",
        exit::USAGE,
        m::BACKEND_WINDOWS_ONLY.with(&[("backend", &backend)]),
    )
    .fix(m::BACKEND_WINDOWS_ONLY_FIX.text())
}

/// Several certificates can log in and nobody chose.
pub fn choose_certificate(listing: &str) -> Failure {
    Failure::new(
        "choose-certificate",
        exit::USAGE,
        m::CHOOSE_CERTIFICATE.text(),
    )
    .fix(m::CHOOSE_CERTIFICATE_FIX.with(&[("listing", &listing)]))
}

/// `--cert` named a certificate the card does not have.
pub fn certificate_not_found(wanted: &str, listing: &str) -> Failure {
    Failure::new(
        "certificate-not-found",
        exit::USAGE,
        m::CERTIFICATE_NOT_FOUND.with(&[("wanted", &wanted)]),
    )
    .fix(m::CERTIFICATES_ON_CARD.with(&[("listing", &listing)]))
}

/// The Windows certificate store could not be used.
#[cfg(windows)]
pub fn explain_store_open(e: &crate::card::windows_store::StoreError) -> Failure {
    use crate::card::windows_store::StoreError;
    match e {
        StoreError::Open(detail) => Failure::new(
            "certificate-store-error",
            exit::OTHER,
            m::STORE_UNOPENED.with(&[("detail", detail)]),
        )
        .fix(m::STORE_UNOPENED_FIX.text()),
        StoreError::NoCertificate => Failure::new(
            "no-store-certificate",
            exit::NO_CARD,
            m::NO_STORE_CERTIFICATE.text(),
        )
        .fix(m::NO_STORE_CERTIFICATE_FIX.text()),
    }
}
