//! `hjemmekontor connect`: the main job. Card, certificate pre-check, PIN (once), username and
//! password, TLS to the gateway with the card's key, login, and a local listener that carries
//! the remote-desktop client to the office PC. Pulling the card closes the tunnel; a lost
//! network is reconnected while the card stays in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::card::credential::TlsMode;
use crate::cert;
use crate::client::posture::{self, LocalProbes, PostureFeed, ReportSource};
use crate::client::session::{self, Credentials, GatewayTarget, SessionError, Tunnel};
use crate::client::settings::{self, DEFAULT_LISTEN};
use crate::tunnel::forward::{forward_listener, ForwardEvent, ForwardOptions};
use crate::tunnel::protocol::{ClientEndReason, Ending, GatewayEndReason, RejectCode, TargetInfo};
use crate::tunnel::tls::{CardSigner, SignerError};

use super::card_open::{open, CardOptions};
use super::card_watch::{card_pulled, watch_card, watch_failure, CardWatch};
use super::connect_card::{ask_pin, precheck, tls_mode, CardInUse};
use super::credential_words::explain_key;
use super::failure::{exit, Failure};
use super::output::print_json;
use super::prompt::{read_password, SecretSource};

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
        Ok(code) => code,
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

fn connect(args: &ConnectArgs) -> Result<ExitCode, Failure> {
    let settings_path = args.card.settings_path();
    let mut remembered = args.card.remembered()?;
    let gateway_address = args
        .gateway
        .clone()
        .or_else(|| remembered.gateway.clone())
        .ok_or_else(|| {
            Failure::new("no-gateway", exit::USAGE, "Det er ikke oppgitt noen gateway.")
                .fix("Oppgi den med --gateway VERT:PORT (du får adressen fra IT-ansvarlig). Den huskes etterpå.")
        })?;
    let ca_path = args.gateway_ca.clone().or_else(|| remembered.gateway_ca.clone()).ok_or_else(|| {
        Failure::new("no-gateway-ca", exit::USAGE, "Det er ikke oppgitt hvilket CA-sertifikat gatewayen bruker.")
            .fix("Oppgi filen med --gateway-ca FIL (du får den fra IT-ansvarlig). Den huskes etterpå.")
    })?;
    let gateway = gateway_target(&gateway_address, &ca_path)?;
    let listen = args
        .listen
        .or(remembered.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default listener parses"));

    // The posture probes run while the card is read and the PIN typed.
    let posture = PostureFeed::start(Arc::new(LocalProbes));

    // 1. The card and its login certificate, judged before any PIN is asked.
    step(1, 5, "Leser kortet …");
    let interactive = args.pin_fd.is_none() && !args.pin_stdin;
    let opened = open(&args.card, &remembered)?;
    let (backend, module) = (opened.backend, opened.module.clone());
    let mut session = opened.session;
    let certificate = precheck(args, session.as_mut(), interactive)?;

    // 2. PIN (once), username, password.
    let pin = ask_pin(
        session.as_mut(),
        SecretSource::from_flags(args.pin_fd, args.pin_stdin),
    )?;
    let username = match args
        .username
        .clone()
        .or_else(|| remembered.username.clone())
    {
        Some(u) => u,
        None if interactive => ask_username()?,
        None => {
            return Err(
                Failure::new("no-username", exit::USAGE, "Brukernavnet er ikke oppgitt.")
                    .fix("Oppgi det med --username NAVN."),
            )
        }
    };
    let password = read_password(
        SecretSource::from_flags(args.password_fd, args.password_stdin),
        &format!("Passord for {username}: "),
    )?;
    let presence = session.presence(&certificate);
    let key = session
        .login(&certificate, pin.as_ref())
        .map_err(|(_, e)| explain_key(&e))?;
    drop(pin);
    step(3, 5, "PIN godkjent av kortet.");
    let mut gateway = gateway;
    gateway.pkcs1_only = tls_mode(key.as_ref())? == TlsMode::Tls12Pkcs1;
    if gateway.pkcs1_only {
        eprintln!(
            "      Merk: kortet kan bare signere med PKCS#1 v1.5, så tunnelen bruker TLS 1.2."
        );
    }
    let mut signer =
        CardSigner::spawn(key, certificate.der.clone()).map_err(|(_, e)| signer_failure(&e))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new("runtime", exit::OTHER, format!("Kunne ikke starte: {e}.")))?;
    let credentials = Credentials { username, password };
    let card = CardInUse {
        presence,
        interactive,
        certificate,
    };
    let outcome = runtime.block_on(session_loop(
        args,
        &gateway,
        &mut signer,
        &card,
        &credentials,
        (listen, posture),
        |accepted_gateway| {
            remembered.gateway = Some(accepted_gateway.to_string());
            remembered.gateway_ca = Some(ca_path.clone());
            remembered.username = Some(credentials.username.clone());
            remembered.backend = Some(backend);
            if module.is_some() {
                remembered.pkcs11_module = module.clone();
            }
            if let Some(p) = &settings_path {
                if let Err(e) = settings::save(p, &remembered) {
                    tracing::warn!("could not remember the settings: {e}");
                }
            }
        },
    ));
    // Locked again: a PIV card is reset when the PC/SC connection closes, a token logged
    // out, so the verified PIN ends with us.
    if let Ok(key) = signer.into_key() {
        drop(key.relock());
    }
    outcome
}

