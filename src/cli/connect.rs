//! `hjemmekontor connect`: the main job, as a thin shell around the connection flow
//! (`src/client/flow/`): the arguments become a plan, and this front end answers the flow's
//! questions on the terminal (or from `--pin-stdin`/`--pin-fd`...) and words its progress on
//! stderr, so stdout stays for `--json` events.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::card::credential::PinState;
use crate::client::flow::{self, CertificateOption, ConnectPlan, FlowEvent, FlowUi, PinRequest};
use crate::client::posture;
use crate::client::settings::{self, ClientSettings, DEFAULT_LISTEN};
use crate::i18n::catalogue as m;
use crate::secret::{Password, Pin};

use super::card_open::CardOptions;
use super::failure::{exit, Failure};
use super::output::print_json;
use super::prompt::{read_password, read_pin, SecretSource};

pub(super) use crate::client::flow::gateway_target;

/// Arguments of `hjemmekontor connect`.
#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// The gateway, HOST:PORT. Remembered after a successful login.
    #[arg(long, value_name = "HOST:PORT")]
    pub gateway: Option<String>,
    /// The gateway's CA certificate (PEM). Remembered after a successful login.
    #[arg(long, value_name = "FILE")]
    pub gateway_ca: Option<PathBuf>,
    /// Your username. Remembered after a successful login; asked when not known.
    #[arg(long)]
    pub username: Option<String>,
    /// Which of your machines to reach (its id), when you have more than one.
    #[arg(long, value_name = "ID")]
    pub target: Option<String>,
    /// Local address your remote-desktop program connects to.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// How to reach the card.
    #[command(flatten)]
    pub card: CardOptions,
    /// Start the system's remote-desktop program against the tunnel once it is up.
    #[arg(long)]
    pub launch: bool,
    /// Read the PIN from standard input (first line) instead of prompting.
    #[arg(long)]
    pub pin_stdin: bool,
    /// Read the PIN from this inherited file descriptor.
    #[arg(long, value_name = "FD")]
    pub pin_fd: Option<u32>,
    /// Read the password from standard input (the line after the PIN, if that comes too).
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the password from this inherited file descriptor.
    #[arg(long, value_name = "FD")]
    pub password_fd: Option<u32>,
    /// Test environment: accept TEST certificates as if production. Never for real users.
    #[arg(long)]
    pub test_environment: bool,
    /// Stop when the connection is lost instead of reconnecting, and do not wait for a busy
    /// gateway either: one try, one answer (for scripts and tests).
    #[arg(long)]
    pub no_reconnect: bool,
    /// Print events as JSON lines (tunnel up, closed) for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &ConnectArgs) -> ExitCode {
    match connect(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if args.json => {
            // JSON lines: the error is one more event on stdout.
            #[derive(Serialize)]
            struct Wrapped<'a> {
                error: &'a Failure,
            }
            print_json_line(&Wrapped { error: &failure });
            ExitCode::from(failure.exit_code)
        }
        Err(failure) => failure.report(false),
    }
}

/// Progress lines on stderr, so stdout stays for `--json`.
pub(super) fn step(n: u8, of: u8, text: &str) {
    eprintln!("[{n}/{of}] {text}");
}

fn connect(args: &ConnectArgs) -> Result<(), Failure> {
    let settings_path = args.card.settings_path();
    let remembered = args.card.remembered()?;
    let gateway_address = args
        .gateway
        .clone()
        .or_else(|| remembered.gateway.clone())
        .ok_or_else(|| {
            Failure::new("no-gateway", exit::USAGE, m::NO_GATEWAY.text())
                .fix(m::NO_GATEWAY_FIX.text())
        })?;
    let ca_path = args
        .gateway_ca
        .clone()
        .or_else(|| remembered.gateway_ca.clone())
        .ok_or_else(|| {
            Failure::new("no-gateway-ca", exit::USAGE, m::NO_GATEWAY_CA.text())
                .fix(m::NO_GATEWAY_CA_FIX.text())
        })?;
    let plan = ConnectPlan {
        gateway: gateway_target(&gateway_address, &ca_path)?,
        username: args
            .username
            .clone()
            .or_else(|| remembered.username.clone()),
        target: args.target.clone(),
        listen: args
            .listen
            .or(remembered.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default listener parses")),
        card: args.card.clone(),
        test_environment: args.test_environment,
        no_reconnect: args.no_reconnect,
        launch: args.launch,
    };
    let front: Arc<Terminal> = Arc::new(Terminal {
        json: args.json,
        pin: SecretSource::from_flags(args.pin_fd, args.pin_stdin),
        password: SecretSource::from_flags(args.password_fd, args.password_stdin),
        interactive: args.pin_fd.is_none() && !args.pin_stdin,
        connecting: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        remember: Mutex::new(Remember {
            settings: remembered.clone(),
            path: settings_path,
            ca_path,
        }),
    });
    // Ctrl-C stops the flow: once connecting, the flow closes the session and tells the
    // gateway why; before that (a prompt waiting), the program ends at once, as it always did.
    let stop = CancellationToken::new();
    let on_ctrl_c = stop.clone();
    let connecting = Arc::clone(&front.connecting);
    let watcher = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {
                        if !connecting.load(std::sync::atomic::Ordering::SeqCst) {
                            std::process::exit(130);
                        }
                        on_ctrl_c.cancel();
                    }
                    () = on_ctrl_c.cancelled() => {}
                }
            });
        });
    let outcome = flow::connect(&plan, &remembered, front, stop.clone());
    stop.cancel();
    if let Ok(watcher) = watcher {
        let _ = watcher.join();
    }
    outcome.map(|_| ())
}

