//! Pending updates, from what Software Update recorded at its last check in
//! `/Library/Preferences/com.apple.SoftwareUpdate.plist` (readable by every user). Asking
//! `softwareupdate --list` would contact Apple and can take minutes, so it is not done; the
//! record is as fresh as the last check, which `last_success` reports.
//!
//! - Security updates: every macOS update for the running major version (identifiers
//!   `MSU_UPDATE_…_minor`, or `MobileSoftwareUpdate`, or named "macOS …"), Rapid Security
//!   Responses, anything named or identified "Security", and Safari (each Safari release fixes
//!   WebKit vulnerabilities). Upgrades to the next major version (`…_major`) and other
//!   software (Command Line Tools, printer drivers) are not.
//! - Since when they wait: the client's own ledger ([`Host::first_seen`]), as Software Update
//!   does not say when an update appeared.
//! - Last success: the newest of `LastSuccessfulDate` and `LastFullSuccessfulDate`, the last
//!   check with Apple's servers that succeeded.
//! - Reboot pending: a macOS update or Rapid Security Response is waiting; on a Mac these are
//!   installed by the restart itself, so such a Mac waits for a restart to be up to date.

use super::{plist::Value, read_plist, Host};
use crate::posture::report::{Fact, Updates};

const PREFS: &str = "/Library/Preferences/com.apple.SoftwareUpdate.plist";

/// One update Software Update recommends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pending {
    /// `Identifier`, else `Product Key`, else the name.
    pub id: String,
    /// `Display Name`.
    pub name: String,
    /// `Display Version`.
    pub version: String,
    /// `MobileSoftwareUpdate`: delivered as a macOS update.
    pub mobile: bool,
}

/// What the preferences say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recorded {
    /// The recommended updates.
    pub pending: Vec<Pending>,
    /// The last successful check, as Unix seconds.
    pub last_success: Option<i64>,
}

/// The kinds of update, for what counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A macOS update or Rapid Security Response for the running version.
    System,
    /// Another security update.
    Security,
    /// An upgrade to the next major version.
    Upgrade,
    /// Anything else.
    Other,
}

