use super::*;
use crate::posture::probe::fake::FakeHost;

#[test]
fn tools_are_found_in_the_system_directories_and_named_in_errors() {
    let mut host = FakeHost::default();
    host.file("/usr/sbin/nft", "")
        .command("/usr/sbin/nft --version", 0, "nftables v1.0.6\n");
    assert_eq!(
        run_tool(&host, "nft", &["--version"]).unwrap().stdout,
        "nftables v1.0.6\n"
    );
    assert_eq!(
        run_tool(&host, "ufw", &["status"]).unwrap_err(),
        "ufw is not installed"
    );
    // The full path the fake was not told of is named as the tool.
    assert_eq!(
        run_tool(&host, "nft", &["list"]).unwrap_err(),
        "nft is not installed"
    );
}

#[test]
fn failures_and_refusals_in_words() {
    let refused = CommandOutput {
        status: Some(1),
        stdout: String::new(),
        stderr: "netlink: Error: cache initialization failed: Operation not permitted\n".into(),
    };
    assert!(denied(&refused));
    assert_eq!(
        failure("nft", &refused),
        "nft failed: netlink: Error: cache initialization failed: Operation not permitted"
    );
    let silent = CommandOutput {
        status: Some(3),
        ..CommandOutput::default()
    };
    assert!(!denied(&silent));
    assert_eq!(failure("x", &silent), "x failed with exit status 3");
    assert_eq!(
        failure("x", &CommandOutput::default()),
        "x was killed by a signal"
    );
    let long = "y".repeat(500);
    assert_eq!(clip(&long).chars().count(), 161);
}

#[test]
fn local_times_through_date_or_as_utc() {
    let mut host = FakeHost::default();
    assert_eq!(
        local_time(&host, "2026-05-20  16:27:32"),
        Some(1_779_294_452)
    );
    host.command("date -d 2026-05-20 16:27:32 +%s", 0, "1779287252\n");
    assert_eq!(
        local_time(&host, "2026-05-20 16:27:32"),
        Some(1_779_287_252)
    );
    // A `date` that answers nonsense is not believed.
    host.command("date -d 2026-05-20 16:27:32 +%s", 0, "5\n");
    assert_eq!(
        local_time(&host, "2026-05-20 16:27:32"),
        Some(1_779_294_452)
    );
    assert_eq!(local_time(&host, "yesterday"), None);
    assert_eq!(local_time(&host, "2026-05-20; rm -rf /"), None);
}

/// The real computer this runs on: every probe answers or says why not, in time.
#[cfg(target_os = "linux")]
mod on_this_computer {
    use super::super::probes;
    use crate::posture::probe::{collect, LocalHost};
    use crate::posture::report::{Fact, Report};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn the_report_is_coherent() {
        let dir = tempfile::tempdir().unwrap();
        let host = Arc::new(LocalHost::new(
            Duration::from_secs(20),
            Some(dir.path().join("pending-updates.json")),
        ));
        let report: Report = collect(host, probes(), Duration::from_secs(60));
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
        let os = report
            .os
            .value()
            .expect("the OS of a Linux machine is known");
        assert_eq!(os.family, "linux");
        assert!(!os.name.is_empty() && !os.version.is_empty());
        assert_eq!(os.architecture, std::env::consts::ARCH);
        assert!(os.build.as_deref().is_some_and(|b| !b.is_empty()));
        let reasons = [
            reason(&report.os),
            reason(&report.firewall),
            reason(&report.antivirus),
            reason(&report.updates),
            reason(&report.disk_encryption),
            reason(&report.screen_lock),
        ];
        for reason in reasons.into_iter().flatten() {
            assert!(
                !reason.trim().is_empty(),
                "an unknown fact without a reason"
            );
            assert!(
                !reason.contains("did not finish") && !reason.contains("failed unexpectedly"),
                "a probe hung or panicked: {reason}"
            );
        }
        if let Some(updates) = report.updates.value() {
            assert_eq!(
                updates.pending_since.is_some(),
                updates.pending_security > 0,
                "pending updates have a since, and only they"
            );
        }
        if let Some(lock) = report.screen_lock.value() {
            assert_eq!(lock.enabled, lock.timeout_secs.is_some());
        }
    }

    fn reason<T>(fact: &Fact<T>) -> Option<&str> {
        match fact {
            Fact::Known { .. } => None,
            Fact::Unknown { reason } => Some(reason),
        }
    }
}
