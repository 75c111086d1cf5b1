//! Antivirus: ClamAV (its daemon, its on-access scanner and the date of its daily database)
//! and Microsoft Defender for Endpoint (`mdatp health`). None found is a fact, once the
//! process list could be read.

use super::{failure, run_tool};
use crate::posture::probe::Host;
use crate::posture::report::{Antivirus, Fact};
use serde_json::Value;
use std::collections::BTreeSet;

pub(super) fn probe(host: &dyn Host) -> Fact<Vec<Antivirus>> {
    let processes = match process_names(host) {
        Ok(names) => names,
        Err(e) => return Fact::unknown(e),
    };
    let mut found = Vec::new();
    if let Some(clamav) = clamav(host, &processes) {
        found.push(clamav);
    }
    match defender(host) {
        Ok(Some(defender)) => found.push(defender),
        Ok(None) => {}
        Err(e) => return Fact::unknown(e),
    }
    Fact::known(found)
}

/// The names (`comm`) of the running processes. Where `/proc` hides other users' processes
/// (`hidepid`), no daemon can be seen and the list is no answer.
fn process_names(host: &dyn Host) -> Result<BTreeSet<String>, String> {
    let hidden = |e: String| {
        format!("the running programs cannot be seen ({e}; /proc may be mounted with hidepid), so neither can a running antivirus")
    };
    let pids: Vec<String> = host
        .list_dir("/proc")
        .map_err(hidden)?
        .into_iter()
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    // Process 1 belongs to root: readable only where every process is.
    host.read_to_string("/proc/1/comm").map_err(hidden)?;
    Ok(pids
        .iter()
        .filter_map(|pid| host.read_to_string(&format!("/proc/{pid}/comm")).ok())
        .map(|comm| comm.trim().to_string())
        .collect())
}

/// Where ClamAV's databases are unless its configuration says (`DatabaseDirectory`).
const CLAMAV_DB: &str = "/var/lib/clamav";
const CLAMAV_CONFIGS: [&str; 4] = [
    "/etc/clamav/freshclam.conf",
    "/etc/clamav/clamd.conf",
    "/etc/freshclam.conf",
    "/etc/clamd.d/scan.conf",
];
const CLAMAV_PROGRAMS: [&str; 5] = [
    "/usr/sbin/clamd",
    "/usr/bin/clamscan",
    "/usr/bin/clamdscan",
    "/usr/bin/freshclam",
    "/usr/sbin/clamonacc",
];

/// ClamAV, if installed or running: real-time when both the daemon (`clamd`) and its
/// on-access scanner (`clamonacc`) run; the definitions' date from the newer of `daily.cld`
/// and `daily.cvd`.
fn clamav(host: &dyn Host, processes: &BTreeSet<String>) -> Option<Antivirus> {
    let running = |name: &str| processes.contains(name);
    let dir = CLAMAV_CONFIGS
        .iter()
        .filter_map(|path| host.read_to_string(path).ok())
        .find_map(|text| database_directory(&text))
        .unwrap_or_else(|| CLAMAV_DB.into());
    let definitions_at = ["daily.cld", "daily.cvd"]
        .iter()
        .filter_map(|file| read_head(host, &format!("{dir}/{file}")))
        .filter_map(|head| cvd_header_time(&head).ok())
        .max();
    let installed = CLAMAV_PROGRAMS.iter().any(|p| host.exists(p));
    if !(installed || running("clamd") || definitions_at.is_some()) {
        return None;
    }
    Some(Antivirus {
        name: "ClamAV".into(),
        real_time: running("clamd") && running("clamonacc"),
        definitions_at,
    })
}

/// The first 512 bytes of a file: a database's header (the databases are large).
fn read_head(host: &dyn Host, path: &str) -> Option<Vec<u8>> {
    host.read_head(path, 512).ok()
}

/// `DatabaseDirectory /path` in a ClamAV configuration file.
fn database_directory(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("DatabaseDirectory"))
        .map(|v| v.trim().trim_matches('"').to_string())
        .rfind(|v| v.starts_with('/'))
}

/// When a ClamAV database was built, from its 512-byte header:
/// `ClamAV-VDB:<build time>:<version>:<signatures>:<functionality level>:<MD5>:<digital
/// signature>:<builder>:<build time as Unix seconds>`, padded with blanks. Old headers lack
/// the last field; then the build time (`02 Dec 2026 07-24 +0000`) is read.
pub(super) fn cvd_header_time(head: &[u8]) -> Result<i64, String> {
    let head = String::from_utf8_lossy(&head[..head.len().min(512)]);
    let head = head.trim_end_matches([' ', '\n', '\r', '\0']);
    let fields: Vec<&str> = head.split(':').collect();
    if fields.first() != Some(&"ClamAV-VDB") || fields.len() < 3 {
        return Err("not a ClamAV database header".into());
    }
    if let Some(secs) = fields.get(8).and_then(|s| s.trim().parse::<i64>().ok()) {
        if secs > 0 {
            return Ok(secs);
        }
    }
    let format = time::macros::format_description!(
        "[day] [month repr:short] [year] [hour]-[minute] [offset_hour sign:mandatory][offset_minute]"
    );
    time::OffsetDateTime::parse(fields[1].trim(), format)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("the database header's build time cannot be read: {e}"))
}

