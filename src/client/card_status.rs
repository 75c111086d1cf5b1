//! What a front end shows of the card before any PIN is typed: no smart-card service, no
//! reader, "insert your card", or the card's holder, the login certificate's verdict with its
//! days left, and the PIN tries left (read without spending one).
//!
//! [`read`] is the edge: it asks the smart-card stack and the card the same way `card`,
//! `doctor` and `connect` do (`cli::card_open`), so the window and the command line never
//! disagree about a card. [`summarize`] is the pure part: the judged certificate and PIN state
//! to what is shown.

use time::OffsetDateTime;

use crate::card::credential::{Backend, PinEntry, PinState};
use crate::card::pcsc;
use crate::cert::{AuthPolicy, Inspection, Level};
use crate::cli::card::certificate_refused;
use crate::cli::card_open::{judge, open, CardOptions};
use crate::cli::credential_words::explain_key;
use crate::cli::failure::Failure;
use crate::client::settings::ClientSettings;

/// The card as a front end shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum CardStatus {
    /// The smart-card service does not answer: why, and what to do.
    NoService(Failure),
    /// The service answers, but no reader is connected.
    NoReader,
    /// Readers, but no card in any of them.
    NoCard,
    /// A card whose login certificate can log in.
    Ready(CardSummary),
    /// A card that cannot log in, or could not be read: why, and what to do.
    Unusable(Failure),
}

/// A card that can log in, as far as can be told without its PIN.
#[derive(Debug, Clone, PartialEq)]
pub struct CardSummary {
    /// The holder's name (the certificate's common name).
    pub holder: String,
    /// The certificate's level.
    pub level: Level,
    /// When the certificate ends.
    pub not_after: OffsetDateTime,
    /// Whole days until it ends (0 on its last day).
    pub days_left: i64,
    /// A TEST certificate (accepted only in a test environment).
    pub test_certificate: bool,
    /// What to know even so (it ends soon...), in words.
    pub warnings: Vec<String>,
    /// The PIN's state: tries left, blocked, unknown.
    pub pin: PinState,
    /// How the PIN is entered: keyboard, the reader's PIN pad, the middleware's own dialog.
    pub pin_entry: PinEntry,
    /// Which backend reaches the card.
    pub backend: Backend,
}

impl CardSummary {
    /// The PIN can be tried now (not blocked).
    pub fn pin_usable(&self) -> bool {
        self.pin != PinState::Blocked
    }
}

/// Reads the card's state now; spends no PIN try and sends no PIN.
pub fn read(
    options: &CardOptions,
    remembered: &ClientSettings,
    policy: &AuthPolicy,
    now: OffsetDateTime,
) -> CardStatus {
    let backend = options.backend.or(remembered.backend).unwrap_or_default();
    // A PKCS#11 module or the Windows store finds its own tokens; the PC/SC backends are
    // asked about readers first, so "insert your card" comes without opening anything.
    if matches!(backend, Backend::Auto | Backend::Piv) {
        if let Some(status) = reader_state(options.reader.as_deref()) {
            return status;
        }
    }
    let (mut session, backend) = match open(options, remembered) {
        Ok(opened) => (opened.session, opened.backend),
        Err(f) => return CardStatus::Unusable(f),
    };
    let judged = match judge(session.as_mut(), policy, now, options.cert.as_deref()) {
        Ok(j) => j,
        Err(f) => return CardStatus::Unusable(f),
    };
    let inspection = match judged.login() {
        Ok((_, Some(inspection))) => inspection.clone(),
        Ok((_, None)) => {
            return CardStatus::Unusable(crate::cli::card_words::no_login_certificate())
        }
        Err(f) => return CardStatus::Unusable(f),
    };
    let pin = match session.pin_state() {
        Ok(p) => p,
        Err(e) => return CardStatus::Unusable(explain_key(&e)),
    };
    summarize(&inspection, pin, session.pin_entry(), backend, now)
}

/// The readers as the service sees them; `None` when a card is in the wanted reader (or any,
/// when none is named), so the card is to be opened.
fn reader_state(wanted: Option<&str>) -> Option<CardStatus> {
    let ctx = match pcsc::establish() {
        Ok(ctx) => ctx,
        Err(e) => {
            return Some(CardStatus::NoService(
                crate::cli::card_words::explain_transport(&e),
            ))
        }
    };
    let readers = match pcsc::list_readers(&ctx) {
        Ok(r) => r,
        Err(e) => {
            return Some(CardStatus::NoService(
                crate::cli::card_words::explain_transport(&e),
            ))
        }
    };
    if readers.is_empty() {
        return Some(CardStatus::NoReader);
    }
    let present = readers
        .iter()
        .filter(|r| wanted.is_none_or(|w| r.name.contains(w)))
        .any(|r| r.card_present);
    (!present).then_some(CardStatus::NoCard)
}

/// What is shown of a judged login certificate and its PIN state.
pub fn summarize(
    inspection: &Inspection,
    pin: PinState,
    pin_entry: PinEntry,
    backend: Backend,
    now: OffsetDateTime,
) -> CardStatus {
    if !inspection.verdict.usable {
        return CardStatus::Unusable(certificate_refused(inspection));
    }
    let facts = &inspection.facts;
    let warnings = inspection
        .verdict
        .warnings
        .iter()
        .map(|w| crate::cli::cert_words::warning(w, facts).message)
        .collect();
    CardStatus::Ready(CardSummary {
        holder: facts.common_name.clone().unwrap_or_default(),
        level: inspection.verdict.level,
        not_after: facts.not_after,
        days_left: (facts.not_after - now).whole_days().max(0),
        test_certificate: inspection.verdict.test_certificate,
        warnings,
        pin,
        pin_entry,
        backend,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::testutil::Builder;
    use time::macros::datetime;

    fn judged_at(now: OffsetDateTime) -> Inspection {
        let der = Builder::person().build().der;
        crate::cert::inspect_der(&der, &AuthPolicy::default(), now, None).unwrap()
    }

    #[test]
    fn a_usable_certificate_gives_its_holder_and_days_left() {
        let now = datetime!(2026-12-02 12:00 UTC);
        let status = summarize(
            &judged_at(now),
            PinState::TriesLeft(2),
            PinEntry::Keyboard { min: 4, max: 8 },
            Backend::Piv,
            now,
        );
        let CardStatus::Ready(summary) = status else {
            panic!("usable: {status:?}")
        };
        assert_eq!(summary.holder, "KARI NORDMANN");
        assert_eq!(summary.pin, PinState::TriesLeft(2));
        // It ends 2027-01-01 00:00: 29 whole days and 12 hours away.
        assert_eq!(summary.days_left, 29);
        assert!(summary.pin_usable());
        assert!(
            !summary.warnings.is_empty(),
            "a month left is worth a warning"
        );
    }

    #[test]
    fn an_expired_certificate_is_a_failure_with_a_fix() {
        let now = datetime!(2027-02-01 00:00 UTC);
        let status = summarize(
            &judged_at(now),
            PinState::TriesLeft(3),
            PinEntry::PinPad,
            Backend::Piv,
            now,
        );
        let CardStatus::Unusable(failure) = status else {
            panic!("expired: {status:?}")
        };
        assert!(failure.fix.is_some(), "{failure:?}");
    }
}
