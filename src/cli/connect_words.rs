//! The connection flow's progress in words, on stderr, for the terminal front end of
//! `connect`; and the questions only a person at a terminal can answer.

use crate::client::flow::{CertificateOption, FlowEvent};

use super::connect::{notices, step};
use super::failure::{exit, Failure};

/// Shows one event of the flow.
pub fn show(event: &FlowEvent) {
    match event {
        FlowEvent::ReadingCard => step(1, 5, "Leser kortet …"),
        FlowEvent::CertificateUsable {
            holder,
            level,
            warnings,
        } => {
            step(
                2,
                5,
                &format!("Sertifikatet for {holder} kan brukes (nivå {level})."),
            );
            for w in warnings {
                eprintln!("      Merk: {w}");
            }
        }
        FlowEvent::PinOnPinPad => eprintln!("      Tast PIN-koden på kortleseren."),
        FlowEvent::PinInMiddleware => {
            eprintln!("      Kortets mellomvare spør etter PIN-koden i et eget vindu.")
        }
        FlowEvent::PinAccepted => step(3, 5, "PIN godkjent av kortet."),
        FlowEvent::Pkcs1Only => eprintln!(
            "      Merk: kortet kan bare signere med PKCS#1 v1.5, så tunnelen bruker TLS 1.2."
        ),
        FlowEvent::PinForgotten => {
            eprintln!("Kortet har glemt PIN-koden (det ble nullstilt). Skriv den inn på nytt.")
        }
        FlowEvent::Connecting { gateway } => {
            step(4, 5, &format!("Kobler til gatewayen {gateway} …"))
        }
        FlowEvent::Retrying { message, wait } => {
            eprintln!("      {message} Prøver igjen om {} s.", wait.as_secs())
        }
        FlowEvent::FirstLogin { .. } => {}
        FlowEvent::LoggedIn { display_name, tls } => {
            step(5, 5, &format!("Innlogget som {display_name} ({tls})."))
        }
        FlowEvent::PostureWarnings { notices: list } => {
            eprintln!("      Advarsel fra gatewayen om maskinen din (du slipper inn):");
            eprintln!("{}", notices(list));
        }
        FlowEvent::TunnelUp { listen, target, .. } => {
            eprintln!();
            eprintln!("Tunnelen til {} er oppe.", target.name);
            eprintln!("Koble fjernskrivebordet (RDP) til {listen}:");
            eprintln!("  Windows:  mstsc /v:{listen}");
            eprintln!("  Linux:    xfreerdp /v:{listen}");
            eprintln!("  macOS:    Microsoft Remote Desktop, PC-navn {listen}");
            eprintln!("Trykk Ctrl-C for å koble fra. Tar du ut kortet, lukkes tunnelen.");
        }
        FlowEvent::StreamRefused { message } => {
            eprintln!("Gatewayen avviste forbindelsen: {message}")
        }
        FlowEvent::StreamFailed { reason } => eprintln!("Forbindelsen feilet: {reason}"),
        FlowEvent::Reconnecting => {
            eprintln!("Forbindelsen til gatewayen ble brutt. Kobler til igjen mens kortet står i …")
        }
        FlowEvent::RdpStarted { program } => eprintln!("Startet {program}."),
        FlowEvent::RdpNotStarted { program, error } => {
            eprintln!("Kunne ikke starte {program} ({error}); start fjernskrivebordet selv.")
        }
        FlowEvent::TunnelClosed { .. } => {}
    }
}

/// Asks for the username at the terminal.
pub fn ask_username() -> Result<String, Failure> {
    use std::io::Write;
    eprint!("Brukernavn: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::new(
            "input",
            exit::USAGE,
            format!("Kunne ikke lese brukernavnet: {e}."),
        )
    })?;
    let name = line.trim().to_string();
    if name.is_empty() {
        return Err(Failure::new(
            "no-username",
            exit::USAGE,
            "Brukernavnet kan ikke være tomt.",
        ));
    }
    Ok(name)
}

/// Lets a person pick one of several certificates by number; `None` for an answer that is
/// not one of them.
pub fn ask_certificate(options: &[CertificateOption]) -> Result<Option<usize>, Failure> {
    eprintln!("Kortet har flere sertifikater som kan brukes til innlogging:");
    for (n, c) in options.iter().enumerate() {
        eprintln!("  {}) {} — {} ({})", n + 1, c.holder, c.label, c.sha256);
    }
    eprint!("Velg nummer: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::new(
            "input",
            exit::USAGE,
            format!("Kunne ikke lese valget: {e}."),
        )
    })?;
    Ok(line
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .filter(|&n| n < options.len()))
}
