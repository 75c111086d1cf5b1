//! Windows Update.
//!
//! - Pending updates: the Windows Update Agent's COM object cannot be reached from this crate
//!   without `unsafe` (it is not WMI), so PowerShell asks it ([`SEARCH`]), through the Host
//!   (bounded in time like every program), and prints each pending update's title, MSRC
//!   severity, categories and `LastDeploymentChangeTime` as JSON. The search is offline: it
//!   answers from Windows Update's last scan (Windows scans by itself about daily), since an
//!   online search can take minutes, far past the probe's bound. An update is a security
//!   update when it is in the "Security Updates" classification (by its category ID, which
//!   does not depend on the system's language, or its English name) or has an MSRC severity.
//!   They have waited since the oldest `LastDeploymentChangeTime` (when Microsoft published or
//!   last revised the update); one without it counts from when this client first saw it
//!   waiting.
//! - The last successful update: the latest `InstalledOn` of WMI `Win32_QuickFixEngineering`
//!   ([`parse_installed_on`] for its formats), to the day.
//! - A restart pending: the registry key `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\
//!   WindowsUpdate\Auto Update\RebootRequired` or `…\Component Based Servicing\RebootPending`
//!   exists.

use super::access::{first_line, parse_time, Hive, System};
use crate::posture::probe::Host;
use crate::posture::report::{Fact, Updates};
use serde::{Deserialize, Deserializer};

/// The PowerShell that lists pending updates as JSON (an array, empty when none). Dates are
/// written as UTC (the agent gives them in UTC) in the invariant culture.
pub const SEARCH: &str = "$ErrorActionPreference = 'Stop'; \
[Console]::OutputEncoding = [Text.Encoding]::UTF8; \
$inv = [Globalization.CultureInfo]::InvariantCulture; \
$searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); \
$searcher.Online = $false; \
$result = $searcher.Search('IsInstalled=0 and IsHidden=0'); \
$list = @(foreach ($u in $result.Updates) { [pscustomobject]@{ \
Title = $u.Title; MsrcSeverity = $u.MsrcSeverity; \
Categories = @(foreach ($c in $u.Categories) { $c.Name }); \
CategoryIDs = @(foreach ($c in $u.Categories) { $c.CategoryID }); \
LastDeploymentChangeTime = $(if ($u.LastDeploymentChangeTime) { $u.LastDeploymentChangeTime.ToString('yyyy-MM-dd''T''HH'':''mm'':''ss''Z''', $inv) } else { $null }) } }); \
ConvertTo-Json -InputObject $list -Compress -Depth 3";

/// The "Security Updates" classification of Windows Update.
const SECURITY_UPDATES_ID: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";

/// `Auto Update\RebootRequired`: Windows Update installed something that needs a restart.
pub const REBOOT_REQUIRED: &str =
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired";
/// `Component Based Servicing\RebootPending`: servicing waits for a restart.
pub const REBOOT_PENDING: &str =
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending";

/// One pending update, as [`SEARCH`] prints it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PendingUpdate {
    /// "2024-12 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5048685)".
    #[serde(rename = "Title")]
    pub title: Option<String>,
    /// "Critical", "Important", "Moderate", "Low", or none.
    #[serde(rename = "MsrcSeverity")]
    pub msrc_severity: Option<String>,
    /// Category names, in the system's language.
    #[serde(rename = "Categories", default, deserialize_with = "strings")]
    pub categories: Vec<String>,
    /// Category IDs.
    #[serde(rename = "CategoryIDs", default, deserialize_with = "strings")]
    pub category_ids: Vec<String>,
    /// When Microsoft last published it, RFC 3339 in UTC.
    #[serde(rename = "LastDeploymentChangeTime")]
    pub last_deployment_change_time: Option<String>,
}

/// A list of strings that PowerShell may also write as one string or null.
fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Option<String>>),
        One(Option<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(all) => all.into_iter().flatten().collect(),
        OneOrMany::One(one) => one.into_iter().collect(),
    })
}

impl PendingUpdate {
    /// Whether it is a security update.
    pub fn is_security(&self) -> bool {
        self.category_ids
            .iter()
            .any(|id| id.trim().eq_ignore_ascii_case(SECURITY_UPDATES_ID))
            || self
                .categories
                .iter()
                .any(|c| c.trim().eq_ignore_ascii_case("Security Updates"))
            || self
                .msrc_severity
                .as_deref()
                .map(str::trim)
                .is_some_and(|s| !s.is_empty() && !s.eq_ignore_ascii_case("Unspecified"))
    }
}

/// A row of `Win32_QuickFixEngineering` (the properties used).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuickFixEngineering {
    /// "KB5048685".
    #[serde(rename = "HotFixID")]
    pub hot_fix_id: Option<String>,
    /// The day it was installed (a string; see [`parse_installed_on`]).
    #[serde(rename = "InstalledOn")]
    pub installed_on: Option<String>,
}

