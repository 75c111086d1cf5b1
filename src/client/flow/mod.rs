//! The connection flow as a library: card, certificate pre-check, PIN (once), username and
//! password, TLS to the gateway with the card's key, login, the local listener, re-checks,
//! reconnects and the card watch — the steps of `hjemmekontor connect`, driven by any front
//! end (the command line today, a window next) through [`FlowUi`]: prompts and progress are
//! callbacks, and every step's failure is a [`Failure`] with a sentence and a fix.

mod card;
mod session;
mod tunnel;
mod words;

pub use tunnel::launch_rdp;
pub use words::{session_failure, signer_failure};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::card::credential::{Backend, PinState};
use crate::cert::{self, AuthPolicy, Level};
use crate::cli::card_open::{open, CardOptions};
use crate::cli::credential_words::explain_key;
use crate::cli::failure::{exit, Failure};
use crate::client::posture::{LocalProbes, PostureFeed, ReportSource};
use crate::client::session::{Credentials, GatewayTarget};
use crate::client::settings::ClientSettings;
use crate::i18n::catalogue as m;
use crate::secret::{Password, Pin};
use crate::tunnel::protocol::{PostureNotice, TargetInfo};
use crate::tunnel::tls::CardSigner;
use tokio_util::sync::CancellationToken;

use card::{ask_pin, precheck, tls_mode, CardInUse};

/// What the person asked for: where to connect, with which card, and how.
#[derive(Debug, Clone)]
pub struct ConnectPlan {
    /// The gateway, with the roots its certificate must chain to.
    pub gateway: GatewayTarget,
    /// The username, when known (remembered or given); asked otherwise.
    pub username: Option<String>,
    /// The target id, when the person has several.
    pub target: Option<String>,
    /// The local address the remote-desktop program connects to.
    pub listen: SocketAddr,
    /// How to reach the card.
    pub card: CardOptions,
    /// Test environment: TEST certificates judged as production ones.
    pub test_environment: bool,
    /// One try, one answer: no reconnect, no waiting for a busy gateway.
    pub no_reconnect: bool,
    /// Start the remote-desktop program once the tunnel is up.
    pub launch: bool,
}

/// How the PIN is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinRequest {
    /// What the card says of its PIN (tries left), for the prompt.
    pub state: PinState,
    /// The card forgot a PIN it had: asked again, of a person only.
    pub again: bool,
}

/// One of several certificates that can log in, for the person to pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateOption {
    /// The holder's name.
    pub holder: String,
    /// The card's label for it.
    pub label: String,
    /// Its SHA-256, to pick it with `--cert` later.
    pub sha256: String,
}

/// Something the person is told while the flow runs.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowEvent {
    /// Step 1: the card is being read.
    ReadingCard,
    /// Step 2: the login certificate can be used; warnings in words (expiring soon...).
    CertificateUsable {
        /// The holder's name.
        holder: String,
        /// Its level.
        level: Level,
        /// What to know about it.
        warnings: Vec<String>,
    },
    /// The PIN is typed on the reader's PIN pad.
    PinOnPinPad,
    /// The card's middleware asks for the PIN in a window of its own.
    PinInMiddleware,
    /// Step 3: the card accepted the PIN.
    PinAccepted,
    /// The card signs only with PKCS#1 v1.5, so the tunnel uses TLS 1.2.
    Pkcs1Only,
    /// The card was reset and forgot the PIN; it is asked again.
    PinForgotten,
    /// Step 4: connecting to the gateway.
    Connecting {
        /// `host:port`.
        gateway: String,
    },
    /// A try failed and is repeated after `wait`.
    Retrying {
        /// What went wrong, in words.
        message: String,
        /// The wait before the next try.
        wait: Duration,
    },
    /// The first login through this gateway succeeded (the front end may remember it).
    FirstLogin {
        /// `host:port`.
        gateway: String,
        /// The username that logged in.
        username: String,
        /// The backend that reached the card.
        backend: Backend,
        /// The PKCS#11 module used, if any.
        module: Option<PathBuf>,
    },
    /// Step 5: logged in.
    LoggedIn {
        /// The person's name as the gateway knows it.
        display_name: String,
        /// TLS version and suite.
        tls: String,
    },
    /// Posture rules failed with `warn`: the person is let in, and told.
    PostureWarnings {
        /// The rules, with what to do.
        notices: Vec<PostureNotice>,
    },
    /// The tunnel is up: the remote-desktop program may connect.
    TunnelUp {
        /// Where it listens.
        listen: SocketAddr,
        /// The office PC.
        target: TargetInfo,
        /// The session, for support.
        session_id: String,
        /// The person's name.
        display_name: String,
    },
    /// The gateway refused one connection through the tunnel.
    StreamRefused {
        /// Its words.
        message: String,
    },
    /// One connection through the tunnel failed.
    StreamFailed {
        /// Why.
        reason: String,
    },
    /// The connection was lost; the flow reconnects while the card stays in.
    Reconnecting,
    /// The remote-desktop program was started.
    RdpStarted {
        /// Which.
        program: String,
    },
    /// The remote-desktop program could not be started; the person starts it.
    RdpNotStarted {
        /// Why, in words.
        error: String,
        /// What to do.
        fix: String,
    },
    /// The remote-desktop program ended.
    RdpExited {
        /// Its exit code (`None`: a signal ended it).
        code: Option<i32>,
        /// What to tell the person (where its output was kept, if it failed).
        sentence: String,
    },
    /// The tunnel closed, for this reason (`client-closed`, `card-removed`, ...).
    TunnelClosed {
        /// The reason's name.
        reason: String,
    },
}