/// Microsoft Defender for Endpoint: `mdatp health --output json`, or the older text form of
/// `mdatp health`. Not installed is `None`; installed but not answering is a reason.
fn defender(host: &dyn Host) -> Result<Option<Antivirus>, String> {
    let json = match run_tool(host, "mdatp", &["health", "--output", "json"]) {
        Err(e) if e.ends_with("is not installed") => return Ok(None),
        Err(e) => return Err(e),
        Ok(out) => out,
    };
    if json.success() {
        if let Ok(found) = parse_mdatp_json(&json.stdout, host.now()) {
            return Ok(Some(found));
        }
    }
    let text = run_tool(host, "mdatp", &["health"])?;
    if text.success() {
        if let Ok(found) = parse_mdatp_text(&text.stdout, host.now()) {
            return Ok(Some(found));
        }
    }
    Err(format!(
        "Microsoft Defender is installed but {}",
        failure("mdatp health", &json)
    ))
}

const DEFENDER: &str = "Microsoft Defender for Endpoint";

/// `mdatp health --output json`: camelCase fields; settings as `{"value": …, "isManaged": …}`;
/// `definitionsUpdated` in milliseconds since 1970 (a string). Real-time protection counts
/// when `realTimeProtectionEnabled` is on and the product is not in passive mode (where it
/// scans but does not block).
pub(super) fn parse_mdatp_json(text: &str, now: i64) -> Result<Antivirus, String> {
    let health: Value =
        serde_json::from_str(text).map_err(|e| format!("mdatp printed no JSON ({e})"))?;
    let setting = |name: &str| -> Option<bool> {
        let field = health.get(name)?;
        field.get("value").unwrap_or(field).as_bool()
    };
    let real_time = setting("realTimeProtectionEnabled")
        .ok_or("mdatp health says nothing of realTimeProtectionEnabled")?;
    let passive = setting("passiveModeEnabled").unwrap_or(false);
    let number = |name: &str| -> Option<i64> {
        let field = health.get(name)?;
        field
            .as_i64()
            .or_else(|| field.as_str().and_then(|s| s.trim().parse().ok()))
    };
    let definitions_at = number("definitionsUpdated")
        .filter(|ms| *ms > 0)
        .map(|ms| ms / 1000)
        .or_else(|| number("definitionsUpdatedMinutesAgo").map(|m| now - m * 60));
    Ok(Antivirus {
        name: DEFENDER.into(),
        real_time: real_time && !passive,
        definitions_at,
    })
}

