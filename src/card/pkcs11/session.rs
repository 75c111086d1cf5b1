//! The PKCS#11 shell: a module loaded with `cryptoki`, one token, its certificates, login and
//! signing. Every call goes through [`Token::call`], which times it and writes it to the
//! support trace when one is asked for (never a PIN: `C_Login` is written without it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::mechanism::{self, ecdsa_to_der, key_error};
use crate::card::apdu::hex;
use crate::card::credential::{
    Backend, CardCertificate, CardSession, CredentialInfo, KeyError, KeyKind, LoginKey, Mechanisms,
    PinEntry, PinState, Presence, SignOp, TokenInfo,
};
use crate::card::trace::TraceSink;
use crate::secret::Pin;

/// How to open a token.
#[derive(Debug, Clone, Default)]
pub struct Pkcs11Options {
    /// The module to load.
    pub module: PathBuf,
    /// Pick the token whose slot description or label contains this (a reader name).
    pub token: Option<String>,
    /// Test switch: offer only PKCS#1 v1.5 (TLS 1.2) even when the token does more.
    pub pkcs1_only: bool,
    /// Support trace of every call.
    pub trace: Option<TraceSink>,
}

/// Why a token could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The module could not be loaded or initialised.
    #[error("the PKCS#11 module {module} cannot be loaded: {detail}")]
    Load {
        /// The module.
        module: PathBuf,
        /// What the loader or `C_Initialize` said.
        detail: String,
    },
    /// The module has no token (no card in any reader it serves).
    #[error("the PKCS#11 module {module} sees no card")]
    NoToken {
        /// The module.
        module: PathBuf,
    },
    /// A call failed while looking.
    #[error(transparent)]
    Call(#[from] KeyError),
}

/// The loaded module and the chosen token's slot, shared by the session and its key.
#[derive(Clone)]
struct Token {
    pkcs11: Pkcs11,
    slot: Slot,
    trace: Option<TraceSink>,
}

/// Runs one PKCS#11 call, timed and traced. `detail` must never hold a secret.
fn traced<T>(
    trace: Option<&TraceSink>,
    function: &str,
    detail: &str,
    f: impl FnOnce() -> cryptoki::error::Result<T>,
) -> Result<T, CkError> {
    let start = Instant::now();
    let result = f();
    if let Some(trace) = trace {
        let outcome = match &result {
            Ok(_) => "CKR_OK".to_string(),
            Err(CkError::Pkcs11(rv, _)) => format!("{rv:?}"),
            Err(e) => e.to_string(),
        };
        trace.call(function, detail, &outcome, start.elapsed());
    }
    result
}

impl Token {
    fn call<T>(
        &self,
        function: &str,
        detail: &str,
        f: impl FnOnce() -> cryptoki::error::Result<T>,
    ) -> Result<T, CkError> {
        traced(self.trace.as_ref(), function, detail, f)
    }

    fn present(&self) -> bool {
        self.call("C_GetSlotInfo", "", || self.pkcs11.get_slot_info(self.slot))
            .map(|i| i.token_present())
            .unwrap_or(false)
    }

    fn pin_state(&self) -> Result<PinState, KeyError> {
        let info = self
            .call("C_GetTokenInfo", "", || {
                self.pkcs11.get_token_info(self.slot)
            })
            .map_err(|e| key_error("C_GetTokenInfo", &e))?;
        Ok(if info.user_pin_locked() {
            PinState::Blocked
        } else if info.user_pin_final_try() {
            PinState::FinalTry
        } else if info.user_pin_count_low() {
            PinState::CountLow
        } else {
            PinState::Unknown
        })
    }
}

/// An opened token, nobody logged in.
pub struct Pkcs11Session {
    token: Token,
    session: Session,
    info: CredentialInfo,
    entry: PinEntry,
    pkcs1_only: bool,
}