/// The gateway at `address`, its certificate to be checked against the CA file `ca_path`.
pub(super) fn gateway_target(
    gateway_address: &str,
    ca_path: &std::path::Path,
) -> Result<GatewayTarget, Failure> {
    let roots = std::fs::read(ca_path)
        .map_err(|e| {
            Failure::new(
                "file-unreadable",
                exit::IO,
                format!("Kunne ikke lese {}: {e}.", ca_path.display()),
            )
        })
        .and_then(|bytes| {
            cert::certificates_from_bytes(&bytes).map_err(|e| {
                Failure::new(
                    "bad-gateway-ca",
                    exit::USAGE,
                    format!("{} er ikke et sertifikat: {e}.", ca_path.display()),
                )
            })
        })?
        .into_iter()
        .map(rustls::pki_types::CertificateDer::from)
        .collect();
    GatewayTarget::new(gateway_address, roots).map_err(|_| {
        Failure::new(
            "bad-gateway",
            exit::USAGE,
            format!("«{gateway_address}» er ikke en gateway-adresse."),
        )
        .fix("Skriv den som VERT:PORT, for eksempel hjemmekontor.kommune.no:443.")
    })
}

fn ask_username() -> Result<String, Failure> {
    use std::io::Write;
    eprint!("Brukernavn: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::new(
            "input",
            exit::USAGE,
            format!("Kunne ikke lese brukernavnet: {e}."),
        )
    })?;
    let name = line.trim().to_string();
    if name.is_empty() {
        return Err(Failure::new(
            "no-username",
            exit::USAGE,
            "Brukernavnet kan ikke være tomt.",
        ));
    }
    Ok(name)
}

/// How a run of the tunnel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ended {
    UserQuit,
    Card(CardWatch),
    ConnectionLost,
    /// The gateway ended the session (idle, lifetime, revoked) and said why: log in again.
    ByGateway(Ending),
}

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
}

