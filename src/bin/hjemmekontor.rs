//! `hjemmekontor`: the home-office client. Parses arguments and hands over to `cli`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    hjemmekontor::cli::app::run(hjemmekontor::cli::app::Cli::parse())
}
