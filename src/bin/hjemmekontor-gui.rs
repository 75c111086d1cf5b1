//! `hjemmekontor-gui`: the home-office client in a window. Parses arguments and hands over to
//! `gui::window`.
// No console window behind the window on Windows.
#![cfg_attr(windows, windows_subsystem = "windows")]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    hjemmekontor::gui::window::run(hjemmekontor::gui::window::GuiCli::parse())
}