/// What [`SEARCH`] printed, as the pending updates.
pub fn parse_pending(stdout: &str) -> Result<Vec<PendingUpdate>, String> {
    let text = stdout.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(
            "powershell printed nothing for the Windows Update search (not a working PowerShell?)"
                .into(),
        );
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        format!(
            "the Windows Update search printed something else than its list: «{}»",
            first_line(text).chars().take(120).collect::<String>()
        )
    })?;
    let rows = match value {
        serde_json::Value::Array(rows) => rows,
        serde_json::Value::Null => Vec::new(),
        one => vec![one],
    };
    rows.into_iter()
        .map(|row| {
            serde_json::from_value(row)
                .map_err(|e| format!("the Windows Update search printed an odd update: {e}"))
        })
        .collect()
}

/// `InstalledOn` as Unix seconds (midnight UTC of that day). Since Windows 7, WMI writes it as
/// the invariant culture's short date, `M/D/YYYY` ("12/11/2024"), whatever the system's
/// language; where a first number above 12 shows it is `D/M/YYYY` it is read so. Also read:
/// `D.M.YYYY`, `YYYY-MM-DD`, `YYYYMMDD`, 16 hex digits (a FILETIME, as Windows Vista wrote
/// it), and the forms [`parse_time`] knows (PowerShell's JSON of a date).
pub fn parse_installed_on(text: &str) -> Option<i64> {
    let text = text.trim();
    let day = text.split_whitespace().next()?;
    if day.starts_with("/Date(") {
        return parse_time(day);
    }
    if day.len() == 16 && day.bytes().all(|b| b.is_ascii_hexdigit()) {
        let filetime = u64::from_str_radix(day, 16).ok()?;
        return i64::try_from(filetime / 10_000_000)
            .ok()
            .map(|s| s - 11_644_473_600);
    }
    let numbers = |sep: char| -> Option<Vec<u32>> {
        day.split(sep)
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u32>>>()
    };
    let (year, month, date) = if day.contains('/') {
        match numbers('/')?.as_slice() {
            [a, b, y] if *a > 12 => (*y, *b, *a),
            [m, d, y] => (*y, *m, *d),
            _ => return None,
        }
    } else if day.contains('.') {
        match numbers('.')?.as_slice() {
            [d, m, y] => (*y, *m, *d),
            _ => return None,
        }
    } else if day.len() == 10 && day.as_bytes()[4] == b'-' {
        match numbers('-')?.as_slice() {
            [y, m, d] => (*y, *m, *d),
            _ => return None,
        }
    } else if day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = day.parse().ok()?;
        (n / 10_000, n / 100 % 100, n % 100)
    } else {
        return parse_time(text);
    };
    if year < 1980 {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(date).ok()?)
            .ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// The fact from the pending updates (or why they are not known), the installed ones (or why
/// not), whether a restart waits, and the client's own first sightings for updates without a
/// publication time.
pub fn decide(
    pending: Result<Vec<PendingUpdate>, String>,
    installed: Result<Vec<QuickFixEngineering>, String>,
    reboot_pending: bool,
    first_seen: impl FnOnce(&[String]) -> Option<i64>,
) -> Fact<Updates> {
    let pending = match pending {
        Ok(pending) => pending,
        Err(reason) => return Fact::unknown(reason),
    };
    let security: Vec<&PendingUpdate> = pending.iter().filter(|u| u.is_security()).collect();
    let dated: Vec<i64> = security
        .iter()
        .filter_map(|u| {
            u.last_deployment_change_time
                .as_deref()
                .and_then(parse_time)
        })
        .collect();
    let undated: Vec<String> = security
        .iter()
        .filter(|u| {
            u.last_deployment_change_time
                .as_deref()
                .and_then(parse_time)
                .is_none()
        })
        .map(|u| u.title.clone().unwrap_or_else(|| "untitled update".into()))
        .collect();
    let seen = if undated.is_empty() {
        None
    } else {
        first_seen(&undated)
    };
    let pending_since = dated.into_iter().chain(seen).min();
    let last_success = installed.ok().and_then(|rows| {
        rows.iter()
            .filter_map(|r| r.installed_on.as_deref().and_then(parse_installed_on))
            .max()
    });
    Fact::known(Updates {
        pending_security: u32::try_from(security.len()).unwrap_or(u32::MAX),
        pending_since,
        last_success,
        reboot_pending,
    })
}

/// Asks Windows Update through PowerShell.
pub fn search(host: &dyn Host) -> Result<Vec<PendingUpdate>, String> {
    let out = host.run(
        "powershell",
        &["-NoProfile", "-NonInteractive", "-Command", SEARCH],
    )?;
    if !out.success() {
        let said = [first_line(&out.stderr), first_line(&out.stdout)]
            .into_iter()
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        return Err(format!("the Windows Update search failed: {said}"));
    }
    parse_pending(&out.stdout)
}

