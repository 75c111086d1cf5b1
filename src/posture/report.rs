//! The posture report: facts about the home computer, each either known or unknown with the
//! reason why, and the time they were taken. Self-reported: the gateway weighs it as a claim
//! (`docs/threat-model.md`).

use serde::{Deserialize, Serialize};

/// The report format's version; a gateway refuses reports of a version it does not know
/// rather than guess what their facts mean.
pub const REPORT_VERSION: u32 = 1;

/// One fact: what a probe found, or why it could not find it (no such tool, no permission,
/// timed out, unknown output). A failing probe never fails the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Fact<T> {
    /// What the probe found.
    Known {
        /// The value.
        value: T,
    },
    /// The probe could not tell.
    Unknown {
        /// Why, in English for the log and the support bundle.
        reason: String,
    },
}

impl<T> Fact<T> {
    /// A known fact.
    pub fn known(value: T) -> Self {
        Fact::Known { value }
    }

    /// An unknown fact, with its reason.
    pub fn unknown(reason: impl Into<String>) -> Self {
        Fact::Unknown {
            reason: reason.into(),
        }
    }

    /// The value, if known.
    pub fn value(&self) -> Option<&T> {
        match self {
            Fact::Known { value } => Some(value),
            Fact::Unknown { .. } => None,
        }
    }
}

/// The operating system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsFacts {
    /// `windows`, `macos` or `linux`.
    pub family: String,
    /// The product name (`Debian GNU/Linux`, `Windows 11 Pro`).
    pub name: String,
    /// The version as dotted numbers (`12`, `10.0.22631`, `14.4`).
    pub version: String,
    /// The build, where the system has one apart from the version.
    pub build: Option<String>,
    /// `x86_64`, `aarch64`.
    pub architecture: String,
}

/// A firewall product or profile (Windows has three profiles; Linux one ruleset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firewall {
    /// The product or profile (`nftables`, `ufw`, `Windows Defender Firewall (Public)`).
    pub name: String,
    /// Whether it filters incoming traffic now.
    pub enabled: bool,
}

/// An antivirus product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Antivirus {
    /// The product (`ClamAV`, `Microsoft Defender Antivirus`).
    pub name: String,
    /// Whether real-time (on-access) protection is on.
    pub real_time: bool,
    /// When its definitions were published, as Unix seconds, if it says.
    pub definitions_at: Option<i64>,
}

/// System updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Updates {
    /// Security updates waiting to be installed.
    pub pending_security: u32,
    /// Since when the oldest of them has waited, as Unix seconds, if known.
    pub pending_since: Option<i64>,
    /// The last successful update, as Unix seconds, if known.
    pub last_success: Option<i64>,
    /// Whether installed updates wait for a restart.
    pub reboot_pending: bool,
}

/// The screen lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenLock {
    /// Whether the screen locks by itself.
    pub enabled: bool,
    /// After how many seconds without use, if it says.
    pub timeout_secs: Option<u32>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// When the probes ran, as Unix seconds.
    pub taken_at: i64,
    /// The operating system.
    pub os: Fact<OsFacts>,
    /// Firewalls and their state.
    pub firewall: Fact<Vec<Firewall>>,
    /// Antivirus products and their state.
    pub antivirus: Fact<Vec<Antivirus>>,
    /// Updates.
    pub updates: Fact<Updates>,
    /// Whether the system volume is encrypted.
    pub disk_encryption: Fact<bool>,
    /// The screen lock.
    pub screen_lock: Fact<ScreenLock>,
}

/// Most products or profiles of one kind a report may list; a computer has a handful.
pub const MAX_PRODUCTS: usize = 16;

/// Longest text in a report (a name, a version, a reason), in bytes.
pub const MAX_TEXT_LEN: usize = 256;

impl Report {
    /// Whether the report is of our version and every list and text is within its bound, so
    /// the gateway never keeps or logs more than that from what the client claims.
    pub fn within_bounds(&self) -> bool {
        fn text(s: &str) -> bool {
            s.len() <= MAX_TEXT_LEN && !s.chars().any(char::is_control)
        }
        fn fact<T>(f: &Fact<T>, ok: impl Fn(&T) -> bool) -> bool {
            match f {
                Fact::Known { value } => ok(value),
                Fact::Unknown { reason } => text(reason),
            }
        }
        self.version == REPORT_VERSION
            && fact(&self.os, |os| {
                [&os.family, &os.name, &os.version, &os.architecture]
                    .into_iter()
                    .chain(&os.build)
                    .all(|s| text(s))
            })
            && fact(&self.firewall, |list| {
                list.len() <= MAX_PRODUCTS && list.iter().all(|f| text(&f.name))
            })
            && fact(&self.antivirus, |list| {
                list.len() <= MAX_PRODUCTS && list.iter().all(|a| text(&a.name))
            })
            && fact(&self.updates, |_| true)
            && fact(&self.disk_encryption, |_| true)
            && fact(&self.screen_lock, |_| true)
    }

    /// A report with every fact unknown for `reason`, to be filled in by the probes.
    pub fn unknown(taken_at: i64, reason: &str) -> Report {
        Report {
            version: REPORT_VERSION,
            taken_at,
            os: Fact::unknown(reason),
            firewall: Fact::unknown(reason),
            antivirus: Fact::unknown(reason),
            updates: Fact::unknown(reason),
            disk_encryption: Fact::unknown(reason),
            screen_lock: Fact::unknown(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_say_known_or_why_not_on_the_wire() {
        let mut report = Report::unknown(1_700_000_000, "not probed");
        report.disk_encryption = Fact::known(true);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["version"], REPORT_VERSION);
        assert_eq!(
            json["disk_encryption"],
            serde_json::json!({"state": "known", "value": true})
        );
        assert_eq!(
            json["firewall"],
            serde_json::json!({"state": "unknown", "reason": "not probed"})
        );
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn the_gateway_takes_only_reports_of_its_version_within_bounds() {
        let fine = Report::unknown(1, "not probed");
        assert!(fine.within_bounds());
        let mut newer = fine.clone();
        newer.version = REPORT_VERSION + 1;
        assert!(!newer.within_bounds());
        let mut long = fine.clone();
        long.disk_encryption = Fact::unknown("x".repeat(MAX_TEXT_LEN + 1));
        assert!(!long.within_bounds());
        let mut many = fine.clone();
        let one = Firewall {
            name: "ufw".into(),
            enabled: true,
        };
        many.firewall = Fact::known(vec![one; MAX_PRODUCTS + 1]);
        assert!(!many.within_bounds());
        let mut control = fine;
        control.os = Fact::known(OsFacts {
            family: "linux".into(),
            name: "Debian\nfake log line".into(),
            version: "12".into(),
            build: None,
            architecture: "x86_64".into(),
        });
        assert!(!control.within_bounds());
    }
}
