use super::fake::FakeHost;
use super::*;

fn all_unknown() -> Probes {
    fn unknown<T>(_: &dyn Host) -> Fact<T> {
        Fact::unknown("canned")
    }
    Probes {
        os: unknown,
        firewall: unknown,
        antivirus: unknown,
        updates: unknown,
        disk_encryption: unknown,
        screen_lock: unknown,
    }
}

#[test]
fn a_hung_or_failing_probe_gives_an_unknown_fact_and_the_rest_still_answer() {
    let mut probes = all_unknown();
    probes.disk_encryption = |_| Fact::known(true);
    probes.firewall = |_| loop {
        std::thread::park();
    };
    probes.antivirus = |_| panic!("a probe's bug");
    let host = Arc::new(FakeHost {
        now: 1_800_000_000,
        ..FakeHost::default()
    });
    let report = collect(host, probes, Duration::from_secs(2));
    assert_eq!(report.version, REPORT_VERSION);
    assert_eq!(report.taken_at, 1_800_000_000);
    assert_eq!(report.disk_encryption, Fact::known(true));
    assert_eq!(report.os, Fact::unknown("canned"));
    assert_eq!(
        report.firewall,
        Fact::unknown("the probe did not finish within 2 s")
    );
    assert_eq!(
        report.antivirus,
        Fact::unknown("the probe failed unexpectedly")
    );
}

#[test]
fn programs_that_hang_are_killed_at_their_bound() {
    if !cfg!(unix) {
        return;
    }
    let host = LocalHost::new(Duration::from_millis(300), None);
    let err = host.run("sleep", &["30"]).unwrap_err();
    assert!(err.contains("sleep did not answer within"), "{err}");
    let missing = host.run("hjemmekontor-no-such-tool", &[]).unwrap_err();
    assert_eq!(missing, "hjemmekontor-no-such-tool is not installed");
    let patient = LocalHost::new(Duration::from_secs(30), None);
    let out = patient.run("sh", &["-c", "echo $LC_ALL; exit 3"]).unwrap();
    assert_eq!((out.status, out.stdout.as_str()), (Some(3), "C\n"));
}

#[test]
fn the_fake_computer_answers_only_what_it_was_given() {
    let mut host = FakeHost::default();
    host.command(
        "ufw status",
        1,
        "ERROR: You need to be root to run this script\n",
    )
    .file("/etc/ufw/ufw.conf", "ENABLED=yes\n");
    assert_eq!(host.run("ufw", &["status"]).unwrap().status, Some(1));
    assert_eq!(host.run("nft", &[]).unwrap_err(), "nft is not installed");
    assert_eq!(host.list_dir("/etc/ufw").unwrap(), ["ufw.conf"]);
    assert!(host.exists("/etc/ufw") && !host.exists("/etc/nftables.conf"));
}
