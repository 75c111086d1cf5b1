//! The card's part of `connect`: the pre-check before any PIN, the PIN asked once the way the
//! card wants it, the TLS version the key allows, and asking the PIN again (a person only)
//! when the card forgot it.

use time::OffsetDateTime;

use crate::card::credential::{
    CardCertificate, CardSession, KeyError, KeyKind, LoginKey, PinEntry, PinState, Presence,
    TlsMode,
};
use crate::cert::{self, AuthPolicy};
use crate::secret::Pin;
use crate::tunnel::tls::{CardSigner, SignerError};

use super::card::certificate_refused;
use super::card_open::{ask_certificate, judge};
use super::card_words::blocked;
use super::connect::{signer_failure, step, ConnectArgs};
use super::credential_words::explain_key;
use super::failure::Failure;
use super::prompt::{read_pin, SecretSource};

/// Reads and judges the card's certificates and picks the login one; refuses, before any
/// PIN is asked, a certificate that cannot log in and a blocked PIN.
pub(super) fn precheck(
    args: &ConnectArgs,
    session: &mut dyn CardSession,
    interactive: bool,
) -> Result<CardCertificate, Failure> {
    let policy = AuthPolicy {
        test_environment: args.test_environment,
        ..AuthPolicy::default()
    };
    let mut judged = judge(
        session,
        &policy,
        OffsetDateTime::now_utc(),
        args.card.cert.as_deref(),
    )?;
    ask_certificate(&mut judged, interactive)?;
    let (certificate, inspection) = judged.login()?;
    let inspection = match inspection {
        Some(i) => i,
        None => {
            let e = cert::inspect_der(&certificate.der, &policy, OffsetDateTime::now_utc(), None)
                .map_err(|e| super::cert_words::cert_error(&e, "kortet"))?;
            return Err(certificate_refused(&e));
        }
    };
    if !inspection.verdict.usable {
        return Err(certificate_refused(inspection));
    }
    let holder = inspection.facts.common_name.clone().unwrap_or_default();
    step(
        2,
        5,
        &format!(
            "Sertifikatet for {holder} kan brukes (nivå {}).",
            inspection.verdict.level
        ),
    );
    for w in &inspection.verdict.warnings {
        eprintln!(
            "      Merk: {}",
            super::cert_words::warning(w, &inspection.facts).message
        );
    }
    Ok(certificate.clone())
}

/// Asks the PIN once, the way the card wants it: typed (with the tries left in the prompt),
/// on the reader's PIN pad, or by the middleware's own dialog. A blocked card is never asked.
pub(super) fn ask_pin(
    session: &mut dyn CardSession,
    source: SecretSource,
) -> Result<Option<Pin>, Failure> {
    let state = session.pin_state().map_err(|e| explain_key(&e))?;
    if state == PinState::Blocked {
        return Err(blocked());
    }
    match session.pin_entry() {
        PinEntry::Keyboard { .. } => {
            let prompt = match state {
                PinState::TriesLeft(1) | PinState::FinalTry => {
                    "PIN (siste forsøk før kortet sperres): ".to_string()
                }
                PinState::TriesLeft(n) => format!("PIN ({n} forsøk igjen): "),
                PinState::CountLow => {
                    "PIN (feil PIN er tastet før; kortet sperres etter for mange): ".to_string()
                }
                _ => "PIN: ".to_string(),
            };
            read_pin(source, &prompt).map(Some)
        }
        PinEntry::PinPad => {
            eprintln!("      Tast PIN-koden på kortleseren.");
            Ok(None)
        }
        PinEntry::Middleware => {
            eprintln!("      Kortets mellomvare spør etter PIN-koden i et eget vindu.");
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
    pub(super) interactive: bool,
    pub(super) certificate: CardCertificate,
}

impl CardInUse {
    /// Takes the key back from its signer, asks the PIN once (only a person can answer), and
    /// starts a new signer. Never without a person: a script's PIN was used once already.
    pub(super) fn renew(&self, signer: &mut CardSigner) -> Result<(), Failure> {
        if !self.interactive {
            return Err(signer_failure(&SignerError::PinStateLost));
        }
        let mut session = signer
            .clone()
            .into_key()
            .map_err(|e| signer_failure(&e))?
            .relock();
        eprintln!("Kortet har glemt PIN-koden (det ble nullstilt). Skriv den inn på nytt.");
        let pin = ask_pin(session.as_mut(), SecretSource::Prompt)?;
        let key = session
            .login(&self.certificate, pin.as_ref())
            .map_err(|(_, e)| explain_key(&e))?;
        *signer = CardSigner::spawn(key, self.certificate.der.clone())
            .map_err(|(_, e)| signer_failure(&e))?;
        Ok(())
    }
}
