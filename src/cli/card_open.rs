//! Opening the card for `card`, `cert inspect --card` and `connect`, whichever backend holds
//! it: the options every card command shares, the backends tried in order, and the choice of
//! the login certificate with the certificate core's verdicts.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::card::choose::{choose_login, Candidate, Choice};
use crate::card::credential::{Backend, CardCertificate, CardSession};
use crate::card::identify::{identify, Application, IdentifyError};
use crate::card::pcsc::{self, PcscTransport};
use crate::card::piv_credential::PivSession;
use crate::card::pkcs11::{self, Pkcs11Options};
use crate::card::trace::TraceSink;
use crate::cert::{self, AuthPolicy, Inspection};
use crate::client::settings::{self, ClientSettings};

use super::card_words::{explain_transport, unknown_application};
use super::credential_words::{
    certificate_not_found, choose_certificate, explain_key, explain_pkcs11_open, no_pkcs11_module,
};
use super::failure::{exit, Failure};

/// How every card command reaches the card.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CardOptions {
    /// How to reach the card: `auto` tries PIV over PC/SC, then (on Windows) the certificate
    /// store, then PKCS#11 modules (Buypass Access / Net iD first, then OpenSC). Remembered
    /// after a successful login.
    #[arg(long, value_enum, value_name = "BACKEND")]
    pub backend: Option<Backend>,
    /// Reader to use (see `hjemmekontor readers`); for PKCS#11, the slot whose name contains
    /// this. Default: the first reader with a card.
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
    /// The PKCS#11 module to load (e.g. Buypass Access's iidp11). Default: the usual places,
    /// see docs/cards.md. Remembered after a successful login.
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    /// Log in with the certificate with this SHA-256 (hex, as `card` shows it), when the card
    /// has several that can.
    #[arg(long, value_name = "SHA256")]
    pub cert: Option<String>,
    /// Write every exchange with the card (APDUs, or PKCS#11 calls and their results) with
    /// timings to FILE, for support. The PIN never appears in it.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Test switch: use only PKCS#1 v1.5 signatures from a PKCS#11 token (TLS 1.2), as a
    /// token that can do nothing else would.
    #[arg(long, hide = true)]
    pub test_pkcs1_only: bool,
    /// Settings file (default: the user's configuration directory).
    #[arg(long, value_name = "FILE", hide = true)]
    pub settings: Option<PathBuf>,
}

impl CardOptions {
    /// The settings file in use, if any.
    pub fn settings_path(&self) -> Option<PathBuf> {
        self.settings.clone().or_else(settings::default_path)
    }

    /// The remembered settings (empty when there are none).
    pub fn remembered(&self) -> Result<ClientSettings, Failure> {
        match self.settings_path() {
            Some(p) => settings::load(&p).map_err(|e| settings_failure(&e)),
            None => Ok(ClientSettings::default()),
        }
    }

    /// The support trace, opened when `--trace` was given.
    pub fn trace_sink(&self) -> Result<Option<TraceSink>, Failure> {
        let Some(path) = &self.trace else {
            return Ok(None);
        };
        TraceSink::create(path).map(Some).map_err(|e| {
            Failure::new(
                "file-unwritable",
                exit::IO,
                crate::i18n::catalogue::common::TRACE_UNWRITABLE
                    .with(&[("path", &path.display()), ("error", &e)]),
            )
        })
    }
}

/// The settings file cannot be read, written or understood.
pub fn settings_failure(e: &settings::SettingsError) -> Failure {
    Failure::new(
        "settings",
        exit::USAGE,
        crate::i18n::catalogue::common::SETTINGS_UNUSABLE.with(&[("error", e)]),
    )
    .fix(crate::i18n::catalogue::common::SETTINGS_UNUSABLE_FIX.text())
}

/// The card opened with the backend that reached it.
pub struct Opened {
    /// The locked session.
    pub session: Box<dyn CardSession>,
    /// The backend that reached it (never `Auto`).
    pub backend: Backend,
    /// The PKCS#11 module, when that backend was used.
    pub module: Option<PathBuf>,
}

/// Opens the card: the backend asked for (or remembered), or each in `auto`'s order.
pub fn open(options: &CardOptions, remembered: &ClientSettings) -> Result<Opened, Failure> {
    let trace = options.trace_sink()?;
    let backend = options.backend.or(remembered.backend).unwrap_or_default();
    let module = options
        .pkcs11_module
        .clone()
        .or_else(|| remembered.pkcs11_module.clone());
    let try_one = |b: Backend| open_backend(b, options, module.as_ref(), trace.clone());
    if backend != Backend::Auto {
        return try_one(backend);
    }
    let mut failures = Vec::new();
    for &b in Backend::auto_order() {
        match try_one(b) {
            Ok(opened) => return Ok(opened),
            Err(f) => failures.push(f),
        }
    }
    Err(most_telling(failures))
}