/// The text form: `real_time_protection_enabled : true [managed]`,
/// `definitions_updated_minutes_ago : 20`.
pub(super) fn parse_mdatp_text(text: &str, now: i64) -> Result<Antivirus, String> {
    let field = |name: &str| -> Option<&str> {
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.split_whitespace().next().unwrap_or("").trim_matches('"'))
    };
    let real_time = match field("real_time_protection_enabled") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err("mdatp health says nothing of real_time_protection_enabled".into()),
    };
    let passive = field("passive_mode_enabled") == Some("true");
    let definitions_at = field("definitions_updated_minutes_ago")
        .and_then(|m| m.parse::<i64>().ok())
        .map(|m| now - m * 60);
    Ok(Antivirus {
        name: DEFENDER.into(),
        real_time: real_time && !passive,
        definitions_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::fake::FakeHost;
    use crate::posture::probe::linux::fixture;

    const NOW: i64 = 1_796_200_000;

    fn with_processes(names: &[&str]) -> FakeHost {
        let mut host = FakeHost {
            now: NOW,
            ..FakeHost::default()
        };
        host.file("/proc/1/comm", "systemd\n");
        for (i, name) in names.iter().enumerate() {
            host.file(&format!("/proc/{}/comm", 100 + i), format!("{name}\n"));
        }
        host.file("/proc/meminfo", "MemTotal: 1 kB\n");
        host
    }

    #[test]
    fn cvd_headers() {
        let cvd = std::fs::read(format!(
            "{}/tests/fixtures/posture/linux/clamav-daily-cvd-header.bin",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(cvd.len(), 512);
        assert_eq!(cvd_header_time(&cvd), Ok(1_796_196_240));
        // An old header without the seconds: the build time is read (-0400 is four hours on).
        let old = fixture("clamav-daily-cvd-header-old.txt");
        assert_eq!(cvd_header_time(old.as_bytes()), Ok(1_587_038_280));
        assert!(cvd_header_time(b"ClamAV-Diff:50:4228877:").is_err());
        assert!(cvd_header_time(b"\x1f\x8b\x08garbage").is_err());
        assert!(cvd_header_time(b"ClamAV-VDB:yesterday:1:2:90:x:y:z:").is_err());
        assert!(cvd_header_time(b"").is_err());
    }

    #[test]
    fn clamav_daemon_scanner_and_database() {
        let mut host = with_processes(&["clamd", "clamonacc", "bash"]);
        host.file(
            "/var/lib/clamav/daily.cvd",
            fixture("clamav-daily-cvd-header-old.txt"),
        );
        host.file(
            "/var/lib/clamav/daily.cld",
            std::fs::read(format!(
                "{}/tests/fixtures/posture/linux/clamav-daily-cvd-header.bin",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        );
        let clam = Antivirus {
            name: "ClamAV".into(),
            real_time: true,
            definitions_at: Some(1_796_196_240),
        };
        assert_eq!(probe(&host), Fact::known(vec![clam.clone()]));
        // The daemon without the on-access scanner scans only when asked.
        host.files.remove("/proc/101/comm");
        let mut on_demand = clam.clone();
        on_demand.real_time = false;
        assert_eq!(probe(&host), Fact::known(vec![on_demand]));
        // The databases where freshclam.conf puts them.
        host.file(
            "/etc/clamav/freshclam.conf",
            "# DatabaseDirectory /nowhere\nDatabaseDirectory /srv/clamav\n",
        );
        let mut no_database = clam;
        no_database.real_time = false;
        no_database.definitions_at = None;
        assert_eq!(probe(&host), Fact::known(vec![no_database]));
    }

    #[test]
    fn none_installed_is_known_only_where_processes_can_be_seen() {
        let host = with_processes(&["bash", "sshd"]);
        assert_eq!(probe(&host), Fact::known(vec![]));
        // clamscan alone: ClamAV, on demand only.
        let mut scanner = with_processes(&["bash"]);
        scanner.file("/usr/bin/clamscan", "");
        assert_eq!(
            probe(&scanner),
            Fact::known(vec![Antivirus {
                name: "ClamAV".into(),
                real_time: false,
                definitions_at: None
            }])
        );
        // hidepid: only one's own processes.
        let mut hidden = FakeHost::default();
        hidden.file("/proc/4242/comm", "hjemmekontor\n");
        let Fact::Unknown { reason } = probe(&hidden) else {
            panic!("known without the process list");
        };
        assert!(reason.contains("hidepid"), "{reason}");
    }

    #[test]
    fn defender_health() {
        let on = parse_mdatp_json(&fixture("mdatp-health-rtp-on.json"), NOW).unwrap();
        assert_eq!(
            (on.name.as_str(), on.real_time, on.definitions_at),
            (DEFENDER, true, Some(1_796_150_123))
        );
        let passive = parse_mdatp_json(&fixture("mdatp-health-passive.json"), NOW).unwrap();
        assert_eq!(
            (passive.real_time, passive.definitions_at),
            (false, Some(NOW - 95 * 60))
        );
        let text = parse_mdatp_text(&fixture("mdatp-health-text.txt"), NOW).unwrap();
        assert_eq!(
            (text.real_time, text.definitions_at),
            (true, Some(NOW - 1440 * 60))
        );
        assert!(parse_mdatp_json("{}", NOW).is_err());
        assert!(parse_mdatp_json("ERROR: daemon not running", NOW).is_err());
        assert!(parse_mdatp_text("healthy : false\n", NOW).is_err());
    }

    #[test]
    fn defender_through_the_host() {
        let mut host = with_processes(&["wdavdaemon"]);
        host.command(
            "mdatp health --output json",
            0,
            &fixture("mdatp-health-rtp-on.json"),
        );
        let fact = probe(&host);
        assert_eq!(fact.value().map(|v| v[0].real_time), Some(true));
        // An mdatp without JSON output: the text form.
        host.command("mdatp health --output json", 1, "unrecognised option\n")
            .command("mdatp health", 0, &fixture("mdatp-health-text.txt"));
        assert_eq!(probe(&host).value().map(|v| v[0].real_time), Some(true));
        // Installed, not answering: unknown, not "no antivirus".
        host.command(
            "mdatp health",
            1,
            "ERROR: could not connect to the daemon\n",
        );
        let Fact::Unknown { reason } = probe(&host) else {
            panic!("known from a failing mdatp");
        };
        assert_eq!(
            reason,
            "Microsoft Defender is installed but mdatp health failed: unrecognised option"
        );
    }
}
