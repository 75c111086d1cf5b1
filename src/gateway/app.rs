//! The gateway's command line as a whole: `hjemmekontor-gateway` and its subcommands, in the
//! library so that its manual pages and shell completions are generated from this definition.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use super::audit;
use super::config_cli;
use super::crl_check_cli;

/// Hjemmekontor gateway: lets health personnel reach their office PC through a TLS tunnel
/// opened with a personal smartcard.
///
/// Start with `hjemmekontor-gateway check-config gateway.toml`; make password hashes for the
/// `[[user]]` entries with `hjemmekontor-gateway hash-password`.
/// Check the audit log with `hjemmekontor-gateway audit verify FILE`.
#[derive(Parser)]
#[command(name = "hjemmekontor-gateway", version, propagate_version = true)]
pub struct Cli {
    /// Show more of what happens (passwords are never shown).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway: listen, verify cards, log users in, relay to their office PCs, audit
    /// every attempt. SIGHUP re-reads trust anchors and CRLs; Ctrl-C/SIGTERM stops cleanly.
    Run(crate::gateway::run_cli::RunArgs),
    /// Check a configuration file: every error with its line, or a summary.
    CheckConfig(config_cli::CheckConfigArgs),
    /// Check downloaded CRLs before they replace the gateway's: signed by a configured CA,
    /// not past nextUpdate, not older than the list they replace (`--replaces`).
    CheckCrl(crl_check_cli::CheckCrlArgs),
    /// Make an argon2id hash of a password (asked twice, or one line on stdin; never argv).
    HashPassword(config_cli::HashPasswordArgs),
    /// The audit log: check its chain (`verify`) or show records (`query`).
    Audit(audit::cli::AuditArgs),
}

/// Runs the command the arguments name.
pub fn run(cli: Cli) -> ExitCode {
    crate::cli::logging::init(cli.verbose);
    match cli.command {
        Command::Run(args) => crate::gateway::run_cli::run(&args),
        Command::CheckConfig(args) => config_cli::check_config(&args),
        Command::CheckCrl(args) => crl_check_cli::check_crl(&args),
        Command::HashPassword(args) => config_cli::hash_password(&args),
        Command::Audit(args) => audit::cli::run(&args),
    }
}