async fn session_loop(
    args: &ConnectArgs,
    gateway: &GatewayTarget,
    signer: &mut CardSigner,
    card: &CardInUse,
    credentials: &Credentials,
    (listen, mut posture): (SocketAddr, PostureFeed),
    mut on_first_login: impl FnMut(&str),
) -> Result<ExitCode, Failure> {
    let (removed_tx, mut removed_rx) = mpsc::unbounded_channel();
    let watcher = watch_card(card.presence.clone(), removed_tx);
    let mut backoff = Duration::from_secs(1);
    let mut logged_in_once = false;
    let mut busy_tries = 0u32;
    let result = loop {
        step(4, 5, &format!("Kobler til gatewayen {} …", gateway.address));
        let report = posture.next().await;
        let tunnel = match session::open(gateway, signer, credentials, &report).await {
            Ok(t) => t,
            Err(SessionError::Card(e)) if e.needs_pin() => {
                // The card was reset: its verified PIN is gone. Ask once, never by ourselves.
                match tokio::task::block_in_place(|| card.renew(signer)) {
                    Ok(()) => continue,
                    Err(f) => break Err(f),
                }
            }
            Err(e) => {
                let failure = session_failure(&e);
                let busy_wait = busy_wait(&e);
                let retry = match busy_wait {
                    // A busy gateway is waited for a few times even before the first
                    // login: the card and the PIN are fine, and no PIN is sent again.
                    Some(_) => {
                        busy_tries += 1;
                        !args.no_reconnect && (logged_in_once || busy_tries <= BUSY_TRIES)
                    }
                    None => {
                        logged_in_once
                            && !args.no_reconnect
                            && matches!(
                                e,
                                SessionError::Unreachable { .. }
                                    | SessionError::Dropped { .. }
                                    | SessionError::Timeout { .. }
                                    | SessionError::Tls(_)
                                    | SessionError::Protocol(_)
                            )
                    }
                };
                if !retry {
                    break Err(failure);
                }
                let wait = busy_wait.map_or(backoff, |w| w.max(backoff));
                eprintln!(
                    "      {} Prøver igjen om {} s.",
                    failure.message,
                    wait.as_secs()
                );
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    Some(watch) = removed_rx.recv() => break Err(watch_failure(&watch)),
                    _ = tokio::signal::ctrl_c() => break Ok(ExitCode::SUCCESS),
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        busy_tries = 0;
        if !logged_in_once {
            logged_in_once = true;
            on_first_login(&gateway.address);
        }
        let target = match choose_target(&tunnel.accepted.targets, args.target.as_deref()) {
            Ok(t) => t.clone(),
            Err(f) if f.kind == "unknown-target" => {
                // The gateway decides, not the client: ask it (it refuses and records the
                // attempt), and show its answer.
                let wanted = args.target.clone().unwrap_or_default();
                let refusal = ask_gateway_for(&tunnel, &wanted).await;
                session::close(&tunnel, ClientEndReason::ClientClosed).await;
                break Err(refusal.unwrap_or(f));
            }
            Err(f) => {
                session::close(&tunnel, ClientEndReason::ClientClosed).await;
                break Err(f);
            }
        };
        step(
            5,
            5,
            &format!(
                "Innlogget som {} ({}).",
                tunnel.accepted.display_name, tunnel.tls
            ),
        );
        if !tunnel.accepted.posture_warnings.is_empty() {
            eprintln!("      Advarsel fra gatewayen om maskinen din (du slipper inn nå):");
            eprintln!(
                "{}",
                posture::notices_text(&tunnel.accepted.posture_warnings)
            );
        }
        let rechecks = posture.source();
        match run_tunnel(args, tunnel, &target, (listen, rechecks), &mut removed_rx).await {
            Ok(Ended::UserQuit) => break Ok(ExitCode::SUCCESS),
            Ok(Ended::Card(watch)) => break Err(watch_failure(&watch)),
            Ok(Ended::ConnectionLost) if args.no_reconnect => {
                break Err(Failure::new(
                    "connection-lost",
                    exit::OTHER,
                    "Forbindelsen til gatewayen ble brutt.",
                ))
            }
            Ok(Ended::ConnectionLost) => {
                eprintln!(
                    "Forbindelsen til gatewayen ble brutt. Kobler til igjen mens kortet står i …"
                );
            }
            Ok(Ended::ByGateway(ending)) => {
                let (kind, code, message) = if ending.failed_rules.is_empty() {
                    ("session-ended", exit::OTHER, ending.message)
                } else {
                    let rules = posture::notices_text(&ending.failed_rules);
                    (
                        "posture-refused",
                        exit::POSTURE,
                        format!("{}\n{rules}", ending.message),
                    )
                };
                break Err(Failure::new(kind, code, message));
            }
            Err(f) => break Err(f),
        }
    };
    watcher.store(true, Ordering::SeqCst);
    result
}

fn choose_target<'a>(
    targets: &'a [TargetInfo],
    wanted: Option<&str>,
) -> Result<&'a TargetInfo, Failure> {
    match wanted {
        Some(id) => targets.iter().find(|t| t.id == id).ok_or_else(|| {
            Failure::new(
                "unknown-target",
                exit::USAGE,
                format!("Du har ikke tilgang til en maskin med id «{id}»."),
            )
            .fix(format!("Maskinene du kan nå: {}.", list_targets(targets)))
        }),
        None => match targets {
            [only] => Ok(only),
            [] => Err(Failure::new(
                "no-targets",
                exit::CARD_UNUSABLE,
                "Du har ikke tilgang til noen maskin.",
            )
            .fix("Kontakt IT-ansvarlig i kommunen.")),
            many => Err(Failure::new(
                "choose-target",
                exit::USAGE,
                "Du har tilgang til flere maskiner.",
            )
            .fix(format!("Velg én med --target ID: {}.", list_targets(many)))),
        },
    }
}

