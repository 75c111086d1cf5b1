//! `hjemmekontor readers`: what the smart card stack sees, and which application each card
//! carries. Identifying a card only probes it (SELECTs and a PIN status query, never a PIN),
//! so no PIN try is ever spent, and the card is left as it was. `--watch` follows readers and
//! cards live (`readers_watch.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::card::identify::identify;
use crate::card::pcsc::{self, PcscTransport};
use crate::card::trace::{TraceSink, TracedTransport};
use crate::card::CardTransport;
use crate::i18n::catalogue::{common, readers as m};

use super::card_words::explain_transport;
use super::failure::{exit, Failure};
use super::output::print_json;

/// Arguments of `hjemmekontor readers`.
#[derive(Debug, clap::Args)]
pub struct ReadersArgs {
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write every command sent to the cards, and their answers, to FILE for support
    /// (PIN data is never written; the file is readable by you only).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Keep watching: print each reader plugged in or out, card put in or taken out (with its
    /// ATR and application), and the smart-card service going away or coming back, with the
    /// time, until Ctrl-C. With --json, one JSON object per line.
    #[arg(long)]
    pub watch: bool,
}

/// A reader with the application found on its card.
#[derive(Debug, serde::Serialize)]
struct ReaderReport<'a> {
    #[serde(flatten)]
    info: &'a pcsc::ReaderInfo,
    /// `piv`, `buypass`, or `null` (no card, unknown application, or the card is busy).
    application: Option<&'static str>,
}

/// Lists readers; exits non-zero with an explanation when the service is down or no
/// reader is connected.
pub fn run(args: &ReadersArgs) -> ExitCode {
    let trace = match args.trace.as_deref().map(TraceSink::create).transpose() {
        Ok(t) => t,
        Err(e) => return trace_unwritable(args, &e).report(args.json),
    };
    if args.watch {
        return super::readers_watch::run(args.json, trace.as_ref());
    }
    let (ctx, readers) =
        match pcsc::establish().and_then(|ctx| pcsc::list_readers(&ctx).map(|r| (ctx, r))) {
            Ok(found) => found,
            Err(e) => return explain_transport(&e).report(args.json),
        };
    let reports: Vec<ReaderReport> = readers
        .iter()
        .map(|info| ReaderReport {
            info,
            application: application_of(&ctx, info, trace.as_ref()),
        })
        .collect();
    if args.json {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            readers: &'a [ReaderReport<'a>],
        }
        print_json(&Report { readers: &reports });
        return if readers.is_empty() {
            ExitCode::from(exit::NO_CARD)
        } else {
            ExitCode::SUCCESS
        };
    }
    if readers.is_empty() {
        return explain_transport(&crate::card::TransportError::NoReader).report(false);
    }
    for r in &reports {
        show(r);
    }
    ExitCode::SUCCESS
}

/// Identifies the card in a reader by probing: connect shared, identify, and let go of the
/// card as it was (the transport leaves the card untouched when no PIN was verified).
/// Every failure, a card busy in another program included, is an unknown application.
fn application_of(
    ctx: &::pcsc::Context,
    info: &pcsc::ReaderInfo,
    trace: Option<&TraceSink>,
) -> Option<&'static str> {
    if !info.card_present || info.card_mute || info.exclusive {
        return None;
    }
    probe_application(ctx, &info.name, trace)
}

/// Identifies the card in `reader` by probing it (no PIN), as [`application_of`] does.
pub(super) fn probe_application(
    ctx: &::pcsc::Context,
    reader: &str,
    trace: Option<&TraceSink>,
) -> Option<&'static str> {
    let transport = PcscTransport::connect(ctx, reader).ok()?;
    let transport: Box<dyn CardTransport> = match trace {
        Some(sink) => Box::new(TracedTransport::new(Box::new(transport), sink.clone())),
        None => Box::new(transport),
    };
    match identify(transport) {
        Ok(app) => Some(app.name()),
        Err(e) => {
            tracing::debug!(reader, "card not identified: {e}");
            None
        }
    }
}

fn show(report: &ReaderReport) {
    let r = report.info;
    println!("{}", r.name);
    let card = if r.card_mute {
        m::CARD_MUTE
    } else if r.card_present {
        match report.application {
            Some("buypass") => m::BUYPASS_CARD,
            Some("piv") => m::PIV_CARD,
            _ => m::UNKNOWN_CARD,
        }
    } else {
        m::NO_CARD
    };
    field(m::CARD.as_str(), card.as_str());
    if let Some(atr) = &r.atr {
        field("ATR", &crate::card::apdu::hex_spaced(atr));
    }
    if r.exclusive {
        field(m::NOTE.as_str(), m::EXCLUSIVE.as_str());
    }
    let pad = match r.pin_pad {
        Some(true) => m::PAD_YES,
        Some(false) => m::PAD_NO,
        None => m::PAD_UNKNOWN,
    };
    field(m::PIN_PAD.as_str(), pad.as_str());
}

/// One `  Label:  value` line, the values in one column.
fn field(label: &str, value: &str) {
    println!("  {:<15}{value}", format!("{label}:"));
}

fn trace_unwritable(args: &ReadersArgs, e: &std::io::Error) -> Failure {
    let path = args.trace.as_deref().unwrap_or(std::path::Path::new(""));
    Failure::new(
        "trace-unwritable",
        exit::IO,
        common::TRACE_FILE_UNMAKEABLE.with(&[("path", &path.display()), ("error", e)]),
    )
    .fix(common::WRITABLE_FOLDER_FIX.text())
}
