//! The connection's failures as sentences with a fix (Norwegian, as the rest of the client
//! speaks): what the card, the gateway and the session said, for every front end alike.

use crate::cli::credential_words::explain_key;
use crate::cli::failure::{exit, Failure};
use crate::client::card_watch::card_pulled;
use crate::client::gateway_words;
use crate::client::session::SessionError;
use crate::i18n::catalogue as m;
use crate::tunnel::protocol::TargetInfo;
use crate::tunnel::tls::SignerError;

/// The card's signer failed.
pub fn signer_failure(e: &SignerError) -> Failure {
    match e {
        SignerError::CardRemoved => card_pulled(),
        SignerError::PinStateLost => Failure::new(
            "pin-state-lost",
            exit::CARD_UNUSABLE,
            m::PIN_STATE_LOST.text(),
        )
        .fix(m::PIN_STATE_LOST_FIX.text()),
        SignerError::Card(k) => explain_key(k),
        other => Failure::new(
            "card-sign",
            exit::CARD_UNUSABLE,
            m::CARD_SIGN.with(&[("error", other)]),
        ),
    }
}

pub(super) fn gateway_unavailable(message: Option<String>) -> Failure {
    Failure::new(
        "gateway-unavailable",
        exit::OTHER,
        message.unwrap_or_else(|| m::GATEWAY_UNAVAILABLE.text()),
    )
    .fix(m::GATEWAY_UNAVAILABLE_FIX.text())
}

/// A login or connection that failed, in words.
pub fn session_failure(e: &SessionError) -> Failure {
    match e {
        SessionError::Busy { .. } => {
            Failure::new("server-busy", exit::OTHER, m::SERVER_BUSY.text())
                .fix(m::SERVER_BUSY_FIX.text())
        }
        SessionError::Unavailable => gateway_unavailable(None),
        // The gateway's code, worded here; its own words only for a code we do not know.
        SessionError::Rejected(r) => gateway_words::rejected(r),
        SessionError::BadAddress(a) => Failure::new(
            "bad-gateway",
            exit::USAGE,
            m::BAD_GATEWAY.with(&[("address", a)]),
        ),
        SessionError::Unreachable { address, detail } => Failure::new(
            "gateway-unreachable",
            exit::OTHER,
            m::GATEWAY_UNREACHABLE.with(&[("address", address), ("detail", detail)]),
        )
        .fix(m::GATEWAY_UNREACHABLE_FIX.text()),
        SessionError::Card(s) => signer_failure(s),
        SessionError::Dropped { .. } => {
            Failure::new("gateway-dropped", exit::OTHER, m::GATEWAY_DROPPED.text())
                .fix(m::GATEWAY_DROPPED_FIX.text())
        }
        SessionError::Tls(detail) => Failure::new(
            "tls",
            exit::OTHER,
            m::TLS_FAILED.with(&[("detail", detail)]),
        )
        .fix(m::TLS_FAILED_FIX.text()),
        SessionError::Protocol(detail) => Failure::new(
            "protocol",
            exit::OTHER,
            m::PROTOCOL.with(&[("detail", detail)]),
        )
        .fix(m::PROTOCOL_FIX.text()),
        SessionError::Timeout { step, waited } => Failure::new(
            "timeout",
            exit::OTHER,
            m::TIMEOUT.with(&[("step", step), ("secs", &waited.as_secs())]),
        )
        .fix(m::TIMEOUT_FIX.text()),
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
                m::UNKNOWN_TARGET.with(&[("id", &id)]),
            )
            .fix(m::TARGETS_YOU_CAN_REACH.with(&[("targets", &list_targets(targets))]))
        }),
        None => match targets {
            [only] => Ok(only),
            [] => Err(
                Failure::new("no-targets", exit::CARD_UNUSABLE, m::NO_TARGETS.text())
                    .fix(m::NO_TARGETS_FIX.text()),
            ),
            many => Err(
                Failure::new("choose-target", exit::USAGE, m::CHOOSE_TARGET.text())
                    .fix(m::CHOOSE_TARGET_FIX.with(&[("targets", &list_targets(many))])),
            ),
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
            redirect: Default::default(),
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