/// Opens one stream to a target the gateway did not list, so the gateway makes (and audits)
/// the decision; returns its refusal in words.
async fn ask_gateway_for(tunnel: &Tunnel, target: &str) -> Option<Failure> {
    use crate::tunnel::protocol::{
        read_gateway_message, write_message, ClientMessage, GatewayMessage, Open,
        DEFAULT_MAX_FRAME_LEN,
    };
    let answer = tokio::time::timeout(Duration::from_secs(20), async {
        let mut stream = tunnel.mux.open_stream().await.ok()?;
        let open = ClientMessage::Open(Open {
            target: target.to_string(),
        });
        write_message(&mut stream, &open, DEFAULT_MAX_FRAME_LEN)
            .await
            .ok()?;
        read_gateway_message(&mut stream, DEFAULT_MAX_FRAME_LEN)
            .await
            .ok()
    })
    .await
    .ok()
    .flatten()?;
    match answer {
        GatewayMessage::Refused(r) => Some(
            Failure::new("target-refused", exit::CARD_UNUSABLE, r.message).fix(format!(
                "Maskinene du kan nå: {}.",
                list_targets(&tunnel.accepted.targets)
            )),
        ),
        _ => None,
    }
}

fn list_targets(targets: &[TargetInfo]) -> String {
    targets
        .iter()
        .map(|t| format!("{} ({})", t.id, t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run_tunnel(
    args: &ConnectArgs,
    mut tunnel: Tunnel,
    target: &TargetInfo,
    (listen, rechecks): (SocketAddr, Arc<dyn ReportSource>),
    removed: &mut mpsc::UnboundedReceiver<CardWatch>,
) -> Result<Ended, Failure> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        Failure::new("listen", exit::USAGE, format!("Kan ikke lytte på {listen}: {e}."))
            .fix("Et annet program bruker porten. Lukk det, eller velg en annen med --listen 127.0.0.1:PORT.")
    })?;
    let shown = listener.local_addr().unwrap_or(listen);
    if args.json {
        print_json_line(&JsonEvent::TunnelUp {
            listen: shown,
            target: &target.id,
            target_name: &target.name,
            session_id: &tunnel.accepted.session_id,
            display_name: &tunnel.accepted.display_name,
        });
    }
    eprintln!();
    eprintln!("Tunnelen til {} er oppe.", target.name);
    eprintln!("Koble fjernskrivebordet (RDP) til {shown}:");
    eprintln!("  Windows:  mstsc /v:{shown}");
    eprintln!("  Linux:    xfreerdp /v:{shown}");
    eprintln!("  macOS:    Microsoft Remote Desktop, PC-navn {shown}");
    eprintln!("Trykk Ctrl-C for å koble fra. Tar du ut kortet, lukkes tunnelen.");
    if args.launch {
        launch_rdp(shown, target, args.json);
    }
    let shutdown = CancellationToken::new();
    let forward = tokio::spawn(forward_listener(
        listener,
        tunnel.mux.clone(),
        target.id.clone(),
        ForwardOptions::default(),
        shutdown.clone(),
        |event| match event {
            ForwardEvent::Refused { message, .. } => {
                eprintln!("Gatewayen avviste forbindelsen: {message}")
            }
            ForwardEvent::Failed { reason, .. } => eprintln!("Forbindelsen feilet: {reason}"),
            _ => {}
        },
    ));
    let recheck_every = Duration::from_secs(tunnel.accepted.posture_recheck_secs);
    let recheck = async {
        if recheck_every.is_zero() {
            return std::future::pending().await;
        }
        posture::keep_reporting(tunnel.mux.clone(), recheck_every, rechecks, |warnings| {
            eprintln!("Advarsel fra gatewayen om maskinen din:");
            eprintln!("{}", posture::notices_text(warnings));
        })
        .await
    };
    let ended = tokio::select! {
        ending = recheck => Ended::ByGateway(ending),
        _ = tokio::signal::ctrl_c() => {
            session::close(&tunnel, ClientEndReason::ClientClosed).await;
            Ended::UserQuit
        }
        // A closed channel (the watch thread ended) is not a pulled card: the branch is
        // then left out, and only a real report ends the tunnel.
        Some(watch) = removed.recv() => {
            // Within a second: the end frame gets a short bound, then the connection goes.
            let reason = match watch {
                CardWatch::Removed => ClientEndReason::CardRemoved,
                CardWatch::Lost(_) => ClientEndReason::ClientClosed,
            };
            session::close(&tunnel, reason).await;
            Ended::Card(watch)
        }
        _ = &mut tunnel.driver => Ended::ConnectionLost,
    };
    let ended = match ended {
        // A restarting gateway is a lost connection: reconnect. Its other reasons stop.
        Ended::ConnectionLost => match session::ending(&mut tunnel).await {
            Some(e) if e.reason != GatewayEndReason::GatewayShutdown => Ended::ByGateway(e),
            _ => Ended::ConnectionLost,
        },
        other => other,
    };
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), forward).await;
    if args.json {
        let reason = match &ended {
            Ended::UserQuit => "client-closed",
            Ended::Card(CardWatch::Removed) => "card-removed",
            Ended::Card(CardWatch::Lost(_)) => "card-watch-lost",
            Ended::ConnectionLost => "connection-lost",
            Ended::ByGateway(e) => e.reason.as_str(),
        };
        print_json_line(&JsonEvent::TunnelClosed { reason });
    }
    Ok(ended)
}

