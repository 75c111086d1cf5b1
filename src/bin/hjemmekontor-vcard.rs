//! hjemmekontor-vcard: a virtual TEST PIV card in vpcd's virtual reader, for tests and demos.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hjemmekontor::card::emulated::SimulatedCard;
use hjemmekontor::secret::Pin;
use hjemmekontor::vcard::control::{self, Presence};
use hjemmekontor::vcard::vpcd::{self, RunConfig};
use hjemmekontor::vcard::{PivConfig, Slot, SlotKey, VirtualBeid, VirtualPiv};

/// A virtual smartcard for development and tests: a PIV card, or a Buypass card profile.
/// It is a TEST card: its keys are files and its PIN may be given on the command line.
/// Never use it for real identities.
#[derive(Parser)]
#[command(name = "hjemmekontor-vcard", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Put a TEST card (PIV, or with --profile buypass a Buypass card) into the virtual
    /// reader (pcscd + vsmartcard vpcd) until stopped.
    ///
    /// Ctrl-C or SIGTERM takes the card out and exits; SIGUSR1 pulls it out or puts it back.
    Run(Box<RunArgs>),
    /// Pull a running card out, put it back, or ask its state, through its control socket.
    Ctl(CtlArgs),
    /// Write a TEST PKI (root, issuing CA, CRL, and a certificate + key for every variant:
    /// person-high, person-high-ec, expired, revoked, wrong-usage, gateway, …). Every name in
    /// it contains "TEST".
    Pki(PkiArgs),
    /// A stand-in office PC for the demo: greets each connection with one line, then echoes.
    OfficePc(OfficePcArgs),
}

#[derive(Args)]
struct OfficePcArgs {
    /// Address to listen on (keep it on 127.0.0.1).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:33389")]
    listen: std::net::SocketAddr,
}

#[derive(Args)]
struct PkiArgs {
    /// Directory to write into (created if missing; existing files are overwritten).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The digits after UN:NO-9578-4050- in the personal identifier of the person variants.
    #[arg(long, value_name = "DIGITS", default_value = hjemmekontor::vcard::pki::DEFAULT_PERSON_ID)]
    person_id: String,
}

/// Which card to emulate.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Profile {
    /// A PIV card with the given certificates and keys (needs --cert and --key).
    Piv,
    /// A Buypass card (BEID on MULTOS, Buypass ATR): answers SELECT MF and the PIN status
    /// query and VERIFY as far as they are known; no certificates (they are not public).
    /// Hosts recognise it as a Buypass card. Default TEST PIN 1234.
    Buypass,
}

#[derive(Args)]
struct RunArgs {
    /// The card to emulate.
    #[arg(long, value_enum, default_value = "piv")]
    profile: Profile,
    /// Certificate (PEM) for slot 9A, PIV Authentication (PIV profile).
    #[arg(long, value_name = "FILE", required_if_eq("profile", "piv"))]
    cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) for slot 9A: RSA-2048, P-256 or P-384.
    #[arg(long, value_name = "FILE", required_if_eq("profile", "piv"))]
    key: Option<PathBuf>,
    /// Certificate for slot 9C, Digital Signature (PIN before every signature).
    #[arg(long, value_name = "FILE", requires = "key_9c")]
    cert_9c: Option<PathBuf>,
    /// Private key for slot 9C.
    #[arg(long, value_name = "FILE", requires = "cert_9c")]
    key_9c: Option<PathBuf>,
    /// Certificate for slot 9D, Key Management.
    #[arg(long, value_name = "FILE", requires = "key_9d")]
    cert_9d: Option<PathBuf>,
    /// Private key for slot 9D.
    #[arg(long, value_name = "FILE", requires = "cert_9d")]
    key_9d: Option<PathBuf>,
    /// Certificate for slot 9E, Card Authentication (no PIN).
    #[arg(long, value_name = "FILE", requires = "key_9e")]
    cert_9e: Option<PathBuf>,
    /// Private key for slot 9E.
    #[arg(long, value_name = "FILE", requires = "cert_9e")]
    key_9e: Option<PathBuf>,
    /// The TEST card's PIN: 6 to 8 digits for PIV (default 123456), 4 digits for the
    /// Buypass profile (default 1234). TEST PINs only.
    #[arg(long, value_name = "DIGITS")]
    pin: Option<String>,
    /// The TEST card's PUK (6 to 8 digits) for unblocking the PIN; none by default.
    #[arg(long, value_name = "DIGITS")]
    puk: Option<String>,
    /// Wrong PIN entries before the PIN blocks (1 to 15; the Buypass profile always has 3).
    #[arg(long, default_value_t = 3, value_name = "N")]
    retries: u8,
    /// Where vpcd listens (its first reader, "Virtual PCD 00 00", is port 35963).
    #[arg(long, default_value = vpcd::DEFAULT_ADDR, value_name = "HOST:PORT")]
    vpcd: String,
    /// Seconds to keep trying to reach vpcd before giving up.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    connect_timeout: u64,
    /// Unix socket taking `remove`, `insert`, `status` (see the `ctl` subcommand).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Store the certificates gzip-compressed, as some card issuers do.
    #[arg(long)]
    gzip: bool,
    /// Start with the card out of the reader (insert it with `ctl insert` or SIGUSR1).
    #[arg(long)]
    removed: bool,
}

