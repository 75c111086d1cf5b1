//! `hjemmekontor doctor`: every check of a home-office setup as a function from what was seen
//! to a [`CheckResult`], so each verdict is tested without a card, a network or a clock.
//!
//! The shell (`cli/doctor.rs`) gathers the facts: the smart-card stack, the card, the posture
//! probes, and the network through [`network::check_gateway`], which gets its resolver and
//! clock passed in ([`network::Resolver`], [`Clock`]). Every wait is bounded by [`Bounds`], so
//! one hanging check (a DNS server that never answers, a port that swallows packets) never
//! hangs the command.
//!
//! - [`card`]: the smart-card service, readers, the card, its login certificate, PIN tries;
//! - [`sign`]: the signature test (`--sign-test`), verified against the certificate;
//! - [`network`]: name resolution (and the split-DNS trap), ports, the clock against the
//!   gateway's, and the run of the network checks;
//! - [`tls`]: the TLS handshake with the gateway (policy ALPN, no card) and its certificate;
//! - [`posture`]: the computer's report, judged by the gateway's published policy;
//! - [`report`]: the lines people read, the JSON, and the support bundle;
//! - [`trace`]: what was tried, with timings, for the bundle.

pub mod card;
pub mod network;
pub mod posture;
pub mod report;
pub mod sign;
pub mod tls;
pub mod trace;

#[cfg(test)]
mod testutil;

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::cli::Failure;
use crate::i18n::catalogue::doctor as m;

/// How a check came out. Warnings do not fail the command; a failure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In order.
    Ok,
    /// Works, but something needs attention soon (a certificate about to expire, a clock a
    /// minute off, a posture rule that only warns).
    Warning,
    /// Does not work: a login would fail, or the check itself could not be done.
    Fail,
}

impl Status {
    /// The word people read, in the run's language: `OK`, `ADVARSEL`, `FEIL` (`OK`,
    /// `WARNING`, `FAILED`).
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => m::STATUS_WARNING.as_str(),
            Status::Fail => m::STATUS_FAIL.as_str(),
        }
    }
}

/// One check's outcome: one line for people, the same with its facts for scripts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Stable id for scripts: `smartcard-service`, `dns`, `port-443`, ...
    pub id: String,
    /// OK, warning or failure.
    pub status: Status,
    /// What was found, in a sentence or two in the run's language.
    pub summary: String,
    /// What to do, when the status is not OK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The facts behind the verdict (English keys), for scripts and the support bundle.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

impl CheckResult {
    fn new(id: impl Into<String>, status: Status, summary: impl Into<String>) -> Self {
        CheckResult {
            id: id.into(),
            status,
            summary: summary.into(),
            fix: None,
            details: serde_json::Value::Null,
        }
    }

    /// An OK result.
    pub fn ok(id: impl Into<String>, summary: impl Into<String>) -> Self {
        Self::new(id, Status::Ok, summary)
    }

    /// A warning with what to do.
    pub fn warning(
        id: impl Into<String>,
        summary: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(id, Status::Warning, summary).fix(fix)
    }

    /// A failure with what to do.
    pub fn fail(id: impl Into<String>, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(id, Status::Fail, summary).fix(fix)
    }

    /// A failure in the words the other commands use for the same problem (their message and
    /// fix), with the failure's kind among the details.
    pub fn from_failure(id: impl Into<String>, failure: &Failure) -> Self {
        let mut result = Self::new(id, Status::Fail, failure.message.clone());
        result.fix = failure.fix.clone();
        result.details = serde_json::json!({ "kind": failure.kind });
        result
    }

    /// Sets what to do.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Sets the facts behind the verdict.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Where "now" comes from: injected so tests can put the computer's clock anywhere.
pub trait Clock: Send + Sync {
    /// Now, by this clock.
    fn now(&self) -> OffsetDateTime;
}

/// The computer's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// How long each kind of check may take before it is reported as hanging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// One name lookup.
    pub dns: Duration,
    /// One TCP connection.
    pub connect: Duration,
    /// The TLS handshake, and then the policy frame.
    pub tls: Duration,
    /// Everything the smart-card stack and the card are asked, together (no PIN).
    pub card: Duration,
    /// The posture probes (each probe has its own 15 s bound inside this one).
    pub posture: Duration,
    /// The PIN check of `--sign-test`, PIN-pad typing included, and the signature.
    pub sign: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            dns: Duration::from_secs(5),
            connect: Duration::from_secs(5),
            tls: Duration::from_secs(10),
            card: Duration::from_secs(30),
            posture: crate::posture::probe::DEFAULT_PROBE_BOUND + Duration::from_secs(5),
            sign: Duration::from_secs(60),
        }
    }
}

/// A duration as people read it: `5 s`, `250 ms`.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_order_and_name_themselves() {
        assert!(Status::Fail > Status::Warning && Status::Warning > Status::Ok);
        assert_eq!(Status::Warning.word(), "ADVARSEL");
        let english = crate::i18n::with_lang(crate::i18n::Lang::En, || Status::Fail.word());
        assert_eq!(english, "FAILED");
        assert_eq!(serde_json::to_value(Status::Fail).unwrap(), "fail");
    }

    #[test]
    fn a_failure_keeps_its_words_and_kind() {
        let f = Failure::new("no-reader", 3, "Fant ingen kortleser.").fix("Koble den til.");
        let r = CheckResult::from_failure("readers", &f);
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.summary, "Fant ingen kortleser.");
        assert_eq!(r.fix.as_deref(), Some("Koble den til."));
        assert_eq!(r.details["kind"], "no-reader");
        let json = serde_json::to_value(CheckResult::ok("x", "fint")).unwrap();
        assert!(json.get("fix").is_none() && json.get("details").is_none());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(seconds(Duration::from_millis(250)), "250 ms");
        assert_eq!(seconds(Duration::from_secs(5)), "5 s");
    }
}
