//! The Windows probes, all without admin rights (`docs/posture-probes.md`, "Windows"):
//!
//! - [`os`]: WMI `Win32_OperatingSystem` and the registry's `CurrentVersion`, the build placed
//!   against its release;
//! - [`firewall`]: the three firewall profiles (WMI, else the registry; Group Policy wins) and
//!   third-party firewalls from Security Center;
//! - [`antivirus`]: Security Center's products, `productState` decoded, and Defender's status;
//! - [`updates`]: pending updates from the Windows Update Agent through PowerShell, the last
//!   installed one from WMI, a pending restart from the registry;
//! - [`disk_encryption`]: BitLocker on the system drive from the shell's property;
//! - [`screen_lock`]: the screen saver's and the machine's lock settings in the registry.
//!
//! WMI and the registry are reached through [`access`], thin and Windows-only; what they give
//! goes to pure functions, compiled and tested on every platform with fixtures of real rows.
//! Anything missing (a namespace, a class, a key, PowerShell) gives an unknown fact saying
//! what was missing.

#![cfg_attr(not(windows), allow(dead_code))]

pub mod access;
pub mod antivirus;
pub mod disk_encryption;
#[cfg(test)]
mod fake;
pub mod firewall;
pub mod os;
pub mod screen_lock;
pub mod updates;

use super::Probes;

/// The Windows probes, one per fact. Each makes its own WMI connections in its own thread.
#[cfg(windows)]
pub fn probes() -> Probes {
    use access::Local;
    Probes {
        os: |host| os::probe(host, &Local::new()),
        firewall: |host| firewall::probe(host, &Local::new()),
        antivirus: |host| antivirus::probe(host, &Local::new()),
        updates: |host| updates::probe(host, &Local::new()),
        disk_encryption: disk_encryption::probe,
        screen_lock: |host| screen_lock::probe(host, &Local::new()),
    }
}

/// Elsewhere the Windows probes only say so (their pure parts are tested everywhere).
#[cfg(not(windows))]
pub fn probes() -> Probes {
    fn not_windows<T>(_: &dyn super::Host) -> crate::posture::report::Fact<T> {
        crate::posture::report::Fact::unknown("not Windows: the Windows probes run only on Windows")
    }
    Probes {
        os: not_windows,
        firewall: not_windows,
        antivirus: not_windows,
        updates: not_windows,
        disk_encryption: not_windows,
        screen_lock: not_windows,
    }
}

#[cfg(all(test, windows))]
mod tests {
    use crate::posture::probe::{collect, LocalHost, DEFAULT_PROBE_BOUND};
    use crate::posture::report::{Fact, REPORT_VERSION};
    use std::sync::Arc;
    use std::time::Duration;

    fn reason<T>(fact: &Fact<T>) -> Option<&str> {
        match fact {
            Fact::Unknown { reason } => Some(reason),
            Fact::Known { .. } => None,
        }
    }

    /// On this computer (real Windows, or wine in CI): the report is whole and coherent.
    #[test]
    fn the_probes_give_a_coherent_report_here() {
        let host = Arc::new(LocalHost::new(Duration::from_secs(10), None));
        let report = collect(host, super::probes(), DEFAULT_PROBE_BOUND);
        eprintln!(
            "posture report here: {}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        assert_eq!(report.version, REPORT_VERSION);
        match &report.os {
            Fact::Known { value } => {
                assert_eq!(value.family, "windows");
                assert!(!value.name.is_empty() && !value.architecture.is_empty());
            }
            Fact::Unknown { reason } => assert!(!reason.is_empty()),
        }
        let reasons = [
            reason(&report.os),
            reason(&report.firewall),
            reason(&report.antivirus),
            reason(&report.updates),
            reason(&report.disk_encryption),
            reason(&report.screen_lock),
        ];
        for r in reasons.into_iter().flatten() {
            assert!(!r.trim().is_empty(), "an unknown fact without a reason");
            assert_ne!(r, "not probed");
        }
    }
}
