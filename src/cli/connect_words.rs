//! The connection flow's progress in words (bokmål or English, `src/i18n/`), on stderr, for
//! the terminal front end of `connect`; and the questions only a person at a terminal can
//! answer.

use crate::client::flow::{CertificateOption, FlowEvent};
use crate::i18n::catalogue as m;

use super::connect::{notices, step};
use super::failure::{exit, Failure};

/// Shows one event of the flow.
pub fn show(event: &FlowEvent) {
    match event {
        FlowEvent::ReadingCard => step(1, 5, &m::READING_CARD.text()),
        FlowEvent::CertificateUsable {
            holder,
            level,
            warnings,
        } => {
            step(
                2,
                5,
                &m::CERTIFICATE_USABLE.with(&[("holder", holder), ("level", level)]),
            );
            for w in warnings {
                eprintln!("      {}", m::NOTE.with(&[("text", w)]));
            }
        }
        FlowEvent::PinOnPinPad => eprintln!("      {}", m::PIN_ON_PIN_PAD.text()),
        FlowEvent::PinInMiddleware => eprintln!("      {}", m::PIN_IN_MIDDLEWARE.text()),
        FlowEvent::PinAccepted => step(3, 5, &m::PIN_ACCEPTED.text()),
        FlowEvent::Pkcs1Only => eprintln!("      {}", m::PKCS1_ONLY.text()),
        FlowEvent::PinForgotten => eprintln!("{}", m::PIN_FORGOTTEN.text()),
        FlowEvent::Connecting { gateway } => {
            step(4, 5, &m::CONNECTING.with(&[("gateway", gateway)]))
        }
        FlowEvent::Retrying { message, wait } => eprintln!(
            "      {}",
            m::RETRYING.with(&[("message", message), ("secs", &wait.as_secs())])
        ),
        FlowEvent::FirstLogin { .. } | FlowEvent::TunnelClosed { .. } => {}
        FlowEvent::LoggedIn { display_name, tls } => step(
            5,
            5,
            &m::LOGGED_IN.with(&[("name", display_name), ("tls", tls)]),
        ),
        FlowEvent::PostureWarnings { notices: list } => {
            eprintln!("      {}", m::POSTURE_WARNINGS.text());
            eprintln!("{}", notices(list));
        }
        FlowEvent::TunnelUp { listen, target, .. } => {
            eprintln!();
            eprintln!("{}", m::TUNNEL_UP.with(&[("target", &target.name)]));
            eprintln!("{}", m::POINT_RDP.with(&[("listen", listen)]));
            eprintln!("  Windows:  mstsc /v:{listen}");
            eprintln!("  Linux:    xfreerdp /v:{listen}");
            eprintln!("  macOS:    {}", m::RDP_MAC.with(&[("listen", listen)]));
            eprintln!("{}", m::HOW_TO_STOP.text());
        }
        FlowEvent::StreamRefused { message } => {
            eprintln!("{}", m::STREAM_REFUSED.with(&[("message", message)]))
        }
        FlowEvent::StreamFailed { reason } => {
            eprintln!("{}", m::STREAM_FAILED.with(&[("reason", reason)]))
        }
        FlowEvent::Reconnecting => eprintln!("{}", m::RECONNECTING.text()),
        FlowEvent::RdpStarted { program } => {
            eprintln!("{}", m::RDP_STARTED.with(&[("program", program)]))
        }
        FlowEvent::RdpNotStarted { error, fix } => {
            eprintln!("{}", m::RDP_NOT_STARTED.with(&[("error", error)]));
            eprintln!("{}", m::DO_THIS.with(&[("fix", fix)]));
        }
        FlowEvent::RdpExited { sentence, .. } => eprintln!("{sentence}"),
    }
}

/// Asks for the username at the terminal.
pub fn ask_username() -> Result<String, Failure> {
    use std::io::Write;
    eprint!("{}", m::ASK_USERNAME.text());
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::new(
            "input",
            exit::USAGE,
            m::USERNAME_UNREADABLE.with(&[("error", &e)]),
        )
    })?;
    let name = line.trim().to_string();
    if name.is_empty() {
        return Err(Failure::new(
            "no-username",
            exit::USAGE,
            m::USERNAME_EMPTY.text(),
        ));
    }
    Ok(name)
}

/// Lets a person pick one of several certificates by number; `None` for an answer that is
/// not one of them.
pub fn ask_certificate(options: &[CertificateOption]) -> Result<Option<usize>, Failure> {
    eprintln!("{}", m::SEVERAL_CERTIFICATES.text());
    for (n, c) in options.iter().enumerate() {
        eprintln!("  {}) {} — {} ({})", n + 1, c.holder, c.label, c.sha256);
    }
    eprint!("{}", m::PICK_NUMBER.text());
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::new(
            "input",
            exit::USAGE,
            m::CHOICE_UNREADABLE.with(&[("error", &e)]),
        )
    })?;
    Ok(line
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .filter(|&n| n < options.len()))
}