/// What a front end gives the flow: somewhere to show progress, and a person (or a script)
/// to answer its questions. Each question is asked once; the flow never retries a PIN.
pub trait FlowUi: Send + Sync {
    /// Shows progress or a notice.
    fn event(&self, event: &FlowEvent);
    /// The PIN, typed on the keyboard.
    fn pin(&self, request: PinRequest) -> Result<Pin, Failure>;
    /// The username, when it is not known.
    fn username(&self) -> Result<String, Failure>;
    /// The password for `username`.
    fn password(&self, username: &str) -> Result<Password, Failure>;
    /// Picks one of several usable certificates (an index into `options`); `None` when no
    /// person can choose (a script is then told to use `--cert`).
    fn choose_certificate(&self, options: &[CertificateOption]) -> Result<Option<usize>, Failure>;
    /// Whether a person is there to answer (only a person is asked for the PIN again).
    fn interactive(&self) -> bool;
}

/// How the flow ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The person closed the tunnel (Ctrl-C, or the window closed).
    Closed,
}

/// Runs the whole connection: card, PIN, credentials, then sessions until the person stops
/// (`stop` is cancelled: Ctrl-C, a window's close button), the card is pulled, or something
/// fails that reconnecting cannot mend. The posture probes start first, so they run while the
/// card is read and the PIN typed.
pub fn connect(
    plan: &ConnectPlan,
    remembered: &ClientSettings,
    front: Arc<dyn FlowUi>,
    stop: CancellationToken,
) -> Result<Outcome, Failure> {
    let ui = &*front;
    let posture = PostureFeed::start(Arc::new(LocalProbes) as Arc<dyn ReportSource>);

    // 1. The card and its login certificate, judged before any PIN is asked.
    ui.event(&FlowEvent::ReadingCard);
    let opened = open(&plan.card, remembered)?;
    let (backend, module) = (opened.backend, opened.module.clone());
    let mut session = opened.session;
    let policy = AuthPolicy {
        test_environment: plan.test_environment,
        ..AuthPolicy::default()
    };
    let certificate = precheck(session.as_mut(), &policy, plan.card.cert.as_deref(), ui)?;

    // 2. PIN (once), username, password.
    let pin = ask_pin(session.as_mut(), ui, false)?;
    let username = match &plan.username {
        Some(u) => u.clone(),
        None => ui.username()?,
    };
    let password = ui.password(&username)?;
    let presence = session.presence(&certificate);
    let key = session
        .login(&certificate, pin.as_ref())
        .map_err(|(_, e)| explain_key(&e))?;
    drop(pin);
    ui.event(&FlowEvent::PinAccepted);
    let mut gateway = plan.gateway.clone();
    gateway.pkcs1_only = tls_mode(key.as_ref())? == crate::card::credential::TlsMode::Tls12Pkcs1;
    if gateway.pkcs1_only {
        ui.event(&FlowEvent::Pkcs1Only);
    }
    let mut signer =
        CardSigner::spawn(key, certificate.der.clone()).map_err(|(_, e)| signer_failure(&e))?;

    let runtime = crate::client::session::runtime()
        .map_err(|e| Failure::new("runtime", exit::OTHER, m::RUNTIME.with(&[("error", &e)])))?;
    let credentials = Credentials { username, password };
    let card = CardInUse {
        presence,
        certificate,
    };
    let run = session::Run {
        plan,
        gateway: &gateway,
        card: &card,
        credentials: &credentials,
        ui: &front,
        stop: &stop,
        first_login: FlowEvent::FirstLogin {
            gateway: gateway.address.clone(),
            username: credentials.username.clone(),
            backend,
            module,
        },
    };
    let outcome = runtime.block_on(run.sessions(&mut signer, posture));
    // Locked again: a PIV card is reset when the PC/SC connection closes, a token logged
    // out, so the verified PIN ends with us.
    if let Ok(key) = signer.into_key() {
        drop(key.relock());
    }
    outcome
}

/// The gateway at `address`, its certificate to be checked against the CA file `ca_path`.
pub fn gateway_target(address: &str, ca_path: &std::path::Path) -> Result<GatewayTarget, Failure> {
    let roots = std::fs::read(ca_path)
        .map_err(|e| {
            Failure::new(
                "file-unreadable",
                exit::IO,
                m::CA_UNREADABLE.with(&[("path", &ca_path.display()), ("error", &e)]),
            )
        })
        .and_then(|bytes| {
            cert::certificates_from_bytes(&bytes).map_err(|e| {
                Failure::new(
                    "bad-gateway-ca",
                    exit::USAGE,
                    m::CA_NOT_CERTIFICATE.with(&[("path", &ca_path.display()), ("error", &e)]),
                )
            })
        })?
        .into_iter()
        .map(rustls::pki_types::CertificateDer::from)
        .collect();
    GatewayTarget::new(address, roots).map_err(|_| {
        Failure::new(
            "bad-gateway",
            exit::USAGE,
            m::BAD_GATEWAY.with(&[("address", &address)]),
        )
        .fix(m::BAD_GATEWAY_FIX.text())
    })
}
