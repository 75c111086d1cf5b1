//! The posture report in words, in Norwegian: one line per fact, and for a fact nobody could
//! see, the probe's own reason (in English, as it goes to support as it is).

use crate::posture::report::{Fact, Report};

/// The report, a line per fact.
pub fn describe(report: &Report) -> String {
    let lines = [
        (
            "Operativsystem",
            line(&report.os, |os| {
                let build = os
                    .build
                    .as_ref()
                    .map_or(String::new(), |b| format!(", bygg {b}"));
                format!(
                    "{} {} ({}, {}{build})",
                    os.name, os.version, os.family, os.architecture
                )
            }),
        ),
        (
            "Brannmur",
            line(&report.firewall, |list| {
                if list.is_empty() {
                    return "ingen funnet".into();
                }
                list.iter()
                    .map(|f| format!("{} {}", f.name, if f.enabled { "på" } else { "AV" }))
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
        ),
        (
            "Antivirus",
            line(&report.antivirus, |list| {
                if list.is_empty() {
                    return "ingen funnet".into();
                }
                list.iter()
                    .map(|a| {
                        let defs = a
                            .definitions_at
                            .map_or("definisjoner av ukjent dato".into(), |t| {
                                format!("definisjoner fra {}", day(t))
                            });
                        let live = if a.real_time {
                            "sanntidsbeskyttelse på"
                        } else {
                            "sanntidsbeskyttelse AV"
                        };
                        format!("{} ({live}, {defs})", a.name)
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
        ),
        (
            "Oppdateringer",
            line(&report.updates, |u| {
                let mut parts = vec![match (u.pending_security, u.pending_since) {
                    (0, _) => "ingen sikkerhetsoppdateringer venter".to_string(),
                    (n, Some(since)) => format!(
                        "{n} sikkerhetsoppdateringer venter (sett siden {})",
                        day(since)
                    ),
                    (n, None) => format!("{n} sikkerhetsoppdateringer venter"),
                }];
                if let Some(last) = u.last_success {
                    parts.push(format!("sist oppdatert {}", day(last)));
                }
                if u.reboot_pending {
                    parts.push("venter på omstart".into());
                }
                parts.join("; ")
            }),
        ),
        (
            "Diskkryptering",
            line(&report.disk_encryption, |on| {
                if *on {
                    "systemdisken er kryptert"
                } else {
                    "systemdisken er IKKE kryptert"
                }
                .into()
            }),
        ),
        (
            "Skjermlås",
            line(&report.screen_lock, |lock| {
                match (lock.enabled, lock.timeout_secs) {
                    (false, _) => "låses ikke av seg selv".into(),
                    (true, Some(secs)) => {
                        format!("låses etter {} min uten bruk", secs.div_ceil(60))
                    }
                    (true, None) => "låses av seg selv (tid ukjent)".into(),
                }
            }),
        ),
    ];
    let mut out = format!("Maskinen din (sjekket {}):\n", moment(report.taken_at));
    for (name, text) in lines {
        out.push_str(&format!("  {:<16} {text}\n", format!("{name}:")));
    }
    out.trim_end().to_string()
}

fn line<T>(fact: &Fact<T>, known: impl Fn(&T) -> String) -> String {
    match fact {
        Fact::Known { value } => known(value),
        Fact::Unknown { reason } => format!("ukjent ({reason})"),
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
    }
}