/// Of the backends' failures in `auto`, the one that says most: a later backend's real
/// problem (a PIN, a broken module) over "nothing found there", else the first (PC/SC's:
/// no reader, no card, a card we cannot read).
fn most_telling(mut failures: Vec<Failure>) -> Failure {
    const NOTHING_THERE: &[&str] = &[
        "no-pkcs11-module",
        "no-pkcs11-token",
        "no-store-certificate",
    ];
    let substantive = failures
        .iter()
        .skip(1)
        .rposition(|f| !NOTHING_THERE.contains(&f.kind))
        .map(|i| i + 1);
    let index = substantive.unwrap_or(0);
    if failures.is_empty() {
        return no_pkcs11_module(&[]);
    }
    failures.swap_remove(index)
}

fn open_backend(
    backend: Backend,
    options: &CardOptions,
    module: Option<&PathBuf>,
    trace: Option<TraceSink>,
) -> Result<Opened, Failure> {
    let session: Box<dyn CardSession> = match backend {
        Backend::Auto | Backend::Piv => {
            let session = open_piv(options.reader.as_deref(), trace)?;
            return Ok(Opened {
                session,
                backend: Backend::Piv,
                module: None,
            });
        }
        Backend::Pkcs11 => {
            let (session, module) = open_pkcs11(options, module, trace)?;
            return Ok(Opened {
                session,
                backend: Backend::Pkcs11,
                module: Some(module),
            });
        }
        Backend::Windows => open_windows(options, trace)?,
    };
    Ok(Opened {
        session,
        backend,
        module: None,
    })
}

#[cfg(windows)]
fn open_windows(
    options: &CardOptions,
    trace: Option<TraceSink>,
) -> Result<Box<dyn CardSession>, Failure> {
    crate::card::windows_store::open(options.reader.as_deref(), trace)
        .map(|s| Box::new(s) as Box<dyn CardSession>)
        .map_err(|e| super::credential_words::explain_store_open(&e))
}

#[cfg(not(windows))]
fn open_windows(
    _options: &CardOptions,
    _trace: Option<TraceSink>,
) -> Result<Box<dyn CardSession>, Failure> {
    Err(super::credential_words::backend_unavailable(
        Backend::Windows,
    ))
}

/// A PIV card over PC/SC: the named reader, or the first with a card.
fn open_piv(
    reader: Option<&str>,
    trace: Option<TraceSink>,
) -> Result<Box<dyn CardSession>, Failure> {
    let ctx = pcsc::establish().map_err(|e| explain_transport(&e))?;
    let reader = choose_reader(&ctx, reader)?;
    let transport = PcscTransport::connect(&ctx, &reader).map_err(|e| explain_transport(&e))?;
    let transport = crate::card::trace::traced(Box::new(transport), trace);
    match identify(transport) {
        Ok(Application::Piv(piv)) => PivSession::new(piv, Some(reader))
            .map(|s| Box::new(s) as Box<dyn CardSession>)
            .map_err(|e| explain_key(&e)),
        Ok(Application::Buypass(beid)) => Err(buypass_failure(beid.tries_at_probe())),
        Err(IdentifyError::Card(e)) => Err(super::card_words::explain_piv(&e)),
        Err(IdentifyError::Unknown { buypass_like }) => Err(unknown_application(
            buypass_like.then_some(crate::i18n::catalogue::card::BUYPASS_LIKE.as_str()),
        )),
    }
}

/// A Buypass card over PC/SC: the way in is the middleware; the PIN tries read without
/// spending one are told as well, so an administrator sees a blocked card at once.
fn buypass_failure(tries: crate::card::beid::PinTries) -> Failure {
    use crate::card::beid::PinTries;
    let mut failure = super::card_words::buypass_needs_middleware();
    let told = match tries {
        PinTries::Left(1) => Some(crate::i18n::catalogue::card::BUYPASS_ONE_TRY.text()),
        PinTries::Left(n) => Some(crate::i18n::catalogue::card::BUYPASS_TRIES.with(&[("n", &n)])),
        PinTries::Blocked => Some(crate::i18n::catalogue::card::BUYPASS_BLOCKED.text()),
        PinTries::Verified | PinTries::Unknown(_) => None,
    };
    if let Some(told) = told {
        failure.message = format!("{} {told}", failure.message);
    }
    failure
}

