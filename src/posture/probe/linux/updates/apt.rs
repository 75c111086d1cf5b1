//! apt (Debian, Ubuntu and their kin).
//!
//! - Pending: `apt-get -s dist-upgrade` simulates the upgrade from the package lists on disk
//!   (no root, no lock, no network); each `Inst pkg [old] (new Origin:Version/suite, … [arch])`
//!   line whose origins include a security suite (`…-security`, or an origin labelled
//!   security: `Debian-Security`) is a pending security update.
//! - Since when: apt does not say when an update was published; the host's ledger remembers
//!   when each was first seen waiting.
//! - The package lists: if none were fetched within [`STALE_LISTS_DAYS`], what the simulation
//!   says is old news, and the fact is unknown.
//! - Last success: the `End-Date` of the last entry in `/var/log/apt/history.log` (or the
//!   rotated `history.log.1.gz`) that upgraded packages without an error.
//! - Restart: `/run/reboot-required`, left by packages that need one.

use super::super::{failure, local_time, run_tool};
use super::flag_exists;
use crate::posture::probe::Host;
use crate::posture::report::Updates;
use std::io::Read;

/// Package lists older than this (days) say nothing about what is pending now.
pub(super) const STALE_LISTS_DAYS: i64 = 30;

const LISTS: &str = "/var/lib/apt/lists";
const HISTORY: &str = "/var/log/apt/history.log";

pub(super) fn probe(host: &dyn Host) -> Result<Updates, String> {
    fresh_lists(host)?;
    let out = run_tool(
        host,
        "apt-get",
        &["-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
    )?;
    if !out.success() {
        return Err(failure("apt-get -s dist-upgrade", &out));
    }
    let pending = pending_security(&out.stdout)?;
    let count = u32::try_from(pending.len()).unwrap_or(u32::MAX);
    Ok(Updates {
        pending_security: count,
        pending_since: host.first_seen(&pending),
        last_success: last_success(host),
        reboot_pending: flag_exists(host, &["/run/reboot-required", "/var/run/reboot-required"]),
    })
}

/// The package lists were fetched within [`STALE_LISTS_DAYS`]: the newest `Release` or
/// `InRelease` file (apt keeps the archive's time on them; a security archive's changes
/// daily or weekly).
fn fresh_lists(host: &dyn Host) -> Result<(), String> {
    let newest = host
        .list_dir(LISTS)
        .unwrap_or_default()
        .iter()
        .filter(|name| name.ends_with("_InRelease") || name.ends_with("_Release"))
        .filter_map(|name| host.modified(&format!("{LISTS}/{name}")).ok())
        .max()
        .ok_or("apt has no package lists (apt-get update has not run), so what is pending cannot be told")?;
    let days = (host.now() - newest) / 86_400;
    if days > STALE_LISTS_DAYS {
        return Err(format!(
            "apt's package lists are {days} days old, so what is pending now cannot be told from them (they refresh with apt-get update)"
        ));
    }
    Ok(())
}

/// The security updates in an `apt-get -s` simulation, as `package version` (the ledger's
/// identifiers). Output without apt's summary line is no simulation.
pub(super) fn pending_security(text: &str) -> Result<Vec<String>, String> {
    let summary = text
        .lines()
        .any(|l| l.contains(" upgraded, ") && l.contains(" newly installed"));
    if !summary {
        return Err("apt-get printed no upgrade summary".into());
    }
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .filter_map(|rest| {
            let package = rest.split_whitespace().next()?;
            let (open, close) = (rest.find('(')?, rest.rfind(')')?);
            let inside = rest.get(open + 1..close)?;
            let (version, origins) = inside.split_once(' ')?;
            // `Origin:Version/suite, Origin:Version/suite [arch]`
            let origins = origins.split(" [").next().unwrap_or(origins);
            origins
                .split(", ")
                .any(is_security_origin)
                .then(|| format!("{package} {version}"))
        })
        .collect())
}

fn is_security_origin(origin: &str) -> bool {
    let origin = origin.trim();
    let suite = origin.rsplit('/').next().unwrap_or(origin);
    let label = origin.split(':').next().unwrap_or(origin);
    suite.ends_with("-security") || label.to_ascii_lowercase().contains("security")
}

/// The last successful upgrade, from the history log or, when apt's monthly rotation has just
/// emptied it, the rotated one.
fn last_success(host: &dyn Host) -> Option<i64> {
    let current = host.read_to_string(HISTORY).ok();
    let end = current.as_deref().and_then(last_upgrade).or_else(|| {
        let gz = host.read(&format!("{HISTORY}.1.gz")).ok()?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .take(64 * 1024 * 1024)
            .read_to_string(&mut text)
            .ok()?;
        last_upgrade(&text)
    })?;
    local_time(host, &end)
}

