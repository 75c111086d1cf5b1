//! XProtect, the malware scanner built into macOS. Third-party products are not looked for.
//!
//! - Which definitions: macOS 15 and later scan with the bundle in `/var/protected/xprotect`
//!   (updated over iCloud) and fall back to the one in `/Library/Apple/System/Library/
//!   CoreServices` (updated by Software Update, the only one before 15); the first that
//!   exists is the one in use. Its version is `CFBundleShortVersionString` in the bundle's
//!   `Info.plist`; its age is that file's modification time, which both ways of updating
//!   rewrite.
//! - Whether it scans on access: `xprotect status` (macOS 15 and later) says whether "launch
//!   scans" are enabled; before 15 XProtect has no switch of its own and runs as part of the
//!   system's checks of code at launch, whose switch `spctl --status` shows ("assessments
//!   enabled"). Assessments turned off count as real-time protection off.

use super::{all_output, not_understood, plist::Value, read_plist, Host};
use crate::posture::report::{Antivirus, Fact};

const XPROTECT: &str = "/usr/bin/xprotect";
const SPCTL: &str = "/usr/sbin/spctl";

/// The bundles' `Info.plist`s, in the order XProtect prefers them.
pub(super) const BUNDLES: [&str; 2] = [
    "/var/protected/xprotect/XProtect.bundle/Contents/Info.plist",
    "/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist",
];

/// Reads `xprotect status`: whether "XProtect launch scans" are enabled (the on-access scan).
/// "background scans" (XProtect Remediator's periodic sweep) are not real-time and not read.
pub(super) fn parse_xprotect_status(text: &str) -> Option<bool> {
    text.lines().find_map(|line| {
        let lower = line.to_ascii_lowercase();
        let (_, state) = lower.split_once("launch scans:")?;
        match state.trim().trim_end_matches('.') {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        }
    })
}

/// Reads `spctl --status`: "assessments enabled" or "assessments disabled".
pub(super) fn parse_spctl_status(text: &str) -> Option<bool> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("assessments enabled") {
        Some(true)
    } else if lower.contains("assessments disabled") {
        Some(false)
    } else {
        None
    }
}