fn print_json_line<T: Serialize>(value: &T) {
    if let Ok(line) = serde_json::to_string(value) {
        println!("{line}");
    } else {
        print_json(value);
    }
}

/// Starts the remote-desktop program with the sharing the gateway allows for `target`, and
/// says when it ends. One at a time: after a reconnect the running one reconnects by itself.
fn launch_rdp(addr: SocketAddr, target: &TargetInfo, json: bool) {
    use crate::client::launch;
    static RUNNING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if RUNNING.swap(true, Ordering::SeqCst) {
        return;
    }
    #[derive(Serialize)]
    struct RdpExited {
        event: &'static str,
        code: Option<i32>,
    }
    let on_exit = move |exited: launch::Exited| {
        RUNNING.store(false, Ordering::SeqCst);
        eprintln!("{}", exited.sentence());
        if json {
            let (event, code) = ("rdp-exited", exited.code);
            print_json_line(&RdpExited { event, code });
        }
    };
    match launch::launch(addr, target.redirect, on_exit) {
        Ok(started) => eprintln!("Startet {}.", started.program),
        Err(e) => {
            RUNNING.store(false, Ordering::SeqCst);
            eprintln!("Kunne ikke starte fjernskrivebordet: {}", e.message());
            eprintln!("Gjør dette: {}", e.fix(launch::connect_address(addr)));
        }
    }
}

pub(super) fn signer_failure(e: &SignerError) -> Failure {
    match e {
        SignerError::CardRemoved => card_pulled(),
        SignerError::PinStateLost => Failure::new(
            "pin-state-lost",
            exit::CARD_UNUSABLE,
            "Kortet ble nullstilt og husker ikke lenger PIN-koden.",
        )
        .fix("Koble til på nytt; du blir bedt om PIN igjen."),
        SignerError::Card(k) => explain_key(k),
        other => Failure::new(
            "card-sign",
            exit::CARD_UNUSABLE,
            format!("Kortet kunne ikke signere ({other})."),
        ),
    }
}

/// Times a busy gateway is tried again before the first login.
const BUSY_TRIES: u32 = 5;

/// The wait before trying a busy gateway again: what it asked for (before TLS, or as its
/// login answer), or a short one when it closed the connection without a word.
fn busy_wait(e: &SessionError) -> Option<Duration> {
    match e {
        SessionError::Busy { retry_after_secs } => Some(Duration::from_secs(
            u64::from(*retry_after_secs).clamp(1, 60),
        )),
        SessionError::Rejected(r) if r.code == RejectCode::ServerBusy => {
            Some(Duration::from_secs(2))
        }
        // Closed before a word: a gateway restarting, or too busy even to say so.
        SessionError::Dropped { .. } => Some(Duration::from_secs(2)),
        _ => None,
    }
}