#[derive(Args)]
struct CtlArgs {
    /// The running card's control socket.
    #[arg(long, value_name = "PATH")]
    control: PathBuf,
    /// What to do.
    #[arg(value_parser = ["remove", "insert", "status"])]
    action: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::Ctl(args) => ctl(args),
        Command::Pki(args) => pki(args),
        Command::OfficePc(args) => office_pc(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hjemmekontor-vcard: {message}");
            ExitCode::FAILURE
        }
    }
}

fn office_pc(args: OfficePcArgs) -> Result<(), String> {
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!("TEST office PC listening on {}", args.listen);
    hjemmekontor::vcard::office_pc::serve(listener).map_err(|e| e.to_string())
}

fn pki(args: PkiArgs) -> Result<(), String> {
    use hjemmekontor::vcard::pki;
    let mut options = pki::PkiOptions::new(time::OffsetDateTime::now_utc());
    options.person_id = args.person_id;
    eprintln!("generating the TEST PKI (RSA-2048 keys take a few seconds)…");
    let generated = pki::generate(&options).map_err(|e| e.to_string())?;
    let files = generated.write(&args.out).map_err(|e| e.to_string())?;
    for f in &files {
        println!("{}", f.display());
    }
    eprintln!(
        "wrote {} files to {} (keys are readable by the owner only)",
        files.len(),
        args.out.display()
    );
    Ok(())
}

fn load_slot(cert: &std::path::Path, key: &std::path::Path) -> Result<SlotKey, String> {
    SlotKey::from_pem_files(cert, key)
        .map_err(|e| format!("cannot load {} with {}: {e}", cert.display(), key.display()))
}

fn run(args: RunArgs) -> Result<(), String> {
    match args.profile {
        Profile::Piv => run_piv(args),
        Profile::Buypass => run_buypass(args),
    }
}

fn run_piv(args: RunArgs) -> Result<(), String> {
    let pin = Pin::from_input(args.pin.clone().unwrap_or_else(|| "123456".into()))
        .map_err(|e| format!("--pin: {e}"))?;
    let puk = args
        .puk
        .clone()
        .map(Pin::from_input)
        .transpose()
        .map_err(|e| format!("--puk: {e}"))?;
    let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
        return Err("the PIV profile needs --cert and --key".into());
    };
    let mut config = PivConfig::new(load_slot(cert, key)?);
    config.pin = pin;
    config.puk = puk;
    config.retries = args.retries;
    config.gzip_certificates = args.gzip;
    for (slot, cert, key) in [
        (Slot::Signature, &args.cert_9c, &args.key_9c),
        (Slot::KeyManagement, &args.cert_9d, &args.key_9d),
        (Slot::CardAuthentication, &args.cert_9e, &args.key_9e),
    ] {
        if let (Some(cert), Some(key)) = (cert, key) {
            config = config.with_slot(slot, load_slot(cert, key)?);
        }
    }
    let card = VirtualPiv::new(config).map_err(|e| e.to_string())?;
    let slots: Vec<String> = Slot::ALL
        .into_iter()
        .filter(|s| card.data_object(s.object_tag()).is_some())
        .map(|s| format!("{:02X}", s.key_reference()))
        .collect();
    tracing::info!(
        "TEST PIV card ready: slots {}, {} PIN tries",
        slots.join(" "),
        card.pin_tries_left()
    );
    let card = Arc::new(Mutex::new(card));
    let status_card = card.clone();
    let status: control::StatusFn = Box::new(move || {
        let c = status_card.lock().unwrap_or_else(|p| p.into_inner());
        format!(
            "apdus={} signatures={} pin_tries={}",
            c.apdu_count(),
            c.signature_count(),
            c.pin_tries_left()
        )
    });
    serve_card(&args, card, status)
}

