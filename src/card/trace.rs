//! Support trace (interim, replaced by the full APDU trace).

use std::time::Duration;

/// Where trace lines go.
#[derive(Debug, Clone)]
pub struct TraceSink;

impl TraceSink {
    /// Records one non-APDU call.
    pub fn call(&self, _function: &str, _detail: &str, _result: &str, _elapsed: Duration) {}
}

impl TraceSink {
    /// Creates the trace file.
    pub fn create(_path: &std::path::Path) -> std::io::Result<TraceSink> {
        Ok(TraceSink)
    }
}

/// Wraps a transport so its exchanges are traced.
pub fn traced(
    transport: Box<dyn super::CardTransport>,
    _sink: Option<TraceSink>,
) -> Box<dyn super::CardTransport> {
    transport
}
