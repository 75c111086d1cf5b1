//! The client's command line as a whole: `hjemmekontor` and its subcommands. It lives in the
//! library so that the manual pages and shell completions are generated from this very
//! definition (`hjemmekontor-manuals`).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Hjemmekontor: reach your office PC in Helsenettet from home with your smartcard.
///
/// Start with `hjemmekontor doctor`: it checks the reader, the card, this computer and the
/// network to the gateway, and says what to do about anything that is wrong.
#[derive(Parser)]
#[command(name = "hjemmekontor", version, propagate_version = true)]
pub struct Cli {
    /// Show more of what happens (repeat for APDU traces; PINs are never shown).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Language of the messages: `nb` (bokmål) or `en` (English). Default: the locale
    /// (`LC_ALL`, `LC_MESSAGES`, `LANG`; on Windows and macOS the system's language), else nb.
    #[arg(long, value_enum, global = true, value_name = "LANG")]
    lang: Option<crate::i18n::Lang>,
    /// Wait for Enter before exiting, so that a window opened by a menu entry or a shortcut
    /// stays open until its last message has been read. Does nothing without a terminal.
    #[arg(long, global = true)]
    hold: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List card readers, whether a card is in each, which application it carries (PIV,
    /// Buypass; found by probing, no PIN try spent), its ATR, and whether it has a PIN pad.
    Readers(crate::cli::readers::ReadersArgs),
    /// Show the card: application, certificates, and PIN tries left (spends no try).
    Card(crate::cli::card::CardArgs),
    /// Open the tunnel to your office PC: card, PIN, username and password, then point your
    /// remote-desktop program at 127.0.0.1:13389.
    Connect(Box<crate::cli::connect::ConnectArgs>),
    /// What this computer reports about itself (firewall, antivirus, updates, disk
    /// encryption, screen lock, operating system), and with `--gateway`, whether that
    /// gateway would let it in, and what to fix if not. No card or PIN needed.
    /// Exit code 6 when the gateway would refuse it.
    Posture(crate::cli::posture::PostureArgs),
    /// Check everything a login needs, one line each (OK, ADVARSEL, FEIL) with what to do.
    ///
    /// The checks: the smart card service, readers and PIN pads, the card and the backend
    /// that signs, the login certificate (level, days left, chain with --roots), PIN tries
    /// left (read without spending one), this computer against the gateway's posture rules,
    /// and the network: the gateway's name (with --expect-address: that it gives the
    /// Helsenett address, not the internet one), its ports, the TLS handshake and the
    /// gateway's certificate, and this computer's clock against the gateway's.
    ///
    /// No PIN is asked unless --sign-test, which signs one random challenge (one PIN entry,
    /// never retried). Every check is bounded in time. The gateway, its CA, `expect_address`
    /// and `required_ports` come from the flags or the remembered settings.
    ///
    /// `--report FILE` writes a support bundle for the help desk (readable by you only; no PIN
    /// or password). Exit code 0 when nothing failed (warnings allowed), 1 when a check
    /// failed, 2 for wrong arguments or settings.
    ///
    /// Examples:
    ///   hjemmekontor doctor
    ///   hjemmekontor doctor --gateway gw.kommune.no:443 --gateway-ca kommune-ca.pem --port 8041
    ///   hjemmekontor doctor --expect-address 91.186.92.90 --sign-test --report rapport.json
    #[command(verbatim_doc_comment)]
    Doctor(Box<crate::cli::doctor::DoctorArgs>),
    /// Certificates: what a certificate is and whether it can be used to log in.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Connection profiles from IT: `import` the file IT gave you (the gateway and its CA
    /// certificate, so you never type an address), `show` what one holds, `create` one (IT).
    #[command(subcommand)]
    Profile(crate::cli::profile::ProfileCommand),
}

#[derive(Subcommand)]
enum CertCommand {
    /// Show a certificate's holder, level, validity and usages, and whether (and why not) it
    /// can be used to log in. Exit code 0 when usable, 4 when not.
    Inspect(crate::cli::cert_inspect::InspectArgs),
}

/// Runs the command the arguments name.
pub fn run(cli: Cli) -> ExitCode {
    crate::i18n::init(cli.lang);
    crate::cli::logging::init(cli.verbose);
    let code = match cli.command {
        Command::Readers(args) => crate::cli::readers::run(&args),
        Command::Card(args) => crate::cli::card::run(&args),
        Command::Connect(args) => crate::cli::connect::run(&args),
        Command::Posture(args) => crate::cli::posture::run(&args),
        Command::Doctor(args) => crate::cli::doctor::run(&args),
        Command::Cert(CertCommand::Inspect(args)) => crate::cli::cert_inspect::run(&args),
        Command::Profile(command) => crate::cli::profile::run(&command),
    };
    if cli.hold {
        hold();
    }
    code
}

/// Waits for Enter (or the end of input) when a person is there to press it.
fn hold() {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        eprintln!("\n{}", crate::i18n::catalogue::common::HOLD.text());
        let _ = std::io::stdin().lock().read_line(&mut String::new());
    }
}