fn run_buypass(args: RunArgs) -> Result<(), String> {
    let piv_only = [
        ("--cert", args.cert.is_some()),
        ("--key", args.key.is_some()),
        ("--cert-9c", args.cert_9c.is_some()),
        ("--cert-9d", args.cert_9d.is_some()),
        ("--cert-9e", args.cert_9e.is_some()),
        ("--puk", args.puk.is_some()),
        ("--gzip", args.gzip),
    ];
    if let Some((flag, _)) = piv_only.iter().find(|(_, given)| *given) {
        return Err(format!(
            "{flag} belongs to the PIV profile, not to --profile buypass"
        ));
    }
    // A TEST PIN for a TEST card: never a real one.
    let pin = Pin::from_input(args.pin.clone().unwrap_or_else(|| "1234".into()))
        .map_err(|e| format!("--pin: {e}"))?;
    let card = VirtualBeid::new(&pin).map_err(|e| format!("--pin: {e}"))?;
    tracing::info!(
        "TEST Buypass card ready: {} PIN tries",
        card.pin_tries_left()
    );
    let card = Arc::new(Mutex::new(card));
    let status_card = card.clone();
    let status: control::StatusFn = Box::new(move || {
        let c = status_card.lock().unwrap_or_else(|p| p.into_inner());
        format!("apdus={} pin_tries={}", c.apdu_count(), c.pin_tries_left())
    });
    serve_card(&args, card, status)
}

/// Puts `card` in vpcd's reader until a signal stops it.
fn serve_card<C: SimulatedCard>(
    args: &RunArgs,
    card: Arc<Mutex<C>>,
    status: control::StatusFn,
) -> Result<(), String> {
    let presence = Presence::new(!args.removed);
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| format!("cannot install a signal handler: {e}"))?;
    }
    let _control = start_control(args.control.as_deref(), &presence, status)?;
    let config = RunConfig {
        addr: args.vpcd.clone(),
        connect_timeout: Duration::from_secs(args.connect_timeout),
    };
    vpcd::run(&config, card, presence, stop).map_err(|e| e.to_string())
}

/// SIGUSR1 toggling and the control socket: the handle keeps the socket open.
#[cfg(unix)]
fn start_control(
    path: Option<&std::path::Path>,
    presence: &Arc<Presence>,
    status: control::StatusFn,
) -> Result<Option<control::ControlServer>, String> {
    control::toggle_on_sigusr1(presence.clone())
        .map_err(|e| format!("cannot install the SIGUSR1 handler: {e}"))?;
    let Some(path) = path else {
        return Ok(None);
    };
    let server =
        control::ControlServer::bind(path, presence.clone(), status).map_err(|e| e.to_string())?;
    tracing::info!("control socket at {}", path.display());
    Ok(Some(server))
}

#[cfg(not(unix))]
fn start_control(
    path: Option<&std::path::Path>,
    _presence: &Arc<Presence>,
    _status: control::StatusFn,
) -> Result<Option<()>, String> {
    match path {
        Some(_) => Err("--control needs a Unix host".into()),
        None => Ok(None),
    }
}

#[cfg(not(unix))]
fn ctl(_args: CtlArgs) -> Result<(), String> {
    Err("the control socket needs a Unix host".into())
}

#[cfg(unix)]
fn ctl(args: CtlArgs) -> Result<(), String> {
    // Removal and insertion wait up to ACT_TIMEOUT on the card side; allow for it.
    let timeout = control::ACT_TIMEOUT + Duration::from_secs(2);
    let answer = control::send_command(&args.control, &args.action, timeout)
        .map_err(|e| format!("no virtual card answers on {}: {e}", args.control.display()))?;
    println!("{answer}");
    if answer.starts_with("error") {
        return Err(answer);
    }
    Ok(())
}
