use super::*;
use crate::posture::probe::fake::FakeHost;
use crate::posture::probe::linux::fixture;
use crate::posture::probe::CommandOutput;

fn said(host: &mut FakeHost, line: &str, status: i32, stdout: &str, stderr: &str) {
    let output = CommandOutput {
        status: Some(status),
        stdout: stdout.into(),
        stderr: stderr.into(),
    };
    host.commands.insert(line.into(), Ok(output));
}

/// A desktop user's view: the rules refuse, ufw's command refuses.
fn without_root() -> FakeHost {
    let mut host = FakeHost::default();
    said(
        &mut host,
        "nft -j list ruleset",
        1,
        "",
        "Operation not permitted (you must be root)\nnetlink: Error: cache initialization failed: Operation not permitted\n",
    );
    said(
        &mut host,
        "iptables-save",
        4,
        "",
        "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n",
    );
    said(
        &mut host,
        "ufw status",
        1,
        "",
        &fixture("ufw-status-nonroot.stderr"),
    );
    host
}

fn list(fact: Fact<Vec<Firewall>>) -> Vec<(String, bool)> {
    fact.value()
        .unwrap_or_else(|| panic!("{fact:?}"))
        .iter()
        .map(|f| (f.name.clone(), f.enabled))
        .collect()
}

fn fw(name: &str, enabled: bool) -> (String, bool) {
    (name.into(), enabled)
}

#[test]
fn without_root_ufw_conf_answers_when_the_rules_refuse() {
    let mut host = without_root();
    host.file("/etc/ufw/ufw.conf", fixture("ufw-conf-enabled.conf"));
    assert_eq!(list(probe(&host)), [fw("ufw", true)]);
    host.file("/etc/ufw/ufw.conf", fixture("ufw-conf-disabled.conf"));
    assert_eq!(list(probe(&host)), [fw("ufw", false)]);
}

#[test]
fn nothing_readable_is_unknown_with_every_reason() {
    let host = without_root();
    let Fact::Unknown { reason } = probe(&host) else {
        panic!("known without a source");
    };
    assert_eq!(
        reason,
        "no firewall could be read: the nftables rules can only be read with admin rights; \
         the iptables rules can only be read with admin rights; \
         ufw status failed: ERROR: You need to be root to run this script, and /etc/ufw/ufw.conf does not exist; \
         firewall-cmd is not installed"
    );
    let nothing = probe(&FakeHost::default());
    assert_eq!(
        nothing,
        Fact::unknown(
            "no firewall could be read: nft is not installed; iptables-save is not installed; \
             ufw is not installed; firewall-cmd is not installed"
        )
    );
}

#[test]
fn a_left_over_ufw_conf_of_a_removed_ufw_counts_for_nothing() {
    let mut host = FakeHost::default();
    host.file("/etc/ufw/ufw.conf", fixture("ufw-conf-enabled.conf"));
    assert!(probe(&host).value().is_none());
}

#[test]
fn as_root_the_rules_and_ufw_status_answer() {
    let mut host = without_root();
    said(
        &mut host,
        "nft -j list ruleset",
        0,
        &fixture("nft-ufw-via-iptables-nft.json"),
        "",
    );
    said(
        &mut host,
        "iptables-save",
        0,
        &fixture("iptables-save-ufw-nft.txt"),
        "",
    );
    said(
        &mut host,
        "ufw status",
        0,
        &fixture("ufw-status-verbose-active.txt"),
        "",
    );
    host.file("/etc/ufw/ufw.conf", fixture("ufw-conf-disabled.conf"));
    // iptables-nft's rules are nftables rules: counted once; ufw's own word beats ufw.conf.
    assert_eq!(list(probe(&host)), [fw("nftables", true), fw("ufw", true)]);

    said(
        &mut host,
        "nft -j list ruleset",
        0,
        &fixture("nft-empty.json"),
        "",
    );
    said(&mut host, "iptables-save", 0, "", "");
    said(
        &mut host,
        "ufw status",
        0,
        &fixture("ufw-status-inactive.txt"),
        "",
    );
    assert_eq!(
        list(probe(&host)),
        [fw("nftables", false), fw("ufw", false)]
    );
}

