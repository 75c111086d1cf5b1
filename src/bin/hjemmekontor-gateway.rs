//! `hjemmekontor-gateway`: the gateway at the edge of Helsenettet. Parses arguments and hands
//! over to `gateway`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    hjemmekontor::gateway::app::run(hjemmekontor::gateway::app::Cli::parse())
}
