//! `hjemmekontor-manuals --out DIR`: writes the manual pages (`DIR/man/man1/*.1`) and the shell
//! completions (`DIR/completions/{bash,zsh,fish,powershell}/…`) of `hjemmekontor`,
//! `hjemmekontor-gui` and `hjemmekontor-gateway` for the installers. A build tool; never
//! installed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hjemmekontor::cli::manuals;

/// Writes the manual pages and shell completions of hjemmekontor, hjemmekontor-gui and
/// hjemmekontor-gateway, generated from their command-line definitions, for the installers
/// (installer/).
#[derive(Parser)]
#[command(name = "hjemmekontor-manuals", version)]
struct Args {
    /// The folder to write into (made if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match manuals::write_all(
        &[manuals::client(), manuals::gui(), manuals::gateway()],
        &args.out,
    ) {
        Ok(written) => {
            println!(
                "{} files written under {}",
                written.len(),
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Could not write under {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}
