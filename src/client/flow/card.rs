//! The card's steps of the connection: the pre-check before any PIN, the PIN asked once the
//! way the card wants it, the TLS version the key allows, and asking the PIN again (a person
//! only) when the card forgot it.

use time::OffsetDateTime;

use crate::card::choose::Choice;
use crate::card::credential::{
    CardCertificate, CardSession, KeyError, KeyKind, LoginKey, PinEntry, PinState, Presence,
    TlsMode,
};
use crate::cert::{self, AuthPolicy};
use crate::cli::card::certificate_refused;
use crate::cli::card_open::{judge, Judged};
use crate::cli::card_words::blocked;
use crate::cli::credential_words::{choose_certificate, explain_key};
use crate::cli::failure::Failure;
use crate::secret::Pin;
use crate::tunnel::tls::{CardSigner, SignerError};

use super::words::signer_failure;
use super::{CertificateOption, FlowEvent, FlowUi, PinRequest};

/// Reads and judges the card's certificates and picks the login one; refuses, before any
/// PIN is asked, a certificate that cannot log in and a blocked PIN.
pub(super) fn precheck(
    session: &mut dyn CardSession,
    policy: &AuthPolicy,
    wanted: Option<&str>,
    ui: &dyn FlowUi,
) -> Result<CardCertificate, Failure> {
    let mut judged = judge(session, policy, OffsetDateTime::now_utc(), wanted)?;
    pick_certificate(&mut judged, ui)?;
    let (certificate, inspection) = judged.login()?;
    let inspection = match inspection {
        Some(i) => i,
        None => {
            let e = cert::inspect_der(&certificate.der, policy, OffsetDateTime::now_utc(), None)
                .map_err(|e| {
                    crate::cli::cert_words::cert_error(
                        &e,
                        crate::i18n::catalogue::cert::THE_CARD.as_str(),
                    )
                })?;
            return Err(certificate_refused(&e));
        }
    };
    if !inspection.verdict.usable {
        return Err(certificate_refused(inspection));
    }
    let warnings = inspection
        .verdict
        .warnings
        .iter()
        .map(|w| crate::cli::cert_words::warning(w, &inspection.facts).message)
        .collect();
    ui.event(&FlowEvent::CertificateUsable {
        holder: inspection.facts.common_name.clone().unwrap_or_default(),
        level: inspection.verdict.level,
        warnings,
    });
    Ok(certificate.clone())
}

/// With several usable certificates, the front end lets the person pick one; one that
/// cannot ask (a script) is told to use `--cert`.
fn pick_certificate(judged: &mut Judged, ui: &dyn FlowUi) -> Result<(), Failure> {
    let Choice::Several(options) = &judged.choice else {
        return Ok(());
    };
    let offered: Vec<CertificateOption> = options
        .iter()
        .map(|&i| CertificateOption {
            holder: judged.inspections[i]
                .as_ref()
                .ok()
                .and_then(|i| i.facts.common_name.clone())
                .unwrap_or_default(),
            label: judged.certificates[i].label.clone(),
            sha256: judged.certificates[i].sha256(),
        })
        .collect();
    let picked = ui
        .choose_certificate(&offered)?
        .and_then(|n| options.get(n).copied());
    match picked {
        Some(i) => {
            judged.choice = Choice::One(i);
            Ok(())
        }
        None => Err(choose_certificate(&judged.listing())),
    }
}

/// Asks the PIN once, the way the card wants it: typed (the front end is told the tries
/// left), on the reader's PIN pad, or by the middleware's own dialog. A blocked card is never
/// asked.
pub(super) fn ask_pin(
    session: &mut dyn CardSession,
    ui: &dyn FlowUi,
    again: bool,
) -> Result<Option<Pin>, Failure> {
    let state = session.pin_state().map_err(|e| explain_key(&e))?;
    if state == PinState::Blocked {
        return Err(blocked());
    }
    match session.pin_entry() {
        PinEntry::Keyboard { .. } => ui.pin(PinRequest { state, again }).map(Some),
        PinEntry::PinPad => {
            ui.event(&FlowEvent::PinOnPinPad);
            Ok(None)
        }
        PinEntry::Middleware => {
            ui.event(&FlowEvent::PinInMiddleware);
            Ok(None)
        }
        PinEntry::NotNeeded => Ok(None),
    }
}

/// The TLS version the key logs in with, or why it cannot.
pub(super) fn tls_mode(key: &dyn LoginKey) -> Result<TlsMode, Failure> {
    let kind: KeyKind = key.kind();
    key.mechanisms().tls_mode(kind).ok_or_else(|| {
        explain_key(&KeyError::Unsupported(format!(
            "{kind:?} uten en signatur TLS godtar"
        )))
    })
}

/// What it takes to ask for the PIN again when the card lost its verified state.
pub(super) struct CardInUse {
    pub(super) presence: Presence,
    pub(super) certificate: CardCertificate,
}

impl CardInUse {
    /// Takes the key back from its signer, asks the PIN once (only a person can answer), and
    /// starts a new signer. Never without a person: a script's PIN was used once already.
    pub(super) fn renew(&self, signer: &mut CardSigner, ui: &dyn FlowUi) -> Result<(), Failure> {
        if !ui.interactive() {
            return Err(signer_failure(&SignerError::PinStateLost));
        }
        let mut session = signer
            .clone()
            .into_key()
            .map_err(|e| signer_failure(&e))?
            .relock();
        ui.event(&FlowEvent::PinForgotten);
        let pin = ask_pin(session.as_mut(), ui, true)?;
        let key = session
            .login(&self.certificate, pin.as_ref())
            .map_err(|(_, e)| explain_key(&e))?;
        *signer = CardSigner::spawn(key, self.certificate.der.clone())
            .map_err(|(_, e)| signer_failure(&e))?;
        Ok(())
    }
}