/// The `End-Date` of the last history entry that upgraded something (an `Upgrade:` line) and
/// did not fail (no `Error:` line). Installing new packages alone is no update.
pub(super) fn last_upgrade(history: &str) -> Option<String> {
    let mut last = None;
    let mut entry: Vec<&str> = Vec::new();
    for line in history.lines().chain(std::iter::once("")) {
        if !line.trim().is_empty() {
            entry.push(line);
            continue;
        }
        let has = |key: &str| entry.iter().any(|l| l.starts_with(key));
        if has("Upgrade:") && !has("Error:") {
            if let Some(end) = entry.iter().find_map(|l| l.strip_prefix("End-Date:")) {
                last = Some(end.trim().to_string());
            }
        }
        entry.clear();
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::fake::FakeHost;
    use crate::posture::probe::linux::fixture;
    use crate::posture::probe::CommandOutput;

    const NOW: i64 = 1_796_200_000;

    #[test]
    fn a_real_bookworm_simulation() {
        let pending = pending_security(&fixture("apt-simulate-bookworm-real.txt")).unwrap();
        // 139 upgrades, of which 92 come from the security suite (some also from the point
        // release: still security updates).
        assert_eq!(pending.len(), 92);
        assert!(pending.contains(&"libssl3 3.0.22-1~deb12u2".to_string()));
        assert!(pending.contains(&"libgcrypt20 1.10.1-3+deb12u1".to_string()));
        assert!(!pending.iter().any(|p| p.starts_with("base-files ")));
    }

    #[test]
    fn ubuntu_and_crafted_simulations() {
        let ubuntu = pending_security(&fixture("apt-simulate-ubuntu-security.txt")).unwrap();
        assert_eq!(
            ubuntu,
            [
                "libssl3t64 3.0.13-0ubuntu3.4",
                "openssl 3.0.13-0ubuntu3.4",
                "linux-image-6.8.0-49-generic 6.8.0-49.49",
                "libexpat1 2.6.1-2ubuntu0.2",
            ]
        );
        let nothing = pending_security(&fixture("apt-simulate-nothing.txt")).unwrap();
        assert!(nothing.is_empty());
        assert!(pending_security("E: Unable to locate package lists\n").is_err());
        assert!(pending_security("").is_err());
    }

    #[test]
    fn history_entries() {
        let real = fixture("apt-history-real.log");
        assert_eq!(last_upgrade(&real).as_deref(), Some("2026-09-22  04:48:24"));
        let crafted = fixture("apt-history-failed-and-installs.log");
        assert_eq!(
            last_upgrade(&crafted).as_deref(),
            Some("2026-11-28  09:15:02")
        );
        assert_eq!(last_upgrade(""), None);
        assert_eq!(last_upgrade("garbage\n\nEnd-Date: never\n"), None);
    }

    fn debian(now: i64) -> FakeHost {
        let mut host = FakeHost {
            now,
            first_seen: Some(now - 3 * 86_400),
            ..FakeHost::default()
        };
        host.file("/var/lib/dpkg/status", "")
            .file(
                &format!(
                    "{LISTS}/deb.debian.org_debian-security_dists_bookworm-security_InRelease"
                ),
                "",
            )
            .file(&format!("{LISTS}/lock"), "");
        host.mtimes.insert(
            format!("{LISTS}/deb.debian.org_debian-security_dists_bookworm-security_InRelease"),
            now - 2 * 86_400,
        );
        host.commands.insert(
            "apt-get -s -o Debug::NoLocking=1 dist-upgrade".into(),
            Ok(CommandOutput {
                status: Some(0),
                stdout: fixture("apt-simulate-bookworm-real.txt"),
                stderr: String::new(),
            }),
        );
        host
    }

    #[test]
    fn through_the_host() {
        let mut host = debian(NOW);
        host.file(HISTORY, fixture("apt-history-real.log"));
        let updates = probe(&host).unwrap();
        assert_eq!(
            updates,
            Updates {
                pending_security: 92,
                pending_since: Some(NOW - 3 * 86_400),
                // 2026-09-22 04:48:24, read as UTC where `date` is not there to say the zone.
                last_success: Some(1_790_052_504),
                reboot_pending: false,
            }
        );
        host.file("/run/reboot-required", "*** System restart required ***\n");
        host.command("date -d 2026-09-22 04:48:24 +%s", 0, "1790048904\n");
        let updates = probe(&host).unwrap();
        assert!(updates.reboot_pending);
        assert_eq!(updates.last_success, Some(1_790_048_904));
    }

    #[test]
    fn a_rotated_history_is_read_when_the_current_one_is_empty() {
        use std::io::Write;
        let mut host = debian(NOW);
        host.file(HISTORY, "");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(fixture("apt-history-failed-and-installs.log").as_bytes())
            .unwrap();
        host.file(&format!("{HISTORY}.1.gz"), gz.finish().unwrap());
        assert_eq!(probe(&host).unwrap().last_success, Some(1_795_857_302));
    }

    #[test]
    fn stale_or_missing_lists_and_failures_are_reasons() {
        let mut host = debian(NOW);
        host.now = NOW + 40 * 86_400;
        assert_eq!(
            probe(&host).unwrap_err(),
            "apt's package lists are 42 days old, so what is pending now cannot be told from them (they refresh with apt-get update)"
        );
        let mut never = debian(NOW);
        never.files.retain(|path, _| !path.starts_with(LISTS));
        assert!(probe(&never)
            .unwrap_err()
            .contains("apt-get update has not run"));
        let mut broken = debian(NOW);
        broken.commands.insert(
            "apt-get -s -o Debug::NoLocking=1 dist-upgrade".into(),
            Ok(CommandOutput {
                status: Some(100),
                stdout: String::new(),
                stderr: "E: The package lists or status file could not be parsed or opened.\n"
                    .into(),
            }),
        );
        assert_eq!(
            probe(&broken).unwrap_err(),
            "apt-get -s dist-upgrade failed: E: The package lists or status file could not be parsed or opened."
        );
    }
}