#[test]
fn iptables_alone_and_legacy_tables() {
    let mut host = FakeHost::default();
    said(
        &mut host,
        "iptables-save",
        0,
        &fixture("iptables-save-legacy-drop.txt"),
        "",
    );
    assert_eq!(list(probe(&host)), [fw("iptables (legacy)", true)]);

    // No nft program: iptables-nft's view is the only one.
    said(
        &mut host,
        "iptables-save",
        0,
        &fixture("iptables-save-final-reject.txt"),
        "",
    );
    assert_eq!(list(probe(&host)), [fw("iptables", true)]);
    said(&mut host, "iptables-save", 0, "", "");
    assert_eq!(list(probe(&host)), [fw("iptables", false)]);

    // iptables-nft warns of legacy tables beside it: they are read too.
    said(
        &mut host,
        "nft -j list ruleset",
        0,
        &fixture("nft-empty.json"),
        "",
    );
    said(
        &mut host,
        "iptables-save",
        0,
        &fixture("iptables-save-nft-legacy-present.txt"),
        &fixture("iptables-save-nft-legacy-present.stderr"),
    );
    said(
        &mut host,
        "iptables-legacy-save",
        0,
        &fixture("iptables-save-legacy-drop.txt"),
        "",
    );
    assert_eq!(
        list(probe(&host)),
        [fw("nftables", false), fw("iptables (legacy)", true)]
    );
}

#[test]
fn garbled_rules_are_a_reason_not_a_verdict() {
    let mut host = FakeHost::default();
    said(&mut host, "nft -j list ruleset", 0, "not json", "");
    said(
        &mut host,
        "iptables-save",
        1,
        "",
        "iptables-save: something broke\n",
    );
    let Fact::Unknown { reason } = probe(&host) else {
        panic!("known from garbage");
    };
    assert!(reason.contains("nft printed no JSON ruleset"), "{reason}");
    assert!(
        reason.contains("iptables-save failed: iptables-save: something broke"),
        "{reason}"
    );
}

#[test]
fn firewalld_state_zone_and_systemd() {
    let mut host = FakeHost::default();
    host.command("firewall-cmd --state", 0, "running\n")
        .command("firewall-cmd --get-default-zone", 0, "public\n");
    assert_eq!(list(probe(&host)), [fw("firewalld", true)]);
    host.command("firewall-cmd --get-default-zone", 0, "trusted\n");
    assert_eq!(list(probe(&host)), [fw("firewalld", false)]);
    host.command("firewall-cmd --state", 252, "not running\n");
    assert_eq!(list(probe(&host)), [fw("firewalld", false)]);
    // firewall-cmd cannot reach the daemon's bus: systemd says.
    said(
        &mut host,
        "firewall-cmd --state",
        1,
        "",
        "Error: Failed to connect to socket\n",
    );
    host.command("systemctl is-active firewalld", 0, "active\n")
        .command("firewall-cmd --get-default-zone", 1, "");
    assert_eq!(list(probe(&host)), [fw("firewalld", true)]);
    host.command("systemctl is-active firewalld", 3, "inactive\n");
    assert_eq!(list(probe(&host)), [fw("firewalld", false)]);
    host.commands.remove("systemctl is-active firewalld");
    assert_eq!(
        probe(&host),
        Fact::unknown(
            "no firewall could be read: nft is not installed; iptables-save is not installed; \
             ufw is not installed; firewall-cmd --state failed: Error: Failed to connect to socket"
        )
    );
}

#[test]
fn ufw_outputs() {
    assert_eq!(
        parse_ufw_status(&fixture("ufw-status-active.txt")),
        Some(true)
    );
    assert_eq!(
        parse_ufw_status(&fixture("ufw-status-verbose-active.txt")),
        Some(true)
    );
    assert_eq!(
        parse_ufw_status(&fixture("ufw-status-inactive.txt")),
        Some(false)
    );
    assert_eq!(
        parse_ufw_status(&fixture("ufw-status-verbose-inactive.txt")),
        Some(false)
    );
    assert_eq!(
        parse_ufw_status(&fixture("ufw-status-nonroot.stderr")),
        None
    );
    assert_eq!(parse_ufw_status("Status: maybe\n"), None);
    assert_eq!(
        parse_ufw_conf(&fixture("ufw-conf-enabled.conf")),
        Some(true)
    );
    assert_eq!(
        parse_ufw_conf(&fixture("ufw-conf-disabled.conf")),
        Some(false)
    );
    assert_eq!(
        parse_ufw_conf("# ENABLED=yes\nENABLED=\"YES\"\n"),
        Some(true)
    );
    assert_eq!(parse_ufw_conf("#ENABLED=yes\nLOGLEVEL=low\n"), None);
    assert_eq!(parse_ufw_conf("ENABLED=perhaps\n"), None);
    assert_eq!(parse_firewalld_state("failed\n"), Some(false));
    assert_eq!(parse_firewalld_state("FirewallD is not running\n"), None);
}
