//! Card-layer errors as sentences a user understands, each with what to do next.
//! One place, so `readers`, `card` and `connect` say the same thing the same way.

use crate::card::piv::PivError;
use crate::card::{ExchangeError, TransportError};
use crate::i18n::catalogue::{self as connect, card as m};

use super::failure::{exit, Failure};

/// Explains a transport failure.
pub fn explain_transport(e: &TransportError) -> Failure {
    match e {
        TransportError::NoService => {
            Failure::new("no-smartcard-service", exit::NO_CARD, m::NO_SERVICE.text()).fix(
                if cfg!(windows) {
                    m::NO_SERVICE_FIX_WINDOWS.text()
                } else {
                    m::NO_SERVICE_FIX.text()
                },
            )
        }
        TransportError::NoReader => Failure::new("no-reader", exit::NO_CARD, m::NO_READER.text())
            .fix(m::NO_READER_FIX.text()),
        TransportError::UnknownReader(name) => Failure::new(
            "unknown-reader",
            exit::NO_CARD,
            m::UNKNOWN_READER.with(&[("name", name)]),
        )
        .fix(m::UNKNOWN_READER_FIX.text()),
        TransportError::NoCard(reader) => Failure::new(
            "no-card",
            exit::NO_CARD,
            m::NO_CARD.with(&[("reader", reader)]),
        )
        .fix(m::INSERT_CARD.text()),
        TransportError::CardRemoved => {
            Failure::new("card-removed", exit::NO_CARD, m::CARD_REMOVED.text())
                .fix(m::CARD_REMOVED_FIX.text())
        }
        TransportError::CardReset => {
            Failure::new("card-reset", exit::NO_CARD, m::CARD_RESET.text())
                .fix(m::CARD_RESET_FIX.text())
        }
        TransportError::Busy => Failure::new("card-busy", exit::NO_CARD, m::CARD_BUSY.text())
            .fix(m::CARD_BUSY_FIX.text()),
        TransportError::Unresponsive => {
            Failure::new("card-mute", exit::NO_CARD, m::CARD_MUTE.text())
                .fix(m::CARD_MUTE_FIX.text())
        }
        TransportError::ReplayMismatch(what) => Failure::new(
            "replay-mismatch",
            exit::OTHER,
            m::REPLAY_MISMATCH.with(&[("what", what)]),
        ),
        TransportError::Other(what) => Failure::new(
            "smartcard-error",
            exit::OTHER,
            m::SMARTCARD_ERROR.with(&[("what", what)]),
        )
        .fix(if cfg!(windows) {
            m::SMARTCARD_ERROR_FIX_WINDOWS.text()
        } else {
            m::SMARTCARD_ERROR_FIX.text()
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
            m::CARD_PROTOCOL.with(&[("error", other)]),
        )
        .fix(m::CARD_PROTOCOL_FIX.text()),
        PivError::NotPiv(_) => unknown_application(None),
        PivError::WrongPin { tries_left } => wrong_pin(Some(*tries_left)),
        PivError::PinBlocked => blocked(),
        PivError::PinFormat(f) => super::prompt::pin_format_failure(f),
        PivError::PinStateLost => Failure::new(
            "pin-state-lost",
            exit::CARD_UNUSABLE,
            connect::PIN_STATE_LOST.text(),
        )
        .fix(connect::PIN_STATE_LOST_FIX.text()),
        PivError::PinRequired => {
            Failure::new("pin-required", exit::CARD_UNUSABLE, m::PIN_REQUIRED.text())
        }
        PivError::Malformed { object, problem } => Failure::new(
            "card-data-malformed",
            exit::CARD_UNUSABLE,
            m::DATA_MALFORMED.with(&[("object", object), ("problem", problem)]),
        )
        .fix(m::DATA_MALFORMED_FIX.text()),
        PivError::InputLength { .. } | PivError::Refused { .. } => Failure::new(
            "card-refused",
            exit::CARD_UNUSABLE,
            m::COMMAND_REFUSED.with(&[("error", e)]),
        )
        .fix(m::COMMAND_REFUSED_FIX.text()),
    }
}

/// A wrong PIN, with the tries left when the card tells.
pub fn wrong_pin(tries_left: Option<u8>) -> Failure {
    let message = match tries_left {
        Some(1) => m::WRONG_PIN_ONE_LEFT.text(),
        Some(n) => m::WRONG_PIN_TRIES_LEFT.with(&[("n", &n)]),
        None => m::WRONG_PIN.text(),
    };
    Failure::new("wrong-pin", exit::CARD_UNUSABLE, message).fix(m::WRONG_PIN_FIX.text())
}

/// The PIN is blocked: the one message every user of a blocked card must understand.
pub fn blocked() -> Failure {
    Failure::new("pin-blocked", exit::CARD_UNUSABLE, m::PIN_BLOCKED.text())
        .fix(m::PIN_BLOCKED_FIX.text())
}

/// The card answered, but with no application we can use.
pub fn unknown_application(hint: Option<&str>) -> Failure {
    let mut message = m::UNKNOWN_APPLICATION.text();
    if let Some(hint) = hint {
        message.push(' ');
        message.push_str(hint);
    }
    Failure::new("unknown-card-application", exit::CARD_UNUSABLE, message)
        .fix(m::UNKNOWN_APPLICATION_FIX.text())
}

/// The card has no certificate in the login slot.
pub fn no_login_certificate() -> Failure {
    Failure::new(
        "no-login-certificate",
        exit::CARD_UNUSABLE,
        m::NO_LOGIN_CERTIFICATE.text(),
    )
    .fix(m::NO_LOGIN_CERTIFICATE_FIX.text())
}

/// A Buypass card: recognised, but read through Buypass's own middleware (its signing
/// command is not public), so the fix is to install it and use the PKCS#11 backend.
pub fn buypass_needs_middleware() -> Failure {
    use crate::card::beid::{MIDDLEWARE, PKCS11_MODULE};
    let names: [(&str, &dyn std::fmt::Display); 2] =
        [("middleware", &MIDDLEWARE), ("module", &PKCS11_MODULE)];
    Failure::new(
        "buypass-needs-middleware",
        exit::CARD_UNUSABLE,
        m::BUYPASS_MIDDLEWARE.with(&names),
    )
    .fix(m::BUYPASS_MIDDLEWARE_FIX.with(&names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{with_lang, Lang};

    #[test]
    fn a_blocked_card_is_told_in_both_languages() {
        let nb = with_lang(Lang::Nb, blocked);
        assert_eq!(
            nb.message,
            "Kortet er sperret etter for mange feil PIN-forsøk."
        );
        let en = with_lang(Lang::En, || wrong_pin(Some(2)));
        assert_eq!(
            en.message,
            "Wrong PIN. You have 2 tries left before the card is blocked."
        );
        assert_eq!(en.kind, "wrong-pin");
        let buypass = with_lang(Lang::En, buypass_needs_middleware);
        assert!(
            buypass.fix.unwrap().contains("--backend pkcs11"),
            "{}",
            buypass.message
        );
    }
}