/// The definitions' version from the bundle's `Info.plist`, if it looks like one.
pub(super) fn bundle_version(info: &Value) -> Option<String> {
    ["CFBundleShortVersionString", "CFBundleVersion"]
        .iter()
        .filter_map(|k| info.get(k)?.as_str())
        .map(str::trim)
        .find(|v| {
            !v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
        .map(str::to_string)
}

/// Whether XProtect scans code as it is launched.
fn real_time(host: &dyn Host) -> Result<bool, String> {
    let mut why_not = Vec::new();
    match host.run(XPROTECT, &["status"]) {
        Ok(out) => match parse_xprotect_status(&all_output(&out)) {
            Some(on) => return Ok(on),
            None => why_not.push(not_understood("xprotect status", &out)),
        },
        Err(e) => why_not.push(e),
    }
    match host.run(SPCTL, &["--status"]) {
        Ok(out) => match parse_spctl_status(&all_output(&out)) {
            Some(on) => return Ok(on),
            None => why_not.push(not_understood("spctl --status", &out)),
        },
        Err(e) => why_not.push(e),
    }
    Err(format!(
        "whether XProtect scans apps at launch is not known: {}",
        why_not.join("; ")
    ))
}

/// The probe.
pub(super) fn probe(host: &dyn Host) -> Fact<Vec<Antivirus>> {
    let Some(info) = BUNDLES.into_iter().find(|p| host.exists(p)) else {
        // No definitions anywhere: XProtect cannot recognise anything.
        return Fact::known(Vec::new());
    };
    let version = read_plist(host, info).ok().and_then(|p| bundle_version(&p));
    let real_time = match real_time(host) {
        Ok(on) => on,
        Err(e) => return Fact::unknown(e),
    };
    Fact::known(vec![Antivirus {
        name: version.map_or("XProtect".into(), |v| format!("XProtect {v}")),
        real_time,
        definitions_at: host.modified(info).ok(),
    }])
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, plist};
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    #[test]
    fn xprotect_status_in_its_forms() {
        for (name, expected) in [
            ("xprotect-status-enabled.txt", Some(true)),
            ("xprotect-status-launch-disabled.txt", Some(false)),
            ("xprotect-status-refused.txt", None),
            ("xprotect-status-garbage.txt", None),
        ] {
            assert_eq!(parse_xprotect_status(&fixture(name)), expected, "{name}");
        }
    }

    #[test]
    fn spctl_status_in_its_forms() {
        for (name, expected) in [
            ("spctl-enabled.txt", Some(true)),
            ("spctl-disabled.txt", Some(false)),
            ("spctl-garbage.txt", None),
        ] {
            assert_eq!(parse_spctl_status(&fixture(name)), expected, "{name}");
        }
    }

    #[test]
    fn the_bundle_version() {
        let info = plist::parse(&fixture("xprotect-info.plist")).unwrap();
        assert_eq!(bundle_version(&info).as_deref(), Some("5272"));
        let odd = plist::parse(
            "<plist><dict><key>CFBundleShortVersionString</key><string>lots of text</string>\
             <key>CFBundleVersion</key><string>2192</string></dict></plist>",
        )
        .unwrap();
        assert_eq!(bundle_version(&odd).as_deref(), Some("2192"));
        assert_eq!(bundle_version(&plist::Value::Dict(vec![])), None);
    }

    const NOW: i64 = 1_730_000_000;
    const STATUS: &str = "/usr/bin/xprotect status";
    const SPCTL_STATUS: &str = "/usr/sbin/spctl --status";

    fn host_with_bundle(path: &str, mtime: i64) -> FakeHost {
        let mut host = FakeHost {
            now: NOW,
            ..FakeHost::default()
        };
        host.file(path, fixture("xprotect-info.plist"));
        host.mtimes.insert(path.into(), mtime);
        host
    }

    fn xprotect(real_time: bool, definitions_at: Option<i64>) -> Fact<Vec<Antivirus>> {
        Fact::known(vec![Antivirus {
            name: "XProtect 5272".into(),
            real_time,
            definitions_at,
        }])
    }

    #[test]
    fn sequoia_and_later_say_so_themselves() {
        let mut host = host_with_bundle(BUNDLES[0], NOW - 86_400);
        host.file(BUNDLES[1], fixture("xprotect-info.plist"));
        host.mtimes.insert(BUNDLES[1].into(), NOW - 30 * 86_400);
        host.command(STATUS, 0, &fixture("xprotect-status-enabled.txt"))
            .command(SPCTL_STATUS, 0, &fixture("spctl-disabled.txt"));
        // The bundle in /var/protected is the one in use; xprotect's own word wins over spctl.
        assert_eq!(probe(&host), xprotect(true, Some(NOW - 86_400)));
        host.command(STATUS, 0, &fixture("xprotect-status-launch-disabled.txt"));
        assert_eq!(probe(&host), xprotect(false, Some(NOW - 86_400)));
    }

    #[test]
    fn before_sequoia_gatekeeper_is_the_switch() {
        let mut host = host_with_bundle(BUNDLES[1], NOW - 3 * 86_400);
        host.command(SPCTL_STATUS, 0, &fixture("spctl-enabled.txt"));
        assert_eq!(probe(&host), xprotect(true, Some(NOW - 3 * 86_400)));
        host.command(SPCTL_STATUS, 0, &fixture("spctl-disabled.txt"));
        assert_eq!(probe(&host), xprotect(false, Some(NOW - 3 * 86_400)));
        // xprotect refusing (or absent) is no answer; spctl then decides.
        host.command(STATUS, 1, &fixture("xprotect-status-refused.txt"));
        assert_eq!(probe(&host), xprotect(false, Some(NOW - 3 * 86_400)));
    }

    #[test]
    fn an_unreadable_version_still_counts_the_product() {
        let mut host = host_with_bundle(BUNDLES[1], NOW);
        host.file(BUNDLES[1], b"bplist00\x00".to_vec());
        host.command(SPCTL_STATUS, 0, &fixture("spctl-enabled.txt"));
        assert_eq!(
            probe(&host),
            Fact::known(vec![Antivirus {
                name: "XProtect".into(),
                real_time: true,
                definitions_at: Some(NOW),
            }])
        );
    }

    #[test]
    fn no_definitions_is_no_antivirus_and_no_answer_is_unknown() {
        let host = FakeHost::default();
        assert_eq!(probe(&host), Fact::known(vec![]));
        let mut host = host_with_bundle(BUNDLES[1], NOW);
        host.command(SPCTL_STATUS, 0, &fixture("spctl-garbage.txt"));
        assert_eq!(
            probe(&host),
            Fact::unknown(
                "whether XProtect scans apps at launch is not known: /usr/bin/xprotect is not \
                 installed; spctl --status said «spctl: unrecognized option `--status'», which \
                 is not understood"
            )
        );
    }
}