/// A PKCS#11 token: the named module, or the first installed one that sees a card.
fn open_pkcs11(
    options: &CardOptions,
    module: Option<&PathBuf>,
    trace: Option<TraceSink>,
) -> Result<(Box<dyn CardSession>, PathBuf), Failure> {
    let modules: Vec<PathBuf> = match module {
        Some(m) => vec![m.clone()],
        None => pkcs11::installed_here()
            .into_iter()
            .map(|(_, p)| p)
            .collect(),
    };
    if modules.is_empty() {
        let tried: Vec<String> = pkcs11::known_modules(std::env::consts::OS)
            .iter()
            .map(|k| k.path.to_string())
            .collect();
        return Err(no_pkcs11_module(&tried));
    }
    let mut last = None;
    for module in modules {
        let opts = Pkcs11Options {
            module: module.clone(),
            token: options.reader.clone(),
            pkcs1_only: options.test_pkcs1_only,
            trace: trace.clone(),
        };
        match pkcs11::open(&opts) {
            Ok(session) => return Ok((Box::new(session), module)),
            Err(e) => last = Some(explain_pkcs11_open(&e)),
        }
    }
    Err(last.unwrap_or_else(|| no_pkcs11_module(&[])))
}

/// Picks the reader: the named one, else the first with a card.
pub fn choose_reader(ctx: &::pcsc::Context, wanted: Option<&str>) -> Result<String, Failure> {
    let readers = pcsc::list_readers(ctx).map_err(|e| explain_transport(&e))?;
    if readers.is_empty() {
        return Err(explain_transport(&crate::card::TransportError::NoReader));
    }
    if let Some(name) = wanted {
        return readers
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.name.clone())
            .ok_or_else(|| {
                explain_transport(&crate::card::TransportError::UnknownReader(name.into()))
            });
    }
    readers
        .iter()
        .find(|r| r.card_present)
        .map(|r| r.name.clone())
        .ok_or_else(|| match readers.as_slice() {
            [only] => explain_transport(&crate::card::TransportError::NoCard(only.name.clone())),
            many => {
                let names: Vec<&str> = many.iter().map(|r| r.name.as_str()).collect();
                Failure::new(
                    "no-card",
                    exit::NO_CARD,
                    crate::i18n::catalogue::card::NO_CARD_IN_ANY.with(&[(
                        "readers",
                        &names
                            .iter()
                            .map(|n| crate::i18n::catalogue::common::QUOTED.with(&[("text", n)]))
                            .collect::<Vec<_>>()
                            .join(", "),
                    )]),
                )
                .fix(crate::i18n::catalogue::card::INSERT_CARD.text())
            }
        })
}

/// Every certificate on the card, each judged, and which one logs in.
pub struct Judged {
    /// The certificates, in the backend's order.
    pub certificates: Vec<CardCertificate>,
    /// Each one's inspection, or why it cannot be read.
    pub inspections: Vec<Result<Inspection, String>>,
    /// The choice among them.
    pub choice: Choice,
}

impl Judged {
    /// The login certificate and its inspection, or the sentence saying why there is none.
    pub fn login(&self) -> Result<(&CardCertificate, Option<&Inspection>), Failure> {
        match &self.choice {
            Choice::One(i) | Choice::NoneUsable(Some(i)) => {
                Ok((&self.certificates[*i], self.inspections[*i].as_ref().ok()))
            }
            Choice::NoneUsable(None) => Err(super::card_words::no_login_certificate()),
            Choice::Several(_) => Err(choose_certificate(&self.listing())),
            Choice::NotFound(wanted) => Err(certificate_not_found(wanted, &self.listing())),
        }
    }

    /// `sha256 (name)` for each certificate, for messages.
    pub fn listing(&self) -> String {
        self.certificates
            .iter()
            .zip(&self.inspections)
            .map(|(c, i)| {
                let who = i
                    .as_ref()
                    .ok()
                    .and_then(|i| i.facts.common_name.clone())
                    .unwrap_or_else(|| c.label.clone());
                format!("{} ({who})", c.sha256())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads and judges every certificate at `at`, and chooses the login one.
pub fn judge(
    session: &mut dyn CardSession,
    policy: &AuthPolicy,
    at: OffsetDateTime,
    wanted: Option<&str>,
) -> Result<Judged, Failure> {
    let certificates = session.certificates().map_err(|e| explain_key(&e))?;
    let inspections: Vec<Result<Inspection, String>> = certificates
        .iter()
        .map(|c| cert::inspect_der(&c.der, policy, at, None).map_err(|e| e.to_string()))
        .collect();
    let hashes: Vec<String> = certificates.iter().map(CardCertificate::sha256).collect();
    let candidates: Vec<Candidate<'_>> = certificates
        .iter()
        .zip(&inspections)
        .zip(&hashes)
        .map(|((c, i), h)| Candidate {
            sha256: h,
            has_key: c.has_key,
            inspection: i.as_ref().ok(),
        })
        .collect();
    let choice = choose_login(
        &candidates,
        session.conventional_login(&certificates),
        wanted,
    );
    Ok(Judged {
        certificates,
        inspections,
        choice,
    })
}
