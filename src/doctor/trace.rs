//! What the checks tried, with timings, for the support bundle: "resolved gw.kommune.no in
//! 12 ms", "connect 192.0.2.7:8041 refused after 3 ms". Support reads it to see where time went
//! and which step failed.
//!
//! Only the caller's own words go in, and callers never hand over a PIN, a password or
//! anything read from the card beyond its public facts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// One step of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The check it belongs to (`dns`, `port-443`, `card`, ...).
    pub check: String,
    /// What was tried.
    pub what: String,
    /// When it started, in milliseconds since the doctor started (to the microsecond).
    pub at_ms: f64,
    /// How long it took, in milliseconds (to the microsecond).
    pub took_ms: f64,
    /// What came of it.
    pub outcome: String,
}

/// The steps so far; cheap to clone, shared by the threads and tasks of the checks.
#[derive(Debug, Clone)]
pub struct Trace {
    started: Instant,
    steps: Arc<Mutex<Vec<Step>>>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    /// A trace starting now.
    pub fn new() -> Self {
        Trace {
            started: Instant::now(),
            steps: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Records a step that began at `began` and has just ended with `outcome`.
    pub fn record(&self, check: &str, what: &str, began: Instant, outcome: impl Into<String>) {
        let took = began.elapsed();
        let at = began.saturating_duration_since(self.started);
        self.push(check, what, at, took, outcome.into());
    }

    fn push(&self, check: &str, what: &str, at: Duration, took: Duration, outcome: String) {
        let step = Step {
            check: check.to_string(),
            what: what.to_string(),
            at_ms: millis(at),
            took_ms: millis(took),
            outcome,
        };
        self.steps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(step);
    }

    /// Every step so far, in the order they started.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner()).clone();
        steps.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        steps
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_come_back_in_the_order_they_started() {
        let trace = Trace::new();
        let first = Instant::now();
        let second = first + Duration::from_millis(5);
        trace.record("b", "later", second, "ok");
        trace.record("a", "earlier", first, "refused");
        let steps = trace.steps();
        assert_eq!(steps[0].check, "a");
        assert_eq!(steps[1].what, "later");
        assert!(steps[0].at_ms <= steps[1].at_ms);
    }
}