fn gateway_unavailable(message: Option<String>) -> Failure {
    Failure::new(
        "gateway-unavailable",
        exit::OTHER,
        message.unwrap_or_else(|| "Gatewayen kan ikke ta imot innlogginger nå.".into()),
    )
    .fix("Prøv igjen senere. Kortet og PIN-koden er ikke problemet; meld fra til IT-ansvarlig om det varer.")
}

fn session_failure(e: &SessionError) -> Failure {
    match e {
        SessionError::Busy { .. } => Failure::new(
            "server-busy",
            exit::OTHER,
            "Tjenesten er opptatt, prøv igjen om litt.",
        )
        .fix("Vent et minutt og koble til igjen. Kortet og PIN-koden er ikke problemet; meld fra til IT-ansvarlig om det varer."),
        SessionError::Unavailable => gateway_unavailable(None),
        SessionError::Rejected(r) if r.code == RejectCode::Unavailable => {
            gateway_unavailable(Some(r.message.clone()))
        }
        SessionError::Rejected(r) if r.code == RejectCode::ServerBusy => Failure::new(
            "server-busy",
            exit::OTHER,
            r.message.clone(),
        )
        .fix(r.remediation.clone().unwrap_or_else(|| "Vent et minutt og koble til igjen.".into())),
        SessionError::BadAddress(a) => Failure::new("bad-gateway", exit::USAGE, format!("«{a}» er ikke en gateway-adresse.")),
        SessionError::Unreachable { address, detail } => Failure::new(
            "gateway-unreachable",
            exit::OTHER,
            format!("Får ikke kontakt med gatewayen {address} ({detail})."),
        )
        .fix("Sjekk nettverket. Kjør «hjemmekontor doctor» når den finnes, eller kontakt IT-ansvarlig om det varer."),
        SessionError::Card(s) => signer_failure(s),
        SessionError::Dropped { .. } => Failure::new(
            "gateway-dropped",
            exit::OTHER,
            "Gatewayen lukket forbindelsen før innloggingen var ferdig; den kan være opptatt eller starte på nytt.",
        )
        .fix("Prøv igjen om litt. Kortet og PIN-koden er ikke problemet."),
        SessionError::Tls(detail) => Failure::new(
            "tls",
            exit::OTHER,
            format!("Den sikre forbindelsen til gatewayen kunne ikke opprettes ({detail})."),
        )
        .fix("Gatewayen godtok ikke kortet, eller gatewayens sertifikat stemmer ikke. Kontakt IT-ansvarlig; oppgi tidspunktet."),
        SessionError::Rejected(r) if r.code == RejectCode::PostureRefused => {
            let message = format!("{}\n{}", r.message, posture::notices_text(&r.failed_rules));
            let mut f = Failure::new("posture-refused", exit::POSTURE, message);
            if let Some(fix) = &r.remediation {
                f = f.fix(fix.clone());
            }
            f
        }
        SessionError::Rejected(r) => {
            let mut f = Failure::new("login-rejected", exit::CARD_UNUSABLE, r.message.clone());
            if let Some(fix) = &r.remediation {
                f = f.fix(fix.clone());
            }
            f
        }
        SessionError::Protocol(detail) => Failure::new(
            "protocol",
            exit::OTHER,
            format!("Gatewayen svarte ikke som ventet ({detail})."),
        )
        .fix("Oppdater hjemmekontor, eller kontakt IT-ansvarlig."),
        SessionError::Timeout { step, waited } => Failure::new(
            "timeout",
            exit::OTHER,
            format!("Gatewayen svarte ikke i tide ({step}, {} s).", waited.as_secs()),
        )
        .fix("Sjekk nettverket og prøv igjen."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TargetInfo {
        TargetInfo {
            id: id.into(),
            name: format!("PC {id}"),
            redirect: Default::default(),
        }
    }

    #[test]
    fn one_target_is_chosen_by_itself_several_need_a_choice() {
        assert_eq!(choose_target(&[t("a")], None).unwrap().id, "a");
        let many = [t("a"), t("b")];
        let f = choose_target(&many, None).unwrap_err();
        assert_eq!(f.kind, "choose-target");
        assert!(f.fix.unwrap().contains("a (PC a), b (PC b)"));
        assert_eq!(choose_target(&many, Some("b")).unwrap().id, "b");
        assert_eq!(
            choose_target(&many, Some("c")).unwrap_err().kind,
            "unknown-target"
        );
        assert_eq!(choose_target(&[], None).unwrap_err().kind, "no-targets");
    }
}
