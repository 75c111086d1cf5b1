//! The linux probes.

use super::{Host, Probes};
use crate::posture::report::Fact;

/// The linux probes, one per fact.
pub fn probes() -> Probes {
    fn not_yet<T>(_: &dyn Host) -> Fact<T> {
        Fact::unknown("no probe for this fact on linux yet")
    }
    Probes {
        os: not_yet,
        firewall: not_yet,
        antivirus: not_yet,
        updates: not_yet,
        disk_encryption: not_yet,
        screen_lock: not_yet,
    }
}
