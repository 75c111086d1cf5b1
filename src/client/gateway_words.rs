//! The gateway's answers in the person's words. The gateway sends a code and the facts that
//! go with it (`retry_after_secs`, `open_sessions`, `limit_secs`, the failed posture rules);
//! the client words each code it knows from the catalogue, in the run's language. The
//! gateway's own `message` (bokmål) is shown only for a code this client does not know, from a
//! newer gateway (`docs/protocol.md`, "The client words the codes").

use crate::cli::failure::{exit, Failure};
use crate::client::posture::notices_text;
use crate::i18n::catalogue::{self as connect, common, gateway as m};
use crate::tunnel::protocol::{Ending, GatewayEndReason, RefuseCode, RejectCode, Rejected};

/// A refused login as a failure: what happened and what to do. The `kind`s are the ones
/// scripts already know: `gateway-unavailable`, `server-busy`, `posture-refused`, and
/// `login-rejected` for the rest.
pub fn rejected(r: &Rejected) -> Failure {
    let login = |message: String, fix: String| {
        Failure::new("login-rejected", exit::CARD_UNUSABLE, message).fix(fix)
    };
    match r.code {
        RejectCode::BadCredentials => {
            login(m::BAD_CREDENTIALS.text(), m::BAD_CREDENTIALS_FIX.text())
        }
        RejectCode::LockedOut => login(m::LOCKED_OUT.text(), locked_out_fix(r.retry_after_secs)),
        RejectCode::NoGrants => login(m::NO_GRANTS.text(), m::NO_GRANTS_FIX.text()),
        RejectCode::ProtocolVersion => {
            login(m::PROTOCOL_VERSION.text(), m::INSTALL_RECOMMENDED.text())
        }
        RejectCode::BadRequest => login(
            m::LOGIN_NOT_UNDERSTOOD.text(),
            m::INSTALL_RECOMMENDED.text(),
        ),
        RejectCode::PostureRefused => posture_refused(r),
        RejectCode::ServerBusy => server_busy(r.open_sessions),
        RejectCode::Unavailable => Failure::new(
            "gateway-unavailable",
            exit::OTHER,
            connect::GATEWAY_UNAVAILABLE.text(),
        )
        .fix(connect::GATEWAY_UNAVAILABLE_FIX.text()),
        RejectCode::Unknown => {
            let f = Failure::new("login-rejected", exit::CARD_UNUSABLE, r.message.clone());
            match &r.remediation {
                Some(fix) => f.fix(fix.clone()),
                None => f,
            }
        }
    }
}

/// How long to wait out a lock, from the gateway's `retry_after_secs` in whole minutes
/// (rounded up, at least one); a gateway that does not say gets "a while".
fn locked_out_fix(retry_after_secs: Option<u64>) -> String {
    match retry_after_secs {
        Some(secs) => {
            let minutes = secs.div_ceil(60).max(1);
            m::LOCKED_OUT_FIX.with(&[("wait", &length_in_words(minutes * 60))])
        }
        None => m::LOCKED_OUT_FIX_UNTIMED.text(),
    }
}

/// The posture policy refused the computer: the rules by name, then each with what to do.
fn posture_refused(r: &Rejected) -> Failure {
    let rules: Vec<&str> = r.failed_rules.iter().map(|n| n.rule.as_str()).collect();
    let message = format!(
        "{}\n{}",
        m::POSTURE_REFUSED.with(&[("rules", &rules.join(", "))]),
        notices_text(&r.failed_rules)
    );
    Failure::new("posture-refused", exit::POSTURE, message).fix(m::POSTURE_REFUSED_FIX.text())
}

/// Every slot is taken, or the person already has as many sessions as one may
/// (`open_sessions`).
fn server_busy(open_sessions: Option<u32>) -> Failure {
    match open_sessions {
        Some(n) => Failure::new(
            "server-busy",
            exit::OTHER,
            m::SESSIONS_AT_LIMIT.with(&[("n", &n)]),
        )
        .fix(m::SESSIONS_AT_LIMIT_FIX.text()),
        None => Failure::new("server-busy", exit::OTHER, connect::SERVER_BUSY.text())
            .fix(connect::SERVER_BUSY_FIX.text()),
    }
}

/// Why the gateway refused one connection through the tunnel, in words.
pub fn refusal(code: RefuseCode, message: &str) -> String {
    match code {
        RefuseCode::NotGranted => m::NOT_GRANTED.text(),
        RefuseCode::TargetUnreachable => m::TARGET_UNREACHABLE.text(),
        RefuseCode::TooManyStreams => m::TOO_MANY_STREAMS.text(),
        RefuseCode::BadRequest => m::STREAM_NOT_UNDERSTOOD.text(),
        RefuseCode::Unknown => message.to_string(),
    }
}

/// Why the gateway ended the session, in words; the limit it reached from `limit_secs`.
pub fn ending(e: &Ending) -> String {
    let limit = e.limit_secs.map(length_in_words);
    match (e.reason, limit) {
        (GatewayEndReason::IdleTimeout, Some(limit)) => m::ENDED_IDLE.with(&[("limit", &limit)]),
        (GatewayEndReason::IdleTimeout, None) => m::ENDED_IDLE_UNTIMED.text(),
        (GatewayEndReason::MaxLifetime, Some(limit)) => {
            m::ENDED_LIFETIME.with(&[("limit", &limit)])
        }
        (GatewayEndReason::MaxLifetime, None) => m::ENDED_LIFETIME_UNTIMED.text(),
        (GatewayEndReason::Revoked, _) => m::ENDED_REVOKED.text(),
        (GatewayEndReason::GatewayShutdown, _) => m::ENDED_SHUTDOWN.text(),
        (GatewayEndReason::PostureRefused, _) => m::ENDED_POSTURE.text(),
        (GatewayEndReason::PostureOverdue, _) => m::ENDED_POSTURE_OVERDUE.text(),
        (GatewayEndReason::Unknown, _) => e.message.clone(),
    }
}

/// A length of time as a person says it: whole hours, else whole minutes, else seconds
/// ("12 timer", "90 minutes", "1 sekund").
pub fn length_in_words(secs: u64) -> String {
    let (n, one, many) = if secs >= 3_600 && secs.is_multiple_of(3_600) {
        (secs / 3_600, common::HOUR_ONE, common::HOURS)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        (secs / 60, common::MINUTE_ONE, common::MINUTES)
    } else {
        (secs, common::SECOND_ONE, common::SECONDS)
    };
    if n == 1 {
        one.text()
    } else {
        many.with(&[("n", &n)])
    }
}

#[cfg(test)]
mod tests;
