//! The posture report in words, in the run's language: one line per fact, and for a fact
//! nobody could see, the probe's own reason (in English, as it goes to support as it is).

use crate::i18n::catalogue::posture as m;
use crate::posture::report::{Antivirus, Fact, Firewall, Report, ScreenLock, Updates};

/// The report, a line per fact.
pub fn describe(report: &Report) -> String {
    let lines = [
        (
            m::OPERATING_SYSTEM.as_str(),
            line(&report.os, |os| {
                let build = os
                    .build
                    .as_ref()
                    .map_or(String::new(), |b| m::BUILD.with(&[("build", b)]));
                format!(
                    "{} {} ({}, {}{build})",
                    os.name, os.version, os.family, os.architecture
                )
            }),
        ),
        (
            m::FIREWALL.as_str(),
            line(&report.firewall, |l| firewalls(l)),
        ),
        // The same word in both languages.
        ("Antivirus", line(&report.antivirus, |l| antiviruses(l))),
        (m::UPDATES.as_str(), line(&report.updates, updates)),
        (
            m::DISK_ENCRYPTION.as_str(),
            line(&report.disk_encryption, |on| {
                if *on {
                    m::DISK_ENCRYPTED
                } else {
                    m::DISK_NOT_ENCRYPTED
                }
                .text()
            }),
        ),
        (
            m::SCREEN_LOCK.as_str(),
            line(&report.screen_lock, screen_lock),
        ),
    ];
    let width = lines
        .iter()
        .map(|(name, _)| name.chars().count() + 1)
        .max()
        .unwrap_or(16)
        .max(16);
    let mut out = m::YOUR_COMPUTER.with(&[("moment", &moment(report.taken_at))]);
    out.push('\n');
    for (name, text) in lines {
        out.push_str(&format!("  {:<width$} {text}\n", format!("{name}:")));
    }
    out.trim_end().to_string()
}

fn firewalls(list: &[Firewall]) -> String {
    if list.is_empty() {
        return m::NONE_FOUND.text();
    }
    list.iter()
        .map(|f| {
            let on = if f.enabled { m::ON } else { m::OFF };
            format!("{} {}", f.name, on.as_str())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn antiviruses(list: &[Antivirus]) -> String {
    if list.is_empty() {
        return m::NONE_FOUND.text();
    }
    list.iter()
        .map(|a| {
            let defs = a.definitions_at.map_or(m::DEFINITIONS_UNDATED.text(), |t| {
                m::DEFINITIONS_FROM.with(&[("day", &day(t))])
            });
            let live = if a.real_time {
                m::REAL_TIME_ON
            } else {
                m::REAL_TIME_OFF
            };
            format!("{} ({}, {defs})", a.name, live.as_str())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn updates(u: &Updates) -> String {
    let mut parts = vec![match (u.pending_security, u.pending_since) {
        (0, _) => m::NO_UPDATES_WAITING.text(),
        (n, Some(since)) => m::UPDATES_WAITING_SINCE.with(&[("n", &n), ("day", &day(since))]),
        (n, None) => m::UPDATES_WAITING.with(&[("n", &n)]),
    }];
    if let Some(last) = u.last_success {
        parts.push(m::LAST_UPDATED.with(&[("day", &day(last))]));
    }
    if u.reboot_pending {
        parts.push(m::RESTART_WAITING.text());
    }
    parts.join("; ")
}

fn screen_lock(lock: &ScreenLock) -> String {
    match (lock.enabled, lock.timeout_secs) {
        (false, _) => m::LOCKS_NEVER.text(),
        (true, Some(secs)) => m::LOCKS_AFTER.with(&[("minutes", &secs.div_ceil(60))]),
        (true, None) => m::LOCKS_UNTIMED.text(),
    }
}

fn line<T>(fact: &Fact<T>, known: impl Fn(&T) -> String) -> String {
    match fact {
        Fact::Known { value } => known(value),
        Fact::Unknown { reason } => m::UNKNOWN_BECAUSE.with(&[("reason", reason)]),
    }
}

fn day(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn moment(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::report::{Antivirus, Firewall, Updates};

    #[test]
    fn every_fact_gets_a_line_and_unknowns_say_why() {
        let mut report = Report::unknown(1_800_000_000, "no desktop session");
        report.firewall = Fact::known(vec![Firewall {
            name: "nftables".into(),
            enabled: false,
        }]);
        report.antivirus = Fact::known(vec![Antivirus {
            name: "ClamAV".into(),
            real_time: false,
            definitions_at: Some(1_799_913_600),
        }]);
        report.updates = Fact::known(Updates {
            pending_security: 3,
            pending_since: Some(1_799_913_600),
            last_success: None,
            reboot_pending: true,
        });
        let text = describe(&report);
        assert!(
            text.starts_with("Maskinen din (sjekket 2027-01-15 08:00 UTC):"),
            "{text}"
        );
        assert!(text.contains("Brannmur:        nftables AV"), "{text}");
        assert!(
            text.contains("ClamAV (sanntidsbeskyttelse AV, definisjoner fra 2027-01-14)"),
            "{text}"
        );
        assert!(
            text.contains(
                "3 sikkerhetsoppdateringer venter (sett siden 2027-01-14); venter på omstart"
            ),
            "{text}"
        );
        assert!(
            text.contains("Skjermlås:       ukjent (no desktop session)"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 7);

        let text = crate::i18n::with_lang(crate::i18n::Lang::En, || describe(&report));
        assert!(
            text.starts_with("Your computer (checked 2027-01-15 08:00 UTC):"),
            "{text}"
        );
        assert!(text.contains("  Firewall:         nftables OFF"), "{text}");
        assert!(
            text.contains("  Screen lock:      unknown (no desktop session)"),
            "{text}"
        );
    }
}