/// Reads the Software Update preferences.
pub(super) fn read_recorded(prefs: &Value) -> Result<Recorded, String> {
    if !matches!(prefs, Value::Dict(_)) {
        return Err(format!("{PREFS} does not hold a dictionary"));
    }
    let last_success = ["LastSuccessfulDate", "LastFullSuccessfulDate"]
        .iter()
        .filter_map(|k| prefs.get(k)?.as_date())
        .max();
    let counted = prefs
        .get("LastRecommendedUpdatesAvailable")
        .and_then(Value::as_i64);
    let Some(list) = prefs.get("RecommendedUpdates") else {
        return match (counted, last_success) {
            (Some(n), _) if n > 0 => Err(format!(
                "Software Update counts {n} recommended updates but does not list them"
            )),
            (None, None) => Err("Software Update has not recorded a check for updates".into()),
            _ => Ok(Recorded {
                pending: Vec::new(),
                last_success,
            }),
        };
    };
    let items = list.as_array().ok_or("RecommendedUpdates is not a list")?;
    let mut pending = Vec::with_capacity(items.len());
    for item in items {
        let text = |k: &str| {
            item.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let name = text("Display Name");
        let id = text("Identifier")
            .or_else(|| text("Product Key"))
            .or_else(|| name.clone())
            .ok_or("an entry of RecommendedUpdates names no update")?;
        pending.push(Pending {
            name: name.unwrap_or_else(|| id.clone()),
            id,
            version: text("Display Version").unwrap_or_default(),
            mobile: item
                .get("MobileSoftwareUpdate")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        });
    }
    Ok(Recorded {
        pending,
        last_success,
    })
}

/// What kind of update this is.
pub(super) fn classify(p: &Pending) -> Kind {
    let id = p.id.to_ascii_lowercase();
    let name = p.name.to_ascii_lowercase();
    if id.ends_with("_major") {
        Kind::Upgrade
    } else if p.mobile
        || id.starts_with("msu_update_")
        || name.starts_with("macos ")
        || name.contains("rapid security response")
    {
        Kind::System
    } else if name.contains("security") || id.contains("security") || name.starts_with("safari") {
        Kind::Security
    } else {
        Kind::Other
    }
}

/// The facts from the record; `first_seen` is asked since when the security updates wait.
pub(super) fn updates(
    recorded: &Recorded,
    first_seen: impl FnOnce(&[String]) -> Option<i64>,
) -> Updates {
    let mut security = Vec::new();
    let mut reboot_pending = false;
    for p in &recorded.pending {
        match classify(p) {
            Kind::System => {
                reboot_pending = true;
                security.push(p);
            }
            Kind::Security => security.push(p),
            Kind::Upgrade | Kind::Other => {}
        }
    }
    let ids: Vec<String> = security
        .iter()
        .map(|p| format!("{} {}", p.id, p.version).trim().to_string())
        .collect();
    Updates {
        pending_security: u32::try_from(ids.len()).unwrap_or(u32::MAX),
        // Asked even when nothing waits, so that the ledger forgets what was installed.
        pending_since: first_seen(&ids),
        last_success: recorded.last_success,
        reboot_pending,
    }
}

/// The probe.
pub(super) fn probe(host: &dyn Host) -> Fact<Updates> {
    match read_plist(host, PREFS).and_then(|p| read_recorded(&p)) {
        Ok(recorded) => Fact::known(updates(&recorded, |ids| host.first_seen(ids))),
        Err(e) => Fact::unknown(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, plist};
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    fn recorded(name: &str) -> Result<Recorded, String> {
        read_recorded(&plist::parse(&fixture(name)).unwrap())
    }

    /// 2024-08-21T09:40:02Z
    const CHECKED: i64 = 1_724_233_202;

    #[test]
    fn a_pending_macos_update() {
        let r = recorded("softwareupdate-sonoma-pending.plist").unwrap();
        assert_eq!(
            r.pending,
            [Pending {
                id: "MSU_UPDATE_23G93_patch_14.6.1_minor".into(),
                name: "macOS Sonoma 14.6.1".into(),
                version: "14.6.1".into(),
                mobile: true,
            }]
        );
        assert_eq!(r.last_success, Some(CHECKED));
        let mut asked = Vec::new();
        let u = updates(&r, |ids| {
            asked = ids.to_vec();
            Some(CHECKED - 86_400)
        });
        assert_eq!(
            u,
            Updates {
                pending_security: 1,
                pending_since: Some(CHECKED - 86_400),
                last_success: Some(CHECKED),
                reboot_pending: true,
            }
        );
        assert_eq!(asked, ["MSU_UPDATE_23G93_patch_14.6.1_minor 14.6.1"]);
    }

    #[test]
    fn upgrades_and_tools_are_not_security_updates_but_safari_is() {
        let r = recorded("softwareupdate-monterey-mixed.plist").unwrap();
        let kinds: Vec<(&str, Kind)> = r
            .pending
            .iter()
            .map(|p| (p.name.as_str(), classify(p)))
            .collect();
        assert_eq!(
            kinds,
            [
                ("macOS Monterey 12.7.6", Kind::System),
                ("Safari", Kind::Security),
                ("Command Line Tools for Xcode", Kind::Other),
                ("macOS Sonoma 14.6.1", Kind::Upgrade),
            ]
        );
        let u = updates(&r, |_| None);
        assert_eq!((u.pending_security, u.reboot_pending), (2, true));
    }

    #[test]
    fn rapid_security_responses_and_old_style_security_updates() {
        let r = recorded("softwareupdate-ventura-rsr.plist").unwrap();
        assert_eq!(classify(&r.pending[0]), Kind::System);
        let r = recorded("softwareupdate-catalina-security-update.plist").unwrap();
        assert_eq!(classify(&r.pending[0]), Kind::Security);
        let u = updates(&r, |_| None);
        assert_eq!((u.pending_security, u.reboot_pending), (1, false));
    }

    #[test]
    fn up_to_date() {
        let r = recorded("softwareupdate-up-to-date.plist").unwrap();
        assert_eq!(r.pending, []);
        let mut asked = None;
        let u = updates(&r, |ids| {
            asked = Some(ids.len());
            None
        });
        assert_eq!(
            u,
            Updates {
                pending_security: 0,
                pending_since: None,
                last_success: Some(CHECKED),
                reboot_pending: false,
            }
        );
        assert_eq!(asked, Some(0), "the ledger is told nothing waits");
    }

    #[test]
    fn records_that_say_too_little_are_no_answer() {
        assert_eq!(
            recorded("softwareupdate-counted-not-listed.plist").unwrap_err(),
            "Software Update counts 2 recommended updates but does not list them"
        );
        assert_eq!(
            recorded("softwareupdate-never-checked.plist").unwrap_err(),
            "Software Update has not recorded a check for updates"
        );
        for bad in [
            "<plist><array/></plist>",
            "<plist><dict><key>RecommendedUpdates</key><string>x</string></dict></plist>",
            "<plist><dict><key>RecommendedUpdates</key><array><dict/></array></dict></plist>",
        ] {
            assert!(read_recorded(&plist::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_probe_reads_the_preferences_and_asks_the_ledger() {
        let mut host = FakeHost {
            first_seen: Some(CHECKED - 5 * 86_400),
            ..FakeHost::default()
        };
        assert_eq!(
            probe(&host),
            Fact::unknown("/Library/Preferences/com.apple.SoftwareUpdate.plist does not exist")
        );
        host.file(PREFS, fixture("softwareupdate-sonoma-pending.plist"));
        assert_eq!(
            probe(&host),
            Fact::known(Updates {
                pending_security: 1,
                pending_since: Some(CHECKED - 5 * 86_400),
                last_success: Some(CHECKED),
                reboot_pending: true,
            })
        );
        host.file(PREFS, fixture("softwareupdate-garbage.plist"));
        let Fact::Unknown { reason } = probe(&host) else {
            panic!("known from garbage")
        };
        assert!(
            reason.contains("could not be read as a property list"),
            "{reason}"
        );
    }
}
