//! What the user sees when something goes wrong: one sentence saying what happened and,
//! where we know one, one saying what to do. Library errors keep their structure; only
//! here do they become words.

use serde::Serialize;
use std::fmt;

/// A failure as shown to a person (and, with `--json`, to a script).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Stable machine-readable kind, e.g. `no-reader`, `pin-blocked`.
    pub kind: &'static str,
    /// What happened, in plain words.
    pub message: String,
    /// What to do next, if we know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Process exit code.
    #[serde(skip)]
    pub exit_code: u8,
}

/// Exit codes, so scripts can tell classes of failure apart without parsing text.
pub mod exit {
    /// Wrong arguments or configuration.
    pub const USAGE: u8 = 2;
    /// The smart card service, reader or card is not there.
    pub const NO_CARD: u8 = 3;
    /// The card is there but cannot be used (blocked, unknown application, bad certificate).
    pub const CARD_UNUSABLE: u8 = 4;
    /// A file could not be read or written.
    pub const IO: u8 = 5;
    /// Anything else.
    pub const OTHER: u8 = 1;
    /// The home computer does not meet the gateway's posture policy (firewall, antivirus,
    /// updates, ...).
    pub const POSTURE: u8 = 6;
}

impl Failure {
    /// A failure with a message and no fix.
    pub fn new(kind: &'static str, exit_code: u8, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            fix: None,
            exit_code,
        }
    }

    /// Adds what to do next.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Prints the failure to stderr, or as JSON to stdout when `json` is set, and returns
    /// the exit code.
    pub fn report(&self, json: bool) -> std::process::ExitCode {
        if json {
            #[derive(Serialize)]
            struct Wrapped<'a> {
                error: &'a Failure,
            }
            super::output::print_json(&Wrapped { error: self });
        } else {
            eprintln!("{self}");
        }
        std::process::ExitCode::from(self.exit_code)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::i18n::catalogue as m;
        write!(f, "{}", m::ERROR.with(&[("message", &self.message)]))?;
        if let Some(fix) = &self.fix {
            write!(f, "\n{}", m::DO_THIS.with(&[("fix", fix)]))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_message_then_fix() {
        let f = Failure::new("no-reader", exit::NO_CARD, "Fant ingen kortleser.")
            .fix("Koble til kortleseren.");
        assert_eq!(
            f.to_string(),
            "Feil: Fant ingen kortleser.\nGjør dette: Koble til kortleseren."
        );
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["kind"], "no-reader");
        assert!(json.get("exit_code").is_none());
    }
}
