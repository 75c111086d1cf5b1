//! The connection's failures as sentences with a fix (Norwegian, as the rest of the client
//! speaks): what the card, the gateway and the session said, for every front end alike.

use crate::cli::credential_words::explain_key;
use crate::cli::failure::{exit, Failure};
use crate::client::card_watch::card_pulled;
use crate::client::posture;
use crate::client::session::SessionError;
use crate::tunnel::protocol::{RejectCode, TargetInfo};
use crate::tunnel::tls::SignerError;

/// The card's signer failed.
pub fn signer_failure(e: &SignerError) -> Failure {
    match e {
        SignerError::CardRemoved => card_pulled(),
        SignerError::PinStateLost => Failure::new(
            "pin-state-lost",
            exit::CARD_UNUSABLE,
            "Kortet ble nullstilt og husker ikke lenger PIN-koden.",
        )
        .fix("Koble til på nytt; du blir bedt om PIN igjen."),
        SignerError::Card(k) => explain_key(k),
        other => Failure::new(
            "card-sign",
            exit::CARD_UNUSABLE,
            format!("Kortet kunne ikke signere ({other})."),
        ),
    }
}

pub(super) fn gateway_unavailable(message: Option<String>) -> Failure {
    Failure::new(
        "gateway-unavailable",
        exit::OTHER,
        message.unwrap_or_else(|| "Gatewayen kan ikke ta imot innlogginger nå.".into()),
    )
    .fix("Prøv igjen senere. Kortet og PIN-koden er ikke problemet; meld fra til IT-ansvarlig om det varer.")
}

/// A login or connection that failed, in words.
pub fn session_failure(e: &SessionError) -> Failure {
    match e {
        SessionError::Busy { .. } => Failure::new(
            "server-busy",
            exit::OTHER,
            "Tjenesten er opptatt, prøv igjen om litt.",
        )
        .fix("Vent et minutt og koble til igjen. Kortet og PIN-koden er ikke problemet; meld fra til IT-ansvarlig om det varer."),
        SessionError::Unavailable => gateway_unavailable(None),
        SessionError::Rejected(r) if r.code == RejectCode::Unavailable => {
            gateway_unavailable(Some(r.message.clone()))
        }
        SessionError::Rejected(r) if r.code == RejectCode::ServerBusy => Failure::new(
            "server-busy",
            exit::OTHER,
            r.message.clone(),
        )
        .fix(r.remediation.clone().unwrap_or_else(|| "Vent et minutt og koble til igjen.".into())),
        SessionError::BadAddress(a) => Failure::new("bad-gateway", exit::USAGE, format!("«{a}» er ikke en gateway-adresse.")),
        SessionError::Unreachable { address, detail } => Failure::new(
            "gateway-unreachable",
            exit::OTHER,
            format!("Får ikke kontakt med gatewayen {address} ({detail})."),
        )
        .fix("Sjekk nettverket. Kjør «hjemmekontor doctor» når den finnes, eller kontakt IT-ansvarlig om det varer."),
        SessionError::Card(s) => signer_failure(s),
        SessionError::Dropped { .. } => Failure::new(
            "gateway-dropped",
            exit::OTHER,
            "Gatewayen lukket forbindelsen før innloggingen var ferdig; den kan være opptatt eller starte på nytt.",
        )
        .fix("Prøv igjen om litt. Kortet og PIN-koden er ikke problemet."),
        SessionError::Tls(detail) => Failure::new(
            "tls",
            exit::OTHER,
            format!("Den sikre forbindelsen til gatewayen kunne ikke opprettes ({detail})."),
        )
        .fix("Gatewayen godtok ikke kortet, eller gatewayens sertifikat stemmer ikke. Kontakt IT-ansvarlig; oppgi tidspunktet."),
        SessionError::Rejected(r) if r.code == RejectCode::PostureRefused => {
            let message = format!("{}\n{}", r.message, posture::notices_text(&r.failed_rules));
            let mut f = Failure::new("posture-refused", exit::POSTURE, message);
            if let Some(fix) = &r.remediation {
                f = f.fix(fix.clone());
            }
            f
        }
        SessionError::Rejected(r) => {
            let mut f = Failure::new("login-rejected", exit::CARD_UNUSABLE, r.message.clone());
            if let Some(fix) = &r.remediation {
                f = f.fix(fix.clone());
            }
            f
        }
        SessionError::Protocol(detail) => Failure::new(
            "protocol",
            exit::OTHER,
            format!("Gatewayen svarte ikke som ventet ({detail})."),
        )
        .fix("Oppdater hjemmekontor, eller kontakt IT-ansvarlig."),
        SessionError::Timeout { step, waited } => Failure::new(
            "timeout",
            exit::OTHER,
            format!("Gatewayen svarte ikke i tide ({step}, {} s).", waited.as_secs()),
        )
        .fix("Sjekk nettverket og prøv igjen."),
    }
}

/// The target to reach: the one asked for, or the only one granted.
pub(super) fn choose_target<'a>(
    targets: &'a [TargetInfo],
    wanted: Option<&str>,
) -> Result<&'a TargetInfo, Failure> {
    match wanted {
        Some(id) => targets.iter().find(|t| t.id == id).ok_or_else(|| {
            Failure::new(
                "unknown-target",
                exit::USAGE,
                format!("Du har ikke tilgang til en maskin med id «{id}»."),
            )
            .fix(format!("Maskinene du kan nå: {}.", list_targets(targets)))
        }),
        None => match targets {
            [only] => Ok(only),
            [] => Err(Failure::new(
                "no-targets",
                exit::CARD_UNUSABLE,
                "Du har ikke tilgang til noen maskin.",
            )
            .fix("Kontakt IT-ansvarlig i kommunen.")),
            many => Err(Failure::new(
                "choose-target",
                exit::USAGE,
                "Du har tilgang til flere maskiner.",
            )
            .fix(format!("Velg én med --target ID: {}.", list_targets(many)))),
        },
    }
}

/// The granted targets, for a message.
pub(super) fn list_targets(targets: &[TargetInfo]) -> String {
    targets
        .iter()
        .map(|t| format!("{} ({})", t.id, t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TargetInfo {
        TargetInfo {
            id: id.into(),
            name: format!("PC {id}"),
        }
    }

    #[test]
    fn one_target_is_chosen_by_itself_several_need_a_choice() {
        assert_eq!(choose_target(&[t("a")], None).unwrap().id, "a");
        let many = [t("a"), t("b")];
        let f = choose_target(&many, None).unwrap_err();
        assert_eq!(f.kind, "choose-target");
        assert!(f.fix.unwrap().contains("a (PC a), b (PC b)"));
        assert_eq!(choose_target(&many, Some("b")).unwrap().id, "b");
        assert_eq!(
            choose_target(&many, Some("c")).unwrap_err().kind,
            "unknown-target"
        );
        assert_eq!(choose_target(&[], None).unwrap_err().kind, "no-targets");
    }
}
