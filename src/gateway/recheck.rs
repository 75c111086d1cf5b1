//! Posture re-checks during a session: the client opens a stream whose only frame is a fresh
//! report; the gateway judges it by the same policy as the login and answers
//! `posture-checked` (with any warnings), or `ending` with the failed rules, and then ends
//! the session. A session whose client sends no fresh report within the interval and its
//! [`GRACE`] is ended too: a client that stops reporting is not trusted to still comply.

use crate::posture::report::Report;
use crate::tunnel::protocol::{Ending, GatewayMessage, PostureChecked, PostureNotice};
use std::time::Duration;

/// Room past the re-check interval before a missing report ends the session: the client's
/// probes may take their full bound, and its clock and ours tick apart.
pub const GRACE: Duration = Duration::from_secs(120);

/// The gateway's answer to one re-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostureAnswer {
    /// The computer still complies; warnings, if any, go to the person.
    Passed {
        /// Rules failed with `warn`.
        warnings: Vec<PostureNotice>,
    },
    /// A `deny` rule failed: this notice goes to the client and the session ends.
    Refused {
        /// What the client is told.
        ending: Ending,
    },
}

impl PostureAnswer {
    /// The message that answers the re-check stream.
    pub fn message(&self) -> GatewayMessage {
        match self {
            PostureAnswer::Passed { warnings } => GatewayMessage::PostureChecked(PostureChecked {
                warnings: warnings.clone(),
            }),
            PostureAnswer::Refused { ending } => GatewayMessage::Ending(ending.clone()),
        }
    }
}

/// How a session judges re-check reports; the gateway's session implements it with its
/// policy and audit log. The default (tests, relays without a policy) passes every report.
pub trait PostureJudge: Send + Sync {
    /// Judges a fresh report; recorded in the audit log before it resolves where it failed
    /// a rule.
    fn judge(&self, report: Report) -> super::relay::BoxFuture<'_, PostureAnswer> {
        let _ = report;
        Box::pin(std::future::ready(PostureAnswer::Passed {
            warnings: Vec::new(),
        }))
    }
}

/// When the next report is due: `interval` plus [`GRACE`] from `since`; `None` when
/// sessions are not re-checked.
pub fn due(
    since: tokio::time::Instant,
    interval: Option<Duration>,
) -> Option<tokio::time::Instant> {
    interval.map(|every| since + every + GRACE)
}