/// Loads `options.module` and opens the first token with a card (or the one named).
pub fn open(options: &Pkcs11Options) -> Result<Pkcs11Session, OpenError> {
    let load = |detail: String| OpenError::Load {
        module: options.module.clone(),
        detail,
    };
    let trace = options.trace.as_ref();
    if let Some(t) = trace {
        t.note(&format!("PKCS#11 module {}", options.module.display()));
    }
    let pkcs11 = Pkcs11::new(&options.module).map_err(|e| load(e.to_string()))?;
    let init = CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK);
    match traced(trace, "C_Initialize", "CKF_OS_LOCKING_OK", || {
        pkcs11.initialize(init)
    }) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(load(e.to_string())),
    }
    let slots = traced(trace, "C_GetSlotList", "tokenPresent=true", || {
        pkcs11.get_slots_with_token()
    })
    .map_err(|e| key_error("C_GetSlotList", &e))?;
    let mut chosen = None;
    let mut others = Vec::new();
    for slot in slots {
        let slot_info = traced(trace, "C_GetSlotInfo", &slot.to_string(), || {
            pkcs11.get_slot_info(slot)
        })
        .map_err(|e| key_error("C_GetSlotInfo", &e))?;
        let token_info = traced(trace, "C_GetTokenInfo", &slot.to_string(), || {
            pkcs11.get_token_info(slot)
        })
        .map_err(|e| key_error("C_GetTokenInfo", &e))?;
        let wanted = options.token.as_deref().is_none_or(|w| {
            slot_info.slot_description().contains(w) || token_info.label().contains(w)
        });
        if chosen.is_none() && wanted && token_info.token_initialized() {
            chosen = Some((slot, slot_info, token_info));
        } else if token_info.token_initialized() {
            others.push(format!(
                "{}: {}",
                slot_info.slot_description().trim(),
                token_info.label().trim()
            ));
        }
    }
    let Some((slot, slot_info, token_info)) = chosen else {
        return Err(OpenError::NoToken {
            module: options.module.clone(),
        });
    };
    let token = Token {
        pkcs11,
        slot,
        trace: options.trace.clone(),
    };
    let session = token
        .call("C_OpenSession", "CKF_SERIAL_SESSION", || {
            token.pkcs11.open_ro_session(slot)
        })
        .map_err(|e| key_error("C_OpenSession", &e))?;
    let entry = if token_info.protected_authentication_path() {
        PinEntry::PinPad
    } else if !token_info.login_required() {
        PinEntry::NotNeeded
    } else {
        PinEntry::Keyboard {
            min: token_info.min_pin_length(),
            max: token_info.max_pin_length(),
        }
    };
    let info = CredentialInfo {
        backend: Backend::Pkcs11,
        reader: Some(slot_info.slot_description().trim().to_string()),
        atr: None,
        application: token_info.model().trim().to_string(),
        card_id: Some(token_info.serial_number().trim().to_string()),
        token: Some(TokenInfo {
            module: options.module.display().to_string(),
            slot: slot_info.slot_description().trim().to_string(),
            label: token_info.label().trim().to_string(),
            manufacturer: token_info.manufacturer_id().trim().to_string(),
            model: token_info.model().trim().to_string(),
            serial: token_info.serial_number().trim().to_string(),
            others,
        }),
    };
    Ok(Pkcs11Session {
        token,
        session,
        info,
        entry,
        pkcs1_only: options.pkcs1_only,
    })
}

impl Pkcs11Session {
    /// The module this token came from.
    pub fn module(&self) -> &Path {
        Path::new(
            self.info
                .token
                .as_ref()
                .map(|t| t.module.as_str())
                .unwrap_or_default(),
        )
    }

    fn objects(&self, class: ObjectClass) -> Result<Vec<ObjectHandle>, KeyError> {
        let template = [Attribute::Class(class)];
        self.token
            .call("C_FindObjects", &format!("CKA_CLASS={class}"), || {
                self.session.find_objects(&template)
            })
            .map_err(|e| key_error("C_FindObjects", &e))
    }

    fn ids_of(&self, class: ObjectClass) -> Result<Vec<Vec<u8>>, KeyError> {
        let mut ids = Vec::new();
        for handle in self.objects(class)? {
            let attrs = self
                .token
                .call("C_GetAttributeValue", "CKA_ID", || {
                    self.session.get_attributes(handle, &[AttributeType::Id])
                })
                .map_err(|e| key_error("C_GetAttributeValue", &e))?;
            for a in attrs {
                if let Attribute::Id(id) = a {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// The private key with `id`, visible once logged in.
    fn private_key(&self, id: &[u8]) -> Result<Option<(ObjectHandle, bool)>, KeyError> {
        let template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ];
        let found = self
            .token
            .call(
                "C_FindObjects",
                &format!("CKA_CLASS=CKO_PRIVATE_KEY CKA_ID={}", hex(id)),
                || self.session.find_objects(&template),
            )
            .map_err(|e| key_error("C_FindObjects", &e))?;
        let Some(&handle) = found.first() else {
            return Ok(None);
        };
        // A key that wants the PIN for every signature (CKA_ALWAYS_AUTHENTICATE). Tokens
        // that do not know the attribute do not have such keys.
        let always = self
            .token
            .call("C_GetAttributeValue", "CKA_ALWAYS_AUTHENTICATE", || {
                self.session
                    .get_attributes(handle, &[AttributeType::AlwaysAuthenticate])
            })
            .ok()
            .into_iter()
            .flatten()
            .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true)));
        Ok(Some((handle, always)))
    }

