//! dnf (Fedora, RHEL and their kin), dnf 4 and dnf 5 alike.
//!
//! - Pending: `dnf -q -C updateinfo info --security` lists the security advisories for newer
//!   versions of installed packages, from the metadata cache only (`-C`: no refresh, no
//!   network). Each advisory is one pending update. dnf 4 prints blocks of `Update ID :`,
//!   `Type :`, `Updated :`; dnf 5 (`advisory info`) prints `Name :`, `Type :`, `Issued :`.
//! - Since when: the oldest advisory's date (dnf prints it in local time); where none has
//!   one, the host's ledger.
//! - Restart: `dnf -q -C needs-restarting -r` (exit status 1 when one is needed).
//! - Last success: not read (dnf's history has no stable text form).

use super::super::{as_utc, failure, local_time, run_tool};
use crate::posture::probe::Host;
use crate::posture::report::Updates;

pub(super) fn probe(host: &dyn Host) -> Result<Updates, String> {
    let out = run_tool(
        host,
        "dnf",
        &["-q", "-C", "updateinfo", "info", "--security"],
    )?;
    if !out.success() {
        return Err(failure("dnf updateinfo", &out));
    }
    let advisories = security_advisories(&out.stdout)?;
    let ids: Vec<String> = advisories.iter().map(|a| a.id.clone()).collect();
    // `YYYY-MM-DD HH:MM:SS` sorts as it reads: the oldest is the least.
    let published = advisories
        .iter()
        .filter_map(|a| a.date.as_deref())
        .map(|date| date.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|date| as_utc(date).is_some())
        .min()
        .and_then(|oldest| local_time(host, &oldest));
    Ok(Updates {
        pending_security: u32::try_from(advisories.len()).unwrap_or(u32::MAX),
        pending_since: published.or_else(|| host.first_seen(&ids)),
        last_success: None,
        reboot_pending: reboot_needed(host),
    })
}

/// One advisory.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Advisory {
    pub id: String,
    /// As dnf prints it: `2024-05-02 01:23:45`.
    pub date: Option<String>,
}

/// The security advisories in `updateinfo info` output (both dnf's forms). Advisories of
/// another type, if dnf lists them, are left out.
pub(super) fn security_advisories(text: &str) -> Result<Vec<Advisory>, String> {
    struct Reading {
        id: String,
        kind: Option<String>,
        date: Option<String>,
    }
    let mut all: Vec<Reading> = Vec::new();
    let mut recognised = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(" : ").or_else(|| line.split_once(": ")) else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "Update ID" | "Name" => {
                recognised = true;
                all.push(Reading {
                    id: value.to_string(),
                    kind: None,
                    date: None,
                });
            }
            // The first of each: dnf 5's references repeat `Type` within the advisory.
            "Type" => {
                if let Some(current) = all.last_mut() {
                    current.kind.get_or_insert_with(|| value.to_string());
                }
            }
            "Issued" | "Updated" => {
                if let Some(current) = all.last_mut() {
                    current.date.get_or_insert_with(|| value.to_string());
                }
            }
            _ => {}
        }
    }
    if !recognised && text.lines().any(|l| !l.trim().is_empty()) {
        return Err("dnf printed no advisories that could be read".into());
    }
    Ok(all
        .into_iter()
        .filter(|a| {
            a.kind
                .as_deref()
                .is_none_or(|k| k.eq_ignore_ascii_case("security"))
        })
        .map(|a| Advisory {
            id: a.id,
            date: a.date,
        })
        .collect())
}

/// `needs-restarting -r`: exit 1 and "Reboot is required" when updated core packages wait
/// for a restart. Anything else (no plugin, no answer) counts as none.
fn reboot_needed(host: &dyn Host) -> bool {
    run_tool(host, "dnf", &["-q", "-C", "needs-restarting", "-r"]).is_ok_and(|out| {
        out.status == Some(1)
            && out
                .stdout
                .to_ascii_lowercase()
                .contains("reboot is required")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::fake::FakeHost;
    use crate::posture::probe::linux::fixture;

    #[test]
    fn dnf4_and_dnf5_forms() {
        let four = security_advisories(&fixture("dnf4-updateinfo-info-security.txt")).unwrap();
        assert_eq!(
            four,
            [
                Advisory {
                    id: "FEDORA-2024-5a7c1e3b9d".into(),
                    date: Some("2024-05-02 01:23:45".into())
                },
                Advisory {
                    id: "FEDORA-2024-0f2d4b6a8c".into(),
                    date: Some("2024-04-18 20:05:11".into())
                },
            ]
        );
        let five = security_advisories(&fixture("dnf5-advisory-info-security.txt")).unwrap();
        assert_eq!(
            five,
            [Advisory {
                id: "FEDORA-2024-3e5b7d9f1a".into(),
                date: Some("2024-11-05 02:11:09".into())
            }]
        );
        assert_eq!(security_advisories("").unwrap(), []);
        assert!(
            security_advisories("Error: Cache-only enabled but no cache for 'fedora'\n").is_err()
        );
        // Another type slipped in is left out.
        let mixed = "Update ID : A\nType : bugfix\nUpdated : 2024-01-01 00:00:00\nUpdate ID : B\nType : security\n";
        assert_eq!(
            security_advisories(mixed).unwrap(),
            [Advisory {
                id: "B".into(),
                date: None
            }]
        );
    }

    #[test]
    fn through_the_host() {
        let mut host = FakeHost {
            now: 1_715_000_000,
            first_seen: Some(1_714_900_000),
            ..FakeHost::default()
        };
        host.file("/etc/dnf/dnf.conf", "[main]\n").command(
            "dnf -q -C updateinfo info --security",
            0,
            &fixture("dnf4-updateinfo-info-security.txt"),
        );
        let updates = super::super::probe(&host).value().cloned().unwrap();
        assert_eq!(
            updates,
            Updates {
                pending_security: 2,
                // 2024-04-18 20:05:11, the older, read as UTC (no `date` here).
                pending_since: Some(1_713_470_711),
                last_success: None,
                reboot_pending: false,
            }
        );
        host.command(
            "dnf -q -C needs-restarting -r",
            1,
            "Core libraries or services have been updated since boot-up:\n  * kernel\n\nReboot is required to fully utilize these updates.\nMore information: https://access.redhat.com/solutions/27943\n",
        );
        host.command("dnf -q -C updateinfo info --security", 0, "");
        let updates = super::super::probe(&host).value().cloned().unwrap();
        assert_eq!((updates.pending_security, updates.pending_since), (0, None));
        assert!(updates.reboot_pending);
        host.command(
            "dnf -q -C updateinfo info --security",
            1,
            "Error: Cache-only enabled but no cache for 'fedora'\n",
        );
        assert_eq!(
            super::super::probe(&host),
            crate::posture::report::Fact::unknown(
                "dnf updateinfo failed: Error: Cache-only enabled but no cache for 'fedora'"
            )
        );
    }
}