/// What is remembered after the first login.
struct Remember {
    settings: ClientSettings,
    path: Option<PathBuf>,
    ca_path: PathBuf,
}

/// The terminal as the flow's front end.
struct Terminal {
    json: bool,
    pin: SecretSource,
    password: SecretSource,
    interactive: bool,
    /// Set once the flow connects: from then on Ctrl-C closes the session properly.
    connecting: Arc<std::sync::atomic::AtomicBool>,
    remember: Mutex<Remember>,
}

/// `--json` events on stdout.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
enum JsonEvent<'a> {
    TunnelUp {
        listen: SocketAddr,
        target: &'a str,
        target_name: &'a str,
        session_id: &'a str,
        display_name: &'a str,
    },
    TunnelClosed {
        reason: &'a str,
    },
    RdpExited {
        code: Option<i32>,
    },
}

impl FlowUi for Terminal {
    fn event(&self, event: &FlowEvent) {
        if matches!(event, FlowEvent::Connecting { .. }) {
            self.connecting
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        match event {
            FlowEvent::FirstLogin {
                gateway,
                username,
                backend,
                module,
            } => self.remember(gateway, username, *backend, module.clone()),
            FlowEvent::TunnelUp {
                listen,
                target,
                session_id,
                display_name,
            } if self.json => {
                print_json_line(&JsonEvent::TunnelUp {
                    listen: *listen,
                    target: &target.id,
                    target_name: &target.name,
                    session_id,
                    display_name,
                });
                super::connect_words::show(event);
            }
            FlowEvent::TunnelClosed { reason } if self.json => {
                print_json_line(&JsonEvent::TunnelClosed { reason });
            }
            FlowEvent::RdpExited { code, .. } if self.json => {
                super::connect_words::show(event);
                print_json_line(&JsonEvent::RdpExited { code: *code });
            }
            other => super::connect_words::show(other),
        }
    }

    fn pin(&self, request: PinRequest) -> Result<Pin, Failure> {
        let prompt = match request.state {
            PinState::TriesLeft(1) | PinState::FinalTry => m::ASK_PIN_LAST.text(),
            PinState::TriesLeft(n) => m::ASK_PIN_TRIES.with(&[("n", &n)]),
            PinState::CountLow => m::ASK_PIN_LOW.text(),
            _ => m::ASK_PIN.text(),
        };
        // Asked again only of a person, at the terminal: a script's PIN was used once.
        let source = if request.again {
            SecretSource::Prompt
        } else {
            self.pin
        };
        read_pin(source, &prompt)
    }

    fn username(&self) -> Result<String, Failure> {
        if !self.interactive {
            return Err(
                Failure::new("no-username", exit::USAGE, m::USERNAME_MISSING.text())
                    .fix(m::USERNAME_MISSING_FIX.text()),
            );
        }
        super::connect_words::ask_username()
    }

    fn password(&self, username: &str) -> Result<Password, Failure> {
        read_password(
            self.password,
            &m::ASK_PASSWORD.with(&[("username", &username)]),
        )
    }

    fn choose_certificate(&self, options: &[CertificateOption]) -> Result<Option<usize>, Failure> {
        if !self.interactive {
            return Ok(None);
        }
        super::connect_words::ask_certificate(options)
    }

    fn interactive(&self) -> bool {
        self.interactive
    }
}

impl Terminal {
    /// The gateway, its CA, the username and the card's backend, remembered after the first
    /// login so the next `connect` needs no flags.
    fn remember(
        &self,
        gateway: &str,
        username: &str,
        backend: crate::card::credential::Backend,
        module: Option<PathBuf>,
    ) {
        let mut r = self
            .remember
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.settings.gateway = Some(gateway.to_string());
        r.settings.gateway_ca = Some(r.ca_path.clone());
        r.settings.learn_login(username, backend, module);
        if let Some(p) = &r.path {
            if let Err(e) = settings::save(p, &r.settings) {
                tracing::warn!("could not remember the settings: {e}");
            }
        }
    }
}

fn print_json_line<T: Serialize>(value: &T) {
    if let Ok(line) = serde_json::to_string(value) {
        println!("{line}");
    } else {
        print_json(value);
    }
}

/// The posture notices as lines (used by the words module too).
pub(super) fn notices(notices: &[crate::tunnel::protocol::PostureNotice]) -> String {
    posture::notices_text(notices)
}