    /// The mechanisms this token offers for signing with a key of `kind`.
    pub fn mechanisms_for(&self, kind: KeyKind) -> Result<Mechanisms, KeyError> {
        let listed = self
            .token
            .call("C_GetMechanismList", "", || {
                self.token.pkcs11.get_mechanism_list(self.token.slot)
            })
            .map_err(|e| key_error("C_GetMechanismList", &e))?;
        Ok(mechanism::usable(&listed, kind, self.pkcs1_only))
    }

    /// `C_Login` as the user, once. A wrong PIN comes back with what the token's flags say
    /// about the tries left.
    fn log_in(&self, user: UserType, pin: Option<&Pin>) -> Result<(), KeyError> {
        let secret = pin.map(|p| AuthPin::from(String::from_utf8_lossy(p.expose()).into_owned()));
        let detail = match (user, pin) {
            (UserType::ContextSpecific, Some(_)) => "CKU_CONTEXT_SPECIFIC pin=REDACTED",
            (UserType::ContextSpecific, None) => "CKU_CONTEXT_SPECIFIC (PIN pad)",
            (_, Some(_)) => "CKU_USER pin=REDACTED",
            (_, None) => "CKU_USER (PIN pad)",
        };
        match self.token.call("C_Login", detail, || {
            self.session.login(user, secret.as_ref())
        }) {
            Ok(()) => Ok(()),
            Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => match self.token.pin_state()? {
                PinState::Blocked => Err(KeyError::PinBlocked),
                state => Err(KeyError::WrongPin {
                    tries_left: state.tries_left(),
                }),
            },
            Err(CkError::Pkcs11(RvError::PinLenRange | RvError::PinInvalid, _)) => {
                Err(KeyError::WrongPin {
                    tries_left: self.token.pin_state()?.tries_left(),
                })
            }
            Err(e) => Err(key_error("C_Login", &e)),
        }
    }
}

impl CardSession for Pkcs11Session {
    fn info(&self) -> &CredentialInfo {
        &self.info
    }

    fn certificates(&mut self) -> Result<Vec<CardCertificate>, KeyError> {
        let key_ids = self.ids_of(ObjectClass::PRIVATE_KEY)?;
        let public_ids = self.ids_of(ObjectClass::PUBLIC_KEY)?;
        // Tokens that keep private keys private until login (SoftHSM) show none: then the
        // key is looked for at login, and every certificate counts as having one.
        let keys_hidden = key_ids.is_empty();
        let mut out = Vec::new();
        for handle in self.objects(ObjectClass::CERTIFICATE)? {
            let attrs = self
                .token
                .call("C_GetAttributeValue", "CKA_VALUE CKA_ID CKA_LABEL", || {
                    self.session.get_attributes(
                        handle,
                        &[
                            AttributeType::CertificateType,
                            AttributeType::Value,
                            AttributeType::Id,
                            AttributeType::Label,
                        ],
                    )
                })
                .map_err(|e| key_error("C_GetAttributeValue", &e))?;
            let (mut der, mut id, mut label, mut x509) = (None, Vec::new(), String::new(), false);
            for a in attrs {
                match a {
                    Attribute::CertificateType(t) => x509 = t == CertificateType::X_509,
                    Attribute::Value(v) => der = Some(v),
                    Attribute::Id(v) => id = v,
                    Attribute::Label(v) => label = String::from_utf8_lossy(&v).into_owned(),
                    _ => {}
                }
            }
            let Some(der) = der.filter(|_| x509) else {
                continue;
            };
            let has_key = keys_hidden || key_ids.contains(&id) || public_ids.contains(&id);
            out.push(CardCertificate {
                id: hex(&id),
                label,
                der,
                has_key,
            });
        }
        Ok(out)
    }

    fn pin_state(&mut self) -> Result<PinState, KeyError> {
        self.token.pin_state()
    }

    fn pin_entry(&self) -> PinEntry {
        self.entry
    }

    fn mechanisms(&mut self, certificate: &CardCertificate) -> Result<Mechanisms, KeyError> {
        let kind = KeyKind::of_certificate(&certificate.der).map_err(KeyError::Unsupported)?;
        self.mechanisms_for(kind)
    }