/// The probe.
pub fn probe(host: &dyn Host, sys: &impl System) -> Fact<Updates> {
    let pending = search(host);
    let installed = sys.query::<QuickFixEngineering>(r"root\cimv2", "Win32_QuickFixEngineering");
    let reboot = sys.key_exists(Hive::LocalMachine, REBOOT_REQUIRED)
        || sys.key_exists(Hive::LocalMachine, REBOOT_PENDING);
    decide(pending, installed, reboot, |titles| host.first_seen(titles))
}

#[cfg(test)]
mod tests {
    use super::super::fake::{fixture, FakeSystem};
    use super::*;
    use crate::posture::probe::fake::FakeHost;

    const DAY: i64 = 86_400;

    fn host_with_search(status: i32, stdout: &str) -> FakeHost {
        let mut host = FakeHost::default();
        let line = format!("powershell -NoProfile -NonInteractive -Command {SEARCH}");
        host.command(&line, status, stdout);
        host
    }

    #[test]
    fn pending_security_updates_and_since_when() {
        let host = host_with_search(0, fixture!("wu-search-pending.json"));
        let mut sys = FakeSystem::default();
        sys.rows(
            r"root\cimv2",
            "Win32_QuickFixEngineering",
            fixture!("win32_quickfixengineering.json"),
        )
        .key(Hive::LocalMachine, REBOOT_REQUIRED);
        let fact = probe(&host, &sys);
        // 2024-12-10 (the cumulative update) is the oldest security one; the Defender
        // definitions and the driver are not security updates.
        let dec_10 = 1_733_788_800;
        // The latest InstalledOn: 11/12/2024.
        let nov_12 = 1_731_369_600;
        assert_eq!(
            fact,
            Fact::known(Updates {
                pending_security: 2,
                pending_since: Some(dec_10),
                last_success: Some(nov_12),
                reboot_pending: true,
            })
        );
    }

    #[test]
    fn nothing_pending() {
        let host = host_with_search(0, "[]\r\n");
        let sys = FakeSystem::default();
        let fact = probe(&host, &sys);
        assert_eq!(
            fact,
            Fact::known(Updates {
                pending_security: 0,
                pending_since: None,
                last_success: None,
                reboot_pending: false,
            })
        );
    }

    #[test]
    fn no_powershell_or_a_failed_search_is_unknown_with_why() {
        let sys = FakeSystem::default();
        assert_eq!(
            probe(&FakeHost::default(), &sys),
            Fact::unknown("powershell is not installed")
        );
        let mut host = FakeHost::default();
        host.commands.insert(
            format!("powershell -NoProfile -NonInteractive -Command {SEARCH}"),
            Ok(crate::posture::probe::CommandOutput {
                status: Some(1),
                stdout: String::new(),
                stderr: "New-Object : Retrieving the COM class factory for component with CLSID {4CB43D7F-7EEE-4906-8698-60DA1C38F2FE} failed\r\nAt line:1 char:1\r\n".into(),
            }),
        );
        let fact = probe(&host, &sys);
        assert!(
            matches!(&fact, Fact::Unknown { reason } if reason.starts_with("the Windows Update search failed: New-Object : Retrieving the COM class factory")),
            "{fact:?}"
        );
        let stub = host_with_search(0, "powershell.exe is not implemented\r\n");
        assert!(matches!(
            probe(&stub, &sys),
            Fact::Unknown { reason } if reason.contains("something else than its list")
        ));
    }

    #[test]
    fn undated_security_updates_count_from_the_first_sighting() {
        let pending = parse_pending(
            r#"[{"Title":"Security Update A","MsrcSeverity":"Important","Categories":"Security Updates","CategoryIDs":null,"LastDeploymentChangeTime":null}]"#,
        )
        .unwrap();
        let fact = decide(Ok(pending), Err("no WMI".into()), false, |titles| {
            assert_eq!(titles, ["Security Update A"]);
            Some(1_700_000_000)
        });
        assert_eq!(fact.value().unwrap().pending_since, Some(1_700_000_000));
        assert_eq!(fact.value().unwrap().pending_security, 1);
    }

    #[test]
    fn installed_on_in_every_form() {
        let nov_12 = 1_731_369_600;
        assert_eq!(parse_installed_on("11/12/2024"), Some(nov_12));
        assert_eq!(parse_installed_on("25/11/2024"), Some(nov_12 + 13 * DAY));
        assert_eq!(parse_installed_on("12.11.2024"), Some(nov_12));
        assert_eq!(parse_installed_on("2024-11-12"), Some(nov_12));
        assert_eq!(parse_installed_on("20241112"), Some(nov_12));
        assert_eq!(parse_installed_on("/Date(1731369600000)/"), Some(nov_12));
        // A FILETIME: 2009-07-14 00:00:00 UTC.
        assert_eq!(parse_installed_on("01ca041607cac000"), Some(1_247_529_600));
        for bad in ["", "yesterday", "13/13/2024", "1/1/1601"] {
            assert_eq!(parse_installed_on(bad), None, "{bad:?}");
        }
    }
}
