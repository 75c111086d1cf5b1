//! The native window: the command line of `hjemmekontor-gui`, and eframe around [`App`].

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::card_open::CardOptions;
use crate::cli::failure::Failure;
use crate::i18n::catalogue::gui as g;

use super::app::{App, Setup};

/// Hjemmekontor in a window: your card, PIN, username and password, and a Connect button.
///
/// The window shows whether your card is ready, the holder's name, how long the certificate
/// is valid and how many PIN tries are left; connects with the gateway from the connection
/// profile IT gave you (import it in the window the first time, or with
/// `hjemmekontor profile import FILE`); and starts the remote desktop when the tunnel is up.
/// Pulling the card out closes the connection.
#[derive(Parser, Debug)]
#[command(name = "hjemmekontor-gui", version)]
pub struct GuiCli {
    /// Language of the window: `nb` (bokmål) or `en` (English). Default: the locale, else nb.
    #[arg(long, value_enum, value_name = "LANG")]
    pub lang: Option<crate::i18n::Lang>,
    /// How to reach the card (and which settings file to use).
    #[command(flatten)]
    pub card: CardOptions,
    /// Local address your remote-desktop program connects to.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Test environment: accept TEST certificates as if production. Never for real users.
    #[arg(long)]
    pub test_environment: bool,
    /// Show more of what happens on standard error (PINs and passwords are never shown).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Opens the window and runs it until it is closed.
pub fn run(cli: GuiCli) -> ExitCode {
    crate::i18n::init(cli.lang);
    crate::cli::logging::init(cli.verbose);
    let setup = Setup {
        card: cli.card,
        test_environment: cli.test_environment,
        listen: cli.listen,
        lang: crate::i18n::current(),
        report_dir: None,
    };
    let title = g::TITLE.text();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(&title)
            // The desktop entry's name: Wayland docks match the window to it by this id.
            .with_app_id("no.hjemmekontor.Hjemmekontor")
            .with_inner_size([460.0, 640.0])
            .with_min_inner_size([360.0, 420.0]),
        ..Default::default()
    };
    let started = eframe::run_native(
        &title,
        options,
        Box::new(move |_cc| {
            let window: Box<dyn eframe::App> = match App::new(setup) {
                Ok(app) => Box::new(Running(app)),
                Err(failure) => Box::new(Failed(failure)),
            };
            Ok(window)
        }),
    );
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", crate::i18n::catalogue::ERROR.with(&[("message", &e)]));
            ExitCode::from(crate::cli::failure::exit::OTHER)
        }
    }
}

/// The window with its app.
struct Running(App);

impl eframe::App for Running {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| self.0.ui(ui));
    }
}

/// The window when the app could not start (settings unreadable...): what and what to do.
struct Failed(Failure);

impl eframe::App for Failed {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| super::view::failure(ui, &self.0));
    }
}
