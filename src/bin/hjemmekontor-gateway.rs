//! `hjemmekontor-gateway`: the gateway at the edge of Helsenettet. Parses arguments and hands
//! over to `gateway`.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use hjemmekontor::gateway::audit;

/// Hjemmekontor gateway: lets health personnel reach their office PC through a TLS tunnel
/// opened with a personal smartcard.
///
/// Check the audit log with `hjemmekontor-gateway audit verify FILE`.
#[derive(Parser)]
#[command(name = "hjemmekontor-gateway", version, propagate_version = true)]
struct Cli {
    /// Show more of what happens (passwords are never shown).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The audit log: check its chain (`verify`) or show records (`query`).
    Audit(audit::cli::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    hjemmekontor::cli::logging::init(cli.verbose);
    match cli.command {
        Command::Audit(args) => audit::cli::run(&args),
    }
}