    fn login(
        self: Box<Self>,
        certificate: &CardCertificate,
        pin: Option<&Pin>,
    ) -> Result<Box<dyn LoginKey>, (Box<dyn CardSession>, KeyError)> {
        let prepared = KeyKind::of_certificate(&certificate.der)
            .map_err(KeyError::Unsupported)
            .and_then(|kind| Ok((kind, self.mechanisms_for(kind)?)))
            .and_then(|(kind, mechanisms)| match (self.entry, pin) {
                (PinEntry::Keyboard { .. }, None) => Err(KeyError::WrongPin {
                    tries_left: self.token.pin_state()?.tries_left(),
                }),
                // A PIN the token could never take costs no try.
                (PinEntry::Keyboard { min, max }, Some(pin)) => {
                    pin.check_length(min, max)?;
                    Ok((kind, mechanisms))
                }
                _ => Ok((kind, mechanisms)),
            });
        let (kind, mechanisms) = match prepared {
            Ok(p) => p,
            Err(e) => return Err((self, e)),
        };
        if let Err(e) = self.log_in(UserType::User, pin) {
            return Err((self, e));
        }
        let found = crate::card::apdu::parse_hex(&certificate.id)
            .map_err(KeyError::Unsupported)
            .and_then(|id| self.private_key(&id))
            .and_then(|found| {
                found.ok_or_else(|| {
                    KeyError::Unsupported(format!(
                        "the token has no private key with id {}",
                        certificate.id
                    ))
                })
            });
        let (handle, always) = match found {
            Ok(found) => found,
            Err(e) => {
                let _ = self.token.call("C_Logout", "", || self.session.logout());
                return Err((self, e));
            }
        };
        // A key that wants the PIN again for its signature gets it once, for the first
        // signature of this login; later ones need the person again.
        let context_pin = match (always, self.entry) {
            (true, PinEntry::Keyboard { .. }) => pin.cloned().map(ContextPin::Typed),
            (true, _) => Some(ContextPin::PinPad),
            (false, _) => None,
        };
        Ok(Box::new(Pkcs11Key {
            session: *self,
            handle,
            kind,
            mechanisms,
            context_pin,
            always_authenticate: always,
            lost: false,
        }))
    }

    fn presence(&self, _certificate: &CardCertificate) -> Presence {
        let token = self.token.clone();
        Presence::Poll(Arc::new(move || token.present()))
    }
}

/// The PIN for one context-specific login (`CKA_ALWAYS_AUTHENTICATE` keys).
enum ContextPin {
    Typed(Pin),
    PinPad,
}

/// A logged-in token with the login certificate's private key.
pub struct Pkcs11Key {
    session: Pkcs11Session,
    handle: ObjectHandle,
    kind: KeyKind,
    mechanisms: Mechanisms,
    context_pin: Option<ContextPin>,
    always_authenticate: bool,
    lost: bool,
}

impl LoginKey for Pkcs11Key {
    fn kind(&self) -> KeyKind {
        self.kind
    }

    fn mechanisms(&self) -> Mechanisms {
        self.mechanisms
    }

    fn sign(&mut self, op: &SignOp) -> Result<Vec<u8>, KeyError> {
        if self.always_authenticate {
            match self.context_pin.take() {
                Some(ContextPin::Typed(pin)) => {
                    self.session.log_in(UserType::ContextSpecific, Some(&pin))?
                }
                Some(ContextPin::PinPad) => self.session.log_in(UserType::ContextSpecific, None)?,
                None => {
                    self.lost = true;
                    return Err(KeyError::PinStateLost);
                }
            }
        }
        let (mechanism, input) = mechanism::for_request(op)?;
        let token = &self.session.token;
        let detail = format!("{:?} {} bytes", mechanism.mechanism_type(), input.len());
        let signature = token
            .call("C_Sign", &detail, || {
                self.session.session.sign(&mechanism, self.handle, &input)
            })
            .map_err(|e| {
                let e = key_error("C_Sign", &e);
                if e.is_pin_state_lost() {
                    self.lost = true;
                }
                e
            })?;
        match op {
            SignOp::Ecdsa { .. } => ecdsa_to_der(&signature),
            _ => Ok(signature),
        }
    }

    fn pin_state_lost(&self) -> bool {
        self.lost
    }

    fn relock(self: Box<Self>) -> Box<dyn CardSession> {
        let session = self.session;
        let _ = session
            .token
            .call("C_Logout", "", || session.session.logout());
        Box::new(session)
    }
}
