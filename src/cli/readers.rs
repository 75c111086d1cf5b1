//! `hjemmekontor readers`: what the smart card stack sees, without touching any card.

use std::process::ExitCode;

use crate::card::pcsc;

use super::card_words::explain_transport;
use super::output::print_json;

/// Arguments of `hjemmekontor readers`.
#[derive(Debug, clap::Args)]
pub struct ReadersArgs {
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Lists readers; exits non-zero with an explanation when the service is down or no
/// reader is connected.
pub fn run(args: &ReadersArgs) -> ExitCode {
    let readers = match pcsc::establish().and_then(|ctx| pcsc::list_readers(&ctx)) {
        Ok(r) => r,
        Err(e) => return explain_transport(&e).report(args.json),
    };
    if args.json {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            readers: &'a [pcsc::ReaderInfo],
        }
        print_json(&Report { readers: &readers });
        return if readers.is_empty() {
            ExitCode::from(super::failure::exit::NO_CARD)
        } else {
            ExitCode::SUCCESS
        };
    }
    if readers.is_empty() {
        return explain_transport(&crate::card::TransportError::NoReader).report(false);
    }
    for r in &readers {
        println!("{}", r.name);
        let card = if r.card_mute {
            "kort satt inn, men det svarer ikke (snudd feil vei eller skadet?)".to_string()
        } else if r.card_present {
            "kort satt inn".to_string()
        } else {
            "ingen kort".to_string()
        };
        println!("  Kort:          {card}");
        if let Some(atr) = &r.atr {
            println!("  ATR:           {}", crate::card::apdu::hex_spaced(atr));
        }
        if r.exclusive {
            println!("  Merk:          et annet program bruker kortet alene akkurat nå");
        }
        let pad = match r.pin_pad {
            Some(true) => "ja (PIN tastes på leseren)",
            Some(false) => "nei",
            None => "ukjent",
        };
        println!("  PIN-tastatur:  {pad}");
    }
    ExitCode::SUCCESS
}
